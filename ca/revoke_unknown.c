/*
 * ca/revoke_unknown.c — revocation records that have no certificate.
 *
 * After a restore, certificates issued between the backup and the loss
 * are unknown to the store. OCSP answers "unknown" for them (never
 * "good"), and the operator, or the restore from the published CRLs,
 * revokes them by serial: the store keeps a record of status revoked
 * with no DER, no identity, no profile and notAfter 0 (unknown, so tidy
 * never removes it), in the revoked index the CRLs are built from.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"

/*
 * XXX the meta key ca/ca.c bumps on every revocation (ca_revocations()
 * reads it); ca-server polls it to regenerate its CRLs. Written here as
 * ca.c writes it, big-endian 64 bits.
 */
#define META_REVOCATIONS	"revocations"

int
ca_revocations_add(struct store_txn *txn, uint64_t k)
{
	unsigned char buf[8];
	uint64_t n;
	int r;

	if ((r = ca_revocations(txn, &n)) != LY_OK)
		return r;
	ly_be64_put(buf, n + k);
	return store_meta_put(txn, META_REVOCATIONS, buf, sizeof(buf));
}

int
ca_revocation_apply(struct store_txn *txn, const struct ca_revocation *rv,
    const char *actor, const char *source, int *appliedp)
{
	struct store_cert *rec = NULL, nrec;
	json_t *o = NULL;
	char *hex = NULL, *detail = NULL;
	int known, r;

	*appliedp = 0;
	r = store_cert_get(txn, &rv->serial, &rec);
	if (r != LY_OK && r != LY_ERR_NOT_FOUND)
		return r;
	/* Never un-revoke, never move a revocation's date. */
	if (r == LY_OK && rec->status == STORE_REVOKED) {
		store_cert_free(rec);
		return LY_OK;
	}
	known = r == LY_OK;
	memset(&nrec, 0, sizeof(nrec));
	if (known)
		nrec = *rec;
	else {
		nrec.serial = rv->serial;
		nrec.ca = (uint8_t)rv->slot;
		nrec.created = ly_now();
		nrec.status = STORE_RESERVED;
		if ((r = store_cert_reserve(txn, &nrec)) != LY_OK)
			goto out;
	}
	nrec.status = STORE_REVOKED;
	nrec.reason = (int8_t)rv->reason;
	nrec.revoked_at = rv->revoked_at;
	nrec.invalidity = rv->invalidity;
	if ((r = store_cert_put(txn, &nrec)) != LY_OK)
		goto out;
	/* A stored "good" response must never be served again. */
	if (known && (r = store_ocsp_del(txn, &rv->serial)) != LY_OK &&
	    r != LY_ERR_NOT_FOUND)
		goto out;
	r = LY_ERR_ALLOC;
	if ((hex = ca_serial_hex(&rv->serial)) == NULL ||
	    (o = json_pack("{s:s, s:s, s:b, s:s}", "serial", hex, "reason",
	    ca_reason_name(rv->reason), "certificate", known, "source",
	    source)) == NULL ||
	    (detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	if ((r = store_audit_append(txn, actor, "revoke", detail)) != LY_OK)
		goto out;
	*appliedp = known ? 1 : 2;
	r = LY_OK;
 out:
	store_cert_free(rec);
	json_decref(o);
	free(hex);
	free(detail);
	return r;
}

int
ca_revoke_unknown(struct ca *ca, const struct ca_serial *serial, int slot,
    int reason, time_t revoked_at, time_t invalidity, const char *actor)
{
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	struct ca_revocation rv;
	int applied, r;

	if (reason < -1 || reason > 10 || reason == 7 || reason == 8)
		return ly_fail(LY_ERR_ARG, "reason code %d cannot be used "
		    "to revoke", reason);
	if (slot < 0 || slot >= ca_nslots(ca))
		return ly_fail(LY_ERR_ARG, "no such CA slot");
	if ((r = store_txn_begin(ca_store(ca), 1, &txn)) != LY_OK)
		return r;
	/* The check and the write in one write transaction. */
	if ((r = store_cert_get(txn, serial, &rec)) == LY_OK) {
		r = ly_fail(LY_ERR_EXISTS, "the store has a record for that "
		    "serial");
		goto out;
	}
	if (r != LY_ERR_NOT_FOUND)
		goto out;
	memset(&rv, 0, sizeof(rv));
	rv.serial = *serial;
	rv.slot = slot;
	rv.reason = reason;
	rv.revoked_at = revoked_at != 0 ? revoked_at : ly_now();
	rv.invalidity = invalidity;
	if ((r = ca_revocation_apply(txn, &rv, actor, "admin", &applied)) !=
	    LY_OK || (r = ca_revocations_add(txn, 1)) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
 out:
	store_cert_free(rec);
	store_txn_abort(txn);
	return r;
}
