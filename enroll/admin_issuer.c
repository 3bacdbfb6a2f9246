/*
 * enroll/admin_issuer.c — the admin API's issuing CAs, for an admin
 * client certificate (enroll/admin.c checks it):
 *   GET    /api/v1/issuers		→ {"issuers": [every CA: name, issuer
 *					   section, generation, state, root,
 *					   not_after, activates]}
 *   POST   /api/v1/issuers/<section>/rollover {"at": RFC 3339 (optional)}
 *					→ 201 {"issuer", "name": the new CA}
 * The rollover is the engine's (ca_issuer_rollover(), audited with the
 * admin's identity as actor); the list is read here from the store.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "enroll/extern.h"
#include "util/util.h"

static json_t *
issuers_json(struct ca *ca)
{
	json_t *a = json_array();
	time_t now = ly_now(), na;
	int slot;

	(void)ca_slots_sync(ca);	/* an admin sees what was just made */
	for (slot = 0; a != NULL && slot < ca_nslots(ca); slot++) {
		if (ly_asn1_time(X509_get0_notAfter(ca_cert(ca, slot)), &na) !=
		    LY_OK)
			na = 0;
		json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:s, s:b, "
		    "s:I, s:I}", "name", ca_slot_name(ca, slot), "issuer",
		    ca_slot_issuer(ca, slot), "generation",
		    (int)ca_slot_gen(ca, slot), "state",
		    ca_slot_state_name(ca_slot_state(ca, slot, now)), "root",
		    ca_slot_is_root(ca, slot), "not_after", (json_int_t)na,
		    "activates", (json_int_t)ca_slot_activates(ca, slot)));
	}
	return a;
}

int
admin_issuers(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp, const char *rest,
    const struct store_cert *me, const char *actor)
{
	struct enroll_body b;
	char issuer[CONF_NAME_MAX], name[CONF_NAME_MAX];
	const char *slash;
	time_t at = 0;
	json_t *a;
	int r;

	if (rest[0] == '\0') {
		if (strcmp(req->method, "GET") != 0)
			return enroll_method_error(resp, "GET");
		if ((a = issuers_json(e->ca)) == NULL)
			return LY_ERR_ALLOC;
		return enroll_json_reply(resp, 200, json_pack("{s:o}",
		    "issuers", a));
	}
	slash = strchr(rest + 1, '/');
	if (slash == NULL || strcmp(slash, "/rollover") != 0 ||
	    (size_t)(slash - rest - 1) >= sizeof(issuer) || slash == rest + 1)
		return enroll_error(resp, 404, "not_found", "no such endpoint");
	if (strcmp(req->method, "POST") != 0)
		return enroll_method_error(resp, "POST");
	snprintf(issuer, sizeof(issuer), "%.*s", (int)(slash - rest - 1),
	    rest + 1);
	memset(&b, 0, sizeof(b));
	if (req->bodylen > 0) {
		r = enroll_body_read(req, ENROLL_BODY_ROLLOVER, resp, &b);
		if (r != LY_OK || b.json == NULL)
			return r;
		if (b.at != NULL && ly_time_parse(b.at, &at) != LY_OK) {
			enroll_body_clear(&b);
			return enroll_error(resp, 400, "bad_request", "at: "
			    "expected a time like 2027-01-31T00:00:00Z");
		}
	}
	enroll_body_clear(&b);
	if (conf_issuer(ca_conf(e->ca), issuer) == NULL)
		return enroll_error(resp, 404, "not_found", "no issuer %s in "
		    "ca.conf", issuer);
	r = e->ops->issuer_rollover(e->arg, me, issuer, at, actor, name);
	if (r == LY_ERR_STATE)
		return enroll_error(resp, 409, "conflict", "%s", ly_errdetail());
	if (r != LY_OK)
		return enroll_ca_error(resp, r);
	return enroll_json_reply(resp, 201, json_pack("{s:s, s:s}", "issuer",
	    issuer, "name", name));
}
