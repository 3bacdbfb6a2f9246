/*
 * ca-server — serves revocation data and CA certificates over HTTP,
 * enrollment (enroll/) over HTTPS, and keeps the CRLs, pre-signed OCSP
 * responses and its own TLS certificate fresh. See ca-server(8).
 *
 *	ca-server --dir DIR [--http ADDR:PORT] [--https ADDR:PORT|off]
 *	    [--syslog] [-v]
 *
 * Threads: libmicrohttpd's pool answers requests (web/); one background
 * thread regenerates CRLs (after revocations, debounced, and when due)
 * and re-signs OCSP responses; the main thread only waits for signals.
 *
 * SIGTERM/SIGINT: stop accepting, let requests in flight finish, stop the
 * background thread, exit 0. SIGHUP: re-read ca.conf and the CA material,
 * and restart the HTTPS listener on the same address with the current
 * DIR/tls files. The background thread looks at them once an hour and
 * renews them when due; the main thread then restarts the HTTPS listener
 * (MHD 0.9.75 reads its key and certificate only at start).
 * A configuration that does not load is refused and the running one kept.
 * One process cannot hold two instances of a CA at once (LMDB forbids
 * opening an environment twice in a process, and hsm/ has one PKCS#11
 * module per process whose shutdown frees every key), so a reload checks
 * what it can first, then holds new requests for a moment, closes the old
 * instance and opens the new one; the listener is never dropped.
 *
 * Exit status: 0 after a signal to stop, 1 if it cannot start, 2 usage.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"
#include "cmd/notify.h"
#include "conf/conf.h"
#include "crl/crl.h"
#include "ocsp/ocsp.h"
#include "util/util.h"
#include "web/web.h"

#define EXIT_USAGE		2
/* Seconds between the background thread's looks at the store. */
#define TICK			1
/* Seconds between OCSP refreshes (and the first one, at start). */
#define OCSP_REFRESH_EVERY	600
/* After a failed CRL generation, wait this long before trying again. */
#define CRL_RETRY		30
/* After a failed reload left no instance, try again this often. */
#define REOPEN_EVERY		5
/* Seconds between looks at the HTTPS server certificate. */
#ifndef TLS_CHECK_EVERY
#define TLS_CHECK_EVERY		3600
#endif
/* A CA certificate file larger than this is not one. */
#define CERT_FILE_MAX		(256 * 1024)

struct server {
	const char		*dir;
	/* Held by the background thread while it works, and by a reload. */
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	struct ca		*ca;		/* NULL after a failed reload */
	struct ocsp_responder	*responder;
	struct enroll		*enroll;	/* NULL with ca */
	int			 stop;
	const char		*https;		/* NULL: off */
	char			 https_buf[300];	/* outlives a reload */
	char			 https_at[300];	/* its address, port fixed */
	struct web		*tls;		/* the HTTPS listener */

	/* The background thread's own state. */
	uint64_t		 seen;		/* revocations already in CRLs */
	time_t			 pending;	/* first unpublished revocation */
	time_t			 retry_at;	/* after a failed generation */
	time_t			 refreshed;	/* last ocsp_refresh */
	time_t			 tls_checked;	/* last ca_tls_ensure */
	time_t			 tidied;	/* last tidy ([ca] tidy_interval) */
	int			 tls_renewed;	/* the listener must restart */
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: ca-server --dir DIR [--http ADDR:PORT] "
	    "[--https ADDR:PORT|off] [--syslog] [-v]\n"
	    "       ca-server --help | --version\n"
	    "The instance directory is --dir or $LANYARD_DIR.\n");
}

/* The process holds PINs and CA key handles: no core files, no ptrace. */
static int
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return ly_fail(LY_ERR_INTERNAL, "disabling core dumps: %s",
		    strerror(errno));
	return LY_OK;
}

/*
 * What only the server's user may read: the PIN files, the store (it
 * holds the token hashes and every record) and the TLS key. Checked
 * before anything is opened, so a server never runs on files that others
 * can read; ca-admin makes them 0600 and the server never widens them.
 * A file that does not exist is someone else's business (a PIN from the
 * environment, an offline root, a TLS key made at start).
 */
static int
private_files(const char *dir)
{
	struct conf *conf = NULL;
	struct stat st;
	char *paths[6] = { NULL };
	size_t i, n = 0;
	int r;

	if ((r = conf_load(dir, NULL, &conf)) != LY_OK)
		return r;
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
	conf_free(conf);
	return r;
}

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
tick(struct server *s)
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
	/* [ca] tidy_interval: off by default; the first one an interval in. */
	if (conf->tidy_interval > 0 && s->tidied == 0)
		s->tidied = now;
	else if (conf->tidy_interval > 0 &&
	    now - s->tidied >= conf->tidy_interval) {
		struct ca_tidy_info ti;

		s->tidied = now;
		if (ca_tidy(s->ca, conf->tidy_keep, 0, "ca-server", NULL, NULL,
		    &ti) != LY_OK)
			ly_log(LY_LOG_ERR, "tidy: %s", ly_errdetail());
		else
			ly_log(LY_LOG_INFO, "tidy: %zu certificate records, %zu "
			    "tokens removed", ti.certs, ti.tokens);
	}
	if (s->https != NULL && now - s->tls_checked >= TLS_CHECK_EVERY) {
		s->tls_checked = now;
		if (ca_tls_ensure(s->ca, s->dir, "ca-server", &issued) != LY_OK)
			ly_log(LY_LOG_ERR, "TLS server certificate: %s",
			    ly_errdetail());
		else if (issued)
			s->tls_renewed = 1;	/* served by https_restart() */
	}
}

static void *
background(void *arg)
{
	struct server *s = arg;
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
instance_open(const char *dir, struct ca **cap, struct ocsp_responder **rp,
    struct enroll **ep)
{
	struct ca *ca = NULL;
	int r;

	*ep = NULL;
	if ((r = ca_open(dir, 0, &ca)) != LY_OK)
		return r;
	if ((r = ocsp_responder_new(ca, rp)) != LY_OK) {
		ca_close(ca);
		return r;
	}
	if ((r = enroll_new(ca, ep)) != LY_OK) {
		ocsp_responder_free(*rp);
		*rp = NULL;
		ca_close(ca);
		return r;
	}
	*cap = ca;
	return LY_OK;
}

static void
instance_close(struct server *s)
{
	enroll_free(s->enroll);
	ocsp_responder_free(s->responder);
	ca_close(s->ca);
	s->enroll = NULL;
	s->responder = NULL;
	s->ca = NULL;
}

/*
 * (Re)starts the HTTPS listener after making sure its certificate is
 * usable. The first start fixes the port (for "ADDR:0"), so a restart
 * after SIGHUP listens where clients already connect.
 */
static int
https_start(struct server *s)
{
	const char *colon;
	int issued, r;

	if ((r = ca_tls_ensure(s->ca, s->dir, "ca-server", &issued)) != LY_OK)
		return r;
	s->tls_checked = ly_now();
	if ((r = web_start_https(s->ca, s->responder, s->enroll, s->dir,
	    s->https_at[0] != '\0' ? s->https_at : s->https, &s->tls)) !=
	    LY_OK)
		return r;
	if (s->https_at[0] == '\0' &&
	    (colon = strrchr(s->https, ':')) != NULL)
		snprintf(s->https_at, sizeof(s->https_at), "%.*s:%u",
		    (int)(colon - s->https), s->https, web_port(s->tls));
	return LY_OK;
}

/* A reload should not close a working instance for a missing certificate. */
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

/* What can be checked while the old instance still serves. */
static int
reload_check(struct server *s)
{
	struct conf *nc = NULL;
	int r;

	if ((r = conf_load(s->dir, NULL, &nc)) != LY_OK)
		return r;
	if (s->ca != NULL &&
	    strcmp(nc->store_dir, ca_conf(s->ca)->store_dir) != 0)
		r = ly_fail(LY_ERR_CONFIG, "the store directory changed: "
		    "restart ca-server for that");
	else if ((r = cert_file_check(nc->root.cert_file)) != LY_OK ||
	    (r = cert_file_check(nc->issuing.cert_file)) != LY_OK)
		;
	else if (s->ca != NULL &&
	    strcmp(nc->http_listen, ca_conf(s->ca)->http_listen) != 0)
		ly_log(LY_LOG_WARN, "reload: a new [server] http address "
		    "takes effect at restart");
	if (r == LY_OK && s->ca != NULL &&
	    strcmp(nc->https_listen, ca_conf(s->ca)->https_listen) != 0)
		ly_log(LY_LOG_WARN, "reload: a new [server] https address "
		    "takes effect at restart");
	conf_free(nc);
	return r;
}

static void
reload(struct server *s, struct web *w, int check)
{
	struct ca *ca = NULL;
	struct ocsp_responder *rp = NULL;
	struct enroll *en = NULL;
	int r;

	if (check && reload_check(s) != LY_OK) {
		ly_log(LY_LOG_ERR, "reload refused, still serving the running "
		    "configuration: %s", ly_errdetail());
		return;
	}
	pthread_mutex_lock(&s->lock);
	/* The HTTPS listener is started again with the new instance. */
	web_stop(s->tls);
	s->tls = NULL;
	web_hold(w);
	instance_close(s);
	if ((r = instance_open(s->dir, &ca, &rp, &en)) == LY_OK) {
		s->ca = ca;
		s->responder = rp;
		s->enroll = en;
		s->refreshed = 0;
		ly_log(LY_LOG_INFO, "reloaded %s", s->dir);
	} else
		ly_log(LY_LOG_ERR, "reload failed after the running instance "
		    "was closed: %s; answering 503, retrying every %d s",
		    ly_errdetail(), REOPEN_EVERY);
	web_resume(w, s->ca, s->responder, NULL);
	s->tls_renewed = 0;
	if (s->ca != NULL && s->https != NULL && https_start(s) != LY_OK)
		ly_log(LY_LOG_ERR, "HTTPS listener not restarted: %s",
		    ly_errdetail());
	pthread_mutex_unlock(&s->lock);
}

/*
 * Serves a certificate the background thread renewed: MHD 0.9.75 reads
 * its key and certificate only at start, so the HTTPS listener is started
 * again on the same port (connections in flight finish first).
 */
static void
https_restart(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->tls_renewed && s->ca != NULL && s->https != NULL) {
		s->tls_renewed = 0;
		web_stop(s->tls);
		s->tls = NULL;
		if (https_start(s) != LY_OK)
			ly_log(LY_LOG_ERR, "HTTPS listener not restarted: %s",
			    ly_errdetail());
		else
			ly_log(LY_LOG_INFO, "HTTPS listener restarted with the "
			    "renewed certificate");
	}
	pthread_mutex_unlock(&s->lock);
}

/* Waits for signals until one says stop. */
static void
signal_loop(struct server *s, struct web *w, const sigset_t *set)
{
	struct timespec every = { REOPEN_EVERY, 0 };
	int sig;

	for (;;) {
		sig = sigtimedwait(set, NULL, &every);
		if (sig == SIGTERM || sig == SIGINT) {
			ly_log(LY_LOG_INFO, "signal %d: stopping", sig);
			server_notify("STOPPING=1");
			return;
		}
		if (sig == SIGHUP) {
			ly_log(LY_LOG_INFO, "SIGHUP: reloading");
			server_notify("RELOADING=1");
			reload(s, w, 1);
			server_notify("READY=1");
		} else if (sig == -1 && s->ca == NULL)
			reload(s, w, 0);
		else if (sig == -1)
			https_restart(s);
	}
}

/* ca_reconcile() at start, logged; an error keeps the server from starting. */
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

static int
serve(struct server *s, const char *http, const sigset_t *set)
{
	struct web *w = NULL;
	pthread_t bg;
	int r, started = 0;

	if ((r = private_files(s->dir)) != LY_OK ||
	    (r = instance_open(s->dir, &s->ca, &s->responder, &s->enroll)) !=
	    LY_OK) {
		ly_log(LY_LOG_ERR, "%s: %s", s->dir, ly_errdetail());
		goto out;
	}
	/*
	 * Before anything is served, no claim can be in flight: what a
	 * crash left between a reservation and its certificate is burned,
	 * and its token given back (ca_reconcile()).
	 */
	if ((r = reconcile(s->ca)) != LY_OK)
		goto out;
	/*
	 * Revocations made while no server ran (ca-admin revoke without crl
	 * publish) may be in no CRL yet: the issuing CA's CRLs are made now
	 * if so, so that every revocation counted here is in them. Nothing
	 * else is made but what is due: a restart signs no CRL for nothing.
	 */
	if ((r = revocations(s->ca, &s->seen)) != LY_OK) {
		ly_log(LY_LOG_ERR, "store: %s", ly_errdetail());
		goto out;
	}
	(void)crl_publish_due(s->ca, CRL_PUBLISH_MISSING, "ca-server", "start");
	/* The conf goes with a reload: keep the address in s. */
	snprintf(s->https_buf, sizeof(s->https_buf), "%s", s->https != NULL ?
	    s->https : ca_conf(s->ca)->https_listen);
	s->https = strcmp(s->https_buf, "off") == 0 ? NULL : s->https_buf;
	if (s->https != NULL) {
		/* Before HTTP: its "listening" line says all is up. */
		if ((r = https_start(s)) != LY_OK) {
			ly_log(LY_LOG_ERR, "HTTPS: %s", ly_errdetail());
			goto out;
		}
	}
	if ((r = web_start(s->ca, s->responder, http, &w)) != LY_OK) {
		ly_log(LY_LOG_ERR, "%s", ly_errdetail());
		goto out;
	}
	if (pthread_create(&bg, NULL, background, s) != 0) {
		r = ly_fail(LY_ERR_INTERNAL, "cannot start a thread");
		ly_log(LY_LOG_ERR, "%s", ly_errdetail());
		goto out;
	}
	started = 1;
	server_notify("READY=1");
	signal_loop(s, w, set);
	r = LY_OK;
 out:
	/* Requests first: they use the instance the background thread may. */
	web_stop(s->tls);
	web_stop(w);
	if (started) {
		pthread_mutex_lock(&s->lock);
		s->stop = 1;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(bg, NULL);
	}
	instance_close(s);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir",	required_argument, NULL, 'd' },
		{ "http",	required_argument, NULL, 'H' },
		{ "https",	required_argument, NULL, 'S' },
		{ "syslog",	no_argument,	   NULL, 's' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct server s;
	const char *http = NULL;
	sigset_t set;
	int c, r;

	memset(&s, 0, sizeof(s));
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			s.dir = optarg;
			break;
		case 'H':
			http = optarg;
			break;
		case 'S':
			s.https = optarg;
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
	if (s.dir == NULL)
		s.dir = getenv("LANYARD_DIR");
	if (optind != argc || s.dir == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (no_core_dumps() != LY_OK) {
		ly_log(LY_LOG_ERR, "%s", ly_errdetail());
		return 1;
	}
	/*
	 * Block the signals we wait for before any thread exists, so every
	 * thread inherits the mask and only sigtimedwait() sees them.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		ly_log(LY_LOG_ERR, "cannot set up signals");
		return 1;
	}
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.wake, NULL);
	r = serve(&s, http, &set);
	pthread_cond_destroy(&s.wake);
	pthread_mutex_destroy(&s.lock);
	return r == LY_OK ? 0 : 1;
}
