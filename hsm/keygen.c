/*
 * hsm/keygen.c — the raw PKCS#11 side: RFC 7512 URIs (p11-kit's parser),
 * slots, objects and attributes, and what pkcs11-helper cannot do:
 * initialise a token, generate a key pair on it, and put certificate
 * objects beside keys. All of it goes through the raw function list under
 * the admin lock.
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

void
hsm_fixstr(char *dst, const unsigned char *src, size_t n)
{
	memcpy(dst, src, n);
	while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
		n--;
	dst[n] = '\0';
}

/* --- URIs --------------------------------------------------------------- */

int
hsm_uri_parse(const char *text, int need_object, struct hsm_uri *u)
{
	CK_TOKEN_INFO	*ti;
	CK_ATTRIBUTE	*a;
	int		 pr, r = LY_ERR_CONFIG;

	memset(u, 0, sizeof(*u));
	u->text = text != NULL ? text : "(null)";
	if (text == NULL)
		return ly_fail(LY_ERR_CONFIG, "no PKCS#11 URI");
	if ((u->p11 = p11_kit_uri_new()) == NULL)
		return ly_fail(LY_ERR_ALLOC, "out of memory");
	pr = p11_kit_uri_parse(text, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, u->p11);
	if (pr != P11_KIT_URI_OK) {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": %s", text,
		    p11_kit_uri_message(pr));
		goto out;
	}
	/* A PIN belongs in a protected file, not in ca.conf. */
	if (p11_kit_uri_get_pin_value(u->p11) != NULL ||
	    p11_kit_uri_get_pin_source(u->p11) != NULL) {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": pin-value and "
		    "pin-source are not allowed; use a PIN file", text);
		goto out;
	}
	ti = p11_kit_uri_get_token_info(u->p11);
	hsm_fixstr(u->token, ti->label, sizeof(ti->label));
	if (u->token[0] == '\0') {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": no token= "
		    "label", text);
		goto out;
	}
	if ((a = p11_kit_uri_get_attribute(u->p11, CKA_LABEL)) != NULL) {
		if (a->ulValueLen == 0 || a->ulValueLen > HSM_LABEL_MAX ||
		    memchr(a->pValue, '\0', a->ulValueLen) != NULL) {
			r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": bad "
			    "object= label", text);
			goto out;
		}
		memcpy(u->object, a->pValue, a->ulValueLen);
		u->object[a->ulValueLen] = '\0';
		u->has_object = 1;
	}
	if ((a = p11_kit_uri_get_attribute(u->p11, CKA_ID)) != NULL) {
		if (a->ulValueLen == 0 || a->ulValueLen > HSM_ID_MAX) {
			r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": id= "
			    "empty or longer than %d bytes", text, HSM_ID_MAX);
			goto out;
		}
		memcpy(u->id, a->pValue, a->ulValueLen);
		u->idlen = a->ulValueLen;
	}
	if (need_object && !u->has_object && u->idlen == 0) {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": no object= or "
		    "id=", text);
		goto out;
	}
	r = 0;
 out:
	if (r != 0) {
		p11_kit_uri_free(u->p11);
		u->p11 = NULL;
	}
	return r;
}

void
hsm_uri_clear(struct hsm_uri *u)
{
	if (u->p11 != NULL)
		p11_kit_uri_free(u->p11);
	u->p11 = NULL;
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

/* --- tokens ----------------------------------------------------------- */

/* Pads label with blanks into a PKCS#11 32-byte label field. */
static void
label_pad(unsigned char out[32], const char *label)
{
	size_t	len = strlen(label);

	memset(out, ' ', 32);
	memcpy(out, label, len > 32 ? 32 : len);
}

/*
 * Scans the slots: *labelledp is set if an initialised token is labelled
 * label (its slot in *lslotp), *freep if some slot holds an uninitialised
 * token (the first in *fslotp).
 */
static int
token_slots_scan(const char *label, CK_SLOT_ID *lslotp, int *labelledp,
    CK_SLOT_ID *fslotp, int *freep)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();
	CK_SLOT_ID	*slots = NULL;
	CK_TOKEN_INFO	 ti;
	CK_ULONG	 i, n;
	char		 tl[33];
	int		 r;

	*labelledp = *freep = 0;
	if ((r = hsm_slots_get(&slots, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0) {
			if (!*freep) {
				*fslotp = slots[i];
				*freep = 1;
			}
			continue;
		}
		hsm_fixstr(tl, ti.label, sizeof(ti.label));
		if (strcmp(tl, label) == 0 && !*labelledp) {
			*lslotp = slots[i];
			*labelledp = 1;
		}
	}
	free(slots);
	return 0;
}

int
hsm_uri_token(const char *uri, char label[33])
{
	struct hsm_uri u;
	int r;

	memset(&u, 0, sizeof(u));
	if ((r = hsm_uri_parse(uri, 0, &u)) == LY_OK)
		memcpy(label, u.token, sizeof(u.token));
	hsm_uri_clear(&u);
	return r;
}

int
hsm_uri_sibling(const char *uri, const char *object, char **outp)
{
	struct hsm_uri u;
	CK_ATTRIBUTE a;
	char *s = NULL;
	int r;

	if (object == NULL || *object == '\0' ||
	    strlen(object) > HSM_LABEL_MAX)
		return ly_fail(LY_ERR_CONFIG, "bad object label");
	if ((r = hsm_uri_parse(uri, 0, &u)) != LY_OK)
		return r;
	r = LY_ERR_CONFIG;
	(void)p11_kit_uri_clear_attribute(u.p11, CKA_ID);
	(void)p11_kit_uri_clear_attribute(u.p11, CKA_CLASS);
	a.type = CKA_LABEL;
	a.pValue = (void *)object;
	a.ulValueLen = (CK_ULONG)strlen(object);
	if (p11_kit_uri_set_attribute(u.p11, &a) != P11_KIT_URI_OK ||
	    p11_kit_uri_format(u.p11, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s) !=
	    P11_KIT_URI_OK) {
		r = ly_fail(LY_ERR_CONFIG, "PKCS#11 URI \"%s\": cannot name "
		    "object %s beside it", uri, object);
		goto out;
	}
	*outp = s;
	s = NULL;
	r = LY_OK;
 out:
	free(s);
	hsm_uri_clear(&u);
	return r;
}

/*
 * Initialises a new token labelled label on the first slot with no
 * initialised token, with the given SO and user PINs. LY_ERR_EXISTS if a
 * token with that label exists, LY_ERR_HSM if there is no free slot or the
 * module fails. pkcs11-helper needs no refresh: it asks for the slot list
 * afresh whenever it looks for a token.
 */
int
hsm_token_init(const char *label, const char *so_pin, const char *user_pin)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_SLOT_ID	 slot = 0, fslot = 0;
	CK_RV		 rv;
	unsigned char	 plabel[32];
	int		 labelled, freeslot, loggedin = 0, r;

	if (label == NULL || *label == '\0' || strlen(label) > 32 ||
	    so_pin == NULL || *so_pin == '\0' || user_pin == NULL ||
	    *user_pin == '\0')
		return ly_fail(LY_ERR_ARG, "hsm_token_init: label of 1 to 32 "
		    "bytes and both PINs needed");
	if (f == NULL)
		return ly_fail(LY_ERR_HSM, "hsm_init() was not called");
	hsm_admin_lock();
	if ((r = token_slots_scan(label, &slot, &labelled, &fslot, &freeslot))
	    != 0)
		goto out;
	r = LY_ERR_HSM;
	if (labelled) {
		r = ly_fail(LY_ERR_EXISTS, "token %s already exists (slot %lu)",
		    label, (unsigned long)slot);
		goto out;
	}
	if (!freeslot) {
		r = ly_fail(LY_ERR_HSM, "token %s: no slot with an "
		    "uninitialised token", label);
		goto out;
	}
	label_pad(plabel, label);
	if ((rv = f->C_InitToken(fslot, (CK_UTF8CHAR_PTR)so_pin,
	    (CK_ULONG)strlen(so_pin), plabel)) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "token %s: C_InitToken on "
		    "slot %lu", label, (unsigned long)fslot);
		goto out;
	}
	/* SoftHSM gives the new token another slot id: look it up anew. */
	if ((r = token_slots_scan(label, &slot, &labelled, &fslot, &freeslot))
	    != 0)
		goto out;
	r = LY_ERR_HSM;
	if (!labelled) {
		r = ly_fail(LY_ERR_HSM, "token %s: not found after "
		    "C_InitToken", label);
		goto out;
	}
	if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &s)) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "token %s: C_OpenSession",
		    label);
		goto out;
	}
	if ((rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin,
	    (CK_ULONG)strlen(so_pin))) != CKR_OK) {
		r = hsm_fail_rv(LY_ERR_HSM, rv, "token %s: SO login", label);
		goto out;
	}
	loggedin = 1;
	if ((rv = f->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin,
	    (CK_ULONG)strlen(user_pin))) != CKR_OK) {
		r = hsm_fail_rv(rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID ?
		    LY_ERR_HSM_PIN : LY_ERR_HSM, rv, "token %s: C_InitPIN",
		    label);
		goto out;
	}
	ly_log(LY_LOG_INFO, "token %s: initialised on slot %lu", label,
	    (unsigned long)slot);
	r = 0;
 out:
	/* Nobody else can be logged into a token made a moment ago. */
	if (loggedin)
		(void)f->C_Logout(s);
	if (s != CK_INVALID_HANDLE)
		hsm_session_close(s);
	/* The new token's first verified copy (the guard's, if on). */
	if (r == 0)
		(void)hsm_guard_snapshot();
	hsm_admin_unlock();
	ERR_clear_error();
	return r;
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
static int
cert_object_create(CK_SESSION_HANDLE s, X509 *cert, const char *label,
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
 * A certificate for pub, signed by a throw-away software key: it only has
 * to carry the public key and CKA_ID so pkcs11-helper finds the private key.
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
 * Generates a key pair of type kt on the token of uri, labelled with the
 * URI's object= and a random 16-byte CKA_ID, with a placeholder certificate
 * object beside it. The URI must not carry id= (the id is chosen here).
 * LY_ERR_EXISTS if an object with that label exists; LY_ERR_CONFIG for a
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
	if ((r = hsm_objects_find(s, HSM_CLASS_ANY, u.object, NULL, 0, hs, 1,
	    &n)) != 0)
		goto out;
	if (n > 0) {
		r = ly_fail(LY_ERR_EXISTS, "%s: an object with that label "
		    "exists", what);
		goto out;
	}
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
	if ((r = cert_object_create(s, cert, u.object, id, sizeof(id), what,
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
	if ((r = cert_object_create(s, cert, label, id, idlen, what, &nobj))
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
