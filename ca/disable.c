/*
 * ca/disable.c — identities an admin disables: a disabled identity gets
 * no certificate by any door (token, EST, reissue, admin issue), because
 * the check runs in the engine's own issuing transactions (ca/ca.c), and
 * optionally has all its valid certificates revoked at once, in the
 * transaction that disables it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"

int
ca_identity_parse_key(const struct conf *conf, const char *kind,
    const char *value, char **keyp)
{
	json_t *o = NULL;
	json_error_t je;
	const char *role = NULL;
	char *k = NULL;
	int r;

	if (value == NULL || kind == NULL)
		return ly_fail(LY_ERR_ARG, "no identity");
	if (strcmp(kind, "identity") == 0) {
		/* An admin's identity carries the role its profile forces. */
		if ((o = json_loads(value, JSON_REJECT_DUPLICATES, &je)) !=
		    NULL && json_is_string(json_object_get(o, "role")))
			role = json_string_value(json_object_get(o, "role"));
		r = ca_identity_json_canon(conf, value, strlen(value), role, &k);
		json_decref(o);
		if (r != LY_OK)
			return r;
	} else if (strcmp(kind, "spiffe") == 0) {
		if ((r = ca_identity_spiffe_check(conf, value)) != LY_OK)
			return r;
		if ((k = strdup(value)) == NULL)
			return LY_ERR_ALLOC;
	} else if (strcmp(kind, "dns") == 0) {
		if ((k = strdup(value)) == NULL)
			return LY_ERR_ALLOC;
		if ((r = ca_identity_dns_check(k)) != LY_OK) {
			free(k);
			return r;
		}
	} else
		return ly_fail(LY_ERR_ARG, "identity kind %s unknown", kind);
	*keyp = k;
	return LY_OK;
}

int
ca_identity_enabled(struct store_txn *txn, const char *identity)
{
	const char *v;
	size_t len;
	int r;

	if (identity == NULL)
		return LY_OK;
	if ((r = store_disabled_get(txn, identity, &v, &len)) ==
	    LY_ERR_NOT_FOUND)
		return LY_OK;
	if (r != LY_OK)
		return r;
	return ly_fail(LY_ERR_IDENTITY_DISABLED, "the identity %s is "
	    "disabled", identity);
}

struct disable_arg {
	struct store_txn	*txn;
	struct ca_serial	*serials;
	size_t			 n, cap;
};

/* Collects the valid certificates of the identity (revoked after the walk). */
static int
valid_cb(const struct store_cert *c, void *arg)
{
	struct disable_arg *a = arg;
	struct ca_serial *ns;

	if (c->status != STORE_VALID || c->not_after <= ly_now())
		return 0;
	if (a->n == a->cap) {
		size_t cap = a->cap == 0 ? 16 : a->cap * 2;

		if ((ns = reallocarray(a->serials, cap, sizeof(*ns))) == NULL)
			return LY_ERR_ALLOC;
		a->serials = ns;
		a->cap = cap;
	}
	a->serials[a->n++] = c->serial;
	return 0;
}

static int
revoke_all(struct store_txn *txn, const char *identity, int reason,
    const char *actor, size_t *np)
{
	struct disable_arg a;
	struct ca_revocation rv;
	struct store_cert *rec;
	size_t i;
	int applied, r;

	memset(&a, 0, sizeof(a));
	if ((r = store_cert_by_identity(txn, identity, valid_cb, &a)) != LY_OK)
		goto out;
	for (i = 0; i < a.n; i++) {
		if ((r = store_cert_get(txn, &a.serials[i], &rec)) != LY_OK)
			goto out;
		memset(&rv, 0, sizeof(rv));
		rv.serial = a.serials[i];
		rv.slot = rec->ca;
		rv.reason = reason;
		rv.revoked_at = ly_now();
		store_cert_free(rec);
		if ((r = ca_revocation_apply(txn, &rv, actor,
		    "identity-disable", &applied)) != LY_OK)
			goto out;
	}
	if (a.n > 0 && (r = ca_revocations_add(txn, a.n)) != LY_OK)
		goto out;
	*np = a.n;
	r = LY_OK;
 out:
	free(a.serials);
	return r;
}

int
ca_identity_disable(struct ca *ca, const char *identity, int reason,
    const char *actor, size_t *revokedp)
{
	struct store_txn *txn = NULL;
	json_t *o = NULL;
	const char *v;
	char *val = NULL, ts[21];
	size_t len, n = 0;
	int r, was;

	if (reason < -2 || reason > 10 || reason == 7 || reason == 8)
		return ly_fail(LY_ERR_ARG, "reason code %d cannot be used to "
		    "revoke", reason);
	if ((r = store_txn_begin(ca_store(ca), 1, &txn)) != LY_OK)
		return r;
	r = store_disabled_get(txn, identity, &v, &len);
	if (r != LY_OK && r != LY_ERR_NOT_FOUND)
		goto out;
	was = r == LY_OK;
	if (was && reason == -2) {
		r = ly_fail(LY_ERR_STATE, "the identity is disabled already");
		goto out;
	}
	if (reason != -2 &&
	    (r = revoke_all(txn, identity, reason, actor, &n)) != LY_OK)
		goto out;
	ly_time_fmt(ly_now(), ts);
	r = LY_ERR_ALLOC;
	if ((o = json_pack("{s:s, s:s, s:s, s:I}", "identity", identity,
	    "disabled_at", ts, "by", actor, "revoked", (json_int_t)n)) ==
	    NULL)
		goto out;
	if (reason != -2)
		json_object_set_new(o, "reason",
		    json_string(ca_reason_name(reason)));
	if ((val = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	if ((!was && (r = store_disabled_put(txn, identity, val)) != LY_OK) ||
	    (r = store_audit_append(txn, actor, "identity-disable", val)) !=
	    LY_OK)
		goto out;
	if ((r = store_txn_commit(txn)) == LY_OK && revokedp != NULL)
		*revokedp = n;
	txn = NULL;
 out:
	store_txn_abort(txn);
	json_decref(o);
	free(val);
	return r;
}

int
ca_identity_enable(struct ca *ca, const char *identity, const char *actor)
{
	struct store_txn *txn = NULL;
	json_t *o = NULL;
	char *detail = NULL;
	int r;

	if ((o = json_pack("{s:s}", "identity", identity)) == NULL ||
	    (detail = json_dumps(o, JSON_COMPACT)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = store_txn_begin(ca_store(ca), 1, &txn)) != LY_OK)
		goto out;
	if ((r = store_disabled_del(txn, identity)) != LY_OK ||
	    (r = store_audit_append(txn, actor, "identity-enable", detail)) !=
	    LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
 out:
	store_txn_abort(txn);
	json_decref(o);
	free(detail);
	return r;
}

struct list_arg {
	json_t	*array;
};

static int
list_cb(const char *val, size_t len, void *arg)
{
	json_t *o;

	if ((o = json_loadb(val, len, 0, NULL)) == NULL)
		return ly_fail(LY_ERR_STORE, "disabled: corrupt record");
	return json_array_append_new(arg, o) == 0 ? 0 : LY_ERR_ALLOC;
}

int
ca_identity_disabled_list(struct ca *ca, json_t **arrayp)
{
	struct store_txn *txn = NULL;
	json_t *a;
	int r;

	if ((a = json_array()) == NULL)
		return LY_ERR_ALLOC;
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) == LY_OK)
		r = store_disabled_foreach(txn, list_cb, a);
	store_txn_abort(txn);
	if (r != LY_OK) {
		json_decref(a);
		return r;
	}
	*arrayp = a;
	return LY_OK;
}
