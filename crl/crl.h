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
 * Names: "<ca>" is the full CRL of a CA, "<ca>-delta" its delta CRL, and
 * with [crl] shards > 1 the issuing CA's partitions are "<ca>-<k>" and
 * "<ca>-<k>-delta", each with a critical Issuing Distribution Point naming
 * its own URL. The file names and URL paths are "/crl/<name>.crl".
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
	int		 slot;		/* CA_ROOT, CA_ISSUING */
	int		 shard;		/* -1 or 0 .. shards-1 */
	int		 delta;
};

struct crl_info {
	uint64_t	 number;	/* CRL number */
	uint64_t	 base;		/* delta: the base CRL number */
	time_t		 this_update;
	time_t		 next_update;
	size_t		 entries;
};

/*
 * Parses a name as it appears in a URL ("issuing", "issuing-delta",
 * "issuing-3", "root"), refusing anything else (path traversal included):
 * LY_ERR_NOT_FOUND. Only the exact forms: "<ca>" and "<ca>-delta", or for
 * the partitioned issuing CA "<ca>-<k>" and "<ca>-<k>-delta" with k
 * decimal, without leading zeros, below [crl] shards (and then no "<ca>").
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
 * shard of an unpartitioned CA, shard -1 of a partitioned one),
 * LY_ERR_HSM if the CA key cannot sign or its signature does not verify.
 * Thread-safe: reads the store only through read transactions.
 */
int		 crl_generate(struct ca *, const struct crl_id *,
		    const char *actor, struct crl_info *info);
/*
 * Generates every CRL of every CA (full and delta, every shard; each full
 * CRL before its delta) and, if dir is not NULL, writes each atomically
 * to dir/<name>.crl, mode 0644, from the store (crl_write_file()): a
 * failed write leaves the previous file, and a file is only ever
 * replaced by a CRL with a higher number.
 * A failure does not stop the others; the first error is returned.
 */
int		 crl_generate_all(struct ca *, const char *actor,
		    const char *dir);

/*
 * The same for the CRLs of one CA slot: what ca-server runs after a
 * revocation (the issuing CA) and when a CA's CRL is due, so that the
 * root's key signs only when the root's CRL needs it.
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
 * Whether a CRL is due: none yet, its nextUpdate is closer than [crl]
 * refresh_before (but at most half its lifetime: a delta CRL valid for
 * less than refresh_before is not due the moment it is made), the clock
 * is before its thisUpdate, or, for a delta CRL, its base is no longer
 * the current full CRL. 1 yes, 0 no, <0 error.
 */
int		 crl_due(struct store_txn *, const struct ca *,
		    const struct crl_id *);

#endif /* LANYARD_CRL_H */
