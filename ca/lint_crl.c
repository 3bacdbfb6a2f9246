/*
 * ca/lint_crl.c — the CRL rules of the pre-issuance lint (see ca/lint.c
 * for the table): the header and extensions of a TBSCertList, and its
 * entries, which crl/ lints one by one as it streams them.
 */
#include "config.h"

#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/lint_int.h"
#include "util/util.h"

/*
 * RFC 5280 5.3.1: the reasons a CRL of ours may give. unspecified (0) is
 * said by leaving the extension out, 7 is unassigned, removeFromCRL (8)
 * belongs in delta CRLs of certificates on hold, which we never make.
 *
 * DER has one encoding per value, ENUMERATED 0x0a 0x01 <reason> for
 * these, so the extension's value is compared with it rather than
 * decoded: a decode allocates, and over a million entries it was three
 * quarters of the lint's time.
 */
static int
reason_ok(const X509_EXTENSION *e, int *reasonp)
{
	const ASN1_OCTET_STRING *v;
	const unsigned char *d;

	/* XXX OpenSSL 3.0 has no const getter of the value; it is only read. */
	v = X509_EXTENSION_get_data((X509_EXTENSION *)e);
	d = ASN1_STRING_get0_data(v);
	*reasonp = -1;
	if (ASN1_STRING_length(v) != 3 || d[0] != V_ASN1_ENUMERATED ||
	    d[1] != 1)
		return 0;
	*reasonp = d[2];
	switch (d[2]) {
	case 1: case 2: case 3: case 4: case 5: case 6: case 9: case 10:
		return 1;
	default:
		return 0;
	}
}

static int
lint_entry(const X509_REVOKED *rv)
{
	static const int crit[] = { NID_certificate_issuer };
	const enum ca_lint_kind k = CA_LINT_CRL;
	const X509_EXTENSION *e;
	int i, reason, r;

	if ((r = lint_serial(k, "a CRL entry's serial",
	    X509_REVOKED_get0_serialNumber(rv))) != LY_OK ||
	    (r = lint_time(k, "a revocationDate",
	    X509_REVOKED_get0_revocationDate(rv), LINT_TIME_5280)) != LY_OK)
		return r;
	if (X509_REVOKED_get_ext_count(rv) == 0)
		return LY_OK;
	if ((r = lint_exts(k, "a CRL entry", X509_REVOKED_get0_extensions(rv),
	    crit, sizeof(crit) / sizeof(crit[0]))) != LY_OK)
		return r;
	if ((i = X509_REVOKED_get_ext_by_NID(rv, NID_crl_reason, -1)) < 0)
		return LY_OK;
	e = X509_REVOKED_get_ext(rv, i);
	if (reason_ok(e, &reason))
		return LY_OK;
	if (reason < 0)
		return lint_fail(k, "e_crl_has_valid_reason_code", "a "
		    "reasonCode that is not a DER ENUMERATED of one octet");
	return lint_fail(k, "e_crl_has_valid_reason_code", "reasonCode %d",
	    reason);
}

int
ca_lint_crl_entry(const X509_REVOKED *rv)
{
	if (rv == NULL)
		return ly_fail(LY_ERR_ARG, "ca_lint_crl_entry: NULL entry");
	return lint_entry(rv);
}

/* CRL number and delta CRL indicator (RFC 5280 5.2.3, 5.2.4). */
static int
lint_crl_number(const X509_CRL *crl)
{
	const enum ca_lint_kind k = CA_LINT_CRL;
	ASN1_INTEGER *n;
	int c, i, len, r = LY_OK;

	if ((n = X509_CRL_get_ext_d2i(crl, NID_crl_number, &c, NULL)) == NULL)
		return lint_fail(k, c >= 0 ? "e_cert_ext_invalid_der" :
		    "e_crl_missing_crl_number", "the CRL number is %s",
		    c >= 0 ? "not an INTEGER" : "absent");
	len = lint_int_octets(n);
	if (c)
		r = lint_fail(k, "e_crl_number_critical", "the CRL number is "
		    "critical");
	else if (ASN1_STRING_type(n) == V_ASN1_NEG_INTEGER)
		r = lint_fail(k, "e_crl_number_negative", "the CRL number is "
		    "negative");
	else if (len > LINT_SERIAL_MAX)
		r = lint_fail(k, "e_crl_number_longer_than_20_octets", "the "
		    "CRL number is %d octets", len);
	ASN1_INTEGER_free(n);
	if (r != LY_OK)
		return r;
	if ((i = X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1)) >= 0 &&
	    !X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, i)))
		return lint_fail(k, "e_crl_delta_indicator_not_critical", "the "
		    "delta CRL indicator is not critical");
	return LY_OK;
}

int
ca_lint_crl(const X509_CRL *crl, const X509 *issuer)
{
	/* May be critical; AKI and CRL number have rules of their own. */
	static const int crit[] = { NID_delta_crl,
	    NID_issuing_distribution_point, NID_authority_key_identifier,
	    NID_crl_number };
	const enum ca_lint_kind k = CA_LINT_CRL;
	const ASN1_TIME *tu, *nu;
	STACK_OF(X509_REVOKED) *rvs;
	ASN1_OCTET_STRING *want = NULL;
	AUTHORITY_KEYID *aki;
	int i, c, r;

	if (crl == NULL)
		return ly_fail(LY_ERR_ARG, "ca_lint_crl: NULL CRL");
	if (X509_CRL_get_version(crl) != X509_CRL_VERSION_2)
		return lint_fail(k, "e_crl_version_not_2", "a v%ld CRL",
		    X509_CRL_get_version(crl) + 1);
	if (issuer != NULL && X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(issuer)) != 0)
		return lint_fail(k, "e_issuer_name_mismatch", "the CRL's "
		    "issuer is not the CA's subject");
	tu = X509_CRL_get0_lastUpdate(crl);
	nu = X509_CRL_get0_nextUpdate(crl);
	if ((r = lint_time_full(k, "thisUpdate", tu, LINT_TIME_5280)) != LY_OK)
		return r;
	if (nu == NULL)
		return lint_fail(k, "e_crl_has_next_update", "the CRL has no "
		    "nextUpdate");
	if ((r = lint_time_full(k, "nextUpdate", nu, LINT_TIME_5280)) != LY_OK)
		return r;
	if (!lint_time_before(tu, nu))
		return lint_fail(k, "e_crl_next_update_not_after_this_update",
		    "nextUpdate is not after thisUpdate");
	if ((r = lint_exts(k, "the CRL", X509_CRL_get0_extensions(crl), crit,
	    sizeof(crit) / sizeof(crit[0]))) != LY_OK)
		return r;
	aki = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &c, NULL);
	if (aki == NULL && c >= 0)
		return lint_fail(k, "e_cert_ext_invalid_der", "the CRL's "
		    "authority key identifier does not decode");
	if (issuer != NULL && (want = lint_issuer_key_id(issuer)) == NULL) {
		AUTHORITY_KEYID_free(aki);
		return ly_fail(LY_ERR_INTERNAL, "lint: the issuer's key "
		    "identifier");
	}
	r = lint_aki(k, "the CRL", aki, c > 0, 1, want);
	AUTHORITY_KEYID_free(aki);
	ASN1_OCTET_STRING_free(want);
	if (r != LY_OK || (r = lint_crl_number(crl)) != LY_OK)
		return r;
	/* XXX OpenSSL 3.0 has no const getter of the entries; it only reads. */
	rvs = X509_CRL_get_REVOKED((X509_CRL *)crl);
	for (i = 0; i < sk_X509_REVOKED_num(rvs); i++)
		if ((r = lint_entry(sk_X509_REVOKED_value(rvs, i))) != LY_OK)
			return r;
	return LY_OK;
}

