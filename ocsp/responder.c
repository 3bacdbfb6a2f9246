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
 * Every CA slot is answered for (ca.h, "CA slots"): the CertID's issuer
 * hashes say which; a record of another slot with the serial asked
 * about is an unknown serial of this one. The certificates of issuing
 * slots are signed for by that slot's delegated signer; the CA
 * certificates a root slot issued (issuing CAs' own, which nginx's
 * ssl_ocsp asks about) only from the responses that root pre-signed
 * (ocsp/root.c, ca-admin root crl), as a root key may be offline;
 * without one, or for a CA we do not know, the answer is `unauthorized`.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Whether now is a new CLOCK_MONOTONIC second since *last (and claims it). */
static int
second_claim(atomic_llong *last)
{
	struct timespec ts;
	long long then;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	then = atomic_load(last);
	return (long long)ts.tv_sec > then &&
	    atomic_compare_exchange_strong(last, &then, (long long)ts.tv_sec);
}

/*
 * The hashes of slot, computed on first use; NULL if its certificate is
 * not there (a slot whose CA was not made yet).
 */
static const struct ocsp_issuer_hash *
slot_hash(struct ocsp_responder *resp, int slot)
{
	struct ocsp_slot_hash *sh = &resp->slots[slot];
	X509 *x;

	if (atomic_load_explicit(&sh->ready, memory_order_acquire))
		return sh->h;
	pthread_mutex_lock(&resp->hash_lock);
	if (!atomic_load_explicit(&sh->ready, memory_order_relaxed) &&
	    (x = ca_cert(resp->ca, slot)) != NULL &&
	    issuer_hashes(x, sh->h) == LY_OK) {
		sh->root = ca_slot_is_root(resp->ca, slot);
		atomic_store_explicit(&sh->ready, 1, memory_order_release);
	}
	pthread_mutex_unlock(&resp->hash_lock);
	return atomic_load_explicit(&sh->ready, memory_order_acquire) ?
	    sh->h : NULL;
}

/*
 * Which CA a CertID names: its slot, or -1 for one we do not serve.
 * XXX two slots with one name and key (a CA re-certified with its old
 * key) are one issuer to a CertID: the first slot answers.
 */
static int
issuer_match(struct ocsp_responder *resp, const struct ocsp_certreq *c)
{
	const struct ocsp_issuer_hash *h;
	int slot, n = ca_nslots(resp->ca);

	for (slot = 0; slot < n && slot < CA_MAX_SLOTS; slot++)
		if ((h = slot_hash(resp, slot)) != NULL && hash_match(h, c))
			return slot;
	return -1;
}

/*
 * issuer_match(), and when no slot matches, a look for slots another
 * process registered since (ca-admin's rollover while ca-server runs):
 * ca_slots_refresh() reads the store once a second at most (anyone may
 * send unknown CertIDs) and is one atomic load otherwise.
 */
static int
issuer_which(struct ocsp_responder *resp, const struct ocsp_certreq *c)
{
	int slot, n;

	if ((slot = issuer_match(resp, c)) != -1)
		return slot;
	n = ca_nslots(resp->ca);
	if (ca_slots_refresh(resp->ca) != LY_OK) {
		ly_log(LY_LOG_WARN, "ocsp: CA slots: %s", ly_errdetail());
		return -1;
	}
	if (ca_nslots(resp->ca) == n)
		return -1;
	return issuer_match(resp, c);
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
 * What the store says about a record as a certificate of slot (RFC 6960
 * 2.2): a serial never issued, only reserved, or issued by another CA
 * is unknown, never good.
 */
static void
status_of(const struct store_cert *rec, int slot, struct ocsp_status *st)
{
	memset(st, 0, sizeof(*st));
	st->reason = -1;
	st->status = V_OCSP_CERTSTATUS_UNKNOWN;
	if (rec == NULL || rec->ca != slot)
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
 * fresh and is about a certificate of the CA the request names (slot;
 * a root's are the root's own, about CA certificates, the others the
 * slot's delegated signer's). The header says whose it is: no record
 * to read. LY_ERR_NOT_FOUND when there is none to serve.
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
	if (ocsp_stored_parse(v, len, &st) != LY_OK || st.slot != slot ||
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

/* The status of every CertID (all naming slot), in one read transaction. */
static int
statuses_get(struct ocsp_responder *resp, const struct ocsp_request *req,
    int slot, struct ocsp_status *st)
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
		status_of(rec, slot, &st[i]);
		store_cert_free(rec);
	}
	r = LY_OK;
 out:
	store_txn_abort(txn);
	return r;
}

/*
 * The signer of slot, made or loaded now if slot has none yet (a CA
 * registered since the last sync, by another process): once a second
 * at most, and only in a responder that holds the HSM. NULL if none.
 */
static struct ca_signer *
signer_get(struct ocsp_responder *resp, int slot)
{
	struct ca_signer *s;

	if ((s = ca_signers_get(resp->signers, slot)) != NULL ||
	    !resp->presigning || !ca_signer_slot_wanted(resp->ca, slot) ||
	    !second_claim(&resp->synced))
		return s;
	ly_log(LY_LOG_INFO, "ocsp: %s has no signer yet; syncing",
	    ca_slot_name(resp->ca, slot));
	(void)ca_signers_sync(resp->signers);
	return ca_signers_get(resp->signers, slot);
}

/* Signs a response for every CertID (of slot) as the client sent it. */
static int
respond_signed(struct ocsp_responder *resp, const struct ocsp_request *req,
    int slot, struct ocsp_reply *reply)
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
	if ((r = statuses_get(resp, req, slot, st)) != LY_OK) {
		ly_log(LY_LOG_ERR, "ocsp: store: %s", ly_errdetail());
		r = reply_error(reply, OCSP_RESPONSE_STATUS_INTERNALERROR,
		    OCSP_OUT_INTERNAL);
		goto out;
	}
	if ((s = signer_get(resp, slot)) == NULL)
		r = ly_fail(LY_ERR_HSM, "no OCSP signer for %s",
		    ca_slot_name(resp->ca, slot));
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
	int r, root, slot = -1, which;

	memset(reply, 0, sizeof(*reply));
	if ((r = ocsp_request_parse(der, len, resp->conf->ocsp_max_requests,
	    &req)) != LY_OK) {
		if (r == LY_ERR_ALLOC)
			return r;
		return reply_error(reply, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
		    OCSP_OUT_MALFORMED);
	}
	/*
	 * One response has one signer, who speaks for one CA: every CertID
	 * must name the same one, and a root's only one CertID.
	 */
	for (i = 0; i < req->nids; i++) {
		if ((which = issuer_which(resp, &req->ids[i])) == -1 ||
		    (slot != -1 && which != slot)) {
			r = reply_error(reply,
			    OCSP_RESPONSE_STATUS_UNAUTHORIZED,
			    OCSP_OUT_UNAUTHORIZED);
			goto out;
		}
		slot = which;
	}
	c = &req->ids[0];
	/* issuer_which() made slots[slot] ready. */
	if ((root = resp->slots[slot].root) && req->nids != 1) {
		r = reply_error(reply, OCSP_RESPONSE_STATUS_UNAUTHORIZED,
		    OCSP_OUT_UNAUTHORIZED);
		goto out;
	}
	if (root) {
		/*
		 * About a CA certificate: only the root's pre-signed
		 * response, by SHA-1 as it was signed; a nonce is ignored
		 * (RFC 5019 2.1.1), as nothing here can sign for the root.
		 */
		r = c->nid == NID_sha1 ? respond_stored(resp, c, slot,
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
		r = respond_stored(resp, c, slot, reply);
		if (r == LY_OK || r == LY_ERR_ALLOC)
			goto out;
	}
	/* A retired CA serves nothing new: what it stored, if fresh, only. */
	if (ca_slot_state(resp->ca, slot, ly_now()) == CA_SLOT_RETIRED)
		r = reply_error(reply, OCSP_RESPONSE_STATUS_UNAUTHORIZED,
		    OCSP_OUT_UNAUTHORIZED);
	/* Set in a responder without a signer only (ca-server's front). */
	else if (resp->remote != NULL)
		r = respond_remote(resp, der, len, reply);
	else
		r = respond_signed(resp, req, slot, reply);
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
 * Signs the stored form of rec's response with s, the signer of rec's
 * CA: SHA-1 CertID built from that CA's certificate, as RFC 5019 clients
 * build theirs.
 */
static int
presign_record(struct ocsp_responder *resp, struct ca_signer *s,
    const struct store_cert *rec, unsigned char **valp, size_t *lenp)
{
	X509 *issuer = ca_cert(resp->ca, rec->ca);
	struct ocsp_status st;
	struct ocsp_signed sg;
	OCSP_CERTID *id = NULL;
	ASN1_INTEGER *sn = NULL;
	int r = LY_ERR_INTERNAL;

	memset(&sg, 0, sizeof(sg));
	status_of(rec, rec->ca, &st);
	if (issuer == NULL || ca_signer_slot(s) != rec->ca) {
		r = ly_fail(LY_ERR_INTERNAL, "OCSP signer of another CA");
		goto out;
	}
	if ((sn = ca_serial_to_asn1(&rec->serial)) == NULL ||
	    (id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer),
	    X509_get0_pubkey_bitstr(issuer), sn)) == NULL) {
		ly_log_crypto("ocsp presign");
		goto out;
	}
	if ((r = ocsp_response_sign(s, &id, &st, 1, NULL, ly_now(),
	    resp->conf->ocsp_validity, &sg)) != LY_OK)
		goto out;
	r = ocsp_stored_encode(&sg, st.status, rec->ca, valp, lenp);
 out:
	OPENSSL_free(sg.der);
	OCSP_CERTID_free(id);
	ASN1_INTEGER_free(sn);
	return r;
}

/*
 * The ca_presign_fn: certificates of issuing CAs, issued or revoked,
 * signed by their CA's signer. A CA without one (registered since the
 * last sync) stores none: the next refresh, or a request, signs it.
 */
static int
presign(void *arg, const struct store_cert *rec, unsigned char **derp,
    size_t *lenp)
{
	struct ocsp_responder *resp = arg;
	struct ca_signer *s;
	int r;

	*derp = NULL;
	*lenp = 0;
	if (rec->status != STORE_VALID && rec->status != STORE_REVOKED)
		return LY_OK;
	if ((s = ca_signers_get(resp->signers, rec->ca)) == NULL)
		return LY_OK;
	r = presign_record(resp, s, rec, derp, lenp);
	ca_signer_put(s);
	return r;
}

/* Whether any slot has a signer now. */
static int
signers_any(struct ocsp_responder *resp)
{
	struct ca_signer *s;
	int slot;

	for (slot = 0; slot < CA_MAX_SLOTS; slot++)
		if ((s = ca_signers_get(resp->signers, slot)) != NULL) {
			ca_signer_put(s);
			return 1;
		}
	return 0;
}

int
ocsp_responder_new(struct ca *ca, struct ocsp_responder **respp)
{
	struct ocsp_responder *resp;
	int r, any;

	if ((resp = calloc(1, sizeof(*resp))) == NULL)
		return LY_ERR_ALLOC;
	resp->ca = ca;
	resp->conf = ca_conf(ca);
	pthread_mutex_init(&resp->hash_lock, NULL);
	if ((r = ca_signers_new(ca, &resp->signers)) != LY_OK)
		goto out;
	/* The two first CAs at once, as before slots: their errors now. */
	if (slot_hash(resp, CA_ROOT) == NULL ||
	    slot_hash(resp, CA_ISSUING) == NULL) {
		r = ly_fail(LY_ERR_INTERNAL, "ocsp: no CA certificate");
		goto out;
	}
	r = ca_signers_sync(resp->signers);
	any = signers_any(resp);
	if (r == LY_ERR_ARG && !any) {
		/* An instance opened without the HSM (a read-only replica). */
		ly_log(LY_LOG_INFO, "ocsp: no HSM; serving pre-signed "
		    "responses only");
		r = LY_OK;
	} else if (!any) {
		if (r == LY_OK)
			r = LY_ERR_INTERNAL;
		goto out;
	} else {
		/*
		 * A signer due for rotation that could not be replaced still
		 * signs; a CA whose signer could not be made is logged, and
		 * answered tryLater until a refresh makes it.
		 */
		r = LY_OK;
		ca_set_presign(ca, presign, resp);
		resp->presigning = 1;
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
	if (resp == NULL)
		return;
	if (resp->presigning)
		ca_set_presign(resp->ca, NULL, NULL);
	ca_signers_free(resp->signers);
	pthread_mutex_destroy(&resp->hash_lock);
	free(resp);
}

/* The notAfter of slot's signer; 0 for none. */
static time_t
signer_not_after(const struct ocsp_responder *resp, int slot)
{
	struct ca_signer *s;
	time_t t;

	if ((s = ca_signers_get(resp->signers, slot)) == NULL)
		return resp->remote != NULL ?
		    ca_signers_stored_not_after(resp->signers, slot) : 0;
	t = ca_signer_not_after(s);
	ca_signer_put(s);
	return t;
}

time_t
ocsp_signer_not_after(const struct ocsp_responder *resp)
{
	time_t t, first = 0;
	int slot, n = ca_nslots(resp->ca);

	/* The first to expire; a CA without a signer is the news (0). */
	for (slot = 0; slot < n && slot < CA_MAX_SLOTS; slot++) {
		if (!ca_signer_slot_wanted(resp->ca, slot))
			continue;
		if ((t = signer_not_after(resp, slot)) == 0)
			return 0;
		if (first == 0 || t < first)
			first = t;
	}
	return first;
}

/* ---- refresh ------------------------------------------------------------ */

/* Responses re-signed between two write transactions. */
#define REFRESH_BATCH	256

struct stale {
	struct store_txn *txn;
	time_t		 before;	/* re-sign what expires before this */
	unsigned char	 signs[CA_MAX_SLOTS];	/* slots with a signer now */
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

	if (rec->ca >= CA_MAX_SLOTS || !sl->signs[rec->ca] ||
	    (rec->status != STORE_VALID && rec->status != STORE_REVOKED))
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
	struct ca_signer *s;
	size_t i, k, m = 0;
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
	/* A signer dropped since the collection (CA retired): skipped. */
	for (i = 0, k = 0; i < m && r == LY_OK; i++) {
		if ((s = ca_signers_get(resp->signers, recs[i]->ca)) == NULL)
			continue;
		items[k].serial = recs[i]->serial;
		items[k].status = recs[i]->status;
		r = presign_record(resp, s, recs[i], &vals[k], &items[k].len);
		ca_signer_put(s);
		items[k].der = vals[k];
		k++;
	}
	if (r == LY_OK)
		r = ca_ocsp_store_if(resp->ca, items, k, countp);
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
	int r, sr, slot;

	memset(&sl, 0, sizeof(sl));
	if (!signers_any(resp))
		return ly_fail(LY_ERR_HSM, "no OCSP signer (no HSM)");
	/*
	 * A failed rotation leaves the current signer signing; carry on.
	 * New CAs (registered by another process) get their signer here.
	 */
	(void)ca_slots_refresh(resp->ca);
	sr = ca_signers_sync(resp->signers);
	for (slot = 0; slot < CA_MAX_SLOTS; slot++)
		if ((s = ca_signers_get(resp->signers, slot)) != NULL) {
			sl.signs[slot] = 1;
			ca_signer_put(s);
		}
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
