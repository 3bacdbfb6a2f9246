/*
 * ca/ca.h — the CA engine: identities, CSR policy, serials, certificate
 * building, and the operations that change state (init, issue, reissue,
 * revoke). Only ca/ writes the store (ca/store.h).
 */
#ifndef LANYARD_CA_H
#define LANYARD_CA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "conf/conf.h"

/* ---- serials (ca/serial.c) --------------------------------------------- */

/*
 * A serial as a 20-octet big-endian unsigned number, left-padded with
 * zeros: the width of the store's keys, so that keys sort by value.
 * RFC 5280 4.1.2.2: positive, at most 20 octets.
 */
#define CA_SERIAL_LEN	20
struct ca_serial {
	unsigned char	 b[CA_SERIAL_LEN];
};

/* Draws 128 bits from the CSPRNG (RAND_priv_bytes); never zero. */
int		 ca_serial_new(struct ca_serial *);
/*
 * Test seam: when set, ca_serial_new() returns the bytes of these serials
 * in turn (and then the CSPRNG again). NULL clears it. Not thread-safe.
 */
void		 ca_serial_set_source(const struct ca_serial *, size_t n);
/* New ASN1_INTEGER of the serial; caller frees. NULL on failure. */
ASN1_INTEGER	*ca_serial_to_asn1(const struct ca_serial *);
/* LY_ERR_BAD_INPUT if negative, zero or longer than 20 octets. */
int		 ca_serial_from_asn1(const ASN1_INTEGER *, struct ca_serial *);
/* Hex as OpenSSL prints it (upper case, whole octets); caller frees. */
char		*ca_serial_hex(const struct ca_serial *);
/* Parses hex as ca_serial_hex() writes it; case and ':' are ignored. */
int		 ca_serial_parse(const char *, struct ca_serial *);
int		 ca_serial_is_zero(const struct ca_serial *);

/* ---- identities (ca/identity.c) ---------------------------------------- */

#define CA_MAX_NAMES		16	/* DNS + IP SANs in one certificate */
#define CA_SPIFFE_MAX		2048	/* SPIFFE ID spec */
#define CA_DNS_MAX		253

/*
 * What a certificate says about its holder. Decided by the admin or by
 * the token, never taken from the CSR.
 */
struct ca_identity {
	enum conf_identity_kind kind;
	char		*value;		/* canonical JSON or SPIFFE ID */
	char		*dns[CA_MAX_NAMES];	/* lower case, checked */
	size_t		 ndns;
	char		*ip[CA_MAX_NAMES];	/* canonical text form */
	size_t		 nip;
};

/*
 * Canonicalises a JSON identity: one object whose keys are those of the
 * schema in conf (unknown keys refused, required ones present), values of
 * the allowed types (string or integer; no nesting, no reals, no null),
 * no duplicate keys, valid UTF-8 without NUL, output with sorted keys, no
 * white space and non-ASCII escaped (so it is a valid IA5String), at most
 * conf->identity_max bytes. role: the value "role" must have (the admin
 * profile), or NULL, in which case a "role" key is refused. *canonp is
 * freed by the caller. LY_ERR_BAD_IDENTITY or LY_ERR_TOO_LARGE with the
 * reason in ly_errdetail().
 */
int		 ca_identity_json_canon(const struct conf *, const char *json,
		    size_t len, const char *role, char **canonp);
/*
 * Checks a SPIFFE ID by the SPIFFE ID specification: "spiffe://", a trust
 * domain of [a-z0-9.-_] equal to conf's, a path of segments of
 * [A-Za-z0-9.-_] (no empty, "." or ".." segment, no trailing '/'), no
 * query, fragment, port or user info, at most 2048 bytes.
 */
int		 ca_identity_spiffe_check(const struct conf *, const char *);
/* A DNS name (RFC 1123 labels, optional leading "*." wildcard); lower-cases it. */
int		 ca_identity_dns_check(char *name);
/* Parses an IPv4 or IPv6 address into out (4 or 16 bytes); returns length. */
int		 ca_identity_ip_parse(const char *, unsigned char out[16]);
/* Adds DNS name / IP address to id after checking it. */
int		 ca_identity_add_dns(struct ca_identity *, const char *);
int		 ca_identity_add_ip(struct ca_identity *, const char *);
/* Frees what id owns (not id itself). */
void		 ca_identity_clear(struct ca_identity *);
/*
 * The store's key for an identity: the JSON or SPIFFE value, else the
 * first DNS name, else the first IP. Borrowed from id; NULL if empty.
 */
const char	*ca_identity_key(const struct ca_identity *);

/* ---- CSR intake and key policy (ca/csr.c) ------------------------------ */

#define CA_CSR_MAX	(64 * 1024)

/*
 * Parses an untrusted CSR, PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE
 * REQUEST") or DER, of at most CA_CSR_MAX bytes, refusing trailing bytes,
 * and decodes its subject public key, once: *keyp. The key is not kept
 * in *reqp (X509_REQ_get0_pubkey() gives NULL): pass *keyp wherever the
 * CSR's key is needed. LY_ERR_BAD_CSR (also for a key that does not
 * decode) / LY_ERR_TOO_LARGE, or LY_ERR_KEY_POLICY for an EC key with
 * explicit parameters, refused before OpenSSL decodes the key (its curve
 * arithmetic is where CVE-2022-0778 lived). On success *reqp and *keyp
 * are set and freed by the caller; on failure neither is touched.
 */
int		 ca_csr_parse(const unsigned char *, size_t, X509_REQ **reqp,
		    EVP_PKEY **keyp);
/*
 * Checks a parsed CSR and its key (from ca_csr_parse()) against a
 * profile: the self-signature verifies (LY_ERR_CSR_SIGNATURE), the key is
 * of an allowed type and size: EC only on a named P-256/P-384 curve
 * (explicit parameters refused before any arithmetic), RSA within
 * [rsa_min_bits, rsa_max_bits] with an odd exponent >= 65537, Ed25519 if
 * allowed (LY_ERR_KEY_POLICY).
 */
int		 ca_csr_check(const struct conf_profile *, X509_REQ *,
		    EVP_PKEY *key);
/*
 * Key policy alone, for a public key from anywhere (CSR or a certificate
 * being reissued).
 */
int		 ca_key_check(const struct conf_profile *, EVP_PKEY *);

/* ---- the engine (ca/ca.c, issue.c, record.c, sign.c, cert.c, init.c) --- */

struct ca;

/* CA slots in the store (struct store_cert.ca). */
#define CA_ROOT		0
#define CA_ISSUING	1

/* Flags for ca_open(). */
#define CA_OPEN_READONLY	0x1	/* store read-only, no HSM */
#define CA_OPEN_NO_HSM		0x2	/* store writable, HSM not needed */

/*
 * Creates a new instance in dir (which must be empty or absent): ca.conf,
 * the store, the root and issuing CA keys on their tokens and their
 * certificates (dir/certs). config is the text of ca.conf, or NULL for the
 * embedded default with CA keys of type kt. When the configuration names
 * a softhsm2_conf, a SoftHSM2 token is made for each CA token with a
 * random PIN in its pin_file (mode 0600); otherwise the tokens are the
 * operator's and must exist. LY_ERR_EXISTS if dir is not empty; on any
 * failure what was made is removed again.
 */
int		 ca_init(const char *dir, enum conf_keytype kt,
		    const char *config);

/*
 * As ca_init(), for an issuing CA whose root is on another instance (a
 * key ceremony, docs/operations.md): ca.conf gets [root] offline = yes,
 * only the issuing CA's token is made, and its key signs a PKCS#10 CSR
 * for [issuing] subject, written to dir/CA_ISSUER_CSR (audited
 * "issuer-csr"). No certificate is made: the instance waits for
 * ca_issuer_import() (ca_open() refuses it with LY_ERR_STATE until then).
 */
#define CA_ISSUER_CSR	"certs/issuing.csr"
int		 ca_init_issuer(const char *dir, enum conf_keytype kt,
		    const char *config);
/*
 * Whether the instance of conf waits for its issuing CA certificate
 * (a CSR from ca_init_issuer() and no certificate yet).
 */
int		 ca_issuer_pending(const struct conf *);
/*
 * On the root's instance: signs the CSR (PEM or DER, untrusted) of an
 * issuing CA made elsewhere. The root allows an EC P-256/P-384 or RSA
 * 2048-4096 key, a subject with a CN other than the root's, and no
 * requested extension (LY_ERR_BAD_CSR / LY_ERR_KEY_POLICY /
 * LY_ERR_CSR_SIGNATURE otherwise); the certificate is what ca_init()
 * makes for its own issuing CA: CA:TRUE, pathlen 0, keyCertSign and
 * cRLSign, the [issuing] name constraints and the URLs of this ca.conf,
 * for days (0: [issuing] days), never past the root's notAfter. Recorded
 * as issued by the root and audited "root-sign-issuer"; the next ca-admin
 * root crl signs its OCSP response. *certp is freed by the caller.
 * LY_ERR_STATE if the root is offline here.
 */
int		 ca_root_sign_issuer(struct ca *, const unsigned char *csr,
		    size_t len, int days, const char *actor, X509 **certp);
/*
 * On the issuing instance: installs the certificate the root signed
 * (PEM file cert_path) after checking that the instance waits for one,
 * that it is a CA certificate that chains to root_path's self-signed
 * root (NULL: the [root] cert file already there) at this time, and that
 * it certifies the issuing CA key on this instance's token. Stores it on
 * the token beside the key, in the store (issued by the root; audited
 * "issuer-import") and in certs/ (root, issuing, chain.pem).
 * LY_ERR_STATE if nothing waits; LY_ERR_BAD_INPUT for a certificate
 * that does not fit.
 */
int		 ca_issuer_import(const char *dir, const char *cert_path,
		    const char *root_path, const char *actor);
/*
 * On the root's instance (ca/rootroll.c): renews the root by
 * cross-signing. Makes root generation gen (the one in force + 1): a key
 * on the [root] token labelled with the [root] key's object and
 * "-<gen>", and a self-signed certificate as ca_init() makes the root's,
 * for subject (NULL: [root] subject with " G<gen>" after its CN; it
 * must have a CN and differ from every CA's) and days (0: [root] days);
 * registers it as a root slot in force at once (audited
 * "root-rollover"; later issuer rollovers are signed by it); then the
 * two cross-certificates, each with the name, key and path length of
 * the root it certifies, valid until the earlier notAfter of the two
 * roots, recorded as issued by the root that signed it (audited
 * "cross-certify") and added to the trust bundle: the old root's of the
 * new key, the new root's of the old key. Writes CA_ROOT_GEN_FILE and
 * both CA_CROSS_FILEs. *slotp is the new root's slot. LY_ERR_STATE if
 * the root is offline here, or a root generation newer than the one in
 * force exists; LY_ERR_ARG for a bad subject or days (nothing made).
 * A rollover that registered the new root but stopped before both
 * cross-certificates were made is finished by the next call, which
 * makes the ones missing (subject and days must then be NULL and 0,
 * else LY_ERR_STATE) and sets *slotp to that root's slot.
 * A run that stopped between making the key and registering the root
 * left the key on the token: the next run takes it (ca_keygen()).
 */
#define CA_ROOT_GEN_FILE	"certs/root-%u.crt"
#define CA_CROSS_FILE		"certs/cross-%u-%u.crt"	/* signer, subject */
int		 ca_root_rollover(struct ca *, const char *subject, int days,
		    const char *actor, int *slotp);
/*
 * On an issuing instance whose root is offline ([root] offline = yes):
 * installs the root the root's instance renewed (ca_root_rollover()),
 * from cert_path, with the cross-certificates in cross_paths. One of
 * them must be by a root this instance has, for the new root's name and
 * key: that is what makes it trusted here. The new root becomes the
 * root in force (its key stays on the root's token), and every
 * cross-certificate goes into the trust bundle. Audited "root-import".
 * LY_ERR_STATE if the root is on line here, LY_ERR_EXISTS if that key
 * is a CA of this instance already, LY_ERR_BAD_INPUT for certificates
 * that do not fit.
 */
int		 ca_root_import(struct ca *, const char *cert_path,
		    const char *const *cross_paths, size_t ncross,
		    const char *actor, int *slotp);

/*
 * Opens the instance in dir. HSM keys are opened lazily, on the first
 * operation that signs. *cap is freed with ca_close().
 */
int		 ca_open(const char *dir, unsigned int flags, struct ca **cap);
void		 ca_close(struct ca *);
/* Borrowed, valid until ca_close(). */
const struct conf *ca_conf(const struct ca *);
struct store	*ca_store(const struct ca *);
/* The CA certificates, borrowed, valid until ca_close(). */
X509		*ca_cert(const struct ca *, int slot);

/* An authorization to issue: who gets what. */
struct ca_request {
	const char	*profile;
	const unsigned char *csr;	/* PEM or DER, untrusted */
	size_t		 csrlen;
	struct ca_identity identity;	/* from the admin or the token */
	int		 days;		/* 0: the profile's default */
	const char	*actor;		/* for the audit log */
	const char	*cn;		/* subject CN when the identity has no name */
	/*
	 * The issuing slot that signs; 0 (never an issuer: CA_ROOT is a
	 * root) for the profile's. ca/signer.c names the slot whose OCSP
	 * signer it certifies.
	 */
	int		 slot;
};

/*
 * A certificate as issued and stored, for callers that pass it on and
 * need no decoded X509 (enroll/): decoding one again costs more than
 * the HSM's signature in OpenSSL 3.0. der is exactly what the store
 * holds (owned; ca_issued_clear() frees it and zeroes the struct, NULL
 * is a no-op); not_after is the certificate's notAfter.
 */
struct ca_issued {
	unsigned char	*der;
	size_t		 derlen;
	struct ca_serial serial;
	time_t		 not_after;
	int		 slot;		/* the CA that signed it */
};
void		 ca_issued_clear(struct ca_issued *);

/*
 * One issuance as the engine carries it from its authorisation to the
 * signature (ca/issue.c): ca_issue(), ca_issue_token() and ca_reissue()
 * each fill one in and hand it to the same path, which takes the CSR in
 * once (ca_csr_parse() and ca_csr_check() against profile), checks the
 * identity, reserves the serial, signs and stores. Used inside ca/ only;
 * callers outside use the functions below. Everything is borrowed for
 * the call.
 */
struct store_cert;
struct ca_issue_req {
	const struct conf_profile *profile;	/* resolved, not NULL */
	const unsigned char *csr;	/* PEM or DER, untrusted */
	size_t		 csrlen;
	/*
	 * The identity asked for, not yet checked (ca_identity_check()
	 * runs on it); NULL for a reissue, which keeps old's.
	 */
	const struct ca_identity *identity;
	int		 days;		/* 0: the profile's default */
	const char	*actor;		/* for the audit log */
	const char	*cn;		/* subject CN when the identity has no name */
	int		 slot;		/* as in ca_request: 0 the profile's */
	/*
	 * A reissue: the record of the certificate superseded, read before
	 * signing; marked superseded in the transaction that stores the new
	 * one (refused then if it was revoked or superseded meanwhile).
	 */
	struct store_cert *old;
	/*
	 * A token issuance: the SHA-256 of the one-time token, claimed with
	 * the serial, used with the certificate, released if anything in
	 * between fails.
	 */
	const unsigned char *tok;
};

/*
 * Issues a certificate: parses and checks the CSR, checks the identity
 * against the profile, reserves a fresh serial durably, signs on the HSM,
 * stores the certificate durably, appends the audit entries, and only
 * then sets *certp (caller frees) and *serialp.
 */
int		 ca_issue(struct ca *, const struct ca_request *,
		    X509 **certp, struct ca_serial *serialp);
/*
 * A new certificate for the identity and profile of the valid certificate
 * old, for the key of the new CSR; old is recorded as superseded by it.
 * LY_ERR_STATE if old is revoked, expired or superseded, but for one
 * case: when old's successor is valid, not superseded itself and for the
 * key of this CSR, that successor is returned (same serial, nothing is
 * written), so a holder whose answer was lost can ask again.
 */
int		 ca_reissue(struct ca *, const struct ca_serial *old,
		    const unsigned char *csr, size_t csrlen, const char *actor,
		    X509 **certp, struct ca_serial *serialp);
/* As ca_reissue(), the result in *out (set on success only). */
int		 ca_reissue_der(struct ca *, const struct ca_serial *old,
		    const unsigned char *csr, size_t csrlen, const char *actor,
		    struct ca_issued *out);

/* ---- one-time enrollment tokens (ca/token.c) --------------------------- */

#define CA_TOKEN_LEN		43	/* 32 random bytes, base64url, no '=' */
#define CA_TOKEN_ID_LEN		16	/* hex of the first 8 bytes of the hash */
#define CA_TOKEN_TTL_MAX	(30 * 86400)

enum ca_token_state {
	CA_TOKEN_UNUSED = 1,
	CA_TOKEN_CLAIMED,	/* a request is being signed with it */
	CA_TOKEN_USED,
	CA_TOKEN_REVOKED,
	CA_TOKEN_EXPIRED,	/* reported only: UNUSED past its expiry */
};
const char	*ca_token_state_name(int);

/*
 * Creates a one-time token for profile and identity (JSON, or a SPIFFE ID
 * when it starts with "spiffe://"), checked against the profile now with
 * the rules of ca_issue(). ttl in seconds, 1 to CA_TOKEN_TTL_MAX. Only
 * SHA-256 of the token is stored. *tokenp (CA_TOKEN_LEN characters,
 * caller frees with free() after OPENSSL_cleanse) and *idp (caller frees)
 * are set on success; audited as "token-create".
 */
int		 ca_token_create(struct ca *, const char *profile,
		    const char *identity, long ttl, const char *actor,
		    char **tokenp, char **idp);

struct ca_token_info {
	char		 id[CA_TOKEN_ID_LEN + 1];
	const char	*profile;
	const char	*identity;	/* canonical */
	int		 state;		/* enum ca_token_state (EXPIRED computed) */
	time_t		 created;
	time_t		 expires;
	struct ca_serial serial;	/* zero unless claimed or used */
	time_t		 used_at;
	/* Serials burned under it by ca_reconcile(), oldest first. */
	const struct ca_serial *burned;
	size_t		 nburned;
};
/* Calls cb for each token (valid during the call); non-zero stops. */
int		 ca_token_list(struct ca *,
		    int (*cb)(const struct ca_token_info *, void *), void *);
/*
 * Revokes the unused (or claimed) token whose id is id_hex.
 * LY_ERR_NOT_FOUND, or LY_ERR_STATE if it was used or revoked already.
 * Audited "token-revoke".
 */
int		 ca_token_revoke(struct ca *, const char *id_hex,
		    const char *actor);
/*
 * The state of the token text (CA_TOKEN_EXPIRED for an unused token past
 * its expiry), to tell a caller why ca_issue_token() refused it.
 * LY_ERR_NOT_FOUND for an unknown or malformed token.
 */
int		 ca_token_status(struct ca *, const char *token, int *statep);
/*
 * Issues a certificate for the profile and identity the token was made
 * for (never the CSR's) and consumes the token: it is claimed in the
 * transaction that reserves the serial (of concurrent uses exactly one
 * gets past that point), marked used in the one that stores the
 * certificate, and released again if signing fails. LY_ERR_TOKEN for a
 * token that is unknown, used, claimed, revoked or expired (its own code,
 * so that a refused token is never confused with the state errors of
 * ca_issue(), such as an expired issuing CA); otherwise the errors of
 * ca_issue().
 */
int		 ca_issue_token(struct ca *, const char *token,
		    const unsigned char *csr, size_t csrlen, const char *actor,
		    X509 **certp, struct ca_serial *serialp);
/* As ca_issue_token(), the result in *out (set on success only). */
int		 ca_issue_token_der(struct ca *, const char *token,
		    const unsigned char *csr, size_t csrlen, const char *actor,
		    struct ca_issued *out);

/*
 * A reservation that is not stored as a certificate after this long was
 * given up on (no issuance holds its serial for minutes).
 */
#define CA_RESERVATION_STALE	600

struct ca_reconcile_stats {
	size_t		 burned;	/* reservations now burned */
	size_t		 tokens;	/* tokens claimed → unused */
	size_t		 left;		/* young reservations left as they are */
};
/*
 * Repairs what a crash between reserving a serial and storing its
 * certificate leaves behind (DESIGN.md section 3): the certificate of
 * such a reservation was never returned to anyone. In one write
 * transaction, every reservation that is claimed by a token, or older
 * than CA_RESERVATION_STALE, becomes STORE_BURNED (never reused, listed
 * as "burned", audited "serial-burn"), and the token that claimed it
 * goes back to unused with the serial added to its "burned" history
 * (audited "token-reclaim"), so the device whose answer was lost can
 * enroll again; a token past its expiry then reads as expired.
 *
 * Only for the start of the one process that claims tokens (ca-server,
 * before it serves): a claim can be in flight only in a running server.
 * A tokenless reservation younger than the bound may be ca-admin's issue
 * in flight, and is left. Should a live issuance be reconciled all the
 * same, its store transaction fails (a burned serial takes no
 * certificate, an unclaimed token cannot be used) and nothing is
 * returned: the race costs a retry, never a second certificate.
 * *st (if not NULL) counts what was done.
 */
int		 ca_reconcile(struct ca *, const char *actor,
		    struct ca_reconcile_stats *st);

/* RFC 5280 5.3.1 reason codes; -1 is "no reason code". */
int		 ca_reason_parse(const char *);
const char	*ca_reason_name(int);
/*
 * Revokes a certificate with a reason and an optional invalidity date
 * (0: none). LY_ERR_STATE if it is already revoked.
 */
int		 ca_revoke(struct ca *, const struct ca_serial *, int reason,
		    time_t invalidity, const char *actor);

/*
 * Counters of the group commit since ca_open() (ca/commit.c): the
 * engine's writes from concurrent threads share durable transactions;
 * writes per commit is the batching achieved. A consistent snapshot.
 */
struct ca_commit_stats {
	uint64_t	 commits;	/* durable write transactions */
	uint64_t	 writes;	/* writers whose writes they carried */
	uint64_t	 failed;	/* writers refused or failed */
	size_t		 max_batch;	/* most writers in one transaction */
};
void		 ca_commit_stats(struct ca *, struct ca_commit_stats *);

/*
 * Appends an audit entry that records an event and changes nothing else
 * (a request ca-server's engine refused), durably, through the group
 * commit. actor and action non-empty; detail may be NULL. The errors of
 * store_audit_append() (LY_ERR_TOO_LARGE for a field over the limit).
 */
int		 ca_audit(struct ca *, const char *actor, const char *action,
		    const char *detail);

/* ---- hooks and helpers for crl/, ocsp/ and web/ ------------------------ */

/*
 * ---- CA slots (ca/slots.c) ----
 *
 * Every CA an instance has had is a slot: a small number that the
 * store's records name as their issuer (store_cert.ca). Slot 0 is the
 * first root (CA_ROOT), slot 1 the first generation of [issuing]
 * (CA_ISSUING); further issuers ([issuer NAME] in ca.conf) and further
 * generations of an issuer or of the root (rollovers) take the next
 * numbers, registered in the store. A slot is never removed nor
 * renumbered: a retired CA keeps its slot, so its records stay
 * readable. Serials are unique across all slots, so the store is keyed
 * by serial, and every lookup from outside names the issuer too: a
 * record of another slot is "not found".
 *
 * Slots are only ever added, so 0..ca_nslots()-1 stay valid and a
 * reader needs no lock; ca_slots_refresh() picks up the slots another
 * process registered (a rollover by ca-admin while ca-server runs).
 */
#define CA_MAX_SLOTS	32

enum ca_slot_state {
	CA_SLOT_ACTIVE = 1,	/* issues (the newest generation in force) */
	CA_SLOT_NEXT,		/* registered, issues from its activation time */
	CA_SLOT_RETIRING,	/* superseded: revokes, CRLs and OCSP only */
	CA_SLOT_RETIRED,	/* last CRL published: nothing more */
};
const char	*ca_slot_state_name(int);

/* The number of slots; 0..n-1 are valid for the calls below. */
int		 ca_nslots(const struct ca *);
/* The slot of a CA by its name in URLs and files ("root", "issuing",
 * "devices-2"); -1 if none. */
int		 ca_slot_by_name(const struct ca *, const char *name);
/* The name of a CA slot in URLs and files. Borrowed until ca_close(). */
const char	*ca_slot_name(const struct ca *, int slot);
/* The ca.conf section a slot belongs to: "root", "issuing", or NAME of
 * [issuer NAME]. Borrowed. */
const char	*ca_slot_issuer(const struct ca *, int slot);
/* 1 for the first generation of a CA, 2 after one rollover, ... */
unsigned int	 ca_slot_gen(const struct ca *, int slot);
/* Whether slot is a root (the first root or a later generation). */
int		 ca_slot_is_root(const struct ca *, int slot);
/* The slot whose key signed slot's certificate (itself for a root). */
int		 ca_slot_parent(const struct ca *, int slot);
/* enum ca_slot_state of slot at time now. */
int		 ca_slot_state(const struct ca *, int slot, time_t now);
/* When slot starts issuing (its generation's activation time). */
time_t		 ca_slot_activates(const struct ca *, int slot);
/*
 * The slot that issues for the issuer section name at time now (the
 * newest generation activated by then, not retired); -1 if none (an
 * [issuer] section whose CA was never created: ca-admin issuer create).
 */
int		 ca_issuer_slot(const struct ca *, const char *issuer,
		    time_t now);
/* The root slot that signs now (the newest root generation in force). */
int		 ca_root_slot(const struct ca *, time_t now);
/*
 * Reads slots registered since open by another process; LY_OK if none.
 * ca_slots_refresh() looks at most once a second (hot paths: OCSP, CRL
 * and CA certificate requests); ca_slots_sync() now, one small read
 * (issuance, so a certificate asked for after a rollover returned comes
 * from the new generation).
 */
int		 ca_slots_refresh(struct ca *);
int		 ca_slots_sync(struct ca *);
struct store_cert;
/*
 * A new CA generation or issuer to register (ca_slot_register()): the
 * section it belongs to, its key on the token and its certificate
 * (signed by parent, or self-signed for a root), and when it starts
 * issuing. Borrowed for the call.
 */
struct ca_slot_new {
	const char	*issuer;	/* "root", "issuing" or NAME */
	const char	*key_uri;	/* RFC 7512, the generation's object */
	X509		*cert;
	int		 parent;	/* slot that signed cert; -1: self */
	time_t		 activates;	/* 0: now */
	/*
	 * The store record of cert, reserved before it was signed; written
	 * valid with the slot. Its ca is parent, or CA_MAX_SLOTS for a
	 * self-signed root (set to the new slot's number). NULL: recorded
	 * already.
	 */
	struct store_cert *rec;
};
/*
 * Registers a slot in the store in one durable transaction with the
 * record of its certificate (issued by parent) and an audit entry
 * (action, detail compact JSON or NULL); writes certs/<name>.crt.
 * *slotp is its number. LY_ERR_STATE when CA_MAX_SLOTS are taken.
 */
int		 ca_slot_register(struct ca *, const struct ca_slot_new *,
		    const char *actor, const char *action, const char *detail,
		    int *slotp);
/*
 * Marks a retiring slot retired, after its last CRL (audited
 * "issuer-retire"). LY_ERR_STATE unless it is retiring and every
 * certificate it issued has expired.
 */
int		 ca_slot_retire(struct ca *, int slot, const char *actor);
/*
 * The latest notAfter among the valid or revoked certificates slot
 * issued that have not expired at now; 0 when there is none.
 */
int		 ca_slot_last_expiry(struct ca *, int slot, time_t now,
		    time_t *tp);
/*
 * ca/issuers.c. ca_issuer_create() makes the CA of the [issuer NAME]
 * section name (ca-admin init does it for each section of the file;
 * ca-admin issuer create for one added later): a key on its token, a
 * certificate from the root in force, its slot, audited
 * "issuer-create". LY_ERR_EXISTS if the issuer has a CA already,
 * LY_ERR_STATE if the root is offline here (a ceremony makes it).
 *
 * ca_issuer_rollover() makes the next generation of issuer name
 * ("issuing-2", "devices-3": a new key on the issuer's token, object
 * "<name>-ca"), certified by the root in force, which takes over new
 * issuance at activates (earlier: now); the generation it replaces
 * revokes and publishes until its last certificate has expired.
 * Audited "issuer-rollover". LY_ERR_STATE if a rollover is waiting
 * already. *slotp (if not NULL) is the new slot.
 */
int		 ca_issuer_create(struct ca *, const char *name,
		    const char *actor, int *slotp);
int		 ca_issuer_rollover(struct ca *, const char *name,
		    time_t activates, const char *actor, int *slotp);
/*
 * The same when the root is offline here (a ceremony): rollover_csr
 * makes the next generation's key on the issuer's token and writes a
 * PKCS#10 CSR for it to out, for ca-admin root sign-issuer on the
 * root's instance (audited "issuer-rollover-csr"; LY_ERR_STATE if one
 * waits already). rollover_import installs the certificate the root
 * signed: it must be for that key and chain to a root of this instance;
 * it becomes the next generation, taking over at activates (audited
 * "issuer-rollover-import").
 */
int		 ca_issuer_rollover_csr(struct ca *, const char *name,
		    const char *out, const char *actor);
int		 ca_issuer_rollover_import(struct ca *, const char *cert_path,
		    time_t activates, const char *actor, int *slotp);
/*
 * ca-server's schedule: rolls over, now, every issuer with a
 * rollover_before whose generation in force has less left than that
 * and no rollover waiting. *rolledp is how many; the last error (the
 * others are tried all the same, and logged).
 */
int		 ca_issuer_rollover_due(struct ca *, const char *actor,
		    int *rolledp);

/*
 * Cross-certificates (a root rollover signs two) go into every trust
 * bundle beside the slots' certificates. ca_cross_register() stores one
 * (audited "cross-certify" by the caller's transaction is not needed:
 * it audits itself); ca_trust_bundle() gives every certificate a
 * relying party may need, newest issuers first, then roots and
 * cross-certificates, borrowed until ca_close(): the slots that are
 * not retired and every cross-certificate. *np is their number.
 */
int		 ca_cross_register(struct ca *, X509 *, const char *actor);
int		 ca_trust_bundle(struct ca *, X509 **out, size_t max,
		    size_t *np);
/*
 * The DER of a CA certificate, borrowed: valid until ca_close(). For
 * GET /ca/<name>.crt, which must not know X.509.
 */
int		 ca_cert_der(const struct ca *, int slot,
		    const unsigned char **derp, size_t *lenp);

/*
 * Signs obj with the CA key of slot through fn (see hsm_sign()) and
 * verifies nothing: the caller checks what it built. The key is opened on
 * first use.
 */
struct hsm_key;
int		 ca_sign(struct ca *, int slot,
		    int (*fn)(void *, EVP_MD_CTX *), void *obj);
/*
 * Whether the root is offline here ([root] offline = yes): its key is
 * then never opened nor its PIN read; ca_key(), ca_sign() and the like
 * refuse the root's slot with LY_ERR_STATE before touching the HSM.
 */
int		 ca_root_offline(const struct ca *);
/*
 * How long before the nextUpdate of something the root signed ahead (its
 * CRL, its OCSP responses), valid for period seconds, the next ceremony
 * is asked for: [root] renew_before if set, else a quarter of period
 * but at least 7 days.
 */
long		 ca_root_renew_before(const struct ca *, long period);
/* The CA key of slot, opened on first use; borrowed until ca_close(). */
int		 ca_key(struct ca *, int slot, struct hsm_key **);
/*
 * Signs crl (complete but for its signature) with the CA key of slot, as
 * ca_sign(); the caller lints it first and checks what it gets.
 */
int		 ca_sign_crl(struct ca *, int slot, X509_CRL *crl);
/*
 * For a caller whose check of a signature made through ca_sign() failed:
 * logs and counts it as a bad HSM signature (see ca_hsm_stats()) and
 * returns LY_ERR_HSM with "the HSM returned a <what> signature that does
 * not verify with the <name> CA key" in ly_errdetail(). The object must
 * be neither stored nor sent.
 */
int		 ca_sign_bad(struct ca *, int slot, const char *what);

/*
 * For /healthz: whether the issuing CA key signs now (a probe signature,
 * see hsm_key_check(); a failing token is reopened or re-initialised on
 * the way, within its backoff). LY_OK, or LY_ERR_HSM / LY_ERR_HSM_PIN
 * with why in ly_errdetail(). Costs a signature: call it rarely.
 */
int		 ca_hsm_check(struct ca *);

/* For /metrics: what the HSM layer counted since the process started. */
struct ca_hsm_stats {
	uint64_t	 sign_failures;	/* signing attempts that failed */
	uint64_t	 reopens;	/* sessions reopened */
	uint64_t	 reinits;	/* PKCS#11 module re-initialisations */
	uint64_t	 bad_signatures; /* refused: did not verify */
};
void		 ca_hsm_stats(struct ca_hsm_stats *);

/*
 * The OCSP pre-signing hook (ocsp/ registers it; ca/ must not depend on
 * ocsp/). When set, every certificate is stored together with the
 * response fn signs for it, in the same transaction, so that it is
 * answerable the moment a client has it; and a revocation replaces the
 * stored response at once. fn returns LY_OK and a malloc'd value to
 * store, opaque to ca/ (ocsp/ keeps a small header before the DER), or
 * LY_OK and *derp NULL when there is nothing to store.
 */
struct store_cert;
typedef int	(*ca_presign_fn)(void *arg, const struct store_cert *rec,
		    unsigned char **derp, size_t *lenp);
void		 ca_set_presign(struct ca *, ca_presign_fn, void *arg);
/*
 * Stores a pre-signed response for serial, unconditionally. A refresh
 * should use ca_ocsp_store_if(): a revocation may land between its read
 * and its write.
 */
int		 ca_ocsp_store(struct ca *, const struct ca_serial *,
		    const unsigned char *der, size_t len);
/*
 * Stores pre-signed responses in one durable write transaction, each only
 * if its certificate's status (enum store_status) is still the one it was
 * signed for: a refresh that signed "good" must not overwrite the
 * "revoked" response a concurrent ca_revoke() stored. Items whose status
 * changed, or whose certificate is gone, are skipped. *storedp (if not
 * NULL) is the number stored.
 */
struct ca_ocsp_item {
	struct ca_serial	 serial;
	int			 status;
	const unsigned char	*der;
	size_t			 len;
};
int		 ca_ocsp_store_if(struct ca *, const struct ca_ocsp_item *,
		    size_t n, size_t *storedp);

/*
 * The root's ceremony (ca/ocsp.c): stores the OCSP responses the root
 * signed about certificates it issued (the issuing CA's), as
 * ca_ocsp_store_if() does -- each only if its record is still the root's
 * and of the status it was signed for -- with one audit entry (action
 * "root-ocsp", detail compact JSON or NULL), in one durable transaction.
 * *storedp (if not NULL) is the number stored.
 */
int		 ca_root_ocsp_store(struct ca *, const struct ca_ocsp_item *,
		    size_t n, const char *actor, const char *detail,
		    size_t *storedp);

/*
 * The OCSP responder's current delegated signer of an issuing slot: a
 * record opaque to ca/ kept in the store's meta under the key
 * ca_ocsp_signer_key() writes into buf: CA_META_OCSP_SIGNER for slot
 * CA_ISSUING (as before slots), "CA_META_OCSP_SIGNER/<slot name>" for
 * any other (LY_ERR_TOO_LARGE if size is short; CA_SIGNER_KEY_MAX is
 * enough). ca_ocsp_signer_set() replaces slot's record if it is
 * still prev (prev NULL: if there is none), with an audit entry (action
 * "ocsp-signer", detail compact JSON or NULL), in one write transaction:
 * of two processes rotating the signer at once exactly one wins, and the
 * other gets LY_ERR_EXISTS and uses the winner's.
 */
#define CA_META_OCSP_SIGNER	"ocsp/signer"
#define CA_SIGNER_KEY_MAX	(sizeof(CA_META_OCSP_SIGNER) + CONF_NAME_MAX + 8)
int		 ca_ocsp_signer_key(const struct ca *, int slot, char *buf,
		    size_t size);
int		 ca_ocsp_signer_set(struct ca *, int slot, const void *prev,
		    size_t prevlen, const void *rec, size_t len,
		    const char *actor, const char *detail);

/*
 * The delegated OCSP signers (ca/signer.c, RFC 6960 4.2.2.2), one per
 * issuing slot that is not retired (ca_signer_slot_wanted()): a key that
 * the engine generates on that CA's token, and a certificate that CA
 * issues to it (profile "ocsp"; its record's ca is the slot), rotated
 * within [ocsp] signer_rotate_before of its notAfter. The current one of
 * each slot is recorded in the store (ca_ocsp_signer_key()), so that
 * every process uses the same; of two processes rotating at once one
 * wins (ca_ocsp_signer_set()) and the other revokes its certificate and
 * loads the winner's. Key labels: "ocsp-signer-<n>" for CA_ISSUING,
 * "<slot name>-ocsp-signer-<n>" for the others.
 *
 * ocsp/ keeps a struct ca_signers per responder (ca_signers_new(), freed
 * with ca_signers_free(), which drops its references to the current
 * signers; call it before ca_close()).
 */
struct ca_signer;
struct ca_signers;
int		 ca_signers_new(struct ca *, struct ca_signers **);
void		 ca_signers_free(struct ca_signers *);
/* Whether slot has a delegated signer: an issuing slot, not retired. */
int		 ca_signer_slot_wanted(const struct ca *, int slot);
/*
 * Rotate if due: brings the signer of every slot that wants one (slots
 * registered since included) in step with the store, and drops the
 * signer of a slot retired since. For each, loads the one
 * recorded there (another process may have rotated it), and makes a new
 * one (key on the token, certificate, record) if there is none, it is
 * revoked, or it expires within signer_rotate_before. On failure the
 * signer in use, if any, stays (one due for rotation goes on signing).
 * LY_ERR_ARG for an instance opened without the HSM; otherwise the HSM's
 * and the store's errors, of the first slot that failed (the others are
 * synced all the same). One sync at a time per ca_signers.
 */
int		 ca_signers_sync(struct ca_signers *);
/*
 * The current signer of slot, key and certificate: a counted reference
 * that the caller gives back with ca_signer_put() (NULL is a no-op), or
 * NULL if there is none (a root slot, a slot out of range, no HSM). A
 * rotation frees the old one when its last user is done.
 */
struct ca_signer *ca_signers_get(struct ca_signers *, int slot);
void		 ca_signer_put(struct ca_signer *);
/*
 * Its certificate and its key's label on the token (borrowed while the
 * reference is held), and its notAfter.
 */
X509		*ca_signer_cert(const struct ca_signer *);
int		 ca_signer_slot(const struct ca_signer *);
const char	*ca_signer_label(const struct ca_signer *);
time_t		 ca_signer_not_after(const struct ca_signer *);
/*
 * The notAfter of the signer of slot the store names, read without its
 * key (a responder of an instance opened read-only: ca-server's front);
 * 0 if there is none or it is not valid.
 */
time_t		 ca_signers_stored_not_after(struct ca_signers *, int slot);
/*
 * Signs obj with the signer's key through fn, as ca_sign() does with a
 * CA key: the caller checks what it gets, and reports a signature that
 * does not verify with ca_signer_bad() (logged and counted; LY_ERR_HSM).
 */
int		 ca_signer_sign(struct ca_signer *,
		    int (*fn)(void *, EVP_MD_CTX *), void *obj);
int		 ca_signer_bad(const struct ca_signer *);

/*
 * How many revocations the store has seen, ever: ca-server polls it to
 * regenerate CRLs within [crl] debounce of a revocation made by any
 * process (ca-admin included).
 */
struct store_txn;
int		 ca_revocations(struct store_txn *, uint64_t *np);

/*
 * CRL numbers: one strictly increasing sequence per CA, shared by its
 * full and delta CRLs (RFC 5280 5.2.4), kept in the store so that it
 * survives restarts and does not follow the clock. ca_crl_number_next()
 * durably takes the next number.
 */
int		 ca_crl_number_next(struct ca *, int slot, uint64_t *np);
/*
 * Records a signed CRL whose CRL number is number as the current one
 * under key (e.g. "crl/issuing-delta"), the caller's summary of it under
 * key + "/info" and its number under key + "/number", with an audit
 * entry, in one transaction -- only if number is higher than the number
 * of the CRL stored under key. Otherwise (an overlapping generation with
 * a lower number finished last) nothing is written, *storedp is 0 and 0
 * is returned: the stored and served CRL never goes back. *storedp (if
 * not NULL) is 1 when the CRL was recorded. LY_ERR_ARG for number 0 or a
 * key too long.
 */
int		 ca_crl_record(struct ca *, const char *key, uint64_t number,
		    const unsigned char *der, size_t len,
		    const void *info, size_t infolen, const char *actor,
		    const char *detail, int *storedp);
/*
 * The CRL shard of a serial (0 when there is one shard), and the URL of a
 * CA's CRL: <base>/crl/<ca>.crl for shard -1, else
 * <base>/crl/<ca>-<shard>.crl (a partitioned CA's, ca_crl_shards()).
 * Caller frees.
 */
char		*ca_crl_url(const struct conf *, const char *ca, int shard);
unsigned int	 ca_crl_shard(const struct conf *, const struct ca_serial *);
/*
 * The partitions of a slot's CRL: 1 for a root (never partitioned), else
 * its section's crl_shards, or [crl] shards when that is 0; and the
 * shard of a serial among shards partitions (ca_crl_shard() is this with
 * [crl] shards).
 */
unsigned int	 ca_crl_shards(const struct ca *, int slot);
unsigned int	 ca_crl_shard_of(unsigned int shards, const struct ca_serial *);
/* The RSA padding (conf_ca.rsa_padding) slot's key signs CRLs with. */
int		 ca_crl_padding(const struct ca *, int slot);

/* ---- pre-issuance lint (ca/lint.c, ca/lint_crl.c, ca/lint_ocsp.c) ------ */

/*
 * Before the HSM signs anything, what it signs is checked against the
 * RFC 5280 / RFC 6960 rules public CAs lint for (the table is in
 * ca/lint.c and docs/security.md). Each function returns LY_OK, or
 * LY_ERR_LINT with "lint: <rule>: <why>" in ly_errdetail(), the
 * failure logged and counted; LY_ERR_ARG for a NULL object, LY_ERR_ALLOC
 * or LY_ERR_INTERNAL (not counted). The object is only read, and its
 * signature fields are not looked at. Thread-safe.
 */
enum ca_lint_kind {
	CA_LINT_CERT,
	CA_LINT_CRL,
	CA_LINT_OCSP,
	CA_LINT_KINDS
};

/*
 * A to-be-signed certificate. issuer is the certificate of the CA that
 * will sign it, or NULL when it is self-signed (a root).
 */
int		 ca_lint_cert(const X509 *tbs, const X509 *issuer);
/*
 * A to-be-signed CRL, entries included. issuer (if not NULL) is the
 * certificate of the CA that will sign it: the CRL's issuer and AKI must
 * name it.
 */
int		 ca_lint_crl(const X509_CRL *tbs, const X509 *issuer);
/*
 * One revokedCertificates entry, for a builder that streams entries
 * instead of holding them in an X509_CRL (crl/build.c): it lints the
 * header with ca_lint_crl() and each entry with this.
 */
int		 ca_lint_crl_entry(const X509_REVOKED *);
/*
 * A BasicOCSPResponse before it is signed. signer is the certificate
 * that will sign it (NULL: unknown): a CA, or a delegated signer with
 * OCSPSigning, id-pkix-ocsp-nocheck and no CRL DP or OCSP URL. The
 * responder ID may still be absent when signer is given:
 * OCSP_basic_sign_ctx() sets it from the signer as it signs.
 */
int		 ca_lint_ocsp(const OCSP_BASICRESP *tbs, const X509 *signer);
/*
 * How many operations of kind k the lint refused in this process since
 * it started: for /metrics, which must not know X.509.
 */
uint64_t	 ca_lint_failures(enum ca_lint_kind k);
/* "cert", "crl", "ocsp": the label of kind k. */
const char	*ca_lint_kind_name(enum ca_lint_kind k);

/* ---- records as JSON (ca-admin --json and the admin API) ---------------- */

struct json_t;
/* "reserved", "burned", "valid", "revoked" or "expired" (at ly_now()). */
const char	*ca_cert_status(const struct store_cert *);
/*
 * A certificate record as a JSON object: serial, status, issuer, profile,
 * identity, times (RFC 3339), revocation, supersession; with the PEM
 * under pem_key unless that is NULL. NULL on allocation failure.
 */
struct json_t	*ca_cert_json(const struct ca *, const struct store_cert *,
		    const char *pem_key);
/* A token's record (never the token itself) as a JSON object, or NULL. */
struct json_t	*ca_token_json(const struct ca_token_info *);

/* ---- ca-server's own TLS key and certificate (ca/tls.c) ---------------- */

#define CA_TLS_DIR	"tls"	/* below the instance directory */

/*
 * Whether a server certificate valid from not_before to not_after must be
 * renewed at now: with a third of its lifetime left, or outside it.
 */
int		 ca_tls_renew_due(time_t not_before, time_t not_after,
		    time_t now);
/* DIR/tls/server.key and DIR/tls/server.crt; caller frees both. */
int		 ca_tls_paths(const char *dir, char **keyp, char **crtp);
/*
 * Makes sure DIR/tls holds a usable server key and certificate for the
 * [server] tls_dns/tls_ip names: issues a new one (profile "service") when
 * one is missing, does not match, was not signed by the issuing CA, names
 * other names, or has a third of its lifetime left; the issuance is
 * audited with actor. *issuedp is 1 when it issued one. LY_ERR_CONFIG if
 * the key file is accessible to group or others (it is never made so),
 * or the names do not pass the checks of ca_issue().
 */
int		 ca_tls_ensure(struct ca *, const char *dir, const char *actor,
		    int *issuedp);
/*
 * PEM of every certificate of ca_trust_bundle(): issuers, roots and
 * cross-certificates (a trust list, /ca/bundle.pem); caller frees.
 */
int		 ca_trust_pem(struct ca *, char **pemp);

#endif /* LANYARD_CA_H */
