/*
 * web/metrics.c — Prometheus counters and the request latency histogram.
 *
 * Every request of every pool thread counts here, so the counters are
 * relaxed atomics: no lock on the hot path, and a scrape that reads a
 * counter a moment before another is fine for Prometheus. The text is
 * built only when /metrics is asked for.
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "web/extern.h"

/* Status codes with their own series; anything else counts as "other". */
static const unsigned int codes[] = {
	200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 431,
	500, 503, 507,
};
#define NCODES	(sizeof(codes) / sizeof(codes[0]))

static const char *const endpoints[WEB_EP_MAX] = {
	"ocsp", "crl", "ca", "healthz", "metrics", "est", "api", "other",
};

static const char *const outcomes[OCSP_OUT_MAX] = {
	"good", "revoked", "unknown", "malformed", "unauthorized",
	"trylater", "internal",
};

/* Upper bounds in microseconds; the text shows seconds. */
static const uint64_t buckets[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000,
};
#define NBUCKETS	(sizeof(buckets) / sizeof(buckets[0]))

static struct {
	/* The last column of requests is "other". */
	atomic_uint_fast64_t	 requests[WEB_EP_MAX][NCODES + 1];
	atomic_uint_fast64_t	 ocsp[OCSP_OUT_MAX];
	atomic_uint_fast64_t	 presigned;
	atomic_uint_fast64_t	 hsm_errors;
	/* Counted by hsm/; copied here at each scrape. */
	atomic_uint_fast64_t	 hsm_sign_failures;
	atomic_uint_fast64_t	 hsm_reopens;
	atomic_uint_fast64_t	 hsm_reinits;
	atomic_uint_fast64_t	 hsm_bad_signatures;
	atomic_uint_fast64_t	 refused;
	/* Another process's lint counters (web_metrics_lint), if set. */
	atomic_int		 lint_remote;
	atomic_uint_fast64_t	 lint[CA_LINT_KINDS];
	/* Not cumulative here (one increment per request); +Inf last. */
	atomic_uint_fast64_t	 hist[NBUCKETS + 1];
	atomic_uint_fast64_t	 hist_sum;	/* microseconds */
} m;

static void
inc(atomic_uint_fast64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static uint64_t
get(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void
web_metrics_request(enum web_endpoint ep, unsigned int status, uint64_t usec)
{
	size_t i, b;

	if ((unsigned int)ep >= WEB_EP_MAX)
		ep = WEB_EP_OTHER;
	for (i = 0; i < NCODES && codes[i] != status; i++)
		continue;
	inc(&m.requests[ep][i], 1);
	for (b = 0; b < NBUCKETS && usec > buckets[b]; b++)
		continue;
	inc(&m.hist[b], 1);
	inc(&m.hist_sum, usec);
}

void
web_metrics_ocsp(enum ocsp_outcome o, int presigned)
{
	if ((unsigned int)o >= OCSP_OUT_MAX)
		o = OCSP_OUT_INTERNAL;
	inc(&m.ocsp[o], 1);
	if (presigned)
		inc(&m.presigned, 1);
}

void
web_metrics_hsm_error(void)
{
	inc(&m.hsm_errors, 1);
}

void
web_metrics_hsm(const struct ca_hsm_stats *st)
{
	atomic_store_explicit(&m.hsm_sign_failures, st->sign_failures,
	    memory_order_relaxed);
	atomic_store_explicit(&m.hsm_reopens, st->reopens,
	    memory_order_relaxed);
	atomic_store_explicit(&m.hsm_reinits, st->reinits,
	    memory_order_relaxed);
	atomic_store_explicit(&m.hsm_bad_signatures, st->bad_signatures,
	    memory_order_relaxed);
}

void
web_metrics_lint(const uint64_t *counts)
{
	int k;

	for (k = 0; k < CA_LINT_KINDS; k++)
		atomic_store_explicit(&m.lint[k], counts[k],
		    memory_order_relaxed);
	atomic_store(&m.lint_remote, 1);
}

void
web_metrics_refused(void)
{
	inc(&m.refused, 1);
}

void
web_metrics_reset(void)
{
	memset(&m, 0, sizeof(m));
}

/* A growing text buffer; on allocation failure it remembers and stops. */
struct mbuf {
	char	*b;
	size_t	 len, cap;
	int	 failed;
};

static void
mb_printf(struct mbuf *mb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
mb_printf(struct mbuf *mb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (mb->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(mb->b + mb->len, mb->cap - mb->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			mb->failed = 1;
			return;
		}
		if ((size_t)n < mb->cap - mb->len) {
			mb->len += (size_t)n;
			return;
		}
		size_t ncap = mb->cap * 2 + (size_t)n;
		char *nb = realloc(mb->b, ncap);

		if (nb == NULL) {
			mb->failed = 1;
			return;
		}
		mb->b = nb;
		mb->cap = ncap;
	}
}

static void
text_requests(struct mbuf *mb)
{
	size_t e, i;
	uint64_t v;

	mb_printf(mb, "# HELP lanyard_http_requests_total HTTP requests "
	    "answered, by endpoint and status code.\n"
	    "# TYPE lanyard_http_requests_total counter\n");
	for (e = 0; e < WEB_EP_MAX; e++) {
		for (i = 0; i <= NCODES; i++) {
			/* Series that never happened would only be noise. */
			if ((v = get(&m.requests[e][i])) == 0)
				continue;
			if (i < NCODES)
				mb_printf(mb, "lanyard_http_requests_total{"
				    "endpoint=\"%s\",code=\"%u\"} %llu\n",
				    endpoints[e], codes[i],
				    (unsigned long long)v);
			else
				mb_printf(mb, "lanyard_http_requests_total{"
				    "endpoint=\"%s\",code=\"other\"} %llu\n",
				    endpoints[e], (unsigned long long)v);
		}
	}
}

static void
text_histogram(struct mbuf *mb)
{
	uint64_t cum = 0, sum;
	size_t b;

	mb_printf(mb, "# HELP lanyard_http_request_duration_seconds Time "
	    "from the request's first byte handled to its response queued.\n"
	    "# TYPE lanyard_http_request_duration_seconds histogram\n");
	for (b = 0; b < NBUCKETS; b++) {
		cum += get(&m.hist[b]);
		mb_printf(mb, "lanyard_http_request_duration_seconds_bucket"
		    "{le=\"%g\"} %llu\n", (double)buckets[b] / 1e6,
		    (unsigned long long)cum);
	}
	cum += get(&m.hist[NBUCKETS]);
	sum = get(&m.hist_sum);
	mb_printf(mb, "lanyard_http_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} %llu\n"
	    "lanyard_http_request_duration_seconds_sum %.6f\n"
	    "lanyard_http_request_duration_seconds_count %llu\n",
	    (unsigned long long)cum, (double)sum / 1e6,
	    (unsigned long long)cum);
}

/* ca/ keeps the lint's counters; here they are numbers with a label. */
static void
text_lint(struct mbuf *mb)
{
	int k;

	mb_printf(mb, "# HELP lanyard_lint_failures_total Certificates, CRLs "
	    "and OCSP responses the pre-issuance lint refused to have "
	    "signed, by kind.\n"
	    "# TYPE lanyard_lint_failures_total counter\n");
	for (k = 0; k < CA_LINT_KINDS; k++)
		mb_printf(mb, "lanyard_lint_failures_total{kind=\"%s\"} %llu\n",
		    ca_lint_kind_name(k), (unsigned long long)
		    (atomic_load(&m.lint_remote) ? get(&m.lint[k]) :
		    ca_lint_failures(k)));
}

static void
text_crl(struct mbuf *mb, const struct web_crl_gauge *g, size_t n, time_t now)
{
	size_t i;

	mb_printf(mb, "# HELP lanyard_crl_number CRL number of the current "
	    "CRL.\n# TYPE lanyard_crl_number gauge\n");
	for (i = 0; i < n; i++)
		mb_printf(mb, "lanyard_crl_number{crl=\"%s\"} %llu\n",
		    g[i].name, (unsigned long long)g[i].number);
	mb_printf(mb, "# HELP lanyard_crl_age_seconds Seconds since the "
	    "current CRL's thisUpdate.\n# TYPE lanyard_crl_age_seconds gauge\n");
	for (i = 0; i < n; i++)
		mb_printf(mb, "lanyard_crl_age_seconds{crl=\"%s\"} %lld\n",
		    g[i].name, (long long)(now - g[i].this_update));
	mb_printf(mb, "# HELP lanyard_crl_next_update_seconds Seconds until "
	    "the current CRL's nextUpdate (negative: past).\n"
	    "# TYPE lanyard_crl_next_update_seconds gauge\n");
	for (i = 0; i < n; i++)
		mb_printf(mb, "lanyard_crl_next_update_seconds{crl=\"%s\"} "
		    "%lld\n", g[i].name, (long long)(g[i].next_update - now));
}

/* The counters of the HSM layer: recoveries and refused signatures. */
static void
text_hsm(struct mbuf *mb)
{
	mb_printf(mb, "# HELP lanyard_hsm_sign_failures_total Signing "
	    "attempts the HSM failed (each is retried on a new session).\n"
	    "# TYPE lanyard_hsm_sign_failures_total counter\n"
	    "lanyard_hsm_sign_failures_total %llu\n",
	    (unsigned long long)get(&m.hsm_sign_failures));
	mb_printf(mb, "# HELP lanyard_hsm_session_reopens_total HSM sessions "
	    "reopened after a failure.\n"
	    "# TYPE lanyard_hsm_session_reopens_total counter\n"
	    "lanyard_hsm_session_reopens_total %llu\n",
	    (unsigned long long)get(&m.hsm_reopens));
	mb_printf(mb, "# HELP lanyard_hsm_module_reinits_total PKCS#11 module "
	    "re-initialisations tried after the token failed.\n"
	    "# TYPE lanyard_hsm_module_reinits_total counter\n"
	    "lanyard_hsm_module_reinits_total %llu\n",
	    (unsigned long long)get(&m.hsm_reinits));
	mb_printf(mb, "# HELP lanyard_hsm_bad_signatures_total Signatures from "
	    "the HSM refused because they do not verify with the public key.\n"
	    "# TYPE lanyard_hsm_bad_signatures_total counter\n"
	    "lanyard_hsm_bad_signatures_total %llu\n",
	    (unsigned long long)get(&m.hsm_bad_signatures));
}

int
web_metrics_text(const struct web_crl_gauge *g, size_t n, time_t now,
    char **textp, size_t *lenp)
{
	struct mbuf mb = { NULL, 0, 0, 0 };
	size_t i;
	int r = LY_ERR_ALLOC;

	if ((mb.b = malloc(mb.cap = 4096)) == NULL)
		goto out;
	text_requests(&mb);
	mb_printf(&mb, "# HELP lanyard_ocsp_responses_total OCSP responses "
	    "sent, by what they say.\n"
	    "# TYPE lanyard_ocsp_responses_total counter\n");
	for (i = 0; i < OCSP_OUT_MAX; i++)
		mb_printf(&mb, "lanyard_ocsp_responses_total{status=\"%s\"} "
		    "%llu\n", outcomes[i], (unsigned long long)get(&m.ocsp[i]));
	mb_printf(&mb, "# HELP lanyard_ocsp_presigned_total OCSP responses "
	    "served pre-signed from the store.\n"
	    "# TYPE lanyard_ocsp_presigned_total counter\n"
	    "lanyard_ocsp_presigned_total %llu\n",
	    (unsigned long long)get(&m.presigned));
	mb_printf(&mb, "# HELP lanyard_hsm_errors_total HSM failures seen "
	    "while answering.\n# TYPE lanyard_hsm_errors_total counter\n"
	    "lanyard_hsm_errors_total %llu\n",
	    (unsigned long long)get(&m.hsm_errors));
	text_hsm(&mb);
	mb_printf(&mb, "# HELP lanyard_http_connections_refused_total "
	    "Connections closed at accept for the connection limit.\n"
	    "# TYPE lanyard_http_connections_refused_total counter\n"
	    "lanyard_http_connections_refused_total %llu\n",
	    (unsigned long long)get(&m.refused));
	text_lint(&mb);
	text_crl(&mb, g, n, now);
	text_histogram(&mb);
	if (mb.failed)
		goto out;
	*textp = mb.b;
	*lenp = mb.len;
	mb.b = NULL; /* transferred */
	r = LY_OK;
 out:
	free(mb.b);
	return r;
}
