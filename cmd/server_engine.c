/*
 * cmd/server_engine.c — ca-server's engine process: the only one that
 * reads a PIN, opens the token (through ca/), writes the store and
 * signs. It answers the front's requests (ipc/engine.c checks each
 * again), and keeps the CRLs, the pre-signed OCSP responses and the
 * HTTPS server certificate fresh on a background thread.
 *
 * Threads: the main thread waits for signals; a control thread takes
 * the sockets of (re)started fronts from the supervisor; the background
 * thread regenerates CRLs (after revocations, debounced, and when due)
 * and re-signs OCSP responses; ipc/'s readers and workers answer.
 *
 * SIGTERM: the workers finish the requests they hold, the background
 * thread stops, exit 0. SIGHUP: re-read ca.conf and the CA material
 * (requests wait meanwhile; a configuration that does not load leaves
 * the engine without an instance, answering engine_unavailable, and it
 * tries again every REOPEN_EVERY seconds).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "cmd/server.h"
#include "conf/conf.h"
#include "crl/crl.h"
#include "ipc/engine.h"
#include "ipc/ipc.h"
#include "ocsp/ocsp.h"
#include "util/util.h"

/* Seconds between the background thread's looks at the store. */
#define TICK			1
/* Seconds between OCSP refreshes (and the first one, at start). */
#define OCSP_REFRESH_EVERY	600
/* After a failed CRL generation, wait this long before trying again. */
#define CRL_RETRY		30
/* Seconds between looks at the HTTPS server certificate. */
#ifndef TLS_CHECK_EVERY
#define TLS_CHECK_EVERY		3600
#endif
/* How often the engine looks for an issuer due to roll over (rollover_before). */
#define ROLLOVER_CHECK_EVERY	600

struct engine {
	const char		*dir;
	int			 https;		/* the front serves HTTPS */
	/* Held by the background thread while it works, and by a reload. */
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	struct ca		*ca;		/* NULL after a failed reload */
	struct ocsp_responder	*responder;
	struct ipc_engine	*ipc;
	int			 stop;

	/* The background thread's own state. */
	uint64_t		 seen;		/* revocations already in CRLs */
	time_t			 pending;	/* first unpublished revocation */
	time_t			 retry_at;	/* after a failed generation */
	time_t			 refreshed;	/* last ocsp_refresh */
	time_t			 tls_checked;	/* last ca_tls_ensure */
	time_t			 rolled_checked; /* last rollover_before look */
};

static int
revocations(struct ca *ca, uint64_t *np)
{
	struct store_txn *txn = NULL;
	int r;

	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		return r;
	r = ca_revocations(txn, np);
	store_txn_abort(txn);
	return r;
}

/* One look at the store; called with s->lock held and s->ca open. */
static void
tick(struct engine *s)
{
	const struct conf *conf = ca_conf(s->ca);
	time_t now = ly_now();
	unsigned int flags = 0;
	uint64_t n;
	size_t count;
	int issued, r;

	if (revocations(s->ca, &n) == LY_OK && n != s->seen) {
		s->seen = n;
		/* Timed from the first: a stream of revocations cannot starve it. */
		if (s->pending == 0)
			s->pending = now;
	}
	if (s->pending != 0 && now - s->pending >= conf->crl_debounce)
		flags |= CRL_PUBLISH_REVOKED;
	if (now >= s->retry_at) {
		r = crl_publish_due(s->ca, flags, "ca-server",
		    flags != 0 ? "revocation" : "due");
		if (r < 0)
			s->retry_at = now + CRL_RETRY;
		else if (flags & CRL_PUBLISH_REVOKED)
			s->pending = 0;
	}
	if (s->refreshed == 0 || now - s->refreshed >= OCSP_REFRESH_EVERY) {
		count = 0;
		if (ocsp_refresh(s->responder, &count) != LY_OK)
			ly_log(LY_LOG_ERR, "OCSP refresh: %s", ly_errdetail());
		else if (count > 0)
			ly_log(LY_LOG_INFO, "OCSP: %zu responses re-signed",
			    count);
		s->refreshed = now;
	}
	/*
	 * rollover_before: a new generation takes over before leaves would
	 * be cut to the old one's notAfter; its first CRLs at once.
	 */
	if (now - s->rolled_checked >= ROLLOVER_CHECK_EVERY) {
		s->rolled_checked = now;
		if (ca_issuer_rollover_due(s->ca, "ca-server", &issued) ==
		    LY_OK && issued > 0)
			(void)crl_publish_due(s->ca, CRL_PUBLISH_MISSING,
			    "ca-server", "rollover");
	}
	/* The front sees the new files and restarts its HTTPS listener. */
	if (s->https && now - s->tls_checked >= TLS_CHECK_EVERY) {
		s->tls_checked = now;
		if (ipc_engine_tls_ensure(s->ipc, s->ca, &issued) != LY_OK)
			ly_log(LY_LOG_ERR, "TLS server certificate: %s",
			    ly_errdetail());
	}
}

static void *
background(void *arg)
{
	struct engine *s = arg;
	struct timespec until;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		if (s->ca != NULL)
			tick(s);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += TICK;
		while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock,
		    &until) != ETIMEDOUT)
			continue;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int
instance_open(struct engine *s)
{
	struct ca *ca = NULL;
	struct ocsp_responder *rp = NULL;
	int r;

	if ((r = ca_open(s->dir, 0, &ca)) != LY_OK)
		return r;
	if ((r = ocsp_responder_new(ca, &rp)) != LY_OK) {
		ca_close(ca);
		return r;
	}
	s->ca = ca;
	s->responder = rp;
	return LY_OK;
}

static void
instance_close(struct engine *s)
{
	ocsp_responder_free(s->responder);
	ca_close(s->ca);
	s->responder = NULL;
	s->ca = NULL;
}

/* ca_reconcile() at start, logged; an error keeps the engine from starting. */
static int
reconcile(struct ca *ca)
{
	struct ca_reconcile_stats st;
	int r;

	if ((r = ca_reconcile(ca, "ca-server", &st)) != LY_OK) {
		ly_log(LY_LOG_ERR, "reconcile: %s", ly_errdetail());
		return r;
	}
	if (st.burned > 0 || st.left > 0)
		ly_log(LY_LOG_INFO, "reconcile: %zu reserved serials burned, "
		    "%zu tokens usable again, %zu recent reservations left",
		    st.burned, st.tokens, st.left);
	return LY_OK;
}

/* Requests wait while the instance is replaced (one CA per process). */
static void
reload(struct engine *s)
{
	pthread_mutex_lock(&s->lock);
	ipc_engine_hold(s->ipc);
	instance_close(s);
	if (instance_open(s) == LY_OK) {
		s->refreshed = 0;
		ly_log(LY_LOG_INFO, "engine: reloaded %s", s->dir);
	} else
		ly_log(LY_LOG_ERR, "engine: reload failed: %s; answering "
		    "engine_unavailable, retrying every %d s", ly_errdetail(),
		    REOPEN_EVERY);
	ipc_engine_resume(s->ipc, s->ca, s->responder);
	pthread_mutex_unlock(&s->lock);
}

/* Takes the sockets of (re)started fronts from the supervisor. */
static void *
control(void *arg)
{
	struct engine *s = ((void **)arg)[0];
	int ctl = *(int *)((void **)arg)[1];
	int fd, r;

	for (;;) {
		if ((r = ipc_fd_recv(ctl, &fd)) != LY_OK) {
			if (r != LY_ERR_NOT_FOUND)
				ly_log(LY_LOG_ERR, "engine: %s", ly_errdetail());
			/* The supervisor is gone: so are we. */
			kill(getpid(), SIGTERM);
			return NULL;
		}
		if (ipc_engine_serve(s->ipc, fd) != LY_OK)
			ly_log(LY_LOG_ERR, "engine: %s", ly_errdetail());
	}
}

/* The HTTPS address the front will serve (only to know if it does). */
static int
serves_https(const struct srv_opts *o, const struct ca *ca)
{
	const char *https = o->https != NULL ? o->https :
	    ca_conf(ca)->https_listen;

	return strcmp(https, "off") != 0;
}

int
engine_main(const struct srv_opts *o, int ctl, int fd)
{
	struct engine s;
	void *carg[2];
	pthread_t bg, ct;
	int bg_started = 0, sig, r = 1;
	char ready = IPC_CTL_READY;

	memset(&s, 0, sizeof(s));
	s.dir = o->dir;
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.wake, NULL);
	if (instance_open(&s) != LY_OK) {
		ly_log(LY_LOG_ERR, "engine: %s: %s", s.dir, ly_errdetail());
		goto out;
	}
	s.https = serves_https(o, s.ca);
	/*
	 * Before any request is answered, no claim can be in flight: what a
	 * crash (of the engine, or of the whole server) left between a
	 * reservation and its certificate is burned, and its token given
	 * back (ca_reconcile()).
	 */
	if (reconcile(s.ca) != LY_OK)
		goto out;
	/*
	 * Revocations made while no server ran (ca-admin revoke without crl
	 * publish) may be in no CRL yet: the issuing CA's CRLs are made now
	 * if so, so that every revocation counted here is in them. Nothing
	 * else is made but what is due: a restart signs no CRL for nothing.
	 * The supervisor started us only after it had bound the listening
	 * addresses.
	 */
	if (revocations(s.ca, &s.seen) != LY_OK) {
		ly_log(LY_LOG_ERR, "store: %s", ly_errdetail());
		goto out;
	}
	(void)crl_publish_due(s.ca, CRL_PUBLISH_MISSING, "ca-server", "start");
	/* The front asks for the certificate at its start (IPC_TLS_ENSURE). */
	s.tls_checked = ly_now();
	if (ipc_engine_new(s.dir, ca_conf(s.ca)->threads, &s.ipc) != LY_OK) {
		ly_log(LY_LOG_ERR, "engine: %s", ly_errdetail());
		goto out;
	}
	ipc_engine_set_instance(s.ipc, s.ca, s.responder);
	if (pthread_create(&bg, NULL, background, &s) != 0) {
		ly_log(LY_LOG_ERR, "engine: cannot start a thread");
		goto out;
	}
	bg_started = 1;
	if (fd != -1 && ipc_engine_serve(s.ipc, fd) != LY_OK) {
		ly_log(LY_LOG_ERR, "engine: %s", ly_errdetail());
		goto out;
	}
	if (ctl != -1) {
		carg[0] = &s;
		carg[1] = &ctl;
		if (pthread_create(&ct, NULL, control, carg) != 0 ||
		    pthread_detach(ct) != 0) {
			ly_log(LY_LOG_ERR, "engine: cannot start a thread");
			goto out;
		}
		if (write(ctl, &ready, 1) != 1)
			ly_log(LY_LOG_WARN, "engine: control socket: %s",
			    strerror(errno));
	}
	ly_log(LY_LOG_INFO, "engine: ready (pid %ld)", (long)getpid());
	for (;;) {
		sig = wait_signal(o->sigs, REOPEN_EVERY);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP || (sig == 0 && s.ca == NULL))
			reload(&s);
	}
	r = 0;
 out:
	if (bg_started) {
		pthread_mutex_lock(&s.lock);
		s.stop = 1;
		pthread_cond_signal(&s.wake);
		pthread_mutex_unlock(&s.lock);
		pthread_join(bg, NULL);
	}
	/* The requests in hand are answered before the instance closes. */
	ipc_engine_free(s.ipc);
	instance_close(&s);
	pthread_cond_destroy(&s.wake);
	pthread_mutex_destroy(&s.lock);
	return r;
}
