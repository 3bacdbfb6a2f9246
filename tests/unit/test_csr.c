/*
 * tests/unit/test_csr.c — ca/csr.c: CSR intake and the key policy, with
 * keys and CSRs made here with OpenSSL.
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

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/util.h"
#include "ca/ca.h"

/* A CSR in both encodings. */
struct tcsr {
	unsigned char	*der;
	size_t		 derlen;
	char		*pem;
	size_t		 pemlen;
};

enum {
	K_P256, K_P384, K_RSA2048, K_RSA1024, K_K256, K_ED25519,
	K_EXPLICIT, K_RSA_E3, K_MAX
};

static EVP_PKEY *keys[K_MAX];
static struct tcsr csrs[K_MAX];
static struct conf_profile prof;

static EVP_PKEY *
key_ec_explicit(void)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[3];

	/* OpenSSL 3.0: the keygen takes the encoding as a parameter. */
	assert_non_null(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL));
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
	params[1] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_EC_ENCODING,
	    (char *)OSSL_PKEY_EC_ENCODING_EXPLICIT, 0);
	params[2] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_PKEY_CTX_set_params(ctx, params), 1);
	assert_int_equal(EVP_PKEY_keygen(ctx, &pkey), 1);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *
key_rsa_e3(void)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	BIGNUM *e;

	assert_non_null(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL));
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_true(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) > 0);
	assert_non_null(e = BN_new());
	assert_int_equal(BN_set_word(e, 3), 1);
	assert_true(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) > 0);
	assert_int_equal(EVP_PKEY_keygen(ctx, &pkey), 1);
	BN_free(e);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static X509_REQ *
req_make(EVP_PKEY *pkey)
{
	X509_REQ *req;
	X509_NAME *name;
	const EVP_MD *md;

	assert_non_null(req = X509_REQ_new());
	assert_non_null(name = X509_NAME_new());
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"device-1", -1, -1, 0), 1);
	assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
	X509_NAME_free(name);
	assert_int_equal(X509_REQ_set_pubkey(req, pkey), 1);
	md = EVP_PKEY_is_a(pkey, "ED25519") ? NULL : EVP_sha256();
	assert_true(X509_REQ_sign(req, pkey, md) > 0);
	return req;
}

static void
tcsr_make(EVP_PKEY *pkey, struct tcsr *c)
{
	X509_REQ *req;
	BIO *bio;
	char *p;
	long n;
	int len;

	req = req_make(pkey);
	c->der = NULL;
	assert_true((len = i2d_X509_REQ(req, &c->der)) > 0);
	c->derlen = (size_t)len;
	assert_non_null(bio = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
	n = BIO_get_mem_data(bio, &p);
	assert_non_null(c->pem = malloc((size_t)n + 1));
	memcpy(c->pem, p, (size_t)n);
	c->pem[n] = '\0';
	c->pemlen = (size_t)n;
	BIO_free(bio);
	X509_REQ_free(req);
}

static int
setup_csr(void **state)
{
	size_t i;

	(void)state;
	keys[K_P256] = EVP_EC_gen("P-256");
	keys[K_P384] = EVP_EC_gen("P-384");
	keys[K_RSA2048] = EVP_RSA_gen(2048);
	keys[K_RSA1024] = EVP_RSA_gen(1024);
	keys[K_K256] = EVP_EC_gen("secp256k1");
	keys[K_ED25519] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	keys[K_EXPLICIT] = key_ec_explicit();
	keys[K_RSA_E3] = key_rsa_e3();
	for (i = 0; i < K_MAX; i++) {
		if (keys[i] == NULL)
			return -1;
		tcsr_make(keys[i], &csrs[i]);
	}
	return 0;
}

static int
teardown_csr(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < K_MAX; i++) {
		EVP_PKEY_free(keys[i]);
		OPENSSL_free(csrs[i].der);
		free(csrs[i].pem);
	}
	return 0;
}

static int
prof_reset(void **state)
{
	(void)state;
	memset(&prof, 0, sizeof(prof));
	prof.name = "client";
	prof.key_types = CONF_ALLOW_EC_P256 | CONF_ALLOW_EC_P384 |
	    CONF_ALLOW_RSA;
	prof.rsa_min_bits = 2048;
	prof.rsa_max_bits = 4096;
	ly_errclear();
	return 0;
}

static void
parse_bad(const void *data, size_t len, int want, const char *detail)
{
	X509_REQ *req = (X509_REQ *)0x1;	/* must stay untouched */
	EVP_PKEY *key = (EVP_PKEY *)0x1;
	int r;

	ly_errclear();
	r = ca_csr_parse(data, len, &req, &key);
	if (r != want)
		fail_msg("got %d (%s), want %d", r, ly_errdetail(), want);
	assert_ptr_equal(req, (X509_REQ *)0x1);
	assert_ptr_equal(key, (EVP_PKEY *)0x1);
	if (detail != NULL && strstr(ly_errdetail(), detail) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", ly_errdetail(), detail);
}

/* Parses c (DER or PEM) and runs ca_csr_check(). */
static int
parse_check(const void *data, size_t len)
{
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	int r;

	ly_errclear();
	if ((r = ca_csr_parse(data, len, &req, &key)) != LY_OK)
		return r;
	assert_non_null(req);
	assert_non_null(key);
	r = ca_csr_check(&prof, req, key);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return r;
}

static void
check_der(int k, int want, const char *detail)
{
	int r;

	r = parse_check(csrs[k].der, csrs[k].derlen);
	if (r != want)
		fail_msg("key %d: got %d (%s), want %d", k, r, ly_errdetail(),
		    want);
	if (detail != NULL && strcmp(ly_errdetail(), detail) != 0)
		fail_msg("key %d: detail \"%s\", want \"%s\"", k,
		    ly_errdetail(), detail);
}

/* ---- parsing ----------------------------------------------------------- */

static void
test_parse_good(void **state)
{
	const char *body;
	char *buf;
	size_t n;

	(void)state;
	assert_int_equal(parse_check(csrs[K_P256].der, csrs[K_P256].derlen),
	    LY_OK);
	assert_int_equal(parse_check(csrs[K_P256].pem, csrs[K_P256].pemlen),
	    LY_OK);
	/* White space around the PEM block, CRLF line ends. */
	n = csrs[K_P256].pemlen + 16;
	assert_non_null(buf = malloc(n));
	snprintf(buf, n, " \r\n\t%s\n\n ", csrs[K_P256].pem);
	assert_int_equal(parse_check(buf, strlen(buf)), LY_OK);
	free(buf);
	/* The old label. */
	assert_int_equal(strncmp(csrs[K_P256].pem,
	    "-----BEGIN CERTIFICATE REQUEST-----\n", 36), 0);
	body = csrs[K_P256].pem + 36;
	n = (size_t)(strstr(body, "-----END") - body);
	if (asprintf(&buf, "-----BEGIN NEW CERTIFICATE REQUEST-----\n%.*s"
	    "-----END NEW CERTIFICATE REQUEST-----\n", (int)n, body) == -1)
		fail();
	assert_int_equal(parse_check(buf, strlen(buf)), LY_OK);
	free(buf);
}

static void
test_parse_empty_and_size(void **state)
{
	unsigned char *big;

	(void)state;
	parse_bad("", 0, LY_ERR_BAD_CSR, "empty");
	parse_bad(NULL, 0, LY_ERR_BAD_CSR, "empty");
	parse_bad(" \n\t\r\n", 5, LY_ERR_BAD_CSR, "empty");
	assert_non_null(big = calloc(1, CA_CSR_MAX + 1));
	memcpy(big, csrs[K_P256].der, csrs[K_P256].derlen);
	parse_bad(big, CA_CSR_MAX + 1, LY_ERR_TOO_LARGE, "larger than");
	/* At the limit, it is the trailing zeros that are refused. */
	parse_bad(big, CA_CSR_MAX, LY_ERR_BAD_CSR, "trailing garbage");
	free(big);
}

static void
test_parse_bad_der(void **state)
{
	const struct tcsr *c = &csrs[K_P256];
	unsigned char *buf;
	size_t i;

	(void)state;
	/* Truncated at every length. */
	for (i = 1; i < c->derlen; i++)
		parse_bad(c->der, i, LY_ERR_BAD_CSR, NULL);
	/* Trailing garbage. */
	assert_non_null(buf = malloc(c->derlen + 1));
	memcpy(buf, c->der, c->derlen);
	buf[c->derlen] = 0;
	parse_bad(buf, c->derlen + 1, LY_ERR_BAD_CSR,
	    "1 bytes of trailing garbage");
	free(buf);
	/* Leading white space before DER is garbage too. */
	assert_non_null(buf = malloc(c->derlen + 1));
	buf[0] = ' ';
	memcpy(buf + 1, c->der, c->derlen);
	parse_bad(buf, c->derlen + 1, LY_ERR_BAD_CSR, "not a PKCS#10");
	free(buf);
	parse_bad("hello", 5, LY_ERR_BAD_CSR, "not a PKCS#10");
	parse_bad("\x30\x00", 2, LY_ERR_BAD_CSR, "not a PKCS#10");
	/* Indefinite length: BER, not DER. */
	parse_bad("\x30\x80\x00\x00", 4, LY_ERR_BAD_CSR, NULL);
}

static char *
pem_concat(const char *a, const char *b)
{
	char *s;

	assert_non_null(s = malloc(strlen(a) + strlen(b) + 1));
	strcpy(s, a);
	strcat(s, b);
	return s;
}

static void
test_parse_bad_pem(void **state)
{
	const struct tcsr *c = &csrs[K_P256];
	char *s, *p;

	(void)state;
	s = pem_concat(c->pem, "junk\n");
	parse_bad(s, strlen(s), LY_ERR_BAD_CSR, "trailing garbage");
	free(s);
	s = pem_concat(c->pem, "\n\x01");
	parse_bad(s, strlen(s), LY_ERR_BAD_CSR, "trailing garbage");
	free(s);
	s = pem_concat(c->pem, csrs[K_P384].pem);
	parse_bad(s, strlen(s), LY_ERR_BAD_CSR, "second PEM block");
	free(s);
	/* Text before the block. */
	s = pem_concat("hello\n", c->pem);
	parse_bad(s, strlen(s), LY_ERR_BAD_CSR, "not a PKCS#10");
	free(s);
	/* Wrong label. */
	assert_non_null(s = strdup(c->pem));
	memcpy(s + 11, "CERTIFICATE-REQUEST", 19);
	p = strstr(s, "-----END CERTIFICATE REQUEST");
	memcpy(p + 9, "CERTIFICATE-REQUEST", 19);
	parse_bad(s, strlen(s), LY_ERR_BAD_CSR, "PEM label");
	free(s);
	/* A PEM certificate label with CSR contents. */
	assert_non_null(s = malloc(c->pemlen + 1));
	p = strstr(c->pem, "\n") + 1;
	snprintf(s, c->pemlen + 1, "-----BEGIN CERTIFICATE-----\n%.*s"
	    "-----END CERTIFICATE-----\n",
	    (int)(strstr(c->pem, "-----END") - p), p);
	parse_bad(s, strlen(s), LY_ERR_BAD_CSR, "PEM label \"CERTIFICATE\"");
	free(s);
	/* Truncated: no END line. */
	assert_non_null(s = strdup(c->pem));
	*strstr(s, "-----END") = '\0';
	parse_bad(s, strlen(s), LY_ERR_BAD_CSR, "bad PEM");
	free(s);
	/* Bad base64. */
	assert_non_null(s = strdup(c->pem));
	p = strchr(s, '\n') + 5;
	*p = '!';
	parse_bad(s, strlen(s), LY_ERR_BAD_CSR, NULL);
	free(s);
	/* Headers (as for an encrypted block) are refused. */
	p = strchr(c->pem, '\n') + 1;
	assert_non_null(s = malloc(c->pemlen + 64));
	snprintf(s, c->pemlen + 64, "-----BEGIN CERTIFICATE REQUEST-----\n"
	    "Comment: hello\n\n%s", p);
	parse_bad(s, strlen(s), LY_ERR_BAD_CSR, "headers");
	free(s);
	/* The PEM block's DER with trailing bytes inside. */
	{
		unsigned char *der;
		BIO *bio;
		long n;

		assert_non_null(der = malloc(c->derlen + 2));
		memcpy(der, c->der, c->derlen);
		der[c->derlen] = 0x05;
		der[c->derlen + 1] = 0x00;
		assert_non_null(bio = BIO_new(BIO_s_mem()));
		assert_true(PEM_write_bio(bio, "CERTIFICATE REQUEST", "",
		    der, (long)c->derlen + 2) > 0);
		n = BIO_get_mem_data(bio, &p);
		parse_bad(p, (size_t)n, LY_ERR_BAD_CSR, "2 bytes of trailing");
		BIO_free(bio);
		free(der);
	}
}

static void
test_parse_version(void **state)
{
	X509_REQ *req;
	unsigned char *der = NULL;
	int len;

	(void)state;
	req = req_make(keys[K_P256]);
	/* RFC 2986 defines version 0 only; re-sign so only that is wrong. */
	if (X509_REQ_set_version(req, 2) != 1) {
		X509_REQ_free(req);
		skip();
	}
	assert_true(X509_REQ_sign(req, keys[K_P256], EVP_sha256()) > 0);
	assert_true((len = i2d_X509_REQ(req, &der)) > 0);
	parse_bad(der, (size_t)len, LY_ERR_BAD_CSR, "version 2 is not 0");
	OPENSSL_free(der);
	X509_REQ_free(req);
}

/*
 * The key comes out of the parse, once, equal to the one that signed:
 * P-256 and P-384 imported from the point's octets, other keys through
 * the decoder. A point that is not on its curve is refused by the parse.
 */
static void
test_parse_key(void **state)
{
	int k, ks[] = { K_P256, K_P384, K_RSA2048, K_K256, K_ED25519 };
	X509_REQ *req;
	EVP_PKEY *key;
	unsigned char *der, pt[65];
	size_t i, n, len;

	(void)state;
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		k = ks[i];
		req = NULL;
		key = NULL;
		assert_int_equal(ca_csr_parse(csrs[k].der, csrs[k].derlen,
		    &req, &key), LY_OK);
		if (EVP_PKEY_eq(key, keys[k]) != 1)
			fail_msg("key %d: not the key that signed", k);
		assert_int_equal(X509_REQ_verify(req, key), 1);
		X509_REQ_free(req);
		EVP_PKEY_free(key);
	}
	/* The P-256 point with its last octet changed: off the curve. */
	assert_int_equal(EVP_PKEY_get_octet_string_param(keys[K_P256],
	    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &n), 1);
	assert_int_equal(n, sizeof(pt));
	len = csrs[K_P256].derlen;
	assert_non_null(der = malloc(len));
	memcpy(der, csrs[K_P256].der, len);
	assert_non_null(memmem(der, len, pt, n));
	((unsigned char *)memmem(der, len, pt, n))[n - 1] ^= 0x01;
	parse_bad(der, len, LY_ERR_BAD_CSR, "cannot decode the public key");
	free(der);
}

/* ---- signature --------------------------------------------------------- */

static void
test_signature_flipped(void **state)
{
	unsigned char *der;
	int k, ks[] = { K_P256, K_RSA2048, K_ED25519, K_P384 };
	size_t i, len;

	(void)state;
	prof.key_types |= CONF_ALLOW_ED25519;
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		k = ks[i];
		len = csrs[k].derlen;
		assert_non_null(der = malloc(len));
		/* The last octet is inside the signature. */
		memcpy(der, csrs[k].der, len);
		der[len - 1] ^= 0x01;
		if (parse_check(der, len) != LY_ERR_CSR_SIGNATURE)
			fail_msg("key %d: %s", k, ly_errdetail());
		assert_non_null(strstr(ly_errdetail(), "does not verify"));
		/* And a byte of the subject, which the signature covers. */
		memcpy(der, csrs[k].der, len);
		assert_non_null(memmem(der, len, "device-1", 8));
		((unsigned char *)memmem(der, len, "device-1", 8))[7] = '2';
		assert_int_equal(parse_check(der, len), LY_ERR_CSR_SIGNATURE);
		free(der);
	}
}

/* The key policy comes before the signature. */
static void
test_policy_before_signature(void **state)
{
	unsigned char *der;
	size_t len = csrs[K_RSA1024].derlen;

	(void)state;
	assert_non_null(der = malloc(len));
	memcpy(der, csrs[K_RSA1024].der, len);
	der[len - 1] ^= 0x01;
	assert_int_equal(parse_check(der, len), LY_ERR_KEY_POLICY);
	free(der);
}

/* ---- key policy -------------------------------------------------------- */

static void
test_policy_good(void **state)
{
	(void)state;
	check_der(K_P256, LY_OK, NULL);
	check_der(K_P384, LY_OK, NULL);
	check_der(K_RSA2048, LY_OK, NULL);
}

static void
test_policy_rsa(void **state)
{
	(void)state;
	check_der(K_RSA1024, LY_ERR_KEY_POLICY,
	    "RSA key of 1024 bits is below the profile minimum of 2048");
	prof.rsa_max_bits = 1536;
	check_der(K_RSA2048, LY_ERR_KEY_POLICY,
	    "RSA key of 2048 bits is above the profile maximum of 1536");
	prof.rsa_max_bits = 4096;
	check_der(K_RSA_E3, LY_ERR_KEY_POLICY,
	    "RSA public exponent must be odd, at least 65537 and below "
	    "2^256");
	prof.key_types &= ~CONF_ALLOW_RSA;
	check_der(K_RSA2048, LY_ERR_KEY_POLICY,
	    "RSA keys are not allowed by this profile");
}

static void
test_policy_ec(void **state)
{
	(void)state;
	check_der(K_K256, LY_ERR_KEY_POLICY,
	    "EC curve secp256k1 is not allowed (allowed: P-256, P-384)");
	prof.key_types &= ~CONF_ALLOW_EC_P384;
	check_der(K_P384, LY_ERR_KEY_POLICY,
	    "EC curve P-384 is not allowed (allowed: P-256)");
	check_der(K_P256, LY_OK, NULL);
	prof.key_types = CONF_ALLOW_EC_P384;
	check_der(K_P256, LY_ERR_KEY_POLICY,
	    "EC curve P-256 is not allowed (allowed: P-384)");
	prof.key_types = CONF_ALLOW_RSA;
	check_der(K_P256, LY_ERR_KEY_POLICY,
	    "EC keys are not allowed by this profile");
}

static void
test_policy_ed25519(void **state)
{
	(void)state;
	check_der(K_ED25519, LY_ERR_KEY_POLICY,
	    "Ed25519 keys are not allowed by this profile");
	prof.key_types |= CONF_ALLOW_ED25519;
	check_der(K_ED25519, LY_OK, NULL);
	/* PEM too. */
	assert_int_equal(parse_check(csrs[K_ED25519].pem,
	    csrs[K_ED25519].pemlen), LY_OK);
}

static void
test_policy_explicit_ec(void **state)
{
	X509_REQ *req;
	X509_PUBKEY *xpk;
	X509_ALGOR *alg;
	const void *pval;
	int ptype;

	(void)state;
	/* The test's CSR does carry explicit parameters: a SEQUENCE. */
	req = req_make(keys[K_EXPLICIT]);
	assert_non_null(xpk = X509_REQ_get_X509_PUBKEY(req));
	assert_int_equal(X509_PUBKEY_get0_param(NULL, NULL, NULL, &alg, xpk),
	    1);
	X509_ALGOR_get0(NULL, &ptype, &pval, alg);
	assert_int_equal(ptype, V_ASN1_SEQUENCE);

	/* Refused while parsing, before OpenSSL decodes the key ... */
	parse_bad(csrs[K_EXPLICIT].der, csrs[K_EXPLICIT].derlen,
	    LY_ERR_KEY_POLICY, "named curve");
	parse_bad(csrs[K_EXPLICIT].pem, csrs[K_EXPLICIT].pemlen,
	    LY_ERR_KEY_POLICY, "named curve");
	/* ... and by the key policy for a key from elsewhere. */
	assert_int_equal(ca_csr_check(&prof, req, keys[K_EXPLICIT]),
	    LY_ERR_KEY_POLICY);
	assert_string_equal(ly_errdetail(), "EC key with explicit curve "
	    "parameters is not allowed (RFC 5480 2.1.1)");
	assert_int_equal(ca_key_check(&prof, keys[K_EXPLICIT]),
	    LY_ERR_KEY_POLICY);
	X509_REQ_free(req);
}

static void
test_policy_other_types(void **state)
{
	static const char *types[] = { "X25519", "ED448", "X448" };
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey;
	char want[64];
	size_t i;

	(void)state;
	prof.key_types |= CONF_ALLOW_ED25519;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_non_null(pkey = EVP_PKEY_Q_keygen(NULL, NULL,
		    types[i]));
		assert_int_equal(ca_key_check(&prof, pkey), LY_ERR_KEY_POLICY);
		snprintf(want, sizeof(want), "%s keys are not allowed",
		    types[i]);
		assert_string_equal(ly_errdetail(), want);
		EVP_PKEY_free(pkey);
	}
	/* EVP_PKEY_Q_keygen() takes bits for "RSA" only. */
	assert_non_null(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS",
	    NULL));
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_true(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) > 0);
	pkey = NULL;
	assert_int_equal(EVP_PKEY_keygen(ctx, &pkey), 1);
	EVP_PKEY_CTX_free(ctx);
	assert_int_equal(ca_key_check(&prof, pkey), LY_ERR_KEY_POLICY);
	assert_non_null(strstr(ly_errdetail(), "RSA-PSS"));
	EVP_PKEY_free(pkey);
	assert_int_equal(ca_key_check(&prof, NULL), LY_ERR_KEY_POLICY);
}

/* ---- extension request attributes ---------------------------------------- */

/* X509_EXTENSIONS of one basicConstraints (ca) or subjectAltName. */
static STACK_OF(X509_EXTENSION) *
exts_make(int ca)
{
	STACK_OF(X509_EXTENSION) *exts;
	X509_EXTENSION *e;

	assert_non_null(exts = sk_X509_EXTENSION_new_null());
	e = ca ? X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
	    "critical,CA:TRUE") : X509V3_EXT_conf_nid(NULL, NULL,
	    NID_subject_alt_name, "DNS:a.example");
	assert_non_null(e);
	assert_true(sk_X509_EXTENSION_push(exts, e) > 0);
	return exts;
}

/* The DER of exts, an attribute value. */
static int
exts_der(STACK_OF(X509_EXTENSION) *exts, unsigned char **der)
{
	int len;

	*der = NULL;
	len = i2d_X509_EXTENSIONS((X509_EXTENSIONS *)exts, der);
	assert_true(len > 0);
	return len;
}

/* Adds an attribute nid of one value, exts. */
static void
attr_add(X509_REQ *req, int nid, STACK_OF(X509_EXTENSION) *exts)
{
	unsigned char *der;
	int len;

	len = exts_der(exts, &der);
	assert_int_equal(X509_REQ_add1_attr_by_NID(req, nid, V_ASN1_SEQUENCE,
	    der, len), 1);
	OPENSSL_free(der);
}

/*
 * OpenSSL 3.0 will not add an attribute twice, nor merge: the second
 * extensionRequest goes in as a pkcs9 emailAddress (an OID of the same
 * length), swapped for extensionRequest in the DER, which is read back.
 */
static X509_REQ *
req_swap_oid(X509_REQ *req)
{
	static const unsigned char email[] = { 0x06, 0x09, 0x2a, 0x86, 0x48,
	    0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01 };
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *back;
	int i, len, n = 0;

	/* Signed only to be encoded; signed again by the caller. */
	assert_true(X509_REQ_sign(req, keys[K_P256], EVP_sha256()) > 0);
	assert_true((len = i2d_X509_REQ(req, &der)) > 0);
	for (i = 0; i + (int)sizeof(email) <= len; i++)
		if (memcmp(der + i, email, sizeof(email)) == 0) {
			der[i + sizeof(email) - 1] = 0x0e;
			n++;
		}
	assert_int_equal(n, 1);
	p = der;
	assert_non_null(back = d2i_X509_REQ(NULL, &p, len));
	OPENSSL_free(der);
	X509_REQ_free(req);
	return back;
}

/*
 * A P-256 CSR with the attributes of how: 0 one extensionRequest with
 * SAN, 1 one with CA:TRUE, 2 two (SAN, then CA:TRUE), 3 one of two values
 * (SAN, CA:TRUE), 4 PKCS#9 and Microsoft's (SAN, then CA:TRUE). Signed
 * after the attributes are in, so only the policy can refuse it.
 */
static X509_REQ *
req_attrs(int how)
{
	STACK_OF(X509_EXTENSION) *san = exts_make(0), *ca = exts_make(1);
	X509_REQ *req;
	X509_ATTRIBUTE *a;
	unsigned char *der;
	int len;

	assert_non_null(req = X509_REQ_new());
	assert_int_equal(X509_REQ_set_pubkey(req, keys[K_P256]), 1);
	if (how != 1)
		attr_add(req, NID_ext_req, san);
	if (how == 1)
		attr_add(req, NID_ext_req, ca);
	if (how == 2) {
		attr_add(req, NID_pkcs9_emailAddress, ca);
		req = req_swap_oid(req);
	}
	if (how == 3) {
		assert_non_null(a = X509_REQ_get_attr(req, 0));
		len = exts_der(ca, &der);
		assert_int_equal(X509_ATTRIBUTE_set1_data(a, V_ASN1_SEQUENCE,
		    der, len), 1);
		OPENSSL_free(der);
	}
	if (how == 4)
		attr_add(req, NID_ms_ext_req, ca);
	assert_true(X509_REQ_sign(req, keys[K_P256], EVP_sha256()) > 0);
	sk_X509_EXTENSION_pop_free(san, X509_EXTENSION_free);
	sk_X509_EXTENSION_pop_free(ca, X509_EXTENSION_free);
	return req;
}

static void
test_ext_request_attrs(void **state)
{
	static const struct {
		int		 how, r;
		const char	*detail;
	} cases[] = {
		{ 0, LY_OK, NULL },
		{ 1, LY_ERR_POLICY, "CSR asks to be a CA" },
		{ 2, LY_ERR_BAD_CSR, "CSR has more than one extensionRequest "
		    "attribute" },
		{ 3, LY_ERR_BAD_CSR, "CSR: its extensionRequest attribute has "
		    "2 values, not one" },
		{ 4, LY_ERR_BAD_CSR, "CSR has more than one extensionRequest "
		    "attribute" },
	};
	X509_REQ *req, *back;
	unsigned char *der = NULL;
	EVP_PKEY *pkey;
	size_t i;
	int len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = req_attrs(cases[i].how);
		/* Through the one door, as a client would send it. */
		assert_true((len = i2d_X509_REQ(req, &der)) > 0);
		assert_int_equal(ca_csr_parse(der, (size_t)len, &back, &pkey),
		    LY_OK);
		ly_errclear();
		assert_int_equal(ca_csr_check(&prof, back, pkey), cases[i].r);
		if (cases[i].detail != NULL)
			assert_string_equal(ly_errdetail(), cases[i].detail);
		EVP_PKEY_free(pkey);
		X509_REQ_free(back);
		OPENSSL_free(der);
		der = NULL;
		X509_REQ_free(req);
	}
}

/*
 * tests/vectors/csr/bad/two-extension-requests.der (made once with
 * OpenSSL, see its .txt): SAN in the first attribute, CA:TRUE in the
 * second.
 */
static void
test_ext_request_vector(void **state)
{
	const char *srcdir = getenv("srcdir");
	char path[4096];
	unsigned char *der = NULL;
	size_t len;
	X509_REQ *req;
	EVP_PKEY *pkey;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/vectors/csr/bad/"
	    "two-extension-requests.der", srcdir != NULL ? srcdir : ".");
	assert_int_equal(ly_file_read(path, 65536, &der, &len), LY_OK);
	assert_int_equal(ca_csr_parse(der, len, &req, &pkey), LY_OK);
	assert_int_equal(ca_csr_check(&prof, req, pkey), LY_ERR_BAD_CSR);
	assert_string_equal(ly_errdetail(), "CSR has more than one "
	    "extensionRequest attribute");
	EVP_PKEY_free(pkey);
	X509_REQ_free(req);
	free(der);
}

#define T(f)	cmocka_unit_test_setup(f, prof_reset)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_good),
		T(test_parse_empty_and_size),
		T(test_parse_bad_der),
		T(test_parse_bad_pem),
		T(test_parse_version),
		T(test_parse_key),
		T(test_signature_flipped),
		T(test_policy_before_signature),
		T(test_policy_good),
		T(test_policy_rsa),
		T(test_policy_ec),
		T(test_policy_ed25519),
		T(test_policy_explicit_ec),
		T(test_policy_other_types),
		T(test_ext_request_attrs),
		T(test_ext_request_vector),
	};

	return cmocka_run_group_tests(tests, setup_csr, teardown_csr);
}
