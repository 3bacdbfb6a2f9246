/*
 * ca/crl.c — CRL numbers and the record of the current CRLs, kept in the
 * store for crl/.
 */
#include "config.h"

#include <limits.h>
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
	size_t len;
	int r;

	snprintf(key, sizeof(key), "crl_number/%s", ca_slot_name(ca, slot));
	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		return r;
	r = store_meta_get(txn, key, &v, &len);
	if (r == LY_OK && len == sizeof(buf)) {
		n = ly_be64_get(v);
	} else if (r == LY_OK) {
		r = ly_fail(LY_ERR_STORE, "%s: corrupt", key);
		goto out;
	} else if (r != LY_ERR_NOT_FOUND)
		goto out;
	n++;
	ly_be64_put(buf, n);
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

/*
 * The CRL number of a stored CRL from its DER: only for a CRL recorded
 * before its number was kept beside it (key + "/number").
 */
static int
crl_der_number(const void *der, size_t len, uint64_t *np)
{
	const unsigned char *p = der;
	X509_CRL *crl = NULL;
	ASN1_INTEGER *n = NULL;
	uint64_t v;
	int r = LY_ERR_STORE;

	if (len > LONG_MAX || (crl = d2i_X509_CRL(NULL, &p, (long)len)) ==
	    NULL || (n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL,
	    NULL)) == NULL || ASN1_INTEGER_get_uint64(&v, n) != 1) {
		ly_log_crypto("crl_der_number");
		r = ly_fail(LY_ERR_STORE, "the stored CRL has no readable "
		    "CRL number");
		goto out;
	}
	*np = v;
	r = LY_OK;
 out:
	ASN1_INTEGER_free(n);
	X509_CRL_free(crl);
	return r;
}

/*
 * The number of the CRL stored under key (nkey is key + "/number"), 0 if
 * there is none. Read inside the caller's write transaction.
 */
static int
crl_stored_number(struct store_txn *txn, const char *key, const char *nkey,
    uint64_t *np)
{
	const void *v;
	size_t len;
	int r;

	if ((r = store_meta_get(txn, nkey, &v, &len)) == LY_OK) {
		if (len != 8)
			return ly_fail(LY_ERR_STORE, "%s: corrupt", nkey);
		*np = ly_be64_get(v);
		return LY_OK;
	}
	if (r != LY_ERR_NOT_FOUND)
		return r;
	if ((r = store_meta_get(txn, key, &v, &len)) == LY_ERR_NOT_FOUND) {
		*np = 0;
		return LY_OK;
	}
	if (r != LY_OK)
		return r;
	return crl_der_number(v, len, np);
}

int
ca_crl_record(struct ca *ca, const char *key, uint64_t number,
    const unsigned char *der, size_t len, const void *info, size_t infolen,
    const char *actor, const char *detail, int *storedp)
{
	struct store_txn *txn = NULL;
	unsigned char nb[8];
	char ikey[128], nkey[128];
	uint64_t cur = 0;
	int r;

	if ((size_t)snprintf(ikey, sizeof(ikey), "%s/info", key) >=
	    sizeof(ikey) || (size_t)snprintf(nkey, sizeof(nkey), "%s/number",
	    key) >= sizeof(nkey))
		return ly_fail(LY_ERR_ARG, "CRL key too long");
	if (number == 0)
		return ly_fail(LY_ERR_ARG, "CRL number 0");
	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		return r;
	/*
	 * The comparison and the write in one write transaction (LMDB has
	 * one writer at a time, across processes): of two generations that
	 * overlap, the one with the lower number, recorded last, changes
	 * nothing, and what is served never goes back (RFC 5280 5.2.3).
	 */
	if ((r = crl_stored_number(txn, key, nkey, &cur)) != LY_OK)
		goto out;
	if (number <= cur) {
		ly_log(LY_LOG_DEBUG, "%s: CRL number %llu not recorded, %llu "
		    "is newer", key, (unsigned long long)number,
		    (unsigned long long)cur);
		store_txn_abort(txn);
		txn = NULL;
		if (storedp != NULL)
			*storedp = 0;
		r = LY_OK;
		goto out;
	}
	ly_be64_put(nb, number);
	if ((r = store_meta_put(txn, key, der, len)) != LY_OK ||
	    (r = store_meta_put(txn, ikey, info, infolen)) != LY_OK ||
	    (r = store_meta_put(txn, nkey, nb, sizeof(nb))) != LY_OK ||
	    (r = store_audit_append(txn, actor, "crl-publish",
	    detail)) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
	if (r == LY_OK && storedp != NULL)
		*storedp = 1;
 out:
	store_txn_abort(txn);
	return r;
}

unsigned int
ca_crl_shard_of(unsigned int shards, const struct ca_serial *serial)
{
	/* The low octet of 128 random bits spreads serials evenly. */
	return shards <= 1 ? 0 : serial->b[CA_SERIAL_LEN - 1] % shards;
}

unsigned int
ca_crl_shard(const struct conf *conf, const struct ca_serial *serial)
{
	return ca_crl_shard_of(conf->crl_shards, serial);
}

unsigned int
ca_crl_shards(const struct ca *ca, int slot)
{
	unsigned int n;

	/* A root's CRL lists a few intermediates: never partitioned. */
	if (ca_slot_is_root(ca, slot))
		return 1;
	if ((n = ca_slot_conf(ca, slot)->crl_shards) == 0)
		n = ca->conf->crl_shards;
	return n > 1 ? n : 1;
}

int
ca_crl_padding(const struct ca *ca, int slot)
{
	return ca_slot_conf(ca, slot)->rsa_padding;
}
