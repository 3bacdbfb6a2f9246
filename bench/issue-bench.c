/*
 * issue-bench — certificates issued per second through ca_issue() (the
 * code path of `ca-admin issue`, and of ca-server's enrollment threads
 * when run from several threads), beside the raw signing rate of the same
 * HSM key measured by the same program. See bench/issue.
 *
 * usage: issue-bench [-r] [-t N[,N...]] DIR [SECONDS]
 *
 * -t: issue from N threads at once on one shared struct ca, as ca-server
 * does from its libmicrohttpd threads; a list measures each count in
 * turn (default 1). The raw rate is one thread's by default; with -t N
 * the N threads sign on the key's pool of sessions ([hsm] sessions), as
 * far as SoftHSM lets them run in parallel (docs/performance.md).
 * -r: the raw signing rate only (bench/enroll's limit), signed from the
 * first N of -t threads on the one key; nothing is issued.
 */
#include "config.h"

#include <sys/resource.h>

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
#include "bench/bench.h"

#define MAX_THREADS	256
#define MAX_COUNTS	16

struct worker {
	struct ca	*ca;
	const struct ca_request *rq;
	pthread_barrier_t *start;
	double		 secs;
	long		 n;
	int		 r;
	char		 detail[512];
	double		 t;
};

/*
 * CPU seconds of the whole process, user and system: on a shared
 * machine the CPU a certificate costs is steadier than the rate.
 */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
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
	double t0 = bench_now();

	do {
		if ((a->r = hsm_sign(a->key, sign_blob, blob)) != LY_OK)
			break;
		a->n++;
	} while (bench_now() - t0 < a->secs);
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
	double t0 = bench_now();
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
	*tp = bench_now() - t0;
	return r;
}

/* Issues until the time is up; every thread starts at the barrier. */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct ca_serial serial;
	double t0;
	X509 *x;

	pthread_barrier_wait(w->start);
	t0 = bench_now();
	do {
		if ((w->r = ca_issue(w->ca, w->rq, &x, &serial)) != LY_OK) {
			/* The detail is per thread: copy it for main(). */
			snprintf(w->detail, sizeof(w->detail), "%s",
			    ly_errdetail());
			break;
		}
		X509_free(x);
		w->n++;
	} while ((w->t = bench_now() - t0) < w->secs);
	return NULL;
}

/* Issuance from n threads at once: CSR check, durable reservation, sign, verify, durable store. */
static int
issue_threads(struct ca *ca, const struct ca_request *rq, int n, double secs,
    double raw)
{
	struct worker w[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	pthread_barrier_t start;
	struct ca_commit_stats s0, s1;
	long total = 0;
	double t = 0, c0, c1;
	int i, r = LY_OK;

	ca_commit_stats(ca, &s0);
	c0 = cpu_s();
	pthread_barrier_init(&start, NULL, (unsigned)n);
	memset(w, 0, sizeof(w));
	for (i = 0; i < n; i++) {
		w[i].ca = ca;
		w[i].rq = rq;
		w[i].start = &start;
		w[i].secs = secs;
		if (pthread_create(&th[i], NULL, worker_run, &w[i]) != 0) {
			fprintf(stderr, "issue-bench: pthread_create failed\n");
			exit(1);
		}
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		total += w[i].n;
		if (w[i].t > t)
			t = w[i].t;
		if (w[i].r != LY_OK && r == LY_OK) {
			r = w[i].r;
			ly_fail(r, "%s", w[i].detail);
		}
	}
	pthread_barrier_destroy(&start);
	if (r != LY_OK)
		return r;
	c1 = cpu_s();
	ca_commit_stats(ca, &s1);
	/* Two writes per certificate: the reservation and the record. */
	printf("certificates issued:  %8.0f /s  (%ld in %.1f s, %d thread%s)"
	    "  ratio issued/raw %.3f  CPU %.2f ms/cert"
	    "  writes/commit %.2f (max %zu)\n",
	    total / t, total, t, n, n == 1 ? "" : "s", (total / t) / raw,
	    total > 0 ? (c1 - c0) * 1e3 / (double)total : 0.0,
	    s1.commits > s0.commits ? (double)(s1.writes - s0.writes) /
	    (double)(s1.commits - s0.commits) : 0.0, s1.max_batch);
	fflush(stdout);
	return LY_OK;
}

static int
parse_counts(char *s, int *counts)
{
	char *p, *end;
	long v;
	int n = 0;

	for (p = strtok(s, ","); p != NULL; p = strtok(NULL, ",")) {
		v = strtol(p, &end, 10);
		if (*end != '\0' || v < 1 || v > MAX_THREADS || n == MAX_COUNTS)
			return -1;
		counts[n++] = (int)v;
	}
	return n;
}

int
main(int argc, char **argv)
{
	const struct conf *conf;
	struct ca *ca = NULL;
	struct hsm_key *key = NULL;
	struct ca_request rq;
	unsigned char *csr = NULL;
	char *pin = NULL;
	double secs, t, raw;
	long nsig = 0;
	size_t csrlen;
	int counts[MAX_COUNTS] = { 1 }, ncounts = 1, c, i, r, rawonly = 0;
	int rawthreads;

	while ((c = getopt(argc, argv, "rt:")) != -1) {
		switch (c) {
		case 'r':
			rawonly = 1;
			break;
		case 't':
			if ((ncounts = parse_counts(optarg, counts)) <= 0) {
				fprintf(stderr, "issue-bench: -t takes thread "
				    "counts 1 to %d, comma-separated\n",
				    MAX_THREADS);
				return 2;
			}
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		goto usage;
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
	/* raw_rate() has room for 64. */
	rawthreads = !rawonly ? 1 : counts[0] > 64 ? 64 : counts[0];
	if ((r = raw_rate(key, rawthreads, secs, &nsig, &t)) != LY_OK)
		goto fail;
	raw = nsig / t;
	printf("raw HSM signatures:   %8.0f /s  (%ld in %.1f s, %s, "
	    "%d thread%s)\n", raw, nsig, t,
	    conf_keytype_name(conf->issuing.key_type), rawthreads,
	    rawthreads > 1 ? "s" : "");
	fflush(stdout);
	hsm_key_free(key);
	key = NULL;
	if (rawonly) {
		hsm_pin_free(pin);
		ca_close(ca);
		return 0;
	}

	if ((csr = (unsigned char *)bench_csr_pem("bench")) == NULL) {
		r = LY_ERR_ALLOC;
		goto fail;
	}
	csrlen = strlen((char *)csr);
	memset(&rq, 0, sizeof(rq));
	rq.profile = "client";
	rq.csr = csr;
	rq.csrlen = csrlen;
	rq.identity.kind = CONF_ID_JSON;
	rq.identity.value = "{\"platform\":\"linux\",\"userId\":42}";
	rq.actor = "bench";
	for (i = 0; i < ncounts; i++)
		if ((r = issue_threads(ca, &rq, counts[i], secs, raw)) != LY_OK)
			goto fail;
	free(csr);
	hsm_pin_free(pin);
	ca_close(ca);
	return 0;
 fail:
	fprintf(stderr, "issue-bench: %s: %s\n", ly_strerror(r),
	    ly_errdetail());
	free(csr);
	hsm_pin_free(pin);
	hsm_key_free(key);
	ca_close(ca);
	return 1;
 usage:
	fprintf(stderr, "usage: issue-bench [-r] [-t N[,N...]] DIR [SECONDS]\n");
	return 2;
}
