/*
 * Unit tests of ca_tidy() with a pinned clock (ly_clock_set): what goes
 * (certificates expired more than --keep days ago, used, revoked and
 * expired tokens) and what stays (a revoked certificate until a CRL
 * issued after its expiry lists it, a revocation without a certificate,
 * anything younger than the cutoff); a dry run writes nothing; a tidy is
 * audited.
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

#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"
#include "crl/crl.h"
#include "tests/unit/fixture.h"
#include "util/util.h"

#define T0	((time_t)1900000000)	/* 2030-03-17 */
#define DAY	86400

struct fixture {
	char		 base[64];
	char		 dir[80];
	struct ca	*ca;
	unsigned char	*csr;
	size_t		 csrlen;
};

static int
setup_tidy(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	ly_clock_set(T0);
	if (f == NULL || fixture_instance("/tmp/lanyard-tidy", CONF_KEY_EC_P256,
	    NULL, f->base, f->dir) != 0 || ca_open(f->dir, 0, &f->ca) != LY_OK)
		return -1;
	f->csr = fixture_csr(NULL, NULL, 1, &f->csrlen);
	*state = f;
	return 0;
}

static int
teardown_tidy(void **state)
{
	struct fixture *f = *state;

	ca_close(f->ca);
	fixture_remove(f->base);
	free(f->csr);
	free(f);
	ly_clock_set(0);
	return 0;
}

static struct ca_serial
issue_days(struct fixture *f, int uid, int days)
{
	struct ca_request rq;
	struct ca_serial s;
	char json[64];

	snprintf(json, sizeof(json), "{\"userId\":%d}", uid);
	memset(&rq, 0, sizeof(rq));
	rq.profile = "client";
	rq.csr = f->csr;
	rq.csrlen = f->csrlen;
	rq.identity.kind = CONF_ID_JSON;
	rq.identity.value = json;
	rq.days = days;
	rq.actor = "test";
	assert_int_equal(ca_issue(f->ca, &rq, NULL, &s), LY_OK);
	return s;
}

/* The record's tidy_status_of, or "gone". */
static const char *
tidy_status_of(struct fixture *f, const struct ca_serial *s)
{
	static char buf[16];
	struct store_txn *txn;
	struct store_cert *c = NULL;
	int r;

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	r = store_cert_get(txn, s, &c);
	store_txn_abort(txn);
	if (r == LY_ERR_NOT_FOUND)
		return "gone";
	assert_int_equal(r, LY_OK);
	snprintf(buf, sizeof(buf), "%s", ca_cert_status(c));
	store_cert_free(c);
	return buf;
}

static int
ntokens_cb(const struct ca_token_info *t, void *arg)
{
	(void)t;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
ntokens(struct fixture *f)
{
	size_t n = 0;

	assert_int_equal(ca_token_list(f->ca, ntokens_cb, &n), LY_OK);
	return n;
}

static void
test_tidy(void **state)
{
	struct fixture *f = *state;
	struct ca_serial x, r1, r2, longer, orphan;
	struct ca_tidy_info ti;
	char *tok, *id, *used, *uid;

	memset(&orphan, 0, sizeof(orphan));
	orphan.b[CA_SERIAL_LEN - 1] = 0x42;

	x = issue_days(f, 1, 1);		/* expires T0 + 1d */
	r1 = issue_days(f, 2, 1);
	r2 = issue_days(f, 3, 1);
	longer = issue_days(f, 4, 30);
	assert_int_equal(ca_revoke(f->ca, &r1, 1, 0, "test"), LY_OK);
	assert_int_equal(ca_revoke(f->ca, &r2, 4, 0, "test"), LY_OK);
	assert_int_equal(ca_revoke_unknown(f->ca, &orphan, CA_ISSUING, 1, 0, 0,
	    "test"), LY_OK);
	/* Tokens: one expires unused, one is revoked, one is used. */
	assert_int_equal(ca_token_create(f->ca, "client", "{\"userId\":9}",
	    3600, "test", &tok, &id), LY_OK);
	free(tok);
	free(id);
	assert_int_equal(ca_token_create(f->ca, "client", "{\"userId\":10}",
	    3600, "test", &tok, &id), LY_OK);
	assert_int_equal(ca_token_revoke(f->ca, id, "test"), LY_OK);
	free(tok);
	free(id);
	assert_int_equal(ca_token_create(f->ca, "client", "{\"userId\":11}",
	    3600, "test", &used, &uid), LY_OK);
	{
		struct ca_serial s;

		assert_int_equal(ca_issue_token(f->ca, used, f->csr, f->csrlen,
		    "test", NULL, &s), LY_OK);
	}
	free(used);
	free(uid);
	assert_int_equal(ntokens(f), 3);
	/* A CRL while they are valid: it lists r1 and r2, before expiry. */
	ly_clock_set(T0 + 3600);
	assert_int_equal(crl_generate_all(f->ca, "test", NULL), LY_OK);

	/* A day after expiry, keep 2 days: nothing is old enough. */
	ly_clock_set(T0 + 2 * DAY);
	assert_int_equal(ca_tidy(f->ca, 2, 0, "test", NULL, NULL, &ti), LY_OK);
	assert_int_equal(ti.certs + ti.tokens + ti.kept, 0);

	/* Keep 0: x and the tokens go; r1, r2 stay (no CRL since expiry). */
	assert_int_equal(ca_tidy(f->ca, 0, 1, "test", NULL, NULL, &ti), LY_OK);
	assert_int_equal(ti.certs, 1);
	assert_int_equal(ti.kept, 2);
	assert_int_equal(ti.tokens, 3);
	/* ... the dry run wrote nothing. */
	assert_string_equal(tidy_status_of(f, &x), "expired");
	assert_int_equal(ntokens(f), 3);
	assert_int_equal(fixture_audit_count(f->ca, "tidy"), 1);
	assert_int_equal(ca_tidy(f->ca, 0, 0, "test", NULL, NULL, &ti), LY_OK);
	assert_int_equal(ti.certs, 1);
	assert_int_equal(ti.revoked, 0);
	assert_int_equal(ti.kept, 2);
	assert_string_equal(tidy_status_of(f, &x), "gone");
	assert_string_equal(tidy_status_of(f, &r1), "revoked");
	assert_string_equal(tidy_status_of(f, &r2), "revoked");
	assert_int_equal(ntokens(f), 0);
	assert_int_equal(fixture_audit_count(f->ca, "tidy"), 2);

	/* A CRL after their expiry lists them: now they may go. */
	assert_int_equal(crl_generate_all(f->ca, "test", NULL), LY_OK);
	ly_clock_set(T0 + 2 * DAY + 60);
	assert_int_equal(ca_tidy(f->ca, 0, 0, "test", NULL, NULL, &ti), LY_OK);
	assert_int_equal(ti.certs, 2);
	assert_int_equal(ti.revoked, 2);
	assert_int_equal(ti.kept, 0);
	assert_string_equal(tidy_status_of(f, &r1), "gone");
	assert_string_equal(tidy_status_of(f, &r2), "gone");
	/* Never: a revocation without a certificate, a valid certificate. */
	assert_string_equal(tidy_status_of(f, &orphan), "revoked");
	assert_string_equal(tidy_status_of(f, &longer), "valid");
	assert_int_equal(fixture_audit_count(f->ca, "tidy"), 3);

	/* Long after: the 30-day one goes once it is past the cutoff. */
	ly_clock_set(T0 + 40 * DAY);
	assert_int_equal(ca_tidy(f->ca, 5, 0, "test", NULL, NULL, &ti), LY_OK);
	assert_int_equal(ti.certs, 2);	/* longer and the token's */
	assert_string_equal(tidy_status_of(f, &longer), "gone");
	assert_string_equal(tidy_status_of(f, &orphan), "revoked");
	assert_int_equal(ca_tidy(f->ca, -1, 1, "test", NULL, NULL, &ti),
	    LY_ERR_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tidy, setup_tidy,
		    teardown_tidy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
