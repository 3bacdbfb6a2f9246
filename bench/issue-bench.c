/*
 * issue-bench — certificates issued per second through ca_issue() (the
 * code path of `ca-admin issue`, in one process), beside the raw signing
 * rate of the same HSM key measured by the same program. See bench/issue.
 *
 * usage: issue-bench DIR [SECONDS]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ca/ca.h"
#include "hsm/hsm.h"
#include "util/util.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One signature over a SHA-256-sized message: what the HSM does per certificate. */
static int
sign_blob(void *arg, EVP_MD_CTX *ctx)
{
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);

	return EVP_DigestSign(ctx, sig, &siglen, arg, 32);
}

static unsigned char *
make_csr(size_t *lenp)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char *out;
	char *data;
	long len;

	X509_REQ_set_pubkey(req, k);
	X509_REQ_sign(req, k, EVP_sha256());
	PEM_write_bio_X509_REQ(b, req);
	len = BIO_get_mem_data(b, &data);
	out = malloc((size_t)len);
	memcpy(out, data, (size_t)len);
	*lenp = (size_t)len;
	BIO_free(b);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return out;
}

int
main(int argc, char **argv)
{
	const struct conf *conf;
	struct ca *ca = NULL;
	struct hsm_key *key = NULL;
	struct ca_request rq;
	struct ca_serial serial;
	unsigned char blob[32] = { 1 }, *csr;
	char *pin = NULL;
	double secs = argc > 2 ? atof(argv[2]) : 5, t0, t, raw;
	long nsig = 0, ncert = 0;
	X509 *x;
	size_t csrlen;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: issue-bench DIR [SECONDS]\n");
		return 2;
	}
	ly_log_setlevel(LY_LOG_ERR);
	if ((r = ca_open(argv[1], 0, &ca)) != LY_OK)
		goto fail;
	conf = ca_conf(ca);

	/* Raw: the issuing CA's key, opened on its own, signing in a loop. */
	if ((r = hsm_init(conf->hsm_module, conf->softhsm2_conf)) != LY_OK ||
	    (r = hsm_pin_load(conf->issuing.pin_file, conf->issuing.pin_env,
	    &pin)) != LY_OK ||
	    (r = hsm_key_open(conf->issuing.key_uri, pin,
	    conf->issuing.rsa_padding, &key)) != LY_OK)
		goto fail;
	t0 = now_s();
	do {
		if ((r = hsm_sign(key, sign_blob, blob)) != LY_OK)
			goto fail;
		nsig++;
	} while ((t = now_s() - t0) < secs);
	raw = nsig / t;
	printf("raw HSM signatures:   %8.0f /s  (%ld in %.1f s, %s)\n",
	    raw, nsig, t, conf_keytype_name(conf->issuing.key_type));
	hsm_key_free(key);
	key = NULL;

	/* Issuance: CSR check, durable reservation, sign, verify, durable store. */
	csr = make_csr(&csrlen);
	memset(&rq, 0, sizeof(rq));
	rq.profile = "client";
	rq.csr = csr;
	rq.csrlen = csrlen;
	rq.identity.kind = CONF_ID_JSON;
	rq.identity.value = "{\"platform\":\"linux\",\"userId\":42}";
	rq.actor = "bench";
	t0 = now_s();
	do {
		if ((r = ca_issue(ca, &rq, &x, &serial)) != LY_OK)
			goto fail;
		X509_free(x);
		ncert++;
	} while ((t = now_s() - t0) < secs);
	printf("certificates issued:  %8.0f /s  (%ld in %.1f s)\n",
	    ncert / t, ncert, t);
	printf("ratio issued/raw:     %8.3f\n", (ncert / t) / raw);
	free(csr);
	hsm_pin_free(pin);
	ca_close(ca);
	return 0;
 fail:
	fprintf(stderr, "issue-bench: %s: %s\n", ly_strerror(r),
	    ly_errdetail());
	hsm_pin_free(pin);
	hsm_key_free(key);
	ca_close(ca);
	return 1;
}
