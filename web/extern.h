/*
 * web/extern.h — declarations private to web/: the pieces server.c,
 * routes.c and metrics.c share, and the pure helpers the unit tests call
 * (URL and base64 handling, HTTP dates, conditional GET, metrics text).
 */
#ifndef LANYARD_WEB_EXTERN_H
#define LANYARD_WEB_EXTERN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <microhttpd.h>

#include "web/web.h"

/* ---- limits --------------------------------------------------------------- */

/* Bytes of the path kept in the access log; the rest is cut. */
#define WEB_LOG_PATH_MAX	200
/* A raw (still percent-encoded) URL path we look at; longer is a 404. */
#define WEB_PATH_MAX		(4 * OCSP_REQUEST_MAX)
/* "Sun, 06 Nov 1994 08:49:37 GMT" and the NUL. */
#define WEB_DATE_LEN		30
/* A quoted entity tag we make. */
#define WEB_ETAG_LEN		80
/* How long a request waits for a reload (web_hold) before a 503. */
#define WEB_HOLD_WAIT		5
/*
 * How long /healthz trusts its last HSM probe (a signature with the
 * issuing CA key): scrapers may poll it as often as they like.
 */
#define WEB_HSM_PROBE_TTL	2
/* The longest reason /healthz gives for an unavailable HSM. */
#define WEB_HSM_WHY_MAX		256

/* Which endpoint a request went to, for metrics. */
enum web_endpoint {
	WEB_EP_OCSP,
	WEB_EP_CRL,
	WEB_EP_CA,
	WEB_EP_HEALTHZ,
	WEB_EP_METRICS,
	WEB_EP_EST,
	WEB_EP_API,
	WEB_EP_OTHER,
	WEB_EP_MAX
};

/* ---- server.c: the daemon, the instance, the response helpers ------------- */

/*
 * What a request runs against: the CA and responder of the current
 * configuration. A request holds one from web_instance_get() until it has
 * queued its response; web_hold() waits for all of them.
 */
struct web_instance {
	struct ca		*ca;
	struct ocsp_responder	*responder;
	struct enroll		*enroll;	/* NULL: enrollment answers 404 */
	/* The cached HSM probe of /healthz (WEB_HSM_PROBE_TTL). */
	time_t			 hsm_checked;
	int			 hsm_r;
	char			 hsm_why[WEB_HSM_WHY_MAX];	/* if hsm_r */
	int			 hsm_probing;	/* a thread is probing */
};

struct web_req;

/* The instance for a request, or NULL (none: answer 503). */
struct web_instance *web_instance_get(struct web *);
void		 web_instance_put(struct web *, struct web_instance *);
/* The CA's CRL snapshot cache (routes.c) lives in struct web. */
struct web_crlcache *web_crlcache(struct web *);
/* The locking of web_instance.hsm_* (it is shared by the pool threads). */
void		 web_hsm_lock(struct web *);
void		 web_hsm_unlock(struct web *);

/*
 * Queues resp (of len body bytes) with status on c and records both for
 * the access log and metrics. Takes resp over (destroys it); NULL gives
 * MHD_NO, which closes the connection. Returns the MHD result.
 */
enum MHD_Result	 web_queue(struct MHD_Connection *, struct web_req *,
		    unsigned int status, struct MHD_Response *, size_t len);
/*
 * A JSON error {"error": code, "detail": detail} with status; allow (if
 * not NULL) becomes the Allow header of a 405.
 */
enum MHD_Result	 web_error(struct MHD_Connection *, struct web_req *,
		    unsigned int status, const char *code, const char *detail,
		    const char *allow);
/* Whether w is the HTTPS listener. */
int		 web_is_tls(const struct web *);
/* The client's address as text into buf ("-" if unknown). */
void		 web_client_addr(struct MHD_Connection *, char *buf, size_t len);
/* The endpoint a request is counted under. */
void		 web_req_endpoint(struct web_req *, enum web_endpoint);

/*
 * Escapes an attacker-controlled string for a log line: printable ASCII
 * but '\\' and '"' as is, the rest as \xHH; at most max input bytes, with
 * "..." when cut. out has room for 4 * max + 4 bytes. Returns out.
 */
char		*web_log_escape(const char *in, size_t max, char *out,
		    size_t outlen);

/* ---- framing.c: the request head (RFC 9112) ------------------------------ */

/* Header fields a request may have (more: 431). */
#define WEB_FRAMING_FIELDS_MAX	128

/*
 * Whether one header field is well formed: name a token (RFC 9110 5.6.2)
 * of namelen bytes, value of valuelen bytes with no NUL, CR, LF or other
 * control character but HTAB. NULL if so, else the fault in words.
 */
const char	*web_field_check(const char *name, size_t namelen,
		    const char *value, size_t valuelen);
/*
 * Checks the head of the request on c, whose method, url and version are
 * as MHD handed them to the handler (method is the start of the head):
 * no control character, space or NUL in the request target, every field
 * as web_field_check() wants it, no embedded NUL, no Content-Length with a
 * Transfer-Encoding, no two different Content-Lengths, no coding but
 * chunked. 0 if it is sound; else -1, *statusp the status to answer
 * (400, 431 or 501) and *whyp the fault (static text). The answer must
 * close the connection (RFC 9112 6.3).
 */
int		 web_framing_check(struct MHD_Connection *, const char *method,
		    const char *url, const char *version, unsigned int *statusp,
		    const char **whyp);

/* ---- routes.c: URL → handler, and the pure URL/HTTP helpers --------------- */

/*
 * Answers a request whose headers (and, for POST /ocsp, whole body) have
 * arrived. path is the raw path as sent (not unescaped).
 */
enum MHD_Result	 web_route(struct web *, struct MHD_Connection *,
		    struct web_req *, const char *method, const char *path,
		    const unsigned char *body, size_t bodylen);
/*
 * Whether path is enroll/'s (enroll_path()), served over HTTPS only.
 * POSTs to it take a body of at most max_body bytes.
 */
int		 web_enroll_path(const char *path);
/* Whether a request takes a body over HTTP: only POST /ocsp does. */
int		 web_route_takes_body(const char *method, const char *path);
/* Whether a POST /ocsp Content-Type (NULL: none) is acceptable. */
int		 web_ocsp_ctype_ok(const char *ctype);

struct web_crlcache;
struct web_crlcache *web_crlcache_new(void);
void		 web_crlcache_free(struct web_crlcache *);
/* Drops every snapshot (after a reload: the store may be another). */
void		 web_crlcache_clear(struct web_crlcache *);

/*
 * The name between prefix and suffix of a raw path ("/crl/" and ".crl"),
 * percent-decoded into name (namelen bytes, CONF_NAME_MAX + 16 in the
 * routes) and NUL-terminated. LY_ERR_NOT_FOUND if the path is not of
 * that shape, the name is empty or does not fit, or its escapes are bad.
 */
int		 web_path_name(const char *path, const char *prefix,
		    const char *suffix, char *name, size_t namelen);

/* RFC 7231 7.1.1.1 IMF-fixdate of t into buf[WEB_DATE_LEN]. */
void		 web_http_date_fmt(time_t t, char *buf);
/*
 * Parses an HTTP-date: IMF-fixdate, and the obsolete RFC 850 and asctime
 * forms recipients must accept. LY_ERR_BAD_INPUT if it is none of them.
 */
int		 web_http_date_parse(const char *, time_t *);
/*
 * Conditional GET (RFC 7232 section 6): whether to answer 304 Not
 * Modified to a request with these If-None-Match and If-Modified-Since
 * values (NULL if absent), for a representation with the quoted strong
 * entity tag etag and last_modified (0: unknown). If-None-Match, when
 * present, decides alone (weak comparison, "*" matches); an unparsable
 * If-Modified-Since is ignored. 1: 304, 0: send it.
 */
int		 web_not_modified(const char *if_none_match,
		    const char *if_modified_since, const char *etag,
		    time_t last_modified);

/* ---- tls.c: the priority string and client certificates ---------------- */

/*
 * Whether GnuTLS accepts prio ([server] tls_priority): LY_OK, or
 * LY_ERR_CONFIG with the position of the error in ly_errdetail().
 */
int		 web_tls_priority_check(const char *prio);

#define WEB_PEER_NONE		0	/* no client certificate */
#define WEB_PEER_VERIFIED	1	/* *derp: the leaf, caller frees */
#define WEB_PEER_UNTRUSTED	2	/* why: GnuTLS's words */
/*
 * The client certificate of an HTTPS request, verified by GnuTLS against
 * the instance's CA certificates, read again within a second of a
 * rollover (ca_trust_pem()), for the TLS
 * WWW client purpose, with its validity dates. Returns WEB_PEER_* or
 * LY_ERR_ALLOC.
 */
struct ca;
int		 web_tls_peer(struct ca *, struct MHD_Connection *,
		    unsigned char **derp, size_t *lenp, char *why,
		    size_t whylen);

/* ---- metrics.c: counters, histogram, text --------------------------------- */

/* Counts a finished request; safe from any thread, lock-free. */
void		 web_metrics_request(enum web_endpoint, unsigned int status,
		    uint64_t usec);
void		 web_metrics_ocsp(enum ocsp_outcome, int presigned);
void		 web_metrics_hsm_error(void);
void		 web_metrics_refused(void);
/* The HSM layer's own counters, as of this scrape (ca_hsm_stats()). */
void		 web_metrics_hsm(const struct ca_hsm_stats *);
/* The lint's counters of another process (CA_LINT_KINDS of them). */
void		 web_metrics_lint(const uint64_t *);
/* Zeroes everything (tests). */
void		 web_metrics_reset(void);

/* What /metrics says about one CRL; read from the store per scrape. */
struct web_crl_gauge {
	char		 name[CONF_NAME_MAX + 16];
	uint64_t	 number;
	time_t		 this_update;
	time_t		 next_update;
};

/*
 * The Prometheus text exposition (format 0.0.4) of every counter and of
 * the CRL gauges (age and time to nextUpdate relative to now). *textp is
 * the caller's to free.
 */
int		 web_metrics_text(const struct web_crl_gauge *, size_t n,
		    time_t now, char **textp, size_t *lenp);
/*
 * The gauges of ca_status_get() in the same format (web/metrics_status.c);
 * *textp is the caller's to free.
 */
struct ca_status;
int		 web_metrics_status_text(const struct ca_status *,
		    char **textp, size_t *lenp);

#endif /* LANYARD_WEB_EXTERN_H */
