/*
 * crl/bundle.c — every current full CRL as one PEM file for gateways.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "ca/store.h"
#include "crl/bundle.h"
#include "crl/crl.h"
#include "util/util.h"

/* PEM armour around the stored DER: no X509_CRL is built for it. */
static int
append(BIO *b, struct store_txn *txn, const struct ca *ca,
    const struct crl_id *id)
{
	const unsigned char *der;
	size_t len;
	int r;

	if ((r = crl_get(txn, ca, id, &der, &len, NULL)) != LY_OK)
		return r;
	if (PEM_write_bio(b, "X509 CRL", "", der, (long)len) <= 0)
		return ly_fail(LY_ERR_INTERNAL, "PEM encoding of a CRL failed");
	return LY_OK;
}

int
crl_write_bundle(struct ca *ca, const char *dir)
{
	struct store_txn *txn = NULL;
	struct crl_id id;
	unsigned int k, shards = ca_conf(ca)->crl_shards;
	char *path = NULL, *data;
	BIO *b = NULL;
	long len;
	int r;

	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    (path = ly_path_join(dir, CRL_BUNDLE_NAME)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	memset(&id, 0, sizeof(id));
	id.slot = CA_ISSUING;
	if (shards <= 1) {
		id.shard = -1;
		r = append(b, txn, ca, &id);
	} else {
		for (k = 0, r = LY_OK; r == LY_OK && k < shards; k++) {
			id.shard = (int)k;
			r = append(b, txn, ca, &id);
		}
	}
	if (r != LY_OK)
		goto out;
	id.slot = CA_ROOT;
	id.shard = -1;
	if ((r = append(b, txn, ca, &id)) != LY_OK)
		goto out;
	store_txn_abort(txn);
	txn = NULL;
	len = BIO_get_mem_data(b, &data);
	r = ly_file_write_atomic(path, data, (size_t)len, 0644);
 out:
	store_txn_abort(txn);
	BIO_free(b);
	free(path);
	return r;
}
