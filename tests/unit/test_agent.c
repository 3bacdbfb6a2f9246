/*
 * tests/unit/test_agent.c — the parts of the device agent that need no
 * server: the URL, the HTTP status that OpenSSL's client leaves in the
 * error queue, the server's JSON answers, what each status and reissue
 * window means, times and intervals, and the crash-safe install and its
 * recovery on a temp dir. cmd/agent_http.c and cmd/agent_files.c are
 * linked in; cmd/ca-enroll.c is included here with its main() renamed,
 * for its static functions.
 */
#define main ca_enroll_main
int ca_enroll_main(int, char *[]);
#include "cmd/ca-enroll.c"
#undef main

#include <setjmp.h>
#include <stddef.h>

#include <cmocka.h>
#include <openssl/http.h>
#include <openssl/httperr.h>

static void
test_url(void **state)
{
	struct agent_url u;

	assert_int_equal(agent_url_parse("https://ca.example.net", &u), 0);
	assert_string_equal(u.host, "ca.example.net");
	assert_string_equal(u.server, "ca.example.net");
	assert_string_equal(u.port, "443");
	assert_string_equal(u.hostport, "ca.example.net:443");
	assert_string_equal(u.prefix, "");
	assert_false(u.is_ip);
	agent_url_free(&u);

	assert_int_equal(agent_url_parse("https://127.0.0.1:8443/", &u), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "8443");
	assert_string_equal(u.prefix, "");
	assert_true(u.is_ip);
	agent_url_free(&u);

	/* OpenSSL connects to [v6]; the certificate names the bare address. */
	assert_int_equal(agent_url_parse("https://[::1]:8443/pki/", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.server, "[::1]");
	assert_string_equal(u.hostport, "[::1]:8443");
	assert_string_equal(u.prefix, "/pki");
	assert_true(u.is_ip);
	agent_url_free(&u);

	assert_int_equal(agent_url_parse("http://ca.example.net", &u), -1);
	assert_int_equal(agent_url_parse("https://", &u), -1);
	assert_int_equal(agent_url_parse("https://h:", &u), -1);
	assert_int_equal(agent_url_parse("https://h:84x3", &u), -1);
	assert_int_equal(agent_url_parse("https://h:123456", &u), -1);
	assert_int_equal(agent_url_parse("https://[::1", &u), -1);
	assert_int_equal(agent_url_parse("https://[nothex]/", &u), -1);
	assert_int_equal(agent_url_parse("https://h x", &u), -1);
	assert_int_equal(agent_url_parse("https://user@h/", &u), -1);
	assert_int_equal(agent_url_parse("https://h/?q=1", &u), -1);
	assert_int_equal(agent_url_parse("https://h/#f", &u), -1);
	/* Nothing that would end the request line or add a header. */
	assert_int_equal(agent_url_parse("https://h/a b", &u), -1);
	assert_int_equal(agent_url_parse("https://h/a\r\nX: y", &u), -1);
	assert_int_equal(agent_url_parse("https://h\r\n/", &u), -1);
}

/* What OpenSSL 3.0's client leaves in the queue for a non-2xx answer. */
static void
test_http_status(void **state)
{
	char why[256];

	ERR_clear_error();
	ERR_raise_data(ERR_LIB_HTTP, HTTP_R_RECEIVED_ERROR, "code=%s, "
	    "reason=%s", "403", "Forbidden");
	ERR_raise_data(ERR_LIB_HTTP, HTTP_R_ERROR_RECEIVING,
	    "server=https://127.0.0.1:8443");
	assert_int_equal(agent_http_status(why, sizeof(why)), 403);
	assert_int_equal(ERR_peek_error(), 0);

	ERR_raise_data(ERR_LIB_HTTP, HTTP_R_STATUS_CODE_UNSUPPORTED,
	    "code=%s", "304");
	assert_int_equal(agent_http_status(why, sizeof(why)), 304);

	/* No answer: no status, and the reasons for the message. */
	ERR_raise(ERR_LIB_BIO, BIO_R_CONNECT_TIMEOUT);
	ERR_raise_data(ERR_LIB_HTTP, HTTP_R_ERROR_RECEIVING,
	    "server=https://127.0.0.1:8443");
	assert_int_equal(agent_http_status(why, sizeof(why)), 0);
	assert_non_null(strstr(why, "connect timeout"));
	assert_null(strstr(why, "server="));
	assert_int_equal(ERR_peek_error(), 0);

	/* A code that is no HTTP status is none. */
	ERR_raise_data(ERR_LIB_HTTP, HTTP_R_RECEIVED_ERROR, "code=%s", "9999");
	assert_int_equal(agent_http_status(why, sizeof(why)), 0);
	assert_int_equal(agent_http_status(why, sizeof(why)), 0);
	assert_string_equal(why, "");
}

static void
test_reply_ok(void **state)
{
	const char *b = "{\"certificate\":\"C\\n\",\"chain\":[\"I\",\"R\\n\"],"
	    "\"serial\":\"0A\",\"not_after\":\"2026-12-23T20:28:59Z\"}";
	struct agent_reply a;

	assert_int_equal(agent_reply_parse(b, strlen(b), &a), 0);
	assert_string_equal(a.certificate, "C\n");
	assert_string_equal(a.chain, "C\nI\nR\n");
	assert_string_equal(a.serial, "0A");
	assert_string_equal(a.not_after, "2026-12-23T20:28:59Z");
	agent_reply_clear(&a);
}

static void
test_reply_bad(void **state)
{
	static const char *bad[] = {
		"not json",
		"[]",
		"{\"certificate\":\"C\",\"serial\":\"0A\"}",
		"{\"certificate\":\"C\",\"serial\":\"0A\",\"chain\":\"I\"}",
		"{\"certificate\":\"C\",\"serial\":\"0A\",\"chain\":[1]}",
		"{\"serial\":\"0A\",\"chain\":[]}",
		/* Cut short: a truncated object is never a whole one. */
		"{\"certificate\":\"C\",\"serial\":\"0A\",\"chain\":[]",
		"{\"certificate\":\"C\",\"serial\":\"0A\",\"chain\":[]} x",
	};
	struct agent_reply a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(agent_reply_parse(bad[i], strlen(bad[i]), &a),
		    -1);
		agent_reply_clear(&a);
	}
}

static void
test_window_parse(void **state)
{
	static const char *bad[] = {
		"",
		"[]",
		"{\"serial\":\"0A\",\"status\":\"valid\"}",
		"{\"serial\":\"0A\",\"status\":\"valid\",\"allowed_after\":\"soon\"}",
		"{\"serial\":\"0A\",\"status\":\"fine\","
		    "\"allowed_after\":\"2026-12-16T20:28:59Z\"}",
		"{\"status\":\"valid\",\"allowed_after\":\"2026-12-16T20:28:59Z\"}",
	};
	const char *b = "{\"serial\":\"0A\",\"not_after\":\"2026-12-23T20:28:59Z\","
	    "\"allowed_after\":\"2026-12-16T20:28:59Z\",\"status\":\"valid\"}";
	struct agent_window w;
	size_t i;

	assert_int_equal(agent_window_parse(b, strlen(b), &w), 0);
	assert_string_equal(w.serial, "0A");
	assert_string_equal(w.status, "valid");
	assert_int_equal(w.after, 1797452939);
	assert_null(w.superseded_by);
	agent_window_clear(&w);

	b = "{\"serial\":\"0A\",\"not_after\":\"2026-12-23T20:28:59Z\","
	    "\"allowed_after\":\"2026-12-16T20:28:59Z\","
	    "\"status\":\"superseded\",\"superseded_by\":\"0B\"}";
	assert_int_equal(agent_window_parse(b, strlen(b), &w), 0);
	assert_string_equal(w.status, "superseded");
	assert_string_equal(w.superseded_by, "0B");
	agent_window_clear(&w);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(agent_window_parse(bad[i], strlen(bad[i]),
		    &w), -1);
		agent_window_clear(&w);
	}
}

/* Which statuses are final (3), which a later run may fix (1), which none. */
static void
test_refused(void **state)
{
	struct agent ag = { .server = "https://ca.example.net" };

	assert_int_equal(agent_refused(&ag, AGENT_OP_ENROLL, 403),
	    EXIT_AGENT_REENROLL);
	assert_int_equal(agent_refused(&ag, AGENT_OP_ENROLL, 401),
	    EXIT_AGENT_REENROLL);
	assert_int_equal(agent_refused(&ag, AGENT_OP_WINDOW, 401),
	    EXIT_AGENT_REENROLL);
	assert_int_equal(agent_refused(&ag, AGENT_OP_REISSUE, 403),
	    EXIT_AGENT_REENROLL);
	assert_int_equal(agent_refused(&ag, AGENT_OP_ENROLL, 429),
	    EXIT_AGENT_ERR);
	assert_int_equal(agent_refused(&ag, AGENT_OP_ENROLL, 503),
	    EXIT_AGENT_ERR);
	assert_int_equal(agent_refused(&ag, AGENT_OP_ENROLL, 400),
	    EXIT_AGENT_ERR);
	assert_int_equal(agent_refused(&ag, AGENT_OP_ENROLL, 404),
	    EXIT_AGENT_ERR);
	assert_int_equal(agent_refused(&ag, AGENT_OP_ENROLL, 500),
	    EXIT_AGENT_ERR);
	assert_int_equal(agent_refused(&ag, AGENT_OP_ENROLL, 507),
	    EXIT_AGENT_ERR);
	/* Too early is no error for a reissue, a conflict elsewhere. */
	assert_int_equal(agent_refused(&ag, AGENT_OP_REISSUE, 409),
	    EXIT_AGENT_OK);
	assert_int_equal(agent_refused(&ag, AGENT_OP_ENROLL, 409),
	    EXIT_AGENT_ERR);
}

static void
test_times(void **state)
{
	assert_int_equal(agent_time_parse("1970-01-01T00:01:00Z"), 60);
	assert_int_equal(agent_time_parse("1797452939"), 1797452939);
	assert_int_equal(agent_time_parse("2026-12-16T20:28:59"), 0);
	assert_int_equal(agent_time_parse("soon"), 0);
	assert_int_equal(agent_time_parse(""), 0);
	assert_int_equal(agent_time_parse(NULL), 0);

	assert_int_equal(agent_interval_parse("90"), 90);
	assert_int_equal(agent_interval_parse("90s"), 90);
	assert_int_equal(agent_interval_parse("30m"), 1800);
	assert_int_equal(agent_interval_parse("1h"), 3600);
	assert_int_equal(agent_interval_parse("2d"), 172800);
	assert_int_equal(agent_interval_parse("0"), 0);
	assert_int_equal(agent_interval_parse("-1h"), 0);
	assert_int_equal(agent_interval_parse("1hh"), 0);
	assert_int_equal(agent_interval_parse("1w"), 0);
	assert_int_equal(agent_interval_parse("31d"), 0);
	assert_int_equal(agent_interval_parse("h"), 0);
}

/* ---- files: a temp identity directory ----------------------------------- */

struct tdir {
	char		 dir[64];
	EVP_PKEY	*k1, *k2;	/* the current key, the next one */
	X509		*c1, *c2;	/* their certificates */
	struct agent_reply a1, a2;	/* answers carrying them */
};

static X509 *
mkcert(EVP_PKEY *k, long serial)
{
	X509 *x = X509_new();

	assert_non_null(x);
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_true(X509_set_pubkey(x, k));
	assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"device", -1, -1, 0));
	assert_true(X509_set_issuer_name(x, X509_get_subject_name(x)));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	return x;
}

static char *
pem_of(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s;

	assert_true(PEM_write_bio_X509(b, x));
	s = agent_bio_string(b);
	BIO_free(b);
	return s;
}

/* An answer for x: the certificate, and a chain of x and a stand-in CA. */
static void
mkreply(struct agent_reply *a, X509 *x, X509 *ca)
{
	char *p = pem_of(x), *q = pem_of(ca);

	memset(a, 0, sizeof(*a));
	a->certificate = p;
	assert_true(asprintf(&a->chain, "%s%s", p, q) > 0);
	a->serial = strdup("01");
	free(q);
}

static int
tdir_setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/lanyard-agent-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	t->k1 = agent_keygen("ec-p256");
	t->k2 = agent_keygen("ec-p256");
	t->c1 = mkcert(t->k1, 1);
	t->c2 = mkcert(t->k2, 2);
	mkreply(&t->a1, t->c1, t->c2);
	mkreply(&t->a2, t->c2, t->c1);
	*state = t;
	return 0;
}

static int
tdir_teardown(void **state)
{
	struct tdir *t = *state;

	(void)ly_remove_tree(t->dir, 0);
	EVP_PKEY_free(t->k1);
	EVP_PKEY_free(t->k2);
	X509_free(t->c1);
	X509_free(t->c2);
	agent_reply_clear(&t->a1);
	agent_reply_clear(&t->a2);
	free(t);
	return 0;
}

/* The identity in t->dir is key, with certificate x, and nothing is under way. */
static void
assert_identity(struct tdir *t, EVP_PKEY *key, X509 *x)
{
	EVP_PKEY *k = agent_load_key(t->dir, "key.pem");
	X509 *c = agent_load_cert(t->dir, "cert.pem"),
	    *h = agent_load_cert(t->dir, "chain.pem");
	char *p = agent_path(t->dir, "key.pem");
	struct stat st;

	assert_non_null(k);
	assert_int_equal(EVP_PKEY_eq(k, key), 1);
	assert_int_equal(X509_cmp(c, x), 0);
	assert_int_equal(X509_cmp(h, x), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_false(agent_exists(t->dir, "cert.pem.next"));
	assert_false(agent_exists(t->dir, "chain.pem.next"));
	free(p);
	EVP_PKEY_free(k);
	X509_free(c);
	X509_free(h);
}

static void
rename_in(struct tdir *t, const char *from, const char *to)
{
	char *f = agent_path(t->dir, from), *o = agent_path(t->dir, to);

	assert_int_equal(rename(f, o), 0);
	free(f);
	free(o);
}

static void
test_install(void **state)
{
	struct tdir *t = *state;

	assert_int_equal(agent_install(t->dir, t->k1, &t->a1), 0);
	assert_identity(t, t->k1, t->c1);
	assert_false(agent_exists(t->dir, "key.pem.next"));
	/* Nothing to recover: nothing changes. */
	assert_int_equal(agent_recover(t->dir), 0);
	assert_identity(t, t->k1, t->c1);
	/* A renewal replaces all three. */
	assert_int_equal(agent_install(t->dir, t->k2, &t->a2), 0);
	assert_identity(t, t->k2, t->c2);
	assert_false(agent_exists(t->dir, "key.pem.next"));
}

/* Staged, no rename done: all three are renamed. */
static void
test_recover_staged(void **state)
{
	struct tdir *t = *state;

	assert_int_equal(agent_install(t->dir, t->k1, &t->a1), 0);
	assert_int_equal(agent_stage(t->dir, t->k2, &t->a2), 0);
	assert_int_equal(agent_recover(t->dir), 0);
	assert_identity(t, t->k2, t->c2);
	assert_false(agent_exists(t->dir, "key.pem.next"));
}

/* The key renamed, then the crash: key.pem fits cert.pem.next. */
static void
test_recover_key_renamed(void **state)
{
	struct tdir *t = *state;

	assert_int_equal(agent_install(t->dir, t->k1, &t->a1), 0);
	assert_int_equal(agent_stage(t->dir, t->k2, &t->a2), 0);
	rename_in(t, "key.pem.next", "key.pem");
	assert_int_equal(agent_recover(t->dir), 0);
	assert_identity(t, t->k2, t->c2);
}

/* Key and certificate renamed, the chain not. */
static void
test_recover_chain_left(void **state)
{
	struct tdir *t = *state;

	assert_int_equal(agent_install(t->dir, t->k1, &t->a1), 0);
	assert_int_equal(agent_stage(t->dir, t->k2, &t->a2), 0);
	rename_in(t, "key.pem.next", "key.pem");
	rename_in(t, "cert.pem.next", "cert.pem");
	assert_int_equal(agent_recover(t->dir), 0);
	assert_identity(t, t->k2, t->c2);
}

/*
 * A renewal's key alone (its answer lost, or never sent) stays, and is
 * the key of the next CSR; a certificate written without its chain is
 * a write cut short before any rename, and goes.
 */
static void
test_recover_pending_key(void **state)
{
	struct tdir *t = *state;
	EVP_PKEY *k;
	char *p;
	struct stat st;
	int reused = -1;

	assert_int_equal(agent_install(t->dir, t->k1, &t->a1), 0);
	assert_int_equal(agent_stage(t->dir, t->k2, &t->a2), 0);
	p = agent_path(t->dir, "chain.pem.next");
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(agent_recover(t->dir), 0);
	assert_identity(t, t->k1, t->c1);
	assert_true(agent_exists(t->dir, "key.pem.next"));
	k = agent_next_key(t->dir, "ec-p256", &reused);
	assert_int_equal(reused, 1);
	assert_int_equal(EVP_PKEY_eq(k, t->k2), 1);
	EVP_PKEY_free(k);

	/* Without one, a new key is written before it is used. */
	p = agent_path(t->dir, "key.pem.next");
	assert_int_equal(unlink(p), 0);
	k = agent_next_key(t->dir, "ec-p384", &reused);
	assert_int_equal(reused, 0);
	assert_non_null(k);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_string_equal(agent_keytype_of(k), "ec-p384");
	EVP_PKEY_free(k);
	k = agent_load_key(t->dir, "key.pem.next");
	assert_non_null(k);
	EVP_PKEY_free(k);
	free(p);
}

/* .next files that fit no key are not installed over a working identity. */
static void
test_recover_stray(void **state)
{
	struct tdir *t = *state;
	EVP_PKEY *k3 = agent_keygen("ec-p256");
	X509 *c3 = mkcert(k3, 3);
	struct agent_reply a3;

	mkreply(&a3, c3, t->c1);
	assert_int_equal(agent_install(t->dir, t->k1, &t->a1), 0);
	assert_int_equal(agent_write(t->dir, "cert.pem.next", a3.certificate,
	    0644), 0);
	assert_int_equal(agent_write(t->dir, "chain.pem.next", a3.chain,
	    0644), 0);
	assert_int_equal(agent_recover(t->dir), 0);
	assert_identity(t, t->k1, t->c1);
	/* A chain.pem.next for another certificate than cert.pem, too. */
	assert_int_equal(agent_write(t->dir, "chain.pem.next", t->a2.chain,
	    0644), 0);
	assert_int_equal(agent_recover(t->dir), 0);
	assert_identity(t, t->k1, t->c1);
	agent_reply_clear(&a3);
	X509_free(c3);
	EVP_PKEY_free(k3);
}

/* What GET /api/v1/reissue's answer makes renew do. */
static void
test_window_check(void **state)
{
	struct tdir *t = *state;
	struct agent ag = { .server = "https://ca.example.net", .dir = t->dir };
	struct agent_window w;
	time_t now = 1797452939;
	char *after;

	memset(&w, 0, sizeof(w));
	w.serial = "0A";
	w.status = "valid";
	w.allowed_after = "2026-12-16T20:28:59Z";
	w.after = now + 60;
	/* Too early: quiet, and the time is remembered. */
	assert_int_equal(agent_window_check(&ag, &w, now), EXIT_AGENT_OK);
	after = agent_conf_get(t->dir, "allowed_after");
	assert_non_null(after);
	assert_int_equal(agent_time_parse(after), now + 60);
	free(after);
	w.after = now;
	assert_int_equal(agent_window_check(&ag, &w, now), -1);
	w.status = "revoked";
	assert_int_equal(agent_window_check(&ag, &w, now), EXIT_AGENT_REENROLL);
	w.status = "expired";
	assert_int_equal(agent_window_check(&ag, &w, now), EXIT_AGENT_REENROLL);
	/* Superseded: final, unless this device holds the successor's key. */
	w.status = "superseded";
	w.superseded_by = "0B";
	assert_int_equal(agent_window_check(&ag, &w, now), EXIT_AGENT_REENROLL);
	assert_int_equal(agent_write(t->dir, "key.pem.next", "x", 0600), 0);
	assert_int_equal(agent_window_check(&ag, &w, now), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_http_status),
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_reply_bad),
		cmocka_unit_test(test_window_parse),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_times),
		cmocka_unit_test_setup_teardown(test_install, tdir_setup,
		    tdir_teardown),
		cmocka_unit_test_setup_teardown(test_recover_staged,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_recover_key_renamed,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_recover_chain_left,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_recover_pending_key,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_recover_stray,
		    tdir_setup, tdir_teardown),
		cmocka_unit_test_setup_teardown(test_window_check,
		    tdir_setup, tdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
