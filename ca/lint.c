/*
 * ca/lint.c — pre-issuance lint: the to-be-signed certificate, CRL or OCSP
 * response is checked against the rules public CAs lint for, before the
 * HSM signs it. A signature cannot be taken back; a refused operation can
 * be retried once the bug that made the object is fixed. An object that
 * fails is ours, so a failure is our bug, not the requester's: it is
 * logged, counted per kind (ca_lint_failures(), which web/ exports as
 * lanyard_lint_failures_total) and refused with LY_ERR_LINT and
 * "lint: <rule>: <why>" in ly_errdetail().
 *
 * This file has the pieces every kind shares and the certificate rules;
 * lint_crl.c and lint_ocsp.c have the others. Rule names are zlint's
 * where zlint has the rule, so that a finding can be compared with a
 * zlint run over the same object; "*" marks our own (mostly rules that
 * need the issuer, which zlint does not see). What each refuses is in
 * docs/security.md, "Pre-issuance lint", and in its message.
 *
 * rule (* ours: zlint has none)                      RFC (5280 unless named)
 *
 * certificates: ca_lint_cert()
 *   e_serial_number_not_positive                     4.1.2.2
 *   e_serial_number_longer_than_20_octets            4.1.2.2
 *   e_cert_extensions_version_not_3                  4.1.2.1
 *   e_issuer_name_mismatch *                         4.1.2.4
 *   e_validity_time_not_positive                     4.1.2.5
 *   e_wrong_time_format_pre2050                      4.1.2.5
 *   e_utc_time_not_in_zulu                           4.1.2.5.1
 *   e_utc_time_does_not_include_seconds              4.1.2.5.1
 *   e_generalized_time_not_in_zulu                   4.1.2.5.2
 *   e_generalized_time_includes_fraction_seconds     4.1.2.5.2
 *   e_generalized_time_does_not_include_seconds      4.1.2.5.2
 *   e_time_invalid *                                 4.1.2.5
 *   e_ext_duplicate_extension                        4.2
 *   e_ext_unknown_critical *                         4.2
 *   e_cert_ext_invalid_der                           4.2
 *   e_ext_authority_key_identifier_missing           4.2.1.1
 *   e_ext_authority_key_identifier_critical          4.2.1.1
 *   e_ext_authority_key_identifier_no_key_identifier 4.2.1.1
 *   e_ext_authority_key_identifier_mismatch *        4.2.1.1
 *   e_ext_subject_key_identifier_missing_ca          4.2.1.2
 *   e_ext_subject_key_identifier_critical            4.2.1.2
 *   e_ca_key_usage_missing                           4.2.1.3
 *   e_ca_key_usage_not_critical                      4.2.1.3
 *   e_ca_key_cert_sign_not_set                       4.2.1.9
 *   e_ext_key_usage_without_bits                     4.2.1.3
 *   e_ext_key_usage_cert_sign_without_ca             4.2.1.3
 *   e_ext_key_usage_crl_sign_without_ca *            4.2.1.3
 *   e_basic_constraints_not_critical                 4.2.1.9
 *   e_path_len_constraint_improperly_included        4.2.1.9
 *   e_path_len_constraint_zero_or_less               4.2.1.9
 *   e_sub_cert_eku_missing                           BR 7.1.2.3
 *   e_sub_cert_eku_any *                             4.2.1.12
 *   e_ocsp_signer_eku_not_exclusive *                6960 4.2.2.2
 *   e_ocsp_signer_nocheck_missing *                  6960 4.2.2.2.1
 *   e_ocsp_nocheck_without_ocsp_signing *            6960 4.2.2.2.1
 *   e_ocsp_signer_has_crl_dp *                       6960 4.2.2.2.1
 *   e_ocsp_signer_has_ocsp_url *                     6960 4.2.2.2.1
 *   e_ext_san_missing                                BR 7.1.2.3
 *   e_ext_san_no_entries                             4.2.1.6
 *   e_ext_san_not_critical_without_subject           4.2.1.6
 *   e_ext_san_empty_name                             4.2.1.6
 *   e_ext_san_dns_name_too_long                      1034 3.1
 *   e_dnsname_empty_label                            1034 3.1
 *   e_dnsname_label_too_long                         1034 3.1
 *   e_dnsname_bad_character_in_label                 1123 2.1
 *   e_dnsname_wildcard_only_in_left_label            6125 6.4.3
 *   e_dnsname_left_label_wildcard_correct            6125 6.4.3
 *   e_san_bare_wildcard                              6125 6.4.3
 *   e_ext_san_ip_bad_length *                        4.2.1.6
 *   e_ext_san_uri_not_ia5                            4.2.1.6
 *
 * CRLs: ca_lint_crl(), ca_lint_crl_entry()
 *   e_crl_version_not_2 *                            5.1.2.1
 *   e_issuer_name_mismatch *                         5.1.2.3
 *   (time rules above)                               5.1.2.4
 *   e_crl_has_next_update                            5.1.2.5
 *   e_crl_next_update_not_after_this_update *        5.1.2.5
 *   e_ext_duplicate_extension                        5.2, 5.3
 *   e_ext_unknown_critical *                         5.2, 5.3
 *   e_crl_has_authority_key_identifier               5.2.1
 *   (AKI rules above)                                5.2.1
 *   e_crl_missing_crl_number                         5.2.3
 *   e_crl_number_critical *                          5.2.3
 *   e_crl_number_negative *                          5.2.3
 *   e_crl_number_longer_than_20_octets *             5.2.3
 *   e_crl_delta_indicator_not_critical *             5.2.4
 *   (serial rules above)                             5.1.2.6
 *   e_crl_has_valid_reason_code                      5.3.1
 *
 * OCSP responses: ca_lint_ocsp()
 *   e_ocsp_responder_id_missing *                    6960 4.2.2.3
 *   e_ocsp_responder_id_mismatch *                   6960 4.2.2.3
 *   e_ocsp_time_not_generalized *                    6960 4.2.1
 *   (GeneralizedTime rules above)                    5019 2.2.4
 *   e_ocsp_no_single_responses *                     6960 4.2.1
 *   e_ocsp_produced_at_before_this_update *          6960 4.2.2.1
 *   e_ocsp_next_update_not_after_this_update *       6960 4.2.2.1
 *   e_ext_duplicate_extension                        6960 4.4
 *   e_ext_unknown_critical *                         6960 4.4
 *   e_ocsp_signer_eku_missing *                      6960 4.2.2.2
 *   (OCSP signer rules above)                        6960 4.2.2.2.1
 *
 * Not checked: the signature algorithm (it is set while signing, and every
 * caller verifies the result with the CA's key), and how the SKI was
 * derived (RFC 5280 4.2.1.2 allows any method).
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/lint_int.h"
#include "util/util.h"

/* RFC 1034 3.1: a name and a label. */
#define LINT_DNS_MAX		253
#define LINT_LABEL_MAX		63
/* keyUsage bits (RFC 5280 4.2.1.3). */
#define BIT_CERT_SIGN		5
#define BIT_CRL_SIGN		6

static atomic_uint_fast64_t failures[CA_LINT_KINDS];

static const char *const kind_names[CA_LINT_KINDS] = { "cert", "crl", "ocsp" };
static const char *const kind_objects[CA_LINT_KINDS] = {
	"a certificate", "a CRL", "an OCSP response",
};

uint64_t
ca_lint_failures(enum ca_lint_kind k)
{
	if ((unsigned int)k >= CA_LINT_KINDS)
		return 0;
	return atomic_load_explicit(&failures[k], memory_order_relaxed);
}

const char *
ca_lint_kind_name(enum ca_lint_kind k)
{
	if ((unsigned int)k >= CA_LINT_KINDS)
		return "unknown";
	return kind_names[k];
}

/*
 * The log line is at error level: the object was ours, so the operator
 * must learn of the bug that made it.
 */
int
lint_fail(enum ca_lint_kind k, const char *rule, const char *fmt, ...)
{
	char words[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(words, sizeof(words), fmt, ap);
	va_end(ap);
	ly_fail(LY_ERR_LINT, "lint: %s: %s", rule, words);
	ly_log(LY_LOG_ERR, "not signing %s: %s", kind_objects[k],
	    ly_errdetail());
	atomic_fetch_add_explicit(&failures[k], 1, memory_order_relaxed);
	return LY_ERR_LINT;
}

/* ---- pieces every kind shares -------------------------------------------- */

static int
digits(const unsigned char *d, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (d[i] < '0' || d[i] > '9')
			return 0;
	return 1;
}

/*
 * RFC 5280 4.1.2.5 (and 5.1.2.4, 5.1.2.6 for CRLs): UTCTime
 * YYMMDDHHMMSSZ for dates through 2049, GeneralizedTime YYYYMMDDHHMMSSZ
 * from 2050, no fractions, no offsets. The format is checked on the
 * bytes, so a CRL entry costs no allocation.
 */
int
lint_time(enum ca_lint_kind k, const char *what, const ASN1_TIME *t, int mode)
{
	const unsigned char *d;
	int len, type, year;

	if (t == NULL)
		return lint_fail(k, "e_time_invalid", "%s is absent", what);
	d = ASN1_STRING_get0_data(t);
	len = ASN1_STRING_length(t);
	type = ASN1_STRING_type(t);
	if (mode == LINT_TIME_GENERALIZED && type != V_ASN1_GENERALIZEDTIME)
		return lint_fail(k, "e_ocsp_time_not_generalized", "%s is not "
		    "a GeneralizedTime (RFC 6960 4.2.1)", what);
	if (type == V_ASN1_UTCTIME) {
		if (len < 1 || d[len - 1] != 'Z')
			return lint_fail(k, "e_utc_time_not_in_zulu", "%s "
			    "\"%.*s\" does not end in Z", what, len, d);
		if (len != 13)
			return lint_fail(k,
			    "e_utc_time_does_not_include_seconds",
			    "%s \"%.*s\" is not YYMMDDHHMMSSZ", what, len, d);
		if (!digits(d, 12))
			return lint_fail(k, "e_time_invalid", "%s \"%.*s\" is "
			    "not a date", what, len, d);
		return LY_OK;
	}
	if (type != V_ASN1_GENERALIZEDTIME)
		return lint_fail(k, "e_time_invalid", "%s is neither UTCTime "
		    "nor GeneralizedTime", what);
	if (len < 1 || d[len - 1] != 'Z')
		return lint_fail(k, "e_generalized_time_not_in_zulu", "%s "
		    "\"%.*s\" does not end in Z", what, len, d);
	if (memchr(d, '.', (size_t)len) != NULL)
		return lint_fail(k,
		    "e_generalized_time_includes_fraction_seconds",
		    "%s \"%.*s\" has fractional seconds", what, len, d);
	if (len != 15)
		return lint_fail(k,
		    "e_generalized_time_does_not_include_seconds",
		    "%s \"%.*s\" is not YYYYMMDDHHMMSSZ", what, len, d);
	if (!digits(d, 14))
		return lint_fail(k, "e_time_invalid", "%s \"%.*s\" is not a "
		    "date", what, len, d);
	year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
	    (d[3] - '0');
	if (mode == LINT_TIME_5280 && year < 2050)
		return lint_fail(k, "e_wrong_time_format_pre2050", "%s "
		    "\"%.*s\" must be a UTCTime", what, len, d);
	return LY_OK;
}

/* The calendar, once the format is right: ASN1_TIME_check() parses it. */
int
lint_time_full(enum ca_lint_kind k, const char *what, const ASN1_TIME *t,
    int mode)
{
	int r;

	if ((r = lint_time(k, what, t, mode)) != LY_OK)
		return r;
	if (!ASN1_TIME_check(t))
		return lint_fail(k, "e_time_invalid", "%s \"%.*s\" is not a "
		    "date", what, ASN1_STRING_length(t),
		    ASN1_STRING_get0_data(t));
	return LY_OK;
}

/* a < b, both already linted; -2 from OpenSSL cannot happen then. */
int
lint_time_before(const ASN1_TIME *a, const ASN1_TIME *b)
{
	return ASN1_TIME_compare(a, b) < 0;
}

/*
 * The octets DER gives a non-negative INTEGER's content: the magnitude
 * without leading zeros, and a zero octet before a top bit that is set.
 * 0 for zero.
 */
int
lint_int_octets(const ASN1_INTEGER *n)
{
	const unsigned char *d = ASN1_STRING_get0_data(n);
	int len = ASN1_STRING_length(n), i;

	for (i = 0; i < len && d[i] == 0; i++)
		continue;
	if (i == len)
		return 0;
	return len - i + ((d[i] & 0x80) != 0);
}

/* RFC 5280 4.1.2.2: positive, at most 20 octets. */
int
lint_serial(enum ca_lint_kind k, const char *what, const ASN1_INTEGER *sn)
{
	int octets;

	if (sn == NULL || (octets = lint_int_octets(sn)) == 0)
		return lint_fail(k, "e_serial_number_not_positive", "%s is "
		    "%s", what, sn == NULL ? "absent" : "zero");
	if (ASN1_STRING_type(sn) == V_ASN1_NEG_INTEGER)
		return lint_fail(k, "e_serial_number_not_positive", "%s is "
		    "negative", what);
	if (octets > LINT_SERIAL_MAX)
		return lint_fail(k, "e_serial_number_longer_than_20_octets",
		    "%s is %d octets", what, octets);
	return LY_OK;
}

/* XXX OpenSSL 3.0's getter is not const; it only reads. */
static const ASN1_OBJECT *
ext_object(const X509_EXTENSION *e)
{
	return X509_EXTENSION_get_object((X509_EXTENSION *)e);
}

static int
nid_in(int nid, const int *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i] == nid)
			return 1;
	return 0;
}

/*
 * RFC 5280 4.2: an extension appears at most once; a critical one that
 * the relying party cannot process makes it reject the object, so only
 * those in crit may be critical: the ones we mean to mark so, and those
 * whose criticality a rule of their own judges (it names the problem
 * better).
 */
int
lint_exts(enum ca_lint_kind k, const char *what,
    const STACK_OF(X509_EXTENSION) *exts, const int *crit, size_t ncrit)
{
	const X509_EXTENSION *e;
	const ASN1_OBJECT *o;
	char oid[80];
	int i, j, n = sk_X509_EXTENSION_num(exts);

	for (i = 0; i < n; i++) {
		e = sk_X509_EXTENSION_value(exts, i);
		o = ext_object(e);
		for (j = 0; j < i; j++) {
			if (OBJ_cmp(o, ext_object(sk_X509_EXTENSION_value(exts,
			    j))) != 0)
				continue;
			OBJ_obj2txt(oid, sizeof(oid), o, 1);
			return lint_fail(k, "e_ext_duplicate_extension", "%s: "
			    "extension %s appears twice", what, oid);
		}
		if (X509_EXTENSION_get_critical(e) &&
		    !nid_in(OBJ_obj2nid(o), crit, ncrit)) {
			OBJ_obj2txt(oid, sizeof(oid), o, 1);
			return lint_fail(k, "e_ext_unknown_critical", "%s: "
			    "extension %s is critical", what, oid);
		}
	}
	return LY_OK;
}

/*
 * X509_get_ext_d2i() gave v and crit: NULL and crit -1 is an extension
 * that is absent, NULL and crit 0 or 1 one that does not decode.
 */
static int
ext_decoded(enum ca_lint_kind k, const char *what, const void *v, int crit,
    int nid)
{
	if (v == NULL && crit >= 0)
		return lint_fail(k, "e_cert_ext_invalid_der", "%s: %s does not "
		    "decode", what, OBJ_nid2sn(nid));
	return LY_OK;
}

/* The issuer's key identifier: its SKI, else RFC 5280 4.2.1.2 method 1. */
ASN1_OCTET_STRING *
lint_issuer_key_id(const X509 *issuer)
{
	ASN1_OCTET_STRING *ski;
	const ASN1_BIT_STRING *pk;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	ski = X509_get_ext_d2i(issuer, NID_subject_key_identifier, NULL, NULL);
	if (ski != NULL)
		return ski;
	if ((pk = X509_get0_pubkey_bitstr(issuer)) == NULL ||
	    !EVP_Digest(ASN1_STRING_get0_data(pk),
	    (size_t)ASN1_STRING_length(pk), md, &mdlen, EVP_sha1(), NULL) ||
	    (ski = ASN1_OCTET_STRING_new()) == NULL)
		return NULL;
	if (!ASN1_OCTET_STRING_set(ski, md, (int)mdlen)) {
		ASN1_OCTET_STRING_free(ski);
		return NULL;
	}
	return ski;
}

/*
 * RFC 5280 4.2.1.1 / 5.2.1: AKI present (required unless self-signed),
 * not critical, with a keyIdentifier equal to the issuer's (want: NULL
 * when there is nothing to compare with).
 */
int
lint_aki(enum ca_lint_kind k, const char *what, const AUTHORITY_KEYID *aki,
    int crit, int required, const ASN1_OCTET_STRING *want)
{
	if (aki == NULL) {
		if (!required)
			return LY_OK;
		return lint_fail(k, k == CA_LINT_CRL ?
		    "e_crl_has_authority_key_identifier" :
		    "e_ext_authority_key_identifier_missing", "%s has no "
		    "authority key identifier", what);
	}
	if (crit)
		return lint_fail(k, "e_ext_authority_key_identifier_critical",
		    "%s: the authority key identifier is critical", what);
	if (aki->keyid == NULL)
		return lint_fail(k,
		    "e_ext_authority_key_identifier_no_key_identifier",
		    "%s: the authority key identifier has no keyIdentifier",
		    what);
	if (want != NULL && ASN1_OCTET_STRING_cmp(aki->keyid, want) != 0)
		return lint_fail(k, "e_ext_authority_key_identifier_mismatch",
		    "%s: the authority key identifier is not the issuer's "
		    "subject key identifier", what);
	return LY_OK;
}

/* ---- certificates: the facts, shared with the OCSP signer check ------- */

void
lint_facts_clear(struct cert_facts *f)
{
	BASIC_CONSTRAINTS_free(f->bc);
	ASN1_BIT_STRING_free(f->ku);
	EXTENDED_KEY_USAGE_free(f->eku);
	GENERAL_NAMES_free(f->san);
	ASN1_OCTET_STRING_free(f->ski);
	AUTHORITY_KEYID_free(f->aki);
	AUTHORITY_INFO_ACCESS_free(f->aia);
}

static unsigned int
eku_flags(const EXTENDED_KEY_USAGE *eku)
{
	unsigned int fl = 0;
	int i;

	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		switch (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i))) {
		case NID_server_auth:
			fl |= LINT_EKU_SERVER;
			break;
		case NID_client_auth:
			fl |= LINT_EKU_CLIENT;
			break;
		case NID_OCSP_sign:
			fl |= LINT_EKU_OCSP;
			break;
		case NID_anyExtendedKeyUsage:
			fl |= LINT_EKU_ANY;
			break;
		default:
			fl |= LINT_EKU_OTHER;
			break;
		}
	}
	return fl;
}

/* Decodes the extensions the rules need; an undecodable one is refused. */
int
lint_facts_load(enum ca_lint_kind k, const X509 *x, struct cert_facts *f,
    const char *what)
{
	int eku_crit, aia_crit, r;

	memset(f, 0, sizeof(*f));
	f->bc = X509_get_ext_d2i(x, NID_basic_constraints, &f->bc_crit, NULL);
	f->ku = X509_get_ext_d2i(x, NID_key_usage, &f->ku_crit, NULL);
	f->eku = X509_get_ext_d2i(x, NID_ext_key_usage, &eku_crit, NULL);
	f->san = X509_get_ext_d2i(x, NID_subject_alt_name, &f->san_crit, NULL);
	f->ski = X509_get_ext_d2i(x, NID_subject_key_identifier, &f->ski_crit,
	    NULL);
	f->aki = X509_get_ext_d2i(x, NID_authority_key_identifier,
	    &f->aki_crit, NULL);
	f->aia = X509_get_ext_d2i(x, NID_info_access, &aia_crit, NULL);
	if ((r = ext_decoded(k, what, f->bc, f->bc_crit,
	    NID_basic_constraints)) != LY_OK ||
	    (r = ext_decoded(k, what, f->ku, f->ku_crit, NID_key_usage)) !=
	    LY_OK ||
	    (r = ext_decoded(k, what, f->eku, eku_crit, NID_ext_key_usage)) !=
	    LY_OK ||
	    (r = ext_decoded(k, what, f->san, f->san_crit,
	    NID_subject_alt_name)) != LY_OK ||
	    (r = ext_decoded(k, what, f->ski, f->ski_crit,
	    NID_subject_key_identifier)) != LY_OK ||
	    (r = ext_decoded(k, what, f->aki, f->aki_crit,
	    NID_authority_key_identifier)) != LY_OK ||
	    (r = ext_decoded(k, what, f->aia, aia_crit, NID_info_access)) !=
	    LY_OK)
		return r;
	f->cdp = X509_get_ext_by_NID(x, NID_crl_distribution_points, -1) >= 0;
	f->nocheck = X509_get_ext_by_NID(x, NID_id_pkix_OCSP_noCheck, -1) >= 0;
	f->ca = f->bc != NULL && f->bc->ca;
	f->eku_flags = f->eku != NULL ? eku_flags(f->eku) : 0;
	f->bc_crit = f->bc_crit > 0;
	f->ku_crit = f->ku_crit > 0;
	f->san_crit = f->san_crit > 0;
	f->ski_crit = f->ski_crit > 0;
	f->aki_crit = f->aki_crit > 0;
	return LY_OK;
}

static int
aia_has_ocsp(const AUTHORITY_INFO_ACCESS *aia)
{
	int i;

	for (i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); i++)
		if (OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia, i)->method) ==
		    NID_ad_OCSP)
			return 1;
	return 0;
}

/*
 * A delegated OCSP signer is trusted for every status it signs, so it
 * must be nothing else, and is not checked for revocation itself
 * (RFC 6960 4.2.2.2.1): nocheck, and no CRL DP or OCSP URL that would
 * tell a relying party otherwise.
 */
int
lint_ocsp_signer(enum ca_lint_kind k, const struct cert_facts *f)
{
	if (!f->nocheck)
		return lint_fail(k, "e_ocsp_signer_nocheck_missing", "an OCSP "
		    "signer without id-pkix-ocsp-nocheck");
	if (f->cdp)
		return lint_fail(k, "e_ocsp_signer_has_crl_dp", "an OCSP "
		    "signer with a CRL distribution point");
	if (aia_has_ocsp(f->aia))
		return lint_fail(k, "e_ocsp_signer_has_ocsp_url", "an OCSP "
		    "signer with an OCSP URL");
	return LY_OK;
}

/* ---- certificates: the rules ------------------------------------------- */

/* Serial, version, issuer name and validity. */
static int
lint_cert_fields(const X509 *x, const X509 *issuer)
{
	const enum ca_lint_kind k = CA_LINT_CERT;
	const X509_NAME *want;
	const ASN1_TIME *nb = X509_get0_notBefore(x);
	const ASN1_TIME *na = X509_get0_notAfter(x);
	int r;

	if ((r = lint_serial(k, "the serial", X509_get0_serialNumber(x))) !=
	    LY_OK)
		return r;
	if (X509_get_ext_count(x) > 0 && X509_get_version(x) != X509_VERSION_3)
		return lint_fail(k, "e_cert_extensions_version_not_3", "a v%ld "
		    "certificate has extensions", X509_get_version(x) + 1);
	want = X509_get_subject_name(issuer != NULL ? issuer : x);
	if (X509_NAME_cmp(X509_get_issuer_name(x), want) != 0)
		return lint_fail(k, "e_issuer_name_mismatch", "the issuer name "
		    "is not the %s subject", issuer != NULL ? "issuer's" :
		    "certificate's own (self-signed)");
	if ((r = lint_time_full(k, "notBefore", nb, LINT_TIME_5280)) != LY_OK ||
	    (r = lint_time_full(k, "notAfter", na, LINT_TIME_5280)) != LY_OK)
		return r;
	if (!lint_time_before(nb, na))
		return lint_fail(k, "e_validity_time_not_positive", "notBefore "
		    "is not before notAfter");
	return LY_OK;
}

/* AKI and SKI (RFC 5280 4.2.1.1, 4.2.1.2). */
static int
lint_cert_keyids(const X509 *issuer, const struct cert_facts *f)
{
	const enum ca_lint_kind k = CA_LINT_CERT;
	ASN1_OCTET_STRING *want = NULL;
	int r;

	if (f->ski_crit)
		return lint_fail(k, "e_ext_subject_key_identifier_critical",
		    "the subject key identifier is critical");
	if (f->ca && f->ski == NULL)
		return lint_fail(k, "e_ext_subject_key_identifier_missing_ca",
		    "a CA certificate has no subject key identifier");
	/* Self-signed: the AKI may be absent, and names the key itself. */
	if (issuer != NULL && (want = lint_issuer_key_id(issuer)) == NULL)
		return ly_fail(LY_ERR_INTERNAL, "lint: the issuer's key "
		    "identifier");
	r = lint_aki(k, "the certificate", f->aki, f->aki_crit, issuer != NULL,
	    issuer != NULL ? want : f->ski);
	ASN1_OCTET_STRING_free(want);
	return r;
}

/* Whether any of the nine keyUsage bits is set. */
static int
ku_any(const ASN1_BIT_STRING *ku)
{
	int i;

	for (i = 0; i <= 8; i++)
		if (ASN1_BIT_STRING_get_bit(ku, i))
			return 1;
	return 0;
}

/* basicConstraints and keyUsage (RFC 5280 4.2.1.3, 4.2.1.9). */
static int
lint_cert_ca(const struct cert_facts *f)
{
	const enum ca_lint_kind k = CA_LINT_CERT;
	int certsign, crlsign;

	certsign = f->ku != NULL &&
	    ASN1_BIT_STRING_get_bit(f->ku, BIT_CERT_SIGN);
	crlsign = f->ku != NULL && ASN1_BIT_STRING_get_bit(f->ku, BIT_CRL_SIGN);
	if (f->ca && !f->bc_crit)
		return lint_fail(k, "e_basic_constraints_not_critical",
		    "CA:TRUE in a non-critical basicConstraints");
	if (f->ku != NULL && !ku_any(f->ku))
		return lint_fail(k, "e_ext_key_usage_without_bits", "keyUsage "
		    "has no bit set");
	if (certsign && !f->ca)
		return lint_fail(k, "e_ext_key_usage_cert_sign_without_ca",
		    "keyCertSign without CA:TRUE");
	if (crlsign && !f->ca)
		return lint_fail(k, "e_ext_key_usage_crl_sign_without_ca",
		    "cRLSign without CA:TRUE");
	if (f->ca && f->ku == NULL)
		return lint_fail(k, "e_ca_key_usage_missing", "a CA "
		    "certificate has no keyUsage");
	if (f->ca && !f->ku_crit)
		return lint_fail(k, "e_ca_key_usage_not_critical", "a CA "
		    "certificate's keyUsage is not critical");
	if (f->ca && !certsign)
		return lint_fail(k, "e_ca_key_cert_sign_not_set", "CA:TRUE "
		    "without keyCertSign");
	if (f->bc != NULL && f->bc->pathlen != NULL) {
		if (!f->ca || !certsign)
			return lint_fail(k,
			    "e_path_len_constraint_improperly_included",
			    "pathLenConstraint without CA:TRUE and "
			    "keyCertSign");
		if (ASN1_STRING_type(f->bc->pathlen) == V_ASN1_NEG_INTEGER)
			return lint_fail(k,
			    "e_path_len_constraint_zero_or_less",
			    "pathLenConstraint is negative");
	}
	return LY_OK;
}

/* extKeyUsage (RFC 5280 4.2.1.12) and the delegated OCSP signer. */
static int
lint_cert_eku(const struct cert_facts *f)
{
	const enum ca_lint_kind k = CA_LINT_CERT;

	if (!f->ca && f->eku == NULL)
		return lint_fail(k, "e_sub_cert_eku_missing", "a leaf without "
		    "extKeyUsage");
	if (!f->ca && (f->eku_flags & LINT_EKU_ANY))
		return lint_fail(k, "e_sub_cert_eku_any", "a leaf with "
		    "anyExtendedKeyUsage");
	if (f->nocheck && !(f->eku_flags & LINT_EKU_OCSP))
		return lint_fail(k, "e_ocsp_nocheck_without_ocsp_signing",
		    "id-pkix-ocsp-nocheck without the OCSPSigning purpose");
	if (!(f->eku_flags & LINT_EKU_OCSP))
		return LY_OK;
	if (f->eku_flags != LINT_EKU_OCSP)
		return lint_fail(k, "e_ocsp_signer_eku_not_exclusive",
		    "OCSPSigning together with another purpose");
	return lint_ocsp_signer(k, f);
}

/* One label of dNSName d: LDH (RFC 1123 2.1), or "*" first (RFC 6125 6.4.3). */
static int
lint_label(const unsigned char *l, size_t n, int first, int last,
    const unsigned char *d, int len)
{
	const enum ca_lint_kind k = CA_LINT_CERT;
	size_t i;

	if (n == 0)
		return lint_fail(k, "e_dnsname_empty_label", "dNSName \"%.*s\" "
		    "has an empty label", len, d);
	if (n > LINT_LABEL_MAX)
		return lint_fail(k, "e_dnsname_label_too_long", "dNSName "
		    "\"%.*s\" has a label of %zu octets", len, d, n);
	if (memchr(l, '*', n) != NULL) {
		if (!first)
			return lint_fail(k,
			    "e_dnsname_wildcard_only_in_left_label",
			    "dNSName \"%.*s\"", len, d);
		if (n != 1)
			return lint_fail(k,
			    "e_dnsname_left_label_wildcard_correct",
			    "dNSName \"%.*s\"", len, d);
		if (last)
			return lint_fail(k, "e_san_bare_wildcard", "dNSName "
			    "\"*\"");
		return LY_OK;
	}
	for (i = 0; i < n; i++)
		if (!((l[i] >= 'a' && l[i] <= 'z') ||
		    (l[i] >= 'A' && l[i] <= 'Z') ||
		    (l[i] >= '0' && l[i] <= '9') ||
		    (l[i] == '-' && i != 0 && i != n - 1)))
			return lint_fail(k, "e_dnsname_bad_character_in_label",
			    "dNSName \"%.*s\"", len, d);
	return LY_OK;
}

/* A dNSName (RFC 5280 4.2.1.6, RFC 1034 3.1). */
static int
lint_dns(const ASN1_IA5STRING *s)
{
	const enum ca_lint_kind k = CA_LINT_CERT;
	const unsigned char *d = ASN1_STRING_get0_data(s), *l, *dot, *end;
	int len = ASN1_STRING_length(s), first, r;

	if (len == 0)
		return lint_fail(k, "e_ext_san_empty_name", "an empty dNSName");
	if (len > LINT_DNS_MAX)
		return lint_fail(k, "e_ext_san_dns_name_too_long", "a dNSName "
		    "of %d octets", len);
	end = d + len;
	for (l = d, first = 1;; l = dot + 1, first = 0) {
		dot = memchr(l, '.', (size_t)(end - l));
		if ((r = lint_label(l, (size_t)((dot != NULL ? dot : end) - l),
		    first, dot == NULL, d, len)) != LY_OK)
			return r;
		if (dot == NULL)
			return LY_OK;
	}
}

/* One GeneralName of the SAN. */
static int
lint_gn(const GENERAL_NAME *gn)
{
	const enum ca_lint_kind k = CA_LINT_CERT;
	const ASN1_STRING *s;
	const unsigned char *d;
	int i, len;

	switch (gn->type) {
	case GEN_DNS:
		return lint_dns(gn->d.dNSName);
	case GEN_IPADD:
		len = ASN1_STRING_length(gn->d.iPAddress);
		if (len != 4 && len != 16)
			return lint_fail(k, "e_ext_san_ip_bad_length", "an "
			    "iPAddress of %d octets", len);
		return LY_OK;
	case GEN_URI:
		s = gn->d.uniformResourceIdentifier;
		break;
	case GEN_EMAIL:
		s = gn->d.rfc822Name;
		break;
	case GEN_OTHERNAME:
		s = gn->d.otherName->value->type == V_ASN1_UTF8STRING ?
		    gn->d.otherName->value->value.utf8string : NULL;
		if (s != NULL && ASN1_STRING_length(s) == 0)
			return lint_fail(k, "e_ext_san_empty_name", "an empty "
			    "otherName");
		return LY_OK;
	default:
		return LY_OK;
	}
	d = ASN1_STRING_get0_data(s);
	len = ASN1_STRING_length(s);
	if (len == 0)
		return lint_fail(k, "e_ext_san_empty_name", "an empty %s",
		    gn->type == GEN_URI ? "URI" : "rfc822Name");
	/* Printable IA5: NULs and control bytes have fooled name matching. */
	for (i = 0; gn->type == GEN_URI && i < len; i++)
		if (d[i] < 0x20 || d[i] > 0x7e)
			return lint_fail(k, "e_ext_san_uri_not_ia5", "URI byte "
			    "0x%02x at %d", d[i], i);
	return LY_OK;
}

/* subjectAltName (RFC 5280 4.2.1.6). */
static int
lint_cert_san(const X509 *x, const struct cert_facts *f)
{
	const enum ca_lint_kind k = CA_LINT_CERT;
	int i, r, empty = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;

	if (f->san == NULL) {
		/*
		 * A delegated OCSP signer is named by its subject or key
		 * in the responses it signs (RFC 6960 4.2.2.3); a name in a
		 * SAN would serve nothing.
		 */
		if (f->ca || f->eku_flags == LINT_EKU_OCSP)
			return LY_OK;
		return lint_fail(k, "e_ext_san_missing", "a leaf without "
		    "subjectAltName");
	}
	if (sk_GENERAL_NAME_num(f->san) == 0)
		return lint_fail(k, "e_ext_san_no_entries", "subjectAltName "
		    "has no name");
	if (empty && !f->san_crit)
		return lint_fail(k, "e_ext_san_not_critical_without_subject",
		    "the subject is empty and subjectAltName is not critical");
	for (i = 0; i < sk_GENERAL_NAME_num(f->san); i++)
		if ((r = lint_gn(sk_GENERAL_NAME_value(f->san, i))) != LY_OK)
			return r;
	return LY_OK;
}

int
ca_lint_cert(const X509 *x, const X509 *issuer)
{
	/* May be critical; the key identifiers have rules of their own. */
	static const int crit[] = { NID_basic_constraints, NID_key_usage,
	    NID_ext_key_usage, NID_subject_alt_name, NID_name_constraints,
	    NID_certificate_policies, NID_policy_constraints,
	    NID_policy_mappings, NID_inhibit_any_policy,
	    NID_subject_key_identifier, NID_authority_key_identifier };
	struct cert_facts f;
	int r;

	if (x == NULL)
		return ly_fail(LY_ERR_ARG, "ca_lint_cert: NULL certificate");
	if ((r = lint_cert_fields(x, issuer)) != LY_OK ||
	    (r = lint_exts(CA_LINT_CERT, "the certificate",
	    X509_get0_extensions(x), crit, sizeof(crit) / sizeof(crit[0]))) !=
	    LY_OK)
		return r;
	if ((r = lint_facts_load(CA_LINT_CERT, x, &f, "the certificate")) ==
	    LY_OK &&
	    (r = lint_cert_keyids(issuer, &f)) == LY_OK &&
	    (r = lint_cert_ca(&f)) == LY_OK &&
	    (r = lint_cert_eku(&f)) == LY_OK)
		r = lint_cert_san(x, &f);
	lint_facts_clear(&f);
	return r;
}

