/*
 * cmd/agent_http.c — the device agent's side of the server: the URL,
 * HTTPS through OpenSSL's own client, and what the answers say.
 *
 * HTTP is OSSL_HTTP_transfer(), with TLS set up in its bio_update_fn as
 * OpenSSL's own apps do: no HTTP of our own and no new dependency. In
 * OpenSSL 3.0 an answer other than 200 fails the transfer with "code=NNN"
 * in the error queue and its body is dropped: agent_http() returns that
 * status, and agent_refused() says what it means for the request.
 */
#include "config.h"

#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/httperr.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cmd/agent.h"
#include "util/util.h"

/* ---- URL ---------------------------------------------------------------- */

void
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
int
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

/* ---- HTTPS -------------------------------------------------------------- */

SSL_CTX *
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
	BIO			*top;		/* the SSL BIO on our connection */
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
	/* The connection is agent_http()'s: it frees the chain. */
	return t->top = BIO_push(sbio, bio);
}

/*
 * Drains the OpenSSL error queue after a failed transfer. Returns the
 * status the server answered with, which OpenSSL 3.0 reports as
 * HTTP_R_RECEIVED_ERROR (4xx, 5xx) or HTTP_R_STATUS_CODE_UNSUPPORTED with
 * the data "code=NNN, reason=..." (it drops the body); or 0 when no
 * answer came, and then why holds the reasons, for the message.
 */
int
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
 * The errno of the first system error in OpenSSL's queue, or 0; why gets
 * the resolver's words when the name did not resolve (BIO_lookup_ex puts
 * gai_strerror() in the data of a BIO "system lib" error).
 */
static int
agent_sys_errno(char *why, size_t whylen)
{
	const char *data;
	unsigned long e;
	int flags, err = 0;

	why[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if (ERR_GET_LIB(e) == ERR_LIB_SYS && err == 0)
			err = ERR_GET_REASON(e);
		else if (ERR_GET_LIB(e) == ERR_LIB_BIO &&
		    ERR_GET_REASON(e) == ERR_R_SYS_LIB &&
		    (flags & ERR_TXT_STRING) && why[0] == '\0')
			snprintf(why, whylen, "%s", data);
	}
	return err;
}

/*
 * The TCP connection of one request, made here rather than in
 * OSSL_HTTP_transfer(), which retries a failed connect until its timeout
 * and then says only "connect timeout", whether the name does not
 * resolve, the port is closed or the address does not answer. The
 * connect BIO is OpenSSL's (BIO_s_connect, non-blocking, so the
 * transfer's timeout holds); a failure is named at once. Returns the
 * connected BIO, or NULL (reported).
 */
static BIO *
agent_http_connect(const struct agent_url *u, time_t deadline)
{
	BIO *cbio;
	char why[256];
	int r, err;

	if ((cbio = BIO_new_connect(u->server)) == NULL ||
	    !BIO_set_conn_port(cbio, u->port) || BIO_set_nbio(cbio, 1) <= 0) {
		BIO_free_all(cbio);
		agent_err_crypto("cannot set up the connection");
		return NULL;
	}
	ERR_clear_error();
	while ((r = BIO_do_connect(cbio)) <= 0) {
		if (!BIO_should_retry(cbio))
			break;
		if ((r = BIO_wait(cbio, deadline, 100)) <= 0)
			break;
	}
	if (r > 0)
		return cbio;
	BIO_free_all(cbio);
	err = agent_sys_errno(why, sizeof(why));
	ERR_clear_error();
	if (r == 0 && err == 0)
		agent_err("cannot connect to %s: no answer within %d s (a "
		    "firewall, or the wrong address?)", u->hostport,
		    AGENT_TIMEOUT);
	else if (err == ECONNREFUSED)
		agent_err("cannot connect to %s: connection refused (is "
		    "ca-server running, and is %s its HTTPS port?)",
		    u->hostport, u->port);
	else if (why[0] != '\0')
		agent_err("cannot resolve %s: %s", u->host, why);
	else if (err != 0)
		agent_err("cannot connect to %s: %s", u->hostport,
		    strerror(err));
	else
		agent_err("cannot connect to %s", u->hostport);
	return NULL;
}

/*
 * One request to the server, with OSSL_HTTP_transfer(): a GET of path
 * when json is NULL, else a POST of json. TLS verifies the server against
 * ctx's CA and the URL's host name or address. Returns the HTTP status:
 * 200 with the body in *bodyp (NUL-terminated, caller frees) and *lenp;
 * another status the server answered with, without a body; or -1 when no
 * answer came (reported).
 */
int
agent_http(SSL_CTX *ctx, const struct agent_url *u, const char *path,
    const char *json, char **bodyp, size_t *lenp)
{
	struct agent_tls t = { ctx, u, X509_V_OK, NULL };
	STACK_OF(CONF_VALUE) *hdrs = NULL;
	BIO *req = NULL, *resp = NULL, *cbio = NULL;
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
	if ((cbio = agent_http_connect(u, deadline)) == NULL)
		goto out;
	ERR_clear_error();
	/*
	 * No proxy, not even one from https_proxy: the agent never used
	 * one, and a CONNECT through it would be for agent_tls_cb() to make
	 * (OSSL_HTTP_proxy_connect). XXX the request, token included, passes
	 * through OpenSSL's buffers, which it frees without cleansing.
	 */
	resp = OSSL_HTTP_transfer(NULL, u->server, u->port, full, 1, NULL, NULL,
	    cbio, NULL, agent_tls_cb, &t, 0, hdrs,
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
	/*
	 * The connection was given to OSSL_HTTP_transfer(), which does not
	 * free what it was given: our reference to the chain (the SSL BIO
	 * on it once agent_tls_cb() ran) is dropped here. A streamed answer
	 * is the same chain with a reference of its own, dropped above.
	 */
	if (t.top != NULL)
		cbio = t.top;
	BIO_free_all(cbio);
	ERR_clear_error();
	BIO_free(req);
	sk_CONF_VALUE_pop_free(hdrs, X509V3_conf_free);
	free(full);
	return status;
}

/* ---- the server's answer ------------------------------------------------ */

void
agent_reply_clear(struct agent_reply *a)
{
	free(a->certificate);
	free(a->chain);
	free(a->serial);
	free(a->not_after);
	memset(a, 0, sizeof(*a));
}

void
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
int
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
time_t
agent_time_parse(const char *s)
{
	time_t t;
	char *end;
	long long v;

	if (s == NULL)
		return 0;
	if (ly_time_parse(s, &t) == LY_OK)
		return t;
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
int
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
int
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
