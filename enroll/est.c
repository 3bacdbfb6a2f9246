/*
 * enroll/est.c — EST (RFC 7030, with the base64 rules of RFC 8951):
 *   GET  /.well-known/est/cacerts        certs-only PKCS#7: issuing, root
 *   POST /.well-known/est/simpleenroll   base64 PKCS#10; HTTP Basic with
 *        the one-time token as the password (the user name is ignored)
 *   POST /.well-known/est/simplereenroll base64 PKCS#10; the client
 *        certificate authenticates, within its profile's reissue window
 *   GET  /.well-known/est/csrattrs       204: no attributes required
 *        (RFC 7030 4.5.2 allows it; Lanyard decides the names anyway)
 *
 * A client certificate alone does not authorise simpleenroll, not even an
 * admin's: enrolling someone else takes a token (401 otherwise).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pkcs7.h>

#include "enroll/extern.h"
#include "util/util.h"

#define EST_PREFIX	"/.well-known/est/"
#define EST_PKCS7	"application/pkcs7-mime; smime-type=certs-only"

/*
 * RFC 7030 4.2.1: the body is application/pkcs10 (parameters allowed).
 * Anything else is refused before it is decoded.
 */
static int
est_ctype_refused(const struct enroll_request *req,
    struct enroll_response *resp, int *rp)
{
	const char *ct = req->content_type;
	size_t n = strlen("application/pkcs10");

	if (ct != NULL && strncasecmp(ct, "application/pkcs10", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
		return 0;
	*rp = enroll_error(resp, 415, "unsupported_media_type", "EST takes "
	    "a base64 PKCS#10 as application/pkcs10");
	return 1;
}

int
est_b64_decode(const unsigned char *in, size_t len, unsigned char **outp,
    size_t *outlen)
{
	unsigned char *out;
	int n;

	if (len == 0 || len > ENROLL_BODY_MAX)
		return ly_fail(LY_ERR_BAD_INPUT, "empty or oversized body");
	if ((out = malloc(len / 4 * 3 + 3)) == NULL)
		return LY_ERR_ALLOC;
	/* White space and line breaks are allowed (RFC 8951 3), no more. */
	if ((n = ly_b64_decode((const char *)in, len, LY_B64_WS, out,
	    len / 4 * 3 + 3)) < 0) {
		free(out);
		if (n == LY_ERR_ALLOC)
			return n;
		return ly_fail(LY_ERR_BAD_INPUT, "body is not base64");
	}
	*outp = out;
	*outlen = (size_t)n;
	return LY_OK;
}

/*
 * A certs-only PKCS#7 (RFC 7030 4.1.3) of n certificates, in base64 on
 * one line: RFC 8951 3 (RFC 7030 erratum 5904) says base64 without line
 * breaks, and strongSwan's pki --est fails on a line break.
 */
static int
est_certs_reply(struct enroll_response *resp, X509 *const *xs, size_t n)
{
	PKCS7 *p7 = NULL;
	BIO *b64 = NULL, *mem = NULL;
	BUF_MEM *m;
	unsigned char *der = NULL;
	size_t i;
	int len, r = LY_ERR_ALLOC;

	if ((p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data))
		goto out;
	for (i = 0; i < n; i++)
		if (!PKCS7_add_certificate(p7, xs[i]))
			goto out;
	/* No content, no signers: certs-only. */
	PKCS7_set_detached(p7, 1);
	if ((len = i2d_PKCS7(p7, &der)) <= 0)
		goto out;
	if ((b64 = BIO_new(BIO_f_base64())) == NULL ||
	    (mem = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	BIO_set_flags(b64, BIO_FLAGS_BASE64_NO_NL);
	b64 = BIO_push(b64, mem);
	if (BIO_write(b64, der, len) != len || BIO_flush(b64) != 1)
		goto out;
	BIO_get_mem_ptr(mem, &m);
	if ((resp->body = malloc(m->length + 1)) == NULL)
		goto out;
	memcpy(resp->body, m->data, m->length);
	resp->len = m->length;
	resp->status = 200;
	resp->content_type = EST_PKCS7;
	resp->content_transfer_encoding = "base64";
	r = LY_OK;
 out:
	if (r != LY_OK)
		ly_log_crypto("est_certs_reply");
	BIO_free_all(b64 != NULL ? b64 : mem);
	OPENSSL_free(der);
	PKCS7_free(p7);
	return r;
}

/* The certificate the engine stored and returned, for the PKCS#7 reply. */
static X509 *
est_decode(const struct ca_issued *is)
{
	const unsigned char *p = is->der;

	return d2i_X509(NULL, &p, (long)is->derlen);
}

/*
 * RFC 7030 4.1.3: every CA certificate a client may need to build its
 * chain: each issuer that is not retired, the roots, and the
 * cross-certificates of a root rollover (ca_trust_bundle()).
 */
static int
est_cacerts(struct enroll *e, struct enroll_response *resp)
{
	X509 *xs[2 * CA_MAX_SLOTS];
	size_t n;

	if (ca_trust_bundle(e->ca, xs, 2 * CA_MAX_SLOTS, &n) != LY_OK ||
	    est_certs_reply(resp, xs, n) != LY_OK)
		return enroll_error(resp, 500, "internal", "cannot encode");
	return LY_OK;
}

/*
 * The reply to (re)enrollment: the certificate and the CA certificate
 * that signed it, so that a device whose issuer rolled over installs the
 * new chain without asking /cacerts (RFC 7030 4.2.3 allows more
 * certificates than the one issued).
 */
static int
est_issued_reply(struct enroll *e, struct enroll_response *resp, X509 *x,
    int slot)
{
	X509 *xs[2] = { x, NULL };

	if (slot >= ca_nslots(e->ca))
		(void)ca_slots_sync(e->ca);
	if (slot >= 0 && slot < ca_nslots(e->ca))
		xs[1] = ca_cert(e->ca, slot);
	return est_certs_reply(resp, xs, xs[1] != NULL ? 2 : 1);
}

static int
est_simpleenroll(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	unsigned char *csr = NULL;
	size_t csrlen = 0;
	struct ca_issued is;
	X509 *x = NULL;
	char actor[96];
	int r;

	if (enroll_rl_refused(e, req, resp, &r))
		return r;
	if (req->basic_pass == NULL || req->basic_pass[0] == '\0')
		return enroll_error(resp, 401, "unauthorized", "HTTP Basic "
		    "with the enrollment token as the password is required");
	if (est_ctype_refused(req, resp, &r))
		return r;
	if ((r = est_b64_decode(req->body, req->bodylen, &csr, &csrlen)) !=
	    LY_OK)
		return r == LY_ERR_ALLOC ? r : enroll_error(resp, 400,
		    "bad_csr", "%s", ly_errdetail());
	snprintf(actor, sizeof(actor), "est:%s",
	    req->client_addr != NULL ? req->client_addr : "-");
	memset(&is, 0, sizeof(is));
	r = e->ops->issue_token(e->arg, req->basic_pass, csr, csrlen, actor,
	    &is);
	if (r == LY_OK && (x = est_decode(&is)) == NULL)
		r = LY_ERR_INTERNAL;
	if (r == LY_ERR_TOKEN) {
		r = enroll_token_error(e, req, resp, req->basic_pass, r);
		/* RFC 7030 3.2.3: a refused credential is a 401. */
		if (r == LY_OK) {
			resp->status = 401;
			resp->www_authenticate = "Basic realm=\"lanyard\"";
		}
	} else if (r != LY_OK)
		r = enroll_ca_error(resp, r);
	else if ((r = est_issued_reply(e, resp, x, is.slot)) != LY_OK)
		r = enroll_error(resp, 500, "internal", "cannot encode");
	X509_free(x);
	ca_issued_clear(&is);
	free(csr);
	return r;
}

static int
est_simplereenroll(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	struct store_cert *old = NULL;
	unsigned char *csr = NULL;
	size_t csrlen = 0;
	struct ca_issued is;
	X509 *x = NULL;
	char actor[96], *hex = NULL;
	int r;

	memset(&is, 0, sizeof(is));
	if ((r = enroll_client(e, req, resp, &old)) != LY_OK || old == NULL)
		return r;
	if (est_ctype_refused(req, resp, &r))
		goto out;
	if ((r = est_b64_decode(req->body, req->bodylen, &csr, &csrlen)) !=
	    LY_OK) {
		if (r != LY_ERR_ALLOC)
			r = enroll_error(resp, 400, "bad_csr", "%s",
			    ly_errdetail());
		goto out;
	}
	r = LY_OK;
	if (enroll_reissue_allowed(e, old, resp) != 0)
		goto out;
	hex = ca_serial_hex(&old->serial);
	snprintf(actor, sizeof(actor), "reissue:%s", hex != NULL ? hex : "-");
	r = e->ops->reissue(e->arg, old, csr, csrlen, actor, &is);
	if (r == LY_OK && (x = est_decode(&is)) == NULL)
		r = LY_ERR_INTERNAL;
	if (r == LY_ERR_STATE)
		r = enroll_error(resp, 403, "forbidden", "%s", ly_errdetail());
	else if (r != LY_OK)
		r = enroll_ca_error(resp, r);
	else if ((r = est_issued_reply(e, resp, x, is.slot)) != LY_OK)
		r = enroll_error(resp, 500, "internal", "cannot encode");
 out:
	free(hex);
	free(csr);
	X509_free(x);
	ca_issued_clear(&is);
	store_cert_free(old);
	return r;
}

int
est_handle(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	const char *op = req->path + strlen(EST_PREFIX);
	int get = strcmp(req->method, "GET") == 0;
	int post = strcmp(req->method, "POST") == 0;

	if (strcmp(op, "cacerts") == 0 && get)
		return est_cacerts(e, resp);
	if (strcmp(op, "csrattrs") == 0 && get) {
		resp->status = 204;
		return LY_OK;
	}
	if (strcmp(op, "simpleenroll") == 0 && post)
		return est_simpleenroll(e, req, resp);
	if (strcmp(op, "simplereenroll") == 0 && post)
		return est_simplereenroll(e, req, resp);
	if (strcmp(op, "cacerts") == 0 || strcmp(op, "csrattrs") == 0)
		return enroll_method_error(resp, "GET");
	if (strcmp(op, "simpleenroll") == 0 ||
	    strcmp(op, "simplereenroll") == 0)
		return enroll_method_error(resp, "POST");
	return enroll_error(resp, 404, "not_found", "no such EST operation");
}
