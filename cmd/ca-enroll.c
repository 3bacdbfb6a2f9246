/*
 * cmd/ca-enroll.c — the device agent: enrolls with a one-time token over
 * HTTPS (POST /api/v1/enroll), then keeps the certificate fresh: it asks
 * where a reissue stands (GET /api/v1/reissue) and reissues with mTLS
 * (POST /api/v1/reissue) inside the server's window.
 *
 * The private key is generated here and never leaves the device; only the
 * CSR is sent. HTTP is OpenSSL's client, OSSL_HTTP_transfer(), with TLS
 * set up in its bio_update_fn as OpenSSL's own apps do: no HTTP of our
 * own and no new dependency. In OpenSSL 3.0 an answer other than 200
 * fails the transfer with "code=NNN" in the error queue and its body is
 * dropped; so the agent asks GET /api/v1/reissue first, which answers
 * 200 in every normal case, and explains the other statuses itself.
 *
 * A renewal survives a lost answer and a crash: the new key is written as
 * key.pem.next before its CSR leaves the device and reused until its
 * certificate is installed (the server hands the same successor back to
 * the holder of its key), and an install is three .next files renamed
 * into place, which the next run completes if it was interrupted.
 *
 * Files in the identity directory (created 0700):
 *	key.pem    0600	the private key
 *	cert.pem   0644	the certificate
 *	chain.pem  0644	certificate, then the chain the server sent
 *	ca.pem     0644	copy of the trust anchor given at enroll
 *	agent.conf 0600	server URL; earliest reissue time once known
 *	key.pem.next 0600	the key of a renewal under way
 *	cert.pem.next, chain.pem.next 0644	an install under way
 *	backup/<UTC time>/	the previous key, cert and chain after a renew
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
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
#include <openssl/http.h>
#include <openssl/httperr.h>
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
#define AGENT_TIMEOUT		30	/* seconds for a whole request */
#define AGENT_DEFAULT_INTERVAL	3600

struct agent_url {
	char	*server;	/* the host as OpenSSL connects to it: [v6] */
	char	*host;		/* without brackets: what the certificate names */
	char	*port;
	char	*hostport;	/* the Host header */
	char	*prefix;	/* path prefix without trailing '/', "" if none */
	int	 is_ip;
};

/* What a request is for: the meaning of an HTTP status depends on it. */
enum agent_op {
	AGENT_OP_ENROLL,	/* POST /api/v1/enroll */
	AGENT_OP_WINDOW,	/* GET /api/v1/reissue */
	AGENT_OP_REISSUE,	/* POST /api/v1/reissue */
};

/* A 200 answer of /api/v1/enroll or POST /api/v1/reissue. */
struct agent_reply {
	char	*certificate;	/* PEM */
	char	*chain;		/* PEM, concatenated */
	char	*serial;
	char	*not_after;
};

/* A 200 answer of GET /api/v1/reissue. */
struct agent_window {
	char	*serial;
	char	*status;	/* valid, revoked, expired, superseded */
	char	*allowed_after;
	char	*superseded_by;	/* or NULL */
	time_t	 after;		/* allowed_after, parsed */
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
	free(u->server);
	free(u->host);
	free(u->port);
	free(u->hostport);
	free(u->prefix);
	memset(u, 0, sizeof(*u));
}

/*
 * Parses https://HOST[:PORT][/prefix] with OSSL_HTTP_parse_url(); HOST
 * may be [v6]. No user, query or fragment, and nothing OpenSSL would copy
 * into the request line or a header that could end it. 0 or -1.
 */
static int
agent_url_parse(const char *url, struct agent_url *u)
{
	char *user = NULL, *host = NULL, *port = NULL, *path = NULL,
	    *query = NULL, *frag = NULL;
	unsigned char tmp[16];
	size_t hl, pl;
	int ssl = 0, r = -1;

	memset(u, 0, sizeof(*u));
	if (strlen(url) > 255 || strncmp(url, "https://", 8) != 0)
		return -1;
	if (!OSSL_HTTP_parse_url(url, &ssl, &user, &host, &port, NULL, &path,
	    &query, &frag)) {
		ERR_clear_error();
		return -1;
	}
	if (!ssl || *user != '\0' || *query != '\0' || *frag != '\0' ||
	    strcspn(path, " \t\r\n\"#?") != strlen(path))
		goto out;
	hl = strlen(host);
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		if ((u->host = strndup(host + 1, hl - 2)) == NULL ||
		    inet_pton(AF_INET6, u->host, tmp) != 1)
			goto out;
	} else if ((u->host = strdup(host)) == NULL)
		goto out;
	if (*u->host == '\0' || strspn(u->host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") != strlen(u->host))
		goto out;
	if ((u->server = strdup(host)) == NULL ||
	    (u->port = strdup(port)) == NULL ||
	    asprintf(&u->hostport, "%s:%s", host, port) < 0 ||
	    (u->prefix = strdup(path)) == NULL) {
		u->hostport = NULL;
		goto out;
	}
	pl = strlen(u->prefix);
	if (pl > 0 && u->prefix[pl - 1] == '/')
		u->prefix[pl - 1] = '\0';
	u->is_ip = inet_pton(AF_INET, u->host, tmp) == 1 ||
	    inet_pton(AF_INET6, u->host, tmp) == 1;
	r = 0;
 out:
	if (r != 0)
		agent_url_free(u);
	OPENSSL_free(user);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	OPENSSL_free(query);
	OPENSSL_free(frag);
	return r;
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
	/*
	 * A server that closes without close_notify ends the body; a body
	 * cut short is caught by the Content-Length OpenSSL checks, or by
	 * the JSON, which a truncated object never is.
	 */
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

/* The TLS side of one request: what agent_tls_cb() needs and learns. */
struct agent_tls {
	SSL_CTX			*ctx;
	const struct agent_url	*url;
	long			 verify;	/* the server certificate's check */
};

/*
 * The bio_update_fn of OSSL_HTTP_transfer(), after OpenSSL's apps
 * (app_http_tls_cb). On connect: an SSL BIO with our context on top of
 * the connection, checking the URL's host name (sent as SNI) or IP
 * address against the server's certificate. On disconnect: keeps the
 * result of that check for the message, and leaves the chain whole, for
 * OSSL_HTTP_REQ_CTX_free() to free, or for the caller when it holds the
 * streamed answer.
 */
static BIO *
agent_tls_cb(BIO *bio, void *arg, int conn, int detail)
{
	struct agent_tls *t = arg;
	SSL *ssl = NULL;
	BIO *sbio;
	int ok;

	if (!conn) {
		if (BIO_get_ssl(bio, &ssl) > 0 && ssl != NULL)
			t->verify = SSL_get_verify_result(ssl);
		return bio;
	}
	if (!detail)	/* plain HTTP was asked for: never by us */
		return NULL;
	if ((sbio = BIO_new(BIO_f_ssl())) == NULL ||
	    (ssl = SSL_new(t->ctx)) == NULL) {
		BIO_free(sbio);
		return NULL;
	}
	/* RFC 6066 3: no IP address in SNI. */
	if (t->url->is_ip)
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    t->url->host);
	else
		ok = SSL_set1_host(ssl, t->url->host) &&
		    SSL_set_tlsext_host_name(ssl, t->url->host);
	if (!ok) {
		SSL_free(ssl);
		BIO_free(sbio);
		return NULL;
	}
	SSL_set_connect_state(ssl);
	BIO_set_ssl(sbio, ssl, BIO_CLOSE);
	return BIO_push(sbio, bio);
}

/*
 * Drains the OpenSSL error queue after a failed transfer. Returns the
 * status the server answered with, which OpenSSL 3.0 reports as
 * HTTP_R_RECEIVED_ERROR (4xx, 5xx) or HTTP_R_STATUS_CODE_UNSUPPORTED with
 * the data "code=NNN, reason=..." (it drops the body); or 0 when no
 * answer came, and then why holds the reasons, for the message.
 */
static int
agent_http_status(char *why, size_t whylen)
{
	const char *data, *reason;
	unsigned long e;
	size_t n;
	int flags, code = 0, c, rs;

	why[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if ((flags & ERR_TXT_STRING) == 0)
			data = "";
		rs = ERR_GET_REASON(e);
		if (ERR_GET_LIB(e) == ERR_LIB_HTTP &&
		    (rs == HTTP_R_RECEIVED_ERROR ||
		    rs == HTTP_R_STATUS_CODE_UNSUPPORTED) &&
		    sscanf(data, "code=%d", &c) == 1 && c >= 100 && c <= 599 &&
		    code == 0)
			code = c;
		/* The generic last words add only the server's URL. */
		if (ERR_GET_LIB(e) == ERR_LIB_HTTP && why[0] != '\0' &&
		    (rs == HTTP_R_ERROR_RECEIVING || rs == HTTP_R_ERROR_SENDING))
			continue;
		if ((reason = ERR_reason_error_string(e)) == NULL)
			reason = "unknown error";
		n = strlen(why);
		snprintf(why + n, whylen - n, "%s%s%s%s%s", n > 0 ? "; " : "",
		    reason, *data != '\0' ? " (" : "", data,
		    *data != '\0' ? ")" : "");
	}
	return code;
}

/*
 * Reads the streamed body of a 200 answer to its end: at most
 * AGENT_MAX_RESPONSE bytes, until deadline. *bodyp is NUL-terminated
 * (caller frees). 0 or -1 (reported).
 */
static int
agent_http_body(BIO *resp, time_t deadline, char **bodyp, size_t *lenp)
{
	char *buf;
	size_t len = 0;
	int n;

	if ((buf = malloc(AGENT_MAX_RESPONSE + 1)) == NULL) {
		agent_err("out of memory");
		return -1;
	}
	for (;;) {
		if (len == AGENT_MAX_RESPONSE) {
			agent_err("the answer is larger than %d bytes",
			    AGENT_MAX_RESPONSE);
			goto fail;
		}
		n = BIO_read(resp, buf + len, (int)(AGENT_MAX_RESPONSE - len));
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (!BIO_should_retry(resp))
			break;
		if (BIO_wait(resp, deadline, 100) <= 0) {
			agent_err_crypto("reading the answer failed");
			goto fail;
		}
	}
	if (ERR_peek_error() != 0) {
		agent_err_crypto("reading the answer failed");
		goto fail;
	}
	buf[len] = '\0';
	*bodyp = buf;
	*lenp = len;
	return 0;
 fail:
	free(buf);
	return -1;
}

/*
 * One request to the server, with OSSL_HTTP_transfer(): a GET of path
 * when json is NULL, else a POST of json. TLS verifies the server against
 * ctx's CA and the URL's host name or address. Returns the HTTP status:
 * 200 with the body in *bodyp (NUL-terminated, caller frees) and *lenp;
 * another status the server answered with, without a body; or -1 when no
 * answer came (reported).
 */
static int
agent_http(SSL_CTX *ctx, const struct agent_url *u, const char *path,
    const char *json, char **bodyp, size_t *lenp)
{
	struct agent_tls t = { ctx, u, X509_V_OK };
	STACK_OF(CONF_VALUE) *hdrs = NULL;
	BIO *req = NULL, *resp = NULL;
	char *full = NULL, why[1024];
	time_t deadline = time(NULL) + AGENT_TIMEOUT;
	int status = -1;

	*bodyp = NULL;
	*lenp = 0;
	if (asprintf(&full, "%s%s", u->prefix, path) < 0) {
		full = NULL;
		agent_err("out of memory");
		goto out;
	}
	if (!X509V3_add_value("Host", u->hostport, &hdrs) ||
	    !X509V3_add_value("User-Agent", "ca-enroll/" PACKAGE_VERSION,
	    &hdrs) ||
	    !X509V3_add_value("Accept", "application/json", &hdrs) ||
	    (json != NULL &&
	    (req = BIO_new_mem_buf(json, (int)strlen(json))) == NULL)) {
		agent_err_crypto("cannot build the request");
		goto out;
	}
	ERR_clear_error();
	/*
	 * No proxy, not even one from https_proxy: the agent never used
	 * one, and a CONNECT through it would be for agent_tls_cb() to make
	 * (OSSL_HTTP_proxy_connect). XXX the request, token included, passes
	 * through OpenSSL's buffers, which it frees without cleansing.
	 */
	resp = OSSL_HTTP_transfer(NULL, u->server, u->port, full, 1, "", NULL,
	    NULL, NULL, agent_tls_cb, &t, 0, hdrs,
	    json != NULL ? "application/json" : NULL, req, "application/json",
	    0, AGENT_MAX_RESPONSE, AGENT_TIMEOUT, 0);
	if (resp == NULL) {
		if ((status = agent_http_status(why, sizeof(why))) > 0)
			goto out;
		status = -1;
		if (t.verify != X509_V_OK)
			agent_err("TLS: the server's certificate is not "
			    "acceptable (checked against the CA file and the "
			    "URL's host): %s",
			    X509_verify_cert_error_string(t.verify));
		else
			agent_err("no answer from https://%s%s: %s",
			    u->hostport, full, why);
		goto out;
	}
	if (agent_http_body(resp, deadline, bodyp, lenp) != 0)
		goto out;
	status = 200;
 out:
	if (resp != NULL) {
		(void)BIO_ssl_shutdown(resp);
		BIO_free_all(resp);
	}
	ERR_clear_error();
	BIO_free(req);
	sk_CONF_VALUE_pop_free(hdrs, X509V3_conf_free);
	free(full);
	return status;
}

/* ---- the server's answer ------------------------------------------------ */

static void
agent_reply_clear(struct agent_reply *a)
{
	free(a->certificate);
	free(a->chain);
	free(a->serial);
	free(a->not_after);
	memset(a, 0, sizeof(*a));
}

static void
agent_window_clear(struct agent_window *w)
{
	free(w->serial);
	free(w->status);
	free(w->allowed_after);
	free(w->superseded_by);
	memset(w, 0, sizeof(*w));
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

/* The body as one JSON object, or NULL. */
static json_t *
agent_json_object(const char *body, size_t len)
{
	json_error_t jerr;
	json_t *o;

	if ((o = json_loadb(body, len, 0, &jerr)) != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/*
 * Parses the 200 answer of /api/v1/enroll or POST /api/v1/reissue:
 * certificate, chain (concatenated PEM after the certificate), serial and
 * not_after. 0 or -1 (not JSON, or a required field missing).
 */
static int
agent_reply_parse(const char *body, size_t len, struct agent_reply *a)
{
	json_t *o, *chain, *v;
	size_t i, total = 0;
	int r = -1;

	memset(a, 0, sizeof(*a));
	if ((o = agent_json_object(body, len)) == NULL)
		return -1;
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
 * Parses the 200 answer of GET /api/v1/reissue: serial, status (one of
 * valid, revoked, expired, superseded), allowed_after, and superseded_by
 * if there is one. 0 or -1 (not JSON, a field missing or unknown status).
 */
static int
agent_window_parse(const char *body, size_t len, struct agent_window *w)
{
	static const char *const statuses[] = {
		"valid", "revoked", "expired", "superseded",
	};
	json_t *o;
	size_t i;
	int r = -1;

	memset(w, 0, sizeof(*w));
	if ((o = agent_json_object(body, len)) == NULL)
		return -1;
	w->serial = agent_json_str(o, "serial");
	w->status = agent_json_str(o, "status");
	w->allowed_after = agent_json_str(o, "allowed_after");
	w->superseded_by = agent_json_str(o, "superseded_by");
	json_decref(o);
	if (w->serial == NULL || w->status == NULL ||
	    (w->after = agent_time_parse(w->allowed_after)) == 0)
		return -1;
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(w->status, statuses[i]) == 0)
			r = 0;
	return r;
}

/*
 * Reports an answer other than 200 to a request for op, and returns the
 * exit status. OpenSSL 3.0 keeps only the status of such an answer, not
 * the server's {"error","detail"}, so the message says what the status
 * means for this request. "Too early" for a reissue is not an error.
 */
static int
agent_refused(const struct agent *ag, enum agent_op op, int status)
{
	switch (status) {
	case 401:
	case 403:
		if (op == AGENT_OP_ENROLL)
			agent_err("the server refused the token (HTTP %d): it "
			    "is unknown, used, revoked or expired; ask for a "
			    "new one", status);
		else
			agent_err("the server refused the current certificate "
			    "(HTTP %d): it is revoked, expired, reissued "
			    "already or not one the CA issued; enroll again "
			    "with a new token", status);
		return EXIT_AGENT_REENROLL;
	case 409:
		if (op == AGENT_OP_REISSUE) {
			if (ag->verbose)
				printf("not yet inside the renewal window\n");
			return EXIT_AGENT_OK;
		}
		break;
	case 400:
		agent_err("the server refused the request (HTTP 400): the "
		    "profile does not take the key (see --key-type), or the "
		    "CSR is malformed");
		return EXIT_AGENT_ERR;
	case 404:
	case 405:
		agent_err("%s: no such endpoint (HTTP %d); is this a Lanyard "
		    "server with enrollment enabled, and is the URL right?",
		    ag->server, status);
		return EXIT_AGENT_ERR;
	case 429:
		agent_err("the server refused (HTTP 429): too many failed "
		    "tokens from this address; try again in a minute");
		return EXIT_AGENT_ERR;
	case 503:
		agent_err("the server cannot issue now (HTTP 503): its HSM is "
		    "unavailable or it is reloading; try again later");
		return EXIT_AGENT_ERR;
	case 507:
		agent_err("the server's store is full (HTTP 507): nothing was "
		    "issued; its operator must make room");
		return EXIT_AGENT_ERR;
	}
	if (status >= 500)
		agent_err("the server failed (HTTP %d); try again later",
		    status);
	else
		agent_err("the server refused the request (HTTP %d)", status);
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

/* ---- install and recovery ---------------------------------------------- */

/*
 * The three files of an identity, in the order they are renamed into
 * place: a crash after the key leaves a key that cert.pem.next matches,
 * which agent_recover() recognises.
 */
static const char *const agent_files[] = { "key.pem", "cert.pem", "chain.pem" };

static int
agent_exists(const char *dir, const char *name)
{
	char *p = agent_path(dir, name);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/* DIR/name's private key, or NULL (quietly: missing or unreadable). */
static EVP_PKEY *
agent_load_key(const char *dir, const char *name)
{
	char *p = agent_path(dir, name);
	EVP_PKEY *k = NULL;
	FILE *f;

	if ((f = fopen(p, "r")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	ERR_clear_error();
	free(p);
	return k;
}

/* The first certificate in DIR/name, or NULL (quietly). */
static X509 *
agent_load_cert(const char *dir, const char *name)
{
	char *p = agent_path(dir, name);
	X509 *x = NULL;
	FILE *f;

	if ((f = fopen(p, "r")) != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	ERR_clear_error();
	free(p);
	return x;
}

/* Whether x is for key; NULLs match nothing. */
static int
agent_matches(X509 *x, EVP_PKEY *key)
{
	int r;

	if (x == NULL || key == NULL)
		return 0;
	r = X509_check_private_key(x, key) == 1;
	ERR_clear_error();
	return r;
}

/* The serial of x in hex, for messages (static buffer). */
static const char *
agent_serial(X509 *x)
{
	static char buf[64];
	BIGNUM *bn;
	char *h = NULL;

	buf[0] = '\0';
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL &&
	    (h = BN_bn2hex(bn)) != NULL)
		snprintf(buf, sizeof(buf), "%s", h);
	OPENSSL_free(h);
	BN_free(bn);
	return buf;
}

static int
agent_sync_dir(const char *dir)
{
	int fd, r = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1) {
		agent_err("cannot sync %s: %s", dir, strerror(errno));
		r = -1;
	}
	if (fd != -1)
		close(fd);
	return r;
}

static void
agent_discard(const char *dir, const char *name, const char *why)
{
	char *p = agent_path(dir, name);

	if (unlink(p) == 0)
		agent_err("warning: removed %s: %s", p, why);
	free(p);
}

/*
 * Renames NAME.next over NAME for key (if with_key), cert and chain, in
 * that order, each that exists, then syncs the directory. 0 or -1.
 */
static int
agent_commit(const char *dir, int with_key)
{
	char *from, *to, next[32];
	size_t i;
	int r = 0;

	for (i = with_key ? 0 : 1; i < 3 && r == 0; i++) {
		snprintf(next, sizeof(next), "%s.next", agent_files[i]);
		from = agent_path(dir, next);
		to = agent_path(dir, agent_files[i]);
		if (access(from, F_OK) == 0 && rename(from, to) == -1) {
			agent_err("cannot rename %s to %s: %s", from, to,
			    strerror(errno));
			r = -1;
		}
		free(from);
		free(to);
	}
	if (r == 0)
		r = agent_sync_dir(dir);
	return r;
}

/*
 * Writes a new identity as key.pem.next, cert.pem.next and chain.pem.next,
 * each by temporary file, fsync and rename. Nothing current changes.
 */
static int
agent_stage(const char *dir, EVP_PKEY *key, const struct agent_reply *a)
{
	char *kp;
	int r;

	if ((kp = agent_key_pem(key)) == NULL) {
		agent_err_crypto("cannot encode the key");
		return -1;
	}
	r = agent_write(dir, "key.pem.next", kp, 0600);
	OPENSSL_cleanse(kp, strlen(kp));
	free(kp);
	if (r != 0 ||
	    agent_write(dir, "cert.pem.next", a->certificate, 0644) != 0 ||
	    agent_write(dir, "chain.pem.next", a->chain, 0644) != 0)
		return -1;
	return 0;
}

/*
 * Installs a new identity: all three files staged as .next, then renamed
 * into place. A crash before the renames leaves the old identity (and
 * key.pem.next for the retry); one during them, a state agent_recover()
 * completes.
 */
static int
agent_install(const char *dir, EVP_PKEY *key, const struct agent_reply *a)
{
	if (agent_stage(dir, key, a) != 0)
		return -1;
	return agent_commit(dir, 1);
}

/*
 * Completes an install a crash interrupted, and says so:
 *  - cert.pem.next and chain.pem.next agree and are for key.pem.next:
 *    none was renamed; rename all three;
 *  - they agree and are for key.pem: the key was renamed; rename the rest;
 *  - only chain.pem.next is left, for cert.pem and key.pem: rename it.
 * A cert.pem.next or chain.pem.next that fits none of these is a write
 * cut short before any rename, and is removed. key.pem.next alone is the
 * key of a renewal under way and stays, for agent_next_key().
 * Returns 0, or -1 if a rename failed (reported).
 */
static int
agent_recover(const char *dir)
{
	EVP_PKEY *kn = agent_load_key(dir, "key.pem.next"),
	    *k = agent_load_key(dir, "key.pem");
	X509 *cn = agent_load_cert(dir, "cert.pem.next"),
	    *hn = agent_load_cert(dir, "chain.pem.next"),
	    *c = agent_load_cert(dir, "cert.pem");
	int r = 0, with_key = -1;

	if (cn != NULL && hn != NULL && X509_cmp(cn, hn) == 0) {
		if (agent_matches(cn, kn))
			with_key = 1;
		else if (agent_matches(cn, k))
			with_key = 0;
	} else if (cn == NULL && hn != NULL && c != NULL &&
	    X509_cmp(hn, c) == 0 && agent_matches(c, k))
		with_key = 0;
	if (with_key >= 0) {
		if ((r = agent_commit(dir, with_key)) == 0) {
			printf("completed an interrupted install: serial %s\n",
			    agent_serial(cn != NULL ? cn : hn));
			fflush(stdout);
		}
		goto out;
	}
	if (agent_exists(dir, "cert.pem.next"))
		agent_discard(dir, "cert.pem.next", "an install cut short");
	if (agent_exists(dir, "chain.pem.next"))
		agent_discard(dir, "chain.pem.next", "an install cut short");
 out:
	EVP_PKEY_free(kn);
	EVP_PKEY_free(k);
	X509_free(cn);
	X509_free(hn);
	X509_free(c);
	return r;
}

/*
 * The key of the next certificate: key.pem.next if a renewal left one
 * (its CSR may have been answered, and the server answers the holder of
 * that key with the same certificate again), else a new key of type,
 * written as key.pem.next (0600) before any CSR for it leaves the device.
 * *reused says which. NULL on failure (reported).
 */
static EVP_PKEY *
agent_next_key(const char *dir, const char *type, int *reused)
{
	EVP_PKEY *k;
	char *kp;
	int r;

	if ((k = agent_load_key(dir, "key.pem.next")) != NULL) {
		*reused = 1;
		return k;
	}
	*reused = 0;
	if ((k = agent_keygen(type)) == NULL)
		return NULL;
	if ((kp = agent_key_pem(k)) == NULL) {
		agent_err_crypto("cannot encode the key");
		EVP_PKEY_free(k);
		return NULL;
	}
	r = agent_write(dir, "key.pem.next", kp, 0600);
	OPENSSL_cleanse(kp, strlen(kp));
	free(kp);
	if (r != 0) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
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
 * POSTs a CSR for key, with token if not NULL, to /api/v1/enroll (op
 * AGENT_OP_ENROLL) or /api/v1/reissue, checks that the certificate of the
 * answer is for key, backs the previous identity up (a reissue) and
 * installs the new one. Returns an exit status.
 */
static int
agent_request(const struct agent *ag, SSL_CTX *ctx, const struct agent_url *u,
    enum agent_op op, const char *token, EVP_PKEY *key)
{
	struct agent_reply a;
	X509 *x = NULL;
	json_t *req = NULL;
	char *csr = NULL, *json = NULL, *body = NULL;
	size_t bodylen;
	int status, rc = EXIT_AGENT_ERR;

	memset(&a, 0, sizeof(a));
	if ((csr = agent_csr(key)) == NULL)
		goto out;
	req = token != NULL ?
	    json_pack("{s:s, s:s}", "token", token, "csr", csr) :
	    json_pack("{s:s}", "csr", csr);
	if (req == NULL || (json = json_dumps(req, JSON_COMPACT)) == NULL)
		goto out;
	status = agent_http(ctx, u, op == AGENT_OP_ENROLL ? "/api/v1/enroll" :
	    "/api/v1/reissue", json, &body, &bodylen);
	if (status < 0)
		goto out;
	if (status != 200) {
		rc = agent_refused(ag, op, status);
		goto out;
	}
	if (agent_reply_parse(body, bodylen, &a) != 0) {
		agent_err("the server's answer is not the expected JSON");
		goto out;
	}
	if ((x = agent_check_cert(a.certificate, key)) == NULL)
		goto out;
	/*
	 * The server has issued; dropping the new certificate now would
	 * leave us with a superseded one, so a failed backup only warns.
	 */
	if (op != AGENT_OP_ENROLL && agent_backup(ag->dir) != 0)
		agent_err("warning: no backup of the previous identity");
	if (agent_install(ag->dir, key, &a) != 0)
		goto out;
	printf("%s: serial %s, not after %s\n",
	    op == AGENT_OP_ENROLL ? "enrolled" : "renewed", a.serial,
	    a.not_after ? a.not_after : "?");
	fflush(stdout);
	rc = EXIT_AGENT_OK;
 out:
	agent_reply_clear(&a);
	if (json != NULL) {
		OPENSSL_cleanse(json, strlen(json));
		free(json);
	}
	json_decref(req);
	free(csr);
	free(body);
	X509_free(x);
	return rc;
}

static int
agent_enroll(struct agent *ag, const char *token_arg, const char *token_file)
{
	SSL_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	char *token = NULL;
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
	/* A first enrollment cut short between its renames counts too. */
	if (access(ag->dir, F_OK) == 0 && agent_recover(ag->dir) != 0)
		goto out;
	if (agent_exists(ag->dir, "cert.pem") && !ag->force) {
		agent_err("%s already holds an identity: use renew, or --force "
		    "to enroll again (the token is not used)", ag->dir);
		goto out;
	}
	if ((token = agent_token(token_arg, token_file)) == NULL) {
		rc = EXIT_AGENT_USAGE;
		goto out;
	}
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
	if (agent_exists(ag->dir, "cert.pem") && agent_backup(ag->dir) != 0)
		agent_err("warning: no backup of the previous identity");
	if ((key = agent_keygen(ag->key_type)) == NULL)
		goto out;
	rc = agent_request(ag, ctx, &u, AGENT_OP_ENROLL, token, key);
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
	agent_url_free(&u);
	EVP_PKEY_free(key);
	free(cabuf);
	SSL_CTX_free(ctx);
	return rc;
}

/* ---- renew -------------------------------------------------------------- */

/* notAfter of DIR/cert.pem and the key type of DIR/key.pem; 0 or -1. */
static int
agent_current(const char *dir, time_t *not_after, const char **key_type)
{
	X509 *x = agent_load_cert(dir, "cert.pem");
	EVP_PKEY *k = agent_load_key(dir, "key.pem");
	struct tm tm;
	int r = -1;

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
	return r;
}

/*
 * What GET /api/v1/reissue said, as an exit status, or -1 to go on and
 * send the CSR: too early is quiet (the time is remembered); revoked,
 * expired, and superseded without the key of the successor are final; a
 * superseded certificate whose successor's key is here (key.pem.next) is
 * a renewal whose answer was lost, asked for again.
 */
static int
agent_window_check(const struct agent *ag, const struct agent_window *w,
    time_t now)
{
	if (strcmp(w->status, "revoked") == 0 ||
	    strcmp(w->status, "expired") == 0) {
		agent_err("the certificate (serial %s) is %s; enroll again "
		    "with a new token", w->serial, w->status);
		return EXIT_AGENT_REENROLL;
	}
	if (strcmp(w->status, "superseded") == 0) {
		if (!agent_exists(ag->dir, "key.pem.next")) {
			agent_err("the certificate (serial %s) was reissued "
			    "already%s%s, and this device does not hold the "
			    "new key; enroll again with a new token", w->serial,
			    w->superseded_by != NULL ? " as " : "",
			    w->superseded_by != NULL ? w->superseded_by : "");
			return EXIT_AGENT_REENROLL;
		}
		printf("the answer to the last renewal was lost; asking for "
		    "it again\n");
		return -1;
	}
	if (w->after > now) {
		(void)agent_conf_write(ag->dir, ag->server, w->after);
		if (ag->verbose)
			printf("not yet inside the renewal window; allowed "
			    "after %s\n", w->allowed_after);
		return EXIT_AGENT_OK;
	}
	return -1;
}

static int
agent_renew(struct agent *ag)
{
	struct agent_url u;
	struct agent_window w;
	SSL_CTX *ctx = NULL;
	EVP_PKEY *next = NULL;
	char *conf_server = NULL, *conf_after = NULL, *ca = NULL, *cert = NULL,
	    *key = NULL, *body = NULL, t[21];
	const char *key_type;
	size_t len;
	time_t not_after, allowed = 0, now = time(NULL);
	int rc = EXIT_AGENT_ERR, status, reused;

	memset(&u, 0, sizeof(u));
	memset(&w, 0, sizeof(w));
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
	if (agent_url_parse(ag->server, &u) != 0) {
		agent_err("bad server URL %s (want https://HOST[:PORT])",
		    ag->server);
		rc = EXIT_AGENT_USAGE;
		goto out;
	}
	if (agent_recover(ag->dir) != 0 ||
	    agent_current(ag->dir, &not_after, &key_type) != 0)
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
	/* Where the reissue stands, before a CSR is made. */
	status = agent_http(ctx, &u, "/api/v1/reissue", NULL, &body, &len);
	if (status == 200) {
		if (agent_window_parse(body, len, &w) != 0) {
			agent_err("the server's answer to GET /api/v1/reissue "
			    "is not the expected JSON");
			goto out;
		}
		if ((rc = agent_window_check(ag, &w, now)) >= 0)
			goto out;
		rc = EXIT_AGENT_ERR;
	} else if (status != 405) {
		/* 405: a server older than the GET; the POST will tell. */
		if (status > 0)
			rc = agent_refused(ag, AGENT_OP_WINDOW, status);
		goto out;
	}
	if ((next = agent_next_key(ag->dir, key_type, &reused)) == NULL)
		goto out;
	if (reused && ag->verbose)
		printf("using the key of an unfinished renewal "
		    "(key.pem.next)\n");
	rc = agent_request(ag, ctx, &u, AGENT_OP_REISSUE, NULL, next);
	if (rc == EXIT_AGENT_OK)
		(void)agent_conf_write(ag->dir, ag->server, 0);
 out:
	agent_url_free(&u);
	agent_window_clear(&w);
	EVP_PKEY_free(next);
	SSL_CTX_free(ctx);
	free(conf_server);
	free(conf_after);
	free(ca);
	free(cert);
	free(key);
	free(body);
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
