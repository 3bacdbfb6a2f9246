/*
 * crl/build.c — one CRL as DER, streamed (RFC 5280 section 5).
 *
 * A CRL of a million entries is about 50 MB of DER; as an X509_CRL it
 * would be several hundred MB of small objects (openssl ca -gencrl peaks
 * near 540 MiB). So no X509_CRL is built. The CertificateList is laid out
 * in one growing buffer, in one pass over the store's revoked index:
 *
 *   [ room for headers | version..nextUpdate ] entries... crlExtensions
 *
 * Each entry is encoded by OpenSSL (i2d_X509_REVOKED of a reused
 * X509_REVOKED) straight into the buffer. Everything before the entries
 * is known in advance except the lengths, so it is encoded first into a
 * small buffer and copied, right-aligned, in front of the entries once the
 * pass is over; then the TBSCertList header goes in front of that, the
 * TBS is signed in place, the signature algorithm and the BIT STRING are
 * appended, and the CertificateList header goes in front of it all. Every
 * piece is encoded by OpenSSL (i2d_*, ASN1_put_object); no tag or length
 * byte is written by hand.
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "crl/extern.h"
#include "util/util.h"

/* Room for one DER header: tag, 0x84 and four length octets, with spare. */
#define CRL_HDR_MAX		8
/*
 * An upper bound of one encoded entry: a 20-octet serial, a time and both
 * extensions take under 100 octets; the pass checks the room before each.
 */
#define CRL_ENTRY_MAX		256
/* OpenSSL's ASN.1 lengths are ints. */
#define CRL_MAX_LEN		((size_t)INT_MAX - 4096)
#define CRL_ALGID_MAX		128
#define CRL_SIG_MAX		1024	/* RSA-4096: 512 octets */

/* ---- the signature algorithm of a CA key ------------------------------- */

/*
 * The AlgorithmIdentifier a CA key's signatures carry depends on the key
 * and on how the HSM layer sets up the context (digest, PSS parameters). OpenSSL
 * knows it best, so a tiny template CRL is signed once and what
 * X509_CRL_sign_ctx() put into it is kept, per CA certificate and RSA
 * padding, for the life of the process. A stale or wrong entry cannot
 * publish anything: every CRL is verified under the algorithm it names.
 */
struct algid_entry {
	unsigned char	 cert[SHA256_DIGEST_LENGTH];
	int		 pad;
	unsigned char	 der[CRL_ALGID_MAX];
	size_t		 len;
};
static struct algid_entry algids[4];
static unsigned int	 nalgids;
static pthread_mutex_t	 algids_lock = PTHREAD_MUTEX_INITIALIZER;

static int	 ext_common(STACK_OF(X509_EXTENSION) **, X509 *, uint64_t);

/*
 * The template is signed by the CA key like any CRL, so it passes the
 * same lint (ca_lint_crl()). It is worth nothing should it ever leave
 * this function: it revokes nothing, expired in 1970 and has CRL number
 * 0, below that of every CRL the CA publishes.
 */
static int
algid_make(struct ca *ca, int slot, unsigned char *der, size_t *lenp)
{
	X509_CRL *t = NULL;
	X509 *cacert = ca_cert(ca, slot);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	ASN1_TIME *t0 = NULL, *t1 = NULL;
	const X509_ALGOR *alg;
	unsigned char *p = der;
	int i, len, r = LY_ERR_INTERNAL;

	if ((t = X509_CRL_new()) == NULL ||
	    (t0 = ASN1_TIME_set(NULL, 0)) == NULL ||
	    (t1 = ASN1_TIME_set(NULL, 1)) == NULL ||
	    !X509_CRL_set_version(t, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(t, X509_get_subject_name(cacert)) ||
	    !X509_CRL_set1_lastUpdate(t, t0) ||
	    !X509_CRL_set1_nextUpdate(t, t1) ||
	    !ext_common(&exts, cacert, 0)) {
		ly_log_crypto("crl: template");
		goto out;
	}
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		if (!X509_CRL_add_ext(t, sk_X509_EXTENSION_value(exts, i), -1)) {
			ly_log_crypto("crl: template");
			goto out;
		}
	if ((r = ca_lint_crl(t, cacert)) != LY_OK ||
	    (r = ca_sign_crl(ca, slot, t)) != LY_OK)
		goto out;
	X509_CRL_get0_signature(t, NULL, &alg);
	if ((len = i2d_X509_ALGOR(alg, NULL)) <= 0 || len > CRL_ALGID_MAX ||
	    i2d_X509_ALGOR(alg, &p) != len) {
		r = ly_fail(LY_ERR_INTERNAL, "crl: signature algorithm of "
		    "the %s CA key", ca_slot_name(ca, slot));
		goto out;
	}
	*lenp = (size_t)len;
	r = LY_OK;
 out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_TIME_free(t0);
	ASN1_TIME_free(t1);
	X509_CRL_free(t);
	return r;
}

/* The DER AlgorithmIdentifier of the slot's key into der[CRL_ALGID_MAX]. */
static int
algid_get(struct ca *ca, int slot, unsigned char *der, size_t *lenp)
{
	const unsigned char *cder;
	unsigned char h[SHA256_DIGEST_LENGTH];
	size_t clen, i;
	int pad, r;

	pad = ca_crl_padding(ca, slot);
	if ((r = ca_cert_der(ca, slot, &cder, &clen)) != LY_OK)
		return r;
	if (!EVP_Digest(cder, clen, h, NULL, EVP_sha256(), NULL))
		return ly_fail(LY_ERR_INTERNAL, "crl: SHA-256");
	pthread_mutex_lock(&algids_lock);
	for (i = 0; i < nalgids && i < sizeof(algids) / sizeof(algids[0]); i++)
		if (algids[i].pad == pad &&
		    memcmp(algids[i].cert, h, sizeof(h)) == 0) {
			memcpy(der, algids[i].der, algids[i].len);
			*lenp = algids[i].len;
			pthread_mutex_unlock(&algids_lock);
			return LY_OK;
		}
	pthread_mutex_unlock(&algids_lock);

	/* Not under the lock: the HSM may be slow. A race signs twice. */
	if ((r = algid_make(ca, slot, der, lenp)) != LY_OK)
		return r;
	pthread_mutex_lock(&algids_lock);
	i = nalgids++ % (sizeof(algids) / sizeof(algids[0]));
	memcpy(algids[i].cert, h, sizeof(h));
	algids[i].pad = pad;
	memcpy(algids[i].der, der, *lenp);
	algids[i].len = *lenp;
	pthread_mutex_unlock(&algids_lock);
	return LY_OK;
}

/* The digest an AlgorithmIdentifier names (absent: SHA-1, RFC 4055). */
static const EVP_MD *
algid_md(const X509_ALGOR *a)
{
	return a == NULL ? EVP_sha1() : EVP_get_digestbyobj(a->algorithm);
}

/*
 * Sets up vctx to verify as a relying party would, from the signature
 * algorithm alone: ECDSA and RSA PKCS#1 by OID, RSASSA-PSS from its
 * parameters (RFC 4055 3.1).
 */
static int
verify_init(EVP_MD_CTX *vctx, const X509_ALGOR *alg, EVP_PKEY *pub)
{
	RSA_PSS_PARAMS *pss = NULL;
	X509_ALGOR *mgf = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md, *mgfmd;
	long salt = 20;
	int nid, mdnid, pknid, ok = 0;

	nid = OBJ_obj2nid(alg->algorithm);
	if (nid != NID_rsassaPss) {
		if (!OBJ_find_sigid_algs(nid, &mdnid, &pknid) ||
		    pknid != EVP_PKEY_get_base_id(pub) ||
		    (md = EVP_get_digestbynid(mdnid)) == NULL)
			return 0;
		return EVP_DigestVerifyInit(vctx, NULL, md, NULL, pub) == 1;
	}
	if ((pss = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS),
	    alg->parameter)) == NULL)
		goto out;
	md = mgfmd = algid_md(pss->hashAlgorithm);
	if (pss->maskGenAlgorithm != NULL) {
		if (OBJ_obj2nid(pss->maskGenAlgorithm->algorithm) != NID_mgf1 ||
		    (mgf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
		    pss->maskGenAlgorithm->parameter)) == NULL)
			goto out;
		mgfmd = algid_md(mgf);
	} else
		mgfmd = EVP_sha1();
	if (pss->saltLength != NULL)
		salt = ASN1_INTEGER_get(pss->saltLength);
	if (md == NULL || mgfmd == NULL || salt < 0 || salt > INT_MAX ||
	    (pss->trailerField != NULL &&
	    ASN1_INTEGER_get(pss->trailerField) != 1))
		goto out;
	ok = EVP_DigestVerifyInit(vctx, &pctx, md, NULL, pub) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)salt) > 0 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgfmd) > 0;
 out:
	X509_ALGOR_free(mgf);
	RSA_PSS_PARAMS_free(pss);
	return ok;
}

/* ---- the pieces of the TBSCertList ------------------------------------- */

/* A growing buffer; only what is written to it becomes resident. */
struct crl_buf {
	unsigned char	*b;
	size_t		 len;
	size_t		 cap;
};

static int
buf_room(struct crl_buf *cb, size_t need)
{
	unsigned char *nb;
	size_t cap;

	if (need > CRL_MAX_LEN || cb->len > CRL_MAX_LEN - need)
		return ly_fail(LY_ERR_TOO_LARGE, "CRL over %zu bytes",
		    CRL_MAX_LEN);
	if (cb->len + need <= cb->cap)
		return LY_OK;
	cap = cb->cap < 65536 ? 65536 : cb->cap;
	while (cap < cb->len + need)
		cap = cap > CRL_MAX_LEN / 2 ? CRL_MAX_LEN : cap * 2;
	/* glibc moves a large block with mremap(): no copy, no double peak. */
	if ((nb = realloc(cb->b, cap)) == NULL)
		return LY_ERR_ALLOC;
	cb->b = nb;
	cb->cap = cap;
	return LY_OK;
}

/* version, signature, issuer, thisUpdate, nextUpdate, in a new buffer. */
static int
tbs_head(X509 *cacert, const unsigned char *algid, size_t algidlen,
    time_t this, time_t next, unsigned char **outp, size_t *lenp)
{
	ASN1_INTEGER *v = NULL;
	ASN1_TIME *t1 = NULL, *t2 = NULL;
	X509_NAME *issuer = X509_get_subject_name(cacert);
	unsigned char *out = NULL, *p;
	int lv, li, l1, l2, r = LY_ERR_INTERNAL;

	/* ASN1_TIME_set() picks UTCTime through 2049 (RFC 5280 5.1.2.4). */
	if ((v = ASN1_INTEGER_new()) == NULL || !ASN1_INTEGER_set(v, 1) ||
	    (t1 = ASN1_TIME_set(NULL, this)) == NULL ||
	    (t2 = ASN1_TIME_set(NULL, next)) == NULL ||
	    (lv = i2d_ASN1_INTEGER(v, NULL)) <= 0 ||
	    (li = i2d_X509_NAME(issuer, NULL)) <= 0 ||
	    (l1 = i2d_ASN1_TIME(t1, NULL)) <= 0 ||
	    (l2 = i2d_ASN1_TIME(t2, NULL)) <= 0) {
		ly_log_crypto("crl: TBSCertList");
		goto out;
	}
	*lenp = (size_t)lv + algidlen + (size_t)li + (size_t)l1 + (size_t)l2;
	if ((out = p = malloc(*lenp)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	i2d_ASN1_INTEGER(v, &p);
	memcpy(p, algid, algidlen);
	p += algidlen;
	i2d_X509_NAME(issuer, &p);
	i2d_ASN1_TIME(t1, &p);
	i2d_ASN1_TIME(t2, &p);
	*outp = out;
	r = LY_OK;
 out:
	ASN1_INTEGER_free(v);
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	return r;
}

/* A DistributionPointName of one URI. */
static DIST_POINT_NAME *
dpn_uri(const char *url)
{
	DIST_POINT_NAME *dpn = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *s = NULL;

	if (url == NULL || (dpn = DIST_POINT_NAME_new()) == NULL ||
	    (dpn->name.fullname = GENERAL_NAMES_new()) == NULL ||
	    (gn = GENERAL_NAME_new()) == NULL ||
	    (s = ASN1_IA5STRING_new()) == NULL ||
	    !ASN1_STRING_set(s, url, -1))
		goto fail;
	dpn->type = 0;
	GENERAL_NAME_set0_value(gn, GEN_URI, s);
	s = NULL;
	if (!sk_GENERAL_NAME_push(dpn->name.fullname, gn))
		goto fail;
	return dpn;
 fail:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(gn);
	DIST_POINT_NAME_free(dpn);
	return NULL;
}

/* Freshest CRL (RFC 5280 5.2.6): where the delta CRL of this one is. */
static int
ext_freshest(STACK_OF(X509_EXTENSION) **exts, const struct conf *conf,
    const char *name)
{
	CRL_DIST_POINTS *cdp = NULL;
	DIST_POINT *dp = NULL;
	char *url = NULL;
	int ok = 0;

	if (asprintf(&url, "%s/crl/%s-delta.crl", conf->url_base, name) == -1) {
		url = NULL;
		goto out;
	}
	if ((cdp = CRL_DIST_POINTS_new()) == NULL ||
	    (dp = DIST_POINT_new()) == NULL ||
	    (dp->distpoint = dpn_uri(url)) == NULL ||
	    !sk_DIST_POINT_push(cdp, dp))
		goto out;
	dp = NULL;
	ok = X509V3_add1_i2d(exts, NID_freshest_crl, cdp, 0,
	    X509V3_ADD_APPEND) == 1;
 out:
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(cdp);
	free(url);
	return ok;
}

/*
 * Issuing Distribution Point (RFC 5280 5.2.5), critical: a shard's CRL
 * covers only the certificates whose CRL DP is this URL (ca/cert.c).
 */
static int
ext_idp(STACK_OF(X509_EXTENSION) **exts, const struct conf *conf,
    const char *ca, int shard)
{
	ISSUING_DIST_POINT *idp = NULL;
	char *url = ca_crl_url(conf, ca, shard);
	int ok = 0;

	if ((idp = ISSUING_DIST_POINT_new()) != NULL &&
	    (idp->distpoint = dpn_uri(url)) != NULL)
		ok = X509V3_add1_i2d(exts, NID_issuing_distribution_point,
		    idp, 1, X509V3_ADD_APPEND) == 1;
	ISSUING_DIST_POINT_free(idp);
	free(url);
	return ok;
}

/* AKI (keyid = the CA's SKI) and CRL Number (RFC 5280 5.2.1, 5.2.3). */
static int
ext_common(STACK_OF(X509_EXTENSION) **exts, X509 *cacert, uint64_t number)
{
	AUTHORITY_KEYID *akid = NULL;
	ASN1_INTEGER *n = NULL;
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cacert);
	int ok = 0;

	if (ski != NULL && (akid = AUTHORITY_KEYID_new()) != NULL &&
	    (akid->keyid = ASN1_OCTET_STRING_dup(ski)) != NULL &&
	    (n = ASN1_INTEGER_new()) != NULL &&
	    ASN1_INTEGER_set_uint64(n, number) &&
	    X509V3_add1_i2d(exts, NID_authority_key_identifier, akid, 0,
	    X509V3_ADD_APPEND) == 1 &&
	    X509V3_add1_i2d(exts, NID_crl_number, n, 0,
	    X509V3_ADD_APPEND) == 1)
		ok = 1;
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(n);
	return ok;
}

/* crlExtensions, [0] EXPLICIT, in a new buffer. */
static int
tbs_exts(struct ca *ca, const struct crl_id *id, const char *fullname,
    uint64_t number, uint64_t base, int last, unsigned char **outp,
    size_t *lenp)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	const struct conf *conf = ca_conf(ca);
	ASN1_INTEGER *b = NULL;
	unsigned char *out = NULL, *p;
	int len, tot, r = LY_ERR_INTERNAL;

	if (!ext_common(&exts, ca_cert(ca, id->slot), number))
		goto fail;
	if (id->delta) {
		/* Delta CRL Indicator (5.2.4): critical, the base's number. */
		if ((b = ASN1_INTEGER_new()) == NULL ||
		    !ASN1_INTEGER_set_uint64(b, base) ||
		    X509V3_add1_i2d(&exts, NID_delta_crl, b, 1,
		    X509V3_ADD_APPEND) != 1)
			goto fail;
	} else if (!ca_slot_is_root(ca, id->slot) && !last &&
	    /* The whole CRL of a partitioned CA (the bundle's) has no delta. */
	    (id->shard >= 0 || crl_shards(ca, id->slot) <= 1) &&
	    !ext_freshest(&exts, conf, fullname))
		goto fail;
	/* A delta CRL has the scope, so the IDP, of its base (5.2.4). */
	if (id->shard >= 0 &&
	    !ext_idp(&exts, conf, ca_slot_name(ca, id->slot), id->shard))
		goto fail;
	if ((len = i2d_X509_EXTENSIONS(exts, NULL)) <= 0 ||
	    (tot = ASN1_object_size(1, len, 0)) <= 0)
		goto fail;
	if ((out = p = malloc((size_t)tot)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	ASN1_put_object(&p, 1, len, 0, V_ASN1_CONTEXT_SPECIFIC);
	i2d_X509_EXTENSIONS(exts, &p);
	*outp = out;
	*lenp = (size_t)tot;
	r = LY_OK;
	goto out;
 fail:
	ly_log_crypto("crl: crlExtensions");
	r = ly_fail(LY_ERR_INTERNAL, "crl: encoding the extensions failed");
 out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_INTEGER_free(b);
	return r;
}

/* ---- revokedCertificates, in one pass ---------------------------------- */

/*
 * The state of one pass. The X509_REVOKED of an entry is one of the
 * templates, chosen by reason code, whose serial and date are set for
 * each entry: no allocation per entry in the common case.
 */
struct crl_pass {
	unsigned int	 shards;	/* of the CA's CRL */
	int		 shard;		/* -1: every serial */
	int64_t		 since;		/* revoked at or after (delta) */
	const struct ca_serial *skip;	/* listed by the base (delta), sorted */
	size_t		 nskip;
	struct crl_buf	*out;
	size_t		 entries;
	X509_REVOKED	*rev[11];	/* by reason code; [0]: no reasonCode */
	ASN1_INTEGER	*sn;
	ASN1_TIME	*when;
	int64_t		 when_t;
	ASN1_GENERALIZEDTIME *inval;
};

static void
pass_clear(struct crl_pass *ps)
{
	size_t i;

	for (i = 0; i < sizeof(ps->rev) / sizeof(ps->rev[0]); i++)
		X509_REVOKED_free(ps->rev[i]);
	ASN1_INTEGER_free(ps->sn);
	ASN1_TIME_free(ps->when);
	ASN1_GENERALIZEDTIME_free(ps->inval);
}

/*
 * The template for a reason code. unspecified (0) and none (-1) get no
 * reasonCode extension (RFC 5280 5.3.1); 7 is unassigned and 8
 * (removeFromCRL) is never a reason to list a certificate.
 */
static X509_REVOKED *
pass_template(struct crl_pass *ps, int reason)
{
	ASN1_ENUMERATED *e = NULL;
	X509_REVOKED *x;

	if (reason < 1 || reason > 10 || reason == 7 || reason == 8)
		reason = 0;
	if ((x = ps->rev[reason]) != NULL)
		return x;
	if ((x = X509_REVOKED_new()) == NULL)
		return NULL;
	if (reason > 0 && ((e = ASN1_ENUMERATED_new()) == NULL ||
	    !ASN1_ENUMERATED_set(e, reason) ||
	    X509_REVOKED_add1_ext_i2d(x, NID_crl_reason, e, 0, 0) != 1)) {
		X509_REVOKED_free(x);
		x = NULL;
	}
	ASN1_ENUMERATED_free(e);
	return ps->rev[reason] = x;
}

static int
serial_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct ca_serial));
}

/* Encodes one revokedCertificates entry at the end of the buffer. */
static int
pass_entry(const struct store_revoked *rv, void *arg)
{
	struct crl_pass *ps = arg;
	X509_REVOKED *x;
	unsigned char *p;
	size_t i;
	int n, inval = 0, r;

	if (rv->revoked_at < ps->since || (ps->shard >= 0 &&
	    ca_crl_shard_of(ps->shards, &rv->serial) !=
	    (unsigned int)ps->shard))
		return 0;
	/* A delta lists only what its base does not (RFC 5280 5.2.4). */
	if (ps->nskip > 0 && bsearch(&rv->serial, ps->skip, ps->nskip,
	    sizeof(*ps->skip), serial_cmp) != NULL)
		return 0;
	if ((x = pass_template(ps, rv->reason)) == NULL)
		goto fail;
	/* The store's serials are 20 octets, left-padded; DER is minimal. */
	for (i = 0; i < CA_SERIAL_LEN - 1 && rv->serial.b[i] == 0; i++)
		;
	if (!ASN1_STRING_set(ps->sn, rv->serial.b + i,
	    (int)(CA_SERIAL_LEN - i)) ||
	    !X509_REVOKED_set_serialNumber(x, ps->sn))
		goto fail;
	/* Revocations often share a second; formatting a time is not free. */
	if (rv->revoked_at != ps->when_t) {
		if (ASN1_TIME_set(ps->when, (time_t)rv->revoked_at) == NULL)
			goto fail;
		ps->when_t = rv->revoked_at;
	}
	if (!X509_REVOKED_set_revocationDate(x, ps->when))
		goto fail;
	/* invalidityDate is a GeneralizedTime (RFC 5280 5.3.2). */
	if (rv->invalidity != 0) {
		if (ASN1_GENERALIZEDTIME_set(ps->inval,
		    (time_t)rv->invalidity) == NULL ||
		    X509_REVOKED_add1_ext_i2d(x, NID_invalidity_date,
		    ps->inval, 0, X509V3_ADD_APPEND) != 1)
			goto fail;
		inval = 1;
	}
	/* Each entry is linted here: the TBS is too big to lint as a whole. */
	if ((r = ca_lint_crl_entry(x)) != LY_OK ||
	    (r = buf_room(ps->out, CRL_ENTRY_MAX)) != LY_OK)
		return r;
	p = ps->out->b + ps->out->len;
	n = i2d_X509_REVOKED(x, &p);
	if (inval)
		X509_EXTENSION_free(X509_REVOKED_delete_ext(x,
		    X509_REVOKED_get_ext_count(x) - 1));
	/* The bound holds by construction; this is its assertion. */
	if (n <= 0 || n > CRL_ENTRY_MAX)
		goto fail;
	ps->out->len += (size_t)n;
	ps->entries++;
	return 0;
 fail:
	ly_log_crypto("crl: revokedCertificates");
	return ly_fail(LY_ERR_INTERNAL, "crl: encoding an entry failed");
}

/*
 * Appends the entries of id to out, reading one snapshot of the store;
 * *revsp is the store's revocation count in that snapshot.
 */
static int
pass_run(struct ca *ca, const struct crl_id *id, int64_t since,
    const struct ca_serial *skip, size_t nskip, struct crl_buf *out,
    size_t *entriesp, uint64_t *revsp)
{
	struct store_txn *txn = NULL;
	struct crl_pass ps;
	int r = LY_ERR_ALLOC;

	memset(&ps, 0, sizeof(ps));
	ps.shards = crl_shards(ca, id->slot);
	ps.shard = id->shard;
	ps.since = since;
	ps.skip = skip;
	ps.nskip = nskip;
	ps.out = out;
	ps.when_t = INT64_MIN;
	if ((ps.sn = ASN1_INTEGER_new()) == NULL ||
	    (ps.when = ASN1_TIME_new()) == NULL ||
	    (ps.inval = ASN1_GENERALIZEDTIME_new()) == NULL)
		goto out;
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	if ((r = ca_revocations(txn, revsp)) != LY_OK ||
	    (r = store_revoked_foreach(txn, (uint8_t)id->slot, pass_entry,
	    &ps)) != LY_OK)
		goto out;
	*entriesp = ps.entries;
	r = LY_OK;
 out:
	store_txn_abort(txn);
	pass_clear(&ps);
	return r;
}

/* ---- signing ----------------------------------------------------------- */

struct crl_sig {
	const unsigned char *tbs;
	size_t		 tbslen;
	unsigned char	 sig[CRL_SIG_MAX];
	size_t		 siglen;
};

/* The signer over the TBS bytes in place; ca_sign() may call it twice. */
static int
sign_tbs(void *arg, EVP_MD_CTX *ctx)
{
	struct crl_sig *s = arg;

	s->siglen = sizeof(s->sig);
	return EVP_DigestSign(ctx, s->sig, &s->siglen, s->tbs, s->tbslen);
}

/*
 * Checks the HSM's signature with the CA certificate's key under the
 * algorithm the CRL names: a faulty HSM must not get a bad CRL out.
 */
static int
sig_verify(struct ca *ca, int slot, const unsigned char *algid,
    size_t algidlen, const struct crl_sig *s)
{
	X509_ALGOR *alg = NULL;
	EVP_MD_CTX *vctx = NULL;
	const unsigned char *p = algid;
	int ok;

	ok = (alg = d2i_X509_ALGOR(NULL, &p, (long)algidlen)) != NULL &&
	    (vctx = EVP_MD_CTX_new()) != NULL &&
	    verify_init(vctx, alg, X509_get0_pubkey(ca_cert(ca, slot))) &&
	    EVP_DigestVerify(vctx, s->sig, s->siglen, s->tbs,
	    s->tbslen) == 1;
	EVP_MD_CTX_free(vctx);
	X509_ALGOR_free(alg);
	if (ok)
		return LY_OK;
	ly_log_crypto("crl: verify");
	return ca_sign_bad(ca, slot, "CRL");
}

/* Puts a constructed header of tag and class ending at *startp. */
static int
hdr_prepend(struct crl_buf *cb, size_t *startp, size_t len, int tag,
    int xclass)
{
	unsigned char *p;
	int tot;

	if (len > CRL_MAX_LEN || (tot = ASN1_object_size(1, (int)len,
	    tag)) <= 0 || (size_t)tot - len > *startp)
		return ly_fail(LY_ERR_TOO_LARGE, "CRL over %zu bytes",
		    CRL_MAX_LEN);
	*startp -= (size_t)tot - len;
	p = cb->b + *startp;
	ASN1_put_object(&p, 1, (int)len, tag, xclass);
	return LY_OK;
}

/*
 * Signs the TBSCertList at [start, len) of cb and completes the
 * CertificateList around it: SEQUENCE { tbs, algid, BIT STRING }.
 */
static int
crl_sign(struct ca *ca, int slot, struct crl_buf *cb, size_t *startp,
    const unsigned char *algid, size_t algidlen)
{
	ASN1_BIT_STRING *bs = NULL;
	struct crl_sig *s = NULL;
	unsigned char *p;
	int n, r = LY_ERR_ALLOC;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->tbs = cb->b + *startp;
	s->tbslen = cb->len - *startp;
	if ((r = ca_sign(ca, slot, sign_tbs, s)) != LY_OK ||
	    (r = sig_verify(ca, slot, algid, algidlen, s)) != LY_OK)
		goto out;
	/* Whole octets: no unused bits, even if the signature ends in zeros. */
	r = LY_ERR_INTERNAL;
	if ((bs = ASN1_BIT_STRING_new()) == NULL ||
	    !ASN1_BIT_STRING_set(bs, s->sig, (int)s->siglen))
		goto out;
	bs->flags &= ~0x07;
	bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	if ((n = i2d_ASN1_BIT_STRING(bs, NULL)) <= 0)
		goto out;
	if ((r = buf_room(cb, algidlen + (size_t)n)) != LY_OK)
		goto out;
	memcpy(cb->b + cb->len, algid, algidlen);
	cb->len += algidlen;
	p = cb->b + cb->len;
	if (i2d_ASN1_BIT_STRING(bs, &p) != n) {
		r = LY_ERR_INTERNAL;
		goto out;
	}
	cb->len += (size_t)n;
	r = hdr_prepend(cb, startp, cb->len - *startp, V_ASN1_SEQUENCE,
	    V_ASN1_UNIVERSAL);
 out:
	ASN1_BIT_STRING_free(bs);
	free(s);
	return r;
}

/* ---- lint ---------------------------------------------------------------- */

/*
 * Whether the element at p (before end) is of class xclass and tag tag;
 * if so, *lenp is its length and *bodyp where its contents start.
 */
static int
elem_is(const unsigned char *p, const unsigned char *end, int xclass,
    int tag, long *lenp, const unsigned char **bodyp)
{
	int t, c;

	if (p >= end || (ASN1_get_object(&p, lenp, &t, &c, end - p) & 0x80)) {
		ERR_clear_error();
		return 0;
	}
	*bodyp = p;
	return c == xclass && t == tag;
}

/*
 * The TBSCertList at [tbs, tbs + len) decoded into a CRL without
 * entries: the header and the extensions exactly as the HSM will sign
 * them. revokedCertificates is skipped: a million entries would be the
 * X509_CRL this file avoids, and each was linted as it was encoded.
 */
static int
tbs_decode(const unsigned char *tbs, size_t len, X509_CRL **crlp)
{
	X509_CRL *crl = NULL;
	ASN1_INTEGER *v = NULL;
	X509_ALGOR *alg = NULL;
	X509_NAME *issuer = NULL;
	ASN1_TIME *t1 = NULL, *t2 = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	const unsigned char *p = tbs, *q, *end = tbs + len;
	long olen;
	int i, ok = 0;

	if (!elem_is(p, end, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, &olen, &p) ||
	    olen != end - p ||
	    (v = d2i_ASN1_INTEGER(NULL, &p, end - p)) == NULL ||
	    (alg = d2i_X509_ALGOR(NULL, &p, end - p)) == NULL ||
	    (issuer = d2i_X509_NAME(NULL, &p, end - p)) == NULL ||
	    (t1 = d2i_ASN1_TIME(NULL, &p, end - p)) == NULL)
		goto out;
	/* nextUpdate is optional in the syntax: the lint wants it. */
	if ((elem_is(p, end, V_ASN1_UNIVERSAL, V_ASN1_UTCTIME, &olen, &q) ||
	    elem_is(p, end, V_ASN1_UNIVERSAL, V_ASN1_GENERALIZEDTIME, &olen,
	    &q)) && (t2 = d2i_ASN1_TIME(NULL, &p, end - p)) == NULL)
		goto out;
	if (elem_is(p, end, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, &olen, &q))
		p = q + olen;
	if (elem_is(p, end, V_ASN1_CONTEXT_SPECIFIC, 0, &olen, &q)) {
		p = q;
		if ((exts = d2i_X509_EXTENSIONS(NULL, &p, olen)) == NULL)
			goto out;
	}
	if (p != end || (crl = X509_CRL_new()) == NULL ||
	    !X509_CRL_set_version(crl, ASN1_INTEGER_get(v)) ||
	    !X509_CRL_set_issuer_name(crl, issuer) ||
	    !X509_CRL_set1_lastUpdate(crl, t1) ||
	    (t2 != NULL && !X509_CRL_set1_nextUpdate(crl, t2)))
		goto out;
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		if (!X509_CRL_add_ext(crl, sk_X509_EXTENSION_value(exts, i), -1))
			goto out;
	*crlp = crl;
	crl = NULL;
	ok = 1;
 out:
	X509_CRL_free(crl);
	ASN1_INTEGER_free(v);
	X509_ALGOR_free(alg);
	X509_NAME_free(issuer);
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return ok;
}

/* ca_lint_crl() of the TBS about to be signed, without its entries. */
static int
tbs_lint(struct ca *ca, int slot, const unsigned char *tbs, size_t len)
{
	X509_CRL *crl = NULL;
	int r;

	if (len > LONG_MAX || !tbs_decode(tbs, len, &crl)) {
		ly_log_crypto("crl: lint");
		return ly_fail(LY_ERR_INTERNAL, "crl: the TBSCertList built "
		    "does not decode");
	}
	r = ca_lint_crl(crl, ca_cert(ca, slot));
	X509_CRL_free(crl);
	return r;
}

/* ---- the whole ---------------------------------------------------------- */

/*
 * A retiring CA's last CRL (crl_generate_last(): full, good until the
 * CA's own notAfter) names no delta: none will ever be made again.
 */
static int
crl_is_last(struct ca *ca, const struct crl_id *id,
    const struct crl_info *info)
{
	time_t na = 0;

	return !id->delta &&
	    ca_slot_state(ca, id->slot, info->this_update) ==
	    CA_SLOT_RETIRING &&
	    ly_asn1_time(X509_get0_notAfter(ca_cert(ca, id->slot)), &na) ==
	    LY_OK && na != 0 && info->next_update >= na;
}

int
crl_build(struct ca *ca, const struct crl_id *id, int64_t since,
    const struct ca_serial *skip, size_t nskip, struct crl_info *info,
    struct crl_der *out)
{
	struct crl_buf cb;
	struct crl_id fid = *id;
	unsigned char algid[CRL_ALGID_MAX], *head = NULL, *exts = NULL;
	size_t algidlen = 0, headlen = 0, extslen = 0, start;
	char fullname[CRL_NAME_MAX];
	int r;

	memset(&cb, 0, sizeof(cb));
	fid.delta = 0;
	crl_name(ca, &fid, fullname, sizeof(fullname));
	if ((r = algid_get(ca, id->slot, algid, &algidlen)) != LY_OK ||
	    (r = tbs_head(ca_cert(ca, id->slot), algid, algidlen,
	    info->this_update, info->next_update, &head, &headlen)) != LY_OK ||
	    (r = tbs_exts(ca, id, fullname, info->number, info->base,
	    crl_is_last(ca, id, info), &exts, &extslen)) != LY_OK)
		goto out;

	/* Entries go after room for the head and three headers. */
	if ((r = buf_room(&cb, 3 * CRL_HDR_MAX + headlen)) != LY_OK)
		goto out;
	start = cb.len = 3 * CRL_HDR_MAX + headlen;
	if ((r = pass_run(ca, id, since, skip, nskip, &cb, &info->entries,
	    &info->revocations)) != LY_OK)
		goto out;
	/* An empty revokedCertificates is left out, not encoded empty. */
	if (info->entries > 0 && (r = hdr_prepend(&cb, &start,
	    cb.len - start, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL)) != LY_OK)
		goto out;
	start -= headlen;
	memcpy(cb.b + start, head, headlen);
	if ((r = buf_room(&cb, extslen)) != LY_OK)
		goto out;
	memcpy(cb.b + cb.len, exts, extslen);
	cb.len += extslen;
	if ((r = hdr_prepend(&cb, &start, cb.len - start, V_ASN1_SEQUENCE,
	    V_ASN1_UNIVERSAL)) != LY_OK ||
	    (r = tbs_lint(ca, id->slot, cb.b + start, cb.len - start)) !=
	    LY_OK ||
	    (r = crl_sign(ca, id->slot, &cb, &start, algid, algidlen)) != LY_OK)
		goto out;
	out->der = cb.b + start;
	out->len = cb.len - start;
	out->mem = cb.b;
	cb.b = NULL; /* transferred */
	r = LY_OK;
 out:
	free(cb.b);
	free(head);
	free(exts);
	return r;
}
