/*
 * ca/root.c — what the root CA's ceremony writes (ca-admin root crl):
 * the OCSP responses the root pre-signed about the CAs it certified.
 *
 * ocsp/ signs them (the key through ca_key()); ca/ stores them, each only
 * if the certificate's status is still the one it was signed for, with
 * the audit entry, in one durable transaction.
 */
#include "config.h"

#include <string.h>

#include "ca/extern.h"
#include "util/util.h"

struct root_arg {
	const struct ca_ocsp_item *items;
	size_t		 n;
	const char	*actor;
	const char	*detail;
	size_t		 stored;
};

/* commit_fn of ca_root_ocsp_store(). */
static int
root_write(struct store_txn *txn, void *arg)
{
	struct root_arg *a = arg;
	const struct ca_ocsp_item *it;
	struct store_cert *rec;
	size_t i;
	int r;

	a->stored = 0;
	for (i = 0; i < a->n; i++) {
		it = &a->items[i];
		rec = NULL;
		if ((r = store_cert_get(txn, &it->serial, &rec)) != LY_OK &&
		    r != LY_ERR_NOT_FOUND)
			return r;
		/* Revoked since it was signed, or removed: leave it. */
		if (r == LY_ERR_NOT_FOUND || rec->ca != CA_ROOT ||
		    rec->status != it->status) {
			store_cert_free(rec);
			continue;
		}
		store_cert_free(rec);
		if ((r = store_ocsp_put(txn, &it->serial, it->der,
		    it->len)) != LY_OK)
			return r;
		a->stored++;
	}
	return store_audit_append(txn, a->actor, "root-ocsp", a->detail);
}

int
ca_root_ocsp_store(struct ca *ca, const struct ca_ocsp_item *items, size_t n,
    const char *actor, const char *detail, size_t *storedp)
{
	struct root_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	a.items = items;
	a.n = n;
	a.actor = actor;
	a.detail = detail;
	if ((r = commit_write(ca, root_write, &a)) == LY_OK && storedp != NULL)
		*storedp = a.stored;
	return r;
}
