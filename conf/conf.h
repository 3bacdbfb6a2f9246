/*
 * conf/conf.h — ca.conf, parsed with libinih into one checked struct.
 *
 * The file is INI. Relative paths are relative to the instance directory.
 * conf_load() refuses unknown sections and keys, so a typo is an error and
 * not a silently ignored setting. See ca.conf(5).
 */
#ifndef LANYARD_CONF_H
#define LANYARD_CONF_H

#include <stddef.h>

#define CONF_MAX_PROFILES	16
#define CONF_MAX_FIELDS		16
#define CONF_MAX_LIST		16
#define CONF_NAME_MAX		64
#define CONF_MAX_ISSUERS	8

enum conf_keytype {
	CONF_KEY_NONE = 0,
	CONF_KEY_EC_P256,
	CONF_KEY_EC_P384,
	CONF_KEY_RSA_2048,
	CONF_KEY_RSA_3072,
	CONF_KEY_RSA_4096,
};

/* Which signature scheme an RSA CA key uses; EC keys always use ECDSA. */
enum conf_rsapad {
	CONF_RSA_PKCS1 = 0,
	CONF_RSA_PSS,
};

/* A CA: where its key lives and how its certificate looks. */
struct conf_ca {
	char		*name;		/* "root", "issuing": URLs and files */
	char		*key_uri;	/* RFC 7512 URI: token and object */
	char		*pin_file;	/* absolute path, or NULL */
	char		*pin_env;	/* environment variable, or NULL */
	char		*subject;	/* "/O=.../CN=..." */
	enum conf_keytype key_type;
	enum conf_rsapad rsa_padding;
	int		 days;
	char		*cert_file;	/* absolute path of the PEM certificate */
	/*
	 * [root] only: validity of the OCSP responses the root pre-signs
	 * about the CAs it certified (ca-admin root crl), in seconds.
	 */
	long		 ocsp_validity;
	/*
	 * [root] only: the root key is on a token kept offline (a ceremony
	 * instance's issuing CA): ca-server never opens it nor reads its PIN,
	 * and the root CRL and OCSP responses come from ca-admin root crl
	 * on the root's instance (imported with ca-admin root import-crl).
	 */
	int		 offline;
	/*
	 * [root] only: how long before the root CRL's and the root's OCSP
	 * responses' nextUpdate ca-admin status, /metrics and ca-server's
	 * log ask for the next ceremony, in seconds; 0 (the default): see
	 * ca_root_renew_before().
	 */
	long		 renew_before;
	/*
	 * Issuers: partitions of this CA's CRL (0: [crl] shards), and how
	 * long before this CA's notAfter ca-server rolls it over on its own
	 * (0: never; ca-admin issuer rollover does it by hand).
	 */
	unsigned int	 crl_shards;
	long		 rollover_before;
	/* Name constraints put into this CA's certificate (issuing only). */
	char		*permitted_dns[CONF_MAX_LIST];
	size_t		 npermitted_dns;
	char		*excluded_dns[CONF_MAX_LIST];
	size_t		 nexcluded_dns;
	char		*permitted_ip[CONF_MAX_LIST];	/* CIDR */
	size_t		 npermitted_ip;
};

/* Bits of conf_field.types. */
#define CONF_FIELD_STRING	0x1
#define CONF_FIELD_INTEGER	0x2

/* One key allowed in a JSON identity. */
struct conf_field {
	char		*name;
	unsigned int	 types;
	int		 required;
};

enum conf_identity_kind {
	CONF_ID_NONE = 0,	/* only DNS/IP names (services) */
	CONF_ID_JSON,
	CONF_ID_SPIFFE,
};

enum conf_id_encoding {
	CONF_ENC_URI = 0,	/* canonical JSON as a URI SAN (default) */
	CONF_ENC_OTHERNAME,	/* otherName SAN, UTF8String, identity_oid */
};

/* Bits of conf_profile.eku. */
#define CONF_EKU_CLIENT		0x1
#define CONF_EKU_SERVER		0x2
#define CONF_EKU_OCSP		0x4

/* Bits of conf_profile.key_types: which CSR keys the profile accepts. */
#define CONF_ALLOW_EC_P256	0x1
#define CONF_ALLOW_EC_P384	0x2
#define CONF_ALLOW_RSA		0x4
#define CONF_ALLOW_ED25519	0x8

struct conf_profile {
	char		*name;		/* "client", "service", "ocsp", "admin" */
	int		 days;		/* default validity */
	int		 max_days;	/* --days may not exceed it */
	unsigned int	 eku;		/* CONF_EKU_* */
	unsigned int	 key_types;	/* CONF_ALLOW_* */
	int		 rsa_min_bits;
	int		 rsa_max_bits;
	/* Identity kinds the profile accepts, as bits 1 << CONF_ID_*. */
	unsigned int	 identities;
	enum conf_id_encoding encoding;
	int		 require_dns_or_ip;	/* service: at least one */
	int		 allow_dns_ip;		/* DNS/IP SANs may be added */
	int		 ocsp_nocheck;		/* id-pkix-ocsp-nocheck */
	char		*role;		/* forced "role" value, e.g. "admin" */
	/*
	 * Reissue over the enrollment API is allowed within reissue_before
	 * seconds before notAfter, or, when reissue_percent is set instead,
	 * within that share of the lifetime. ca-admin reissue is the admin's
	 * override and is not bound by it.
	 */
	long		 reissue_before;
	int		 reissue_percent;
	/* The issuer section whose CA signs this profile ("issuing"). */
	char		*issuer;
};

struct conf {
	char		*dir;		/* instance directory, absolute */
	char		*path;		/* ca.conf */
	char		*organization;
	char		*store_dir;	/* LMDB environment */
	size_t		 store_map_size;
	char		*publish_dir;
	long		 tidy_interval;	/* seconds; 0: ca-server never tidies */
	int		 tidy_keep;	/* days (ca_tidy()) */

	char		*hsm_module;	/* PKCS#11 module path */
	char		*softhsm2_conf;	/* set SOFTHSM2_CONF if not NULL */
	unsigned int	 hsm_sessions;	/* per key; 0: auto (2 per core) */

	struct conf_ca	 root;
	struct conf_ca	 issuing;
	/*
	 * Every issuing CA section: issuers[0] is &issuing, then each
	 * [issuer NAME] in file order (owned). A profile names one by
	 * conf_profile.issuer.
	 */
	struct conf_ca	*issuers[CONF_MAX_ISSUERS];
	size_t		 nissuers;

	char		*url_base;	/* "http://127.0.0.1:8080" */
	char		*crl_url;	/* NULL → url_base/crl/<ca>.crl */
	char		*ocsp_url;	/* NULL → url_base/ocsp */
	char		*ca_issuers_url;/* NULL → url_base/ca/<ca>.crt */

	struct conf_field fields[CONF_MAX_FIELDS];
	size_t		 nfields;
	size_t		 identity_max;	/* bytes of canonical JSON */
	char		*spiffe_trust_domain;
	char		*identity_oid;	/* otherName type-id, dotted */

	struct conf_profile profiles[CONF_MAX_PROFILES];
	size_t		 nprofiles;

	/* [crl] — CRLs of every CA (crl/). Durations in seconds. */
	long		 crl_validity;		/* nextUpdate - thisUpdate */
	long		 crl_root_validity;	/* of the root's CRL (no delta) */
	long		 crl_delta_validity;	/* of delta CRLs */
	long		 crl_refresh_before;	/* regenerate this long before nextUpdate */
	long		 crl_debounce;		/* after a revocation */
	unsigned int	 crl_shards;		/* partitions of the issuing CA's CRL */
	/*
	 * 1: the gateways' bundle holds the shards; 0 (default): one full
	 * CRL per CA, which GnuTLS and NSS need (docs/revocation.md).
	 */
	int		 crl_bundle_shards;
	/*
	 * After a revocation (debounced): 0 (on_revoke = full, the default)
	 * every CRL of the CA is made again, so gateways that read full CRLs
	 * only (the bundle; nginx, GnuTLS, NSS) refuse the certificate within
	 * the debounce; 1 (delta): the deltas alone, listing what changed
	 * since their base, and the full CRL on its schedule -- for large
	 * CRLs whose relying parties read deltas.
	 */
	int		 crl_on_revoke_delta;

	/* [ocsp] — the responder (ocsp/). */
	long		 ocsp_validity;		/* nextUpdate - thisUpdate */
	long		 ocsp_refresh_before;	/* re-sign this long before nextUpdate */
	int		 ocsp_nonce_sign;	/* 1: sign on demand for a nonce; 0: ignore it */
	unsigned int	 ocsp_max_requests;	/* certificates in one request */
	int		 ocsp_signer_days;	/* delegated signer lifetime */
	long		 ocsp_signer_rotate_before;

	/* [server] — ca-server (web/). */
	char		*http_listen;		/* "127.0.0.1:8080" */
	char		*https_listen;		/* "127.0.0.1:8443" or "off" */
	/* The HTTPS server certificate's names: comma lists (web/tls.c). */
	char		*tls_dns;		/* "localhost" */
	char		*tls_ip;		/* "127.0.0.1" */
	int		 tls_days;		/* 0: the service profile's */
	/* GnuTLS priority string of the HTTPS listener (web/server.c). */
	char		*tls_priority;
	unsigned int	 threads;		/* per listener (MHD pool) */
	unsigned int	 max_connections;
	unsigned int	 max_connections_per_ip;
	unsigned int	 connection_timeout;	/* seconds, idle */
	size_t		 max_body;		/* bytes of a request body */
	size_t		 max_header;		/* bytes of request headers */
	/* The user ca-server's front runs as when started as root, or NULL. */
	char		*server_user;
};

/*
 * The default [server] tls_priority: TLS 1.2 and 1.3 only (RFC 8996),
 * AEAD ciphers with ECDHE only and no SHA-1 signatures (RFC 9325 4.2):
 * no CBC-SHA1 suite, no static RSA key exchange.
 */
#define CONF_TLS_PRIORITY	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SIGN-RSA-SHA1:" \
	"-SIGN-ECDSA-SHA1:%SERVER_PRECEDENCE"

/*
 * Loads and checks dir/ca.conf (or path if not NULL). On success *confp is
 * a new conf the caller frees with conf_free(). On failure returns
 * LY_ERR_CONFIG (or LY_ERR_IO, LY_ERR_NOT_FOUND) and ly_errdetail() names
 * the file, line and key.
 */
int		 conf_load(const char *dir, const char *path,
		    struct conf **confp);
/*
 * Parses configuration text; name is used in messages only. Same
 * contract as conf_load(). Exposed for tests and the fuzzer.
 */
int		 conf_parse(const char *dir, const char *name,
		    const char *text, struct conf **confp);
void		 conf_free(struct conf *);

/* The issuer section called name ("issuing", [issuer NAME]), or NULL. */
const struct conf_ca *conf_issuer(const struct conf *, const char *name);

/*
 * The life a certificate issued now by issuer name needs, in seconds:
 * the longest, over the profiles that name it, of the default validity
 * plus the reissue window (a holder renews within it). An issuer with
 * less left cuts leaves to its own notAfter (ca/issue.c): ca-admin
 * status and /metrics warn, and rollover_before must be at least this.
 * 0 if no profile names it.
 */
long		 conf_issuer_need(const struct conf *, const char *name);

/* The profile called name, or NULL. Borrowed from conf. */
const struct conf_profile *conf_profile_get(const struct conf *,
		    const char *name);
/*
 * The names of the profiles, or of the identity fields, as "a, b, c" in
 * buf (len bytes, always terminated; cut with "..." if it is too short),
 * for messages that say what is allowed.
 */
void		 conf_profile_names(const struct conf *, char *buf,
		    size_t len);
void		 conf_field_names(const struct conf *, char *buf, size_t len);

/*
 * "90", "30m", "24h", "7d" → seconds; -1 if malformed or over ten years.
 */
long		 conf_duration_parse(const char *);

/*
 * [server] threads = auto: CONF_THREADS_PER_CORE threads per online core,
 * at most CONF_THREADS_AUTO_MAX. An enrollment waits for two durable
 * commits and the HSM as well as using the CPU: two threads per core
 * leave a core idle while both wait, and more writers waiting at once
 * share a commit (ca/commit.c). The cap keeps both listeners' threads
 * within LMDB's default of 126 readers. See docs/performance.md.
 */
#define CONF_THREADS_PER_CORE	4
#define CONF_THREADS_AUTO_MAX	32
unsigned int	 conf_threads_auto(void);

/* "ec-p256" → CONF_KEY_EC_P256; CONF_KEY_NONE if unknown. */
enum conf_keytype conf_keytype_parse(const char *);
const char	*conf_keytype_name(enum conf_keytype);

/*
 * The text of a new instance's ca.conf: an embedded SoftHSM2 default with
 * root and issuing CA keys of key type kt. Caller frees.
 */
char		*conf_default_text(enum conf_keytype kt);

#endif /* LANYARD_CONF_H */
