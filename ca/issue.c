/*
 * ca/issue.c — issue and reissue: the one path from an authorisation
 * (an admin's request, a one-time token, a certificate being reissued)
 * to a certificate stored and handed out.
 *
 * The order of every issuance is the invariant of DESIGN.md section 3:
 *   1. the serial is reserved in a durable transaction,
 *   2. the HSM signs, the signature is verified with the CA's public key,
 *   3. the certificate and its audit entry are stored durably,
 *   4. only then is it handed to the caller.
 * A crash after 1 leaves a reserved serial that is never drawn again.
 * Steps 1 and 3 are ca/record.c's; step 2 is ca/sign.c's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "ca/ops.h"
#include "util/util.h"

void
ca_issued_clear(struct ca_issued *is)
{
	if (is == NULL)
		return;
	OPENSSL_free(is->der);
	memset(is, 0, sizeof(*is));
}


/*
 * The one CSR intake of the engine: the untrusted bytes are parsed
 * (ca_csr_parse()) and checked against the profile (ca_csr_check()) here
 * and nowhere else. *reqp and *keyp are set on success, freed by the
 * caller.
 */
static int
csr_intake(const struct conf_profile *p, const unsigned char *csr,
    size_t csrlen, X509_REQ **reqp, EVP_PKEY **keyp)
{
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	int r;

	if ((r = ca_csr_parse(csr, csrlen, &req, &key)) != LY_OK)
		return r;
	if ((r = ca_csr_check(p, req, key)) != LY_OK) {
		X509_REQ_free(req);
		EVP_PKEY_free(key);
		return r;
	}
	*reqp = req;
	*keyp = key;
	return LY_OK;
}

/*
 * The identity the certificate will carry: the request's, checked
 * against the profile and canonicalised, or for a reissue the one of the
 * certificate being reissued (the engine wrote it, so it is read back,
 * not checked again). *id is cleared by the caller.
 */
static int
issue_identity(struct ca *ca, const struct ca_issue_req *rq,
    struct ca_identity *id)
{
	const unsigned char *der;
	X509 *oldx;
	int r;

	if (rq->old == NULL)
		return ca_identity_check(ca->conf, rq->profile, rq->identity,
		    id);
	der = rq->old->der;
	if ((oldx = d2i_X509(NULL, &der, (long)rq->old->derlen)) == NULL)
		return ly_fail(LY_ERR_STORE, "stored certificate does not "
		    "parse");
	r = cert_identity_from(ca->conf, oldx, id);
	X509_free(oldx);
	return r;
}

/*
 * The validity of a leaf of p for days (0: the profile's default),
 * backdated against clock skew and clamped inside the issuing CA's own
 * validity (RFC 5280 6.1.3 would reject a leaf outliving its issuer).
 */
static int
issue_validity(struct ca *ca, int slot, const struct conf_profile *p,
    int days, time_t *nbp, time_t *nap)
{
	X509 *issuer = ca->certs[slot];
	time_t now = ly_now(), inb = 0, ina = 0;
	int r;

	if (days == 0)
		days = p->days;
	if (days < 0 || days > p->max_days)
		return ly_fail(LY_ERR_POLICY, "profile %s allows 1 to %d days, "
		    "not %d", p->name, p->max_days, days);
	if ((r = ly_asn1_time(X509_get0_notBefore(issuer), &inb)) != LY_OK ||
	    (r = ly_asn1_time(X509_get0_notAfter(issuer), &ina)) != LY_OK)
		return r;
	if (now >= ina)
		return ly_fail(LY_ERR_STATE, "the %s CA certificate has "
		    "expired", ca_slot_name(ca, slot));
	*nbp = now - CA_BACKDATE < inb ? inb : now - CA_BACKDATE;
	*nap = now + (time_t)days * 86400;
	/*
	 * The last resort only: ca-admin status and /metrics warn long
	 * before (ca_issuer_health()), and a rollover_before schedule
	 * rolls the issuer over before it comes to this.
	 */
	if (*nap > ina) {
		ly_log(LY_LOG_WARN, "%s: a %s certificate of %d days would "
		    "outlive the %s CA; cut to its notAfter: roll the issuer "
		    "over (ca-admin issuer rollover %s)", p->name, p->name,
		    days, ca_slot_name(ca, slot), ca_slot_issuer(ca, slot));
		*nap = ina;
	}
	return LY_OK;
}

/*
 * Steps 1 to 4 for a checked CSR (req, reqkey) and identity id; see
 * issue() for the rest.
 */
static int
issue_sign(struct ca *ca, const struct ca_issue_req *rq, X509_REQ *req,
    EVP_PKEY *reqkey, const struct ca_identity *id, struct ca_issued *out,
    X509 **certp)
{
	const struct conf_profile *p = rq->profile;
	struct store_cert *old = rq->old;
	const unsigned char *tok = rq->tok;
	struct store_cert rec;
	struct cert_spec spec;
	struct hsm_key *key;
	X509 *x = NULL, *y = NULL;
	X509_NAME *subject = NULL;
	unsigned char *der = NULL;
	time_t nb = 0, na = 0;
	int derlen, r = LY_ERR_INTERNAL, claimed = 0, slot;

	/* A rollover another process made counts from its commit on. */
	(void)ca_slots_sync(ca);
	/* ca/signer.c names the CA whose OCSP signer it certifies. */
	if (rq->slot > 0)
		slot = rq->slot;
	else if ((slot = ca_issuer_slot(ca, p->issuer, ly_now())) < 0)
		return ly_fail(LY_ERR_STATE, "the issuer %s of profile %s has "
		    "no CA yet: ca-admin issuer create %s", p->issuer, p->name,
		    p->issuer);
	if ((r = issue_validity(ca, slot, p, rq->days, &nb, &na)) != LY_OK)
		return r;
	/*
	 * Open the key before drawing a serial, so that a missing PIN or an
	 * absent token refuses the request without touching the store.
	 */
	if ((r = ca_key_get(ca, slot, &key)) != LY_OK)
		return r;
	memset(&rec, 0, sizeof(rec));
	rec.ca = (uint8_t)slot;
	rec.reason = -1;
	snprintf(rec.profile, sizeof(rec.profile), "%s", p->name);
	rec.identity = (char *)ca_identity_key(id);
	rec.not_before = nb;
	rec.not_after = na;
	if (old != NULL)
		rec.supersedes = old->serial;
	if ((r = ca_reserve(ca, &rec, tok)) != LY_OK)
		return r;
	claimed = tok != NULL;

	if ((subject = cert_leaf_subject(ca->conf, id, rq->cn)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memset(&spec, 0, sizeof(spec));
	spec.conf = ca->conf;
	spec.profile = p;
	spec.issuer = ca->certs[slot];
	spec.issuer_name = ca_slot_name(ca, slot);
	spec.crl_shards = ca_crl_shards(ca, slot);
	spec.pubkey = reqkey;
	spec.spki = X509_REQ_get_X509_PUBKEY(req);
	spec.subject = subject;
	spec.serial = &rec.serial;
	spec.not_before = nb;
	spec.not_after = na;
	spec.pathlen = -1;
	spec.id = id;
	if ((r = cert_build(&spec, &x)) != LY_OK)
		goto out;
	if ((r = ca_sign_cert(ca, slot, x)) != LY_OK)
		goto out;
	if ((derlen = i2d_X509(x, &der)) <= 0) {
		ly_log_crypto("issue");
		r = ly_fail(LY_ERR_INTERNAL, "the certificate does not encode");
		goto out;
	}
	if (certp != NULL &&
	    (r = cert_decode(der, (size_t)derlen, &y)) != LY_OK)
		goto out;
	if ((r = ca_record_der(ca, &rec, der, (size_t)derlen, old, tok,
	    rq->actor, old != NULL ? "reissue" : "issue")) != LY_OK)
		goto out;
	claimed = 0;
	memset(out, 0, sizeof(*out));
	out->der = der;
	der = NULL;
	out->derlen = (size_t)derlen;
	out->serial = rec.serial;
	out->not_after = na;
	out->slot = slot;
	if (certp != NULL) {
		*certp = y;
		y = NULL;
	}
	r = LY_OK;
 out:
	/*
	 * A crash between the claim and here leaves the token CLAIMED and
	 * the serial reserved: ca_reconcile() at ca-server's next start
	 * burns the serial and gives the token back.
	 */
	if (claimed) {
		/* The release is a store write of its own: keep why we failed. */
		char why[512];

		snprintf(why, sizeof(why), "%s", ly_errdetail());
		token_release(ca, tok, &rec.serial);
		if (why[0] != '\0')
			(void)ly_fail(r, "%s", why);
	}
	X509_NAME_free(subject);
	X509_free(x);
	X509_free(y);
	OPENSSL_free(der);
	return r;
}


/*
 * The common path of issue, token issue and reissue (rq: see struct
 * ca_issue_req in ca/ca.h). On success *out holds the DER as stored; and
 * *certp, when certp is not NULL, the certificate decoded from that DER,
 * before it is stored, as a client would read it. Callers that only pass
 * the certificate on ask for no X509: decoding one costs more than the
 * HSM's signature in OpenSSL 3.0 (its key goes through a provider
 * decoder).
 */
static int
issue(struct ca *ca, const struct ca_issue_req *rq, struct ca_issued *out,
    X509 **certp)
{
	struct ca_identity id;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	int r;

	memset(&id, 0, sizeof(id));
	if ((r = csr_intake(rq->profile, rq->csr, rq->csrlen, &req,
	    &key)) != LY_OK)
		return r;
	if ((r = issue_identity(ca, rq, &id)) == LY_OK)
		r = issue_sign(ca, rq, req, key, &id, out, certp);
	ca_identity_clear(&id);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return r;
}

int
ca_issue(struct ca *ca, const struct ca_request *rq, X509 **certp,
    struct ca_serial *serialp)
{
	struct ca_issue_req ir;
	struct ca_issued is;
	int r;

	memset(&ir, 0, sizeof(ir));
	memset(&is, 0, sizeof(is));
	if (rq->profile == NULL ||
	    (ir.profile = conf_profile_get(ca->conf, rq->profile)) == NULL) {
		char names[256];

		conf_profile_names(ca->conf, names, sizeof(names));
		return ly_fail(LY_ERR_BAD_PROFILE, "unknown profile \"%.64s\" "
		    "(profiles: %s)", rq->profile != NULL ? rq->profile : "",
		    names);
	}
	if (rq->slot != 0 && (rq->slot < 0 || rq->slot >= ca_nslots(ca) ||
	    ca_slot_is_root(ca, rq->slot)))
		return ly_fail(LY_ERR_ARG, "slot %d issues nothing", rq->slot);
	ir.csr = rq->csr;
	ir.csrlen = rq->csrlen;
	ir.identity = &rq->identity;
	ir.days = rq->days;
	ir.actor = rq->actor;
	ir.cn = rq->cn;
	ir.slot = rq->slot;
	if ((r = issue(ca, &ir, &is, certp)) == LY_OK)
		*serialp = is.serial;
	ca_issued_clear(&is);
	return r;
}

/*
 * A reissue of old, which is superseded already: its holder asking again
 * because the answer was lost. The successor is the answer if it is valid,
 * not expired, not superseded itself and for the key of this CSR (whose
 * self-signature proves possession of that key); nothing is written, as
 * nothing changes. Anything else is refused as before. *out and certp as
 * for issue(): the successor's DER as stored.
 */
static int
reissue_replay(struct ca *ca, const struct store_cert *old,
    const unsigned char *csr, size_t csrlen, struct ca_issued *out,
    X509 **certp)
{
	const struct conf_profile *p;
	struct store_txn *txn = NULL;
	struct store_cert *next = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	unsigned char *der = NULL;
	int r;

	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_cert_get(txn, &old->superseded_by, &next);
	store_txn_abort(txn);
	if (r != LY_OK && r != LY_ERR_NOT_FOUND)
		return r;
	if (r == LY_ERR_NOT_FOUND || next->status != STORE_VALID ||
	    next->der == NULL || next->not_after <= ly_now() ||
	    !ca_serial_is_zero(&next->superseded_by) ||
	    (p = conf_profile_get(ca->conf, next->profile)) == NULL)
		goto refuse;
	if ((r = csr_intake(p, csr, csrlen, &req, &key)) != LY_OK)
		goto out;
	/* Rare (a lost answer): the successor is decoded to compare keys. */
	if ((r = cert_decode(next->der, next->derlen, &x)) != LY_OK) {
		r = ly_fail(LY_ERR_STORE, "stored certificate does not parse");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1)
		goto refuse;
	if ((der = OPENSSL_memdup(next->der, next->derlen)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->der = der;
	out->derlen = next->derlen;
	out->serial = next->serial;
	out->not_after = (time_t)next->not_after;
	out->slot = next->ca;
	if (certp != NULL) {
		*certp = x;
		x = NULL;
	}
	r = LY_OK;
	goto out;
 refuse:
	r = ly_fail(LY_ERR_STATE, "the certificate was already superseded");
 out:
	X509_free(x);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	store_cert_free(next);
	return r;
}

/* LY_OK unless the identity is disabled (ca/disable.c). */
static int
identity_enabled(struct ca *ca, const char *identity)
{
	struct store_txn *txn = NULL;
	int r;

	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = ca_identity_enabled(txn, identity);
	store_txn_abort(txn);
	return r;
}

/* ca_reissue() and ca_reissue_der(): certp as for issue(). */
static int
reissue(struct ca *ca, const struct ca_serial *serial,
    const unsigned char *csr, size_t csrlen, const char *actor,
    struct ca_issued *out, X509 **certp)
{
	struct ca_issue_req ir;
	struct store_txn *txn = NULL;
	struct store_cert *old = NULL;
	int r;

	memset(&ir, 0, sizeof(ir));
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_cert_get(txn, serial, &old);
	store_txn_abort(txn);
	if (r == LY_ERR_NOT_FOUND)
		return ly_fail(r, "no certificate with that serial");
	if (r != LY_OK)
		return r;
	if (old->status == STORE_REVOKED) {
		r = ly_fail(LY_ERR_STATE, "the certificate is revoked");
		goto out;
	}
	if (old->status != STORE_VALID || old->ca >= ca_nslots(ca) ||
	    ca_slot_is_root(ca, old->ca)) {
		r = ly_fail(LY_ERR_STATE, "not a certificate of an issuing CA");
		goto out;
	}
	if (old->not_after <= ly_now()) {
		r = ly_fail(LY_ERR_STATE, "the certificate has expired");
		goto out;
	}
	/* Before the replay too: a disabled identity gets nothing back. */
	if ((r = identity_enabled(ca, old->identity)) != LY_OK)
		goto out;
	if (!ca_serial_is_zero(&old->superseded_by)) {
		r = reissue_replay(ca, old, csr, csrlen, out, certp);
		goto out;
	}
	if ((ir.profile = conf_profile_get(ca->conf, old->profile)) == NULL) {
		r = ly_fail(LY_ERR_BAD_PROFILE, "profile \"%s\" of the "
		    "certificate is no longer configured", old->profile);
		goto out;
	}
	ir.csr = csr;
	ir.csrlen = csrlen;
	ir.actor = actor;
	ir.old = old;
	r = issue(ca, &ir, out, certp);
 out:
	store_cert_free(old);
	return r;
}

int
ca_reissue(struct ca *ca, const struct ca_serial *serial,
    const unsigned char *csr, size_t csrlen, const char *actor,
    X509 **certp, struct ca_serial *serialp)
{
	struct ca_issued is;
	int r;

	memset(&is, 0, sizeof(is));
	if ((r = reissue(ca, serial, csr, csrlen, actor, &is, certp)) ==
	    LY_OK)
		*serialp = is.serial;
	ca_issued_clear(&is);
	return r;
}

int
ca_reissue_der(struct ca *ca, const struct ca_serial *serial,
    const unsigned char *csr, size_t csrlen, const char *actor,
    struct ca_issued *out)
{
	return reissue(ca, serial, csr, csrlen, actor, out, NULL);
}

int
ca_issue_tok(struct ca *ca, const char *profile, const struct ca_identity *in,
    const unsigned char *tok, const unsigned char *csr, size_t csrlen,
    const char *actor, struct ca_issued *out, X509 **certp)
{
	struct ca_issue_req ir;

	memset(&ir, 0, sizeof(ir));
	if ((ir.profile = conf_profile_get(ca->conf, profile)) == NULL)
		return ly_fail(LY_ERR_BAD_PROFILE, "profile \"%s\" of the "
		    "token is no longer configured", profile);
	ir.csr = csr;
	ir.csrlen = csrlen;
	ir.identity = in;
	ir.actor = actor;
	ir.tok = tok;
	return issue(ca, &ir, out, certp);
}
