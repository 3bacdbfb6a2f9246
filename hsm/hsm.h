/*
 * hsm/hsm.h — the only door to PKCS#11.
 *
 * Keys are named by RFC 7512 URIs ("pkcs11:token=lanyard-issuing;
 * object=issuing-ca"). Key pairs are generated on the token (CKA_SENSITIVE,
 * not extractable); signing goes through a pool of PKCS#11 sessions per
 * key (hsm/pool.c: threads sign in parallel, one login per token). The
 * public key to verify with comes from a certificate object with the same
 * CKA_ID. So every key carries a certificate object beside it: a placeholder
 * from hsm_keygen() until hsm_cert_store() puts the real one in its place.
 *
 * PINs come from a file (not group/world accessible) or an environment
 * variable, never from argv; they are wiped after use and never logged.
 *
 * Errors: LY_ERR_HSM (module, token, session or signing failure, or no
 * such token: transient, try again, never a reason to make a new key),
 * LY_ERR_HSM_PIN (missing, unreadable, badly protected or wrong PIN),
 * LY_ERR_NOT_FOUND (no such object on a token that is there and logged
 * in: the object really is not there), LY_ERR_CONFIG (bad URI), with the
 * detail in ly_errdetail().
 */
#ifndef LANYARD_HSM_H
#define LANYARD_HSM_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "conf/conf.h"

struct hsm_key;

/*
 * Loads the PKCS#11 module once per process and initialises pkcs11-helper.
 * softhsm2_conf, if not NULL, is exported as SOFTHSM2_CONF first (the
 * embedded default). Thread-safe after it returns.
 */
int		 hsm_init(const char *module, const char *softhsm2_conf);
/*
 * The most PKCS#11 sessions each key signs on at once (hsm/pool.c): n,
 * at most 256, or 0 (the default) for two per core. For keys opened
 * afterwards.
 */
void		 hsm_sessions_max(size_t n);
/* Frees every key still open, then the module. */
void		 hsm_shutdown(void);

/*
 * The token guard (hsm/guard.c), on only for the embedded SoftHSM2 (a
 * softhsm2_conf given to hsm_init()): before the module is initialised
 * (hsm_init(), and each re-initialisation) every token file is checked,
 * and one that a crash left damaged is restored from its verified copy.
 * Each restore (or unfinished object moved aside) is recorded durably
 * before it is made, so that ca/ can audit it (hsm/ writes no store):
 * hsm_token_restores() claims up to max records not yet audited (also
 * those of a process that died before it audited them) into out and
 * returns how many; once audited, each is dropped with
 * hsm_token_restore_done(). A claimed record that is never done goes back
 * to the pool when this process is gone. At least once: a record may be
 * audited twice if a process dies between the audit and the done; its id
 * tells.
 */
struct hsm_restore {
	char	 id[33];	/* random, hex: the record's name */
	char	 token_dir[64];	/* the token's directory under tokendir */
	char	 file[80];	/* token.object or <uuid>.object */
	char	 label[33];	/* the token's label, "" if not known */
	char	 action[16];	/* "restored" or "quarantined" */
};
size_t		 hsm_token_restores(struct hsm_restore *out, size_t max);
void		 hsm_token_restore_done(const struct hsm_restore *);

/*
 * Reads a PIN: from pin_file if not NULL (refused if group or world can
 * read or write it, or if it is empty), else from the environment variable
 * pin_env. Trailing newlines are dropped. *pinp is freed with hsm_pin_free().
 */
int		 hsm_pin_load(const char *pin_file, const char *pin_env,
		    char **pinp);
/* Wipes and frees a PIN; NULL is a no-op. */
void		 hsm_pin_free(char *);

/*
 * Initialises a new token labelled label on the first slot with no
 * initialised token (SoftHSM2 always offers one), with the given SO and
 * user PINs. LY_ERR_EXISTS if a token with that label already exists.
 */
int		 hsm_token_init(const char *label, const char *so_pin,
		    const char *user_pin);

/*
 * The token label an RFC 7512 URI names, into label (blanks trimmed).
 * LY_ERR_CONFIG if uri is not a pkcs11: URI naming a token. Needs no
 * hsm_init().
 */
int		 hsm_uri_token(const char *uri, char label[33]);
/*
 * The URI of the object labelled object on the token uri names: the token
 * attributes of uri are kept, its object=, id= and type= are replaced by
 * object= alone (an OCSP signer key beside the issuing CA key). *outp is
 * freed by the caller. LY_ERR_CONFIG if uri names no token or object is
 * not a valid label. Needs no hsm_init().
 */
int		 hsm_uri_sibling(const char *uri, const char *object,
		    char **outp);
/*
 * The object= label of uri (*outp freed by the caller): the base of the
 * labels of a CA's later key generations. LY_ERR_CONFIG if uri has none.
 * Needs no hsm_init().
 */
int		 hsm_uri_object(const char *uri, char **outp);

/*
 * Generates a key pair of type kt on the token named by uri, labelled with
 * the URI's object attribute and a fresh random CKA_ID; the private key is
 * CKA_PRIVATE, CKA_SENSITIVE, not extractable, and can only sign (CKA_SIGN;
 * no decrypt, unwrap, derive or sign-recover); the public key can only
 * verify (no encrypt or wrap). A placeholder certificate
 * object with the same label and CKA_ID is stored so that hsm_key_open()
 * works at once. LY_ERR_EXISTS if a private key with that label exists (other objects
 * under the label, left by an interrupted generation, are removed).
 * On success *pubp (if not NULL) is the new public key; caller frees.
 */
int		 hsm_keygen(const char *uri, const char *pin,
		    enum conf_keytype kt, EVP_PKEY **pubp);

/*
 * Replaces the certificate object beside the key named by uri with cert.
 * The certificate's public key must be the key's.
 */
int		 hsm_cert_store(const char *uri, const char *pin, X509 *cert);

/*
 * Opens the private key named by uri for signing. pad selects PKCS#1 v1.5
 * or PSS for RSA keys. *keyp is freed with hsm_key_free(). LY_ERR_NOT_FOUND
 * only if the token is there, logged in, and has no such key (or no
 * certificate object beside it); a token that is not there or does not
 * answer is LY_ERR_HSM.
 */
int		 hsm_key_open(const char *uri, const char *pin,
		    enum conf_rsapad pad, struct hsm_key **keyp);
void		 hsm_key_free(struct hsm_key *);

/*
 * The key's public key, borrowed: valid until hsm_key_free(). Its type
 * decides the signature algorithm (ECDSA with SHA-256 for P-256, SHA-384
 * for P-384; RSA with SHA-256).
 */
EVP_PKEY	*hsm_key_get0_public(const struct hsm_key *);

/*
 * Signs obj: fn is called with a digest-sign context set up for the key
 * (digest, and PSS padding with salt length = digest length when asked)
 * and must return 1 on success, as X509_sign_ctx() does. fn may be called
 * up to three times, so it must be repeatable. If fn fails the session is
 * reopened and the token logged into again, and fn is called once more;
 * if that fails too, the module itself is re-initialised (C_Finalize,
 * C_Initialize, every key reopened; at most once per backoff interval,
 * see hsm/recover.c) and fn is called a last time. While the module is
 * down, LY_ERR_HSM comes at once. Safe to call from several threads on
 * one key, and while other keys sign.
 *
 * For the wrappers below hsm_sign() verifies the signature with the key's
 * public key before it returns; one that does not verify is refused with
 * LY_ERR_HSM (not retried), logged and counted (hsm_bad_signature()).
 * Callers with signers of their own verify what they signed and report a
 * bad signature with hsm_bad_signature().
 */
typedef int	(*hsm_signer)(void *obj, EVP_MD_CTX *ctx);
int		 hsm_sign(struct hsm_key *, hsm_signer fn, void *obj);

/* Wrappers for hsm_sign() of the objects Lanyard signs. */
int		 hsm_sign_x509(void *x509, EVP_MD_CTX *);
int		 hsm_sign_x509_crl(void *crl, EVP_MD_CTX *);
int		 hsm_sign_x509_req(void *req, EVP_MD_CTX *);

/*
 * Records a signature from the token that does not verify with its
 * public key (the message says what was signed and with which key):
 * logs it, counts it (hsm_stats()) and returns LY_ERR_HSM with the
 * message as the detail. The object must then be neither stored nor sent.
 */
int		 hsm_bad_signature(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

/*
 * Whether k can sign now: a signature over a short fixed message through
 * hsm_sign() (so a dead session is reopened and a wedged module
 * re-initialised, within the backoff), verified with the public key.
 * 0, or LY_ERR_HSM / LY_ERR_HSM_PIN with why in ly_errdetail(). For
 * /healthz, which calls it at most once every few seconds.
 */
int		 hsm_key_check(struct hsm_key *k);

/* What hsm/ has seen since the process started, for /metrics. */
struct hsm_stats {
	unsigned long	 sign_failures;	/* signing attempts that failed */
	unsigned long	 reopens;	/* sessions reopened after a failure */
	unsigned long	 reinits;	/* module re-initialisations tried */
	unsigned long	 bad_signatures; /* refused: did not verify */
	int		 down;		/* the module is not initialised now */
};
void		 hsm_stats(struct hsm_stats *);

/*
 * Whether the private key of uri is on the token, CKA_SENSITIVE and not
 * CKA_EXTRACTABLE: 1 yes, 0 no, or a negative error. For tests and
 * `ca-admin hsm check`.
 */
int		 hsm_key_is_protected(const char *uri, const char *pin);

#endif /* LANYARD_HSM_H */
