/*
 * cmd/server_front.c — ca-server's front process: the listeners (web/),
 * enroll/'s and ocsp/'s request parsing, the client certificate checks,
 * and OCSP, CRLs and CA certificates served from the store opened
 * read-only. It holds no PIN and no PKCS#11 session: what signs or
 * writes is a request to the engine (ipc/client.h), which checks it
 * again. When the engine is away, enrollment answers 503
 * engine_unavailable and revocation data is served as before.
 *
 * Threads: libmicrohttpd's pools answer; a control thread takes the
 * sockets of (re)started engines from the supervisor; the main thread
 * waits for signals and, every REOPEN_EVERY seconds, looks whether the
 * engine renewed the HTTPS certificate in DIR/tls (MHD 0.9.75 reads its
 * key and certificate only at start: the listener is then started again
 * on the same port).
 *
 * SIGTERM: stop accepting, let requests in flight finish, exit 0.
 * SIGHUP: the same, then exit EXIT_RESTART: the supervisor (which
 * checked ca.conf first) starts a new front at once on the same
 * sockets, where connections wait in the backlog meanwhile. A new
 * process, because this one may no longer open its files: Landlock
 * binds its rule for ca.conf to the file that was there (an edit that
 * renames a new one in is another file), and a front that changed its
 * user cannot read them at all.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "cmd/server.h"
#include "conf/conf.h"
#include "enroll/enroll.h"
#include "ipc/client.h"
#include "ocsp/ocsp.h"
#include "util/util.h"
#include "web/web.h"

/* A CA certificate file larger than this is not one. */
#define CERT_FILE_MAX		(256 * 1024)

struct front {
	const char		*dir;
	pthread_mutex_t		 lock;		/* the HTTPS listener */
	struct ca		*ca;		/* read-only */
	struct ocsp_responder	*responder;
	struct enroll		*enroll;
	struct ipc_client	*ipc;
	const char		*https;		/* NULL: off */
	char			 https_buf[300];
	char			 https_at[300];	/* its address, port fixed */
	struct web		*tls;		/* the HTTPS listener */
	struct stat		 tls_st;	/* DIR/tls/server.crt it serves */
	int			 https_fd;	/* the supervisor's socket */
};

static int
front_instance_open(struct front *f)
{
	struct ca *ca = NULL;
	struct ocsp_responder *rp = NULL;
	struct enroll *en = NULL;
	int r;

	/* Read-only: no PIN, no token, no write to the store. */
	if ((r = ca_open(f->dir, CA_OPEN_READONLY, &ca)) != LY_OK)
		return r;
	if ((r = ocsp_responder_new(ca, &rp)) != LY_OK)
		goto out;
	ocsp_responder_set_remote(rp, ipc_ocsp_remote, f->ipc);
	if ((r = enroll_new_engine(ca, &ipc_enroll_ops, f->ipc, &en)) != LY_OK)
		goto out;
	f->ca = ca;
	f->responder = rp;
	f->enroll = en;
	ca = NULL;
	rp = NULL;
 out:
	ocsp_responder_free(rp);
	ca_close(ca);
	return r;
}

static void
front_instance_close(struct front *f)
{
	enroll_free(f->enroll);
	ocsp_responder_free(f->responder);
	ca_close(f->ca);
	f->enroll = NULL;
	f->responder = NULL;
	f->ca = NULL;
}

static void
tls_stat(struct front *f, struct stat *st)
{
	char *key = NULL, *crt = NULL;

	memset(st, 0, sizeof(*st));
	if (ca_tls_paths(f->dir, &key, &crt) == LY_OK && stat(crt, st) == -1)
		memset(st, 0, sizeof(*st));
	free(key);
	free(crt);
}

/*
 * (Re)starts the HTTPS listener after the engine made sure its
 * certificate is usable. The first start fixes the port (for "ADDR:0"),
 * so a restart after SIGHUP listens where clients already connect.
 */
static int
https_start(struct front *f)
{
	const char *colon;
	int issued, r;

	if ((r = ipc_tls_ensure(f->ipc, &issued)) != LY_OK)
		return r;
	tls_stat(f, &f->tls_st);
	if ((r = web_start_https_fd(f->ca, f->responder, f->enroll, f->dir,
	    f->https_fd, f->https_at[0] != '\0' ? f->https_at : f->https,
	    &f->tls)) != LY_OK)
		return r;
	if (f->https_at[0] == '\0' &&
	    (colon = strrchr(f->https, ':')) != NULL)
		snprintf(f->https_at, sizeof(f->https_at), "%.*s:%u",
		    (int)(colon - f->https), f->https, web_port(f->tls));
	return LY_OK;
}

/*
 * Serves a certificate the engine renewed (or that the HTTPS listener
 * lacks after a failed restart): MHD 0.9.75 reads its key and
 * certificate only at start, so the listener starts again on the same
 * port (connections in flight finish first).
 */
static int
tls_watch(struct front *f, int dropped)
{
	struct stat st;
	int changed;

	if (f->https == NULL)
		return 0;
	pthread_mutex_lock(&f->lock);
	tls_stat(f, &st);
	changed = st.st_ino != f->tls_st.st_ino ||
	    st.st_mtime != f->tls_st.st_mtime ||
	    st.st_size != f->tls_st.st_size;
	/* Its user cannot read the new key: a new front, as root, can. */
	if (dropped && changed) {
		pthread_mutex_unlock(&f->lock);
		return 1;
	}
	if (f->ca != NULL && (f->tls == NULL || changed)) {
		web_stop(f->tls);
		f->tls = NULL;
		if (https_start(f) != LY_OK)
			ly_log(LY_LOG_ERR, "HTTPS listener not restarted: %s",
			    ly_errdetail());
		else
			ly_log(LY_LOG_INFO, "HTTPS listener restarted with the "
			    "renewed certificate");
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* Takes the socket of each (re)started engine from the supervisor. */
static void *
front_control(void *arg)
{
	struct front *f = ((void **)arg)[0];
	int ctl = *(int *)((void **)arg)[1];
	int fd, r;

	for (;;) {
		if ((r = ipc_fd_recv(ctl, &fd)) != LY_OK) {
			if (r != LY_ERR_NOT_FOUND)
				ly_log(LY_LOG_ERR, "front: %s", ly_errdetail());
			kill(getpid(), SIGTERM);
			return NULL;
		}
		if (ipc_client_attach(f->ipc, fd) != LY_OK)
			ly_log(LY_LOG_ERR, "front: %s", ly_errdetail());
		else
			ly_log(LY_LOG_INFO, "front: engine connected");
	}
}

/* Waits until the engine has done its start and answers. */
static int
engine_wait(struct front *f)
{
	struct ipc_msg m;
	int r;

	r = ipc_call(f->ipc, IPC_HELLO, NULL, 0, &m);
	ipc_msg_clear(&m);
	return r;
}

int
front_main(const struct srv_opts *o, int ctl)
{
	struct front f;
	struct web *w = NULL;
	void *carg[2];
	pthread_t ct;
	char ready = IPC_CTL_READY;
	int fd, sig, r = 1;

	memset(&f, 0, sizeof(f));
	f.dir = o->dir;
	f.https_fd = o->https_fd;
	pthread_mutex_init(&f.lock, NULL);
	if (ipc_client_new(&f.ipc) != LY_OK)
		goto out;
	web_set_hsm_check(ipc_health, f.ipc);
	web_set_stats(ipc_stats, f.ipc);
	if (front_instance_open(&f) != LY_OK) {
		ly_log(LY_LOG_ERR, "%s: %s", f.dir, ly_errdetail());
		goto out;
	}
	if (ipc_fd_recv(ctl, &fd) != LY_OK ||
	    ipc_client_attach(f.ipc, fd) != LY_OK) {
		ly_log(LY_LOG_ERR, "front: %s", ly_errdetail());
		goto out;
	}
	carg[0] = &f;
	carg[1] = &ctl;
	if (pthread_create(&ct, NULL, front_control, carg) != 0 ||
	    pthread_detach(ct) != 0) {
		ly_log(LY_LOG_ERR, "front: cannot start a thread");
		goto out;
	}
	if (engine_wait(&f) != LY_OK) {
		ly_log(LY_LOG_ERR, "front: %s", ly_errdetail());
		goto out;
	}
	/* The conf goes with a reload: keep the address in f. */
	snprintf(f.https_buf, sizeof(f.https_buf), "%s", o->https != NULL ?
	    o->https : ca_conf(f.ca)->https_listen);
	f.https = strcmp(f.https_buf, "off") == 0 ? NULL : f.https_buf;
	/* HTTPS before HTTP: the "listening" line of HTTP says all is up. */
	if (f.https != NULL && https_start(&f) != LY_OK) {
		ly_log(LY_LOG_ERR, "HTTPS: %s", ly_errdetail());
		goto out;
	}
	if (web_start_fd(f.ca, f.responder, o->http_fd, o->http, &w) !=
	    LY_OK) {
		ly_log(LY_LOG_ERR, "%s", ly_errdetail());
		goto out;
	}
	/* Sockets, store and TLS key open: what is not needed goes. */
	if (front_confine(o, ca_conf(f.ca)) != LY_OK) {
		ly_log(LY_LOG_ERR, "%s", ly_errdetail());
		goto out;
	}
	if (write(ctl, &ready, 1) != 1)
		ly_log(LY_LOG_WARN, "front: control socket: %s",
		    strerror(errno));
	r = 0;
	for (;;) {
		sig = wait_signal(o->sigs, REOPEN_EVERY);
		if (sig == SIGTERM || sig == SIGINT) {
			ly_log(LY_LOG_INFO, "signal %d: stopping", sig);
			break;
		}
		/*
		 * A reload is a new front (same sockets, no backoff): this
		 * one may no longer open the files (its user, Landlock), and
		 * the supervisor checked the configuration already.
		 */
		if (sig == SIGHUP || tls_watch(&f, o->drop)) {
			ly_log(LY_LOG_INFO, "front: %s: a new front takes over",
			    sig == SIGHUP ? "SIGHUP" : "a renewed certificate");
			r = EXIT_RESTART;
			break;
		}
	}
 out:
	web_stop(f.tls);
	web_stop(w);
	front_instance_close(&f);
	/* The control thread may still attach: the process ends next. */
	pthread_mutex_destroy(&f.lock);
	return r;
}
