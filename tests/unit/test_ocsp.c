/*
 * Unit tests of the OCSP responder on a real SoftHSM2 instance in a temp
 * dir: the delegated signer, pre-signed responses served byte for byte,
 * revocation, unknown and foreign serials, malformed input, nonces,
 * SHA-256 CertIDs, refresh and signer rotation under a pinned clock, and
 * several threads answering at once.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "ocsp/ocsp.h"
#include "tests/unit/fixture.h"
#include "util/util.h"

struct fixture {
	char			 base[64];
	char			 dir[80];
	struct ca		*ca;
	struct ocsp_responder	*resp;
	unsigned char		*csr;
	size_t			 csrlen;
};

static int
setup_ocsp(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ly_clock_set(0);
	if (f == NULL || fixture_instance("/tmp/lanyard-ocsp", CONF_KEY_EC_P256,
	    NULL, f->base, f->dir) != 0)
		return -1;
	if (ca_open(f->dir, 0, &f->ca) != LY_OK)
		return -1;
	if (ocsp_responder_new(f->ca, &f->resp) != LY_OK) {
		fprintf(stderr, "ocsp_responder_new: %s\n", ly_errdetail());
		return -1;
	}
	f->csr = fixture_csr(NULL, NULL, 0, &f->csrlen);
	*state = f;
	return 0;
}

static int
teardown_ocsp(void **state)
{
	struct fixture *f = *state;

	ly_clock_set(0);
	ocsp_responder_free(f->resp);
	ca_close(f->ca);
	fixture_remove(f->base);
	free(f->csr);
	free(f);
	return 0;
}

static void
issue_leaf(struct fixture *f, X509 **x, struct ca_serial *s)
{
	struct ca_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.profile = "client";
	rq.csr = f->csr;
	rq.csrlen = f->csrlen;
	rq.identity.kind = CONF_ID_JSON;
	rq.identity.value = (char *)"{\"userId\":42}";
	rq.actor = "test";
	assert_int_equal(ca_issue(f->ca, &rq, x, s), LY_OK);
}

/* A CertID for serial under issuer, with hash md. */
static OCSP_CERTID *
certid(X509 *issuer, const struct ca_serial *serial, const EVP_MD *md)
{
	ASN1_INTEGER *sn = ca_serial_to_asn1(serial);
	OCSP_CERTID *id;

	assert_non_null(sn);
	id = OCSP_cert_id_new(md, X509_get_subject_name(issuer),
	    X509_get0_pubkey_bitstr(issuer), sn);
	assert_non_null(id);
	ASN1_INTEGER_free(sn);
	return id;
}

/* DER of a request for ids (taken), with a nonce of noncelen if > 0. */
static unsigned char *
request(OCSP_CERTID **ids, size_t n, int noncelen, OCSP_REQUEST **keep,
    size_t *lenp)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	size_t i;
	int len;

	for (i = 0; i < n; i++)
		assert_non_null(OCSP_request_add0_id(req, ids[i]));
	if (noncelen > 0)
		assert_int_equal(OCSP_request_add1_nonce(req, NULL, noncelen),
		    1);
	len = i2d_OCSP_REQUEST(req, &der);
	assert_true(len > 0);
	*lenp = (size_t)len;
	if (keep != NULL)
		*keep = req;
	else
		OCSP_REQUEST_free(req);
	return der;
}

static unsigned char *
request1(X509 *issuer, const struct ca_serial *s, const EVP_MD *md,
    int noncelen, OCSP_REQUEST **keep, size_t *lenp)
{
	OCSP_CERTID *id = certid(issuer, s, md);

	return request(&id, 1, noncelen, keep, lenp);
}

/* An ASN.1 time that must be readable, as time_t. */
static time_t
time_of(const ASN1_GENERALIZEDTIME *t)
{
	time_t v = 0;

	assert_int_equal(ly_asn1_time(t, &v), LY_OK);
	return v;
}

/* Parses a reply, checks its status and, if successful, its signature. */
static OCSP_BASICRESP *
reply_check(struct fixture *f, const struct ocsp_reply *rp, int want)
{
	const unsigned char *p = rp->der;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	X509_STORE *st;

	assert_non_null(rp->der);
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)rp->len);
	assert_non_null(resp);
	assert_ptr_equal(p, rp->der + rp->len);
	assert_int_equal(OCSP_response_status(resp), want);
	if (want != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		OCSP_RESPONSE_free(resp);
		return NULL;
	}
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	OCSP_RESPONSE_free(resp);
	st = X509_STORE_new();
	X509_STORE_add_cert(st, ca_cert(f->ca, CA_ROOT));
	X509_STORE_add_cert(st, ca_cert(f->ca, CA_ISSUING));
	/* Verified at the pinned time, as a relying party then would. */
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), ly_now());
	assert_int_equal(OCSP_basic_verify(bs, NULL, st, 0), 1);
	X509_STORE_free(st);
	return bs;
}

/* The status of serial in bs, with its times checked against now. */
static int
status(struct fixture *f, OCSP_BASICRESP *bs, const struct ca_serial *s,
    const EVP_MD *md, int *reason, time_t *rev, time_t *thisp)
{
	OCSP_CERTID *id = certid(ca_cert(f->ca, CA_ISSUING), s, md);
	ASN1_GENERALIZEDTIME *revt = NULL, *thisupd = NULL, *nextupd = NULL;
	int st = -1, rsn = -1;

	assert_int_equal(OCSP_resp_find_status(bs, id, &st, &rsn, &revt,
	    &thisupd, &nextupd), 1);
	assert_true(time_of(thisupd) <= ly_now());
	assert_true(ly_now() < time_of(nextupd));
	if (reason != NULL)
		*reason = rsn;
	if (rev != NULL && revt != NULL)
		*rev = time_of(revt);
	if (thisp != NULL)
		*thisp = time_of(thisupd);
	OCSP_CERTID_free(id);
	return st;
}

static X509 *
signer_of(OCSP_BASICRESP *bs)
{
	const STACK_OF(X509) *certs = OCSP_resp_get0_certs(bs);

	assert_int_equal(sk_X509_num(certs), 1);
	return sk_X509_value(certs, 0);
}

static void
test_signer(void **state)
{
	struct fixture *f = *state;
	struct ocsp_responder *again = NULL;
	struct ocsp_reply rp;
	struct ca_serial s;
	OCSP_BASICRESP *bs;
	X509 *x, *signer;
	unsigned char *der;
	size_t len;
	char cn[64];
	time_t na;

	issue_leaf(f, &x, &s);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, NULL,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	signer = signer_of(bs);
	assert_true(X509_get_extension_flags(signer) & EXFLAG_XKUSAGE);
	assert_int_equal(X509_get_extended_key_usage(signer), XKU_OCSP_SIGN);
	assert_true(X509_get_ext_by_NID(signer, NID_id_pkix_OCSP_noCheck, -1)
	    >= 0);
	assert_int_equal(X509_check_issued(ca_cert(f->ca, CA_ISSUING), signer),
	    X509_V_OK);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(signer),
	    NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "Lanyard OCSP Responder");
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(signer)),
	    EVP_PKEY_EC);
	na = time_of(X509_get0_notAfter(signer));
	assert_true(na == ocsp_signer_not_after(f->resp));
	assert_true(na > ly_now() + (ca_conf(f->ca)->ocsp_signer_days - 1) *
	    86400L);

	/* A second responder (a restart, the other process) loads the same one. */
	assert_int_equal(ocsp_responder_new(f->ca, &again), LY_OK);
	assert_true(ocsp_signer_not_after(again) == na);
	ocsp_responder_free(again);
	ca_set_presign(f->ca, NULL, NULL);
	ocsp_responder_free(f->resp);
	f->resp = NULL;
	assert_int_equal(ocsp_responder_new(f->ca, &f->resp), LY_OK);

	/* Compare-and-set: a record that changed meanwhile is not overwritten. */
	assert_int_equal(ca_ocsp_signer_set(f->ca, CA_ISSUING, "stale", 5, "x",
	    1, "test", NULL), LY_ERR_EXISTS);

	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_presigned_good(void **state)
{
	struct fixture *f = *state;
	struct ocsp_reply rp, rp2;
	struct store_txn *txn;
	struct ca_serial s;
	OCSP_BASICRESP *bs;
	const void *v;
	unsigned char *der, hash[32];
	char etag[68];
	size_t len, vlen, i;
	X509 *x;
	time_t thisupd;

	issue_leaf(f, &x, &s);
	/* Stored in the same transaction as the certificate. */
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_ocsp_get(txn, &s, &v, &vlen), LY_OK);
	assert_true(vlen > 64);
	store_txn_abort(txn);

	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, NULL,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.presigned, 1);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(status(f, bs, &s, EVP_sha1(), NULL, NULL, &thisupd),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_true(rp.this_update == thisupd);
	assert_true(rp.next_update == rp.this_update +
	    ca_conf(f->ca)->ocsp_validity);
	assert_true(rp.produced_at == rp.this_update);
	SHA256(rp.der, rp.len, hash);
	etag[0] = '"';
	for (i = 0; i < 32; i++)
		snprintf(etag + 1 + 2 * i, 3, "%02x", hash[i]);
	strcpy(etag + 65, "\"");
	assert_string_equal(rp.etag, etag);

	/* The same request again: the same bytes. */
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp2), LY_OK);
	assert_int_equal(rp2.presigned, 1);
	assert_int_equal(rp2.len, rp.len);
	assert_memory_equal(rp2.der, rp.der, rp.len);

	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	ocsp_reply_clear(&rp2);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_revoked(void **state)
{
	struct fixture *f = *state;
	struct ocsp_reply rp, rp2;
	struct ca_ocsp_item item;
	struct ca_serial s;
	OCSP_BASICRESP *bs;
	unsigned char *der;
	size_t len, n = 99;
	X509 *x;
	time_t t0 = time(NULL), rev = 0;
	int reason = -1;

	ly_clock_set(t0);
	issue_leaf(f, &x, &s);
	ly_clock_set(t0 + 60);
	assert_int_equal(ca_revoke(f->ca, &s, ca_reason_parse("keyCompromise"),
	    0, "test"), LY_OK);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, NULL,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.presigned, 1);
	assert_int_equal(rp.outcome, OCSP_OUT_REVOKED);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(status(f, bs, &s, EVP_sha1(), &reason, &rev, NULL),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_true(rev == t0 + 60);
	OCSP_BASICRESP_free(bs);

	/*
	 * A refresh that signed "good" before the revocation landed must not
	 * overwrite the revoked response.
	 */
	item.serial = s;
	item.status = STORE_VALID;
	item.der = (const unsigned char *)"stale";
	item.len = 5;
	assert_int_equal(ca_ocsp_store_if(f->ca, &item, 1, &n), LY_OK);
	assert_int_equal(n, 0);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp2), LY_OK);
	assert_int_equal(rp2.outcome, OCSP_OUT_REVOKED);
	assert_int_equal(rp2.len, rp.len);
	assert_memory_equal(rp2.der, rp.der, rp.len);

	ocsp_reply_clear(&rp);
	ocsp_reply_clear(&rp2);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_unknown(void **state)
{
	struct fixture *f = *state;
	struct ocsp_reply rp;
	struct ca_serial s;
	OCSP_BASICRESP *bs;
	unsigned char *der;
	size_t len;

	assert_int_equal(ca_serial_new(&s), LY_OK);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, NULL,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.presigned, 0);
	assert_int_equal(rp.outcome, OCSP_OUT_UNKNOWN);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(status(f, bs, &s, EVP_sha1(), NULL, NULL, NULL),
	    V_OCSP_CERTSTATUS_UNKNOWN);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);
}

/* A self-signed CA that is not ours. */
static X509 *
foreign_ca(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);

	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Lanyard Issuing CA 1", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

static void
test_unauthorized(void **state)
{
	struct fixture *f = *state;
	struct ocsp_reply rp;
	struct ca_serial s;
	unsigned char *der;
	size_t len;
	X509 *other = foreign_ca(), *x;

	issue_leaf(f, &x, &s);
	/* Our serial, another CA (same subject name, another key). */
	der = request1(other, &s, EVP_sha1(), 0, NULL, &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
	assert_int_equal(rp.presigned, 0);
	assert_string_equal(rp.etag, "");
	reply_check(f, &rp, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);

	/* The issuing CA certificate, before the root signed for it. */
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(
	    ca_cert(f->ca, CA_ISSUING)), &s), LY_OK);
	der = request1(ca_cert(f->ca, CA_ROOT), &s, EVP_sha1(), 0, NULL, &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
	reply_check(f, &rp, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);
	X509_free(other);
	X509_free(x);
}

/* ocsp_respond() on a request for serial under issuer; *rp to clear. */
static void
ask(struct fixture *f, X509 *issuer, const struct ca_serial *s,
    const EVP_MD *md, int noncelen, struct ocsp_reply *rp)
{
	unsigned char *der;
	size_t len;

	der = request1(issuer, s, md, noncelen, NULL, &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, rp), LY_OK);
	OPENSSL_free(der);
}

/* The status the root's response gives the issuing CA (serial is). */
static int
root_status(struct fixture *f, const struct ocsp_reply *rp,
    const struct ca_serial *is, int *reason)
{
	OCSP_BASICRESP *bs = reply_check(f, rp,
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	OCSP_CERTID *id = certid(ca_cert(f->ca, CA_ROOT), is, EVP_sha1());
	X509_STORE *st = X509_STORE_new();
	int r = -1, rsn = -1;

	/* Signed by the root itself: the trust anchor alone verifies it. */
	X509_STORE_add_cert(st, ca_cert(f->ca, CA_ROOT));
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), ly_now());
	assert_int_equal(OCSP_basic_verify(bs, NULL, st, 0), 1);
	assert_int_equal(OCSP_resp_find_status(bs, id, &r, &rsn, NULL, NULL,
	    NULL), 1);
	if (reason != NULL)
		*reason = rsn;
	X509_STORE_free(st);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	return r;
}

/*
 * The issuing CA certificate, asked about under the root (nginx ssl_ocsp
 * on): the root's pre-signed response (ocsp_root_presign()), served
 * without signing, for a SHA-1 CertID, nonce or not; never for the
 * issuing CA's hashes, never stale, and dropped at once on revocation.
 */
static void
test_root_ca(void **state)
{
	struct fixture *f = *state;
	X509 *root = ca_cert(f->ca, CA_ROOT), *iss = ca_cert(f->ca, CA_ISSUING);
	struct ocsp_reply rp;
	struct ca_serial is, rs;
	time_t now = time(NULL), nu = 0, earliest = 0;
	size_t n = 0;
	int reason;

	ly_clock_set(now);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(iss), &is),
	    LY_OK);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(root), &rs),
	    LY_OK);
	/* Nothing signed by the root yet: unauthorized, and status says so. */
	ask(f, root, &is, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
	ocsp_reply_clear(&rp);
	assert_int_equal(ocsp_root_next_update(f->ca, &earliest, &n), LY_OK);
	assert_int_equal(n, 1);
	assert_int_equal(earliest, 0);

	assert_int_equal(ocsp_root_presign(f->ca, "test", &n, &nu), LY_OK);
	assert_int_equal(n, 1);
	assert_int_equal(nu, now + ca_conf(f->ca)->root.ocsp_validity);
	assert_int_equal(ca_conf(f->ca)->root.ocsp_validity, 180 * 86400);
	assert_int_equal(ocsp_root_next_update(f->ca, &earliest, &n), LY_OK);
	assert_int_equal(earliest, nu);

	ask(f, root, &is, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_int_equal(rp.presigned, 1);
	assert_int_equal(rp.next_update, nu);
	assert_int_equal(root_status(f, &rp, &is, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	ocsp_reply_clear(&rp);
	/* A nonce cannot be signed for the root: the stored response. */
	ask(f, root, &is, EVP_sha1(), 16, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_int_equal(rp.presigned, 1);
	ocsp_reply_clear(&rp);
	/* It was signed for a SHA-1 CertID only. */
	ask(f, root, &is, EVP_sha256(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
	ocsp_reply_clear(&rp);
	/* The root itself has no issuer to answer for it. */
	ask(f, root, &rs, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
	ocsp_reply_clear(&rp);
	/* Under the issuing CA's hashes the serial is none of its own. */
	ask(f, iss, &is, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_UNKNOWN);
	assert_int_equal(rp.presigned, 0);
	ocsp_reply_clear(&rp);

	/* Revoked by the root: the good response goes at once. */
	assert_int_equal(ca_revoke(f->ca, &is, 1, 0, "test"), LY_OK);
	ask(f, root, &is, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
	ocsp_reply_clear(&rp);
	assert_int_equal(ocsp_root_presign(f->ca, "test", &n, NULL), LY_OK);
	ask(f, root, &is, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_REVOKED);
	assert_int_equal(root_status(f, &rp, &is, &reason),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, 1);
	ocsp_reply_clear(&rp);
	/* Past its nextUpdate a response is never served. */
	ly_clock_set(nu);
	ask(f, root, &is, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
	ocsp_reply_clear(&rp);
}

static void
malformed(struct fixture *f, const unsigned char *der, size_t len)
{
	struct ocsp_reply rp;

	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.outcome, OCSP_OUT_MALFORMED);
	assert_int_equal(rp.presigned, 0);
	assert_true(rp.next_update == 0);
	reply_check(f, &rp, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	ocsp_reply_clear(&rp);
}

static void
test_malformed(void **state)
{
	struct fixture *f = *state;
	OCSP_CERTID *ids[17];
	OCSP_REQUEST *req;
	X509_EXTENSION *ext;
	ASN1_OCTET_STRING *os;
	unsigned char *der, *big, junk[64], nonce[33];
	struct ca_serial s;
	size_t len, i;

	RAND_bytes(junk, sizeof(junk));
	malformed(f, junk, sizeof(junk));
	malformed(f, (const unsigned char *)"", 0);
	malformed(f, (const unsigned char *)"\x30\x00", 2);

	assert_int_equal(ca_serial_new(&s), LY_OK);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, NULL,
	    &len);
	for (i = 1; i < len; i++)
		malformed(f, der, i);	/* every truncation */
	big = calloc(1, OCSP_REQUEST_MAX + 1);
	memcpy(big, der, len);
	malformed(f, big, len + 1);	/* trailing garbage */
	malformed(f, big, OCSP_REQUEST_MAX + 1);
	free(big);
	OPENSSL_free(der);

	/* 17 CertIDs, one more than max_requests allows. */
	for (i = 0; i < 17; i++)
		ids[i] = certid(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1());
	der = request(ids, 17, 0, NULL, &len);
	malformed(f, der, len);
	OPENSSL_free(der);

	/* A nonce of 33 octets (RFC 8954: at most 32). */
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, &req,
	    &len);
	OPENSSL_free(der);
	RAND_bytes(nonce, sizeof(nonce));
	assert_int_equal(OCSP_request_add1_nonce(req, nonce, sizeof(nonce)), 1);
	der = NULL;
	len = (size_t)i2d_OCSP_REQUEST(req, &der);
	malformed(f, der, len);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);

	/* An unknown critical extension. */
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, &req,
	    &len);
	OPENSSL_free(der);
	os = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x05\x00", 2);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_serviceLocator,
	    1, os);
	assert_non_null(ext);
	assert_int_equal(OCSP_REQUEST_add_ext(req, ext, -1), 1);
	der = NULL;
	len = (size_t)i2d_OCSP_REQUEST(req, &der);
	malformed(f, der, len);
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	OCSP_REQUEST_free(req);

	/* An MD5 CertID. */
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_md5(), 0, NULL,
	    &len);
	malformed(f, der, len);
	OPENSSL_free(der);
}

static void
test_nonce(void **state)
{
	struct fixture *f = *state;
	struct ocsp_reply rp;
	struct ca_serial s;
	OCSP_REQUEST *req;
	OCSP_BASICRESP *bs;
	unsigned char *der;
	size_t len;
	X509 *x;

	issue_leaf(f, &x, &s);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 16, &req,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.presigned, 0);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_true(rp.next_update == 0);
	assert_string_equal(rp.etag, "");
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(OCSP_check_nonce(req, bs), 1);
	assert_int_equal(status(f, bs, &s, EVP_sha1(), NULL, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);

	/* nonce = ignore: the pre-signed response, without the nonce. */
	((struct conf *)ca_conf(f->ca))->ocsp_nonce_sign = 0;
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.presigned, 1);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(OCSP_check_nonce(req, bs), -1);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);

	OCSP_REQUEST_free(req);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_sha256_multi(void **state)
{
	struct fixture *f = *state;
	struct ocsp_reply rp;
	struct ca_serial s, s2, unk;
	OCSP_CERTID *ids[3];
	OCSP_BASICRESP *bs;
	unsigned char *der;
	size_t len;
	X509 *x, *x2;

	issue_leaf(f, &x, &s);
	issue_leaf(f, &x2, &s2);
	assert_int_equal(ca_revoke(f->ca, &s2, -1, 0, "test"), LY_OK);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha256(), 0, NULL,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.presigned, 0);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	/* Signed on demand without a nonce: still cacheable. */
	assert_true(rp.next_update > rp.this_update);
	assert_int_equal(rp.etag[0], '"');
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(status(f, bs, &s, EVP_sha256(), NULL, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);

	/* Several certificates: the outcome is the first one's. */
	assert_int_equal(ca_serial_new(&unk), LY_OK);
	ids[0] = certid(ca_cert(f->ca, CA_ISSUING), &s2, EVP_sha384());
	ids[1] = certid(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha512());
	ids[2] = certid(ca_cert(f->ca, CA_ISSUING), &unk, EVP_sha1());
	der = request(ids, 3, 0, NULL, &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.outcome, OCSP_OUT_REVOKED);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(OCSP_resp_count(bs), 3);
	assert_int_equal(status(f, bs, &s2, EVP_sha384(), NULL, NULL, NULL),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(status(f, bs, &s, EVP_sha512(), NULL, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(status(f, bs, &unk, EVP_sha1(), NULL, NULL, NULL),
	    V_OCSP_CERTSTATUS_UNKNOWN);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);
	X509_free(x);
	X509_free(x2);
}

static void
test_refresh(void **state)
{
	struct fixture *f = *state;
	const struct conf *c = ca_conf(f->ca);
	struct ocsp_reply rp;
	struct ca_serial s;
	OCSP_BASICRESP *bs;
	unsigned char *der;
	size_t len, n = 99;
	time_t t0 = time(NULL), thisupd;
	X509 *x;

	ly_clock_set(t0);
	issue_leaf(f, &x, &s);
	/*
	 * Only what was issued before the hook was set: the HTTPS server
	 * certificate of init and the signer's own certificate.
	 */
	assert_int_equal(ocsp_refresh(f->resp, &n), LY_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ocsp_refresh(f->resp, &n), LY_OK);
	assert_int_equal(n, 0);

	ly_clock_set(t0 + c->ocsp_validity - 3600);
	assert_int_equal(ocsp_refresh(f->resp, &n), LY_OK);
	assert_true(n > 0);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, NULL,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.presigned, 1);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(status(f, bs, &s, EVP_sha1(), NULL, NULL, &thisupd),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_true(thisupd == t0 + c->ocsp_validity - 3600);
	assert_int_equal(ocsp_refresh(f->resp, &n), LY_OK);
	assert_int_equal(n, 0);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_rotation(void **state)
{
	struct fixture *f = *state;
	struct ocsp_reply rp;
	struct ca_serial s;
	struct store_txn *txn;
	OCSP_BASICRESP *bs;
	unsigned char *der;
	size_t len, n = 0;
	time_t t0 = time(NULL), na, na2;
	ASN1_INTEGER *old;
	X509 *x, *signer;

	ly_clock_set(t0);
	issue_leaf(f, &x, &s);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, NULL,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	old = ASN1_INTEGER_dup(X509_get0_serialNumber(signer_of(bs)));
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	na = ocsp_signer_not_after(f->resp);

	/* An hour before the signer expires: rotated, everything re-signed. */
	ly_clock_set(na - 3600);
	assert_int_equal(ocsp_refresh(f->resp, &n), LY_OK);
	assert_true(n > 0);
	na2 = ocsp_signer_not_after(f->resp);
	assert_true(na2 > na);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.presigned, 1);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	signer = signer_of(bs);
	assert_int_not_equal(ASN1_INTEGER_cmp(old,
	    X509_get0_serialNumber(signer)), 0);
	assert_true(time_of(X509_get0_notAfter(signer)) == na2);
	assert_int_equal(status(f, bs, &s, EVP_sha1(), NULL, NULL, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);

	/* Signed on demand with the new one too; the audit chain holds. */
	OPENSSL_free(der);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 8, NULL,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	bs = reply_check(f, &rp, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_not_equal(ASN1_INTEGER_cmp(old,
	    X509_get0_serialNumber(signer_of(bs))), 0);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_audit_verify(txn, NULL), LY_OK);
	store_txn_abort(txn);

	ASN1_INTEGER_free(old);
	OPENSSL_free(der);
	X509_free(x);
}

static int
count_ocsp_cb(const struct store_cert *c, void *arg)
{
	if (strcmp(c->profile, "ocsp") == 0)
		(*(size_t *)arg)++;
	return 0;
}

static size_t
signers(struct fixture *f)
{
	struct store_txn *txn;
	size_t n = 0;

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_foreach(txn, count_ocsp_cb, &n), LY_OK);
	store_txn_abort(txn);
	return n;
}

/*
 * Another process (here a second responder) rotates first: the first
 * one's refresh takes the new signer over instead of making a third.
 */
static void
test_other_process(void **state)
{
	struct fixture *f = *state;
	struct ocsp_responder *other = NULL;
	time_t na = ocsp_signer_not_after(f->resp);
	size_t n;

	assert_int_equal(signers(f), 1);
	ly_clock_set(na - 3600);
	assert_int_equal(ocsp_responder_new(f->ca, &other), LY_OK);
	assert_int_equal(signers(f), 2);
	assert_true(ocsp_signer_not_after(other) > na);
	assert_int_equal(ocsp_refresh(f->resp, &n), LY_OK);
	assert_int_equal(signers(f), 2);
	assert_true(ocsp_signer_not_after(f->resp) ==
	    ocsp_signer_not_after(other));
	ocsp_responder_free(other);
}

/* A signer that can no longer sign: tryLater, never a bad response. */
static void
test_trylater(void **state)
{
	struct fixture *f = *state;
	struct ocsp_reply rp;
	struct ca_serial s;
	unsigned char *der;
	size_t len;
	X509 *x;

	issue_leaf(f, &x, &s);
	/* Past the signer's notAfter, and with no refresh to rotate it. */
	ly_clock_set(ocsp_signer_not_after(f->resp) + 60);
	der = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, NULL,
	    &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.outcome, OCSP_OUT_TRYLATER);
	assert_int_equal(rp.presigned, 0);
	reply_check(f, &rp, OCSP_RESPONSE_STATUS_TRYLATER);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);
	X509_free(x);
}

struct worker {
	struct fixture	*f;
	unsigned char	*der[2];
	size_t		 len[2];
	int		 bad;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct ocsp_reply rp;
	int i;

	for (i = 0; i < 200; i++) {
		if (ocsp_respond(w->f->resp, w->der[i % 2], w->len[i % 2],
		    &rp) != LY_OK || rp.outcome != OCSP_OUT_GOOD)
			w->bad++;
		ocsp_reply_clear(&rp);
	}
	return NULL;
}

static void
test_ocsp_threads(void **state)
{
	struct fixture *f = *state;
	struct worker w[4];
	pthread_t t[4];
	struct ca_serial s;
	unsigned char *der[2];
	size_t len[2];
	X509 *x;
	int i;

	issue_leaf(f, &x, &s);
	der[0] = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha1(), 0, NULL,
	    &len[0]);
	der[1] = request1(ca_cert(f->ca, CA_ISSUING), &s, EVP_sha256(), 16,
	    NULL, &len[1]);
	for (i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].f = f;
		memcpy(w[i].der, der, sizeof(der));
		memcpy(w[i].len, len, sizeof(len));
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	OPENSSL_free(der[0]);
	OPENSSL_free(der[1]);
	X509_free(x);
}

/*
 * CA slots: a CertID names its CA by both hashes of one slot. The name
 * hash of one CA with the key hash of another, a request naming two
 * CAs, or a CA we do not know is unauthorized, every time (the slot
 * refresh it may trigger changes nothing here).
 */
static void
test_slot_unknown_issuer(void **state)
{
	struct fixture *f = *state;
	X509 *root = ca_cert(f->ca, CA_ROOT), *iss = ca_cert(f->ca, CA_ISSUING);
	X509 *other = foreign_ca(), *x;
	OCSP_CERTID *ids[2];
	ASN1_INTEGER *sn;
	struct ocsp_reply rp;
	struct ca_serial s, is;
	unsigned char *der;
	size_t len;
	int i;

	issue_leaf(f, &x, &s);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(iss), &is),
	    LY_OK);
	assert_true(ca_nslots(f->ca) >= 2);
	for (i = 0; i < 3; i++) {
		ask(f, other, &s, i == 1 ? EVP_sha256() : EVP_sha1(),
		    i == 2 ? 16 : 0, &rp);
		assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
		reply_check(f, &rp, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
		ocsp_reply_clear(&rp);
	}
	/* The issuing CA's name, the root's key. */
	sn = ca_serial_to_asn1(&s);
	ids[0] = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(iss),
	    X509_get0_pubkey_bitstr(root), sn);
	assert_non_null(ids[0]);
	ASN1_INTEGER_free(sn);
	der = request(ids, 1, 0, NULL, &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);
	/* One response, one signer: two CAs in one request are refused. */
	assert_int_equal(ocsp_root_presign(f->ca, "test", NULL, NULL), LY_OK);
	ids[0] = certid(iss, &s, EVP_sha1());
	ids[1] = certid(root, &is, EVP_sha1());
	der = request(ids, 2, 0, NULL, &len);
	assert_int_equal(ocsp_respond(f->resp, der, len, &rp), LY_OK);
	assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
	ocsp_reply_clear(&rp);
	OPENSSL_free(der);
	/* Each alone is answered. */
	ask(f, iss, &s, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	ocsp_reply_clear(&rp);
	ask(f, root, &is, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	ocsp_reply_clear(&rp);
	X509_free(other);
	X509_free(x);
}

/* Rewrites the slot byte of serial's stored response (0: before slots). */
static void
stored_slot_set(struct fixture *f, const struct ca_serial *s, int byte)
{
	struct store_txn *txn;
	unsigned char *copy;
	const void *v;
	size_t vlen;

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_ocsp_get(txn, s, &v, &vlen), LY_OK);
	assert_non_null(copy = malloc(vlen));
	memcpy(copy, v, vlen);
	store_txn_abort(txn);
	copy[6] = (unsigned char)byte;
	assert_int_equal(ca_ocsp_store(f->ca, s, copy, vlen), LY_OK);
	free(copy);
}

/*
 * A serial of another slot is an unknown serial of the slot asked
 * about, on every path (stored, signed with a nonce, SHA-256), and the
 * stored response of one CA is never served for another.
 */
static void
test_slot_other_serial(void **state)
{
	struct fixture *f = *state;
	X509 *root = ca_cert(f->ca, CA_ROOT), *iss = ca_cert(f->ca, CA_ISSUING);
	struct ocsp_reply rp;
	struct ca_serial s, is;
	X509 *x;
	int i;

	issue_leaf(f, &x, &s);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(iss), &is),
	    LY_OK);
	assert_int_equal(ocsp_root_presign(f->ca, "test", NULL, NULL), LY_OK);
	/* The root's record (the issuing CA) under the issuing CA. */
	for (i = 0; i < 3; i++) {
		ask(f, iss, &is, i == 1 ? EVP_sha256() : EVP_sha1(),
		    i == 2 ? 16 : 0, &rp);
		assert_int_equal(rp.outcome, OCSP_OUT_UNKNOWN);
		assert_int_equal(rp.presigned, 0);
		ocsp_reply_clear(&rp);
	}
	/* The issuing CA's leaf under the root: no root response for it. */
	for (i = 0; i < 2; i++) {
		ask(f, root, &s, EVP_sha1(), i == 1 ? 16 : 0, &rp);
		assert_int_equal(rp.outcome, OCSP_OUT_UNAUTHORIZED);
		ocsp_reply_clear(&rp);
	}
	/* Stored before slots (slot byte 0): served as the issuing CA's. */
	stored_slot_set(f, &s, 0);
	ask(f, iss, &s, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_int_equal(rp.presigned, 1);
	ocsp_reply_clear(&rp);
	/* Said to be about another CA's certificate: signed afresh. */
	stored_slot_set(f, &s, CA_ROOT + 1);
	ask(f, iss, &s, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_int_equal(rp.presigned, 0);
	ocsp_reply_clear(&rp);
	stored_slot_set(f, &s, CA_MAX_SLOTS + 1);
	ask(f, iss, &s, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.presigned, 0);
	ocsp_reply_clear(&rp);
	X509_free(x);
}

/*
 * One signer per issuing slot: slot 1's keeps the meta key and labels of
 * before slots, is certified by slot 1 (its record's ca), and a root
 * slot has none; the signer's certificate cannot come from a root.
 */
static void
test_slot_signer(void **state)
{
	struct fixture *f = *state;
	struct ca_signers *h = NULL;
	struct ca_signer *sg;
	struct store_txn *txn;
	struct store_cert *rec = NULL;
	struct ca_serial ss;
	struct ca_request rq;
	char key[CA_SIGNER_KEY_MAX], want[CA_SIGNER_KEY_MAX];
	const void *v;
	size_t vlen;
	X509 *x = NULL;

	assert_int_equal(ca_ocsp_signer_key(f->ca, CA_ISSUING, key,
	    sizeof(key)), LY_OK);
	assert_string_equal(key, CA_META_OCSP_SIGNER);
	assert_int_equal(ca_ocsp_signer_key(f->ca, CA_ROOT, key, sizeof(key)),
	    LY_OK);
	snprintf(want, sizeof(want), "%s/%s", CA_META_OCSP_SIGNER,
	    ca_slot_name(f->ca, CA_ROOT));
	assert_string_equal(key, want);
	assert_int_equal(ca_ocsp_signer_key(f->ca, CA_ROOT, key, 8),
	    LY_ERR_TOO_LARGE);
	assert_false(ca_signer_slot_wanted(f->ca, CA_ROOT));
	assert_true(ca_signer_slot_wanted(f->ca, CA_ISSUING));
	assert_false(ca_signer_slot_wanted(f->ca, ca_nslots(f->ca)));

	assert_int_equal(ca_signers_new(f->ca, &h), LY_OK);
	assert_int_equal(ca_signers_sync(h), LY_OK);
	assert_null(ca_signers_get(h, CA_ROOT));
	assert_null(ca_signers_get(h, -1));
	assert_null(ca_signers_get(h, CA_MAX_SLOTS));
	assert_non_null(sg = ca_signers_get(h, CA_ISSUING));
	assert_int_equal(ca_signer_slot(sg), CA_ISSUING);
	assert_string_equal(ca_signer_label(sg), "ocsp-signer-1");
	assert_int_equal(X509_check_issued(ca_cert(f->ca, CA_ISSUING),
	    ca_signer_cert(sg)), X509_V_OK);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(
	    ca_signer_cert(sg)), &ss), LY_OK);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_get(txn, &ss, &rec), LY_OK);
	assert_int_equal(rec->ca, CA_ISSUING);
	assert_int_equal(store_meta_get(txn, CA_META_OCSP_SIGNER, &v, &vlen),
	    LY_OK);
	assert_int_equal(store_meta_get(txn, want, &v, &vlen),
	    LY_ERR_NOT_FOUND);
	store_txn_abort(txn);
	store_cert_free(rec);
	assert_true(ca_signer_not_after(sg) ==
	    ca_signers_stored_not_after(h, CA_ISSUING));
	assert_true(ca_signers_stored_not_after(h, CA_ROOT) == 0);
	ca_signer_put(sg);
	ca_signers_free(h);

	/* ca_request.slot: an issuing slot only. */
	memset(&rq, 0, sizeof(rq));
	rq.profile = "client";
	rq.csr = f->csr;
	rq.csrlen = f->csrlen;
	rq.identity.kind = CONF_ID_JSON;
	rq.identity.value = (char *)"{\"userId\":42}";
	rq.actor = "test";
	rq.slot = CA_MAX_SLOTS;
	assert_int_equal(ca_issue(f->ca, &rq, &x, &ss), LY_ERR_ARG);
	rq.slot = -1;
	assert_int_equal(ca_issue(f->ca, &rq, &x, &ss), LY_ERR_ARG);
	rq.slot = CA_ISSUING;
	assert_int_equal(ca_issue(f->ca, &rq, &x, &ss), LY_OK);
	assert_int_equal(X509_check_issued(ca_cert(f->ca, CA_ISSUING), x),
	    X509_V_OK);
	X509_free(x);
}

/* An instance with a second issuing CA, [issuer devices], for "client". */
static int
setup_two(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *def = conf_default_text(CONF_KEY_EC_P256), *text = NULL, *at;
	const char *mark = "[profile client]\n";
	int r = -1;

	ly_clock_set(0);
	if (f == NULL || def == NULL || (at = strstr(def, mark)) == NULL)
		goto out;
	at += strlen(mark);
	if (asprintf(&text, "%.*sissuer = devices\n%s\n[issuer devices]\n"
	    "key = pkcs11:token=lanyard-issuing;object=devices-ca\n"
	    "pin_file = hsm/issuing.pin\nsubject = /O=Test/CN=Devices CA\n"
	    "key_type = ec-p256\ndays = 1000\ncert = certs/devices.crt\n",
	    (int)(at - def), def, at) == -1) {
		text = NULL;
		goto out;
	}
	if (fixture_instance("/tmp/lanyard-ocsp2", CONF_KEY_EC_P256, text,
	    f->base, f->dir) != 0 || ca_open(f->dir, 0, &f->ca) != LY_OK)
		goto out;
	if (ocsp_responder_new(f->ca, &f->resp) != LY_OK) {
		fprintf(stderr, "ocsp_responder_new: %s\n", ly_errdetail());
		goto out;
	}
	f->csr = fixture_csr(NULL, NULL, 0, &f->csrlen);
	*state = f;
	f = NULL;
	r = 0;
 out:
	free(def);
	free(text);
	free(f);
	return r;
}

/* The signer certificate of a successful reply, verified up to the root. */
static X509 *
reply_signer(struct fixture *f, const struct ocsp_reply *rp, int slot,
    OCSP_BASICRESP **bsp)
{
	const unsigned char *p = rp->der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)rp->len);
	X509_STORE *st = X509_STORE_new();
	OCSP_BASICRESP *bs;

	assert_non_null(resp);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	OCSP_RESPONSE_free(resp);
	X509_STORE_add_cert(st, ca_cert(f->ca, CA_ROOT));
	X509_STORE_add_cert(st, ca_cert(f->ca, slot));
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), ly_now());
	assert_int_equal(OCSP_basic_verify(bs, NULL, st, 0), 1);
	X509_STORE_free(st);
	*bsp = bs;
	return signer_of(bs);
}

/*
 * Two issuing CAs: each has its own signer (key on its token, labelled
 * after it, certified by it, recorded under its own meta key), answers
 * for its own certificates only, pre-signed and signed; the root signs
 * for both CA certificates.
 */
static void
test_slot_two_issuers(void **state)
{
	struct fixture *f = *state;
	int dev = ca_slot_by_name(f->ca, "devices");
	X509 *iss = ca_cert(f->ca, CA_ISSUING), *x, *y, *sx;
	struct ca_signers *h = NULL;
	struct ca_signer *s1, *s2;
	struct store_txn *txn;
	struct store_cert *rec = NULL;
	struct ca_serial s, ss, sn;
	struct ca_request rq;
	struct ocsp_reply rp;
	OCSP_BASICRESP *bs;
	const void *v;
	size_t vlen, n = 0;
	char key[CA_SIGNER_KEY_MAX];

	assert_true(dev > CA_ISSUING);
	assert_false(ca_slot_is_root(f->ca, dev));
	assert_true(ca_signer_slot_wanted(f->ca, dev));

	/* The signers: one each, certified by its own CA. */
	assert_int_equal(ca_signers_new(f->ca, &h), LY_OK);
	assert_int_equal(ca_signers_sync(h), LY_OK);
	assert_non_null(s1 = ca_signers_get(h, CA_ISSUING));
	assert_non_null(s2 = ca_signers_get(h, dev));
	assert_string_equal(ca_signer_label(s1), "ocsp-signer-1");
	assert_string_equal(ca_signer_label(s2), "devices-ocsp-signer-1");
	assert_int_equal(ca_signer_slot(s2), dev);
	assert_int_equal(X509_check_issued(ca_cert(f->ca, dev),
	    ca_signer_cert(s2)), X509_V_OK);
	assert_int_not_equal(X509_check_issued(iss, ca_signer_cert(s2)),
	    X509_V_OK);
	assert_int_not_equal(EVP_PKEY_eq(X509_get0_pubkey(ca_signer_cert(s1)),
	    X509_get0_pubkey(ca_signer_cert(s2))), 1);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(
	    ca_signer_cert(s2)), &sn), LY_OK);
	assert_int_equal(ca_ocsp_signer_key(f->ca, dev, key, sizeof(key)),
	    LY_OK);
	assert_string_equal(key, CA_META_OCSP_SIGNER "/devices");
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_meta_get(txn, key, &v, &vlen), LY_OK);
	assert_int_equal(store_cert_get(txn, &sn, &rec), LY_OK);
	assert_int_equal(rec->ca, dev);
	store_txn_abort(txn);
	store_cert_free(rec);
	assert_true(ocsp_signer_not_after(f->resp) ==
	    (ca_signer_not_after(s1) < ca_signer_not_after(s2) ?
	    ca_signer_not_after(s1) : ca_signer_not_after(s2)));

	/* A client leaf comes from devices; its response from its signer. */
	issue_leaf(f, &x, &s);
	assert_int_equal(X509_check_issued(ca_cert(f->ca, dev), x), X509_V_OK);
	ask(f, ca_cert(f->ca, dev), &s, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_int_equal(rp.presigned, 1);
	sx = reply_signer(f, &rp, dev, &bs);
	assert_int_equal(X509_cmp(sx, ca_signer_cert(s2)), 0);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	ask(f, ca_cert(f->ca, dev), &s, EVP_sha256(), 16, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_int_equal(rp.presigned, 0);
	sx = reply_signer(f, &rp, dev, &bs);
	assert_int_equal(X509_cmp(sx, ca_signer_cert(s2)), 0);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);
	/* Under the issuing CA: unknown, said by the issuing CA's signer. */
	ask(f, iss, &s, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_UNKNOWN);
	assert_int_equal(rp.presigned, 0);
	sx = reply_signer(f, &rp, CA_ISSUING, &bs);
	assert_int_equal(X509_cmp(sx, ca_signer_cert(s1)), 0);
	OCSP_BASICRESP_free(bs);
	ocsp_reply_clear(&rp);

	/* A service leaf comes from issuing: unknown under devices. */
	memset(&rq, 0, sizeof(rq));
	rq.profile = "service";
	rq.csr = f->csr;
	rq.csrlen = f->csrlen;
	rq.identity.kind = CONF_ID_NONE;
	assert_int_equal(ca_identity_add_dns(&rq.identity, "svc.example"),
	    LY_OK);
	rq.actor = "test";
	assert_int_equal(ca_issue(f->ca, &rq, &y, &ss), LY_OK);
	ca_identity_clear(&rq.identity);
	assert_int_equal(X509_check_issued(iss, y), X509_V_OK);
	ask(f, ca_cert(f->ca, dev), &ss, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_UNKNOWN);
	ocsp_reply_clear(&rp);
	ask(f, iss, &ss, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_int_equal(rp.presigned, 1);
	ocsp_reply_clear(&rp);

	/* Revoked under devices at once; refresh keeps each CA's own. */
	assert_int_equal(ca_revoke(f->ca, &s, 1, 0, "test"), LY_OK);
	ask(f, ca_cert(f->ca, dev), &s, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_REVOKED);
	assert_int_equal(rp.presigned, 1);
	ocsp_reply_clear(&rp);
	ly_clock_set(time(NULL) + ca_conf(f->ca)->ocsp_validity);
	assert_int_equal(ocsp_refresh(f->resp, &n), LY_OK);
	assert_true(n >= 2);
	ask(f, ca_cert(f->ca, dev), &s, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_REVOKED);
	assert_int_equal(rp.presigned, 1);
	ocsp_reply_clear(&rp);
	ask(f, iss, &ss, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_int_equal(rp.presigned, 1);
	ocsp_reply_clear(&rp);
	ly_clock_set(0);

	/* The root signs for both CA certificates. */
	assert_int_equal(ocsp_root_presign(f->ca, "test", &n, NULL), LY_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(
	    ca_cert(f->ca, dev)), &sn), LY_OK);
	ask(f, ca_cert(f->ca, CA_ROOT), &sn, EVP_sha1(), 0, &rp);
	assert_int_equal(rp.outcome, OCSP_OUT_GOOD);
	assert_int_equal(root_status(f, &rp, &sn, NULL),
	    V_OCSP_CERTSTATUS_GOOD);
	ocsp_reply_clear(&rp);

	ca_signer_put(s1);
	ca_signer_put(s2);
	ca_signers_free(h);
	X509_free(x);
	X509_free(y);
}

static void
test_get_decode(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(ocsp_get_decode("%2B%2F%2B%2F", out,
	    sizeof(out)), 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
	assert_int_equal(ocsp_get_decode("+/+/", out, sizeof(out)), 3);
	assert_int_equal(ocsp_get_decode("QQ%3D%3D", out, sizeof(out)),
	    1);
	assert_int_equal(ocsp_get_decode("QQ%3d%3d", out, sizeof(out)),
	    1);
	assert_true(ocsp_get_decode("!!!notbase64", out,
	    sizeof(out)) < 0);
	assert_true(ocsp_get_decode("QQ%3", out, sizeof(out)) < 0);
	assert_true(ocsp_get_decode("QQ%00%3D", out, sizeof(out)) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_decode),
		cmocka_unit_test_setup_teardown(test_signer, setup_ocsp, teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_presigned_good, setup_ocsp,
		    teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_revoked, setup_ocsp, teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_unknown, setup_ocsp, teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_unauthorized, setup_ocsp,
		    teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_root_ca, setup_ocsp,
		    teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_malformed, setup_ocsp,
		    teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_nonce, setup_ocsp, teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_sha256_multi, setup_ocsp,
		    teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_refresh, setup_ocsp, teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_rotation, setup_ocsp,
		    teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_other_process, setup_ocsp,
		    teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_trylater, setup_ocsp, teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_ocsp_threads, setup_ocsp, teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_slot_unknown_issuer,
		    setup_ocsp, teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_slot_other_serial,
		    setup_ocsp, teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_slot_signer, setup_ocsp,
		    teardown_ocsp),
		cmocka_unit_test_setup_teardown(test_slot_two_issuers,
		    setup_two, teardown_ocsp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
