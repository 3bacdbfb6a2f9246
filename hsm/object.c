/*
 * hsm/object.c — what is on a token, through the raw function list:
 * slots, objects and their attributes, public keys read from public key
 * objects, and certificate objects stored beside keys (hsm_cert_store()).
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

void
hsm_fixstr(char *dst, const unsigned char *src, size_t n)
{
	memcpy(dst, src, n);
	while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
		n--;
	dst[n] = '\0';
}

/* --- slots, objects, attributes -------------------------------------- */

int
hsm_slots_get(CK_SLOT_ID **slotsp, CK_ULONG *np)
{
	CK_SLOT_ID	*slots = NULL, *ns;
	CK_ULONG	 n = 0;
	CK_RV		 rv;
	int		 r = LY_ERR_HSM;

	if (hsm_p11() == NULL)
		return ly_fail(LY_ERR_HSM, "hsm_init() was not called");
	/* The list may grow between the two calls: loop until it fits. */
	for (;;) {
		if ((rv = hsm_p11()->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK) {
			r = hsm_fail_rv(LY_ERR_HSM, rv, "C_GetSlotList");
			goto out;
		}
		if ((ns = reallocarray(slots, n + 1, sizeof(*slots))) == NULL) {
			r = ly_fail(LY_ERR_ALLOC, "out of memory");
			goto out;
		}
		slots = ns;
		rv = hsm_p11()->C_GetSlotList(CK_TRUE, slots, &n);
		if (rv == CKR_OK)
			break;
		if (rv != CKR_BUFFER_TOO_SMALL) {
			r = hsm_fail_rv(LY_ERR_HSM, rv, "C_GetSlotList");
			goto out;
		}
	}
	*slotsp = slots;
	*np = n;
	slots = NULL;
	r = 0;
 out:
	free(slots);
	return r;
}

int
hsm_slot_find(const struct hsm_uri *u, CK_SLOT_ID *slotp,
    CK_TOKEN_INFO *infop)
{
	CK_SLOT_ID	*slots = NULL;
	CK_TOKEN_INFO	 ti;
	CK_ULONG	 i, n;
	CK_RV		 rv, bad = CKR_OK;
	int		 found = 0, r;

	if ((r = hsm_slots_get(&slots, &n)) != 0)
		return r;
	r = LY_ERR_HSM;
	for (i = 0; i < n; i++) {
		if ((rv = hsm_p11()->C_GetTokenInfo(slots[i], &ti)) != CKR_OK) {
			/* A token pulled out meanwhile is simply not there. */
			ly_log(LY_LOG_DEBUG, "slot %lu: C_GetTokenInfo: %s",
			    (unsigned long)slots[i], pkcs11h_getMessage(rv));
			if (rv != CKR_TOKEN_NOT_PRESENT)
				bad = rv;
			continue;
		}
		if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0 ||
		    !p11_kit_uri_match_token_info(u->p11, &ti))
			continue;
		if (found++ == 0) {
			*slotp = slots[i];
			if (infop != NULL)
				*infop = ti;
		}
	}
	/*
	 * A slot whose token does not answer may hold ours: a module that
	 * lost its view of the token (SoftHSM when the token directory
	 * went away) says so, and hsm_recover() may mend it. A token that
	 * is not there at all is no proof either: SoftHSM shows a token
	 * whose token.object another process is rewriting (or a crash
	 * emptied, until the guard restores it) as uninitialised. So no
	 * token is LY_ERR_HSM, to be tried again, never LY_ERR_NOT_FOUND:
	 * that one says an object is not on a token that is there.
	 */
	if (found == 0 && bad != CKR_OK)
		r = hsm_fail_rv(LY_ERR_HSM, bad, "PKCS#11 URI \"%s\": no token "
		    "labelled %s answers (C_GetTokenInfo)", u->text, u->token);
	else if (found == 0)
		r = ly_fail(LY_ERR_HSM, "PKCS#11 URI \"%s\": no token "
		    "labelled %s (not there, or not initialised)", u->text,
		    u->token);
	else if (found > 1)
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": %d tokens "
		    "match; add serial= to the URI", u->text, found);
	else
		r = 0;
	free(slots);
	ERR_clear_error();
	return r;
}

int
hsm_objects_find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
    const unsigned char *id, size_t idlen, CK_OBJECT_HANDLE *hs, size_t max,
    size_t *np)
{
	CK_ATTRIBUTE	 t[3];
	CK_ULONG	 nt = 0, n = 0;
	CK_RV		 rv;

	if (cls != HSM_CLASS_ANY) {
		t[nt].type = CKA_CLASS;
		t[nt].pValue = &cls;
		t[nt++].ulValueLen = sizeof(cls);
	}
	if (label != NULL) {
		t[nt].type = CKA_LABEL;
		t[nt].pValue = (void *)label;
		t[nt++].ulValueLen = strlen(label);
	}
	if (id != NULL && idlen > 0) {
		t[nt].type = CKA_ID;
		t[nt].pValue = (void *)id;
		t[nt++].ulValueLen = idlen;
	}
	if ((rv = hsm_p11()->C_FindObjectsInit(s, t, nt)) != CKR_OK)
		return hsm_fail_rv(LY_ERR_HSM, rv, "C_FindObjectsInit");
	rv = hsm_p11()->C_FindObjects(s, hs, max, &n);
	(void)hsm_p11()->C_FindObjectsFinal(s);
	if (rv != CKR_OK)
		return hsm_fail_rv(LY_ERR_HSM, rv, "C_FindObjects");
	*np = n;
	return 0;
}

int
hsm_attr_get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
    unsigned char **vp, size_t *lenp)
{
	CK_ATTRIBUTE	 a = { type, NULL, 0 };
	CK_RV		 rv;

	if ((rv = hsm_p11()->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK)
		return hsm_fail_rv(LY_ERR_HSM, rv, "C_GetAttributeValue "
		    "(attribute 0x%lx)", (unsigned long)type);
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 65536)
		return ly_fail(LY_ERR_HSM, "attribute 0x%lx unavailable",
		    (unsigned long)type);
	if ((a.pValue = malloc(a.ulValueLen + 1)) == NULL)
		return ly_fail(LY_ERR_ALLOC, "out of memory");
	if ((rv = hsm_p11()->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
		free(a.pValue);
		return hsm_fail_rv(LY_ERR_HSM, rv, "C_GetAttributeValue "
		    "(attribute 0x%lx)", (unsigned long)type);
	}
	*vp = a.pValue;
	*lenp = a.ulValueLen;
	return 0;
}

/* --- public keys -------------------------------------------------------- */

/* EC public key from CKA_EC_PARAMS (a named curve) and CKA_EC_POINT. */
static int
pub_ec(const unsigned char *params, size_t plen, const unsigned char *point,
    size_t ptlen, const char *what, EVP_PKEY **pubp)
{
	ASN1_OBJECT		*oid = NULL;
	ASN1_OCTET_STRING	*os = NULL;
	OSSL_PARAM_BLD		*bld = NULL;
	OSSL_PARAM		*p = NULL;
	EVP_PKEY_CTX		*ctx = NULL;
	const unsigned char	*q;
	const char		*curve;
	int			 r = LY_ERR_HSM;

	q = params;
	if ((oid = d2i_ASN1_OBJECT(NULL, &q, (long)plen)) == NULL ||
	    q != params + plen ||
	    (curve = OSSL_EC_curve_nid2name(OBJ_obj2nid(oid))) == NULL) {
		r = ly_fail(LY_ERR_HSM, "%s: CKA_EC_PARAMS is not a known "
		    "named curve", what);
		goto out;
	}
	/*
	 * PKCS#11 says CKA_EC_POINT is a DER OCTET STRING (SoftHSM does so);
	 * some modules return the bare point. Take both.
	 */
	q = point;
	if ((os = d2i_ASN1_OCTET_STRING(NULL, &q, (long)ptlen)) != NULL &&
	    q == point + ptlen) {
		point = ASN1_STRING_get0_data(os);
		ptlen = (size_t)ASN1_STRING_length(os);
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    curve, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    point, ptlen) ||
	    (p = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, pubp, EVP_PKEY_PUBLIC_KEY, p) <= 0) {
		ly_log_crypto(what);
		r = ly_fail(LY_ERR_HSM, "%s: bad EC public key on the token",
		    what);
		goto out;
	}
	r = 0;
 out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(bld);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	return r;
}

/* RSA public key from CKA_MODULUS and CKA_PUBLIC_EXPONENT. */
static int
pub_rsa(const unsigned char *mod, size_t mlen, const unsigned char *exp,
    size_t elen, const char *what, EVP_PKEY **pubp)
{
	BIGNUM		*n = NULL, *e = NULL;
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*p = NULL;
	EVP_PKEY_CTX	*ctx = NULL;
	int		 r = LY_ERR_HSM;

	if ((n = BN_bin2bn(mod, (int)mlen, NULL)) == NULL ||
	    (e = BN_bin2bn(exp, (int)elen, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (p = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, pubp, EVP_PKEY_PUBLIC_KEY, p) <= 0) {
		ly_log_crypto(what);
		r = ly_fail(LY_ERR_HSM, "%s: bad RSA public key on the token",
		    what);
		goto out;
	}
	r = 0;
 out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return r;
}

int
hsm_pub_read(CK_SESSION_HANDLE s, const unsigned char *id, size_t idlen,
    const char *what, EVP_PKEY **pubp)
{
	CK_OBJECT_HANDLE o;
	CK_KEY_TYPE	 kt;
	unsigned char	*a = NULL, *b = NULL, *v = NULL;
	size_t		 alen, blen, n, vlen;
	int		 r;

	if ((r = hsm_objects_find(s, CKO_PUBLIC_KEY, NULL, id, idlen, &o, 1,
	    &n)) != 0)
		return r;
	if (n == 0)
		return ly_fail(LY_ERR_NOT_FOUND, "%s: no public key object",
		    what);
	if ((r = hsm_attr_get(s, o, CKA_KEY_TYPE, &v, &vlen)) != 0)
		return r;
	r = LY_ERR_HSM;
	if (vlen != sizeof(kt)) {
		r = ly_fail(LY_ERR_HSM, "%s: bad CKA_KEY_TYPE", what);
		goto out;
	}
	memcpy(&kt, v, sizeof(kt));
	if (kt == CKK_EC) {
		if ((r = hsm_attr_get(s, o, CKA_EC_PARAMS, &a, &alen)) != 0 ||
		    (r = hsm_attr_get(s, o, CKA_EC_POINT, &b, &blen)) != 0)
			goto out;
		r = pub_ec(a, alen, b, blen, what, pubp);
	} else if (kt == CKK_RSA) {
		if ((r = hsm_attr_get(s, o, CKA_MODULUS, &a, &alen)) != 0 ||
		    (r = hsm_attr_get(s, o, CKA_PUBLIC_EXPONENT, &b, &blen))
		    != 0)
			goto out;
		r = pub_rsa(a, alen, b, blen, what, pubp);
	} else
		r = ly_fail(LY_ERR_HSM, "%s: key type 0x%lx not supported",
		    what, (unsigned long)kt);
 out:
	free(a);
	free(b);
	free(v);
	return r;
}

/* --- certificate objects ---------------------------------------------- */

/*
 * Stores cert as a token certificate object labelled label with CKA_ID id.
 * *op (if not NULL) is the new object.
 */
int
hsm_cert_object_create(CK_SESSION_HANDLE s, X509 *cert, const char *label,
    const unsigned char *id, size_t idlen, const char *what,
    CK_OBJECT_HANDLE *op)
{
	CK_OBJECT_CLASS		 cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE	 ct = CKC_X_509;
	CK_BBOOL		 yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE	 o;
	CK_RV			 rv;
	unsigned char		*der = NULL, *subj = NULL, *iss = NULL;
	unsigned char		*ser = NULL;
	int			 derlen, subjlen, isslen, serlen, r = LY_ERR_HSM;

	if ((derlen = i2d_X509(cert, &der)) <= 0 ||
	    (subjlen = i2d_X509_NAME(X509_get_subject_name(cert), &subj)) <= 0 ||
	    (isslen = i2d_X509_NAME(X509_get_issuer_name(cert), &iss)) <= 0 ||
	    (serlen = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &ser))
	    <= 0) {
		ly_log_crypto(what);
		r = ly_fail(LY_ERR_INTERNAL, "%s: encoding the certificate",
		    what);
		goto out;
	}
	{
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },
			{ CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &no, sizeof(no) },
			{ CKA_LABEL, (void *)label, strlen(label) },
			{ CKA_ID, (void *)id, idlen },
			{ CKA_SUBJECT, subj, (CK_ULONG)subjlen },
			{ CKA_ISSUER, iss, (CK_ULONG)isslen },
			{ CKA_SERIAL_NUMBER, ser, (CK_ULONG)serlen },
			{ CKA_VALUE, der, (CK_ULONG)derlen },
		};

		rv = hsm_p11()->C_CreateObject(s, t, sizeof(t) / sizeof(t[0]),
		    &o);
	}
	if (rv != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "%s: storing the certificate "
		    "object", what);
		goto out;
	}
	if (op != NULL)
		*op = o;
	r = 0;
 out:
	OPENSSL_free(der);
	OPENSSL_free(subj);
	OPENSSL_free(iss);
	OPENSSL_free(ser);
	return r;
}

/*
 * The key's public key: from the public key object, else (a key made
 * elsewhere) from the certificate object now beside it.
 */
static int
key_public(CK_SESSION_HANDLE s, const unsigned char *id, size_t idlen,
    const char *what, EVP_PKEY **pubp)
{
	CK_OBJECT_HANDLE o;
	unsigned char	*der = NULL;
	const unsigned char *q;
	size_t		 n, len;
	X509		*x = NULL;
	int		 r;

	if ((r = hsm_pub_read(s, id, idlen, what, pubp)) != LY_ERR_NOT_FOUND)
		return r;
	if ((r = hsm_objects_find(s, CKO_CERTIFICATE, NULL, id, idlen, &o, 1,
	    &n)) != 0)
		return r;
	if (n == 0)
		return ly_fail(LY_ERR_NOT_FOUND, "%s: no public key or "
		    "certificate object to compare with", what);
	if ((r = hsm_attr_get(s, o, CKA_VALUE, &der, &len)) != 0)
		return r;
	q = der;
	if ((x = d2i_X509(NULL, &q, (long)len)) == NULL ||
	    (*pubp = X509_get_pubkey(x)) == NULL) {
		ly_log_crypto(what);
		r = ly_fail(LY_ERR_HSM, "%s: unreadable certificate object",
		    what);
	} else
		r = 0;
	X509_free(x);
	free(der);
	return r;
}

/*
 * Replaces the certificate object(s) beside the key of uri with cert,
 * labelled as the key. LY_ERR_ARG if cert's public key is not the key's.
 * The new object is stored before the old ones are destroyed, so the key
 * is never without a certificate object.
 */
int
hsm_cert_store(const char *uri, const char *pin, X509 *cert)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE privk, nobj, old[HSM_FIND_MAX], pk[2];
	CK_RV		 rv;
	struct hsm_uri	 u;
	EVP_PKEY	*pub = NULL;
	unsigned char	*id = NULL, *lab = NULL;
	char		 label[HSM_LABEL_MAX + 1], what[HSM_LABEL_MAX + 64];
	size_t		 idlen, lablen, nold, i, n;
	int		 r;

	if (cert == NULL || X509_get0_pubkey(cert) == NULL)
		return ly_fail(LY_ERR_ARG, "hsm_cert_store: no certificate");
	if (f == NULL)
		return ly_fail(LY_ERR_HSM, "hsm_init() was not called");
	if ((r = hsm_uri_parse(uri, 1, &u)) != 0)
		return r;
	snprintf(what, sizeof(what), "PKCS#11 URI \"%s\"", uri);
	hsm_admin_lock();
	if ((r = hsm_session_open(&u, pin, 1, &s, NULL)) != 0)
		goto out;
	if ((r = hsm_objects_find(s, CKO_PRIVATE_KEY,
	    u.has_object ? u.object : NULL, u.id, u.idlen, pk, 2, &n)) != 0)
		goto out;
	if (n != 1) {
		r = n == 0 ?
		    ly_fail(LY_ERR_NOT_FOUND, "%s: no private key", what) :
		    ly_fail(LY_ERR_CONFIG, "%s: several private keys match",
		    what);
		goto out;
	}
	privk = pk[0];
	if ((r = hsm_attr_get(s, privk, CKA_ID, &id, &idlen)) != 0 ||
	    (r = hsm_attr_get(s, privk, CKA_LABEL, &lab, &lablen)) != 0)
		goto out;
	if (lablen > HSM_LABEL_MAX || idlen == 0 || idlen > HSM_ID_MAX) {
		r = ly_fail(LY_ERR_HSM, "%s: key label or CKA_ID too long",
		    what);
		goto out;
	}
	memcpy(label, lab, lablen);
	label[lablen] = '\0';
	if ((r = key_public(s, id, idlen, what, &pub)) != 0)
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), pub) != 1) {
		r = ly_fail(LY_ERR_ARG, "%s: the certificate is for another "
		    "key", what);
		goto out;
	}
	if ((r = hsm_objects_find(s, CKO_CERTIFICATE, NULL, id, idlen, old,
	    HSM_FIND_MAX, &nold)) != 0)
		goto out;
	if ((r = hsm_cert_object_create(s, cert, label, id, idlen, what, &nobj))
	    != 0)
		goto out;
	for (i = 0; i < nold; i++) {
		if ((rv = f->C_DestroyObject(s, old[i])) != CKR_OK) {
			r = hsm_fail_rv(LY_ERR_HSM, rv, "%s: destroying the old "
			    "certificate object", what);
			goto out;
		}
	}
	r = 0;
 out:
	hsm_session_close(s);
	/* The new object in, the old ones out of the verified copy. */
	(void)hsm_guard_snapshot();
	hsm_admin_unlock();
	EVP_PKEY_free(pub);
	free(id);
	free(lab);
	hsm_uri_clear(&u);
	ERR_clear_error();
	return r;
}
