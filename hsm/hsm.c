/*
 * hsm/hsm.c — the PKCS#11 module, logins, keys and signing.
 *
 * The module is used two ways at once: pkcs11-helper for sessions, login
 * and signing (it hands OpenSSL an EVP_PKEY whose private operations go to
 * the token), and the raw function list, from dlopen() of the same module,
 * for what pkcs11-helper cannot do (token.c, keygen.c, object.c) and for
 * checking a PIN and finding a key before pkcs11-helper is asked for it.
 *
 * We call C_Initialize first, so pkcs11-helper gets
 * CKR_CRYPTOKI_ALREADY_INITIALIZED, takes it as success and leaves
 * C_Finalize to us; if someone else initialised the module first, neither
 * of us finalises it. Either way C_Finalize runs at most once.
 *
 * Login state is per token and per process in PKCS#11, shared by the raw
 * sessions and pkcs11-helper's: raw code never calls C_Logout, and a PIN
 * that logged in successfully is remembered (per token) so that
 * pkcs11-helper's PIN hook can answer and so that a different PIN given
 * while the token is already logged in is still refused.
 *
 * Every call into the module is made under the module lock (recover.c)
 * for reading, so that hsm_module_restart() can finalise and initialise
 * the module again, with pkcs11-helper, when the token went bad.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkcs11-helper-1.0/pkcs11h-core.h>
#include <pkcs11-helper-1.0/pkcs11h-certificate.h>
#include <pkcs11-helper-1.0/pkcs11h-openssl.h>
#include <pkcs11-helper-1.0/pkcs11h-token.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"

struct hsm_key {
	struct hsm_key		*prev, *next;	/* hsm.keys */
	pthread_rwlock_t	 lock;	/* sess/evp: read to sign, write to reopen */
	unsigned long		 gen;	/* bumped by each reopen */
	char			*uri;	/* for messages */
	pkcs11h_certificate_id_t cert_id;
	pkcs11h_openssl_session_t sess;
	EVP_PKEY		*evp;	/* the token key, through pkcs11-helper */
	EVP_PKEY		*pub;	/* a software copy of the public key */
	const EVP_MD		*md;
	int			 pss;
};

static struct {
	pthread_mutex_t		 init;	/* hsm_init/hsm_shutdown */
	pthread_mutex_t		 admin;	/* raw token work */
	pthread_mutex_t		 lock;	/* keys */
	int			 ready;
	void			*dl;
	CK_FUNCTION_LIST_PTR	 f;
	char			*module;	/* its path, to add it again */
	int			 finalize;	/* our C_Initialize returned CKR_OK */
	int			 helper;	/* pkcs11h_initialize() done */
	int			 provider;	/* pkcs11h_addProvider() done */
	struct hsm_key		*keys;
	atomic_ulong		 logins;
} hsm = {
	.init = PTHREAD_MUTEX_INITIALIZER,
	.admin = PTHREAD_MUTEX_INITIALIZER,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* Set by the PIN hook when pkcs11-helper asks again after a wrong PIN. */
static _Thread_local int hsm_pin_refused;

static void	hsm_key_close_session(struct hsm_key *);
static int	key_open_session(struct hsm_key *);

CK_FUNCTION_LIST_PTR
hsm_p11(void)
{
	return hsm.f;
}

/* Admin work reads (and logs in: writes) token files: the guard too. */
void
hsm_admin_lock(void)
{
	hsm_mod_rdlock();
	hsm_guard_lock();
	pthread_mutex_lock(&hsm.admin);
}

void
hsm_admin_unlock(void)
{
	pthread_mutex_unlock(&hsm.admin);
	hsm_guard_unlock();
	hsm_mod_unlock();
}

unsigned long
hsm_stat_logins(void)
{
	return atomic_load(&hsm.logins);
}

int
hsm_fail_rv(int code, CK_RV rv, const char *what, ...)
{
	char	 buf[384];
	va_list	 ap;

	va_start(ap, what);
	vsnprintf(buf, sizeof(buf), what, ap);
	va_end(ap);
	/* SoftHSM's own libcrypto noise says nothing about rv. */
	ERR_clear_error();
	return ly_fail(code, "%s: %s (0x%lx)", buf, pkcs11h_getMessage(rv),
	    (unsigned long)rv);
}

/* --- pkcs11-helper hooks -------------------------------------------------- */

/*
 * pkcs11-helper's log, at our debug level. hsm_init() keeps its level at
 * INFO: its DEBUG levels print the arguments of every call.
 */
static void
hook_log(void *global, unsigned int flags, const char *fmt, va_list ap)
{
	char	buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	ly_log(LY_LOG_DEBUG, "pkcs11-helper: %s", buf);
}

/*
 * pkcs11-helper asks for the PIN of a token it logs into: answer with the
 * PIN that logged in before. On retry > 0 the PIN was wrong: refuse, as
 * real HSMs lock the token after a few wrong PINs.
 */
static PKCS11H_BOOL
hook_pin(void *global, void *user, const pkcs11h_token_id_t token,
    const unsigned int retry, char *pin, const size_t pin_max)
{
	PKCS11H_BOOL	ok;

	if (retry > 0) {
		hsm_pin_refused = 1;
		ly_log(LY_LOG_ERR, "token %s: PIN refused, not retrying",
		    token->label);
		return FALSE;
	}
	atomic_fetch_add(&hsm.logins, 1);
	ok = hsm_pin_copy(token->label, token->serialNumber, pin, pin_max) ?
	    TRUE : FALSE;
	if (!ok) {
		hsm_pin_refused = 1;
		ly_log(LY_LOG_ERR, "token %s: no PIN to log in with",
		    token->label);
	}
	return ok;
}

/* A token that is not there will not appear by waiting for it. */
static PKCS11H_BOOL
hook_token(void *global, void *user, const pkcs11h_token_id_t token,
    const unsigned int retry)
{
	return FALSE;
}

/* --- module ------------------------------------------------------------- */

/* C_Initialize of the raw function list, telling the module we use threads. */
static CK_RV
module_initialize(void)
{
	CK_C_INITIALIZE_ARGS	 args;
	CK_RV			 rv;

	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = hsm.f->C_Initialize(&args);
	if (rv == CKR_OK)
		hsm.finalize = 1;
	return rv == CKR_CRYPTOKI_ALREADY_INITIALIZED ? CKR_OK : rv;
}

/*
 * Initialises pkcs11-helper with our hooks, without a module: nothing
 * here calls the module. (Again after hsm_module_restart() terminated it:
 * pkcs11h_initialize() resets every setting.)
 */
static int
helper_start(void)
{
	CK_RV	rv;

	if ((rv = pkcs11h_initialize()) != CKR_OK)
		return hsm_fail_rv(LY_ERR_HSM, rv, "pkcs11h_initialize");
	hsm.helper = 1;
	if ((rv = pkcs11h_setLogHook(hook_log, NULL)) != CKR_OK ||
	    (rv = pkcs11h_setPINPromptHook(hook_pin, NULL)) != CKR_OK ||
	    (rv = pkcs11h_setTokenPromptHook(hook_token, NULL)) != CKR_OK ||
	    (rv = pkcs11h_setProtectedAuthentication(FALSE)) != CKR_OK ||
	    (rv = pkcs11h_setPINCachePeriod(PKCS11H_PIN_CACHE_INFINITE))
	    != CKR_OK ||
	    (rv = pkcs11h_setMaxLoginRetries(1)) != CKR_OK)
		return hsm_fail_rv(LY_ERR_HSM, rv, "pkcs11-helper set-up");
	/* Above INFO pkcs11-helper dumps every call; not useful here. */
	pkcs11h_setLogLevel(PKCS11H_LOG_INFO);
	return 0;
}

/*
 * Gives the module to pkcs11-helper. Only after our C_Initialize
 * succeeded: pkcs11-helper then gets CKR_CRYPTOKI_ALREADY_INITIALIZED and
 * leaves C_Finalize to us. Were it first, it would initialise the module
 * without CKF_OS_LOCKING_OK, and SoftHSM would then not lock at all.
 */
static int
provider_add(void)
{
	CK_RV	rv;

	if ((rv = pkcs11h_addProvider("lanyard", hsm.module, FALSE,
	    PKCS11H_PRIVATEMODE_MASK_AUTO, PKCS11H_SLOTEVENT_METHOD_AUTO, 0,
	    FALSE)) != CKR_OK)
		return hsm_fail_rv(LY_ERR_HSM, rv, "pkcs11-helper: add module "
		    "%s", hsm.module);
	hsm.provider = 1;
	return 0;
}

/*
 * Loads the PKCS#11 module and initialises pkcs11-helper with it; a second
 * call is a no-op. softhsm2_conf, if not NULL, is exported as SOFTHSM2_CONF
 * first. LY_ERR_HSM if the module cannot be loaded or initialised.
 */
int
hsm_init(const char *module, const char *softhsm2_conf)
{
	CK_C_GetFunctionList	 getlist;
	CK_RV			 rv;
	int			 r = LY_ERR_HSM, guarded = 0;

	if (module == NULL)
		return ly_fail(LY_ERR_ARG, "hsm_init: no PKCS#11 module");
	pthread_mutex_lock(&hsm.init);
	if (hsm.ready) {
		r = 0;
		goto out;
	}
	if (softhsm2_conf != NULL &&
	    setenv("SOFTHSM2_CONF", softhsm2_conf, 1) == -1) {
		r = ly_fail(LY_ERR_INTERNAL, "setenv SOFTHSM2_CONF failed");
		goto out;
	}
	if ((r = hsm_guard_setup(softhsm2_conf)) != 0)
		goto out;
	/*
	 * C_Initialize reads every token file: not while another process
	 * logs in (and rewrites token.object), and not before the files a
	 * crash damaged are restored.
	 */
	hsm_guard_lock();
	guarded = 1;
	if ((r = hsm_guard_check()) != 0)
		goto out;
	r = LY_ERR_HSM;
	if ((hsm.module = strdup(module)) == NULL) {
		r = ly_fail(LY_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((hsm.dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		r = ly_fail(LY_ERR_HSM, "PKCS#11 module %s: %s", module,
		    dlerror());
		goto out;
	}
	*(void **)&getlist = dlsym(hsm.dl, "C_GetFunctionList");
	if (getlist == NULL) {
		r = ly_fail(LY_ERR_HSM, "PKCS#11 module %s: no "
		    "C_GetFunctionList", module);
		goto out;
	}
	if ((rv = getlist(&hsm.f)) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "PKCS#11 module %s: "
		    "C_GetFunctionList", module);
		goto out;
	}
	/* Signing threads share the module: let it use OS locks. */
	if ((rv = module_initialize()) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "PKCS#11 module %s: "
		    "C_Initialize", module);
		goto out;
	}
	if ((r = helper_start()) != 0 || (r = provider_add()) != 0)
		goto out;
	hsm_mod_reset();
	hsm.ready = 1;
	r = 0;
 out:
	if (guarded)
		hsm_guard_unlock();
	if (r != 0 && !hsm.ready) {
		if (hsm.helper)
			pkcs11h_terminate();
		if (hsm.finalize)
			hsm.f->C_Finalize(NULL);
		if (hsm.dl != NULL)
			dlclose(hsm.dl);
		free(hsm.module);
		hsm.helper = hsm.provider = hsm.finalize = 0;
		hsm.dl = NULL;
		hsm.f = NULL;
		hsm.module = NULL;
		hsm_guard_teardown();
	}
	ERR_clear_error();
	pthread_mutex_unlock(&hsm.init);
	return r;
}

/*
 * Frees every key still open, then pkcs11-helper (which does not finalise
 * the module, as it found it initialised), then finalises the module if we
 * initialised it. hsm_init() may be called again afterwards.
 */
void
hsm_shutdown(void)
{
	struct hsm_key	*k;

	pthread_mutex_lock(&hsm.init);
	if (!hsm.ready)
		goto out;
	while ((k = hsm.keys) != NULL)
		hsm_key_free(k);
	if (hsm.helper)
		pkcs11h_terminate();
	/* CKR_CRYPTOKI_NOT_INITIALIZED here would mean it was done for us. */
	if (hsm.finalize)
		(void)hsm.f->C_Finalize(NULL);
	dlclose(hsm.dl);
	hsm_pin_forget_all();
	free(hsm.module);
	hsm.module = NULL;
	hsm.dl = NULL;
	hsm.f = NULL;
	hsm.helper = hsm.provider = hsm.finalize = hsm.ready = 0;
	hsm_mod_reset();
	hsm_guard_teardown();
	ERR_clear_error();
 out:
	pthread_mutex_unlock(&hsm.init);
}

/* hsm_module_restart() with the guard held. */
static int
module_restart(int *downp)
{
	struct hsm_key	*k;
	CK_RV		 rv;
	char		 first[384];
	int		 r, kr;

	*downp = 1;
	if (!hsm.ready)
		return ly_fail(LY_ERR_HSM, "hsm_init() was not called");
	if (!hsm.finalize && hsm.provider)
		return ly_fail(LY_ERR_HSM, "PKCS#11 module %s was initialised "
		    "by other code in this process; restart the process",
		    hsm.module);
	/*
	 * pkcs11-helper's sessions hold handles the module is about to
	 * forget: close the keys' sessions, then drop all its state
	 * (pkcs11h_terminate() frees it without calling the module, which
	 * may be in no state to answer).
	 */
	for (k = hsm.keys; k != NULL; k = k->next)
		hsm_key_close_session(k);
	if (hsm.helper)
		pkcs11h_terminate();
	hsm.helper = hsm.provider = 0;
	/* Without pkcs11-helper, hsm_key_free() could not free a key. */
	if ((r = helper_start()) != 0)
		return r;
	if (hsm.finalize)
		(void)hsm.f->C_Finalize(NULL);
	hsm.finalize = 0;
	/* Maybe the token went bad because another process was killed. */
	if ((r = hsm_guard_check()) != 0)
		return r;
	if ((rv = module_initialize()) != CKR_OK)
		return hsm_fail_rv(LY_ERR_HSM, rv, "PKCS#11 module %s: "
		    "C_Initialize", hsm.module);
	if ((r = provider_add()) != 0)
		return r;
	*downp = 0;
	/* The PIN hook logs in again with the PINs remembered. */
	for (k = hsm.keys; k != NULL; k = k->next) {
		if ((kr = key_open_session(k)) == 0)
			continue;
		ly_log(LY_LOG_ERR, "HSM: reopening key %s: %s", k->uri,
		    ly_errdetail());
		if (r == 0) {
			r = kr;
			snprintf(first, sizeof(first), "%s", ly_errdetail());
		}
	}
	ERR_clear_error();
	return r == 0 ? 0 : ly_fail(r, "%s", first);
}

int
hsm_module_restart(int *downp)
{
	int	r;

	hsm_guard_lock();
	r = module_restart(downp);
	hsm_guard_unlock();
	return r;
}

/* --- raw sessions --------------------------------------------------------- */

int
hsm_session_open(const struct hsm_uri *u, const char *pin, int rw,
    CK_SESSION_HANDLE *sp, CK_TOKEN_INFO *infop)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_TOKEN_INFO	 ti;
	CK_SLOT_ID	 slot;
	CK_FLAGS	 fl = CKF_SERIAL_SESSION;
	CK_RV		 rv;
	char		 label[33], serial[17];
	int		 r;

	if (pin == NULL || *pin == '\0')
		return ly_fail(LY_ERR_HSM_PIN, "token %s: no PIN", u->token);
	if ((r = hsm_slot_find(u, &slot, &ti)) != 0)
		return r;
	r = LY_ERR_HSM;
	hsm_fixstr(label, ti.label, sizeof(ti.label));
	hsm_fixstr(serial, ti.serialNumber, sizeof(ti.serialNumber));
	if (rw)
		fl |= CKF_RW_SESSION;
	if ((rv = hsm.f->C_OpenSession(slot, fl, NULL, NULL, &s)) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "token %s: C_OpenSession",
		    label);
		goto out;
	}
	atomic_fetch_add(&hsm.logins, 1);
	rv = hsm.f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin,
	    (CK_ULONG)strlen(pin));
	switch (rv) {
	case CKR_OK:
		if ((r = hsm_pin_remember(label, serial, pin)) != 0)
			goto out;
		/*
		 * SoftHSM just rewrote token.object; now it holds the PIN
		 * blob this PIN opens: the copy to restore from, if ever.
		 */
		(void)hsm_guard_snapshot();
		break;
	case CKR_USER_ALREADY_LOGGED_IN:
		/*
		 * Logged in by an earlier session of ours: the token cannot
		 * check this PIN without logging everyone out, so compare it
		 * with the PIN that did log in.
		 * XXX a token logged in by other code in this process (none
		 * today) would accept any PIN here.
		 */
		if (hsm_pin_same(label, serial, pin) == 0) {
			r = ly_fail(LY_ERR_HSM_PIN, "token %s: wrong PIN "
			    "(not the one the token is logged in with)", label);
			goto out;
		}
		break;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		r = hsm_fail_rv(LY_ERR_HSM_PIN, rv, "token %s: wrong PIN",
		    label);
		goto out;
	case CKR_PIN_LOCKED:
	case CKR_PIN_EXPIRED:
	case CKR_USER_PIN_NOT_INITIALIZED:
		r = hsm_fail_rv(LY_ERR_HSM_PIN, rv, "token %s: login", label);
		goto out;
	default:
		r = hsm_fail_rv(LY_ERR_HSM, rv, "token %s: C_Login", label);
		goto out;
	}
	*sp = s;
	s = CK_INVALID_HANDLE;
	if (infop != NULL)
		*infop = ti;
	r = 0;
 out:
	if (s != CK_INVALID_HANDLE)
		hsm_session_close(s);
	ERR_clear_error();
	return r;
}

void
hsm_session_close(CK_SESSION_HANDLE s)
{
	/* No C_Logout: it would log pkcs11-helper's sessions out too. */
	if (s != CK_INVALID_HANDLE)
		(void)hsm.f->C_CloseSession(s);
	ERR_clear_error();
}

/*
 * Finds the one private key u names, in an open session. LY_ERR_NOT_FOUND
 * if none, LY_ERR_CONFIG if the URI matches several.
 */
static int
privkey_find(CK_SESSION_HANDLE s, const struct hsm_uri *u,
    CK_OBJECT_HANDLE *op)
{
	CK_OBJECT_HANDLE hs[2];
	size_t		 n;
	int		 r;

	if ((r = hsm_objects_find(s, CKO_PRIVATE_KEY,
	    u->has_object ? u->object : NULL, u->id, u->idlen, hs, 2, &n)) != 0)
		return r;
	if (n == 0)
		return ly_fail(LY_ERR_NOT_FOUND, "PKCS#11 URI \"%s\": no "
		    "private key on token %s", u->text, u->token);
	if (n > 1)
		return ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": several "
		    "private keys match; add id= to the URI", u->text);
	*op = hs[0];
	return 0;
}

/* --- keys ----------------------------------------------------------------- */

/* Token identity of a key, as pkcs11-helper spells it (trimmed). */
struct hsm_tokid {
	char	label[33];
	char	serial[17];
	char	manuf[33];
	char	model[17];
};

/*
 * Checks the PIN by logging in, and finds the key's CKA_ID, its token and
 * (*tokpubp, NULL if the token has no public key object) its public key.
 * Doing this ourselves means a wrong PIN is tried exactly once and reported
 * as such, rather than surfacing from pkcs11-helper at the first signature.
 */
static int
key_lookup(const struct hsm_uri *u, const char *pin, struct hsm_tokid *tid,
    unsigned char *id, size_t *idlenp, EVP_PKEY **tokpubp)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE o, hs[1];
	CK_TOKEN_INFO	 ti;
	unsigned char	*v = NULL;
	size_t		 len, n;
	int		 r;

	hsm_admin_lock();
	if ((r = hsm_session_open(u, pin, 0, &s, &ti)) != 0)
		goto out;
	if ((r = privkey_find(s, u, &o)) != 0)
		goto out;
	if ((r = hsm_attr_get(s, o, CKA_ID, &v, &len)) != 0)
		goto out;
	if (len == 0 || len > HSM_ID_MAX) {
		r = ly_fail(LY_ERR_HSM, "PKCS#11 URI \"%s\": key has a CKA_ID "
		    "of %zu bytes", u->text, len);
		goto out;
	}
	memcpy(id, v, len);
	*idlenp = len;
	/*
	 * The certificate object pkcs11-helper finds the key by: its
	 * absence is sure here (the token is there, logged in), so that
	 * key_certid_find() may take a miss of pkcs11-helper's as a fault.
	 */
	if ((r = hsm_objects_find(s, CKO_CERTIFICATE, NULL, id, len, hs, 1,
	    &n)) != 0)
		goto out;
	if (n == 0) {
		r = ly_fail(LY_ERR_NOT_FOUND, "PKCS#11 URI \"%s\": no "
		    "certificate object beside the key on token %s (store one "
		    "with hsm_cert_store)", u->text, u->token);
		goto out;
	}
	/* The public key object, if any, to check the certificate against. */
	*tokpubp = NULL;
	r = hsm_pub_read(s, id, len, u->text, tokpubp);
	if (r == LY_ERR_NOT_FOUND)
		r = 0;
	else if (r != 0)
		goto out;
	hsm_fixstr(tid->label, ti.label, sizeof(ti.label));
	hsm_fixstr(tid->serial, ti.serialNumber, sizeof(ti.serialNumber));
	hsm_fixstr(tid->manuf, ti.manufacturerID, sizeof(ti.manufacturerID));
	hsm_fixstr(tid->model, ti.model, sizeof(ti.model));
	r = 0;
 out:
	free(v);
	hsm_session_close(s);
	hsm_admin_unlock();
	return r;
}

static int
certid_match(const pkcs11h_certificate_id_t c, const struct hsm_tokid *tid,
    const unsigned char *id, size_t idlen)
{
	const pkcs11h_token_id_t t = c->token_id;

	return strcmp(t->label, tid->label) == 0 &&
	    strcmp(t->serialNumber, tid->serial) == 0 &&
	    strcmp(t->manufacturerID, tid->manuf) == 0 &&
	    strcmp(t->model, tid->model) == 0 &&
	    c->attrCKA_ID_size == idlen &&
	    memcmp(c->attrCKA_ID, id, idlen) == 0;
}

/*
 * Finds pkcs11-helper's id of the certificate object beside the key. A
 * self-signed certificate is listed among the end certificates, others
 * among the issuers: look in both. Reloaded, as hsm_keygen() and
 * hsm_cert_store() change the objects behind pkcs11-helper's back.
 */
static int
key_certid_find(const struct hsm_uri *u, const struct hsm_tokid *tid,
    const unsigned char *id, size_t idlen, pkcs11h_certificate_id_t *cidp)
{
	pkcs11h_certificate_id_list_t issuers = NULL, ends = NULL, l;
	pkcs11h_certificate_id_t found = NULL;
	CK_RV		 rv;
	int		 r = LY_ERR_HSM;

	rv = pkcs11h_certificate_enumCertificateIds(PKCS11H_ENUM_METHOD_RELOAD,
	    NULL, 0, &issuers, &ends);
	if (rv != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "token %s: listing "
		    "certificates", tid->label);
		goto out;
	}
	for (l = ends; l != NULL && found == NULL; l = l->next)
		if (certid_match(l->certificate_id, tid, id, idlen))
			found = l->certificate_id;
	for (l = issuers; l != NULL && found == NULL; l = l->next)
		if (certid_match(l->certificate_id, tid, id, idlen))
			found = l->certificate_id;
	/* key_lookup() saw it a moment ago: pkcs11-helper missed it. */
	if (found == NULL) {
		r = ly_fail(LY_ERR_HSM, "PKCS#11 URI \"%s\": pkcs11-helper "
		    "does not list the certificate object beside the key on "
		    "token %s", u->text, tid->label);
		goto out;
	}
	if ((rv = pkcs11h_certificate_duplicateCertificateId(cidp, found))
	    != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "duplicating certificate id");
		goto out;
	}
	r = 0;
 out:
	pkcs11h_certificate_freeCertificateIdList(issuers);
	pkcs11h_certificate_freeCertificateIdList(ends);
	ERR_clear_error();
	return r;
}

/* Maps a pkcs11-helper failure, telling a refused PIN from the rest. */
static int
key_fail(const struct hsm_key *k, CK_RV rv, const char *what)
{
	int	code = LY_ERR_HSM;

	if (hsm_pin_refused || rv == CKR_PIN_INCORRECT ||
	    rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED)
		code = LY_ERR_HSM_PIN;
	return hsm_fail_rv(code, rv, "key %s: %s", k->uri, what);
}

/*
 * (Re)creates pkcs11-helper's certificate, its OpenSSL session and the
 * EVP_PKEY for k; logs in through hook_pin() if needed. Write lock held
 * (or k not yet shared).
 *
 * Only here (and in key_setup_public()) are pkcs11h_certificate_* calls
 * made on a key's certificate outside signing: pkcs11-helper takes the
 * certificate's mutex and then the token session's in them, but the
 * other way round when signing, so they must never run while threads
 * sign with the same certificate. The write lock (or k being new)
 * ensures that.
 */
static int
key_open_session(struct hsm_key *k)
{
	pkcs11h_certificate_t cert = NULL;
	CK_RV		 rv;
	int		 r = LY_ERR_HSM;

	hsm_pin_refused = 0;
	/* pkcs11-helper may log in: token.object is rewritten. */
	hsm_guard_lock();
	if ((rv = pkcs11h_certificate_create(k->cert_id, NULL,
	    PKCS11H_PROMPT_MASK_ALLOW_PIN_PROMPT, PKCS11H_PIN_CACHE_INFINITE,
	    &cert)) != CKR_OK) {
		r = key_fail(k, rv, "pkcs11h_certificate_create");
		goto out;
	}
	/* Log in and find the private key now, not at the first signature. */
	if ((rv = pkcs11h_certificate_ensureKeyAccess(cert)) != CKR_OK) {
		r = key_fail(k, rv, "no access to the private key");
		goto out;
	}
	if ((k->sess = pkcs11h_openssl_createSession(cert)) == NULL) {
		r = ly_fail(LY_ERR_HSM, "key %s: "
		    "pkcs11h_openssl_createSession failed", k->uri);
		goto out;
	}
	cert = NULL;	/* owned by the session */
	if ((k->evp = pkcs11h_openssl_session_getEVP(k->sess)) == NULL) {
		r = ly_fail(LY_ERR_HSM, "key %s: "
		    "pkcs11h_openssl_session_getEVP failed", k->uri);
		goto out;
	}
	k->gen++;
	r = 0;
 out:
	if (cert != NULL)
		pkcs11h_certificate_freeCertificate(cert);
	if (r != 0)
		hsm_key_close_session(k);
	hsm_guard_unlock();
	ERR_clear_error();
	return r;
}

static void
hsm_key_close_session(struct hsm_key *k)
{
	EVP_PKEY_free(k->evp);
	k->evp = NULL;
	if (k->sess != NULL)
		pkcs11h_openssl_freeSession(k->sess);
	k->sess = NULL;
}

/* Takes the public key from the certificate and picks the digest. */
static int
key_setup_public(struct hsm_key *k, enum conf_rsapad pad)
{
	X509	*x;
	int	 bits;

	if ((x = pkcs11h_openssl_session_getX509(k->sess)) == NULL)
		return ly_fail(LY_ERR_HSM, "key %s: no certificate", k->uri);
	k->pub = X509_get_pubkey(x);
	X509_free(x);
	if (k->pub == NULL) {
		ly_log_crypto("X509_get_pubkey");
		return ly_fail(LY_ERR_HSM, "key %s: certificate object has no "
		    "usable public key", k->uri);
	}
	bits = EVP_PKEY_get_bits(k->pub);
	switch (EVP_PKEY_get_base_id(k->pub)) {
	case EVP_PKEY_EC:
		if (bits == 256)
			k->md = EVP_sha256();
		else if (bits == 384)
			k->md = EVP_sha384();
		break;
	case EVP_PKEY_RSA:
		if (bits >= 2048) {
			k->md = EVP_sha256();
			k->pss = pad == CONF_RSA_PSS;
		}
		break;
	}
	if (k->md == NULL)
		return ly_fail(LY_ERR_HSM, "key %s: unsupported key type "
		    "(%s, %d bits)", k->uri, OBJ_nid2sn(EVP_PKEY_get_base_id(
		    k->pub)), bits);
	return 0;
}

/* Frees a key that is not (or no longer) on hsm.keys. Module lock held. */
static void
key_destroy(struct hsm_key *k)
{
	hsm_key_close_session(k);
	/* XXX leaks the id if pkcs11-helper could not be started again. */
	if (k->cert_id != NULL && hsm.helper)
		pkcs11h_certificate_freeCertificateId(k->cert_id);
	EVP_PKEY_free(k->pub);
	pthread_rwlock_destroy(&k->lock);
	free(k->uri);
	free(k);
}

/*
 * One attempt of hsm_key_open(), under the module lock (so that a restart
 * of the module sees the key either not yet there or on hsm.keys).
 * *epochp is the module's epoch before it, for hsm_recover().
 */
static int
key_open_try(const struct hsm_uri *u, const char *uri, const char *pin,
    enum conf_rsapad pad, struct hsm_key **keyp, unsigned long *epochp)
{
	struct hsm_tokid tid;
	struct hsm_key	*k = NULL;
	EVP_PKEY	*tokpub = NULL;
	unsigned char	 id[HSM_ID_MAX];
	size_t		 idlen = 0;
	int		 r;

	hsm_mod_rdlock();
	/* Logins, and pkcs11-helper's listing of the tokens. */
	hsm_guard_lock();
	if ((r = hsm_mod_check(epochp)) != 0)
		goto out;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = ly_fail(LY_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (pthread_rwlock_init(&k->lock, NULL) != 0) {
		free(k);
		k = NULL;
		r = ly_fail(LY_ERR_INTERNAL, "pthread_rwlock_init failed");
		goto out;
	}
	if ((k->uri = strdup(uri)) == NULL) {
		r = ly_fail(LY_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = key_lookup(u, pin, &tid, id, &idlen, &tokpub)) != 0)
		goto out;
	if ((r = key_certid_find(u, &tid, id, idlen, &k->cert_id)) != 0)
		goto out;
	if ((r = key_open_session(k)) != 0)
		goto out;
	if ((r = key_setup_public(k, pad)) != 0)
		goto out;
	if (tokpub != NULL && EVP_PKEY_eq(tokpub, k->pub) != 1) {
		r = ly_fail(LY_ERR_HSM, "PKCS#11 URI \"%s\": the certificate "
		    "object beside the key is for another key", uri);
		goto out;
	}
	pthread_mutex_lock(&hsm.lock);
	if ((k->next = hsm.keys) != NULL)
		k->next->prev = k;
	hsm.keys = k;
	pthread_mutex_unlock(&hsm.lock);
	*keyp = k;
	k = NULL;
	r = 0;
 out:
	if (k != NULL)
		key_destroy(k);
	hsm_guard_unlock();
	hsm_mod_unlock();
	EVP_PKEY_free(tokpub);
	return r;
}

/*
 * Opens the private key named by uri for signing, after logging in with
 * pin (LY_ERR_HSM_PIN if wrong; it is tried once). LY_ERR_CONFIG for a bad
 * URI, LY_ERR_NOT_FOUND only for a key or certificate object that the
 * token (there, logged in) does not have, LY_ERR_HSM for a module or
 * token that fails or is not there: then the module is re-initialised
 * (within the backoff) and the key looked for once more.
 * *keyp is set on success only; free it with hsm_key_free().
 */
int
hsm_key_open(const char *uri, const char *pin, enum conf_rsapad pad,
    struct hsm_key **keyp)
{
	struct hsm_uri	 u;
	unsigned long	 epoch = 0;
	int		 r;

	if (keyp == NULL)
		return ly_fail(LY_ERR_ARG, "hsm_key_open: no output pointer");
	if (!hsm.ready)
		return ly_fail(LY_ERR_HSM, "hsm_init() was not called");
	if ((r = hsm_uri_parse(uri, 1, &u)) != 0)
		return r;
	r = key_open_try(&u, uri, pin, pad, keyp, &epoch);
	if (r == LY_ERR_HSM && hsm_recover(epoch, ly_errdetail()) == 0)
		r = key_open_try(&u, uri, pin, pad, keyp, &epoch);
	hsm_uri_clear(&u);
	return r;
}

/* Closes the key's session and frees it; NULL is a no-op. */
void
hsm_key_free(struct hsm_key *k)
{
	if (k == NULL)
		return;
	hsm_mod_rdlock();
	pthread_mutex_lock(&hsm.lock);
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		hsm.keys = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&hsm.lock);
	key_destroy(k);
	hsm_mod_unlock();
	ERR_clear_error();
}

EVP_PKEY *
hsm_key_get0_public(const struct hsm_key *k)
{
	return k != NULL ? k->pub : NULL;
}

/* --- signing -------------------------------------------------------------- */

/* What one signing attempt gave. */
enum sign_result {
	SIGN_OK,
	SIGN_FAILED,	/* the token or fn failed */
	SIGN_BAD,	/* signed, but the signature does not verify */
};

/* The probe of hsm_key_check(): a short fixed message and its signature. */
struct probe {
	const struct hsm_key	*key;
	unsigned char		 sig[1024];	/* RSA-4096: 512 */
	size_t			 siglen;
};

static const unsigned char probe_msg[] = "lanyard hsm probe";

static int
probe_sign(void *arg, EVP_MD_CTX *ctx)
{
	struct probe	*p = arg;

	p->siglen = sizeof(p->sig);
	return EVP_DigestSign(ctx, p->sig, &p->siglen, probe_msg,
	    sizeof(probe_msg) - 1);
}

/* 1 if the probe's signature verifies under the key's digest and padding. */
static int
probe_verify(void *arg, EVP_PKEY *pub)
{
	struct probe	*p = arg;
	EVP_MD_CTX	*ctx;
	EVP_PKEY_CTX	*pctx = NULL;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, &pctx, p->key->md, NULL, pub) == 1 &&
	    (!p->key->pss ||
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0)) &&
	    EVP_DigestVerify(ctx, p->sig, p->siglen, probe_msg,
	    sizeof(probe_msg) - 1) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static int
verify_x509(void *obj, EVP_PKEY *pub)
{
	return X509_verify(obj, pub) == 1;
}

static int
verify_x509_crl(void *obj, EVP_PKEY *pub)
{
	return X509_CRL_verify(obj, pub) == 1;
}

static int
verify_x509_req(void *obj, EVP_PKEY *pub)
{
	return X509_REQ_verify(obj, pub) == 1;
}

/*
 * The signers whose output hsm_sign() can check itself, and what each
 * signed (for the log).
 */
static const struct {
	hsm_signer	 fn;
	int		(*verify)(void *, EVP_PKEY *);
	const char	*what;
} verifiers[] = {
	{ hsm_sign_x509, verify_x509, "certificate" },
	{ hsm_sign_x509_crl, verify_x509_crl, "CRL" },
	{ hsm_sign_x509_req, verify_x509_req, "certificate request" },
	{ probe_sign, probe_verify, "probe" },
};

/* One signing attempt, then the check if fn is one we know. Read locks held. */
static enum sign_result
sign_once(struct hsm_key *k, hsm_signer fn, void *obj, const char **whatp)
{
	EVP_MD_CTX	*ctx = NULL;
	EVP_PKEY_CTX	*pctx = NULL;
	enum sign_result res = SIGN_FAILED;
	size_t		 i;

	if (k->evp == NULL)
		return SIGN_FAILED;	/* an earlier reopen failed */
	ERR_clear_error();
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestSignInit(ctx, &pctx, k->md, NULL, k->evp) != 1)
		goto out;
	if (k->pss &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
		goto out;
	if (fn(obj, ctx) <= 0)
		goto out;
	res = SIGN_OK;
	for (i = 0; i < sizeof(verifiers) / sizeof(verifiers[0]); i++)
		if (verifiers[i].fn == fn) {
			if (!verifiers[i].verify(obj, k->pub)) {
				*whatp = verifiers[i].what;
				res = SIGN_BAD;
			}
			break;
		}
 out:
	if (res == SIGN_FAILED)
		ly_log_crypto("hsm_sign");
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return res;
}

/* Why sign_session() failed, for what hsm_sign() tries next. */
enum sign_fault {
	FAULT_NONE,	/* signed, or failed in a way a restart cannot mend */
	FAULT_TOKEN,	/* the token failed to sign, even on a new session */
	FAULT_DOWN,	/* the module is not initialised */
};

/*
 * Signs on the key's session, and if reopen is set and that fails, on a
 * new session: only the first of several threads that failed on one
 * session reopens it. 0 or LY_ERR_HSM(_PIN) with *faultp set;
 * *epochp is the module's epoch before the attempt.
 */
static int
sign_session(struct hsm_key *k, hsm_signer fn, void *obj, int reopen,
    unsigned long *epochp, enum sign_fault *faultp)
{
	enum sign_result res;
	const char	*what = "object";
	unsigned long	 gen;
	int		 r;

	*faultp = FAULT_NONE;
	hsm_mod_rdlock();
	if ((r = hsm_mod_check(epochp)) != 0) {
		*faultp = FAULT_DOWN;
		goto out;
	}
	pthread_rwlock_rdlock(&k->lock);
	gen = k->gen;
	res = sign_once(k, fn, obj, &what);
	pthread_rwlock_unlock(&k->lock);
	if (res == SIGN_FAILED && reopen) {
		hsm_stat_add(HSM_STAT_SIGN_FAILURE);
		ly_log(LY_LOG_WARN, "key %s: signing failed; reopening the "
		    "session", k->uri);
		pthread_rwlock_wrlock(&k->lock);
		r = 0;
		if (k->gen == gen) {
			hsm_stat_add(HSM_STAT_REOPEN);
			hsm_key_close_session(k);
			r = key_open_session(k);
		}
		pthread_rwlock_unlock(&k->lock);
		if (r != 0) {
			if (r == LY_ERR_HSM)
				*faultp = FAULT_TOKEN;
			goto out;
		}
		pthread_rwlock_rdlock(&k->lock);
		res = sign_once(k, fn, obj, &what);
		pthread_rwlock_unlock(&k->lock);
	}
	switch (res) {
	case SIGN_OK:
		r = 0;
		break;
	case SIGN_FAILED:
		hsm_stat_add(HSM_STAT_SIGN_FAILURE);
		*faultp = FAULT_TOKEN;
		r = ly_fail(LY_ERR_HSM, "key %s: signing failed%s", k->uri,
		    reopen ? " after reopening the session" : "");
		break;
	case SIGN_BAD:
		r = hsm_bad_signature("key %s: the %s signature the token "
		    "returned does not verify with the key's public key",
		    k->uri, what);
		break;
	}
 out:
	hsm_mod_unlock();
	return r;
}

/*
 * Signs obj through fn with a context for the key: on the session, on a
 * reopened session, and after re-initialising the module (see hsm.h).
 * Before a restart, a probe signature tells a token that fails from an
 * fn that does (with this object): only the first is worth a restart.
 * Thread-safe: threads sign in parallel under the read locks; a reopen
 * takes the key's write lock, a re-initialisation the module's.
 */
int
hsm_sign(struct hsm_key *k, hsm_signer fn, void *obj)
{
	struct probe	 p;
	enum sign_fault	 fault, pf;
	unsigned long	 epoch = 0, pe;
	char		 why[384];
	int		 r;

	if (k == NULL || fn == NULL || obj == NULL)
		return ly_fail(LY_ERR_ARG, "hsm_sign: NULL argument");
	r = sign_session(k, fn, obj, 1, &epoch, &fault);
	if (r != 0 && fault == FAULT_TOKEN && fn != probe_sign) {
		snprintf(why, sizeof(why), "%s", ly_errdetail());
		memset(&p, 0, sizeof(p));
		p.key = k;
		if (sign_session(k, probe_sign, &p, 0, &pe, &pf) == 0)
			return ly_fail(r, "%s (the token signs other data)",
			    why);
		(void)ly_fail(r, "%s", why);
	}
	if (r != 0 && fault != FAULT_NONE &&
	    hsm_recover(epoch, ly_errdetail()) == 0)
		r = sign_session(k, fn, obj, 0, &epoch, &fault);
	if (r == 0)
		hsm_recover_ok();
	return r;
}

int
hsm_key_check(struct hsm_key *k)
{
	struct probe	 p;

	if (k == NULL)
		return ly_fail(LY_ERR_ARG, "hsm_key_check: no key");
	memset(&p, 0, sizeof(p));
	p.key = k;
	return hsm_sign(k, probe_sign, &p);
}

int
hsm_sign_x509(void *x509, EVP_MD_CTX *ctx)
{
	return X509_sign_ctx(x509, ctx) > 0;
}

int
hsm_sign_x509_crl(void *crl, EVP_MD_CTX *ctx)
{
	return X509_CRL_sign_ctx(crl, ctx) > 0;
}

int
hsm_sign_x509_req(void *req, EVP_MD_CTX *ctx)
{
	return X509_REQ_sign_ctx(req, ctx) > 0;
}

/*
 * Whether the private key of uri is a token object, CKA_SENSITIVE and not
 * CKA_EXTRACTABLE: 1 yes, 0 no, or a negative error (as hsm_key_open()).
 */
int
hsm_key_is_protected(const char *uri, const char *pin)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE o;
	CK_OBJECT_CLASS	 cls = 0;
	CK_BBOOL	 sens = CK_FALSE, extr = CK_TRUE, tok = CK_FALSE;
	CK_ATTRIBUTE	 t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
		{ CKA_TOKEN, &tok, sizeof(tok) },
	};
	struct hsm_uri	 u;
	CK_RV		 rv;
	int		 r;

	if (!hsm.ready)
		return ly_fail(LY_ERR_HSM, "hsm_init() was not called");
	if ((r = hsm_uri_parse(uri, 1, &u)) != 0)
		return r;
	hsm_admin_lock();
	if ((r = hsm_session_open(&u, pin, 0, &s, NULL)) != 0)
		goto out;
	if ((r = privkey_find(s, &u, &o)) != 0)
		goto out;
	rv = hsm.f->C_GetAttributeValue(s, o, t, sizeof(t) / sizeof(t[0]));
	if (rv != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "PKCS#11 URI \"%s\": reading "
		    "key attributes", uri);
		goto out;
	}
	r = cls == CKO_PRIVATE_KEY && sens == CK_TRUE && extr == CK_FALSE &&
	    tok == CK_TRUE;
 out:
	hsm_session_close(s);
	hsm_admin_unlock();
	hsm_uri_clear(&u);
	return r;
}
