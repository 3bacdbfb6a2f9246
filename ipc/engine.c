/*
 * ipc/engine.c — the engine's side of the protocol (ipc/engine.h).
 *
 * One reader thread per connection takes whole messages off the socket
 * through ipc_read() (the one parser) and queues them; a pool of workers
 * answers them, so that concurrent enrollments meet in ca/'s group
 * commit. The dispatch table says which request types the front may
 * send; a header that does not parse ends the connection (the stream is
 * out of step), a body that does not parse is answered and audited.
 *
 * The front is trusted with nothing. What it may ask is what a device or
 * an admin could ask over HTTPS:
 *   - ENROLL: ca/ takes profile and identity from the token, never from
 *     the front or the CSR, and builds and lints the TBS itself;
 *   - REISSUE: the presented certificate must be the store's DER under
 *     its serial, valid, unexpired, inside its profile's reissue window;
 *   - admin operations: the admin certificate likewise, of profile
 *     "admin", not superseded; the audit actor comes from its record;
 *   - OCSP: the engine's own responder answers from the store's status;
 *   - no request carries a TBS, a CRL or a response to sign, and none
 *     returns a PIN: there is no such type.
 * Every refusal of these checks is audited ("ipc-refused") with what the
 * front claimed, as are malformed messages.
 */
#include "config.h"

#include <sys/socket.h>

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ca/ops.h"
#include "ca/store.h"
#include "crl/crl.h"
#include "ipc/engine.h"
#include "ipc/ipc.h"
#include "util/util.h"

#define ADMIN_PROFILE	"admin"
#define CONNS_MAX	16
#define QUEUE_MAX	1024	/* requests waiting for a worker */

struct conn {
	struct ipc_engine	*e;
	int			 fd;
	pthread_mutex_t		 wlock;		/* one answer at a time */
	unsigned int		 refs;		/* reader + queued jobs */
	int			 slot;		/* in e->conns */
};

struct job {
	struct conn		*conn;
	struct ipc_msg		 msg;		/* type 0 with r: refused */
	int			 r;		/* the parse error, or LY_OK */
	char			 why[256];
	struct job		*next;
};

struct ipc_engine {
	const char		*dir;
	pthread_mutex_t		 lock;		/* queue, conns, stop */
	pthread_cond_t		 cond;
	struct job		*head, **tail;
	size_t			 queued;
	int			 stop;
	struct conn		*conns[CONNS_MAX];
	unsigned int		 readers;
	pthread_t		*workers;
	unsigned int		 nworkers;

	pthread_mutex_t		 tls;		/* one ca_tls_ensure() at a time */
	pthread_rwlock_t	 inst;		/* write: set_instance */
	struct ca		*ca;
	struct ocsp_responder	*responder;
};

/* What a handler answers beyond r and detail; bufs are freed after. */
struct answer {
	struct ipc_field	 f[IPC_FIELDS_MAX];
	size_t			 n;
	unsigned char		*own[2];
	unsigned char		 ints[7][8];
	int			 secret;	/* own[0] is wiped */
};

typedef int	(*handler_fn)(struct ipc_engine *, const struct ipc_msg *,
		    struct answer *);

/* ---- re-checks ------------------------------------------------------------ */

/*
 * A refusal by the engine's own checks: logged, audited with what the
 * front claimed, and returned as r with why.
 */
static int
refuse(struct ipc_engine *e, const char *claim, uint8_t type, int r,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
refuse(struct ipc_engine *e, const char *claim, uint8_t type, int r,
    const char *fmt, ...)
{
	char why[400], actor[300], detail[600], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* The detail is JSON and the claim is the front's: keep both plain. */
	for (p = why; *p != '\0'; p++)
		if (!isprint((unsigned char)*p) || *p == '"' || *p == '\\')
			*p = '?';
	snprintf(actor, sizeof(actor), "front:%s", claim);
	snprintf(detail, sizeof(detail), "{\"request\":\"%s\",\"why\":\"%s\"}",
	    ipc_type_name(type), why);
	ly_log(LY_LOG_WARN, "engine: refused a %s request from the front "
	    "(%s): %s", ipc_type_name(type), actor, why);
	if (e->ca != NULL && ca_audit(e->ca, actor, "ipc-refused", detail) !=
	    LY_OK)
		ly_log(LY_LOG_ERR, "engine: audit: %s", ly_errdetail());
	return ly_fail(r, "refused by the engine: %s", why);
}

/* Text safe in an audit entry and a JSON detail: printable, no quote. */
static int
text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isprint((unsigned char)*s) || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

/* A serial field as ca_serial_hex() writes it; caller frees. */
static char *
serial_hex(const struct ipc_field *f)
{
	struct ca_serial s;

	memcpy(s.b, f->p, CA_SERIAL_LEN);
	return ca_serial_hex(&s);
}

/*
 * The certificate the front presents for a device or an admin: the
 * store's DER under its serial, valid, not expired. *recp on success.
 */
static int
cert_check(struct ipc_engine *e, const struct ipc_field *serial,
    const struct ipc_field *der, uint8_t type, const char *claim,
    struct store_cert **recp)
{
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	struct ca_serial s;
	int r;

	memcpy(s.b, serial->p, CA_SERIAL_LEN);
	if ((r = store_txn_begin(ca_store(e->ca), 0, &txn)) != LY_OK)
		return r;
	r = store_cert_get(txn, &s, &rec);
	store_txn_abort(txn);
	if (r != LY_OK && r != LY_ERR_NOT_FOUND)
		return r;
	if (r == LY_ERR_NOT_FOUND || rec->der == NULL ||
	    rec->derlen != der->len || memcmp(rec->der, der->p, der->len) != 0)
		r = refuse(e, claim, type, LY_ERR_POLICY, "the certificate is "
		    "not one this CA issued under that serial");
	else if (rec->status == STORE_REVOKED)
		r = refuse(e, claim, type, LY_ERR_STATE, "the certificate is "
		    "revoked");
	else if (rec->status != STORE_VALID || rec->not_after <= ly_now())
		r = refuse(e, claim, type, LY_ERR_STATE, "the certificate has "
		    "expired");
	if (r != LY_OK) {
		store_cert_free(rec);
		return r;
	}
	*recp = rec;
	return LY_OK;
}

/* The admin certificate of an admin request; *actor from its record. */
static int
admin_check(struct ipc_engine *e, const struct ipc_msg *m, char *actor,
    size_t actorlen)
{
	struct store_cert *rec = NULL;
	char claim[64], *hex;
	int r;

	hex = serial_hex(&m->f[0]);
	snprintf(claim, sizeof(claim), "admin:%s", hex != NULL ? hex : "?");
	free(hex);
	if ((r = cert_check(e, &m->f[0], &m->f[1], m->type, claim, &rec)) !=
	    LY_OK)
		return r;
	if (strcmp(rec->profile, ADMIN_PROFILE) != 0)
		r = refuse(e, claim, m->type, LY_ERR_POLICY, "the certificate "
		    "is of profile %s, not %s", rec->profile, ADMIN_PROFILE);
	else if (!ca_serial_is_zero(&rec->superseded_by))
		r = refuse(e, claim, m->type, LY_ERR_STATE, "the admin "
		    "certificate was superseded");
	else
		snprintf(actor, actorlen, "admin:%s", rec->identity != NULL ?
		    rec->identity : "-");
	store_cert_free(rec);
	return r;
}

/* enroll/'s reissue window (enroll_reissue_after()), checked again. */
static int
window_check(struct ipc_engine *e, const struct store_cert *rec,
    const char *claim, uint8_t type)
{
	const struct conf_profile *p;
	time_t after = 0;

	if ((p = conf_profile_get(ca_conf(e->ca), rec->profile)) == NULL)
		return refuse(e, claim, type, LY_ERR_POLICY, "profile %s is "
		    "no longer configured", rec->profile);
	if (p->reissue_before > 0)
		after = (time_t)(rec->not_after - p->reissue_before);
	else if (p->reissue_percent > 0)
		after = (time_t)(rec->not_after - (rec->not_after -
		    rec->not_before) * p->reissue_percent / 100);
	if (after != 0 && ly_now() < after)
		return refuse(e, claim, type, LY_ERR_STATE, "reissue is not "
		    "allowed before %lld", (long long)after);
	return LY_OK;
}

/* ---- handlers ------------------------------------------------------------- */

static int
h_hello(struct ipc_engine *e, const struct ipc_msg *m, struct answer *a)
{
	(void)e;
	(void)m;
	(void)a;
	return LY_OK;
}

static int
issued_answer(struct answer *a, struct ca_issued *is)
{
	a->own[0] = is->der;	/* transferred */
	a->f[0].p = is->der;
	a->f[0].len = is->derlen;
	is->der = NULL;
	a->own[1] = malloc(CA_SERIAL_LEN);
	if (a->own[1] == NULL)
		return LY_ERR_ALLOC;
	memcpy(a->own[1], is->serial.b, CA_SERIAL_LEN);
	a->f[1].p = a->own[1];
	a->f[1].len = CA_SERIAL_LEN;
	ipc_i64_put(a->ints[0], is->not_after);
	a->f[2].p = a->ints[0];
	a->f[2].len = 8;
	/* The CA slot that signed it: the front sends that CA's chain. */
	ipc_i64_put(a->ints[1], is->slot);
	a->f[3].p = a->ints[1];
	a->f[3].len = 8;
	a->n = 4;
	return LY_OK;
}

static int
h_enroll(struct ipc_engine *e, const struct ipc_msg *m, struct answer *a)
{
	const char *actor = ipc_field_str(&m->f[2]);
	struct ca_issued is;
	int r;

	if (!text_ok(actor) || (strncmp(actor, "enroll:", 7) != 0 &&
	    strncmp(actor, "est:", 4) != 0))
		return refuse(e, "enroll:?", m->type, LY_ERR_BAD_INPUT,
		    "the actor is not enroll:ADDR or est:ADDR");
	/* Profile and identity are the token's: ca_issue_token_der(). */
	memset(&is, 0, sizeof(is));
	if ((r = ca_issue_token_der(e->ca, ipc_field_str(&m->f[0]),
	    m->f[1].p, m->f[1].len, actor, &is)) == LY_OK)
		r = issued_answer(a, &is);
	ca_issued_clear(&is);
	return r;
}

static int
h_reissue(struct ipc_engine *e, const struct ipc_msg *m, struct answer *a)
{
	struct store_cert *rec = NULL;
	struct ca_issued is;
	char actor[64], *hex;
	int r;

	memset(&is, 0, sizeof(is));
	/* As enroll/ names it: the certificate being replaced. */
	hex = serial_hex(&m->f[0]);
	snprintf(actor, sizeof(actor), "reissue:%s", hex != NULL ? hex : "?");
	free(hex);
	if ((r = cert_check(e, &m->f[0], &m->f[1], m->type, actor, &rec)) !=
	    LY_OK)
		return r;
	if ((r = window_check(e, rec, actor, m->type)) == LY_OK &&
	    (r = ca_reissue_der(e->ca, &rec->serial, m->f[2].p, m->f[2].len,
	    actor, &is)) == LY_OK)
		r = issued_answer(a, &is);
	ca_issued_clear(&is);
	store_cert_free(rec);
	return r;
}

static int
h_token_create(struct ipc_engine *e, const struct ipc_msg *m,
    struct answer *a)
{
	char actor[CA_SPIFFE_MAX + 16], *tok = NULL, *id = NULL;
	int64_t ttl = ipc_field_i64(&m->f[4]);
	int r;

	if ((r = admin_check(e, m, actor, sizeof(actor))) != LY_OK)
		return r;
	if (ttl <= 0 || ttl > CA_TOKEN_TTL_MAX)
		return ly_fail(LY_ERR_BAD_INPUT, "ttl out of range");
	if ((r = ca_token_create(e->ca, ipc_field_str(&m->f[2]),
	    ipc_field_str(&m->f[3]), (long)ttl, actor, &tok, &id)) != LY_OK)
		return r;
	a->own[0] = (unsigned char *)tok;
	a->own[1] = (unsigned char *)id;
	a->secret = 1;
	a->f[0].p = a->own[0];
	a->f[0].len = strlen(tok);
	a->f[1].p = a->own[1];
	a->f[1].len = strlen(id);
	a->n = 2;
	return LY_OK;
}

static int
h_token_revoke(struct ipc_engine *e, const struct ipc_msg *m,
    struct answer *a)
{
	char actor[CA_SPIFFE_MAX + 16];
	int r;

	(void)a;
	if ((r = admin_check(e, m, actor, sizeof(actor))) != LY_OK)
		return r;
	return ca_token_revoke(e->ca, ipc_field_str(&m->f[2]), actor);
}

static int
h_revoke(struct ipc_engine *e, const struct ipc_msg *m, struct answer *a)
{
	char actor[CA_SPIFFE_MAX + 16];
	struct ca_serial s;
	int64_t reason = ipc_field_i64(&m->f[3]);
	int r;

	(void)a;
	if ((r = admin_check(e, m, actor, sizeof(actor))) != LY_OK)
		return r;
	/* RFC 5280 5.3.1: -1 (none) or 0..10 but 7. */
	if (reason < -1 || reason > 10 || reason == 7)
		return ly_fail(LY_ERR_BAD_INPUT, "unknown reason %lld",
		    (long long)reason);
	memcpy(s.b, m->f[2].p, CA_SERIAL_LEN);
	return ca_revoke(e->ca, &s, (int)reason, 0, actor);
}

static int
h_crl_publish(struct ipc_engine *e, const struct ipc_msg *m,
    struct answer *a)
{
	char actor[CA_SPIFFE_MAX + 16];
	int r;

	(void)a;
	if ((r = admin_check(e, m, actor, sizeof(actor))) != LY_OK)
		return r;
	/* Built and signed here from the store: the front chooses nothing. */
	return crl_publish_all(e->ca, actor, NULL);
}

static int
h_ocsp_sign(struct ipc_engine *e, const struct ipc_msg *m, struct answer *a)
{
	struct ocsp_reply reply;
	size_t i;
	int r;

	/* The engine's responder parses the request and asks the store. */
	if ((r = ocsp_respond(e->responder, m->f[0].p, m->f[0].len,
	    &reply)) != LY_OK)
		return r;
	a->own[0] = reply.der;	/* transferred */
	a->f[0].p = reply.der;
	a->f[0].len = reply.len;
	ipc_i64_put(a->ints[0], reply.outcome);
	ipc_i64_put(a->ints[1], reply.this_update);
	ipc_i64_put(a->ints[2], reply.next_update);
	ipc_i64_put(a->ints[3], reply.produced_at);
	for (i = 0; i < 4; i++) {
		a->f[1 + i].p = a->ints[i];
		a->f[1 + i].len = 8;
	}
	if ((a->own[1] = (unsigned char *)strdup(reply.etag)) == NULL)
		return LY_ERR_ALLOC;
	a->f[5].p = a->own[1];
	a->f[5].len = strlen(reply.etag);
	a->n = 6;
	return LY_OK;
}

static int
h_health(struct ipc_engine *e, const struct ipc_msg *m, struct answer *a)
{
	(void)m;
	(void)a;
	return ca_hsm_check(e->ca);
}

int
ipc_engine_tls_ensure(struct ipc_engine *e, struct ca *ca, int *issuedp)
{
	int r;

	pthread_mutex_lock(&e->tls);
	r = ca_tls_ensure(ca, e->dir, "ca-server", issuedp);
	pthread_mutex_unlock(&e->tls);
	return r;
}

static int
h_tls_ensure(struct ipc_engine *e, const struct ipc_msg *m, struct answer *a)
{
	int issued = 0, r;

	(void)m;
	if ((r = ipc_engine_tls_ensure(e, e->ca, &issued)) != LY_OK)
		return r;
	ipc_i64_put(a->ints[0], issued);
	a->f[0].p = a->ints[0];
	a->f[0].len = 8;
	a->n = 1;
	return LY_OK;
}

static int
h_stats(struct ipc_engine *e, const struct ipc_msg *m, struct answer *a)
{
	struct ca_hsm_stats hs;
	uint64_t v[7];
	size_t i;

	(void)e;
	(void)m;
	ca_hsm_stats(&hs);
	v[0] = hs.sign_failures;
	v[1] = hs.reopens;
	v[2] = hs.reinits;
	v[3] = hs.bad_signatures;
	for (i = 0; i < CA_LINT_KINDS && i < 3; i++)
		v[4 + i] = ca_lint_failures((enum ca_lint_kind)i);
	for (i = 0; i < 7; i++) {
		ipc_i64_put(a->ints[i], (int64_t)v[i]);
		a->f[i].p = a->ints[i];
		a->f[i].len = 8;
	}
	a->n = 7;
	return LY_OK;
}

static int
h_identity_disable(struct ipc_engine *e, const struct ipc_msg *m,
    struct answer *a)
{
	char actor[CA_SPIFFE_MAX + 16];
	int64_t reason = ipc_field_i64(&m->f[3]);
	size_t n = 0;
	int r;

	if ((r = admin_check(e, m, actor, sizeof(actor))) != LY_OK)
		return r;
	/* -2: revoke nothing; else an RFC 5280 5.3.1 code or -1. */
	if (reason < -2 || reason > 10 || reason == 7)
		return ly_fail(LY_ERR_BAD_INPUT, "unknown reason %lld",
		    (long long)reason);
	if ((r = ca_identity_disable(e->ca, ipc_field_str(&m->f[2]),
	    (int)reason, actor, &n)) != LY_OK)
		return r;
	ipc_i64_put(a->ints[0], (int64_t)n);
	a->f[0].p = a->ints[0];
	a->f[0].len = 8;
	a->n = 1;
	return LY_OK;
}

static int
h_identity_enable(struct ipc_engine *e, const struct ipc_msg *m,
    struct answer *a)
{
	char actor[CA_SPIFFE_MAX + 16];
	int r;

	(void)a;
	if ((r = admin_check(e, m, actor, sizeof(actor))) != LY_OK)
		return r;
	return ca_identity_enable(e->ca, ipc_field_str(&m->f[2]), actor);
}

static int
h_issuer_rollover(struct ipc_engine *e, const struct ipc_msg *m,
    struct answer *a)
{
	char actor[CA_SPIFFE_MAX + 16];
	const char *issuer = ipc_field_str(&m->f[2]);
	int64_t at = ipc_field_i64(&m->f[3]);
	size_t len;
	int slot, r;

	if ((r = admin_check(e, m, actor, sizeof(actor))) != LY_OK)
		return r;
	if (!text_ok(issuer) || at < 0)
		return ly_fail(LY_ERR_BAD_INPUT, "bad issuer or time");
	if ((r = ca_issuer_rollover(e->ca, issuer, (time_t)at, actor,
	    &slot)) != LY_OK)
		return r;
	(void)crl_publish_due(e->ca, CRL_PUBLISH_MISSING, actor, "rollover");
	len = strlen(ca_slot_name(e->ca, slot));
	if ((a->own[0] = malloc(len + 1)) == NULL)
		return LY_ERR_ALLOC;
	memcpy(a->own[0], ca_slot_name(e->ca, slot), len + 1);
	a->f[0].p = a->own[0];
	a->f[0].len = len;
	a->n = 1;
	return LY_OK;
}

/* What the front may ask: every request type, each with its checks. */
static const handler_fn dispatch[IPC_TYPES] = {
	[IPC_HELLO] = h_hello,
	[IPC_ENROLL] = h_enroll,
	[IPC_REISSUE] = h_reissue,
	[IPC_TOKEN_CREATE] = h_token_create,
	[IPC_TOKEN_REVOKE] = h_token_revoke,
	[IPC_REVOKE] = h_revoke,
	[IPC_CRL_PUBLISH] = h_crl_publish,
	[IPC_OCSP_SIGN] = h_ocsp_sign,
	[IPC_HEALTH] = h_health,
	[IPC_TLS_ENSURE] = h_tls_ensure,
	[IPC_STATS] = h_stats,
	[IPC_IDENTITY_DISABLE] = h_identity_disable,
	[IPC_IDENTITY_ENABLE] = h_identity_enable,
	[IPC_ISSUER_ROLLOVER] = h_issuer_rollover,
};

/* ---- connections, queue, workers -------------------------------------- */

static void
conn_put(struct ipc_engine *e, struct conn *c)
{
	int last;

	pthread_mutex_lock(&e->lock);
	last = --c->refs == 0;
	if (last)
		e->conns[c->slot] = NULL;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	if (!last)
		return;
	close(c->fd);
	pthread_mutex_destroy(&c->wlock);
	free(c);
}

static void
answer_clear(struct answer *a)
{
	if (a->secret && a->own[0] != NULL)
		OPENSSL_cleanse(a->own[0], strlen((char *)a->own[0]));
	free(a->own[0]);
	free(a->own[1]);
}

/* Answers one job on its connection. */
static void
job_run(struct ipc_engine *e, struct job *j)
{
	struct answer a;
	unsigned char *buf = NULL;
	size_t len;
	handler_fn fn = NULL;
	int r;

	memset(&a, 0, sizeof(a));
	ly_errclear();
	pthread_rwlock_rdlock(&e->inst);
	if (j->r != LY_OK) {
		/* A body that did not parse: its header named the request. */
		(void)refuse(e, "front", j->msg.type, j->r, "malformed "
		    "message: %s", j->why);
		r = ly_fail(j->r, "malformed message: %s", j->why);
	} else if ((j->msg.type & IPC_REPLY) || j->msg.type >= IPC_TYPES ||
	    (fn = dispatch[j->msg.type]) == NULL)
		r = refuse(e, "front", j->msg.type & 0x7f, LY_ERR_BAD_INPUT,
		    "not a request type the front may send");
	else if (e->ca == NULL)
		r = ly_fail(LY_ERR_ENGINE, "the engine is reloading");
	else
		r = fn(e, &j->msg, &a);
	pthread_rwlock_unlock(&e->inst);
	if (ipc_reply_encode(j->msg.type & 0x7f, j->msg.id, r,
	    r != LY_OK ? (ly_errdetail()[0] != '\0' ? ly_errdetail() :
	    ly_strerror(r)) : NULL, a.f, a.n, &buf, &len) != LY_OK)
		ly_log(LY_LOG_ERR, "engine: cannot answer: %s", ly_errdetail());
	else {
		pthread_mutex_lock(&j->conn->wlock);
		if (ipc_write(j->conn->fd, buf, len) != LY_OK)
			ly_log(LY_LOG_WARN, "engine: %s", ly_errdetail());
		pthread_mutex_unlock(&j->conn->wlock);
	}
	free(buf);
	answer_clear(&a);
}

static void *
worker(void *arg)
{
	struct ipc_engine *e = arg;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&e->lock);
		while (!e->stop && e->head == NULL)
			pthread_cond_wait(&e->cond, &e->lock);
		if ((j = e->head) == NULL) {
			pthread_mutex_unlock(&e->lock);
			return NULL;
		}
		if ((e->head = j->next) == NULL)
			e->tail = &e->head;
		e->queued--;
		pthread_mutex_unlock(&e->lock);
		job_run(e, j);
		conn_put(e, j->conn);
		ipc_msg_clear(&j->msg);
		free(j);
	}
}

static void *
reader(void *arg)
{
	struct conn *c = arg;
	struct ipc_engine *e = c->e;
	struct job *j;
	int r;

	for (;;) {
		if ((j = calloc(1, sizeof(*j))) == NULL)
			break;
		j->conn = c;
		if ((r = ipc_read(c->fd, &j->msg)) != LY_OK) {
			if (r == LY_ERR_NOT_FOUND || j->msg.type == 0) {
				if (r != LY_ERR_NOT_FOUND) {
					/* Out of step: audited, then closed. */
					pthread_rwlock_rdlock(&e->inst);
					(void)refuse(e, "front", 0, r,
					    "malformed header: %s",
					    ly_errdetail());
					pthread_rwlock_unlock(&e->inst);
				}
				free(j);
				break;
			}
			j->r = r;
			snprintf(j->why, sizeof(j->why), "%s", ly_errdetail());
		}
		pthread_mutex_lock(&e->lock);
		while (!e->stop && e->queued >= QUEUE_MAX)
			pthread_cond_wait(&e->cond, &e->lock);
		if (e->stop) {
			pthread_mutex_unlock(&e->lock);
			ipc_msg_clear(&j->msg);
			free(j);
			break;
		}
		c->refs++;
		*e->tail = j;
		e->tail = &j->next;
		e->queued++;
		pthread_cond_broadcast(&e->cond);
		pthread_mutex_unlock(&e->lock);
	}
	pthread_mutex_lock(&e->lock);
	e->readers--;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	conn_put(e, c);
	return NULL;
}

int
ipc_engine_new(const char *dir, unsigned int workers, struct ipc_engine **ep)
{
	struct ipc_engine *e;
	unsigned int i;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return LY_ERR_ALLOC;
	e->dir = dir;
	e->tail = &e->head;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	pthread_rwlock_init(&e->inst, NULL);
	pthread_mutex_init(&e->tls, NULL);
	if (workers < 2)
		workers = 2;
	if ((e->workers = calloc(workers, sizeof(*e->workers))) == NULL) {
		ipc_engine_free(e);
		return LY_ERR_ALLOC;
	}
	for (i = 0; i < workers; i++) {
		if (pthread_create(&e->workers[i], NULL, worker, e) != 0) {
			ipc_engine_free(e);
			return ly_fail(LY_ERR_INTERNAL, "cannot start a thread");
		}
		e->nworkers++;
	}
	*ep = e;
	return LY_OK;
}

void
ipc_engine_hold(struct ipc_engine *e)
{
	pthread_rwlock_wrlock(&e->inst);
}

void
ipc_engine_resume(struct ipc_engine *e, struct ca *ca,
    struct ocsp_responder *responder)
{
	e->ca = ca;
	e->responder = responder;
	pthread_rwlock_unlock(&e->inst);
}

void
ipc_engine_set_instance(struct ipc_engine *e, struct ca *ca,
    struct ocsp_responder *responder)
{
	ipc_engine_hold(e);
	ipc_engine_resume(e, ca, responder);
}

int
ipc_engine_serve(struct ipc_engine *e, int fd)
{
	struct conn *c;
	pthread_attr_t attr;
	pthread_t t;
	int i, rc;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return LY_ERR_ALLOC;
	}
	c->e = e;
	c->fd = fd;
	c->refs = 1;
	pthread_mutex_init(&c->wlock, NULL);
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < CONNS_MAX && e->conns[i] != NULL; i++)
		continue;
	if (i == CONNS_MAX || e->stop) {
		pthread_mutex_unlock(&e->lock);
		close(fd);
		pthread_mutex_destroy(&c->wlock);
		free(c);
		return ly_fail(LY_ERR_STATE, "engine: too many connections");
	}
	c->slot = i;
	e->conns[i] = c;
	e->readers++;
	pthread_mutex_unlock(&e->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, reader, c);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		pthread_mutex_lock(&e->lock);
		e->readers--;
		pthread_mutex_unlock(&e->lock);
		conn_put(e, c);
		return ly_fail(LY_ERR_INTERNAL, "cannot start a thread");
	}
	return LY_OK;
}

void
ipc_engine_free(struct ipc_engine *e)
{
	unsigned int i;

	if (e == NULL)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = 1;
	for (i = 0; i < CONNS_MAX; i++)
		if (e->conns[i] != NULL)
			shutdown(e->conns[i]->fd, SHUT_RDWR);
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	/* Workers finish the queue (the answers go nowhere), then stop. */
	for (i = 0; i < e->nworkers; i++)
		pthread_join(e->workers[i], NULL);
	pthread_mutex_lock(&e->lock);
	while (e->readers > 0)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	free(e->workers);
	pthread_rwlock_destroy(&e->inst);
	pthread_mutex_destroy(&e->tls);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
