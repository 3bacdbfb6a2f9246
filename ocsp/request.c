/*
 * ocsp/request.c — the one place that decodes OCSP requests (RFC 6960
 * 4.1), bytes anyone may send. In the order rpki-client's parsers use: cap
 * the size, d2i, refuse trailing bytes, then check every part to the
 * letter: the CertIDs and their hash algorithms, the extensions (RFC 6960
 * 4.4; RFC 8954 for the nonce). What is refused gets a malformedRequest
 * from the caller. Nothing here logs above debug level.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "ocsp/extern.h"
#include "util/util.h"

/* Why a request is refused, at debug level; OpenSSL's queue is cleared. */
static int
refuse(const char *why)
{
	ERR_clear_error();
	ly_log(LY_LOG_DEBUG, "ocsp: malformed request: %s", why);
	return ly_fail(LY_ERR_BAD_INPUT, "malformed OCSP request: %s", why);
}

/* RFC 6960 4.1.1 with RFC 5019 2.1.1 and SHA-2: the hashes we compute. */
static int
hash_allowed(int nid)
{
	return nid == NID_sha1 || nid == NID_sha256 || nid == NID_sha384 ||
	    nid == NID_sha512;
}

/* The nonce's value is an OCTET STRING of 1 to 32 octets (RFC 8954 2.1). */
static int
nonce_check(X509_EXTENSION *ext)
{
	const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(ext);
	const unsigned char *p = ASN1_STRING_get0_data(data);
	ASN1_OCTET_STRING *nonce;
	long len = ASN1_STRING_length(data);
	int ok;

	if ((nonce = d2i_ASN1_OCTET_STRING(NULL, &p, len)) == NULL)
		return 0;
	ok = p == ASN1_STRING_get0_data(data) + len &&
	    ASN1_STRING_length(nonce) >= 1 &&
	    ASN1_STRING_length(nonce) <= OCSP_NONCE_MAX;
	ASN1_OCTET_STRING_free(nonce);
	return ok;
}

/* requestExtensions: a nonce at most once; other critical ones refused. */
static int
request_exts_check(struct ocsp_request *r)
{
	X509_EXTENSION *ext;
	int i, n, nonces = 0;

	n = OCSP_REQUEST_get_ext_count(r->req);
	for (i = 0; i < n; i++) {
		ext = OCSP_REQUEST_get_ext(r->req, i);
		switch (OBJ_obj2nid(X509_EXTENSION_get_object(ext))) {
		case NID_id_pkix_OCSP_Nonce:
			if (nonces++ > 0)
				return refuse("duplicate nonce");
			if (!nonce_check(ext))
				return refuse("nonce not an OCTET STRING of "
				    "1 to 32 octets (RFC 8954)");
			r->nonce = 1;
			break;
		default:
			if (X509_EXTENSION_get_critical(ext))
				return refuse("unknown critical extension");
			break;
		}
	}
	return LY_OK;
}

/* One Request: its CertID, and no critical singleRequestExtensions. */
static int
certreq_parse(OCSP_ONEREQ *one, struct ocsp_certreq *c)
{
	ASN1_OCTET_STRING *nh, *kh;
	ASN1_OBJECT *alg;
	ASN1_INTEGER *serial;
	const EVP_MD *md;
	int i, n;

	n = OCSP_ONEREQ_get_ext_count(one);
	for (i = 0; i < n; i++)
		if (X509_EXTENSION_get_critical(OCSP_ONEREQ_get_ext(one, i)))
			return refuse("critical singleRequestExtension");
	if ((c->id = OCSP_onereq_get0_id(one)) == NULL ||
	    !OCSP_id_get0_info(&nh, &alg, &kh, &serial, c->id) ||
	    nh == NULL || alg == NULL || kh == NULL || serial == NULL)
		return refuse("incomplete CertID");
	c->nid = OBJ_obj2nid(alg);
	if (!hash_allowed(c->nid) || (md = EVP_get_digestbynid(c->nid)) == NULL)
		return refuse("CertID hash algorithm not SHA-1 or SHA-2");
	if (ASN1_STRING_length(nh) != EVP_MD_get_size(md) ||
	    ASN1_STRING_length(kh) != EVP_MD_get_size(md))
		return refuse("CertID hash of the wrong length");
	c->name_hash = nh;
	c->key_hash = kh;
	c->serial = serial;
	return LY_OK;
}

int
ocsp_request_parse(const unsigned char *der, size_t len, unsigned int max,
    struct ocsp_request **reqp)
{
	struct ocsp_request *r = NULL;
	const unsigned char *p = der;
	int n, i, rc = LY_ERR_INTERNAL;

	if (len == 0)
		return refuse("empty");
	if (len > OCSP_REQUEST_MAX) {
		ly_log(LY_LOG_DEBUG, "ocsp: request of %zu bytes refused", len);
		return ly_fail(LY_ERR_TOO_LARGE, "OCSP request over %d bytes",
		    OCSP_REQUEST_MAX);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return LY_ERR_ALLOC;
	if ((r->req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL) {
		rc = refuse("d2i_OCSP_REQUEST");
		goto out;
	}
	if (p != der + len) {
		rc = refuse("trailing bytes");
		goto out;
	}
	n = OCSP_request_onereq_count(r->req);
	if (n <= 0 || (unsigned int)n > max) {
		rc = refuse(n <= 0 ? "no CertID" : "too many CertIDs");
		goto out;
	}
	if ((rc = request_exts_check(r)) != LY_OK)
		goto out;
	if ((r->ids = calloc((size_t)n, sizeof(*r->ids))) == NULL) {
		rc = LY_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((rc = certreq_parse(OCSP_request_onereq_get0(r->req, i),
		    &r->ids[i])) != LY_OK)
			goto out;
	r->nids = (size_t)n;
	*reqp = r;
	r = NULL;
	rc = LY_OK;
 out:
	ocsp_request_free(r);
	return rc;
}

void
ocsp_request_free(struct ocsp_request *r)
{
	if (r == NULL)
		return;
	OCSP_REQUEST_free(r->req);
	free(r->ids);
	free(r);
}

int
ocsp_get_decode(const char *raw, unsigned char *out, size_t max)
{
	size_t len = strlen(raw);
	unsigned char *b64;
	int n, r;

	/* Base64 of max bytes, each byte percent-encoded at worst. */
	if (len > 3 * (4 * (max / 3 + 1)))
		return LY_ERR_TOO_LARGE;
	if ((b64 = malloc(len + 1)) == NULL)
		return LY_ERR_ALLOC;
	if ((n = ly_pct_decode(raw, len, b64)) < 0)
		r = n;
	else
		r = ly_b64_decode((const char *)b64, (size_t)n, 0, out, max);
	free(b64);
	return r;
}
