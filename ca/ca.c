/*
 * ca/ca.c — the engine instance: open and close it, and what it lends
 * to the other parts (its configuration, store, CA certificates and
 * their names). What the engine does is in files of one job each:
 * issue.c (issue, reissue), record.c (the durable writes of an
 * issuance), revoke.c, policy.c (identity policy, name constraints),
 * sign.c (the HSM door), json.c (records as JSON), ocsp.c (revocation
 * data hooks), crl.c (CRL numbers and records).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ca/extern.h"
#include "util/util.h"

/* An empty engine with its locks; ca_open() and ca_init() fill it in. */
struct ca *
ca_alloc(void)
{
	struct ca *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return NULL;
	pthread_mutex_init(&ca->lock, NULL);
	pthread_mutex_init(&ca->slots_lock, NULL);
	commit_init(&ca->commit);
	return ca;
}

int
ca_open(const char *dir, unsigned int flags, struct ca **cap)
{
	struct ca *ca;
	int r;

	if ((ca = ca_alloc()) == NULL)
		return LY_ERR_ALLOC;
	ca->flags = flags;
	if ((r = conf_load(dir, NULL, &ca->conf)) != LY_OK)
		goto out;
	if (ca_issuer_pending(ca->conf)) {
		r = ly_fail(LY_ERR_STATE, "%s waits for its issuing CA "
		    "certificate: have the root's instance sign %s/%s "
		    "(ca-admin root sign-issuer), then ca-admin issuer import",
		    dir, ca->conf->dir, CA_ISSUER_CSR);
		goto out;
	}
	if ((r = store_open(ca->conf->store_dir, ca->conf->store_map_size,
	    STORE_EXISTING | ((flags & CA_OPEN_READONLY) ? STORE_RDONLY : 0),
	    &ca->store)) != LY_OK)
		goto out;
	if ((r = slots_implied(ca)) != LY_OK ||
	    (r = slots_load(ca)) != LY_OK)
		goto out;
	*cap = ca;
	ca = NULL;
	r = LY_OK;
 out:
	ca_close(ca);
	return r;
}

void
ca_close(struct ca *ca)
{
	int i;

	if (ca == NULL)
		return;
	for (i = 0; i < CA_MAX_SLOTS; i++) {
		hsm_key_free(ca->keys[i]);
		X509_free(ca->certs[i]);
		OPENSSL_free(ca->der[i]);
	}
	slots_free(ca);
	if (ca->hsm_ready)
		hsm_shutdown();
	store_close(ca->store);
	conf_free(ca->conf);
	commit_destroy(&ca->commit);
	pthread_mutex_destroy(&ca->lock);
	pthread_mutex_destroy(&ca->slots_lock);
	free(ca);
}

const struct conf *
ca_conf(const struct ca *ca)
{
	return ca->conf;
}

struct store *
ca_store(const struct ca *ca)
{
	return ca->store;
}

X509 *
ca_cert(const struct ca *ca, int slot)
{
	return ca->certs[slot];
}
