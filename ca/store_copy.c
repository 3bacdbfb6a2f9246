/*
 * ca/store_copy.c — whole-environment operations on the store for the
 * operator's tools: a consistent compact copy (backup) and the map's
 * usage (status). Kept apart from ca/store.c, which holds the records.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/store.h"
#include "ca/store_int.h"

int
store_copy(struct store *st, const char *dir)
{
	int rc;

	if (st == NULL || dir == NULL)
		return ly_fail(LY_ERR_ARG, "store_copy: bad arguments");
	/*
	 * MDB_CP_COMPACT copies from one read transaction: a consistent
	 * snapshot while writers go on, without their free pages.
	 */
	if ((rc = mdb_env_copy2(st->env, dir, MDB_CP_COMPACT)) != 0)
		return store_mdb_err(rc, "store: copy");
	return LY_OK;
}

int
store_usage(struct store *st, size_t *usedp, size_t *mapp)
{
	MDB_envinfo ei;
	MDB_stat ms;
	int rc;

	if (st == NULL || usedp == NULL || mapp == NULL)
		return ly_fail(LY_ERR_ARG, "store_usage: bad arguments");
	if ((rc = mdb_env_info(st->env, &ei)) != 0 ||
	    (rc = mdb_env_stat(st->env, &ms)) != 0)
		return store_mdb_err(rc, "store: info");
	*usedp = (ei.me_last_pgno + 1) * (size_t)ms.ms_psize;
	*mapp = ei.me_mapsize;
	return LY_OK;
}

uint32_t
store_schema(const struct store *st)
{
	return st->schema;
}

int
store_upgrade(struct store *st, const char *actor, const char *detail)
{
	struct store_txn *t = NULL;
	unsigned char buf[4];
	uint32_t from = st->schema;
	MDB_val k, v;
	int rc, r;

	if (!st->upgrade || st->rdonly)
		return ly_fail(LY_ERR_ARG, "store_upgrade: store not opened "
		    "for an upgrade");
	if (from >= STORE_SCHEMA_VERSION)
		return ly_fail(LY_ERR_STATE, "the store is at schema version "
		    "%u already", from);
	if ((r = store_txn_begin(st, 1, &t)) != LY_OK)
		return r;
	/*
	 * 1 → 2: the "disabled" database, which store_open() made with
	 * STORE_UPGRADE, and the version; revocation records without a
	 * certificate need no change of the records there are.
	 */
	ly_be32_put(buf, STORE_SCHEMA_VERSION);
	/* store_meta_put() keeps its hands off the store's own keys. */
	k.mv_size = 6;
	k.mv_data = (void *)"schema";
	v.mv_size = sizeof(buf);
	v.mv_data = buf;
	if ((rc = mdb_put(t->txn, st->meta, &k, &v, 0)) != 0) {
		r = store_mdb_err(rc, "store: schema version");
		goto out;
	}
	if ((r = store_audit_append(t, actor, "upgrade", detail)) != LY_OK)
		goto out;
	r = store_txn_commit(t);
	t = NULL;
	if (r == LY_OK)
		st->schema = STORE_SCHEMA_VERSION;
 out:
	store_txn_abort(t);
	return r;
}
