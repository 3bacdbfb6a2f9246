/*
 * tests/unit/test_hsmpool.c — hsm/pool.c: signing on a pool of PKCS#11
 * sessions. Threads sign at once on several sessions of one key, never
 * more than the maximum; with a maximum of one they take turns; a session
 * that fails in the middle of the load is replaced without a failure
 * reaching anyone; a token lost under the load (its directory goes away:
 * every session dies) comes back and every thread signs again. Through
 * the PKCS#11 shim (tests/shim/p11shim.c) wrapping SoftHSM2, $P11SHIM
 * (set by make check; without it the tests fail).
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
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"
#include "tests/unit/fixture.h"

#define TOKEN		"lanyard-pool"
#define SO_PIN		"so-pin-1234"
#define USER_PIN	"user-pin-1234"
#define URI_EC		"pkcs11:token=" TOKEN ";object=ec"
#define URI_RSA		"pkcs11:token=" TOKEN ";object=rsa"
#define MAX_SESSIONS	4
#define NTHREADS	8
/* Bounded waits: the module's backoff is at most 4 s. */
#define WAIT_TRIES	150
#define WAIT_SLEEP	100000	/* microseconds */

static char	 tmpdir[] = "/tmp/lanyard-test-hsmpool-XXXXXX";
static char	 confpath[256], faultpath[256], tokens[256], away[256];
static EVP_PKEY	*pub_ec, *pub_rsa;
static struct hsm_key *key_ec, *key_rsa;

/* --- signing threads ------------------------------------------------------ */

struct signer {
	pthread_t	 t;
	struct hsm_key	*key;
	EVP_PKEY	*pub;
	atomic_int	*stop;
	int		 count;		/* signatures to make; 0: until stop */
	atomic_int	 ok, failed, bad;
};

static void *
sign_loop(void *p)
{
	struct signer	*s = p;
	X509		*x = fixture_cert(s->pub, "pool", 7);
	int		 n = 0;

	while (s->count > 0 ? n++ < s->count : !atomic_load(s->stop)) {
		if (hsm_sign(s->key, hsm_sign_x509, x) != 0)
			atomic_fetch_add(&s->failed, 1);
		else if (X509_verify(x, s->pub) == 1)
			atomic_fetch_add(&s->ok, 1);
		else
			atomic_fetch_add(&s->bad, 1);
		ERR_clear_error();
	}
	X509_free(x);
	return NULL;
}

/* Starts n threads on k, half of them with count signatures each. */
static void
signers_start(struct signer *s, int n, struct hsm_key *k, EVP_PKEY *pub,
    atomic_int *stop, int count)
{
	int	i;

	memset(s, 0, sizeof(*s) * (size_t)n);
	for (i = 0; i < n; i++) {
		s[i].key = k;
		s[i].pub = pub;
		s[i].stop = stop;
		s[i].count = count;
		assert_int_equal(pthread_create(&s[i].t, NULL, sign_loop,
		    &s[i]), 0);
	}
}

static void
signers_join(struct signer *s, int n, int *ok, int *failed, int *bad)
{
	int	i;

	*ok = *failed = *bad = 0;
	for (i = 0; i < n; i++) {
		assert_int_equal(pthread_join(s[i].t, NULL), 0);
		*ok += atomic_load(&s[i].ok);
		*failed += atomic_load(&s[i].failed);
		*bad += atomic_load(&s[i].bad);
	}
}

static int
ok_total(struct signer *s, int n)
{
	int	i, t = 0;

	for (i = 0; i < n; i++)
		t += atomic_load(&s[i].ok);
	return t;
}

static int
pool_group_setup(void **state)
{
	const char	*shim = getenv("P11SHIM");
	FILE		*fp;

	ly_log_setlevel(LY_LOG_ERR);
	if (shim == NULL || access(shim, R_OK) != 0) {
		fprintf(stderr, "set-up: no PKCS#11 shim ($P11SHIM; make "
		    "check sets it)\n");
		return -1;
	}
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
	hsm_sessions_max(MAX_SESSIONS);
	if (hsm_init(shim, confpath) != 0 ||
	    hsm_token_init(TOKEN, SO_PIN, USER_PIN) != 0 ||
	    hsm_keygen(URI_EC, USER_PIN, CONF_KEY_EC_P256, &pub_ec) != 0 ||
	    hsm_keygen(URI_RSA, USER_PIN, CONF_KEY_RSA_2048, &pub_rsa) != 0 ||
	    hsm_key_open(URI_EC, USER_PIN, CONF_RSA_PKCS1, &key_ec) != 0 ||
	    hsm_key_open(URI_RSA, USER_PIN, CONF_RSA_PSS, &key_rsa) != 0) {
		fprintf(stderr, "set-up: %s\n", ly_errdetail());
		return -1;
	}
	return 0;
}

static int
pool_group_teardown(void **state)
{
	hsm_key_free(key_ec);
	hsm_key_free(key_rsa);
	EVP_PKEY_free(pub_ec);
	EVP_PKEY_free(pub_rsa);
	hsm_shutdown();
	return ly_remove_tree(tmpdir, 0) == LY_OK ? 0 : -1;
}

static int
pool_test_setup(void **state)
{
	fixture_faults_set(faultpath, "");
	return 0;
}

/* --- tests -------------------------------------------------------------- */

/*
 * Eight threads sign at once with one key: every signature verifies, the
 * pool opened more than one session, and never more than its maximum.
 * A key opened with a maximum of one: the threads take turns on it.
 */
static void
test_parallel(void **state)
{
	struct signer	 s[NTHREADS];
	struct hsm_key	*one = NULL;
	atomic_int	 stop;
	int		 ok, failed, bad;
	size_t		 n;

	atomic_init(&stop, 0);
	signers_start(s, NTHREADS, key_ec, pub_ec, &stop, 60);
	signers_join(s, NTHREADS, &ok, &failed, &bad);
	assert_int_equal(ok, NTHREADS * 60);
	assert_int_equal(failed, 0);
	assert_int_equal(bad, 0);
	n = hsm_key_sessions(key_ec);
	printf("# %d threads: %zu sessions of at most %d\n", NTHREADS, n,
	    MAX_SESSIONS);
	assert_true(n >= 2 && n <= MAX_SESSIONS);

	/* RSA with PSS, on its own pool. */
	signers_start(s, NTHREADS, key_rsa, pub_rsa, &stop, 5);
	signers_join(s, NTHREADS, &ok, &failed, &bad);
	assert_int_equal(ok, NTHREADS * 5);
	assert_true(hsm_key_sessions(key_rsa) <= MAX_SESSIONS);

	hsm_sessions_max(1);
	assert_int_equal(hsm_key_open(URI_EC, USER_PIN, CONF_RSA_PKCS1, &one),
	    0);
	hsm_sessions_max(MAX_SESSIONS);
	signers_start(s, NTHREADS, one, pub_ec, &stop, 20);
	signers_join(s, NTHREADS, &ok, &failed, &bad);
	assert_int_equal(ok, NTHREADS * 20);
	assert_int_equal(hsm_key_sessions(one), 1);
	hsm_key_free(one);
}

/*
 * Under load, one session's signature fails (a handle the token dropped,
 * then a device error): that session is replaced and the signature made
 * on the new one; nobody sees a failure, nothing is reopened.
 */
static void
test_session_fails_midway(void **state)
{
	static const char *const rules[][2] = {
		{ "sign:CKR_SESSION_HANDLE_INVALID:1\n",
		    "sign:CKR_SESSION_HANDLE_INVALID:0\n" },
		{ "sign:CKR_DEVICE_ERROR:1\n", "sign:CKR_DEVICE_ERROR:0\n" },
	};
	struct signer	 s[NTHREADS];
	struct hsm_stats before, after;
	atomic_int	 stop;
	int		 ok, failed, bad, i, j, base;

	for (j = 0; j < 2; j++) {
		atomic_init(&stop, 0);
		hsm_stats(&before);
		signers_start(s, NTHREADS, key_ec, pub_ec, &stop, 0);
		/* Every thread under way, and the pool full. */
		for (i = 0; i < WAIT_TRIES && ok_total(s, NTHREADS) <
		    NTHREADS * 5; i++)
			usleep(10000);
		fixture_faults_set(faultpath, rules[j][0]);
		for (i = 0; i < WAIT_TRIES &&
		    strcmp(fixture_faults_get(faultpath), rules[j][1]) != 0; i++)
			usleep(10000);
		assert_string_equal(fixture_faults_get(faultpath), rules[j][1]);
		base = ok_total(s, NTHREADS);
		for (i = 0; i < WAIT_TRIES && ok_total(s, NTHREADS) <
		    base + NTHREADS * 5; i++)
			usleep(10000);
		atomic_store(&stop, 1);
		signers_join(s, NTHREADS, &ok, &failed, &bad);
		assert_int_equal(failed, 0);
		assert_int_equal(bad, 0);
		assert_true(ok >= base + NTHREADS * 5);
		hsm_stats(&after);
		assert_int_equal(after.sign_failures, before.sign_failures);
		assert_int_equal(after.reopens, before.reopens);
		assert_int_equal(after.reinits, before.reinits);
		assert_true(hsm_key_sessions(key_ec) <= MAX_SESSIONS);
	}
}

/*
 * Under load the token goes away (SoftHSM's token directory vanishes:
 * every session of every key is dead, and the module must be initialised
 * again to see the token once it is back). Signatures fail meanwhile,
 * none that does not verify; once it is back the module is re-initialised
 * (every pool reopened) and every thread signs again.
 */
static void
test_token_loss(void **state)
{
	struct signer	 s[NTHREADS];
	struct hsm_stats before, after;
	atomic_int	 stop;
	int		 ok, failed, bad, i, base[NTHREADS];

	atomic_init(&stop, 0);
	hsm_stats(&before);
	signers_start(s, NTHREADS / 2, key_ec, pub_ec, &stop, 0);
	signers_start(s + NTHREADS / 2, NTHREADS / 2, key_rsa, pub_rsa, &stop,
	    0);
	for (i = 0; i < WAIT_TRIES && ok_total(s, NTHREADS) < NTHREADS * 2;
	    i++)
		usleep(10000);
	assert_int_equal(rename(tokens, away), 0);
	for (i = 0; i < WAIT_TRIES && atomic_load(&s[0].failed) == 0; i++)
		usleep(10000);
	usleep(200000);
	assert_int_equal(rename(away, tokens), 0);
	assert_int_equal(fixture_wait_recovered(key_ec, WAIT_TRIES), 0);
	assert_int_equal(fixture_wait_recovered(key_rsa, WAIT_TRIES), 0);
	for (i = 0; i < NTHREADS; i++)
		base[i] = atomic_load(&s[i].ok);
	/* Every thread signs again: the pools came back with the module. */
	for (i = 0; i < NTHREADS; i++) {
		int	tries;

		for (tries = 0; tries < WAIT_TRIES &&
		    atomic_load(&s[i].ok) < base[i] + 2; tries++)
			usleep(WAIT_SLEEP);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < NTHREADS; i++)
		assert_true(atomic_load(&s[i].ok) >= base[i] + 2);
	signers_join(s, NTHREADS, &ok, &failed, &bad);
	printf("# token loss: %d signed, %d failed meanwhile\n", ok, failed);
	assert_true(failed > 0);
	assert_int_equal(bad, 0);
	hsm_stats(&after);
	assert_true(after.reinits > before.reinits);
	assert_int_equal(after.down, 0);
	assert_true(hsm_key_sessions(key_ec) >= 1 &&
	    hsm_key_sessions(key_ec) <= MAX_SESSIONS);
	assert_true(hsm_key_sessions(key_rsa) >= 1 &&
	    hsm_key_sessions(key_rsa) <= MAX_SESSIONS);
}

struct ocsp_args {
	OCSP_BASICRESP	*bs;
	X509		*cert;
};

static int
ocsp_sign(void *obj, EVP_MD_CTX *ctx)
{
	struct ocsp_args *a = obj;

	return OCSP_basic_sign_ctx(a->bs, a->cert, ctx, NULL,
	    OCSP_RESPID_KEY | OCSP_NOCERTS) == 1;
}

/*
 * OCSP_basic_sign_ctx() checks that the signer's certificate is for the
 * context's key (X509_check_private_key()): the pool's key compares
 * equal to its public key, and the response verifies (EC and RSA-PSS).
 */
static void
test_ocsp(void **state)
{
	struct ocsp_args a;
	struct {
		struct hsm_key	*k;
		EVP_PKEY	*pub;
	} keys[] = { { key_ec, pub_ec }, { key_rsa, pub_rsa } };
	size_t		 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_non_null(a.bs = OCSP_BASICRESP_new());
		a.cert = fixture_cert(keys[i].pub, "ocsp", 7);
		assert_int_equal(hsm_sign(keys[i].k, ocsp_sign, &a), 0);
		assert_int_equal(ASN1_item_verify(
		    ASN1_ITEM_rptr(OCSP_RESPDATA),
		    OCSP_resp_get0_tbs_sigalg(a.bs),
		    OCSP_resp_get0_signature(a.bs),
		    OCSP_resp_get0_respdata(a.bs), keys[i].pub), 1);
		X509_free(a.cert);
		OCSP_BASICRESP_free(a.bs);
	}
	ERR_clear_error();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_parallel, pool_test_setup),
		cmocka_unit_test_setup(test_ocsp, pool_test_setup),
		cmocka_unit_test_setup(test_session_fails_midway, pool_test_setup),
		cmocka_unit_test_setup(test_token_loss, pool_test_setup),
	};

	return cmocka_run_group_tests(tests, pool_group_setup, pool_group_teardown);
}
