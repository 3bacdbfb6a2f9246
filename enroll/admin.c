/*
 * enroll/admin.c — the admin API, for a client certificate of the admin
 * profile that is valid in the store (else 403 forbidden):
 *   POST   /api/v1/tokens {"profile", "identity", "ttl"}  → {token, id}
 *   GET    /api/v1/tokens
 *   DELETE /api/v1/tokens/<id>
 *   GET    /api/v1/certificates[?status=valid|revoked|expired]
 *   GET    /api/v1/certificates/<serial>
 *   POST   /api/v1/certificates/<serial>/revoke {"reason"}
 *   POST   /api/v1/crl/publish
 *   GET, POST /api/v1/identities/disabled, POST .../enabled (admin_identity.c)
 *   GET    /api/v1/issuers, POST /api/v1/issuers/<name>/rollover {"at"}
 *	    (admin_issuer.c)
 * A certificate is named by its serial and, optionally, its issuer
 * (?issuer=<CA name>): serials are unique across the instance's CAs,
 * and a record of another CA is "not found".
 * The audit actor is "admin:" and the admin certificate's identity.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "conf/conf.h"
#include "enroll/extern.h"
#include "util/util.h"

#define ADMIN_PROFILE	"admin"

/* ---- tokens ------------------------------------------------------------ */

static int
tokens_create(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, const struct store_cert *me,
    const char *actor)
{
	struct enroll_body b;
	char *tok = NULL, *id = NULL;
	long ttl = 86400;
	int r;

	r = enroll_body_read(req, ENROLL_BODY_TOKEN, resp, &b);
	if (r != LY_OK || b.json == NULL)
		return r;
	if (b.ttl != NULL && ((ttl = conf_duration_parse(b.ttl)) <= 0 ||
	    ttl > CA_TOKEN_TTL_MAX)) {
		r = enroll_error(resp, 400, "bad_request", "ttl must be a "
		    "duration of at most 30d");
		goto out;
	}
	if ((r = e->ops->token_create(e->arg, me, b.profile, b.identity, ttl,
	    actor, &tok, &id)) != LY_OK) {
		r = enroll_ca_error(resp, r);
		goto out;
	}
	r = enroll_json_reply(resp, 201, json_pack("{s:s, s:s}", "token", tok,
	    "id", id));
	OPENSSL_cleanse(tok, strlen(tok));
 out:
	free(tok);
	free(id);
	enroll_body_clear(&b);
	return r;
}

static int
tokens_list_cb(const struct ca_token_info *t, void *arg)
{
	json_t *o;

	if ((o = ca_token_json(t)) == NULL)
		return LY_ERR_ALLOC;
	return json_array_append_new(arg, o) == 0 ? 0 : LY_ERR_ALLOC;
}

static int
tokens(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, const char *rest,
    const struct store_cert *me, const char *actor)
{
	json_t *a;
	int r;

	if (rest[0] == '\0' && strcmp(req->method, "POST") == 0)
		return tokens_create(e, req, resp, me, actor);
	if (rest[0] == '\0' && strcmp(req->method, "GET") == 0) {
		if ((a = json_array()) == NULL)
			return LY_ERR_ALLOC;
		if ((r = ca_token_list(e->ca, tokens_list_cb, a)) != LY_OK) {
			json_decref(a);
			return enroll_ca_error(resp, r);
		}
		return enroll_json_reply(resp, 200, json_pack("{s:o}",
		    "tokens", a));
	}
	if (rest[0] == '/' && strcmp(req->method, "DELETE") == 0) {
		if ((r = e->ops->token_revoke(e->arg, me, rest + 1, actor)) ==
		    LY_ERR_STATE)
			return enroll_error(resp, 409, "token_used", "%s",
			    ly_errdetail());
		if (r != LY_OK)
			return enroll_ca_error(resp, r);
		return enroll_json_reply(resp, 200, json_pack("{s:s, s:s}",
		    "id", rest + 1, "state", "revoked"));
	}
	return enroll_method_error(resp, rest[0] == '\0' ? "GET, POST" :
	    "DELETE");
}

/* ---- certificates ------------------------------------------------------ */

struct certs_arg {
	const struct ca	*ca;
	json_t		*array;
	const char	*status;
};

static int
certs_cb(const struct store_cert *c, void *arg)
{
	struct certs_arg *ca = arg;
	json_t *o;

	if (ca->status != NULL && strcmp(ca->status, ca_cert_status(c)) != 0)
		return 0;
	if ((o = ca_cert_json(ca->ca, c, NULL)) == NULL)
		return LY_ERR_ALLOC;
	return json_array_append_new(ca->array, o) == 0 ? 0 : LY_ERR_ALLOC;
}

static int
certs_list(struct enroll *e, struct enroll_response *resp, const char *query)
{
	struct store_txn *txn = NULL;
	struct certs_arg a = { e->ca, NULL, NULL };
	int r;

	if (query != NULL && query[0] != '\0') {
		if (strncmp(query, "status=", 7) != 0 ||
		    (strcmp(query + 7, "valid") != 0 &&
		    strcmp(query + 7, "revoked") != 0 &&
		    strcmp(query + 7, "expired") != 0))
			return enroll_error(resp, 400, "bad_request", "status "
			    "must be valid, revoked or expired");
		a.status = query + 7;
	}
	if ((a.array = json_array()) == NULL)
		return LY_ERR_ALLOC;
	if ((r = store_txn_begin(ca_store(e->ca), 0, &txn)) == LY_OK)
		r = store_cert_foreach(txn, certs_cb, &a);
	store_txn_abort(txn);
	if (r != LY_OK) {
		json_decref(a.array);
		return enroll_ca_error(resp, r);
	}
	return enroll_json_reply(resp, 200, json_pack("{s:o}", "certificates",
	    a.array));
}

static int
cert_one(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, const char *rest,
    const struct store_cert *me, const char *actor)
{
	char hex[128];
	const char *slash = strchr(rest, '/');
	struct ca_serial serial;
	struct store_txn *txn = NULL;
	struct store_cert *c = NULL;
	struct enroll_body b;
	json_t *o;
	int r, code = -1;

	if ((slash != NULL ? (size_t)(slash - rest) : strlen(rest)) >=
	    sizeof(hex))
		return enroll_error(resp, 404, "not_found", "no such serial");
	snprintf(hex, sizeof(hex), "%.*s", (int)(slash != NULL ?
	    slash - rest : (long)strlen(rest)), rest);
	if (ca_serial_parse(hex, &serial) != LY_OK)
		return enroll_error(resp, 404, "not_found", "no such serial");
	/* ?issuer=<CA>: issuer and serial name the certificate together. */
	if (req->query != NULL && req->query[0] != '\0') {
		if (strncmp(req->query, "issuer=", 7) != 0)
			return enroll_error(resp, 400, "bad_request", "the only "
			    "query is issuer=<CA name>");
		if ((r = store_txn_begin(ca_store(e->ca), 0, &txn)) == LY_OK)
			r = store_cert_get(txn, &serial, &c);
		store_txn_abort(txn);
		txn = NULL;
		if (r == LY_OK && (c->ca >= ca_nslots(e->ca) ||
		    strcmp(ca_slot_name(e->ca, c->ca), req->query + 7) != 0))
			r = ly_fail(LY_ERR_NOT_FOUND, "no certificate with that "
			    "serial from the CA %.64s", req->query + 7);
		store_cert_free(c);
		c = NULL;
		if (r != LY_OK)
			return enroll_ca_error(resp, r);
	}
	if (slash == NULL && strcmp(req->method, "GET") == 0) {
		if ((r = store_txn_begin(ca_store(e->ca), 0, &txn)) == LY_OK)
			r = store_cert_get(txn, &serial, &c);
		store_txn_abort(txn);
		if (r != LY_OK)
			return enroll_ca_error(resp, r);
		o = ca_cert_json(e->ca, c, "certificate");
		store_cert_free(c);
		return enroll_json_reply(resp, 200, o);
	}
	if (slash == NULL || strcmp(slash, "/revoke") != 0 ||
	    strcmp(req->method, "POST") != 0)
		return enroll_error(resp, 404, "not_found", "no such endpoint");
	memset(&b, 0, sizeof(b));
	if (req->bodylen > 0) {
		r = enroll_body_read(req, ENROLL_BODY_REVOKE, resp, &b);
		if (r != LY_OK || b.json == NULL)
			return r;
		if (b.reason != NULL &&
		    (code = ca_reason_parse(b.reason)) < -1) {
			enroll_body_clear(&b);
			return enroll_error(resp, 400, "bad_request", "unknown "
			    "reason");
		}
	}
	r = e->ops->revoke(e->arg, me, &serial, code, actor);
	enroll_body_clear(&b);
	if (r == LY_ERR_STATE)
		return enroll_error(resp, 409, "revoked", "%s", ly_errdetail());
	if (r != LY_OK)
		return enroll_ca_error(resp, r);
	return enroll_json_reply(resp, 200, json_pack("{s:s, s:s}", "serial",
	    hex, "status", "revoked"));
}

static int
crl_publish(struct enroll *e, struct enroll_response *resp,
    const struct store_cert *me, const char *actor)
{
	int r;

	if ((r = e->ops->crl_publish(e->arg, me, actor)) != LY_OK)
		return enroll_ca_error(resp, r);
	return enroll_json_reply(resp, 200, json_pack("{s:s}", "status",
	    "published"));
}

int
admin_handle(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	struct store_cert *me = NULL;
	const char *p = req->path + strlen("/api/v1/");
	char actor[CA_SPIFFE_MAX + 16];
	int r;

	if ((r = enroll_client(e, req, resp, &me)) != LY_OK || me == NULL) {
		/* No valid admin certificate: the admin API does not exist. */
		if (r == LY_OK && resp->status == 401) {
			enroll_response_clear(resp);
			return enroll_error(resp, 403, "forbidden", "an admin "
			    "client certificate is required");
		}
		return r;
	}
	if (strcmp(me->profile, ADMIN_PROFILE) != 0) {
		store_cert_free(me);
		return enroll_error(resp, 403, "forbidden", "an admin client "
		    "certificate is required");
	}
	snprintf(actor, sizeof(actor), "admin:%s",
	    me->identity != NULL ? me->identity : "-");
	/* The query (web/ splits it off the path) matters only to the list. */
	if (strncmp(p, "tokens", 6) == 0 && (p[6] == '\0' || p[6] == '/'))
		r = tokens(e, req, resp, p + 6, me, actor);
	else if (strcmp(p, "certificates") == 0 &&
	    strcmp(req->method, "GET") == 0)
		r = certs_list(e, resp, req->query);
	else if (strncmp(p, "certificates/", 13) == 0)
		r = cert_one(e, req, resp, p + 13, me, actor);
	else if (strcmp(p, "crl/publish") == 0 &&
	    strcmp(req->method, "POST") == 0)
		r = crl_publish(e, resp, me, actor);
	else if (strcmp(p, "identities/disabled") == 0 ||
	    strcmp(p, "identities/enabled") == 0)
		r = admin_identities(e, req, resp, p + 11, me, actor);
	else if (strncmp(p, "issuers", 7) == 0 &&
	    (p[7] == '\0' || p[7] == '/'))
		r = admin_issuers(e, req, resp, p + 7, me, actor);
	else
		r = enroll_error(resp, 404, "not_found", "no such endpoint");
	store_cert_free(me);
	return r;
}
