/*
 * CRL names in URLs: the raw path of GET /crl/<name>.crl (and of
 * GET /ca/<name>.crt) through web_path_name's percent-decoding, then
 * crl_name_parse and ca_slot_by_name, as web/routes.c does. Three real
 * instances, made once in a temp dir (SoftHSM2 tokens, as the unit
 * tests make them): one with the default configuration, one whose
 * issuing CA's CRL is split into 4 shards, and one with an [issuer
 * devices] in 4 shards rolled over to "devices-2" (slot names with '-'
 * that begin like another's CRL names). A name that parses must be
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
static struct ca *cas[3];

static void
remove_base(void)
{
	if (ly_remove_tree(base, 0) != LY_OK)
		fprintf(stderr, "%s\n", ly_errdetail());
}

/* An [issuer devices] in 4 CRL shards, after the default configuration. */
static const char devices[] = "\n[issuer devices]\n"
    "key = pkcs11:token=lanyard-issuing;object=devices-ca\n"
    "pin_file = hsm/issuing.pin\n"
    "subject = /O=Test/CN=Devices CA\n"
    "key_type = ec-p256\n"
    "days = 1000\n"
    "cert = certs/devices.crt\n"
    "crl_shards = 4\n";

static void
fail(const char *dir)
{
	fprintf(stderr, "fuzz_crl_name: %s: %s\n", dir, ly_errdetail());
	abort();
}

/*
 * Instance i of base: the default configuration with shards CRL shards;
 * with issuers, [issuer devices] too, rolled over once.
 */
static struct ca *
open_instance(int i, const char *shards, int issuers)
{
	char dir[96], *text, *p, *all = NULL;
	struct ca *ca;

	snprintf(dir, sizeof(dir), "%s/i%d", base, i);
	if ((text = conf_default_text(CONF_KEY_EC_P256)) == NULL ||
	    (p = strstr(text, "\nshards = 1\n")) == NULL)
		abort();
	p[sizeof("\nshards = ") - 1] = shards[0];
	if (issuers && asprintf(&all, "%s%s", text, devices) == -1)
		abort();
	if (ca_init(dir, CONF_KEY_EC_P256, all != NULL ? all : text) != LY_OK)
		fail(dir);
	if (issuers) {
		if (ca_open(dir, 0, &ca) != LY_OK ||
		    ca_issuer_rollover(ca, "devices", 0, "fuzz", NULL) != LY_OK)
			fail(dir);
		ca_close(ca);
	}
	if (ca_open(dir, CA_OPEN_READONLY, &ca) != LY_OK)
		fail(dir);
	free(text);
	free(all);
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
	cas[0] = open_instance(0, "1", 0);
	cas[1] = open_instance(1, "4", 0);
	cas[2] = open_instance(2, "1", 1);
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
	for (i = 0; i < 3; i++) {
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
