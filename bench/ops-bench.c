/*
 * ops-bench — fills a store fast for bench/ops (backup and restore of a
 * large instance).
 *
 * usage: ops-bench fill DIR N     N valid client certificates
 *        ops-bench revoke DIR     every valid client certificate revoked
 *
 * fill issues one real certificate through ca_issue() and stores N
 * records with its DER (so each record has the size of a real one) under
 * fresh random serials and their own identities, 10,000 per write
 * transaction. revoke marks them revoked the same way (as ca_revoke()
 * leaves a record, without the per-revocation OCSP signature), so that
 * `ca-admin crl publish` then makes a CRL of N entries.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "util/util.h"
#define BENCH_PROG	"ops-bench"
#include "bench/bench.h"

#define BATCH	10000

static int
fill(const char *dir, long n)
{
	struct ca *ca = NULL;
	struct ca_request rq;
	struct ca_serial s;
	struct store_txn *txn = NULL;
	struct store_cert rec;
	unsigned char *csr, *der = NULL;
	char id[64];
	size_t csrlen = 0;
	time_t now = time(NULL);
	X509 *x = NULL;
	long i, j;
	int derlen, r;

	if ((r = ca_open(dir, 0, &ca)) != LY_OK)
		return bench_fail("ca_open", r);
	if ((csr = (unsigned char *)bench_csr_pem("ops-bench")) == NULL)
		return bench_fail("csr", LY_ERR_INTERNAL);
	csrlen = strlen((char *)csr);
	memset(&rq, 0, sizeof(rq));
	rq.profile = "client";
	rq.csr = csr;
	rq.csrlen = csrlen;
	rq.identity.kind = CONF_ID_JSON;
	rq.identity.value = (char *)"{\"userId\":0}";
	rq.actor = "bench";
	if ((r = ca_issue(ca, &rq, &x, &s)) != LY_OK)
		return bench_fail("ca_issue", r);
	if ((derlen = i2d_X509(x, &der)) <= 0)
		return bench_fail("i2d_X509", LY_ERR_INTERNAL);
	for (i = 0; i < n; i += BATCH) {
		if ((r = store_txn_begin(ca_store(ca), 1, &txn)) != LY_OK)
			return bench_fail("store_txn_begin", r);
		for (j = i; j < n && j < i + BATCH; j++) {
			memset(&rec, 0, sizeof(rec));
			rec.status = STORE_RESERVED;
			rec.ca = CA_ISSUING;
			rec.reason = -1;
			strcpy(rec.profile, "client");
			snprintf(id, sizeof(id), "{\"userId\":%ld}", j + 1);
			rec.identity = id;
			rec.created = rec.not_before = now;
			rec.not_after = now + 30 * 86400;
			if ((r = ca_serial_new(&rec.serial)) != LY_OK ||
			    (r = store_cert_reserve(txn, &rec)) != LY_OK)
				return bench_fail("store_cert_reserve", r);
			rec.status = STORE_VALID;
			rec.der = der;
			rec.derlen = (size_t)derlen;
			if ((r = store_cert_put(txn, &rec)) != LY_OK)
				return bench_fail("store_cert_put", r);
		}
		if ((r = store_txn_commit(txn)) != LY_OK)
			return bench_fail("store_txn_commit", r);
	}
	OPENSSL_free(der);
	X509_free(x);
	free(csr);
	ca_close(ca);
	return 0;
}

struct list {
	struct ca_serial	*v;
	size_t			 n, cap;
};

static int
count_valid_cb(const struct store_cert *c, void *arg)
{
	struct list *l = arg;

	if (c->status != STORE_VALID || strcmp(c->profile, "client") != 0)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 1024 : l->cap * 2;
		if ((l->v = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			return LY_ERR_ALLOC;
	}
	l->v[l->n++] = c->serial;
	return 0;
}

static int
revoke(const char *dir)
{
	struct ca *ca = NULL;
	struct store_txn *txn = NULL;
	struct store_cert *rec;
	struct list l = { NULL, 0, 0 };
	time_t now = time(NULL);
	size_t i, j;
	int r;

	if ((r = ca_open(dir, CA_OPEN_NO_HSM, &ca)) != LY_OK)
		return bench_fail("ca_open", r);
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK ||
	    (r = store_cert_foreach(txn, count_valid_cb, &l)) != LY_OK)
		return bench_fail("foreach", r);
	store_txn_abort(txn);
	for (i = 0; i < l.n; i += BATCH) {
		if ((r = store_txn_begin(ca_store(ca), 1, &txn)) != LY_OK)
			return bench_fail("store_txn_begin", r);
		for (j = i; j < l.n && j < i + BATCH; j++) {
			if ((r = store_cert_get(txn, &l.v[j], &rec)) != LY_OK)
				return bench_fail("store_cert_get", r);
			rec->status = STORE_REVOKED;
			rec->reason = 1;
			rec->revoked_at = now;
			r = store_cert_put(txn, rec);
			store_cert_free(rec);
			if (r != LY_OK)
				return bench_fail("store_cert_put", r);
		}
		if ((r = store_txn_commit(txn)) != LY_OK)
			return bench_fail("store_txn_commit", r);
	}
	printf("revoked %zu\n", l.n);
	free(l.v);
	ca_close(ca);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "fill") == 0)
		return fill(argv[2], strtol(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "revoke") == 0)
		return revoke(argv[2]);
	fprintf(stderr, "usage: ops-bench fill DIR N | ops-bench revoke DIR\n");
	return 2;
}
