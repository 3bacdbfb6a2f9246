/*
 * ipc/client.c — the front's side of the protocol (ipc/client.h).
 *
 * Writers share the socket under wlock (a message is written whole);
 * one reader thread per attached socket matches answers to waiters by
 * id. When the engine goes (end of stream), the reader fails every
 * waiter of that socket and the client answers LY_ERR_ENGINE until the
 * supervisor attaches a new one. The reader closes its socket under
 * wlock, so that no writer writes to a descriptor number reused since.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ca/store.h"
#include "ipc/client.h"
#include "util/util.h"

struct ipc_wait {
	uint32_t		 id;
	unsigned int		 gen;
	int			 done;
	int			 r;
	struct ipc_msg		 reply;
	struct ipc_wait		*next;
};

struct ipc_client {
	pthread_mutex_t		 lock;		/* all below but wlock */
	pthread_cond_t		 cond;
	pthread_mutex_t		 wlock;		/* one writer at a time */
	int			 fd;		/* -1: no engine */
	unsigned int		 gen;		/* of fd */
	uint32_t		 next_id;
	struct ipc_wait		*waiting;
	unsigned int		 readers;	/* reader threads running */
};

struct reader_arg {
	struct ipc_client	*c;
	int			 fd;
	unsigned int		 gen;
};

int
ipc_client_new(struct ipc_client **cp)
{
	struct ipc_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return LY_ERR_ALLOC;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_mutex_init(&c->wlock, NULL);
	c->fd = -1;
	c->next_id = 1;
	*cp = c;
	return LY_OK;
}

/* With c->lock held: every waiter of gen fails. */
static void
fail_waiters(struct ipc_client *c, unsigned int gen)
{
	struct ipc_wait *w;

	for (w = c->waiting; w != NULL; w = w->next) {
		if (w->gen == gen && !w->done) {
			w->done = 1;
			w->r = LY_ERR_ENGINE;
		}
	}
	pthread_cond_broadcast(&c->cond);
}

static void *
reader(void *arg)
{
	struct reader_arg ra = *(struct reader_arg *)arg;
	struct ipc_client *c = ra.c;
	struct ipc_wait *w;
	struct ipc_msg m;
	int r;

	free(arg);
	for (;;) {
		if ((r = ipc_read(ra.fd, &m)) != LY_OK) {
			if (r != LY_ERR_NOT_FOUND)
				ly_log(LY_LOG_ERR, "engine connection: %s",
				    ly_errdetail());
			ipc_msg_clear(&m);
			break;
		}
		pthread_mutex_lock(&c->lock);
		for (w = c->waiting; w != NULL; w = w->next)
			if (w->id == m.id && w->gen == ra.gen && !w->done)
				break;
		if (w != NULL && (m.type & IPC_REPLY)) {
			w->reply = m;	/* transferred */
			w->done = 1;
			w->r = LY_OK;
			pthread_cond_broadcast(&c->cond);
		} else
			ipc_msg_clear(&m);	/* timed out, or not ours */
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_lock(&c->lock);
	if (c->gen == ra.gen && c->fd == ra.fd) {
		c->fd = -1;
		ly_log(LY_LOG_WARN, "the engine is gone: enrollment answers "
		    "503 until it is back");
	}
	fail_waiters(c, ra.gen);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&c->wlock);
	close(ra.fd);
	pthread_mutex_unlock(&c->wlock);
	pthread_mutex_lock(&c->lock);
	c->readers--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int
ipc_client_attach(struct ipc_client *c, int fd)
{
	struct reader_arg *ra;
	pthread_attr_t attr;
	pthread_t t;
	int old, rc;

	if ((ra = malloc(sizeof(*ra))) == NULL) {
		close(fd);
		return LY_ERR_ALLOC;
	}
	pthread_mutex_lock(&c->lock);
	old = c->fd;
	c->fd = fd;
	ra->c = c;
	ra->fd = fd;
	ra->gen = ++c->gen;
	c->readers++;
	pthread_mutex_unlock(&c->lock);
	/* The old reader sees the end of stream, fails its waiters, closes. */
	if (old != -1)
		shutdown(old, SHUT_RDWR);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, reader, ra);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		free(ra);
		pthread_mutex_lock(&c->lock);
		c->readers--;
		if (c->fd == fd)
			c->fd = -1;
		pthread_mutex_unlock(&c->lock);
		close(fd);
		return ly_fail(LY_ERR_INTERNAL, "cannot start a thread");
	}
	return LY_OK;
}

int
ipc_client_up(struct ipc_client *c)
{
	int up;

	pthread_mutex_lock(&c->lock);
	up = c->fd != -1;
	pthread_mutex_unlock(&c->lock);
	return up;
}

void
ipc_client_free(struct ipc_client *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->fd != -1)
		shutdown(c->fd, SHUT_RDWR);
	while (c->readers > 0)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_destroy(&c->wlock);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* With c->lock held. */
static void
unlink_wait(struct ipc_client *c, struct ipc_wait *w)
{
	struct ipc_wait **pp;

	for (pp = &c->waiting; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

/* Sends the encoded request of w on the socket of w's generation. */
static int
send_request(struct ipc_client *c, struct ipc_wait *w,
    const unsigned char *buf, size_t len)
{
	int fd, r;

	pthread_mutex_lock(&c->wlock);
	pthread_mutex_lock(&c->lock);
	fd = c->gen == w->gen ? c->fd : -1;
	pthread_mutex_unlock(&c->lock);
	if (fd == -1)
		r = ly_fail(LY_ERR_ENGINE, "the engine is not running");
	else if ((r = ipc_write(fd, buf, len)) != LY_OK)
		r = ly_fail(LY_ERR_ENGINE, "the engine is not running: %s",
		    ly_errdetail());
	pthread_mutex_unlock(&c->wlock);
	return r;
}

/* The engine's r and detail as this thread's error. */
static int
reply_result(uint8_t type, struct ipc_msg *reply)
{
	int64_t r;

	if (reply->type != (IPC_REPLY | type) || reply->nfields < 2)
		return ly_fail(LY_ERR_INTERNAL, "engine: an answer of type %u "
		    "to a %s request", reply->type, ipc_type_name(type));
	r = ipc_field_i64(&reply->f[0]);
	if (r == 0)
		return LY_OK;
	if (r > 0 || r < -LY_ERR_MAX)
		r = LY_ERR_INTERNAL;
	return ly_fail((int)r, "%s", ipc_field_str(&reply->f[1]));
}

int
ipc_call(struct ipc_client *c, uint8_t type, const struct ipc_field *f,
    size_t n, struct ipc_msg *reply)
{
	struct ipc_wait w;
	struct timespec until;
	unsigned char *buf = NULL;
	size_t len;
	int r, rc = 0, secs;

	memset(reply, 0, sizeof(*reply));
	memset(&w, 0, sizeof(w));
	pthread_mutex_lock(&c->lock);
	if (c->fd == -1) {
		pthread_mutex_unlock(&c->lock);
		return ly_fail(LY_ERR_ENGINE, "the engine is not running");
	}
	w.id = c->next_id++;
	w.gen = c->gen;
	w.next = c->waiting;
	c->waiting = &w;
	pthread_mutex_unlock(&c->lock);

	if ((r = ipc_msg_encode(type, w.id, f, n, &buf, &len)) == LY_OK)
		r = send_request(c, &w, buf, len);
	free(buf);
	secs = type == IPC_OCSP_SIGN || type == IPC_HEALTH ||
	    type == IPC_STATS ? IPC_QUICK_TIMEOUT : IPC_CALL_TIMEOUT;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&c->lock);
	while (r == LY_OK && !w.done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&c->cond, &c->lock, &until);
	unlink_wait(c, &w);
	pthread_mutex_unlock(&c->lock);
	if (r != LY_OK)
		goto out;
	if (!w.done) {
		r = ly_fail(LY_ERR_ENGINE, "the engine did not answer a %s "
		    "request within %d s", ipc_type_name(type), secs);
		goto out;
	}
	if ((r = w.r) != LY_OK) {
		r = ly_fail(LY_ERR_ENGINE, "the engine stopped before it "
		    "answered (a %s request: it may or may not have been "
		    "done)", ipc_type_name(type));
		goto out;
	}
	if ((r = reply_result(type, &w.reply)) != LY_OK)
		goto out;
	*reply = w.reply;
	memset(&w.reply, 0, sizeof(w.reply));	/* transferred */
 out:
	ipc_msg_clear(&w.reply);
	return r;
}

/* ---- enroll/'s operations ------------------------------------------------ */

#define FIELD(ptr, n)	{ (const unsigned char *)(ptr), (n) }
#define TEXT(s)		FIELD((s), strlen(s))

/* An ENROLL or REISSUE answer as a struct ca_issued. */
static int
issued_from(const struct ipc_msg *m, struct ca_issued *out)
{
	int64_t slot;

	if (m->f[2].len == 0 || m->f[3].len != CA_SERIAL_LEN)
		return ly_fail(LY_ERR_INTERNAL, "engine: an issuance without "
		    "a certificate");
	if ((out->der = malloc(m->f[2].len)) == NULL)
		return LY_ERR_ALLOC;
	memcpy(out->der, m->f[2].p, m->f[2].len);
	out->derlen = m->f[2].len;
	memcpy(out->serial.b, m->f[3].p, CA_SERIAL_LEN);
	out->not_after = (time_t)ipc_field_i64(&m->f[4]);
	slot = ipc_field_i64(&m->f[5]);
	if (slot < 0 || slot >= CA_MAX_SLOTS)
		return ly_fail(LY_ERR_INTERNAL, "engine: an issuance by CA "
		    "slot %lld", (long long)slot);
	out->slot = (int)slot;
	return LY_OK;
}

static int
op_issue_token(void *arg, const char *token, const unsigned char *csr,
    size_t csrlen, const char *actor, struct ca_issued *out)
{
	struct ipc_field f[3] = { TEXT(token), FIELD(csr, csrlen),
	    TEXT(actor) };
	struct ipc_msg m;
	int r;

	/* Longer than any token: no question for the engine. */
	if (strlen(token) > IPC_TOKEN_MAX)
		return ly_fail(LY_ERR_TOKEN, "unknown token");
	if ((r = ipc_call(arg, IPC_ENROLL, f, 3, &m)) == LY_OK)
		r = issued_from(&m, out);
	ipc_msg_clear(&m);
	return r;
}

static int
op_reissue(void *arg, const struct store_cert *client,
    const unsigned char *csr, size_t csrlen, const char *actor,
    struct ca_issued *out)
{
	struct ipc_field f[3] = { FIELD(client->serial.b, CA_SERIAL_LEN),
	    FIELD(client->der, client->derlen), FIELD(csr, csrlen) };
	struct ipc_msg m;
	int r;

	(void)actor;	/* the engine names the actor itself */
	if ((r = ipc_call(arg, IPC_REISSUE, f, 3, &m)) == LY_OK)
		r = issued_from(&m, out);
	ipc_msg_clear(&m);
	return r;
}

static int
op_token_create(void *arg, const struct store_cert *admin,
    const char *profile, const char *identity, long ttl, const char *actor,
    char **tokenp, char **idp)
{
	unsigned char ttlb[8];
	struct ipc_field f[5] = { FIELD(admin->serial.b, CA_SERIAL_LEN),
	    FIELD(admin->der, admin->derlen), TEXT(profile), TEXT(identity),
	    FIELD(ttlb, 8) };
	struct ipc_msg m;
	char *tok = NULL, *id = NULL;
	int r;

	(void)actor;
	ipc_i64_put(ttlb, ttl);
	if ((r = ipc_call(arg, IPC_TOKEN_CREATE, f, 5, &m)) != LY_OK)
		goto out;
	if ((tok = strdup(ipc_field_str(&m.f[2]))) == NULL ||
	    (id = strdup(ipc_field_str(&m.f[3]))) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	*tokenp = tok;
	*idp = id;
	tok = id = NULL;
 out:
	if (m.nfields > 2)
		OPENSSL_cleanse(m.buf, m.f[2].len);	/* the token */
	ipc_msg_clear(&m);
	free(tok);
	free(id);
	return r;
}

/* A request whose answer is r and detail only. */
static int
call_plain(void *arg, uint8_t type, const struct ipc_field *f, size_t n)
{
	struct ipc_msg m;
	int r;

	r = ipc_call(arg, type, f, n, &m);
	ipc_msg_clear(&m);
	return r;
}

static int
op_token_revoke(void *arg, const struct store_cert *admin, const char *id,
    const char *actor)
{
	struct ipc_field f[3] = { FIELD(admin->serial.b, CA_SERIAL_LEN),
	    FIELD(admin->der, admin->derlen), TEXT(id) };

	(void)actor;
	return call_plain(arg, IPC_TOKEN_REVOKE, f, 3);
}

static int
op_revoke(void *arg, const struct store_cert *admin,
    const struct ca_serial *serial, int reason, const char *actor)
{
	unsigned char rb[8];
	struct ipc_field f[4] = { FIELD(admin->serial.b, CA_SERIAL_LEN),
	    FIELD(admin->der, admin->derlen),
	    FIELD(serial->b, CA_SERIAL_LEN), FIELD(rb, 8) };

	(void)actor;
	ipc_i64_put(rb, reason);
	return call_plain(arg, IPC_REVOKE, f, 4);
}

static int
op_crl_publish(void *arg, const struct store_cert *admin, const char *actor)
{
	struct ipc_field f[2] = { FIELD(admin->serial.b, CA_SERIAL_LEN),
	    FIELD(admin->der, admin->derlen) };

	(void)actor;
	return call_plain(arg, IPC_CRL_PUBLISH, f, 2);
}

static int
op_identity_disable(void *arg, const struct store_cert *admin,
    const char *identity, int reason, const char *actor, size_t *revokedp)
{
	unsigned char rb[8];
	struct ipc_field f[4] = { FIELD(admin->serial.b, CA_SERIAL_LEN),
	    FIELD(admin->der, admin->derlen), TEXT(identity), FIELD(rb, 8) };
	struct ipc_msg m;
	int r;

	(void)actor;
	ipc_i64_put(rb, reason);
	if ((r = ipc_call(arg, IPC_IDENTITY_DISABLE, f, 4, &m)) == LY_OK)
		*revokedp = (size_t)ipc_field_i64(&m.f[2]);
	ipc_msg_clear(&m);
	return r;
}

static int
op_identity_enable(void *arg, const struct store_cert *admin,
    const char *identity, const char *actor)
{
	struct ipc_field f[3] = { FIELD(admin->serial.b, CA_SERIAL_LEN),
	    FIELD(admin->der, admin->derlen), TEXT(identity) };

	(void)actor;
	return call_plain(arg, IPC_IDENTITY_ENABLE, f, 3);
}

static int
op_issuer_rollover(void *arg, const struct store_cert *admin,
    const char *issuer, time_t at, const char *actor, char *name)
{
	unsigned char ab[8];
	struct ipc_field f[4] = { FIELD(admin->serial.b, CA_SERIAL_LEN),
	    FIELD(admin->der, admin->derlen), TEXT(issuer), FIELD(ab, 8) };
	struct ipc_msg m;
	int r;

	(void)actor;
	ipc_i64_put(ab, (int64_t)at);
	if ((r = ipc_call(arg, IPC_ISSUER_ROLLOVER, f, 4, &m)) == LY_OK)
		snprintf(name, CONF_NAME_MAX, "%s", ipc_field_str(&m.f[2]));
	ipc_msg_clear(&m);
	return r;
}

const struct enroll_engine ipc_enroll_ops = {
	.issue_token = op_issue_token,
	.reissue = op_reissue,
	.token_create = op_token_create,
	.token_revoke = op_token_revoke,
	.revoke = op_revoke,
	.crl_publish = op_crl_publish,
	.identity_disable = op_identity_disable,
	.identity_enable = op_identity_enable,
	.issuer_rollover = op_issuer_rollover,
};

/* ---- OCSP, health, TLS ---------------------------------------------------- */

int
ipc_ocsp_remote(void *arg, const unsigned char *req, size_t len,
    struct ocsp_reply *reply)
{
	struct ipc_field f[1] = { FIELD(req, len) };
	struct ipc_msg m;
	int r;

	memset(reply, 0, sizeof(*reply));
	if ((r = ipc_call(arg, IPC_OCSP_SIGN, f, 1, &m)) != LY_OK)
		goto out;
	if (m.f[2].len == 0) {
		r = ly_fail(LY_ERR_INTERNAL, "engine: an empty OCSP response");
		goto out;
	}
	if ((reply->der = malloc(m.f[2].len)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memcpy(reply->der, m.f[2].p, m.f[2].len);
	reply->len = m.f[2].len;
	reply->outcome = (enum ocsp_outcome)ipc_field_i64(&m.f[3]);
	if ((unsigned int)reply->outcome >= OCSP_OUT_MAX)
		reply->outcome = OCSP_OUT_INTERNAL;
	reply->this_update = (time_t)ipc_field_i64(&m.f[4]);
	reply->next_update = (time_t)ipc_field_i64(&m.f[5]);
	reply->produced_at = (time_t)ipc_field_i64(&m.f[6]);
	memcpy(reply->etag, m.f[7].p, m.f[7].len + 1);
 out:
	ipc_msg_clear(&m);
	return r;
}

int
ipc_health(void *arg)
{
	return call_plain(arg, IPC_HEALTH, NULL, 0);
}

int
ipc_stats(void *arg, struct web_engine_stats *st)
{
	struct ipc_msg m;
	size_t i;
	int r;

	if ((r = ipc_call(arg, IPC_STATS, NULL, 0, &m)) == LY_OK) {
		st->hsm.sign_failures = (uint64_t)ipc_field_i64(&m.f[2]);
		st->hsm.reopens = (uint64_t)ipc_field_i64(&m.f[3]);
		st->hsm.reinits = (uint64_t)ipc_field_i64(&m.f[4]);
		st->hsm.bad_signatures = (uint64_t)ipc_field_i64(&m.f[5]);
		for (i = 0; i < CA_LINT_KINDS && i < 3; i++)
			st->lint[i] = (uint64_t)ipc_field_i64(&m.f[6 + i]);
	}
	ipc_msg_clear(&m);
	return r;
}

int
ipc_tls_ensure(struct ipc_client *c, int *issuedp)
{
	struct ipc_msg m;
	int r;

	if ((r = ipc_call(c, IPC_TLS_ENSURE, NULL, 0, &m)) == LY_OK)
		*issuedp = ipc_field_i64(&m.f[2]) != 0;
	ipc_msg_clear(&m);
	return r;
}
