/*
 * web/server.c — the libmicrohttpd daemon: limits, body accumulation,
 * the instance requests run against, and the access log.
 *
 * Limits come from ca.conf [server]: a thread pool of `threads`, at most
 * `max_connections` connections and `max_connections_per_ip` per address,
 * `connection_timeout` seconds of silence (MHD's default is never, which
 * a slowloris client would enjoy), headers bounded by the connection's
 * memory pool (MHD answers 431 when they do not fit, and goes on
 * serving), and a request body only for POST /ocsp (and, over HTTPS, a
 * POST to enroll/), of at most max_body bytes, refused from its
 * Content-Length before any of it is read.
 *
 * The HTTPS listener is the same daemon with MHD_USE_TLS, the server key
 * and chain of DIR/tls and a trust list of Lanyard's root and issuing CA,
 * which makes MHD 0.9.75 (GnuTLS) request a client certificate without
 * requiring one and without refusing an unknown one: routes.c asks
 * web_tls_peer() (tls.c) per request.
 *
 * Facts of MHD 0.9.75 this relies on (checked with curl): by default MHD
 * percent-decodes the path before we see it ("%2F" → '/', "%00" cuts the
 * string), so we install an unescaper that leaves it alone and decode
 * where a name is taken (routes.c); the query is split off either way. A
 * response cannot be queued while a body is arriving (MHD_queue_response
 * answers MHD_NO then), so a chunked body that grows past max_body ends
 * the connection instead of getting a 413.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "enroll/enroll.h"
#include "util/util.h"
#include "web/extern.h"

/* Pool bytes beyond max_header: response headers and a body chunk. */
#define WEB_POOL_SLACK		(16 * 1024)
/* How long web_stop() lets requests in flight finish, at most. */
#define WEB_STOP_WAIT		10

struct web {
	struct MHD_Daemon	*d;
	unsigned int		 port;
	char			 url[128];	/* for the log */
	/* MHD's messages are logged under url:log_port (MHD's threads read it). */
	atomic_uint		 log_port;
	size_t			 max_body;
	unsigned int		 timeout;
	int			 tls;		/* the HTTPS listener */
	int			 fd;		/* the caller's socket, or -1 */
	/* MHD reads these at start; kept for the daemon's life anyway. */
	char			*key_pem, *cert_pem, *trust_pem;
	size_t			 key_len;

	/* The instance: users counts requests holding it. */
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct web_instance	 inst;
	int			 have;		/* inst.ca is usable */
	int			 held;		/* web_hold() in progress */
	unsigned int		 users;

	pthread_mutex_t		 hsm_lock;
	struct web_crlcache	*crls;
	atomic_uint		 inflight;	/* requests begun, not completed */
};

/* One request, from its first handler call to MHD's completion notice. */
struct web_req {
	struct timespec		 start;
	char			 method[16];
	char			 path[4 * WEB_LOG_PATH_MAX + 4];
	enum web_endpoint	 ep;
	unsigned int		 status;	/* 0: nothing queued */
	size_t			 bytes;
	int			 head;
	int			 takes_body;	/* POST /ocsp, POST to enroll/ */
	int			 close;		/* answer with Connection: close */
	unsigned char		*body;
	size_t			 bodylen, bodycap;
};

static int log_syslog;

void
web_log_syslog(int on)
{
	log_syslog = on;
	if (on)
		openlog("ca-server", LOG_PID, LOG_DAEMON);
}

char *
web_log_escape(const char *in, size_t max, char *out, size_t outlen)
{
	size_t i, o = 0;
	unsigned char ch;

	for (i = 0; in[i] != '\0' && i < max && o + 5 < outlen; i++) {
		ch = (unsigned char)in[i];
		/* Quotes and backslashes too, so a line cannot be forged. */
		if (ch > 0x20 && ch < 0x7f && ch != '\\' && ch != '"')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
	}
	if (in[i] != '\0' && o + 4 <= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* ---- the instance --------------------------------------------------------- */

struct web_instance *
web_instance_get(struct web *w)
{
	struct timespec until;
	struct web_instance *in = NULL;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WEB_HOLD_WAIT;
	pthread_mutex_lock(&w->lock);
	while (w->held &&
	    pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
		continue;
	if (!w->held && w->have) {
		w->users++;
		in = &w->inst;
	}
	pthread_mutex_unlock(&w->lock);
	return in;
}

void
web_instance_put(struct web *w, struct web_instance *in)
{
	if (in == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	if (--w->users == 0)
		pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void
web_hold(struct web *w)
{
	pthread_mutex_lock(&w->lock);
	w->held = 1;
	while (w->users > 0)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	/* Snapshots do not point into the store, but may be of another one. */
	web_crlcache_clear(w->crls);
}

void
web_resume(struct web *w, struct ca *ca, struct ocsp_responder *responder,
    struct enroll *enroll)
{
	pthread_mutex_lock(&w->lock);
	w->inst.ca = ca;
	w->inst.responder = responder;
	w->inst.enroll = enroll;
	w->inst.hsm_checked = 0;
	w->inst.hsm_probing = 0;
	w->have = ca != NULL && responder != NULL;
	w->held = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct web_crlcache *
web_crlcache(struct web *w)
{
	return w->crls;
}

void
web_hsm_lock(struct web *w)
{
	pthread_mutex_lock(&w->hsm_lock);
}

void
web_hsm_unlock(struct web *w)
{
	pthread_mutex_unlock(&w->hsm_lock);
}

/* ---- responses ------------------------------------------------------------ */

void
web_req_endpoint(struct web_req *rq, enum web_endpoint ep)
{
	rq->ep = ep;
}

enum MHD_Result
web_queue(struct MHD_Connection *c, struct web_req *rq, unsigned int status,
    struct MHD_Response *resp, size_t len)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	if (rq->close)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	if ((ret = MHD_queue_response(c, status, resp)) == MHD_YES) {
		rq->status = status;
		rq->bytes = status == MHD_HTTP_NOT_MODIFIED || rq->head ? 0 : len;
	}
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result
web_error(struct MHD_Connection *c, struct web_req *rq, unsigned int status,
    const char *code, const char *detail, const char *allow)
{
	struct MHD_Response *resp;
	json_t *o;
	char *text = NULL, *t, clean[1024];
	size_t len;

	/* jansson takes only valid UTF-8; a detail may echo a client. */
	ly_utf8_clean(detail, clean, sizeof(clean));
	if ((o = json_pack("{s:s,s:s}", "error", code, "detail", clean)) ==
	    NULL || (text = json_dumps(o, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL) {
		json_decref(o);
		return MHD_NO;
	}
	json_decref(o);
	len = strlen(text);
	/* Ends with a newline, as every JSON answer (enroll/ too). */
	if ((t = realloc(text, len + 2)) == NULL) {
		free(text);
		return MHD_NO;
	}
	text = t;
	text[len++] = '\n';
	text[len] = '\0';
	if ((resp = MHD_create_response_from_buffer(len, text,
	    MHD_RESPMEM_MUST_FREE)) == NULL) {
		free(text);
		return MHD_NO;
	}
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	if (allow != NULL)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    allow);
	return web_queue(c, rq, status, resp, len);
}

/* ---- MHD callbacks ---------------------------------------------------------- */

/*
 * Text for the log as it is, but control characters (and the backslash
 * that starts their escape) as \xHH: a line cannot be split or forged,
 * and MHD's messages stay readable. At most outlen - 1 bytes, cut before
 * an escape that would not fit.
 */
static char *
log_text_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned char ch;

	for (; *in != '\0'; in++) {
		ch = (unsigned char)*in;
		if (ch >= 0x20 && ch != 0x7f && ch != '\\') {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)ch;
		} else {
			if (o + 4 >= outlen)
				break;
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
			    ch);
		}
	}
	out[o] = '\0';
	return out;
}

/* MHD's messages, under the listener they are about (cls is its web). */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct web *w = cls;
	char buf[512], esc[4 * sizeof(buf) + 4];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* MHD has no counter of its own for this; its message is the signal. */
	if (strncmp(buf, "Server reached connection limit", 31) == 0)
		web_metrics_refused();
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	/* Messages may quote what a client sent. */
	ly_log(LY_LOG_WARN, "%s:%u: %s", w->url, atomic_load(&w->log_port),
	    log_text_escape(buf, esc, sizeof(esc)));
}

/* Leaves the path as it was sent: routes.c decodes what it takes. */
static size_t
mhd_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

int
web_is_tls(const struct web *w)
{
	return w->tls;
}

void
web_client_addr(struct MHD_Connection *c, char *addr, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(addr, len, "-");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && (sa = ci->client_addr) != NULL) {
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    (const void *)sa)->sin_addr, addr, (socklen_t)len);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
			    (const void *)sa)->sin6_addr, addr, (socklen_t)len);
	}
}

static void
access_log(struct MHD_Connection *c, const struct web_req *rq, uint64_t usec)
{
	char addr[INET6_ADDRSTRLEN];

	web_client_addr(c, addr, sizeof(addr));
	if (log_syslog)
		syslog(LOG_INFO, "%s %s %s %u %zu %llu", addr, rq->method,
		    rq->path, rq->status, rq->bytes, (unsigned long long)usec);
	else
		/* One call per line: stdio locks the stream around it. */
		fprintf(stderr, "%s %s %s %u %zu %llu\n", addr, rq->method,
		    rq->path, rq->status, rq->bytes, (unsigned long long)usec);
}

static void
mhd_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct web *w = cls;
	struct web_req *rq = *con_cls;
	struct timespec now;
	uint64_t usec;

	(void)toe;
	if (rq == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	usec = (uint64_t)(now.tv_sec - rq->start.tv_sec) * 1000000 +
	    (uint64_t)((now.tv_nsec - rq->start.tv_nsec) / 1000);
	access_log(c, rq, usec);
	if (rq->status != 0)
		web_metrics_request(rq->ep, rq->status, usec);
	/* An enrollment body may hold a one-time token. */
	if (rq->body != NULL)
		OPENSSL_cleanse(rq->body, rq->bodycap);
	free(rq->body);
	free(rq);
	*con_cls = NULL;
	atomic_fetch_sub(&w->inflight, 1);
}

/*
 * The first call for a request: decides from the headers whether it has a
 * body to wait for (POST /ocsp within the limits) or is answered now.
 */
static enum MHD_Result
first_call(struct web *w, struct MHD_Connection *c, struct web_req *rq,
    const char *url, const char *method)
{
	const char *cl;
	char *end;
	unsigned long long n;
	int enr;

	/* Over HTTPS, enroll/ takes POST bodies; it checks their types. */
	enr = w->tls && strcmp(method, MHD_HTTP_METHOD_POST) == 0 &&
	    web_enroll_path(url);
	if (!enr && !web_route_takes_body(method, url)) {
		/*
		 * MHD 0.9.75 closes the connection after a response queued
		 * at this first call (checked): answer requests without a
		 * body at the next one, to keep the connection alive, and
		 * refuse one with a body now, without reading it.
		 */
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if ((cl != NULL && strcmp(cl, "0") != 0) ||
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
			return web_route(w, c, rq, method, url, NULL, 0);
		return MHD_YES;
	}
	rq->takes_body = 1;
	rq->ep = enr ? (strncmp(url, "/api/", 5) == 0 ? WEB_EP_API :
	    WEB_EP_EST) : WEB_EP_OCSP;
	if (!enr && !web_ocsp_ctype_ok(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return web_error(c, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported_media_type", "expected application/"
		    "ocsp-request", NULL);
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		/* MHD has parsed it already; we only compare it. */
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || n > w->max_body)
			return web_error(c, rq, MHD_HTTP_CONTENT_TOO_LARGE,
			    "too_large", "request body over the limit", NULL);
	}
	return MHD_YES;
}

static enum MHD_Result
mhd_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *datalen, void **con_cls)
{
	struct web *w = cls;
	struct web_req *rq = *con_cls;
	size_t ncap;
	unsigned char *nb;
	unsigned int status;
	const char *why;

	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &rq->start);
		web_log_escape(method, 15, rq->method, sizeof(rq->method));
		web_log_escape(url, WEB_LOG_PATH_MAX, rq->path, sizeof(rq->path));
		rq->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
		rq->ep = WEB_EP_OTHER;
		*con_cls = rq;
		atomic_fetch_add(&w->inflight, 1);
		/* A head two parsers could read differently ends here. */
		if (web_framing_check(c, method, url, version, &status,
		    &why) != 0) {
			rq->close = 1;
			return web_error(c, rq, status, status ==
			    MHD_HTTP_NOT_IMPLEMENTED ? "not_implemented" :
			    status == MHD_HTTP_BAD_REQUEST ? "bad_request" :
			    "too_large", why, NULL);
		}
		return first_call(w, c, rq, url, method);
	}
	if (rq->status != 0)
		return MHD_YES;
	if (*datalen != 0) {
		/* Content-Length lied or MHD let a body through: stop. */
		if (!rq->takes_body)
			return MHD_NO;
		if (*datalen > w->max_body - rq->bodylen) {
			/* No Content-Length, or it lied: end the connection. */
			rq->status = MHD_HTTP_CONTENT_TOO_LARGE;
			return MHD_NO;
		}
		if (rq->bodylen + *datalen > rq->bodycap) {
			ncap = rq->bodycap ? rq->bodycap * 2 : 4096;
			while (ncap < rq->bodylen + *datalen)
				ncap *= 2;
			if (ncap > w->max_body)
				ncap = w->max_body;
			if ((nb = realloc(rq->body, ncap)) == NULL)
				return MHD_NO;
			rq->body = nb;
			rq->bodycap = ncap;
		}
		memcpy(rq->body + rq->bodylen, data, *datalen);
		rq->bodylen += *datalen;
		*datalen = 0;
		return MHD_YES;
	}
	return web_route(w, c, rq, method, url, rq->body, rq->bodylen);
}

/* ---- start and stop ------------------------------------------------------- */

/* "host:port" or "[v6]:port" → a socket address. */
static int
listen_parse(const char *listen, const char *scheme,
    struct sockaddr_storage *ss, socklen_t *slen, char *url, size_t urllen)
{
	struct addrinfo hints, *res = NULL;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h;
	size_t hlen;
	int rc;

	if ((colon = strrchr(listen, ':')) == NULL || colon == listen ||
	    colon[1] == '\0')
		return ly_fail(LY_ERR_CONFIG, "listen address %s: expected "
		    "ADDR:PORT", listen);
	h = listen;
	hlen = (size_t)(colon - listen);
	if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return ly_fail(LY_ERR_CONFIG, "listen address %s: too long",
		    listen);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		return ly_fail(LY_ERR_CONFIG, "listen address %s: %s", listen,
		    gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*slen = res->ai_addrlen;
	freeaddrinfo(res);
	snprintf(url, urllen, ss->ss_family == AF_INET6 ? "%s://[%s]" :
	    "%s://%s", scheme, host);
	return LY_OK;
}

/*
 * The daemon of either listener. For HTTPS, w->key_pem, cert_pem and
 * trust_pem are set: MHD then speaks TLS and, because of the trust list,
 * asks for (but does not require) a client certificate.
 */
static int
daemon_start(struct web *w, const struct conf *conf, const char *listen)
{
	const union MHD_DaemonInfo *di;
	struct sockaddr_storage ss;
	struct MHD_OptionItem addr[2];
	socklen_t slen;
	unsigned int flags;
	int r;

	if ((r = listen_parse(listen, w->tls ? "https" : "http", &ss, &slen,
	    w->url, sizeof(w->url))) != LY_OK)
		return r;
	/* Until MHD has bound: the port asked for. */
	atomic_store(&w->log_port, ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port));
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (ss.ss_family == AF_INET6 && w->fd == -1)
		flags |= MHD_USE_DUAL_STACK;
	/* The address to bind, or the socket the caller bound (web_start_fd). */
	memset(addr, 0, sizeof(addr));
	addr[0].option = w->fd != -1 ? MHD_OPTION_LISTEN_SOCKET :
	    MHD_OPTION_SOCK_ADDR;
	addr[0].value = w->fd;
	addr[0].ptr_value = w->fd != -1 ? NULL : &ss;
	addr[1].option = MHD_OPTION_END;
	if (w->tls)
		flags |= MHD_USE_TLS;
	/*
	 * MHD_OPTION_EXTERNAL_LOGGER must come first (PLATFORM-NOTES). The
	 * TLS options are last, ended early by MHD_OPTION_END for HTTP.
	 */
	errno = 0;
	/*
	 * The address is SOCK_ADDR's (or the caller's socket); the port
	 * argument names it in messages.
	 */
	w->d = MHD_start_daemon(flags, (uint16_t)atomic_load(&w->log_port),
	    NULL, NULL, mhd_handler, w,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, w,
	    MHD_OPTION_ARRAY, addr,
	    MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned int)(conf->threads > 0 ? conf->threads : 1),
	    MHD_OPTION_CONNECTION_LIMIT, conf->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, conf->max_connections_per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, conf->connection_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    conf->max_header + (size_t)WEB_POOL_SLACK,
	    MHD_OPTION_UNESCAPE_CALLBACK, mhd_unescape, NULL,
	    /* 1: no HTTP/1.1 request without Host, no space in a URI. */
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_NOTIFY_COMPLETED, mhd_completed, w,
	    w->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, w->key_pem,
	    MHD_OPTION_HTTPS_MEM_CERT, w->cert_pem,
	    MHD_OPTION_HTTPS_MEM_TRUST, w->trust_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, conf->tls_priority,
	    MHD_OPTION_END);
	if (w->d == NULL)
		return ly_fail(LY_ERR_IO, "cannot listen on %s: %s", listen,
		    errno != 0 ? strerror(errno) : "libmicrohttpd failed");
	if ((di = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT)) ==
	    NULL || di->port == 0)
		return ly_fail(LY_ERR_INTERNAL, "cannot learn the port of %s",
		    listen);
	w->port = di->port;
	atomic_store(&w->log_port, w->port);
	ly_log(LY_LOG_INFO, "listening on %s:%u", w->url, w->port);
	return LY_OK;
}

static struct web *
web_new(struct ca *ca, struct ocsp_responder *responder,
    struct enroll *enroll)
{
	const struct conf *conf = ca_conf(ca);
	struct web *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_mutex_init(&w->hsm_lock, NULL);
	atomic_init(&w->inflight, 0);
	w->fd = -1;
	atomic_init(&w->log_port, 0);
	w->inst.ca = ca;
	w->inst.responder = responder;
	w->inst.enroll = enroll;
	w->have = 1;
	w->max_body = conf->max_body;
	w->timeout = conf->connection_timeout;
	if ((w->crls = web_crlcache_new()) == NULL) {
		web_stop(w);
		return NULL;
	}
	return w;
}

int
web_start(struct ca *ca, struct ocsp_responder *responder, const char *listen,
    struct web **wp)
{
	return web_start_fd(ca, responder, -1, listen, wp);
}

int
web_start_fd(struct ca *ca, struct ocsp_responder *responder, int fd,
    const char *listen, struct web **wp)
{
	struct web *w;
	int r;

	if ((w = web_new(ca, responder, NULL)) == NULL)
		return LY_ERR_ALLOC;
	w->fd = fd;
	if ((r = daemon_start(w, ca_conf(ca), listen != NULL ? listen :
	    ca_conf(ca)->http_listen)) != LY_OK) {
		web_stop(w);
		return r;
	}
	*wp = w;
	return LY_OK;
}

int
web_start_https(struct ca *ca, struct ocsp_responder *responder,
    struct enroll *enroll, const char *dir, const char *listen,
    struct web **wp)
{
	return web_start_https_fd(ca, responder, enroll, dir, -1, listen, wp);
}

int
web_start_https_fd(struct ca *ca, struct ocsp_responder *responder,
    struct enroll *enroll, const char *dir, int fd, const char *listen,
    struct web **wp)
{
	struct web *w;
	char *keyp = NULL, *crtp = NULL;
	size_t len;
	int r;

	if ((w = web_new(ca, responder, enroll)) == NULL)
		return LY_ERR_ALLOC;
	w->tls = 1;
	w->fd = fd;
	if ((r = ca_tls_paths(dir, &keyp, &crtp)) != LY_OK ||
	    (r = ly_file_read(keyp, 64 * 1024, (unsigned char **)&w->key_pem,
	    &w->key_len)) != LY_OK ||
	    (r = ly_file_read(crtp, 64 * 1024, (unsigned char **)&w->cert_pem,
	    &len)) != LY_OK ||
	    (r = ca_trust_pem(ca, &w->trust_pem)) != LY_OK ||
	    (r = web_tls_priority_check(ca_conf(ca)->tls_priority)) != LY_OK)
		goto out;
	r = daemon_start(w, ca_conf(ca), listen != NULL ? listen :
	    ca_conf(ca)->https_listen);
 out:
	free(keyp);
	free(crtp);
	if (r != LY_OK) {
		web_stop(w);
		return r;
	}
	*wp = w;
	return LY_OK;
}

unsigned int
web_port(const struct web *w)
{
	return w->port;
}

void
web_stop(struct web *w)
{
	MHD_socket fd = MHD_INVALID_SOCKET;
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	int i;

	if (w == NULL)
		return;
	if (w->d != NULL) {
		/* Stop accepting; the socket stays ours until closed below. */
		fd = MHD_quiesce_daemon(w->d);
		for (i = 0; i < WEB_STOP_WAIT * 100 &&
		    atomic_load(&w->inflight) > 0; i++)
			nanosleep(&tick, NULL);
		MHD_stop_daemon(w->d);
		/* A socket of the caller's stays open for the next start. */
		if (fd != MHD_INVALID_SOCKET && w->fd == -1)
			close(fd);
	}
	web_crlcache_free(w->crls);
	if (w->key_pem != NULL)
		OPENSSL_cleanse(w->key_pem, w->key_len);
	free(w->key_pem);
	free(w->cert_pem);
	free(w->trust_pem);
	pthread_mutex_destroy(&w->hsm_lock);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
