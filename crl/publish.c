/*
 * crl/publish.c — when CRLs are made and where they go: what is due,
 * generating them into the store and the [publish] directory as
 * <name>.crl files, and the gateways' bundle. ca-server, ca-admin and
 * the admin API all publish through here.
 */
#include "config.h"

#include <pthread.h>
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

/* Whether slot is a root whose CRL a ceremony signs, not this instance. */
static int
offline_root(const struct ca *ca, int slot)
{
	return ca_slot_is_root(ca, slot) && ca_root_offline(ca);
}

/* Whether slot gets new CRLs: all but a retired one (its last stays). */
static int
live(const struct ca *ca, int slot, time_t now)
{
	return ca_slot_state(ca, slot, now) != CA_SLOT_RETIRED;
}

/* Whether the CRL id is due; one that cannot be read is not (logged). */
static int
id_due(struct store_txn *txn, struct ca *ca, const struct crl_id *id)
{
	char name[CRL_NAME_MAX];
	int d;

	/* Refused each time it is made (logged then), never due. */
	if (crl_shadowed(ca, id))
		return 0;
	if ((d = crl_due(txn, ca, id)) < 0) {
		ly_log(LY_LOG_ERR, "CRL %s: %s", crl_name(ca, id, name,
		    sizeof(name)), ly_errdetail());
		return 0;
	}
	return d;
}

/*
 * Whether the CRLs of slot were made before revocations that the store
 * now holds: the count in the summary of a full CRL is not the store's
 * (or unknown), nor that of a delta against it (ca-server makes deltas
 * alone after a revocation). One that cannot be read is crl_due()'s to
 * report.
 */
static int
missing(struct store_txn *txn, struct ca *ca, int slot, uint64_t revs)
{
	struct crl_info info, delta;
	struct crl_id id;
	unsigned int k, n = crl_shards(ca, slot);
	int r;

	memset(&id, 0, sizeof(id));
	id.slot = slot;
	for (k = 0; k < n; k++) {
		id.shard = n > 1 ? (int)k : -1;
		id.delta = 0;
		if ((r = crl_get(txn, ca, &id, NULL, NULL, &info)) ==
		    LY_ERR_NOT_FOUND)
			return 1;
		if (r != LY_OK || info.revocations == revs)
			continue;
		id.delta = 1;
		if (crl_get(txn, ca, &id, NULL, NULL, &delta) != LY_OK ||
		    delta.base != info.number || delta.revocations != revs)
			return 1;
	}
	ly_errclear();
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
		for (id.delta = 0; id.delta <= !ca_slot_is_root(ca, slot);
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
root_offline_warn(struct store_txn *txn, struct ca *ca, int slot)
{
	static time_t warned;
	struct crl_info info;
	struct crl_id id = { slot, -1, 0 };
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
	uint64_t revs = 0;
	time_t now = ly_now();
	int slot, r;

	if (store_txn_begin(ca_store(ca), 0, &txn) != LY_OK) {
		ly_log(LY_LOG_ERR, "store: %s", ly_errdetail());
		return 0;
	}
	for (slot = 0; slot < ca_nslots(ca); slot++) {
		if (!live(ca, slot, now))
			continue;	/* its last CRL stays as it is */
		if (offline_root(ca, slot))
			root_offline_warn(txn, ca, slot);
		else if (slot_due(txn, ca, slot))
			mask |= 1u << slot;
	}
	/*
	 * A revocation is nearly always of a leaf; one of an intermediate
	 * reaches the root's CRL when it is due, or at once by ca-admin crl
	 * publish. The count is of every slot's revocations: a restart
	 * after one remakes every issuing CA's CRLs.
	 */
	if (flags & CRL_PUBLISH_MISSING) {
		if ((r = ca_revocations(txn, &revs)) != LY_OK)
			ly_log(LY_LOG_ERR, "store: %s", ly_errdetail());
		for (slot = 0; slot < ca_nslots(ca); slot++)
			if (!ca_slot_is_root(ca, slot) && live(ca, slot, now) &&
			    !(mask & (1u << slot)) &&
			    (r != LY_OK || missing(txn, ca, slot, revs)))
				mask |= 1u << slot;
	}
	store_txn_abort(txn);
	return mask;
}

/* ---- publishing ----------------------------------------------------------- */

/* Logs a failure to make or write one CRL; keeps the first error. */
static void
failed(struct ca *ca, const struct crl_id *id, int r, int *firstp)
{
	char name[CRL_NAME_MAX];

	ly_log(LY_LOG_ERR, "CRL %s: %s: %s", crl_name(ca, id, name,
	    sizeof(name)), ly_strerror(r), ly_errdetail());
	if (*firstp == LY_OK)
		*firstp = r;
}

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

/*
 * A CRL made elsewhere or earlier (an offline root's, imported; a
 * retired CA's last one) to dir/<name>.crl; none yet is only logged.
 */
static int
write_existing(struct ca *ca, const struct crl_id *id, const char *dir)
{
	char name[CRL_NAME_MAX];
	int r;

	if (dir == NULL)
		return LY_OK;
	if ((r = crl_write_file(ca, id, dir)) == LY_ERR_NOT_FOUND) {
		if (offline_root(ca, id->slot))
			ly_log(LY_LOG_WARN, "the root is offline and no root "
			    "CRL was imported yet: ca-admin root import-crl");
		else
			ly_log(LY_LOG_INFO, "CRL %s: none was made", crl_name(ca,
			    id, name, sizeof(name)));
		ly_errclear();
		return LY_OK;
	}
	return r;
}

/*
 * The full CRLs of slot, k = 0, 1, ...: each shard's (or the one), then
 * the whole scope's of a partitioned CA (the bundle's). 0 past the last.
 */
static int
full_id(struct ca *ca, int slot, unsigned int k, struct crl_id *id)
{
	unsigned int n = crl_shards(ca, slot);

	memset(id, 0, sizeof(*id));
	id->slot = slot;
	id->shard = n > 1 ? (int)k : -1;
	if (k < n)
		return 1;
	id->shard = -1;
	return k == n && crl_whole(ca, slot);
}

/* Writes the CRLs slot has in the store, full and delta, to dir. */
static int
write_slot(struct ca *ca, int slot, const char *dir)
{
	struct crl_id id;
	unsigned int k;
	int r, first = LY_OK;

	for (k = 0; full_id(ca, slot, k, &id); k++) {
		if ((r = write_existing(ca, &id, dir)) != LY_OK)
			failed(ca, &id, r, &first);
		id.delta = 1;
		if (!ca_slot_is_root(ca, slot) && (id.shard >= 0 ||
		    crl_shards(ca, slot) == 1) &&
		    (r = write_existing(ca, &id, dir)) != LY_OK)
			failed(ca, &id, r, &first);
	}
	return first;
}

int
crl_generate_all(struct ca *ca, const char *actor, const char *dir)
{
	int slot, r, first = LY_OK;

	for (slot = 0; slot < ca_nslots(ca); slot++)
		if ((r = crl_generate_ca(ca, slot, actor, dir)) != LY_OK &&
		    first == LY_OK)
			first = r;
	return first;
}

int
crl_generate_ca(struct ca *ca, int slot, const char *actor, const char *dir)
{
	struct crl_id id;
	unsigned int k;
	int r, first = LY_OK;

	/*
	 * An offline root's CRL was signed in its ceremony and imported:
	 * publish that one, never sign (ca_sign() would refuse anyway). A
	 * retired CA signs nothing more: its last CRL is served as it is.
	 */
	if (offline_root(ca, slot) || !live(ca, slot, ly_now()))
		return write_slot(ca, slot, dir);
	/*
	 * Each full CRL first, then its delta against it; the whole scope's
	 * full CRL after the shards. One failure does not keep the others
	 * from being refreshed; the first is returned.
	 */
	for (k = 0; full_id(ca, slot, k, &id); k++) {
		if ((r = crl_generate_one(ca, &id, actor, dir)) != LY_OK) {
			failed(ca, &id, r, &first);
			continue;	/* no delta without its base */
		}
		id.delta = 1;
		if (!ca_slot_is_root(ca, slot) && (id.shard >= 0 ||
		    crl_shards(ca, slot) == 1) &&
		    (r = crl_generate_one(ca, &id, actor, dir)) != LY_OK)
			failed(ca, &id, r, &first);
	}
	return first;
}

/*
 * The delta CRLs of an issuing slot (every shard's), against the full
 * CRLs the store holds: what a revocation changes. LY_ERR_STATE (logged)
 * if a full CRL is missing; the first error.
 */
static int
slot_deltas(struct ca *ca, int slot, const char *actor, const char *dir)
{
	struct crl_id id;
	unsigned int k, n = crl_shards(ca, slot);
	int r, first = LY_OK;

	for (k = 0; k < n; k++) {
		memset(&id, 0, sizeof(id));
		id.slot = slot;
		id.shard = n > 1 ? (int)k : -1;
		id.delta = 1;
		if ((r = crl_generate_one(ca, &id, actor, dir)) != LY_OK)
			failed(ca, &id, r, &first);
	}
	return first;
}

/*
 * ca_slot_last_expiry() reads every certificate in the store, and
 * crl_publish_due() runs each second: the last expiry it found is kept,
 * as a retiring CA issues nothing, so it cannot be spent before then.
 * XXX process-wide, one instance per process: kept per (ca, slot
 * certificate) so another instance in the same process starts afresh.
 */
static pthread_mutex_t spent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const struct ca	*ca;
	const X509	*cert;
	time_t		 until;
} spent_seen[CA_MAX_SLOTS];

/*
 * Whether a retiring slot is spent: nothing it issued is unexpired
 * (ca_slot_last_expiry()). One that cannot be told is not (logged).
 */
static int
spent(struct ca *ca, int slot, time_t now)
{
	const X509 *cert = ca_cert(ca, slot);
	time_t t = 0;
	int known;

	if (slot >= CA_MAX_SLOTS ||
	    ca_slot_state(ca, slot, now) != CA_SLOT_RETIRING ||
	    offline_root(ca, slot))
		return 0;	/* an offline root retires in its ceremony */
	pthread_mutex_lock(&spent_lock);
	known = spent_seen[slot].ca == ca && spent_seen[slot].cert == cert &&
	    now < spent_seen[slot].until;
	pthread_mutex_unlock(&spent_lock);
	if (known)
		return 0;
	if (ca_slot_last_expiry(ca, slot, now, &t) != LY_OK) {
		ly_log(LY_LOG_ERR, "%s CA: last expiry: %s",
		    ca_slot_name(ca, slot), ly_errdetail());
		return 0;
	}
	pthread_mutex_lock(&spent_lock);
	spent_seen[slot].ca = ca;
	spent_seen[slot].cert = cert;
	spent_seen[slot].until = t;
	pthread_mutex_unlock(&spent_lock);
	return t == 0;
}

/*
 * A spent slot's last CRLs (full, every shard's, nextUpdate its
 * certificate's notAfter), then it is retired (ca_slot_retire()): it gets
 * no new CRL after, and the files written here stay served.
 */
static int
slot_retire(struct ca *ca, int slot, const char *actor, const char *dir)
{
	struct crl_id id;
	unsigned int k;
	int r, first = LY_OK;

	for (k = 0; full_id(ca, slot, k, &id); k++)
		if ((r = crl_generate_last(ca, &id, actor)) != LY_OK ||
		    (dir != NULL && (r = crl_write_file(ca, &id, dir)) !=
		    LY_OK))
			failed(ca, &id, r, &first);
	if (first != LY_OK)
		return first;
	return ca_slot_retire(ca, slot, actor);
}

/* Runs what publish_due() decided for one slot, and logs it. */
static int
publish_slot(struct ca *ca, int slot, int what, const char *actor,
    const char *dir, const char *why)
{
	static const char *done[] = { "", "CRLs regenerated",
	    "delta CRLs regenerated", "last CRL published, retired" };
	int r;

	r = what == 1 ? crl_generate_ca(ca, slot, actor, dir) :
	    what == 2 ? slot_deltas(ca, slot, actor, dir) :
	    slot_retire(ca, slot, actor, dir);
	if (r != LY_OK)
		ly_log(LY_LOG_ERR, "%s CRLs (%s): %s", ca_slot_name(ca, slot),
		    why, ly_errdetail());
	else
		ly_log(LY_LOG_INFO, "%s %s (%s)", ca_slot_name(ca, slot),
		    done[what], why);
	return r;
}

int
crl_publish_due(struct ca *ca, unsigned int flags, const char *actor,
    const char *why)
{
	const char *pub = ca_conf(ca)->publish_dir;
	unsigned char what[CA_MAX_SLOTS];
	unsigned int mask;
	time_t now = ly_now();
	int slot, n, r = LY_OK, r2, any = 0;

	/* Slots another process registered (a rollover) get CRLs too. */
	if (ca_slots_refresh(ca) != LY_OK)
		ly_log(LY_LOG_ERR, "CA slots: %s", ly_errdetail());
	mask = crl_due_cas(ca, flags);
	n = ca_nslots(ca) < CA_MAX_SLOTS ? ca_nslots(ca) : CA_MAX_SLOTS;
	/*
	 * 1: every CRL of the slot (some is due, or a revocation with [crl]
	 * on_revoke = full, the default: gateways that read full CRLs only
	 * must refuse it now); 2: its deltas alone, after a revocation with
	 * on_revoke = delta: a delta lists what changed since its base, and
	 * the full CRL moves on its schedule (RFC 5280 5.2.4); 3: its last
	 * CRL.
	 */
	for (slot = 0; slot < n; slot++) {
		what[slot] = 0;
		if (spent(ca, slot, now))
			what[slot] = 3;
		else if (mask & (1u << slot))
			what[slot] = 1;
		else if ((flags & CRL_PUBLISH_REVOKED) &&
		    !ca_slot_is_root(ca, slot) && live(ca, slot, now))
			what[slot] = ca_conf(ca)->crl_on_revoke_delta ? 2 : 1;
		any |= what[slot] != 0;
	}
	if (!any)
		return 0;
	for (slot = 0; slot < n; slot++)
		if (what[slot] != 0 && (r2 = publish_slot(ca, slot, what[slot],
		    actor, pub, why)) != LY_OK && r == LY_OK)
			r = r2;
	if ((r2 = crl_write_bundle(ca, pub)) != LY_OK) {
		ly_log(LY_LOG_ERR, "%s: %s", CRL_BUNDLE_NAME, ly_errdetail());
		r = r != LY_OK ? r : r2;
	}
	return r != LY_OK ? r : 1;
}

int
crl_publish_all(struct ca *ca, const char *actor, const char *dir)
{
	int r, r2;

	if (dir == NULL)
		dir = ca_conf(ca)->publish_dir;
	/* As crl_publish_due(): one CRL that fails keeps no other back. */
	r = crl_generate_all(ca, actor, dir);
	r2 = crl_write_bundle(ca, dir);
	return r != LY_OK ? r : r2;
}

int
crl_publish_deltas(struct ca *ca, const char *actor, const char *dir)
{
	time_t now = ly_now();
	int slot, r = LY_OK;

	if (dir == NULL)
		dir = ca_conf(ca)->publish_dir;
	for (slot = 0; slot < ca_nslots(ca) && r == LY_OK; slot++)
		if (!ca_slot_is_root(ca, slot) && live(ca, slot, now))
			r = slot_deltas(ca, slot, actor, dir);
	return r;
}
