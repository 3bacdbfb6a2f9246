/*
 * tests/unit/test_hsmfault.c — hsm/ when the token fails: through the
 * PKCS#11 shim (tests/shim/p11shim.c) wrapping SoftHSM2, C_Sign returns
 * CKR_DEVICE_ERROR, CKR_SESSION_HANDLE_INVALID or CKR_USER_NOT_LOGGED_IN,
 * or a corrupted signature; C_Login and C_Initialize fail; the token
 * directory goes away and comes back. Each error is recovered (by
 * the pool's retry on a new session, by reopening the key's sessions, or by
 * re-initialising the module), each bad signature refused and counted,
 * and the module comes back by itself.
 *
 * The shim is $P11SHIM (set by make check); the tests are skipped without
 * it. Tests run in order and share the token.
 */
#include "config.h"

#include <sys/stat.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"
#include "tests/unit/fixture.h"

#define TOKEN		"lanyard-fault"
#define SO_PIN		"so-pin-1234"
#define USER_PIN	"user-pin-1234"
#define URI_EC		"pkcs11:token=" TOKEN ";object=ec"
#define URI_RSA		"pkcs11:token=" TOKEN ";object=rsa"
/* Bounded waits for the module to come back (backoff at most 4 s). */
#define RECOVER_TRIES	100
#define NTHREADS	4

static char	 tmpdir[] = "/tmp/lanyard-test-hsmfault-XXXXXX";
static char	 confpath[256], faultpath[256], tokens[256], away[256];
static EVP_PKEY	*pub_ec, *pub_rsa;
static struct hsm_key *key_ec, *key_rsa;
static int	 have_shim;

/* hsm_sign() of a new certificate: its result; on 0 it must verify. */
static int
sign_cert(struct hsm_key *k, EVP_PKEY *pub)
{
	X509	*x = fixture_cert(pub, "fault", 42);
	int	 r;

	if ((r = hsm_sign(k, hsm_sign_x509, x)) == 0)
		assert_int_equal(X509_verify(x, pub), 1);
	X509_free(x);
	ERR_clear_error();
	return r;
}

/* --- set-up ------------------------------------------------------------- */

static int
fault_group_setup(void **state)
{
	const char	*shim = getenv("P11SHIM");
	FILE		*fp;

	ly_log_setlevel(LY_LOG_ERR);
	if (shim == NULL || access(shim, R_OK) != 0)
		return 0;	/* every test skips */
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(tokens, sizeof(tokens), "%s/tokens", tmpdir);
	snprintf(away, sizeof(away), "%s/tokens.away", tmpdir);
	snprintf(confpath, sizeof(confpath), "%s/softhsm2.conf", tmpdir);
	snprintf(faultpath, sizeof(faultpath), "%s/faults", tmpdir);
	if (mkdir(tokens, 0700) == -1 || (fp = fopen(confpath, "w")) == NULL)
		return -1;
	fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\n"
	    "log.level = ERROR\nslots.removable = false\n", tokens);
	fclose(fp);
	if (setenv("SHIM_MODULE", fixture_softhsm_module(), 1) == -1 ||
	    setenv("SHIM_FAULT_FILE", faultpath, 1) == -1)
		return -1;
	if (hsm_init(shim, confpath) != 0 ||
	    hsm_token_init(TOKEN, SO_PIN, USER_PIN) != 0 ||
	    hsm_keygen(URI_EC, USER_PIN, CONF_KEY_EC_P256, &pub_ec) != 0 ||
	    hsm_keygen(URI_RSA, USER_PIN, CONF_KEY_RSA_2048, &pub_rsa) != 0 ||
	    hsm_key_open(URI_EC, USER_PIN, CONF_RSA_PKCS1, &key_ec) != 0 ||
	    hsm_key_open(URI_RSA, USER_PIN, CONF_RSA_PKCS1, &key_rsa) != 0) {
		fprintf(stderr, "set-up: %s\n", ly_errdetail());
		return -1;
	}
	have_shim = 1;
	return 0;
}

static int
fault_group_teardown(void **state)
{
	if (!have_shim)
		return 0;
	hsm_key_free(key_ec);
	hsm_key_free(key_rsa);
	EVP_PKEY_free(pub_ec);
	EVP_PKEY_free(pub_rsa);
	hsm_shutdown();
	return ly_remove_tree(tmpdir, 0);
}

static int
test_setup(void **state)
{
	if (have_shim)
		fixture_faults_set(faultpath, "");
	return 0;
}

/* Every test starts with this: without the shim there is nothing to do. */
#define NEED_SHIM()	do { if (!have_shim) skip(); } while (0)

/* --- tests -------------------------------------------------------------- */

static void
test_clean(void **state)
{
	struct hsm_stats st;

	NEED_SHIM();
	assert_int_equal(sign_cert(key_ec, pub_ec), 0);
	assert_int_equal(sign_cert(key_rsa, pub_rsa), 0);
	assert_int_equal(hsm_key_check(key_ec), 0);
	hsm_stats(&st);
	assert_int_equal(st.sign_failures, 0);
	assert_int_equal(st.bad_signatures, 0);
	assert_int_equal(st.down, 0);
}

/*
 * One error on C_Sign: the pool drops that session and signs again on
 * a new one by itself. Two in a row: it gives up, and hsm_sign() reopens
 * the key's sessions. Either way the certificate is signed and verifies, and the
 * fault was consumed.
 */
static void
sign_error_recovered(const char *code)
{
	struct hsm_stats before, after;
	unsigned long	 logins;
	char		 rule[80], done[80];

	snprintf(rule, sizeof(rule), "sign:%s:1\n", code);
	snprintf(done, sizeof(done), "sign:%s:0\n", code);
	fixture_faults_set(faultpath, rule);
	hsm_stats(&before);
	assert_int_equal(sign_cert(key_ec, pub_ec), 0);
	assert_string_equal(fixture_faults_get(faultpath), done);
	hsm_stats(&after);
	assert_int_equal(after.reopens, before.reopens);

	snprintf(rule, sizeof(rule), "sign:%s:2\n", code);
	fixture_faults_set(faultpath, rule);
	logins = hsm_stat_logins();
	assert_int_equal(sign_cert(key_ec, pub_ec), 0);
	assert_string_equal(fixture_faults_get(faultpath), done);
	hsm_stats(&after);
	assert_int_equal(after.reopens, before.reopens + 1);
	assert_int_equal(after.sign_failures, before.sign_failures + 1);
	assert_int_equal(after.reinits, before.reinits);
	/* A token that logged out was logged into again. */
	if (strcmp(code, "CKR_USER_NOT_LOGGED_IN") == 0)
		assert_true(hsm_stat_logins() > logins);
	/* And the key goes on signing. */
	assert_int_equal(sign_cert(key_ec, pub_ec), 0);
	assert_int_equal(sign_cert(key_rsa, pub_rsa), 0);
}

static void
test_device_error(void **state)
{
	NEED_SHIM();
	sign_error_recovered("CKR_DEVICE_ERROR");
}

static void
test_session_handle_invalid(void **state)
{
	NEED_SHIM();
	sign_error_recovered("CKR_SESSION_HANDLE_INVALID");
}

static void
test_user_not_logged_in(void **state)
{
	NEED_SHIM();
	sign_error_recovered("CKR_USER_NOT_LOGGED_IN");
}

/*
 * The token fails on the reopened session and a probe too: the module is
 * re-initialised (every key reopened), and the signature made then.
 */
static void
test_escalates_to_restart(void **state)
{
	struct hsm_stats before, after;

	NEED_SHIM();
	hsm_stats(&before);
	/* 2 on the session, 2 on the new one, 2 for the probe. */
	fixture_faults_set(faultpath, "sign:CKR_DEVICE_ERROR:6\n");
	assert_int_equal(sign_cert(key_ec, pub_ec), 0);
	assert_string_equal(fixture_faults_get(faultpath), "sign:CKR_DEVICE_ERROR:0\n");
	hsm_stats(&after);
	assert_int_equal(after.reinits, before.reinits + 1);
	assert_int_equal(after.down, 0);
	/* The other key was reopened with the module. */
	assert_int_equal(sign_cert(key_rsa, pub_rsa), 0);
}

/*
 * A token that never signs: LY_ERR_HSM, one restart, and no second one
 * within the backoff; signing works again once the token does.
 */
static void
test_gives_up_within_backoff(void **state)
{
	struct hsm_stats before, after;

	NEED_SHIM();
	hsm_stats(&before);
	fixture_faults_set(faultpath, "sign:CKR_DEVICE_ERROR:*\n");
	assert_int_equal(sign_cert(key_ec, pub_ec), LY_ERR_HSM);
	assert_int_equal(sign_cert(key_ec, pub_ec), LY_ERR_HSM);
	assert_non_null(strstr(ly_errdetail(), "next re-initialisation"));
	assert_int_equal(hsm_key_check(key_ec), LY_ERR_HSM);
	hsm_stats(&after);
	assert_int_equal(after.reinits, before.reinits + 1);
	assert_int_equal(after.bad_signatures, before.bad_signatures);
	fixture_faults_set(faultpath, "");
	assert_int_equal(sign_cert(key_ec, pub_ec), 0);
	assert_int_equal(hsm_key_check(key_ec), 0);
}

static int
fault_failing_signer(void *obj, EVP_MD_CTX *ctx)
{
	return 0;
}

/* An object the signer refuses is no reason to restart the module. */
static void
test_signer_failure_no_restart(void **state)
{
	struct hsm_stats before, after;
	X509		*x;

	NEED_SHIM();
	x = fixture_cert(pub_ec, "refused", 42);
	hsm_stats(&before);
	assert_int_equal(hsm_sign(key_ec, fault_failing_signer, x), LY_ERR_HSM);
	assert_non_null(strstr(ly_errdetail(), "signs other data"));
	hsm_stats(&after);
	assert_int_equal(after.reinits, before.reinits);
	assert_int_equal(after.reopens, before.reopens + 1);
	X509_free(x);
}

/*
 * A corrupted signature is refused at once (no second signature is
 * asked for), logged and counted, for each kind of object.
 */
static void
test_bad_signature(void **state)
{
	struct hsm_stats before, after;
	X509		*x;
	X509_CRL	*crl;
	X509_REQ	*req;
	X509_NAME	*name;

	NEED_SHIM();
	hsm_stats(&before);
	fixture_faults_set(faultpath, "sign:corrupt:2\n");
	x = fixture_cert(pub_ec, "corrupt", 42);
	assert_int_equal(hsm_sign(key_ec, hsm_sign_x509, x), LY_ERR_HSM);
	assert_non_null(strstr(ly_errdetail(), "does not verify"));
	assert_int_equal(X509_verify(x, pub_ec), 0);
	assert_string_equal(fixture_faults_get(faultpath), "sign:corrupt:1\n");
	X509_free(x);
	ERR_clear_error();

	assert_non_null(crl = X509_CRL_new());
	assert_non_null(name = X509_NAME_new());
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"crl", -1, -1, 0), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, name), 1);
	assert_int_equal(hsm_sign(key_rsa, hsm_sign_x509_crl, crl), LY_ERR_HSM);
	assert_string_equal(fixture_faults_get(faultpath), "sign:corrupt:0\n");

	fixture_faults_set(faultpath, "sign:corrupt:1\n");
	assert_non_null(req = X509_REQ_new());
	assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, pub_ec), 1);
	assert_int_equal(hsm_sign(key_ec, hsm_sign_x509_req, req), LY_ERR_HSM);

	fixture_faults_set(faultpath, "sign:corrupt:1\n");
	assert_int_equal(hsm_key_check(key_ec), LY_ERR_HSM);
	hsm_stats(&after);
	assert_int_equal(after.bad_signatures, before.bad_signatures + 4);
	/* Bad signatures are the token's fault, not a session's. */
	assert_int_equal(after.reopens, before.reopens);
	assert_int_equal(after.reinits, before.reinits);
	assert_int_equal(hsm_bad_signature("test %d", 1), LY_ERR_HSM);
	assert_string_equal(ly_errdetail(), "test 1");
	hsm_stats(&after);
	assert_int_equal(after.bad_signatures, before.bad_signatures + 5);

	fixture_faults_set(faultpath, "");
	assert_int_equal(hsm_sign(key_ec, hsm_sign_x509_req, req), 0);
	assert_int_equal(X509_REQ_verify(req, pub_ec), 1);
	X509_REQ_free(req);
	X509_NAME_free(name);
	X509_CRL_free(crl);
	ERR_clear_error();
}

/* A key opened while C_Login fails once is opened after a restart. */
static void
test_open_login_fault(void **state)
{
	struct hsm_key	*k = NULL;
	struct hsm_stats before, after;

	NEED_SHIM();
	hsm_stats(&before);
	fixture_faults_set(faultpath, "login:CKR_DEVICE_ERROR:1\n");
	/* Log out first, so that the raw session logs in again. */
	fixture_token_logout();
	assert_int_equal(hsm_key_open(URI_EC, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	assert_string_equal(fixture_faults_get(faultpath), "login:CKR_DEVICE_ERROR:0\n");
	hsm_stats(&after);
	assert_int_equal(after.reinits, before.reinits + 1);
	assert_int_equal(sign_cert(k, pub_ec), 0);
	hsm_key_free(k);
	assert_int_equal(sign_cert(key_ec, pub_ec), 0);
}

/*
 * A module that will not initialise again: down, /healthz's probe says
 * why, and it comes back by itself (within the backoff) once it will.
 */
static void
test_module_down(void **state)
{
	struct hsm_stats st;

	NEED_SHIM();
	fixture_faults_set(faultpath, "sign:CKR_DEVICE_ERROR:*\ninitialize:CKR_GENERAL_ERROR:*\n");
	assert_int_equal(sign_cert(key_ec, pub_ec), LY_ERR_HSM);
	hsm_stats(&st);
	assert_int_equal(st.down, 1);
	assert_int_equal(hsm_key_check(key_rsa), LY_ERR_HSM);
	assert_non_null(strstr(ly_errdetail(), "C_Initialize"));
	assert_non_null(strstr(ly_errdetail(), "CKR_GENERAL_ERROR"));
	/* While down, opening a key fails at once too. */
	assert_int_equal(hsm_key_open(URI_EC, USER_PIN, CONF_RSA_PKCS1,
	    &(struct hsm_key *){ NULL }), LY_ERR_HSM);
	fixture_faults_set(faultpath, "");
	assert_int_equal(fixture_wait_recovered(key_ec, RECOVER_TRIES), 0);
	hsm_stats(&st);
	assert_int_equal(st.down, 0);
	assert_int_equal(sign_cert(key_ec, pub_ec), 0);
	assert_int_equal(sign_cert(key_rsa, pub_rsa), 0);
}

/*
 * SoftHSM's own fault: its token directory goes away and comes back. The
 * token stays "not present" for the module until it is initialised again.
 */
static void
test_token_dir_away(void **state)
{
	struct hsm_stats st;

	NEED_SHIM();
	assert_int_equal(rename(tokens, away), 0);
	assert_int_equal(sign_cert(key_ec, pub_ec), LY_ERR_HSM);
	assert_int_equal(hsm_key_check(key_ec), LY_ERR_HSM);
	hsm_stats(&st);
	assert_int_equal(st.down, 1);
	assert_int_equal(rename(away, tokens), 0);
	assert_int_equal(fixture_wait_recovered(key_ec, RECOVER_TRIES), 0);
	assert_int_equal(sign_cert(key_ec, pub_ec), 0);
	assert_int_equal(sign_cert(key_rsa, pub_rsa), 0);
	hsm_stats(&st);
	assert_int_equal(st.down, 0);
}

/*
 * A key opened for the first time after the token came back: the module
 * still sees no token, says so (not "no such token"), and is initialised
 * again by hsm_key_open() itself.
 */
static void
test_open_after_token_back(void **state)
{
	struct hsm_key	*k = NULL;
	struct hsm_stats before, after;

	NEED_SHIM();
	assert_int_equal(rename(tokens, away), 0);
	/* Something looks at the token while it is away (no recovery). */
	assert_int_equal(hsm_key_is_protected(URI_EC, USER_PIN), LY_ERR_HSM);
	assert_int_equal(rename(away, tokens), 0);
	assert_int_equal(hsm_key_is_protected(URI_EC, USER_PIN), LY_ERR_HSM);
	assert_non_null(strstr(ly_errdetail(), "answers"));
	hsm_stats(&before);
	assert_int_equal(hsm_key_open(URI_EC, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	hsm_stats(&after);
	assert_int_equal(after.reinits, before.reinits + 1);
	assert_int_equal(sign_cert(k, pub_ec), 0);
	hsm_key_free(k);
	assert_int_equal(sign_cert(key_rsa, pub_rsa), 0);
}

struct thread_arg {
	struct hsm_key	*key;
	EVP_PKEY	*pub;
	atomic_int	*stop;
	int		 ok, failed, bad;
};

static void *
fault_sign_thread(void *p)
{
	struct thread_arg	*a = p;
	X509			*x = fixture_cert(a->pub, "thread", 42);

	while (!atomic_load(a->stop)) {
		if (hsm_sign(a->key, hsm_sign_x509, x) != 0)
			a->failed++;
		else if (X509_verify(x, a->pub) == 1)
			a->ok++;
		else
			a->bad++;
	}
	X509_free(x);
	ERR_clear_error();
	return NULL;
}

/*
 * Threads sign with both keys while the token fails, the module is
 * restarted under them and goes down: no crash, no signature that does
 * not verify, and every thread signs again afterwards.
 */
static void
test_fault_threads(void **state)
{
	struct thread_arg	 a[NTHREADS];
	pthread_t		 t[NTHREADS];
	atomic_int		 stop;
	struct hsm_stats	 st;
	int			 i, round;

	NEED_SHIM();
	atomic_init(&stop, 0);
	memset(a, 0, sizeof(a));
	for (i = 0; i < NTHREADS; i++) {
		a[i].key = i % 2 ? key_rsa : key_ec;
		a[i].pub = i % 2 ? pub_rsa : pub_ec;
		a[i].stop = &stop;
		assert_int_equal(pthread_create(&t[i], NULL, fault_sign_thread,
		    &a[i]), 0);
	}
	for (round = 0; round < 3; round++) {
		usleep(100000);
		fixture_faults_set(faultpath, "sign:CKR_DEVICE_ERROR:12\n");
		usleep(100000);
		fixture_faults_set(faultpath, "sign:CKR_SESSION_HANDLE_INVALID:12\n");
		usleep(100000);
		fixture_faults_set(faultpath, "sign:CKR_DEVICE_ERROR:*\n"
		    "initialize:CKR_GENERAL_ERROR:*\n");
		usleep(300000);
		fixture_faults_set(faultpath, "");
		assert_int_equal(fixture_wait_recovered(key_ec, RECOVER_TRIES), 0);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_true(a[i].ok > 0);
		assert_int_equal(a[i].bad, 0);
	}
	hsm_stats(&st);
	assert_int_equal(st.down, 0);
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(sign_cert(a[i].key, a[i].pub), 0);
	printf("# threads: %d signed, %d failed; %lu re-initialisations\n",
	    a[0].ok + a[1].ok + a[2].ok + a[3].ok,
	    a[0].failed + a[1].failed + a[2].failed + a[3].failed, st.reinits);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_clean, test_setup),
		cmocka_unit_test_setup(test_device_error, test_setup),
		cmocka_unit_test_setup(test_session_handle_invalid, test_setup),
		cmocka_unit_test_setup(test_user_not_logged_in, test_setup),
		cmocka_unit_test_setup(test_escalates_to_restart, test_setup),
		cmocka_unit_test_setup(test_gives_up_within_backoff,
		    test_setup),
		cmocka_unit_test_setup(test_signer_failure_no_restart,
		    test_setup),
		cmocka_unit_test_setup(test_bad_signature, test_setup),
		cmocka_unit_test_setup(test_open_login_fault, test_setup),
		cmocka_unit_test_setup(test_module_down, test_setup),
		cmocka_unit_test_setup(test_token_dir_away, test_setup),
		cmocka_unit_test_setup(test_open_after_token_back, test_setup),
		cmocka_unit_test_setup(test_fault_threads, test_setup),
	};

	return cmocka_run_group_tests(tests, fault_group_setup,
	    fault_group_teardown);
}
