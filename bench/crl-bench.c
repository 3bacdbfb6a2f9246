/*
 * crl-bench — time and peak memory of one full CRL of the issuing CA with
 * N entries (crl_generate(): the pass over the store, encoding, the HSM
 * signature and its check, and the durable record). See bench/crl.
 *
 * usage: crl-bench DIR N      (DIR made by `ca-admin init`)
 *
 * N revoked records are first put straight into the store, 10,000 per
 * write transaction, with fresh random serials. That happens in a child
 * process that then exits; the CRL is made in a second child forked from
 * the small parent, so the peak RSS it reports (getrusage ru_maxrss of
 * that child) is the generation's own plus the process's baseline
 * (libraries, SoftHSM), which is printed beside it.
 *
 * Output, one line: entries=N seconds=S bytes=B peak_rss_kib=K
 * base_rss_kib=K0
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "crl/crl.h"
#include "util/util.h"
#define BENCH_PROG	"crl-bench"
#include "bench/bench.h"

#define BATCH	10000

static long
maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/*
 * N revoked leaves of the issuing CA, as ca_revoke() leaves them but
 * without certificates (the store does not need the DER; a CRL reads
 * only the revoked index). Revoked over the last 30 days, keyCompromise.
 */
static int
insert(const char *dir, long n)
{
	struct ca *ca = NULL;
	struct store_txn *txn = NULL;
	struct store_cert rec;
	time_t now = time(NULL);
	long i, j;
	int r;

	if ((r = ca_open(dir, CA_OPEN_NO_HSM, &ca)) != LY_OK)
		return bench_fail("ca_open", r);
	srandom(1);
	for (i = 0; i < n; i += BATCH) {
		if ((r = store_txn_begin(ca_store(ca), 1, &txn)) != LY_OK)
			return bench_fail("store_txn_begin", r);
		for (j = i; j < n && j < i + BATCH; j++) {
			memset(&rec, 0, sizeof(rec));
			rec.status = STORE_RESERVED;
			rec.ca = CA_ISSUING;
			rec.reason = -1;
			strcpy(rec.profile, "client");
			rec.created = rec.not_before = now - 86400 * 60;
			if ((r = ca_serial_new(&rec.serial)) != LY_OK ||
			    (r = store_cert_reserve(txn, &rec)) != LY_OK)
				return bench_fail("store_cert_reserve", r);
			rec.status = STORE_REVOKED;
			rec.not_after = now + 86400 * 30;
			rec.reason = 1;
			rec.revoked_at = now - random() % (86400 * 30);
			if ((r = store_cert_put(txn, &rec)) != LY_OK)
				return bench_fail("store_cert_put", r);
		}
		if ((r = store_txn_commit(txn)) != LY_OK)
			return bench_fail("store_txn_commit", r);
	}
	ca_close(ca);
	return 0;
}

static int
make_instance(const char *dir)
{
	struct ca *ca = NULL;
	struct hsm_key *key;
	struct store_txn *txn;
	struct crl_id id;
	struct crl_info info;
	const unsigned char *der;
	size_t len;
	long base;
	double t0, t;
	int r;

	if ((r = ca_open(dir, 0, &ca)) != LY_OK)
		return bench_fail("ca_open", r);
	/* Token start-up and login are not the CRL's cost. */
	if ((r = ca_key(ca, CA_ISSUING, &key)) != LY_OK)
		return bench_fail("ca_key", r);
	base = maxrss_kib();
	memset(&id, 0, sizeof(id));
	id.slot = CA_ISSUING;
	id.shard = -1;
	t0 = bench_now();
	if ((r = crl_generate(ca, &id, "bench", &info)) != LY_OK)
		return bench_fail("crl_generate", r);
	t = bench_now() - t0;
	printf("entries=%zu seconds=%.3f ", info.entries, t);
	/* Peak first: reading the CRL back would map it into memory. */
	printf("peak_rss_kib=%ld base_rss_kib=%ld ", maxrss_kib(), base);
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK ||
	    (r = crl_get(txn, ca, &id, &der, &len, NULL)) != LY_OK)
		return bench_fail("crl_get", r);
	printf("bytes=%zu\n", len);
	store_txn_abort(txn);
	ca_close(ca);
	return 0;
}

/* Runs fn(dir) in a child; its exit status. */
static int
in_child(int (*fn)(const char *), const char *dir)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return 1;
	if (pid == 0) {
		st = fn(dir);
		fflush(NULL);
		_exit(st);
	}
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		return 1;
	return WEXITSTATUS(st);
}

static long nrec;

static int
insert_n(const char *dir)
{
	return insert(dir, nrec);
}

int
main(int argc, char **argv)
{
	double t0;

	if (argc != 3 || (nrec = atol(argv[2])) < 0) {
		fprintf(stderr, "usage: crl-bench DIR N\n");
		return 2;
	}
	ly_log_setlevel(LY_LOG_ERR);
	t0 = bench_now();
	if (in_child(insert_n, argv[1]) != 0)
		return 1;
	fprintf(stderr, "crl-bench: %ld revoked records stored in %.1f s\n",
	    nrec, bench_now() - t0);
	return in_child(make_instance, argv[1]);
}
