/*
 * hsm/extern.h — declarations private to hsm/.
 *
 * hsm.c owns the module (the raw PKCS#11 function list and pkcs11-helper),
 * raw sessions with login, key lookup and signing; uri.c parses URIs;
 * object.c finds slots, objects and attributes and stores certificate
 * objects; token.c initialises tokens; keygen.c generates key pairs (all
 * through the raw function list); pin.c reads PINs and
 * remembers the ones that logged in; recover.c re-initialises the module
 * when the token fails, and counts. Only hsm/ includes this file (and
 * tests/unit/test_hsm*.c, which read the counters).
 */
#ifndef LANYARD_HSM_EXTERN_H
#define LANYARD_HSM_EXTERN_H

#include <stddef.h>

/*
 * pkcs11-helper ships a self-contained PKCS#11 header (Scute's, standard
 * names by default: no CK_PTR or CK_DEFINE_FUNCTION to define first).
 * p11-kit ships another one with the same PKCS11_H guard; whichever comes
 * first wins, and both describe the same ABI. We always include
 * pkcs11-helper's first so that its headers see the types they expect.
 */
#include <pkcs11-helper-1.0/pkcs11h-core.h>
#include <p11-kit/uri.h>

#include <openssl/evp.h>

/* Largest CKA_ID we accept from a URI or a token. */
#define HSM_ID_MAX		64
/* Bytes of a fresh CKA_ID made by hsm_keygen(). */
#define HSM_ID_LEN		16
/* Longest object label we accept. */
#define HSM_LABEL_MAX		128
/* Most objects looked at by one search. */
#define HSM_FIND_MAX		16

/* A parsed RFC 7512 URI naming a token and, maybe, an object on it. */
struct hsm_uri {
	P11KitUri	*p11;
	char		 token[33];	/* token label, blanks trimmed */
	char		 object[HSM_LABEL_MAX + 1];	/* CKA_LABEL or "" */
	int		 has_object;
	unsigned char	 id[HSM_ID_MAX];	/* CKA_ID */
	size_t		 idlen;		/* 0: no id= */
	const char	*text;		/* the URI as given, for messages */
};

/*
 * Parses text into u (which must be cleared by hsm_uri_clear()). The URI
 * must name a token by label; need_object also requires object= or id=.
 * LY_ERR_CONFIG on any fault. u->text borrows text.
 */
int		 hsm_uri_parse(const char *text, int need_object,
		    struct hsm_uri *u);
void		 hsm_uri_clear(struct hsm_uri *);

/* The raw function list of the module; NULL before hsm_init(). */
CK_FUNCTION_LIST_PTR hsm_p11(void);

/*
 * Serialises raw (non-signing) token work: token init, key generation,
 * certificate storage and key lookup. Signing never takes it.
 */
void		 hsm_admin_lock(void);
void		 hsm_admin_unlock(void);

/*
 * Records "what: <PKCS#11 reason>" as the error detail and returns code.
 * The reason comes from rv, never from any PIN.
 */
int		 hsm_fail_rv(int code, CK_RV rv, const char *what, ...)
		    __attribute__((format(printf, 3, 4)));

/* Copies a blank-padded PKCS#11 string of n bytes into dst[n + 1], trimmed. */
void		 hsm_fixstr(char *dst, const unsigned char *src, size_t n);

/*
 * The slots with a token present: *slotsp (caller frees) of *np entries.
 * Asked afresh each time: SoftHSM renumbers slots when a token is made.
 */
int		 hsm_slots_get(CK_SLOT_ID **slotsp, CK_ULONG *np);

/*
 * Finds the one slot whose initialised token matches u. LY_ERR_HSM if
 * none (the token may be away or being rewritten: try again), LY_ERR_CONFIG
 * if several match. Admin lock held.
 */
int		 hsm_slot_find(const struct hsm_uri *u, CK_SLOT_ID *slotp,
		    CK_TOKEN_INFO *infop);

/*
 * Opens a session (read-write if rw) on the token of u and logs the user
 * in with pin. A wrong PIN is tried once only (LY_ERR_HSM_PIN). Never logs
 * out: login state is shared with pkcs11-helper's sessions. Close with
 * hsm_session_close(). Admin lock held.
 */
int		 hsm_session_open(const struct hsm_uri *u, const char *pin,
		    int rw, CK_SESSION_HANDLE *sp, CK_TOKEN_INFO *infop);
void		 hsm_session_close(CK_SESSION_HANDLE);

/* Any object class, for hsm_objects_find(). */
#define HSM_CLASS_ANY		((CK_OBJECT_CLASS)~0UL)

/*
 * Finds objects of class cls (or HSM_CLASS_ANY) with CKA_LABEL label and
 * CKA_ID id; a NULL label or an empty id is not matched on. Up to max
 * handles into hs; *np is the count found (0 is not an error here).
 */
int		 hsm_objects_find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
		    const char *label, const unsigned char *id, size_t idlen,
		    CK_OBJECT_HANDLE *hs, size_t max, size_t *np);

/*
 * Reads one attribute of any length into a new buffer (*lenp bytes; the
 * caller frees with free()). LY_ERR_HSM on failure.
 */
int		 hsm_attr_get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
		    CK_ATTRIBUTE_TYPE type, unsigned char **vp, size_t *lenp);

/*
 * Stores cert as a token certificate object labelled label with CKA_ID
 * id (object.c). *op (if not NULL) is the new object.
 */
int		 hsm_cert_object_create(CK_SESSION_HANDLE s, X509 *cert,
		    const char *label, const unsigned char *id, size_t idlen,
		    const char *what, CK_OBJECT_HANDLE *op);
/*
 * Builds the public key of a private key from the public key object with
 * the same CKA_ID (object.c). *pubp is the caller's.
 */
int		 hsm_pub_read(CK_SESSION_HANDLE s, const unsigned char *id,
		    size_t idlen, const char *what, EVP_PKEY **pubp);

/*
 * PINs that logged in (pin.c), by token label and serial: remember one
 * (replacing the old), compare (1 same, 0 different, -1 none known, in
 * constant time), copy into buf of max bytes (1 copied, 0 none or too
 * long), and wipe them all (hsm_shutdown()).
 */
int		 hsm_pin_remember(const char *label, const char *serial,
		    const char *pin);
int		 hsm_pin_same(const char *label, const char *serial,
		    const char *pin);
int		 hsm_pin_copy(const char *label, const char *serial, char *buf,
		    size_t max);
void		 hsm_pin_forget_all(void);

/* Login attempts made (raw C_Login and pkcs11-helper prompts), for tests. */
unsigned long	 hsm_stat_logins(void);

/* ---- recover.c: when the token fails ------------------------------------ */

/*
 * Backoff between re-initialisations of the module while they do not
 * help: from the first to the last, doubling. The last stays below the
 * Retry-After that enrollment answers with (5 s), so a client that waits
 * as told finds the module tried again.
 */
#define HSM_RECOVER_MIN_MS	250
#define HSM_RECOVER_MAX_MS	4000

/*
 * The module lock. Every call into the module, raw or through
 * pkcs11-helper, is made holding it for reading; hsm_recover() holds it
 * for writing, so no thread is inside the module while it is finalised.
 * Read locks nest within a thread. It prefers writers.
 */
void		 hsm_mod_rdlock(void);
void		 hsm_mod_unlock(void);

/*
 * Read lock held: 0 if the module is up, else LY_ERR_HSM with why it is
 * down. *epochp (if not NULL) is the count of re-initialisations, for
 * hsm_recover().
 */
int		 hsm_mod_check(unsigned long *epochp);
/* Forgets the module's state and the backoff (hsm_init()). */
void		 hsm_mod_reset(void);

/*
 * Called without the module lock, after an operation failed on a fresh
 * session (why: how). Re-initialises the module (hsm_module_restart())
 * and returns 0, or returns 0 at once if another thread did so since
 * epoch: either way the caller tries once more. LY_ERR_HSM if the
 * restart failed or if the last one was less than the backoff ago (the
 * detail says when the next may be).
 */
int		 hsm_recover(unsigned long epoch, const char *why);
/* A signature was made: the backoff starts afresh. Cheap when idle. */
void		 hsm_recover_ok(void);

/*
 * hsm.c, module lock held for writing: closes every key's session, drops
 * pkcs11-helper's state, C_Finalize, C_Initialize, pkcs11-helper again,
 * and reopens every key. *downp is set when the module is left
 * uninitialised. 0, or the first failure.
 */
int		 hsm_module_restart(int *downp);

enum hsm_stat {
	HSM_STAT_SIGN_FAILURE,
	HSM_STAT_REOPEN,
	HSM_STAT_REINIT,
	HSM_STAT_BAD_SIGNATURE,
	HSM_STAT_MAX
};
void		 hsm_stat_add(enum hsm_stat);

/* ---- guard.c: the embedded SoftHSM's tokens across crashes ------------ */

/*
 * Turns the guard on for the SoftHSM configuration softhsm2_conf (NULL:
 * off): its token dir, the lock file and the verified copies beside it.
 * Off, with a note, for an object store other than files. LY_ERR_CONFIG
 * if the configuration cannot be read.
 */
int		 hsm_guard_setup(const char *softhsm2_conf);
void		 hsm_guard_teardown(void);
int		 hsm_guard_enabled(void);
/*
 * The guard lock: flock(LOCK_EX) on the instance's token.guard, shared by
 * every Lanyard process, plus a mutex for this process's threads. It
 * nests within a thread. Taken around the check and C_Initialize, every
 * login and every call that may read or write token files; not around
 * signing. No-op when the guard is off. Order: module lock, guard, admin.
 */
void		 hsm_guard_lock(void);
void		 hsm_guard_unlock(void);
/*
 * Before C_Initialize: checks every token file, restores the damaged ones
 * from their verified copies (remembered for hsm_token_restores()), moves
 * unfinished objects with no copy aside. LY_ERR_HSM if a token.object is
 * damaged and has no valid copy (never made into an empty token).
 */
int		 hsm_guard_check(void);
/*
 * Refreshes the verified copies from the token files as they are now
 * (after a change Lanyard made, or a login). Logs and returns the error;
 * the old copies stay valid.
 */
int		 hsm_guard_snapshot(void);
/*
 * Whether the bytes of token file name are whole (they parse as a SoftHSM
 * object file; a token.object names its token and holds its SO PIN; every
 * attribute of ref, the verified copy, if not NULL, is present). For tests.
 */
int		 hsm_guard_whole(const char *name, const unsigned char *b,
		    size_t len, const unsigned char *ref, size_t reflen);
/* Restores (and objects moved aside) since the process started. */
unsigned long	 hsm_guard_restore_count(void);

#endif /* LANYARD_HSM_EXTERN_H */
