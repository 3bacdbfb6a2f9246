/*
 * web/web.h — ca-server's listeners on libmicrohttpd.
 *
 * web/ knows no X.509: it maps URLs to calls of crl/, ocsp/ and ca/ that
 * take and return bytes, and writes those bytes with the right headers.
 * It owns the HTTP limits (connections, per-address connections, idle
 * timeout, header and body sizes), the access log and the metrics.
 */
#ifndef LANYARD_WEB_H
#define LANYARD_WEB_H

#include "ca/ca.h"
#include "enroll/enroll.h"
#include "ocsp/ocsp.h"

struct web;
struct enroll;

/* The HTTPS server key and certificate live in DIR/tls (ca/tls.c). */

/*
 * Starts the plain HTTP listener on conf's [server] http address (or
 * listen, if not NULL: "127.0.0.1:8080") with a thread pool. Revocation
 * data and CA certificates are served from ca's store; OCSP through
 * responder.
 */
int		 web_start(struct ca *, struct ocsp_responder *,
		    const char *listen, struct web **);
/*
 * Starts the HTTPS listener on conf's [server] https address (or listen)
 * with the key and chain of DIR/tls, requesting (not requiring) client
 * certificates of Lanyard's chain. It serves enroll_path() paths through
 * enroll (NULL: 404) and /healthz, nothing else. Same limits, access log
 * and metrics as web_start(). The files are read once: a new certificate
 * takes effect when the listener is started again.
 */
int		 web_start_https(struct ca *, struct ocsp_responder *,
		    struct enroll *, const char *dir, const char *listen,
		    struct web **);
/*
 * As web_start() and web_start_https(), on fd: a socket the caller bound
 * to listen (the address, for the log and the URLs) and listens on.
 * web_stop() leaves fd open, so that a listener started again (reload,
 * a renewed certificate, a restarted process) keeps its port: ca-server's
 * supervisor binds before anything else starts and hands the sockets to
 * the front.
 */
int		 web_start_fd(struct ca *, struct ocsp_responder *, int fd,
		    const char *listen, struct web **);
int		 web_start_https_fd(struct ca *, struct ocsp_responder *,
		    struct enroll *, const char *dir, int fd, const char *listen,
		    struct web **);
/*
 * Stops accepting, lets requests in flight finish, and frees. NULL is a
 * no-op.
 */
void		 web_stop(struct web *);

/* The port the listener is bound to (the one chosen for "ADDR:0"). */
unsigned int	 web_port(const struct web *);

/*
 * Reloading without dropping the listener. web_hold() makes requests that
 * start from now on wait (up to a few seconds, then 503) and returns once
 * no request uses the current ca and responder any more: the caller may
 * then free them. web_resume() sets the ones to use from now on (ca
 * and responder NULL: answer 503 until the next web_resume(); enroll
 * NULL: enrollment answers 404) and lets the waiting requests go on.
 * ca-server cannot overlap two instances of a CA in one process (one
 * LMDB environment and one PKCS#11 module per process), so it closes
 * the old before opening the new.
 */
void		 web_hold(struct web *);
void		 web_resume(struct web *, struct ca *, struct ocsp_responder *,
		    struct enroll *);

/*
 * The probe of /healthz's "hsm" (cached, see routes.c) through fn(arg)
 * instead of ca_hsm_check(): ca-server's front has no token and asks its
 * engine. fn returns LY_OK or an LY_ERR_* with ly_errdetail(). NULL
 * restores ca_hsm_check(). Set before web_start().
 */
void		 web_set_hsm_check(int (*fn)(void *), void *arg);

/*
 * The counters of another process for /metrics: ca-server's front asks
 * its engine, where hsm/ and the lint count. fn fills *st and returns
 * LY_OK; on an error the last values stay. NULL: this process's own
 * (ca_hsm_stats(), ca_lint_failures()). Set before web_start().
 */
struct web_engine_stats {
	struct ca_hsm_stats	 hsm;
	uint64_t		 lint[CA_LINT_KINDS];
};
void		 web_set_stats(int (*fn)(void *, struct web_engine_stats *),
		    void *arg);

/* The access log goes to syslog instead of stderr (before web_start()). */
void		 web_log_syslog(int);

#endif /* LANYARD_WEB_H */
