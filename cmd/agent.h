/*
 * cmd/agent.h — declarations shared by the files of the device agent,
 * ca-enroll(1):
 *	cmd/ca-enroll.c	the commands (enroll, renew, the daemon), keys, CSRs
 *	cmd/agent_http.c	the server: URL, HTTPS through OpenSSL's client,
 *			what its answers say
 *	cmd/agent_files.c	the identity directory: files, agent.conf,
 *			backups, the crash-safe install and its recovery
 * Functions that fail report why on standard error themselves (agent_err)
 * unless said otherwise.
 */
#ifndef LANYARD_AGENT_H
#define LANYARD_AGENT_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

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

/* ---- cmd/ca-enroll.c ---------------------------------------------------- */

/* "ca-enroll: " and the message on standard error. */
void		 agent_err(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
/* agent_err(what), then the OpenSSL error queue, which it clears. */
void		 agent_err_crypto(const char *what);
/* A new key of type ec-p256, ec-p384 or rsa-2048; NULL on failure. */
EVP_PKEY	*agent_keygen(const char *type);
/* The type of an existing key, so that a renew keeps the algorithm. */
const char	*agent_keytype_of(EVP_PKEY *);
/* PKCS#8 PEM of the private key, unencrypted; the caller cleanses and frees. */
char		*agent_key_pem(EVP_PKEY *);

/* ---- cmd/agent_http.c --------------------------------------------------- */

/*
 * Parses https://HOST[:PORT][/prefix] into u, which agent_url_free()
 * empties. 0, or -1 (not reported) for anything else.
 */
int		 agent_url_parse(const char *url, struct agent_url *u);
void		 agent_url_free(struct agent_url *);
/*
 * A TLS client context trusting ca_file, with the client certificate
 * chain cert_file and its key key_file if cert_file is not NULL. NULL on
 * failure.
 */
SSL_CTX		*agent_tls_ctx(const char *ca_file, const char *cert_file,
		    const char *key_file);
/*
 * One request: GET of path (after u's prefix) when json is NULL, else a
 * POST of json. Returns 200 with *bodyp (NUL-terminated, caller frees)
 * and *lenp; another HTTP status the server answered with, without a
 * body; or -1 when no answer came.
 */
int		 agent_http(SSL_CTX *, const struct agent_url *u,
		    const char *path, const char *json, char **bodyp,
		    size_t *lenp);
/*
 * Drains the OpenSSL error queue after a failed transfer: the HTTP status
 * OpenSSL 3.0 put there ("code=NNN"), or 0, and then why holds the
 * reasons. Reports nothing.
 */
int		 agent_http_status(char *why, size_t whylen);
/*
 * The 200 answers. 0, or -1 (not reported) for a body that is not the
 * expected JSON. *_clear frees the fields and zeroes the struct.
 */
int		 agent_reply_parse(const char *, size_t, struct agent_reply *);
void		 agent_reply_clear(struct agent_reply *);
int		 agent_window_parse(const char *, size_t, struct agent_window *);
void		 agent_window_clear(struct agent_window *);
/* RFC 3339 UTC or epoch seconds; 0 for NULL or anything else. */
time_t		 agent_time_parse(const char *);
/*
 * Reports an answer other than 200 to a request for op; returns the exit
 * status it means.
 */
int		 agent_refused(const struct agent *, enum agent_op, int status);

/* ---- cmd/agent_files.c -------------------------------------------------- */

/* dir/name, newly allocated; exits with EXIT_AGENT_ERR when out of memory. */
char		*agent_path(const char *dir, const char *name);
/* Writes dir/name atomically and durably with mode. 0 or -1. */
int		 agent_write(const char *dir, const char *name,
		    const char *data, unsigned int mode);
int		 agent_exists(const char *dir, const char *name);
/* dir/name's private key or first certificate, or NULL, quietly. */
EVP_PKEY	*agent_load_key(const char *dir, const char *name);
X509		*agent_load_cert(const char *dir, const char *name);
/* A value of agent.conf (caller frees), or NULL. */
char		*agent_conf_get(const char *dir, const char *key);
/* agent.conf with the server and, if > 0, allowed_after. 0 or -1. */
int		 agent_conf_write(const char *dir, const char *server,
		    time_t allowed_after);
/* Copies key, cert and chain into dir/backup/<UTC time>/. 0 or -1. */
int		 agent_backup(const char *dir);
/* The certificate in pem if it is for key (caller frees), else NULL. */
X509		*agent_check_cert(const char *pem, EVP_PKEY *key);
/* Writes key, a->certificate and a->chain as the three .next files. */
int		 agent_stage(const char *dir, EVP_PKEY *key,
		    const struct agent_reply *a);
/* agent_stage(), then the .next files renamed into place. 0 or -1. */
int		 agent_install(const char *dir, EVP_PKEY *key,
		    const struct agent_reply *a);
/* Completes an install a crash cut short, and says so. 0 or -1. */
int		 agent_recover(const char *dir);
/*
 * key.pem.next (*reused 1), or a new key of type written there first
 * (*reused 0). The caller frees; NULL on failure.
 */
EVP_PKEY	*agent_next_key(const char *dir, const char *type, int *reused);

#endif /* LANYARD_AGENT_H */
