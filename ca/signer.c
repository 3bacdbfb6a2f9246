/*
 * ca/signer.c — the delegated OCSP signers (RFC 6960 4.2.2.2), one per
 * issuing slot (ca.h, "CA slots"): a key generated on that CA's token, a
 * certificate that CA issues to it (profile "ocsp": EKU OCSPSigning,
 * id-pkix-ocsp-nocheck), rotated within [ocsp] signer_rotate_before of
 * its notAfter. Root slots have none (ocsp/root.c: the root signs), nor
 * do retired slots (they serve nothing new). Its key life cycle (key
 * generation, key open, certificate object, PIN) is the engine's: ocsp/
 * holds a struct ca_signers per responder and asks it for the current
 * signer of a slot (ca_signers_get()) and to rotate when due
 * (ca_signers_sync()).
 *
 * The current signer of a slot is a record in the store's meta under
 * ca_ocsp_signer_key(): CA_META_OCSP_SIGNER for slot 1 (CA_ISSUING), as
 * before there were slots, "CA_META_OCSP_SIGNER/<slot name>" for others:
 *	0   1  version (1)
 *	1   4  generation, big-endian: the number in the key's label
 *	5  20  serial of the signer certificate (in the store)
 *	25  -  the key's object label on the issuing CA's token
 * ca-admin and ca-server may both decide to rotate: each makes a key and a
 * certificate, and ca_ocsp_signer_set() lets the first one that still sees
 * the record it replaces win; the other revokes its certificate and loads
 * the winner's.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "ca/extern.h"
#include "util/util.h"

#define REC_VERSION	1
#define REC_FIXED	25
/* Labels tried past one left behind by a crash or taken by a racing process. */
#define LABEL_TRIES	8
/* How often a lost race is followed by loading the winner's signer. */
#define SYNC_TRIES	3
/* RFC 5280 5.3.1 cessationOfOperation: a signer that lost the race. */
#define REASON_CESSATION	5
/* The subject CN of the delegated signer's certificate. */
#define SIGNER_CN		"Lanyard OCSP Responder"
/*
 * Object labels of signer keys on the issuing CA's token: prefix +
 * number, the prefix after the slot's name and '-' but for CA_ISSUING
 * (whose labels predate slots).
 */
#define SIGNER_LABEL		"ocsp-signer-"
#define SIGNER_LABEL_MAX	(CONF_NAME_MAX + 32)
/* Who the audit log names for what the responder does. */
#define SIGNER_ACTOR		"ocsp"

/*
 * A delegated signer: the key on the issuing CA's token and its
 * certificate. Shared by every thread that signs with it; counted, so
 * that a rotation frees the old one only when the last user is done.
 */
struct ca_signer {
	atomic_uint	 refs;
	int		 slot;		/* the CA that certified it */
	struct hsm_key	*key;
	X509		*cert;
	struct ca_serial serial;
	uint32_t	 gen;		/* the number in the key's label */
	char		 label[SIGNER_LABEL_MAX];
	time_t		 not_after;
	unsigned char	*rec;		/* the store record it was loaded from */
	size_t		 reclen;
};

/* The signers in use by one responder, and their rotation. */
struct ca_signers {
	struct ca	*ca;
	const struct conf *conf;
	pthread_mutex_t	 lock;		/* guards cur[] */
	struct ca_signer *cur[CA_MAX_SLOTS];	/* by slot; NULL: none (yet) */
	pthread_mutex_t	 sync;		/* one ca_signers_sync() at a time */
};

struct signer_rec {
	uint32_t	 gen;
	struct ca_serial serial;
	char		 label[SIGNER_LABEL_MAX];
};

static int
rec_parse(const unsigned char *v, size_t len, struct signer_rec *sr)
{
	size_t ll;

	if (len <= REC_FIXED || v[0] != REC_VERSION ||
	    (ll = len - REC_FIXED) >= sizeof(sr->label) ||
	    memchr(v + REC_FIXED, '\0', ll) != NULL)
		return ly_fail(LY_ERR_STORE, "meta %s: corrupt",
		    CA_META_OCSP_SIGNER " (of a slot)");
	sr->gen = ly_be32_get(v + 1);
	memcpy(sr->serial.b, v + 5, CA_SERIAL_LEN);
	memcpy(sr->label, v + REC_FIXED, ll);
	sr->label[ll] = '\0';
	return LY_OK;
}

static int
rec_encode(const struct signer_rec *sr, unsigned char **vp, size_t *lenp)
{
	size_t ll = strlen(sr->label), len = REC_FIXED + ll;
	unsigned char *v;

	if ((v = malloc(len)) == NULL)
		return LY_ERR_ALLOC;
	v[0] = REC_VERSION;
	ly_be32_put(v + 1, sr->gen);
	memcpy(v + 5, sr->serial.b, CA_SERIAL_LEN);
	memcpy(v + REC_FIXED, sr->label, ll);
	*vp = v;
	*lenp = len;
	return LY_OK;
}

int
ca_ocsp_signer_key(const struct ca *ca, int slot, char *buf, size_t size)
{
	int n;

	if (slot == CA_ISSUING)
		n = snprintf(buf, size, "%s", CA_META_OCSP_SIGNER);
	else
		n = snprintf(buf, size, "%s/%s", CA_META_OCSP_SIGNER,
		    ca_slot_name(ca, slot));
	if (n < 0 || (size_t)n >= size)
		return ly_fail(LY_ERR_TOO_LARGE, "slot %d: meta key too long",
		    slot);
	return LY_OK;
}

/* The label of the signer key number gen of slot. */
static int
label_make(const struct ca *ca, int slot, uint32_t gen, char *buf,
    size_t size)
{
	int n;

	if (slot == CA_ISSUING)
		n = snprintf(buf, size, SIGNER_LABEL "%u", gen);
	else
		n = snprintf(buf, size, "%s-" SIGNER_LABEL "%u",
		    ca_slot_name(ca, slot), gen);
	if (n < 0 || (size_t)n >= size)
		return ly_fail(LY_ERR_TOO_LARGE, "slot %d: key label too long",
		    slot);
	return LY_OK;
}

/* A copy of slot's record in the store; *vp NULL if there is none. */
static int
rec_read(struct ca_signers *h, int slot, unsigned char **vp, size_t *lenp)
{
	struct store_txn *txn = NULL;
	const void *v;
	char key[CA_SIGNER_KEY_MAX];
	size_t len;
	int r;

	*vp = NULL;
	*lenp = 0;
	if ((r = ca_ocsp_signer_key(h->ca, slot, key, sizeof(key))) != LY_OK ||
	    (r = store_txn_begin(ca_store(h->ca), 0, &txn)) != LY_OK)
		return r;
	r = store_meta_get(txn, key, &v, &len);
	if (r == LY_ERR_NOT_FOUND)
		r = LY_OK;
	else if (r == LY_OK) {
		if ((*vp = malloc(len)) == NULL)
			r = LY_ERR_ALLOC;
		else {
			memcpy(*vp, v, len);
			*lenp = len;
		}
	}
	store_txn_abort(txn);
	return r;
}

time_t
ca_signers_stored_not_after(struct ca_signers *h, int slot)
{
	struct signer_rec sr;
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	unsigned char *v = NULL;
	size_t len;
	time_t na = 0;

	if (slot < 0 || slot >= CA_MAX_SLOTS ||
	    rec_read(h, slot, &v, &len) != LY_OK || v == NULL ||
	    rec_parse(v, len, &sr) != LY_OK)
		goto out;
	if (store_txn_begin(ca_store(h->ca), 0, &txn) == LY_OK &&
	    store_cert_get(txn, &sr.serial, &rec) == LY_OK &&
	    rec->status == STORE_VALID && rec->ca == slot)
		na = (time_t)rec->not_after;
	store_txn_abort(txn);
 out:
	store_cert_free(rec);
	free(v);
	return na;
}

static void
signer_free(struct ca_signer *s)
{
	if (s == NULL)
		return;
	hsm_key_free(s->key);
	X509_free(s->cert);
	free(s->rec);
	free(s);
}

struct ca_signer *
ca_signers_get(struct ca_signers *h, int slot)
{
	struct ca_signer *s;

	if (slot < 0 || slot >= CA_MAX_SLOTS)
		return NULL;
	pthread_mutex_lock(&h->lock);
	if ((s = h->cur[slot]) != NULL)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&h->lock);
	return s;
}

void
ca_signer_put(struct ca_signer *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		signer_free(s);
}

/* Makes s (a reference the caller gives up) the signer in use of slot. */
static void
signer_install(struct ca_signers *h, int slot, struct ca_signer *s)
{
	struct ca_signer *old;

	pthread_mutex_lock(&h->lock);
	old = h->cur[slot];
	h->cur[slot] = s;
	pthread_mutex_unlock(&h->lock);
	if (old != s)
		ca_signer_put(old);
	else
		ca_signer_put(s);	/* the caller's extra reference */
}

/* Opens the key called label on slot's token. */
static int
key_open(struct ca_signers *h, int slot, const char *label, const char *pin,
    struct hsm_key **keyp)
{
	const struct conf_ca *cc = ca_slot_conf(h->ca, slot);
	char *uri = NULL;
	int r;

	if ((r = hsm_uri_sibling(cc->key_uri, label, &uri)) != LY_OK)
		return r;
	r = hsm_key_open(uri, pin, cc->rsa_padding, keyp);
	free(uri);
	return r;
}

/* What signer_state() finds. */
#define SIGNER_UNUSABLE	0	/* revoked, missing or expired */
#define SIGNER_DUE	1	/* usable, but to be rotated */
#define SIGNER_CURRENT	2

/*
 * Whether s can go on signing: its certificate still valid in the store,
 * and not expiring within signer_rotate_before.
 */
static int
signer_state(struct ca_signers *h, const struct ca_signer *s)
{
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	time_t now = ly_now();
	int valid = 1;

	if (s->not_after <= now)
		return SIGNER_UNUSABLE;
	/* A store we cannot read now is no reason to rotate blindly. */
	if (store_txn_begin(ca_store(h->ca), 0, &txn) == LY_OK) {
		if (store_cert_get(txn, &s->serial, &rec) == LY_OK)
			valid = rec->status == STORE_VALID;
		else
			valid = 0;
		store_txn_abort(txn);
		store_cert_free(rec);
	}
	if (!valid) {
		ly_log(LY_LOG_WARN, "ocsp: signer %s: certificate revoked or "
		    "missing", s->label);
		return SIGNER_UNUSABLE;
	}
	if (s->not_after - now <= h->conf->ocsp_signer_rotate_before)
		return SIGNER_DUE;
	return SIGNER_CURRENT;
}

/*
 * Loads the signer a store record names. LY_ERR_STATE if its certificate
 * is gone, revoked or not the key's, or the token (there and logged in)
 * has no such key (make a new one); HSM errors as hsm_key_open(), which
 * never make a new one.
 */
static int
signer_load(struct ca_signers *h, int slot, const unsigned char *v,
    size_t len, const char *pin, struct ca_signer **sp)
{
	struct signer_rec sr;
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	struct ca_signer *s = NULL;
	const unsigned char *p;
	int r;

	if ((r = rec_parse(v, len, &sr)) != LY_OK)
		return r;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->rec = malloc(len)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	atomic_init(&s->refs, 1);
	s->slot = slot;
	memcpy(s->rec, v, len);
	s->reclen = len;
	s->gen = sr.gen;
	s->serial = sr.serial;
	memcpy(s->label, sr.label, sizeof(s->label));
	if ((r = store_txn_begin(ca_store(h->ca), 0, &txn)) != LY_OK)
		goto out;
	r = store_cert_get(txn, &sr.serial, &rec);
	store_txn_abort(txn);
	if (r != LY_OK || rec->status != STORE_VALID || rec->ca != slot ||
	    rec->der == NULL) {
		r = ly_fail(LY_ERR_STATE, "OCSP signer %s: certificate "
		    "missing or revoked", sr.label);
		goto out;
	}
	p = rec->der;
	if ((s->cert = d2i_X509(NULL, &p, (long)rec->derlen)) == NULL ||
	    (r = ly_asn1_time(X509_get0_notAfter(s->cert),
	    &s->not_after)) != LY_OK) {
		r = ly_fail(LY_ERR_STATE, "OCSP signer %s: stored certificate "
		    "unreadable", sr.label);
		goto out;
	}
	/*
	 * The store says this key exists: only hsm/'s LY_ERR_NOT_FOUND (the
	 * token is there, logged in, and has no such key) lets a new signer
	 * replace it. A token away or half-written is LY_ERR_HSM: the sync
	 * fails, the signer in use stays, and it is tried again later.
	 */
	if ((r = key_open(h, slot, sr.label, pin, &s->key)) != LY_OK) {
		if (r == LY_ERR_NOT_FOUND) {
			ly_log(LY_LOG_ERR, "ocsp: signer %s: its key is not on "
			    "the token: %s", sr.label, ly_errdetail());
			r = LY_ERR_STATE;
		}
		goto out;
	}
	if (EVP_PKEY_eq(hsm_key_get0_public(s->key),
	    X509_get0_pubkey(s->cert)) != 1) {
		r = ly_fail(LY_ERR_STATE, "OCSP signer %s: the key on the "
		    "token is not the certificate's", sr.label);
		goto out;
	}
	*sp = s;
	s = NULL;
	r = LY_OK;
 out:
	store_cert_free(rec);
	signer_free(s);
	return r;
}

/* A PKCS#10 request for the new key, signed on the token. */
static int
csr_build(struct hsm_key *key, unsigned char **derp, size_t *lenp)
{
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	unsigned char *der = NULL;
	int len, r = LY_ERR_INTERNAL;

	if ((req = X509_REQ_new()) == NULL || (name = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)SIGNER_CN, -1, -1, 0) ||
	    !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, name) ||
	    !X509_REQ_set_pubkey(req, hsm_key_get0_public(key))) {
		ly_log_crypto("ca signer csr_build");
		goto out;
	}
	if ((r = hsm_sign(key, hsm_sign_x509_req, req)) != LY_OK)
		goto out;
	if ((len = i2d_X509_REQ(req, &der)) <= 0) {
		r = LY_ERR_INTERNAL;
		goto out;
	}
	*derp = der;
	*lenp = (size_t)len;
	r = LY_OK;
 out:
	X509_NAME_free(name);
	X509_REQ_free(req);
	return r;
}

/*
 * Generates a key labelled [<slot>-]ocsp-signer-<gen> (or the next free
 * number) on slot's token. *urip and *genp name it.
 */
static int
key_generate(struct ca_signers *h, int slot, const char *pin, uint32_t gen,
    char **urip, uint32_t *genp)
{
	const struct conf_ca *cc = ca_slot_conf(h->ca, slot);
	enum conf_keytype kt;
	char label[SIGNER_LABEL_MAX], *uri = NULL;
	int i, r = LY_ERR_EXISTS;

	/* P-256 unless the CA is RSA: some relying parties know RSA only. */
	kt = cc->key_type == CONF_KEY_RSA_2048 ||
	    cc->key_type == CONF_KEY_RSA_3072 ||
	    cc->key_type == CONF_KEY_RSA_4096 ?
	    CONF_KEY_RSA_2048 : CONF_KEY_EC_P256;
	for (i = 0; i < LABEL_TRIES && r == LY_ERR_EXISTS; i++, gen++) {
		if ((r = label_make(h->ca, slot, gen, label,
		    sizeof(label))) != LY_OK)
			break;
		free(uri);
		uri = NULL;
		if ((r = hsm_uri_sibling(cc->key_uri, label, &uri)) != LY_OK)
			return r;
		r = hsm_keygen(uri, pin, kt, NULL);
	}
	if (r != LY_OK) {
		free(uri);
		return r;
	}
	*urip = uri;
	*genp = gen - 1;
	return LY_OK;
}

/* The audit detail of a new signer. */
static char *
signer_detail(const struct ca_signers *h, const struct ca_signer *s)
{
	char *hex, *d = NULL, na[21];
	json_t *o;

	if ((hex = ca_serial_hex(&s->serial)) == NULL)
		return NULL;
	ly_time_fmt(s->not_after, na);
	/* Hex, a label of ours and a time: nothing to escape. */
	if (s->slot == CA_ISSUING) {
		if (asprintf(&d, "{\"key\":\"%s\",\"not_after\":\"%s\","
		    "\"serial\":\"%s\"}", s->label, na, hex) == -1)
			d = NULL;
	} else if ((o = json_pack("{s:s, s:s, s:s, s:s}", "ca",
	    ca_slot_name(h->ca, s->slot), "key", s->label, "not_after", na,
	    "serial", hex)) != NULL) {
		/* A slot name is the operator's: jansson escapes it. */
		d = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
	}
	free(hex);
	return d;
}

/*
 * Makes a new signer of slot: key on the token, certificate from that CA
 * (ca_issue(), stored and audited), certificate object beside the key.
 * Not yet recorded as the current one.
 */
static int
signer_make(struct ca_signers *h, int slot, const char *pin, uint32_t gen,
    struct ca_signer **sp)
{
	const struct conf_ca *cc = ca_slot_conf(h->ca, slot);
	const struct conf_profile *p;
	struct ca_request rq;
	struct ca_signer *s = NULL;
	struct signer_rec sr;
	unsigned char *csr = NULL;
	size_t csrlen = 0;
	char *uri = NULL;
	int r;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return LY_ERR_ALLOC;
	atomic_init(&s->refs, 1);
	s->slot = slot;
	if ((r = key_generate(h, slot, pin, gen, &uri, &s->gen)) != LY_OK ||
	    (r = label_make(h->ca, slot, s->gen, s->label,
	    sizeof(s->label))) != LY_OK)
		goto out;
	if ((r = hsm_key_open(uri, pin, cc->rsa_padding, &s->key)) != LY_OK ||
	    (r = csr_build(s->key, &csr, &csrlen)) != LY_OK)
		goto out;

	memset(&rq, 0, sizeof(rq));
	rq.profile = "ocsp";
	rq.csr = csr;
	rq.csrlen = csrlen;
	rq.identity.kind = CONF_ID_NONE;
	rq.days = h->conf->ocsp_signer_days;
	/* Within the profile's limit rather than no signer at all. */
	if ((p = conf_profile_get(h->conf, "ocsp")) != NULL &&
	    rq.days > p->max_days) {
		ly_log(LY_LOG_WARN, "ocsp: signer_days %d over the ocsp "
		    "profile's max_days %d; using %d", rq.days, p->max_days,
		    p->max_days);
		rq.days = p->max_days;
	}
	rq.actor = SIGNER_ACTOR;
	rq.cn = SIGNER_CN;
	rq.slot = slot;
	if ((r = ca_issue(h->ca, &rq, &s->cert, &s->serial)) != LY_OK)
		goto out;
	if ((r = ly_asn1_time(X509_get0_notAfter(s->cert),
	    &s->not_after)) != LY_OK)
		goto out;
	/* hsm/ finds the key through the certificate (same CKA_ID) beside it. */
	if ((r = hsm_cert_store(uri, pin, s->cert)) != LY_OK)
		goto out;
	hsm_key_free(s->key);
	s->key = NULL;
	if ((r = hsm_key_open(uri, pin, cc->rsa_padding, &s->key)) != LY_OK)
		goto out;

	sr.gen = s->gen;
	sr.serial = s->serial;
	memcpy(sr.label, s->label, sizeof(sr.label));
	if ((r = rec_encode(&sr, &s->rec, &s->reclen)) != LY_OK)
		goto out;
	*sp = s;
	s = NULL;
	r = LY_OK;
 out:
	/*
	 * XXX a key made before a later failure stays on the token; hsm/
	 * has no way to destroy one. The next attempt takes the next label.
	 */
	signer_free(s);
	free(csr);
	free(uri);
	return r;
}

/*
 * Creates a signer and records it in place of prev (NULL: none). A lost
 * race gives LY_ERR_EXISTS: the new certificate is revoked again (its key
 * signs nothing) and the caller loads the winner's.
 */
static int
signer_create(struct ca_signers *h, int slot, const unsigned char *prev,
    size_t prevlen, const char *pin, struct ca_signer **sp)
{
	struct signer_rec sr;
	struct ca_signer *s = NULL;
	char *detail = NULL;
	uint32_t gen = 1;
	int r;

	if (prev != NULL && rec_parse(prev, prevlen, &sr) == LY_OK)
		gen = sr.gen + 1;
	if ((r = signer_make(h, slot, pin, gen, &s)) != LY_OK)
		return r;
	if ((detail = signer_detail(h, s)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	r = ca_ocsp_signer_set(h->ca, slot, prev, prevlen, s->rec, s->reclen,
	    SIGNER_ACTOR, detail);
	if (r == LY_ERR_EXISTS) {
		ly_log(LY_LOG_INFO, "ocsp: another process rotated the signer "
		    "first; revoking %s", s->label);
		(void)ca_revoke(h->ca, &s->serial, REASON_CESSATION, 0,
		    SIGNER_ACTOR);
		goto out;
	}
	if (r != LY_OK)
		goto out;
	ly_log(LY_LOG_INFO, "ocsp: new signer: %s", detail);
	*sp = s;
	s = NULL;
 out:
	ca_signer_put(s);
	free(detail);
	return r;
}

/* ca_signers_sync() for one issuing slot; h->sync is held. */
static int
sync_slot(struct ca_signers *h, int slot)
{
	const struct conf_ca *cc = ca_slot_conf(h->ca, slot);
	struct ca_signer *cur = NULL, *s = NULL, *fallback = NULL;
	struct hsm_key *ikey;
	unsigned char *v = NULL;
	size_t len = 0;
	char *pin = NULL;
	int i, st, r;

	/* Also brings the HSM up: signer keys live on the same token. */
	if ((r = ca_key_get(h->ca, slot, &ikey)) != LY_OK ||
	    (r = ca_pin_load(cc, &pin)) != LY_OK)
		goto out;
	for (i = 0, r = LY_ERR_EXISTS; i < SYNC_TRIES && r == LY_ERR_EXISTS;
	    i++) {
		free(v);
		ca_signer_put(cur);
		ca_signer_put(fallback);
		cur = fallback = NULL;
		if ((r = rec_read(h, slot, &v, &len)) != LY_OK)
			break;
		/* The record may be ours, or one another process made. */
		cur = ca_signers_get(h, slot);
		if (v != NULL && cur != NULL && cur->reclen == len &&
		    memcmp(cur->rec, v, len) == 0) {
			s = cur;
			cur = NULL;
		} else if (v != NULL) {
			r = signer_load(h, slot, v, len, pin, &s);
			if (r != LY_OK && r != LY_ERR_STATE)
				break;
			if (r == LY_ERR_STATE)
				ly_log(LY_LOG_WARN, "ocsp: %s; making a new "
				    "signer", ly_errdetail());
		}
		st = s != NULL ? signer_state(h, s) : SIGNER_UNUSABLE;
		if (st == SIGNER_CURRENT) {
			r = LY_OK;
			break;
		}
		if (st == SIGNER_DUE) {
			fallback = s;
			s = NULL;
		} else {
			ca_signer_put(s);
			s = NULL;
		}
		r = signer_create(h, slot, v, len, pin, &s);
	}
	/* A signer due for rotation still signs while a new one cannot be made. */
	if (r != LY_OK && fallback != NULL) {
		ly_log(LY_LOG_WARN, "ocsp: cannot rotate the signer (%s: %s); "
		    "%s signs until it is due", ly_strerror(r), ly_errdetail(),
		    fallback->label);
		s = fallback;
		fallback = NULL;
	}
	if (s != NULL) {
		signer_install(h, slot, s);
		s = NULL;
	}
 out:
	/* LY_ERR_ARG: opened without the HSM (the caller says so). */
	if (r != LY_OK && r != LY_ERR_ARG)
		ly_log(LY_LOG_ERR, "ocsp: signer of %s: %s: %s",
		    ca_slot_name(h->ca, slot), ly_strerror(r), ly_errdetail());
	ca_signer_put(cur);
	ca_signer_put(fallback);
	ca_signer_put(s);
	hsm_pin_free(pin);
	free(v);
	return r;
}

int
ca_signer_slot_wanted(const struct ca *ca, int slot)
{
	return slot >= 0 && slot < ca_nslots(ca) && slot < CA_MAX_SLOTS &&
	    !ca_slot_is_root(ca, slot) &&
	    ca_slot_state(ca, slot, ly_now()) != CA_SLOT_RETIRED;
}

int
ca_signers_sync(struct ca_signers *h)
{
	char detail[256] = "";
	int slot, r, first = LY_OK;

	pthread_mutex_lock(&h->sync);
	/*
	 * Every slot in turn, each on its own: one CA's token away stops
	 * no other CA's signer. The first error is the answer.
	 */
	for (slot = 0; slot < ca_nslots(h->ca) && slot < CA_MAX_SLOTS;
	    slot++) {
		if (!ca_signer_slot_wanted(h->ca, slot)) {
			/* A retired CA serves nothing new: drop its signer. */
			signer_install(h, slot, NULL);
			continue;
		}
		if ((r = sync_slot(h, slot)) != LY_OK && first == LY_OK) {
			first = r;
			snprintf(detail, sizeof(detail), "%s", ly_errdetail());
		}
	}
	pthread_mutex_unlock(&h->sync);
	if (first != LY_OK)
		ly_fail(first, "%s", detail);
	return first;
}

int
ca_signers_new(struct ca *ca, struct ca_signers **hp)
{
	struct ca_signers *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return LY_ERR_ALLOC;
	h->ca = ca;
	h->conf = ca->conf;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->sync, NULL);
	*hp = h;
	return LY_OK;
}

void
ca_signers_free(struct ca_signers *h)
{
	int slot;

	if (h == NULL)
		return;
	for (slot = 0; slot < CA_MAX_SLOTS; slot++)
		ca_signer_put(h->cur[slot]);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->sync);
	free(h);
}

X509 *
ca_signer_cert(const struct ca_signer *s)
{
	return s->cert;
}

int
ca_signer_slot(const struct ca_signer *s)
{
	return s->slot;
}

const char *
ca_signer_label(const struct ca_signer *s)
{
	return s->label;
}

time_t
ca_signer_not_after(const struct ca_signer *s)
{
	return s->not_after;
}

int
ca_signer_sign(struct ca_signer *s, int (*fn)(void *, EVP_MD_CTX *),
    void *obj)
{
	return hsm_sign(s->key, fn, obj);
}

int
ca_signer_bad(const struct ca_signer *s)
{
	return hsm_bad_signature("the HSM returned an OCSP response "
	    "signature that does not verify with the key of signer %s",
	    s->label);
}
