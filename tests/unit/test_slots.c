/*
 * Unit tests of the CA slots (ca/slots.c, ca/issuers.c) on a real
 * SoftHSM2 instance with a pinned clock: an [issuer NAME] made by init
 * signs its profile's certificates; a rollover waits for its activation
 * time, then takes over issuance and reissue while the old generation
 * stays for revocation; the registry outlives the process and reaches
 * another process's handle; retirement waits for the last certificate;
 * rollover_before rolls over on schedule, once; the short-issuer figure
 * of ca_status_get(); the configuration refuses what cannot work.
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

#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"
#include "hsm/hsm.h"
#include "tests/unit/fixture.h"
#include "util/util.h"

#define T0	((time_t)1900000000)	/* 2030-03-17 */
#define DAY	86400

/* The devices issuer, added to the default ca.conf. */
#define DEVICES \
	"\n[issuer devices]\n" \
	"key = pkcs11:token=lanyard-issuing;object=devices-ca\n" \
	"pin_file = hsm/issuing.pin\n" \
	"subject = /O=Test/CN=Devices CA\n" \
	"key_type = ec-p256\n" \
	"days = 100\n" \
	"cert = certs/devices.crt\n"

struct fixture {
	char		 base[64];
	char		 dir[80];
	struct ca	*ca;
	unsigned char	*csr;
	size_t		 csrlen;
};

/* The default ca.conf with the client profile under devices, plus extra. */
static char *
config(const char *extra)
{
	char *text = conf_default_text(CONF_KEY_EC_P256), *out = NULL, *p;

	assert_non_null(text);
	assert_non_null(p = strstr(text, "[profile client]\n"));
	p += strlen("[profile client]\n");
	assert_true(asprintf(&out, "%.*sissuer = devices\n%s%s%s",
	    (int)(p - text), text, p, DEVICES, extra) > 0);
	free(text);
	return out;
}

static struct fixture *
slots_fixture(const char *extra)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *text = config(extra);

	ly_clock_set(T0);
	assert_non_null(f);
	assert_int_equal(fixture_instance("/tmp/lanyard-slots",
	    CONF_KEY_EC_P256, text, f->base, f->dir), 0);
	assert_int_equal(ca_open(f->dir, 0, &f->ca), LY_OK);
	f->csr = fixture_csr(NULL, NULL, 1, &f->csrlen);
	free(text);
	return f;
}

static void
slots_fixture_free(struct fixture *f)
{
	ca_close(f->ca);
	fixture_remove(f->base);
	free(f->csr);
	free(f);
	ly_clock_set(0);
}

static int	slot_of(struct fixture *, const struct ca_serial *);

/* Issues a client certificate for userId id; its record's CA slot. */
static int
slots_issue(struct fixture *f, int id, struct ca_serial *sp, X509 **xp)
{
	X509 *x = fixture_issue_user(f->ca, "client", f->csr, f->csrlen, id,
	    sp);

	if (xp != NULL)
		*xp = x;
	else
		X509_free(x);
	return slot_of(f, sp);
}

static int
slot_of(struct fixture *f, const struct ca_serial *sp)
{
	struct store_cert *c = fixture_record(f->ca, sp);
	int slot = c->ca;

	store_cert_free(c);
	return slot;
}

/* The subject CN of x, in a static buffer. */
static const char *
cn_of(X509 *x)
{
	static char buf[256];

	buf[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	    buf, sizeof(buf));
	return buf;
}

static void
test_issuers(void **state)
{
	struct fixture *f = slots_fixture("");
	struct ca_serial s1;
	X509 *x = NULL;
	int dev;

	(void)state;
	assert_int_equal(ca_nslots(f->ca), 3);
	assert_int_equal(dev = ca_slot_by_name(f->ca, "devices"), 2);
	assert_string_equal(ca_slot_issuer(f->ca, dev), "devices");
	assert_int_equal(ca_slot_parent(f->ca, dev), CA_ROOT);
	assert_false(ca_slot_is_root(f->ca, dev));
	assert_int_equal(ca_slot_state(f->ca, dev, T0), CA_SLOT_ACTIVE);
	assert_int_equal(ca_issuer_slot(f->ca, "devices", T0), dev);
	assert_int_equal(ca_issuer_slot(f->ca, "issuing", T0), CA_ISSUING);
	assert_int_equal(ca_issuer_slot(f->ca, "root", T0), -1);
	assert_int_equal(ca_issuer_slot(f->ca, "nosuch", T0), -1);
	assert_string_equal(cn_of(ca_cert(f->ca, dev)), "Devices CA");
	assert_int_equal(X509_check_issued(ca_cert(f->ca, CA_ROOT),
	    ca_cert(f->ca, dev)), X509_V_OK);
	/* The client profile names devices; service stays with issuing. */
	assert_int_equal(slots_issue(f, 1, &s1, &x), dev);
	assert_int_equal(X509_check_issued(ca_cert(f->ca, dev), x), X509_V_OK);
	X509_free(x);
	/* One CA per issuer section: more come by rollover. */
	assert_int_equal(ca_issuer_create(f->ca, "devices", "test", NULL),
	    LY_ERR_EXISTS);
	assert_int_equal(ca_issuer_create(f->ca, "nosuch", "test", NULL),
	    LY_ERR_NOT_FOUND);
	assert_int_equal(fixture_audit_count(f->ca, "issuer-create"), 1);
	slots_fixture_free(f);
}

static void
test_issuer_rollover(void **state)
{
	struct fixture *f = slots_fixture("");
	struct ca_serial s1, s2, s3, s4;
	struct ca *other = NULL;
	X509 *x = NULL, *bundle[2 * CA_MAX_SLOTS];
	size_t nb;
	int dev, dev2 = -1;

	(void)state;
	dev = ca_slot_by_name(f->ca, "devices");
	assert_int_equal(slots_issue(f, 1, &s1, NULL), dev);
	/* Another process's view, opened before the rollover. */
	assert_int_equal(ca_open(f->dir, CA_OPEN_READONLY, &other), LY_OK);
	assert_int_equal(ca_issuer_rollover(f->ca, "nosuch", 0, "test", NULL),
	    LY_ERR_NOT_FOUND);
	assert_int_equal(ca_issuer_rollover(f->ca, "devices", T0 + 3600,
	    "test", &dev2), LY_OK);
	assert_int_equal(dev2, 3);
	assert_string_equal(ca_slot_name(f->ca, dev2), "devices-2");
	assert_int_equal(ca_slot_gen(f->ca, dev2), 2);
	assert_string_equal(cn_of(ca_cert(f->ca, dev2)), "Devices CA G2");
	assert_int_equal(X509_check_issued(ca_cert(f->ca, CA_ROOT),
	    ca_cert(f->ca, dev2)), X509_V_OK);
	/* A second one while the first waits: refused. */
	assert_int_equal(ca_issuer_rollover(f->ca, "devices", 0, "test",
	    NULL), LY_ERR_STATE);
	/* Until its time the old generation issues. */
	assert_int_equal(ca_slot_state(f->ca, dev2, T0), CA_SLOT_NEXT);
	assert_int_equal(slots_issue(f, 2, &s2, NULL), dev);
	ly_clock_set(T0 + 3600);
	assert_int_equal(ca_slot_state(f->ca, dev2, T0 + 3600),
	    CA_SLOT_ACTIVE);
	assert_int_equal(ca_slot_state(f->ca, dev, T0 + 3600),
	    CA_SLOT_RETIRING);
	assert_int_equal(slots_issue(f, 3, &s3, &x), dev2);
	assert_int_equal(X509_check_issued(ca_cert(f->ca, dev2), x),
	    X509_V_OK);
	X509_free(x);
	x = NULL;
	/* A reissue of the old generation's certificate comes from the new. */
	assert_int_equal(ca_reissue(f->ca, &s1, f->csr, f->csrlen, "test", &x,
	    &s4), LY_OK);
	assert_int_equal(slot_of(f, &s4), dev2);
	X509_free(x);
	/* The old one still revokes. */
	assert_int_equal(ca_revoke(f->ca, &s2, 1, 0, "test"), LY_OK);
	/* The other handle follows within a second, without reopening. */
	sleep(1);
	assert_int_equal(ca_slots_refresh(other), LY_OK);
	assert_int_equal(ca_nslots(other), 4);
	assert_int_equal(ca_slot_by_name(other, "devices-2"), dev2);
	assert_int_equal(X509_cmp(ca_cert(other, dev2), ca_cert(f->ca, dev2)),
	    0);
	ca_close(other);
	/* The bundle has both generations and the root. */
	assert_int_equal(ca_trust_bundle(f->ca, bundle, 2 * CA_MAX_SLOTS,
	    &nb), LY_OK);
	assert_int_equal(nb, 4);	/* root, issuing, devices, devices-2 */
	/* And a new process reads the registry from the store. */
	ca_close(f->ca);
	assert_int_equal(ca_open(f->dir, 0, &f->ca), LY_OK);
	assert_int_equal(ca_nslots(f->ca), 4);
	assert_int_equal(ca_issuer_slot(f->ca, "devices", ly_now()), dev2);
	assert_int_equal(fixture_audit_count(f->ca, "issuer-rollover"), 1);
	slots_fixture_free(f);
}

static void
test_retire(void **state)
{
	struct fixture *f = slots_fixture("");
	struct ca_serial s1;
	X509 *bundle[2 * CA_MAX_SLOTS];
	time_t last = 0;
	size_t nb;
	int dev, dev2;

	(void)state;
	dev = ca_slot_by_name(f->ca, "devices");
	assert_int_equal(slots_issue(f, 1, &s1, NULL), dev);
	/* In force: not retiring, so never retired. */
	assert_int_equal(ca_slot_retire(f->ca, dev, "test"), LY_ERR_STATE);
	assert_int_equal(ca_issuer_rollover(f->ca, "devices", 0, "test",
	    &dev2), LY_OK);
	/* Retiring, but its certificate has 30 days left. */
	assert_int_equal(ca_slot_last_expiry(f->ca, dev, ly_now(), &last),
	    LY_OK);
	assert_true(last > T0 + 29 * DAY);
	assert_int_equal(ca_slot_retire(f->ca, dev, "test"), LY_ERR_STATE);
	ly_clock_set(T0 + 31 * DAY);
	assert_int_equal(ca_slot_last_expiry(f->ca, dev, ly_now(), &last),
	    LY_OK);
	assert_int_equal(last, 0);
	assert_int_equal(ca_slot_retire(f->ca, dev, "test"), LY_OK);
	assert_int_equal(ca_slot_state(f->ca, dev, ly_now()), CA_SLOT_RETIRED);
	assert_int_equal(ca_trust_bundle(f->ca, bundle, 2 * CA_MAX_SLOTS,
	    &nb), LY_OK);
	assert_int_equal(nb, 3);	/* issuing, devices-2, root */
	assert_int_equal(ca_issuer_slot(f->ca, "devices", ly_now()), dev2);
	/* Retired stays retired in a new process. */
	ca_close(f->ca);
	assert_int_equal(ca_open(f->dir, 0, &f->ca), LY_OK);
	assert_int_equal(ca_slot_state(f->ca, dev, ly_now()), CA_SLOT_RETIRED);
	assert_int_equal(fixture_audit_count(f->ca, "issuer-retire"), 1);
	slots_fixture_free(f);
}

static void
test_schedule(void **state)
{
	struct fixture *f = slots_fixture("rollover_before = 40d\n");
	struct ca_status st;
	int rolled = -1, dev;

	(void)state;
	dev = ca_slot_by_name(f->ca, "devices");
	assert_int_equal(ca_issuer_rollover_due(f->ca, "test", &rolled),
	    LY_OK);
	assert_int_equal(rolled, 0);
	/* 100 days of life; client needs 30 + 7: due after day 60. */
	memset(&st, 0, sizeof(st));
	assert_int_equal(ca_status_get(f->ca, &st), LY_OK);
	assert_int_equal(st.ca[dev].need, 37 * DAY);
	ly_clock_set(T0 + 61 * DAY);
	assert_int_equal(ca_issuer_rollover_due(f->ca, "test", &rolled),
	    LY_OK);
	assert_int_equal(rolled, 1);
	assert_int_equal(ca_issuer_slot(f->ca, "devices", ly_now()), 3);
	/* Once: the new generation has 100 days. */
	assert_int_equal(ca_issuer_rollover_due(f->ca, "test", &rolled),
	    LY_OK);
	assert_int_equal(rolled, 0);
	slots_fixture_free(f);
}

/*
 * An issuer whose CRL is split in shards has CRLs devices-0 ...
 * devices-3: its later generations are devices-g2, ..., never a name
 * one of those CRLs has.
 */
static void
test_sharded_names(void **state)
{
	struct fixture *f = slots_fixture("crl_shards = 4\n");
	int dev2 = -1;

	(void)state;
	assert_int_equal(ca_issuer_rollover(f->ca, "devices", 0, "test",
	    &dev2), LY_OK);
	assert_string_equal(ca_slot_name(f->ca, dev2), "devices-g2");
	assert_int_equal(ca_slot_by_name(f->ca, "devices-2"), -1);
	/* Unsplit issuers keep the plain numbers. */
	assert_int_equal(ca_issuer_rollover(f->ca, "issuing", 0, "test",
	    &dev2), LY_OK);
	assert_string_equal(ca_slot_name(f->ca, dev2), "issuing-2");
	slots_fixture_free(f);
}

/*
 * A rollover that stopped after the new key was made (a crash before the
 * CA was registered) left the label taken: the next run takes that key
 * for the CA instead of failing for ever on "an object with that label
 * exists".
 */
static void
test_interrupted(void **state)
{
	struct fixture *f = slots_fixture("");
	struct ca_serial s1;
	EVP_PKEY *pub = NULL;
	char path[160], *pin = NULL;
	int dev2 = -1;

	(void)state;
	(void)slots_issue(f, 1, &s1, NULL);	/* the HSM is open */
	snprintf(path, sizeof(path), "%s/hsm/issuing.pin", f->dir);
	assert_int_equal(hsm_pin_load(path, NULL, &pin), LY_OK);
	assert_int_equal(hsm_keygen("pkcs11:token=lanyard-issuing;"
	    "object=devices-2-ca", pin, CONF_KEY_EC_P256, &pub), LY_OK);
	hsm_pin_free(pin);
	assert_int_equal(ca_issuer_rollover(f->ca, "devices", 0, "test",
	    &dev2), LY_OK);
	assert_string_equal(ca_slot_name(f->ca, dev2), "devices-2");
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(ca_cert(f->ca, dev2)),
	    pub), 1);
	EVP_PKEY_free(pub);
	/* Its certificates verify: the key signs for it. */
	assert_int_equal(slots_issue(f, 2, &s1, NULL), dev2);
	/* The same for a root rollover (ca/rootroll.c). */
	snprintf(path, sizeof(path), "%s/hsm/root.pin", f->dir);
	assert_int_equal(hsm_pin_load(path, NULL, &pin), LY_OK);
	assert_int_equal(hsm_keygen("pkcs11:token=lanyard-root;"
	    "object=root-ca-2", pin, CONF_KEY_EC_P256, &pub), LY_OK);
	hsm_pin_free(pin);
	assert_int_equal(ca_root_rollover(f->ca, NULL, 0, "test", &dev2),
	    LY_OK);
	assert_string_equal(ca_slot_name(f->ca, dev2), "root-2");
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(ca_cert(f->ca, dev2)),
	    pub), 1);
	EVP_PKEY_free(pub);
	slots_fixture_free(f);
}

static void
test_short(void **state)
{
	struct fixture *f = slots_fixture("");
	struct ca_status st;
	int dev;

	(void)state;
	dev = ca_slot_by_name(f->ca, "devices");
	ly_clock_set(T0 + 70 * DAY);
	memset(&st, 0, sizeof(st));
	assert_int_equal(ca_status_get(f->ca, &st), LY_OK);
	assert_int_equal(st.nca, 3);
	assert_string_equal(st.ca[dev].name, "devices");
	assert_true(st.ca[dev].need > 0);
	/* 30 days left, 37 needed: short. */
	assert_true(st.ca[dev].not_after - st.now < st.ca[dev].need);
	assert_int_equal(st.ca[CA_ROOT].need, 0);
	slots_fixture_free(f);
}

static void
test_conf(void **state)
{
	struct conf *c = NULL;
	char *t;

	(void)state;
	t = config("rollover_before = 10d\n");	/* < 37 days */
	assert_int_equal(conf_parse("/tmp", "t", t, &c), LY_ERR_CONFIG);
	free(t);
	t = config("rollover_before = 100d\n");	/* = its days */
	assert_int_equal(conf_parse("/tmp", "t", t, &c), LY_ERR_CONFIG);
	free(t);
	t = config("");
	assert_int_equal(conf_parse("/tmp", "t", t, &c), LY_OK);
	assert_int_equal(c->nissuers, 2);
	assert_non_null(conf_issuer(c, "devices"));
	assert_string_equal(conf_profile_get(c, "client")->issuer, "devices");
	assert_string_equal(conf_profile_get(c, "service")->issuer, "issuing");
	assert_int_equal(conf_issuer_need(c, "devices"), 37 * DAY);
	conf_free(c);
	free(t);
	{
		static const char *bad[] = { "[issuer root]\n",
		    "[issuer issuing]\n", "[issuer devices-2]\n",
		    "[issuer x-delta]\n", "[issuer x-g2]\n", "[issuer Upper]\n",
		    "[issuer -x]\n" };
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *u = conf_default_text(CONF_KEY_EC_P256), *v;

			assert_true(asprintf(&v, "%s%skey = pkcs11:token=a;"
			    "object=b\n", u, bad[i]) > 0);
			assert_int_equal(conf_parse("/tmp", "t", v, &c),
			    LY_ERR_CONFIG);
			free(u);
			free(v);
		}
	}
	/* A profile naming no issuer section. */
	t = conf_default_text(CONF_KEY_EC_P256);
	{
		char *v;

		assert_true(asprintf(&v, "%s[profile client]\nissuer = nosuch"
		    "\n", t) > 0);
		assert_int_equal(conf_parse("/tmp", "t", v, &c),
		    LY_ERR_CONFIG);
		free(v);
	}
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_issuers),
		cmocka_unit_test(test_issuer_rollover),
		cmocka_unit_test(test_retire),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_sharded_names),
		cmocka_unit_test(test_interrupted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
