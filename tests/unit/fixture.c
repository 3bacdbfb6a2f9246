/* tests/unit/fixture.c — see fixture.h. */
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "tests/unit/fixture.h"
#include "util/util.h"

unsigned char *
fixture_csr(const char *cn, const char *san, int pem, size_t *lenp)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char *out;
	char *data;
	long len;

	assert_non_null(k);
	assert_non_null(req);
	if (cn != NULL)
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
		    (const unsigned char *)cn, -1, -1, 0);
	X509_REQ_set_subject_name(req, n);
	X509_REQ_set_pubkey(req, k);
	if (san != NULL) {
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, san));
		X509_REQ_add_extensions(req, exts);
	}
	assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
	assert_true(pem ? PEM_write_bio_X509_REQ(b, req) :
	    i2d_X509_REQ_bio(b, req));
	len = BIO_get_mem_data(b, &data);
	out = malloc((size_t)len);
	assert_non_null(out);
	memcpy(out, data, (size_t)len);
	*lenp = (size_t)len;
	BIO_free(b);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(n);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return out;
}

const char *
fixture_softhsm_module(void)
{
	const char	*m = getenv("SOFTHSM2_MODULE");

	return m != NULL && *m != '\0' ? m : "/usr/lib/softhsm/libsofthsm2.so";
}

X509 *
fixture_cert(EVP_PKEY *key, const char *cn, long serial)
{
	X509		*x;
	X509_NAME	*name;

	assert_non_null(x = X509_new());
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial),
	    1);
	assert_non_null(name = X509_NAME_new());
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	X509_NAME_free(name);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	return x;
}

int
fixture_instance(const char *prefix, enum conf_keytype kt,
    const char *config, char *base, char *dir)
{
	snprintf(base, 64, "%s-XXXXXX", prefix);
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(dir, 80, "%s/i", base);
	ly_log_setlevel(LY_LOG_ERR);
	if (ca_init(dir, kt, config) != LY_OK) {
		fprintf(stderr, "ca_init: %s\n", ly_errdetail());
		return -1;
	}
	return 0;
}

void
fixture_remove(const char *base)
{
	if (ly_remove_tree(base, 0) != LY_OK)
		fprintf(stderr, "%s\n", ly_errdetail());
}
