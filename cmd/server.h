/*
 * cmd/server.h — ca-server's three processes (docs/architecture.md):
 * the supervisor (cmd/ca-server.c) forks the front (cmd/server_front.c)
 * and the engine (cmd/server_engine.c), links them with a socketpair
 * and restarts either when it dies.
 */
#ifndef LANYARD_CMD_SERVER_H
#define LANYARD_CMD_SERVER_H

#include <sys/types.h>

#include <signal.h>

/* After a failed reload left no instance, try again this often. */
#define REOPEN_EVERY		5

struct srv_opts {
	const char	*dir;
	const char	*http;		/* --http, or NULL: ca.conf */
	const char	*https;		/* --https, or NULL: ca.conf; "off" */
	const sigset_t	*sigs;		/* blocked; waited for with sigtimedwait */
	int		 http_fd;	/* bound by the supervisor, or -1 */
	int		 https_fd;	/* -1: off (or not bound yet) */
	/* Started as root with [server] user: the front becomes it. */
	int		 drop;
	uid_t		 uid;
	gid_t		 gid;
	const char	*user;
	/* ca.conf at start: what a reload may not change. */
	const char	*store_dir;
	const char	*conf_http;
	const char	*conf_https;
	/* preflight() copied http, https and the above: opts_clear() frees */
	int		 owned;
};

/*
 * The front: listeners, web/, enroll/ and ocsp/ over the store opened
 * read-only; what signs or writes goes to the engine through ctl's
 * descriptors. Writes IPC_CTL_READY on ctl once it listens. Returns the
 * exit status (0 after SIGTERM, 1 if it cannot start).
 */
int		 front_main(const struct srv_opts *, int ctl);
/*
 * The engine: ca/ with the HSM, the store writer, CRL and OCSP upkeep,
 * answering the fronts whose sockets arrive on ctl (or the one socket
 * fd when ctl is -1: ca-server --engine-fd, for tests). Writes
 * IPC_CTL_READY on ctl once it answers. Returns the exit status.
 */
int		 engine_main(const struct srv_opts *, int ctl, int fd);

/* The front's exit status that asks the supervisor to start it again now. */
#define EXIT_RESTART		3

struct conf;
/*
 * The front, once its sockets and files are open: the user (o->drop),
 * no core dumps, no new privileges, Landlock, seccomp (server_drop.c).
 */
int		 front_confine(const struct srv_opts *, const struct conf *);

/* No core files and no ptrace for this process (both processes). */
int		 no_core_dumps(void);
/* The signal that stops a process, waited for; 0 on timeout. */
int		 wait_signal(const sigset_t *, int seconds);

#endif /* LANYARD_CMD_SERVER_H */
