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
#include "ca/store.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"
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

void
fixture_faults_set(const char *path, const char *text)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

char *
fixture_faults_get(const char *path)
{
	static char	 buf[1024];
	FILE		*fp;
	size_t		 n = 0;

	if ((fp = fopen(path, "r")) != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
	return buf;
}

int
fixture_wait_recovered(struct hsm_key *k, int tries)
{
	int	i;

	for (i = 0; i < tries; i++) {
		if (hsm_key_check(k) == 0)
			return 0;
		usleep(100000);
	}
	return -1;
}

void
fixture_token_logout(void)
{
	CK_FUNCTION_LIST_PTR f = hsm_p11();
	CK_SLOT_ID	 slots[16];
	CK_SESSION_HANDLE s;
	CK_ULONG	 n = 16, i;

	assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	for (i = 0; i < n; i++)
		if (f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL,
		    &s) == CKR_OK) {
			(void)f->C_Logout(s);
			(void)f->C_CloseSession(s);
		}
}

struct audit_count {
	const char	*action;
	size_t		 n;
};

static int
fixture_audit_cb(const struct store_audit_entry *e, void *arg)
{
	struct audit_count *ac = arg;

	if (strcmp(e->action, ac->action) == 0)
		ac->n++;
	return 0;
}

size_t
fixture_audit_count(struct ca *ca, const char *action)
{
	struct audit_count ac = { action, 0 };
	struct store_txn *txn;

	assert_int_equal(store_txn_begin(ca_store(ca), 0, &txn), LY_OK);
	assert_int_equal(store_audit_verify(txn, NULL), LY_OK);
	assert_int_equal(store_audit_foreach(txn, fixture_audit_cb, &ac),
	    LY_OK);
	store_txn_abort(txn);
	return ac.n;
}

X509 *
fixture_issue_user(struct ca *ca, const char *profile,
    const unsigned char *csr, size_t csrlen, int user, struct ca_serial *sp)
{
	struct ca_request rq;
	char json[64];
	X509 *x = NULL;

	snprintf(json, sizeof(json), "{\"userId\":%d}", user);
	memset(&rq, 0, sizeof(rq));
	rq.profile = profile;
	rq.csr = csr;
	rq.csrlen = csrlen;
	rq.identity.kind = CONF_ID_JSON;
	rq.identity.value = json;
	rq.actor = "test";
	assert_int_equal(ca_issue(ca, &rq, &x, sp), LY_OK);
	return x;
}

struct store_cert *
fixture_record(struct ca *ca, const struct ca_serial *serial)
{
	struct store_txn *txn = NULL;
	struct store_cert *c = NULL;

	assert_int_equal(store_txn_begin(ca_store(ca), 0, &txn), LY_OK);
	assert_int_equal(store_cert_get(txn, serial, &c), LY_OK);
	store_txn_abort(txn);
	return c;
}
