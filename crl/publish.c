/*
 * crl/publish.c — when CRLs are made and where they go: what is due,
 * generating them into the store and the [publish] directory as
 * <name>.crl files, and the gateways' bundle. ca-server, ca-admin and
 * the admin API all publish through here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "crl/bundle.h"
#include "crl/crl.h"
#include "crl/extern.h"
#include "util/util.h"

/* ---- what is due ---------------------------------------------------------- */

/* Whether the CRL id is due; one that cannot be read is not (logged). */
static int
id_due(struct store_txn *txn, struct ca *ca, const struct crl_id *id)
{
	char name[CRL_NAME_MAX];
	int d;

	if ((d = crl_due(txn, ca, id)) < 0) {
		ly_log(LY_LOG_ERR, "CRL %s: %s", crl_name(ca, id, name,
		    sizeof(name)), ly_errdetail());
		return 0;
	}
	return d;
}

/*
 * Whether the full CRLs of slot were made before revocations that the
 * store now holds (the count in their summary is not the store's, or
 * unknown). One that cannot be read is crl_due()'s to report.
 */
static int
missing(struct store_txn *txn, struct ca *ca, int slot, uint64_t revs)
{
	struct crl_info info;
	struct crl_id id;
	unsigned int k, n = crl_shards(ca, slot);
	int r;

	memset(&id, 0, sizeof(id));
	id.slot = slot;
	for (k = 0; k < n; k++) {
		id.shard = n > 1 ? (int)k : -1;
		if ((r = crl_get(txn, ca, &id, NULL, NULL, &info)) ==
		    LY_ERR_NOT_FOUND || (r == LY_OK && info.revocations != revs))
			return 1;
	}
	return 0;
}

/* Whether any CRL of slot is due (every shard, full and delta). */
static int
slot_due(struct store_txn *txn, struct ca *ca, int slot)
{
	struct crl_id id;
	unsigned int k, n = crl_shards(ca, slot);

	memset(&id, 0, sizeof(id));
	id.slot = slot;
	for (k = 0; k < n; k++) {
		id.shard = n > 1 ? (int)k : -1;
		for (id.delta = 0; id.delta <= (slot == CA_ISSUING);
		    id.delta++)
			if (id_due(txn, ca, &id))
				return 1;
	}
	return 0;
}

/* At most one warning this often about the offline root's CRL. */
#define ROOT_WARN_EVERY	3600

/*
 * The root is offline (ca_root_offline()): its CRL is never due here,
 * the next ceremony makes it. Warns, at most once an hour (the caller
 * polls), when the CRL it imported is missing or within [root]
 * renew_before of its nextUpdate. XXX the last warning's time is
 * process-wide: one instance per process.
 */
static void
root_offline_warn(struct store_txn *txn, struct ca *ca)
{
	static time_t warned;
	struct crl_info info;
	struct crl_id id = { CA_ROOT, -1, 0 };
	time_t now = ly_now();
	char t[21];
	int r;

	if (warned != 0 && now - warned < ROOT_WARN_EVERY)
		return;
	r = crl_get(txn, ca, &id, NULL, NULL, &info);
	if (r == LY_OK && info.next_update - ca_root_renew_before(ca,
	    (long)(info.next_update - info.this_update)) > now)
		return;
	warned = now;
	if (r != LY_OK) {
		ly_log(LY_LOG_WARN, "the root is offline and no root CRL was "
		    "imported (%s): ca-admin root crl on the root's instance, "
		    "then ca-admin root import-crl here", ly_errdetail());
		ly_errclear();
		return;
	}
	ly_time_fmt(info.next_update, t);
	ly_log(LY_LOG_WARN, "the root CRL's nextUpdate is %s: hold a root "
	    "ceremony (ca-admin root crl on the root's instance, then "
	    "ca-admin root import-crl here)", t);
}

unsigned int
crl_due_cas(struct ca *ca, unsigned int flags)
{
	struct store_txn *txn = NULL;
	unsigned int mask = 0;
	uint64_t revs;
	int slot;

	if (store_txn_begin(ca_store(ca), 0, &txn) != LY_OK) {
		ly_log(LY_LOG_ERR, "store: %s", ly_errdetail());
		return 0;
	}
	for (slot = CA_ROOT; slot <= CA_ISSUING; slot++)
		if (slot == CA_ROOT && ca_root_offline(ca))
			root_offline_warn(txn, ca);
		else if (slot_due(txn, ca, slot))
			mask |= 1u << slot;
	/*
	 * A revocation is nearly always of a leaf; one of an intermediate
	 * reaches the root's CRL when it is due, or at once by ca-admin crl
	 * publish.
	 */
	if ((flags & CRL_PUBLISH_MISSING) &&
	    !(mask & (1u << CA_ISSUING))) {
		if (ca_revocations(txn, &revs) != LY_OK) {
			ly_log(LY_LOG_ERR, "store: %s", ly_errdetail());
			mask |= 1u << CA_ISSUING;
		} else if (missing(txn, ca, CA_ISSUING, revs))
			mask |= 1u << CA_ISSUING;
	}
	store_txn_abort(txn);
	return mask;
}

/* ---- publishing ----------------------------------------------------------- */

/*
 * Generates one CRL and, if dir is not NULL, writes dir/<name>.crl from
 * the store (crl_write_file()): the current CRL, which is this one or a
 * newer one, never an older one.
 */
static int
crl_generate_one(struct ca *ca, const struct crl_id *id, const char *actor,
    const char *dir)
{
	int r;

	if ((r = crl_generate(ca, id, actor, NULL)) != LY_OK || dir == NULL)
		return r;
	return crl_write_file(ca, id, dir);
}

/* The imported root CRL to dir/<root>.crl; none yet is only logged. */
static int
root_offline_publish(struct ca *ca, const char *dir)
{
	struct crl_id id = { CA_ROOT, -1, 0 };
	int r;

	if (dir == NULL)
		return LY_OK;
	if ((r = crl_write_file(ca, &id, dir)) == LY_ERR_NOT_FOUND) {
		ly_log(LY_LOG_WARN, "the root is offline and no root CRL was "
		    "imported yet: ca-admin root import-crl");
		ly_errclear();
		return LY_OK;
	}
	return r;
}

int
crl_generate_all(struct ca *ca, const char *actor, const char *dir)
{
	int r, first;

	first = crl_generate_ca(ca, CA_ROOT, actor, dir);
	r = crl_generate_ca(ca, CA_ISSUING, actor, dir);
	return first != LY_OK ? first : r;
}

int
crl_generate_ca(struct ca *ca, int slot, const char *actor, const char *dir)
{
	struct crl_id id;
	unsigned int k, n;
	int r, first = LY_OK;
	char name[CRL_NAME_MAX];

	/*
	 * An offline root's CRL was signed in its ceremony and imported:
	 * publish that one, never sign (ca_sign() would refuse anyway).
	 */
	if (slot == CA_ROOT && ca_root_offline(ca))
		return root_offline_publish(ca, dir);
	/*
	 * Each full CRL first, then its delta against it. One failure does
	 * not keep the others from being refreshed; the first is returned.
	 */
	{
		n = crl_shards(ca, slot);
		for (k = 0; k < n; k++) {
			memset(&id, 0, sizeof(id));
			id.slot = slot;
			id.shard = n > 1 ? (int)k : -1;
			for (id.delta = 0; id.delta <= (slot == CA_ISSUING);
			    id.delta++) {
				if ((r = crl_generate_one(ca, &id, actor,
				    dir)) == LY_OK)
					continue;
				ly_log(LY_LOG_ERR, "CRL %s: %s: %s",
				    crl_name(ca, &id, name, sizeof(name)),
				    ly_strerror(r), ly_errdetail());
				if (first == LY_OK)
					first = r;
				if (!id.delta)
					break;	/* no delta without its base */
			}
		}
		/* The whole scope's full CRL, after the shards (bundle). */
		if (crl_whole(ca, slot)) {
			memset(&id, 0, sizeof(id));
			id.slot = slot;
			id.shard = -1;
			if ((r = crl_generate_one(ca, &id, actor, dir)) !=
			    LY_OK) {
				ly_log(LY_LOG_ERR, "CRL %s: %s: %s",
				    crl_name(ca, &id, name, sizeof(name)),
				    ly_strerror(r), ly_errdetail());
				if (first == LY_OK)
					first = r;
			}
		}
	}
	return first;
}

int
crl_publish_due(struct ca *ca, unsigned int flags, const char *actor,
    const char *why)
{
	const char *pub = ca_conf(ca)->publish_dir;
	unsigned int mask;
	int slot, r = LY_OK, r2;

	mask = crl_due_cas(ca, flags);
	if (flags & CRL_PUBLISH_REVOKED)
		mask |= 1u << CA_ISSUING;
	if (mask == 0)
		return 0;
	for (slot = CA_ROOT; slot <= CA_ISSUING; slot++) {
		if (!(mask & (1u << slot)))
			continue;
		if ((r2 = crl_generate_ca(ca, slot, actor, pub)) != LY_OK) {
			ly_log(LY_LOG_ERR, "%s CRLs (%s): %s",
			    ca_slot_name(ca, slot), why, ly_errdetail());
			r = r != LY_OK ? r : r2;
		} else
			ly_log(LY_LOG_INFO, "%s CRLs regenerated (%s)",
			    ca_slot_name(ca, slot), why);
	}
	if ((r2 = crl_write_bundle(ca, pub)) != LY_OK) {
		ly_log(LY_LOG_ERR, "%s: %s", CRL_BUNDLE_NAME, ly_errdetail());
		r = r != LY_OK ? r : r2;
	}
	return r != LY_OK ? r : 1;
}

int
crl_publish_all(struct ca *ca, const char *actor, const char *dir)
{
	int r;

	if (dir == NULL)
		dir = ca_conf(ca)->publish_dir;
	if ((r = crl_generate_all(ca, actor, dir)) != LY_OK)
		return r;
	return crl_write_bundle(ca, dir);
}

int
crl_publish_deltas(struct ca *ca, const char *actor, const char *dir)
{
	struct crl_id id;
	unsigned int k, n = crl_shards(ca, CA_ISSUING);
	int r = LY_OK;

	if (dir == NULL)
		dir = ca_conf(ca)->publish_dir;
	memset(&id, 0, sizeof(id));
	id.slot = CA_ISSUING;
	id.delta = 1;
	for (k = 0; k < n && r == LY_OK; k++) {
		id.shard = n > 1 ? (int)k : -1;
		if ((r = crl_generate(ca, &id, actor, NULL)) == LY_OK)
			r = crl_write_file(ca, &id, dir);
	}
	return r;
}
