/*
 * ca/event.c — audit entries for events that change no other state: a
 * request that ca-server's engine refused (ipc/engine.c) is recorded with
 * the identity the front claimed, so that a hostile front leaves a trace.
 */
#include "config.h"

#include "ca/extern.h"
#include "ca/store.h"
#include "util/util.h"

struct event_arg {
	const char	*actor;
	const char	*action;
	const char	*detail;
};

static int
event_write(struct store_txn *txn, void *arg)
{
	const struct event_arg *a = arg;

	return store_audit_append(txn, a->actor, a->action, a->detail);
}

int
ca_audit(struct ca *ca, const char *actor, const char *action,
    const char *detail)
{
	struct event_arg a = { actor, action, detail };

	if (ca == NULL || actor == NULL || action == NULL)
		return ly_fail(LY_ERR_ARG, "ca_audit: bad arguments");
	return commit_write(ca, event_write, &a);
}
