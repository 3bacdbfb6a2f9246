/*
 * util/err.c — the error table and the per-thread error detail.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "util/util.h"

static const struct {
	const char	*code;
	const char	*text;
} errtab[LY_ERR_MAX + 1] = {
	{ "ok",			"success" },
	{ "internal",		"internal error" },
	{ "alloc",		"out of memory" },
	{ "bad_argument",	"invalid argument" },
	{ "io",			"file system error" },
	{ "config",		"configuration error" },
	{ "hsm_unavailable",	"HSM unavailable or failed" },
	{ "hsm_pin",		"HSM PIN missing, unreadable or wrong" },
	{ "not_found",		"not found" },
	{ "exists",		"already exists" },
	{ "store",		"certificate store error" },
	{ "store_full",		"certificate store is full" },
	{ "bad_csr",		"malformed certificate signing request" },
	{ "csr_signature",	"CSR signature does not verify" },
	{ "key_policy",		"key type or size not allowed" },
	{ "bad_identity",	"identity malformed or not allowed" },
	{ "policy",		"request not allowed by the profile" },
	{ "bad_state",		"not allowed in the current state" },
	{ "audit_broken",	"audit log chain is broken" },
	{ "too_large",		"input too large" },
	{ "bad_profile",	"unknown profile" },
	{ "bad_input",		"malformed input" },
	{ "lint",		"to-be-signed object violates a rule" },
	{ "token",		"enrollment token refused" },
	{ "identity_disabled",	"the identity is disabled" },
	{ "engine_unavailable",	"the signing engine is unavailable" },
};

static _Thread_local char detail[512];

static int
slot(int r)
{
	if (r > 0 || r < -LY_ERR_MAX)
		return 1;	/* internal */
	return -r;
}

const char *
ly_strerror(int r)
{
	return errtab[slot(r)].text;
}

const char *
ly_errcode(int r)
{
	return errtab[slot(r)].code;
}

int
ly_fail(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return r;
}

const char *
ly_errdetail(void)
{
	return detail;
}

void
ly_errclear(void)
{
	detail[0] = '\0';
}
