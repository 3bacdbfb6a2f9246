/*
 * Unit tests of enroll/ and the one-time tokens of ca/ on a real SoftHSM2
 * instance in a temp dir: requests are synthesized as web/ would hand
 * them over, and the answers checked by status, error code and content.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "enroll/enroll.h"
#include "util/util.h"
#include "tests/unit/fixture.h"

#define ID_GOOD	"{\"userId\":42,\"platform\":\"linux\"}"
#define ID_CANON "{\"platform\":\"linux\",\"userId\":42}"

struct fixture {
	char		 base[64];
	char		 dir[80];
	struct ca	*ca;
	struct enroll	*e;
	unsigned char	*csr;	/* PEM, asks for a name it must not get */
	size_t		 csrlen;
};

static int
setup_enroll(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || fixture_instance("/tmp/lanyard-enroll",
	    CONF_KEY_EC_P256, NULL, f->base, f->dir) != 0 ||
	    ca_open(f->dir, 0, &f->ca) != LY_OK ||
	    enroll_new(f->ca, &f->e) != LY_OK)
		return -1;
	f->csr = fixture_csr("evil", "URI:spiffe://example.org/evil", 1,
	    &f->csrlen);
	*state = f;
	return f->csr != NULL ? 0 : -1;
}

static int
teardown_enroll(void **state)
{
	struct fixture *f = *state;

	ly_clock_set(0);
	enroll_free(f->e);
	ca_close(f->ca);
	fixture_remove(f->base);
	free(f->csr);
	free(f);
	return 0;
}

static char *
mktoken(struct fixture *f, const char *profile, const char *id, long ttl)
{
	char *tok = NULL, *tid = NULL;

	assert_int_equal(ca_token_create(f->ca, profile, id, ttl, "test", &tok,
	    &tid), LY_OK);
	assert_int_equal(strlen(tok), CA_TOKEN_LEN);
	assert_int_equal(strlen(tid), CA_TOKEN_ID_LEN);
	free(tid);
	return tok;
}

/* One request through enroll_handle(). */
static void
call(struct fixture *f, const char *method, const char *path,
    const char *body, const unsigned char *cert, size_t certlen,
    const char *pass, struct enroll_response *resp)
{
	struct enroll_request req;
	char bare[256];
	const char *q;

	memset(&req, 0, sizeof(req));
	req.method = method;
	/* As web/ hands it over: the query split off the path. */
	if ((q = strchr(path, '?')) != NULL) {
		snprintf(bare, sizeof(bare), "%.*s", (int)(q - path), path);
		req.path = bare;
		req.query = q + 1;
	} else
		req.path = path;
	req.body = (const unsigned char *)body;
	req.bodylen = body != NULL ? strlen(body) : 0;
	req.client_cert = cert;
	req.client_certlen = certlen;
	req.basic_user = pass != NULL ? "device" : NULL;
	req.basic_pass = pass;
	req.client_addr = "192.0.2.1";
	/* What a client sends: EST's media type, else JSON. */
	req.content_type = strncmp(path, "/.well-known/est/", 17) == 0 ?
	    "application/pkcs10" : "application/json";
	assert_int_equal(enroll_handle(f->e, &req, resp), LY_OK);
}

static char *
enroll_body(const char *tok, const unsigned char *csr, size_t len)
{
	json_t *o = json_pack("{s:s, s:s%}", "token", tok, "csr", csr, len);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

static const char *
errcode(const struct enroll_response *resp)
{
	static char buf[64];
	json_t *o = json_loadb((const char *)resp->body, resp->len, 0, NULL);
	const char *c = NULL;

	buf[0] = '\0';
	if (o != NULL && json_unpack(o, "{s:s}", "error", &c) == 0)
		snprintf(buf, sizeof(buf), "%s", c);
	json_decref(o);
	return buf;
}

/* The URI SAN of x (borrowed into a static buffer). */
static const char *
uri_san(X509 *x)
{
	static char buf[512];
	GENERAL_NAMES *gns = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	int i;

	buf[0] = '\0';
	for (i = 0; gns != NULL && i < sk_GENERAL_NAME_num(gns); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(gns, i);

		if (gn->type == GEN_URI)
			snprintf(buf, sizeof(buf), "%.*s",
			    gn->d.uniformResourceIdentifier->length,
			    (const char *)gn->d.uniformResourceIdentifier->data);
	}
	GENERAL_NAMES_free(gns);
	return buf;
}

/* The PEM of x in buf. */
static const char *
pem_text(X509 *x, char *buf, size_t n)
{
	BIO *b;
	char *data;
	long len;

	assert_non_null(b = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	len = BIO_get_mem_data(b, &data);
	assert_true(len > 0 && (size_t)len < n);
	memcpy(buf, data, (size_t)len);
	buf[len] = '\0';
	BIO_free(b);
	return buf;
}

/* Enrolls over the JSON API; returns the DER of the new certificate. */
static unsigned char *
enroll_ok(struct fixture *f, const char *profile, const char *id,
    size_t *derlen)
{
	struct enroll_response resp;
	struct ca_serial serial;
	struct tm tm;
	char *tok = mktoken(f, profile, id, 3600), *body, *again, *sn;
	char buf[4096];
	const char *pem, *iss, *root, *na, *hex;
	json_t *o;
	BIO *b;
	X509 *x;
	unsigned char *der = NULL;
	int len;

	body = enroll_body(tok, f->csr, f->csrlen);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 200);
	o = json_loadb((const char *)resp.body, resp.len, 0, NULL);
	assert_non_null(o);
	/*
	 * Exactly what jansson writes for the object (it is put together),
	 * and the newline every JSON answer ends with.
	 */
	assert_non_null(again = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS));
	assert_int_equal(strlen(again) + 1, resp.len);
	assert_memory_equal(again, resp.body, resp.len - 1);
	assert_int_equal(resp.body[resp.len - 1], '\n');
	free(again);
	assert_int_equal(json_unpack(o, "{s:s, s:[s, s], s:s, s:s}",
	    "certificate", &pem, "chain", &iss, &root, "not_after", &na,
	    "serial", &hex), 0);
	assert_string_equal(iss, pem_text(ca_cert(f->ca, CA_ISSUING), buf,
	    sizeof(buf)));
	assert_string_equal(root, pem_text(ca_cert(f->ca, CA_ROOT), buf,
	    sizeof(buf)));
	b = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_non_null(x);
	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm), 1);
	ly_time_fmt(timegm(&tm), buf);
	assert_string_equal(na, buf);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(x),
	    &serial), LY_OK);
	assert_non_null(sn = ca_serial_hex(&serial));
	assert_string_equal(hex, sn);
	free(sn);
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	*derlen = (size_t)len;
	X509_free(x);
	BIO_free(b);
	json_decref(o);
	enroll_response_clear(&resp);
	free(body);
	free(tok);
	return der;
}

static int
tokens_collect_cb(const struct ca_token_info *t, void *arg)
{
	size_t *n = arg;

	assert_string_equal(t->identity, ID_CANON);
	(*n)++;
	return 0;
}

static void
test_token_lifecycle(void **state)
{
	struct fixture *f = *state;
	char *tok = NULL, *tid = NULL;
	int st;
	size_t n = 0;

	assert_int_equal(ca_token_create(f->ca, "client", ID_GOOD, 3600,
	    "test", &tok, &tid), LY_OK);
	assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789-_"), CA_TOKEN_LEN);
	assert_int_equal(ca_token_status(f->ca, tok, &st), LY_OK);
	assert_int_equal(st, CA_TOKEN_UNUSED);
	assert_int_equal(ca_token_list(f->ca, tokens_collect_cb, &n), LY_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ca_token_revoke(f->ca, tid, "test"), LY_OK);
	assert_int_equal(ca_token_status(f->ca, tok, &st), LY_OK);
	assert_int_equal(st, CA_TOKEN_REVOKED);
	assert_int_equal(ca_token_revoke(f->ca, tid, "test"), LY_ERR_STATE);
	assert_int_equal(ca_token_revoke(f->ca, "0011223344556677", "test"),
	    LY_ERR_NOT_FOUND);
	/* The identity is checked with the profile when the token is made. */
	free(tok);
	free(tid);
	assert_int_equal(ca_token_create(f->ca, "client", "{\"bogus\":1}",
	    3600, "test", &tok, &tid), LY_ERR_BAD_IDENTITY);
	assert_int_equal(ca_token_create(f->ca, "nope", ID_GOOD, 3600, "test",
	    &tok, &tid), LY_ERR_BAD_PROFILE);
}

static void
test_enroll_json(void **state)
{
	struct fixture *f = *state;
	struct enroll_response resp;
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	X509 *x;
	char *tok, *body;

	/* The identity is the token's, not the CSR's URI SAN. */
	der = enroll_ok(f, "client", ID_GOOD, &len);
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	assert_string_equal(uri_san(x), ID_CANON);
	X509_free(x);
	free(der);

	tok = mktoken(f, "client", ID_GOOD, 3600);
	body = enroll_body(tok, f->csr, f->csrlen);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 200);
	enroll_response_clear(&resp);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 403);
	assert_string_equal(errcode(&resp), "token_used");
	enroll_response_clear(&resp);
	free(body);
	free(tok);

	/* Expired. */
	tok = mktoken(f, "client", ID_GOOD, 60);
	body = enroll_body(tok, f->csr, f->csrlen);
	ly_clock_set(time(NULL) + 120);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	ly_clock_set(0);
	assert_int_equal(resp.status, 403);
	assert_string_equal(errcode(&resp), "token_expired");
	enroll_response_clear(&resp);
	free(body);
	free(tok);

	/* Unknown. */
	body = enroll_body("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", f->csr,
	    f->csrlen);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 403);
	assert_string_equal(errcode(&resp), "token_invalid");
	enroll_response_clear(&resp);
	free(body);
}

static void
test_enroll_bad(void **state)
{
	struct fixture *f = *state;
	struct enroll_response resp;
	char *tok = mktoken(f, "client", ID_GOOD, 3600), body[256];
	int st;

	call(f, "POST", "/api/v1/enroll", "{not json", NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 400);
	assert_string_equal(errcode(&resp), "bad_request");
	enroll_response_clear(&resp);
	call(f, "POST", "/api/v1/enroll", "{\"token\": 1, \"csr\": \"x\"}",
	    NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 400);
	assert_string_equal(errcode(&resp), "bad_request");
	enroll_response_clear(&resp);
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"csr\":\"x\","
	    "\"extra\":1}", tok);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 400);
	assert_string_equal(errcode(&resp), "bad_request");
	enroll_response_clear(&resp);
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"token\":\"%s\","
	    "\"csr\":\"x\"}", tok, tok);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 400);
	enroll_response_clear(&resp);
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"csr\":\"-----BEGIN "
	    "CERTIFICATE REQUEST-----\\nAAAA\\n-----END CERTIFICATE "
	    "REQUEST-----\\n\"}", tok);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 400);
	assert_string_equal(errcode(&resp), "bad_csr");
	enroll_response_clear(&resp);
	/* A refused CSR leaves the token unused. */
	assert_int_equal(ca_token_status(f->ca, tok, &st), LY_OK);
	assert_int_equal(st, CA_TOKEN_UNUSED);
	/* Over 64 KiB: 413, whatever the endpoint. */
	{
		char *big = malloc(70 * 1024);

		memset(big, ' ', 70 * 1024 - 1);
		big[70 * 1024 - 1] = '\0';
		call(f, "POST", "/api/v1/enroll", big, NULL, 0, NULL, &resp);
		assert_int_equal(resp.status, 413);
		enroll_response_clear(&resp);
		free(big);
	}
	call(f, "GET", "/api/v1/enroll", NULL, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 405);
	assert_string_equal(resp.allow, "POST");
	assert_string_equal(errcode(&resp), "method_not_allowed");
	enroll_response_clear(&resp);
	/* EST: not base64. */
	call(f, "POST", "/.well-known/est/simpleenroll", "!!!not base64!!!",
	    NULL, 0, tok, &resp);
	assert_int_equal(resp.status, 400);
	enroll_response_clear(&resp);
	free(tok);
}

static void
test_reissue(void **state)
{
	struct fixture *f = *state;
	struct enroll_response resp;
	struct ca_serial serial;
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	json_t *o;
	const char *after;
	char body[4096], *first;
	X509 *x;

	der = enroll_ok(f, "client", ID_GOOD, &len);
	json_t *csr = json_stringn((const char *)f->csr, f->csrlen);
	char *cs = json_dumps(csr, JSON_ENCODE_ANY);

	snprintf(body, sizeof(body), "{\"csr\":%s}", cs);
	free(cs);
	json_decref(csr);
	/* 30 days, threshold 7 days: too early now. */
	call(f, "POST", "/api/v1/reissue", body, der, len, NULL, &resp);
	assert_int_equal(resp.status, 409);
	o = json_loadb((const char *)resp.body, resp.len, 0, NULL);
	assert_int_equal(json_unpack(o, "{s:s}", "allowed_after", &after), 0);
	json_decref(o);
	enroll_response_clear(&resp);
	/* Without a client certificate. */
	call(f, "POST", "/api/v1/reissue", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 401);
	assert_non_null(resp.www_authenticate);
	enroll_response_clear(&resp);
	/* Inside the window. */
	ly_clock_set(time(NULL) + 25 * 86400);
	call(f, "POST", "/api/v1/reissue", body, der, len, NULL, &resp);
	assert_int_equal(resp.status, 200);
	o = json_loadb((const char *)resp.body, resp.len, 0, NULL);
	assert_int_equal(json_unpack(o, "{s:s}", "serial", &after), 0);
	first = strdup(after);
	json_decref(o);
	enroll_response_clear(&resp);
	/* Superseded now: the same key gets the same answer again ... */
	call(f, "POST", "/api/v1/reissue", body, der, len, NULL, &resp);
	assert_int_equal(resp.status, 200);
	o = json_loadb((const char *)resp.body, resp.len, 0, NULL);
	assert_int_equal(json_unpack(o, "{s:s}", "serial", &after), 0);
	assert_string_equal(after, first);
	json_decref(o);
	enroll_response_clear(&resp);
	free(first);
	/* ... and another key nothing. */
	{
		unsigned char *csr2;
		size_t csr2len;
		char *b2;
		json_t *c2;

		csr2 = fixture_csr(NULL, NULL, 1, &csr2len);
		c2 = json_pack("{s:s%}", "csr", csr2, csr2len);
		b2 = json_dumps(c2, JSON_COMPACT);
		call(f, "POST", "/api/v1/reissue", b2, der, len, NULL, &resp);
		assert_int_equal(resp.status, 403);
		assert_string_equal(errcode(&resp), "forbidden");
		enroll_response_clear(&resp);
		free(b2);
		json_decref(c2);
		free(csr2);
	}
	ly_clock_set(0);
	free(der);

	/* Revoked: 403 revoked. */
	der = enroll_ok(f, "client", ID_GOOD, &len);
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(x),
	    &serial), LY_OK);
	X509_free(x);
	assert_int_equal(ca_revoke(f->ca, &serial, 1, 0, "test"), LY_OK);
	ly_clock_set(time(NULL) + 25 * 86400);
	call(f, "POST", "/api/v1/reissue", body, der, len, NULL, &resp);
	ly_clock_set(0);
	assert_int_equal(resp.status, 403);
	assert_string_equal(errcode(&resp), "revoked");
	enroll_response_clear(&resp);
	free(der);
}

/* GET /api/v1/reissue with cert: 200, and the answer's fields. */
static void
window(struct fixture *f, const unsigned char *der, size_t len,
    char *status, char *serial, char *after, char *next)
{
	struct enroll_response resp;
	const char *st, *se, *na, *aa;
	json_t *o, *nx;

	call(f, "GET", "/api/v1/reissue", NULL, der, len, NULL, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "application/json");
	o = json_loadb((const char *)resp.body, resp.len, 0, NULL);
	assert_int_equal(json_unpack(o, "{s:s, s:s, s:s, s:s}", "status",
	    &st, "serial", &se, "not_after", &na, "allowed_after", &aa), 0);
	strcpy(status, st);
	strcpy(serial, se);
	strcpy(after, aa);
	nx = json_object_get(o, "superseded_by");
	strcpy(next, json_is_string(nx) ? json_string_value(nx) : "");
	json_decref(o);
	enroll_response_clear(&resp);
}

static void
cert_serial(const unsigned char *der, size_t len, char *hex)
{
	struct ca_serial s;
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	char *h;

	assert_non_null(x);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(x), &s),
	    LY_OK);
	h = ca_serial_hex(&s);
	strcpy(hex, h);
	free(h);
	X509_free(x);
}

/*
 * GET /api/v1/reissue: where a reissue stands, for a valid, superseded,
 * revoked and expired certificate; it writes nothing.
 */
static void
test_reissue_window(void **state)
{
	struct fixture *f = *state;
	struct enroll_response resp;
	struct ca_serial s;
	unsigned char *der;
	size_t len;
	char st[32], se[64], aa[32], nx[64], want[64], body[4096];
	const char *pem, *nserial;
	json_t *o, *csr;
	char *cs;
	time_t na;
	BIO *b;
	X509 *x, *x2;
	unsigned char *der2 = NULL;
	int len2;
	struct tm tm;

	der = enroll_ok(f, "client", ID_GOOD, &len);
	cert_serial(der, len, want);
	window(f, der, len, st, se, aa, nx);
	assert_string_equal(st, "valid");
	assert_string_equal(se, want);
	assert_string_equal(nx, "");
	/* The built-in client profile: 7 days before notAfter. */
	{
		const unsigned char *p = der;

		x = d2i_X509(NULL, &p, (long)len);
		assert_true(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm));
		na = timegm(&tm);
		X509_free(x);
	}
	ly_time_fmt(na - 7 * 86400, body);
	assert_string_equal(aa, body);

	call(f, "GET", "/api/v1/reissue", NULL, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 401);
	enroll_response_clear(&resp);
	call(f, "PUT", "/api/v1/reissue", NULL, der, len, NULL, &resp);
	assert_int_equal(resp.status, 405);
	assert_string_equal(resp.allow, "GET, POST");
	enroll_response_clear(&resp);

	/* Reissued: superseded, and by whom. */
	csr = json_stringn((const char *)f->csr, f->csrlen);
	cs = json_dumps(csr, JSON_ENCODE_ANY);
	snprintf(body, sizeof(body), "{\"csr\":%s}", cs);
	free(cs);
	json_decref(csr);
	ly_clock_set(time(NULL) + 25 * 86400);
	call(f, "POST", "/api/v1/reissue", body, der, len, NULL, &resp);
	assert_int_equal(resp.status, 200);
	o = json_loadb((const char *)resp.body, resp.len, 0, NULL);
	assert_int_equal(json_unpack(o, "{s:s, s:s}", "serial", &nserial,
	    "certificate", &pem), 0);
	b = BIO_new_mem_buf(pem, -1);
	x2 = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	len2 = i2d_X509(x2, &der2);
	X509_free(x2);
	window(f, der, len, st, se, aa, nx);
	assert_string_equal(st, "superseded");
	assert_string_equal(se, want);
	assert_string_equal(nx, nserial);
	window(f, der2, (size_t)len2, st, se, aa, nx);
	assert_string_equal(st, "valid");
	assert_string_equal(se, nserial);
	json_decref(o);
	enroll_response_clear(&resp);

	/* Revoked: told so with 200 here, refused by POST. */
	cert_serial(der2, (size_t)len2, want);
	assert_int_equal(ca_serial_parse(want, &s), LY_OK);
	assert_int_equal(ca_revoke(f->ca, &s, 1, 0, "test"), LY_OK);
	window(f, der2, (size_t)len2, st, se, aa, nx);
	assert_string_equal(st, "revoked");

	/* Expired. */
	ly_clock_set(time(NULL) + 40 * 86400);
	window(f, der, len, st, se, aa, nx);
	assert_string_equal(st, "expired");
	ly_clock_set(0);
	OPENSSL_free(der2);
	free(der);
}

static STACK_OF(X509) *
est_certs(const struct enroll_response *resp)
{
	BIO *b = BIO_new_mem_buf(resp->body, (int)resp->len);
	BIO *b64 = BIO_new(BIO_f_base64());
	PKCS7 *p7;
	STACK_OF(X509) *sk = NULL;

	/* RFC 8951 3: base64 without line breaks. */
	assert_null(memchr(resp->body, '\n', resp->len));
	BIO_set_flags(b64, BIO_FLAGS_BASE64_NO_NL);
	b = BIO_push(b64, b);
	p7 = d2i_PKCS7_bio(b, NULL);
	assert_non_null(p7);
	assert_true(PKCS7_type_is_signed(p7));
	sk = X509_chain_up_ref(p7->d.sign->cert);
	PKCS7_free(p7);
	BIO_free_all(b);
	return sk;
}

static void
test_est(void **state)
{
	struct fixture *f = *state;
	struct enroll_response resp;
	STACK_OF(X509) *sk;
	char *tok = mktoken(f, "client", ID_GOOD, 3600), *b64;
	unsigned char *der = NULL;
	X509_REQ *req;
	BIO *b;
	int len;

	call(f, "GET", "/.well-known/est/cacerts", NULL, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_transfer_encoding, "base64");
	sk = est_certs(&resp);
	assert_int_equal(sk_X509_num(sk), 2);
	sk_X509_pop_free(sk, X509_free);
	enroll_response_clear(&resp);

	call(f, "GET", "/.well-known/est/csrattrs", NULL, NULL, 0, NULL,
	    &resp);
	assert_int_equal(resp.status, 204);
	enroll_response_clear(&resp);

	/* simpleenroll: base64 DER body with line breaks, Basic token. */
	b = BIO_new_mem_buf(f->csr, (int)f->csrlen);
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(req);
	len = i2d_X509_REQ(req, &der);
	X509_REQ_free(req);
	b64 = malloc((size_t)len * 2 + 8);
	{
		EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
		int n = 0, m = 0;

		EVP_EncodeInit(ctx);
		EVP_EncodeUpdate(ctx, (unsigned char *)b64, &n, der, len);
		EVP_EncodeFinal(ctx, (unsigned char *)b64 + n, &m);
		b64[n + m] = '\0';
		EVP_ENCODE_CTX_free(ctx);
	}
	OPENSSL_free(der);
	call(f, "POST", "/.well-known/est/simpleenroll", b64, NULL, 0, NULL,
	    &resp);
	assert_int_equal(resp.status, 401);
	assert_non_null(resp.www_authenticate);
	enroll_response_clear(&resp);
	call(f, "POST", "/.well-known/est/simpleenroll", b64, NULL, 0, tok,
	    &resp);
	assert_int_equal(resp.status, 200);
	sk = est_certs(&resp);
	/* The certificate first, then the CA that signed it. */
	assert_int_equal(sk_X509_num(sk), 2);
	assert_string_equal(uri_san(sk_X509_value(sk, 0)), ID_CANON);
	assert_int_equal(X509_check_issued(sk_X509_value(sk, 1),
	    sk_X509_value(sk, 0)), X509_V_OK);
	der = NULL;
	len = i2d_X509(sk_X509_value(sk, 0), &der);
	sk_X509_pop_free(sk, X509_free);
	enroll_response_clear(&resp);

	/* simplereenroll with that certificate, inside the window. */
	ly_clock_set(time(NULL) + 25 * 86400);
	call(f, "POST", "/.well-known/est/simplereenroll", b64, der,
	    (size_t)len, NULL, &resp);
	ly_clock_set(0);
	assert_int_equal(resp.status, 200);
	sk = est_certs(&resp);
	/* The certificate first, then the CA that signed it. */
	assert_int_equal(sk_X509_num(sk), 2);
	assert_string_equal(uri_san(sk_X509_value(sk, 0)), ID_CANON);
	assert_int_equal(X509_check_issued(sk_X509_value(sk, 1),
	    sk_X509_value(sk, 0)), X509_V_OK);
	sk_X509_pop_free(sk, X509_free);
	enroll_response_clear(&resp);
	call(f, "POST", "/.well-known/est/simplereenroll", b64, NULL, 0, NULL,
	    &resp);
	assert_int_equal(resp.status, 401);
	enroll_response_clear(&resp);
	OPENSSL_free(der);
	free(b64);
	free(tok);
}

static void
test_admin(void **state)
{
	struct fixture *f = *state;
	struct enroll_response resp;
	unsigned char *client, *admin;
	size_t clen, alen;
	json_t *o;
	struct ca_serial serial;
	const char *tok, *id;
	char path[128];

	client = enroll_ok(f, "client", ID_GOOD, &clen);
	admin = enroll_ok(f, "admin", "{\"userId\":1,\"role\":\"admin\"}",
	    &alen);
	call(f, "GET", "/api/v1/tokens", NULL, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 403);
	assert_string_equal(errcode(&resp), "forbidden");
	enroll_response_clear(&resp);
	call(f, "GET", "/api/v1/tokens", NULL, client, clen, NULL, &resp);
	assert_int_equal(resp.status, 403);
	enroll_response_clear(&resp);
	call(f, "GET", "/api/v1/tokens", NULL, admin, alen, NULL, &resp);
	assert_int_equal(resp.status, 200);
	enroll_response_clear(&resp);
	call(f, "POST", "/api/v1/tokens", "{\"profile\":\"client\","
	    "\"identity\":\"{\\\"userId\\\":7}\",\"ttl\":\"1h\"}", admin, alen,
	    NULL, &resp);
	assert_int_equal(resp.status, 201);
	o = json_loadb((const char *)resp.body, resp.len, 0, NULL);
	assert_int_equal(json_unpack(o, "{s:s, s:s}", "token", &tok, "id",
	    &id), 0);
	assert_int_equal(strlen(tok), CA_TOKEN_LEN);
	snprintf(path, sizeof(path), "/api/v1/tokens/%s", id);
	json_decref(o);
	enroll_response_clear(&resp);
	call(f, "DELETE", path, NULL, admin, alen, NULL, &resp);
	assert_int_equal(resp.status, 200);
	enroll_response_clear(&resp);
	call(f, "GET", "/api/v1/certificates?status=valid", NULL, admin, alen,
	    NULL, &resp);
	assert_int_equal(resp.status, 200);
	enroll_response_clear(&resp);
	/* An admin certificate alone does not enroll over EST. */
	call(f, "POST", "/.well-known/est/simpleenroll", "AAAA", admin, alen,
	    NULL, &resp);
	assert_int_equal(resp.status, 401);
	enroll_response_clear(&resp);
	/* Revoke the client certificate through the admin API. */
	{
		const unsigned char *p = client;
		X509 *x = d2i_X509(NULL, &p, (long)clen);
		char *hex = NULL;

		assert_non_null(x);
		assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(x),
		    &serial), LY_OK);
		X509_free(x);
		hex = ca_serial_hex(&serial);
		snprintf(path, sizeof(path), "/api/v1/certificates/%s/revoke",
		    hex);
		free(hex);
	}
	call(f, "POST", path, "{\"reason\":\"keyCompromise\"}", admin,
	    alen, NULL, &resp);
	assert_int_equal(resp.status, 200);
	enroll_response_clear(&resp);
	call(f, "POST", path, "{\"reason\":\"keyCompromise\"}", admin,
	    alen, NULL, &resp);
	assert_int_equal(resp.status, 409);
	enroll_response_clear(&resp);
	call(f, "GET", "/api/v1/tokens", NULL, client, clen, NULL, &resp);
	assert_int_equal(resp.status, 403);
	assert_string_equal(errcode(&resp), "revoked");
	enroll_response_clear(&resp);
	free(client);
	free(admin);
}

static void
test_rate_limit(void **state)
{
	struct fixture *f = *state;
	struct enroll_response resp;
	char *body = enroll_body("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
	    f->csr, f->csrlen);
	int i;

	for (i = 0; i < 10; i++) {
		call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
		assert_int_equal(resp.status, 403);
		enroll_response_clear(&resp);
	}
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 429);
	assert_true(resp.retry_after > 0);
	assert_string_equal(errcode(&resp), "rate_limited");
	enroll_response_clear(&resp);
	free(body);
}

struct race {
	struct fixture	*f;
	const char	*tok;
	int		 ok;
};

static void *
race_one(void *arg)
{
	struct race *rc = arg;
	struct ca_serial serial;
	X509 *x = NULL;

	if (ca_issue_token(rc->f->ca, rc->tok, rc->f->csr, rc->f->csrlen,
	    "race", &x, &serial) == LY_OK)
		rc->ok = 1;
	X509_free(x);
	return NULL;
}

static int
enroll_valid_cb(const struct store_cert *c, void *arg)
{
	if (c->status == STORE_VALID)
		(*(size_t *)arg)++;
	return 0;
}

static size_t
nvalid(struct ca *ca)
{
	struct store_txn *txn;
	size_t n = 0;

	assert_int_equal(store_txn_begin(ca_store(ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_foreach(txn, enroll_valid_cb, &n), LY_OK);
	store_txn_abort(txn);
	return n;
}

static int
presign_fail(void *arg, const struct store_cert *rec, unsigned char **derp,
    size_t *lenp)
{
	(void)arg;
	(void)rec;
	(void)derp;
	(void)lenp;
	return ly_fail(LY_ERR_HSM, "test: the HSM went away");
}

/* Signing fails after the claim: the token is released, 503 + Retry-After. */
static void
test_release(void **state)
{
	struct fixture *f = *state;
	struct enroll_response resp;
	char *tok = mktoken(f, "client", ID_GOOD, 3600);
	char *body = enroll_body(tok, f->csr, f->csrlen);
	int st;

	ca_set_presign(f->ca, presign_fail, NULL);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.retry_after, 5);
	assert_string_equal(errcode(&resp), "hsm_unavailable");
	enroll_response_clear(&resp);
	assert_int_equal(ca_token_status(f->ca, tok, &st), LY_OK);
	assert_int_equal(st, CA_TOKEN_UNUSED);
	ca_set_presign(f->ca, NULL, NULL);
	call(f, "POST", "/api/v1/enroll", body, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 200);
	enroll_response_clear(&resp);
	assert_int_equal(ca_token_status(f->ca, tok, &st), LY_OK);
	assert_int_equal(st, CA_TOKEN_USED);
	free(body);
	free(tok);
}

struct audit_count {
	int	create, use;
};

static int
audit_entry_cb(const struct store_audit_entry *a, void *arg)
{
	struct audit_count *au = arg;

	if (strcmp(a->action, "token-create") == 0)
		au->create++;
	if (strcmp(a->action, "token-use") == 0) {
		assert_string_equal(a->actor, "race");
		au->use++;
	}
	return 0;
}

static void
test_race(void **state)
{
	struct fixture *f = *state;
	struct race rc[50];
	pthread_t th[50];
	struct store_txn *txn;
	char *tok = mktoken(f, "client", ID_GOOD, 3600);
	size_t before = nvalid(f->ca), i, ok = 0;
	struct audit_count au = { 0, 0 };
	int st;

	for (i = 0; i < 50; i++) {
		rc[i].f = f;
		rc[i].tok = tok;
		rc[i].ok = 0;
		assert_int_equal(pthread_create(&th[i], NULL, race_one, &rc[i]),
		    0);
	}
	for (i = 0; i < 50; i++) {
		pthread_join(th[i], NULL);
		ok += (size_t)rc[i].ok;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(nvalid(f->ca), before + 1);
	assert_int_equal(ca_token_status(f->ca, tok, &st), LY_OK);
	assert_int_equal(st, CA_TOKEN_USED);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_audit_verify(txn, NULL), LY_OK);
	assert_int_equal(store_audit_foreach(txn, audit_entry_cb, &au), LY_OK);
	store_txn_abort(txn);
	assert_int_equal(au.create, 1);
	assert_int_equal(au.use, 1);
	free(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_token_lifecycle, setup_enroll,
		    teardown_enroll),
		cmocka_unit_test_setup_teardown(test_enroll_json, setup_enroll,
		    teardown_enroll),
		cmocka_unit_test_setup_teardown(test_enroll_bad, setup_enroll,
		    teardown_enroll),
		cmocka_unit_test_setup_teardown(test_reissue, setup_enroll, teardown_enroll),
		cmocka_unit_test_setup_teardown(test_reissue_window, setup_enroll,
		    teardown_enroll),
		cmocka_unit_test_setup_teardown(test_est, setup_enroll, teardown_enroll),
		cmocka_unit_test_setup_teardown(test_admin, setup_enroll, teardown_enroll),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup_enroll,
		    teardown_enroll),
		cmocka_unit_test_setup_teardown(test_race, setup_enroll, teardown_enroll),
		cmocka_unit_test_setup_teardown(test_release, setup_enroll, teardown_enroll),
	};

	ly_log_setlevel(LY_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
