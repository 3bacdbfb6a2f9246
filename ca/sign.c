/*
 * ca/sign.c — the engine's door to the HSM: the CA keys are opened here
 * on first use (the only place a CA PIN is read) and everything the CA
 * keys sign goes through here.
 */
#include "config.h"

#include <stdlib.h>

#include "ca/extern.h"
#include "util/util.h"

/*
 * The PIN of a CA's token, from its pin_file or pin_env: the one place
 * the engine reads a PIN (the CA keys, init and the OCSP signer's keys on
 * the issuing CA's token all come here). Free with hsm_pin_free().
 */
int
ca_pin_load(const struct conf_ca *cc, char **pinp)
{
	return hsm_pin_load(cc->pin_file, cc->pin_env, pinp);
}

/*
 * Audits what hsm/'s token guard restored before it initialised the
 * module (a token file a crash left damaged): one "hsm_token_restored"
 * entry each. hsm/ only reports; the store is ours. A failure to audit is
 * logged: the restore itself has happened and was logged loudly.
 */
static void
hsm_restores_audit(struct ca *ca)
{
	struct hsm_restore ev[8];
	struct store_txn *txn = NULL;
	json_t *o;
	char *d;
	size_t i, n;
	int r = LY_OK;

	while (r == LY_OK && (n = hsm_token_restores(ev, 8)) > 0) {
		if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
			break;
		for (i = 0; i < n && r == LY_OK; i++) {
			o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "token",
			    ev[i].label, "dir", ev[i].token_dir, "file",
			    ev[i].file, "action", ev[i].action, "id", ev[i].id);
			d = o != NULL ? json_dumps(o, JSON_COMPACT |
			    JSON_SORT_KEYS) : NULL;
			json_decref(o);
			r = d == NULL ? LY_ERR_ALLOC : store_audit_append(txn,
			    "hsm", "hsm_token_restored", d);
			free(d);
		}
		if (r == LY_OK)
			r = store_txn_commit(txn);
		else
			store_txn_abort(txn);
		txn = NULL;
		for (i = 0; i < n && r == LY_OK; i++)
			hsm_token_restore_done(&ev[i]);
	}
	if (r != LY_OK)
		ly_log(LY_LOG_ERR, "audit of an HSM token restore failed: %s",
		    ly_errdetail());
}

/* Opens the HSM and the slot's key on first use; later calls are cheap. */
int
ca_key_get(struct ca *ca, int slot, struct hsm_key **keyp)
{
	const struct conf_ca *cc = ca_slot_conf(ca, slot);
	char *pin = NULL;
	int r = LY_OK;

	if (ca->flags & (CA_OPEN_READONLY | CA_OPEN_NO_HSM))
		return ly_fail(LY_ERR_ARG, "instance opened without the HSM");
	/* Before any PIN or token is touched: see ca_root_offline(). */
	if (ca_slot_is_root(ca, slot) && ca->conf->root.offline)
		return ly_fail(LY_ERR_STATE, "the root CA is offline on this "
		    "instance ([root] offline = yes): its key is used only in "
		    "a ceremony on the root's own instance (ca-admin root crl, "
		    "root sign-issuer)");
	pthread_mutex_lock(&ca->lock);
	if (ca->keys[slot] != NULL)
		goto out;
	if (!ca->hsm_ready) {
		hsm_sessions_max(ca->conf->hsm_sessions);
		if ((r = hsm_init(ca->conf->hsm_module,
		    ca->conf->softhsm2_conf)) != LY_OK)
			goto out;
		ca->hsm_ready = 1;
		hsm_restores_audit(ca);
	}
	if ((r = ca_pin_load(cc, &pin)) != LY_OK)
		goto out;
	r = hsm_key_open(cc->key_uri, pin, cc->rsa_padding, &ca->keys[slot]);
	hsm_pin_free(pin);
 out:
	if (r == LY_OK)
		*keyp = ca->keys[slot];
	pthread_mutex_unlock(&ca->lock);
	return r;
}

/*
 * Lints x, signs it with the slot's CA key and checks the signature with
 * the CA certificate's public key: neither a bug of ours nor a faulty HSM
 * may get a bad certificate past us. hsm_sign() verified it with the
 * token key's public key already; only a CA certificate for another key
 * needs a second look.
 */
int
ca_sign_cert(struct ca *ca, int slot, X509 *x)
{
	struct hsm_key *key;
	EVP_PKEY *pub;
	int r;

	/* No CA certificate in the slot yet: x is the self-signed root. */
	if ((r = ca_lint_cert(x, ca->certs[slot])) != LY_OK)
		return r;
	if ((r = ca_key_get(ca, slot, &key)) != LY_OK)
		return r;
	if ((r = hsm_sign(key, hsm_sign_x509, x)) != LY_OK)
		return r;
	pub = ca->certs[slot] != NULL ? X509_get0_pubkey(ca->certs[slot]) :
	    hsm_key_get0_public(key);
	if (pub == NULL || (EVP_PKEY_eq(pub, hsm_key_get0_public(key)) != 1 &&
	    X509_verify(x, pub) != 1)) {
		ly_log_crypto("ca_sign_cert");
		return hsm_bad_signature("the HSM returned a signature that "
		    "does not verify with the %s CA key",
		    ca_slot_conf(ca, slot)->name);
	}
	return LY_OK;
}

int
ca_sign_cert_self(const struct conf_ca *cc, const char *pin, X509 *x)
{
	struct hsm_key *key = NULL;
	int r;

	if ((r = ca_lint_cert(x, NULL)) != LY_OK ||
	    (r = hsm_key_open(cc->key_uri, pin, cc->rsa_padding, &key)) !=
	    LY_OK)
		return r;
	/* hsm_sign() checks the signature with the key's public key. */
	if (EVP_PKEY_eq(hsm_key_get0_public(key), X509_get0_pubkey(x)) != 1)
		r = ly_fail(LY_ERR_INTERNAL, "the %s certificate is not for "
		    "its key on the token", cc->name);
	else
		r = hsm_sign(key, hsm_sign_x509, x);
	hsm_key_free(key);
	return r;
}

int
ca_root_offline(const struct ca *ca)
{
	return ca->conf->root.offline;
}

int
ca_key(struct ca *ca, int slot, struct hsm_key **keyp)
{
	return ca_key_get(ca, slot, keyp);
}

int
ca_sign(struct ca *ca, int slot, int (*fn)(void *, EVP_MD_CTX *), void *obj)
{
	struct hsm_key *key;
	int r;

	if ((r = ca_key_get(ca, slot, &key)) != LY_OK)
		return r;
	return hsm_sign(key, fn, obj);
}

int
ca_sign_crl(struct ca *ca, int slot, X509_CRL *crl)
{
	return ca_sign(ca, slot, hsm_sign_x509_crl, crl);
}

int
ca_sign_bad(struct ca *ca, int slot, const char *what)
{
	return hsm_bad_signature("the HSM returned a %s signature that does "
	    "not verify with the %s CA key", what, ca_slot_name(ca, slot));
}

int
ca_hsm_check(struct ca *ca)
{
	struct hsm_key *key;
	int r;

	int slot = ca_issuer_slot(ca, ca->conf->issuing.name, ly_now());

	if ((r = ca_key_get(ca, slot >= 0 ? slot : CA_ISSUING, &key)) != LY_OK)
		return r;
	r = hsm_key_check(key);
	/* A re-initialisation of the module may have restored a token. */
	hsm_restores_audit(ca);
	return r;
}

void
ca_hsm_stats(struct ca_hsm_stats *st)
{
	struct hsm_stats hs;

	hsm_stats(&hs);
	st->sign_failures = hs.sign_failures;
	st->reopens = hs.reopens;
	st->reinits = hs.reinits;
	st->bad_signatures = hs.bad_signatures;
}
