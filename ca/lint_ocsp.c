/*
 * ca/lint_ocsp.c — the OCSP rules of the pre-issuance lint (see ca/lint.c
 * for the table): the tbsResponseData of a BasicOCSPResponse before it
 * is signed, and the certificate that will sign it.
 */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/lint_int.h"
#include "util/util.h"

/*
 * RFC 6960 4.2.2.3. OCSP_basic_sign_ctx() fills the responder ID in from
 * the signer's key as it signs, so before signing it is absent and the
 * signer it will be derived from is what we check; once present it must
 * name the signer.
 */
static int
lint_respid(OCSP_BASICRESP *bs, const X509 *signer)
{
	const enum ca_lint_kind k = CA_LINT_OCSP;
	const ASN1_OCTET_STRING *id = NULL;
	const X509_NAME *name = NULL;
	unsigned char md[SHA_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	int set;

	set = OCSP_resp_get0_id(bs, &id, &name) == 1 &&
	    (id != NULL || name != NULL);
	if (!set)
		return signer != NULL ? LY_OK : lint_fail(k,
		    "e_ocsp_responder_id_missing", "no responder ID");
	if (signer == NULL)
		return LY_OK;
	if (name != NULL) {
		if (X509_NAME_cmp(name, X509_get_subject_name(signer)) != 0)
			return lint_fail(k, "e_ocsp_responder_id_mismatch",
			    "the responder ID byName is not the signer's "
			    "subject");
		return LY_OK;
	}
	if (!X509_pubkey_digest(signer, EVP_sha1(), md, &mdlen))
		return ly_fail(LY_ERR_INTERNAL, "lint: the signer's key hash");
	if ((unsigned int)ASN1_STRING_length(id) != mdlen ||
	    memcmp(ASN1_STRING_get0_data(id), md, mdlen) != 0)
		return lint_fail(k, "e_ocsp_responder_id_mismatch", "the "
		    "responder ID byKey is not the signer's key hash");
	return LY_OK;
}

/* One SingleResponse: its times, and producedAt not before thisUpdate. */
static int
lint_single(OCSP_SINGLERESP *sr, const ASN1_GENERALIZEDTIME *produced)
{
	const enum ca_lint_kind k = CA_LINT_OCSP;
	ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;
	int reason, r;

	OCSP_single_get0_status(sr, &reason, &rev, &tu, &nu);
	if ((r = lint_time_full(k, "thisUpdate", tu, LINT_TIME_GENERALIZED)) !=
	    LY_OK)
		return r;
	if (lint_time_before(produced, tu))
		return lint_fail(k, "e_ocsp_produced_at_before_this_update",
		    "producedAt is before a thisUpdate");
	if (nu != NULL) {
		if ((r = lint_time_full(k, "nextUpdate", nu,
		    LINT_TIME_GENERALIZED)) != LY_OK)
			return r;
		if (!lint_time_before(tu, nu))
			return lint_fail(k,
			    "e_ocsp_next_update_not_after_this_update",
			    "nextUpdate is not after thisUpdate");
	}
	if (rev != NULL && (r = lint_time_full(k, "revocationTime", rev,
	    LINT_TIME_GENERALIZED)) != LY_OK)
		return r;
	return LY_OK;
}

/* responseExtensions: no duplicate, none critical (we know of none). */
static int
lint_ocsp_exts(OCSP_BASICRESP *bs)
{
	STACK_OF(X509_EXTENSION) *exts;
	int i, n = OCSP_BASICRESP_get_ext_count(bs), r;

	if (n == 0)
		return LY_OK;
	if ((exts = sk_X509_EXTENSION_new_null()) == NULL)
		return LY_ERR_ALLOC;
	for (i = 0; i < n; i++)
		if (!sk_X509_EXTENSION_push(exts,
		    OCSP_BASICRESP_get_ext(bs, i))) {
			sk_X509_EXTENSION_free(exts);
			return LY_ERR_ALLOC;
		}
	r = lint_exts(CA_LINT_OCSP, "the response", exts, NULL, 0);
	sk_X509_EXTENSION_free(exts);	/* the extensions are borrowed */
	return r;
}

/* Signed by the CA itself, or by a delegated signer fit to be one. */
static int
lint_signer_cert(const X509 *signer)
{
	const enum ca_lint_kind k = CA_LINT_OCSP;
	struct cert_facts f;
	int r;

	if ((r = lint_facts_load(k, signer, &f, "the OCSP signer")) != LY_OK)
		goto out;
	if (f.ca)
		goto out;
	if (!(f.eku_flags & LINT_EKU_OCSP)) {
		r = lint_fail(k, "e_ocsp_signer_eku_missing", "the signer is "
		    "neither a CA nor an OCSP signer");
		goto out;
	}
	r = lint_ocsp_signer(k, &f);
 out:
	lint_facts_clear(&f);
	return r;
}

int
ca_lint_ocsp(const OCSP_BASICRESP *cbs, const X509 *signer)
{
	const enum ca_lint_kind k = CA_LINT_OCSP;
	/* XXX OpenSSL 3.0's OCSP getters are not const; they only read. */
	OCSP_BASICRESP *bs = (OCSP_BASICRESP *)cbs;
	const ASN1_GENERALIZEDTIME *produced;
	int i, n, r;

	if (bs == NULL)
		return ly_fail(LY_ERR_ARG, "ca_lint_ocsp: NULL response");
	if ((r = lint_respid(bs, signer)) != LY_OK)
		return r;
	produced = OCSP_resp_get0_produced_at(bs);
	if ((r = lint_time_full(k, "producedAt", produced,
	    LINT_TIME_GENERALIZED)) != LY_OK)
		return r;
	if ((n = OCSP_resp_count(bs)) <= 0)
		return lint_fail(k, "e_ocsp_no_single_responses", "the "
		    "response has no SingleResponse");
	for (i = 0; i < n; i++)
		if ((r = lint_single(OCSP_resp_get0(bs, i), produced)) != LY_OK)
			return r;
	if ((r = lint_ocsp_exts(bs)) != LY_OK)
		return r;
	if (signer != NULL)
		return lint_signer_cert(signer);
	return LY_OK;
}
