/*
 * ca/csr.c — CSR intake (PKCS#10, RFC 2986) and the key policy.
 *
 * A CSR is the one object a stranger hands us. It is decoded here and
 * nowhere else, in the order of rpki-client's crl_parse(): cap the size,
 * decode, refuse trailing bytes; then the key policy, then the signature.
 * Nothing in the CSR but its key reaches a certificate: the identity comes
 * from the admin or the token. The extensions a CSR requests are ignored,
 * except those that ask for more than the profile gives: a CSR that asks
 * to be a CA, to sign certificates or CRLs, or for a purpose the profile
 * does not grant is an attempt, not a clumsy client, and is refused.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/util.h"
#include "ca/ca.h"

#define CSR_PEM_BEGIN		"-----BEGIN"
#define RSA_E_MIN		65537
#define RSA_E_MAX_BITS		256	/* NIST SP 800-89 5.3.3: e < 2^256 */

/* DER of id-ecPublicKey (RFC 5480 2.1.1), the OID's content octets. */
static const unsigned char oid_ec_public_key[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01
};

/* The reason of the last OpenSSL error, for a message; clears the queue. */
static const char *
csr_ossl_reason(char *buf, size_t n)
{
	unsigned long e;

	if ((e = ERR_peek_last_error()) == 0)
		snprintf(buf, n, "no detail");
	else
		ERR_error_string_n(e, buf, n);
	ERR_clear_error();
	return buf;
}

/* Whether an untrusted string may go into a message as it is. */
static int
csr_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int
csr_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Enters (or, with skip, steps over) one DER element of the expected tag,
 * moving *pp and *lenp. Refuses indefinite lengths: a CSR is DER.
 * Returns 1 on success, 0 if the bytes are not what was expected.
 */
static int
csr_der_element(const unsigned char **pp, long *lenp, int want, int skip,
    long *elenp)
{
	const unsigned char *p = *pp;
	long elen;
	int tag, xclass, ret;

	ret = ASN1_get_object(&p, &elen, &tag, &xclass, *lenp);
	if ((ret & 0x80) || (ret & 0x01) || xclass != V_ASN1_UNIVERSAL ||
	    tag != want)
		return 0;
	if (skip)
		p += elen;
	*lenp -= (long)(p - *pp);
	*pp = p;
	/* Last: elenp may be lenp, to narrow the walk to this element. */
	if (elenp != NULL)
		*elenp = elen;
	return 1;
}

/*
 * Walks the DER down to the SubjectPublicKeyInfo's algorithm before
 * d2i_X509_REQ(): OpenSSL decodes the public key while it decodes the
 * CSR, and for an EC key with explicit parameters that means building a
 * group and decoding a point on it, arithmetic on curve parameters of the
 * sender's choosing (CVE-2022-0778 was an infinite loop there). RFC 5480
 * 2.1.1: namedCurve only. Anything that is not the shape of a
 * CertificationRequest (RFC 2986 4), or not DER (indefinite lengths), is
 * refused here already.
 */
static int
csr_der_precheck(const unsigned char *der, size_t derlen)
{
	const unsigned char *p = der;
	long len = (long)derlen, oidlen;

	/*
	 * CertificationRequest, CertificationRequestInfo, version, subject,
	 * SubjectPublicKeyInfo, AlgorithmIdentifier (narrowed to it), OID.
	 */
	if (!csr_der_element(&p, &len, V_ASN1_SEQUENCE, 0, NULL) ||
	    !csr_der_element(&p, &len, V_ASN1_SEQUENCE, 0, NULL) ||
	    !csr_der_element(&p, &len, V_ASN1_INTEGER, 1, NULL) ||
	    !csr_der_element(&p, &len, V_ASN1_SEQUENCE, 1, NULL) ||
	    !csr_der_element(&p, &len, V_ASN1_SEQUENCE, 0, NULL) ||
	    !csr_der_element(&p, &len, V_ASN1_SEQUENCE, 0, &len) ||
	    !csr_der_element(&p, &len, V_ASN1_OBJECT, 0, &oidlen))
		return ly_fail(LY_ERR_BAD_CSR, "CSR: not a PKCS#10 request "
		    "(malformed DER)");
	if (oidlen != (long)sizeof(oid_ec_public_key) ||
	    memcmp(p, oid_ec_public_key, sizeof(oid_ec_public_key)) != 0)
		return LY_OK;
	p += oidlen;
	len -= oidlen;
	if (!csr_der_element(&p, &len, V_ASN1_OBJECT, 1, NULL))
		return ly_fail(LY_ERR_KEY_POLICY, "EC key without a named "
		    "curve (explicit or implicit parameters) is not allowed "
		    "(RFC 5480 2.1.1)");
	return LY_OK;
}

/*
 * The library context CSRs are decoded in: the null provider only, so
 * that decoding leaves the subject's key alone. OpenSSL 3.0 decodes the
 * key of an X509_PUBKEY while it decodes the structure, opportunistically,
 * through a provider decoder whose set-up (OSSL_DECODER_CTX_new_for_pkey()
 * walks every key manager and decoder there is) cost about a seventh of
 * an enrollment's CPU. With no decoders the attempt fails quietly and
 * csr_key_decode() decodes the key, once, the cheap way where there is
 * one. Only the key is affected: X509_REQ_verify() takes the key we give
 * it. NULL (the default context) if it cannot be made.
 */
static OSSL_LIB_CTX	*csr_libctx;
/*
 * Public keys on P-256 and P-384 (their generators) to copy for a CSR's
 * point: EVP_PKEY_dup() copies the curve, which EVP_PKEY_fromdata()
 * builds from its name every time (8.6 us against 35 us here). NULL:
 * fromdata.
 */
static EVP_PKEY		*csr_curve_key[2];
static pthread_once_t	 csr_once = PTHREAD_ONCE_INIT;

/* A named-curve EC public key from its octets, without a decoder. */
static EVP_PKEY *
csr_key_fromdata(const char *curve, const unsigned char *pk, size_t pklen)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key = NULL;
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve, 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, (void *)pk, pklen);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* The public key that is the generator of curve nid, or NULL. */
static EVP_PKEY *
csr_curve_key_new(int nid)
{
	EC_GROUP *g;
	unsigned char *pk = NULL;
	size_t len;
	EVP_PKEY *key = NULL;

	if ((g = EC_GROUP_new_by_curve_name(nid)) != NULL &&
	    (len = EC_POINT_point2buf(g, EC_GROUP_get0_generator(g),
	    POINT_CONVERSION_UNCOMPRESSED, &pk, NULL)) > 0)
		key = csr_key_fromdata(OBJ_nid2sn(nid), pk, len);
	OPENSSL_free(pk);
	EC_GROUP_free(g);
	return key;
}

static void
csr_init(void)
{
	OSSL_LIB_CTX *ctx;

	if ((ctx = OSSL_LIB_CTX_new()) != NULL &&
	    OSSL_PROVIDER_load(ctx, "null") == NULL) {
		OSSL_LIB_CTX_free(ctx);
		ctx = NULL;
	}
	/* For the life of the process. */
	csr_libctx = ctx;
	csr_curve_key[0] = csr_curve_key_new(NID_X9_62_prime256v1);
	csr_curve_key[1] = csr_curve_key_new(NID_secp384r1);
	ERR_clear_error();
}

/*
 * A public key on P-256 (curve 0) or P-384 (1) from a point's octets,
 * without a decoder. Setting the point checks that it is on the curve,
 * as the decoder does.
 */
static EVP_PKEY *
csr_key_ec(int curve, const unsigned char *pk, int pklen)
{
	EVP_PKEY *key;

	if (csr_curve_key[curve] == NULL)
		return csr_key_fromdata(curve == 0 ? SN_X9_62_prime256v1 :
		    SN_secp384r1, pk, (size_t)pklen);
	if ((key = EVP_PKEY_dup(csr_curve_key[curve])) != NULL &&
	    EVP_PKEY_set1_encoded_public_key(key, pk, (size_t)pklen) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

/*
 * The curve of an uncompressed point on named P-256 (0) or P-384 (1),
 * the form devices send, or -1 for any other key or form.
 */
static int
csr_key_fast_curve(const X509_ALGOR *pa, const unsigned char *pk, int pklen)
{
	const ASN1_OBJECT *aobj;
	const void *pval;
	int ptype, nid;

	X509_ALGOR_get0(&aobj, &ptype, &pval, pa);
	if (OBJ_obj2nid(aobj) != NID_X9_62_id_ecPublicKey ||
	    ptype != V_ASN1_OBJECT || pklen < 1 || pk[0] != 0x04)
		return -1;
	nid = OBJ_obj2nid(pval);
	if (nid == NID_X9_62_prime256v1 && pklen == 1 + 2 * 32)
		return 0;
	if (nid == NID_secp384r1 && pklen == 1 + 2 * 48)
		return 1;
	return -1;
}

/*
 * Whether an EC key's point is compressed (SEC 1 2.3.3: 02 or 03). The
 * certificate would carry it as it is, and not every relying party
 * decodes that form (RFC 5480 2.2 makes only the uncompressed one a MUST).
 */
static int
csr_key_compressed(const X509_ALGOR *pa, const unsigned char *pk, int pklen)
{
	const ASN1_OBJECT *aobj;

	X509_ALGOR_get0(&aobj, NULL, NULL, pa);
	return OBJ_obj2nid(aobj) == NID_X9_62_id_ecPublicKey && pklen >= 1 &&
	    (pk[0] == 0x02 || pk[0] == 0x03);
}

/* Any key, through the SubjectPublicKeyInfo decoder of the default context. */
static EVP_PKEY *
csr_key_spki(X509_PUBKEY *xpk)
{
	const unsigned char *p;
	unsigned char *der = NULL;
	EVP_PKEY *key;
	int len;

	if ((len = i2d_X509_PUBKEY(xpk, &der)) <= 0)
		return NULL;
	p = der;
	key = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	return key;
}

/*
 * The CSR's subject public key. An uncompressed point on P-256 or P-384
 * is imported from its octets, which checks that it is on the curve as
 * the decoder would; anything else goes through the decoder as before.
 */
static int
csr_key_decode(X509_REQ *req, EVP_PKEY **keyp)
{
	X509_PUBKEY *xpk;
	X509_ALGOR *pa;
	const unsigned char *pk;
	EVP_PKEY *key;
	char buf[256];
	int pklen, curve;

	if ((xpk = X509_REQ_get_X509_PUBKEY(req)) != NULL &&
	    X509_PUBKEY_get0_param(NULL, &pk, &pklen, &pa, xpk) &&
	    csr_key_compressed(pa, pk, pklen))
		return ly_fail(LY_ERR_KEY_POLICY, "CSR: a compressed EC point: "
		    "send the uncompressed form, as relying parties such as "
		    "Go's crypto/x509 refuse certificates with compressed "
		    "points");
	if (xpk == NULL || !X509_PUBKEY_get0_param(NULL, &pk, &pklen, &pa, xpk))
		key = NULL;
	else if ((curve = csr_key_fast_curve(pa, pk, pklen)) >= 0)
		key = csr_key_ec(curve, pk, pklen);
	else
		key = csr_key_spki(xpk);
	if (key == NULL)
		return ly_fail(LY_ERR_BAD_CSR, "CSR: cannot decode the public "
		    "key (%s)", csr_ossl_reason(buf, sizeof(buf)));
	ERR_clear_error();
	*keyp = key;
	return LY_OK;
}

/* DER to X509_REQ and its key, refusing trailing bytes and unknown versions. */
static int
csr_der_decode(const unsigned char *der, size_t len, X509_REQ **reqp,
    EVP_PKEY **keyp)
{
	const unsigned char *p = der;
	X509_REQ *req = NULL;
	char buf[256];
	int r = LY_ERR_INTERNAL;

	if ((r = csr_der_precheck(der, len)) != LY_OK)
		goto out;
	pthread_once(&csr_once, csr_init);
	if ((req = (X509_REQ *)ASN1_item_d2i_ex(NULL, &p, (long)len,
	    ASN1_ITEM_rptr(X509_REQ), csr_libctx, NULL)) == NULL) {
		r = ly_fail(LY_ERR_BAD_CSR, "CSR: not a PKCS#10 request (%s)",
		    csr_ossl_reason(buf, sizeof(buf)));
		goto out;
	}
	if (p != der + len) {
		r = ly_fail(LY_ERR_BAD_CSR, "CSR: %td bytes of trailing "
		    "garbage", der + len - p);
		goto out;
	}
	/* RFC 2986 4.1: version is 0; OpenSSL 3.0 does not check it. */
	if (X509_REQ_get_version(req) != X509_REQ_VERSION_1) {
		r = ly_fail(LY_ERR_BAD_CSR, "CSR: version %ld is not 0 "
		    "(RFC 2986 4.1)", X509_REQ_get_version(req));
		goto out;
	}
	if ((r = csr_key_decode(req, keyp)) != LY_OK)
		goto out;
	*reqp = req;
	req = NULL;	/* transferred */
	r = LY_OK;
 out:
	X509_REQ_free(req);
	return r;
}

/*
 * Exactly one PEM block labelled CERTIFICATE REQUEST (RFC 7468 7) or NEW
 * CERTIFICATE REQUEST (what old Netscape and MSIE tools write), with no
 * headers and nothing but white space after it.
 */
static int
csr_pem_decode(const unsigned char *data, size_t len, X509_REQ **reqp,
    EVP_PKEY **keyp)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL, *rest = NULL, buf[256];
	unsigned char *der = NULL;
	long derlen = 0, restlen, i;
	int r = LY_ERR_INTERNAL;

	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		r = ly_fail(LY_ERR_ALLOC, "BIO_new_mem_buf");
		goto out;
	}
	if (!PEM_read_bio(bio, &name, &header, &der, &derlen)) {
		r = ly_fail(LY_ERR_BAD_CSR, "CSR: bad PEM (%s)",
		    csr_ossl_reason(buf, sizeof(buf)));
		goto out;
	}
	if (strcmp(name, PEM_STRING_X509_REQ) != 0 &&
	    strcmp(name, PEM_STRING_X509_REQ_OLD) != 0) {
		r = ly_fail(LY_ERR_BAD_CSR, "CSR: PEM label \"%.64s\" is not "
		    "\"" PEM_STRING_X509_REQ "\"", csr_printable(name) ?
		    name : "(not printable)");
		goto out;
	}
	if (header[0] != '\0') {
		r = ly_fail(LY_ERR_BAD_CSR, "CSR: PEM headers are not allowed");
		goto out;
	}
	/* What the PEM reader has not consumed. */
	restlen = BIO_get_mem_data(bio, &rest);
	for (i = 0; i < restlen; i++)
		if (!csr_is_space((unsigned char)rest[i])) {
			r = ly_fail(LY_ERR_BAD_CSR, "CSR: %s after the PEM "
			    "block", restlen - i >= (long)strlen(CSR_PEM_BEGIN)
			    && memcmp(rest + i, CSR_PEM_BEGIN,
			    strlen(CSR_PEM_BEGIN)) == 0 ?
			    "a second PEM block" : "trailing garbage");
			goto out;
		}
	if (derlen <= 0) {
		r = ly_fail(LY_ERR_BAD_CSR, "CSR: empty PEM block");
		goto out;
	}
	r = csr_der_decode(der, (size_t)derlen, reqp, keyp);
 out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	return r;
}

int
ca_csr_parse(const unsigned char *data, size_t len, X509_REQ **reqp,
    EVP_PKEY **keyp)
{
	size_t off;

	if (data == NULL || len == 0)
		return ly_fail(LY_ERR_BAD_CSR, "CSR is empty");
	if (len > CA_CSR_MAX)
		return ly_fail(LY_ERR_TOO_LARGE, "CSR of %zu bytes is larger "
		    "than %d", len, CA_CSR_MAX);
	for (off = 0; off < len && csr_is_space(data[off]); off++)
		continue;
	if (off == len)
		return ly_fail(LY_ERR_BAD_CSR, "CSR is empty");
	if (len - off >= strlen(CSR_PEM_BEGIN) &&
	    memcmp(data + off, CSR_PEM_BEGIN, strlen(CSR_PEM_BEGIN)) == 0)
		return csr_pem_decode(data + off, len - off, reqp, keyp);
	/* DER starts with its SEQUENCE tag, so leading blanks are garbage. */
	return csr_der_decode(data, len, reqp, keyp);
}

/* ---- key policy -------------------------------------------------------- */

static const char *
csr_curve_label(const char *group)
{
	if (strcmp(group, SN_X9_62_prime256v1) == 0)
		return "P-256";
	if (strcmp(group, SN_secp384r1) == 0)
		return "P-384";
	return group;
}

static int
csr_key_check_ec(const struct conf_profile *prof, EVP_PKEY *pkey)
{
	char enc[32], group[80];
	unsigned int want = 0;

	/* Named curves only (RFC 5480 2.1.1), before looking any further. */
	if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING,
	    enc, sizeof(enc), NULL) ||
	    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
		ERR_clear_error();
		return ly_fail(LY_ERR_KEY_POLICY, "EC key with explicit "
		    "curve parameters is not allowed (RFC 5480 2.1.1)");
	}
	if (!EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL)) {
		ERR_clear_error();
		return ly_fail(LY_ERR_KEY_POLICY, "EC key on an unnamed curve "
		    "is not allowed");
	}
	if (strcmp(group, SN_X9_62_prime256v1) == 0)
		want = CONF_ALLOW_EC_P256;
	else if (strcmp(group, SN_secp384r1) == 0)
		want = CONF_ALLOW_EC_P384;
	if (want != 0 && (prof->key_types & want) != 0)
		return LY_OK;
	switch (prof->key_types & (CONF_ALLOW_EC_P256 | CONF_ALLOW_EC_P384)) {
	case CONF_ALLOW_EC_P256 | CONF_ALLOW_EC_P384:
		return ly_fail(LY_ERR_KEY_POLICY, "EC curve %s is not allowed "
		    "(allowed: P-256, P-384)", csr_curve_label(group));
	case CONF_ALLOW_EC_P256:
		return ly_fail(LY_ERR_KEY_POLICY, "EC curve %s is not allowed "
		    "(allowed: P-256)", csr_curve_label(group));
	case CONF_ALLOW_EC_P384:
		return ly_fail(LY_ERR_KEY_POLICY, "EC curve %s is not allowed "
		    "(allowed: P-384)", csr_curve_label(group));
	default:
		return ly_fail(LY_ERR_KEY_POLICY, "EC keys are not allowed by "
		    "this profile");
	}
}

static int
csr_key_check_rsa(const struct conf_profile *prof, EVP_PKEY *pkey)
{
	BIGNUM *e = NULL;
	int bits, r = LY_ERR_KEY_POLICY;

	if ((prof->key_types & CONF_ALLOW_RSA) == 0)
		return ly_fail(LY_ERR_KEY_POLICY, "RSA keys are not allowed by "
		    "this profile");
	bits = EVP_PKEY_get_bits(pkey);
	if (bits < prof->rsa_min_bits)
		return ly_fail(LY_ERR_KEY_POLICY, "RSA key of %d bits is below "
		    "the profile minimum of %d", bits, prof->rsa_min_bits);
	if (bits > prof->rsa_max_bits)
		return ly_fail(LY_ERR_KEY_POLICY, "RSA key of %d bits is above "
		    "the profile maximum of %d", bits, prof->rsa_max_bits);
	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e)) {
		ERR_clear_error();
		r = ly_fail(LY_ERR_KEY_POLICY, "RSA key without a public "
		    "exponent");
		goto out;
	}
	/* An even e has no inverse; a small one invites broadcast attacks. */
	if (!BN_is_odd(e) ||
	    BN_num_bits(e) > RSA_E_MAX_BITS ||
	    (BN_num_bits(e) <= 32 && BN_get_word(e) < RSA_E_MIN)) {
		r = ly_fail(LY_ERR_KEY_POLICY, "RSA public exponent must be "
		    "odd, at least %d and below 2^%d", RSA_E_MIN,
		    RSA_E_MAX_BITS);
		goto out;
	}
	r = LY_OK;
 out:
	BN_free(e);
	return r;
}

int
ca_key_check(const struct conf_profile *prof, EVP_PKEY *pkey)
{
	const char *type;

	if (pkey == NULL)
		return ly_fail(LY_ERR_KEY_POLICY, "no public key");
	if (EVP_PKEY_is_a(pkey, "EC"))
		return csr_key_check_ec(prof, pkey);
	if (EVP_PKEY_is_a(pkey, "RSA"))
		return csr_key_check_rsa(prof, pkey);
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		if ((prof->key_types & CONF_ALLOW_ED25519) == 0)
			return ly_fail(LY_ERR_KEY_POLICY, "Ed25519 keys are "
			    "not allowed by this profile");
		return LY_OK;
	}
	/*
	 * XXX RSA-PSS-restricted keys (id-RSASSA-PSS SPKI) are refused
	 * rather than checked: their parameters bind the key to one hash,
	 * which the certificate profile would then have to honour.
	 */
	if (EVP_PKEY_is_a(pkey, "RSA-PSS"))
		return ly_fail(LY_ERR_KEY_POLICY, "RSA-PSS-restricted keys are "
		    "not allowed; use an rsaEncryption key");
	if ((type = EVP_PKEY_get0_type_name(pkey)) == NULL)
		type = OBJ_nid2sn(EVP_PKEY_get_base_id(pkey));
	return ly_fail(LY_ERR_KEY_POLICY, "%s keys are not allowed",
	    type != NULL ? type : "unknown");
}

/* Whether the profile grants the purpose nid (an EKU OID's NID). */
static int
csr_eku_granted(const struct conf_profile *prof, int nid)
{
	switch (nid) {
	case NID_client_auth:
		return (prof->eku & CONF_EKU_CLIENT) != 0;
	case NID_server_auth:
		return (prof->eku & CONF_EKU_SERVER) != 0;
	case NID_OCSP_sign:
		return (prof->eku & CONF_EKU_OCSP) != 0;
	default:
		return 0;
	}
}

/*
 * At most one extension request attribute (PKCS#9 extensionRequest, or
 * Microsoft's), holding one value: SINGLE VALUE TRUE (RFC 2985 5.4.2).
 * X509_REQ_get_extensions() reads the first value of the first such
 * attribute only, so a second one (with CA:TRUE, say) would go unchecked.
 */
static int
csr_attr_check(X509_REQ *req)
{
	X509_ATTRIBUTE *a;
	int i, n, nid, seen = 0;

	n = X509_REQ_get_attr_count(req);
	for (i = 0; i < n; i++) {
		if ((a = X509_REQ_get_attr(req, i)) == NULL)
			return ly_fail(LY_ERR_BAD_CSR, "CSR: an attribute "
			    "does not decode");
		nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a));
		if (nid != NID_ext_req && nid != NID_ms_ext_req)
			continue;
		if (seen++ > 0)
			return ly_fail(LY_ERR_BAD_CSR, "CSR has more than one "
			    "extensionRequest attribute");
		if (X509_ATTRIBUTE_count(a) != 1)
			return ly_fail(LY_ERR_BAD_CSR, "CSR: its "
			    "extensionRequest attribute has %d values, not "
			    "one", X509_ATTRIBUTE_count(a));
	}
	return LY_OK;
}

/* The requested extensions: no OID twice, and nothing beyond the profile. */
static int
csr_ext_check(const struct conf_profile *prof, X509_REQ *req)
{
	STACK_OF(X509_EXTENSION) *exts;
	X509_EXTENSION *e;
	BASIC_CONSTRAINTS *bc = NULL;
	ASN1_BIT_STRING *ku = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	char name[80];
	int i, j, n, nid, r = LY_OK;

	if ((r = csr_attr_check(req)) != LY_OK)
		return r;
	/* NULL for "none" and for an attribute that does not decode. */
	if ((exts = X509_REQ_get_extensions(req)) == NULL) {
		ERR_clear_error();
		if (X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) >= 0 ||
		    X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1) >= 0)
			return ly_fail(LY_ERR_BAD_CSR, "CSR: its extension "
			    "request does not decode");
		return LY_OK;
	}
	n = sk_X509_EXTENSION_num(exts);
	for (i = 0; i < n && r == LY_OK; i++) {
		e = sk_X509_EXTENSION_value(exts, i);
		nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
		if (nid != NID_undef)
			snprintf(name, sizeof(name), "%s", OBJ_nid2sn(nid));
		else
			OBJ_obj2txt(name, sizeof(name),
			    X509_EXTENSION_get_object(e), 1);
		for (j = 0; j < i; j++)
			if (OBJ_cmp(X509_EXTENSION_get_object(e),
			    X509_EXTENSION_get_object(
			    sk_X509_EXTENSION_value(exts, j))) == 0)
				break;
		if (j < i) {
			r = ly_fail(LY_ERR_BAD_CSR, "CSR requests the %s "
			    "extension twice", name);
			break;
		}
		switch (nid) {
		case NID_basic_constraints:
			if ((bc = X509V3_EXT_d2i(e)) == NULL)
				r = ly_fail(LY_ERR_BAD_CSR, "CSR: basicConstraints "
				    "does not decode");
			else if (bc->ca)
				r = ly_fail(LY_ERR_POLICY, "CSR asks to be a CA");
			BASIC_CONSTRAINTS_free(bc);
			bc = NULL;
			break;
		case NID_key_usage:
			if ((ku = X509V3_EXT_d2i(e)) == NULL)
				r = ly_fail(LY_ERR_BAD_CSR, "CSR: keyUsage does "
				    "not decode");
			else if (ASN1_BIT_STRING_get_bit(ku, 5) ||
			    ASN1_BIT_STRING_get_bit(ku, 6))
				r = ly_fail(LY_ERR_POLICY, "CSR asks to sign "
				    "certificates or CRLs");
			ASN1_BIT_STRING_free(ku);
			ku = NULL;
			break;
		case NID_ext_key_usage:
			if ((eku = X509V3_EXT_d2i(e)) == NULL) {
				r = ly_fail(LY_ERR_BAD_CSR, "CSR: extendedKeyUsage "
				    "does not decode");
				break;
			}
			for (j = 0; j < sk_ASN1_OBJECT_num(eku); j++) {
				ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, j);

				if (csr_eku_granted(prof, OBJ_obj2nid(o)))
					continue;
				/* The short name (codeSigning), else the OID. */
				if (OBJ_obj2nid(o) != NID_undef)
					snprintf(name, sizeof(name), "%s",
					    OBJ_nid2sn(OBJ_obj2nid(o)));
				else
					OBJ_obj2txt(name, sizeof(name), o, 1);
				r = ly_fail(LY_ERR_POLICY, "CSR asks for the "
				    "purpose %s, which profile %s does not "
				    "grant", name, prof->name);
				break;
			}
			EXTENDED_KEY_USAGE_free(eku);
			eku = NULL;
			break;
		default:
			break;
		}
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return r;
}

int
ca_csr_check(const struct conf_profile *prof, X509_REQ *req, EVP_PKEY *pkey)
{
	char buf[256];
	int r;

	if (pkey == NULL)
		return ly_fail(LY_ERR_BAD_CSR, "CSR: no public key");
	/* The policy first: no signature arithmetic on a refused key. */
	if ((r = ca_key_check(prof, pkey)) != LY_OK)
		return r;
	if (X509_REQ_verify(req, pkey) != 1)
		return ly_fail(LY_ERR_CSR_SIGNATURE, "CSR self-signature does "
		    "not verify (%s)", csr_ossl_reason(buf, sizeof(buf)));
	return csr_ext_check(prof, req);
}
