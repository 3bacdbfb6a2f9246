/*
 * CRL names in URLs: the raw path of GET /crl/<name>.crl (and of
 * GET /ca/<name>.crt) through web_path_name's percent-decoding, then
 * crl_name_parse and ca_slot_by_name, as web/routes.c does. Two real
 * instances, made once in a temp dir (SoftHSM2 tokens, as the unit
 * tests make them): one with the default configuration, one whose
 * issuing CA's CRL is split into 4 shards. A name that parses must be
 * exactly the name crl_name() gives for what it parsed to: one CRL, one
 * spelling, so no second URL (and no cache key) reaches the same CRL.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "crl/crl.h"
#include "web/extern.h"
#include "tests/fuzz/fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 base[64];
static struct ca *cas[2];

static void
remove_base(void)
{
	if (ly_remove_tree(base, 0) != LY_OK)
		fprintf(stderr, "%s\n", ly_errdetail());
}

/* Instance i of base: the default configuration with shards CRL shards. */
static struct ca *
open_instance(int i, const char *shards)
{
	char dir[96], *text, *p;
	struct ca *ca;

	snprintf(dir, sizeof(dir), "%s/i%d", base, i);
	if ((text = conf_default_text(CONF_KEY_EC_P256)) == NULL ||
	    (p = strstr(text, "\nshards = 1\n")) == NULL)
		abort();
	p[sizeof("\nshards = ") - 1] = shards[0];
	if (ca_init(dir, CONF_KEY_EC_P256, text) != LY_OK ||
	    ca_open(dir, CA_OPEN_READONLY, &ca) != LY_OK) {
		fprintf(stderr, "fuzz_crl_name: %s: %s\n", dir, ly_errdetail());
		abort();
	}
	free(text);
	return ca;
}

static void
instances_make(void)
{
	const char *tmp = getenv("TMPDIR");

	(void)fuzz_conf();
	snprintf(base, sizeof(base), "%s/fuzz-crl-XXXXXX",
	    tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
	if (mkdtemp(base) == NULL)
		abort();
	atexit(remove_base);
	cas[0] = open_instance(0, "1");
	cas[1] = open_instance(1, "4");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *path, name[CONF_NAME_MAX + 16], again[CONF_NAME_MAX + 16];
	struct crl_id id;
	size_t i;

	if (cas[0] == NULL)
		instances_make();
	if ((path = malloc(len + 1)) == NULL)
		return 0;
	memcpy(path, data, len);
	path[len] = '\0';
	for (i = 0; i < 2; i++) {
		if (web_path_name(path, "/crl/", ".crl", name,
		    sizeof(name)) == LY_OK &&
		    crl_name_parse(cas[i], name, &id) == LY_OK &&
		    strcmp(crl_name(cas[i], &id, again, sizeof(again)),
		    name) != 0)
			abort();
		if (web_path_name(path, "/ca/", ".crt", name,
		    sizeof(name)) == LY_OK)
			(void)ca_slot_by_name(cas[i], name);
		/* The name alone too: the decoder's output is any string. */
		if (crl_name_parse(cas[i], path, &id) == LY_OK &&
		    strcmp(crl_name(cas[i], &id, again, sizeof(again)),
		    path) != 0)
			abort();
		fuzz_reset();
	}
	free(path);
	return 0;
}
