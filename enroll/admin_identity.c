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

/* The one identity of the body, as an identity key. */
static int
body_identity(struct enroll *e, json_t *o, struct enroll_response *resp,
    char **keyp)
{
	static const char *kinds[] = { "identity", "spiffe", "dns" };
	const char *kind = NULL, *value = NULL;
	json_t *v;
	size_t i;
	int r;

	for (i = 0; i < 3; i++) {
		if ((v = json_object_get(o, kinds[i])) == NULL)
			continue;
		if (kind != NULL || !json_is_string(v))
			return enroll_error(resp, 400, "bad_request", "one of "
			    "identity, spiffe, dns, as a string");
		kind = kinds[i];
		value = json_string_value(v);
	}
	if (kind == NULL)
		return enroll_error(resp, 400, "bad_request", "identity, "
		    "spiffe or dns is required");
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
	json_t *o = NULL, *rv;
	char *key = NULL;
	const char *k;
	size_t n = 0;
	int reason = -2, r;

	if ((r = enroll_json_body(req, resp, &o)) != LY_OK || o == NULL)
		return r;
	json_object_foreach(o, k, rv)
		if (strcmp(k, "identity") != 0 && strcmp(k, "spiffe") != 0 &&
		    strcmp(k, "dns") != 0 && (!on || strcmp(k, "revoke") != 0)) {
			r = enroll_error(resp, 400, "bad_request", "unknown "
			    "member %s", k);
			goto out;
		}
	if ((rv = json_object_get(o, "revoke")) != NULL &&
	    (!json_is_string(rv) ||
	    (reason = ca_reason_parse(json_string_value(rv))) < -1)) {
		r = enroll_error(resp, 400, "bad_request", "unknown reason");
		goto out;
	}
	if ((r = body_identity(e, o, resp, &key)) != LY_OK || key == NULL)
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
	json_decref(o);
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
