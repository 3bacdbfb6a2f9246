/*
 * issue-bench — certificates issued per second through ca_issue() (the
 * code path of `ca-admin issue`, in one process), beside the raw signing
 * rate of the same HSM key measured by the same program. See bench/issue.
 *
 * usage: issue-bench [-r] [-t THREADS] DIR [SECONDS]
 *   -r          raw signatures only (bench/enroll's limit): no issuance
 *   -t THREADS  sign from THREADS threads on the one key, as ca-server's
 *               thread pool does (default 1); issuance stays on one
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

struct raw_arg {
	struct hsm_key	*key;
	double		 secs;
	long		 n;
	int		 r;
};

/* One signing thread: hsm_sign() in a loop for a->secs. */
static void *
raw_loop(void *arg)
{
	struct raw_arg *a = arg;
	unsigned char blob[32] = { 1 };
	double t0 = now_s();

	do {
		if ((a->r = hsm_sign(a->key, sign_blob, blob)) != LY_OK)
			break;
		a->n++;
	} while (now_s() - t0 < a->secs);
	return NULL;
}

/*
 * Raw signatures over nthreads threads sharing key for secs: *np is their
 * count, *tp the wall time until the last thread stopped.
 */
static int
raw_rate(struct hsm_key *key, int nthreads, double secs, long *np,
    double *tp)
{
	struct raw_arg a[64];
	pthread_t th[64];
	double t0 = now_s();
	long n = 0;
	int i, r = LY_OK;

	memset(a, 0, sizeof(a));
	for (i = 0; i < nthreads; i++) {
		a[i].key = key;
		a[i].secs = secs;
		if (pthread_create(&th[i], NULL, raw_loop, &a[i]) != 0) {
			nthreads = i;
			r = ly_fail(LY_ERR_INTERNAL, "pthread_create failed");
			break;
		}
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		n += a[i].n;
		if (a[i].r != LY_OK)
			r = a[i].r;
	}
	*np = n;
	*tp = now_s() - t0;
	return r;
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
	unsigned char *csr;
	char *pin = NULL;
	double secs, t0, t, raw;
	long nsig = 0, ncert = 0;
	X509 *x;
	size_t csrlen;
	int c, r, rawonly = 0, nthreads = 1;

	while ((c = getopt(argc, argv, "rt:")) != -1) {
		switch (c) {
		case 'r':
			rawonly = 1;
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2 || nthreads < 1 || nthreads > 64) {
 usage:
		fprintf(stderr, "usage: issue-bench [-r] [-t THREADS] DIR "
		    "[SECONDS]\n");
		return 2;
	}
	secs = argc > 1 ? atof(argv[1]) : 5;
	ly_log_setlevel(LY_LOG_ERR);
	if ((r = ca_open(argv[0], 0, &ca)) != LY_OK)
		goto fail;
	conf = ca_conf(ca);

	/* Raw: the issuing CA's key, opened on its own, signing in a loop. */
	if ((r = hsm_init(conf->hsm_module, conf->softhsm2_conf)) != LY_OK ||
	    (r = hsm_pin_load(conf->issuing.pin_file, conf->issuing.pin_env,
	    &pin)) != LY_OK ||
	    (r = hsm_key_open(conf->issuing.key_uri, pin,
	    conf->issuing.rsa_padding, &key)) != LY_OK)
		goto fail;
	if ((r = raw_rate(key, nthreads, secs, &nsig, &t)) != LY_OK)
		goto fail;
	raw = nsig / t;
	printf("raw HSM signatures:   %8.0f /s  (%ld in %.1f s, %s, "
	    "%d thread%s)\n", raw, nsig, t,
	    conf_keytype_name(conf->issuing.key_type), nthreads,
	    nthreads > 1 ? "s" : "");
	hsm_key_free(key);
	key = NULL;
	if (rawonly) {
		hsm_pin_free(pin);
		ca_close(ca);
		return 0;
	}

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
