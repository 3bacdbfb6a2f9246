/*
 * enroll/api.c — the JSON enrollment API:
 *   POST /api/v1/enroll  {"token": "...", "csr": "<PEM>"}
 *   POST /api/v1/reissue {"csr": "<PEM>"} with the client certificate
 * Both answer 200 {"certificate", "chain": [issuing, root], "serial",
 * "not_after"}. Unknown fields and wrong types are 400 bad_request.
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
	int r = LY_ERR_ALLOC;

	ly_time_fmt(is->not_after, na);
	if ((pem = enroll_pem(is->der, is->derlen)) == NULL ||
	    (hex = ca_serial_hex(&is->serial)) == NULL ||
	    (jpem = api_json_string(pem)) == NULL ||
	    (jna = api_json_string(na)) == NULL ||
	    (jhex = api_json_string(hex)) == NULL ||
	    asprintf(&body, "{\"certificate\":%s,\"chain\":%s,"
	    "\"not_after\":%s,\"serial\":%s}", jpem, e->chain_json, jna,
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
	json_t *o = NULL;
	json_error_t err;
	const char *token, *csr;
	struct ca_issued is;
	char actor[96];
	int r;

	if (enroll_rl_refused(e, req, resp, &r))
		return r;
	if ((r = enroll_json_body(req, resp, &o)) != LY_OK || o == NULL)
		return r;
	if (json_unpack_ex(o, &err, JSON_STRICT, "{s:s, s:s}", "token", &token,
	    "csr", &csr) != 0) {
		json_decref(o);
		return enroll_error(resp, 400, "bad_request", "%s", err.text);
	}
	snprintf(actor, sizeof(actor), "enroll:%s",
	    req->client_addr != NULL ? req->client_addr : "-");
	memset(&is, 0, sizeof(is));
	r = ca_issue_token_der(e->ca, token, (const unsigned char *)csr,
	    strlen(csr), actor, &is);
	if (r == LY_ERR_TOKEN)
		r = enroll_token_error(e, req, resp, token, r);
	else if (r != LY_OK)
		r = enroll_ca_error(resp, r);
	else
		r = api_cert_reply(e, resp, &is);
	json_decref(o);
	ca_issued_clear(&is);
	return r;
}

static int
api_reissue(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	struct store_cert *old = NULL;
	struct ca_issued is;
	json_t *o = NULL;
	json_error_t err;
	const char *csr;
	char actor[96], *hex = NULL;
	int r;

	memset(&is, 0, sizeof(is));

	if ((r = enroll_client(e, req, resp, &old)) != LY_OK || old == NULL)
		return r;
	if ((r = enroll_json_body(req, resp, &o)) != LY_OK || o == NULL)
		goto out;
	if (json_unpack_ex(o, &err, JSON_STRICT, "{s:s}", "csr", &csr) != 0) {
		r = enroll_error(resp, 400, "bad_request", "%s", err.text);
		goto out;
	}
	if (enroll_reissue_allowed(e, old, resp) != 0)
		goto out;
	hex = ca_serial_hex(&old->serial);
	snprintf(actor, sizeof(actor), "reissue:%s", hex != NULL ? hex : "-");
	r = ca_reissue_der(e->ca, &old->serial, (const unsigned char *)csr,
	    strlen(csr), actor, &is);
	if (r == LY_ERR_STATE)
		r = enroll_error(resp, 403, "forbidden", "%s", ly_errdetail());
	else if (r != LY_OK)
		r = enroll_ca_error(resp, r);
	else
		r = api_cert_reply(e, resp, &is);
 out:
	free(hex);
	json_decref(o);
	ca_issued_clear(&is);
	store_cert_free(old);
	return r;
}

int
api_handle(struct enroll *e, const struct enroll_request *req,
    struct enroll_response *resp)
{
	if (strcmp(req->method, "POST") != 0)
		return enroll_method_error(resp, "POST");
	if (strcmp(req->path, "/api/v1/enroll") == 0)
		return api_enroll(e, req, resp);
	return api_reissue(e, req, resp);
}
