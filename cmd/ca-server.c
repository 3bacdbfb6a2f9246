/*
 * ca-server — serves revocation data and CA certificates over HTTP,
 * enrollment (enroll/) over HTTPS, and keeps the CRLs, pre-signed OCSP
 * responses and its own TLS certificate fresh. See ca-server(8) and
 * docs/architecture.md.
 *
 *	ca-server --dir DIR [--http ADDR:PORT] [--https ADDR:PORT|off]
 *	    [--syslog] [-v]
 *
 * Processes: this one, the supervisor, takes the instance's lock file,
 * checks that the listening addresses are free (so a start that cannot
 * serve exits before the engine does any work: no CRL number is used
 * up), then forks
 *   - the front (cmd/server_front.c): listeners and request parsing,
 *     the store read-only, no PIN, no token; and
 *   - the engine (cmd/server_engine.c): PINs, the token, the store
 *     writer, signing, CRL and OCSP upkeep;
 * the front first, before anything has read a PIN. It links them with a
 * socketpair (ipc/ipc.h), handing each its end over a control socket,
 * and restarts either when it dies, with a backoff (1 s doubling to
 * 30 s; back to 1 s after a minute of service), giving both ends of a
 * new socketpair. A child that dies before it first served ends the
 * server (exit 1): a configuration that cannot start does not loop.
 *
 * SIGTERM/SIGINT: the front stops accepting and finishes its requests,
 * then the engine finishes its own; exit 0. SIGHUP: passed to both; each
 * re-reads ca.conf and the CA material (ca-server(8)).
 *
 * Exit status: 0 after a signal to stop, 1 if it cannot start, 2 usage.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ca/ca.h"
#include "cmd/notify.h"
#include "cmd/server.h"
#include "conf/conf.h"
#include "ipc/ipc.h"
#include "util/util.h"
#include "web/web.h"

#define EXIT_USAGE		2
/* A CA certificate file larger than this is not one. */
#define CERT_FILE_MAX		(256 * 1024)
#define LOCK_FILE		"ca-server.lock"
/* Seconds the lock of a killed supervisor's dying children is waited for. */
#define LOCK_WAIT		5
/* Restart backoff, seconds: from BACKOFF_MIN doubling to BACKOFF_MAX. */
#define BACKOFF_MIN		1
#define BACKOFF_MAX		30
/* A child that served this long starts again from BACKOFF_MIN. */
#define BACKOFF_RESET		60
/* How long a child gets to stop after SIGTERM before SIGKILL. */
#define STOP_WAIT		15

enum role { ROLE_FRONT, ROLE_ENGINE };

struct child {
	const char	*name;
	enum role	 role;
	pid_t		 pid;		/* 0: not running */
	int		 ctl;		/* our end of its control socket */
	int		 ready;		/* it said it serves */
	int		 ever_ready;	/* some run of it did */
	time_t		 started;
	unsigned int	 backoff;
	time_t		 restart_at;	/* 0: none due */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: ca-server --dir DIR [--http ADDR:PORT] "
	    "[--https ADDR:PORT|off] [--syslog] [-v]\n"
	    "       ca-server --dir DIR --engine-fd FD   (the engine alone, "
	    "for tests)\n"
	    "       ca-server --help | --version\n"
	    "The instance directory is --dir or $LANYARD_DIR.\n");
}

int
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return ly_fail(LY_ERR_INTERNAL, "disabling core dumps: %s",
		    strerror(errno));
	return LY_OK;
}

int
wait_signal(const sigset_t *set, int seconds)
{
	struct timespec t = { seconds, 0 };
	int sig;

	if ((sig = sigtimedwait(set, NULL, &t)) == -1)
		return 0;
	return sig;
}

/*
 * What only the server's user may read: the PIN files, the store (it
 * holds the token hashes and every record) and the TLS key. Checked
 * before anything is opened, so a server never runs on files that others
 * can read; ca-admin makes them 0600 and the server never widens them.
 * A file that does not exist is someone else's business (a PIN from the
 * environment, an offline root, a TLS key made at start). Only stat():
 * the supervisor reads no PIN.
 */
static int
private_files(const struct conf *conf, const char *dir)
{
	struct stat st;
	char *paths[6] = { NULL };
	size_t i, n = 0;
	int r = LY_OK;

	if (conf->root.pin_file != NULL)
		paths[n++] = strdup(conf->root.pin_file);
	if (conf->issuing.pin_file != NULL)
		paths[n++] = strdup(conf->issuing.pin_file);
	paths[n++] = ly_path_join(conf->store_dir, "data.mdb");
	paths[n++] = ly_path_join(conf->store_dir, "lock.mdb");
	if (ca_tls_paths(dir, &paths[n], &paths[n + 1]) == LY_OK) {
		free(paths[n + 1]);	/* the certificate is public */
		paths[n + 1] = NULL;
	}
	n++;
	for (i = 0; i < n && r == LY_OK; i++) {
		if (paths[i] == NULL)
			r = LY_ERR_ALLOC;
		else if (stat(paths[i], &st) == -1) {
			if (errno != ENOENT)
				r = ly_fail(LY_ERR_IO, "%s: %s", paths[i],
				    strerror(errno));
		} else if (st.st_mode & 077)
			r = ly_fail(LY_ERR_CONFIG, "%s is accessible to group or "
			    "others (mode %03o): chmod 600 it", paths[i],
			    (unsigned int)(st.st_mode & 0777));
	}
	for (i = 0; i < n; i++)
		free(paths[i]);
	return r;
}

/*
 * One ca-server per instance: an exclusive flock on DIR/ca-server.lock,
 * held (by the children too, who inherit the descriptor) until the last
 * process exits. The file holds the supervisor's PID for the message of
 * a second server. ca-admin does not take it: it works beside a server.
 */
static int
lock_take(const char *dir, int *fdp)
{
	char *path, buf[32];
	ssize_t n;
	int fd, tries = 0, r = LY_OK;

	if ((path = ly_path_join(dir, LOCK_FILE)) == NULL)
		return LY_ERR_ALLOC;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		r = ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			/*
			 * A supervisor that was killed leaves its children
			 * dying (PR_SET_PDEATHSIG) with the lock for a moment.
			 */
			if (tries++ < LOCK_WAIT * 10 && buf[0] != '\0' &&
			    kill((pid_t)strtol(buf, NULL, 10), 0) == -1 &&
			    errno == ESRCH) {
				usleep(100 * 1000);
				continue;
			}
			r = ly_fail(LY_ERR_EXISTS, "another ca-server (pid %s) "
			    "serves %s: it holds %s", buf[0] != '\0' ? buf :
			    "unknown", dir, path);
		} else
			r = ly_fail(LY_ERR_IO, "%s: flock: %s", path,
			    strerror(errno));
		close(fd);
		goto out;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		ly_log(LY_LOG_WARN, "%s: %s", path, strerror(errno));
	*fdp = fd;
 out:
	free(path);
	return r;
}

/*
 * Bind first: the supervisor binds and listens on the addresses before
 * it starts anything, so a server whose port is taken exits before the
 * engine does any work (no CRL is regenerated, no CRL number used up),
 * and a restarted front serves on the same sockets (the same ports, for
 * "ADDR:0" too). *fdp is -1 for "off".
 */
static int
addr_bind(const char *scheme, const char *addr, int *fdp)
{
	struct addrinfo hints, *res = NULL;
	char host[300];
	const char *colon, *h;
	size_t hlen;
	int fd = -1, one = 1, zero = 0, rc, r;

	*fdp = -1;
	if (strcmp(addr, "off") == 0)
		return LY_OK;
	if ((colon = strrchr(addr, ':')) == NULL || colon == addr ||
	    colon[1] == '\0')
		return ly_fail(LY_ERR_CONFIG, "listen address %s: expected "
		    "ADDR:PORT", addr);
	h = addr;
	hlen = (size_t)(colon - addr);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return ly_fail(LY_ERR_CONFIG, "listen address %s: too long",
		    addr);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		return ly_fail(LY_ERR_CONFIG, "listen address %s: %s", addr,
		    gai_strerror(rc));
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1) {
		r = ly_fail(LY_ERR_IO, "socket: %s", strerror(errno));
		goto out;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
		    sizeof(zero));
	/* Worded as libmicrohttpd's own message was, for the same fault. */
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		r = ly_fail(LY_ERR_IO, "%s://%s: Failed to bind to port %s: %s",
		    scheme, addr, colon + 1, strerror(errno));
		goto out;
	}
	if (listen(fd, SOMAXCONN) == -1) {
		r = ly_fail(LY_ERR_IO, "cannot listen on %s: %s", addr,
		    strerror(errno));
		goto out;
	}
	*fdp = fd;
	fd = -1;
	r = LY_OK;
 out:
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return r;
}

/* ---- children ------------------------------------------------------------- */

static struct child kids[2] = {
	{ "front", ROLE_FRONT, 0, -1, 0, 0, 0, BACKOFF_MIN, 0 },
	{ "engine", ROLE_ENGINE, 0, -1, 0, 0, 0, BACKOFF_MIN, 0 },
};

/* In a new child: nothing of the supervisor's but its own control end. */
static void
child_setup(int keep, int lockfd)
{
	int i;

	for (i = 0; i < 2; i++)
		if (kids[i].ctl != -1 && kids[i].ctl != keep)
			close(kids[i].ctl);
	(void)lockfd;	/* inherited: the lock lasts as long as any of us */
	/*
	 * The supervisor killed, we die with it, at once: a crash of the
	 * server is a crash of all three (a stop by signal is orderly: the
	 * supervisor stops us first).
	 */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
}

static int
spawn(struct child *c, const struct srv_opts *o, int lockfd)
{
	int sv[2], status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return ly_fail(LY_ERR_IO, "socketpair: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return ly_fail(LY_ERR_IO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(sv[0]);
		child_setup(sv[1], lockfd);
		/* The listening sockets are the front's alone. */
		if (c->role == ROLE_ENGINE) {
			if (o->http_fd != -1)
				close(o->http_fd);
			if (o->https_fd != -1)
				close(o->https_fd);
		}
		status = c->role == ROLE_FRONT ? front_main(o, sv[1]) :
		    engine_main(o, sv[1], -1);
		fflush(NULL);
		_exit(status);
	}
	close(sv[1]);
	c->pid = pid;
	c->ctl = sv[0];
	c->ready = 0;
	c->started = ly_now();
	c->restart_at = 0;
	ly_log(LY_LOG_INFO, "%s started (pid %ld)", c->name, (long)pid);
	return LY_OK;
}

/* A new socketpair between the running front and engine. */
static int
link_children(void)
{
	int sv[2], r;

	if (kids[ROLE_FRONT].pid == 0 || kids[ROLE_ENGINE].pid == 0)
		return LY_OK;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return ly_fail(LY_ERR_IO, "socketpair: %s", strerror(errno));
	if ((r = ipc_fd_send(kids[ROLE_FRONT].ctl, sv[0])) == LY_OK)
		r = ipc_fd_send(kids[ROLE_ENGINE].ctl, sv[1]);
	close(sv[0]);
	close(sv[1]);
	return r;
}

/* Reads the READY byte of a child that sent it. */
static void
check_ready(struct child *c)
{
	struct pollfd p = { c->ctl, POLLIN, 0 };
	char b;

	if (c->pid == 0 || c->ready || poll(&p, 1, 0) != 1)
		return;
	if (read(c->ctl, &b, 1) == 1 && b == IPC_CTL_READY) {
		/* The front's first "ready": the service is up. */
		if (c->role == ROLE_FRONT && !c->ever_ready)
			server_notify("READY=1");
		c->ready = c->ever_ready = 1;
		ly_log(LY_LOG_DEBUG, "%s (pid %ld) serves", c->name,
		    (long)c->pid);
	}
}

/* Reaps dead children; -1 if one died before any run of it served. */
static int
reap(void)
{
	struct child *c;
	time_t now = ly_now();
	pid_t pid;
	int i, st, fatal = 0;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (c = NULL, i = 0; i < 2; i++)
			if (kids[i].pid == pid)
				c = &kids[i];
		if (c == NULL)
			continue;
		check_ready(c);
		if (WIFSIGNALED(st))
			ly_log(LY_LOG_ERR, "%s (pid %ld) killed by signal %d",
			    c->name, (long)pid, WTERMSIG(st));
		else
			ly_log(c->ever_ready ? LY_LOG_ERR : LY_LOG_INFO,
			    "%s (pid %ld) exited with status %d", c->name,
			    (long)pid, WEXITSTATUS(st));
		close(c->ctl);
		c->ctl = -1;
		c->pid = 0;
		c->ready = 0;
		if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_RESTART &&
		    c->ever_ready) {
			/* Asked for (a reload under its own user): at once. */
			c->restart_at = now;
			continue;
		}
		if (!c->ever_ready) {
			fatal = -1;
			continue;
		}
		if (now - c->started >= BACKOFF_RESET)
			c->backoff = BACKOFF_MIN;
		c->restart_at = now + c->backoff;
		c->backoff = c->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
		    c->backoff * 2;
		ly_log(LY_LOG_WARN, "restarting the %s in %lld s", c->name,
		    (long long)(c->restart_at - now));
	}
	return fatal;
}

/* SIGTERM to a child, SIGKILL after STOP_WAIT seconds; reaps it. */
static void
stop_child(struct child *c)
{
	int i, st;

	if (c->pid == 0)
		return;
	kill(c->pid, SIGTERM);
	for (i = 0; i < STOP_WAIT * 10; i++) {
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = 0;
			break;
		}
		usleep(100 * 1000);
	}
	if (c->pid != 0) {
		ly_log(LY_LOG_ERR, "%s (pid %ld) did not stop: killed",
		    c->name, (long)c->pid);
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &st, 0);
		c->pid = 0;
	}
	if (c->ctl != -1)
		close(c->ctl);
	c->ctl = -1;
}

/*
 * SIGHUP: a configuration that does not load is refused here, and both
 * keep serving the running one; else both are told.
 */
/* A reload should not replace a working instance for a missing certificate. */
static int
cert_file_check(const char *path)
{
	unsigned char *buf = NULL;
	size_t len;
	BIO *bio = NULL;
	X509 *x = NULL;
	int r;

	if ((r = ly_file_read(path, CERT_FILE_MAX, &buf, &len)) != LY_OK)
		return r;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		r = ly_fail(LY_ERR_CONFIG, "%s: not a PEM certificate", path);
	X509_free(x);
	BIO_free(bio);
	free(buf);
	return r;
}

/* What must hold before the front and the engine are told to reload. */
static int
reload_check(const struct srv_opts *o)
{
	struct conf *nc = NULL;
	int r;

	if ((r = conf_load(o->dir, NULL, &nc)) != LY_OK)
		return r;
	if (strcmp(nc->store_dir, o->store_dir) != 0)
		r = ly_fail(LY_ERR_CONFIG, "the store directory changed: "
		    "restart ca-server for that");
	else if ((r = cert_file_check(nc->root.cert_file)) != LY_OK ||
	    (r = cert_file_check(nc->issuing.cert_file)) != LY_OK)
		;
	else {
		if (strcmp(nc->http_listen, o->conf_http) != 0)
			ly_log(LY_LOG_WARN, "reload: a new [server] http "
			    "address takes effect at restart");
		if (strcmp(nc->https_listen, o->conf_https) != 0)
			ly_log(LY_LOG_WARN, "reload: a new [server] https "
			    "address takes effect at restart");
	}
	conf_free(nc);
	return r;
}

static void
hup(const struct srv_opts *o)
{
	int i;

	if (reload_check(o) != LY_OK) {
		ly_log(LY_LOG_ERR, "reload refused, still serving the running "
		    "configuration: %s", ly_errdetail());
		return;
	}
	ly_log(LY_LOG_INFO, "SIGHUP: reloading the front and the engine");
	server_notify("RELOADING=1");
	for (i = 0; i < 2; i++)
		if (kids[i].pid != 0)
			kill(kids[i].pid, SIGHUP);
	/* Each reloads on its own; requests wait meanwhile, none is lost. */
	server_notify("READY=1");
}

static int
supervise(const struct srv_opts *o, int lockfd)
{
	struct child *c;
	time_t now;
	int i, sig, r = 1;

	/* The front first: it exists before any process has read a PIN. */
	if (spawn(&kids[ROLE_FRONT], o, lockfd) != LY_OK ||
	    spawn(&kids[ROLE_ENGINE], o, lockfd) != LY_OK ||
	    link_children() != LY_OK) {
		ly_log(LY_LOG_ERR, "%s", ly_errdetail());
		goto out;
	}
	for (;;) {
		sig = wait_signal(o->sigs, 1);
		if (sig == SIGTERM || sig == SIGINT) {
			ly_log(LY_LOG_INFO, "signal %d: stopping", sig);
			server_notify("STOPPING=1");
			r = 0;
			break;
		}
		if (sig == SIGHUP)
			hup(o);
		for (i = 0; i < 2; i++)
			check_ready(&kids[i]);
		if (reap() != 0) {
			ly_log(LY_LOG_ERR, "cannot start: stopping");
			break;
		}
		now = ly_now();
		for (i = 0; i < 2; i++) {
			c = &kids[i];
			if (c->pid != 0 || c->restart_at == 0 ||
			    now < c->restart_at)
				continue;
			if (spawn(c, o, lockfd) != LY_OK ||
			    link_children() != LY_OK) {
				ly_log(LY_LOG_ERR, "%s", ly_errdetail());
				c->restart_at = now + BACKOFF_MAX;
			}
		}
	}
 out:
	/* The front first: its requests in flight need the engine. */
	stop_child(&kids[ROLE_FRONT]);
	stop_child(&kids[ROLE_ENGINE]);
	return r;
}

/*
 * The front's user: [server] user when started as root (an error if it
 * does not exist: the front would otherwise run as root unnoticed);
 * none, with a warning, when the key is absent; ignored when not root.
 */
static int
user_find(const struct conf *conf, struct srv_opts *o)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (conf->server_user != NULL)
			ly_log(LY_LOG_INFO, "not started as root: [server] "
			    "user %s is not needed", conf->server_user);
		return LY_OK;
	}
	if (conf->server_user == NULL) {
		ly_log(LY_LOG_WARN, "started as root without [server] user: "
		    "the front runs as root (confined otherwise)");
		return LY_OK;
	}
	errno = 0;
	if ((pw = getpwnam(conf->server_user)) == NULL)
		return ly_fail(LY_ERR_CONFIG, "[server] user %s: %s",
		    conf->server_user, errno != 0 ? strerror(errno) :
		    "no such user (create it, e.g. useradd --system "
		    "--no-create-home lanyard, or remove the key)");
	if (pw->pw_uid == 0)
		return ly_fail(LY_ERR_CONFIG, "[server] user %s is root",
		    conf->server_user);
	if ((o->user = strdup(conf->server_user)) == NULL)
		return LY_ERR_ALLOC;
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	o->drop = 1;
	return LY_OK;
}

/* Frees what preflight() copied into o. */
static void
opts_clear(struct srv_opts *o)
{
	if (!o->owned)
		return;
	free((char *)o->http);
	free((char *)o->https);
	free((char *)o->user);
	free((char *)o->store_dir);
	free((char *)o->conf_http);
	free((char *)o->conf_https);
	o->owned = 0;
}

/* Starts when nothing stands in the way: lock, files, addresses. */
static int
preflight(struct srv_opts *o, int *lockfdp)
{
	struct conf *conf = NULL;
	char *http, *https;
	int r;

	if ((r = conf_load(o->dir, NULL, &conf)) != LY_OK)
		goto out;
	/* The addresses as they are now: a reload does not move them. */
	https = strdup(o->https != NULL ? o->https : conf->https_listen);
	http = strdup(o->http != NULL ? o->http : conf->http_listen);
	o->https = https;
	o->http = http;
	o->owned = 1;
	if (https == NULL || http == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = lock_take(o->dir, lockfdp)) != LY_OK ||
	    (r = private_files(conf, o->dir)) != LY_OK)
		goto out;
	/* What a reload may not change (reload_check()). */
	if ((o->store_dir = strdup(conf->store_dir)) == NULL ||
	    (o->conf_http = strdup(conf->http_listen)) == NULL ||
	    (o->conf_https = strdup(conf->https_listen)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = addr_bind("https", o->https, &o->https_fd)) != LY_OK ||
	    (r = addr_bind("http", o->http, &o->http_fd)) != LY_OK)
		goto out;
	r = user_find(conf, o);
 out:
	conf_free(conf);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir",	required_argument, NULL, 'd' },
		{ "http",	required_argument, NULL, 'H' },
		{ "https",	required_argument, NULL, 'S' },
		{ "engine-fd",	required_argument, NULL, 'E' },
		{ "syslog",	no_argument,	   NULL, 's' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct srv_opts o;
	sigset_t set;
	char *end;
	long efd = -1;
	int c, lockfd = -1, r;

	memset(&o, 0, sizeof(o));
	o.http_fd = o.https_fd = -1;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.dir = optarg;
			break;
		case 'H':
			o.http = optarg;
			break;
		case 'S':
			o.https = optarg;
			break;
		case 'E':
			errno = 0;
			efd = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || efd < 3 ||
			    efd > 65535) {
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case 's':
			web_log_syslog(1);
			break;
		case 'v':
			ly_log_setlevel(LY_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ca-server (lanyard) %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (o.dir == NULL)
		o.dir = getenv("LANYARD_DIR");
	if (optind != argc || o.dir == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (no_core_dumps() != LY_OK) {
		ly_log(LY_LOG_ERR, "%s", ly_errdetail());
		return 1;
	}
	/*
	 * Block the signals we wait for before any thread or child exists,
	 * so every thread inherits the mask and only sigtimedwait() sees
	 * them.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		ly_log(LY_LOG_ERR, "cannot set up signals");
		return 1;
	}
	o.sigs = &set;
	/* The engine alone on an inherited socket: for tests (ipc_hostile). */
	if (efd != -1)
		return engine_main(&o, -1, (int)efd) == 0 ? 0 : 1;
	if ((r = preflight(&o, &lockfd)) != LY_OK) {
		ly_log(LY_LOG_ERR, "%s: %s", o.dir, ly_errdetail());
		opts_clear(&o);
		return 1;
	}
	r = supervise(&o, lockfd);
	close(lockfd);
	opts_clear(&o);
	return r == 0 ? 0 : 1;
}
