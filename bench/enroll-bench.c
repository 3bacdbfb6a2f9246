/*
 * enroll-bench — a load generator for ca-server's JSON enrollment:
 * POST /api/v1/enroll {"token", "csr"} over HTTPS, HTTP/1.1 keep-alive,
 * one TLS session per connection and one thread per connection. See
 * bench/enroll, which starts the server and prints the table.
 *
 * usage: enroll-bench -a HOST:PORT -C CAFILE -c ADMIN_CRT -k ADMIN_KEY
 *            [-d SECONDS] [-n TOKENS] [-p CSRS] [-P SERVER_PID]
 *            [-T TIMELINE] CONNS...
 *
 * For each CONNS, before the clock starts: one-time tokens are made through
 * the admin API (POST /api/v1/tokens with the admin client certificate,
 * each for a distinct userId), every request is built (token + one of a
 * pool of P-256 CSRs, used round robin), and every connection has done its
 * TLS handshake, verifying the server against CAFILE. Without -n the
 * number of tokens comes from a short calibration run (itself untimed),
 * twice what it predicts; if they run out anyway the clock stops when the
 * last request is answered and the line says ran_out=yes.
 *
 * Prints one line per CONNS:
 *   conns=8 ok=4000 fail=0 io_err=0 secs=10.00 rate=400.0 p50_ms=19.80
 *   p99_ms=41.00 tokens=6100 ran_out=no cpu_gen=0.60 cpu_srv=1.20
 * where cpu_* are the cores this program and the server (-P, from /proc;
 * -1 without it) kept busy during the run: they share the machine. On
 * stderr: the first non-200 answer, and how long the tokens took. Exit
 * status 1 if anything but the load itself failed (no server, a bad admin
 * certificate, no tokens) or nothing was enrolled.
 *
 * With -T, the timed run of each point (not its calibration) is also
 * written to TIMELINE, for bench/rollover to cut the run around an event
 * it causes meanwhile: "# t0 REALTIME" when the clock starts (flushed at
 * once), then one line per answered request when the run ends,
 * "REALTIME STATUS" (the wall-clock time of the answer in seconds since
 * the epoch; STATUS the HTTP status, 0 for an I/O error, -1 for a 200
 * without a certificate).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench/bench.h"

#define RESP_MAX	65536	/* an enrollment answer is about 3 KiB */
#define IO_TIMEOUT	30	/* seconds: a hung server does not hang us */
#define MAX_CONNS	512
#define ADMIN_CONNS	4	/* parallel token makers */
#define CALIB_SECS	2.0

/* -T: where the timed runs go (see the top); NULL while calibrating. */
static FILE *timeline;

struct target {
	char		 host[256];
	char		 port[16];
	char		 hostport[280];
	SSL_CTX		*dev;	/* a device: no client certificate */
	SSL_CTX		*admin;	/* the admin client certificate */
};

struct conn {
	int		 fd;
	SSL		*ssl;
	char		 buf[RESP_MAX + 1];
};

struct resp {
	int		 status;
	const char	*body;	/* into conn.buf, until the next round trip */
	size_t		 bodylen;
	int		 close;	/* Connection: close */
};

/* One prepared request: the whole HTTP message, written at once. */
struct req {
	char		*msg;
	size_t		 len;
};

static void
ssl_err(const char *where)
{
	fprintf(stderr, "enroll-bench: %s\n", where);
	ERR_print_errors_fp(stderr);
}

/* ---- one keep-alive TLS connection ------------------------------------ */

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd != -1)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

/* TCP, then TLS verified against the CA file for t->host. 0 or -1. */
static int
conn_open(const struct target *t, SSL_CTX *ctx, struct conn *c)
{
	struct addrinfo hints, *ai = NULL;
	struct timeval tv = { IO_TIMEOUT, 0 };
	X509_VERIFY_PARAM *vp;
	int one = 1, e;

	c->fd = -1;
	c->ssl = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((e = getaddrinfo(t->host, t->port, &hints, &ai)) != 0) {
		fprintf(stderr, "enroll-bench: %s: %s\n", t->host,
		    gai_strerror(e));
		return -1;
	}
	if ((c->fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1 ||
	    connect(c->fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		perror("enroll-bench: connect");
		goto fail;
	}
	/* A request is one write; Nagle would only add a delayed ACK. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((c->ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(c->ssl, c->fd))
		goto tls;
	/* The server certificate names 127.0.0.1 as an IP SAN. */
	vp = SSL_get0_param(c->ssl);
	if (!X509_VERIFY_PARAM_set1_ip_asc(vp, t->host) &&
	    !SSL_set1_host(c->ssl, t->host))
		goto tls;
	if (SSL_connect(c->ssl) != 1)
		goto tls;
	freeaddrinfo(ai);
	return 0;
 tls:
	ssl_err("TLS handshake");
 fail:
	freeaddrinfo(ai);
	conn_close(c);
	return -1;
}

/*
 * Writes one request and reads its answer, parsed just enough: the status
 * line, Content-Length and Connection: close. 0, or -1 on an I/O error or
 * an answer we cannot frame (then the connection is to be closed).
 */
static int
conn_roundtrip(struct conn *c, const char *msg, size_t len, struct resp *r)
{
	size_t have = 0, hlen, clen = (size_t)-1;
	char *eoh = NULL, *line, *next;
	int n;

	memset(r, 0, sizeof(*r));
	if (SSL_write(c->ssl, msg, (int)len) != (int)len)
		return -1;
	while (eoh == NULL) {
		if (have >= RESP_MAX ||
		    (n = SSL_read(c->ssl, c->buf + have,
		    (int)(RESP_MAX - have))) <= 0)
			return -1;
		have += (size_t)n;
		c->buf[have] = '\0';
		eoh = strstr(c->buf, "\r\n\r\n");
	}
	hlen = (size_t)(eoh - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	*eoh = '\0';
	for (line = strstr(c->buf, "\r\n"); line != NULL; line = next) {
		line += 2;
		next = strstr(line, "\r\n");
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = strtoul(line + 15, NULL, 10);
		else if (strncasecmp(line, "Connection:", 11) == 0 &&
		    strstr(line, "close") != NULL)
			r->close = 1;
	}
	if (clen == (size_t)-1 || clen > RESP_MAX - hlen)
		return -1;	/* MHD answers a buffer with a length */
	while (have < hlen + clen) {
		if ((n = SSL_read(c->ssl, c->buf + have,
		    (int)(hlen + clen - have))) <= 0)
			return -1;
		have += (size_t)n;
	}
	c->buf[hlen + clen] = '\0';
	r->body = c->buf + hlen;
	r->bodylen = clen;
	return 0;
}

static char *
http_post(const struct target *t, const char *path, const char *body)
{
	char *msg;
	size_t len = strlen(body);

	if (asprintf(&msg, "POST %s HTTP/1.1\r\nHost: %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    path, t->hostport, len, body) == -1)
		return NULL;
	return msg;
}

/* ---- tokens, through the admin API --------------------------------------- */

struct mint {
	const struct target *t;
	char		**tokens;
	long		 n;
	atomic_long	 next;
	atomic_long	*user;	/* userIds, distinct over the process */
	atomic_int	 failed;
};

/* A token maker: one admin connection, tokens until there are n. */
static void *
mint_loop(void *arg)
{
	struct mint *m = arg;
	struct conn c;
	struct resp r;
	json_t *o = NULL;
	const char *tok;
	char *body = NULL, *msg = NULL, id[64];
	long i;

	if (conn_open(m->t, m->t->admin, &c) != 0) {
		m->failed = 1;
		return NULL;
	}
	while (!m->failed && (i = atomic_fetch_add(&m->next, 1)) < m->n) {
		snprintf(id, sizeof(id), "{\"platform\":\"linux\","
		    "\"userId\":%ld}", atomic_fetch_add(m->user, 1));
		if ((o = json_pack("{s:s, s:s, s:s}", "profile", "client",
		    "identity", id, "ttl", "1h")) == NULL ||
		    (body = json_dumps(o, JSON_COMPACT)) == NULL ||
		    (msg = http_post(m->t, "/api/v1/tokens", body)) == NULL)
			goto fail;
		json_decref(o);
		o = NULL;
		if (conn_roundtrip(&c, msg, strlen(msg), &r) != 0) {
			fprintf(stderr, "enroll-bench: token: I/O error\n");
			goto fail;
		}
		if (r.status != 201 ||
		    (o = json_loadb(r.body, r.bodylen, 0, NULL)) == NULL ||
		    json_unpack(o, "{s:s}", "token", &tok) != 0) {
			fprintf(stderr, "enroll-bench: token: HTTP %d %.*s\n",
			    r.status, (int)r.bodylen, r.body);
			goto fail;
		}
		m->tokens[i] = strdup(tok);
		OPENSSL_cleanse((char *)tok, strlen(tok));
		json_decref(o);
		o = NULL;
		free(body);
		free(msg);
		body = msg = NULL;
		if (m->tokens[i] == NULL)
			goto fail;
		if (r.close) {
			conn_close(&c);
			if (conn_open(m->t, m->t->admin, &c) != 0)
				goto fail;
		}
	}
	conn_close(&c);
	return NULL;
 fail:
	m->failed = 1;
	json_decref(o);
	free(body);
	free(msg);
	conn_close(&c);
	return NULL;
}

/* n new tokens into *tokensp (strings, caller frees), or -1. */
static int
mint_tokens(const struct target *t, long n, atomic_long *user,
    char ***tokensp)
{
	pthread_t th[ADMIN_CONNS];
	struct mint m;
	int i, nth = 0;

	memset(&m, 0, sizeof(m));
	m.t = t;
	m.n = n;
	m.user = user;
	if ((m.tokens = calloc((size_t)n, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < ADMIN_CONNS && i < n; i++)
		if (pthread_create(&th[nth], NULL, mint_loop, &m) == 0)
			nth++;
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (m.failed || nth == 0) {
		for (i = 0; i < n; i++)
			free(m.tokens[i]);
		free(m.tokens);
		return -1;
	}
	*tokensp = m.tokens;
	return 0;
}

/* ---- CSRs and requests, made before the clock starts -------------------- */

/* The enrollment request of each token; the CSRs round robin. */
static struct req *
make_requests(const struct target *t, char **tokens, long n, char **csrs,
    int ncsr)
{
	struct req *rq;
	json_t *o;
	char *body;
	long i;

	if ((rq = calloc((size_t)n, sizeof(*rq))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		o = json_pack("{s:s, s:s}", "token", tokens[i], "csr",
		    csrs[i % ncsr]);
		body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (body == NULL ||
		    (rq[i].msg = http_post(t, "/api/v1/enroll", body)) ==
		    NULL) {
			free(body);
			return NULL;	/* XXX leaks; the program exits */
		}
		rq[i].len = strlen(rq[i].msg);
		free(body);
	}
	return rq;
}

static void
free_requests(struct req *rq, long n)
{
	long i;

	for (i = 0; rq != NULL && i < n; i++)
		free(rq[i].msg);
	free(rq);
}

/* ---- CPU time, to split the 2 cores between us and the server ----------- */

/* CPU seconds (user + system) of this process, every thread. */
static double
cpu_self(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of process pid from /proc (utime + stime), or -1; *ppidp. */
static double
cpu_one(long pid, long *ppidp)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	long ppid;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "(comm)": state, ppid (fields 3, 4); utime, stime (14, 15). */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &ppid, &ut, &st) != 3)
		return -1;
	*ppidp = ppid;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * CPU seconds of process pid and its children (ca-server's front and
 * engine), or -1.
 */
static double
cpu_pid(long pid)
{
	struct dirent *d;
	DIR *dir;
	double c, sum;
	long ppid, k;
	char *end;

	if (pid <= 0 || (sum = cpu_one(pid, &ppid)) < 0)
		return -1;
	if ((dir = opendir("/proc")) == NULL)
		return sum;
	while ((d = readdir(dir)) != NULL) {
		k = strtol(d->d_name, &end, 10);
		if (*end != '\0' || k <= 0 || k == pid)
			continue;
		if ((c = cpu_one(k, &ppid)) >= 0 && ppid == pid)
			sum += c;
	}
	closedir(dir);
	return sum;
}

/* ---- the load ------------------------------------------------------------ */

struct load {
	const struct target *t;
	const struct req *rq;
	long		 n;
	double		*lat;		/* per request, seconds */
	double		*end;		/* per request, when answered */
	short		*status;	/* per request: HTTP status, 0 = I/O error, -1 = bad 200 */
	atomic_long	 next;
	atomic_int	 stop;
	atomic_int	 running;
	atomic_int	 sampled;	/* an error body was printed */
	int		 connect_failed;
	pthread_barrier_t ready, go;
	double		 t0;
	pthread_mutex_t	 mu;
	double		 t_end;		/* the last answer */
	long		 io_err;
};

static void
load_sample(struct load *l, const struct resp *r)
{
	if (atomic_exchange(&l->sampled, 1) != 0)
		return;
	fprintf(stderr, "enroll-bench: sample answer: HTTP %d: %.*s\n",
	    r->status, (int)(r->bodylen > 400 ? 400 : r->bodylen), r->body);
}

static void *
load_loop(void *arg)
{
	struct load *l = arg;
	struct conn c;
	struct resp r;
	double t, last = 0;
	long i, ioerr = 0;
	int up;

	up = conn_open(l->t, l->t->dev, &c) == 0;
	if (!up) {
		pthread_mutex_lock(&l->mu);
		l->connect_failed = 1;
		pthread_mutex_unlock(&l->mu);
	}
	pthread_barrier_wait(&l->ready);
	pthread_barrier_wait(&l->go);
	while (up && !l->stop && !l->connect_failed &&
	    (i = atomic_fetch_add(&l->next, 1)) < l->n) {
		t = bench_now();
		if (conn_roundtrip(&c, l->rq[i].msg, l->rq[i].len, &r) != 0) {
			/* The token's fate is unknown: it is not retried. */
			l->status[i] = 0;
			ioerr++;
			r.close = 1;
		} else if (r.status == 200) {
			l->status[i] = memmem(r.body, r.bodylen,
			    "\"certificate\"", 13) != NULL ? 200 : -1;
			if (l->status[i] != 200)
				load_sample(l, &r);
		} else {
			l->status[i] = (short)r.status;
			load_sample(l, &r);
		}
		last = bench_now();
		l->lat[i] = last - t;
		l->end[i] = last;
		if (r.close) {
			conn_close(&c);
			up = conn_open(l->t, l->t->dev, &c) == 0;
		}
	}
	if (up)
		conn_close(&c);
	pthread_mutex_lock(&l->mu);
	if (last > l->t_end)
		l->t_end = last;
	l->io_err += ioerr;
	pthread_mutex_unlock(&l->mu);
	l->running--;
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct result {
	long		 ok, fail, io_err, done;
	double		 secs, rate, p50, p99;
	double		 cpu_gen, cpu_srv;	/* cores busy during the run; -1 unknown */
	int		 ran_out;
};

/* Seconds since the epoch on the wall clock. */
static double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The answers of the run into the timeline, on the wall clock (-T). */
static void
timeline_write(const struct load *l, long done, double wall0)
{
	long i;

	for (i = 0; i < done; i++)
		fprintf(timeline, "%.6f %d\n", wall0 + (l->end[i] - l->t0),
		    l->status[i]);
	fflush(timeline);
}

/*
 * conns connections enroll with rq[0..n) for at most secs seconds. -1 if a
 * connection could not be set up (nothing was sent then).
 */
static int
run_load(const struct target *t, const struct req *rq, long n, int conns,
    double secs, long srvpid, struct result *res)
{
	pthread_t th[MAX_CONNS];
	struct load l;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	double *ok_lat = NULL, until, cg, cs, wall0;
	long i;
	int k, nth = 0, r = -1;

	memset(&l, 0, sizeof(l));
	memset(res, 0, sizeof(*res));
	l.t = t;
	l.rq = rq;
	l.n = n;
	pthread_mutex_init(&l.mu, NULL);
	pthread_barrier_init(&l.ready, NULL, (unsigned)conns + 1);
	pthread_barrier_init(&l.go, NULL, (unsigned)conns + 1);
	if ((l.lat = calloc((size_t)n, sizeof(double))) == NULL ||
	    (l.end = calloc((size_t)n, sizeof(double))) == NULL ||
	    (l.status = calloc((size_t)n, sizeof(short))) == NULL ||
	    (ok_lat = calloc((size_t)n, sizeof(double))) == NULL)
		goto out;
	l.running = conns;
	for (k = 0; k < conns; k++) {
		if (pthread_create(&th[k], NULL, load_loop, &l) != 0) {
			fprintf(stderr, "enroll-bench: pthread_create\n");
			exit(1);	/* the barriers count on every thread */
		}
		nth++;
	}
	/* Every handshake done before the clock starts. */
	pthread_barrier_wait(&l.ready);
	cg = cpu_self();
	cs = cpu_pid(srvpid);
	l.t0 = bench_now();
	wall0 = wall_now();
	until = l.t0 + secs;
	if (timeline != NULL) {
		fprintf(timeline, "# t0 %.6f\n", wall0);
		fflush(timeline);
	}
	pthread_barrier_wait(&l.go);
	while (l.running > 0 && bench_now() < until)
		nanosleep(&ts, NULL);
	l.stop = 1;
	for (k = 0; k < nth; k++)
		pthread_join(th[k], NULL);
	/* Over the wall time until the last thread stopped. */
	until = bench_now() - l.t0;
	res->cpu_gen = until > 0 ? (cpu_self() - cg) / until : 0;
	res->cpu_srv = cs >= 0 && until > 0 ? (cpu_pid(srvpid) - cs) / until :
	    -1;
	if (l.connect_failed)
		goto out;

	res->done = l.next < n ? l.next : n;
	for (i = 0; i < res->done; i++) {
		if (l.status[i] == 200)
			ok_lat[res->ok++] = l.lat[i];
		else if (l.status[i] != 0)
			res->fail++;
	}
	res->io_err = l.io_err;
	if (timeline != NULL)
		timeline_write(&l, res->done, wall0);
	res->secs = l.t_end > l.t0 ? l.t_end - l.t0 : 0;
	res->rate = res->secs > 0 ? res->ok / res->secs : 0;
	res->ran_out = l.next >= n && res->secs < secs;
	if (res->ok > 0) {
		qsort(ok_lat, (size_t)res->ok, sizeof(double), cmp_double);
		res->p50 = ok_lat[(res->ok - 1) / 2] * 1e3;
		res->p99 = ok_lat[(long)((res->ok - 1) * 0.99)] * 1e3;
	}
	r = 0;
 out:
	free(l.lat);
	free(l.end);
	free(l.status);
	free(ok_lat);
	pthread_barrier_destroy(&l.ready);
	pthread_barrier_destroy(&l.go);
	pthread_mutex_destroy(&l.mu);
	return r;
}

/* Tokens and requests for n enrollments, then the load. */
static int
measure(const struct target *t, long n, int conns, double secs,
    char **csrs, int ncsr, atomic_long *user, long srvpid,
    struct result *res)
{
	struct req *rq = NULL;
	char **tokens = NULL;
	double t0;
	long i;
	int r = -1;

	t0 = bench_now();
	if (mint_tokens(t, n, user, &tokens) != 0) {
		fprintf(stderr, "enroll-bench: could not make %ld tokens\n", n);
		return -1;
	}
	fprintf(stderr, "enroll-bench: %ld tokens made in %.1f s (%.0f/s)\n",
	    n, bench_now() - t0, n / (bench_now() - t0));
	if ((rq = make_requests(t, tokens, n, csrs, ncsr)) == NULL)
		goto out;
	r = run_load(t, rq, n, conns, secs, srvpid, res);
 out:
	free_requests(rq, n);
	for (i = 0; i < n; i++) {
		OPENSSL_cleanse(tokens[i], strlen(tokens[i]));
		free(tokens[i]);
	}
	free(tokens);
	return r;
}

/* ---- main ---------------------------------------------------------------- */

static SSL_CTX *
ctx_new(const char *cafile, const char *cert, const char *key)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1 ||
	    (cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1))) {
		ssl_err(cert != NULL ? cert : cafile);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void
enroll_bench_usage(void)
{
	fprintf(stderr, "usage: enroll-bench -a HOST:PORT -C CAFILE "
	    "-c ADMIN_CRT -k ADMIN_KEY\n"
	    "           [-d SECONDS] [-n TOKENS] [-p CSRS] [-P SERVER_PID] "
	    "[-T TIMELINE] CONNS...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct target t;
	struct result res;
	atomic_long user = 1;
	const char *addr = NULL, *cafile = NULL, *cert = NULL, *key = NULL,
	    *tlpath = NULL;
	FILE *tl = NULL;
	char **csrs, *colon;
	double secs = 10, rate = 0;
	long ntok = 0, n, srvpid = 0;
	int ch, i, ncsr = 64, conns, rc = 0;

	while ((ch = getopt(argc, argv, "a:C:c:k:d:n:p:P:T:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'C': cafile = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'd': secs = atof(optarg); break;
		case 'n': ntok = atol(optarg); break;
		case 'p': ncsr = atoi(optarg); break;
		case 'P': srvpid = atol(optarg); break;
		case 'T': tlpath = optarg; break;
		default: enroll_bench_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (addr == NULL || cafile == NULL || cert == NULL || key == NULL ||
	    argc < 1 || secs <= 0 || ntok < 0 || ncsr < 1 ||
	    (colon = strrchr(addr, ':')) == NULL ||
	    (size_t)(colon - addr) >= sizeof(t.host) ||
	    strlen(colon + 1) >= sizeof(t.port))
		enroll_bench_usage();
	if (tlpath != NULL && (tl = fopen(tlpath, "w")) == NULL) {
		perror(tlpath);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&t, 0, sizeof(t));
	snprintf(t.host, sizeof(t.host), "%.*s", (int)(colon - addr), addr);
	snprintf(t.port, sizeof(t.port), "%s", colon + 1);
	snprintf(t.hostport, sizeof(t.hostport), "%s", addr);
	if ((t.dev = ctx_new(cafile, NULL, NULL)) == NULL ||
	    (t.admin = ctx_new(cafile, cert, key)) == NULL)
		return 1;
	if ((csrs = calloc((size_t)ncsr, sizeof(char *))) == NULL)
		return 1;
	for (i = 0; i < ncsr; i++) {
		char cn[32];

		snprintf(cn, sizeof(cn), "bench-%d", i);
		if ((csrs[i] = bench_csr_pem(cn)) == NULL) {
			ssl_err("CSR");
			return 1;
		}
	}

	for (i = 0; i < argc; i++) {
		if ((conns = atoi(argv[i])) < 1 || conns > MAX_CONNS)
			enroll_bench_usage();
		n = ntok;
		if (n == 0) {
			/*
			 * Calibration: how many tokens secs will take. Its
			 * first requests meet a cold server, so it may read
			 * low: the previous point's rate counts too, and
			 * twice the estimate is made.
			 */
			if (measure(&t, 64L * conns + 256, conns, CALIB_SECS,
			    csrs, ncsr, &user, srvpid, &res) != 0)
				return 1;
			if (res.rate > rate)
				rate = res.rate;
			n = (long)(rate * secs * 2) + 8L * conns + 64;
		}
		timeline = tl;
		if (measure(&t, n, conns, secs, csrs, ncsr, &user, srvpid,
		    &res) != 0)
			return 1;
		timeline = NULL;
		printf("conns=%d ok=%ld fail=%ld io_err=%ld secs=%.2f "
		    "rate=%.1f p50_ms=%.2f p99_ms=%.2f tokens=%ld ran_out=%s "
		    "cpu_gen=%.2f cpu_srv=%.2f\n",
		    conns, res.ok, res.fail, res.io_err, res.secs, res.rate,
		    res.p50, res.p99, n, res.ran_out ? "yes" : "no",
		    res.cpu_gen, res.cpu_srv);
		fflush(stdout);
		rate = res.rate;
		if (res.ok == 0)
			rc = 1;
	}
	for (i = 0; i < ncsr; i++)
		free(csrs[i]);
	free(csrs);
	SSL_CTX_free(t.dev);
	SSL_CTX_free(t.admin);
	if (tl != NULL && fclose(tl) != 0) {
		perror(tlpath);
		rc = 1;
	}
	return rc;
}
