/*
 * hsm/keygen.c — key generation: a key pair generated on the token
 * through the raw function list under the admin lock, with a placeholder
 * certificate object beside it so that hsm_key_open() finds the key (by
 * the certificate's CKA_ID) at once.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"

/* How long a placeholder certificate claims to be valid. */
#define HSM_PLACEHOLDER_DAYS	1

/*
 * A certificate for pub, signed by a throw-away software key: it only has
 * to carry the public key and CKA_ID so hsm_key_open() finds the private key.
 */
static int
placeholder_build(EVP_PKEY *pub, const char *label, X509 **certp)
{
	X509		*x = NULL;
	X509_NAME	*name = NULL;
	EVP_PKEY	*eph = NULL;
	BIGNUM		*bn = NULL;
	time_t		 now = ly_now();
	int		 r = LY_ERR_INTERNAL;

	if ((x = X509_new()) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    (bn = BN_new()) == NULL ||
	    !BN_rand(bn, 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    (name = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)"Lanyard placeholder", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)label, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, name) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), now) == NULL ||
	    ASN1_TIME_adj(X509_getm_notAfter(x), now, HSM_PLACEHOLDER_DAYS, 0)
	    == NULL ||
	    !X509_set_pubkey(x, pub) ||
	    (eph = EVP_EC_gen("P-256")) == NULL ||
	    X509_sign(x, eph, EVP_sha256()) <= 0) {
		ly_log_crypto("placeholder certificate");
		r = ly_fail(LY_ERR_INTERNAL, "object %s: building the "
		    "placeholder certificate", label);
		goto out;
	}
	*certp = x;
	x = NULL;
	r = 0;
 out:
	X509_free(x);
	X509_NAME_free(name);
	EVP_PKEY_free(eph);
	BN_free(bn);
	return r;
}

/* --- key generation --------------------------------------------------- */

/* Generates the pair with label and id; *pubkp, *privkp are the handles. */
static int
keypair_generate(CK_SESSION_HANDLE s, enum conf_keytype kt, const char *label,
    const unsigned char *id, size_t idlen, const char *what,
    CK_OBJECT_HANDLE *pubkp, CK_OBJECT_HANDLE *privkp)
{
	CK_MECHANISM	 mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL	 yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG	 bits = 0;
	CK_BYTE		 e65537[] = { 0x01, 0x00, 0x01 };
	CK_RV		 rv;
	unsigned char	*params = NULL;
	int		 nid = NID_undef, plen = 0, r = LY_ERR_HSM;
	/*
	 * A CA or OCSP signer key signs and does nothing else: a key that
	 * also decrypts, unwraps or derives could be made to serve as an
	 * oracle for whoever holds a session (RFC 5280's keyUsage says the
	 * same of the certificate; this is the token's half of it).
	 */
	CK_ATTRIBUTE	 pubt[10], privt[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_SIGN_RECOVER, &no, sizeof(no) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, (void *)id, idlen },
	};
	CK_ULONG	 npub = 0;

	switch (kt) {
	case CONF_KEY_EC_P256:
		nid = NID_X9_62_prime256v1;
		break;
	case CONF_KEY_EC_P384:
		nid = NID_secp384r1;
		break;
	case CONF_KEY_RSA_2048:
		bits = 2048;
		break;
	case CONF_KEY_RSA_3072:
		bits = 3072;
		break;
	case CONF_KEY_RSA_4096:
		bits = 4096;
		break;
	default:
		return ly_fail(LY_ERR_ARG, "%s: unknown key type %d", what,
		    (int)kt);
	}
	pubt[npub++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	pubt[npub++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &no, sizeof(no) };
	pubt[npub++] = (CK_ATTRIBUTE){ CKA_VERIFY, &yes, sizeof(yes) };
	pubt[npub++] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &no, sizeof(no) };
	pubt[npub++] = (CK_ATTRIBUTE){ CKA_WRAP, &no, sizeof(no) };
	pubt[npub++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label,
	    strlen(label) };
	pubt[npub++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, idlen };
	if (nid != NID_undef) {
		/* CKA_EC_PARAMS is the DER of the curve's OID. */
		if ((plen = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &params)) <= 0) {
			ly_log_crypto(what);
			r = ly_fail(LY_ERR_INTERNAL, "%s: encoding the curve",
			    what);
			goto out;
		}
		pubt[npub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, params,
		    (CK_ULONG)plen };
	} else {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		pubt[npub++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits,
		    sizeof(bits) };
		pubt[npub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, e65537,
		    sizeof(e65537) };
	}
	rv = hsm_p11()->C_GenerateKeyPair(s, &mech, pubt, npub, privt,
	    sizeof(privt) / sizeof(privt[0]), pubkp, privkp);
	if (rv != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "%s: C_GenerateKeyPair", what);
		goto out;
	}
	r = 0;
 out:
	OPENSSL_free(params);
	return r;
}

/*
 * The private key priv labelled label has no certificate object beside
 * it (its CKA_ID): a process killed between the key pair and the
 * placeholder. Stores the placeholder, as hsm_keygen() would have, so
 * that the key opens; 0 also when there was one.
 */
static int
placeholder_repair(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
    const char *label, const char *what)
{
	CK_OBJECT_HANDLE c;
	unsigned char *id = NULL;
	EVP_PKEY *pub = NULL;
	X509 *cert = NULL;
	size_t idlen = 0, n = 0;
	int r;

	if ((r = hsm_attr_get(s, priv, CKA_ID, &id, &idlen)) != 0)
		return r;
	if ((r = hsm_objects_find(s, CKO_CERTIFICATE, NULL, id, idlen, &c, 1,
	    &n)) != 0 || n > 0)
		goto out;
	if ((r = hsm_pub_read(s, id, idlen, what, &pub)) != 0 ||
	    (r = placeholder_build(pub, label, &cert)) != 0 ||
	    (r = hsm_cert_object_create(s, cert, label, id, idlen, what,
	    NULL)) != 0)
		goto out;
	ly_log(LY_LOG_WARN, "%s: the key had no certificate object beside it "
	    "(an interrupted generation): placeholder stored", what);
 out:
	free(id);
	EVP_PKEY_free(pub);
	X509_free(cert);
	return r;
}

/* Destroys every object labelled label (none of them a private key). */
static int
debris_clear(CK_SESSION_HANDLE s, const char *label, const char *what)
{
	CK_OBJECT_HANDLE hs[8];
	CK_RV rv;
	size_t i, n;
	int r, rounds = 0;

	do {
		if ((r = hsm_objects_find(s, HSM_CLASS_ANY, label, NULL, 0, hs,
		    8, &n)) != 0)
			return r;
		for (i = 0; i < n; i++)
			if ((rv = hsm_p11()->C_DestroyObject(s, hs[i])) !=
			    CKR_OK)
				return hsm_fail_rv(LY_ERR_HSM, rv,
				    "C_DestroyObject");
		if (n > 0)
			ly_log(LY_LOG_WARN, "%s: %zu object(s) without a "
			    "private key, left by an interrupted generation, "
			    "removed", what, n);
	} while (n == 8 && ++rounds < 16);
	return 0;
}

/*
 * Generates a key pair of type kt on the token of uri, labelled with the
 * URI's object= and a random 16-byte CKA_ID, with a placeholder certificate
 * object beside it. The URI must not carry id= (the id is chosen here).
 * LY_ERR_EXISTS if a private key with that label exists (objects under
 * the label without one, debris of an interrupted generation, are
 * destroyed first); LY_ERR_CONFIG for a
 * bad URI; LY_ERR_HSM_PIN, LY_ERR_NOT_FOUND, LY_ERR_HSM as for logins.
 * On failure after generation the new objects are destroyed again.
 */
int
hsm_keygen(const char *uri, const char *pin, enum conf_keytype kt,
    EVP_PKEY **pubp)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE pubk = CK_INVALID_HANDLE, privk = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE hs[1];
	struct hsm_uri	 u;
	unsigned char	 id[HSM_ID_LEN];
	EVP_PKEY	*pub = NULL;
	X509		*cert = NULL;
	char		 what[HSM_LABEL_MAX + 64];
	size_t		 n;
	int		 r;

	if (f == NULL)
		return ly_fail(LY_ERR_HSM, "hsm_init() was not called");
	if ((r = hsm_uri_parse(uri, 1, &u)) != 0)
		return r;
	snprintf(what, sizeof(what), "token %s object %s", u.token, u.object);
	if (!u.has_object || u.idlen > 0) {
		hsm_uri_clear(&u);
		return ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": key "
		    "generation needs object= and no id=", uri);
	}
	hsm_admin_lock();
	if ((r = hsm_session_open(&u, pin, 1, &s, NULL)) != 0)
		goto out;
	if ((r = hsm_objects_find(s, CKO_PRIVATE_KEY, u.object, NULL, 0, hs,
	    1, &n)) != 0)
		goto out;
	if (n > 0) {
		/* A key the caller may take: it must open (hsm_key_open()). */
		if ((r = placeholder_repair(s, hs[0], u.object, what)) == 0)
			r = ly_fail(LY_ERR_EXISTS, "%s: an object with that "
			    "label exists", what);
		goto out;
	}
	/*
	 * A public key or certificate under the label without its private
	 * key: what a process killed in the middle of a generation leaves.
	 * It is no key (nothing can sign with it): cleared away, or the
	 * label would refuse every later try.
	 */
	if ((r = debris_clear(s, u.object, what)) != 0)
		goto out;
	if (RAND_bytes(id, sizeof(id)) != 1) {
		ly_log_crypto("RAND_bytes");
		r = ly_fail(LY_ERR_INTERNAL, "%s: no random CKA_ID", what);
		goto out;
	}
	if ((r = keypair_generate(s, kt, u.object, id, sizeof(id), what,
	    &pubk, &privk)) != 0)
		goto out;
	if ((r = hsm_pub_read(s, id, sizeof(id), what, &pub)) != 0)
		goto out;
	if ((r = placeholder_build(pub, u.object, &cert)) != 0)
		goto out;
	if ((r = hsm_cert_object_create(s, cert, u.object, id, sizeof(id), what,
	    NULL)) != 0)
		goto out;
	ly_log(LY_LOG_INFO, "%s: generated %s-%d key pair", what,
	    EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC ? "EC P" : "RSA",
	    EVP_PKEY_get_bits(pub));
	if (pubp != NULL) {
		*pubp = pub;
		pub = NULL;
	}
	r = 0;
 out:
	if (r != 0 && privk != CK_INVALID_HANDLE) {
		(void)f->C_DestroyObject(s, privk);
		(void)f->C_DestroyObject(s, pubk);
	}
	hsm_session_close(s);
	/* The new key's files join the verified copy. */
	if (privk != CK_INVALID_HANDLE)
		(void)hsm_guard_snapshot();
	hsm_admin_unlock();
	EVP_PKEY_free(pub);
	X509_free(cert);
	hsm_uri_clear(&u);
	ERR_clear_error();
	return r;
}
