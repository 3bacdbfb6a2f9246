/*
 * ca/cert.c — certificate building: struct cert_spec → unsigned X509.
 *
 * Every extension is built as an OpenSSL structure (GENERAL_NAMES,
 * BASIC_CONSTRAINTS, ...) and encoded by OpenSSL, never from config
 * strings: an identity is data from outside and must not be able to turn
 * into extension syntax.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "util/util.h"

/* RFC 5280 ub-common-name */
#define CN_MAX	64

int
cert_name_parse(const char *s, X509_NAME **namep)
{
	X509_NAME *name = NULL;
	char *copy = NULL, *rdn, *save = NULL, *eq;
	int r = LY_ERR_CONFIG;

	if (s[0] != '/')
		return ly_fail(LY_ERR_CONFIG, "subject \"%s\": expected "
		    "/attr=value/...", s);
	if ((name = X509_NAME_new()) == NULL || (copy = strdup(s)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	for (rdn = strtok_r(copy, "/", &save); rdn != NULL;
	    rdn = strtok_r(NULL, "/", &save)) {
		if ((eq = strchr(rdn, '=')) == NULL || eq == rdn ||
		    eq[1] == '\0') {
			r = ly_fail(LY_ERR_CONFIG, "subject \"%s\": bad "
			    "component \"%s\"", s, rdn);
			goto out;
		}
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(name, rdn, MBSTRING_UTF8,
		    (unsigned char *)eq + 1, -1, -1, 0)) {
			ERR_clear_error();
			r = ly_fail(LY_ERR_CONFIG, "subject \"%s\": unknown "
			    "attribute \"%s\"", s, rdn);
			goto out;
		}
	}
	if (X509_NAME_entry_count(name) == 0) {
		r = ly_fail(LY_ERR_CONFIG, "subject \"%s\" is empty", s);
		goto out;
	}
	*namep = name;
	name = NULL;
	r = LY_OK;
 out:
	X509_NAME_free(name);
	free(copy);
	return r;
}

/*
 * The subject of a leaf: O from the config and a CN for people reading
 * logs. The identity itself is in the SAN; the CN is a courtesy and is left
 * out when the identity does not fit ub-common-name.
 */
X509_NAME *
cert_leaf_subject(const struct conf *conf, const struct ca_identity *id,
    const char *fallback_cn)
{
	X509_NAME *name;
	const char *cn = ca_identity_key(id);

	if (cn == NULL)
		cn = fallback_cn;
	if ((name = X509_NAME_new()) == NULL)
		return NULL;
	if (conf->organization != NULL &&
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)conf->organization, -1, -1, 0))
		goto fail;
	if (cn != NULL && strlen(cn) <= CN_MAX &&
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0))
		goto fail;
	return name;
 fail:
	X509_NAME_free(name);
	return NULL;
}

char *
ca_crl_url(const struct conf *conf, const char *ca, int shard)
{
	char *s;

	if (shard < 0)
		return cert_url(conf, "crl", ca);
	if (asprintf(&s, "%s/crl/%s-%d.crl", conf->url_base, ca, shard) == -1)
		return NULL;
	return s;
}

char *
cert_url(const struct conf *conf, const char *kind, const char *ca)
{
	char *s;

	if (strcmp(kind, "crl") == 0) {
		if (conf->crl_url != NULL && strcmp(ca, "issuing") == 0)
			return strdup(conf->crl_url);
		if (asprintf(&s, "%s/crl/%s.crl", conf->url_base, ca) == -1)
			return NULL;
	} else if (strcmp(kind, "ocsp") == 0) {
		if (conf->ocsp_url != NULL)
			return strdup(conf->ocsp_url);
		if (asprintf(&s, "%s/ocsp", conf->url_base) == -1)
			return NULL;
	} else {
		if (conf->ca_issuers_url != NULL && strcmp(ca, "issuing") == 0)
			return strdup(conf->ca_issuers_url);
		if (asprintf(&s, "%s/ca/%s.crt", conf->url_base, ca) == -1)
			return NULL;
	}
	return s;
}

static GENERAL_NAME *
gn_ia5(int type, const char *value)
{
	GENERAL_NAME *gn;
	ASN1_IA5STRING *s;

	if ((gn = GENERAL_NAME_new()) == NULL)
		return NULL;
	if ((s = ASN1_IA5STRING_new()) == NULL ||
	    !ASN1_STRING_set(s, value, (int)strlen(value))) {
		ASN1_IA5STRING_free(s);
		GENERAL_NAME_free(gn);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, type, s);
	return gn;
}

static GENERAL_NAME *
gn_ip(const char *text)
{
	GENERAL_NAME *gn;
	ASN1_OCTET_STRING *os;
	unsigned char buf[16];
	int len;

	if ((len = ca_identity_ip_parse(text, buf)) < 0)
		return NULL;
	if ((gn = GENERAL_NAME_new()) == NULL)
		return NULL;
	if ((os = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(os, buf, len)) {
		ASN1_OCTET_STRING_free(os);
		GENERAL_NAME_free(gn);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
	return gn;
}

/* otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String } */
static GENERAL_NAME *
gn_othername(const char *oid, const char *value)
{
	GENERAL_NAME *gn = NULL;
	ASN1_OBJECT *obj = NULL;
	ASN1_TYPE *type = NULL;
	ASN1_UTF8STRING *s = NULL;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL ||
	    (s = ASN1_UTF8STRING_new()) == NULL ||
	    !ASN1_STRING_set(s, value, (int)strlen(value)) ||
	    (type = ASN1_TYPE_new()) == NULL)
		goto fail;
	ASN1_TYPE_set(type, V_ASN1_UTF8STRING, s);
	s = NULL;
	if ((gn = GENERAL_NAME_new()) == NULL ||
	    !GENERAL_NAME_set0_othername(gn, obj, type))
		goto fail;
	return gn;
 fail:
	GENERAL_NAME_free(gn);
	ASN1_OBJECT_free(obj);
	ASN1_TYPE_free(type);
	ASN1_UTF8STRING_free(s);
	return NULL;
}

static int
push_gn(GENERAL_NAMES *gns, GENERAL_NAME *gn)
{
	if (gn == NULL)
		return 0;
	if (!sk_GENERAL_NAME_push(gns, gn)) {
		GENERAL_NAME_free(gn);
		return 0;
	}
	return 1;
}

static int
add_san(X509 *x, const struct cert_spec *s)
{
	const struct ca_identity *id = s->id;
	GENERAL_NAMES *gns;
	int ok = 0, critical;
	size_t i;

	if ((gns = GENERAL_NAMES_new()) == NULL)
		return 0;
	if (id->kind == CONF_ID_SPIFFE ||
	    (id->kind == CONF_ID_JSON && s->profile->encoding == CONF_ENC_URI)) {
		if (!push_gn(gns, gn_ia5(GEN_URI, id->value)))
			goto out;
	} else if (id->kind == CONF_ID_JSON) {
		if (!push_gn(gns, gn_othername(s->conf->identity_oid,
		    id->value)))
			goto out;
	}
	for (i = 0; i < id->ndns; i++)
		if (!push_gn(gns, gn_ia5(GEN_DNS, id->dns[i])))
			goto out;
	for (i = 0; i < id->nip; i++)
		if (!push_gn(gns, gn_ip(id->ip[i])))
			goto out;
	if (sk_GENERAL_NAME_num(gns) == 0) {
		/* A profile that takes no identity (OCSP signers) may have none. */
		if (id->kind == CONF_ID_NONE && !s->profile->require_dns_or_ip) {
			ok = 1;
			goto out;
		}
		ly_fail(LY_ERR_POLICY, "certificate would carry no name");
		goto out;
	}
	/* RFC 5280 4.2.1.6: critical when the subject is empty. */
	critical = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gns, critical,
	    X509V3_ADD_DEFAULT) == 1;
 out:
	GENERAL_NAMES_free(gns);
	return ok;
}

static int
add_basic_constraints(X509 *x, int ca, int pathlen)
{
	BASIC_CONSTRAINTS *bc;
	int ok = 0;

	if ((bc = BASIC_CONSTRAINTS_new()) == NULL)
		return 0;
	bc->ca = ca ? 0xff : 0;
	if (ca && pathlen >= 0) {
		if ((bc->pathlen = ASN1_INTEGER_new()) == NULL ||
		    !ASN1_INTEGER_set(bc->pathlen, pathlen))
			goto out;
	}
	ok = X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1,
	    X509V3_ADD_DEFAULT) == 1;
 out:
	BASIC_CONSTRAINTS_free(bc);
	return ok;
}

static int
add_key_usage(X509 *x, const int *bits, size_t n)
{
	ASN1_BIT_STRING *ku;
	size_t i;
	int ok = 0;

	if ((ku = ASN1_BIT_STRING_new()) == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!ASN1_BIT_STRING_set_bit(ku, bits[i], 1))
			goto out;
	ok = X509_add1_ext_i2d(x, NID_key_usage, ku, 1, X509V3_ADD_DEFAULT) == 1;
 out:
	ASN1_BIT_STRING_free(ku);
	return ok;
}

static int
add_eku(X509 *x, unsigned int eku)
{
	EXTENDED_KEY_USAGE *e;
	ASN1_OBJECT *o;
	int ok = 0;

	if ((e = sk_ASN1_OBJECT_new_null()) == NULL)
		return 0;
	if ((eku & CONF_EKU_SERVER) &&
	    ((o = OBJ_nid2obj(NID_server_auth)) == NULL ||
	    !sk_ASN1_OBJECT_push(e, o)))
		goto out;
	if ((eku & CONF_EKU_CLIENT) &&
	    ((o = OBJ_nid2obj(NID_client_auth)) == NULL ||
	    !sk_ASN1_OBJECT_push(e, o)))
		goto out;
	if ((eku & CONF_EKU_OCSP) &&
	    ((o = OBJ_nid2obj(NID_OCSP_sign)) == NULL ||
	    !sk_ASN1_OBJECT_push(e, o)))
		goto out;
	ok = X509_add1_ext_i2d(x, NID_ext_key_usage, e, 0, X509V3_ADD_DEFAULT) == 1;
 out:
	/* The NID objects are static: free the stack only. */
	sk_ASN1_OBJECT_free(e);
	return ok;
}

/*
 * RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING,
 * taken from the X509_PUBKEY already encoded in the certificate (encoding a
 * key again through the provider is the slowest step of building).
 */
static ASN1_OCTET_STRING *
key_id(X509_PUBKEY *xpk)
{
	ASN1_OCTET_STRING *os;
	unsigned char md[EVP_MAX_MD_SIZE];
	const unsigned char *pk;
	unsigned int mdlen;
	int pklen;

	if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk) ||
	    !EVP_Digest(pk, (size_t)pklen, md, &mdlen, EVP_sha1(), NULL))
		return NULL;
	if ((os = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(os, md, (int)mdlen)) {
		ASN1_OCTET_STRING_free(os);
		return NULL;
	}
	return os;
}

/*
 * SKI from the certificate's own key; AKI is the issuer's SKI as its
 * certificate states it (RFC 5280 4.2.1.1), or the SKI when self-signed.
 */
static int
add_key_ids(X509 *x, X509 *issuer)
{
	ASN1_OCTET_STRING *ski;
	const ASN1_OCTET_STRING *iski;
	AUTHORITY_KEYID *akid = NULL;
	int ok = 0;

	if ((ski = key_id(X509_get_X509_PUBKEY(x))) == NULL)
		return 0;
	if (X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0,
	    X509V3_ADD_DEFAULT) != 1)
		goto out;
	if ((akid = AUTHORITY_KEYID_new()) == NULL)
		goto out;
	if (issuer == NULL)
		akid->keyid = ASN1_OCTET_STRING_dup(ski);
	else if ((iski = X509_get0_subject_key_id(issuer)) != NULL)
		akid->keyid = ASN1_OCTET_STRING_dup(iski);
	else
		akid->keyid = key_id(X509_get_X509_PUBKEY(issuer));
	if (akid->keyid == NULL)
		goto out;
	ok = X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0,
	    X509V3_ADD_DEFAULT) == 1;
 out:
	ASN1_OCTET_STRING_free(ski);
	AUTHORITY_KEYID_free(akid);
	return ok;
}

static int
add_cdp(X509 *x, const char *url)
{
	CRL_DIST_POINTS *cdp;
	DIST_POINT *dp = NULL;
	GENERAL_NAME *gn = NULL;
	int ok = 0;

	if ((cdp = sk_DIST_POINT_new_null()) == NULL)
		return 0;
	if ((dp = DIST_POINT_new()) == NULL ||
	    (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL)
		goto out;
	dp->distpoint->type = 0;	/* fullName */
	if ((gn = gn_ia5(GEN_URI, url)) == NULL ||
	    !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	if (!sk_DIST_POINT_push(cdp, dp))
		goto out;
	dp = NULL;
	ok = X509_add1_ext_i2d(x, NID_crl_distribution_points, cdp, 0,
	    X509V3_ADD_DEFAULT) == 1;
 out:
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	sk_DIST_POINT_pop_free(cdp, DIST_POINT_free);
	return ok;
}

static int
push_ad(AUTHORITY_INFO_ACCESS *aia, int nid, const char *url)
{
	ACCESS_DESCRIPTION *ad;

	if ((ad = ACCESS_DESCRIPTION_new()) == NULL)
		return 0;
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(nid);
	GENERAL_NAME_free(ad->location);
	if ((ad->location = gn_ia5(GEN_URI, url)) == NULL ||
	    !sk_ACCESS_DESCRIPTION_push(aia, ad)) {
		ACCESS_DESCRIPTION_free(ad);
		return 0;
	}
	return 1;
}

static int
add_aia(X509 *x, const char *ocsp, const char *issuers)
{
	AUTHORITY_INFO_ACCESS *aia;
	int ok = 0;

	if ((aia = sk_ACCESS_DESCRIPTION_new_null()) == NULL)
		return 0;
	if (ocsp != NULL && !push_ad(aia, NID_ad_OCSP, ocsp))
		goto out;
	if (issuers != NULL && !push_ad(aia, NID_ad_ca_issuers, issuers))
		goto out;
	ok = X509_add1_ext_i2d(x, NID_info_access, aia, 0, X509V3_ADD_DEFAULT) == 1;
 out:
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	return ok;
}

static int
push_subtree(STACK_OF(GENERAL_SUBTREE) **sk, GENERAL_NAME *gn)
{
	GENERAL_SUBTREE *st;

	if (gn == NULL)
		return 0;
	if ((*sk == NULL && (*sk = sk_GENERAL_SUBTREE_new_null()) == NULL) ||
	    (st = GENERAL_SUBTREE_new()) == NULL) {
		GENERAL_NAME_free(gn);
		return 0;
	}
	GENERAL_NAME_free(st->base);
	st->base = gn;
	if (!sk_GENERAL_SUBTREE_push(*sk, st)) {
		GENERAL_SUBTREE_free(st);
		return 0;
	}
	return 1;
}

/*
 * "10.0.0.0/8" → address and mask of 4 (or 16) bytes each, the address
 * masked. Returns the address length or LY_ERR_CONFIG.
 */
int
cert_cidr_parse(const char *cidr, unsigned char addr[16],
    unsigned char mask[16])
{
	char buf[64], *slash, *end;
	long bits;
	int len, i, b;

	if (strlen(cidr) >= sizeof(buf))
		return ly_fail(LY_ERR_CONFIG, "bad range \"%s\"", cidr);
	strcpy(buf, cidr);
	if ((slash = strchr(buf, '/')) == NULL)
		return ly_fail(LY_ERR_CONFIG, "range \"%s\" has no /bits", cidr);
	*slash++ = '\0';
	if ((len = ca_identity_ip_parse(buf, addr)) < 0)
		return ly_fail(LY_ERR_CONFIG, "bad range \"%s\"", cidr);
	bits = strtol(slash, &end, 10);
	if (*slash == '\0' || *end != '\0' || bits < 0 || bits > len * 8)
		return ly_fail(LY_ERR_CONFIG, "bad prefix length in \"%s\"",
		    cidr);
	for (i = 0; i < len; i++) {
		b = (int)bits - i * 8;
		mask[i] = b >= 8 ? 0xff : b <= 0 ? 0 :
		    (unsigned char)(0xff << (8 - b));
		addr[i] &= mask[i];
	}
	return len;
}

/* An IP subtree is address ‖ mask (RFC 5280 4.2.1.10). */
static GENERAL_NAME *
gn_ip_range(const char *cidr)
{
	GENERAL_NAME *gn;
	ASN1_OCTET_STRING *os;
	unsigned char buf[32];
	int len;

	if ((len = cert_cidr_parse(cidr, buf, buf + 16)) < 0)
		return NULL;
	memmove(buf + len, buf + 16, (size_t)len);
	if ((gn = GENERAL_NAME_new()) == NULL)
		return NULL;
	if ((os = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(os, buf, len * 2)) {
		ASN1_OCTET_STRING_free(os);
		GENERAL_NAME_free(gn);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
	return gn;
}

static int
add_name_constraints(X509 *x, const struct conf_ca *c)
{
	NAME_CONSTRAINTS *nc;
	size_t i;
	int ok = 0;

	if (c->npermitted_dns + c->nexcluded_dns + c->npermitted_ip == 0)
		return 1;
	if ((nc = NAME_CONSTRAINTS_new()) == NULL)
		return 0;
	for (i = 0; i < c->npermitted_dns; i++)
		if (!push_subtree(&nc->permittedSubtrees,
		    gn_ia5(GEN_DNS, c->permitted_dns[i])))
			goto out;
	for (i = 0; i < c->npermitted_ip; i++)
		if (!push_subtree(&nc->permittedSubtrees,
		    gn_ip_range(c->permitted_ip[i]))) {
			ly_fail(LY_ERR_CONFIG, "[%s] permitted_ip: bad range "
			    "\"%s\"", c->name, c->permitted_ip[i]);
			goto out;
		}
	for (i = 0; i < c->nexcluded_dns; i++)
		if (!push_subtree(&nc->excludedSubtrees,
		    gn_ia5(GEN_DNS, c->excluded_dns[i])))
			goto out;
	/* RFC 5280 4.2.1.10: conforming CAs mark it critical. */
	ok = X509_add1_ext_i2d(x, NID_name_constraints, nc, 1,
	    X509V3_ADD_DEFAULT) == 1;
 out:
	NAME_CONSTRAINTS_free(nc);
	return ok;
}

static int
add_ocsp_nocheck(X509 *x)
{
	ASN1_NULL *n;
	int ok;

	if ((n = ASN1_NULL_new()) == NULL)
		return 0;
	ok = X509_add1_ext_i2d(x, NID_id_pkix_OCSP_noCheck, n, 0,
	    X509V3_ADD_DEFAULT) == 1;
	ASN1_NULL_free(n);
	return ok;
}

static int
add_ca_extensions(X509 *x, const struct cert_spec *s)
{
	static const int ku[] = { 5 /* keyCertSign */, 6 /* cRLSign */,
	    0 /* digitalSignature: OCSP responses signed by the CA */ };
	char *crl = NULL, *ocsp = NULL, *issuers = NULL;
	int ok = 0;

	if (!add_basic_constraints(x, 1, s->pathlen) ||
	    !add_key_usage(x, ku, 3) ||
	    !add_key_ids(x, s->issuer) ||
	    (s->constraints != NULL && !add_name_constraints(x, s->constraints)))
		goto out;
	if (s->issuer != NULL) {
		/*
		 * A subordinate points at the root's CRL and certificate, and
		 * at the OCSP responder, which serves the responses the root
		 * pre-signed about it (ca-admin root crl): relying parties
		 * that check every link by OCSP (nginx ssl_ocsp on) need one.
		 */
		if ((crl = cert_url(s->conf, "crl", s->issuer_name)) == NULL ||
		    (ocsp = cert_url(s->conf, "ocsp", s->issuer_name)) ==
		    NULL ||
		    (issuers = cert_url(s->conf, "ca", s->issuer_name)) == NULL ||
		    !add_cdp(x, crl) || !add_aia(x, ocsp, issuers))
			goto out;
	}
	ok = 1;
 out:
	free(crl);
	free(ocsp);
	free(issuers);
	return ok;
}

static int
add_leaf_extensions(X509 *x, const struct cert_spec *s)
{
	const struct conf_profile *p = s->profile;
	int ku[2], nku = 0, ok = 0;
	char *crl = NULL, *ocsp = NULL, *issuers = NULL;

	ku[nku++] = 0;			/* digitalSignature */
	/* RSA key transport in TLS 1.2 servers still wants keyEncipherment. */
	if ((p->eku & CONF_EKU_SERVER) && EVP_PKEY_base_id(s->pubkey) ==
	    EVP_PKEY_RSA)
		ku[nku++] = 2;
	if (!add_basic_constraints(x, 0, -1) ||
	    !add_key_usage(x, ku, (size_t)nku) ||
	    !add_eku(x, p->eku) ||
	    !add_key_ids(x, s->issuer) ||
	    !add_san(x, s))
		goto out;
	if ((issuers = cert_url(s->conf, "ca", s->issuer_name)) == NULL)
		goto out;
	if (p->ocsp_nocheck) {
		/*
		 * A delegated OCSP signer is not itself checked for
		 * revocation (RFC 6960 4.2.2.2.1): no CDP, no OCSP URL.
		 */
		if (!add_ocsp_nocheck(x) || !add_aia(x, NULL, issuers))
			goto out;
	} else {
		if ((crl = ca_crl_url(s->conf, s->issuer_name,
		    s->crl_shards > 1 ? (int)ca_crl_shard_of(s->crl_shards,
		    s->serial) : -1)) == NULL ||
		    (ocsp = cert_url(s->conf, "ocsp", s->issuer_name)) == NULL ||
		    !add_cdp(x, crl) || !add_aia(x, ocsp, issuers))
			goto out;
	}
	ok = 1;
 out:
	free(crl);
	free(ocsp);
	free(issuers);
	return ok;
}

/*
 * Copies a CSR's subjectPublicKeyInfo into x as it is, when it is the one
 * DER form of its key, so that nothing is encoded again: an EC point on
 * the named curve P-256 or P-384 in uncompressed form (SEC 1 2.3.3: 04,
 * X, Y, each the field's width; the form RFC 5480 2.2 requires every
 * client to take), or an Ed25519 key of 32 bytes with the parameters
 * absent (RFC 8410 3). The point was decoded and checked with the CSR
 * (ca_csr_check()). Any other form, and RSA, whose DER inside the BIT
 * STRING would need checking too, is left to X509_set_pubkey(), which
 * encodes the decoded key again (as it did for every key before; it
 * keeps a compressed point compressed). Returns 1 if copied, 0 if not,
 * -1 on failure.
 */
static int
spki_copy(X509 *x, const X509_PUBKEY *from)
{
	ASN1_OBJECT *alg = NULL, *curve = NULL;
	const ASN1_OBJECT *aobj;
	const unsigned char *pk;
	unsigned char *bits = NULL;
	X509_ALGOR *pa;
	const void *pval;
	int pklen, ptype, nid;

	if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, &pa, from) ||
	    pklen < 1)
		return 0;
	X509_ALGOR_get0(&aobj, &ptype, &pval, pa);
	switch (OBJ_obj2nid(aobj)) {
	case NID_X9_62_id_ecPublicKey:
		if (ptype != V_ASN1_OBJECT || pk[0] != 0x04)
			return 0;
		nid = OBJ_obj2nid(pval);
		if (!(nid == NID_X9_62_prime256v1 && pklen == 1 + 2 * 32) &&
		    !(nid == NID_secp384r1 && pklen == 1 + 2 * 48))
			return 0;
		break;
	case NID_ED25519:
		if (ptype != V_ASN1_UNDEF || pklen != 32)
			return 0;
		break;
	default:
		return 0;
	}
	if ((alg = OBJ_dup(aobj)) == NULL ||
	    (ptype == V_ASN1_OBJECT && (curve = OBJ_dup(pval)) == NULL) ||
	    (bits = OPENSSL_memdup(pk, (size_t)pklen)) == NULL)
		goto fail;
	/* Takes alg, curve and bits; the BIT STRING gets no unused bits. */
	if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), alg, ptype,
	    curve, bits, pklen))
		goto fail;
	return 1;
 fail:
	ASN1_OBJECT_free(alg);
	ASN1_OBJECT_free(curve);
	OPENSSL_free(bits);
	return -1;
}

/*
 * The subject's key. X509_set_pubkey() encodes the key through the
 * provider and decodes the result again to keep it decoded in the
 * X509_PUBKEY: in OpenSSL 3.0 that costs more than the HSM's signature
 * (about a fifth of an issuance's CPU). A key from a CSR is encoded
 * already, and copied when spki_copy() allows. The copy leaves x
 * without a decoded key (X509_get0_pubkey() is NULL, and OpenSSL 3.0
 * offers no way to set one but X509_set_pubkey()'s round trip), which
 * signing, verifying and encoding do not need; cert_decode() of its DER
 * gives a caller that wants an X509 a whole one.
 */
static int
set_key(X509 *x, const struct cert_spec *s)
{
	int c = 0;

	if (s->spki != NULL && (c = spki_copy(x, s->spki)) < 0)
		return 0;
	return c == 1 || X509_set_pubkey(x, s->pubkey);
}

int
cert_decode(const unsigned char *der, size_t len, X509 **xp)
{
	const unsigned char *p = der;
	X509 *x = NULL;

	if (len > LONG_MAX || (x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != der + len || X509_get0_pubkey(x) == NULL) {
		X509_free(x);
		ly_log_crypto("cert_decode");
		return ly_fail(LY_ERR_INTERNAL, "the certificate does not "
		    "decode from its own DER");
	}
	*xp = x;
	return LY_OK;
}

int
cert_build(const struct cert_spec *s, X509 **xp)
{
	X509 *x = NULL;
	ASN1_INTEGER *serial = NULL;
	int r = LY_ERR_INTERNAL;

	if ((x = X509_new()) == NULL ||
	    (serial = ca_serial_to_asn1(s->serial)) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_serialNumber(x, serial) ||
	    !X509_set_subject_name(x, s->subject) ||
	    !X509_set_issuer_name(x, s->issuer != NULL ?
	    X509_get_subject_name(s->issuer) : s->subject) ||
	    /* ASN1_TIME_set picks UTCTime through 2049 (RFC 5280 4.1.2.5). */
	    ASN1_TIME_set(X509_getm_notBefore(x), s->not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), s->not_after) == NULL ||
	    !set_key(x, s))
		goto out;
	if (s->profile == NULL ? !add_ca_extensions(x, s) :
	    !add_leaf_extensions(x, s)) {
		if (ly_errdetail()[0] == '\0')
			ly_fail(LY_ERR_INTERNAL, "building extensions failed");
		r = LY_ERR_POLICY;
		goto out;
	}
	*xp = x;
	x = NULL;
	r = LY_OK;
 out:
	if (r == LY_ERR_INTERNAL)
		ly_log_crypto("cert_build");
	ASN1_INTEGER_free(serial);
	X509_free(x);
	return r;
}

/*
 * Reads the identity back out of a certificate Lanyard issued, for
 * reissue: the URI or otherName SAN, DNS names and IP addresses.
 */
int
cert_identity_from(const struct conf *conf, X509 *x, struct ca_identity *id)
{
	GENERAL_NAMES *gns;
	const GENERAL_NAME *gn;
	ASN1_OBJECT *want = NULL;
	char ip[64];
	int i, r = LY_OK;

	memset(id, 0, sizeof(*id));
	if ((gns = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL)) ==
	    NULL)
		return ly_fail(LY_ERR_STATE, "certificate has no SAN");
	if (conf->identity_oid != NULL)
		want = OBJ_txt2obj(conf->identity_oid, 1);
	for (i = 0; r == LY_OK && i < sk_GENERAL_NAME_num(gns); i++) {
		const ASN1_STRING *s = NULL;

		gn = sk_GENERAL_NAME_value(gns, i);
		switch (gn->type) {
		case GEN_URI:
			s = gn->d.uniformResourceIdentifier;
			id->kind = strncmp((const char *)ASN1_STRING_get0_data(s),
			    "spiffe://", 9) == 0 ? CONF_ID_SPIFFE : CONF_ID_JSON;
			break;
		case GEN_OTHERNAME:
			if (want != NULL && OBJ_cmp(gn->d.otherName->type_id,
			    want) == 0 && gn->d.otherName->value->type ==
			    V_ASN1_UTF8STRING) {
				s = gn->d.otherName->value->value.utf8string;
				id->kind = CONF_ID_JSON;
			}
			break;
		case GEN_DNS:
			r = ca_identity_add_dns(id, (const char *)
			    ASN1_STRING_get0_data(gn->d.dNSName));
			break;
		case GEN_IPADD:
			if (gn->d.iPAddress->length == 4)
				inet_ntop(AF_INET, gn->d.iPAddress->data, ip,
				    sizeof(ip));
			else
				inet_ntop(AF_INET6, gn->d.iPAddress->data, ip,
				    sizeof(ip));
			r = ca_identity_add_ip(id, ip);
			break;
		}
		if (s != NULL && id->value == NULL &&
		    (id->value = strndup((const char *)ASN1_STRING_get0_data(s),
		    (size_t)ASN1_STRING_length(s))) == NULL)
			r = LY_ERR_ALLOC;
	}
	ASN1_OBJECT_free(want);
	GENERAL_NAMES_free(gns);
	if (r != LY_OK)
		ca_identity_clear(id);
	return r;
}

int
cert_load_pem(const char *path, X509 **xp)
{
	BIO *b;
	X509 *x;

	if ((b = BIO_new_file(path, "r")) == NULL) {
		ERR_clear_error();
		return ly_fail(LY_ERR_NOT_FOUND, "%s: cannot open", path);
	}
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL) {
		ERR_clear_error();
		return ly_fail(LY_ERR_CONFIG, "%s: no PEM certificate", path);
	}
	*xp = x;
	return LY_OK;
}

int
cert_write_pem(const char *path, X509 *const *xs, size_t n)
{
	BIO *b;
	char *data;
	long len;
	size_t i;
	int r = LY_ERR_INTERNAL;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return LY_ERR_ALLOC;
	for (i = 0; i < n; i++)
		if (!PEM_write_bio_X509(b, xs[i]))
			goto out;
	len = BIO_get_mem_data(b, &data);
	r = ly_file_write_atomic(path, data, (size_t)len, 0644);
 out:
	BIO_free(b);
	return r;
}

int
cert_record(X509 *x, int ca, const char *section, struct store_cert *rec)
{
	unsigned char *der = NULL;
	time_t nb, na;
	int len, r;

	memset(rec, 0, sizeof(*rec));
	if ((r = ca_serial_from_asn1(X509_get0_serialNumber(x),
	    &rec->serial)) != LY_OK ||
	    (r = ly_asn1_time(X509_get0_notBefore(x), &nb)) != LY_OK ||
	    (r = ly_asn1_time(X509_get0_notAfter(x), &na)) != LY_OK)
		return r;
	if ((len = i2d_X509(x, &der)) <= 0)
		return ly_fail(LY_ERR_INTERNAL, "i2d_X509");
	rec->ca = (uint8_t)ca;
	rec->reason = -1;
	snprintf(rec->profile, sizeof(rec->profile), "%s-ca", section);
	rec->created = ly_now();
	rec->not_before = nb;
	rec->not_after = na;
	rec->status = STORE_VALID;
	rec->der = der;
	rec->derlen = (size_t)len;
	return LY_OK;
}
