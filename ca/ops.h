/*
 * ca/ops.h — keeping an instance for years: backup and restore
 * (ca/backup.c, ca/restore.c, ca/revoke_unknown.c). docs/operations.md
 * describes what an operator does with them.
 */
#ifndef LANYARD_CA_OPS_H
#define LANYARD_CA_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "ca/ca.h"

/* meta key: the time (int64 big-endian) of the last verified backup. */
#define CA_META_BACKUP_LAST	"backup/last"

/* The container's manifest, and its format version. */
#define CA_BACKUP_MANIFEST	"MANIFEST.json"
#define CA_BACKUP_FORMAT	"lanyard-backup"
#define CA_BACKUP_VERSION	1
/* The store's copy inside a backup. */
#define CA_BACKUP_STORE		"store/data.mdb"

struct ca_backup_info {
	char		 sha256[65];	/* of the backup file, hex */
	uint64_t	 size;		/* bytes of the backup file */
	uint64_t	 audit_seq;	/* last audit entry in the snapshot */
	time_t		 created;
};

/*
 * Writes a backup of the open instance to the file out (a pax tar, see
 * docs/operations.md): a compact, consistent copy of the store taken
 * while other processes write (mdb_env_copy2 with MDB_CP_COMPACT),
 * ca.conf, the CA certificates and the SoftHSM configuration, with a
 * manifest of their SHA-256. Never a PIN, a token or a TLS key: the HSM
 * keys are backed up by the HSM's own means. Before it returns LY_OK it
 * reads the file back (ca_backup_unpack()), checks every hash, opens the
 * snapshot and verifies its audit chain; only then is the backup audited
 * ("backup") and its time recorded under CA_META_BACKUP_LAST. out is
 * written atomically (never half a file under its name); LY_ERR_EXISTS if
 * it exists. *info is set on success.
 */
int		 ca_backup(struct ca *, const char *out, const char *actor,
		    struct ca_backup_info *info);

/*
 * The two halves of ca_backup(): the verified file (the instance may be
 * open read-only), then the audit entry and CA_META_BACKUP_LAST in one
 * write transaction of st.
 */
int		 ca_backup_write(struct ca *, const char *out,
		    struct ca_backup_info *info);
struct store;
int		 ca_backup_record(struct store *st, const char *out,
		    const struct ca_backup_info *info, const char *actor);

/*
 * Unpacks the backup file (untrusted: at most CA_BACKUP_MAX_ENTRIES
 * regular files, names of the allowed shape, no links, no "..", sizes
 * capped, every file listed in the manifest with its SHA-256 and size,
 * and nothing missing) into the existing, empty directory dir. On
 * success *manifestp (caller decrefs) is the parsed manifest. On failure
 * the files it wrote are left for the caller to remove.
 */
#define CA_BACKUP_MAX_ENTRIES	32
int		 ca_backup_unpack(const char *file, const char *dir,
		    json_t **manifestp);

/*
 * Opens the store in dir read-only and verifies its audit chain; *seqp
 * is the last sequence number. For a snapshot just written or unpacked.
 */
int		 ca_backup_check_store(const char *dir, size_t map_size,
		    uint64_t *seqp);

/*
 * Shared by backup and restore: SHA-256 (hex) and size of a file. (A
 * tree they made is removed with ly_remove_tree().)
 */
int		 ca_backup_hash_file(const char *path, char hex[65],
		    uint64_t *sizep);

struct ca_restore_info {
	size_t		 crls;		/* CRLs read and verified */
	uint64_t	 crl_number[CA_MAX_SLOTS];	/* highest published, per slot */
	size_t		 reapplied;	/* revocations the backup lacked */
	size_t		 unknown;	/* ... of which for serials it lacked */
	size_t		 ocsp;		/* revocations found in OCSP responses */
};

/*
 * Makes a new instance in dir (absent or empty) from a backup, then
 * makes sure it never un-revokes a certificate nor reuses a CRL number:
 * every CRL in crls (files, PEM with one or more CRLs or DER) and every
 * OCSP response under ocsp_dir (NULL: none; files as "ca-admin publish"
 * writes them) must be signed by one of the backup's CAs (or, for OCSP,
 * a delegated signer it certified) or the restore fails; each revocation
 * they list that the store lacks is re-applied (a serial the store does
 * not know gets a revocation record without a certificate), with its own
 * audit entry; each CA's CRL number continues above the highest one
 * published; the restore is audited ("restore"). The HSM is not used:
 * the operator puts the token (or its backup) and the PIN files back
 * before ca-server starts. On failure what was made in dir is removed.
 */
int		 ca_restore(const char *file, const char *dir,
		    const char *const *crls, size_t ncrls, const char *ocsp_dir,
		    const char *actor, struct ca_restore_info *info);

/*
 * Revokes a serial the store has no certificate for (one issued after
 * the backup a restore came from): a revocation record without a
 * certificate, so that it is listed by the CRLs of CA slot and answered
 * "revoked" by OCSP. revoked_at 0: now. LY_ERR_EXISTS if the store has a
 * record for the serial (use ca_revoke()). Audited "revoke" with
 * "certificate": false.
 */
int		 ca_revoke_unknown(struct ca *, const struct ca_serial *,
		    int slot, int reason, time_t revoked_at, time_t invalidity,
		    const char *actor);

/* One revocation to make sure of (from a CRL, an OCSP response, the admin). */
struct ca_revocation {
	struct ca_serial serial;
	int		 slot;		/* CA_ROOT, CA_ISSUING */
	int		 reason;	/* -1: none */
	time_t		 revoked_at;
	time_t		 invalidity;	/* 0: none */
};
struct store_txn;
/*
 * In the write transaction txn: revokes rv->serial if the store does not
 * have it revoked already (a record without a certificate if it has no
 * record), drops its stored OCSP response, and appends a "revoke" audit
 * entry naming source. *appliedp: 0 nothing to do, 1 a known certificate
 * was revoked, 2 a record without a certificate was made. The caller
 * bumps the revocation counter (ca_revocations_add()) and commits.
 */
int		 ca_revocation_apply(struct store_txn *txn,
		    const struct ca_revocation *rv, const char *actor,
		    const char *source, int *appliedp);
/* Adds k to the counter ca_revocations() reads, in txn. */
int		 ca_revocations_add(struct store_txn *txn, uint64_t k);

/* ---- tidy (ca/tidy.c) -------------------------------------------------- */

#define CA_TIDY_KEEP_DAYS	90	/* default of --keep and [ca] tidy_keep */

struct ca_tidy_info {
	size_t		 certs;		/* records removed (or, dry, to be) */
	size_t		 revoked;	/* ... of which revoked */
	size_t		 kept;		/* revoked, expired long enough, but
					   no CRL since expiry lists them yet */
	size_t		 tokens;	/* token records removed */
};
/* Called for each record tidy removes (dry run: would remove). */
typedef void	(*ca_tidy_cb)(const char *kind, const char *id,
		    const char *status, time_t when, void *arg);
/*
 * Removes what has expired more than keep_days ago: certificate records
 * whose notAfter is older (with their index entries and OCSP response)
 * and used, revoked or expired tokens. Never a revoked certificate whose
 * CRL entry is still required: it goes only once the current full CRL of
 * its CA (and shard) was issued after its notAfter and lists it, so at
 * least one CRL past expiry carried it (RFC 5280 5.1.2.6; the Vault PKI
 * tidy of CVE-2021-29653 dropped entries early). Never a revocation
 * record without a certificate (notAfter unknown), never a claimed
 * token. The audit log keeps everything; the tidy itself is audited
 * ("tidy", with the counts) unless dry_run, which writes nothing.
 */
int		 ca_tidy(struct ca *, int keep_days, int dry_run,
		    const char *actor, ca_tidy_cb cb, void *arg,
		    struct ca_tidy_info *info);
/* Token record internals for tidy (ca/token.c): state now and times. */
int		 ca_token_rec_times(const void *rec, size_t len, int *statep,
		    time_t *expiresp, time_t *used_atp);

/* ---- status (ca/status.c) ---------------------------------------------- */

#define CA_STATUS_PROFILES	32
#define CA_STATUS_EXPIRING	(7 * 86400)	/* "expiring soon" */

struct ca_status_profile {
	char		 name[CONF_NAME_MAX];
	uint64_t	 valid, revoked, expired, reserved;
	uint64_t	 expiring;	/* valid, notAfter within 7 days */
};
struct ca_status {
	time_t		 now;
	/* Every CA slot (ca/slots.c), in slot order. */
	struct {
		char	 name[CONF_NAME_MAX];
		char	 issuer[CONF_NAME_MAX];	/* its ca.conf section */
		int	 state;		/* enum ca_slot_state */
		int	 root;
		time_t	 not_after;
		/*
		 * An issuer in force: the life a leaf issued now needs
		 * (conf_issuer_need()); the CA is short when
		 * not_after - now < need: a leaf would be cut to its
		 * notAfter. 0 for roots and other states.
		 */
		long	 need;
	}		 ca[CA_MAX_SLOTS];
	int		 nca;
	/*
	 * The current OCSP signer of each CA (its newest valid "ocsp"
	 * certificate), and the earliest notAfter among them; 0 if none.
	 */
	time_t		 ocsp_not_after;
	time_t		 ocsp_slot_not_after[CA_MAX_SLOTS];
	time_t		 tls_not_after;		/* DIR/tls/server.crt; 0 */
	/*
	 * Filled in by the caller, which may ask ocsp/ (ca/ may not):
	 * the earliest nextUpdate of the root's pre-signed OCSP responses
	 * about the CA certificates it issued (ocsp_root_next_update(); 0
	 * when one has none), and how many such certificates (0: no gauge).
	 */
	time_t		 root_ocsp_next;
	size_t		 root_ocsp_count;
	size_t		 store_used, store_map;	/* bytes */
	uint32_t	 schema;
	time_t		 last_backup;		/* 0: never */
	uint64_t	 tokens_outstanding;	/* unused or claimed */
	uint64_t	 disabled;		/* identities */
	struct ca_status_profile profiles[CA_STATUS_PROFILES];
	size_t		 nprofiles;
};
/*
 * Fills *st from the certificate files and one read transaction of the
 * store (a read-only store will do): no HSM, no PIN. A full pass over
 * the certificates (~30 ms per 100,000 here): for ca-admin status and a
 * /metrics scrape, not for a hot path. CRLs are crl/'s (crl_get()).
 */
int		 ca_status_get(struct ca *, struct ca_status *st);

/* ---- store schema upgrade (ca/upgrade.c) ------------------------------- */

/*
 * Migrates the store of the instance in dir to STORE_SCHEMA_VERSION:
 * first a verified backup to backup (NULL: DIR/backup-before-upgrade-
 * <time>.tar), taken read-only, then the migration in one write
 * transaction with an "upgrade" audit entry naming the backup, and the
 * backup recorded. *fromp is the version found. LY_ERR_STATE if the
 * store is current already; nothing is written if the backup fails.
 * Stop ca-server first: the running server has the old store open.
 */
int		 ca_upgrade(const char *dir, const char *backup,
		    const char *actor, uint32_t *fromp, char **backupp);

/* ---- disabled identities (ca/disable.c) -------------------------------- */

/*
 * The identity key (ca_identity_key()) of an admin's input: kind
 * "identity" (JSON, canonicalised as issuance does; a "role" member is
 * kept), "spiffe" (a SPIFFE ID, checked) or "dns" (a DNS name, lower
 * case). *keyp freed by the caller. LY_ERR_BAD_IDENTITY if malformed.
 */
int		 ca_identity_parse_key(const struct conf *, const char *kind,
		    const char *value, char **keyp);
/*
 * Disables identity (a key from ca_identity_parse_key()): from then on
 * no certificate is issued or reissued for it, whatever the door
 * (LY_ERR_IDENTITY_DISABLED). With reason >= -1 (-1: no reason code) all
 * its valid certificates are revoked in the same transaction (*revokedp
 * of them; their stored OCSP responses are dropped, so OCSP answers
 * revoked at once); reason -2: none is revoked. Audited
 * "identity-disable". LY_ERR_STATE if it is disabled already and nothing
 * is to be revoked.
 */
int		 ca_identity_disable(struct ca *, const char *identity,
		    int reason, const char *actor, size_t *revokedp);
/* Enables it again; LY_ERR_NOT_FOUND if it was not disabled. Audited. */
int		 ca_identity_enable(struct ca *, const char *identity,
		    const char *actor);
/* The disabled identities as a JSON array of their records (caller decrefs). */
int		 ca_identity_disabled_list(struct ca *, json_t **arrayp);
/*
 * In an issuing transaction: LY_OK, or LY_ERR_IDENTITY_DISABLED if
 * identity (NULL: none, LY_OK) is disabled.
 */
int		 ca_identity_enabled(struct store_txn *, const char *identity);

#endif /* LANYARD_CA_OPS_H */
