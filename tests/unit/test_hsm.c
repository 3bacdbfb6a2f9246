/*
 * tests/unit/test_hsm.c — hsm/ against a SoftHSM2 token in a temporary
 * directory: token set-up, key generation, signing (and checking each
 * signature in software), certificate objects, PINs, URIs, re-opening,
 * threads.
 *
 * The module is $SOFTHSM2_MODULE or Debian's path. Tests run in order and
 * share the token and keys made by the first ones.
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <cmocka.h>

#include <pkcs11-helper-1.0/pkcs11h-core.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"
#include "tests/unit/fixture.h"

#define TOKEN		"lanyard-test"
#define TOKEN2		"lanyard-two"
#define SO_PIN		"so-pin-1234"
#define USER_PIN	"user-pin-1234"
#define URI_EC256	"pkcs11:token=" TOKEN ";object=ec256"
#define URI_EC384	"pkcs11:token=" TOKEN ";object=ec384"
#define URI_RSA		"pkcs11:token=" TOKEN ";object=rsa2048"
#define URI_RSA3K	"pkcs11:token=" TOKEN ";object=rsa3072"
#define THREAD_SIGS	200

static char	 tmpdir[] = "/tmp/lanyard-test-hsm-XXXXXX";
static char	 confpath[256];
static EVP_PKEY	*pub_ec256, *pub_ec384, *pub_rsa;

/* --- helpers ------------------------------------------------------------ */

/* Opens uri, signs a certificate, checks it against pub; returns the nid. */
static int
sign_check(const char *uri, enum conf_rsapad pad, EVP_PKEY *pub)
{
	struct hsm_key	*k = NULL;
	X509		*x;
	int		 nid;

	assert_int_equal(hsm_key_open(uri, USER_PIN, pad, &k), 0);
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_eq(hsm_key_get0_public(k), pub), 1);
	x = fixture_cert(pub, "signed on the token", 4711);
	assert_int_equal(hsm_sign(k, hsm_sign_x509, x), 0);
	assert_int_equal(X509_verify(x, pub), 1);
	nid = X509_get_signature_nid(x);
	X509_free(x);
	hsm_key_free(k);
	return nid;
}

/* The DER of the one certificate object labelled label on TOKEN. */
static int
cert_object_der(const char *label, unsigned char **derp, size_t *lenp)
{
	struct hsm_uri	 u;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE hs[4];
	size_t		 n;

	assert_int_equal(hsm_uri_parse("pkcs11:token=" TOKEN, 0, &u), 0);
	hsm_admin_lock();
	assert_int_equal(hsm_session_open(&u, USER_PIN, 0, &s, NULL), 0);
	assert_int_equal(hsm_objects_find(s, CKO_CERTIFICATE, label, NULL, 0,
	    hs, 4, &n), 0);
	if (n == 1)
		assert_int_equal(hsm_attr_get(s, hs[0], CKA_VALUE, derp, lenp),
		    0);
	hsm_session_close(s);
	hsm_admin_unlock();
	hsm_uri_clear(&u);
	return (int)n;
}

/* --- set-up ------------------------------------------------------------- */

static int
group_setup(void **state)
{
	char		 tokens[200];
	FILE		*fp;

	ly_log_setlevel(LY_LOG_ERR);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(tokens, sizeof(tokens), "%s/tokens", tmpdir);
	snprintf(confpath, sizeof(confpath), "%s/softhsm2.conf", tmpdir);
	if (mkdir(tokens, 0700) == -1 || (fp = fopen(confpath, "w")) == NULL)
		return -1;
	fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\n"
	    "log.level = ERROR\nslots.removable = false\n", tokens);
	fclose(fp);
	if (hsm_init(fixture_softhsm_module(), confpath) != 0) {
		fprintf(stderr, "hsm_init: %s\n", ly_errdetail());
		return -1;
	}
	/* A second call is a no-op. */
	if (hsm_init(fixture_softhsm_module(), confpath) != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	EVP_PKEY_free(pub_ec256);
	EVP_PKEY_free(pub_ec384);
	EVP_PKEY_free(pub_rsa);
	hsm_shutdown();
	return ly_remove_tree(tmpdir, 0);
}

/* --- tests -------------------------------------------------------------- */

static void
test_token_init(void **state)
{
	assert_int_equal(hsm_token_init(TOKEN, SO_PIN, USER_PIN), 0);
	assert_int_equal(hsm_token_init(TOKEN, SO_PIN, USER_PIN),
	    LY_ERR_EXISTS);
	assert_non_null(strstr(ly_errdetail(), TOKEN));
	/* A second token on the slot SoftHSM offers next. */
	assert_int_equal(hsm_token_init(TOKEN2, SO_PIN, USER_PIN), 0);
	assert_int_equal(hsm_token_init("", SO_PIN, USER_PIN), LY_ERR_ARG);
	assert_int_equal(hsm_token_init("x234567890123456789012345678901234",
	    SO_PIN, USER_PIN), LY_ERR_ARG);
}

static void
keygen_check(const char *uri, enum conf_keytype kt, int base, int bits,
    EVP_PKEY **pubp)
{
	EVP_PKEY	*pub = NULL, *again = NULL;

	assert_int_equal(hsm_keygen(uri, USER_PIN, kt, &pub), 0);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_get_base_id(pub), base);
	assert_int_equal(EVP_PKEY_get_bits(pub), bits);
	assert_int_equal(hsm_keygen(uri, USER_PIN, kt, &again), LY_ERR_EXISTS);
	assert_null(again);
	assert_int_equal(hsm_key_is_protected(uri, USER_PIN), 1);
	*pubp = pub;
}

static void
test_keygen_ec256(void **state)
{
	keygen_check(URI_EC256, CONF_KEY_EC_P256, EVP_PKEY_EC, 256, &pub_ec256);
}

static void
test_keygen_ec384(void **state)
{
	keygen_check(URI_EC384, CONF_KEY_EC_P384, EVP_PKEY_EC, 384, &pub_ec384);
}

static void
test_keygen_rsa(void **state)
{
	keygen_check(URI_RSA, CONF_KEY_RSA_2048, EVP_PKEY_RSA, 2048, &pub_rsa);
}

/* 3072 takes about half a second in SoftHSM; 4096 is left out. */
static void
test_keygen_rsa3072(void **state)
{
	EVP_PKEY	*pub = NULL;

	keygen_check(URI_RSA3K, CONF_KEY_RSA_3072, EVP_PKEY_RSA, 3072, &pub);
	assert_int_equal(sign_check(URI_RSA3K, CONF_RSA_PSS, pub),
	    NID_rsassaPss);
	EVP_PKEY_free(pub);
}

static void
test_keygen_placeholder(void **state)
{
	unsigned char		*der = NULL;
	const unsigned char	*q;
	size_t			 len = 0;
	X509			*x;

	/* The placeholder carries the new public key and the label. */
	assert_int_equal(cert_object_der("ec256", &der, &len), 1);
	q = der;
	assert_non_null(x = d2i_X509(NULL, &q, (long)len));
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), pub_ec256), 1);
	X509_free(x);
	free(der);
}

static void
test_sign_each(void **state)
{
	assert_int_equal(sign_check(URI_EC256, CONF_RSA_PKCS1, pub_ec256),
	    NID_ecdsa_with_SHA256);
	assert_int_equal(sign_check(URI_EC384, CONF_RSA_PKCS1, pub_ec384),
	    NID_ecdsa_with_SHA384);
	assert_int_equal(sign_check(URI_RSA, CONF_RSA_PKCS1, pub_rsa),
	    NID_sha256WithRSAEncryption);
}

static void
test_sign_pss(void **state)
{
	struct hsm_key		*k = NULL;
	const X509_ALGOR	*alg;
	const ASN1_OBJECT	*oid;
	X509			*x;
	BIO			*bio;
	char			*text = NULL;

	assert_int_equal(sign_check(URI_RSA, CONF_RSA_PSS, pub_rsa),
	    NID_rsassaPss);
	/* The algorithm OID itself, and the TBS copy agrees. */
	assert_int_equal(hsm_key_open(URI_RSA, USER_PIN, CONF_RSA_PSS, &k), 0);
	x = fixture_cert(pub_rsa, "pss", 4711);
	assert_int_equal(hsm_sign(k, hsm_sign_x509, x), 0);
	X509_get0_signature(NULL, &alg, x);
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	assert_int_equal(OBJ_obj2nid(oid), NID_rsassaPss);
	X509_ALGOR_get0(&oid, NULL, NULL, X509_get0_tbs_sigalg(x));
	assert_int_equal(OBJ_obj2nid(oid), NID_rsassaPss);
	assert_int_equal(X509_verify(x, pub_rsa), 1);
	/* SHA-256, MGF1 with SHA-256, salt as long as the digest. */
	assert_non_null(bio = BIO_new(BIO_s_mem()));
	assert_int_equal(X509_signature_print(bio, alg, NULL), 1);
	assert_int_equal(BIO_write(bio, "", 1), 1);
	assert_true(BIO_get_mem_data(bio, &text) > 0);
	assert_non_null(strstr(text, "Hash Algorithm: sha256"));
	assert_non_null(strstr(text, "Mask Algorithm: mgf1 with sha256"));
	assert_non_null(strstr(text, "Salt Length: 0x20"));
	BIO_free(bio);
	X509_free(x);
	hsm_key_free(k);
}

static void
test_sign_crl_req(void **state)
{
	struct hsm_key	*k = NULL;
	X509_CRL	*crl;
	X509_REQ	*req;
	X509_NAME	*name;
	ASN1_TIME	*t;

	assert_int_equal(hsm_key_open(URI_EC384, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	assert_non_null(crl = X509_CRL_new());
	assert_non_null(name = X509_NAME_new());
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"crl issuer", -1, -1, 0), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, name), 1);
	assert_non_null(t = ASN1_TIME_set(NULL, time(NULL)));
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	assert_int_equal(hsm_sign(k, hsm_sign_x509_crl, crl), 0);
	assert_int_equal(X509_CRL_verify(crl, pub_ec384), 1);
	assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA384);

	assert_non_null(req = X509_REQ_new());
	assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, pub_ec384), 1);
	assert_int_equal(hsm_sign(k, hsm_sign_x509_req, req), 0);
	assert_int_equal(X509_REQ_verify(req, pub_ec384), 1);
	X509_REQ_free(req);
	ASN1_TIME_free(t);
	X509_NAME_free(name);
	X509_CRL_free(crl);
	hsm_key_free(k);
}

static void
test_cert_store(void **state)
{
	struct hsm_key	*k = NULL;
	X509		*ca, *x;
	unsigned char	*der = NULL, *mine = NULL;
	size_t		 len = 0;
	int		 minelen;

	/* A self-signed CA certificate made with the token key. */
	assert_int_equal(hsm_key_open(URI_EC256, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	ca = fixture_cert(pub_ec256, "Lanyard Test Root", 4711);
	assert_int_equal(hsm_sign(k, hsm_sign_x509, ca), 0);
	hsm_key_free(k);
	k = NULL;

	assert_int_equal(hsm_cert_store(URI_EC256, USER_PIN, ca), 0);
	/* Exactly one certificate object, and it is the new one. */
	assert_int_equal(cert_object_der("ec256", &der, &len), 1);
	assert_true((minelen = i2d_X509(ca, &mine)) > 0);
	assert_int_equal(len, (size_t)minelen);
	assert_memory_equal(der, mine, len);
	free(der);
	OPENSSL_free(mine);

	/* pkcs11-helper finds the key through the new object. */
	assert_int_equal(sign_check(URI_EC256, CONF_RSA_PKCS1, pub_ec256),
	    NID_ecdsa_with_SHA256);
	assert_int_equal(hsm_key_open(URI_EC256, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	x = fixture_cert(pub_ec256, "after store", 4711);
	assert_int_equal(hsm_sign(k, hsm_sign_x509, x), 0);
	assert_int_equal(X509_verify(x, pub_ec256), 1);
	X509_free(x);
	hsm_key_free(k);
	X509_free(ca);
}

static void
test_cert_store_other_key(void **state)
{
	X509		*x;
	unsigned char	*der = NULL;
	size_t		 len = 0;

	x = fixture_cert(pub_ec384, "not the RSA key", 4711);
	assert_int_equal(hsm_cert_store(URI_RSA, USER_PIN, x), LY_ERR_ARG);
	assert_non_null(strstr(ly_errdetail(), "another key"));
	X509_free(x);
	/* The placeholder is still there. */
	assert_int_equal(cert_object_der("rsa2048", &der, &len), 1);
	free(der);
}

static void
test_wrong_pin(void **state)
{
	struct hsm_key	*k = NULL;
	EVP_PKEY	*pub = NULL;
	unsigned long	 before;

	/* TOKEN is logged in (pkcs11-helper): the PIN is still compared. */
	before = hsm_stat_logins();
	assert_int_equal(hsm_key_open(URI_EC256, "wrong", CONF_RSA_PKCS1, &k),
	    LY_ERR_HSM_PIN);
	assert_null(k);
	assert_int_equal(hsm_stat_logins() - before, 1);
	assert_null(strstr(ly_errdetail(), "wrong\""));
	assert_int_equal(hsm_key_is_protected(URI_EC256, "wrong"),
	    LY_ERR_HSM_PIN);

	/* TOKEN2 is not logged in: the token itself refuses, once. */
	before = hsm_stat_logins();
	assert_int_equal(hsm_keygen("pkcs11:token=" TOKEN2 ";object=k",
	    "wrong", CONF_KEY_EC_P256, &pub), LY_ERR_HSM_PIN);
	assert_null(pub);
	assert_int_equal(hsm_stat_logins() - before, 1);
	assert_non_null(strstr(ly_errdetail(), TOKEN2));
	assert_int_equal(hsm_key_open("pkcs11:token=" TOKEN2 ";object=k",
	    "", CONF_RSA_PKCS1, &k), LY_ERR_HSM_PIN);

	/* Not locked: the right PIN still works on both. */
	assert_int_equal(hsm_keygen("pkcs11:token=" TOKEN2 ";object=k",
	    USER_PIN, CONF_KEY_EC_P256, &pub), 0);
	EVP_PKEY_free(pub);
	assert_int_equal(hsm_key_open(URI_EC256, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	hsm_key_free(k);
}

static void
test_pin_file(void **state)
{
	char	 path[300];
	char	*pin = NULL;
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/user.pin", tmpdir);
	assert_non_null(fp = fopen(path, "w"));
	fputs(USER_PIN "\r\n", fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(hsm_pin_load(path, NULL, &pin), LY_ERR_HSM_PIN);
	assert_null(pin);
	assert_non_null(strstr(ly_errdetail(), "0644"));
	assert_int_equal(chmod(path, 0660), 0);
	assert_int_equal(hsm_pin_load(path, NULL, &pin), LY_ERR_HSM_PIN);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(hsm_pin_load(path, "UNUSED", &pin), 0);
	assert_string_equal(pin, USER_PIN);
	hsm_pin_free(pin);
	pin = NULL;

	assert_non_null(fp = fopen(path, "w"));
	fputs("\n", fp);
	fclose(fp);
	assert_int_equal(hsm_pin_load(path, NULL, &pin), LY_ERR_HSM_PIN);
	assert_null(pin);
	assert_int_equal(hsm_pin_load(tmpdir, NULL, &pin), LY_ERR_HSM_PIN);
	assert_int_equal(hsm_pin_load("/nonexistent/pin", NULL, &pin),
	    LY_ERR_HSM_PIN);
	assert_int_equal(hsm_pin_load(NULL, NULL, &pin), LY_ERR_HSM_PIN);
	assert_null(pin);
	hsm_pin_free(NULL);
}

static void
test_pin_env(void **state)
{
	struct hsm_key	*k = NULL;
	char		*pin = NULL;

	assert_int_equal(setenv("LANYARD_TEST_PIN", USER_PIN "\n", 1), 0);
	assert_int_equal(hsm_pin_load(NULL, "LANYARD_TEST_PIN", &pin), 0);
	assert_string_equal(pin, USER_PIN);
	assert_int_equal(hsm_key_open(URI_EC384, pin, CONF_RSA_PKCS1, &k), 0);
	hsm_key_free(k);
	hsm_pin_free(pin);
	pin = NULL;
	assert_int_equal(setenv("LANYARD_TEST_PIN", "", 1), 0);
	assert_int_equal(hsm_pin_load(NULL, "LANYARD_TEST_PIN", &pin),
	    LY_ERR_HSM_PIN);
	assert_int_equal(unsetenv("LANYARD_TEST_PIN"), 0);
	assert_int_equal(hsm_pin_load(NULL, "LANYARD_TEST_PIN", &pin),
	    LY_ERR_HSM_PIN);
	assert_null(pin);
}

static void
test_bad_uri(void **state)
{
	static const char *bad[] = {
		"http://example.com/key",
		"pkcs11:object=ec256",			/* no token */
		"pkcs11:token=" TOKEN,			/* no object */
		"pkcs11:token=" TOKEN ";object=ec%zz",	/* bad escape */
		"pkcs11:token=" TOKEN ";object=ec256?pin-value=" USER_PIN,
		"",
	};
	struct hsm_key	*k = NULL;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(hsm_key_open(bad[i], USER_PIN, CONF_RSA_PKCS1,
		    &k), LY_ERR_CONFIG);
		assert_null(k);
	}
	assert_int_equal(hsm_key_open(NULL, USER_PIN, CONF_RSA_PKCS1, &k),
	    LY_ERR_CONFIG);
	/* The PIN from the URI is not echoed in the message. */
	assert_null(strstr(ly_errdetail(), USER_PIN));
	assert_int_equal(hsm_keygen("pkcs11:token=" TOKEN ";object=x;id=%01",
	    USER_PIN, CONF_KEY_EC_P256, NULL), LY_ERR_CONFIG);
	assert_int_equal(hsm_key_is_protected("pkcs11:", USER_PIN),
	    LY_ERR_CONFIG);
}

static void
test_not_found(void **state)
{
	struct hsm_key	*k = NULL;

	assert_int_equal(hsm_key_open("pkcs11:token=" TOKEN ";object=nope",
	    USER_PIN, CONF_RSA_PKCS1, &k), LY_ERR_NOT_FOUND);
	assert_non_null(strstr(ly_errdetail(), "object=nope"));
	/* No such token: maybe away for a moment, never "no such key". */
	assert_int_equal(hsm_key_open("pkcs11:token=nope;object=ec256",
	    USER_PIN, CONF_RSA_PKCS1, &k), LY_ERR_HSM);
	assert_null(k);
	assert_int_equal(hsm_key_is_protected("pkcs11:token=" TOKEN
	    ";object=nope", USER_PIN), LY_ERR_NOT_FOUND);
	assert_int_equal(hsm_cert_store("pkcs11:token=" TOKEN ";object=nope",
	    USER_PIN, NULL), LY_ERR_ARG);
}

static void
test_open_by_id(void **state)
{
	struct hsm_uri	 u;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o;
	unsigned char	*id = NULL;
	size_t		 n, len = 0, i;
	char		 uri[256];
	int		 off;

	/* Read ec384's CKA_ID and name the key by id= alone. */
	assert_int_equal(hsm_uri_parse(URI_EC384, 1, &u), 0);
	hsm_admin_lock();
	assert_int_equal(hsm_session_open(&u, USER_PIN, 0, &s, NULL), 0);
	assert_int_equal(hsm_objects_find(s, CKO_PRIVATE_KEY, "ec384", NULL, 0,
	    &o, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(hsm_attr_get(s, o, CKA_ID, &id, &len), 0);
	hsm_session_close(s);
	hsm_admin_unlock();
	hsm_uri_clear(&u);
	assert_int_equal(len, HSM_ID_LEN);
	off = snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN ";id=");
	for (i = 0; i < len; i++)
		off += snprintf(uri + off, sizeof(uri) - (size_t)off, "%%%02x",
		    id[i]);
	free(id);
	assert_int_equal(sign_check(uri, CONF_RSA_PKCS1, pub_ec384),
	    NID_ecdsa_with_SHA384);
	assert_int_equal(hsm_key_is_protected(uri, USER_PIN), 1);
}

static int	flaky_calls;

/* Fails the first time, as a signature over a lost session would. */
static int
flaky_signer(void *obj, EVP_MD_CTX *ctx)
{
	if (flaky_calls++ == 0)
		return 0;
	return hsm_sign_x509(obj, ctx);
}

static int
failing_signer(void *obj, EVP_MD_CTX *ctx)
{
	flaky_calls++;
	return 0;
}

static void
test_reopen(void **state)
{
	struct hsm_key	*k = NULL;
	X509		*x;
	unsigned long	 before;

	assert_int_equal(hsm_key_open(URI_RSA, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	x = fixture_cert(pub_rsa, "reopen", 4711);
	flaky_calls = 0;
	before = hsm_stat_logins();
	assert_int_equal(hsm_sign(k, flaky_signer, x), 0);
	assert_int_equal(flaky_calls, 2);
	assert_int_equal(X509_verify(x, pub_rsa), 1);
	/* The reopened session needs no new PIN prompt: still logged in. */
	assert_true(hsm_stat_logins() - before <= 1);

	flaky_calls = 0;
	assert_int_equal(hsm_sign(k, failing_signer, x), LY_ERR_HSM);
	assert_int_equal(flaky_calls, 2);
	/* And the key still signs afterwards. */
	assert_int_equal(hsm_sign(k, hsm_sign_x509, x), 0);
	assert_int_equal(X509_verify(x, pub_rsa), 1);
	assert_int_equal(hsm_sign(NULL, hsm_sign_x509, x), LY_ERR_ARG);
	X509_free(x);
	hsm_key_free(k);
	hsm_key_free(NULL);
}

static void
test_relogin(void **state)
{
	struct hsm_key	*k = NULL;
	X509		*x;
	unsigned long	 before;

	/*
	 * Log every session out behind hsm/'s back, as a token reset would:
	 * signing must log in again (pool.c), exactly once.
	 */
	assert_int_equal(hsm_key_open(URI_EC384, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	x = fixture_cert(pub_ec384, "relogin", 4711);
	fixture_token_logout();
	before = hsm_stat_logins();
	assert_int_equal(hsm_sign(k, hsm_sign_x509, x), 0);
	assert_int_equal(X509_verify(x, pub_ec384), 1);
	assert_int_equal(hsm_stat_logins() - before, 1);
	X509_free(x);
	hsm_key_free(k);
}

struct thread_arg {
	struct hsm_key	*key;
	int		 good;
	int		 rc;
};

static void *
sign_thread(void *p)
{
	struct thread_arg	*a = p;
	X509			*x;
	int			 i;

	x = fixture_cert(pub_ec256, "thread", 4711);
	for (i = 0; i < THREAD_SIGS; i++) {
		if ((a->rc = hsm_sign(a->key, hsm_sign_x509, x)) != 0)
			break;
		if (X509_verify(x, pub_ec256) == 1)
			a->good++;
	}
	X509_free(x);
	ERR_clear_error();
	return NULL;
}

static void
test_threads(void **state)
{
	struct hsm_key		*k = NULL;
	struct thread_arg	 a[2];
	pthread_t		 t[2];
	struct timespec		 t0, t1;
	double			 secs;
	int			 i;

	assert_int_equal(hsm_key_open(URI_EC256, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	memset(a, 0, sizeof(a));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 2; i++) {
		a[i].key = k;
		assert_int_equal(pthread_create(&t[i], NULL, sign_thread,
		    &a[i]), 0);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (i = 0; i < 2; i++) {
		assert_int_equal(a[i].rc, 0);
		assert_int_equal(a[i].good, THREAD_SIGS);
	}
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# %d EC P-256 certificates signed and verified on 2 threads "
	    "in %.3f s\n", 2 * THREAD_SIGS, secs);
	hsm_key_free(k);
}

/* The bool attribute t of object o. */
static CK_BBOOL
attr_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t)
{
	unsigned char	*v = NULL;
	size_t		 len;
	CK_BBOOL	 b;

	assert_int_equal(hsm_attr_get(s, o, t, &v, &len), 0);
	assert_int_equal(len, sizeof(CK_BBOOL));
	b = v[0];
	free(v);
	return b;
}

/* Every key pair hsm_keygen() made can sign and verify, nothing else. */
static void
test_key_usage(void **state)
{
	static const char *labels[] = { "ec256", "ec384", "rsa2048" };
	struct hsm_uri	 u;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o;
	size_t		 i, n;

	assert_int_equal(hsm_uri_parse("pkcs11:token=" TOKEN, 0, &u), 0);
	hsm_admin_lock();
	assert_int_equal(hsm_session_open(&u, USER_PIN, 0, &s, NULL), 0);
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		assert_int_equal(hsm_objects_find(s, CKO_PRIVATE_KEY, labels[i],
		    NULL, 0, &o, 1, &n), 0);
		assert_int_equal(n, 1);
		assert_true(attr_bool(s, o, CKA_SIGN));
		assert_false(attr_bool(s, o, CKA_DECRYPT));
		assert_false(attr_bool(s, o, CKA_UNWRAP));
		assert_false(attr_bool(s, o, CKA_DERIVE));
		assert_false(attr_bool(s, o, CKA_SIGN_RECOVER));
		assert_true(attr_bool(s, o, CKA_PRIVATE));
		assert_true(attr_bool(s, o, CKA_SENSITIVE));
		assert_false(attr_bool(s, o, CKA_EXTRACTABLE));
		assert_int_equal(hsm_objects_find(s, CKO_PUBLIC_KEY, labels[i],
		    NULL, 0, &o, 1, &n), 0);
		assert_int_equal(n, 1);
		assert_true(attr_bool(s, o, CKA_VERIFY));
		assert_false(attr_bool(s, o, CKA_ENCRYPT));
		assert_false(attr_bool(s, o, CKA_WRAP));
	}
	hsm_session_close(s);
	hsm_admin_unlock();
	hsm_uri_clear(&u);
}

static void
test_shutdown_reinit(void **state)
{
	struct hsm_key	*k = NULL, *left = NULL;
	X509		*x;

	/* hsm_shutdown() frees keys left open, and the module can come back. */
	assert_int_equal(hsm_key_open(URI_EC256, USER_PIN, CONF_RSA_PKCS1,
	    &left), 0);
	hsm_shutdown();
	hsm_shutdown();
	assert_int_equal(hsm_key_open(URI_EC256, USER_PIN, CONF_RSA_PKCS1, &k),
	    LY_ERR_HSM);
	assert_int_equal(hsm_init(fixture_softhsm_module(), confpath), 0);
	assert_int_equal(hsm_key_open(URI_EC256, USER_PIN, CONF_RSA_PKCS1, &k),
	    0);
	x = fixture_cert(pub_ec256, "after re-init", 4711);
	assert_int_equal(hsm_sign(k, hsm_sign_x509, x), 0);
	assert_int_equal(X509_verify(x, pub_ec256), 1);
	X509_free(x);
	hsm_key_free(k);
}

/* --- the token guard (hsm/guard.c) ----------------------------------- */

/* The token dir (under tmpdir/tokens) of the token labelled label. */
static void
token_dir(const char *label, char *out, size_t max)
{
	char		 path[512], pad[33];
	unsigned char	*b = NULL;
	size_t		 len;
	DIR		*d;
	struct dirent	*e;
	int		 found = 0;

	snprintf(pad, sizeof(pad), "%-32s", label);
	snprintf(path, sizeof(path), "%s/tokens", tmpdir);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL && !found) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/tokens/%s/token.object",
		    tmpdir, e->d_name);
		if (ly_file_read(path, 65536, &b, &len) != 0)
			continue;
		if (memmem(b, len, pad, 32) != NULL) {
			snprintf(out, max, "%s/tokens/%s", tmpdir, e->d_name);
			found = 1;
		}
		free(b);
	}
	closedir(d);
	assert_true(found);
}

/* Cuts path to len bytes (0: empty, as a kill inside SoftHSM leaves it). */
static void
cut(const char *path, off_t len)
{
	assert_int_equal(truncate(path, len), 0);
}

static off_t
file_size(const char *path)
{
	struct stat	st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/*
 * Takes every restore record (each is checked and done): returns how many
 * say "restored" (of file, if not NULL), *qp how many "quarantined".
 */
static size_t
restores_take(const char *file, size_t *qp)
{
	struct hsm_restore ev[4];
	size_t		 i, n, restored = 0, q = 0;

	while ((n = hsm_token_restores(ev, 4)) > 0)
		for (i = 0; i < n; i++) {
			assert_int_equal(strlen(ev[i].id), 32);
			assert_string_equal(ev[i].label, TOKEN);
			if (strcmp(ev[i].action, "quarantined") == 0)
				q++;
			else {
				assert_string_equal(ev[i].action, "restored");
				if (file != NULL)
					assert_string_equal(ev[i].file, file);
				restored++;
			}
			hsm_token_restore_done(&ev[i]);
		}
	if (qp != NULL)
		*qp = q;
	else
		assert_int_equal(q, 0);
	return restored;
}

static void
test_guard_whole(void **state)
{
	char		 dir[512], path[600];
	unsigned char	*b = NULL;
	size_t		 len;

	token_dir(TOKEN, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/token.object", dir);
	assert_int_equal(ly_file_read(path, 65536, &b, &len), 0);
	assert_true(hsm_guard_whole("token.object", b, len, NULL, 0));
	assert_true(hsm_guard_whole("token.object", b, len, b, len));
	assert_false(hsm_guard_whole("token.object", b, 0, NULL, 0));
	assert_false(hsm_guard_whole("token.object", b, len - 1, NULL, 0));
	assert_false(hsm_guard_whole("token.object", b, 8, NULL, 0));
	/* Cut after the SO PIN record: parses, but the copy has more. */
	assert_true(hsm_guard_whole("token.object", b, len - 96, NULL, 0));
	assert_false(hsm_guard_whole("token.object", b, len - 96, b, len));
	free(b);
}

/*
 * A kill between SoftHSM's truncation of token.object and its write: the
 * next hsm_init() restores it from the verified copy, records it for the
 * audit, and the key signs.
 */
static void
test_guard_restore(void **state)
{
	char	dir[512], path[600];

	hsm_shutdown();
	token_dir(TOKEN, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/token.object", dir);
	cut(path, 0);
	assert_int_equal(hsm_init(fixture_softhsm_module(), confpath), 0);
	assert_int_equal(restores_take("token.object", NULL), 1);
	assert_true(file_size(path) > 0);
	assert_int_equal(sign_check(URI_EC256, CONF_RSA_PKCS1, pub_ec256),
	    NID_ecdsa_with_SHA256);
	/* Cut at a record boundary (no user PIN): found by the copy. */
	hsm_shutdown();
	cut(path, file_size(path) - 96);
	assert_int_equal(hsm_init(fixture_softhsm_module(), confpath), 0);
	assert_int_equal(restores_take("token.object", NULL), 1);
	assert_int_equal(sign_check(URI_EC256, CONF_RSA_PKCS1, pub_ec256),
	    NID_ecdsa_with_SHA256);
}

/*
 * Key object files: a damaged one with a copy is restored, an unfinished
 * one without (a creation cut short) is moved aside.
 */
static void
test_guard_objects(void **state)
{
	char		 dir[512], path[800], junk[800], moved[800];
	DIR		*d;
	struct dirent	*e;
	size_t		 n, q;
	FILE		*fp;

	hsm_shutdown();
	token_dir(TOKEN, dir, sizeof(dir));
	assert_non_null(d = opendir(dir));
	n = 0;
	while ((e = readdir(d)) != NULL) {
		if (strstr(e->d_name, ".object") == NULL ||
		    strcmp(e->d_name, "token.object") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		cut(path, file_size(path) / 2);
		n++;
	}
	closedir(d);
	assert_true(n >= 6);
	snprintf(junk, sizeof(junk), "%s/00000000-0000-0000-0000-"
	    "000000000000.object", dir);
	assert_non_null(fp = fopen(junk, "w"));
	fputs("\0\0\0", fp);
	fclose(fp);
	assert_int_equal(hsm_init(fixture_softhsm_module(), confpath), 0);
	assert_int_equal(restores_take(NULL, &q), n);
	assert_int_equal(q, 1);
	/* Nothing left to repair... */
	assert_int_equal(hsm_guard_check(), 0);
	assert_int_equal(restores_take(NULL, NULL), 0);
	assert_int_equal(sign_check(URI_EC256, CONF_RSA_PKCS1, pub_ec256),
	    NID_ecdsa_with_SHA256);
	assert_int_equal(sign_check(URI_RSA, CONF_RSA_PKCS1, pub_rsa),
	    NID_sha256WithRSAEncryption);
	/* ...but the unfinished one was moved aside on the first pass. */
	assert_int_equal(access(junk, F_OK), -1);
	snprintf(moved, sizeof(moved), "%s/tokens.damaged/%s/00000000-0000-"
	    "0000-0000-000000000000.object", tmpdir, strrchr(dir, '/') + 1);
	assert_int_equal(access(moved, F_OK), 0);
}

/*
 * A damaged token.object with no verified copy is an error, and the file
 * is left as it is: never made into an empty token. (Last: it leaves
 * TOKEN2 damaged.)
 */
static void
test_guard_no_copy(void **state)
{
	char	dir[512], path[600], copy[800];

	hsm_shutdown();
	token_dir(TOKEN2, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/token.object", dir);
	snprintf(copy, sizeof(copy), "%s/tokens.verified/%s/token.object",
	    tmpdir, strrchr(dir, '/') + 1);
	assert_int_equal(unlink(copy), 0);
	cut(path, 0);
	assert_int_equal(hsm_init(fixture_softhsm_module(), confpath),
	    LY_ERR_HSM);
	assert_non_null(strstr(ly_errdetail(), "no verified copy"));
	assert_int_equal(file_size(path), 0);
	assert_int_equal(access(copy, F_OK), -1);
	assert_int_equal(hsm_token_restores(NULL, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_init),
		cmocka_unit_test(test_keygen_ec256),
		cmocka_unit_test(test_keygen_ec384),
		cmocka_unit_test(test_keygen_rsa),
		cmocka_unit_test(test_keygen_rsa3072),
		cmocka_unit_test(test_keygen_placeholder),
		cmocka_unit_test(test_key_usage),
		cmocka_unit_test(test_sign_each),
		cmocka_unit_test(test_sign_pss),
		cmocka_unit_test(test_sign_crl_req),
		cmocka_unit_test(test_cert_store),
		cmocka_unit_test(test_cert_store_other_key),
		cmocka_unit_test(test_wrong_pin),
		cmocka_unit_test(test_pin_file),
		cmocka_unit_test(test_pin_env),
		cmocka_unit_test(test_bad_uri),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_open_by_id),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_relogin),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_shutdown_reinit),
		cmocka_unit_test(test_guard_whole),
		cmocka_unit_test(test_guard_restore),
		cmocka_unit_test(test_guard_objects),
		cmocka_unit_test(test_guard_no_copy),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
