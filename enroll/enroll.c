/*
 * enroll/enroll.c — dispatch, JSON errors, the client certificate check,
 * the reissue window and the failed-token rate limiter.
 *
 * Error bodies are {"error": code, "detail": text}; the codes are stable:
 * bad_request, bad_csr, key_policy, token_invalid, token_used,
 * token_expired, unauthorized, forbidden, reissue_too_early, revoked,
 * rate_limited, hsm_unavailable, engine_unavailable, not_found,
 * too_large, internal.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "enroll/extern.h"
#include "util/util.h"

int
enroll_new(struct ca *ca, struct enroll **ep)
{
	return enroll_new_engine(ca, &enroll_local, ca, ep);
}

int
enroll_new_engine(struct ca *ca, const struct enroll_engine *ops, void *arg,
    struct enroll **ep)
{
	struct enroll *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return LY_ERR_ALLOC;
	e->ca = ca;
	e->ops = ops;
	e->arg = arg;
	if (pthread_mutex_init(&e->lock, NULL) != 0) {
		free(e);
		return LY_ERR_INTERNAL;
	}
	*ep = e;
	return LY_OK;
}

/*
 * The chain of a certificate slot signed, as JSON: the slot's CA
 * certificate, then each CA above it to its root. Made once per slot:
 * escaping the PEM was a third of a reply. Borrowed from e; NULL if it
 * cannot be made.
 */
const char *
enroll_chain_json(struct enroll *e, int slot)
{
	const unsigned char *der;
	json_t *chain = NULL;
	char *pem, *js = NULL;
	size_t len, pemlen;
	int s, depth;

	if (slot < 0 || slot >= CA_MAX_SLOTS)
		return NULL;
	if ((js = atomic_load(&e->chain_json[slot])) != NULL)
		return js;
	/* A CA the engine registered since this process read the store. */
	if (slot >= ca_nslots(e->ca))
		(void)ca_slots_sync(e->ca);
	if ((chain = json_array()) == NULL)
		return NULL;
	for (s = slot, depth = 0; depth < 4; depth++) {
		if (ca_cert_der(e->ca, s, &der, &len) != LY_OK ||
		    ly_pem_encode("CERTIFICATE", der, len, &pem, &pemlen) !=
		    LY_OK)
			goto out;
		if (json_array_append_new(chain, json_string(pem)) != 0) {
			free(pem);
			goto out;
		}
		free(pem);
		if (ca_slot_parent(e->ca, s) == s)
			break;
		s = ca_slot_parent(e->ca, s);
	}
	if ((js = json_dumps(chain, JSON_COMPACT)) == NULL)
		goto out;
	pthread_mutex_lock(&e->lock);
	if (atomic_load(&e->chain_json[slot]) == NULL) {
		atomic_store(&e->chain_json[slot], js);
		js = NULL;
	}
	pthread_mutex_unlock(&e->lock);
	free(js);
	js = atomic_load(&e->chain_json[slot]);
 out:
	json_decref(chain);
	return js;
}

void
enroll_free(struct enroll *e)
{
	int i;

	if (e == NULL)
		return;
	for (i = 0; i < CA_MAX_SLOTS; i++)
		free(atomic_load(&e->chain_json[i]));
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int
enroll_path(const char *path)
{
	return path != NULL &&
	    (strncmp(path, "/.well-known/est/", 17) == 0 ||
	    strncmp(path, "/api/v1/", 8) == 0);
}

void
enroll_response_clear(struct enroll_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

int
enroll_handle(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	ly_errclear();
	if (req->method == NULL || req->path == NULL)
		return enroll_error(resp, 400, "bad_request", "no method or path");
	if (req->bodylen > ENROLL_BODY_MAX)
		return enroll_error(resp, 413, "too_large", "body over %d bytes",
		    ENROLL_BODY_MAX);
	if (strncmp(req->path, "/.well-known/est/", 17) == 0)
		return est_handle(e, req, resp);
	if (strcmp(req->path, "/api/v1/enroll") == 0 ||
	    strcmp(req->path, "/api/v1/reissue") == 0)
		return api_handle(e, req, resp);
	if (strncmp(req->path, "/api/v1/", 8) == 0)
		return admin_handle(e, req, resp);
	return enroll_error(resp, 404, "not_found", "no such endpoint");
}

int
enroll_json_reply(struct enroll_response *resp, int status, json_t *o)
{
	char *s;

	if (o == NULL)
		return LY_ERR_ALLOC;
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return enroll_json_reply_text(resp, status, s);
}

int
enroll_json_reply_text(struct enroll_response *resp, int status, char *s)
{
	size_t n;
	char *t;

	if (s == NULL)
		return LY_ERR_ALLOC;
	/* A text answer ends with a newline, for curl and shell users. */
	n = strlen(s);
	if ((t = realloc(s, n + 2)) == NULL) {
		free(s);
		return LY_ERR_ALLOC;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	free(resp->body);
	resp->body = (unsigned char *)t;
	resp->len = n + 1;
	resp->status = status;
	resp->content_type = "application/json";
	return LY_OK;
}

int
enroll_error(struct enroll_response *resp, int status, const char *code,
    const char *fmt, ...)
{
	char raw[2048], detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/*
	 * Details echo what clients sent (jansson's error text, ids): made
	 * valid UTF-8 and cut between characters, or json_pack() would
	 * fail and the client get a 500. raw is larger than detail, so a
	 * character vsnprintf cut is never reached.
	 */
	ly_utf8_clean(raw, detail, sizeof(detail));
	resp->error_code = code;
	if (status == 401 && resp->www_authenticate == NULL)
		resp->www_authenticate = "Basic realm=\"lanyard\"";
	return enroll_json_reply(resp, status, json_pack("{s:s, s:s}",
	    "error", code, "detail", detail));
}

/*
 * Whether the client's address has failed too many tokens: then *rp is the
 * result of the 429 answer, and the token is not even looked at.
 */
int
enroll_rl_refused(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, int *rp)
{
	long wait;

	if ((wait = enroll_rl_check(e, req->client_addr)) <= 0)
		return 0;
	resp->retry_after = wait;
	*rp = enroll_error(resp, 429, "rate_limited", "too many failed tokens "
	    "from this address");
	return 1;
}

/* 405 with the methods the resource takes (RFC 9110 15.5.6). */
int
enroll_method_error(struct enroll_response *resp, const char *allow)
{
	resp->allow = allow;
	return enroll_error(resp, 405, "method_not_allowed", "use %s", allow);
}

/* The status and stable code of an error of ca/. */
int
enroll_ca_error(struct enroll_response *resp, int r)
{
	const char *d = ly_errdetail();

	if (d[0] == '\0')
		d = ly_strerror(r);
	switch (r) {
	case LY_ERR_BAD_CSR:
	case LY_ERR_CSR_SIGNATURE:
		return enroll_error(resp, 400, "bad_csr", "%s", d);
	case LY_ERR_KEY_POLICY:
		return enroll_error(resp, 400, "key_policy", "%s", d);
	case LY_ERR_TOO_LARGE:
		return enroll_error(resp, 413, "too_large", "%s", d);
	case LY_ERR_BAD_IDENTITY:
	case LY_ERR_POLICY:
	case LY_ERR_BAD_PROFILE:
	case LY_ERR_BAD_INPUT:
	case LY_ERR_ARG:
		return enroll_error(resp, 400, "bad_request", "%s", d);
	case LY_ERR_NOT_FOUND:
		return enroll_error(resp, 404, "not_found", "%s", d);
	case LY_ERR_STATE:
		return enroll_error(resp, 409, "conflict", "%s", d);
	case LY_ERR_IDENTITY_DISABLED:
		return enroll_error(resp, 403, "identity_disabled", "%s", d);
	case LY_ERR_STORE_FULL:
		/* Nothing was written; the operator must raise map_size. */
		ly_log(LY_LOG_ERR, "enroll: %s", d);
		return enroll_error(resp, 507, "store_full", "the store is "
		    "full; nothing was issued");
	case LY_ERR_HSM:
	case LY_ERR_HSM_PIN:
		resp->retry_after = ENROLL_HSM_RETRY;
		return enroll_error(resp, 503, "hsm_unavailable", "%s", d);
	case LY_ERR_ENGINE:
		/* The supervisor restarts the engine: ask again shortly. */
		resp->retry_after = ENROLL_HSM_RETRY;
		return enroll_error(resp, 503, "engine_unavailable", "%s", d);
	case LY_ERR_LINT:
		/*
		 * The certificate we built broke a rule: our bug, not the
		 * client's (ca/lint.c logged it). The rule is no secret and
		 * tells the operator what to look for.
		 */
		return enroll_error(resp, 500, "lint", "%s", d);
	default:
		ly_log(LY_LOG_ERR, "enroll: %s: %s", ly_strerror(r), d);
		return enroll_error(resp, 500, "internal", "internal error");
	}
}

/* A failed token use: 403 with why, and one more strike for the address. */
int
enroll_token_error(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, const char *token, int r)
{
	int state = 0;

	if (r != LY_ERR_TOKEN)
		return enroll_ca_error(resp, r);
	enroll_rl_fail(e, req->client_addr);
	if ((r = ca_token_status(e->ca, token, &state)) == LY_ERR_NOT_FOUND)
		return enroll_error(resp, 403, "token_invalid", "unknown token");
	if (r == LY_OK && state == CA_TOKEN_EXPIRED)
		return enroll_error(resp, 403, "token_expired",
		    "the token has expired");
	return enroll_error(resp, 403, "token_used", "the token was used "
	    "or revoked");
}

int
enroll_body_read(const struct enroll_request *req,
    enum enroll_body_kind kind, struct enroll_response *resp,
    struct enroll_body *b)
{
	int r;

	memset(b, 0, sizeof(*b));
	if ((r = enroll_body_parse(req->body, req->bodylen, kind, b)) == LY_OK)
		return LY_OK;
	if (r == LY_ERR_TOO_LARGE)
		return enroll_error(resp, 413, "too_large", "%s",
		    ly_errdetail());
	if (r == LY_ERR_BAD_INPUT)
		return enroll_error(resp, 400, "bad_request", "%s",
		    ly_errdetail());
	return enroll_ca_error(resp, r);
}

/*
 * The store's record of the client certificate web/ verified: the same
 * DER under its serial, whatever its status. On success *recp is the
 * record (caller frees) and resp is untouched; otherwise resp holds the
 * error (401) and *recp is NULL.
 */
int
enroll_client_find(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, struct store_cert **recp)
{
	const unsigned char *p = req->client_cert;
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	struct ca_serial serial;
	X509 *x = NULL;
	int r;

	*recp = NULL;
	if (p == NULL || req->client_certlen == 0 ||
	    req->client_certlen > ENROLL_BODY_MAX)
		return enroll_error(resp, 401, "unauthorized", "a client "
		    "certificate is required");
	if ((x = d2i_X509(NULL, &p, (long)req->client_certlen)) == NULL ||
	    p != req->client_cert + req->client_certlen ||
	    ca_serial_from_asn1(X509_get0_serialNumber(x), &serial) != LY_OK) {
		X509_free(x);
		return enroll_error(resp, 401, "unauthorized", "the client "
		    "certificate does not parse");
	}
	X509_free(x);
	if ((r = store_txn_begin(ca_store(e->ca), 0, &txn)) != LY_OK)
		return enroll_ca_error(resp, r);
	r = store_cert_get(txn, &serial, &rec);
	store_txn_abort(txn);
	if (r == LY_ERR_NOT_FOUND || (r == LY_OK && (rec->der == NULL ||
	    rec->derlen != req->client_certlen ||
	    memcmp(rec->der, req->client_cert, rec->derlen) != 0))) {
		store_cert_free(rec);
		return enroll_error(resp, 401, "unauthorized", "the client "
		    "certificate is not one this CA issued");
	}
	if (r != LY_OK)
		return enroll_ca_error(resp, r);
	*recp = rec;
	return LY_OK;
}

/*
 * The client certificate web/ verified, checked against the store: the
 * same DER under its serial, valid (403 revoked), not expired (401).
 * On success *recp is the record (caller frees) and resp is untouched;
 * otherwise resp holds the error and *recp is NULL.
 */
int
enroll_client(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, struct store_cert **recp)
{
	struct store_cert *rec = NULL;
	int r;

	*recp = NULL;
	if ((r = enroll_client_find(e, req, resp, &rec)) != LY_OK ||
	    rec == NULL)
		return r;
	if (rec->status == STORE_REVOKED) {
		store_cert_free(rec);
		return enroll_error(resp, 403, "revoked", "the client "
		    "certificate is revoked");
	}
	if (rec->status != STORE_VALID || rec->not_after <= ly_now()) {
		store_cert_free(rec);
		return enroll_error(resp, 401, "unauthorized", "the client "
		    "certificate has expired");
	}
	*recp = rec;
	return LY_OK;
}

/*
 * When the reissue window of the certificate's profile opens:
 * reissue_before seconds before notAfter, or reissue_percent of its
 * lifetime; *afterp is 0 when no threshold is configured (any time).
 * 0, or -1 with resp holding the 403 when the profile is gone.
 */
int
enroll_reissue_after(struct enroll *e, const struct store_cert *rec,
    struct enroll_response *resp, time_t *afterp)
{
	const struct conf_profile *p;

	if ((p = conf_profile_get(ca_conf(e->ca), rec->profile)) == NULL) {
		enroll_error(resp, 403, "forbidden", "profile %s is no longer "
		    "configured", rec->profile);
		return -1;
	}
	if (p->reissue_before > 0)
		*afterp = (time_t)(rec->not_after - p->reissue_before);
	else if (p->reissue_percent > 0)
		*afterp = (time_t)(rec->not_after - (rec->not_after -
		    rec->not_before) * p->reissue_percent / 100);
	else
		*afterp = 0;
	return 0;
}

/*
 * The reissue window of the certificate's profile (enroll_reissue_after).
 * 0 when a reissue is allowed now, else resp holds the 409 or the 403.
 */
int
enroll_reissue_allowed(struct enroll *e, const struct store_cert *rec,
    struct enroll_response *resp)
{
	time_t after;
	char buf[21];

	if (enroll_reissue_after(e, rec, resp, &after) != 0)
		return -1;
	if (after == 0 || ly_now() >= after)
		return 0;
	ly_time_fmt(after, buf);
	resp->error_code = "reissue_too_early";
	if (enroll_json_reply(resp, 409, json_pack("{s:s, s:s, s:s}", "error",
	    "reissue_too_early", "detail", "reissue is allowed only close to "
	    "the certificate's expiry", "allowed_after", buf)) != LY_OK)
		enroll_error(resp, 500, "internal", "out of memory");
	return -1;
}

/* ---- failed-token rate limit ------------------------------------------- */

static struct enroll_rl *
rl_find(struct enroll *e, const char *addr, int make)
{
	struct enroll_rl *oldest = NULL;
	time_t now = ly_now();
	size_t i;

	for (i = 0; i < ENROLL_RL_SLOTS; i++) {
		struct enroll_rl *s = &e->rl[i];

		if (s->start != 0 && now - s->start >= ENROLL_RL_WINDOW)
			s->start = 0;	/* window over: free */
		if (s->start != 0 && strcmp(s->addr, addr) == 0)
			return s;
		if (oldest == NULL || s->start < oldest->start)
			oldest = s;
	}
	if (!make)
		return NULL;
	/* Bounded memory: the oldest window makes room. */
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	oldest->start = now;
	return oldest;
}

/* Seconds to wait when addr has too many failures, else 0. */
long
enroll_rl_check(struct enroll *e, const char *addr)
{
	struct enroll_rl *s;
	long wait = 0;

	if (addr == NULL)
		addr = "";
	pthread_mutex_lock(&e->lock);
	if ((s = rl_find(e, addr, 0)) != NULL && s->fails >= ENROLL_RL_FAILS)
		wait = (long)(s->start + ENROLL_RL_WINDOW - ly_now());
	pthread_mutex_unlock(&e->lock);
	return wait > 0 ? wait : 0;
}

void
enroll_rl_fail(struct enroll *e, const char *addr)
{
	struct enroll_rl *s;

	if (addr == NULL)
		addr = "";
	pthread_mutex_lock(&e->lock);
	if ((s = rl_find(e, addr, 1)) != NULL)
		s->fails++;
	pthread_mutex_unlock(&e->lock);
}
