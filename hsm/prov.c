/*
 * hsm/prov.c — the OpenSSL provider through which hsm_sign() signs on a
 * pool of PKCS#11 sessions (hsm/pool.c).
 *
 * "lanyard-p11" is added with OSSL_PROVIDER_add_builtin() to a library
 * context of its own, so that nothing else in the process can fetch its
 * "EC" and "RSA" by chance. Its key manager holds a pointer to a pool and
 * exports only the public key (so that EVP_PKEY_eq(), and with it
 * X509_check_private_key() in OCSP_basic_sign_ctx(), compares it with a
 * certificate's key); its signature hashes on the host, has the pool sign
 * the digest (hsm_pool_sign()) and returns the AlgorithmIdentifier that
 * OpenSSL's default provider gives for the same key, digest and padding,
 * so X509_sign_ctx() and the like work through hsm_sign()'s EVP_MD_CTX
 * unchanged. Deprecated interfaces (ENGINE, EVP_PKEY_meth_*) are not
 * used.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"

#define PROV_NAME		"lanyard-p11"
#define PROV_PROPS		"provider=lanyard-p11"
#define PROV_SIG_NAME		"LANYARD-P11"
/* The key manager's import parameter: the pool's address. */
#define PROV_PARAM_POOL		"lanyard-pool"

static struct {
	pthread_once_t	 once;
	OSSL_LIB_CTX	*libctx;
	OSSL_PROVIDER	*prov;
	int		 failed;
} prov = {
	.once = PTHREAD_ONCE_INIT,
};

/* --- key manager --------------------------------------------------------- */

/* A key of the provider: the pool it signs with (not owned). */
struct prov_key {
	struct hsm_pool	*pool;
};

static OSSL_FUNC_keymgmt_new_fn		km_new;
static OSSL_FUNC_keymgmt_free_fn	km_free;
static OSSL_FUNC_keymgmt_has_fn		km_has;
static OSSL_FUNC_keymgmt_import_fn	km_import;
static OSSL_FUNC_keymgmt_import_types_fn km_import_types;
static OSSL_FUNC_keymgmt_export_fn	km_export;
static OSSL_FUNC_keymgmt_export_types_fn km_export_types;
static OSSL_FUNC_keymgmt_get_params_fn	km_get_params;
static OSSL_FUNC_keymgmt_gettable_params_fn km_gettable_params;
static OSSL_FUNC_keymgmt_query_operation_name_fn km_query_name;

static void *
km_new(void *provctx)
{
	return OPENSSL_zalloc(sizeof(struct prov_key));
}

static void
km_free(void *kd)
{
	OPENSSL_free(kd);
}

static int
km_has(const void *kd, int selection)
{
	const struct prov_key *pk = kd;

	/* The private key is on the token, the public key in the pool. */
	return pk != NULL && pk->pool != NULL;
}

static int
km_import(void *kd, int selection, const OSSL_PARAM params[])
{
	struct prov_key	*pk = kd;
	const OSSL_PARAM *p;
	const void	*v = NULL;
	size_t		 len = 0;

	/* Only hsm_pool_pkey() makes keys; a public key alone is no use. */
	p = OSSL_PARAM_locate_const(params, PROV_PARAM_POOL);
	if (p == NULL || !OSSL_PARAM_get_octet_string_ptr(p, &v, &len) ||
	    len != sizeof(pk->pool))
		return 0;
	memcpy(&pk->pool, v, sizeof(pk->pool));
	return 1;
}

static const OSSL_PARAM *
km_import_types(int selection)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_octet_string(PROV_PARAM_POOL, NULL, 0),
		OSSL_PARAM_END
	};

	return types;
}

/* The public key and its parameters, from the software copy. */
static int
km_export(void *kd, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct prov_key	*pk = kd;
	OSSL_PARAM	*params = NULL;
	int		 ok;

	if (pk->pool == NULL ||
	    (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
		return 0;
	if (EVP_PKEY_todata(hsm_pool_alg(pk->pool)->pub, EVP_PKEY_PUBLIC_KEY, &params) != 1)
		return 0;
	ok = cb(params, cbarg);
	OSSL_PARAM_free(params);
	return ok;
}

static const OSSL_PARAM *
km_export_types(int selection)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
		OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
		OSSL_PARAM_END
	};

	return types;
}

static int
km_get_params(void *kd, OSSL_PARAM params[])
{
	struct prov_key	*pk = kd;
	OSSL_PARAM	*p;
	EVP_PKEY	*pub;

	if (pk->pool == NULL)
		return 0;
	pub = hsm_pool_alg(pk->pool)->pub;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
	    !OSSL_PARAM_set_int(p, EVP_PKEY_get_bits(pub)))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) !=
	    NULL && !OSSL_PARAM_set_int(p, EVP_PKEY_get_security_bits(pub)))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
	    !OSSL_PARAM_set_int(p, (int)hsm_pool_alg(pk->pool)->sigmax))
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST)) !=
	    NULL && !OSSL_PARAM_set_utf8_string(p,
	    EVP_MD_get0_name(hsm_pool_alg(pk->pool)->md)))
		return 0;
	return 1;
}

static const OSSL_PARAM *
km_gettable_params(void *provctx)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_END
	};

	return types;
}

static const char *
km_query_name(int operation_id)
{
	return operation_id == OSSL_OP_SIGNATURE ? PROV_SIG_NAME : NULL;
}

static const OSSL_DISPATCH km_functions[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new },
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_import_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_export_types },
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params },
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,
	    (void (*)(void))km_gettable_params },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	    (void (*)(void))km_query_name },
	{ 0, NULL }
};

/* --- signature ------------------------------------------------------------- */

struct prov_sig {
	struct hsm_pool	*pool;
	EVP_MD_CTX	*md;
};

static OSSL_FUNC_signature_newctx_fn		sig_newctx;
static OSSL_FUNC_signature_freectx_fn		sig_freectx;
static OSSL_FUNC_signature_dupctx_fn		sig_dupctx;
static OSSL_FUNC_signature_digest_sign_init_fn	sig_init;
static OSSL_FUNC_signature_digest_sign_update_fn sig_update;
static OSSL_FUNC_signature_digest_sign_final_fn	sig_final;
static OSSL_FUNC_signature_get_ctx_params_fn	sig_get_params;
static OSSL_FUNC_signature_gettable_ctx_params_fn sig_gettable_params;

static void *
sig_newctx(void *provctx, const char *propq)
{
	return OPENSSL_zalloc(sizeof(struct prov_sig));
}

static void
sig_freectx(void *ctx)
{
	struct prov_sig	*sc = ctx;

	if (sc == NULL)
		return;
	EVP_MD_CTX_free(sc->md);
	OPENSSL_free(sc);
}

static void *
sig_dupctx(void *ctx)
{
	struct prov_sig	*sc = ctx, *d;

	if ((d = OPENSSL_zalloc(sizeof(*d))) == NULL)
		return NULL;
	d->pool = sc->pool;
	if (sc->md != NULL && ((d->md = EVP_MD_CTX_new()) == NULL ||
	    !EVP_MD_CTX_copy_ex(d->md, sc->md))) {
		sig_freectx(d);
		return NULL;
	}
	return d;
}

/* Only the key's own digest: the AlgorithmIdentifier is made for it. */
static int
sig_init(void *ctx, const char *mdname, void *kd, const OSSL_PARAM params[])
{
	struct prov_sig	*sc = ctx;
	struct prov_key	*pk = kd;
	EVP_MD		*md = NULL;
	int		 ok;

	if (pk != NULL)
		sc->pool = pk->pool;
	if (sc->pool == NULL)
		return 0;
	if (mdname == NULL || *mdname == '\0')
		mdname = EVP_MD_get0_name(hsm_pool_alg(sc->pool)->md);
	ok = (md = EVP_MD_fetch(NULL, mdname, NULL)) != NULL &&
	    EVP_MD_get_type(md) == EVP_MD_get_type(hsm_pool_alg(sc->pool)->md) &&
	    (sc->md != NULL || (sc->md = EVP_MD_CTX_new()) != NULL) &&
	    EVP_DigestInit_ex(sc->md, md, NULL);
	EVP_MD_free(md);
	return ok;
}

static int
sig_update(void *ctx, const unsigned char *data, size_t len)
{
	struct prov_sig	*sc = ctx;

	return sc->md != NULL && EVP_DigestUpdate(sc->md, data, len);
}

static int
sig_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct prov_sig	*sc = ctx;
	unsigned char	 dg[EVP_MAX_MD_SIZE];
	unsigned int	 dglen = 0;
	size_t		 len;

	if (sc->pool == NULL || sc->md == NULL)
		return 0;
	if (sig == NULL) {
		*siglen = hsm_pool_alg(sc->pool)->sigmax;
		return 1;
	}
	if (!EVP_DigestFinal_ex(sc->md, dg, &dglen))
		return 0;
	len = sigsize;
	if (hsm_pool_sign(sc->pool, dg, dglen, sig, &len) != 0)
		return 0;
	*siglen = len;
	return 1;
}

static int
sig_get_params(void *ctx, OSSL_PARAM params[])
{
	struct prov_sig	*sc = ctx;
	OSSL_PARAM	*p;

	if (sc->pool == NULL)
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
	if (p != NULL && !OSSL_PARAM_set_octet_string(p, hsm_pool_alg(sc->pool)->aid,
	    hsm_pool_alg(sc->pool)->aidlen))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
	if (p != NULL && !OSSL_PARAM_set_utf8_string(p,
	    EVP_MD_get0_name(hsm_pool_alg(sc->pool)->md)))
		return 0;
	return 1;
}

static const OSSL_PARAM *
sig_gettable_params(void *ctx, void *provctx)
{
	static const OSSL_PARAM types[] = {
		OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID,
		    NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
		OSSL_PARAM_END
	};

	return types;
}

static const OSSL_DISPATCH sig_functions[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_update },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_final },
	{ OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_params },
	{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,
	    (void (*)(void))sig_gettable_params },
	{ 0, NULL }
};

/* --- the provider ---------------------------------------------------------- */

/*
 * "EC" and "RSA" so that EVP_PKEY_eq() matches our keys with the default
 * provider's (it compares key types by name); only in our own library
 * context, where nothing else looks for them.
 */
static const OSSL_ALGORITHM prov_keymgmt[] = {
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", PROV_PROPS, km_functions,
	    "Lanyard: EC key on a PKCS#11 token" },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", PROV_PROPS, km_functions,
	    "Lanyard: RSA key on a PKCS#11 token" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM prov_signature[] = {
	{ PROV_SIG_NAME, PROV_PROPS, sig_functions,
	    "Lanyard: signature on a pool of PKCS#11 sessions" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *
prov_query(void *provctx, int operation_id, int *no_cache)
{
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return prov_keymgmt;
	case OSSL_OP_SIGNATURE:
		return prov_signature;
	}
	return NULL;
}

static const OSSL_DISPATCH prov_functions[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query },
	{ 0, NULL }
};

static int
prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	*out = prov_functions;
	*provctx = (void *)handle;
	return 1;
}

static void
prov_start(void)
{
	if ((prov.libctx = OSSL_LIB_CTX_new()) == NULL ||
	    !OSSL_PROVIDER_add_builtin(prov.libctx, PROV_NAME, prov_init) ||
	    (prov.prov = OSSL_PROVIDER_load(prov.libctx, PROV_NAME)) == NULL) {
		ly_log_crypto("lanyard-p11 provider");
		prov.failed = 1;
	}
}

int
hsm_pool_pkey(struct hsm_pool *p, EVP_PKEY **pkeyp)
{
	EVP_PKEY_CTX	*ctx = NULL;
	EVP_PKEY	*pkey = NULL;
	OSSL_PARAM	 params[2];
	void		*ptr = p;
	int		 r = LY_ERR_HSM;

	pthread_once(&prov.once, prov_start);
	if (prov.failed)
		return ly_fail(LY_ERR_INTERNAL, "the lanyard-p11 OpenSSL "
		    "provider could not be loaded");
	params[0] = OSSL_PARAM_construct_octet_string(PROV_PARAM_POOL, &ptr,
	    sizeof(ptr));
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(prov.libctx,
	    hsm_pool_alg(p)->ec ? "EC" : "RSA", PROV_PROPS)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1) {
		ly_log_crypto("hsm_pool_pkey");
		r = ly_fail(LY_ERR_INTERNAL, "no OpenSSL key for the token "
		    "key (lanyard-p11)");
		goto out;
	}
	*pkeyp = pkey;
	r = 0;
 out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}
