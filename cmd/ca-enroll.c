/*
 * cmd/ca-enroll.c — the device agent: enrolls with a one-time token over
 * HTTPS (POST /api/v1/enroll), then keeps the certificate fresh: it asks
 * where a reissue stands (GET /api/v1/reissue) and reissues with mTLS
 * (POST /api/v1/reissue) inside the server's window. This file holds the
 * commands, the keys and the CSRs; cmd/agent.h names the other two.
 *
 * The private key is generated here and never leaves the device; only the
 * CSR is sent. HTTP is OpenSSL's client (cmd/agent_http.c). In OpenSSL
 * 3.0 an answer other than 200 comes without its body, so renew asks GET
 * /api/v1/reissue first, which answers 200 in every normal case.
 *
 * A renewal survives a lost answer and a crash: the new key is written as
 * key.pem.next before its CSR leaves the device and reused until its
 * certificate is installed (the server hands the same successor back to
 * the holder of its key), and an install is three .next files renamed
 * into place, which the next run completes if it was interrupted
 * (cmd/agent_files.c).
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

#include <getopt.h>
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
#include <openssl/x509.h>

#include "cmd/agent.h"
#include "util/util.h"

static volatile sig_atomic_t agent_stop;

/* The usage on stdout with status 0 (--help), else on stderr with 2. */
static void
usage_exit(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: ca-enroll --server URL --ca-file FILE --identity-dir DIR\n"
	    "                 [--token TOKEN | --token-file FILE] [--key-type ec-p256|ec-p384|rsa-2048]\n"
	    "                 [--force] [-v]\n"
	    "       ca-enroll renew --identity-dir DIR [--server URL] [--ca-file FILE]\n"
	    "                 [--force] [--daemon [--interval 1h]] [-v]\n"
	    "       ca-enroll --help | --version\n");
	exit(status);
}

static void
usage(void)
{
	usage_exit(EXIT_AGENT_USAGE);
}

void
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
void
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

/* ---- key and CSR -------------------------------------------------------- */

EVP_PKEY *
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
const char *
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
char *
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
	int r = -1;

	if (x == NULL || k == NULL) {
		agent_err("no usable identity in %s (enroll first)", dir);
		goto out;
	}
	if (ly_asn1_time(X509_get0_notAfter(x), not_after) != LY_OK)
		goto out;
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
		if (rc != EXIT_AGENT_OK && !agent_stop)
			agent_err("renew failed; retrying in %ld s", interval);
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
		{ "version",	  no_argument,	     NULL, 'V' },
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
		case 'h': usage_exit(0); break;
		case 'V':
			printf("ca-enroll (lanyard) %s\n", PACKAGE_VERSION);
			return 0;
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
