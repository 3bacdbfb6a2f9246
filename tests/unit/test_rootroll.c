/*
 * Unit tests of root renewal by cross-signing (ca/rootroll.c) on a real
 * SoftHSM2 instance: refused input changes nothing; a rollover makes the
 * root in force a new self-signed generation with a key of its own, and
 * two cross-certificates, each signed by one root for the other's name
 * and key, recorded as issued by the signing slot and in the trust
 * bundle; a root generation registered to activate later stops the next
 * rollover.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "tests/unit/fixture.h"
#include "util/util.h"

struct fixture {
	char		 base[64];
	char		 dir[80];
	struct ca	*ca;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || fixture_instance("/tmp/lanyard-rootroll",
	    CONF_KEY_EC_P256, NULL, f->base, f->dir) != 0 ||
	    ca_open(f->dir, 0, &f->ca) != LY_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	ca_close(f->ca);
	fixture_remove(f->base);
	free(f);
	return 0;
}

/* The slot the store records as the issuer of x. */
static int
recorded_issuer(struct ca *ca, X509 *x)
{
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	struct ca_serial sn;
	int slot;

	assert_int_equal(ca_serial_from_asn1(X509_get0_serialNumber(x), &sn),
	    LY_OK);
	assert_int_equal(store_txn_begin(ca_store(ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_get(txn, &sn, &rec), LY_OK);
	assert_int_equal(rec->status, STORE_VALID);
	slot = rec->ca;
	store_cert_free(rec);
	store_txn_abort(txn);
	return slot;
}

static int
name_eq(const X509_NAME *a, const X509_NAME *b)
{
	return X509_NAME_cmp(a, b) == 0;
}

static void
test_rollover_refused(void **state)
{
	struct fixture *f = *state;
	int slot = -1, n = ca_nslots(f->ca);

	assert_int_equal(ca_root_rollover(f->ca,
	    "/O=Lanyard Demo/CN=Lanyard Root CA", 0, "test", &slot),
	    LY_ERR_ARG);
	assert_non_null(strstr(ly_errdetail(), "a name of its own"));
	assert_int_equal(ca_root_rollover(f->ca, "/O=No CN", 0, "test",
	    &slot), LY_ERR_ARG);
	assert_int_equal(ca_root_rollover(f->ca, "no slash", 0, "test",
	    &slot), LY_ERR_ARG);
	assert_int_equal(ca_root_rollover(f->ca, NULL, 36601, "test", &slot),
	    LY_ERR_ARG);
	assert_int_equal(slot, -1);
	assert_int_equal(ca_nslots(f->ca), n);
	assert_int_equal(fixture_audit_count(f->ca, "root-rollover"), 0);
}

static void
test_rollover(void **state)
{
	struct fixture *f = *state;
	struct ca *ca = f->ca;
	X509 *old, *nw, *bundle[CA_MAX_SLOTS * 2], *a = NULL, *b = NULL;
	time_t now = ly_now(), na, oldna;
	size_t i, nb;
	int slot = -1, oldslot = ca_root_slot(ca, now);

	old = ca_cert(ca, oldslot);
	assert_int_equal(ca_root_rollover(ca, NULL, 7300, "test", &slot),
	    LY_OK);
	assert_true(slot >= 2);
	assert_true(ca_slot_is_root(ca, slot));
	assert_int_equal(ca_slot_gen(ca, slot), ca_slot_gen(ca, oldslot) + 1);
	assert_string_equal(ca_slot_name(ca, slot), "root-2");
	assert_int_equal(ca_root_slot(ca, ly_now()), slot);
	assert_int_equal(ca_slot_state(ca, oldslot, ly_now()),
	    CA_SLOT_RETIRING);

	/* Self-signed, a name and a key of its own, for the days asked. */
	assert_non_null(nw = ca_cert(ca, slot));
	assert_int_equal(X509_check_issued(nw, nw), X509_V_OK);
	assert_int_equal(X509_verify(nw, X509_get0_pubkey(nw)), 1);
	assert_false(name_eq(X509_get_subject_name(nw),
	    X509_get_subject_name(old)));
	assert_int_not_equal(EVP_PKEY_eq(X509_get0_pubkey(nw),
	    X509_get0_pubkey(old)), 1);
	assert_int_equal(X509_check_ca(nw), 1);
	assert_int_equal(ly_asn1_time(X509_get0_notAfter(nw), &na), LY_OK);
	assert_true(na >= now + 7300L * 86400 - 60 &&
	    na <= now + 7300L * 86400 + 60);
	assert_int_equal(recorded_issuer(ca, nw), slot);

	/* The crosses, from the trust bundle. */
	assert_int_equal(ca_trust_bundle(ca, bundle, CA_MAX_SLOTS * 2, &nb),
	    LY_OK);
	for (i = 0; i < nb; i++) {
		if (name_eq(X509_get_subject_name(bundle[i]),
		    X509_get_issuer_name(bundle[i])))
			continue;
		if (name_eq(X509_get_issuer_name(bundle[i]),
		    X509_get_subject_name(old)) && name_eq(
		    X509_get_subject_name(bundle[i]),
		    X509_get_subject_name(nw)))
			a = bundle[i];
		else if (name_eq(X509_get_issuer_name(bundle[i]),
		    X509_get_subject_name(nw)) && name_eq(
		    X509_get_subject_name(bundle[i]),
		    X509_get_subject_name(old)))
			b = bundle[i];
	}
	assert_non_null(a);
	assert_non_null(b);
	/* A: the old root signed it, for the new key; B the other way. */
	assert_int_equal(X509_verify(a, X509_get0_pubkey(old)), 1);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(a),
	    X509_get0_pubkey(nw)), 1);
	assert_int_equal(X509_verify(b, X509_get0_pubkey(nw)), 1);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(b),
	    X509_get0_pubkey(old)), 1);
	assert_int_equal(X509_check_ca(a), 1);
	assert_int_equal(X509_check_ca(b), 1);
	assert_int_equal(ly_asn1_time(X509_get0_notAfter(old), &oldna), LY_OK);
	assert_int_equal(ly_asn1_time(X509_get0_notAfter(a), &na), LY_OK);
	assert_true(na <= oldna);
	assert_int_equal(ly_asn1_time(X509_get0_notAfter(b), &na), LY_OK);
	assert_true(na <= oldna);
	assert_int_equal(recorded_issuer(ca, a), oldslot);
	assert_int_equal(recorded_issuer(ca, b), slot);
	assert_int_equal(fixture_audit_count(ca, "root-rollover"), 1);
	assert_int_equal(fixture_audit_count(ca, "cross-certify"), 2);
}

/* A root generation that activates later: the next rollover waits for it. */
static void
test_newer_generation(void **state)
{
	struct fixture *f = *state;
	struct ca_slot_new nw;
	EVP_PKEY *key;
	X509 *x;
	int slot, n;

	assert_non_null(key = EVP_EC_gen("P-256"));
	x = fixture_cert(key, "Lanyard Root CA G9", 9);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	memset(&nw, 0, sizeof(nw));
	nw.issuer = "root";
	nw.key_uri = "pkcs11:token=lanyard-root;object=root-ca-next";
	nw.cert = x;
	nw.parent = -1;
	nw.activates = ly_now() + 86400;
	assert_int_equal(ca_slot_register(f->ca, &nw, "test", "test-next",
	    NULL, &slot), LY_OK);
	assert_int_equal(ca_slot_state(f->ca, slot, ly_now()), CA_SLOT_NEXT);
	n = ca_nslots(f->ca);
	assert_int_equal(ca_root_rollover(f->ca, NULL, 0, "test", &slot),
	    LY_ERR_STATE);
	assert_non_null(strstr(ly_errdetail(), "newer generation"));
	assert_int_equal(ca_nslots(f->ca), n);
	assert_int_equal(fixture_audit_count(f->ca, "root-rollover"), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollover_refused),
		cmocka_unit_test(test_rollover),
		cmocka_unit_test(test_newer_generation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
