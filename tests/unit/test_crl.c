/*
 * Unit tests of crl/ on real SoftHSM2 instances in temp dirs: what a full
 * CRL says (RFC 5280 5.1–5.3), read back with d2i_X509_CRL and verified
 * with the CA key; CRL numbers; delta CRLs; the root's CRL; partitioned
 * CRLs; names from URLs; when a CRL is due, with the clock pinned.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
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
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "crl/bundle.h"
#include "crl/crl.h"
#include "tests/unit/fixture.h"
#include "util/util.h"

/* A fixed day, so that times in CRLs are known: 2030-01-01T00:00:00Z. */
#define T0	((time_t)1893456000)

struct fixture {
	char		 base[64];
	char		 dir[80];
	struct ca	*ca;
	unsigned char	*csr;
	size_t		 csrlen;
};

/* An instance of key type kt; config edits: replace from with to. */
static struct fixture *
fixture_new(enum conf_keytype kt, const char *const *edits)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *text = NULL, *p, *n;
	size_t i;

	if (f == NULL)
		return NULL;
	ly_clock_set(T0);
	if (edits != NULL) {
		text = conf_default_text(kt);
		for (i = 0; text != NULL && edits[i] != NULL; i += 2) {
			if ((p = strstr(text, edits[i])) == NULL)
				return NULL;
			if (asprintf(&n, "%.*s%s%s", (int)(p - text), text,
			    edits[i + 1], p + strlen(edits[i])) == -1)
				return NULL;
			free(text);
			text = n;
		}
	}
	if (fixture_instance("/tmp/lanyard-crl", kt, text, f->base, f->dir) != 0)
		return NULL;
	free(text);
	if (ca_open(f->dir, 0, &f->ca) != LY_OK)
		return NULL;
	f->csr = fixture_csr(NULL, NULL, 1, &f->csrlen);
	return f;
}

static void
fixture_free(struct fixture *f)
{
	ca_close(f->ca);
	fixture_remove(f->base);
	free(f->csr);
	free(f);
	ly_clock_set(0);
}

static int
setup_crl(void **state)
{
	return (*state = fixture_new(CONF_KEY_EC_P256, NULL)) == NULL ? -1 : 0;
}

static int
teardown_crl(void **state)
{
	fixture_free(*state);
	return 0;
}

static void
issue_user(struct fixture *f, int user, struct ca_serial *s)
{
	X509_free(fixture_issue_user(f->ca, "client", f->csr, f->csrlen, user,
	    s));
}

static struct crl_id
cid(int slot, int shard, int delta)
{
	struct crl_id id;

	memset(&id, 0, sizeof(id));
	id.slot = slot;
	id.shard = shard;
	id.delta = delta;
	return id;
}

/* The current CRL id, decoded (no trailing bytes) and verified. */
static X509_CRL *
load(struct fixture *f, struct crl_id id, struct crl_info *info)
{
	struct store_txn *txn;
	const unsigned char *der, *p;
	size_t len;
	X509_CRL *crl;

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(crl_get(txn, f->ca, &id, &der, &len, info), LY_OK);
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_ptr_equal(p, der + len);
	store_txn_abort(txn);
	assert_int_equal(X509_CRL_verify(crl,
	    X509_get0_pubkey(ca_cert(f->ca, id.slot))), 1);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(ca_cert(f->ca, id.slot))), 0);
	return crl;
}

static X509_CRL *
load_file(const char *dir, const char *name, X509 *ca)
{
	char path[256];
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	struct stat st;
	X509_CRL *crl;

	snprintf(path, sizeof(path), "%s/%s.crl", dir, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(ly_file_read(path, 1 << 20, &der, &len), LY_OK);
	p = der;
	assert_non_null(crl = d2i_X509_CRL(NULL, &p, (long)len));
	assert_ptr_equal(p, der + len);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
	free(der);
	return crl;
}

static uint64_t
int_ext(X509_CRL *crl, int nid, int *critp)
{
	ASN1_INTEGER *n;
	uint64_t v;

	n = X509_CRL_get_ext_d2i(crl, nid, critp, NULL);
	assert_non_null(n);
	assert_int_equal(ASN1_INTEGER_get_uint64(&v, n), 1);
	ASN1_INTEGER_free(n);
	return v;
}

static X509_REVOKED *
find(X509_CRL *crl, const struct ca_serial *s)
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *a = ca_serial_to_asn1(s);

	if (X509_CRL_get0_by_serial(crl, &rev, a) != 1)
		rev = NULL;
	ASN1_INTEGER_free(a);
	return rev;
}

static int
reason_of(X509_REVOKED *rev)
{
	ASN1_ENUMERATED *e;
	int crit, r;

	if ((e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit,
	    NULL)) == NULL) {
		assert_int_equal(crit, -1);	/* absent, not malformed */
		return -1;
	}
	assert_int_equal(crit, 0);
	r = (int)ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return r;
}

/* The only URI of a distribution point name. */
static void
assert_dpn_uri(const DIST_POINT_NAME *dpn, const char *url)
{
	const GENERAL_NAME *gn;

	assert_non_null(dpn);
	assert_int_equal(dpn->type, 0);
	assert_int_equal(sk_GENERAL_NAME_num(dpn->name.fullname), 1);
	gn = sk_GENERAL_NAME_value(dpn->name.fullname, 0);
	assert_int_equal(gn->type, GEN_URI);
	assert_string_equal(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
	    url);
}

static void
test_full(void **state)
{
	struct fixture *f = *state;
	struct ca_serial s[5];
	struct crl_id id = cid(CA_ISSUING, -1, 0);
	struct crl_info info, info2;
	struct store_txn *txn;
	X509_CRL *crl;
	X509_REVOKED *rev;
	AUTHORITY_KEYID *akid;
	CRL_DIST_POINTS *fresh;
	ASN1_GENERALIZEDTIME *inv;
	const ASN1_TIME *t1, *t2;
	int i, crit, days, secs;

	for (i = 0; i < 5; i++)
		issue_user(f, i, &s[i]);
	assert_int_equal(ca_revoke(f->ca, &s[0], ca_reason_parse(
	    "keyCompromise"), T0 - 86400, "test"), LY_OK);
	assert_int_equal(ca_revoke(f->ca, &s[2], ca_reason_parse(
	    "superseded"), 0, "test"), LY_OK);
	assert_int_equal(ca_revoke(f->ca, &s[4], -1, 0, "test"), LY_OK);

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(crl_due(txn, f->ca, &id), 1);
	store_txn_abort(txn);
	assert_int_equal(crl_generate(f->ca, &id, "test", &info), LY_OK);
	assert_int_equal(info.entries, 3);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(crl_due(txn, f->ca, &id), 0);
	store_txn_abort(txn);

	crl = load(f, id, &info2);
	assert_memory_equal(&info, &info2, sizeof(info));
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 3);
	assert_non_null(rev = find(crl, &s[0]));
	assert_int_equal(reason_of(rev), 1);
	inv = X509_REVOKED_get_ext_d2i(rev, NID_invalidity_date, &crit, NULL);
	assert_non_null(inv);
	assert_int_equal(ASN1_TIME_cmp_time_t(inv, T0 - 86400), 0);
	ASN1_GENERALIZEDTIME_free(inv);
	assert_int_equal(ASN1_TIME_cmp_time_t(
	    X509_REVOKED_get0_revocationDate(rev), T0), 0);
	assert_non_null(rev = find(crl, &s[2]));
	assert_int_equal(reason_of(rev), 4);
	assert_int_equal(X509_REVOKED_get_ext_by_NID(rev, NID_invalidity_date,
	    -1), -1);
	assert_non_null(rev = find(crl, &s[4]));
	assert_int_equal(reason_of(rev), -1);
	assert_int_equal(X509_REVOKED_get_ext_count(rev), 0);
	assert_null(find(crl, &s[1]));
	assert_null(find(crl, &s[3]));
	/* revokedCertificates in serial order */
	for (i = 1; i < 3; i++)
		assert_true(ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(
		    sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), i - 1)),
		    X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(
		    X509_CRL_get_REVOKED(crl), i))) < 0);

	/* thisUpdate is the clock, nextUpdate is [crl] validity later. */
	t1 = X509_CRL_get0_lastUpdate(crl);
	t2 = X509_CRL_get0_nextUpdate(crl);
	assert_int_equal(ASN1_TIME_cmp_time_t(t1, T0), 0);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, t1, t2), 1);
	assert_int_equal(days * 86400L + secs, ca_conf(f->ca)->crl_validity);
	assert_int_equal(info.this_update, T0);

	assert_int_equal(int_ext(crl, NID_crl_number, &crit), info.number);
	assert_int_equal(crit, 0);
	akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit,
	    NULL);
	assert_non_null(akid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid,
	    X509_get0_subject_key_id(ca_cert(f->ca, CA_ISSUING))), 0);
	AUTHORITY_KEYID_free(akid);
	fresh = X509_CRL_get_ext_d2i(crl, NID_freshest_crl, &crit, NULL);
	assert_non_null(fresh);
	assert_int_equal(crit, 0);
	assert_int_equal(sk_DIST_POINT_num(fresh), 1);
	assert_dpn_uri(sk_DIST_POINT_value(fresh, 0)->distpoint,
	    "http://127.0.0.1:8080/crl/issuing-delta.crl");
	CRL_DIST_POINTS_free(fresh);
	assert_int_equal(X509_CRL_get_ext_by_NID(crl,
	    NID_issuing_distribution_point, -1), -1);
	assert_int_equal(X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1), -1);
	assert_int_equal(X509_CRL_get_ext_count(crl), 3);
	X509_CRL_free(crl);

	/* Again, later, and after a restart: the number only goes up. */
	ly_clock_set(T0 + 60);
	assert_int_equal(crl_generate(f->ca, &id, "test", &info2), LY_OK);
	assert_true(info2.number > info.number);
	assert_int_equal(info2.this_update, T0 + 60);
	ca_close(f->ca);
	assert_int_equal(ca_open(f->dir, 0, &f->ca), LY_OK);
	assert_int_equal(crl_generate(f->ca, &id, "test", &info), LY_OK);
	assert_true(info.number > info2.number);
}

static void
test_delta(void **state)
{
	struct fixture *f = *state;
	struct ca_serial s[3];
	struct crl_id full = cid(CA_ISSUING, -1, 0);
	struct crl_id delta = cid(CA_ISSUING, -1, 1);
	struct crl_info fi, di;
	struct store_txn *txn;
	X509_CRL *crl;
	int i, crit;

	for (i = 0; i < 3; i++)
		issue_user(f, i, &s[i]);
	/* No delta without its base. */
	assert_int_equal(crl_generate(f->ca, &delta, "test", NULL),
	    LY_ERR_STATE);
	assert_int_equal(ca_revoke(f->ca, &s[0], 1, 0, "test"), LY_OK);
	/*
	 * The base an hour later: a delta lists revocations from a few
	 * minutes before its base's thisUpdate (those in flight then).
	 */
	ly_clock_set(T0 + 3600);
	assert_int_equal(crl_generate(f->ca, &full, "test", &fi), LY_OK);
	ly_clock_set(T0 + 7200);
	assert_int_equal(ca_revoke(f->ca, &s[1], 4, 0, "test"), LY_OK);
	assert_int_equal(crl_generate(f->ca, &delta, "test", &di), LY_OK);
	assert_int_equal(di.base, fi.number);
	assert_true(di.number > fi.number);
	assert_int_equal(di.entries, 1);
	assert_int_equal(di.next_update - di.this_update,
	    ca_conf(f->ca)->crl_delta_validity);

	crl = load(f, delta, NULL);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
	assert_non_null(find(crl, &s[1]));
	assert_null(find(crl, &s[0]));
	assert_int_equal(int_ext(crl, NID_delta_crl, &crit), fi.number);
	assert_int_equal(crit, 1);
	assert_int_equal(int_ext(crl, NID_crl_number, &crit), di.number);
	assert_int_equal(X509_CRL_get_ext_by_NID(crl, NID_freshest_crl, -1),
	    -1);
	X509_CRL_free(crl);

	/* A new full CRL makes the delta due: its base is gone. */
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(crl_due(txn, f->ca, &delta), 0);
	store_txn_abort(txn);
	ly_clock_set(T0 + 3 * 3600);
	assert_int_equal(crl_generate(f->ca, &full, "test", &fi), LY_OK);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(crl_due(txn, f->ca, &delta), 1);
	store_txn_abort(txn);
	/* Against the new base, with nothing revoked since: empty. */
	assert_int_equal(crl_generate(f->ca, &delta, "test", &di), LY_OK);
	assert_int_equal(di.entries, 0);
	crl = load(f, delta, NULL);
	assert_null(X509_CRL_get_REVOKED(crl));
	X509_CRL_free(crl);
}

/*
 * RFC 5280 5.2.4 within one second: revoke A, a full CRL (base N),
 * revoke B, a delta: the delta names base N and lists B only -- A is in
 * its base, even though it was revoked within the overlap that covers
 * revocations in flight. The next full CRL lists both, and a delta of
 * it lists neither until something else is revoked.
 */
static void
test_delta_since_base(void **state)
{
	struct fixture *f = *state;
	struct ca_serial s[3];
	struct crl_id full = cid(CA_ISSUING, -1, 0);
	struct crl_id delta = cid(CA_ISSUING, -1, 1);
	struct crl_info fi, di;
	X509_CRL *crl;
	int i, crit;

	for (i = 0; i < 3; i++)
		issue_user(f, i, &s[i]);
	assert_int_equal(ca_revoke(f->ca, &s[0], 1, 0, "test"), LY_OK);
	assert_int_equal(crl_generate(f->ca, &full, "test", &fi), LY_OK);
	assert_int_equal(fi.entries, 1);
	assert_int_equal(ca_revoke(f->ca, &s[1], 4, 0, "test"), LY_OK);
	assert_int_equal(crl_generate(f->ca, &delta, "test", &di), LY_OK);
	assert_int_equal(di.base, fi.number);
	assert_int_equal(di.entries, 1);
	crl = load(f, delta, NULL);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
	assert_non_null(find(crl, &s[1]));
	assert_null(find(crl, &s[0]));
	assert_int_equal(int_ext(crl, NID_delta_crl, &crit), fi.number);
	assert_int_equal(crit, 1);
	X509_CRL_free(crl);

	/* A third revocation: the delta grows by it, still not by A. */
	assert_int_equal(ca_revoke(f->ca, &s[2], 0, 0, "test"), LY_OK);
	assert_int_equal(crl_generate(f->ca, &delta, "test", &di), LY_OK);
	assert_int_equal(di.entries, 2);
	crl = load(f, delta, NULL);
	assert_null(find(crl, &s[0]));
	assert_non_null(find(crl, &s[1]));
	assert_non_null(find(crl, &s[2]));
	X509_CRL_free(crl);

	/* A new base holds all three; its delta is empty. */
	assert_int_equal(crl_generate(f->ca, &full, "test", &fi), LY_OK);
	assert_int_equal(fi.entries, 3);
	assert_int_equal(crl_generate(f->ca, &delta, "test", &di), LY_OK);
	assert_int_equal(di.base, fi.number);
	assert_int_equal(di.entries, 0);
}

static int
find_issuing_ca(const struct store_cert *c, void *arg)
{
	if (strcmp(c->profile, "issuing-ca") != 0)
		return 0;
	*(struct store_cert *)arg = *c;
	return 1;
}

static void
test_root(void **state)
{
	struct fixture *f = *state;
	struct crl_id id = cid(CA_ROOT, -1, 0);
	struct ca_serial s;
	struct store_cert rec;
	struct store_txn *txn;
	struct crl_info info;
	X509_CRL *crl;
	X509_REVOKED *rev;

	/* A revoked leaf is the issuing CA's business, not the root's. */
	issue_user(f, 1, &s);
	assert_int_equal(ca_revoke(f->ca, &s, 1, 0, "test"), LY_OK);
	assert_int_equal(crl_generate(f->ca, &id, "test", &info), LY_OK);
	assert_int_equal(info.entries, 0);
	crl = load(f, id, NULL);
	/* Omitted, not an empty SEQUENCE: OpenSSL then has no stack. */
	assert_null(X509_CRL_get_REVOKED(crl));
	X509_CRL_free(crl);

	memset(&rec, 0, sizeof(rec));
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_foreach(txn, find_issuing_ca, &rec), 1);
	store_txn_abort(txn);
	assert_int_equal(rec.ca, CA_ROOT);
	assert_int_equal(ca_revoke(f->ca, &rec.serial, 2, 0, "test"), LY_OK);
	assert_int_equal(crl_generate(f->ca, &id, "test", &info), LY_OK);
	assert_int_equal(info.entries, 1);
	crl = load(f, id, NULL);
	assert_non_null(rev = find(crl, &rec.serial));
	assert_int_equal(reason_of(rev), 2);
	assert_null(find(crl, &s));
	X509_CRL_free(crl);
}

static void
test_names(void **state)
{
	struct fixture *f = *state;
	static const char *bad[] = {
		"", "..", "/", "../issuing", "issuing/", "issuing.crl",
		"Issuing", "issuing-", "issuing-0", "issuing-1",
		"issuing-delta-delta", "issuing--delta", "issuingdelta",
		"root-0", "root-0-delta", "intermediate", " issuing",
		"issuing ", "issuing-delta/", "issuing%00", NULL
	};
	static const char *good[] = {
		"issuing", "issuing-delta", "root", NULL
	};
	struct crl_id id;
	char buf[64];
	size_t i;

	for (i = 0; bad[i] != NULL; i++)
		assert_int_equal(crl_name_parse(f->ca, bad[i], &id),
		    LY_ERR_NOT_FOUND);
	for (i = 0; good[i] != NULL; i++) {
		assert_int_equal(crl_name_parse(f->ca, good[i], &id), LY_OK);
		assert_int_equal(id.shard, -1);
		assert_string_equal(crl_name(f->ca, &id, buf, sizeof(buf)),
		    good[i]);
	}
	/* The root has no delta CRL: its offline key signs only when due. */
	assert_int_equal(crl_name_parse(f->ca, "root-delta", &id),
	    LY_ERR_NOT_FOUND);
	id = cid(CA_ROOT, -1, 1);
	assert_int_equal(crl_generate(f->ca, &id, "test", NULL), LY_ERR_ARG);
	/* A shard of an unpartitioned CA does not exist. */
	id = cid(CA_ISSUING, 0, 0);
	assert_int_equal(crl_generate(f->ca, &id, "test", NULL), LY_ERR_ARG);
}

static void
test_due_clock(void **state)
{
	struct fixture *f = *state;
	const struct conf *conf = ca_conf(f->ca);
	struct crl_id id = cid(CA_ROOT, -1, 0);
	struct crl_info info;
	struct store_txn *txn;
	time_t due_at;

	assert_int_equal(crl_generate(f->ca, &id, "test", &info), LY_OK);
	due_at = info.next_update - conf->crl_refresh_before;
	ly_clock_set(due_at - 1);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(crl_due(txn, f->ca, &id), 0);
	ly_clock_set(due_at);
	assert_int_equal(crl_due(txn, f->ca, &id), 1);
	store_txn_abort(txn);
	assert_int_equal(crl_generate(f->ca, &id, "test", &info), LY_OK);
	assert_int_equal(info.this_update, due_at);
	assert_int_equal(info.next_update, due_at + conf->crl_root_validity);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(crl_due(txn, f->ca, &id), 0);
	/* A clock set back before thisUpdate: regenerate, never post-date. */
	ly_clock_set(due_at - 10);
	assert_int_equal(crl_due(txn, f->ca, &id), 1);
	store_txn_abort(txn);
}

/*
 * A clock stepped back (NTP, a VM restored) must not take the CRL number
 * with it, nor make a CRL that is stale or post-dated by the clock it was
 * made with: thisUpdate is that clock, nextUpdate after it.
 */
static void
test_clock_back(void **state)
{
	struct fixture *f = *state;
	struct crl_id ids[2] = { cid(CA_ISSUING, -1, 0), cid(CA_ROOT, -1, 0) };
	struct crl_info a, b;
	time_t t0 = ly_now();
	int i;

	for (i = 0; i < 2; i++) {
		ly_clock_set(t0);
		assert_int_equal(crl_generate(f->ca, &ids[i], "test", &a),
		    LY_OK);
		ly_clock_set(t0 - 7 * 86400);
		assert_int_equal(crl_generate(f->ca, &ids[i], "test", &b),
		    LY_OK);
		assert_true(b.number > a.number);
		assert_int_equal(b.this_update, t0 - 7 * 86400);
		assert_true(b.next_update > b.this_update);
		ly_clock_set(t0 + 86400);
		assert_int_equal(crl_generate(f->ca, &ids[i], "test", &a),
		    LY_OK);
		assert_true(a.number > b.number);
		assert_true(a.this_update <= ly_now());
		assert_true(a.next_update > ly_now());
	}
	ly_clock_set(0);
}

static void
test_generate_all(void **state)
{
	struct fixture *f = *state;
	static const char *names[] = {
		"root", "issuing", "issuing-delta", NULL
	};
	char dir[128];
	X509_CRL *crl;
	size_t i;

	snprintf(dir, sizeof(dir), "%s/out", f->base);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(crl_generate_all(f->ca, "test", dir), LY_OK);
	for (i = 0; names[i] != NULL; i++) {
		crl = load_file(dir, names[i], ca_cert(f->ca,
		    names[i][0] == 'r' ? CA_ROOT : CA_ISSUING));
		X509_CRL_free(crl);
	}
	/* Into a directory that does not exist: an error, nothing written. */
	strcat(dir, "/nope");
	assert_int_equal(crl_generate_all(f->ca, "test", dir), LY_ERR_IO);
}

/*
 * crl_publish_due() makes only what is due: everything at first, then
 * nothing; a revocation made meanwhile (no server watching) makes the
 * issuing CA's CRLs due with CRL_PUBLISH_MISSING alone, and the root's
 * CRL does not move for it.
 */
static void
test_publish_due(void **state)
{
	struct fixture *f = *state;
	struct crl_info root0, iss0, root1, iss1;
	struct ca_serial s;
	X509_CRL *crl;

	issue_user(f, 1, &s);
	assert_int_equal(crl_due_cas(f->ca, 0), 1u << CA_ROOT |
	    1u << CA_ISSUING);
	assert_int_equal(crl_publish_due(f->ca, 0, "test", "test"), 1);
	assert_int_equal(crl_due_cas(f->ca, CRL_PUBLISH_MISSING), 0);
	assert_int_equal(crl_publish_due(f->ca, CRL_PUBLISH_MISSING, "test",
	    "test"), 0);
	X509_CRL_free(load(f, cid(CA_ROOT, -1, 0), &root0));
	X509_CRL_free(load(f, cid(CA_ISSUING, -1, 0), &iss0));
	assert_int_equal(iss0.revocations, 0);

	assert_int_equal(ca_revoke(f->ca, &s, 1, 0, "test"), LY_OK);
	assert_int_equal(crl_due_cas(f->ca, 0), 0);
	assert_int_equal(crl_due_cas(f->ca, CRL_PUBLISH_MISSING),
	    1u << CA_ISSUING);
	assert_int_equal(crl_publish_due(f->ca, CRL_PUBLISH_MISSING, "test",
	    "test"), 1);
	X509_CRL_free(load(f, cid(CA_ROOT, -1, 0), &root1));
	crl = load(f, cid(CA_ISSUING, -1, 0), &iss1);
	assert_non_null(find(crl, &s));
	X509_CRL_free(crl);
	assert_true(root1.number == root0.number);
	assert_true(iss1.number > iss0.number);
	assert_int_equal(iss1.revocations, 1);
	assert_int_equal(crl_due_cas(f->ca, CRL_PUBLISH_MISSING), 0);
	/*
	 * CRL_PUBLISH_REVOKED: every CRL of the issuing CA, due or not, by
	 * default ([crl] on_revoke = full; = delta: tests/unit/test_crlslots.c).
	 */
	X509_CRL_free(load(f, cid(CA_ISSUING, -1, 1), &root0));
	assert_int_equal(crl_publish_due(f->ca, CRL_PUBLISH_REVOKED, "test",
	    "test"), 1);
	X509_CRL_free(load(f, cid(CA_ISSUING, -1, 0), &iss0));
	assert_true(iss0.number > iss1.number);
	X509_CRL_free(load(f, cid(CA_ISSUING, -1, 1), &root1));
	assert_true(root1.number > root0.number);
}

/*
 * [root] offline = yes: the root key is refused before the HSM is asked,
 * the root's CRL is never due nor signed (the one the last ceremony
 * made stays), the issuing CA goes on as before.
 */
static void
test_root_offline(void **state)
{
	struct fixture *f = *state;
	struct crl_info root0, root1;
	struct hsm_key *k;
	char path[512];
	FILE *fp;

	assert_int_equal(crl_generate_all(f->ca, "test", NULL), LY_OK);
	X509_CRL_free(load(f, cid(CA_ROOT, -1, 0), &root0));
	ca_close(f->ca);
	f->ca = NULL;
	snprintf(path, sizeof(path), "%s/ca.conf", f->dir);
	assert_non_null(fp = fopen(path, "a"));
	fputs("\n[root]\noffline = yes\n", fp);
	fclose(fp);
	assert_int_equal(ca_open(f->dir, 0, &f->ca), LY_OK);
	assert_true(ca_root_offline(f->ca));
	assert_int_equal(ca_key(f->ca, CA_ROOT, &k), LY_ERR_STATE);
	assert_non_null(strstr(ly_errdetail(), "offline"));
	assert_int_equal(ca_key(f->ca, CA_ISSUING, &k), LY_OK);
	/* Past every nextUpdate: only the issuing CA's CRLs are due. */
	ly_clock_set(T0 + 40 * 86400);
	assert_int_equal(crl_due_cas(f->ca, 0), 1u << CA_ISSUING);
	assert_int_equal(crl_generate_all(f->ca, "test", NULL), LY_OK);
	X509_CRL_free(load(f, cid(CA_ROOT, -1, 0), &root1));
	assert_true(root1.number == root0.number);
	/* A quarter of 30 days, but at least 7. */
	assert_int_equal(ca_root_renew_before(f->ca, 30 * 86400), 30 * 86400 / 4);
	assert_int_equal(ca_root_renew_before(f->ca, 86400), 7 * 86400);
}

/* Four partitions of the issuing CA's CRL, each with its critical IDP. */
/* How many CRLs dir/crl-bundle.pem holds, each with a critical IDP or not. */
static int
bundle_count_idp(const char *dir, int *idpp)
{
	char path[160];
	FILE *fp;
	X509_CRL *crl;
	ISSUING_DIST_POINT *idp;
	int n = 0, crit;

	*idpp = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, CRL_BUNDLE_NAME);
	assert_non_null(fp = fopen(path, "r"));
	while ((crl = PEM_read_X509_CRL(fp, NULL, NULL, NULL)) != NULL) {
		if ((idp = X509_CRL_get_ext_d2i(crl,
		    NID_issuing_distribution_point, &crit, NULL)) != NULL &&
		    crit)
			(*idpp)++;
		ISSUING_DIST_POINT_free(idp);
		n++;
		X509_CRL_free(crl);
	}
	fclose(fp);
	return n;
}

static int
bundle_count(const char *dir)
{
	int idp, n = bundle_count_idp(dir, &idp);

	assert_int_equal(idp, 0);
	return n;
}

/* bundle_shards = yes: the shards go into the bundle, as the operator asked. */
static void
test_bundle_shards(void **state)
{
	static const char *edits[] = { "shards = 1", "shards = 3",
	    "bundle_shards = no", "bundle_shards = yes", NULL };
	struct fixture *f;
	struct crl_id id;
	char dir[128];
	int idp;

	(void)state;
	assert_non_null(f = fixture_new(CONF_KEY_EC_P256, edits));
	assert_int_equal(ca_conf(f->ca)->crl_bundle_shards, 1);
	snprintf(dir, sizeof(dir), "%s/out", f->base);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(crl_generate_all(f->ca, "test", dir), LY_OK);
	assert_int_equal(crl_write_bundle(f->ca, dir), LY_OK);
	assert_int_equal(bundle_count_idp(dir, &idp), 4);
	assert_int_equal(idp, 3);
	/* No CRL of the whole scope then. */
	assert_int_equal(crl_name_parse(f->ca, "issuing", &id),
	    LY_ERR_NOT_FOUND);
	id = cid(CA_ISSUING, -1, 0);
	assert_int_equal(crl_generate(f->ca, &id, "test", NULL), LY_ERR_ARG);
	fixture_free(f);
}

static void
test_shards(void **state)
{
	static const char *edits[] = { "shards = 1", "shards = 4", NULL };
	struct fixture *f;
	struct ca_serial s[16];
	struct crl_id id;
	ISSUING_DIST_POINT *idp;
	X509_CRL *crl;
	X509_REVOKED *rev;
	struct ca_serial rs;
	char dir[128], name[64], *url;
	int i, k, crit, seen[16], n;

	(void)state;
	assert_non_null(f = fixture_new(CONF_KEY_EC_P256, edits));
	assert_int_equal(ca_conf(f->ca)->crl_shards, 4);
	for (i = 0; i < 16; i++) {
		issue_user(f, i, &s[i]);
		if (i % 4 != 3)
			assert_int_equal(ca_revoke(f->ca, &s[i], 1, 0,
			    "test"), LY_OK);
	}
	snprintf(dir, sizeof(dir), "%s/out", f->base);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(crl_generate_all(f->ca, "test", dir), LY_OK);
	memset(seen, 0, sizeof(seen));
	for (k = 0; k < 8; k++) {
		id = cid(CA_ISSUING, k / 2, k % 2);
		crl_name(f->ca, &id, name, sizeof(name));
		crl = load_file(dir, name, ca_cert(f->ca, CA_ISSUING));
		idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point,
		    &crit, NULL);
		assert_non_null(idp);
		assert_int_equal(crit, 1);
		/* The delta has its base's scope, so its IDP. */
		url = ca_crl_url(ca_conf(f->ca), "issuing", k / 2);
		assert_dpn_uri(idp->distpoint, url);
		free(url);
		ISSUING_DIST_POINT_free(idp);
		for (n = 0; n < sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
		    n++) {
			rev = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl),
			    n);
			assert_int_equal(ca_serial_from_asn1(
			    X509_REVOKED_get0_serialNumber(rev), &rs), LY_OK);
			assert_int_equal(ca_crl_shard(ca_conf(f->ca), &rs),
			    k / 2);
			for (i = 0; i < 16; i++)
				if (memcmp(s[i].b, rs.b, CA_SERIAL_LEN) == 0 &&
				    k % 2 == 0)
					seen[i]++;
		}
		X509_CRL_free(crl);
	}
	for (i = 0; i < 16; i++)
		assert_int_equal(seen[i], i % 4 != 3);
	crl = load_file(dir, "root", ca_cert(f->ca, CA_ROOT));
	assert_int_equal(X509_CRL_get_ext_by_NID(crl,
	    NID_issuing_distribution_point, -1), -1);
	X509_CRL_free(crl);
	/*
	 * The whole scope's full CRL, for the bundle (bundle_shards = no,
	 * the default): every revoked leaf, no IDP, no delta pointer.
	 */
	crl = load_file(dir, "issuing", ca_cert(f->ca, CA_ISSUING));
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 12);
	assert_int_equal(X509_CRL_get_ext_by_NID(crl,
	    NID_issuing_distribution_point, -1), -1);
	assert_int_equal(X509_CRL_get_ext_by_NID(crl, NID_freshest_crl, -1),
	    -1);
	X509_CRL_free(crl);
	assert_int_equal(crl_write_bundle(f->ca, dir), LY_OK);
	assert_int_equal(bundle_count(dir), 2);
	assert_int_equal(crl_name_parse(f->ca, "issuing", &id), LY_OK);
	assert_int_equal(id.shard, -1);
	assert_int_equal(id.delta, 0);

	/* Names of a partitioned CA. */
	assert_int_equal(crl_name_parse(f->ca, "issuing-3-delta", &id), LY_OK);
	assert_int_equal(id.shard, 3);
	assert_int_equal(id.delta, 1);
	assert_int_equal(crl_name_parse(f->ca, "issuing-0", &id), LY_OK);
	assert_int_equal(id.shard, 0);
	assert_int_equal(id.delta, 0);
	assert_int_equal(crl_name_parse(f->ca, "root", &id), LY_OK);
	assert_int_equal(id.shard, -1);
	{
		static const char *bad[] = {
			"issuing-delta", "issuing-4", "issuing-00",
			"issuing-01", "issuing--1", "issuing-+1", "issuing- 1",
			"issuing-1-", "issuing-1-delta-delta", "issuing-10",
			"issuing-99999999999999999999", "root-0", NULL
		};
		for (i = 0; bad[i] != NULL; i++)
			assert_int_equal(crl_name_parse(f->ca, bad[i], &id),
			    LY_ERR_NOT_FOUND);
	}
	fixture_free(f);
}

/* RSASSA-PSS: the algorithm identifier carries parameters. */
static void
test_rsa_pss(void **state)
{
	static const char *edits[] = {
		"days = 3650\n", "days = 3650\nrsa_padding = pss\n",
		"days = 1825\n", "days = 1825\nrsa_padding = pss\n", NULL
	};
	struct fixture *f;
	struct crl_id id = cid(CA_ISSUING, -1, 0);
	struct ca_serial s;
	const X509_ALGOR *alg;
	X509_CRL *crl;

	(void)state;
	assert_non_null(f = fixture_new(CONF_KEY_RSA_2048, edits));
	issue_user(f, 1, &s);
	assert_int_equal(ca_revoke(f->ca, &s, 1, 0, "test"), LY_OK);
	assert_int_equal(crl_generate(f->ca, &id, "test", NULL), LY_OK);
	crl = load(f, id, NULL);
	X509_CRL_get0_signature(crl, NULL, &alg);
	assert_int_equal(OBJ_obj2nid(alg->algorithm), NID_rsassaPss);
	assert_non_null(find(crl, &s));
	X509_CRL_free(crl);
	id = cid(CA_ROOT, -1, 0);
	assert_int_equal(crl_generate(f->ca, &id, "test", NULL), LY_OK);
	X509_CRL_free(load(f, id, NULL));
	fixture_free(f);
}

/* The stored CRL's number, its DER copied into *derp (if not NULL). */
static uint64_t
stored(struct fixture *f, struct crl_id id, unsigned char **derp,
    size_t *lenp)
{
	struct store_txn *txn;
	struct crl_info info;
	const unsigned char *der;
	size_t len;

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(crl_get(txn, f->ca, &id, &der, &len, &info), LY_OK);
	if (derp != NULL) {
		assert_non_null(*derp = malloc(len));
		memcpy(*derp, der, len);
		*lenp = len;
	}
	store_txn_abort(txn);
	return info.number;
}

static uint64_t
crl_audit_count(struct fixture *f)
{
	struct store_txn *txn;
	uint64_t n;

	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_audit_verify(txn, &n), LY_OK);
	store_txn_abort(txn);
	return n;
}

/*
 * Storing a CRL whose number is not higher than the stored one changes
 * nothing (overlapping generations): for the full and delta CRLs of the
 * issuing CA and the root's, and for a CRL recorded before its number was
 * kept beside it (read from its DER).
 */
static void
test_monotonic(void **state)
{
	struct fixture *f = *state;
	static const struct { int slot, delta; const char *key; } c[] = {
		{ CA_ISSUING, 0, "crl/issuing" },
		{ CA_ISSUING, 1, "crl/issuing-delta" },
		{ CA_ROOT, 0, "crl/root" },
	};
	struct store_txn *txn;
	struct crl_id id;
	const void *v;
	unsigned char *old, *cur, *p, info[64];
	size_t i, oldlen, curlen, ilen, len;
	uint64_t n1, n2, na;
	int st;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		id = cid(c[i].slot, -1, 0);
		if (c[i].delta)
			assert_int_equal(crl_generate(f->ca, &id, "test", NULL),
			    LY_OK);
		id.delta = c[i].delta;
		assert_int_equal(crl_generate(f->ca, &id, "test", NULL),
		    LY_OK);
		n1 = stored(f, id, &old, &oldlen);
		assert_int_equal(crl_generate(f->ca, &id, "test", NULL),
		    LY_OK);
		n2 = stored(f, id, &cur, &curlen);
		assert_true(n2 > n1);
		/* The summary as stored, to record a valid one again. */
		assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn),
		    LY_OK);
		snprintf((char *)info, sizeof(info), "%s/info", c[i].key);
		assert_int_equal(store_meta_get(txn, (char *)info, &v, &ilen),
		    LY_OK);
		assert_true(ilen <= sizeof(info));
		memcpy(info, v, ilen);
		store_txn_abort(txn);

		/* Older, then equal: no-ops, not errors, and not audited. */
		na = crl_audit_count(f);
		st = -1;
		assert_int_equal(ca_crl_record(f->ca, c[i].key, n1, old, oldlen,
		    info, ilen, "test", NULL, &st), LY_OK);
		assert_int_equal(st, 0);
		assert_int_equal(ca_crl_record(f->ca, c[i].key, n2, old, oldlen,
		    info, ilen, "test", NULL, &st), LY_OK);
		assert_int_equal(st, 0);
		assert_int_equal(crl_audit_count(f), na);
		assert_int_equal(stored(f, id, &p, &len), n2);
		assert_int_equal(len, curlen);
		assert_memory_equal(p, cur, len);
		free(p);
		/* Higher: recorded, audited. */
		assert_int_equal(ca_crl_record(f->ca, c[i].key, n2 + 1, cur,
		    curlen, info, ilen, "test", NULL, &st), LY_OK);
		assert_int_equal(st, 1);
		assert_int_equal(crl_audit_count(f), na + 1);
		/* Number 0 is no CRL number. */
		assert_int_equal(ca_crl_record(f->ca, c[i].key, 0, cur, curlen,
		    info, ilen, "test", NULL, &st), LY_ERR_ARG);
		free(old);
		free(cur);
	}

	/* A CRL stored without its number: the number comes from the DER. */
	id = cid(CA_ISSUING, -1, 0);
	n2 = stored(f, id, &cur, &curlen);
	assert_int_equal(store_txn_begin(ca_store(f->ca), 1, &txn), LY_OK);
	assert_int_equal(store_meta_put(txn, "crl/legacy", cur, curlen),
	    LY_OK);
	assert_int_equal(store_txn_commit(txn), LY_OK);
	assert_int_equal(ca_crl_record(f->ca, "crl/legacy", n2, cur, curlen,
	    "x", 1, "test", NULL, &st), LY_OK);
	assert_int_equal(st, 0);
	assert_int_equal(ca_crl_record(f->ca, "crl/legacy", n2 + 1, cur,
	    curlen, "x", 1, "test", NULL, &st), LY_OK);
	assert_int_equal(st, 1);
	free(cur);
}

struct gen_arg {
	struct fixture	*f;
	int		 delta;
	int		 fails;
};

static void *
gen_thread(void *arg)
{
	struct gen_arg *g = arg;
	struct crl_id id = cid(CA_ISSUING, -1, g->delta);
	int i;

	for (i = 0; i < 15; i++)
		if (crl_generate(g->f->ca, &id, "test", NULL) != LY_OK)
			g->fails++;
	return NULL;
}

/* The CRL numbers recorded, in the order of the audit log. */
struct order {
	uint64_t	last[2];	/* full, delta */
	int		back;
	int		seen;
};

static int
order_cb(const struct store_audit_entry *e, void *arg)
{
	struct order *o = arg;
	json_t *j;
	json_int_t n;
	int d;

	if (strcmp(e->action, "crl-publish") != 0)
		return 0;
	assert_non_null(j = json_loads(e->detail, 0, NULL));
	assert_int_equal(json_unpack(j, "{s:I, s:b}", "number", &n, "delta",
	    &d), 0);
	json_decref(j);
	if ((uint64_t)n <= o->last[d])
		o->back++;
	o->last[d] = (uint64_t)n;
	o->seen++;
	return 0;
}

/*
 * Overlapping generations in threads: what a reader sees only grows, and
 * the log of what was recorded shows every number higher than the one
 * recorded before it.
 */
static void
test_monotonic_threads(void **state)
{
	struct fixture *f = *state;
	struct crl_id id = cid(CA_ISSUING, -1, 0);
	struct store_txn *txn;
	struct order o;
	struct gen_arg g[3];
	pthread_t t[3];
	uint64_t n, full = 0, delta = 0;
	int i, back = 0, running = 3, joined[3] = { 0, 0, 0 };

	assert_int_equal(crl_generate(f->ca, &id, "test", NULL), LY_OK);
	id.delta = 1;
	assert_int_equal(crl_generate(f->ca, &id, "test", NULL), LY_OK);
	for (i = 0; i < 3; i++) {
		g[i].f = f;
		g[i].delta = i == 2;
		g[i].fails = 0;
		assert_int_equal(pthread_create(&t[i], NULL, gen_thread, &g[i]),
		    0);
	}
	while (running > 0) {
		for (i = 0; i < 3; i++)
			if (!joined[i] && pthread_tryjoin_np(t[i], NULL) == 0) {
				joined[i] = 1;
				running--;
			}
		if ((n = stored(f, cid(CA_ISSUING, -1, 0), NULL, NULL)) < full)
			back++;
		full = n;
		if ((n = stored(f, cid(CA_ISSUING, -1, 1), NULL, NULL)) < delta)
			back++;
		delta = n;
	}
	for (i = 0; i < 3; i++)
		assert_int_equal(g[i].fails, 0);
	assert_int_equal(back, 0);
	memset(&o, 0, sizeof(o));
	assert_int_equal(store_txn_begin(ca_store(f->ca), 0, &txn), LY_OK);
	assert_int_equal(store_audit_foreach(txn, order_cb, &o), LY_OK);
	store_txn_abort(txn);
	assert_true(o.seen > 2);
	assert_int_equal(o.back, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_delta, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_delta_since_base, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_root, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_names, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_due_clock, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_clock_back, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_generate_all, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_publish_due, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_monotonic, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_monotonic_threads, setup_crl,
		    teardown_crl),
		cmocka_unit_test_setup_teardown(test_root_offline, setup_crl,
		    teardown_crl),
		cmocka_unit_test(test_shards),
		cmocka_unit_test(test_bundle_shards),
		cmocka_unit_test(test_rsa_pss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
