/*
 * Unit tests of the CA engine on a real SoftHSM2 instance in a temp dir:
 * profile selection, identity from the authorization and never from the
 * CSR, the store after issue/reissue/revoke, serial collisions, that a
 * refused request leaves the store as it was, and the group commit of
 * concurrent issuances (ca/commit.c, reached through ca/extern.h).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/extern.h"
#include "ca/store.h"
#include "tests/unit/fixture.h"
#include "util/util.h"

struct fixture {
	char		 base[64];
	char		 dir[80];
	struct ca	*ca;
	unsigned char	*csr;
	size_t		 csrlen;
};

/* A P-256 CSR that asks for a subject and SAN it must not get. */
static int
setup_ca(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || fixture_instance("/tmp/lanyard-ca", CONF_KEY_EC_P256,
	    NULL, f->base, f->dir) != 0 || ca_open(f->dir, 0, &f->ca) != LY_OK)
		return -1;
	f->csr = fixture_csr("evil", "DNS:evil.example", 1, &f->csrlen);
	*state = f;
	return 0;
}

static int
teardown_ca(void **state)
{
	struct fixture *f = *state;

	ca_close(f->ca);
	fixture_remove(f->base);
	free(f->csr);
	free(f);
	return 0;
}

static int
count_cb(const struct store_cert *c, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static size_t
count(struct ca *ca)
{
	struct store_txn *txn;
	size_t n = 0;

	assert_int_equal(store_txn_begin(ca_store(ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_foreach(txn, count_cb, &n), LY_OK);
	store_txn_abort(txn);
	return n;
}

static int
issue_json(struct fixture *f, const char *profile, const char *json,
    int days, X509 **x, struct ca_serial *s)
{
	struct ca_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.profile = profile;
	rq.csr = f->csr;
	rq.csrlen = f->csrlen;
	rq.identity.kind = json != NULL ? CONF_ID_JSON : CONF_ID_NONE;
	rq.identity.value = (char *)json;
	rq.days = days;
	rq.actor = "test";
	return ca_issue(f->ca, &rq, x, s);
}

/* A one-time token for a client identity; caller frees. */
static char *
token_new(struct fixture *f, int uid)
{
	char json[64], *tok = NULL, *id = NULL;

	snprintf(json, sizeof(json), "{\"userId\":%d}", uid);
	assert_int_equal(ca_token_create(f->ca, "client", json, 3600, "test",
	    &tok, &id), LY_OK);
	free(id);
	return tok;
}

static char *
san_text(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	int i = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
	char *data, *s;
	long len;

	X509V3_EXT_print(b, X509_get_ext(x, i), 0, 0);
	len = BIO_get_mem_data(b, &data);
	s = strndup(data, (size_t)len);
	BIO_free(b);
	return s;
}

static void
test_identity_from_authorization(void **state)
{
	struct fixture *f = *state;
	struct ca_serial s;
	X509 *x = NULL;
	char *san, buf[256];

	assert_int_equal(issue_json(f, "client", "{ \"userId\": 42, "
	    "\"platform\": \"linux\" }", 0, &x, &s), LY_OK);
	san = san_text(x);
	assert_string_equal(san, "URI:{\"platform\":\"linux\",\"userId\":42}");
	X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof(buf));
	assert_null(strstr(buf, "evil"));
	assert_int_equal(X509_get_ext_by_NID(x, NID_basic_constraints, -1) >= 0,
	    1);
	assert_int_equal(X509_check_ca(x), 0);
	free(san);
	X509_free(x);
}

static void
test_stored_before_returned(void **state)
{
	struct fixture *f = *state;
	struct store_txn *txn;
	struct store_cert *rec;
	struct ca_serial s, s2;
	X509 *x = NULL;
	unsigned char *der = NULL;
	int len;

	assert_int_equal(issue_json(f, "client", "{\"userId\":\"a\"}", 0, &x,
	    &s), LY_OK);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(x), &s2),
	    LY_OK);
	assert_memory_equal(s.b, s2.b, CA_SERIAL_LEN);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_get(txn, &s, &rec), LY_OK);
	assert_int_equal(rec->status, STORE_VALID);
	assert_int_equal(rec->ca, CA_ISSUING);
	assert_string_equal(rec->profile, "client");
	assert_string_equal(rec->identity, "{\"userId\":\"a\"}");
	len = i2d_X509(x, &der);
	assert_int_equal((size_t)len, rec->derlen);
	assert_memory_equal(der, rec->der, rec->derlen);
	store_cert_free(rec);
	store_txn_abort(txn);
	OPENSSL_free(der);
	X509_free(x);
}

/* The stored DER of serial s equals der; and the record is valid. */
static void
assert_stored_der(struct fixture *f, const struct ca_serial *s,
    const unsigned char *der, size_t len)
{
	struct store_txn *txn;
	struct store_cert *rec;

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_get(txn, s, &rec), LY_OK);
	assert_int_equal(rec->status, STORE_VALID);
	assert_int_equal(rec->derlen, len);
	assert_memory_equal(rec->der, der, len);
	store_cert_free(rec);
	store_txn_abort(txn);
}

/*
 * The DER entry points enroll/ uses: the DER returned is the one stored,
 * and the serial and notAfter given beside it are the certificate's. As
 * through the X509 entry points, a used token is refused, and a
 * superseded certificate asked again gets its successor for the same key
 * and a refusal for another; a refusal leaves *out alone.
 */
static void
test_issue_der(void **state)
{
	struct fixture *f = *state;
	struct ca_issued is, re, again, none;
	struct ca_serial s;
	const unsigned char *p;
	unsigned char *other;
	size_t otherlen;
	X509 *x;
	char *tok;

	tok = token_new(f, 9);
	memset(&is, 0, sizeof(is));
	assert_int_equal(ca_issue_token_der(f->ca, tok, f->csr, f->csrlen,
	    "test", &is), LY_OK);
	assert_stored_der(f, &is.serial, is.der, is.derlen);
	p = is.der;
	assert_non_null(x = d2i_X509(NULL, &p, (long)is.derlen));
	assert_ptr_equal(p, is.der + is.derlen);
	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(x), &s),
	    LY_OK);
	assert_memory_equal(s.b, is.serial.b, CA_SERIAL_LEN);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x),
	    is.not_after), 0);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(ca_cert(f->ca,
	    CA_ISSUING))), 1);
	X509_free(x);
	memset(&none, 0, sizeof(none));
	assert_int_equal(ca_issue_token_der(f->ca, tok, f->csr, f->csrlen,
	    "test", &none), LY_ERR_TOKEN);
	assert_null(none.der);

	memset(&re, 0, sizeof(re));
	assert_int_equal(ca_reissue_der(f->ca, &is.serial, f->csr, f->csrlen,
	    "test", &re), LY_OK);
	assert_stored_der(f, &re.serial, re.der, re.derlen);
	assert_memory_not_equal(re.serial.b, is.serial.b, CA_SERIAL_LEN);
	/* Asked again with the same key: the successor, as stored. */
	memset(&again, 0, sizeof(again));
	assert_int_equal(ca_reissue_der(f->ca, &is.serial, f->csr, f->csrlen,
	    "test", &again), LY_OK);
	assert_memory_equal(again.serial.b, re.serial.b, CA_SERIAL_LEN);
	assert_int_equal(again.derlen, re.derlen);
	assert_memory_equal(again.der, re.der, re.derlen);
	assert_int_equal(again.not_after, re.not_after);
	ca_issued_clear(&again);
	/* With another key: refused, *out untouched. */
	other = fixture_csr(NULL, NULL, 1, &otherlen);
	assert_int_equal(ca_reissue_der(f->ca, &is.serial, other, otherlen,
	    "test", &none), LY_ERR_STATE);
	assert_null(none.der);
	free(other);
	ca_issued_clear(&is);
	ca_issued_clear(&re);
	assert_null(is.der);
	ca_issued_clear(NULL);
	OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
}

static void
test_profile_selection(void **state)
{
	struct fixture *f = *state;
	struct ca_request rq;
	struct ca_serial s;
	X509 *x = NULL;
	size_t before = count(f->ca);

	assert_int_equal(issue_json(f, "nosuch", "{\"userId\":1}", 0, &x, &s),
	    LY_ERR_BAD_PROFILE);
	/* The OCSP profile takes no JSON identity. */
	assert_int_equal(issue_json(f, "ocsp", "{\"userId\":1}", 0, &x, &s),
	    LY_ERR_POLICY);
	/* The service profile wants a DNS name or IP. */
	assert_int_equal(issue_json(f, "service", NULL, 0, &x, &s),
	    LY_ERR_POLICY);
	assert_int_equal(issue_json(f, "client", "{\"userId\":1}", 398, &x, &s),
	    LY_ERR_POLICY);
	/* A client certificate takes no DNS name. */
	memset(&rq, 0, sizeof(rq));
	rq.profile = "client";
	rq.csr = f->csr;
	rq.csrlen = f->csrlen;
	rq.identity.kind = CONF_ID_JSON;
	rq.identity.value = "{\"userId\":1}";
	rq.actor = "test";
	rq.identity.dns[0] = "a.example.org";
	rq.identity.ndns = 1;
	assert_int_equal(ca_issue(f->ca, &rq, &x, &s), LY_ERR_POLICY);
	assert_null(x);
	/* Nothing refused reached the store, not even a reservation. */
	assert_int_equal(count(f->ca), before);
}

static void
test_service_and_admin(void **state)
{
	struct fixture *f = *state;
	struct ca_request rq;
	struct ca_serial s;
	X509 *x = NULL;
	char *san;

	memset(&rq, 0, sizeof(rq));
	rq.profile = "service";
	rq.csr = f->csr;
	rq.csrlen = f->csrlen;
	rq.actor = "test";
	assert_int_equal(ca_identity_add_dns(&rq.identity, "API.example.org"),
	    LY_OK);
	assert_int_equal(ca_identity_add_ip(&rq.identity, "192.0.2.1"), LY_OK);
	assert_int_equal(ca_issue(f->ca, &rq, &x, &s), LY_OK);
	san = san_text(x);
	assert_string_equal(san, "DNS:api.example.org, IP Address:192.0.2.1");
	free(san);
	X509_free(x);
	ca_identity_clear(&rq.identity);

	assert_int_equal(issue_json(f, "admin", "{\"userId\":9}", 0, &x, &s),
	    LY_OK);
	san = san_text(x);
	assert_string_equal(san, "URI:{\"role\":\"admin\",\"userId\":9}");
	free(san);
	X509_free(x);
	assert_int_equal(issue_json(f, "client",
	    "{\"userId\":9,\"role\":\"admin\"}", 0, &x, &s),
	    LY_ERR_BAD_IDENTITY);
}

static void
test_reissue_revoke(void **state)
{
	struct fixture *f = *state;
	struct store_txn *txn;
	struct store_cert *rec;
	struct ca_serial s1, s2, s3;
	X509 *x1 = NULL, *x2 = NULL, *x3 = NULL;
	unsigned char *other;
	size_t otherlen;
	char *a, *b;

	assert_int_equal(issue_json(f, "client", "{\"userId\":77}", 0, &x1,
	    &s1), LY_OK);
	assert_int_equal(ca_reissue(f->ca, &s1, f->csr, f->csrlen, "test",
	    &x2, &s2), LY_OK);
	a = san_text(x1);
	b = san_text(x2);
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_get(txn, &s1, &rec), LY_OK);
	assert_memory_equal(rec->superseded_by.b, s2.b, CA_SERIAL_LEN);
	store_cert_free(rec);
	assert_int_equal(store_cert_get(txn, &s2, &rec), LY_OK);
	assert_memory_equal(rec->supersedes.b, s1.b, CA_SERIAL_LEN);
	store_cert_free(rec);
	store_txn_abort(txn);
	/* Superseded: no second reissue (the replay is test_reissue_replay). */
	other = fixture_csr(NULL, NULL, 1, &otherlen);
	assert_int_equal(ca_reissue(f->ca, &s1, other, otherlen, "test",
	    &x3, &s3), LY_ERR_STATE);
	free(other);
	assert_int_equal(ca_revoke(f->ca, &s2, 1, 0, "test"), LY_OK);
	assert_int_equal(ca_revoke(f->ca, &s2, 1, 0, "test"), LY_ERR_STATE);
	assert_int_equal(ca_reissue(f->ca, &s2, f->csr, f->csrlen, "test",
	    &x3, &s3), LY_ERR_STATE);
	assert_int_equal(ca_revoke(f->ca, &s1, 8, 0, "test"), LY_ERR_ARG);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_get(txn, &s2, &rec), LY_OK);
	assert_int_equal(rec->status, STORE_REVOKED);
	assert_int_equal(rec->reason, 1);
	assert_true(rec->revoked_at > 0);
	store_cert_free(rec);
	assert_int_equal(store_audit_verify(txn, NULL), LY_OK);
	store_txn_abort(txn);
	X509_free(x1);
	X509_free(x2);
}

static uint64_t
audit_count(struct ca *ca)
{
	struct store_txn *txn;
	uint64_t n = 0;

	assert_int_equal(store_txn_begin(ca_store(ca), 0, &txn), LY_OK);
	assert_int_equal(store_audit_verify(txn, &n), LY_OK);
	store_txn_abort(txn);
	return n;
}

/*
 * A reissue whose answer was lost, asked again with the same key: the
 * same successor comes back and nothing is written. A different key, a
 * revoked successor, and a successor that moved on are refused.
 */
static void
test_reissue_replay(void **state)
{
	struct fixture *f = *state;
	struct ca_serial s1, s2, s3, s4;
	X509 *x1 = NULL, *x2 = NULL, *x3 = NULL;
	unsigned char *other, *der2 = NULL, *der3 = NULL;
	size_t otherlen, n;
	uint64_t audits;
	int len2, len3;

	assert_int_equal(issue_json(f, "client", "{\"userId\":78}", 0, &x1,
	    &s1), LY_OK);
	assert_int_equal(ca_reissue(f->ca, &s1, f->csr, f->csrlen, "test",
	    &x2, &s2), LY_OK);
	n = count(f->ca);
	audits = audit_count(f->ca);
	assert_int_equal(ca_reissue(f->ca, &s1, f->csr, f->csrlen, "test",
	    &x3, &s3), LY_OK);
	assert_memory_equal(s3.b, s2.b, CA_SERIAL_LEN);
	len2 = i2d_X509(x2, &der2);
	len3 = i2d_X509(x3, &der3);
	assert_int_equal(len2, len3);
	assert_memory_equal(der2, der3, (size_t)len2);
	assert_int_equal(count(f->ca), n);
	assert_int_equal(audit_count(f->ca), audits);
	X509_free(x3);
	x3 = NULL;

	/* Another key: the certificate was superseded, and stays refused. */
	other = fixture_csr(NULL, NULL, 1, &otherlen);
	assert_int_equal(ca_reissue(f->ca, &s1, other, otherlen, "test",
	    &x3, &s3), LY_ERR_STATE);
	assert_null(x3);
	assert_int_equal(count(f->ca), n);

	/* The successor reissued in turn: the old one gets nothing. */
	assert_int_equal(ca_reissue(f->ca, &s2, other, otherlen, "test",
	    &x3, &s4), LY_OK);
	X509_free(x3);
	x3 = NULL;
	assert_int_equal(ca_reissue(f->ca, &s1, f->csr, f->csrlen, "test",
	    &x3, &s3), LY_ERR_STATE);
	/* ... and a revoked successor is never handed out again. */
	assert_int_equal(ca_revoke(f->ca, &s4, 1, 0, "test"), LY_OK);
	assert_int_equal(ca_reissue(f->ca, &s2, other, otherlen, "test",
	    &x3, &s3), LY_ERR_STATE);
	assert_null(x3);
	free(other);
	OPENSSL_free(der2);
	OPENSSL_free(der3);
	X509_free(x1);
	X509_free(x2);
}

static void
test_serial_collision(void **state)
{
	struct fixture *f = *state;
	struct ca_serial s1, s2, seq[2];
	X509 *x1 = NULL, *x2 = NULL;

	assert_int_equal(issue_json(f, "client", "{\"userId\":100}", 0, &x1,
	    &s1), LY_OK);
	/* The source repeats s1 first: the store refuses, a new one is drawn. */
	seq[0] = s1;
	memset(&seq[1], 0, sizeof(seq[1]));
	seq[1].b[CA_SERIAL_LEN - 1] = 0x42;
	seq[1].b[4] = 0x01;
	ca_serial_set_source(seq, 2);
	assert_int_equal(issue_json(f, "client", "{\"userId\":101}", 0, &x2,
	    &s2), LY_OK);
	ca_serial_set_source(NULL, 0);
	assert_memory_equal(s2.b, seq[1].b, CA_SERIAL_LEN);
	X509_free(x1);
	X509_free(x2);
}

/* A DER CSR for k, signed by it. */
static unsigned char *
csr_of(EVP_PKEY *k, size_t *lenp)
{
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL;
	int len;

	assert_non_null(req);
	assert_true(X509_REQ_set_pubkey(req, k));
	assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
	assert_true((len = i2d_X509_REQ(req, &der)) > 0);
	X509_REQ_free(req);
	*lenp = (size_t)len;
	return der;
}

/* The subjectPublicKeyInfo's BIT STRING of a certificate. */
static void
cert_key_bits(X509 *x, const unsigned char **pk, int *len)
{
	assert_true(X509_PUBKEY_get0_param(NULL, pk, len, NULL,
	    X509_get_X509_PUBKEY(x)));
}

/*
 * The subject's key, copied from the CSR when its encoding is the
 * canonical one (uncompressed P-256/P-384) and encoded by OpenSSL
 * otherwise (RSA): either way the certificate carries the CSR's key, and
 * the returned X509 has the key decoded and is the stored DER. A
 * compressed EC point is refused (key policy), with nothing stored.
 */
static void
test_subject_key(void **state)
{
	struct fixture *f = *state;
	struct {
		const char	*what;
		EVP_PKEY	*k;
		int		 compressed;
		int		 bits;	/* of the BIT STRING, EC only */
	} kt[4];
	struct ca_request rq;
	struct ca_serial s;
	struct store_txn *txn;
	struct store_cert *rec;
	const unsigned char *pk;
	unsigned char *csr, *der;
	size_t csrlen, i;
	int len, derlen;
	X509 *x;

	kt[0].what = "P-256";
	kt[0].k = EVP_EC_gen("P-256");
	kt[0].compressed = 0;
	kt[0].bits = 65;
	kt[1].what = "P-256 compressed";
	kt[1].k = EVP_EC_gen("P-256");
	kt[1].compressed = 1;
	kt[1].bits = 0;
	kt[2].what = "P-384";
	kt[2].k = EVP_EC_gen("P-384");
	kt[2].compressed = 0;
	kt[2].bits = 97;
	kt[3].what = "RSA-2048";
	kt[3].k = EVP_RSA_gen(2048);
	kt[3].compressed = 0;
	kt[3].bits = 0;
	for (i = 0; i < 4; i++) {
		assert_non_null(kt[i].k);
		if (kt[i].compressed)
			assert_true(EVP_PKEY_set_utf8_string_param(kt[i].k,
			    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
			    "compressed"));
		csr = csr_of(kt[i].k, &csrlen);
		memset(&rq, 0, sizeof(rq));
		rq.profile = "client";
		rq.csr = csr;
		rq.csrlen = csrlen;
		rq.identity.kind = CONF_ID_JSON;
		rq.identity.value = "{\"userId\":400}";
		rq.actor = "test";
		x = NULL;
		if (kt[i].compressed) {
			assert_int_equal(ca_issue(f->ca, &rq, &x, &s),
			    LY_ERR_KEY_POLICY);
			assert_non_null(strstr(ly_errdetail(), "compressed"));
			assert_null(x);
			OPENSSL_free(csr);
			EVP_PKEY_free(kt[i].k);
			continue;
		}
		if (ca_issue(f->ca, &rq, &x, &s) != LY_OK)
			fail_msg("%s: %s", kt[i].what, ly_errdetail());
		assert_non_null(X509_get0_pubkey(x));
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), kt[i].k), 1);
		cert_key_bits(x, &pk, &len);
		if (kt[i].bits != 0) {
			assert_int_equal(len, kt[i].bits);
			assert_int_equal(pk[0], 0x04);
		}
		assert_int_equal(X509_verify(x, X509_get0_pubkey(ca_cert(f->ca,
		    CA_ISSUING))), 1);
		der = NULL;
		assert_true((derlen = i2d_X509(x, &der)) > 0);
		assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn),
		    LY_OK);
		assert_int_equal(store_cert_get(txn, &s, &rec), LY_OK);
		assert_int_equal(rec->derlen, (size_t)derlen);
		assert_memory_equal(rec->der, der, rec->derlen);
		store_cert_free(rec);
		store_txn_abort(txn);
		OPENSSL_free(der);
		OPENSSL_free(csr);
		X509_free(x);
		EVP_PKEY_free(kt[i].k);
	}
}

/* ---- group commit --------------------------------------------------- */

/*
 * A writer that holds the commit queue's lead until released: writers
 * that arrive meanwhile queue up and form the next batch, so a test
 * knows which writes share a transaction.
 */
struct blocker {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 entered, released;
	struct ca	*ca;
	pthread_t	 th;
	int		 r;
};

static int
block_fn(struct store_txn *txn, void *arg)
{
	struct blocker *b = arg;

	(void)txn;
	pthread_mutex_lock(&b->mu);
	b->entered = 1;
	pthread_cond_broadcast(&b->cv);
	while (!b->released)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
	return LY_OK;
}

static void *
block_run(void *arg)
{
	struct blocker *b = arg;

	b->r = commit_write(b->ca, block_fn, b);
	return NULL;
}

static void
block_start(struct blocker *b, struct ca *ca)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->ca = ca;
	assert_int_equal(pthread_create(&b->th, NULL, block_run, b), 0);
	pthread_mutex_lock(&b->mu);
	while (!b->entered)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

static void
block_release(struct blocker *b)
{
	pthread_mutex_lock(&b->mu);
	b->released = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->th, NULL);
	assert_int_equal(b->r, LY_OK);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
}

/* Waits (up to 20 s) until n writers are in the queue, the blocker's included. */
static void
wait_queued(struct ca *ca, size_t n)
{
	size_t q = 0;
	int i;

	for (i = 0; i < 20000; i++) {
		pthread_mutex_lock(&ca->commit.mu);
		q = ca->commit.queued;
		pthread_mutex_unlock(&ca->commit.mu);
		if (q >= n)
			break;
		usleep(1000);
	}
	assert_int_equal(q, n);
}

#define NMETA	6

struct meta_writer {
	struct ca	*ca;
	int		 i;
	int		 r;
	char		 detail[512];
	pthread_t	 th;
};

/* Writes meta "batch/<i>"; odd i then fail, and their write must vanish. */
static int
meta_fn(struct store_txn *txn, void *arg)
{
	struct meta_writer *w = arg;
	char key[32];
	int r;

	snprintf(key, sizeof(key), "batch/%d", w->i);
	if ((r = store_meta_put(txn, key, &w->i, sizeof(w->i))) != LY_OK)
		return r;
	if (w->i % 2)
		return ly_fail(LY_ERR_STATE, "writer %d refused", w->i);
	return LY_OK;
}

static void *
meta_run(void *arg)
{
	struct meta_writer *w = arg;

	w->r = commit_write(w->ca, meta_fn, w);
	snprintf(w->detail, sizeof(w->detail), "%s", ly_errdetail());
	return NULL;
}

/*
 * Writers queued behind a leader share one transaction: the failing ones
 * are undone alone, each writer gets its own result and error detail
 * (which is per thread, and the work ran on the leader's).
 */
static void
test_commit_batch(void **state)
{
	struct fixture *f = *state;
	struct meta_writer w[NMETA];
	struct ca_commit_stats s0, s1;
	struct blocker b;
	struct store_txn *txn;
	const void *v;
	size_t len;
	char key[32], want[64];
	int i;

	ca_commit_stats(f->ca, &s0);
	block_start(&b, f->ca);
	for (i = 0; i < NMETA; i++) {
		w[i].ca = f->ca;
		w[i].i = i;
		assert_int_equal(pthread_create(&w[i].th, NULL, meta_run,
		    &w[i]), 0);
	}
	wait_queued(f->ca, 1 + NMETA);
	block_release(&b);
	for (i = 0; i < NMETA; i++)
		pthread_join(w[i].th, NULL);
	ca_commit_stats(f->ca, &s1);

	/* The blocker's transaction, then all NMETA writers in one more. */
	assert_int_equal(s1.commits - s0.commits, 2);
	assert_int_equal(s1.writes - s0.writes, 1 + NMETA / 2);
	assert_int_equal(s1.failed - s0.failed, NMETA / 2);
	assert_true(s1.max_batch >= NMETA);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	for (i = 0; i < NMETA; i++) {
		snprintf(key, sizeof(key), "batch/%d", i);
		if (i % 2) {
			snprintf(want, sizeof(want), "writer %d refused", i);
			assert_int_equal(w[i].r, LY_ERR_STATE);
			assert_string_equal(w[i].detail, want);
			assert_int_equal(store_meta_get(txn, key, &v, &len),
			    LY_ERR_NOT_FOUND);
		} else {
			assert_int_equal(w[i].r, LY_OK);
			assert_int_equal(store_meta_get(txn, key, &v, &len),
			    LY_OK);
			assert_int_equal(len, sizeof(int));
			assert_memory_equal(v, &i, sizeof(int));
		}
	}
	store_txn_abort(txn);
}

/* A stand-in for ocsp/'s hook: "ocsp:" and the serial, so each is told apart. */
static int
presign_fake(void *arg, const struct store_cert *rec, unsigned char **derp,
    size_t *lenp)
{
	unsigned char *p;

	(void)arg;
	if ((p = malloc(5 + CA_SERIAL_LEN)) == NULL)
		return LY_ERR_ALLOC;
	memcpy(p, "ocsp:", 5);
	memcpy(p + 5, rec->serial.b, CA_SERIAL_LEN);
	*derp = p;
	*lenp = 5 + CA_SERIAL_LEN;
	return LY_OK;
}

#define NTHREADS	16
#define NEACH		6

struct issuer {
	struct fixture	*f;
	struct ca_serial serials[NEACH];
	X509		*certs[NEACH];
	int		 r;
	pthread_t	 th;
};

static void *
issuer_run(void *arg)
{
	struct issuer *is = arg;
	char json[64];
	int i;

	for (i = 0; i < NEACH && is->r == LY_OK; i++) {
		snprintf(json, sizeof(json), "{\"userId\":%d}", i);
		is->r = issue_json(is->f, "client", json, 0, &is->certs[i],
		    &is->serials[i]);
	}
	return NULL;
}

static int
cmp_serials(const void *a, const void *b)
{
	return memcmp(a, b, CA_SERIAL_LEN);
}

/*
 * Many threads issuing at once on one CA, as ca-server's do: every one
 * gets a certificate with a serial of its own, stored as returned with
 * its pre-signed OCSP response and audit entry, the chain whole.
 */
static void
test_threads_issue(void **state)
{
	struct fixture *f = *state;
	struct issuer *is;
	struct ca_serial all[NTHREADS * NEACH], s;
	struct store_txn *txn;
	struct store_cert *rec;
	const void *ocsp;
	unsigned char *der;
	size_t before = count(f->ca), issues = fixture_audit_count(f->ca, "issue"), n = 0, len;
	int i, j, derlen;

	ca_set_presign(f->ca, presign_fake, NULL);
	assert_non_null(is = calloc(NTHREADS, sizeof(*is)));
	for (i = 0; i < NTHREADS; i++) {
		is[i].f = f;
		assert_int_equal(pthread_create(&is[i].th, NULL, issuer_run,
		    &is[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(is[i].th, NULL);
	ca_set_presign(f->ca, NULL, NULL);

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(is[i].r, LY_OK);
		for (j = 0; j < NEACH; j++) {
			X509 *x = is[i].certs[j];

			assert_int_equal(ca_serial_from_asn1(
			    X509_get0_serialNumber(x), &s), LY_OK);
			assert_memory_equal(s.b, is[i].serials[j].b,
			    CA_SERIAL_LEN);
			assert_int_equal(store_cert_get(txn, &s, &rec), LY_OK);
			assert_int_equal(rec->status, STORE_VALID);
			der = NULL;
			derlen = i2d_X509(x, &der);
			assert_int_equal((size_t)derlen, rec->derlen);
			assert_memory_equal(der, rec->der, rec->derlen);
			OPENSSL_free(der);
			store_cert_free(rec);
			assert_int_equal(store_ocsp_get(txn, &s, &ocsp, &len),
			    LY_OK);
			assert_int_equal(len, 5 + CA_SERIAL_LEN);
			assert_memory_equal((const unsigned char *)ocsp + 5,
			    s.b, CA_SERIAL_LEN);
			all[n++] = s;
			X509_free(x);
		}
	}
	store_txn_abort(txn);
	qsort(all, n, sizeof(all[0]), cmp_serials);
	for (i = 1; i < (int)n; i++)
		assert_true(memcmp(all[i - 1].b, all[i].b, CA_SERIAL_LEN) != 0);
	assert_int_equal(count(f->ca), before + n);
	assert_int_equal(fixture_audit_count(f->ca, "issue"), issues + n);
	free(is);
}

struct tok_user {
	struct fixture	*f;
	const char	*tok;		/* NULL: ca_issue() without a token */
	int		 r;
	X509		*x;
	pthread_t	 th;
};

static void *
tok_run(void *arg)
{
	struct tok_user *u = arg;
	struct ca_serial s;

	if (u->tok != NULL)
		u->r = ca_issue_token(u->f->ca, u->tok, u->f->csr,
		    u->f->csrlen, "batch", &u->x, &s);
	else
		u->r = issue_json(u->f, "client", "{\"userId\":5}", 0, &u->x,
		    &s);
	return NULL;
}

/*
 * One batch of reservations holding two uses of one token: the second
 * claim fails in its own nested transaction and the rest of the batch,
 * other tokens and plain issuances, is stored. Exactly one certificate
 * for the token.
 */
static void
test_batch_token_reuse(void **state)
{
	struct fixture *f = *state;
	struct tok_user u[6];
	struct ca_commit_stats s0, s1;
	struct blocker b;
	char *ta = token_new(f, 1), *tb = token_new(f, 2);
	char *tc = token_new(f, 3);
	size_t before = count(f->ca), ok = 0;
	int i, st;

	memset(u, 0, sizeof(u));
	u[0].tok = ta;
	u[1].tok = tb;
	u[2].tok = ta;
	u[3].tok = NULL;
	u[4].tok = tc;
	u[5].tok = NULL;
	ca_commit_stats(f->ca, &s0);
	block_start(&b, f->ca);
	for (i = 0; i < 6; i++) {
		u[i].f = f;
		assert_int_equal(pthread_create(&u[i].th, NULL, tok_run, &u[i]),
		    0);
	}
	/* All six reservations wait behind the blocker: one batch. */
	wait_queued(f->ca, 1 + 6);
	block_release(&b);
	for (i = 0; i < 6; i++) {
		pthread_join(u[i].th, NULL);
		X509_free(u[i].x);
	}
	ca_commit_stats(f->ca, &s1);
	assert_true(s1.max_batch >= 6);
	assert_int_equal(s1.failed - s0.failed, 1);

	assert_true((u[0].r == LY_OK) != (u[2].r == LY_OK));
	assert_int_equal(u[0].r == LY_OK ? u[2].r : u[0].r, LY_ERR_TOKEN);
	for (i = 0; i < 6; i++)
		ok += u[i].r == LY_OK;
	assert_int_equal(ok, 5);
	assert_int_equal(u[1].r, LY_OK);
	assert_int_equal(u[3].r, LY_OK);
	assert_int_equal(u[4].r, LY_OK);
	assert_int_equal(u[5].r, LY_OK);
	/* Five records: the loser never reserved a serial. */
	assert_int_equal(count(f->ca), before + 5);
	assert_int_equal(ca_token_status(f->ca, ta, &st), LY_OK);
	assert_int_equal(st, CA_TOKEN_USED);
	assert_int_equal(ca_token_status(f->ca, tb, &st), LY_OK);
	assert_int_equal(st, CA_TOKEN_USED);
	assert_int_equal(ca_token_status(f->ca, tc, &st), LY_OK);
	assert_int_equal(st, CA_TOKEN_USED);
	free(ta);
	free(tb);
	free(tc);
}

struct revoker {
	struct fixture	*f;
	struct ca_serial serial;
	int		 reason;	/* -2: a stale "good" OCSP refresh instead */
	int		 r;
	size_t		 stored;
	pthread_t	 th;
};

static void *
revoker_run(void *arg)
{
	struct revoker *v = arg;
	struct ca_ocsp_item it;

	if (v->reason != -2) {
		v->r = ca_revoke(v->f->ca, &v->serial, v->reason, 0, "batch");
		return NULL;
	}
	memset(&it, 0, sizeof(it));
	it.serial = v->serial;
	it.status = STORE_VALID;
	it.der = (const unsigned char *)"stale good";
	it.len = 10;
	v->r = ca_ocsp_store_if(v->f->ca, &it, 1, &v->stored);
	return NULL;
}

static int
audit_revoke_cb(const struct store_audit_entry *a, void *arg)
{
	if (strcmp(a->action, "revoke") == 0)
		(*(size_t *)arg)++;
	return 0;
}

/*
 * Two revocations of one certificate and an OCSP refresh signed while it
 * was good, all in one batch in that order: the first revocation wins,
 * the second is refused in its own nested transaction, and the refresh
 * sees the revocation before it and stores nothing.
 */
static void
test_batch_revoke(void **state)
{
	struct fixture *f = *state;
	struct revoker v[3];
	struct blocker b;
	struct store_txn *txn;
	struct store_cert *rec;
	struct ca_serial s;
	const void *ocsp;
	uint64_t n0, n1;
	size_t len, revokes0 = 0, revokes = 0;
	X509 *x = NULL;
	int i;

	assert_int_equal(issue_json(f, "client", "{\"userId\":300}", 0, &x,
	    &s), LY_OK);
	X509_free(x);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(ca_revocations(txn, &n0), LY_OK);
	assert_int_equal(store_audit_foreach(txn, audit_revoke_cb, &revokes0),
	    LY_OK);
	store_txn_abort(txn);

	memset(v, 0, sizeof(v));
	block_start(&b, f->ca);
	for (i = 0; i < 3; i++) {
		v[i].f = f;
		v[i].serial = s;
		v[i].reason = i == 0 ? 1 : i == 1 ? 4 : -2;
		assert_int_equal(pthread_create(&v[i].th, NULL, revoker_run,
		    &v[i]), 0);
		/* One at a time, so the batch keeps this order. */
		wait_queued(f->ca, 2 + (size_t)i);
	}
	block_release(&b);
	for (i = 0; i < 3; i++)
		pthread_join(v[i].th, NULL);

	assert_int_equal(v[0].r, LY_OK);
	assert_int_equal(v[1].r, LY_ERR_STATE);
	assert_int_equal(v[2].r, LY_OK);
	assert_int_equal(v[2].stored, 0);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_get(txn, &s, &rec), LY_OK);
	assert_int_equal(rec->status, STORE_REVOKED);
	assert_int_equal(rec->reason, 1);
	store_cert_free(rec);
	assert_int_equal(store_ocsp_get(txn, &s, &ocsp, &len),
	    LY_ERR_NOT_FOUND);
	assert_int_equal(ca_revocations(txn, &n1), LY_OK);
	assert_int_equal(n1, n0 + 1);
	assert_int_equal(store_audit_verify(txn, NULL), LY_OK);
	assert_int_equal(store_audit_foreach(txn, audit_revoke_cb, &revokes),
	    LY_OK);
	store_txn_abort(txn);
	assert_int_equal(revokes, revokes0 + 1);
}

/*
 * What lands between a reissue's read of the old record and its write:
 * the presign hook runs there (after signing, before the commit), so it
 * stands in for a concurrent revocation or a second reissue.
 */
struct race {
	struct fixture	*f;
	struct ca_serial old;
	int		 revoke;	/* 1 revoke old, 0 reissue it */
	int		 fired;
	int		 inner;		/* the result of what it did */
};

static int
race_presign(void *arg, const struct store_cert *rec, unsigned char **derp,
    size_t *lenp)
{
	struct race *rc = arg;
	struct ca_serial s;
	X509 *x = NULL;

	(void)rec;
	*derp = NULL;
	*lenp = 0;
	if (rc->fired++)
		return LY_OK;
	if (rc->revoke)
		rc->inner = ca_revoke(rc->f->ca, &rc->old, 1, 0, "test");
	else {
		rc->inner = ca_reissue(rc->f->ca, &rc->old, rc->f->csr,
		    rc->f->csrlen, "test", &x, &s);
		X509_free(x);
	}
	return LY_OK;
}

static void
test_reissue_race(void **state)
{
	struct fixture *f = *state;
	struct race rc;
	struct ca_serial s, s2;
	struct store_txn *txn;
	struct store_cert *rec;
	X509 *x = NULL;
	int i;

	for (i = 0; i < 2; i++) {
		assert_int_equal(issue_json(f, "client", i == 0 ?
		    "{\"userId\":300}" : "{\"userId\":301}", 0, &x, &s),
		    LY_OK);
		X509_free(x);
		x = NULL;
		memset(&rc, 0, sizeof(rc));
		rc.f = f;
		rc.old = s;
		rc.revoke = i == 0;
		ca_set_presign(f->ca, race_presign, &rc);
		/* The outer reissue loses to what landed while it signed. */
		assert_int_equal(ca_reissue(f->ca, &s, f->csr, f->csrlen,
		    "test", &x, &s2), LY_ERR_STATE);
		ca_set_presign(f->ca, NULL, NULL);
		assert_null(x);
		assert_int_equal(rc.inner, LY_OK);
		assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn),
		    LY_OK);
		assert_int_equal(store_cert_get(txn, &s, &rec), LY_OK);
		if (i == 0) {
			/* The revocation stands: not undone, not superseded. */
			assert_int_equal(rec->status, STORE_REVOKED);
			assert_true(ca_serial_is_zero(&rec->superseded_by));
		} else {
			/* One successor, the inner one's. */
			assert_int_equal(rec->status, STORE_VALID);
			assert_false(ca_serial_is_zero(&rec->superseded_by));
		}
		store_cert_free(rec);
		store_txn_abort(txn);
	}
}

static void
test_reasons(void **state)
{
	assert_int_equal(ca_reason_parse("keyCompromise"), 1);
	assert_int_equal(ca_reason_parse("superseded"), 4);
	assert_int_equal(ca_reason_parse("bogus"), -2);
	assert_string_equal(ca_reason_name(5), "cessationOfOperation");
	assert_string_equal(ca_reason_name(7), "none");
}

/* SHA-256 of a token, as the store keys it. */
static void
token_sha(const char *tok, unsigned char hash[32])
{
	assert_int_equal(EVP_Digest(tok, strlen(tok), hash, NULL,
	    EVP_sha256(), NULL), 1);
}

/*
 * What an issuance leaves at a crash after its first transaction: the
 * serial reserved and, with hash, the token claimed for it.
 */
static void
strand(struct fixture *f, const unsigned char *hash, struct ca_serial *s)
{
	struct store_txn *txn;
	struct store_cert rec;

	memset(&rec, 0, sizeof(rec));
	rec.ca = CA_ISSUING;
	rec.reason = -1;
	snprintf(rec.profile, sizeof(rec.profile), "client");
	rec.status = STORE_RESERVED;
	rec.created = ly_now();
	rec.not_after = ly_now() + 86400;
	assert_int_equal(ca_serial_new(&rec.serial), LY_OK);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 1, &txn), LY_OK);
	assert_int_equal(store_cert_reserve(txn, &rec), LY_OK);
	if (hash != NULL)
		assert_int_equal(token_claim(txn, hash, &rec.serial), LY_OK);
	assert_int_equal(store_txn_commit(txn), LY_OK);
	*s = rec.serial;
}

static int
record_status_of(struct fixture *f, const struct ca_serial *s)
{
	struct store_cert *c = fixture_record(f->ca, s);
	int st = c->status;

	store_cert_free(c);
	return st;
}

static int
burned_cb(const struct ca_token_info *t, void *arg)
{
	const struct ca_serial *s = arg;
	size_t i;

	for (i = 0; i < t->nburned; i++)
		if (memcmp(t->burned[i].b, s->b, CA_SERIAL_LEN) == 0)
			return t->state;
	return 0;
}

/*
 * ca_reconcile(): reservations claimed by a token, and tokenless ones
 * older than CA_RESERVATION_STALE, are burned and their tokens given
 * back (an expired one then reads as expired); a young tokenless one is
 * left. An issuance that was still in flight cannot store its
 * certificate over a burned serial nor use its unclaimed token. The token
 * given back enrolls once, and a burned serial is final.
 */
static void
test_reconcile(void **state)
{
	struct fixture *f = *state;
	struct ca_reconcile_stats st;
	struct store_txn *txn;
	struct store_cert *c;
	struct ca_issued is;
	struct ca_serial s1, s2, s3, s4, s5;
	unsigned char h1[32], h4[32], h5[32], der[8] = { 0x30, 0x00 };
	char *t1, *t4, *t5, *id = NULL;
	time_t now = time(NULL);
	size_t left;
	int state1;

	/*
	 * The clock stays pinned: t5 lives one second, and a slow run (ASan,
	 * a loaded machine) must not see it expire before it is claimed.
	 */
	ly_clock_set(now);
	t1 = token_new(f, 501);
	t4 = token_new(f, 504);
	assert_int_equal(ca_token_create(f->ca, "client", "{\"userId\":505}",
	    1, "test", &t5, &id), LY_OK);
	free(id);
	token_sha(t1, h1);
	token_sha(t4, h4);
	token_sha(t5, h5);
	strand(f, h1, &s1);		/* crashed enrollment */
	strand(f, NULL, &s2);		/* young, tokenless: maybe in flight */
	ly_clock_set(now - CA_RESERVATION_STALE - 5);
	strand(f, NULL, &s3);		/* old, tokenless: given up */
	ly_clock_set(now);
	strand(f, h4, &s4);		/* an enrollment "in flight" */
	strand(f, h5, &s5);		/* its token expires meanwhile */
	assert_int_equal(ca_token_status(f->ca, t1, &state1), LY_OK);
	assert_int_equal(state1, CA_TOKEN_CLAIMED);

	ly_clock_set(now + 10);
	assert_int_equal(ca_reconcile(f->ca, "test", &st), LY_OK);
	assert_int_equal(st.burned, 4);
	assert_int_equal(st.tokens, 3);
	/* s2, and what failed issuances of the tests before left just now. */
	assert_true(st.left >= 1);
	left = st.left;
	assert_int_equal(record_status_of(f, &s1), STORE_BURNED);
	assert_int_equal(record_status_of(f, &s2), STORE_RESERVED);
	assert_int_equal(record_status_of(f, &s3), STORE_BURNED);
	assert_int_equal(record_status_of(f, &s4), STORE_BURNED);
	assert_int_equal(ca_token_status(f->ca, t1, &state1), LY_OK);
	assert_int_equal(state1, CA_TOKEN_UNUSED);
	assert_int_equal(ca_token_status(f->ca, t5, &state1), LY_OK);
	assert_int_equal(state1, CA_TOKEN_EXPIRED);
	assert_int_equal(ca_token_list(f->ca, burned_cb, &s1),
	    CA_TOKEN_UNUSED);

	/* The issuance in flight finishes: refused, nothing stored. */
	assert_int_equal(store_txn_begin(ca_store(f->ca), 1, &txn), LY_OK);
	assert_int_equal(store_cert_get(txn, &s4, &c), LY_OK);
	c->status = STORE_VALID;
	c->der = der;
	c->derlen = 2;
	assert_int_equal(store_cert_put(txn, c), LY_ERR_STATE);
	assert_int_equal(token_use(txn, h4, &s4, "test"), LY_ERR_STATE);
	/* A burned serial stays burned; only a reservation is burned. */
	c->status = STORE_BURNED;
	c->der = NULL;
	c->derlen = 0;
	assert_int_equal(store_cert_put(txn, c), LY_ERR_STATE);
	store_cert_free(c);
	store_txn_abort(txn);

	/* The device retries: one certificate, then token_used. */
	memset(&is, 0, sizeof(is));
	assert_int_equal(ca_issue_token_der(f->ca, t1, f->csr, f->csrlen,
	    "test", &is), LY_OK);
	assert_memory_not_equal(is.serial.b, s1.b, CA_SERIAL_LEN);
	ca_issued_clear(&is);
	assert_int_equal(ca_issue_token_der(f->ca, t1, f->csr, f->csrlen,
	    "test", &is), LY_ERR_TOKEN);
	/* Revoking a burned serial is refused. */
	assert_int_equal(ca_revoke(f->ca, &s1, -1, 0, "test"), LY_ERR_STATE);

	/* Nothing more to do the second time; the young one is still left. */
	assert_int_equal(ca_reconcile(f->ca, "test", &st), LY_OK);
	assert_int_equal(st.burned, 0);
	assert_int_equal(st.left, left);
	ly_clock_set(0);
	free(t1);
	free(t4);
	free(t5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_from_authorization),
		cmocka_unit_test(test_stored_before_returned),
		cmocka_unit_test(test_issue_der),
		cmocka_unit_test(test_profile_selection),
		cmocka_unit_test(test_service_and_admin),
		cmocka_unit_test(test_reissue_revoke),
		cmocka_unit_test(test_reissue_replay),
		cmocka_unit_test(test_serial_collision),
		cmocka_unit_test(test_subject_key),
		cmocka_unit_test(test_commit_batch),
		cmocka_unit_test(test_threads_issue),
		cmocka_unit_test(test_batch_token_reuse),
		cmocka_unit_test(test_batch_revoke),
		cmocka_unit_test(test_reissue_race),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_reconcile),
	};

	return cmocka_run_group_tests(tests, setup_ca, teardown_ca);
}
