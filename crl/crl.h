/*
 * crl/crl.h — full and delta CRLs of every CA (RFC 5280 section 5).
 *
 * A CRL is generated in one pass over the store's revoked index (ordered
 * by serial): each revokedCertificates entry is encoded by OpenSSL on its
 * own and streamed into the TBSCertList, so a CRL of a million entries
 * never exists as one X509_CRL in memory. The TBS is signed by the CA key
 * on the HSM, the signature verified with the CA certificate, and the CRL
 * recorded in the store (ca_crl_record) before anyone can fetch it.
 *
 * Every CA slot (ca/ca.h) has its CRLs: a root slot one full CRL (no
 * delta, never partitioned), an issuing slot a full and a delta CRL, in
 * partitions when its section's crl_shards (else [crl] shards) is > 1.
 * Names: "<ca>" is the full CRL of a CA slot ("issuing", "devices-2"),
 * "<ca>-delta" its delta CRL, and a partitioned CA's partitions are
 * "<ca>-<k>" and "<ca>-<k>-delta", each with a critical Issuing
 * Distribution Point naming its own URL; "<ca>" is then the full CRL of
 * its whole scope, without IDP or delta, for the gateways' bundle (unless
 * [crl] bundle_shards = yes, then there is none). The file names and URL
 * paths are "/crl/<name>.crl".
 *
 * A retiring slot (superseded by a newer generation) keeps its CRLs on
 * schedule until nothing it issued is unexpired; then its last full CRL,
 * good until its certificate's notAfter, is made and it is retired: it
 * signs no CRL again, and its last CRL stays in the store and the files.
 */
#ifndef LANYARD_CRL_H
#define LANYARD_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ca/ca.h"

struct store_txn;

/* Which CRL: a CA slot, a shard (-1: the whole CA), full or delta. */
struct crl_id {
	int		 slot;		/* 0 .. ca_nslots() - 1 */
	int		 shard;		/* -1 or 0 .. shards-1 */
	int		 delta;
};

struct crl_info {
	uint64_t	 number;	/* CRL number */
	uint64_t	 base;		/* delta: the base CRL number */
	time_t		 this_update;
	time_t		 next_update;
	size_t		 entries;
	/*
	 * The store's revocation count (ca_revocations()) in the snapshot
	 * the entries were read from: a CRL misses revocations when the
	 * count has moved since. CRL_REVOCATIONS_UNKNOWN for a CRL recorded
	 * before it was kept.
	 */
	uint64_t	 revocations;
};
#define CRL_REVOCATIONS_UNKNOWN	UINT64_MAX

/*
 * Parses a name as it appears in a URL ("issuing", "issuing-delta",
 * "issuing-3", "root", "devices-2-delta"), refusing anything else (path
 * traversal included): LY_ERR_NOT_FOUND. Only the exact forms: "<ca>" and
 * "<ca>-delta" (not of a root), or for a partitioned CA "<ca>-<k>" and
 * "<ca>-<k>-delta" with k decimal, without leading zeros, below its
 * shards (and then "<ca>" only when [crl] bundle_shards is no). Slot
 * names may hold '-', so a name may begin with several ("devices-2-delta"
 * with "devices" and "devices-2"): the longest slot name whose rest is
 * one of that slot's forms wins, so a newer generation's CRLs are never
 * read as an older one's shards, and "devices-2-delta" is a shard of
 * "devices" only when "devices-2" has no such CRL. XXX a generation
 * "<ca>-<k>" of a CA partitioned in more than k shards takes shard k's
 * name: that shard is refused (crl_shadowed() in crl/extern.h), and the
 * registry should not name a CA so.
 */
int		 crl_name_parse(const struct ca *, const char *name,
		    struct crl_id *);
/* The name of a CRL into buf (truncated to len; 64 is enough); returns buf. */
char		*crl_name(const struct ca *, const struct crl_id *,
		    char *buf, size_t len);

/*
 * Generates, signs and records a new CRL. actor goes into the audit
 * entry. *info (if not NULL) describes what was made. thisUpdate is
 * ly_now(); the number is the CA's next (ca_crl_number_next()), so a
 * failure may leave a gap but never a repeat. Generations may overlap
 * (ca-server, ca-admin, the admin API): one that finishes after a
 * generation with a higher number records nothing (ca_crl_record()), so
 * the stored CRL's number never goes down. A delta CRL lists what was
 * revoked since a few minutes before its base's thisUpdate (revocations in
 * flight then) and names the current full CRL as its base: LY_ERR_STATE if
 * there is none yet. LY_ERR_ARG if id names no CRL of this instance (a
 * shard of an unpartitioned CA, shard -1 of a partitioned one with
 * bundle_shards, a delta of shard -1 of a partitioned one),
 * LY_ERR_HSM if the CA key cannot sign or its signature does not verify.
 * Thread-safe: reads the store only through read transactions.
 */
int		 crl_generate(struct ca *, const struct crl_id *,
		    const char *actor, struct crl_info *info);
/*
 * Generates every CRL of every CA slot (full and delta, every shard; each
 * full CRL before its delta; a retired slot's last CRL is only written)
 * and, if dir is not NULL, writes each atomically
 * to dir/<name>.crl, mode 0644, from the store (crl_write_file()): a
 * failed write leaves the previous file, and a file is only ever
 * replaced by a CRL with a higher number.
 * A failure does not stop the others; the first error is returned.
 */
int		 crl_generate_all(struct ca *, const char *actor,
		    const char *dir);

/*
 * The same for the CRLs of one CA slot: what ca-server runs when a CA's
 * CRL is due, so that a root's key signs only when its CRL needs it. An
 * offline root's (imported) or a retired slot's CRLs are written to dir
 * as the store holds them, never signed.
 */
int		 crl_generate_ca(struct ca *, int slot, const char *actor,
		    const char *dir);

/*
 * The current CRL, borrowed from the transaction: *derp is valid until
 * it ends. Any of derp, lenp and info may be NULL. LY_ERR_NOT_FOUND if
 * none was generated yet, LY_ERR_ARG if id names no CRL.
 */
int		 crl_get(struct store_txn *, const struct ca *,
		    const struct crl_id *, const unsigned char **derp,
		    size_t *lenp, struct crl_info *info);

/*
 * Calls fn with the current CRL id and its summary, borrowed for the
 * call (it runs inside a read transaction: copy what must outlive it, and
 * be quick). Returns fn's result, or LY_ERR_NOT_FOUND if none was
 * generated yet, LY_ERR_ARG if id names no CRL, or the store's error.
 */
typedef int	(*crl_current_fn)(void *arg, const unsigned char *der,
		    size_t len, const struct crl_info *);
int		 crl_current(struct ca *, const struct crl_id *,
		    crl_current_fn fn, void *arg);
/*
 * The summaries of the current full CRL of each CA slot (0 ..
 * ca_nslots() - 1), read in one snapshot (for /healthz and /metrics):
 * info[slot] is set and bit 1u << slot of *havep for each slot that has
 * one (with bundle_shards: none; see crl_get()). An error only if the
 * store cannot be read.
 */
int		 crl_summary(struct ca *, struct crl_info info[CA_MAX_SLOTS],
		    unsigned int *havep);

/*
 * Whether a CRL is due: none yet, its nextUpdate is closer than [crl]
 * refresh_before (but at most half its lifetime: a delta CRL valid for
 * less than refresh_before is not due the moment it is made), the clock
 * is before its thisUpdate, or, for a delta CRL, its base is no longer
 * the current full CRL. 1 yes, 0 no, <0 error.
 */
int		 crl_due(struct store_txn *, const struct ca *,
		    const struct crl_id *);

/* ---- scheduling and publishing (crl/publish.c) ------------------------ */

/* Flags of crl_publish_due(). */
#define CRL_PUBLISH_REVOKED	0x1	/* issuing CAs' CRLs ([crl] on_revoke) */
#define CRL_PUBLISH_MISSING	0x2	/* also when a CRL misses revocations */

/*
 * Which CA slots have a CRL due (crl_due() of any of their CRLs), as bits
 * 1u << slot; never a retired slot nor an offline root. With
 * CRL_PUBLISH_MISSING, an issuing slot also when its current full CRL,
 * and the delta against it, were made before revocations the store now
 * holds (struct crl_info.revocations): ca-admin revoke without a publish
 * while no server ran. A CRL that cannot be read is not due (logged).
 */
unsigned int	 crl_due_cas(struct ca *, unsigned int flags);
/*
 * Publishes what is due, to the [publish] dir, then the bundle: the CRLs
 * (crl_generate_ca()) of every CA slot with a CRL due
 * (crl_due_cas(flags)); with CRL_PUBLISH_REVOKED (new revocations,
 * debounced by the caller) every CRL of every other issuing slot that is
 * not retired, or with [crl] on_revoke = delta its delta CRLs alone --
 * the full CRLs then move on their schedule, so a delta lists what
 * changed since its base (RFC 5280 5.2.4); and for a retiring slot with nothing unexpired
 * (ca_slot_last_expiry()), its last full CRLs (nextUpdate its
 * certificate's notAfter), then ca_slot_retire(). Only a CA whose CRL is
 * due is signed for: a root's key (which may be on an offline token) is
 * asked only when its CRL needs it. Slots registered by another process
 * are read first (ca_slots_refresh()). why is for the log, actor for the
 * audit. Returns 0 when nothing was due (nothing is written), 1 when it
 * published, or the first error (the other CAs are published anyway).
 */
int		 crl_publish_due(struct ca *, unsigned int flags,
		    const char *actor, const char *why);
/*
 * Publishes every CRL of every CA, due or not (crl_generate_all()), to
 * dir (NULL: the [publish] dir), then the bundle: ca-admin init,
 * crl publish, publish, and POST /api/v1/crl/publish. The bundle is
 * written even when a CRL failed (from what the store holds); the first
 * error.
 */
int		 crl_publish_all(struct ca *, const char *actor,
		    const char *dir);
/*
 * Publishes the delta CRLs alone of every issuing slot that is not
 * retired (every shard's), against the full CRLs the store holds, to dir
 * (NULL: the [publish] dir): cheap where a full CRL of a million entries
 * is not (ca-admin crl publish --delta). LY_ERR_STATE if a full CRL is
 * missing; the first error.
 */
int		 crl_publish_deltas(struct ca *, const char *actor,
		    const char *dir);

/*
 * For an issuing instance whose root is offline ([root] offline = yes):
 * records the root CRL the root's ceremony signed (DER, untrusted, at
 * most CRL_IMPORT_MAX bytes) as that root's current CRL, after checking
 * that it is one full CRL, issued and signed by one of this instance's
 * root slots that is not retired (a root rollover has two),
 * with a CRL number and a nextUpdate still ahead (LY_ERR_BAD_INPUT);
 * LY_ERR_EXISTS if a CRL with that number or a higher one is there
 * already. Audited "crl-publish" (detail "imported"). *infop (if not
 * NULL) is its summary.
 */
#define CRL_IMPORT_MAX	(16 * 1024 * 1024)
int		 crl_import_root(struct ca *, const unsigned char *der,
		    size_t len, const char *actor, struct crl_info *infop);

#endif /* LANYARD_CRL_H */
