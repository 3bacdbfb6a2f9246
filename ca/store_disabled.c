/*
 * ca/store_disabled.c — the "disabled" database (schema 2): identities
 * an admin has disabled, by SHA-256 of the identity key, with a compact
 * JSON value ca/identity_admin.c writes. Read in the transactions that
 * reserve a serial and store a certificate (ca/ca.c), so a disable and
 * an issuance for the same identity are ordered by LMDB's one writer.
 */
#include "config.h"

#include <string.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/store.h"
#include "ca/store_int.h"

static int
key_of(const char *identity, unsigned char h[32])
{
	if (identity == NULL || identity[0] == '\0')
		return ly_fail(LY_ERR_ARG, "disabled: no identity");
	if (!EVP_Digest(identity, strlen(identity), h, NULL, EVP_sha256(),
	    NULL)) {
		ly_log_crypto("identity hash");
		return ly_fail(LY_ERR_INTERNAL, "SHA-256 failed");
	}
	return LY_OK;
}

int
store_disabled_put(struct store_txn *t, const char *identity, const char *val)
{
	unsigned char h[32];
	MDB_val k, v;
	int rc, r;

	if ((r = store_txn_need_write(t, "store_disabled_put")) != LY_OK ||
	    (r = key_of(identity, h)) != LY_OK)
		return r;
	if (val == NULL)
		return ly_fail(LY_ERR_ARG, "store_disabled_put: no value");
	k.mv_size = sizeof(h);
	k.mv_data = h;
	v.mv_size = strlen(val);
	v.mv_data = (void *)val;
	if ((rc = mdb_put(t->txn, t->st->disabled, &k, &v, 0)) != 0)
		return store_mdb_err(rc, "disabled");
	return LY_OK;
}

int
store_disabled_get(struct store_txn *t, const char *identity,
    const char **valp, size_t *lenp)
{
	unsigned char h[32];
	MDB_val k, v;
	int rc, r;

	if (t == NULL || valp == NULL || lenp == NULL)
		return ly_fail(LY_ERR_ARG, "store_disabled_get: bad arguments");
	if ((r = key_of(identity, h)) != LY_OK)
		return r;
	if (t->st->no_disabled)
		return LY_ERR_NOT_FOUND;
	k.mv_size = sizeof(h);
	k.mv_data = h;
	if ((rc = mdb_get(t->txn, t->st->disabled, &k, &v)) != 0)
		return rc == MDB_NOTFOUND ? LY_ERR_NOT_FOUND :
		    store_mdb_err(rc, "disabled");
	*valp = v.mv_data;
	*lenp = v.mv_size;
	return LY_OK;
}

int
store_disabled_del(struct store_txn *t, const char *identity)
{
	unsigned char h[32];
	MDB_val k;
	int rc, r;

	if ((r = store_txn_need_write(t, "store_disabled_del")) != LY_OK ||
	    (r = key_of(identity, h)) != LY_OK)
		return r;
	k.mv_size = sizeof(h);
	k.mv_data = h;
	if ((rc = mdb_del(t->txn, t->st->disabled, &k, NULL)) != 0)
		return rc == MDB_NOTFOUND ? ly_fail(LY_ERR_NOT_FOUND, "the "
		    "identity is not disabled") : store_mdb_err(rc, "disabled");
	return LY_OK;
}

int
store_disabled_foreach(struct store_txn *t, store_disabled_cb cb, void *arg)
{
	MDB_cursor *cur = NULL;
	MDB_cursor_op op = MDB_FIRST;
	MDB_val k, v;
	int rc, r = LY_OK;

	if (t == NULL || cb == NULL)
		return ly_fail(LY_ERR_ARG, "store_disabled_foreach: bad "
		    "arguments");
	if (t->st->no_disabled)
		return LY_OK;
	if ((rc = mdb_cursor_open(t->txn, t->st->disabled, &cur)) != 0)
		return store_mdb_err(rc, "disabled");
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if ((r = cb(v.mv_data, v.mv_size, arg)) != 0)
			break;
	}
	if (r == LY_OK && rc != MDB_NOTFOUND)
		r = store_mdb_err(rc, "disabled");
	mdb_cursor_close(cur);
	return r;
}
