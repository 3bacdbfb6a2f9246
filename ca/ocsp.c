/*
 * ca/ocsp.c — the hooks of the revocation data that ocsp/ keeps in the
 * store through the engine: the pre-signing hook, pre-signed responses
 * (the root's about CA certificates among them), the delegated signer's
 * record.
 */
#include "config.h"

#include <string.h>

#include "ca/extern.h"
#include "util/util.h"

void
ca_set_presign(struct ca *ca, ca_presign_fn fn, void *arg)
{
	ca->presign = fn;
	ca->presign_arg = arg;
}

/* One OCSP response, or (ca_ocsp_store_if()) several, each if still current. */
struct ocsp_arg {
	const struct ca		*ca;
	const struct ca_ocsp_item *items;
	size_t			 n;
	int			 check;		/* status must be unchanged */
	int			 root;		/* and the record a root's */
	const char		*actor;		/* audited, if not NULL */
	const char		*detail;
	size_t			 stored;
};

/* commit_fn of the OCSP stores. */
static int
ocsp_write(struct store_txn *txn, void *arg)
{
	struct ocsp_arg *a = arg;
	const struct ca_ocsp_item *it;
	struct store_cert *rec;
	size_t i;
	int r;

	for (i = 0; i < a->n; i++) {
		it = &a->items[i];
		if (a->check) {
			rec = NULL;
			r = store_cert_get(txn, &it->serial, &rec);
			if (r == LY_ERR_NOT_FOUND || (r == LY_OK &&
			    (rec->status != it->status ||
			    (a->root && !ca_slot_is_root(a->ca, rec->ca))))) {
				store_cert_free(rec);
				continue;
			}
			store_cert_free(rec);
			if (r != LY_OK)
				return r;
		}
		if ((r = store_ocsp_put(txn, &it->serial, it->der,
		    it->len)) != LY_OK)
			return r;
		a->stored++;
	}
	if (a->actor != NULL)
		return store_audit_append(txn, a->actor, "root-ocsp", a->detail);
	return LY_OK;
}

int
ca_ocsp_store(struct ca *ca, const struct ca_serial *serial,
    const unsigned char *der, size_t len)
{
	struct ca_ocsp_item it;
	struct ocsp_arg a;

	memset(&it, 0, sizeof(it));
	it.serial = *serial;
	it.der = der;
	it.len = len;
	memset(&a, 0, sizeof(a));
	a.items = &it;
	a.n = 1;
	return commit_write(ca, ocsp_write, &a);
}

int
ca_ocsp_store_if(struct ca *ca, const struct ca_ocsp_item *items, size_t n,
    size_t *storedp)
{
	struct ocsp_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	a.items = items;
	a.n = n;
	a.check = 1;
	/* The check and the write in one transaction: see ca.h. */
	if ((r = commit_write(ca, ocsp_write, &a)) == LY_OK && storedp != NULL)
		*storedp = a.stored;
	return r;
}

int
ca_root_ocsp_store(struct ca *ca, const struct ca_ocsp_item *items, size_t n,
    const char *actor, const char *detail, size_t *storedp)
{
	struct ocsp_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	a.ca = ca;
	a.items = items;
	a.n = n;
	a.check = 1;
	a.root = 1;
	a.actor = actor;
	a.detail = detail;
	if ((r = commit_write(ca, ocsp_write, &a)) == LY_OK && storedp != NULL)
		*storedp = a.stored;
	return r;
}

int
ca_ocsp_signer_set(struct ca *ca, int slot, const void *prev, size_t prevlen,
    const void *rec, size_t len, const char *actor, const char *detail)
{
	struct store_txn *txn = NULL;
	const void *cur;
	char key[CA_SIGNER_KEY_MAX];
	size_t curlen;
	int r;

	if ((r = ca_ocsp_signer_key(ca, slot, key, sizeof(key))) != LY_OK ||
	    (r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		return r;
	/* The check and the write in one write transaction: LMDB has one writer. */
	r = store_meta_get(txn, key, &cur, &curlen);
	if (r != LY_OK && r != LY_ERR_NOT_FOUND)
		goto out;
	if ((r == LY_ERR_NOT_FOUND) != (prev == NULL) || (prev != NULL &&
	    (curlen != prevlen || memcmp(cur, prev, prevlen) != 0))) {
		r = ly_fail(LY_ERR_EXISTS, "the OCSP signer was changed by "
		    "another process");
		goto out;
	}
	if ((r = store_meta_put(txn, key, rec, len)) != LY_OK ||
	    (r = store_audit_append(txn, actor, "ocsp-signer", detail)) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
 out:
	store_txn_abort(txn);
	return r;
}
