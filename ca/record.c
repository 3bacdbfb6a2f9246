/*
 * ca/record.c — the durable writes of an issuance: the serial reserved
 * before the HSM signs (with the one-time token's claim), and the
 * certificate stored over its reservation afterwards (with its
 * pre-signed OCSP response, the record it supersedes, the token's use
 * and the audit entry), each in one transaction of the group commit
 * (commit.c): concurrent issuances share one durable transaction, each
 * in a nested one.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ca/extern.h"
#include "ca/ops.h"
#include "util/util.h"

/* How often a colliding serial is redrawn before giving up. */
#define SERIAL_TRIES	8

struct reserve_arg {
	const struct store_cert	*rec;
	const unsigned char	*tok;
	int			 collision;	/* the serial was taken */
};

/* commit_fn of ca_reserve(): the serial and the token's claim, or neither. */
static int
reserve_write(struct store_txn *txn, void *arg)
{
	struct reserve_arg *a = arg;
	int r;

	/* Every door issues through here: a disabled identity stops here. */
	if ((r = ca_identity_enabled(txn, a->rec->identity)) != LY_OK)
		return r;
	if ((r = store_cert_reserve(txn, a->rec)) != LY_OK) {
		a->collision = r == LY_ERR_EXISTS;
		return r;
	}
	if (a->tok != NULL)
		return token_claim(txn, a->tok, &a->rec->serial);
	return LY_OK;
}

/*
 * Draws a fresh serial and records it durably as reserved. rec->serial is
 * set on success; the other fields of rec are written as given. tok, if
 * not NULL, is the SHA-256 of a one-time token, claimed for the serial in
 * the same transaction: of concurrent uses one gets here, also when
 * several share a group commit (each claim sees the ones before it in the
 * batch, and the refused one's nested transaction is undone).
 */
int
ca_reserve(struct ca *ca, struct store_cert *rec, const unsigned char *tok)
{
	struct reserve_arg a;
	int i, r = LY_ERR_INTERNAL;

	rec->status = STORE_RESERVED;
	rec->created = ly_now();
	for (i = 0; i < SERIAL_TRIES; i++) {
		if ((r = ca_serial_new(&rec->serial)) != LY_OK)
			return r;
		memset(&a, 0, sizeof(a));
		a.rec = rec;
		a.tok = tok;
		if ((r = commit_write(ca, reserve_write, &a)) == LY_OK ||
		    !a.collision)
			return r;
		ly_log(LY_LOG_WARN, "serial collision, drawing again");
	}
	return ly_fail(LY_ERR_INTERNAL, "no free serial after %d draws",
	    SERIAL_TRIES);
}

/*
 * Stores a signed certificate over its reservation, with the record it
 * supersedes (old, may be NULL) and the audit entry, in one durable
 * transaction. rec->der is set from x for the duration of the call.
 */
int
ca_record(struct ca *ca, struct store_cert *rec, X509 *x,
    struct store_cert *old, const char *actor, const char *action)
{
	unsigned char *der = NULL;
	int derlen, r;

	if ((derlen = i2d_X509(x, &der)) <= 0)
		return LY_ERR_INTERNAL;
	r = ca_record_der(ca, rec, der, (size_t)derlen, old, NULL, actor,
	    action);
	OPENSSL_free(der);
	return r;
}

struct record_arg {
	const struct store_cert	*rec;
	const struct store_cert	*old;
	const unsigned char	*tok;
	const unsigned char	*ocsp;
	size_t			 ocsplen;
	const char		*actor;
	const char		*action;
	const char		*detail;
};

/*
 * Marks old as superseded by serial, from its record as it is now: the
 * copy the caller read before signing may be stale. A revocation or
 * another reissue that landed meanwhile wins, and this issuance is
 * refused (its serial stays reserved, its certificate is never returned),
 * so a reissue can neither undo a revocation nor give one certificate two
 * successors.
 */
static int
supersede(struct store_txn *txn, const struct store_cert *old,
    const struct ca_serial *serial)
{
	struct store_cert *cur = NULL;
	int r;

	if ((r = store_cert_get(txn, &old->serial, &cur)) != LY_OK)
		return r;
	if (cur->status != STORE_VALID)
		r = ly_fail(LY_ERR_STATE, "the certificate was revoked while "
		    "its successor was signed");
	else if (!ca_serial_is_zero(&cur->superseded_by))
		r = ly_fail(LY_ERR_STATE, "the certificate was already "
		    "superseded");
	else {
		cur->superseded_by = *serial;
		r = store_cert_put(txn, cur);
	}
	store_cert_free(cur);
	return r;
}

/* commit_fn of ca_record_der(): everything an issuance stores, or none of it. */
static int
record_write(struct store_txn *txn, void *arg)
{
	const struct record_arg *a = arg;
	int r;

	/* Disabled while the HSM signed: the certificate is never handed out. */
	if ((r = ca_identity_enabled(txn, a->rec->identity)) != LY_OK ||
	    (r = store_cert_put(txn, a->rec)) != LY_OK)
		return r;
	if (a->ocsp != NULL &&
	    (r = store_ocsp_put(txn, &a->rec->serial, a->ocsp,
	    a->ocsplen)) != LY_OK)
		return r;
	if (a->old != NULL && (r = supersede(txn, a->old, &a->rec->serial)) !=
	    LY_OK)
		return r;
	if ((r = store_audit_append(txn, a->actor, a->action,
	    a->detail)) != LY_OK)
		return r;
	if (a->tok != NULL)
		return token_use(txn, a->tok, &a->rec->serial, a->actor);
	return LY_OK;
}

/*
 * As ca_record(), for the certificate's DER (borrowed); tok, if not NULL,
 * is the claimed token it marks used.
 */
int
ca_record_der(struct ca *ca, struct store_cert *rec, const unsigned char *der,
    size_t derlen, struct store_cert *old, const unsigned char *tok,
    const char *actor, const char *action)
{
	struct record_arg a;
	unsigned char *ocsp = NULL;
	size_t ocsplen = 0;
	char *detail = NULL;
	int r;

	rec->status = STORE_VALID;
	/* The store only reads it; the record does not own it. */
	rec->der = (unsigned char *)der;
	rec->derlen = derlen;
	if ((detail = ca_audit_detail_cert(rec)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	/* Signed before the write transaction: the HSM is slow, the writer lock is shared. */
	if (ca->presign != NULL &&
	    (r = ca->presign(ca->presign_arg, rec, &ocsp, &ocsplen)) != LY_OK)
		goto out;
	if (old != NULL)
		old->superseded_by = rec->serial;
	memset(&a, 0, sizeof(a));
	a.rec = rec;
	a.old = old;
	a.tok = tok;
	a.ocsp = ocsp;
	a.ocsplen = ocsplen;
	a.actor = actor;
	a.action = action;
	a.detail = detail;
	r = commit_write(ca, record_write, &a);
 out:
	rec->der = NULL;
	rec->derlen = 0;
	free(ocsp);
	free(detail);
	return r;
}
