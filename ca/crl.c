/*
 * ca/crl.c — CRL numbers and the record of the current CRLs, kept in the
 * store for crl/.
 */
#include "config.h"

#include <stdio.h>

#include "ca/extern.h"
#include "util/util.h"

int
ca_crl_number_next(struct ca *ca, int slot, uint64_t *np)
{
	struct store_txn *txn = NULL;
	const void *v;
	unsigned char buf[8];
	char key[64];
	uint64_t n = 0;
	size_t len, i;
	int r;

	snprintf(key, sizeof(key), "crl_number/%s", ca_slot_name(ca, slot));
	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		return r;
	r = store_meta_get(txn, key, &v, &len);
	if (r == LY_OK && len == sizeof(buf)) {
		for (i = 0; i < sizeof(buf); i++)
			n = n << 8 | ((const unsigned char *)v)[i];
	} else if (r == LY_OK) {
		r = ly_fail(LY_ERR_STORE, "%s: corrupt", key);
		goto out;
	} else if (r != LY_ERR_NOT_FOUND)
		goto out;
	n++;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(n >> (56 - 8 * i));
	if ((r = store_meta_put(txn, key, buf, sizeof(buf))) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
	if (r == LY_OK)
		*np = n;
 out:
	store_txn_abort(txn);
	return r;
}

int
ca_crl_record(struct ca *ca, const char *key, const unsigned char *der,
    size_t len, const void *info, size_t infolen, const char *actor,
    const char *detail)
{
	struct store_txn *txn = NULL;
	char ikey[128];
	int r;

	if ((size_t)snprintf(ikey, sizeof(ikey), "%s/info", key) >= sizeof(ikey))
		return ly_fail(LY_ERR_ARG, "CRL key too long");
	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		return r;
	if ((r = store_meta_put(txn, key, der, len)) != LY_OK ||
	    (r = store_meta_put(txn, ikey, info, infolen)) != LY_OK ||
	    (r = store_audit_append(txn, actor, "crl-publish",
	    detail)) != LY_OK) {
		store_txn_abort(txn);
		return r;
	}
	return store_txn_commit(txn);
}

unsigned int
ca_crl_shard(const struct conf *conf, const struct ca_serial *serial)
{
	/* The low octet of 128 random bits spreads serials evenly. */
	return conf->crl_shards <= 1 ? 0 :
	    serial->b[CA_SERIAL_LEN - 1] % conf->crl_shards;
}
