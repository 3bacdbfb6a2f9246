/*
 * Unit tests of the CA engine on a real SoftHSM2 instance in a temp dir:
 * profile selection, identity from the authorization and never from the
 * CSR, the store after issue/reissue/revoke, serial collisions, and that a
 * refused request leaves the store as it was.
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

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
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
setup(void **state)
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
teardown(void **state)
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
	/* Superseded: no second reissue. */
	assert_int_equal(ca_reissue(f->ca, &s1, f->csr, f->csrlen, "test",
	    &x3, &s3), LY_ERR_STATE);
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

static void
test_reasons(void **state)
{
	assert_int_equal(ca_reason_parse("keyCompromise"), 1);
	assert_int_equal(ca_reason_parse("superseded"), 4);
	assert_int_equal(ca_reason_parse("bogus"), -2);
	assert_string_equal(ca_reason_name(5), "cessationOfOperation");
	assert_string_equal(ca_reason_name(7), "none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_from_authorization),
		cmocka_unit_test(test_stored_before_returned),
		cmocka_unit_test(test_profile_selection),
		cmocka_unit_test(test_service_and_admin),
		cmocka_unit_test(test_reissue_revoke),
		cmocka_unit_test(test_serial_collision),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
