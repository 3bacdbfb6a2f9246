/*
 * ca/status.c — what an operator checks each morning, computed from the
 * store in one read transaction and the certificate files: no HSM, no
 * PIN, so the unprivileged front can serve it as /metrics gauges and
 * ca-admin status can print it with the token away.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/extern.h"
#include "ca/ops.h"
#include "ca/store.h"

static time_t
not_after_of(const X509 *x)
{
	time_t t = 0;

	/* Unreadable or no certificate: 0, shown as unknown. */
	if (x != NULL)
		(void)ly_asn1_time(X509_get0_notAfter(x), &t);
	return t;
}

static struct ca_status_profile *
profile_slot(struct ca_status *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->nprofiles; i++)
		if (strcmp(st->profiles[i].name, name) == 0)
			return &st->profiles[i];
	if (st->nprofiles == CA_STATUS_PROFILES)
		return NULL;
	i = st->nprofiles++;
	snprintf(st->profiles[i].name, sizeof(st->profiles[i].name), "%s",
	    name[0] != '\0' ? name : "-");
	return &st->profiles[i];
}

static int
status_cert_cb(const struct store_cert *c, void *arg)
{
	struct ca_status *st = arg;
	struct ca_status_profile *p;
	const char *s = ca_cert_status(c);

	if ((p = profile_slot(st, c->profile)) == NULL)
		return 0;
	if (strcmp(s, "valid") == 0) {
		p->valid++;
		if (c->not_after <= st->now + CA_STATUS_EXPIRING)
			p->expiring++;
		/* A CA's newest OCSP signing certificate is its signer. */
		if (strcmp(c->profile, "ocsp") == 0 && c->ca < CA_MAX_SLOTS &&
		    c->not_after > st->ocsp_slot_not_after[c->ca])
			st->ocsp_slot_not_after[c->ca] = c->not_after;
	} else if (strcmp(s, "revoked") == 0)
		p->revoked++;
	else if (strcmp(s, "expired") == 0)
		p->expired++;
	else
		p->reserved++;
	return 0;
}

static int
status_token_cb(const unsigned char *hash, const void *rec, size_t len,
    void *arg)
{
	struct ca_status *st = arg;
	time_t expires, used_at;
	int state;

	(void)hash;
	if (ca_token_rec_times(rec, len, &state, &expires, &used_at) == LY_OK &&
	    (state == CA_TOKEN_UNUSED || state == CA_TOKEN_CLAIMED))
		st->tokens_outstanding++;
	return 0;
}

static int
disabled_cb(const char *val, size_t len, void *arg)
{
	(void)val;
	(void)len;
	((struct ca_status *)arg)->disabled++;
	return 0;
}

static void
tls_not_after(struct ca *ca, struct ca_status *st)
{
	char *key = NULL, *crt = NULL;
	X509 *x = NULL;

	if (ca_tls_paths(ca_conf(ca)->dir, &key, &crt) == LY_OK &&
	    cert_load_pem(crt, &x) == LY_OK)
		st->tls_not_after = not_after_of(x);
	ly_errclear();
	X509_free(x);
	free(key);
	free(crt);
}

int
ca_status_get(struct ca *ca, struct ca_status *out)
{
	struct ca_status *st;
	struct store_txn *txn = NULL;
	const unsigned char *v;
	const void *vp;
	size_t len, i;
	int slot, r;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return LY_ERR_ALLOC;
	st->now = ly_now();
	(void)ca_slots_refresh(ca);
	st->nca = ca_nslots(ca);
	for (slot = 0; slot < st->nca; slot++) {
		snprintf(st->ca[slot].name, sizeof(st->ca[slot].name), "%s",
		    ca_slot_name(ca, slot));
		snprintf(st->ca[slot].issuer, sizeof(st->ca[slot].issuer), "%s",
		    ca_slot_issuer(ca, slot));
		st->ca[slot].state = ca_slot_state(ca, slot, st->now);
		st->ca[slot].root = ca_slot_is_root(ca, slot);
		st->ca[slot].not_after = not_after_of(ca_cert(ca, slot));
		if (!st->ca[slot].root &&
		    st->ca[slot].state == CA_SLOT_ACTIVE)
			st->ca[slot].need = conf_issuer_need(ca_conf(ca),
			    ca_slot_issuer(ca, slot));
	}
	tls_not_after(ca, st);
	if ((r = store_usage(ca_store(ca), &st->store_used,
	    &st->store_map)) != LY_OK)
		goto out;
	st->schema = store_schema(ca_store(ca));
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	r = store_meta_get(txn, CA_META_BACKUP_LAST, &vp, &len);
	if (r == LY_OK && len == 8)
		for (i = 0, v = vp; i < 8; i++)
			st->last_backup = (time_t)((uint64_t)st->last_backup <<
			    8 | v[i]);
	else if (r != LY_OK && r != LY_ERR_NOT_FOUND)
		goto out;
	if ((r = store_cert_foreach(txn, status_cert_cb, st)) != LY_OK ||
	    (r = store_token_foreach(txn, status_token_cb, st)) != LY_OK ||
	    (r = store_disabled_foreach(txn, disabled_cb, st)) != LY_OK)
		goto out;
	/* The signer that expires first is the one to watch. */
	for (i = 0; i < CA_MAX_SLOTS; i++)
		if (st->ocsp_slot_not_after[i] != 0 &&
		    (st->ocsp_not_after == 0 ||
		    st->ocsp_slot_not_after[i] < st->ocsp_not_after))
			st->ocsp_not_after = st->ocsp_slot_not_after[i];
	*out = *st;
	r = LY_OK;
 out:
	store_txn_abort(txn);
	free(st);
	return r;
}
