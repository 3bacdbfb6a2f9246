/*
 * enroll/local.c — the engine operations of enroll/ done in this process
 * with ca/ (enroll_new()): what ca-server's engine process also does,
 * after it has checked the request again (ipc/engine.c).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "crl/crl.h"
#include "ca/ops.h"
#include "enroll/extern.h"
#include "util/util.h"

static int
local_issue_token(void *arg, const char *token, const unsigned char *csr,
    size_t csrlen, const char *actor, struct ca_issued *out)
{
	return ca_issue_token_der(arg, token, csr, csrlen, actor, out);
}

static int
local_reissue(void *arg, const struct store_cert *client,
    const unsigned char *csr, size_t csrlen, const char *actor,
    struct ca_issued *out)
{
	return ca_reissue_der(arg, &client->serial, csr, csrlen, actor, out);
}

static int
local_token_create(void *arg, const struct store_cert *admin,
    const char *profile, const char *identity, long ttl, const char *actor,
    char **tokenp, char **idp)
{
	(void)admin;
	return ca_token_create(arg, profile, identity, ttl, actor, tokenp,
	    idp);
}

static int
local_token_revoke(void *arg, const struct store_cert *admin, const char *id,
    const char *actor)
{
	(void)admin;
	return ca_token_revoke(arg, id, actor);
}

static int
local_revoke(void *arg, const struct store_cert *admin,
    const struct ca_serial *serial, int reason, const char *actor)
{
	(void)admin;
	return ca_revoke(arg, serial, reason, 0, actor);
}

static int
local_crl_publish(void *arg, const struct store_cert *admin,
    const char *actor)
{
	(void)admin;
	return crl_publish_all(arg, actor, NULL);
}

static int
local_identity_disable(void *arg, const struct store_cert *admin,
    const char *identity, int reason, const char *actor, size_t *revokedp)
{
	(void)admin;
	return ca_identity_disable(arg, identity, reason, actor, revokedp);
}

static int
local_identity_enable(void *arg, const struct store_cert *admin,
    const char *identity, const char *actor)
{
	(void)admin;
	return ca_identity_enable(arg, identity, actor);
}

static int
local_issuer_rollover(void *arg, const struct store_cert *admin,
    const char *issuer, time_t at, const char *actor, char *name)
{
	int slot, r;

	(void)admin;
	if ((r = ca_issuer_rollover(arg, issuer, at, actor, &slot)) != LY_OK)
		return r;
	snprintf(name, CONF_NAME_MAX, "%s", ca_slot_name(arg, slot));
	/* Its CRLs exist before anything it issues names them. */
	return crl_publish_due(arg, CRL_PUBLISH_MISSING, actor, "rollover");
}

const struct enroll_engine enroll_local = {
	.issue_token = local_issue_token,
	.reissue = local_reissue,
	.token_create = local_token_create,
	.token_revoke = local_token_revoke,
	.revoke = local_revoke,
	.crl_publish = local_crl_publish,
	.identity_disable = local_identity_disable,
	.identity_enable = local_identity_enable,
	.issuer_rollover = local_issuer_rollover,
};
