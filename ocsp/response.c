/*
 * ocsp/response.c — building and signing OCSP responses (RFC 6960 4.2,
 * RFC 5019 2.2), and the stored form of a pre-signed one.
 *
 * The response is linted (ca_lint_ocsp()) and then signed by the token
 * through ca_signer_sign() with OCSP_basic_sign_ctx(); what it returns is
 * verified with the signer's certificate before it goes out, as ca/ does
 * for certificates: neither a bug of ours nor a faulty HSM must get a bad
 * response to a relying party.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>

#include "ocsp/extern.h"
#include "util/util.h"

static const unsigned char stored_magic[4] = { 'L', 'Y', 'O', '1' };

/* What ca_signer_sign() calls, maybe twice (it retries after reopening a session). */
struct sign_args {
	OCSP_BASICRESP	*bs;
	X509		*cert;
};

static int
sign_cb(void *obj, EVP_MD_CTX *ctx)
{
	struct sign_args *a = obj;

	/*
	 * OCSP_NOCERTS: the certificate is added once by the caller, as a
	 * retry would add it again; OCSP_NOTIME: producedAt comes from
	 * ly_now() (the clock seam), not from the system clock.
	 */
	return OCSP_basic_sign_ctx(a->bs, a->cert, ctx, NULL,
	    OCSP_RESPID_KEY | OCSP_NOCERTS | OCSP_NOTIME) == 1;
}

/* The signature over tbsResponseData verifies with the signer's key. */
static int
signature_check(OCSP_BASICRESP *bs, X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);

	if (pub == NULL)
		return 0;
	return ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA),
	    OCSP_resp_get0_tbs_sigalg(bs), OCSP_resp_get0_signature(bs),
	    OCSP_resp_get0_respdata(bs), pub) == 1;
}

/* Adds the SingleResponses; times as given. */
static int
singles_add(OCSP_BASICRESP *bs, OCSP_CERTID *const *ids,
    const struct ocsp_status *st, size_t n, ASN1_TIME *thisupd,
    ASN1_TIME *nextupd)
{
	ASN1_TIME *rev = NULL;
	size_t i;
	int ok = 0;

	for (i = 0; i < n; i++) {
		ASN1_TIME_free(rev);
		rev = NULL;
		if (st[i].status == V_OCSP_CERTSTATUS_REVOKED &&
		    (rev = ASN1_GENERALIZEDTIME_set(NULL,
		    st[i].revoked_at)) == NULL)
			goto out;
		/* A reason of -1 (OCSP_REVOKED_STATUS_NOSTATUS) is left out. */
		if (OCSP_basic_add1_status(bs, ids[i], st[i].status,
		    st[i].status == V_OCSP_CERTSTATUS_REVOKED ? st[i].reason :
		    OCSP_REVOKED_STATUS_NOSTATUS, rev, thisupd, nextupd) == NULL)
			goto out;
	}
	ok = 1;
 out:
	ASN1_TIME_free(rev);
	return ok;
}

/* ocsp_by of the delegated signer. */
static int
signer_sign(void *arg, int (*fn)(void *, EVP_MD_CTX *), void *obj)
{
	return ca_signer_sign(arg, fn, obj);
}

static int
signer_bad(void *arg)
{
	return ca_signer_bad(arg);
}

int
ocsp_response_sign(struct ca_signer *s, OCSP_CERTID *const *ids,
    const struct ocsp_status *st, size_t n, OCSP_REQUEST *nonce_from,
    time_t now, long validity, struct ocsp_signed *out)
{
	struct ocsp_by by;

	by.cert = ca_signer_cert(s);
	by.not_after = ca_signer_not_after(s);
	by.sign = signer_sign;
	by.bad = signer_bad;
	by.arg = s;
	return ocsp_response_sign_by(&by, ids, st, n, nonce_from, now,
	    validity, out);
}

int
ocsp_response_sign_by(const struct ocsp_by *s, OCSP_CERTID *const *ids,
    const struct ocsp_status *st, size_t n, OCSP_REQUEST *nonce_from,
    time_t now, long validity, struct ocsp_signed *out)
{
	struct sign_args a;
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL;
	unsigned char *der = NULL;
	time_t next;
	int len, r = LY_ERR_INTERNAL;

	/* RFC 6960 4.2.2.2: the signer must be valid for as long as the response. */
	next = now + validity < s->not_after ? now + validity : s->not_after;
	if (next <= now)
		return ly_fail(LY_ERR_STATE, "the OCSP signer certificate has "
		    "expired");
	if ((bs = OCSP_BASICRESP_new()) == NULL ||
	    (thisupd = ASN1_GENERALIZEDTIME_set(NULL, now)) == NULL ||
	    (nextupd = ASN1_GENERALIZEDTIME_set(NULL, next)) == NULL ||
	    !singles_add(bs, ids, st, n, thisupd, nextupd) ||
	    (nonce_from != NULL && OCSP_copy_nonce(bs, nonce_from) <= 0) ||
	    !OCSP_basic_add1_cert(bs, s->cert) ||
	    /* There is no setter; the object is bs's own. */
	    !ASN1_GENERALIZEDTIME_set((ASN1_GENERALIZEDTIME *)
	    OCSP_resp_get0_produced_at(bs), now)) {
		ly_log_crypto("ocsp_response_sign");
		goto out;
	}
	/*
	 * Everything but the responder ID, which OCSP_basic_sign_ctx() sets
	 * from the signer's certificate as it signs, is final here: lint it before the token
	 * signs it.
	 */
	if ((r = ca_lint_ocsp(bs, s->cert)) != LY_OK)
		goto out;
	a.bs = bs;
	a.cert = s->cert;
	if ((r = s->sign(s->arg, sign_cb, &a)) != LY_OK)
		goto out;
	if (!signature_check(bs, s->cert)) {
		ly_log_crypto("ocsp_response_sign");
		r = s->bad(s->arg);
		goto out;
	}
	r = LY_ERR_INTERNAL;
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL,
	    bs)) == NULL || (len = i2d_OCSP_RESPONSE(resp, &der)) <= 0) {
		ly_log_crypto("ocsp_response_sign");
		goto out;
	}
	out->der = der;
	der = NULL;
	out->len = (size_t)len;
	out->this_update = now;
	out->next_update = next;
	out->produced_at = now;
	r = LY_OK;
 out:
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	ASN1_GENERALIZEDTIME_free(thisupd);
	ASN1_GENERALIZEDTIME_free(nextupd);
	return r;
}

int
ocsp_response_error(int status, unsigned char **derp, size_t *lenp)
{
	OCSP_RESPONSE *resp;
	unsigned char *der = NULL;
	int len;

	if ((resp = OCSP_response_create(status, NULL)) == NULL)
		return LY_ERR_ALLOC;
	len = i2d_OCSP_RESPONSE(resp, &der);
	OCSP_RESPONSE_free(resp);
	if (len <= 0) {
		ERR_clear_error();
		return LY_ERR_ALLOC;
	}
	*derp = der;
	*lenp = (size_t)len;
	return LY_OK;
}

int
ocsp_stored_encode(const struct ocsp_signed *s, int status, int slot,
    unsigned char **valp, size_t *lenp)
{
	unsigned char *v;

	if ((v = calloc(1, OCSP_STORED_HDR + s->len)) == NULL)
		return LY_ERR_ALLOC;
	memcpy(v, stored_magic, sizeof(stored_magic));
	v[4] = (unsigned char)status;
	v[OCSP_STORED_SLOT] = (unsigned char)(slot + 1);
	ly_be64_put(v + 8, (uint64_t)(int64_t)s->this_update);
	ly_be64_put(v + 16, (uint64_t)(int64_t)s->next_update);
	ly_be64_put(v + 24, (uint64_t)(int64_t)s->produced_at);
	SHA256(s->der, s->len, v + 32);
	memcpy(v + OCSP_STORED_HDR, s->der, s->len);
	*valp = v;
	*lenp = OCSP_STORED_HDR + s->len;
	return LY_OK;
}

int
ocsp_stored_parse(const void *val, size_t len, struct ocsp_stored *st)
{
	const unsigned char *v = val;

	/* Anything else (another version, a bare DER) is signed afresh. */
	if (len <= OCSP_STORED_HDR ||
	    memcmp(v, stored_magic, sizeof(stored_magic)) != 0 ||
	    v[4] > V_OCSP_CERTSTATUS_UNKNOWN)
		return ly_fail(LY_ERR_BAD_INPUT, "stored OCSP response: "
		    "unknown format");
	st->status = v[4];
	st->by_root = v[OCSP_STORED_SIGNER] == OCSP_STORED_ROOT;
	if (v[OCSP_STORED_SLOT] != 0)
		st->slot = v[OCSP_STORED_SLOT] - 1;
	else
		st->slot = st->by_root ? CA_ROOT : CA_ISSUING;
	st->this_update = (time_t)(int64_t)ly_be64_get(v + 8);
	st->next_update = (time_t)(int64_t)ly_be64_get(v + 16);
	st->produced_at = (time_t)(int64_t)ly_be64_get(v + 24);
	memcpy(st->hash, v + 32, sizeof(st->hash));
	st->der = v + OCSP_STORED_HDR;
	st->len = len - OCSP_STORED_HDR;
	return LY_OK;
}
