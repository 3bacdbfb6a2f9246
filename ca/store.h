/*
 * ca/store.h — the LMDB store. Only ca/ writes it; crl/, ocsp/ and web/
 * read it through read transactions.
 *
 * Databases in one environment:
 *   meta       "schema" → version; "audit_head" → seq + hash; others later
 *   certs      serial(20) → certificate record
 *   identity   SHA-256(identity) → serial(20), duplicates sorted
 *   expiry     notAfter(8, big-endian) ‖ serial(20) → ""
 *   revoked    ca(1) ‖ serial(20) → revocation (time, reason, invalidity)
 *   audit      seq(8, big-endian) → hash-chained entry
 *   ocsp       serial(20) → pre-signed OCSP response: a 64-byte header
 *              (ocsp/extern.h) and the DER; opaque to ca/
 *   tokens     SHA-256(token) → token record (ca/token.c); the token
 *              itself is never stored
 *   disabled   SHA-256(identity) → compact JSON (ca/store_disabled.c)
 *
 * Every write transaction is durable when store_txn_commit() returns (no
 * MDB_NOSYNC): the invariants "a serial is recorded before the HSM signs"
 * and "a certificate is stored before it is returned" rest on it.
 */
#ifndef LANYARD_STORE_H
#define LANYARD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"

/*
 * 1: the databases above. 2: "disabled" (identities that may not enroll,
 * ca/store_disabled.c), and revocation records without a certificate
 * (status revoked, no DER, notAfter 0) that ca/revoke_unknown.c writes
 * and a version 1 reader would take for a damaged record.
 */
#define STORE_SCHEMA_VERSION	2

struct store;
struct store_txn;

enum store_status {
	STORE_RESERVED = 1,	/* serial drawn; the HSM may have signed */
	STORE_VALID,
	STORE_REVOKED,
	/*
	 * A reservation whose certificate was never stored, so never
	 * returned to anyone (a crash or a failure between signing and
	 * storing; ca_reconcile()): the serial is never used again, and
	 * the status is final.
	 */
	STORE_BURNED,
};

struct store_cert {
	struct ca_serial serial;
	uint8_t		 status;	/* enum store_status */
	uint8_t		 ca;		/* CA_ROOT, CA_ISSUING: the issuer */
	int8_t		 reason;	/* CRL reason, -1 none */
	char		 profile[CONF_NAME_MAX];
	int64_t		 created;	/* when the serial was reserved */
	int64_t		 not_before;
	int64_t		 not_after;
	int64_t		 revoked_at;	/* 0 unless revoked */
	int64_t		 invalidity;	/* 0: no invalidity date */
	struct ca_serial supersedes;	/* zero: none */
	struct ca_serial superseded_by;	/* zero: none */
	char		*identity;	/* ca_identity_key(), or NULL */
	unsigned char	*der;		/* NULL while reserved */
	size_t		 derlen;
};

/* Flags for store_open(). */
#define STORE_RDONLY	0x1
#define STORE_EXISTING	0x2	/* the store must exist already: never make one */
#define STORE_UPGRADE	0x4	/* an older schema opens writable (ca/upgrade.c) */

/*
 * Opens (creating if needed, unless read-only or STORE_EXISTING) the
 * environment in dir with a map of map_size bytes. Refuses a schema
 * version it does not know; with STORE_EXISTING, also a store that was
 * never made (a lost or emptied store directory must not quietly become
 * a new, empty CA database).
 */
int		 store_open(const char *dir, size_t map_size, unsigned int flags,
		    struct store **);
void		 store_close(struct store *);

/* One write transaction at a time per environment (LMDB); reads run in parallel. */
int		 store_txn_begin(struct store *, int write, struct store_txn **);
/*
 * Begins a write transaction nested in the write transaction parent, on
 * parent's thread. Until the child ends, parent must not be used. A
 * child's commit makes its writes part of parent (nothing is durable
 * until parent commits); its abort undoes them and leaves parent as it
 * was before the child began, also after an error in the child. So one
 * writer of a group commit can fail alone (ca/commit.c).
 */
int		 store_txn_begin_child(struct store_txn *parent,
		    struct store_txn **);
/*
 * Commits and frees; durable on return for a top-level transaction, for
 * a child see above. LY_ERR_STORE_FULL if the map is full.
 */
int		 store_txn_commit(struct store_txn *);
/* Aborts and frees; NULL is a no-op. */
void		 store_txn_abort(struct store_txn *);

/*
 * Records a new serial (status STORE_RESERVED, no DER). LY_ERR_EXISTS if
 * the serial is already in the store, whatever its state.
 */
int		 store_cert_reserve(struct store_txn *, const struct store_cert *);
/*
 * Writes a certificate record over its reservation or previous record,
 * keeping the identity, expiry and revoked indexes in step.
 * LY_ERR_NOT_FOUND if the serial was never reserved; LY_ERR_STATE if the
 * record is burned (nothing may be written over it) or if c is burned
 * and the record is not a reservation.
 */
int		 store_cert_put(struct store_txn *, const struct store_cert *);
/*
 * Reads a record; *certp is freed with store_cert_free().
 * LY_ERR_NOT_FOUND if absent.
 */
int		 store_cert_get(struct store_txn *, const struct ca_serial *,
		    struct store_cert **certp);
void		 store_cert_free(struct store_cert *);

/*
 * Removes a record with its identity, expiry and revoked index entries
 * and its stored OCSP response (ca/tidy.c decides which may go; the
 * audit log keeps their history). LY_ERR_NOT_FOUND if absent.
 * store_token_del() removes a token record the same way.
 */
int		 store_cert_del(struct store_txn *, const struct ca_serial *);
int		 store_token_del(struct store_txn *, const unsigned char hash[32]);

/*
 * Calls cb for each record in serial order (store_cert_foreach) or for
 * each record of an identity (store_cert_by_identity). The record is
 * valid during the call only. cb returns 0 to go on, non-zero to stop
 * (that value is returned).
 */
typedef int	(*store_cert_cb)(const struct store_cert *, void *);
int		 store_cert_foreach(struct store_txn *, store_cert_cb, void *);
int		 store_cert_by_identity(struct store_txn *, const char *identity,
		    store_cert_cb, void *);

/* One entry of the revoked index. */
struct store_revoked {
	struct ca_serial serial;
	int64_t		 revoked_at;
	int8_t		 reason;	/* -1: no reason code */
	int64_t		 invalidity;	/* 0: none */
};
typedef int	(*store_revoked_cb)(const struct store_revoked *, void *);
/*
 * Calls cb for each certificate revoked by CA slot ca, in serial order,
 * reading only the revoked index (a CRL is one pass over it). Same
 * callback contract as store_cert_foreach().
 */
int		 store_revoked_foreach(struct store_txn *, uint8_t ca,
		    store_revoked_cb, void *);

/*
 * Pre-signed OCSP responses by serial. store_ocsp_get() borrows: *derp is
 * valid until the transaction ends. LY_ERR_NOT_FOUND if there is none.
 */
int		 store_ocsp_put(struct store_txn *, const struct ca_serial *,
		    const void *der, size_t len);
int		 store_ocsp_get(struct store_txn *, const struct ca_serial *,
		    const void **derp, size_t *lenp);
int		 store_ocsp_del(struct store_txn *, const struct ca_serial *);

/*
 * One-time enrollment tokens by SHA-256 of the token; the record is
 * opaque to the store (ca/token.c encodes it). store_token_get() borrows:
 * *recp is valid until the transaction ends; LY_ERR_NOT_FOUND if absent.
 * store_token_foreach() calls cb for every record in hash order (same
 * contract as store_cert_foreach()).
 */
int		 store_token_put(struct store_txn *, const unsigned char hash[32],
		    const void *rec, size_t len);
int		 store_token_get(struct store_txn *, const unsigned char hash[32],
		    const void **recp, size_t *lenp);
typedef int	(*store_token_cb)(const unsigned char *hash, const void *rec,
		    size_t len, void *);
int		 store_token_foreach(struct store_txn *, store_token_cb, void *);

/* Small values in meta. *valp borrowed: valid until the txn ends. */
int		 store_meta_get(struct store_txn *, const char *key,
		    const void **valp, size_t *lenp);
int		 store_meta_put(struct store_txn *, const char *key,
		    const void *val, size_t len);

/*
 * Appends an entry to the hash-chained audit log in the same transaction
 * as the change it records. detail is compact JSON (or NULL). Each entry
 * holds SHA-256(seq ‖ time ‖ prev-hash ‖ actor ‖ action ‖ detail); the
 * head (last seq and hash) is kept in meta so a removed last entry shows.
 */
int		 store_audit_append(struct store_txn *, const char *actor,
		    const char *action, const char *detail);

struct store_audit_entry {
	uint64_t	 seq;
	int64_t		 time;
	const char	*actor;
	const char	*action;
	const char	*detail;
	unsigned char	 hash[32];
};
typedef int	(*store_audit_cb)(const struct store_audit_entry *, void *);
int		 store_audit_foreach(struct store_txn *, store_audit_cb, void *);
/*
 * Walks the whole log: sequence numbers contiguous from 1, every hash
 * recomputed, every link matching, the head matching the last entry.
 * LY_ERR_AUDIT naming the first bad seq in ly_errdetail(). *countp (if not
 * NULL) is the number of entries checked.
 */
int		 store_audit_verify(struct store_txn *, uint64_t *countp);

/*
 * ca/store_copy.c. store_copy() writes a compact, consistent copy of the
 * environment (one read transaction, writers go on) as dir/data.mdb; dir
 * must exist and hold no data.mdb. store_usage() gives the bytes in use
 * (the highest page written) and the map size.
 */
int		 store_copy(struct store *, const char *dir);
int		 store_usage(struct store *, size_t *usedp, size_t *mapp);
/* The schema version of the open store (older ones are read-only). */
uint32_t	 store_schema(const struct store *);
/*
 * Migrates a store opened with STORE_UPGRADE to STORE_SCHEMA_VERSION in
 * one write transaction with an "upgrade" audit entry (detail: compact
 * JSON, or NULL). LY_ERR_STATE if it is at that version already.
 */
int		 store_upgrade(struct store *, const char *actor,
		    const char *detail);

/*
 * Disabled identities (ca/store_disabled.c), by the identity key of
 * ca_identity_key(). The value is compact JSON opaque to the store.
 * store_disabled_get() borrows *valp until the transaction ends;
 * LY_ERR_NOT_FOUND if the identity is not disabled (also in a read-only
 * schema 1 store, which has none). store_disabled_del(): LY_ERR_NOT_FOUND
 * if it was not disabled.
 */
int		 store_disabled_put(struct store_txn *, const char *identity,
		    const char *val);
int		 store_disabled_get(struct store_txn *, const char *identity,
		    const char **valp, size_t *lenp);
int		 store_disabled_del(struct store_txn *, const char *identity);
typedef int	(*store_disabled_cb)(const char *val, size_t len, void *);
int		 store_disabled_foreach(struct store_txn *, store_disabled_cb,
		    void *);

#endif /* LANYARD_STORE_H */
