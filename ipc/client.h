/*
 * ipc/client.h — the front's side of the front/engine protocol: the
 * operations of enroll/ that sign or write, OCSP responses the store
 * lacks, the HSM probe of /healthz and the TLS certificate, each one
 * request to the engine (ipc/ipc.h). Links no hsm/ and signs nothing.
 *
 * Many threads call at once over one socket: each request carries an id
 * and a reader thread hands every answer to the thread that waits for
 * it, so that the engine's workers (and ca/'s group commit) see the
 * requests side by side.
 */
#ifndef LANYARD_IPC_CLIENT_H
#define LANYARD_IPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "enroll/enroll.h"
#include "ipc/ipc.h"
#include "ocsp/ocsp.h"
#include "web/web.h"

/*
 * Seconds a request waits for its answer before LY_ERR_ENGINE: what the
 * HTTP listener's threads ask (OCSP, /healthz, /metrics) waits less, so
 * that a stuck engine cannot hold up pre-signed OCSP for long.
 */
#define IPC_CALL_TIMEOUT	120
#define IPC_QUICK_TIMEOUT	10

struct ipc_client;

/* A client with no engine yet: every call fails with LY_ERR_ENGINE. */
int		 ipc_client_new(struct ipc_client **);
/* Closes the socket, fails the calls waiting, frees. NULL: no-op. */
void		 ipc_client_free(struct ipc_client *);
/*
 * Takes fd (a connected stream socket to an engine) as the engine from
 * now on; calls waiting on the previous one fail with LY_ERR_ENGINE.
 */
int		 ipc_client_attach(struct ipc_client *, int fd);
/* Whether an engine is attached and its socket not at end of stream. */
int		 ipc_client_up(struct ipc_client *);

/*
 * One request of type with its n fields; waits (at most
 * IPC_CALL_TIMEOUT s, IPC_QUICK_TIMEOUT for OCSP_SIGN, HEALTH and STATS)
 * for the answer. On LY_OK *reply holds the
 * engine's answer (the caller clears it); otherwise the engine's error
 * (r and detail as ly_fail()), or LY_ERR_ENGINE when it cannot be
 * reached.
 */
int		 ipc_call(struct ipc_client *, uint8_t type,
		    const struct ipc_field *, size_t n, struct ipc_msg *reply);

/* enroll/'s operations through the engine; arg is the client. */
extern const struct enroll_engine ipc_enroll_ops;
/* An ocsp_remote_fn; arg is the client. */
int		 ipc_ocsp_remote(void *arg, const unsigned char *req,
		    size_t len, struct ocsp_reply *reply);
/* For web_set_hsm_check(); arg is the client. */
int		 ipc_health(void *arg);
/* For web_set_stats(); arg is the client. */
int		 ipc_stats(void *arg, struct web_engine_stats *);
/* Has the engine make DIR/tls usable; *issuedp: it issued a new one. */
int		 ipc_tls_ensure(struct ipc_client *, int *issuedp);

#endif /* LANYARD_IPC_CLIENT_H */
