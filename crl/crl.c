/*
 * crl/crl.c — which CRLs there are, their names, numbers and summaries,
 * when they are due, and publishing them (RFC 5280 section 5). The DER
 * itself is streamed by crl/build.c.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include <jansson.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "crl/bundle.h"
#include "crl/crl.h"
#include "crl/extern.h"
#include "util/util.h"

/*
 * struct crl_info as stored under "crl/<name>/info": version, 6 × 8
 * octets. Version 1 (5 × 8 octets, without the revocation count) is
 * still read: its revocation count is unknown (CRL_REVOCATIONS_UNKNOWN).
 * Version 3 (a full CRL) is version 2 and then the serials it lists that
 * were revoked within CRL_DELTA_OVERLAP before its thisUpdate: a count
 * (4 octets; CRL_RECENT_NONE when not kept) and the serials, sorted. Its
 * deltas list every revocation from then on but those.
 */
#define CRL_INFO_VERSION	2
#define CRL_INFO_LEN		(1 + 6 * 8)
#define CRL_INFO_V1_LEN		(1 + 5 * 8)
#define CRL_INFO_VERSION_RECENT	3
#define CRL_INFO_RECENT_LEN	(CRL_INFO_LEN + 4)
#define CRL_RECENT_NONE		0xffffffffu
/* More than this within the overlap: none kept, deltas list them again. */
#define CRL_RECENT_MAX		65536

/*
 * A revocation takes its time before its transaction commits (the OCSP
 * response is signed in between), so a revocation dated just before a
 * full CRL's thisUpdate may be missing from it. Delta CRLs list
 * revocations from this long before their base's thisUpdate: listing one
 * that the base has too is harmless (RFC 5280 5.2.4), missing one is not.
 */
#define CRL_DELTA_OVERLAP	300

/* ---- names ------------------------------------------------------------- */

unsigned int
crl_shards(const struct ca *ca, int slot)
{
	return ca_crl_shards(ca, slot);
}

/*
 * Whether a partitioned CA also has a full CRL of its whole scope (no
 * IDP, no delta): the one the gateways' bundle holds, unless [crl]
 * bundle_shards asks for the shards there.
 */
int
crl_whole(const struct ca *ca, int slot)
{
	return crl_shards(ca, slot) > 1 && !ca_conf(ca)->crl_bundle_shards;
}

/* LY_ERR_ARG unless id names a CRL of this instance. */
static int
crl_id_check(const struct ca *ca, const struct crl_id *id)
{
	unsigned int n;

	if (id == NULL || id->slot < 0 || id->slot >= ca_nslots(ca))
		return ly_fail(LY_ERR_ARG, "no such CA slot");
	/*
	 * A root's CRL changes only when an intermediate is revoked; a delta
	 * would have its offline key sign every hour for nothing.
	 */
	if (ca_slot_is_root(ca, id->slot) && id->delta)
		return ly_fail(LY_ERR_ARG, "the %s CA (a root) has no delta "
		    "CRL", ca_slot_name(ca, id->slot));
	n = crl_shards(ca, id->slot);
	if (id->shard == -1 && !id->delta && crl_whole(ca, id->slot))
		return LY_OK;
	if (n == 1 ? id->shard != -1 :
	    id->shard < 0 || (unsigned int)id->shard >= n)
		return ly_fail(LY_ERR_ARG, "CRL shard %d of the %s CA does not "
		    "exist (%u shards)", id->shard, ca_slot_name(ca, id->slot),
		    n);
	return crl_shadowed(ca, id) ? ly_fail(LY_ERR_STATE, "a CRL of the "
	    "%s CA (shard %d%s) has the name of another CA's CRL (a later "
	    "generation's): it cannot be published", ca_slot_name(ca,
	    id->slot), id->shard, id->delta ? ", delta" : "") : LY_OK;
}

char *
crl_name(const struct ca *ca, const struct crl_id *id, char *buf, size_t len)
{
	char shard[16] = "";

	if (id->shard >= 0)
		snprintf(shard, sizeof(shard), "-%d", id->shard);
	snprintf(buf, len, "%s%s%s", ca_slot_name(ca, id->slot), shard,
	    id->delta ? "-delta" : "");
	return buf;
}

/*
 * The shard number at the start of s: decimal digits without a leading
 * zero, less than n. Returns the digits consumed, 0 if none or bad.
 */
static size_t
shard_parse(const char *s, unsigned int n, int *kp)
{
	unsigned int k = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i == 0 && s[i] == '0' && s[1] >= '0' && s[1] <= '9')
			return 0;	/* leading zero */
		k = k * 10 + (unsigned int)(s[i] - '0');
		if (k >= n)
			return 0;
	}
	if (i == 0)
		return 0;
	*kp = (int)k;
	return i;
}

/*
 * Whether rest (what follows slot t's name in a CRL name) is one of its
 * CRLs: "" (unpartitioned, or the whole scope), "-delta" (not a root),
 * "-<k>" or "-<k>-delta" (partitioned). Fills t->shard and t->delta.
 */
static int
slot_rest(const struct crl_slotname *sn, const char *rest, struct crl_id *t)
{
	size_t n;

	t->shard = -1;
	t->delta = 0;
	if (sn->shards > 1 && *rest == '\0' && sn->whole)
		return 1;	/* the whole scope's full CRL (the bundle's) */
	if (sn->shards > 1) {
		/* Else a partitioned CA has no CRL of its whole scope. */
		if (*rest++ != '-' ||
		    (n = shard_parse(rest, sn->shards, &t->shard)) == 0)
			return 0;
		rest += n;
	}
	if (strcmp(rest, "-delta") == 0 && !sn->root)
		t->delta = 1;
	else if (*rest != '\0')
		return 0;
	return 1;
}

int
crl_name_match(const struct crl_slotname *slots, size_t nslots,
    const char *name, struct crl_id *id)
{
	struct crl_id t, best;
	size_t i, n, bestlen = 0;
	int found = 0;

	if (name == NULL || strnlen(name, CRL_NAME_MAX) >= CRL_NAME_MAX)
		return ly_fail(LY_ERR_NOT_FOUND, "no such CRL");
	/*
	 * Slot names may hold '-' ("devices-2", a second generation), so a
	 * name may start with several slot names ("devices-2-delta" starts
	 * with "devices" too). The longest slot name whose rest is one of
	 * its CRLs wins: a newer generation's own CRLs before an older
	 * one's shards (crl/crl.h).
	 */
	for (i = 0; i < nslots; i++) {
		n = strlen(slots[i].name);
		if (n <= bestlen && found)
			continue;
		if (strncmp(name, slots[i].name, n) != 0)
			continue;
		memset(&t, 0, sizeof(t));
		t.slot = slots[i].slot;
		if (!slot_rest(&slots[i], name + n, &t))
			continue;
		best = t;
		bestlen = n;
		found = 1;
	}
	if (!found)
		return ly_fail(LY_ERR_NOT_FOUND, "no such CRL");
	*id = best;
	return LY_OK;
}

int
crl_shadowed(const struct ca *ca, const struct crl_id *id)
{
	char name[CRL_NAME_MAX];
	struct crl_id p;

	/* "root" and "issuing" alone: nothing to share a name with. */
	if (ca_nslots(ca) <= 2)
		return 0;
	crl_name(ca, id, name, sizeof(name));
	return crl_name_parse(ca, name, &p) == LY_OK && (p.slot != id->slot ||
	    p.shard != id->shard || p.delta != id->delta);
}

int
crl_name_parse(const struct ca *ca, const char *name, struct crl_id *id)
{
	struct crl_slotname sn[CA_MAX_SLOTS];
	int slot, n = ca_nslots(ca);

	if (n > CA_MAX_SLOTS)
		n = CA_MAX_SLOTS;
	for (slot = 0; slot < n; slot++) {
		sn[slot].name = ca_slot_name(ca, slot);
		sn[slot].slot = slot;
		sn[slot].shards = crl_shards(ca, slot);
		sn[slot].whole = crl_whole(ca, slot);
		sn[slot].root = ca_slot_is_root(ca, slot);
	}
	return crl_name_match(sn, (size_t)n, name, id);
}

/* ---- the summary kept beside each CRL ---------------------------------- */

static void
info_encode(const struct crl_info *info, unsigned char out[CRL_INFO_LEN])
{
	out[0] = CRL_INFO_VERSION;
	ly_be64_put(out + 1, info->number);
	ly_be64_put(out + 9, info->base);
	ly_be64_put(out + 17, (uint64_t)(int64_t)info->this_update);
	ly_be64_put(out + 25, (uint64_t)(int64_t)info->next_update);
	ly_be64_put(out + 33, (uint64_t)info->entries);
	ly_be64_put(out + 41, info->revocations);
}

/* The count of recent serials of a version 3 summary. */
static uint32_t
recent_count(const unsigned char *p)
{
	return ly_be32_get(p + CRL_INFO_LEN);
}

/*
 * The serials of a version 3 summary, borrowed from p; *np is 0 and
 * *serialsp NULL for version 1 or when none were kept.
 */
static void
info_recent(const unsigned char *p, size_t len,
    const unsigned char **serialsp, size_t *np)
{
	uint32_t n;

	*serialsp = NULL;
	*np = 0;
	if (len < CRL_INFO_RECENT_LEN || p[0] != CRL_INFO_VERSION_RECENT)
		return;
	n = recent_count(p);
	if (n == CRL_RECENT_NONE || n == 0)
		return;
	*serialsp = p + CRL_INFO_RECENT_LEN;
	*np = n;
}

static int
info_decode(const unsigned char *p, size_t len, struct crl_info *info)
{
	uint32_t n;

	if (len >= CRL_INFO_RECENT_LEN && p[0] == CRL_INFO_VERSION_RECENT) {
		n = recent_count(p);
		if (n == CRL_RECENT_NONE ? len != CRL_INFO_RECENT_LEN :
		    n > CRL_RECENT_MAX ||
		    len != CRL_INFO_RECENT_LEN + (size_t)n * CA_SERIAL_LEN)
			return ly_fail(LY_ERR_STORE, "CRL summary: %zu bytes "
			    "for %u serials: not understood", len, n);
	} else if (!(len == CRL_INFO_LEN && p[0] == CRL_INFO_VERSION) &&
	    !(len == CRL_INFO_V1_LEN && p[0] == 1))
		return ly_fail(LY_ERR_STORE, "CRL summary: version %u, %zu "
		    "bytes: not understood", len > 0 ? p[0] : 0, len);
	info->number = ly_be64_get(p + 1);
	info->base = ly_be64_get(p + 9);
	info->this_update = (time_t)(int64_t)ly_be64_get(p + 17);
	info->next_update = (time_t)(int64_t)ly_be64_get(p + 25);
	info->entries = (size_t)ly_be64_get(p + 33);
	info->revocations = len >= CRL_INFO_LEN ? ly_be64_get(p + 41) :
	    CRL_REVOCATIONS_UNKNOWN;
	return LY_OK;
}

int
crl_get(struct store_txn *txn, const struct ca *ca, const struct crl_id *id,
    const unsigned char **derp, size_t *lenp, struct crl_info *info)
{
	struct crl_info ci;
	const void *der, *ip;
	size_t len, ilen;
	char key[16 + CRL_NAME_MAX], name[CRL_NAME_MAX];
	int r;

	if ((r = crl_id_check(ca, id)) != LY_OK)
		return r;
	crl_name(ca, id, name, sizeof(name));
	snprintf(key, sizeof(key), "crl/%s", name);
	if ((r = store_meta_get(txn, key, &der, &len)) != LY_OK)
		return r;	/* LY_ERR_NOT_FOUND: none generated yet */
	/* ca_crl_record() writes both in one transaction. */
	snprintf(key, sizeof(key), "crl/%s/info", name);
	if ((r = store_meta_get(txn, key, &ip, &ilen)) != LY_OK) {
		if (r == LY_ERR_NOT_FOUND)
			r = ly_fail(LY_ERR_STORE, "%s missing", key);
		return r;
	}
	if ((r = info_decode(ip, ilen, &ci)) != LY_OK)
		return r;
	if (derp != NULL)
		*derp = der;
	if (lenp != NULL)
		*lenp = len;
	if (info != NULL)
		*info = ci;
	return LY_OK;
}

int
crl_current(struct ca *ca, const struct crl_id *id, crl_current_fn fn,
    void *arg)
{
	struct store_txn *txn = NULL;
	struct crl_info info;
	const unsigned char *der;
	size_t len;
	int r;

	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		return r;
	memset(&info, 0, sizeof(info));
	if ((r = crl_get(txn, ca, id, &der, &len, &info)) == LY_OK)
		r = fn(arg, der, len, &info);
	store_txn_abort(txn);
	return r;
}

int
crl_summary(struct ca *ca, struct crl_info info[CA_MAX_SLOTS],
    unsigned int *havep)
{
	struct store_txn *txn = NULL;
	struct crl_id id;
	unsigned int have = 0;
	uint64_t revs;
	int slot, r;

	/* The revocation count is read as a probe of the store itself. */
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK ||
	    (r = ca_revocations(txn, &revs)) != LY_OK)
		goto out;
	for (slot = 0; slot < ca_nslots(ca) && slot < CA_MAX_SLOTS; slot++) {
		memset(&info[slot], 0, sizeof(info[slot]));
		/* Partitioned with bundle_shards: no CRL of the whole scope. */
		id.slot = slot;
		id.shard = -1;
		id.delta = 0;
		if (crl_get(txn, ca, &id, NULL, NULL, &info[slot]) == LY_OK)
			have |= 1u << slot;
	}
	ly_errclear();
	*havep = have;
 out:
	store_txn_abort(txn);
	return r;
}

int
crl_due(struct store_txn *txn, const struct ca *ca, const struct crl_id *id)
{
	struct crl_info ci, full;
	struct crl_id fid;
	time_t now = ly_now();
	long window;
	int r;

	if ((r = crl_get(txn, ca, id, NULL, NULL, &ci)) == LY_ERR_NOT_FOUND)
		return 1;
	if (r != LY_OK)
		return r;
	/*
	 * At most half a CRL's lifetime: with the defaults a delta CRL
	 * lives 1 h and refresh_before is 4 h, and it must not be due the
	 * moment it is made.
	 */
	window = ca_conf(ca)->crl_refresh_before;
	if (window > (ci.next_update - ci.this_update) / 2)
		window = (long)((ci.next_update - ci.this_update) / 2);
	if (now >= ci.next_update - window || now < ci.this_update)
		return 1;
	if (!id->delta)
		return 0;
	/* A delta CRL is also due when its base is no longer current. */
	fid = *id;
	fid.delta = 0;
	if ((r = crl_get(txn, ca, &fid, NULL, NULL, &full)) ==
	    LY_ERR_NOT_FOUND)
		return 0;	/* nothing to be a delta of */
	if (r != LY_OK)
		return r;
	return full.number != ci.base;
}

/* ---- generation -------------------------------------------------------- */

/* A signed and recorded CRL: der points into mem, which the caller frees. */
struct crl_made {
	unsigned char	*mem;
	const unsigned char *der;
	size_t		 len;
	struct crl_info	 info;
};

/*
 * The current full CRL a delta CRL of id is to be a delta of, and the
 * serials it lists that were revoked near its thisUpdate (*skipp, sorted,
 * caller frees; NULL and 0 when it kept none).
 */
static int
crl_base(struct ca *ca, const struct crl_id *fid, struct crl_info *base,
    struct ca_serial **skipp, size_t *nskipp)
{
	struct store_txn *txn = NULL;
	const unsigned char *serials;
	const void *ip;
	char key[16 + CRL_NAME_MAX], name[CRL_NAME_MAX];
	size_t ilen, n = 0;
	struct ca_serial *skip = NULL;
	int r;

	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		return r;
	if ((r = crl_get(txn, ca, fid, NULL, NULL, base)) != LY_OK)
		goto out;
	snprintf(key, sizeof(key), "crl/%s/info", crl_name(ca, fid, name,
	    sizeof(name)));
	if ((r = store_meta_get(txn, key, &ip, &ilen)) != LY_OK)
		goto out;
	info_recent(ip, ilen, &serials, &n);
	if (n > 0) {
		if ((skip = calloc(n, sizeof(*skip))) == NULL) {
			r = LY_ERR_ALLOC;
			goto out;
		}
		memcpy(skip, serials, n * CA_SERIAL_LEN);
	}
	*skipp = skip;
	*nskipp = n;
	skip = NULL;
 out:
	store_txn_abort(txn);
	free(skip);
	if (r == LY_ERR_NOT_FOUND)
		r = ly_fail(LY_ERR_STATE, "no full CRL of the %s CA to be a "
		    "delta of: generate it first", ca_slot_name(ca, fid->slot));
	return r;
}

/* The serials of a full CRL revoked at or after since (its shard's). */
struct crl_recent {
	unsigned int	 shards;
	int		 shard;
	int64_t		 since;
	unsigned char	*b;		/* the summary being built */
	size_t		 len, cap;
	uint32_t	 n;
	int		 none;		/* more than CRL_RECENT_MAX */
};

static int
recent_cb(const struct store_revoked *rv, void *arg)
{
	struct crl_recent *rc = arg;
	unsigned char *nb;
	size_t cap;

	if (rc->none || rv->revoked_at < rc->since || (rc->shard >= 0 &&
	    ca_crl_shard_of(rc->shards, &rv->serial) !=
	    (unsigned int)rc->shard))
		return 0;
	if (rc->n == CRL_RECENT_MAX) {
		rc->none = 1;
		return 0;
	}
	if (rc->len + CA_SERIAL_LEN > rc->cap) {
		cap = rc->cap * 2 + 64 * CA_SERIAL_LEN;
		if ((nb = realloc(rc->b, cap)) == NULL)
			return LY_ERR_ALLOC;
		rc->b = nb;
		rc->cap = cap;
	}
	memcpy(rc->b + rc->len, rv->serial.b, CA_SERIAL_LEN);
	rc->len += CA_SERIAL_LEN;
	rc->n++;
	return 0;
}

/*
 * The summary of a full CRL whose thisUpdate is info->this_update, with
 * its recent serials, read (in serial order) from a snapshot taken
 * before the CRL's own: each of them is in the CRL too, as revocations
 * are never undone. One committed in between is in the CRL but not
 * here, so its deltas list it again: harmless (RFC 5280 5.2.4).
 * *bp is malloc'd.
 */
static int
info_encode_full(struct ca *ca, const struct crl_id *id,
    const struct crl_info *info, unsigned char **bp, size_t *lenp)
{
	struct crl_recent rc;
	struct store_txn *txn = NULL;
	uint32_t n;
	int r;

	memset(&rc, 0, sizeof(rc));
	rc.shards = crl_shards(ca, id->slot);
	rc.shard = id->shard;
	rc.since = (int64_t)info->this_update - CRL_DELTA_OVERLAP;
	rc.cap = CRL_INFO_RECENT_LEN + 64 * CA_SERIAL_LEN;
	if ((rc.b = malloc(rc.cap)) == NULL)
		return LY_ERR_ALLOC;
	rc.len = CRL_INFO_RECENT_LEN;
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	r = store_revoked_foreach(txn, (uint8_t)id->slot, recent_cb, &rc);
	store_txn_abort(txn);
	if (r != LY_OK)
		goto out;
	info_encode(info, rc.b);
	rc.b[0] = CRL_INFO_VERSION_RECENT;
	n = rc.none ? CRL_RECENT_NONE : rc.n;
	if (rc.none)
		rc.len = CRL_INFO_RECENT_LEN;
	ly_be32_put(rc.b + CRL_INFO_LEN, n);
	*bp = rc.b;
	*lenp = rc.len;
	rc.b = NULL;
 out:
	free(rc.b);
	return r;
}

/*
 * Records the CRL with its summary and an audit entry (ca_crl_record()),
 * unless a CRL with a higher number was recorded meanwhile (generations
 * by ca-server, ca-admin and the admin API overlap): then nothing.
 */
static int
crl_record(struct ca *ca, const struct crl_id *id, const char *actor,
    const struct crl_made *m, const unsigned char *full, size_t fulllen)
{
	unsigned char info[CRL_INFO_LEN];
	char key[16 + CRL_NAME_MAX], name[CRL_NAME_MAX], scope[CRL_NAME_MAX];
	struct crl_id fid = *id;
	json_t *o = NULL;
	char *detail = NULL;
	int r, stored = 0;

	fid.delta = 0;
	crl_name(ca, id, name, sizeof(name));
	crl_name(ca, &fid, scope, sizeof(scope));
	snprintf(key, sizeof(key), "crl/%s", name);
	/* A full CRL's summary comes with its recent serials. */
	if (full == NULL) {
		info_encode(&m->info, info);
		full = info;
		fulllen = sizeof(info);
	}
	if ((o = json_pack("{s:s, s:I, s:I, s:b}", "crl", scope, "number",
	    (json_int_t)m->info.number, "entries",
	    (json_int_t)m->info.entries, "delta", id->delta)) == NULL ||
	    (detail = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		r = LY_ERR_ALLOC;
	else
		r = ca_crl_record(ca, key, m->info.number, m->der, m->len,
		    full, fulllen, actor, detail, &stored);
	if (r == LY_OK && !stored)
		ly_log(LY_LOG_INFO, "CRL %s number %llu not recorded: a newer "
		    "one was recorded meanwhile", name,
		    (unsigned long long)m->info.number);
	json_decref(o);
	free(detail);
	return r;
}

/*
 * Builds, signs, verifies and records the CRL id, whose nextUpdate is
 * last if not 0 (a retiring CA's last CRL), else by [crl]. On success
 * *m owns the CRL.
 */
static int
crl_make(struct ca *ca, const struct crl_id *id, time_t last,
    const char *actor, struct crl_made *m)
{
	const struct conf *conf = ca_conf(ca);
	struct crl_info info, base;
	struct crl_id fid = *id;
	struct crl_der d;
	struct ca_serial *skip = NULL;
	unsigned char *full = NULL;
	size_t nskip = 0, fulllen = 0;
	int64_t since = INT64_MIN;
	int r;

	memset(&info, 0, sizeof(info));
	memset(&d, 0, sizeof(d));
	if ((r = crl_id_check(ca, id)) != LY_OK)
		return r;
	/*
	 * A delta lists what changed since its base (RFC 5280 5.2.4): what
	 * was revoked from a while before the base's thisUpdate (revocations
	 * in flight then) but what the base lists. A certificate on hold is
	 * never released here, so no entry is ever removeFromCRL.
	 */
	if (id->delta) {
		fid.delta = 0;
		if ((r = crl_base(ca, &fid, &base, &skip, &nskip)) != LY_OK)
			return r;
		info.base = base.number;
		since = (int64_t)base.this_update - CRL_DELTA_OVERLAP;
	}
	/* Taken before the snapshot: nothing revoked before it is missed. */
	info.this_update = ly_now();
	info.next_update = last != 0 ? last : info.this_update +
	    (id->delta ? conf->crl_delta_validity :
	    ca_slot_is_root(ca, id->slot) ? conf->crl_root_validity :
	    conf->crl_validity);
	/* Before the CRL's own snapshot (info_encode_full()). */
	if (!id->delta && (r = info_encode_full(ca, id, &info, &full,
	    &fulllen)) != LY_OK)
		goto out;
	if ((r = ca_crl_number_next(ca, id->slot, &info.number)) != LY_OK ||
	    (r = crl_build(ca, id, since, skip, nskip, &info, &d)) != LY_OK)
		goto out;
	m->der = d.der;
	m->len = d.len;
	m->info = info;
	/* The summary's numbers are known only now. */
	if (full != NULL) {
		info_encode(&info, full);
		full[0] = CRL_INFO_VERSION_RECENT;
	}
	if ((r = crl_record(ca, id, actor, m, full, fulllen)) != LY_OK)
		goto out;
	m->mem = d.mem;
	d.mem = NULL; /* transferred */
	r = LY_OK;
 out:
	free(d.mem);
	free(skip);
	free(full);
	return r;
}

int
crl_generate(struct ca *ca, const struct crl_id *id, const char *actor,
    struct crl_info *info)
{
	struct crl_made m;
	int r;

	memset(&m, 0, sizeof(m));
	if ((r = crl_make(ca, id, 0, actor, &m)) != LY_OK)
		return r;
	if (info != NULL)
		*info = m.info;
	free(m.mem);
	return LY_OK;
}

int
crl_generate_last(struct ca *ca, const struct crl_id *id, const char *actor)
{
	struct crl_made m;
	time_t last = 0;
	int r;

	if (id->delta)
		return ly_fail(LY_ERR_ARG, "a last CRL is a full CRL");
	/* Good for as long as anything the CA signed can be checked. */
	if (ly_asn1_time(X509_get0_notAfter(ca_cert(ca, id->slot)), &last) !=
	    LY_OK || last == 0)
		return ly_fail(LY_ERR_INTERNAL, "the %s CA certificate's "
		    "notAfter", ca_slot_name(ca, id->slot));
	memset(&m, 0, sizeof(m));
	if ((r = crl_make(ca, id, last, actor, &m)) != LY_OK)
		return r;
	free(m.mem);
	return LY_OK;
}

/* ---- an offline root's CRL, imported ---------------------------------- */

/* An ASN1_TIME as time_t; 0 if absent or unreadable. */
static time_t
time_or_zero(const ASN1_TIME *t)
{
	time_t v = 0;

	(void)ly_asn1_time(t, &v);
	return v;
}

/*
 * The root slot, not retired, whose certificate issued and signed crl;
 * -1 if none.
 */
static int
root_of(struct ca *ca, X509_CRL *crl)
{
	time_t now = ly_now();
	X509 *x;
	int slot;

	for (slot = 0; slot < ca_nslots(ca); slot++) {
		if (!ca_slot_is_root(ca, slot) ||
		    ca_slot_state(ca, slot, now) == CA_SLOT_RETIRED)
			continue;
		x = ca_cert(ca, slot);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
		    X509_get_subject_name(x)) == 0 &&
		    X509_CRL_verify(crl, X509_get0_pubkey(x)) == 1)
			return slot;
	}
	return -1;
}

int
crl_import_root(struct ca *ca, const unsigned char *der, size_t len,
    const char *actor, struct crl_info *infop)
{
	const unsigned char *p = der;
	unsigned char info[CRL_INFO_LEN];
	X509_CRL *crl = NULL;
	ASN1_INTEGER *num = NULL;
	struct crl_info ci;
	char detail[128];
	uint64_t n;
	int r = LY_ERR_BAD_INPUT, stored = 0, slot;

	if (len > CRL_IMPORT_MAX)
		return ly_fail(LY_ERR_TOO_LARGE, "a CRL of %zu bytes", len);
	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		r = ly_fail(LY_ERR_BAD_INPUT, "not one DER CRL");
		goto out;
	}
	/* The same subject after a root rollover: the signature tells. */
	if ((slot = root_of(ca, crl)) < 0) {
		r = ly_fail(LY_ERR_BAD_INPUT, "not a CRL signed by this root");
		goto out;
	}
	memset(&ci, 0, sizeof(ci));
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) ==
	    NULL || ASN1_INTEGER_get_uint64(&n, num) != 1 || n == 0 ||
	    X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0) {
		r = ly_fail(LY_ERR_BAD_INPUT, "a root CRL is a full CRL with a "
		    "CRL number");
		goto out;
	}
	ci.number = n;
	ci.this_update = time_or_zero(X509_CRL_get0_lastUpdate(crl));
	ci.next_update = time_or_zero(X509_CRL_get0_nextUpdate(crl));
	/* No revokedCertificates at all is -1 entries to OpenSSL. */
	if (X509_CRL_get_REVOKED(crl) != NULL)
		ci.entries = (size_t)sk_X509_REVOKED_num(
		    X509_CRL_get_REVOKED(crl));
	ci.revocations = CRL_REVOCATIONS_UNKNOWN;
	if (ci.next_update <= ly_now()) {
		r = ly_fail(LY_ERR_BAD_INPUT, "the CRL's nextUpdate has passed");
		goto out;
	}
	info_encode(&ci, info);
	snprintf(detail, sizeof(detail), "{\"crl\":\"%s\",\"number\":%llu,"
	    "\"entries\":%zu,\"imported\":true}", ca_slot_name(ca, slot),
	    (unsigned long long)n, ci.entries);
	{
		char key[16 + CRL_NAME_MAX];

		snprintf(key, sizeof(key), "crl/%s", ca_slot_name(ca, slot));
		if ((r = ca_crl_record(ca, key, n, der, len, info,
		    sizeof(info), actor, detail, &stored)) != LY_OK)
			goto out;
	}
	if (!stored) {
		r = ly_fail(LY_ERR_EXISTS, "a root CRL numbered %llu or higher "
		    "is imported already", (unsigned long long)n);
		goto out;
	}
	if (infop != NULL)
		*infop = ci;
	r = LY_OK;
 out:
	ERR_clear_error();
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	return r;
}
