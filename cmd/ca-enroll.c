/*
 * cmd/ca-enroll.c — the device agent: enrolls with a one-time token over
 * HTTPS (POST /api/v1/enroll), then keeps the certificate fresh by
 * reissuing with mTLS (POST /api/v1/reissue) inside the server's window.
 *
 * The private key is generated here and never leaves the device; only the
 * CSR is sent. HTTP is spoken by hand over an OpenSSL SSL BIO: one
 * HTTP/1.0 request per connection, so there is no chunked encoding to
 * decode and no new dependency.
 *
 * Files in the identity directory (created 0700):
 *	key.pem    0600	the private key
 *	cert.pem   0644	the certificate
 *	chain.pem  0644	certificate, then the chain the server sent
 *	ca.pem     0644	copy of the trust anchor given at enroll
 *	agent.conf 0600	server URL; earliest reissue time once known
 *	backup/<UTC time>/	the previous key, cert and chain after a renew
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/util.h"

/* Exit statuses (documented in ca-enroll(1)). */
#define EXIT_AGENT_OK		0	/* done, or nothing to do yet */
#define EXIT_AGENT_ERR		1	/* failed; trying again later may help */
#define EXIT_AGENT_USAGE	2	/* bad command line */
#define EXIT_AGENT_REENROLL	3	/* refused for good: expired, revoked, bad token */

#define AGENT_MAX_RESPONSE	(1024 * 1024)
#define AGENT_MAX_FILE		(256 * 1024)
#define AGENT_MAX_TOKEN		1024
#define AGENT_IO_TIMEOUT	30	/* seconds, per read/write */
#define AGENT_DEFAULT_INTERVAL	3600

struct agent_url {
	char	*host;		/* without brackets */
	char	*port;
	char	*prefix;	/* path prefix without trailing '/', "" if none */
	int	 is_ip;
};

struct agent_reply {
	int	 status;
	char	*certificate;	/* PEM */
	char	*chain;		/* PEM, concatenated */
	char	*serial;
	char	*not_after;
	char	*error;		/* server's stable code, or NULL */
	char	*detail;
	char	*allowed_after;
};

struct agent {
	const char	*server;	/* URL */
	const char	*ca_file;
	const char	*dir;
	const char	*key_type;
	int		 verbose;
	int		 force;
};

static volatile sig_atomic_t agent_stop;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ca-enroll --server URL --ca-file FILE --identity-dir DIR\n"
	    "                 [--token TOKEN | --token-file FILE] [--key-type ec-p256|ec-p384|rsa-2048] [-v]\n"
	    "       ca-enroll renew --identity-dir DIR [--server URL] [--ca-file FILE]\n"
	    "                 [--force] [--daemon [--interval 1h]] [-v]\n");
	exit(EXIT_AGENT_USAGE);
}

static void
agent_err(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
agent_err(const char *fmt, ...)
{
	va_list ap;

	fputs("ca-enroll: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Prints the OpenSSL error queue after a message, then clears it. */
static void
agent_err_crypto(const char *what)
{
	unsigned long e;
	char buf[256];

	agent_err("%s", what);
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, "ca-enroll:   %s\n", buf);
	}
}

/* ---- URL ---------------------------------------------------------------- */

static void
agent_url_free(struct agent_url *u)
{
	free(u->host);
	free(u->port);
	free(u->prefix);
	memset(u, 0, sizeof(*u));
}

/* Parses https://HOST[:PORT][/prefix]; HOST may be [v6]. 0 or -1. */
static int
agent_url_parse(const char *url, struct agent_url *u)
{
	const char *p, *h, *he, *slash;
	unsigned char tmp[16];

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "https://", 8) != 0 || strlen(url) > 255)
		return -1;
	h = url + 8;
	slash = strchr(h, '/');
	if (slash == NULL)
		slash = h + strlen(h);
	if (*h == '[') {
		if ((he = memchr(h, ']', slash - h)) == NULL)
			return -1;
		h++;
		p = he + 1;
	} else {
		for (he = h; he < slash && *he != ':'; he++)
			;
		p = he;
	}
	if (he == h)
		return -1;
	if ((u->host = strndup(h, he - h)) == NULL)
		goto fail;
	/* Host and path go into the request line and Host header verbatim. */
	if (strspn(u->host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") != strlen(u->host) ||
	    strcspn(slash, " \t\r\n\"#?") != strlen(slash))
		goto fail;
	if (p < slash && *p == ':') {
		p++;
		if (p == slash || strspn(p, "0123456789") != (size_t)(slash - p) ||
		    slash - p > 5)
			goto fail;
		u->port = strndup(p, slash - p);
	} else if (p == slash)
		u->port = strdup("443");
	else
		goto fail;
	u->prefix = strdup(slash);
	if (u->port == NULL || u->prefix == NULL)
		goto fail;
	if (*u->prefix != '\0' && u->prefix[strlen(u->prefix) - 1] == '/')
		u->prefix[strlen(u->prefix) - 1] = '\0';
	u->is_ip = inet_pton(AF_INET, u->host, tmp) == 1 ||
	    inet_pton(AF_INET6, u->host, tmp) == 1;
	return 0;
 fail:
	agent_url_free(u);
	return -1;
}

/* ---- key and CSR -------------------------------------------------------- */

static EVP_PKEY *
agent_keygen(const char *type)
{
	EVP_PKEY *k = NULL;

	if (strcmp(type, "ec-p256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(type, "ec-p384") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(type, "rsa-2048") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else {
		agent_err("unknown key type %s", type);
		return NULL;
	}
	if (k == NULL)
		agent_err_crypto("key generation failed");
	return k;
}

/* The key type of an existing key, so a renew keeps the algorithm. */
static const char *
agent_keytype_of(EVP_PKEY *k)
{
	char grp[64];
	size_t len;

	if (EVP_PKEY_is_a(k, "RSA"))
		return "rsa-2048";
	if (EVP_PKEY_get_group_name(k, grp, sizeof(grp), &len) &&
	    strcmp(grp, "secp384r1") == 0)
		return "ec-p384";
	return "ec-p256";
}

static char *
agent_bio_string(BIO *b)
{
	char *data, *s;
	long len;

	len = BIO_get_mem_data(b, &data);
	if (len < 0 || (s = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/*
 * A CSR for key as PEM. The subject is a placeholder: the server decides
 * the identity from the token or the current certificate.
 */
static char *
agent_csr(EVP_PKEY *key)
{
	X509_REQ *req = NULL;
	X509_NAME *nm = NULL;
	BIO *b = NULL;
	char *pem = NULL;

	if ((req = X509_REQ_new()) == NULL || (nm = X509_NAME_new()) == NULL ||
	    (b = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (!X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"ca-enroll", -1, -1, 0) ||
	    !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, nm) ||
	    !X509_REQ_set_pubkey(req, key) ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    !PEM_write_bio_X509_REQ(b, req))
		goto out;
	pem = agent_bio_string(b);
 out:
	if (pem == NULL)
		agent_err_crypto("cannot build the CSR");
	BIO_free(b);
	X509_NAME_free(nm);
	X509_REQ_free(req);
	return pem;
}

/* PKCS#8 PEM of the private key, unencrypted (the file is 0600). */
static char *
agent_key_pem(EVP_PKEY *key)
{
	BIO *b;
	char *pem = NULL, *data;
	long len;

	if ((b = BIO_new(BIO_s_secmem())) == NULL)
		return NULL;
	if (PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
		pem = agent_bio_string(b);
	len = BIO_get_mem_data(b, &data);
	if (len > 0)
		OPENSSL_cleanse(data, len);
	BIO_free(b);
	return pem;
}

/* ---- HTTPS -------------------------------------------------------------- */

static SSL_CTX *
agent_tls_ctx(const char *ca_file, const char *cert_file, const char *key_file)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_load_verify_file(ctx, ca_file) != 1) {
		agent_err_crypto("cannot load the CA file");
		agent_err("CA file: %s", ca_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (cert_file != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)) {
		agent_err_crypto("cannot load the current certificate and key");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
 fail:
	agent_err_crypto("TLS setup failed");
	return NULL;
}

static int
agent_write_all(SSL *ssl, const char *buf, size_t len)
{
	size_t done;

	while (len > 0) {
		if (SSL_write_ex(ssl, buf, len, &done) != 1)
			return -1;
		buf += done;
		len -= done;
	}
	return 0;
}

/*
 * Parses an HTTP/1.x response in buf[0..len) into status and body
 * (pointing into buf). 0 or -1.
 */
static int
agent_http_parse(char *buf, size_t len, int *status, char **body,
    size_t *bodylen)
{
	char *eoh, *p, *cl;
	long st;
	unsigned long long want;

	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
		return -1;
	st = strtol(buf + 9, &p, 10);
	if (p != buf + 12 || st < 100 || st > 599)
		return -1;
	if ((eoh = strstr(buf, "\r\n\r\n")) == NULL)
		return -1;
	*eoh = '\0';
	*body = eoh + 4;
	*bodylen = len - (*body - buf);
	/* With a Content-Length, a short body is a truncated answer. */
	for (p = buf; (p = strstr(p, "\r\n")) != NULL; p += 2) {
		if (strncasecmp(p + 2, "Content-Length:", 15) != 0)
			continue;
		cl = p + 17;
		want = strtoull(cl, NULL, 10);
		if (want > *bodylen)
			return -1;
		*bodylen = want;
		break;
	}
	(*body)[*bodylen] = '\0';
	*status = (int)st;
	return 0;
}

/*
 * POSTs json to path on the server; on success *status and a NUL-terminated
 * *body (caller frees) are set. TLS verifies the server against ctx's CA and
 * the URL's host name or IP address. 0 or -1 (already reported).
 */
static int
agent_post(SSL_CTX *ctx, const struct agent_url *u, const char *path,
    const char *json, int *status, char **bodyp, size_t *bodylenp)
{
	BIO *conn = NULL;
	SSL *ssl = NULL;
	char *req = NULL, *buf = NULL, *body, hostport[300];
	size_t len = 0, n, bodylen;
	struct timeval tv = { AGENT_IO_TIMEOUT, 0 };
	int fd, r = -1, reqlen, rd;
	long vr;

	if (strchr(u->host, ':') != NULL)
		snprintf(hostport, sizeof(hostport), "[%s]:%s", u->host, u->port);
	else
		snprintf(hostport, sizeof(hostport), "%s:%s", u->host, u->port);
	if ((conn = BIO_new_connect(hostport)) == NULL)
		goto crypto;
	errno = 0;
	if (BIO_do_connect(conn) <= 0) {
		agent_err("cannot connect to %s: %s", hostport,
		    errno != 0 ? strerror(errno) : "connection failed");
		ERR_clear_error();
		goto out;
	}
	if (BIO_get_fd(conn, &fd) >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if ((ssl = SSL_new(ctx)) == NULL)
		goto crypto;
	if (u->is_ip) {
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u->host))
			goto crypto;
	} else if (!SSL_set1_host(ssl, u->host) ||
	    !SSL_set_tlsext_host_name(ssl, u->host))
		goto crypto;
	SSL_set_bio(ssl, conn, conn);
	conn = NULL;	/* owned by ssl */
	if (SSL_connect(ssl) != 1) {
		vr = SSL_get_verify_result(ssl);
		if (vr != X509_V_OK)
			agent_err("TLS: the server's certificate is not "
			    "acceptable (checked against the CA file and the "
			    "URL's host): %s",
			    X509_verify_cert_error_string(vr));
		agent_err_crypto("TLS handshake failed");
		goto out;
	}
	reqlen = asprintf(&req, "POST %s%s HTTP/1.0\r\n"
	    "Host: %s\r\n"
	    "User-Agent: ca-enroll/" PACKAGE_VERSION "\r\n"
	    "Content-Type: application/json\r\n"
	    "Accept: application/json\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s",
	    u->prefix, path, hostport, strlen(json), json);
	if (reqlen < 0) {
		req = NULL;
		agent_err("out of memory");
		goto out;
	}
	if (agent_write_all(ssl, req, reqlen) != 0) {
		agent_err_crypto("sending the request failed");
		goto out;
	}
	if ((buf = malloc(AGENT_MAX_RESPONSE + 1)) == NULL)
		goto out;
	for (;;) {
		if (len == AGENT_MAX_RESPONSE) {
			agent_err("response larger than %d bytes",
			    AGENT_MAX_RESPONSE);
			goto out;
		}
		rd = SSL_read_ex(ssl, buf + len, AGENT_MAX_RESPONSE - len, &n);
		if (rd != 1) {
			if (SSL_get_error(ssl, rd) == SSL_ERROR_ZERO_RETURN ||
			    SSL_get_error(ssl, rd) == SSL_ERROR_SYSCALL ||
			    ERR_peek_error() == 0)
				break;
			agent_err_crypto("reading the response failed");
			goto out;
		}
		len += n;
	}
	ERR_clear_error();
	buf[len] = '\0';
	if (agent_http_parse(buf, len, status, &body, &bodylen) != 0) {
		agent_err("malformed or truncated HTTP response from %s",
		    hostport);
		goto out;
	}
	memmove(buf, body, bodylen + 1);
	*bodyp = buf;
	*bodylenp = bodylen;
	buf = NULL;
	r = 0;
	goto out;
 crypto:
	agent_err_crypto("TLS setup failed");
 out:
	if (req != NULL) {
		/* The request holds the token. */
		OPENSSL_cleanse(req, strlen(req));
		free(req);
	}
	free(buf);
	if (ssl != NULL) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	BIO_free_all(conn);
	return r;
}

/* ---- the server's answer ------------------------------------------------ */

static void
agent_reply_clear(struct agent_reply *a)
{
	free(a->certificate);
	free(a->chain);
	free(a->serial);
	free(a->not_after);
	free(a->error);
	free(a->detail);
	free(a->allowed_after);
	memset(a, 0, sizeof(*a));
}

static char *
agent_json_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v)) {
		char *s;

		if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			return NULL;
		return s;
	}
	return NULL;
}

/*
 * Parses the JSON answer of /api/v1/enroll or /api/v1/reissue. For a 200,
 * certificate, chain (concatenated PEM), serial and not_after are required;
 * otherwise error, detail and allowed_after are taken if present. 0 or -1
 * (a 200 without the required fields, or a body that is not JSON).
 */
static int
agent_reply_parse(int status, const char *body, size_t len,
    struct agent_reply *a)
{
	json_t *o, *chain, *v;
	json_error_t jerr;
	size_t i, total = 0;
	int r = -1;

	memset(a, 0, sizeof(*a));
	a->status = status;
	if ((o = json_loadb(body, len, 0, &jerr)) == NULL ||
	    !json_is_object(o)) {
		json_decref(o);
		if (status == 200)
			return -1;
		/* Not JSON (a proxy's page, a 404 from an older server). */
		a->error = strdup("http_error");
		return 0;
	}
	if (status != 200) {
		a->error = agent_json_str(o, "error");
		a->detail = agent_json_str(o, "detail");
		a->allowed_after = agent_json_str(o, "allowed_after");
		if (a->error == NULL)
			a->error = strdup("http_error");
		r = 0;
		goto out;
	}
	a->certificate = agent_json_str(o, "certificate");
	a->serial = agent_json_str(o, "serial");
	a->not_after = agent_json_str(o, "not_after");
	chain = json_object_get(o, "chain");
	if (a->certificate == NULL || a->serial == NULL || !json_is_array(chain))
		goto out;
	json_array_foreach(chain, i, v) {
		if (!json_is_string(v))
			goto out;
		total += json_string_length(v) + 1;
	}
	if ((a->chain = calloc(1, total + strlen(a->certificate) + 2)) == NULL)
		goto out;
	strcpy(a->chain, a->certificate);
	if (*a->chain != '\0' && a->chain[strlen(a->chain) - 1] != '\n')
		strcat(a->chain, "\n");
	json_array_foreach(chain, i, v) {
		strcat(a->chain, json_string_value(v));
		if (a->chain[strlen(a->chain) - 1] != '\n')
			strcat(a->chain, "\n");
	}
	r = 0;
 out:
	json_decref(o);
	return r;
}

/* Parses RFC 3339 UTC ("2026-11-23T18:58:00Z") or epoch seconds; 0 on failure. */
static time_t
agent_time_parse(const char *s)
{
	struct tm tm;
	char *end;
	long long v;

	if (s == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end != NULL && *end == '\0')
		return timegm(&tm);
	v = strtoll(s, &end, 10);
	if (*s != '\0' && *end == '\0' && v > 0)
		return (time_t)v;
	return 0;
}

/*
 * Reports a non-200 answer. Returns the exit status: "too early" is not an
 * error (EXIT_AGENT_OK); a refusal that another try cannot fix is
 * EXIT_AGENT_REENROLL.
 */
static int
agent_reply_report(const struct agent *ag, const struct agent_reply *a)
{
	if (a->status == 409 && a->error != NULL &&
	    strcmp(a->error, "reissue_too_early") == 0) {
		if (ag->verbose)
			printf("not yet inside the renewal window%s%s\n",
			    a->allowed_after ? "; allowed after " : "",
			    a->allowed_after ? a->allowed_after : "");
		return EXIT_AGENT_OK;
	}
	agent_err("the server refused (HTTP %d): %s%s%s", a->status,
	    a->error ? a->error : "unknown",
	    a->detail ? ": " : "", a->detail ? a->detail : "");
	if (a->status == 401 || a->status == 403)
		return EXIT_AGENT_REENROLL;
	return EXIT_AGENT_ERR;
}

/* ---- files -------------------------------------------------------------- */

static char *
agent_path(const char *dir, const char *name)
{
	char *p = ly_path_join(dir, name);

	if (p == NULL) {
		agent_err("out of memory");
		exit(EXIT_AGENT_ERR);
	}
	return p;
}

static int
agent_write(const char *dir, const char *name, const char *data,
    unsigned int mode)
{
	char *p = agent_path(dir, name);
	int r;

	if ((r = ly_file_write_atomic(p, data, strlen(data), mode)) != LY_OK)
		agent_err("cannot write %s: %s %s", p, ly_strerror(r),
		    ly_errdetail());
	free(p);
	return r == LY_OK ? 0 : -1;
}

/* Reads DIR/name (NUL-terminated) or NULL, silently if missing and quiet. */
static char *
agent_read(const char *dir, const char *name, int quiet)
{
	char *p = agent_path(dir, name);
	unsigned char *buf = NULL;
	size_t len;
	int r;

	if ((r = ly_file_read(p, AGENT_MAX_FILE, &buf, &len)) != LY_OK) {
		if (!quiet)
			agent_err("cannot read %s: %s %s", p, ly_strerror(r),
			    ly_errdetail());
		buf = NULL;
	}
	free(p);
	return (char *)buf;
}

/* agent.conf: "key = value" lines. Returns a copy of the value or NULL. */
static char *
agent_conf_get(const char *dir, const char *key)
{
	char *conf, *line, *save = NULL, *v, *r = NULL;
	size_t kl = strlen(key);

	if ((conf = agent_read(dir, "agent.conf", 1)) == NULL)
		return NULL;
	for (line = strtok_r(conf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, kl) != 0)
			continue;
		v = line + kl;
		v += strspn(v, " \t");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t");
		free(r);
		r = strdup(v);
	}
	free(conf);
	return r;
}

static int
agent_conf_write(const char *dir, const char *server, time_t allowed_after)
{
	char *s, t[21];
	int r;

	if (allowed_after > 0) {
		ly_time_fmt(allowed_after, t);
		r = asprintf(&s, "# written by ca-enroll\nserver = %s\n"
		    "allowed_after = %s\n", server, t);
	} else
		r = asprintf(&s, "# written by ca-enroll\nserver = %s\n", server);
	if (r < 0)
		return -1;
	r = agent_write(dir, "agent.conf", s, 0600);
	free(s);
	return r;
}

/* Copies key, cert and chain into DIR/backup/<UTC time>/ before a renew. */
static int
agent_backup(const char *dir)
{
	static const struct { const char *name; unsigned int mode; } f[] = {
		{ "key.pem", 0600 }, { "cert.pem", 0644 }, { "chain.pem", 0644 },
	};
	char stamp[32], *bdir, *sub, *data;
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	int r = -1;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "backup/%Y%m%dT%H%M%SZ", &tm);
	bdir = agent_path(dir, stamp);
	if ((r = ly_mkdir_p(bdir, 0700)) != LY_OK) {
		agent_err("cannot create %s: %s", bdir, ly_errdetail());
		free(bdir);
		return -1;
	}
	sub = agent_path(dir, "backup");
	chmod(sub, 0700);
	free(sub);
	r = 0;
	for (i = 0; i < sizeof(f) / sizeof(f[0]) && r == 0; i++) {
		if ((data = agent_read(dir, f[i].name, 0)) == NULL) {
			r = -1;
			break;
		}
		r = agent_write(bdir, f[i].name, data, f[i].mode);
		OPENSSL_cleanse(data, strlen(data));
		free(data);
	}
	free(bdir);
	return r;
}

/* The certificate must carry our public key: a server bug must not leave us with a mismatched pair. */
static X509 *
agent_check_cert(const char *pem, EVP_PKEY *key)
{
	BIO *b;
	X509 *x = NULL;

	if ((b = BIO_new_mem_buf(pem, -1)) != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL) {
		agent_err_crypto("the server sent an unreadable certificate");
		return NULL;
	}
	if (X509_check_private_key(x, key) != 1) {
		agent_err("the server's certificate is not for our key");
		X509_free(x);
		ERR_clear_error();
		return NULL;
	}
	return x;
}

/*
 * Installs a new identity: key first, then the certificate and chain, each
 * by temporary file and rename.
 */
static int
agent_install(const char *dir, EVP_PKEY *key, const struct agent_reply *a)
{
	char *kp;
	int r;

	if ((kp = agent_key_pem(key)) == NULL) {
		agent_err_crypto("cannot encode the key");
		return -1;
	}
	r = agent_write(dir, "key.pem", kp, 0600);
	OPENSSL_cleanse(kp, strlen(kp));
	free(kp);
	if (r != 0 || agent_write(dir, "cert.pem", a->certificate, 0644) != 0 ||
	    agent_write(dir, "chain.pem", a->chain, 0644) != 0)
		return -1;
	return 0;
}

/* ---- enroll ------------------------------------------------------------- */

/* The token from --token-file, --token or CA_ENROLL_TOKEN, trimmed; or NULL. */
static char *
agent_token(const char *arg, const char *file)
{
	unsigned char *buf = NULL;
	size_t len;
	const char *env;
	char *t;
	int r;

	if (file != NULL) {
		if ((r = ly_file_read(file, AGENT_MAX_TOKEN, &buf, &len)) != LY_OK) {
			agent_err("cannot read the token file %s: %s %s", file,
			    ly_strerror(r), ly_errdetail());
			return NULL;
		}
		t = (char *)buf;
	} else if (arg != NULL)
		t = strdup(arg);
	else if ((env = getenv("CA_ENROLL_TOKEN")) != NULL)
		t = strdup(env);
	else {
		agent_err("no token: give --token-file, --token or "
		    "CA_ENROLL_TOKEN");
		return NULL;
	}
	if (t == NULL)
		return NULL;
	t[strcspn(t, "\r\n")] = '\0';
	if (*t == '\0') {
		agent_err("the token is empty");
		free(t);
		return NULL;
	}
	return t;
}

/*
 * Generates a key, sends a CSR for it with json_extra merged in to path,
 * and installs the answer. Used by enroll (token, no client cert) and
 * renew (mTLS with the current cert). Returns an exit status.
 */
static int
agent_request(const struct agent *ag, SSL_CTX *ctx, const char *path,
    const char *token, const char *key_type, time_t *too_early)
{
	struct agent_url u;
	struct agent_reply a;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	json_t *req = NULL;
	char *csr = NULL, *json = NULL, *body = NULL;
	size_t bodylen;
	int status = 0, rc = EXIT_AGENT_ERR;

	memset(&a, 0, sizeof(a));
	if (agent_url_parse(ag->server, &u) != 0) {
		agent_err("bad server URL %s (want https://HOST[:PORT])",
		    ag->server);
		return EXIT_AGENT_USAGE;
	}
	if ((key = agent_keygen(key_type)) == NULL ||
	    (csr = agent_csr(key)) == NULL)
		goto out;
	req = token != NULL ?
	    json_pack("{s:s, s:s}", "token", token, "csr", csr) :
	    json_pack("{s:s}", "csr", csr);
	if (req == NULL || (json = json_dumps(req, JSON_COMPACT)) == NULL)
		goto out;
	if (agent_post(ctx, &u, path, json, &status, &body, &bodylen) != 0)
		goto out;
	if (agent_reply_parse(status, body, bodylen, &a) != 0) {
		agent_err("the server's answer (HTTP %d) is not the expected "
		    "JSON", status);
		goto out;
	}
	if (status != 200) {
		if (status == 404 && strcmp(a.error, "http_error") == 0)
			agent_err("%s%s: not found; is this a Lanyard server "
			    "with enrollment enabled?", ag->server, path);
		rc = agent_reply_report(ag, &a);
		if (status == 409 && too_early != NULL)
			*too_early = agent_time_parse(a.allowed_after);
		goto out;
	}
	if ((x = agent_check_cert(a.certificate, key)) == NULL)
		goto out;
	/*
	 * The server has issued; dropping the new certificate now would
	 * leave us with a superseded one, so a failed backup only warns.
	 */
	if (token == NULL && agent_backup(ag->dir) != 0)
		agent_err("warning: no backup of the previous identity");
	if (agent_install(ag->dir, key, &a) != 0)
		goto out;
	printf("%s: serial %s, not after %s\n",
	    token != NULL ? "enrolled" : "renewed", a.serial,
	    a.not_after ? a.not_after : "?");
	fflush(stdout);
	rc = EXIT_AGENT_OK;
 out:
	agent_url_free(&u);
	agent_reply_clear(&a);
	if (json != NULL) {
		OPENSSL_cleanse(json, strlen(json));
		free(json);
	}
	json_decref(req);
	free(csr);
	free(body);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

static int
agent_enroll(struct agent *ag, const char *token_arg, const char *token_file)
{
	SSL_CTX *ctx = NULL;
	char *token = NULL, *cp;
	struct agent_url u;
	unsigned char *cabuf = NULL;
	size_t calen;
	int rc = EXIT_AGENT_ERR, r;

	if (ag->server == NULL || ag->ca_file == NULL || ag->dir == NULL)
		usage();
	if (agent_url_parse(ag->server, &u) != 0) {
		agent_err("bad server URL %s (want https://HOST[:PORT])",
		    ag->server);
		return EXIT_AGENT_USAGE;
	}
	agent_url_free(&u);
	cp = agent_path(ag->dir, "cert.pem");
	r = access(cp, F_OK);
	free(cp);
	if (r == 0 && !ag->force) {
		agent_err("%s already holds an identity: use renew, or --force "
		    "to enroll again (the token is not used)", ag->dir);
		return EXIT_AGENT_ERR;
	}
	if ((token = agent_token(token_arg, token_file)) == NULL)
		return EXIT_AGENT_USAGE;
	if ((r = ly_file_read(ag->ca_file, AGENT_MAX_FILE, &cabuf, &calen)) != LY_OK) {
		agent_err("cannot read the CA file %s: %s", ag->ca_file,
		    ly_strerror(r));
		goto out;
	}
	if ((ctx = agent_tls_ctx(ag->ca_file, NULL, NULL)) == NULL)
		goto out;
	if ((r = ly_mkdir_p(ag->dir, 0700)) != LY_OK) {
		agent_err("cannot create %s: %s", ag->dir, ly_errdetail());
		goto out;
	}
	chmod(ag->dir, 0700);
	/* Enrolling again over an identity (--force): keep the old one. */
	cp = agent_path(ag->dir, "cert.pem");
	if (access(cp, F_OK) == 0 && agent_backup(ag->dir) != 0)
		agent_err("warning: no backup of the previous identity");
	free(cp);
	rc = agent_request(ag, ctx, "/api/v1/enroll", token, ag->key_type, NULL);
	if (rc != EXIT_AGENT_OK)
		goto out;
	rc = EXIT_AGENT_ERR;
	if (agent_write(ag->dir, "ca.pem", (char *)cabuf, 0644) != 0 ||
	    agent_conf_write(ag->dir, ag->server, 0) != 0)
		goto out;
	rc = EXIT_AGENT_OK;
 out:
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	free(cabuf);
	SSL_CTX_free(ctx);
	return rc;
}

/* ---- renew -------------------------------------------------------------- */

/* notAfter of DIR/cert.pem and the key type of DIR/key.pem; 0 or -1. */
static int
agent_current(const char *dir, time_t *not_after, const char **key_type)
{
	char *cp = agent_path(dir, "cert.pem"), *kp = agent_path(dir, "key.pem");
	FILE *f;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	struct tm tm;
	int r = -1;

	if ((f = fopen(cp, "r")) != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(kp, "r")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (x == NULL || k == NULL) {
		agent_err("no usable identity in %s (enroll first)", dir);
		goto out;
	}
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		goto out;
	*not_after = timegm(&tm);
	*key_type = agent_keytype_of(k);
	r = 0;
 out:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(k);
	free(cp);
	free(kp);
	return r;
}

static int
agent_renew(struct agent *ag)
{
	SSL_CTX *ctx = NULL;
	char *conf_server = NULL, *conf_after = NULL, *ca = NULL, *cert = NULL,
	    *key = NULL, t[21];
	const char *key_type;
	time_t not_after, allowed = 0, too_early = 0, now = time(NULL);
	int rc = EXIT_AGENT_ERR;

	if (ag->dir == NULL)
		usage();
	conf_server = agent_conf_get(ag->dir, "server");
	if (ag->server == NULL)
		ag->server = conf_server;
	if (ag->server == NULL) {
		agent_err("no server: give --server or enroll first");
		rc = EXIT_AGENT_USAGE;
		goto out;
	}
	if (agent_current(ag->dir, &not_after, &key_type) != 0)
		goto out;
	if (not_after <= now) {
		ly_time_fmt(not_after, t);
		agent_err("the certificate expired at %s; enroll again with a "
		    "new token", t);
		rc = EXIT_AGENT_REENROLL;
		goto out;
	}
	/* The server told us when; do not ask it again before. */
	conf_after = agent_conf_get(ag->dir, "allowed_after");
	allowed = agent_time_parse(conf_after);
	if (!ag->force && allowed > now) {
		if (ag->verbose)
			printf("not yet inside the renewal window; allowed "
			    "after %s\n", conf_after);
		rc = EXIT_AGENT_OK;
		goto out;
	}
	ca = ag->ca_file != NULL ? strdup(ag->ca_file) :
	    agent_path(ag->dir, "ca.pem");
	cert = agent_path(ag->dir, "chain.pem");
	key = agent_path(ag->dir, "key.pem");
	if (ca == NULL || (ctx = agent_tls_ctx(ca, cert, key)) == NULL)
		goto out;
	rc = agent_request(ag, ctx, "/api/v1/reissue", NULL, key_type,
	    &too_early);
	if (rc == EXIT_AGENT_OK && (too_early > 0 || allowed > 0))
		(void)agent_conf_write(ag->dir, ag->server, too_early);
	else if (rc == EXIT_AGENT_OK && ag->server != conf_server)
		(void)agent_conf_write(ag->dir, ag->server, 0);
 out:
	SSL_CTX_free(ctx);
	free(conf_server);
	free(conf_after);
	free(ca);
	free(cert);
	free(key);
	return rc;
}

static void
agent_on_signal(int sig)
{
	(void)sig;
	agent_stop = 1;
}

/* "90", "90s", "30m", "1h", "1d" → seconds; 0 if malformed. */
static long
agent_interval_parse(const char *s)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (v <= 0 || end == s)
		return 0;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return 0;
	}
	if (*end != '\0' && end[1] != '\0')
		return 0;
	if (v > 30L * 86400)
		return 0;
	return v;
}

/*
 * renew every interval until SIGTERM or SIGINT. A failed renew is logged
 * and retried at the next interval; the loop ends with 0 on a signal, or
 * with EXIT_AGENT_REENROLL when the identity cannot be renewed any more.
 */
static int
agent_daemon(struct agent *ag, long interval)
{
	struct sigaction sa;
	const char *server = ag->server;
	long left;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = agent_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!agent_stop) {
		ag->server = server;
		rc = agent_renew(ag);
		if (rc == EXIT_AGENT_REENROLL || rc == EXIT_AGENT_USAGE)
			return rc;
		ag->force = 0;	/* --force applies to the first round only */
		fflush(stdout);
		for (left = interval; left > 0 && !agent_stop; left--)
			sleep(1);
	}
	return EXIT_AGENT_OK;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "server",	  required_argument, NULL, 's' },
		{ "ca-file",	  required_argument, NULL, 'c' },
		{ "token",	  required_argument, NULL, 't' },
		{ "token-file",	  required_argument, NULL, 'T' },
		{ "identity-dir", required_argument, NULL, 'd' },
		{ "key-type",	  required_argument, NULL, 'k' },
		{ "force",	  no_argument,	     NULL, 'f' },
		{ "daemon",	  no_argument,	     NULL, 'D' },
		{ "interval",	  required_argument, NULL, 'i' },
		{ "verbose",	  no_argument,	     NULL, 'v' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent ag;
	const char *token = NULL, *token_file = NULL;
	long interval = AGENT_DEFAULT_INTERVAL;
	int ch, renew = 0, daemon_mode = 0;

	memset(&ag, 0, sizeof(ag));
	ag.key_type = "ec-p256";
	if (argc > 1 && strcmp(argv[1], "renew") == 0) {
		renew = 1;
		argv++;
		argc--;
	}
	while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (ch) {
		case 's': ag.server = optarg; break;
		case 'c': ag.ca_file = optarg; break;
		case 't': token = optarg; break;
		case 'T': token_file = optarg; break;
		case 'd': ag.dir = optarg; break;
		case 'k': ag.key_type = optarg; break;
		case 'f': ag.force = 1; break;
		case 'D': daemon_mode = 1; break;
		case 'i':
			if ((interval = agent_interval_parse(optarg)) == 0) {
				agent_err("bad interval %s (e.g. 30m, 1h, 1d)",
				    optarg);
				return EXIT_AGENT_USAGE;
			}
			break;
		case 'v': ag.verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (strcmp(ag.key_type, "ec-p256") != 0 &&
	    strcmp(ag.key_type, "ec-p384") != 0 &&
	    strcmp(ag.key_type, "rsa-2048") != 0) {
		agent_err("unknown key type %s", ag.key_type);
		return EXIT_AGENT_USAGE;
	}
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	if (!renew) {
		if (daemon_mode)
			usage();
		return agent_enroll(&ag, token, token_file);
	}
	if (token != NULL || token_file != NULL)
		usage();
	if (daemon_mode)
		return agent_daemon(&ag, interval);
	return agent_renew(&ag);
}
