/*
 * enroll/body.c — the one door for the JSON API's request bodies: bytes
 * in, a checked struct out. Every handler of enroll/api.c and
 * enroll/admin.c that takes a body goes through enroll_body_parse(), so
 * one function meets the untrusted JSON (fuzzed by
 * tests/fuzz/fuzz_enroll_body.c) and the handlers see only strings.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "util/util.h"
#include "enroll/extern.h"

int
enroll_body_parse(const unsigned char *body, size_t len,
    enum enroll_body_kind kind, struct enroll_body *bp)
{
	struct enroll_body b;
	json_error_t err;
	json_t *o;
	int r;

	if (len > ENROLL_BODY_MAX)
		return ly_fail(LY_ERR_TOO_LARGE, "body over %d bytes",
		    ENROLL_BODY_MAX);
	if (len == 0)
		return ly_fail(LY_ERR_BAD_INPUT, "body is not JSON: empty");
	/* A duplicate member would let two readers see two values. */
	if ((o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES,
	    &err)) == NULL)
		return ly_fail(LY_ERR_BAD_INPUT, "body is not JSON: %s",
		    err.text);
	memset(&b, 0, sizeof(b));
	if (!json_is_object(o)) {
		r = ly_fail(LY_ERR_BAD_INPUT, "body is not a JSON object");
		goto out;
	}
	/* JSON_STRICT: a member the kind does not take is refused too. */
	switch (kind) {
	case ENROLL_BODY_ENROLL:
		r = json_unpack_ex(o, &err, JSON_STRICT, "{s:s, s:s}",
		    "token", &b.token, "csr", &b.csr);
		break;
	case ENROLL_BODY_REISSUE:
		r = json_unpack_ex(o, &err, JSON_STRICT, "{s:s}",
		    "csr", &b.csr);
		break;
	case ENROLL_BODY_TOKEN:
		r = json_unpack_ex(o, &err, JSON_STRICT, "{s:s, s:s, s?s}",
		    "profile", &b.profile, "identity", &b.identity,
		    "ttl", &b.ttl);
		break;
	case ENROLL_BODY_REVOKE:
		r = json_unpack_ex(o, &err, JSON_STRICT, "{s?s}",
		    "reason", &b.reason);
		break;
	case ENROLL_BODY_DISABLE:
		r = json_unpack_ex(o, &err, JSON_STRICT, "{s?s, s?s, s?s, s?s}",
		    "identity", &b.identity, "spiffe", &b.spiffe, "dns", &b.dns,
		    "revoke", &b.revoke);
		break;
	case ENROLL_BODY_ENABLE:
		r = json_unpack_ex(o, &err, JSON_STRICT, "{s?s, s?s, s?s}",
		    "identity", &b.identity, "spiffe", &b.spiffe, "dns", &b.dns);
		break;
	case ENROLL_BODY_ROLLOVER:
		r = json_unpack_ex(o, &err, JSON_STRICT, "{s?s}", "at", &b.at);
		break;
	default:
		r = ly_fail(LY_ERR_ARG, "unknown body kind %d", (int)kind);
		goto out;
	}
	if (r != 0) {
		r = ly_fail(LY_ERR_BAD_INPUT, "%s", err.text);
		goto out;
	}
	if ((kind == ENROLL_BODY_DISABLE || kind == ENROLL_BODY_ENABLE) &&
	    (b.identity != NULL) + (b.spiffe != NULL) + (b.dns != NULL) != 1) {
		r = ly_fail(LY_ERR_BAD_INPUT, "exactly one of identity, spiffe "
		    "and dns");
		goto out;
	}
	b.json = o;
	o = NULL; /* transferred */
	*bp = b;
	r = LY_OK;
 out:
	json_decref(o);
	return r;
}

void
enroll_body_clear(struct enroll_body *b)
{
	if (b == NULL)
		return;
	json_decref(b->json);
	memset(b, 0, sizeof(*b));
}
