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
#include "ocsp/ocsp.h"

struct web;

/*
 * Starts the plain HTTP listener on conf's [server] http address (or
 * listen, if not NULL: "127.0.0.1:8080") with a thread pool. Revocation
 * data and CA certificates are served from ca's store; OCSP through
 * responder.
 */
int		 web_start(struct ca *, struct ocsp_responder *,
		    const char *listen, struct web **);
/*
 * Stops accepting, lets requests in flight finish, and frees. NULL is a
 * no-op.
 */
void		 web_stop(struct web *);

#endif /* LANYARD_WEB_H */
