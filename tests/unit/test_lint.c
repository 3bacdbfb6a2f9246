/*
 * tests/unit/test_lint.c — the pre-issuance lint (ca/lint*.c): a good
 * to-be-signed certificate, CRL and OCSP response of each shape we make
 * pass; then one deliberately broken variant per rule, each refused with
 * LY_ERR_LINT and a detail that names the rule; and the failure counters
 * /metrics exports.
 *
 * The objects are built here with OpenSSL and software keys: the lint
 * reads, it does not sign, so no token is needed. Every case is its own
 * cmocka test, named after the variant, so the TAP output lists the rules.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "util/util.h"
#include "web/extern.h"

/* 2030-01-01T00:00:00Z: every time below is relative to it. */
#define T0	((time_t)1893456000)
#define DAY	86400

/* The keys and CA certificates every case shares (made once). */
static EVP_PKEY *root_key, *sub_key, *leaf_key, *signer_key;
static X509 *root;

/* ---- building ---------------------------------------------------------- */

static ASN1_INTEGER *
serial_of(unsigned char first, int len)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	unsigned char b[32];

	assert_non_null(n);
	memset(b, 0x5a, sizeof(b));
	b[0] = first;
	assert_true(ASN1_STRING_set(n, b, len));
	return n;
}

/* Replaces extension nid by value in OpenSSL's config syntax; NULL removes. */
static void
ext_conf(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int i;

	while ((i = X509_get_ext_by_NID(x, nid, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	if (value == NULL)
		return;
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value));
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
}

/* Replaces extension nid by the encoding of value. */
static void
ext_i2d(X509 *x, int nid, void *value, int crit)
{
	assert_int_equal(X509_add1_ext_i2d(x, nid, value, crit,
	    X509V3_ADD_REPLACE), 1);
}

/* An extension of any OID with value der, appended. */
static X509_EXTENSION *
ext_raw(const char *oid, int nid, int crit, const void *der, int len)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *o = oid != NULL ? OBJ_txt2obj(oid, 1) : OBJ_nid2obj(nid);
	X509_EXTENSION *e;

	assert_non_null(os);
	assert_non_null(o);
	assert_true(ASN1_OCTET_STRING_set(os, der, len));
	assert_non_null(e = X509_EXTENSION_create_by_OBJ(NULL, o, crit, os));
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(o);
	return e;
}

/* The bytes and type of a time as they are, well-formed or not. */
static void
time_raw(ASN1_TIME *t, int type, const char *s)
{
	assert_true(ASN1_STRING_set(t, s, (int)strlen(s)));
	t->type = type;
}

enum base { B_LEAF, B_SERVICE, B_CA, B_ROOT, B_SIGNER };

/*
 * A to-be-signed certificate as ca/cert.c makes it: a client leaf with
 * URI, DNS and IP names, a service leaf, an intermediate CA, the root,
 * the delegated OCSP signer. Signed by nobody: lint does not look.
 */
static X509 *
tbs_cert_new(enum base b)
{
	X509 *x = X509_new(), *issuer = b == B_ROOT ? NULL : root;
	X509_NAME *subj = X509_NAME_new();
	ASN1_INTEGER *sn = serial_of(0x3c, 16);
	EVP_PKEY *key = b == B_CA ? sub_key : b == B_ROOT ? root_key :
	    b == B_SIGNER ? signer_key : leaf_key;
	const char *cn = b == B_CA ? "Sub CA" : b == B_ROOT ? "Root CA" :
	    b == B_SIGNER ? "OCSP Responder" : "dev";

	assert_non_null(x);
	assert_true(X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8,
	    (const unsigned char *)"Test", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0));
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(X509_set_serialNumber(x, sn));
	assert_true(X509_set_subject_name(x, subj));
	assert_true(X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : subj));
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), T0));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), T0 + 30 * DAY));
	assert_true(X509_set_pubkey(x, key));
	ext_conf(x, issuer, NID_subject_key_identifier, "hash");
	ext_conf(x, issuer, NID_authority_key_identifier, "keyid:always");
	switch (b) {
	case B_ROOT:
	case B_CA:
		ext_conf(x, issuer, NID_basic_constraints, b == B_CA ?
		    "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE");
		ext_conf(x, issuer, NID_key_usage,
		    "critical,keyCertSign,cRLSign,digitalSignature");
		break;
	case B_SIGNER:
		ext_conf(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		ext_conf(x, issuer, NID_key_usage, "critical,digitalSignature");
		ext_conf(x, issuer, NID_ext_key_usage, "OCSPSigning");
		ext_conf(x, issuer, NID_id_pkix_OCSP_noCheck, "ignored");
		ext_conf(x, issuer, NID_info_access,
		    "caIssuers;URI:http://ca.example/ca/issuing.crt");
		break;
	case B_LEAF:
	case B_SERVICE:
		ext_conf(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		ext_conf(x, issuer, NID_key_usage, "critical,digitalSignature");
		ext_conf(x, issuer, NID_ext_key_usage, b == B_LEAF ?
		    "clientAuth" : "serverAuth,clientAuth");
		ext_conf(x, issuer, NID_subject_alt_name, b == B_LEAF ?
		    "URI:{\"userId\":42},DNS:dev.example,IP:10.0.0.1" :
		    "DNS:*.svc.example,DNS:web-1.svc.example,IP:2001:db8::1");
		ext_conf(x, issuer, NID_crl_distribution_points,
		    "URI:http://ca.example/crl/issuing.crl");
		ext_conf(x, issuer, NID_info_access,
		    "OCSP;URI:http://ca.example/ocsp,"
		    "caIssuers;URI:http://ca.example/ca/issuing.crt");
		break;
	}
	ASN1_INTEGER_free(sn);
	X509_NAME_free(subj);
	return x;
}

/* ---- the broken variants of a certificate -------------------------------- */

static void
m_serial_negative(X509 *x)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	assert_true(ASN1_INTEGER_set(n, -5));
	assert_true(X509_set_serialNumber(x, n));
	ASN1_INTEGER_free(n);
}

static void
m_serial_zero(X509 *x)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	assert_true(ASN1_INTEGER_set(n, 0));
	assert_true(X509_set_serialNumber(x, n));
	ASN1_INTEGER_free(n);
}

static void
m_serial_21(X509 *x)
{
	ASN1_INTEGER *n = serial_of(0x01, 21);

	assert_true(X509_set_serialNumber(x, n));
	ASN1_INTEGER_free(n);
}

/* 20 octets whose top bit is set take 21 in DER. */
static void
m_serial_20_top_bit(X509 *x)
{
	ASN1_INTEGER *n = serial_of(0x80, 20);

	assert_true(X509_set_serialNumber(x, n));
	ASN1_INTEGER_free(n);
}

static void
m_version_1(X509 *x)
{
	assert_true(X509_set_version(x, X509_VERSION_1));
}

static void
m_issuer_other(X509 *x)
{
	X509_NAME *n = X509_NAME_new();

	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"Someone Else", -1, -1, 0));
	assert_true(X509_set_issuer_name(x, n));
	X509_NAME_free(n);
}

static void
m_validity_reversed(X509 *x)
{
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), T0 - 1));
}

static void
m_validity_empty(X509 *x)
{
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), T0));
}

static void
m_gen_pre2050(X509 *x)
{
	time_raw(X509_getm_notAfter(x), V_ASN1_GENERALIZEDTIME,
	    "20300201000000Z");
}

static void
m_utc_not_zulu(X509 *x)
{
	time_raw(X509_getm_notAfter(x), V_ASN1_UTCTIME, "3002010000+0100");
}

static void
m_utc_no_seconds(X509 *x)
{
	time_raw(X509_getm_notAfter(x), V_ASN1_UTCTIME, "3002010000Z");
}

static void
m_gen_fraction(X509 *x)
{
	time_raw(X509_getm_notAfter(x), V_ASN1_GENERALIZEDTIME,
	    "20500201000000.5Z");
}

static void
m_gen_not_zulu(X509 *x)
{
	time_raw(X509_getm_notAfter(x), V_ASN1_GENERALIZEDTIME,
	    "20500201000000");
}

static void
m_gen_no_seconds(X509 *x)
{
	time_raw(X509_getm_notAfter(x), V_ASN1_GENERALIZEDTIME,
	    "205002010000Z");
}

static void
m_time_month_13(X509 *x)
{
	time_raw(X509_getm_notAfter(x), V_ASN1_UTCTIME, "301301000000Z");
}

static void
m_ext_duplicate(X509 *x)
{
	X509_EXTENSION *e = X509_get_ext(x, X509_get_ext_by_NID(x,
	    NID_subject_key_identifier, -1));

	assert_true(X509_add_ext(x, e, -1));
}

static void
m_ext_unknown_critical(X509 *x)
{
	X509_EXTENSION *e = ext_raw("1.3.6.1.4.1.55555.1", 0, 1, "\x05\x00", 2);

	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
}

static void
m_ku_not_der(X509 *x)
{
	X509_EXTENSION *e = ext_raw(NULL, NID_key_usage, 1, "\x30\x00", 2);

	ext_conf(x, NULL, NID_key_usage, NULL);
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
}

static void
m_aki_missing(X509 *x)
{
	ext_conf(x, root, NID_authority_key_identifier, NULL);
}

static void
m_aki_critical(X509 *x)
{
	ext_conf(x, root, NID_authority_key_identifier,
	    "critical,keyid:always");
}

static void
m_aki_no_keyid(X509 *x)
{
	AUTHORITY_KEYID *a = AUTHORITY_KEYID_new();

	ext_i2d(x, NID_authority_key_identifier, a, 0);
	AUTHORITY_KEYID_free(a);
}

static void
m_aki_other(X509 *x)
{
	AUTHORITY_KEYID *a = AUTHORITY_KEYID_new();
	unsigned char id[20];

	memset(id, 0xaa, sizeof(id));
	assert_non_null(a->keyid = ASN1_OCTET_STRING_new());
	assert_true(ASN1_OCTET_STRING_set(a->keyid, id, sizeof(id)));
	ext_i2d(x, NID_authority_key_identifier, a, 0);
	AUTHORITY_KEYID_free(a);
}

static void
m_ski_missing(X509 *x)
{
	ext_conf(x, root, NID_subject_key_identifier, NULL);
}

static void
m_ski_critical(X509 *x)
{
	ext_conf(x, root, NID_subject_key_identifier, "critical,hash");
}

static void
m_ku_missing(X509 *x)
{
	ext_conf(x, root, NID_key_usage, NULL);
}

static void
m_ku_not_critical(X509 *x)
{
	ext_conf(x, root, NID_key_usage, "keyCertSign,cRLSign");
}

static void
m_ku_no_cert_sign(X509 *x)
{
	ext_conf(x, root, NID_key_usage, "critical,cRLSign,digitalSignature");
}

static void
m_ku_no_bits(X509 *x)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();

	ext_i2d(x, NID_key_usage, ku, 1);
	ASN1_BIT_STRING_free(ku);
}

static void
m_ku_cert_sign(X509 *x)
{
	ext_conf(x, root, NID_key_usage,
	    "critical,digitalSignature,keyCertSign");
}

static void
m_ku_crl_sign(X509 *x)
{
	ext_conf(x, root, NID_key_usage, "critical,digitalSignature,cRLSign");
}

static void
m_bc_not_critical(X509 *x)
{
	ext_conf(x, root, NID_basic_constraints, "CA:TRUE,pathlen:0");
}

static void
m_bc_pathlen_leaf(X509 *x)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();

	assert_non_null(bc->pathlen = ASN1_INTEGER_new());
	assert_true(ASN1_INTEGER_set(bc->pathlen, 0));
	ext_i2d(x, NID_basic_constraints, bc, 1);
	BASIC_CONSTRAINTS_free(bc);
}

static void
m_bc_pathlen_negative(X509 *x)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();

	bc->ca = 0xff;
	assert_non_null(bc->pathlen = ASN1_INTEGER_new());
	assert_true(ASN1_INTEGER_set(bc->pathlen, -1));
	ext_i2d(x, NID_basic_constraints, bc, 1);
	BASIC_CONSTRAINTS_free(bc);
}

static void
m_eku_missing(X509 *x)
{
	ext_conf(x, root, NID_ext_key_usage, NULL);
}

static void
m_eku_any(X509 *x)
{
	ext_conf(x, root, NID_ext_key_usage, "clientAuth,anyExtendedKeyUsage");
}

static void
m_eku_client_ocsp(X509 *x)
{
	ext_conf(x, root, NID_ext_key_usage, "clientAuth,OCSPSigning");
}

static void
m_nocheck_missing(X509 *x)
{
	ext_conf(x, root, NID_id_pkix_OCSP_noCheck, NULL);
}

static void
m_nocheck_added(X509 *x)
{
	ext_conf(x, root, NID_id_pkix_OCSP_noCheck, "ignored");
}

static void
m_cdp_added(X509 *x)
{
	ext_conf(x, root, NID_crl_distribution_points,
	    "URI:http://ca.example/crl/issuing.crl");
}

static void
m_ocsp_url_added(X509 *x)
{
	ext_conf(x, root, NID_info_access, "OCSP;URI:http://ca.example/ocsp");
}

static void
m_san_missing(X509 *x)
{
	ext_conf(x, root, NID_subject_alt_name, NULL);
}

/* One GeneralName of type with value (len bytes) as the whole SAN. */
static void
san_one(X509 *x, int type, const void *value, int len, int crit)
{
	GENERAL_NAMES *gns = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() :
	    ASN1_IA5STRING_new();

	assert_true(ASN1_STRING_set(s, value, len));
	GENERAL_NAME_set0_value(gn, type, s);
	assert_true(sk_GENERAL_NAME_push(gns, gn));
	ext_i2d(x, NID_subject_alt_name, gns, crit);
	GENERAL_NAMES_free(gns);
}

static void
san_dns(X509 *x, const char *name, int len)
{
	san_one(x, GEN_DNS, name, len < 0 ? (int)strlen(name) : len, 0);
}

static void
m_san_no_entries(X509 *x)
{
	GENERAL_NAMES *gns = GENERAL_NAMES_new();

	ext_i2d(x, NID_subject_alt_name, gns, 0);
	GENERAL_NAMES_free(gns);
}

static void
m_subject_empty(X509 *x)
{
	X509_NAME *n = X509_NAME_new();

	assert_true(X509_set_subject_name(x, n));
	X509_NAME_free(n);
}

static void
m_san_uri_empty(X509 *x)
{
	san_one(x, GEN_URI, "", 0, 0);
}

static void
m_dns_too_long(X509 *x)
{
	char name[260];
	int i;

	/* 63-octet labels, 254 octets in all. */
	for (i = 0; i < 254; i++)
		name[i] = i % 64 == 63 ? '.' : 'a';
	name[254] = '\0';
	san_dns(x, name, -1);
}

static void
m_dns_empty_label(X509 *x)
{
	san_dns(x, "dev..example", -1);
}

static void
m_dns_trailing_dot(X509 *x)
{
	san_dns(x, "dev.example.", -1);
}

static void
m_dns_label_64(X509 *x)
{
	char name[80];

	memset(name, 'a', 64);
	strcpy(name + 64, ".example");
	san_dns(x, name, -1);
}

static void
m_dns_underscore(X509 *x)
{
	san_dns(x, "dev_1.example", -1);
}

static void
m_dns_hyphen_first(X509 *x)
{
	san_dns(x, "-dev.example", -1);
}

static void
m_dns_nul(X509 *x)
{
	san_dns(x, "dev\0.evil.example", 17);
}

static void
m_dns_wildcard_inner(X509 *x)
{
	san_dns(x, "dev.*.example", -1);
}

static void
m_dns_wildcard_partial(X509 *x)
{
	san_dns(x, "d*.example", -1);
}

static void
m_dns_wildcard_bare(X509 *x)
{
	san_dns(x, "*", -1);
}

static void
m_ip_5(X509 *x)
{
	san_one(x, GEN_IPADD, "\x0a\x00\x00\x01\x00", 5, 0);
}

static void
m_uri_control(X509 *x)
{
	san_one(x, GEN_URI, "spiffe://example.org/a\nb", 24, 0);
}

static void
m_uri_8bit(X509 *x)
{
	san_one(x, GEN_URI, "{\"name\":\"\xc3\xa9\"}", 14, 0);
}

struct cert_case {
	const char	*name;
	enum base	 base;
	void		(*mut)(X509 *);
	const char	*rule;		/* NULL: must pass */
};

static const struct cert_case cert_cases[] = {
	{ "cert_good_leaf", B_LEAF, NULL, NULL },
	{ "cert_good_service", B_SERVICE, NULL, NULL },
	{ "cert_good_sub_ca", B_CA, NULL, NULL },
	{ "cert_good_root", B_ROOT, NULL, NULL },
	{ "cert_good_ocsp_signer", B_SIGNER, NULL, NULL },
	{ "cert_serial_negative", B_LEAF, m_serial_negative,
	    "e_serial_number_not_positive" },
	{ "cert_serial_zero", B_LEAF, m_serial_zero,
	    "e_serial_number_not_positive" },
	{ "cert_serial_21_octets", B_LEAF, m_serial_21,
	    "e_serial_number_longer_than_20_octets" },
	{ "cert_serial_20_octets_top_bit", B_LEAF, m_serial_20_top_bit,
	    "e_serial_number_longer_than_20_octets" },
	{ "cert_v1_with_extensions", B_LEAF, m_version_1,
	    "e_cert_extensions_version_not_3" },
	{ "cert_issuer_not_issuers_subject", B_LEAF, m_issuer_other,
	    "e_issuer_name_mismatch" },
	{ "cert_root_issuer_not_own_subject", B_ROOT, m_issuer_other,
	    "e_issuer_name_mismatch" },
	{ "cert_not_after_before_not_before", B_LEAF, m_validity_reversed,
	    "e_validity_time_not_positive" },
	{ "cert_not_after_is_not_before", B_LEAF, m_validity_empty,
	    "e_validity_time_not_positive" },
	{ "cert_generalized_time_before_2050", B_LEAF, m_gen_pre2050,
	    "e_wrong_time_format_pre2050" },
	{ "cert_utc_time_with_offset", B_LEAF, m_utc_not_zulu,
	    "e_utc_time_not_in_zulu" },
	{ "cert_utc_time_without_seconds", B_LEAF, m_utc_no_seconds,
	    "e_utc_time_does_not_include_seconds" },
	{ "cert_generalized_time_fraction", B_LEAF, m_gen_fraction,
	    "e_generalized_time_includes_fraction_seconds" },
	{ "cert_generalized_time_no_z", B_LEAF, m_gen_not_zulu,
	    "e_generalized_time_not_in_zulu" },
	{ "cert_generalized_time_no_seconds", B_LEAF, m_gen_no_seconds,
	    "e_generalized_time_does_not_include_seconds" },
	{ "cert_time_month_13", B_LEAF, m_time_month_13, "e_time_invalid" },
	{ "cert_ski_twice", B_LEAF, m_ext_duplicate,
	    "e_ext_duplicate_extension" },
	{ "cert_unknown_critical_extension", B_LEAF, m_ext_unknown_critical,
	    "e_ext_unknown_critical" },
	{ "cert_key_usage_not_der", B_LEAF, m_ku_not_der,
	    "e_cert_ext_invalid_der" },
	{ "cert_aki_missing", B_LEAF, m_aki_missing,
	    "e_ext_authority_key_identifier_missing" },
	{ "cert_aki_critical", B_LEAF, m_aki_critical,
	    "e_ext_authority_key_identifier_critical" },
	{ "cert_aki_without_key_id", B_LEAF, m_aki_no_keyid,
	    "e_ext_authority_key_identifier_no_key_identifier" },
	{ "cert_aki_not_issuers_ski", B_LEAF, m_aki_other,
	    "e_ext_authority_key_identifier_mismatch" },
	{ "cert_root_aki_not_own_ski", B_ROOT, m_aki_other,
	    "e_ext_authority_key_identifier_mismatch" },
	{ "cert_ca_without_ski", B_CA, m_ski_missing,
	    "e_ext_subject_key_identifier_missing_ca" },
	{ "cert_ski_critical", B_LEAF, m_ski_critical,
	    "e_ext_subject_key_identifier_critical" },
	{ "cert_ca_without_key_usage", B_CA, m_ku_missing,
	    "e_ca_key_usage_missing" },
	{ "cert_ca_key_usage_not_critical", B_CA, m_ku_not_critical,
	    "e_ca_key_usage_not_critical" },
	{ "cert_ca_without_key_cert_sign", B_CA, m_ku_no_cert_sign,
	    "e_ca_key_cert_sign_not_set" },
	{ "cert_key_usage_no_bits", B_LEAF, m_ku_no_bits,
	    "e_ext_key_usage_without_bits" },
	{ "cert_leaf_key_cert_sign", B_LEAF, m_ku_cert_sign,
	    "e_ext_key_usage_cert_sign_without_ca" },
	{ "cert_leaf_crl_sign", B_LEAF, m_ku_crl_sign,
	    "e_ext_key_usage_crl_sign_without_ca" },
	{ "cert_ca_basic_constraints_not_critical", B_CA, m_bc_not_critical,
	    "e_basic_constraints_not_critical" },
	{ "cert_leaf_path_len", B_LEAF, m_bc_pathlen_leaf,
	    "e_path_len_constraint_improperly_included" },
	{ "cert_ca_path_len_negative", B_CA, m_bc_pathlen_negative,
	    "e_path_len_constraint_zero_or_less" },
	{ "cert_leaf_without_eku", B_LEAF, m_eku_missing,
	    "e_sub_cert_eku_missing" },
	{ "cert_leaf_any_eku", B_LEAF, m_eku_any, "e_sub_cert_eku_any" },
	{ "cert_client_and_ocsp_signing", B_LEAF, m_eku_client_ocsp,
	    "e_ocsp_signer_eku_not_exclusive" },
	{ "cert_ocsp_signer_without_nocheck", B_SIGNER, m_nocheck_missing,
	    "e_ocsp_signer_nocheck_missing" },
	{ "cert_nocheck_without_ocsp_signing", B_LEAF, m_nocheck_added,
	    "e_ocsp_nocheck_without_ocsp_signing" },
	{ "cert_ocsp_signer_with_crl_dp", B_SIGNER, m_cdp_added,
	    "e_ocsp_signer_has_crl_dp" },
	{ "cert_ocsp_signer_with_ocsp_url", B_SIGNER, m_ocsp_url_added,
	    "e_ocsp_signer_has_ocsp_url" },
	{ "cert_leaf_without_san", B_LEAF, m_san_missing, "e_ext_san_missing" },
	{ "cert_san_no_names", B_LEAF, m_san_no_entries,
	    "e_ext_san_no_entries" },
	{ "cert_empty_subject_san_not_critical", B_LEAF, m_subject_empty,
	    "e_ext_san_not_critical_without_subject" },
	{ "cert_san_empty_uri", B_LEAF, m_san_uri_empty,
	    "e_ext_san_empty_name" },
	{ "cert_dns_254_octets", B_SERVICE, m_dns_too_long,
	    "e_ext_san_dns_name_too_long" },
	{ "cert_dns_double_dot", B_SERVICE, m_dns_empty_label,
	    "e_dnsname_empty_label" },
	{ "cert_dns_trailing_dot", B_SERVICE, m_dns_trailing_dot,
	    "e_dnsname_empty_label" },
	{ "cert_dns_label_64_octets", B_SERVICE, m_dns_label_64,
	    "e_dnsname_label_too_long" },
	{ "cert_dns_underscore", B_SERVICE, m_dns_underscore,
	    "e_dnsname_bad_character_in_label" },
	{ "cert_dns_hyphen_first", B_SERVICE, m_dns_hyphen_first,
	    "e_dnsname_bad_character_in_label" },
	{ "cert_dns_nul", B_SERVICE, m_dns_nul,
	    "e_dnsname_bad_character_in_label" },
	{ "cert_dns_wildcard_not_first", B_SERVICE, m_dns_wildcard_inner,
	    "e_dnsname_wildcard_only_in_left_label" },
	{ "cert_dns_wildcard_partial", B_SERVICE, m_dns_wildcard_partial,
	    "e_dnsname_left_label_wildcard_correct" },
	{ "cert_dns_bare_wildcard", B_SERVICE, m_dns_wildcard_bare,
	    "e_san_bare_wildcard" },
	{ "cert_ip_5_octets", B_SERVICE, m_ip_5, "e_ext_san_ip_bad_length" },
	{ "cert_uri_newline", B_LEAF, m_uri_control, "e_ext_san_uri_not_ia5" },
	{ "cert_uri_8bit", B_LEAF, m_uri_8bit, "e_ext_san_uri_not_ia5" },
};

/* Refused, with the rule first in the detail. */
static void
assert_rule(int r, const char *rule)
{
	char want[128];

	if (rule == NULL) {
		if (r != LY_OK)
			fail_msg("refused: %s", ly_errdetail());
		return;
	}
	snprintf(want, sizeof(want), "lint: %s: ", rule);
	if (r != LY_ERR_LINT ||
	    strncmp(ly_errdetail(), want, strlen(want)) != 0)
		fail_msg("want %s, got %d \"%s\"", want, r, ly_errdetail());
}

static void
run_cert(void **state)
{
	const struct cert_case *c = *state;
	X509 *x = tbs_cert_new(c->base);

	if (c->mut != NULL)
		c->mut(x);
	ly_errclear();
	assert_rule(ca_lint_cert(x, c->base == B_ROOT ? NULL : root), c->rule);
	X509_free(x);
}

/* The shapes the rules must let through, beside the good bases. */
static void
test_cert_good_edges(void **state)
{
	X509 *x;
	ASN1_INTEGER *n;

	(void)state;
	/* 20 octets, top bit clear: the largest serial allowed. */
	x = tbs_cert_new(B_LEAF);
	n = serial_of(0x7f, 20);
	assert_true(X509_set_serialNumber(x, n));
	ASN1_INTEGER_free(n);
	assert_rule(ca_lint_cert(x, root), NULL);
	/* From 2050 on, GeneralizedTime. */
	time_raw(X509_getm_notAfter(x), V_ASN1_GENERALIZEDTIME,
	    "20500101000000Z");
	assert_rule(ca_lint_cert(x, root), NULL);
	X509_free(x);
	/* No subject: a critical SAN carries the name (RFC 5280 4.2.1.6). */
	x = tbs_cert_new(B_LEAF);
	m_subject_empty(x);
	san_one(x, GEN_URI, "spiffe://example.org/ns/prod/sa/web", 35, 1);
	assert_rule(ca_lint_cert(x, root), NULL);
	X509_free(x);
	/* A root may leave its AKI out. */
	x = tbs_cert_new(B_ROOT);
	m_aki_missing(x);
	assert_rule(ca_lint_cert(x, NULL), NULL);
	X509_free(x);
	/* A critical extension we put there on purpose. */
	x = tbs_cert_new(B_LEAF);
	ext_conf(x, root, NID_ext_key_usage, "critical,clientAuth");
	assert_rule(ca_lint_cert(x, root), NULL);
	X509_free(x);
	assert_int_equal(ca_lint_cert(NULL, root), LY_ERR_ARG);
}

/* ---- CRLs ---------------------------------------------------------------- */

static ASN1_TIME *
time_at(time_t t)
{
	ASN1_TIME *a = ASN1_TIME_set(NULL, t);

	assert_non_null(a);
	return a;
}

static X509_REVOKED *
entry_new(unsigned char first, int reason)
{
	X509_REVOKED *rv = X509_REVOKED_new();
	ASN1_INTEGER *sn = serial_of(first, 16);
	ASN1_TIME *t = time_at(T0 - 3600);
	ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

	assert_true(X509_REVOKED_set_serialNumber(rv, sn));
	assert_true(X509_REVOKED_set_revocationDate(rv, t));
	if (reason >= 0) {
		assert_true(ASN1_ENUMERATED_set(e, reason));
		assert_int_equal(X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason,
		    e, 0, 0), 1);
	}
	ASN1_ENUMERATED_free(e);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(sn);
	return rv;
}

/*
 * A CRL of the root as crl/ makes one: v2, AKI, CRL number, nextUpdate,
 * an entry with a reason and one with an invalidity date; next 0 leaves
 * nextUpdate out.
 */
static X509_CRL *
crl_new(int next)
{
	X509_CRL *c = X509_CRL_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	ASN1_TIME *tu = time_at(T0), *nu = time_at(T0 + DAY);
	ASN1_GENERALIZEDTIME *inval = ASN1_GENERALIZEDTIME_set(NULL, T0 - DAY);
	X509_REVOKED *rv;

	assert_true(X509_CRL_set_version(c, X509_CRL_VERSION_2));
	assert_true(X509_CRL_set_issuer_name(c, X509_get_subject_name(root)));
	assert_true(X509_CRL_set1_lastUpdate(c, tu));
	if (next)
		assert_true(X509_CRL_set1_nextUpdate(c, nu));
	X509V3_set_ctx(&ctx, root, NULL, NULL, c, 0);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &ctx,
	    NID_authority_key_identifier, "keyid:always"));
	assert_true(X509_CRL_add_ext(c, e, -1));
	X509_EXTENSION_free(e);
	assert_true(ASN1_INTEGER_set(n, 5));
	assert_int_equal(X509_CRL_add1_ext_i2d(c, NID_crl_number, n, 0, 0), 1);
	assert_true(X509_CRL_add0_revoked(c, entry_new(0x11, 1)));
	rv = entry_new(0x22, -1);
	assert_int_equal(X509_REVOKED_add1_ext_i2d(rv, NID_invalidity_date,
	    inval, 0, 0), 1);
	assert_true(X509_CRL_add0_revoked(c, rv));
	ASN1_GENERALIZEDTIME_free(inval);
	ASN1_INTEGER_free(n);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	return c;
}

static X509_REVOKED *
entry0(X509_CRL *c)
{
	return sk_X509_REVOKED_value(X509_CRL_get_REVOKED(c), 0);
}

static void
crl_number(X509_CRL *c, ASN1_INTEGER *n, int crit)
{
	assert_int_equal(X509_CRL_add1_ext_i2d(c, NID_crl_number, n, crit,
	    X509V3_ADD_REPLACE), 1);
	ASN1_INTEGER_free(n);
}

static void
c_version_1(X509_CRL *c)
{
	assert_true(X509_CRL_set_version(c, X509_CRL_VERSION_1));
}

static void
c_issuer_other(X509_CRL *c)
{
	X509_NAME *n = X509_NAME_new();

	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"Someone Else", -1, -1, 0));
	assert_true(X509_CRL_set_issuer_name(c, n));
	X509_NAME_free(n);
}

static void
c_no_next_update(X509_CRL *c)
{
	(void)c;	/* crl_new(0) made it so */
}

static void
c_next_before_this(X509_CRL *c)
{
	ASN1_TIME *t = time_at(T0);

	assert_true(X509_CRL_set1_nextUpdate(c, t));
	ASN1_TIME_free(t);
}

static void
c_this_generalized(X509_CRL *c)
{
	ASN1_TIME *t = time_at(T0);

	time_raw(t, V_ASN1_GENERALIZEDTIME, "20300101000000Z");
	assert_true(X509_CRL_set1_lastUpdate(c, t));
	ASN1_TIME_free(t);
}

static void
c_number_twice(X509_CRL *c)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	assert_true(ASN1_INTEGER_set(n, 6));
	assert_int_equal(X509_CRL_add1_ext_i2d(c, NID_crl_number, n, 0,
	    X509V3_ADD_APPEND), 1);
	ASN1_INTEGER_free(n);
}

static void
c_unknown_critical(X509_CRL *c)
{
	X509_EXTENSION *e = ext_raw("1.3.6.1.4.1.55555.1", 0, 1, "\x05\x00", 2);

	assert_true(X509_CRL_add_ext(c, e, -1));
	X509_EXTENSION_free(e);
}

static void
c_ext_del(X509_CRL *c, int nid)
{
	int i;

	while ((i = X509_CRL_get_ext_by_NID(c, nid, -1)) >= 0)
		X509_EXTENSION_free(X509_CRL_delete_ext(c, i));
}

static void
c_no_aki(X509_CRL *c)
{
	c_ext_del(c, NID_authority_key_identifier);
}

static void
c_aki_other(X509_CRL *c)
{
	AUTHORITY_KEYID *a = AUTHORITY_KEYID_new();
	unsigned char id[20];

	memset(id, 0xaa, sizeof(id));
	assert_non_null(a->keyid = ASN1_OCTET_STRING_new());
	assert_true(ASN1_OCTET_STRING_set(a->keyid, id, sizeof(id)));
	assert_int_equal(X509_CRL_add1_ext_i2d(c, NID_authority_key_identifier,
	    a, 0, X509V3_ADD_REPLACE), 1);
	AUTHORITY_KEYID_free(a);
}

static void
c_no_number(X509_CRL *c)
{
	c_ext_del(c, NID_crl_number);
}

static void
c_number_critical(X509_CRL *c)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	assert_true(ASN1_INTEGER_set(n, 5));
	crl_number(c, n, 1);
}

static void
c_number_negative(X509_CRL *c)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	assert_true(ASN1_INTEGER_set(n, -5));
	crl_number(c, n, 0);
}

static void
c_number_21(X509_CRL *c)
{
	crl_number(c, serial_of(0x01, 21), 0);
}

static void
c_delta_not_critical(X509_CRL *c)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	assert_true(ASN1_INTEGER_set(n, 4));
	assert_int_equal(X509_CRL_add1_ext_i2d(c, NID_delta_crl, n, 0, 0), 1);
	ASN1_INTEGER_free(n);
}

static void
c_entry_serial_zero(X509_CRL *c)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();

	assert_true(ASN1_INTEGER_set(n, 0));
	assert_true(X509_REVOKED_set_serialNumber(entry0(c), n));
	ASN1_INTEGER_free(n);
}

static void
c_entry_serial_21(X509_CRL *c)
{
	ASN1_INTEGER *n = serial_of(0x01, 21);

	assert_true(X509_REVOKED_set_serialNumber(entry0(c), n));
	ASN1_INTEGER_free(n);
}

static void
c_entry_date_no_seconds(X509_CRL *c)
{
	ASN1_TIME *t = time_at(T0);

	time_raw(t, V_ASN1_UTCTIME, "2912310000Z");
	assert_true(X509_REVOKED_set_revocationDate(entry0(c), t));
	ASN1_TIME_free(t);
}

static void
entry_reason(X509_CRL *c, int reason)
{
	ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

	assert_true(ASN1_ENUMERATED_set(e, reason));
	assert_int_equal(X509_REVOKED_add1_ext_i2d(entry0(c), NID_crl_reason,
	    e, 0, X509V3_ADD_REPLACE), 1);
	ASN1_ENUMERATED_free(e);
}

static void
c_entry_reason_unspecified(X509_CRL *c)
{
	entry_reason(c, 0);
}

static void
c_entry_reason_remove(X509_CRL *c)
{
	entry_reason(c, 8);
}

static void
c_entry_reason_twice(X509_CRL *c)
{
	ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();

	assert_true(ASN1_ENUMERATED_set(e, 4));
	assert_int_equal(X509_REVOKED_add1_ext_i2d(entry0(c), NID_crl_reason,
	    e, 0, X509V3_ADD_APPEND), 1);
	ASN1_ENUMERATED_free(e);
}

struct crl_case {
	const char	*name;
	void		(*mut)(X509_CRL *);
	const char	*rule;
};

static const struct crl_case crl_cases[] = {
	{ "crl_good", NULL, NULL },
	{ "crl_v1", c_version_1, "e_crl_version_not_2" },
	{ "crl_issuer_not_ca", c_issuer_other, "e_issuer_name_mismatch" },
	{ "crl_without_next_update", c_no_next_update,
	    "e_crl_has_next_update" },
	{ "crl_next_update_not_after_this", c_next_before_this,
	    "e_crl_next_update_not_after_this_update" },
	{ "crl_this_update_generalized_before_2050", c_this_generalized,
	    "e_wrong_time_format_pre2050" },
	{ "crl_number_twice", c_number_twice, "e_ext_duplicate_extension" },
	{ "crl_unknown_critical_extension", c_unknown_critical,
	    "e_ext_unknown_critical" },
	{ "crl_without_aki", c_no_aki, "e_crl_has_authority_key_identifier" },
	{ "crl_aki_not_cas_ski", c_aki_other,
	    "e_ext_authority_key_identifier_mismatch" },
	{ "crl_without_number", c_no_number, "e_crl_missing_crl_number" },
	{ "crl_number_critical", c_number_critical, "e_crl_number_critical" },
	{ "crl_number_negative", c_number_negative, "e_crl_number_negative" },
	{ "crl_number_21_octets", c_number_21,
	    "e_crl_number_longer_than_20_octets" },
	{ "crl_delta_indicator_not_critical", c_delta_not_critical,
	    "e_crl_delta_indicator_not_critical" },
	{ "crl_entry_serial_zero", c_entry_serial_zero,
	    "e_serial_number_not_positive" },
	{ "crl_entry_serial_21_octets", c_entry_serial_21,
	    "e_serial_number_longer_than_20_octets" },
	{ "crl_entry_date_without_seconds", c_entry_date_no_seconds,
	    "e_utc_time_does_not_include_seconds" },
	{ "crl_entry_reason_unspecified", c_entry_reason_unspecified,
	    "e_crl_has_valid_reason_code" },
	{ "crl_entry_reason_remove_from_crl", c_entry_reason_remove,
	    "e_crl_has_valid_reason_code" },
	{ "crl_entry_reason_twice", c_entry_reason_twice,
	    "e_ext_duplicate_extension" },
};

static void
run_crl(void **state)
{
	const struct crl_case *c = *state;
	X509_CRL *crl = crl_new(c->mut != c_no_next_update);

	if (c->mut != NULL)
		c->mut(crl);
	ly_errclear();
	assert_rule(ca_lint_crl(crl, root), c->rule);
	X509_CRL_free(crl);
}

/* A delta CRL with a critical indicator and IDP; one entry on its own. */
static void
test_crl_good_edges(void **state)
{
	X509_CRL *c = crl_new(1);
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();
	X509_REVOKED *rv;

	(void)state;
	assert_true(ASN1_INTEGER_set(n, 4));
	assert_int_equal(X509_CRL_add1_ext_i2d(c, NID_delta_crl, n, 1, 0), 1);
	idp->onlyuser = 0xff;
	assert_int_equal(X509_CRL_add1_ext_i2d(c,
	    NID_issuing_distribution_point, idp, 1, 0), 1);
	assert_rule(ca_lint_crl(c, root), NULL);
	/* Without the CA at hand the names and key ids are not compared. */
	c_aki_other(c);
	assert_rule(ca_lint_crl(c, NULL), NULL);
	/* The streaming builder's entry check. */
	assert_rule(ca_lint_crl_entry(entry0(c)), NULL);
	rv = entry_new(0x00, 3);
	assert_rule(ca_lint_crl_entry(rv), NULL);
	X509_REVOKED_free(rv);
	rv = entry_new(0x80, 7);
	assert_rule(ca_lint_crl_entry(rv), "e_crl_has_valid_reason_code");
	X509_REVOKED_free(rv);
	assert_int_equal(ca_lint_crl(NULL, root), LY_ERR_ARG);
	assert_int_equal(ca_lint_crl_entry(NULL), LY_ERR_ARG);
	ISSUING_DIST_POINT_free(idp);
	ASN1_INTEGER_free(n);
	X509_CRL_free(c);
}

/* ---- OCSP responses ------------------------------------------------------ */

/*
 * A response as ocsp/response.c has it before signing: one good
 * SingleResponse for a certificate of the root, thisUpdate and producedAt
 * T0, nextUpdate a day later, a nonce, no responder ID yet.
 */
static OCSP_BASICRESP *
ocsp_new(int status)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	ASN1_INTEGER *sn = serial_of(0x3c, 16);
	OCSP_CERTID *id;
	ASN1_GENERALIZEDTIME *tu = ASN1_GENERALIZEDTIME_set(NULL, T0);
	ASN1_GENERALIZEDTIME *nu = ASN1_GENERALIZEDTIME_set(NULL, T0 + DAY);
	ASN1_GENERALIZEDTIME *rev = ASN1_GENERALIZEDTIME_set(NULL, T0 - DAY);

	assert_non_null(id = OCSP_cert_id_new(EVP_sha1(),
	    X509_get_subject_name(root), X509_get0_pubkey_bitstr(root), sn));
	assert_non_null(OCSP_basic_add1_status(bs, id, status,
	    status == V_OCSP_CERTSTATUS_REVOKED ? 1 : 0,
	    status == V_OCSP_CERTSTATUS_REVOKED ? rev : NULL, tu, nu));
	assert_non_null(ASN1_GENERALIZEDTIME_set((ASN1_GENERALIZEDTIME *)
	    OCSP_resp_get0_produced_at(bs), T0));
	assert_true(OCSP_basic_add1_nonce(bs, NULL, 16));
	OCSP_CERTID_free(id);
	ASN1_INTEGER_free(sn);
	ASN1_GENERALIZEDTIME_free(tu);
	ASN1_GENERALIZEDTIME_free(nu);
	ASN1_GENERALIZEDTIME_free(rev);
	return bs;
}

/* The times of the first SingleResponse, to change in place. */
static void
single_times(OCSP_BASICRESP *bs, ASN1_GENERALIZEDTIME **rev,
    ASN1_GENERALIZEDTIME **tu, ASN1_GENERALIZEDTIME **nu)
{
	int reason;

	OCSP_single_get0_status(OCSP_resp_get0(bs, 0), &reason, rev, tu, nu);
}

/* Signs bs in software with key/cert: that sets the responder ID. */
static void
ocsp_sign_sw(OCSP_BASICRESP *bs, X509 *cert, EVP_PKEY *key,
    unsigned long flags)
{
	assert_int_equal(OCSP_basic_sign(bs, cert, key, EVP_sha256(), NULL,
	    flags | OCSP_NOCERTS | OCSP_NOTIME), 1);
}

enum signer_kind { S_SIGNER, S_NONE, S_ROOT, S_LEAF, S_SIGNER_BROKEN };

struct ocsp_case {
	const char	*name;
	int		 status;
	void		(*mut)(OCSP_BASICRESP *);
	enum signer_kind signer;
	void		(*signer_mut)(X509 *);
	const char	*rule;
};

static void
o_produced_before_this(OCSP_BASICRESP *bs)
{
	assert_non_null(ASN1_GENERALIZEDTIME_set((ASN1_GENERALIZEDTIME *)
	    OCSP_resp_get0_produced_at(bs), T0 - 1));
}

static void
o_next_before_this(OCSP_BASICRESP *bs)
{
	ASN1_GENERALIZEDTIME *rev, *tu, *nu;

	single_times(bs, &rev, &tu, &nu);
	assert_non_null(ASN1_GENERALIZEDTIME_set(nu, T0));
}

static void
o_this_utc(OCSP_BASICRESP *bs)
{
	ASN1_GENERALIZEDTIME *rev, *tu, *nu;

	single_times(bs, &rev, &tu, &nu);
	time_raw(tu, V_ASN1_UTCTIME, "300101000000Z");
}

static void
o_produced_no_seconds(OCSP_BASICRESP *bs)
{
	time_raw((ASN1_GENERALIZEDTIME *)OCSP_resp_get0_produced_at(bs),
	    V_ASN1_GENERALIZEDTIME, "203001010000Z");
}

static void
o_next_fraction(OCSP_BASICRESP *bs)
{
	ASN1_GENERALIZEDTIME *rev, *tu, *nu;

	single_times(bs, &rev, &tu, &nu);
	time_raw(nu, V_ASN1_GENERALIZEDTIME, "20300102000000.25Z");
}

static void
o_revoked_not_zulu(OCSP_BASICRESP *bs)
{
	ASN1_GENERALIZEDTIME *rev, *tu, *nu;

	single_times(bs, &rev, &tu, &nu);
	assert_non_null(rev);
	time_raw(rev, V_ASN1_GENERALIZEDTIME, "20291231000000");
}

static void
o_nonce_twice(OCSP_BASICRESP *bs)
{
	/* OCSP_basic_add1_nonce() would replace it. */
	assert_true(OCSP_BASICRESP_add_ext(bs, OCSP_BASICRESP_get_ext(bs, 0),
	    -1));
}

static void
o_unknown_critical(OCSP_BASICRESP *bs)
{
	X509_EXTENSION *e = ext_raw("1.3.6.1.4.1.55555.1", 0, 1, "\x05\x00", 2);

	assert_true(OCSP_BASICRESP_add_ext(bs, e, -1));
	X509_EXTENSION_free(e);
}

/* Responder IDs: the signer's, and others'. */
static X509 *case_signer;

static void
o_respid_signer_key(OCSP_BASICRESP *bs)
{
	ocsp_sign_sw(bs, case_signer, signer_key, OCSP_RESPID_KEY);
}

static void
o_respid_signer_name(OCSP_BASICRESP *bs)
{
	ocsp_sign_sw(bs, case_signer, signer_key, 0);
}

static void
o_respid_root_key(OCSP_BASICRESP *bs)
{
	ocsp_sign_sw(bs, root, root_key, OCSP_RESPID_KEY);
}

static void
o_respid_root_name(OCSP_BASICRESP *bs)
{
	ocsp_sign_sw(bs, root, root_key, 0);
}

static const struct ocsp_case ocsp_cases[] = {
	{ "ocsp_good", V_OCSP_CERTSTATUS_GOOD, NULL, S_SIGNER, NULL, NULL },
	{ "ocsp_good_revoked", V_OCSP_CERTSTATUS_REVOKED, NULL, S_SIGNER,
	    NULL, NULL },
	{ "ocsp_good_unknown", V_OCSP_CERTSTATUS_UNKNOWN, NULL, S_SIGNER,
	    NULL, NULL },
	{ "ocsp_good_signed_by_ca", V_OCSP_CERTSTATUS_GOOD, NULL, S_ROOT,
	    NULL, NULL },
	{ "ocsp_good_responder_id_by_key", V_OCSP_CERTSTATUS_GOOD,
	    o_respid_signer_key, S_SIGNER, NULL, NULL },
	{ "ocsp_good_responder_id_by_name", V_OCSP_CERTSTATUS_GOOD,
	    o_respid_signer_name, S_SIGNER, NULL, NULL },
	{ "ocsp_no_responder_id_no_signer", V_OCSP_CERTSTATUS_GOOD, NULL,
	    S_NONE, NULL, "e_ocsp_responder_id_missing" },
	{ "ocsp_responder_id_key_not_signers", V_OCSP_CERTSTATUS_GOOD,
	    o_respid_root_key, S_SIGNER, NULL, "e_ocsp_responder_id_mismatch" },
	{ "ocsp_responder_id_name_not_signers", V_OCSP_CERTSTATUS_GOOD,
	    o_respid_root_name, S_SIGNER, NULL,
	    "e_ocsp_responder_id_mismatch" },
	{ "ocsp_this_update_utc", V_OCSP_CERTSTATUS_GOOD, o_this_utc,
	    S_SIGNER, NULL, "e_ocsp_time_not_generalized" },
	{ "ocsp_produced_at_no_seconds", V_OCSP_CERTSTATUS_GOOD,
	    o_produced_no_seconds, S_SIGNER, NULL,
	    "e_generalized_time_does_not_include_seconds" },
	{ "ocsp_next_update_fraction", V_OCSP_CERTSTATUS_GOOD,
	    o_next_fraction, S_SIGNER, NULL,
	    "e_generalized_time_includes_fraction_seconds" },
	{ "ocsp_revocation_time_no_z", V_OCSP_CERTSTATUS_REVOKED,
	    o_revoked_not_zulu, S_SIGNER, NULL,
	    "e_generalized_time_not_in_zulu" },
	{ "ocsp_produced_at_before_this_update", V_OCSP_CERTSTATUS_GOOD,
	    o_produced_before_this, S_SIGNER, NULL,
	    "e_ocsp_produced_at_before_this_update" },
	{ "ocsp_next_update_not_after_this", V_OCSP_CERTSTATUS_GOOD,
	    o_next_before_this, S_SIGNER, NULL,
	    "e_ocsp_next_update_not_after_this_update" },
	{ "ocsp_nonce_twice", V_OCSP_CERTSTATUS_GOOD, o_nonce_twice,
	    S_SIGNER, NULL, "e_ext_duplicate_extension" },
	{ "ocsp_unknown_critical_extension", V_OCSP_CERTSTATUS_GOOD,
	    o_unknown_critical, S_SIGNER, NULL, "e_ext_unknown_critical" },
	{ "ocsp_signed_by_a_client_certificate", V_OCSP_CERTSTATUS_GOOD, NULL,
	    S_LEAF, NULL, "e_ocsp_signer_eku_missing" },
	{ "ocsp_signer_without_nocheck", V_OCSP_CERTSTATUS_GOOD, NULL,
	    S_SIGNER_BROKEN, m_nocheck_missing,
	    "e_ocsp_signer_nocheck_missing" },
	{ "ocsp_signer_with_crl_dp", V_OCSP_CERTSTATUS_GOOD, NULL,
	    S_SIGNER_BROKEN, m_cdp_added, "e_ocsp_signer_has_crl_dp" },
	{ "ocsp_signer_with_ocsp_url", V_OCSP_CERTSTATUS_GOOD, NULL,
	    S_SIGNER_BROKEN, m_ocsp_url_added, "e_ocsp_signer_has_ocsp_url" },
};

static void
run_ocsp(void **state)
{
	const struct ocsp_case *c = *state;
	OCSP_BASICRESP *bs = ocsp_new(c->status);
	X509 *signer = NULL;

	switch (c->signer) {
	case S_NONE:
		break;
	case S_ROOT:
		/* Unsigned, so X509_dup() could not encode it: share it. */
		assert_true(X509_up_ref(root));
		signer = root;
		break;
	case S_LEAF:
		signer = tbs_cert_new(B_LEAF);
		break;
	case S_SIGNER:
	case S_SIGNER_BROKEN:
		signer = tbs_cert_new(B_SIGNER);
		if (c->signer_mut != NULL)
			c->signer_mut(signer);
		break;
	}
	case_signer = signer;
	if (c->mut != NULL)
		c->mut(bs);
	ly_errclear();
	assert_rule(ca_lint_ocsp(bs, signer), c->rule);
	X509_free(signer);
	OCSP_BASICRESP_free(bs);
}

static void
test_ocsp_no_single(void **state)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	X509 *signer = tbs_cert_new(B_SIGNER);

	(void)state;
	assert_non_null(ASN1_GENERALIZEDTIME_set((ASN1_GENERALIZEDTIME *)
	    OCSP_resp_get0_produced_at(bs), T0));
	assert_rule(ca_lint_ocsp(bs, signer), "e_ocsp_no_single_responses");
	assert_int_equal(ca_lint_ocsp(NULL, signer), LY_ERR_ARG);
	X509_free(signer);
	OCSP_BASICRESP_free(bs);
}

/* ---- the counters and /metrics ----------------------------------------- */

static void
test_counters(void **state)
{
	uint64_t c0 = ca_lint_failures(CA_LINT_CERT);
	uint64_t r0 = ca_lint_failures(CA_LINT_CRL);
	uint64_t o0 = ca_lint_failures(CA_LINT_OCSP);
	X509 *x = tbs_cert_new(B_LEAF);
	X509_CRL *crl = crl_new(1);
	OCSP_BASICRESP *bs = ocsp_new(V_OCSP_CERTSTATUS_GOOD);
	char *text = NULL, want[128];
	size_t len;

	(void)state;
	/* A pass counts nothing. */
	assert_int_equal(ca_lint_cert(x, root), LY_OK);
	assert_int_equal(ca_lint_crl(crl, root), LY_OK);
	assert_int_equal(ca_lint_ocsp(bs, root), LY_OK);
	assert_int_equal(ca_lint_failures(CA_LINT_CERT), c0);
	assert_int_equal(ca_lint_failures(CA_LINT_CRL), r0);
	assert_int_equal(ca_lint_failures(CA_LINT_OCSP), o0);
	/* A failure counts once, for its kind only. */
	/* A client certificate as the signer. */
	assert_int_equal(ca_lint_ocsp(bs, x), LY_ERR_LINT);
	assert_int_equal(ca_lint_failures(CA_LINT_OCSP), o0 + 1);
	m_serial_zero(x);
	assert_int_equal(ca_lint_cert(x, root), LY_ERR_LINT);
	assert_int_equal(ca_lint_failures(CA_LINT_CERT), c0 + 1);
	assert_int_equal(ca_lint_failures(CA_LINT_CRL), r0);
	c_entry_serial_zero(crl);
	assert_int_equal(ca_lint_crl_entry(entry0(crl)), LY_ERR_LINT);
	assert_int_equal(ca_lint_crl(crl, root), LY_ERR_LINT);
	assert_int_equal(ca_lint_failures(CA_LINT_CRL), r0 + 2);
	assert_int_equal(ca_lint_failures(CA_LINT_CERT), c0 + 1);
	assert_int_equal(ca_lint_failures(CA_LINT_OCSP), o0 + 1);
	/* An argument error is not a lint failure. */
	assert_int_equal(ca_lint_cert(NULL, NULL), LY_ERR_ARG);
	assert_int_equal(ca_lint_failures(CA_LINT_CERT), c0 + 1);
	assert_int_equal(ca_lint_failures(CA_LINT_KINDS), 0);
	assert_string_equal(ca_lint_kind_name(CA_LINT_CERT), "cert");
	assert_string_equal(ca_lint_kind_name(CA_LINT_CRL), "crl");
	assert_string_equal(ca_lint_kind_name(CA_LINT_OCSP), "ocsp");
	/* /metrics shows the same numbers. */
	assert_int_equal(web_metrics_text(NULL, 0, 0, &text, &len), LY_OK);
	assert_non_null(strstr(text, "# TYPE lanyard_lint_failures_total "
	    "counter\n"));
	snprintf(want, sizeof(want), "lanyard_lint_failures_total{kind="
	    "\"cert\"} %llu\n", (unsigned long long)(c0 + 1));
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof(want), "lanyard_lint_failures_total{kind="
	    "\"crl\"} %llu\n", (unsigned long long)(r0 + 2));
	assert_non_null(strstr(text, want));
	snprintf(want, sizeof(want), "lanyard_lint_failures_total{kind="
	    "\"ocsp\"} %llu\n", (unsigned long long)(o0 + 1));
	assert_non_null(strstr(text, want));
	free(text);
	OCSP_BASICRESP_free(bs);
	X509_CRL_free(crl);
	X509_free(x);
}

/* ---- the run ------------------------------------------------------------- */

static int
setup_lint(void **state)
{
	(void)state;
	/* A failure logs at error level; these are expected. */
	ly_log_setlevel(LY_LOG_ERR);
	if ((root_key = EVP_EC_gen("P-256")) == NULL ||
	    (sub_key = EVP_EC_gen("P-256")) == NULL ||
	    (leaf_key = EVP_EC_gen("P-256")) == NULL ||
	    (signer_key = EVP_EC_gen("P-256")) == NULL)
		return -1;
	root = tbs_cert_new(B_ROOT);
	return 0;
}

static int
teardown_lint(void **state)
{
	(void)state;
	X509_free(root);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(sub_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(signer_key);
	return 0;
}

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_cert_good_edges),
		cmocka_unit_test(test_crl_good_edges),
		cmocka_unit_test(test_ocsp_no_single),
		cmocka_unit_test(test_counters),
	};
	struct CMUnitTest *tests;
	size_t i, n = 0;
	int r;

	tests = calloc(NELEM(cert_cases) + NELEM(crl_cases) +
	    NELEM(ocsp_cases) + NELEM(fixed), sizeof(*tests));
	if (tests == NULL)
		return 1;
	/* One test per case, named after it: the TAP lines list the rules. */
	for (i = 0; i < NELEM(cert_cases); i++, n++) {
		tests[n].name = cert_cases[i].name;
		tests[n].test_func = run_cert;
		tests[n].initial_state = (void *)&cert_cases[i];
	}
	for (i = 0; i < NELEM(crl_cases); i++, n++) {
		tests[n].name = crl_cases[i].name;
		tests[n].test_func = run_crl;
		tests[n].initial_state = (void *)&crl_cases[i];
	}
	for (i = 0; i < NELEM(ocsp_cases); i++, n++) {
		tests[n].name = ocsp_cases[i].name;
		tests[n].test_func = run_ocsp;
		tests[n].initial_state = (void *)&ocsp_cases[i];
	}
	for (i = 0; i < NELEM(fixed); i++, n++)
		tests[n] = fixed[i];
	r = _cmocka_run_group_tests("test_lint", tests, n, setup_lint, teardown_lint);
	free(tests);
	return r;
}
