/*
 * hsm/pool.c — signing on a pool of raw PKCS#11 sessions per key.
 *
 * pkcs11-helper keeps one session per token and signs on it under its
 * mutex: one signature at a time per token. PKCS#11 allows many sessions
 * per token, and login state belongs to the token and the process, not to
 * a session: once the user is logged in, every session opened on the token
 * is a user session. So each key keeps a pool of sessions, opened as
 * signing threads ask for them (at most hsm_pool_max(), by default two per
 * core): a signature takes an idle session, or opens one while there are
 * fewer than the maximum, or waits for one to come back.
 *
 * OpenSSL signs with the pool through an EVP_PKEY of the provider in
 * hsm/prov.c, which hashes on the host and has hsm_pool_sign() sign the
 * digest on the token (CKM_ECDSA, CKM_RSA_PKCS over a DigestInfo, or
 * CKM_RSA_PKCS_PSS), with the AlgorithmIdentifier that OpenSSL's default
 * provider gives for the same key, digest and padding (hsm_pool_alg()).
 * (SoftHSM 2.6.1 refuses CKM_ECDSA_SHA256: hashing on the host is what
 * works on every token.)
 *
 * A session that fails a signature is closed, not put back; the signature
 * is tried once more on a new session (logged in again if the token
 * logged out), as pkcs11-helper did on its own session. If that fails
 * too, hsm_sign()'s ladder takes over (hsm.c: reopen the key's pool,
 * then re-initialise the module, hsm/recover.c).
 *
 * Locks: the pool's mutex guards only its idle list and counts; no call
 * into the module is made under it. Opening a session and signing run
 * under the module lock (read) and the key's lock (read), taken by
 * hsm.c; hsm_pool_close() runs with the key's lock held for writing (or
 * the module's), when no session is out. A login (only after the token
 * logged out) takes the token guard; signing does not.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"

/* Largest signature from the token: RSA-4096; raw r||s of P-521 is less. */
#define POOL_SIG_MAX		512
/* Largest DigestInfo: SHA-512's is 83 bytes. */
#define POOL_DI_MAX		128
/* Upper bound of hsm_pool_max(): sessions per key. */
#define POOL_SESSIONS_MAX	256

enum pool_kind {
	POOL_EC,
	POOL_RSA,
	POOL_RSA_PSS,
};

struct hsm_pool {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;	/* a session came back or a slot freed */
	/* Guarded by lock. */
	CK_SESSION_HANDLE	*idle;	/* [max] */
	CK_OBJECT_HANDLE	*idle_key; /* the key's handle in each */
	size_t			 nidle;
	size_t			 nopen;	/* idle + out + being opened */
	size_t			 max;
	/* Set by hsm_pool_open() (key write lock), read by signers. */
	CK_SLOT_ID		 slot;
	int			 opened;
	/* Fixed at hsm_pool_new(). */
	char			*uri;	/* for messages */
	char			 label[33], serial[17];	/* the token */
	char			*object;	/* CKA_LABEL or NULL */
	unsigned char		 id[HSM_ID_MAX];	/* CKA_ID */
	size_t			 idlen;
	enum pool_kind		 kind;
	struct hsm_pool_alg	 alg;	/* pub: own reference */
};

static atomic_size_t	pool_max_conf;	/* 0: two per core */


/* --- the pool --------------------------------------------------------- */

void
hsm_sessions_max(size_t n)
{
	atomic_store(&pool_max_conf, n > POOL_SESSIONS_MAX ?
	    POOL_SESSIONS_MAX : n);
}

size_t
hsm_pool_max(void)
{
	size_t	n = atomic_load(&pool_max_conf);
	long	cpus;

	if (n != 0)
		return n;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	n = cpus > 0 ? 2 * (size_t)cpus : 2;
	return n > POOL_SESSIONS_MAX ? POOL_SESSIONS_MAX : n;
}

/*
 * Opens a session on the pool's slot, logged in (with the PIN that
 * logged into the token before, if the token had logged out), and finds
 * the key in it. A key's handle is the same in every session of the
 * process while the token stays logged in, but SoftHSM forgets handles
 * of private objects at a logout: each session looks it up again.
 */
static int
session_new(struct hsm_pool *p, CK_SESSION_HANDLE *sp, CK_OBJECT_HANDLE *kp)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_SESSION_INFO	 si;
	CK_OBJECT_HANDLE hs[2];
	CK_RV		 rv;
	size_t		 n;
	int		 r = LY_ERR_HSM;

	if ((rv = f->C_OpenSession(p->slot, CKF_SERIAL_SESSION, NULL, NULL,
	    &s)) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "key %s: C_OpenSession",
		    p->uri);
		s = CK_INVALID_HANDLE;
		goto out;
	}
	if ((rv = f->C_GetSessionInfo(s, &si)) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "key %s: C_GetSessionInfo",
		    p->uri);
		goto out;
	}
	if (si.state == CKS_RO_PUBLIC_SESSION &&
	    (r = hsm_session_relogin(s, p->label, p->serial)) != 0)
		goto out;
	if ((r = hsm_objects_find(s, CKO_PRIVATE_KEY, p->object, p->id,
	    p->idlen, hs, 2, &n)) != 0)
		goto out;
	if (n != 1) {
		r = ly_fail(LY_ERR_HSM, "key %s: %zu private keys with its "
		    "CKA_ID on token %s", p->uri, n, p->label);
		goto out;
	}
	*sp = s;
	*kp = hs[0];
	s = CK_INVALID_HANDLE;
	r = 0;
 out:
	if (s != CK_INVALID_HANDLE)
		(void)f->C_CloseSession(s);
	ERR_clear_error();
	return r;
}

/*
 * Takes an idle session, or opens one if fewer than max are open, or
 * waits for one. 0, or the error of opening one.
 */
static int
session_take(struct hsm_pool *p, CK_SESSION_HANDLE *sp, CK_OBJECT_HANDLE *kp)
{
	int	r;

	pthread_mutex_lock(&p->lock);
	while (p->opened && p->nidle == 0 && p->nopen >= p->max)
		pthread_cond_wait(&p->cond, &p->lock);
	if (!p->opened) {
		/* An earlier reopen failed: hsm_sign() reopens it. */
		pthread_mutex_unlock(&p->lock);
		return ly_fail(LY_ERR_HSM, "key %s: no session (the last "
		    "reopen failed)", p->uri);
	}
	if (p->nidle > 0) {
		p->nidle--;
		*sp = p->idle[p->nidle];
		*kp = p->idle_key[p->nidle];
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	p->nopen++;	/* this slot is ours while we open it */
	pthread_mutex_unlock(&p->lock);
	if ((r = session_new(p, sp, kp)) != 0) {
		pthread_mutex_lock(&p->lock);
		p->nopen--;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	return r;
}

/* Puts a session back, or, if it failed, closes it and frees its slot. */
static void
session_give(struct hsm_pool *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k,
    int failed)
{
	if (failed)
		(void)hsm_p11()->C_CloseSession(s);
	pthread_mutex_lock(&p->lock);
	if (failed)
		p->nopen--;
	else {
		p->idle[p->nidle] = s;
		p->idle_key[p->nidle] = k;
		p->nidle++;
	}
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/*
 * The token's signature of in (a digest, or a DigestInfo for
 * CKM_RSA_PKCS) on session s, as PKCS#11 gives it, into out[*outlenp].
 */
static CK_RV
session_sign(struct hsm_pool *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k,
    const unsigned char *in, size_t inlen, unsigned char *out,
    size_t *outlenp)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_MECHANISM	 m = { CKM_ECDSA, NULL, 0 };
	CK_ULONG	 len = (CK_ULONG)*outlenp;
	CK_RV		 rv;

	if (p->kind == POOL_RSA)
		m.mechanism = CKM_RSA_PKCS;
	else if (p->kind == POOL_RSA_PSS) {
		memset(&pss, 0, sizeof(pss));
		switch (EVP_MD_get_type(p->alg.md)) {
		case NID_sha384:
			pss.hashAlg = CKM_SHA384;
			pss.mgf = CKG_MGF1_SHA384;
			break;
		case NID_sha512:
			pss.hashAlg = CKM_SHA512;
			pss.mgf = CKG_MGF1_SHA512;
			break;
		default:
			pss.hashAlg = CKM_SHA256;
			pss.mgf = CKG_MGF1_SHA256;
			break;
		}
		pss.sLen = (CK_ULONG)inlen;	/* salt length = digest length */
		m.mechanism = CKM_RSA_PKCS_PSS;
		m.pParameter = &pss;
		m.ulParameterLen = sizeof(pss);
	}
	if ((rv = f->C_SignInit(s, &m, k)) != CKR_OK)
		return rv;
	/* The buffer holds any signature of the key: no length query. */
	rv = f->C_Sign(s, (CK_BYTE_PTR)in, (CK_ULONG)inlen, out, &len);
	if (rv == CKR_OK)
		*outlenp = len;
	return rv;
}

/*
 * Signs the digest dg[dglen] with the pool's key, as a signature of the
 * key's algorithm in its X.509 form (DER ECDSA-Sig-Value, or the RSA
 * signature), into sig[*siglenp] (*siglenp: the room, then the length).
 * Takes a session; if signing fails on it, closes it and tries once on
 * a new one. 0 or LY_ERR_HSM(_PIN).
 */
int
hsm_pool_sign(struct hsm_pool *p, const unsigned char *dg, size_t dglen,
    unsigned char *sig, size_t *siglenp)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE k;
	ECDSA_SIG	*es = NULL;
	BIGNUM		*br = NULL, *bs = NULL;
	X509_SIG	*di = NULL;
	X509_ALGOR	*alg;
	ASN1_OCTET_STRING *oct;
	unsigned char	 raw[POOL_SIG_MAX], dib[POOL_DI_MAX], *q;
	const unsigned char *in = dg;
	size_t		 inlen = dglen, rawlen = 0, half;
	CK_RV		 rv = CKR_OK;
	int		 r = LY_ERR_HSM, len, attempt;

	if (p->kind == POOL_RSA) {
		/* PKCS#1 v1.5: the token pads a DigestInfo we encode. */
		q = dib;
		if ((di = X509_SIG_new()) == NULL)
			goto out;
		X509_SIG_getm(di, &alg, &oct);
		if (!X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(p->alg.md)),
		    V_ASN1_NULL, NULL) ||
		    !ASN1_OCTET_STRING_set(oct, dg, (int)dglen) ||
		    (len = i2d_X509_SIG(di, NULL)) <= 0 ||
		    (size_t)len > sizeof(dib) || i2d_X509_SIG(di, &q) != len) {
			r = ly_fail(LY_ERR_INTERNAL, "key %s: DigestInfo",
			    p->uri);
			goto out;
		}
		in = dib;
		inlen = (size_t)len;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		if ((r = session_take(p, &s, &k)) != 0) {
			if (r != LY_ERR_HSM)
				goto out;	/* a PIN fault: no use retrying */
			continue;
		}
		rawlen = sizeof(raw);
		rv = session_sign(p, s, k, in, inlen, raw, &rawlen);
		session_give(p, s, k, rv != CKR_OK);
		if (rv == CKR_OK) {
			r = 0;
			break;
		}
		r = hsm_fail_rv(LY_ERR_HSM, rv, "key %s: C_SignInit/C_Sign",
		    p->uri);
		/* The first is mended here; the second goes up the ladder. */
		ly_log(attempt == 0 ? LY_LOG_DEBUG : LY_LOG_WARN, "%s%s",
		    ly_errdetail(), attempt == 0 ?
		    "; signing again on a new session" : "");
	}
	if (rv != CKR_OK || r != 0)
		goto out;
	r = LY_ERR_HSM;
	if (p->kind != POOL_EC) {
		if (rawlen > *siglenp) {
			r = ly_fail(LY_ERR_HSM, "key %s: signature of %zu "
			    "bytes", p->uri, rawlen);
			goto out;
		}
		memcpy(sig, raw, rawlen);
		*siglenp = rawlen;
		r = 0;
		goto out;
	}
	/* ECDSA: r||s from the token, DER for X.509. */
	half = rawlen / 2;
	if (rawlen == 0 || rawlen % 2 != 0 ||
	    (es = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(raw, (int)half, NULL)) == NULL ||
	    (bs = BN_bin2bn(raw + half, (int)half, NULL)) == NULL ||
	    !ECDSA_SIG_set0(es, br, bs)) {
		BN_free(br);
		BN_free(bs);
		r = ly_fail(LY_ERR_HSM, "key %s: ECDSA signature of %zu "
		    "bytes", p->uri, rawlen);
		goto out;
	}
	if ((len = i2d_ECDSA_SIG(es, NULL)) <= 0 || (size_t)len > *siglenp) {
		r = ly_fail(LY_ERR_HSM, "key %s: ECDSA signature", p->uri);
		goto out;
	}
	q = sig;
	if (i2d_ECDSA_SIG(es, &q) != len)
		goto out;
	*siglenp = (size_t)len;
	r = 0;
 out:
	ECDSA_SIG_free(es);
	X509_SIG_free(di);
	OPENSSL_cleanse(dib, sizeof(dib));
	return r;
}

/*
 * The AlgorithmIdentifier OpenSSL's default provider names for a
 * signature by pub with md (and PSS, salt length = digest length): the
 * one our signatures carry.
 */
static int
pool_aid(struct hsm_pool *p)
{
	EVP_MD_CTX	*ctx;
	EVP_PKEY_CTX	*pctx = NULL;
	OSSL_PARAM	 params[2];
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return ly_fail(LY_ERR_ALLOC, "out of memory");
	params[0] = OSSL_PARAM_construct_octet_string(
	    OSSL_SIGNATURE_PARAM_ALGORITHM_ID, p->alg.aid, sizeof(p->alg.aid));
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_DigestVerifyInit(ctx, &pctx, p->alg.md, NULL, p->alg.pub) == 1 &&
	    (p->kind != POOL_RSA_PSS ||
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) >
	    0)) &&
	    EVP_PKEY_CTX_get_params(pctx, params) == 1 &&
	    params[0].return_size > 0 &&
	    params[0].return_size <= sizeof(p->alg.aid);
	if (ok)
		p->alg.aidlen = params[0].return_size;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ly_log_crypto("pool_aid");
		return ly_fail(LY_ERR_HSM, "key %s: no signature algorithm "
		    "identifier for this key", p->uri);
	}
	return 0;
}

int
hsm_pool_new(const char *uri, const char *label, const char *serial,
    const char *object, const unsigned char *id, size_t idlen,
    EVP_PKEY *pub, const EVP_MD *md, int pss, struct hsm_pool **pp)
{
	struct hsm_pool	*p;
	int		 r = LY_ERR_ALLOC, size;

	if (idlen == 0 || idlen > HSM_ID_MAX)
		return ly_fail(LY_ERR_ARG, "hsm_pool_new: bad CKA_ID");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return ly_fail(LY_ERR_ALLOC, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->max = hsm_pool_max();
	if ((p->idle = calloc(p->max, sizeof(*p->idle))) == NULL ||
	    (p->idle_key = calloc(p->max, sizeof(*p->idle_key))) == NULL ||
	    (p->uri = strdup(uri)) == NULL ||
	    (object != NULL && (p->object = strdup(object)) == NULL)) {
		r = ly_fail(LY_ERR_ALLOC, "out of memory");
		goto out;
	}
	snprintf(p->label, sizeof(p->label), "%s", label);
	snprintf(p->serial, sizeof(p->serial), "%s", serial);
	memcpy(p->id, id, idlen);
	p->idlen = idlen;
	p->alg.md = md;
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		p->kind = POOL_EC;
		p->alg.ec = 1;
	}
	else
		p->kind = pss ? POOL_RSA_PSS : POOL_RSA;
	if (!EVP_PKEY_up_ref(pub)) {
		r = ly_fail(LY_ERR_INTERNAL, "EVP_PKEY_up_ref failed");
		goto out;
	}
	p->alg.pub = pub;
	if ((size = EVP_PKEY_get_size(pub)) <= 0) {
		r = ly_fail(LY_ERR_HSM, "key %s: no signature size", uri);
		goto out;
	}
	p->alg.sigmax = (size_t)size;
	if ((r = pool_aid(p)) != 0)
		goto out;
	*pp = p;
	p = NULL;
	r = 0;
 out:
	hsm_pool_free(p);
	ERR_clear_error();
	return r;
}

int
hsm_pool_open(struct hsm_pool *p, const struct hsm_uri *u)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE k;
	CK_TOKEN_INFO	 ti;
	CK_SLOT_ID	 slot;
	char		 label[33], serial[17];
	int		 r;

	hsm_pool_close(p);
	/*
	 * SoftHSM renumbers slots when a token is made: find it again.
	 * The guard, as the token's flags are read; not the admin lock,
	 * which takes the module lock, held for writing in a restart.
	 */
	hsm_guard_lock();
	r = hsm_slot_find(u, &slot, &ti);
	hsm_guard_unlock();
	if (r != 0)
		return r;
	hsm_fixstr(label, ti.label, sizeof(ti.label));
	hsm_fixstr(serial, ti.serialNumber, sizeof(ti.serialNumber));
	if (strcmp(label, p->label) != 0 || strcmp(serial, p->serial) != 0)
		return ly_fail(LY_ERR_HSM, "key %s: token %s (serial %s) is "
		    "not the one the key was opened on", p->uri, label, serial);
	pthread_mutex_lock(&p->lock);
	p->slot = slot;
	p->opened = 1;
	pthread_mutex_unlock(&p->lock);
	/* One session now: it logs in, and proves the key is there. */
	if ((r = session_take(p, &s, &k)) != 0) {
		pthread_mutex_lock(&p->lock);
		p->opened = 0;
		pthread_mutex_unlock(&p->lock);
		return r;
	}
	session_give(p, s, k, 0);
	return 0;
}

void
hsm_pool_close(struct hsm_pool *p)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	while (p->nidle > 0) {
		p->nidle--;
		p->nopen--;
		/* Without a module (torn down) the handles died with it. */
		if (f != NULL)
			(void)f->C_CloseSession(p->idle[p->nidle]);
	}
	p->opened = 0;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	ERR_clear_error();
}

size_t
hsm_pool_sessions(const struct hsm_pool *p)
{
	size_t	n;

	pthread_mutex_lock((pthread_mutex_t *)&p->lock);
	n = p->nopen;
	pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
	return n;
}

void
hsm_pool_free(struct hsm_pool *p)
{
	if (p == NULL)
		return;
	hsm_pool_close(p);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->idle);
	free(p->idle_key);
	free(p->uri);
	free(p->object);
	EVP_PKEY_free(p->alg.pub);
	free(p);
}

const struct hsm_pool_alg *
hsm_pool_alg(const struct hsm_pool *p)
{
	return &p->alg;
}
