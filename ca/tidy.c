/*
 * ca/tidy.c — removing what has expired long ago, never a revocation a
 * relying party may still need (see ca_tidy() in ca/ops.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"

#define TIDY_BATCH	5000	/* removals per write transaction */
#define TIDY_CRLS	64	/* CRLs (CA and shard) kept decoded */

/* The current full CRLs, decoded once per name. */
struct crlcache {
	char		 name[64];
	X509_CRL	*crl;	/* NULL: none published */
	time_t		 this_update;
};

struct tidy {
	struct ca		*ca;
	struct store_txn	*txn;	/* the read transaction */
	time_t			 cutoff;
	struct crlcache		 crls[TIDY_CRLS];
	size_t			 ncrls;
	struct ca_serial	*serials;
	size_t			 n, cap;
	unsigned char		(*tokens)[32];
	size_t			 ntok, captok;
	ca_tidy_cb		 cb;
	void			*arg;
	struct ca_tidy_info	 info;
	int			 err;
};

/*
 * XXX the name crl/ records a CA's full CRL under ("crl/<name>"), as
 * crl_name() in crl/crl.c makes it: ca/ cannot call crl/.
 */
static const X509_CRL *
crl_of(struct tidy *t, const struct store_cert *c, time_t *thisp)
{
	const unsigned char *p;
	const void *der;
	char name[64], key[80];
	size_t i, len;
	struct crlcache *cc;

	if (ca_crl_shards(t->ca, c->ca) > 1)
		snprintf(name, sizeof(name), "%s-%u", ca_slot_name(t->ca,
		    c->ca), ca_crl_shard_of(ca_crl_shards(t->ca, c->ca),
		    &c->serial));
	else
		snprintf(name, sizeof(name), "%s", ca_slot_name(t->ca, c->ca));
	for (i = 0; i < t->ncrls; i++)
		if (strcmp(t->crls[i].name, name) == 0)
			goto found;
	if (t->ncrls == TIDY_CRLS)
		return NULL;	/* keep it: never remove on doubt */
	cc = &t->crls[t->ncrls++];
	snprintf(cc->name, sizeof(cc->name), "%s", name);
	snprintf(key, sizeof(key), "crl/%s", name);
	if (store_meta_get(t->txn, key, &der, &len) == LY_OK) {
		p = der;
		if ((cc->crl = d2i_X509_CRL(NULL, &p, (long)len)) != NULL) {
			if (ly_asn1_time(X509_CRL_get0_lastUpdate(cc->crl),
			    &cc->this_update) != LY_OK) {
				X509_CRL_free(cc->crl);
				cc->crl = NULL;
			}
		}
		ERR_clear_error();
	}
 found:
	*thisp = t->crls[i].this_update;
	return t->crls[i].crl;
}

/* A revoked record may go once a CRL issued after its expiry lists it. */
static int
revoked_done(struct tidy *t, const struct store_cert *c)
{
	const X509_CRL *crl;
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *sn;
	time_t this_update = 0;
	int listed;

	if ((crl = crl_of(t, c, &this_update)) == NULL ||
	    this_update <= c->not_after)
		return 0;
	if ((sn = ca_serial_to_asn1(&c->serial)) == NULL)
		return 0;
	listed = X509_CRL_get0_by_serial((X509_CRL *)crl, &rev, sn) == 1;
	ASN1_INTEGER_free(sn);
	return listed;
}

static int
cert_cb(const struct store_cert *c, void *arg)
{
	struct tidy *t = arg;
	struct ca_serial *ns;
	char *hex;

	/* notAfter 0: a revocation without a certificate, kept for good. */
	if (c->not_after == 0 || c->not_after >= t->cutoff)
		return 0;
	if (c->status == STORE_REVOKED && !revoked_done(t, c)) {
		t->info.kept++;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap == 0 ? 256 : t->cap * 2;

		if ((ns = reallocarray(t->serials, cap, sizeof(*ns))) == NULL)
			return LY_ERR_ALLOC;
		t->serials = ns;
		t->cap = cap;
	}
	t->serials[t->n++] = c->serial;
	t->info.certs++;
	t->info.revoked += c->status == STORE_REVOKED;
	if (t->cb != NULL && (hex = ca_serial_hex(&c->serial)) != NULL) {
		t->cb("certificate", hex, ca_cert_status(c), c->not_after,
		    t->arg);
		free(hex);
	}
	return 0;
}

static int
token_cb(const unsigned char *hash, const void *rec, size_t len, void *arg)
{
	struct tidy *t = arg;
	unsigned char (*nt)[32];
	time_t expires, used_at, when;
	char *id;
	int state;

	if (ca_token_rec_times(rec, len, &state, &expires, &used_at) !=
	    LY_OK)
		return 0;	/* a damaged record is for a person to look at */
	if (state == CA_TOKEN_USED)
		when = used_at;
	else if (state == CA_TOKEN_REVOKED || state == CA_TOKEN_EXPIRED)
		when = expires;
	else
		return 0;
	if (when >= t->cutoff)
		return 0;
	if (t->ntok == t->captok) {
		size_t cap = t->captok == 0 ? 64 : t->captok * 2;

		if ((nt = reallocarray(t->tokens, cap, sizeof(*nt))) == NULL)
			return LY_ERR_ALLOC;
		t->tokens = nt;
		t->captok = cap;
	}
	memcpy(t->tokens[t->ntok++], hash, 32);
	t->info.tokens++;
	if (t->cb != NULL && (id = ly_hex_encode(hash, CA_TOKEN_ID_LEN / 2)) !=
	    NULL) {
		t->cb("token", id, ca_token_state_name(state), when, t->arg);
		free(id);
	}
	return 0;
}

static int
tidy_audit(struct store_txn *txn, const struct tidy *t, int keep_days,
    const char *actor)
{
	json_t *o;
	char *detail = NULL;
	int r = LY_ERR_ALLOC;

	if ((o = json_pack("{s:i, s:I, s:I, s:I, s:I}", "keep_days",
	    keep_days, "certificates", (json_int_t)t->info.certs, "revoked",
	    (json_int_t)t->info.revoked, "revoked_kept",
	    (json_int_t)t->info.kept, "tokens", (json_int_t)t->info.tokens)) !=
	    NULL && (detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) !=
	    NULL)
		r = store_audit_append(txn, actor, "tidy", detail);
	json_decref(o);
	free(detail);
	return r;
}

/* The removals in batches; the audit entry with the last one. */
static int
tidy_apply(struct tidy *t, int keep_days, const char *actor)
{
	struct store_txn *txn = NULL;
	size_t i = 0, j = 0, k;
	int r;

	do {
		if ((r = store_txn_begin(ca_store(t->ca), 1, &txn)) != LY_OK)
			return r;
		for (k = 0; k < TIDY_BATCH && i < t->n; k++, i++)
			/* Gone since the read (another tidy): nothing to do. */
			if ((r = store_cert_del(txn, &t->serials[i])) != LY_OK &&
			    r != LY_ERR_NOT_FOUND)
				goto out;
		for (; k < TIDY_BATCH && j < t->ntok; k++, j++)
			if ((r = store_token_del(txn, t->tokens[j])) != LY_OK &&
			    r != LY_ERR_NOT_FOUND)
				goto out;
		if (i == t->n && j == t->ntok &&
		    (r = tidy_audit(txn, t, keep_days, actor)) != LY_OK)
			goto out;
		r = store_txn_commit(txn);
		txn = NULL;
	} while (r == LY_OK && (i < t->n || j < t->ntok));
 out:
	store_txn_abort(txn);
	return r;
}

int
ca_tidy(struct ca *ca, int keep_days, int dry_run, const char *actor,
    ca_tidy_cb cb, void *arg, struct ca_tidy_info *info)
{
	struct tidy t;
	size_t i;
	int r;

	if (keep_days < 0 || keep_days > 100 * 366)
		return ly_fail(LY_ERR_ARG, "keep must be 0 to 36600 days");
	memset(&t, 0, sizeof(t));
	t.ca = ca;
	t.cutoff = ly_now() - (time_t)keep_days * 86400;
	t.cb = cb;
	t.arg = arg;
	/* Decide in one read transaction: a consistent view of both. */
	if ((r = store_txn_begin(ca_store(ca), 0, &t.txn)) != LY_OK)
		return r;
	if ((r = store_cert_foreach(t.txn, cert_cb, &t)) == LY_OK)
		r = store_token_foreach(t.txn, token_cb, &t);
	store_txn_abort(t.txn);
	t.txn = NULL;
	if (r == LY_OK && !dry_run)
		r = tidy_apply(&t, keep_days, actor);
	if (r == LY_OK)
		*info = t.info;
	for (i = 0; i < t.ncrls; i++)
		X509_CRL_free(t.crls[i].crl);
	free(t.serials);
	free(t.tokens);
	return r;
}
