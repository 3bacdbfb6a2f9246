/*
 * Unit tests of crl/ for N CA slots: CRL names of slots whose names hold
 * '-' (crl_name_match(), no CA needed), a delta CRL that lists what a
 * revocation changed while its base stays (crl_publish_due()), and a
 * retiring CA's last CRL (crl_generate_last()), on a SoftHSM2 instance
 * with the clock pinned.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "crl/crl.h"
#include "crl/extern.h"
#include "tests/unit/fixture.h"
#include "util/util.h"

/* 2030-01-01T00:00:00Z */
#define T0	((time_t)1893456000)

/* ---- names ------------------------------------------------------------- */

/*
 * A root and its second generation, the [issuing] CA, "devices" in 4
 * shards with its whole CRL, and "devices-2" (its next generation) in 1
 * or 4.
 */
static void
table(struct crl_slotname *t, unsigned int dev2shards, int reversed)
{
	struct crl_slotname s[] = {
		{ "root", 0, 1, 0, 1 },
		{ "issuing", 1, 1, 0, 0 },
		{ "devices", 2, 4, 1, 0 },
		{ "devices-2", 3, 1, 0, 0 },
		{ "root-2", 4, 1, 0, 1 },
	};
	size_t i, n = sizeof(s) / sizeof(s[0]);

	s[3].shards = dev2shards;
	for (i = 0; i < n; i++)
		t[reversed ? n - 1 - i : i] = s[i];
}

static void
expect(const struct crl_slotname *t, const char *name, int slot, int shard,
    int delta)
{
	struct crl_id id;

	memset(&id, 0x55, sizeof(id));
	if (slot < 0) {
		assert_int_equal(crl_name_match(t, 5, name, &id),
		    LY_ERR_NOT_FOUND);
		return;
	}
	assert_int_equal(crl_name_match(t, 5, name, &id), LY_OK);
	assert_int_equal(id.slot, slot);
	assert_int_equal(id.shard, shard);
	assert_int_equal(id.delta, delta);
}

/*
 * "devices-2" starts with "devices", and "-2" is a shard of devices: the
 * longer slot name wins, whatever the order of the slots, so a newer
 * generation's CRLs are never taken for an older one's shards; what only
 * the shorter name explains is still found.
 */
static void
test_names_hyphen(void **state)
{
	struct crl_slotname t[5];
	int rev;

	(void)state;
	for (rev = 0; rev <= 1; rev++) {
		table(t, 1, rev);
		expect(t, "devices-2", 3, -1, 0);
		expect(t, "devices-2-delta", 3, -1, 1);
		expect(t, "devices-3", 2, 3, 0);
		expect(t, "devices-3-delta", 2, 3, 1);
		expect(t, "devices-0", 2, 0, 0);
		expect(t, "devices", 2, -1, 0);
		expect(t, "devices-delta", -1, 0, 0);	/* whole: no delta */
		expect(t, "devices-4", -1, 0, 0);	/* 4 shards: 0..3 */
		expect(t, "devices-02", -1, 0, 0);
		expect(t, "devices-2-3", -1, 0, 0);	/* devices-2: no shards */
		expect(t, "devices-2-", -1, 0, 0);
		expect(t, "devices-", -1, 0, 0);
		expect(t, "root-2", 4, -1, 0);
		expect(t, "root-2-delta", -1, 0, 0);	/* a root: no delta */
		expect(t, "root-delta", -1, 0, 0);
		expect(t, "root-3", -1, 0, 0);
		expect(t, "issuing-delta", 1, -1, 1);
		expect(t, "issuing-2", -1, 0, 0);

		/* devices-2 partitioned too: its own shards. */
		table(t, 4, rev);
		expect(t, "devices-2-3", 3, 3, 0);
		expect(t, "devices-2-3-delta", 3, 3, 1);
		expect(t, "devices-2-delta", 2, 2, 1);	/* devices' shard 2 */
		expect(t, "devices-2-4", -1, 0, 0);
	}
}

/* ---- on an instance ------------------------------------------------------ */

struct fixture {
	char		 base[64];
	char		 dir[80];
	struct ca	*ca;
	unsigned char	*csr;
	size_t		 csrlen;
};

/* An instance, its issuing CA's CRL in shards partitions. */
static int
setup_conf(void **state, char shards, int on_revoke_delta)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *text, *p, *t2 = NULL;
	int r;

	if (f == NULL || (text = conf_default_text(CONF_KEY_EC_P256)) ==
	    NULL || (p = strstr(text, "\nshards = 1\n")) == NULL)
		return -1;
	p[sizeof("\nshards = ") - 1] = shards;
	if (on_revoke_delta) {
		p += sizeof("\nshards = 1\n") - 1;
		if (asprintf(&t2, "%.*son_revoke = delta\n%s", (int)(p - text),
		    text, p) == -1)
			return -1;
		free(text);
		text = t2;
	}
	ly_clock_set(T0);
	r = fixture_instance("/tmp/lanyard-crlslots", CONF_KEY_EC_P256, text,
	    f->base, f->dir);
	free(text);
	if (r != 0 || ca_open(f->dir, 0, &f->ca) != LY_OK)
		return -1;
	f->csr = fixture_csr(NULL, NULL, 1, &f->csrlen);
	*state = f;
	return 0;
}

static int
crlslots_setup(void **state)
{
	return setup_conf(state, '1', 0);
}

static int
setup4(void **state)
{
	return setup_conf(state, '4', 0);
}

/* [crl] on_revoke = delta: the deltas alone after a revocation. */
static int
setup_delta(void **state)
{
	return setup_conf(state, '1', 1);
}

static int
crlslots_teardown(void **state)
{
	struct fixture *f = *state;

	ca_close(f->ca);
	fixture_remove(f->base);
	free(f->csr);
	free(f);
	ly_clock_set(0);
	return 0;
}

/* A leaf of the client profile; *nap (if not NULL) its notAfter. */
static void
issue_na(struct fixture *f, int user, struct ca_serial *s, time_t *nap)
{
	X509 *x = fixture_issue_user(f->ca, "client", f->csr, f->csrlen, user,
	    s);

	if (nap != NULL)
		assert_int_equal(ly_asn1_time(X509_get0_notAfter(x), nap),
		    LY_OK);
	X509_free(x);
}

static void
crlslots_issue(struct fixture *f, int user, struct ca_serial *s)
{
	issue_na(f, user, s, NULL);
}

/* The current CRL of slot (shard -1), decoded and verified; *info too. */
static X509_CRL *
crlslots_load(struct fixture *f, int slot, int delta, struct crl_info *info)
{
	struct crl_id id = { slot, -1, delta };
	struct store_txn *txn;
	const unsigned char *der, *p;
	size_t len;
	X509_CRL *crl;

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(crl_get(txn, f->ca, &id, &der, &len, info), LY_OK);
	p = der;
	assert_non_null(crl = d2i_X509_CRL(NULL, &p, (long)len));
	store_txn_abort(txn);
	assert_int_equal(X509_CRL_verify(crl,
	    X509_get0_pubkey(ca_cert(f->ca, slot))), 1);
	return crl;
}

static int
lists(X509_CRL *crl, const struct ca_serial *s)
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *a = ca_serial_to_asn1(s);
	int r;

	r = X509_CRL_get0_by_serial(crl, &rev, a) == 1;
	ASN1_INTEGER_free(a);
	return r;
}

/* The base number a delta CRL names (its Delta CRL Indicator). */
static uint64_t
base_of(X509_CRL *crl)
{
	ASN1_INTEGER *n;
	uint64_t v = 0;
	int crit = 0;

	assert_non_null(n = X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit,
	    NULL));
	assert_int_equal(crit, 1);
	assert_int_equal(ASN1_INTEGER_get_uint64(&v, n), 1);
	ASN1_INTEGER_free(n);
	return v;
}

/*
 * After a revocation (CRL_PUBLISH_REVOKED, what ca-server passes) only
 * the issuing CA's delta is made: it lists the revocation against the
 * unchanged base, which does not. Once the full CRL is due, both are
 * made: the base lists it and the new delta, against the new base, not.
 */
static void
test_revoked_delta(void **state)
{
	struct fixture *f = *state;
	struct crl_info full0, delta0, full1, delta1, full2, delta2, root0,
	    root1;
	struct ca_serial s;
	X509_CRL *c;

	crlslots_issue(f, 1, &s);
	assert_int_equal(crl_publish_all(f->ca, "test", NULL), LY_OK);
	X509_CRL_free(crlslots_load(f, CA_ISSUING, 0, &full0));
	X509_CRL_free(crlslots_load(f, CA_ISSUING, 1, &delta0));
	X509_CRL_free(crlslots_load(f, CA_ROOT, 0, &root0));

	ly_clock_set(T0 + 60);
	assert_int_equal(ca_revoke(f->ca, &s, 1, 0, "test"), LY_OK);
	assert_int_equal(crl_publish_due(f->ca, CRL_PUBLISH_REVOKED, "test",
	    "revocation"), 1);
	c = crlslots_load(f, CA_ISSUING, 0, &full1);
	assert_false(lists(c, &s));
	X509_CRL_free(c);
	assert_true(full1.number == full0.number);
	c = crlslots_load(f, CA_ISSUING, 1, &delta1);
	assert_true(delta1.number > delta0.number);
	assert_true(base_of(c) == full0.number);
	assert_true(lists(c, &s));
	assert_int_equal(delta1.entries, 1);
	X509_CRL_free(c);
	X509_CRL_free(crlslots_load(f, CA_ROOT, 0, &root1));
	assert_true(root1.number == root0.number);
	/* What the delta lists is not missing: a restart signs nothing. */
	assert_int_equal(crl_due_cas(f->ca, CRL_PUBLISH_MISSING), 0);

	/* The full CRL is due ([crl] refresh_before of its nextUpdate). */
	ly_clock_set(full0.next_update - ca_conf(f->ca)->crl_refresh_before);
	assert_int_equal(crl_publish_due(f->ca, CRL_PUBLISH_REVOKED, "test",
	    "revocation"), 1);
	c = crlslots_load(f, CA_ISSUING, 0, &full2);
	assert_true(full2.number > delta1.number);
	assert_true(lists(c, &s));
	X509_CRL_free(c);
	c = crlslots_load(f, CA_ISSUING, 1, &delta2);
	assert_true(base_of(c) == full2.number);
	assert_false(lists(c, &s));
	X509_CRL_free(c);
}

/*
 * The default ([crl] on_revoke = full): after a revocation every CRL of
 * the issuing CA is made again, so a gateway that reads full CRLs only
 * (the bundle) refuses the certificate now; the root does not sign.
 */
static void
test_revoked_full(void **state)
{
	struct fixture *f = *state;
	struct crl_info full0, full1, delta1, root0, root1;
	struct ca_serial s;
	X509_CRL *c;

	crlslots_issue(f, 1, &s);
	assert_int_equal(crl_publish_all(f->ca, "test", NULL), LY_OK);
	X509_CRL_free(crlslots_load(f, CA_ISSUING, 0, &full0));
	X509_CRL_free(crlslots_load(f, CA_ROOT, 0, &root0));
	ly_clock_set(T0 + 60);
	assert_int_equal(ca_revoke(f->ca, &s, 1, 0, "test"), LY_OK);
	assert_int_equal(crl_publish_due(f->ca, CRL_PUBLISH_REVOKED, "test",
	    "revocation"), 1);
	c = crlslots_load(f, CA_ISSUING, 0, &full1);
	assert_true(full1.number > full0.number);
	assert_true(lists(c, &s));
	X509_CRL_free(c);
	/* Its delta is of the new full CRL, and repeats none of it. */
	c = crlslots_load(f, CA_ISSUING, 1, &delta1);
	assert_true(base_of(c) == full1.number);
	assert_false(lists(c, &s));
	X509_CRL_free(c);
	X509_CRL_free(crlslots_load(f, CA_ROOT, 0, &root1));
	assert_true(root1.number == root0.number);
	assert_int_equal(crl_due_cas(f->ca, CRL_PUBLISH_MISSING), 0);
}

/*
 * A retiring CA's last CRL: full, good until the CA certificate's
 * notAfter, numbered after the others; never a delta.
 */
static void
test_last_crl(void **state)
{
	struct fixture *f = *state;
	struct crl_id id = { CA_ISSUING, -1, 0 };
	struct crl_info info, last;
	time_t na = 0;
	X509_CRL *c;

	assert_int_equal(crl_generate_all(f->ca, "test", NULL), LY_OK);
	X509_CRL_free(crlslots_load(f, CA_ISSUING, 1, &info));
	assert_int_equal(ly_asn1_time(X509_get0_notAfter(ca_cert(f->ca,
	    CA_ISSUING)), &na), LY_OK);
	assert_int_equal(crl_generate_last(f->ca, &id, "test"), LY_OK);
	c = crlslots_load(f, CA_ISSUING, 0, &last);
	assert_true(last.number > info.number);
	assert_true(last.next_update == na);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(c),
	    na), 0);
	X509_CRL_free(c);
	id.delta = 1;
	assert_int_equal(crl_generate_last(f->ca, &id, "test"), LY_ERR_ARG);
}

/* How many CRLs the publish directory's bundle holds. */
static int
crlslots_bundle_count(struct fixture *f)
{
	char path[512];
	X509_CRL *crl;
	FILE *fp;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", ca_conf(f->ca)->publish_dir,
	    "crl-bundle.pem");
	assert_non_null(fp = fopen(path, "r"));
	while ((crl = PEM_read_X509_CRL(fp, NULL, NULL, NULL)) != NULL) {
		n++;
		X509_CRL_free(crl);
	}
	fclose(fp);
	return n;
}

/*
 * An issuer rollover: the new generation ("issuing-2") gets its own CRLs
 * at the next crl_publish_due(); the old one, retiring, keeps its CRLs
 * while its leaf is unexpired, then gets its last CRL (until its
 * certificate's notAfter), is retired, signs no CRL again, and leaves
 * the bundle, its last CRL still in the store.
 */
static void
test_crl_retire(void **state)
{
	struct fixture *f = *state;
	struct crl_info a, b, last, again;
	struct crl_id id;
	struct ca_serial s;
	time_t leaf_na = 0, ca_na = 0, t = 0;
	int slot2;
	X509_CRL *c;

	issue_na(f, 1, &s, &leaf_na);
	assert_int_equal(crl_publish_all(f->ca, "test", NULL), LY_OK);
	assert_int_equal(crlslots_bundle_count(f), 2);
	assert_int_equal(ca_issuer_rollover(f->ca, "issuing", 0, "test",
	    &slot2), LY_OK);
	assert_string_equal(ca_slot_name(f->ca, slot2), "issuing-2");
	assert_int_equal(ca_slot_state(f->ca, CA_ISSUING, ly_now()),
	    CA_SLOT_RETIRING);
	c = crlslots_load(f, CA_ISSUING, 0, &a);
	/* While the CA lives, its full CRL names its delta. */
	assert_true(X509_CRL_get_ext_by_NID(c, NID_freshest_crl, -1) >= 0);
	X509_CRL_free(c);
	/* The new generation's CRLs are due: it has none. */
	assert_true(crl_due_cas(f->ca, 0) & (1u << slot2));
	assert_int_equal(crl_publish_due(f->ca, 0, "test", "test"), 1);
	assert_int_equal(crl_name_parse(f->ca, "issuing-2-delta", &id), LY_OK);
	assert_int_equal(id.slot, slot2);
	assert_int_equal(id.delta, 1);
	X509_CRL_free(crlslots_load(f, slot2, 0, NULL));
	X509_CRL_free(crlslots_load(f, slot2, 1, NULL));
	assert_int_equal(crlslots_bundle_count(f), 3);

	/* A revocation of the old generation's leaf: in its full CRL. */
	assert_int_equal(ca_revoke(f->ca, &s, 1, 0, "test"), LY_OK);
	assert_int_equal(crl_publish_due(f->ca, CRL_PUBLISH_REVOKED, "test",
	    "test"), 1);
	c = crlslots_load(f, CA_ISSUING, 0, NULL);
	assert_true(lists(c, &s));
	X509_CRL_free(c);
	c = crlslots_load(f, slot2, 1, NULL);
	assert_false(lists(c, &s));
	X509_CRL_free(c);
	assert_int_equal(ca_slot_state(f->ca, CA_ISSUING, ly_now()),
	    CA_SLOT_RETIRING);

	/*
	 * Its last certificate (the leaf, or one init made such as the OCSP
	 * signer's) expires at t: not retired a second before, then
	 * retired with its last CRL.
	 */
	assert_int_equal(ca_slot_last_expiry(f->ca, CA_ISSUING, ly_now(),
	    &t), LY_OK);
	assert_true(t >= leaf_na);
	ly_clock_set(t - 1);
	assert_int_equal(crl_publish_due(f->ca, 0, "test", "test"), 1);
	assert_int_equal(ca_slot_state(f->ca, CA_ISSUING, ly_now()),
	    CA_SLOT_RETIRING);
	ly_clock_set(t);
	assert_int_equal(crl_publish_due(f->ca, 0, "test", "test"), 1);
	assert_int_equal(ca_slot_state(f->ca, CA_ISSUING, ly_now()),
	    CA_SLOT_RETIRED);
	assert_int_equal(ly_asn1_time(X509_get0_notAfter(ca_cert(f->ca,
	    CA_ISSUING)), &ca_na), LY_OK);
	c = crlslots_load(f, CA_ISSUING, 0, &last);
	assert_true(last.number > a.number);
	assert_true(last.next_update == ca_na);
	assert_true(lists(c, &s));
	/* It names no delta: none is ever made again. */
	assert_int_equal(X509_CRL_get_ext_by_NID(c, NID_freshest_crl, -1), -1);
	X509_CRL_free(c);
	assert_int_equal(crlslots_bundle_count(f), 2);

	/* Never again: neither when everything else is due nor by hand. */
	ly_clock_set(t + 40 * 86400);
	assert_false(crl_due_cas(f->ca, CRL_PUBLISH_MISSING) &
	    (1u << CA_ISSUING));
	assert_int_equal(crl_publish_due(f->ca, CRL_PUBLISH_REVOKED, "test",
	    "test"), 1);
	assert_int_equal(crl_publish_all(f->ca, "test", NULL), LY_OK);
	X509_CRL_free(crlslots_load(f, CA_ISSUING, 0, &again));
	assert_true(again.number == last.number);
	X509_CRL_free(crlslots_load(f, slot2, 0, &b));
	assert_true(b.this_update == t + 40 * 86400);
	assert_int_equal(crlslots_bundle_count(f), 2);
}

/* The CRL file name in the publish dir, verified with slot's key. */
static void
file_verifies(struct fixture *f, const char *name, int slot)
{
	unsigned char *der;
	const unsigned char *p;
	char path[512];
	size_t len;
	X509_CRL *c;

	snprintf(path, sizeof(path), "%s/%s.crl", ca_conf(f->ca)->publish_dir,
	    name);
	assert_int_equal(ly_file_read(path, 1 << 20, &der, &len), LY_OK);
	p = der;
	assert_non_null(c = d2i_X509_CRL(NULL, &p, (long)len));
	free(der);
	assert_int_equal(X509_CRL_verify(c, X509_get0_pubkey(ca_cert(f->ca,
	    slot))), 1);
	X509_CRL_free(c);
}

/*
 * [crl] shards = 4: issuing's CRLs are issuing-0 ... issuing-3, so its
 * second generation is issuing-g2 (ca/slots.c slot_gen_name()), and no
 * CRL name stands for two CRLs: each shard of each generation is made,
 * under its own name, signed by its own CA.
 */
static void
test_shadowed(void **state)
{
	struct fixture *f = *state;
	struct crl_id id = { CA_ISSUING, 2, 0 };
	int slot2;

	assert_int_equal(crl_publish_all(f->ca, "test", NULL), LY_OK);
	assert_int_equal(ca_issuer_rollover(f->ca, "issuing", 0, "test",
	    &slot2), LY_OK);
	assert_string_equal(ca_slot_name(f->ca, slot2), "issuing-g2");
	assert_false(crl_shadowed(f->ca, &id));
	assert_int_equal(crl_name_parse(f->ca, "issuing-2", &id), LY_OK);
	assert_int_equal(id.slot, CA_ISSUING);
	assert_int_equal(id.shard, 2);
	assert_int_equal(crl_name_parse(f->ca, "issuing-g2-2", &id), LY_OK);
	assert_int_equal(id.slot, slot2);
	assert_int_equal(id.shard, 2);
	assert_int_equal(crl_publish_all(f->ca, "test", NULL), LY_OK);
	file_verifies(f, "issuing-2", CA_ISSUING);
	file_verifies(f, "issuing-g2-2", slot2);
	file_verifies(f, "issuing-g2-2-delta", slot2);
	/* issuing's whole CRL, issuing-g2's, the root's. */
	assert_int_equal(crlslots_bundle_count(f), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_hyphen),
		cmocka_unit_test_setup_teardown(test_revoked_delta, setup_delta,
		    crlslots_teardown),
		cmocka_unit_test_setup_teardown(test_revoked_full, crlslots_setup,
		    crlslots_teardown),
		cmocka_unit_test_setup_teardown(test_last_crl, crlslots_setup,
		    crlslots_teardown),
		cmocka_unit_test_setup_teardown(test_crl_retire, crlslots_setup,
		    crlslots_teardown),
		cmocka_unit_test_setup_teardown(test_shadowed, setup4,
		    crlslots_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
