/*
 * ipc/engine.h — the engine's side of the front/engine protocol: reads
 * requests from the front, checks each again as if the front were
 * hostile, and does it with ca/ (ipc/engine.c, docs/architecture.md).
 */
#ifndef LANYARD_IPC_ENGINE_H
#define LANYARD_IPC_ENGINE_H

#include "ca/ca.h"
#include "ocsp/ocsp.h"

struct ipc_engine;

/*
 * An engine with workers threads (at least 2) and no instance yet (its
 * requests wait until ipc_engine_set_instance()). dir is the instance
 * directory (DIR/tls for IPC_TLS_ENSURE), borrowed for the engine's life.
 */
int		 ipc_engine_new(const char *dir, unsigned int workers,
		    struct ipc_engine **);
/*
 * Sets the instance requests run against (NULL: answer LY_ERR_ENGINE);
 * returns once no request uses the previous one, which the caller may
 * then close. Both must stay open until replaced.
 */
void		 ipc_engine_set_instance(struct ipc_engine *, struct ca *,
		    struct ocsp_responder *);
/*
 * A reload: ipc_engine_hold() returns once no request uses the instance
 * and makes new ones wait (they are answered after the resume, not
 * refused); ipc_engine_resume() sets the new instance (NULL: answer
 * LY_ERR_ENGINE) and lets them go on. Called by one thread, in pairs.
 */
void		 ipc_engine_hold(struct ipc_engine *);
void		 ipc_engine_resume(struct ipc_engine *, struct ca *,
		    struct ocsp_responder *);
/*
 * Serves the front on fd (a connected stream socket, taken over) on a
 * thread of its own, until the end of stream or ipc_engine_free().
 */
int		 ipc_engine_serve(struct ipc_engine *, int fd);
/*
 * ca_tls_ensure() of ca for DIR/tls, one at a time with the front's
 * IPC_TLS_ENSURE requests (two would write the files at once).
 */
int		 ipc_engine_tls_ensure(struct ipc_engine *, struct ca *,
		    int *issuedp);
/* Closes every connection, stops the workers after their request, frees. */
void		 ipc_engine_free(struct ipc_engine *);

#endif /* LANYARD_IPC_ENGINE_H */
