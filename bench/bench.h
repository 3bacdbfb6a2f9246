/*
 * bench/bench.h — what the benchmarks share: a monotonic clock in
 * seconds and a throw-away CSR. Static, for programs of one file each
 * (enroll-bench links OpenSSL only, not Lanyard).
 */
#ifndef LANYARD_BENCH_H
#define LANYARD_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* Seconds on the monotonic clock. */
static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Prints "BENCH_PROG: what: <error>: <detail>" for Lanyard's error r;
 * returns 1, the exit status. For the benchmarks that link Lanyard and
 * define BENCH_PROG before including this file.
 */
#ifdef BENCH_PROG
static inline int
bench_fail(const char *what, int r)
{
	fprintf(stderr, "%s: %s: %s: %s\n", BENCH_PROG, what, ly_strerror(r),
	    ly_errdetail());
	return 1;
}
#endif

/* A PEM CSR, NUL-terminated, for a fresh P-256 key and CN cn, or NULL. */
static inline char *
bench_csr_pem(const char *cn)
{
	EVP_PKEY *k = NULL;
	X509_REQ *req = NULL;
	X509_NAME *nm;
	BIO *b = NULL;
	char *data, *out = NULL;
	long len;

	if ((k = EVP_EC_gen("P-256")) == NULL ||
	    (req = X509_REQ_new()) == NULL ||
	    (nm = X509_REQ_get_subject_name(req)) == NULL ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, k) ||
	    !X509_REQ_sign(req, k, EVP_sha256()) ||
	    (b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_REQ(b, req))
		goto out;
	len = BIO_get_mem_data(b, &data);
	if ((out = malloc((size_t)len + 1)) != NULL) {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
 out:
	BIO_free(b);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return out;
}

#endif /* LANYARD_BENCH_H */
