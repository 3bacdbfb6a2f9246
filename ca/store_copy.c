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
