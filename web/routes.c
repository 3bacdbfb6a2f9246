/*
 * web/routes.c — URL → handler, and the URL and HTTP helpers they use.
 *
 * The path arrives raw (server.c turns off libmicrohttpd's unescaping,
 * which would cut a path at "%00" and hand "%2F" over as '/'): each route
 * percent-decodes only the part it takes as a name or as an RFC 5019
 * request, so traversal and NUL bytes meet one decoder that refuses them,
 * and the names are then checked by their owners (ca_slot_by_name,
 * crl_name_parse).
 *
 * CRLs can be tens of megabytes: the DER is copied out of the read
 * transaction once per CRL number into a reference-counted snapshot that
 * every response of that CRL shares (MHD frees its reference when the
 * response is gone), so a thousand downloads cost one copy, and no LMDB
 * transaction stays open while a slow client reads.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ca/ops.h"
#include "crl/crl.h"
#include "util/util.h"
#include "web/extern.h"

/* Snapshots kept: one per CRL name; more names than this are copied per request. */
#define CRLCACHE_MAX	64

/* ---- pure helpers (tested in tests/unit/test_web.c) --------------------- */

void
web_http_date_fmt(time_t t, char *buf)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	struct tm tm;

	/* Names spelled out: strftime's would follow the locale. */
	gmtime_r(&t, &tm);
	/* The moduli only tell the compiler the fields fit their widths. */
	snprintf(buf, WEB_DATE_LEN, "%s, %02u %s %04u %02u:%02u:%02u GMT",
	    days[tm.tm_wday % 7], (unsigned)tm.tm_mday % 100u,
	    months[tm.tm_mon % 12], (unsigned)(tm.tm_year + 1900) % 10000u,
	    (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
	    (unsigned)tm.tm_sec % 100u);
}

int
web_http_date_parse(const char *s, time_t *tp)
{
	/* RFC 7231 7.1.1.1: IMF-fixdate, then obsolete RFC 850 and asctime. */
	static const char *const forms[] = {
		"%a, %d %b %Y %H:%M:%S GMT",
		"%A, %d-%b-%y %H:%M:%S GMT",
		"%a %b %e %H:%M:%S %Y",
	};
	struct tm tm;
	const char *end;
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(s, forms[i], &tm)) != NULL && *end == '\0') {
			*tp = timegm(&tm);
			return LY_OK;
		}
	}
	return LY_ERR_BAD_INPUT;
}

/* Whether the If-None-Match list (RFC 7232 3.2) names etag, weakly. */
static int
etag_listed(const char *list, const char *etag)
{
	const char *p = list, *q;
	size_t elen = strlen(etag);

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 0;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"' || (q = strchr(p + 1, '"')) == NULL)
			return 0;
		q++;
		if ((size_t)(q - p) == elen && memcmp(p, etag, elen) == 0)
			return 1;
		p = q;
	}
}

int
web_not_modified(const char *inm, const char *ims, const char *etag,
    time_t last_modified)
{
	time_t t;

	if (inm != NULL)
		return etag != NULL && etag[0] != '\0' && etag_listed(inm, etag);
	if (ims != NULL && last_modified != 0 &&
	    web_http_date_parse(ims, &t) == LY_OK && last_modified <= t)
		return 1;
	return 0;
}

/* ---- CRL snapshots ------------------------------------------------------- */

struct crlsnap {
	atomic_uint	 refs;
	char		 name[CONF_NAME_MAX + 16];
	struct crl_info	 info;
	unsigned char	*der;
	size_t		 len;
	pthread_mutex_t	 pem_lock;
	char		*pem;		/* made on the first ?pem */
	size_t		 pemlen;
};

struct web_crlcache {
	pthread_mutex_t	 lock;
	struct crlsnap	*snap[CRLCACHE_MAX];
};

static void
snap_unref(void *arg)
{
	struct crlsnap *s = arg;

	if (s == NULL ||
	    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&s->pem_lock);
	free(s->der);
	free(s->pem);
	free(s);
}

static struct crlsnap *
snap_new(const char *name, const unsigned char *der, size_t len,
    const struct crl_info *info)
{
	struct crlsnap *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/* XXX a 1M-entry CRL is ~40 MB: copied once per CRL number. */
	if ((s->der = malloc(len ? len : 1)) == NULL) {
		free(s);
		return NULL;
	}
	memcpy(s->der, der, len);
	s->len = len;
	s->info = *info;
	snprintf(s->name, sizeof(s->name), "%s", name);
	pthread_mutex_init(&s->pem_lock, NULL);
	atomic_init(&s->refs, 1);
	return s;
}

struct web_crlcache *
web_crlcache_new(void)
{
	struct web_crlcache *cc;

	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return NULL;
	pthread_mutex_init(&cc->lock, NULL);
	return cc;
}

void
web_crlcache_clear(struct web_crlcache *cc)
{
	size_t i;

	if (cc == NULL)
		return;
	pthread_mutex_lock(&cc->lock);
	for (i = 0; i < CRLCACHE_MAX; i++) {
		snap_unref(cc->snap[i]);
		cc->snap[i] = NULL;
	}
	pthread_mutex_unlock(&cc->lock);
}

void
web_crlcache_free(struct web_crlcache *cc)
{
	if (cc == NULL)
		return;
	web_crlcache_clear(cc);
	pthread_mutex_destroy(&cc->lock);
	free(cc);
}

/*
 * The snapshot of the CRL name whose current DER (borrowed from a read
 * transaction) is der: the cached one if it is the same CRL, else a new
 * copy that replaces it. The caller owns one reference.
 */
static struct crlsnap *
crlcache_get(struct web_crlcache *cc, const char *name,
    const unsigned char *der, size_t len, const struct crl_info *info)
{
	struct crlsnap *s = NULL;
	size_t i, free_slot = CRLCACHE_MAX;

	pthread_mutex_lock(&cc->lock);
	for (i = 0; i < CRLCACHE_MAX; i++) {
		if (cc->snap[i] == NULL) {
			if (free_slot == CRLCACHE_MAX)
				free_slot = i;
			continue;
		}
		if (strcmp(cc->snap[i]->name, name) == 0)
			break;
	}
	/* CRL numbers only grow: number and thisUpdate name one CRL. */
	if (i < CRLCACHE_MAX && cc->snap[i]->info.number == info->number &&
	    cc->snap[i]->info.this_update == info->this_update &&
	    cc->snap[i]->len == len) {
		s = cc->snap[i];
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
		goto out;
	}
	if ((s = snap_new(name, der, len, info)) == NULL)
		goto out;
	if (i == CRLCACHE_MAX)
		i = free_slot;
	if (i < CRLCACHE_MAX) {
		snap_unref(cc->snap[i]);
		cc->snap[i] = s;
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	}
 out:
	pthread_mutex_unlock(&cc->lock);
	return s;
}

/* ---- responses ------------------------------------------------------------ */

static void
add_header(struct MHD_Response *resp, const char *k, const char *v)
{
	(void)MHD_add_response_header(resp, k, v);
}

/* Last-Modified, Expires, and Cache-Control with max-age up to next. */
static void
add_cache_headers(struct MHD_Response *resp, time_t last, time_t next,
    const char *directives)
{
	char date[WEB_DATE_LEN], cc[128];
	time_t now = ly_now();
	long long age = next > now ? (long long)(next - now) : 0;

	web_http_date_fmt(last, date);
	add_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, date);
	web_http_date_fmt(next, date);
	add_header(resp, MHD_HTTP_HEADER_EXPIRES, date);
	snprintf(cc, sizeof(cc), "max-age=%lld, %s", age, directives);
	add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
}

static struct MHD_Response *
empty_response(void)
{
	return MHD_create_response_from_buffer(0, (void *)"",
	    MHD_RESPMEM_PERSISTENT);
}

static struct MHD_Response *
copy_response(const void *data, size_t len, const char *ctype)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, (void *)data,
	    MHD_RESPMEM_MUST_COPY);
	if (resp != NULL && ctype != NULL)
		add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return resp;
}

/* Whether the request asks for PEM: "?pem" or Accept: application/x-pem-file. */
static enum MHD_Result
has_pem_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	(void)kind;
	(void)value;
	if (strcmp(key, "pem") == 0) {
		*(int *)cls = 1;
		return MHD_NO;
	}
	return MHD_YES;
}

/*
 * MHD splits the query off the URL and keeps only its decoded arguments;
 * enroll/ takes the query as one string, so it is put back together
 * ("k=v&k2=v2"). An argument that does not fit makes the query too long
 * to be one enroll/ knows, which it refuses as such.
 */
struct query_buf {
	char	buf[256];
	size_t	len;
	int	overflow;
};

static enum MHD_Result
add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct query_buf *q = cls;
	int n;

	(void)kind;
	n = snprintf(q->buf + q->len, sizeof(q->buf) - q->len, "%s%s%s%s",
	    q->len > 0 ? "&" : "", key, value != NULL ? "=" : "",
	    value != NULL ? value : "");
	if (n < 0 || (size_t)n >= sizeof(q->buf) - q->len) {
		q->overflow = 1;
		return MHD_NO;
	}
	q->len += (size_t)n;
	return MHD_YES;
}

static int
wants_pem(struct MHD_Connection *c)
{
	const char *accept;
	int pem = 0;

	(void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, has_pem_arg,
	    &pem);
	/* XXX no q-values: naming the type at all is asking for it. */
	accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT);
	if (accept != NULL && strcasestr(accept, "application/x-pem-file"))
		pem = 1;
	return pem;
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* ---- handlers ------------------------------------------------------------- */

int
web_path_name(const char *path, const char *prefix, const char *suffix,
    char *name, size_t namelen)
{
	size_t plen = strlen(prefix), slen = strlen(suffix), len = strlen(path);
	int n;

	if (len <= plen + slen || strncmp(path, prefix, plen) != 0 ||
	    strcmp(path + len - slen, suffix) != 0 ||
	    len - plen - slen >= namelen)
		return LY_ERR_NOT_FOUND;
	if ((n = ly_pct_decode(path + plen, len - plen - slen,
	    (unsigned char *)name)) <= 0)
		return LY_ERR_NOT_FOUND;
	name[n] = '\0';
	return LY_OK;
}

/*
 * GET /ca/bundle.pem: every CA certificate a relying party may need
 * (issuers not retired, roots, cross-certificates), as PEM.
 */
static enum MHD_Result
handle_bundle(struct web_instance *in, struct MHD_Connection *c,
    struct web_req *rq)
{
	struct MHD_Response *resp;
	char *pem = NULL;
	size_t len;

	if (ca_trust_pem(in->ca, &pem) != LY_OK)
		return web_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "CA certificates unavailable", NULL);
	len = strlen(pem);
	resp = copy_response(pem, len, "application/pem-certificate-chain");
	free(pem);
	if (resp == NULL)
		return MHD_NO;
	add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "max-age=300");
	return web_queue(c, rq, MHD_HTTP_OK, resp, len);
}

static enum MHD_Result
handle_ca(struct web_instance *in, struct MHD_Connection *c,
    struct web_req *rq, const char *path)
{
	char name[CONF_NAME_MAX + 16], etag[WEB_ETAG_LEN];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen, i;
	const unsigned char *der;
	struct MHD_Response *resp;
	size_t len;
	int slot, nm;

	if (strcmp(path, "/ca/bundle.pem") == 0)
		return handle_bundle(in, c, rq);
	if (web_path_name(path, "/ca/", ".crt", name, sizeof(name)) != LY_OK)
		return web_error(c, rq, MHD_HTTP_NOT_FOUND, "not_found",
		    "no such CA certificate", NULL);
	/* A CA registered since this process read the store (a rollover). */
	if ((slot = ca_slot_by_name(in->ca, name)) < 0 &&
	    ca_slots_refresh(in->ca) == LY_OK)
		slot = ca_slot_by_name(in->ca, name);
	if (slot < 0)
		return web_error(c, rq, MHD_HTTP_NOT_FOUND, "not_found",
		    "no such CA certificate", NULL);
	if (ca_cert_der(in->ca, slot, &der, &len) != LY_OK ||
	    EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return web_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "CA certificate unavailable", NULL);
	/* The first 16 bytes of SHA-256 name the certificate well enough. */
	etag[0] = '"';
	for (i = 0; i < 16; i++)
		snprintf(etag + 1 + 2 * i, 3, "%02x", md[i]);
	snprintf(etag + 33, sizeof(etag) - 33, "\"");
	nm = web_not_modified(header(c, MHD_HTTP_HEADER_IF_NONE_MATCH), NULL,
	    etag, 0);
	resp = nm ? empty_response() :
	    copy_response(der, len, "application/pkix-cert");
	if (resp == NULL)
		return MHD_NO;
	add_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "max-age=3600");
	return web_queue(c, rq, nm ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp,
	    len);
}

/* The body of a CRL response: the snapshot's DER or its PEM. */
static struct MHD_Response *
crl_body(struct crlsnap *s, int pem, size_t *lenp)
{
	struct MHD_Response *resp;
	void *data;
	size_t len;

	if (pem) {
		pthread_mutex_lock(&s->pem_lock);
		if (s->pem == NULL && ly_pem_encode("X509 CRL", s->der, s->len,
		    &s->pem, &s->pemlen) != LY_OK)
			s->pem = NULL;
		pthread_mutex_unlock(&s->pem_lock);
		if (s->pem == NULL)
			return NULL;
		data = s->pem;
		len = s->pemlen;
	} else {
		data = s->der;
		len = s->len;
	}
	/* The response holds a reference; MHD drops it with the response. */
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	resp = MHD_create_response_from_buffer_with_free_callback_cls(len,
	    data, snap_unref, s);
	if (resp == NULL) {
		snap_unref(s);
		return NULL;
	}
	add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    pem ? "application/x-pem-file" : "application/pkix-crl");
	*lenp = len;
	return resp;
}

/* What crl_current() lends handle_crl(): the cache takes its copy. */
struct crl_take {
	struct web_crlcache	*cache;
	const char		*name;
	struct crlsnap		*snap;
	struct crl_info		 info;
};

static int
crl_take(void *arg, const unsigned char *der, size_t len,
    const struct crl_info *info)
{
	struct crl_take *t = arg;

	t->info = *info;
	t->snap = crlcache_get(t->cache, t->name, der, len, info);
	return LY_OK;
}

static enum MHD_Result
handle_crl(struct web *w, struct web_instance *in, struct MHD_Connection *c,
    struct web_req *rq, const char *path)
{
	char name[CONF_NAME_MAX + 16], etag[WEB_ETAG_LEN];
	struct crl_take t;
	struct crlsnap *s = NULL;
	struct MHD_Response *resp = NULL;
	struct crl_info info;
	struct crl_id id;
	size_t bodylen = 0;
	int pem, nm, r;

	if (web_path_name(path, "/crl/", ".crl", name, sizeof(name)) != LY_OK ||
	    crl_name_parse(in->ca, name, &id) != LY_OK)
		return web_error(c, rq, MHD_HTTP_NOT_FOUND, "not_found",
		    "no such CRL", NULL);
	memset(&t, 0, sizeof(t));
	t.cache = web_crlcache(w);
	t.name = name;
	/* The DER is borrowed from the store: copied by the cache or done with. */
	r = crl_current(in->ca, &id, crl_take, &t);
	s = t.snap;
	info = t.info;
	if (r == LY_ERR_STORE || r == LY_ERR_IO) {
		/* s is NULL: crl_take() ran only on success. */
		ly_log(LY_LOG_ERR, "GET /crl/%s: %s", name, ly_errdetail());
		return web_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "store", "cannot read the store", NULL);
	}
	if (r == LY_ERR_NOT_FOUND)
		return web_error(c, rq, MHD_HTTP_NOT_FOUND, "not_found",
		    "no CRL generated yet", NULL);
	if (r != LY_OK || s == NULL) {
		ly_log(LY_LOG_ERR, "GET /crl/%s: %s", name, r != LY_OK ?
		    ly_errdetail() : "out of memory");
		return web_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "cannot read the CRL", NULL);
	}
	pem = wants_pem(c);
	snprintf(etag, sizeof(etag), "\"%llx-%llx%s\"",
	    (unsigned long long)info.number,
	    (unsigned long long)info.this_update, pem ? "-pem" : "");
	nm = web_not_modified(header(c, MHD_HTTP_HEADER_IF_NONE_MATCH),
	    header(c, MHD_HTTP_HEADER_IF_MODIFIED_SINCE), etag,
	    info.this_update);
	resp = nm ? empty_response() : crl_body(s, pem, &bodylen);
	snap_unref(s);
	if (resp == NULL)
		return web_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "out of memory", NULL);
	add_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	add_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT);
	add_cache_headers(resp, info.this_update, info.next_update, "public");
	return web_queue(c, rq, nm ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp,
	    bodylen);
}

/*
 * POST body or decoded GET path → ocsp_respond. A GET path that is not
 * strict base64 is answered as an empty request: the client gets a
 * proper malformedRequest OCSP response with HTTP 200 (RFC 6960 2.3)
 * instead of an HTTP error it may not show.
 */
static enum MHD_Result
handle_ocsp(struct web_instance *in, struct MHD_Connection *c,
    struct web_req *rq, const unsigned char *der, size_t len, int get)
{
	struct ocsp_reply reply;
	struct MHD_Response *resp;
	int nm = 0, r;
	enum MHD_Result ret;

	memset(&reply, 0, sizeof(reply));
	if ((r = ocsp_respond(in->responder, der, len, &reply)) != LY_OK) {
		ly_log(LY_LOG_ERR, "OCSP: %s", ly_errdetail());
		return web_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", ly_strerror(r), NULL);
	}
	web_metrics_ocsp(reply.outcome, reply.presigned);
	if (reply.outcome == OCSP_OUT_TRYLATER)
		web_metrics_hsm_error();
	/* RFC 5019 6.2: caching headers for GET answers that may be cached. */
	get = get && reply.this_update != 0;
	if (get)
		nm = web_not_modified(header(c, MHD_HTTP_HEADER_IF_NONE_MATCH),
		    header(c, MHD_HTTP_HEADER_IF_MODIFIED_SINCE), reply.etag,
		    reply.this_update);
	resp = nm ? empty_response() :
	    copy_response(reply.der, reply.len, "application/ocsp-response");
	if (resp == NULL) {
		ocsp_reply_clear(&reply);
		return MHD_NO;
	}
	if (get) {
		if (reply.etag[0] != '\0')
			add_header(resp, MHD_HTTP_HEADER_ETAG, reply.etag);
		add_cache_headers(resp, reply.this_update, reply.next_update,
		    "public, no-transform, must-revalidate");
	}
	ret = web_queue(c, rq, nm ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp,
	    reply.len);
	ocsp_reply_clear(&reply);
	return ret;
}

static enum MHD_Result
handle_ocsp_get(struct web_instance *in, struct MHD_Connection *c,
    struct web_req *rq, const char *raw)
{
	unsigned char der[OCSP_REQUEST_MAX];
	int n;

	if ((n = ocsp_get_decode(raw, der, sizeof(der))) < 0)
		n = 0;
	return handle_ocsp(in, c, rq, der, (size_t)n, 1);
}

/*
 * The HSM probe of /healthz: a signature with the issuing CA key
 * (ca_hsm_check()) at most once per WEB_HSM_PROBE_TTL. Later probes run
 * outside the lock, one at a time, and the other requests answer with
 * the last result meanwhile: a slow token does not pile up /healthz
 * requests. The first one is waited for. why gets the reason if the
 * result is not LY_OK.
 */
static int	(*hsm_check_fn)(void *);
static void	*hsm_check_arg;
static int	(*stats_fn)(void *, struct web_engine_stats *);
static void	*stats_arg;

void
web_set_stats(int (*fn)(void *, struct web_engine_stats *), void *arg)
{
	stats_fn = fn;
	stats_arg = arg;
}

void
web_set_hsm_check(int (*fn)(void *), void *arg)
{
	hsm_check_fn = fn;
	hsm_check_arg = arg;
}

static int
hsm_probe(struct web *w, struct web_instance *in, char *why, size_t whylen)
{
	time_t now = ly_now();
	int first, r;

	web_hsm_lock(w);
	first = in->hsm_checked == 0;
	if (first || (!in->hsm_probing &&
	    now - in->hsm_checked >= WEB_HSM_PROBE_TTL)) {
		in->hsm_probing = 1;
		if (!first)
			web_hsm_unlock(w);
		r = hsm_check_fn != NULL ? hsm_check_fn(hsm_check_arg) :
		    ca_hsm_check(in->ca);
		if (!first)
			web_hsm_lock(w);
		if ((in->hsm_r = r) != LY_OK) {
			snprintf(in->hsm_why, sizeof(in->hsm_why), "%s",
			    ly_errdetail()[0] != '\0' ? ly_errdetail() :
			    ly_strerror(r));
			ly_log(LY_LOG_ERR, "healthz: HSM: %s", in->hsm_why);
			web_metrics_hsm_error();
		}
		in->hsm_checked = now;
		in->hsm_probing = 0;
	}
	if ((r = in->hsm_r) != LY_OK)
		snprintf(why, whylen, "%s", in->hsm_why);
	web_hsm_unlock(w);
	return r;
}

static enum MHD_Result
handle_healthz(struct web *w, struct web_instance *in,
    struct MHD_Connection *c, struct web_req *rq)
{
	struct crl_info info[CA_MAX_SLOTS];
	json_t *o = NULL, *crls;
	char ts[21], *text = NULL;
	char why[WEB_HSM_WHY_MAX], hsm[WEB_HSM_WHY_MAX + 16];
	unsigned int have = 0;
	size_t len;
	time_t na;
	int slot, r, bad = 0;
	enum MHD_Result ret = MHD_NO;

	if ((o = json_object()) == NULL || (crls = json_object()) == NULL ||
	    json_object_set_new(o, "crl", crls) != 0)
		goto out;
	if ((r = crl_summary(in->ca, info, &have)) != LY_OK) {
		ly_log(LY_LOG_ERR, "healthz: store: %s", ly_errdetail());
		json_object_set_new(o, "store", json_string(ly_errcode(r)));
		bad = 1;
	} else {
		json_object_set_new(o, "store", json_string("ok"));
		for (slot = 0; slot < ca_nslots(in->ca); slot++) {
			if (!(have & (1u << slot)))
				continue;
			ly_time_fmt(info[slot].next_update, ts);
			json_object_set_new(crls, ca_slot_name(in->ca, slot),
			    json_pack("{s:I,s:s}", "number",
			    (json_int_t)info[slot].number, "next_update", ts));
		}
	}
	if (hsm_probe(w, in, why, sizeof(why)) != LY_OK) {
		snprintf(hsm, sizeof(hsm), "unavailable: %s", why);
		json_object_set_new(o, "hsm", json_string(hsm));
		bad = 1;
	} else
		json_object_set_new(o, "hsm", json_string("ok"));
	if ((na = ocsp_signer_not_after(in->responder)) != 0) {
		ly_time_fmt(na, ts);
		json_object_set_new(o, "ocsp_signer_not_after", json_string(ts));
	} else
		json_object_set_new(o, "ocsp_signer_not_after", json_null());
	json_object_set_new(o, "status", json_string(bad ? "failing" : "ok"));
	if ((text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	len = strlen(text);
	text[len] = '\n';	/* a JSON answer ends with a newline */
	ret = web_queue(c, rq, bad ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
	    copy_response(text, len + 1, "application/json"), len + 1);
 out:
	free(text);
	json_decref(o);
	return ret;
}

/* Appends the gauges of ca_status_get(); a store error leaves them out. */
static int
metrics_status_append(struct ca *ca, char **textp, size_t *lenp)
{
	struct ca_status *st;
	char *more = NULL, *nt;
	size_t mlen = 0;
	int r = LY_OK;

	if ((st = malloc(sizeof(*st))) == NULL)
		return LY_ERR_ALLOC;
	if (ca_status_get(ca, st) != LY_OK) {
		ly_log(LY_LOG_WARN, "metrics: status: %s", ly_errdetail());
		goto out;
	}
	/* What the next root ceremony must renew (ocsp/root.c). */
	if (ocsp_root_next_update(ca, &st->root_ocsp_next,
	    &st->root_ocsp_count) != LY_OK)
		st->root_ocsp_count = 0;
	if ((r = web_metrics_status_text(st, &more, &mlen)) != LY_OK)
		goto out;
	if ((nt = realloc(*textp, *lenp + mlen)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memcpy(nt + *lenp, more, mlen);
	*textp = nt;
	*lenp += mlen;
 out:
	free(more);
	free(st);
	return r;
}

static enum MHD_Result
handle_metrics(struct web_instance *in, struct MHD_Connection *c,
    struct web_req *rq)
{
	struct web_crl_gauge g[CA_MAX_SLOTS];
	struct ca_hsm_stats hs;
	struct web_engine_stats es;
	struct crl_info info[CA_MAX_SLOTS];
	struct MHD_Response *resp;
	char *text = NULL;
	unsigned int have = 0;
	size_t n = 0, len;
	int slot;

	if (crl_summary(in->ca, info, &have) != LY_OK)
		have = 0;
	for (slot = 0; slot < ca_nslots(in->ca); slot++) {
		if (!(have & (1u << slot)))
			continue;
		snprintf(g[n].name, sizeof(g[n].name), "%s",
		    ca_slot_name(in->ca, slot));
		g[n].number = info[slot].number;
		g[n].this_update = info[slot].this_update;
		g[n].next_update = info[slot].next_update;
		n++;
	}
	if (stats_fn == NULL) {
		ca_hsm_stats(&hs);
		web_metrics_hsm(&hs);
	} else if (stats_fn(stats_arg, &es) == LY_OK) {
		web_metrics_hsm(&es.hsm);
		web_metrics_lint(es.lint);
	}
	if (web_metrics_text(g, n, ly_now(), &text, &len) != LY_OK)
		return MHD_NO;
	/* The operator's gauges (ca/status.c): read-only store, no HSM. */
	if (metrics_status_append(in->ca, &text, &len) != LY_OK) {
		free(text);
		return MHD_NO;
	}
	if ((resp = MHD_create_response_from_buffer(len, text,
	    MHD_RESPMEM_MUST_FREE)) == NULL) {
		free(text);
		return MHD_NO;
	}
	add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; version=0.0.4; charset=utf-8");
	return web_queue(c, rq, MHD_HTTP_OK, resp, len);
}

/*
 * Whether the Basic credentials, if any, are one token68 of base64 and
 * nothing else (RFC 7617 2): MHD's decoder stops at the first byte it
 * does not know, and would take "Basic <base64>!junk" for the base64.
 */
static int
basic_clean(struct MHD_Connection *c)
{
	const char *a = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	size_t n;

	if (a == NULL || strncasecmp(a, "Basic ", 6) != 0)
		return 1;
	for (a += 6; *a == ' '; a++)
		continue;
	n = strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/");
	n += strspn(a + n, "=");
	return n > 0 && a[n] == '\0';
}

/*
 * A request to enroll/ over HTTPS: what TLS and HTTP established (the
 * verified client certificate, Basic credentials, the body) goes in, its
 * response comes out as it is. A client certificate that was sent but
 * does not verify is refused here, before enroll/ sees the request: a
 * client that presents one means to be authenticated by it.
 */
static enum MHD_Result
handle_enroll(struct web_instance *in, struct MHD_Connection *c,
    struct web_req *rq, const char *method, const char *path,
    const unsigned char *body, size_t bodylen)
{
	struct enroll_request req;
	struct enroll_response resp;
	struct MHD_Response *mr = NULL;
	unsigned char *cert = NULL;
	size_t certlen = 0;
	char why[512], detail[600], addr[64], ra[24];
	char *user = NULL, *pass = NULL;
	struct query_buf q;
	enum MHD_Result ret = MHD_NO;
	int pr;

	if ((pr = web_tls_peer(in->ca, c, &cert, &certlen, why, sizeof(why))) < 0)
		return MHD_NO;
	if (pr == WEB_PEER_UNTRUSTED) {
		snprintf(detail, sizeof(detail), "client certificate not "
		    "trusted: %s", why);
		return web_error(c, rq, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		    detail, NULL);
	}
	if (in->enroll == NULL) {
		free(cert);
		return web_error(c, rq, MHD_HTTP_NOT_FOUND, "not_found",
		    "enrollment is not available", NULL);
	}
	web_client_addr(c, addr, sizeof(addr));
	if (basic_clean(c))
		user = MHD_basic_auth_get_username_password(c, &pass);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	req.basic_user = user;
	req.basic_pass = user != NULL ? pass : NULL;
	req.body = body;
	req.bodylen = bodylen;
	req.client_cert = cert;
	req.client_certlen = certlen;
	req.client_addr = addr;
	memset(&q, 0, sizeof(q));
	(void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND,
	    add_query_arg, &q);
	if (q.overflow)
		req.query = "?";	/* no query enroll/ knows */
	else if (q.len > 0)
		req.query = q.buf;
	memset(&resp, 0, sizeof(resp));
	if (enroll_handle(in->enroll, &req, &resp) != LY_OK ||
	    resp.status < 100 || resp.status > 599) {
		ret = web_error(c, rq, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal", "enrollment failed", NULL);
		goto out;
	}
	if (resp.error_code != NULL &&
	    strcmp(resp.error_code, "hsm_unavailable") == 0)
		web_metrics_hsm_error();
	if ((mr = copy_response(resp.body != NULL ? resp.body :
	    (const unsigned char *)"", resp.len, resp.content_type)) == NULL)
		goto out;
	if (resp.www_authenticate != NULL)
		add_header(mr, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    resp.www_authenticate);
	if (resp.allow != NULL)
		add_header(mr, MHD_HTTP_HEADER_ALLOW, resp.allow);
	if (resp.content_transfer_encoding != NULL)
		add_header(mr, "Content-Transfer-Encoding",
		    resp.content_transfer_encoding);
	if (resp.retry_after > 0) {
		snprintf(ra, sizeof(ra), "%ld", resp.retry_after);
		add_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	/* Responses to authenticated requests are nobody's to cache. */
	add_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = web_queue(c, rq, (unsigned int)resp.status, mr, resp.len);
 out:
	enroll_response_clear(&resp);
	if (pass != NULL) {
		OPENSSL_cleanse(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user != NULL)
		MHD_free(user);
	free(cert);
	return ret;
}

/* ---- routing -------------------------------------------------------------- */

enum route {
	R_NONE, R_HEALTHZ, R_METRICS, R_OCSP_POST, R_OCSP_GET, R_CA, R_CRL,
};

static enum route
route_of(const char *path, enum web_endpoint *ep)
{
	*ep = WEB_EP_OTHER;
	if (strcmp(path, "/healthz") == 0)
		return *ep = WEB_EP_HEALTHZ, R_HEALTHZ;
	if (strcmp(path, "/metrics") == 0)
		return *ep = WEB_EP_METRICS, R_METRICS;
	if (strcmp(path, "/ocsp") == 0 || strcmp(path, "/ocsp/") == 0)
		return *ep = WEB_EP_OCSP, R_OCSP_POST;
	if (strncmp(path, "/ocsp/", 6) == 0)
		return *ep = WEB_EP_OCSP, R_OCSP_GET;
	if (strncmp(path, "/ca/", 4) == 0)
		return *ep = WEB_EP_CA, R_CA;
	if (strncmp(path, "/crl/", 5) == 0)
		return *ep = WEB_EP_CRL, R_CRL;
	return R_NONE;
}

int
web_enroll_path(const char *path)
{
	return enroll_path(path);
}

int
web_route_takes_body(const char *method, const char *path)
{
	enum web_endpoint ep;

	return strcmp(method, MHD_HTTP_METHOD_POST) == 0 &&
	    route_of(path, &ep) == R_OCSP_POST;
}

int
web_ocsp_ctype_ok(const char *ctype)
{
	static const char want[] = "application/ocsp-request";
	size_t n = sizeof(want) - 1;

	/* RFC 6960 A.1 says it MUST be set; be liberal in what we accept. */
	if (ctype == NULL)
		return 1;
	return strncasecmp(ctype, want, n) == 0 &&
	    (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

enum MHD_Result
web_route(struct web *w, struct MHD_Connection *c, struct web_req *rq,
    const char *method, const char *path, const unsigned char *body,
    size_t bodylen)
{
	struct web_instance *in;
	enum web_endpoint ep;
	enum route rt;
	int get, post;
	enum MHD_Result ret;

	rt = route_of(path, &ep);
	get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	/*
	 * HTTPS serves enroll/ and /healthz only; enroll/ is never served
	 * over plain HTTP (its paths are 404 there, as any unknown path).
	 */
	if (web_is_tls(w)) {
		if (web_enroll_path(path) && strlen(path) <= WEB_PATH_MAX) {
			web_req_endpoint(rq, strncmp(path, "/api/", 5) == 0 ?
			    WEB_EP_API : WEB_EP_EST);
			if ((in = web_instance_get(w)) == NULL)
				return web_error(c, rq,
				    MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				    "the CA is being reloaded or failed to "
				    "load", NULL);
			ret = handle_enroll(in, c, rq, method, path, body,
			    bodylen);
			web_instance_put(w, in);
			return ret;
		}
		if (rt != R_HEALTHZ)
			rt = R_NONE;
	}
	web_req_endpoint(rq, rt == R_NONE ? WEB_EP_OTHER : ep);
	if (rt == R_NONE || strlen(path) > WEB_PATH_MAX)
		return web_error(c, rq, MHD_HTTP_NOT_FOUND, "not_found",
		    "no such resource", NULL);
	if (rt == R_OCSP_POST && !post)
		return web_error(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method_not_allowed", "POST an OCSP request here, or GET "
		    "/ocsp/<base64>", "POST");
	if (rt != R_OCSP_POST && !get)
		return web_error(c, rq, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method_not_allowed", "use GET", "GET, HEAD");
	if ((in = web_instance_get(w)) == NULL)
		return web_error(c, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "unavailable", "the CA is being reloaded or failed to "
		    "load", NULL);
	switch (rt) {
	case R_HEALTHZ:
		ret = handle_healthz(w, in, c, rq);
		break;
	case R_METRICS:
		ret = handle_metrics(in, c, rq);
		break;
	case R_OCSP_POST:
		/* An empty body is a malformed request, not a NULL pointer. */
		ret = handle_ocsp(in, c, rq, body != NULL ? body :
		    (const unsigned char *)"", bodylen, 0);
		break;
	case R_OCSP_GET:
		ret = handle_ocsp_get(in, c, rq, path + 6);
		break;
	case R_CA:
		ret = handle_ca(in, c, rq, path);
		break;
	case R_CRL:
		ret = handle_crl(w, in, c, rq, path);
		break;
	default:
		ret = MHD_NO;
		break;
	}
	web_instance_put(w, in);
	return ret;
}
