/*
 * enroll/api.c — the JSON enrollment API:
 *   POST /api/v1/enroll  {"token": "...", "csr": "<PEM>"}
 *   POST /api/v1/reissue {"csr": "<PEM>"} with the client certificate
 * Both answer 200 {"certificate", "chain": [issuing, root], "serial",
 * "not_after"}. Unknown fields and wrong types are 400 bad_request.
 *   GET  /api/v1/reissue with the client certificate: 200 {"serial",
 * "not_after", "allowed_after", "status"}, where a reissue stands.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "enroll/extern.h"
#include "util/util.h"

/* A string as a JSON value; caller frees. NULL on failure. */
static char *
api_json_string(const char *s)
{
	json_t *j;
	char *out;

	if ((j = json_string(s)) == NULL)
		return NULL;
	out = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(j);
	return out;
}

/*
 * The 200 answer with the new certificate and the chain: {"certificate",
 * "chain", "not_after", "serial"}, byte for byte what json_dumps() with
 * JSON_COMPACT | JSON_SORT_KEYS writes. Each value is encoded by jansson;
 * the chain's, the same in every answer, once by enroll_new().
 */
static int
api_cert_reply(struct enroll *e, struct enroll_response *resp,
    const struct ca_issued *is)
{
	char *pem = NULL, *hex = NULL, *jpem = NULL, *jna = NULL;
	char *jhex = NULL, *body = NULL, na[21];
	const char *chain;
	size_t pemlen;
	int r = LY_ERR_ALLOC;

	ly_time_fmt(is->not_after, na);
	if ((chain = enroll_chain_json(e, is->slot)) == NULL)
		return enroll_error(resp, 500, "internal", "no chain for the "
		    "CA that signed the certificate");
	if (ly_pem_encode("CERTIFICATE", is->der, is->derlen, &pem,
	    &pemlen) != LY_OK ||
	    (hex = ca_serial_hex(&is->serial)) == NULL ||
	    (jpem = api_json_string(pem)) == NULL ||
	    (jna = api_json_string(na)) == NULL ||
	    (jhex = api_json_string(hex)) == NULL ||
	    asprintf(&body, "{\"certificate\":%s,\"chain\":%s,"
	    "\"not_after\":%s,\"serial\":%s}", jpem, chain, jna,
	    jhex) == -1) {
		body = NULL;
		goto out;
	}
	r = enroll_json_reply_text(resp, 200, body);
 out:
	free(pem);
	free(hex);
	free(jpem);
	free(jna);
	free(jhex);
	return r;
}

static int
api_enroll(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	struct enroll_body b;
	struct ca_issued is;
	char actor[96];
	int r;

	if (enroll_rl_refused(e, req, resp, &r))
		return r;
	r = enroll_body_read(req, ENROLL_BODY_ENROLL, resp, &b);
	if (r != LY_OK || b.json == NULL)
		return r;
	snprintf(actor, sizeof(actor), "enroll:%s",
	    req->client_addr != NULL ? req->client_addr : "-");
	memset(&is, 0, sizeof(is));
	r = e->ops->issue_token(e->arg, b.token, (const unsigned char *)b.csr,
	    strlen(b.csr), actor, &is);
	if (r == LY_ERR_TOKEN)
		r = enroll_token_error(e, req, resp, b.token, r);
	else if (r != LY_OK)
		r = enroll_ca_error(resp, r);
	else
		r = api_cert_reply(e, resp, &is);
	enroll_body_clear(&b);
	ca_issued_clear(&is);
	return r;
}

static int
api_reissue(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	struct store_cert *old = NULL;
	struct ca_issued is;
	struct enroll_body b;
	char actor[96], *hex = NULL;
	int r;

	memset(&is, 0, sizeof(is));
	memset(&b, 0, sizeof(b));

	if ((r = enroll_client(e, req, resp, &old)) != LY_OK || old == NULL)
		return r;
	r = enroll_body_read(req, ENROLL_BODY_REISSUE, resp, &b);
	if (r != LY_OK || b.json == NULL)
		goto out;
	if (enroll_reissue_allowed(e, old, resp) != 0)
		goto out;
	hex = ca_serial_hex(&old->serial);
	snprintf(actor, sizeof(actor), "reissue:%s", hex != NULL ? hex : "-");
	r = e->ops->reissue(e->arg, old, (const unsigned char *)b.csr,
	    strlen(b.csr), actor, &is);
	if (r == LY_ERR_STATE)
		r = enroll_error(resp, 403, "forbidden", "%s", ly_errdetail());
	else if (r != LY_OK)
		r = enroll_ca_error(resp, r);
	else
		r = api_cert_reply(e, resp, &is);
 out:
	free(hex);
	enroll_body_clear(&b);
	ca_issued_clear(&is);
	store_cert_free(old);
	return r;
}

/*
 * Where a reissue of the client certificate stands, so that its holder
 * can ask before it sends a CSR: "valid" (allowed from allowed_after on),
 * "revoked", "expired" or "superseded" (with superseded_by). A revoked,
 * expired or superseded certificate is answered too, since the point is
 * to tell its holder why a reissue would be refused. With no threshold
 * configured, allowed_after is notBefore. Nothing is written.
 */
static int
api_window(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	struct store_cert *rec = NULL;
	const char *status;
	char *hex = NULL, *next = NULL, na[21], aa[21];
	time_t after;
	json_t *o = NULL;
	int r;

	if ((r = enroll_client_find(e, req, resp, &rec)) != LY_OK ||
	    rec == NULL)
		return r;
	if (enroll_reissue_after(e, rec, resp, &after) != 0)
		goto out;
	if (rec->status == STORE_REVOKED)
		status = "revoked";
	else if (rec->not_after <= ly_now())
		status = "expired";
	else if (!ca_serial_is_zero(&rec->superseded_by))
		status = "superseded";
	else
		status = "valid";
	ly_time_fmt((time_t)rec->not_after, na);
	ly_time_fmt(after != 0 ? after : (time_t)rec->not_before, aa);
	r = LY_ERR_ALLOC;
	if ((hex = ca_serial_hex(&rec->serial)) == NULL ||
	    (o = json_pack("{s:s, s:s, s:s, s:s}", "serial", hex,
	    "not_after", na, "allowed_after", aa, "status", status)) == NULL)
		goto out;
	if (strcmp(status, "superseded") == 0 &&
	    ((next = ca_serial_hex(&rec->superseded_by)) == NULL ||
	    json_object_set_new(o, "superseded_by", json_string(next)) != 0))
		goto out;
	r = enroll_json_reply(resp, 200, o);
	o = NULL;	/* enroll_json_reply took it */
 out:
	json_decref(o);
	free(hex);
	free(next);
	store_cert_free(rec);
	return r;
}

int
api_handle(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	if (strcmp(req->path, "/api/v1/reissue") == 0) {
		if (strcmp(req->method, "GET") == 0)
			return api_window(e, req, resp);
		if (strcmp(req->method, "POST") == 0)
			return api_reissue(e, req, resp);
		return enroll_method_error(resp, "GET, POST");
	}
	if (strcmp(req->method, "POST") != 0)
		return enroll_method_error(resp, "POST");
	return api_enroll(e, req, resp);
}
