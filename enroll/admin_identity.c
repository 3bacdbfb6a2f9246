/*
 * enroll/admin_identity.c — the admin API's disabled identities, for an
 * admin client certificate (enroll/admin.c checks it):
 *   GET    /api/v1/identities/disabled	→ {"disabled": [records]}
 *   POST   /api/v1/identities/disabled	{"identity"|"spiffe"|"dns": s,
 *					 "revoke": reason (optional)}
 *   POST   /api/v1/identities/enabled	{"identity"|"spiffe"|"dns": s}
 * Audited with the admin's identity as actor (ca/disable.c). Enabling is
 * a POST, not a DELETE with a body: many clients and proxies drop the
 * body of a DELETE, and web/ reads bodies of POSTs only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ca/ops.h"
#include "enroll/extern.h"
#include "util/util.h"

/* The one identity of the body (identity, spiffe or dns), as a key. */
static int
body_identity(struct enroll *e, const struct enroll_body *b,
    struct enroll_response *resp, char **keyp)
{
	const char *kind, *value;
	int r;

	/* enroll_body_parse() let exactly one of them through. */
	if (b->identity != NULL) {
		kind = "identity";
		value = b->identity;
	} else if (b->spiffe != NULL) {
		kind = "spiffe";
		value = b->spiffe;
	} else {
		kind = "dns";
		value = b->dns;
	}
	if ((r = ca_identity_parse_key(ca_conf(e->ca), kind, value, keyp)) !=
	    LY_OK)
		return enroll_ca_error(resp, r);
	return LY_OK;
}

static int
disable(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, const struct store_cert *me,
    const char *actor, int on)
{
	struct enroll_body b;
	char *key = NULL;
	size_t n = 0;
	int reason = -2, r;

	r = enroll_body_read(req, on ? ENROLL_BODY_DISABLE :
	    ENROLL_BODY_ENABLE, resp, &b);
	if (r != LY_OK || b.json == NULL)
		return r;
	if (b.revoke != NULL && (reason = ca_reason_parse(b.revoke)) < -1) {
		r = enroll_error(resp, 400, "bad_request", "unknown reason");
		goto out;
	}
	if ((r = body_identity(e, &b, resp, &key)) != LY_OK || key == NULL)
		goto out;
	r = on ? e->ops->identity_disable(e->arg, me, key, reason, actor, &n) :
	    e->ops->identity_enable(e->arg, me, key, actor);
	if (r == LY_ERR_STATE)
		r = enroll_error(resp, 409, "conflict", "%s", ly_errdetail());
	else if (r != LY_OK)
		r = enroll_ca_error(resp, r);
	else
		r = enroll_json_reply(resp, 200, json_pack("{s:s, s:b, s:I}",
		    "identity", key, "disabled", on, "revoked",
		    (json_int_t)n));
 out:
	free(key);
	enroll_body_clear(&b);
	return r;
}

int
admin_identities(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, const char *rest,
    const struct store_cert *me, const char *actor)
{
	json_t *a = NULL;
	int r;

	if (strcmp(rest, "enabled") == 0) {
		if (strcmp(req->method, "POST") == 0)
			return disable(e, req, resp, me, actor, 0);
		return enroll_method_error(resp, "POST");
	}
	if (strcmp(req->method, "GET") == 0) {
		if ((r = ca_identity_disabled_list(e->ca, &a)) != LY_OK)
			return enroll_ca_error(resp, r);
		return enroll_json_reply(resp, 200, json_pack("{s:o}",
		    "disabled", a));
	}
	if (strcmp(req->method, "POST") == 0)
		return disable(e, req, resp, me, actor, 1);
	return enroll_method_error(resp, "GET, POST");
}
