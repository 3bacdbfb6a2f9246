/*
 * ca/revoke.c — revocation: reason codes, ca_revoke(), and the counter
 * of revocations that tells crl/ a CRL is due.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "ca/extern.h"
#include "util/util.h"

static const char *reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise",
};

int
ca_reason_parse(const char *s)
{
	int i;

	for (i = 0; i < (int)(sizeof(reasons) / sizeof(reasons[0])); i++)
		if (reasons[i] != NULL && strcasecmp(s, reasons[i]) == 0)
			return i;
	return -2;
}

const char *
ca_reason_name(int reason)
{
	if (reason < 0 || reason >= (int)(sizeof(reasons) / sizeof(reasons[0]))
	    || reasons[reason] == NULL)
		return "none";
	return reasons[reason];
}

#define META_REVOCATIONS	"revocations"

int
ca_revocations(struct store_txn *txn, uint64_t *np)
{
	const void *vp;
	size_t len;
	int r;

	if ((r = store_meta_get(txn, META_REVOCATIONS, &vp, &len)) ==
	    LY_ERR_NOT_FOUND) {
		*np = 0;
		return LY_OK;
	}
	if (r != LY_OK)
		return r;
	if (len != 8)
		return ly_fail(LY_ERR_STORE, "meta %s: corrupt", META_REVOCATIONS);
	*np = ly_be64_get(vp);
	return LY_OK;
}

/* The counter ca-server watches to regenerate CRLs after a revocation. */
static int
revocations_bump(struct store_txn *txn)
{
	unsigned char buf[8];
	uint64_t n;
	int r;

	if ((r = ca_revocations(txn, &n)) != LY_OK)
		return r;
	ly_be64_put(buf, n + 1);
	return store_meta_put(txn, META_REVOCATIONS, buf, sizeof(buf));
}

struct revoke_arg {
	const struct store_cert	*rec;
	const unsigned char	*ocsp;		/* NULL: delete the stale one */
	size_t			 ocsplen;
	const char		*actor;
	const char		*detail;
};

/* commit_fn of ca_revoke(): the check and the revocation, at once. */
static int
revoke_write(struct store_txn *txn, void *arg)
{
	const struct revoke_arg *a = arg;
	const struct ca_serial *serial = &a->rec->serial;
	struct store_cert *now = NULL;
	int r, st;

	/* Another writer may have revoked it since ca_revoke() read it. */
	if ((r = store_cert_get(txn, serial, &now)) != LY_OK)
		return r;
	st = now->status;
	store_cert_free(now);
	if (st != STORE_VALID)
		return ly_fail(LY_ERR_STATE, "already revoked");
	if ((r = store_cert_put(txn, a->rec)) != LY_OK ||
	    (r = revocations_bump(txn)) != LY_OK ||
	    (r = a->ocsp != NULL ? store_ocsp_put(txn, serial, a->ocsp,
	    a->ocsplen) : store_ocsp_del(txn, serial)) != LY_OK)
		return r;
	return store_audit_append(txn, a->actor, "revoke", a->detail);
}

int
ca_revoke(struct ca *ca, const struct ca_serial *serial, int reason,
    time_t invalidity, const char *actor)
{
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	struct revoke_arg a;
	unsigned char *ocsp = NULL;
	size_t ocsplen = 0;
	json_t *o = NULL;
	char *hex = NULL, *detail = NULL;
	int r, pr;

	/* removeFromCRL only appears in delta CRLs; 7 is unassigned. */
	if (reason < -1 || reason > 10 || reason == 7 || reason == 8)
		return ly_fail(LY_ERR_ARG, "reason code %d cannot be used "
		    "to revoke", reason);
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_cert_get(txn, serial, &rec);
	store_txn_abort(txn);
	txn = NULL;
	if (r != LY_OK) {
		if (r == LY_ERR_NOT_FOUND)
			ly_fail(r, "no certificate with that serial");
		goto out;
	}
	if (rec->status == STORE_REVOKED) {
		r = ly_fail(LY_ERR_STATE, "already revoked");
		goto out;
	}
	if (rec->status != STORE_VALID) {
		r = ly_fail(LY_ERR_STATE, "serial was %s but no certificate "
		    "was issued", ca_cert_status(rec));
		goto out;
	}
	rec->status = STORE_REVOKED;
	rec->reason = (int8_t)reason;
	rec->revoked_at = ly_now();
	rec->invalidity = invalidity;
	/*
	 * The revoked response is signed first; if the HSM cannot sign it
	 * now, the stale "good" response is removed in the same transaction
	 * so that nothing ever serves it again (OCSP then signs on demand).
	 */
	if (ca->presign != NULL &&
	    (pr = ca->presign(ca->presign_arg, rec, &ocsp, &ocsplen)) != LY_OK)
		ly_log(LY_LOG_WARN, "revoke: no pre-signed OCSP response (%s: "
		    "%s); the responder will sign on demand", ly_strerror(pr),
		    ly_errdetail());
	if ((hex = ca_serial_hex(serial)) == NULL ||
	    (o = json_pack("{s:s, s:s}", "serial", hex, "reason",
	    ca_reason_name(reason))) == NULL ||
	    (detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.rec = rec;
	a.ocsp = ocsp;
	a.ocsplen = ocsplen;
	a.actor = actor;
	a.detail = detail;
	r = commit_write(ca, revoke_write, &a);
 out:
	store_cert_free(rec);
	json_decref(o);
	free(ocsp);
	free(hex);
	free(detail);
	return r;
}
