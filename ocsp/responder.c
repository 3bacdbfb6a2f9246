/*
 * ocsp/responder.c — answering OCSP requests (RFC 6960, RFC 5019).
 *
 * A request for one certificate by SHA-1 without a nonce (what RFC 5019
 * clients and `openssl ocsp` send) is answered from the store: the
 * response signed when the certificate was issued or revoked, or by the
 * last refresh, is copied out byte for byte with the times and ETag its
 * stored header holds. Everything else is signed on demand with the
 * delegated signer. Many threads answer at once: per-call state lives on
 * the stack and the heap, the signer is reference counted.
 *
 * The issuing CA's certificates are answered, and the CA certificates
 * the root issued (the issuing CA's own, which nginx's ssl_ocsp asks
 * about): those only from the responses the root pre-signed (ocsp/root.c,
 * ca-admin root crl), as the root key may be offline; without one, or
 * for anything else, the answer is `unauthorized`.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>

#include "ocsp/extern.h"
#include "util/util.h"

static const int hash_nids[OCSP_NHASH] = {
	NID_sha1, NID_sha256, NID_sha384, NID_sha512
};

/* A CA's name and key hashes under each hash a CertID may use. */
static int
issuer_hashes(X509 *issuer, struct ocsp_issuer_hash *hash)
{
	const EVP_MD *md;
	unsigned int nl, kl;
	int i;

	for (i = 0; i < OCSP_NHASH; i++) {
		struct ocsp_issuer_hash *h = &hash[i];

		h->nid = hash_nids[i];
		if ((md = EVP_get_digestbynid(h->nid)) == NULL ||
		    !X509_NAME_digest(X509_get_subject_name(issuer), md,
		    h->name, &nl) ||
		    !X509_pubkey_digest(issuer, md, h->key, &kl) ||
		    nl != kl) {
			ly_log_crypto("ocsp issuer_hashes");
			return LY_ERR_INTERNAL;
		}
		h->len = nl;
	}
	return LY_OK;
}

/* RFC 6960 4.1.1: issuerNameHash and issuerKeyHash name the CA hash is of. */
static int
hash_match(const struct ocsp_issuer_hash *hash, const struct ocsp_certreq *c)
{
	const struct ocsp_issuer_hash *h;
	int i;

	for (i = 0; i < OCSP_NHASH; i++) {
		h = &hash[i];
		if (h->nid != c->nid)
			continue;
		return ASN1_STRING_length(c->name_hash) == (int)h->len &&
		    ASN1_STRING_length(c->key_hash) == (int)h->len &&
		    memcmp(ASN1_STRING_get0_data(c->name_hash), h->name,
		    h->len) == 0 &&
		    memcmp(ASN1_STRING_get0_data(c->key_hash), h->key,
		    h->len) == 0;
	}
	return 0;
}

/* Which CA a CertID names: CA_ISSUING, CA_ROOT, or -1 one we do not serve. */
static int
issuer_which(const struct ocsp_responder *resp, const struct ocsp_certreq *c)
{
	if (hash_match(resp->hash, c))
		return CA_ISSUING;
	if (hash_match(resp->root_hash, c))
		return CA_ROOT;
	return -1;
}

static void
etag_set(struct ocsp_reply *reply, const unsigned char hash[32])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	reply->etag[0] = '"';
	for (i = 0; i < 32; i++) {
		reply->etag[1 + 2 * i] = hex[hash[i] >> 4];
		reply->etag[2 + 2 * i] = hex[hash[i] & 0xf];
	}
	reply->etag[65] = '"';
	reply->etag[66] = '\0';
}

static enum ocsp_outcome
outcome_of(int status)
{
	switch (status) {
	case V_OCSP_CERTSTATUS_GOOD:
		return OCSP_OUT_GOOD;
	case V_OCSP_CERTSTATUS_REVOKED:
		return OCSP_OUT_REVOKED;
	default:
		return OCSP_OUT_UNKNOWN;
	}
}

/* An unsuccessful response: not cacheable, no times, no ETag. */
static int
reply_error(struct ocsp_reply *reply, int status, enum ocsp_outcome out)
{
	int r;

	if ((r = ocsp_response_error(status, &reply->der, &reply->len)) !=
	    LY_OK)
		return r;
	reply->outcome = out;
	return LY_OK;
}

/*
 * What the store says about a record (RFC 6960 2.2): a serial never
 * issued, or only reserved, is unknown, never good.
 */
static void
status_of(const struct store_cert *rec, struct ocsp_status *st)
{
	memset(st, 0, sizeof(*st));
	st->reason = -1;
	st->status = V_OCSP_CERTSTATUS_UNKNOWN;
	if (rec == NULL || rec->ca != CA_ISSUING)
		return;
	if (rec->status == STORE_VALID)
		/* Expired is still good: RFC 6960 2.2 asks about revocation only. */
		st->status = V_OCSP_CERTSTATUS_GOOD;
	else if (rec->status == STORE_REVOKED) {
		st->status = V_OCSP_CERTSTATUS_REVOKED;
		st->revoked_at = (time_t)rec->revoked_at;
		st->reason = rec->reason;
	}
}

/*
 * The fast path: the stored response for the serial, if it is still
 * fresh and was signed by the CA the request names (slot: the root's
 * about CA certificates, else the delegated signer's). LY_ERR_NOT_FOUND
 * when there is none to serve.
 */
static int
respond_stored(struct ocsp_responder *resp, const struct ocsp_certreq *c,
    int slot, struct ocsp_reply *reply)
{
	struct ca_serial serial;
	struct store_txn *txn = NULL;
	struct ocsp_stored st;
	const void *v;
	size_t len;
	int r;

	if (ca_serial_from_asn1(c->serial, &serial) != LY_OK)
		return LY_ERR_NOT_FOUND;
	if ((r = store_txn_begin(ca_store(resp->ca), 0, &txn)) != LY_OK)
		return r;
	if ((r = store_ocsp_get(txn, &serial, &v, &len)) != LY_OK)
		goto out;
	if (ocsp_stored_parse(v, len, &st) != LY_OK ||
	    st.by_root != (slot == CA_ROOT) ||
	    st.next_update <= ly_now()) {
		r = LY_ERR_NOT_FOUND;
		goto out;
	}
	if ((reply->der = malloc(st.len)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memcpy(reply->der, st.der, st.len);
	reply->len = st.len;
	reply->outcome = outcome_of(st.status);
	reply->presigned = 1;
	reply->this_update = st.this_update;
	reply->next_update = st.next_update;
	reply->produced_at = st.produced_at;
	etag_set(reply, st.hash);
	r = LY_OK;
 out:
	store_txn_abort(txn);
	return r;
}

/* The status of every CertID, in one read transaction. */
static int
statuses_get(struct ocsp_responder *resp, const struct ocsp_request *req,
    struct ocsp_status *st)
{
	struct store_txn *txn = NULL;
	struct store_cert *rec;
	struct ca_serial serial;
	size_t i;
	int r;

	if ((r = store_txn_begin(ca_store(resp->ca), 0, &txn)) != LY_OK)
		return r;
	for (i = 0; i < req->nids; i++) {
		rec = NULL;
		/* A serial we could never have issued is unknown. */
		if (ca_serial_from_asn1(req->ids[i].serial, &serial) == LY_OK) {
			r = store_cert_get(txn, &serial, &rec);
			if (r != LY_OK && r != LY_ERR_NOT_FOUND)
				goto out;
		}
		status_of(rec, &st[i]);
		store_cert_free(rec);
	}
	r = LY_OK;
 out:
	store_txn_abort(txn);
	return r;
}

/* Signs a response for every CertID as the client sent it. */
static int
respond_signed(struct ocsp_responder *resp, const struct ocsp_request *req,
    struct ocsp_reply *reply)
{
	struct ca_signer *s = NULL;
	struct ocsp_status *st = NULL;
	struct ocsp_signed sg;
	OCSP_CERTID **ids = NULL;
	int nonce = req->nonce && resp->conf->ocsp_nonce_sign;
	size_t i;
	int r;

	memset(&sg, 0, sizeof(sg));
	if ((st = calloc(req->nids, sizeof(*st))) == NULL ||
	    (ids = calloc(req->nids, sizeof(*ids))) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < req->nids; i++)
		ids[i] = req->ids[i].id;
	if ((r = statuses_get(resp, req, st)) != LY_OK) {
		ly_log(LY_LOG_ERR, "ocsp: store: %s", ly_errdetail());
		r = reply_error(reply, OCSP_RESPONSE_STATUS_INTERNALERROR,
		    OCSP_OUT_INTERNAL);
		goto out;
	}
	if ((s = ca_signers_get(resp->signers)) == NULL)
		r = ly_fail(LY_ERR_HSM, "no OCSP signer");
	else
		r = ocsp_response_sign(s, ids, st, req->nids,
		    nonce ? req->req : NULL, ly_now(),
		    resp->conf->ocsp_validity, &sg);
	if (r == LY_ERR_ALLOC)
		goto out;
	if (r == LY_ERR_LINT) {
		/* Our bug, logged by the lint; asking again will not help. */
		r = reply_error(reply, OCSP_RESPONSE_STATUS_INTERNALERROR,
		    OCSP_OUT_INTERNAL);
		goto out;
	}
	if (r != LY_OK) {
		/* RFC 6960 2.3: tryLater, the client asks again. */
		ly_log(LY_LOG_WARN, "ocsp: cannot sign: %s", ly_errdetail());
		r = reply_error(reply, OCSP_RESPONSE_STATUS_TRYLATER,
		    OCSP_OUT_TRYLATER);
		goto out;
	}
	/* OPENSSL_free and free may differ: the reply's DER is malloc'd. */
	if ((reply->der = malloc(sg.len)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memcpy(reply->der, sg.der, sg.len);
	reply->len = sg.len;
	reply->outcome = outcome_of(st[0].status);
	if (!nonce) {
		unsigned char hash[32];

		reply->this_update = sg.this_update;
		reply->next_update = sg.next_update;
		reply->produced_at = sg.produced_at;
		SHA256(sg.der, sg.len, hash);
		etag_set(reply, hash);
	}
	r = LY_OK;
 out:
	ca_signer_put(s);
	OPENSSL_free(sg.der);
	free(st);
	free(ids);
	return r;
}

/* What the store cannot answer, answered by the process with the signer. */
static int
respond_remote(struct ocsp_responder *resp, const unsigned char *der,
    size_t len, struct ocsp_reply *reply)
{
	int r;

	if ((r = resp->remote(resp->remote_arg, der, len, reply)) == LY_OK)
		return LY_OK;
	ocsp_reply_clear(reply);
	if (r == LY_ERR_ALLOC)
		return r;
	ly_log(LY_LOG_WARN, "ocsp: cannot sign: %s", ly_errdetail());
	return reply_error(reply, OCSP_RESPONSE_STATUS_TRYLATER,
	    OCSP_OUT_TRYLATER);
}

void
ocsp_responder_set_remote(struct ocsp_responder *resp, ocsp_remote_fn fn,
    void *arg)
{
	resp->remote = fn;
	resp->remote_arg = arg;
}

int
ocsp_respond(struct ocsp_responder *resp, const unsigned char *der,
    size_t len, struct ocsp_reply *reply)
{
	struct ocsp_request *req = NULL;
	const struct ocsp_certreq *c;
	size_t i;
	int r, slot = CA_ISSUING;

	memset(reply, 0, sizeof(*reply));
	if ((r = ocsp_request_parse(der, len, resp->conf->ocsp_max_requests,
	    &req)) != LY_OK) {
		if (r == LY_ERR_ALLOC)
			return r;
		return reply_error(reply, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
		    OCSP_OUT_MALFORMED);
	}
	for (i = 0; i < req->nids; i++) {
		if ((slot = issuer_which(resp, &req->ids[i])) == -1 ||
		    (slot == CA_ROOT && req->nids != 1)) {
			r = reply_error(reply,
			    OCSP_RESPONSE_STATUS_UNAUTHORIZED,
			    OCSP_OUT_UNAUTHORIZED);
			goto out;
		}
	}
	c = &req->ids[0];
	if (slot == CA_ROOT) {
		/*
		 * About a CA certificate: only the root's pre-signed
		 * response, by SHA-1 as it was signed; a nonce is ignored
		 * (RFC 5019 2.1.1), as nothing here can sign for the root.
		 */
		r = c->nid == NID_sha1 ? respond_stored(resp, c, CA_ROOT,
		    reply) : LY_ERR_NOT_FOUND;
		if (r == LY_ERR_NOT_FOUND)
			r = reply_error(reply,
			    OCSP_RESPONSE_STATUS_UNAUTHORIZED,
			    OCSP_OUT_UNAUTHORIZED);
		else if (r != LY_OK && r != LY_ERR_ALLOC) {
			ly_log(LY_LOG_ERR, "ocsp: store: %s", ly_errdetail());
			r = reply_error(reply,
			    OCSP_RESPONSE_STATUS_INTERNALERROR,
			    OCSP_OUT_INTERNAL);
		}
		goto out;
	}
	/*
	 * RFC 5019 2.1.1: one CertID by SHA-1. A nonce we are told to
	 * ignore (nonce = ignore) does not stop the stored response.
	 */
	if (req->nids == 1 && c->nid == NID_sha1 &&
	    (!req->nonce || !resp->conf->ocsp_nonce_sign)) {
		r = respond_stored(resp, c, CA_ISSUING, reply);
		if (r == LY_OK || r == LY_ERR_ALLOC)
			goto out;
	}
	/* Set in a responder without a signer only (ca-server's front). */
	if (resp->remote != NULL)
		r = respond_remote(resp, der, len, reply);
	else
		r = respond_signed(resp, req, reply);
 out:
	ocsp_request_free(req);
	if (r != LY_OK)
		ocsp_reply_clear(reply);
	return r;
}

void
ocsp_reply_clear(struct ocsp_reply *reply)
{
	if (reply == NULL)
		return;
	free(reply->der);
	memset(reply, 0, sizeof(*reply));
}

/*
 * Signs the stored form of rec's response: SHA-1 CertID built from the
 * issuing CA certificate, as RFC 5019 clients build theirs.
 */
static int
presign_record(struct ocsp_responder *resp, const struct store_cert *rec,
    unsigned char **valp, size_t *lenp)
{
	struct ca_signer *s = NULL;
	struct ocsp_status st;
	struct ocsp_signed sg;
	OCSP_CERTID *id = NULL;
	ASN1_INTEGER *sn = NULL;
	int r = LY_ERR_INTERNAL;

	memset(&sg, 0, sizeof(sg));
	status_of(rec, &st);
	if ((sn = ca_serial_to_asn1(&rec->serial)) == NULL ||
	    (id = OCSP_cert_id_new(EVP_sha1(),
	    X509_get_subject_name(resp->issuer),
	    X509_get0_pubkey_bitstr(resp->issuer), sn)) == NULL) {
		ly_log_crypto("ocsp presign");
		goto out;
	}
	if ((s = ca_signers_get(resp->signers)) == NULL) {
		r = ly_fail(LY_ERR_HSM, "no OCSP signer");
		goto out;
	}
	if ((r = ocsp_response_sign(s, &id, &st, 1, NULL, ly_now(),
	    resp->conf->ocsp_validity, &sg)) != LY_OK)
		goto out;
	r = ocsp_stored_encode(&sg, st.status, valp, lenp);
 out:
	ca_signer_put(s);
	OPENSSL_free(sg.der);
	OCSP_CERTID_free(id);
	ASN1_INTEGER_free(sn);
	return r;
}

/* The ca_presign_fn: only certificates of the issuing CA, issued or revoked. */
static int
presign(void *arg, const struct store_cert *rec, unsigned char **derp,
    size_t *lenp)
{
	*derp = NULL;
	*lenp = 0;
	if (rec->ca != CA_ISSUING || (rec->status != STORE_VALID &&
	    rec->status != STORE_REVOKED))
		return LY_OK;
	return presign_record(arg, rec, derp, lenp);
}

int
ocsp_responder_new(struct ca *ca, struct ocsp_responder **respp)
{
	struct ocsp_responder *resp;
	struct ca_signer *s;
	int r;

	if ((resp = calloc(1, sizeof(*resp))) == NULL)
		return LY_ERR_ALLOC;
	resp->ca = ca;
	resp->conf = ca_conf(ca);
	resp->issuer = ca_cert(ca, CA_ISSUING);
	if ((r = ca_signers_new(ca, &resp->signers)) != LY_OK ||
	    (r = issuer_hashes(resp->issuer, resp->hash)) != LY_OK ||
	    (r = issuer_hashes(ca_cert(ca, CA_ROOT), resp->root_hash)) !=
	    LY_OK)
		goto out;
	r = ca_signers_sync(resp->signers);
	if ((s = ca_signers_get(resp->signers)) != NULL)
		ca_signer_put(s);	/* only whether there is one */
	if (r == LY_ERR_ARG && s == NULL) {
		/* An instance opened without the HSM (a read-only replica). */
		ly_log(LY_LOG_INFO, "ocsp: no HSM; serving pre-signed "
		    "responses only");
		r = LY_OK;
	} else if (s == NULL) {
		if (r == LY_OK)
			r = LY_ERR_INTERNAL;
		goto out;
	} else {
		/* A signer due for rotation that could not be replaced still signs. */
		r = LY_OK;
		ca_set_presign(ca, presign, resp);
	}
	*respp = resp;
	resp = NULL;
 out:
	ocsp_responder_free(resp);
	return r;
}

void
ocsp_responder_free(struct ocsp_responder *resp)
{
	struct ca_signer *s;

	if (resp == NULL)
		return;
	if (resp->signers != NULL &&
	    (s = ca_signers_get(resp->signers)) != NULL) {
		ca_set_presign(resp->ca, NULL, NULL);
		ca_signer_put(s);
	}
	ca_signers_free(resp->signers);
	free(resp);
}

time_t
ocsp_signer_not_after(const struct ocsp_responder *resp)
{
	struct ca_signer *s;
	time_t t;

	if ((s = ca_signers_get(resp->signers)) == NULL)
		return resp->remote != NULL ?
		    ca_signers_stored_not_after(resp->signers) : 0;
	t = ca_signer_not_after(s);
	ca_signer_put(s);
	return t;
}

/* ---- refresh ------------------------------------------------------------ */

/* Responses re-signed between two write transactions. */
#define REFRESH_BATCH	256

struct stale {
	struct store_txn *txn;
	time_t		 before;	/* re-sign what expires before this */
	struct ca_serial *serials;
	size_t		 n, cap;
};

static int
stale_cb(const struct store_cert *rec, void *arg)
{
	struct stale *sl = arg;
	struct ocsp_stored st;
	struct ca_serial *ns;
	const void *v;
	size_t len, cap;

	if (rec->ca != CA_ISSUING || (rec->status != STORE_VALID &&
	    rec->status != STORE_REVOKED))
		return 0;
	if (store_ocsp_get(sl->txn, &rec->serial, &v, &len) == LY_OK &&
	    ocsp_stored_parse(v, len, &st) == LY_OK &&
	    st.next_update > sl->before)
		return 0;
	if (sl->n == sl->cap) {
		cap = sl->cap != 0 ? sl->cap * 2 : 256;
		if ((ns = reallocarray(sl->serials, cap, sizeof(*ns))) == NULL)
			return LY_ERR_ALLOC;
		sl->serials = ns;
		sl->cap = cap;
	}
	sl->serials[sl->n++] = rec->serial;
	return 0;
}

/*
 * Re-signs the responses of serials[0..n): records read in one read
 * transaction, signed outside any, stored in one write transaction (one
 * fsync per batch, not per response) where the status is unchanged.
 */
static int
refresh_batch(struct ocsp_responder *resp, const struct ca_serial *serials,
    size_t n, size_t *countp)
{
	struct ca_ocsp_item items[REFRESH_BATCH];
	struct store_cert *recs[REFRESH_BATCH];
	unsigned char *vals[REFRESH_BATCH];
	struct store_txn *txn = NULL;
	size_t i, m = 0;
	int r;

	*countp = 0;
	if ((r = store_txn_begin(ca_store(resp->ca), 0, &txn)) != LY_OK)
		return r;
	for (i = 0; i < n && r == LY_OK; i++) {
		if ((r = store_cert_get(txn, &serials[i], &recs[m])) == LY_OK)
			m++;
		else if (r == LY_ERR_NOT_FOUND)
			r = LY_OK;
	}
	store_txn_abort(txn);
	memset(vals, 0, sizeof(vals));
	for (i = 0; i < m && r == LY_OK; i++) {
		items[i].serial = recs[i]->serial;
		items[i].status = recs[i]->status;
		r = presign_record(resp, recs[i], &vals[i], &items[i].len);
		items[i].der = vals[i];
	}
	if (r == LY_OK)
		r = ca_ocsp_store_if(resp->ca, items, m, countp);
	for (i = 0; i < m; i++) {
		store_cert_free(recs[i]);
		free(vals[i]);
	}
	return r;
}

int
ocsp_refresh(struct ocsp_responder *resp, size_t *countp)
{
	struct ca_signer *s;
	struct stale sl;
	size_t i, done, n = 0;
	int r, sr;

	memset(&sl, 0, sizeof(sl));
	if ((s = ca_signers_get(resp->signers)) == NULL)
		return ly_fail(LY_ERR_HSM, "no OCSP signer (no HSM)");
	ca_signer_put(s);
	/* A failed rotation leaves the current signer signing; carry on. */
	sr = ca_signers_sync(resp->signers);
	sl.before = ly_now() + resp->conf->ocsp_refresh_before;
	/* Collect first: signing must not hold a read transaction open. */
	if ((r = store_txn_begin(ca_store(resp->ca), 0, &sl.txn)) != LY_OK)
		return r;
	r = store_cert_foreach(sl.txn, stale_cb, &sl);
	store_txn_abort(sl.txn);
	if (r != LY_OK)
		goto out;
	for (i = 0; i < sl.n; i += REFRESH_BATCH) {
		if ((r = refresh_batch(resp, sl.serials + i, sl.n - i <
		    REFRESH_BATCH ? sl.n - i : REFRESH_BATCH, &done)) != LY_OK)
			goto out;
		n += done;
	}
	if (n > 0)
		ly_log(LY_LOG_INFO, "ocsp: re-signed %zu responses", n);
	/* The rotation's error, logged where it happened. */
	r = sr;
 out:
	if (r != LY_OK && r != sr)
		ly_log(LY_LOG_ERR, "ocsp refresh: %s: %s", ly_strerror(r),
		    ly_errdetail());
	if (countp != NULL)
		*countp = n;
	free(sl.serials);
	return r;
}
