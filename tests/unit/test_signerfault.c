/*
 * tests/unit/test_signerfault.c — the OCSP signer across a token that is
 * away for a moment: through the PKCS#11 shim (tests/shim/p11shim.c),
 * C_GetTokenInfo shows the issuing CA's token as uninitialised (what
 * SoftHSM shows while another process rewrites its token.object) when the
 * signer's key is opened. No new signer key may be made: the store says
 * the key exists, so it is opened again later, never replaced, and the
 * count of signer keys on the token stays what it was.
 *
 * The shim is $P11SHIM (set by make check); without it the test is
 * skipped, and fails under CI=true.
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
#include "hsm/hsm.h"
#include "hsm/extern.h"
#include "ocsp/ocsp.h"
#include "ocsp/extern.h"
#include "tests/unit/fixture.h"
#include "util/util.h"

struct fixture {
	char		 base[64], dir[80], faults[128];
	struct ca	*ca;
};

static void
signer_faults_set(struct fixture *f, const char *text)
{
	FILE *fp;

	assert_non_null(fp = fopen(f->faults, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/*
 * The private keys on the issuing CA's token: how many, and whether one
 * is labelled label.
 */
static size_t
keys_count(struct fixture *f, const char *label, int *hasp)
{
	const struct conf_ca *cc = &ca_conf(f->ca)->issuing;
	CK_OBJECT_HANDLE hs[HSM_FIND_MAX];
	CK_SESSION_HANDLE s;
	struct hsm_uri u;
	char *pin = NULL;
	size_t n, m;

	assert_int_equal(hsm_pin_load(cc->pin_file, cc->pin_env, &pin), 0);
	assert_int_equal(hsm_uri_parse(cc->key_uri, 0, &u), 0);
	hsm_admin_lock();
	assert_int_equal(hsm_session_open(&u, pin, 0, &s, NULL), 0);
	assert_int_equal(hsm_objects_find(s, CKO_PRIVATE_KEY, NULL, NULL, 0,
	    hs, HSM_FIND_MAX, &n), 0);
	assert_int_equal(hsm_objects_find(s, CKO_PRIVATE_KEY, label, NULL, 0,
	    hs, HSM_FIND_MAX, &m), 0);
	*hasp = m > 0;
	hsm_session_close(s);
	hsm_admin_unlock();
	hsm_uri_clear(&u);
	hsm_pin_free(pin);
	return n;
}

/* The responder's current signer is the key labelled label. */
static void
label_check(struct ocsp_responder *resp, const char *label)
{
	struct ca_signer *s = ca_signers_get(resp->signers, CA_ISSUING);

	assert_non_null(s);
	assert_string_equal(ca_signer_label(s), label);
	ca_signer_put(s);
}

static int
setup_signer(void **state)
{
	struct fixture *f;
	const char *shim = getenv("P11SHIM");
	unsigned char *text = NULL;
	char path[128], *conf = NULL, *p;
	size_t len;
	struct hsm_key *k;
	struct ocsp_responder *resp = NULL;

	if (shim == NULL || *shim == '\0')
		return 0;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    fixture_instance("/tmp/lanyard-signerfault", CONF_KEY_EC_P256,
	    NULL, f->base, f->dir) != 0)
		return -1;
	/* Every later opening goes through the shim, wrapping SoftHSM. */
	snprintf(path, sizeof(path), "%s/ca.conf", f->dir);
	snprintf(f->faults, sizeof(f->faults), "%s/faults", f->base);
	if (ly_file_read(path, 65536, &text, &len) != 0 ||
	    (p = strstr((char *)text, "module = ")) == NULL)
		return -1;
	*p = '\0';
	if (asprintf(&conf, "%smodule = %s%s", (char *)text, shim,
	    strchr(p + 1, '\n')) == -1 ||
	    ly_file_write_atomic(path, conf, strlen(conf), 0640) != 0)
		return -1;
	free(text);
	free(conf);
	setenv("SHIM_MODULE", "/usr/lib/softhsm/libsofthsm2.so", 0);
	setenv("SHIM_FAULT_FILE", f->faults, 1);
	signer_faults_set(f, "");
	/* The first responder makes ocsp-signer-1, as ca-admin init does. */
	if (ca_open(f->dir, 0, &f->ca) != LY_OK ||
	    ca_key(f->ca, CA_ISSUING, &k) != LY_OK ||
	    ocsp_responder_new(f->ca, &resp) != LY_OK) {
		fprintf(stderr, "setup: %s\n", ly_errdetail());
		return -1;
	}
	ocsp_responder_free(resp);
	*state = f;
	return 0;
}

static int
teardown_signer(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	ca_close(f->ca);
	fixture_remove(f->base);
	free(f);
	return 0;
}

/*
 * The token shows as uninitialised at every C_GetTokenInfo, then for the
 * first K calls only (K from 1 up: the fault ends somewhere inside the
 * signer's opening, or its retry after re-initialising the module): the
 * responder comes up with ocsp-signer-1 or not at all (LY_ERR_HSM, to be
 * retried), and the token holds the same keys.
 */
static void
test_transient_no_rotation(void **state)
{
	static const char *rules[] = {
		"tokeninfo:uninit:*", "tokeninfo:uninit:1",
		"tokeninfo:uninit:2", "tokeninfo:uninit:3",
		"tokeninfo:uninit:5", "tokeninfo:uninit:8",
		"tokeninfo:CKR_TOKEN_NOT_PRESENT:*",
		"tokeninfo:CKR_DEVICE_ERROR:2",
	};
	struct fixture *f = *state;
	struct ocsp_responder *resp = NULL;
	size_t n0, n, i;
	int has, r;

	if (f == NULL) {
		if (getenv("CI") != NULL && strcmp(getenv("CI"), "true") == 0)
			fail_msg("no PKCS#11 shim (P11SHIM) in CI");
		skip();
	}
	n0 = keys_count(f, "ocsp-signer-1", &has);
	assert_true(has);
	assert_int_equal(n0, 2);	/* the issuing CA's and the signer's */
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		signer_faults_set(f, rules[i]);
		r = ocsp_responder_new(f->ca, &resp);
		signer_faults_set(f, "");
		if (r == LY_OK) {
			label_check(resp, "ocsp-signer-1");
			ocsp_responder_free(resp);
			resp = NULL;
		} else {
			assert_int_equal(r, LY_ERR_HSM);
			assert_null(resp);
		}
		n = keys_count(f, "ocsp-signer-2", &has);
		if (n != n0 || has)
			fail_msg("%s: %zu keys (was %zu), ocsp-signer-2 %s",
			    rules[i], n, n0, has ? "made" : "not made");
	}
	/* With the token back, the recorded signer serves. */
	assert_int_equal(ocsp_responder_new(f->ca, &resp), LY_OK);
	label_check(resp, "ocsp-signer-1");
	ocsp_responder_free(resp);
	assert_int_equal(keys_count(f, "ocsp-signer-1", &has), n0);
	assert_true(has);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transient_no_rotation),
	};

	return cmocka_run_group_tests(tests, setup_signer, teardown_signer);
}
