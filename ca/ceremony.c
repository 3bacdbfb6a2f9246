/*
 * ca/ceremony.c — an issuing CA whose root lives on another machine
 * (docs/operations.md, "Years of operation"): the issuing instance makes
 * its key and a CSR on its own token (ca-admin init --issuer-only), the
 * root's instance signs it (ca-admin root sign-issuer), and the issuing
 * instance installs the certificate (ca-admin issuer import). Each step
 * is audited on the instance where it happens.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "util/util.h"

/* A malloc'd path below the instance directory. */
static char *
inst_path(const struct conf *conf, const char *rel)
{
	return ly_path_join(conf->dir, rel);
}

int
ca_issuer_pending(const struct conf *conf)
{
	struct stat st;
	char *csr;
	int pending;

	if ((csr = inst_path(conf, CA_ISSUER_CSR)) == NULL)
		return 0;
	pending = stat(csr, &st) == 0 &&
	    stat(conf->issuing.cert_file, &st) == -1 && errno == ENOENT;
	free(csr);
	return pending;
}

/* One audit entry in its own durable transaction. */
static int
audit_one(struct ca *ca, const char *actor, const char *action, json_t *o)
{
	struct store_txn *txn = NULL;
	char *d;
	int r;

	if (o == NULL || (d = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL) {
		json_decref(o);
		return LY_ERR_ALLOC;
	}
	json_decref(o);
	if ((r = store_txn_begin(ca->store, 1, &txn)) == LY_OK &&
	    (r = store_audit_append(txn, actor, action, d)) == LY_OK) {
		r = store_txn_commit(txn);
		txn = NULL;
	}
	store_txn_abort(txn);
	free(d);
	return r;
}

/* x as PEM into path (mode 0644). */
static int
req_write_pem(const char *path, X509_REQ *req)
{
	BIO *b;
	char *data;
	long len;
	int r;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return LY_ERR_ALLOC;
	if (PEM_write_bio_X509_REQ(b, req) != 1 ||
	    (len = BIO_get_mem_data(b, &data)) <= 0) {
		BIO_free(b);
		return ly_fail(LY_ERR_INTERNAL, "PEM encoding of the CSR failed");
	}
	r = ly_file_write_atomic(path, data, (size_t)len, 0644);
	BIO_free(b);
	return r;
}

/*
 * A new CA key for cc on its token (ca_keygen()) and a PKCS#10 CSR for
 * cc's subject, signed with that key on the HSM, written as PEM to path:
 * what a root on another instance signs in a ceremony.
 */
static int
key_csr(struct ca *ca, const struct conf_ca *cc, const char *path,
    const char *what)
{
	struct hsm_key *key = NULL;
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = NULL;
	X509_REQ *req = NULL;
	char *pin = NULL;
	int r;

	if ((r = ca_pin_load(cc, &pin)) != LY_OK)
		goto out;
	/* hsm_keygen() leaves a placeholder certificate: the key opens. */
	if ((r = ca_keygen(ca, cc, pin, &pub)) != LY_OK ||
	    (r = hsm_key_open(cc->key_uri, pin, cc->rsa_padding, &key)) !=
	    LY_OK || (r = cert_name_parse(cc->subject, &subject)) != LY_OK)
		goto out;
	r = LY_ERR_INTERNAL;
	if ((req = X509_REQ_new()) == NULL || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, subject) ||
	    !X509_REQ_set_pubkey(req, pub)) {
		ly_log_crypto(what);
		goto out;
	}
	/* hsm_sign() checks the signature with the token key's public key. */
	if ((r = hsm_sign(key, hsm_sign_x509_req, req)) == LY_OK)
		r = req_write_pem(path, req);
 out:
	hsm_key_free(key);
	hsm_pin_free(pin);
	EVP_PKEY_free(pub);
	X509_NAME_free(subject);
	X509_REQ_free(req);
	return r;
}

int
ca_issuer_csr(struct ca *ca, const char *actor)
{
	const struct conf_ca *cc = &ca->conf->issuing;
	char *path = NULL;
	int r;

	if ((path = inst_path(ca->conf, CA_ISSUER_CSR)) == NULL)
		return LY_ERR_ALLOC;
	if ((r = key_csr(ca, cc, path, "ca_issuer_csr")) == LY_OK)
		r = audit_one(ca, actor, "issuer-csr", json_pack("{s:s, s:s, "
		    "s:s}", "subject", cc->subject, "key", cc->key_uri, "csr",
		    path));
	free(path);
	return r;
}

/* The least warning ahead of a ceremony when [root] renew_before is unset. */
#define RENEW_MIN	(7 * 86400L)

long
ca_root_renew_before(const struct ca *ca, long period)
{
	if (ca->conf->root.renew_before > 0)
		return ca->conf->root.renew_before;
	return period / 4 > RENEW_MIN ? period / 4 : RENEW_MIN;
}

/* ---- on the root's instance -------------------------------------------- */

/*
 * What the root allows in a CSR for a CA under it: a key of the kinds the
 * CA keys may be, a subject with a CN that is not the root's own, and no
 * requested extension at all -- the root alone decides what a CA
 * certificate says (CA:TRUE, pathlen 0, its name constraints and URLs).
 */
static int
issuer_csr_check(struct ca *ca, X509_REQ *req, EVP_PKEY *key)
{
	STACK_OF(X509_EXTENSION) *exts;
	const X509_NAME *subj = X509_REQ_get_subject_name(req);
	int n, bits = EVP_PKEY_get_bits(key);

	if (X509_REQ_verify(req, key) != 1) {
		ly_log_crypto("issuer CSR");
		return ly_fail(LY_ERR_CSR_SIGNATURE, "the CSR's signature does "
		    "not verify with its key");
	}
	if (!(EVP_PKEY_is_a(key, "EC") && (bits == 256 || bits == 384)) &&
	    !(EVP_PKEY_is_a(key, "RSA") && bits >= 2048 && bits <= 4096))
		return ly_fail(LY_ERR_KEY_POLICY, "a CA key must be EC P-256, "
		    "P-384 or RSA 2048-4096 (got %s, %d bits)",
		    EVP_PKEY_get0_type_name(key), bits);
	if (subj == NULL || X509_NAME_get_index_by_NID(subj, NID_commonName,
	    -1) < 0)
		return ly_fail(LY_ERR_BAD_CSR, "the CSR's subject has no CN");
	for (n = 0; n < ca_nslots(ca); n++)
		if (ca_slot_is_root(ca, n) && X509_NAME_cmp(subj,
		    X509_get_subject_name(ca->certs[n])) == 0)
			return ly_fail(LY_ERR_BAD_CSR, "the CSR's subject is the "
			    "%s CA's", ca_slot_name(ca, n));
	if ((exts = X509_REQ_get_extensions(req)) != NULL) {
		n = sk_X509_EXTENSION_num(exts);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		if (n > 0)
			return ly_fail(LY_ERR_BAD_CSR, "the CSR requests %d "
			    "extension(s): the root sets a CA certificate's "
			    "extensions itself (CA:TRUE, pathlen 0, name "
			    "constraints); make the CSR without any", n);
	}
	ERR_clear_error();
	return LY_OK;
}

int
ca_root_sign_issuer(struct ca *ca, const unsigned char *csr, size_t len,
    int days, const char *actor, X509 **certp)
{
	const struct conf_ca *cc = &ca->conf->issuing;
	struct store_cert rec;
	struct cert_spec spec;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	time_t now = ly_now(), root_end;
	/* The root in force: after a root rollover, the new one. */
	int root = ca_root_slot(ca, now), r;

	if (ca->conf->root.offline)
		return ly_fail(LY_ERR_STATE, "the root is offline on this "
		    "instance: sign on the root's own instance");
	if (days < 0 || days > 36600)
		return ly_fail(LY_ERR_ARG, "days: 1 to 36600");
	if ((r = ca_csr_parse(csr, len, &req, &key)) != LY_OK ||
	    (r = issuer_csr_check(ca, req, key)) != LY_OK ||
	    (r = ly_asn1_time(X509_get0_notAfter(ca->certs[root]),
	    &root_end)) != LY_OK)
		goto out;
	memset(&rec, 0, sizeof(rec));
	rec.ca = (uint8_t)root;
	rec.reason = -1;
	snprintf(rec.profile, sizeof(rec.profile), "%s-ca", cc->name);
	rec.not_before = now - CA_BACKDATE;
	rec.not_after = now + (time_t)(days > 0 ? days : cc->days) * 86400;
	/* A CA certificate never outlives the root that vouches for it. */
	if (rec.not_after > root_end)
		rec.not_after = root_end;
	if ((r = ca_reserve(ca, &rec, NULL)) != LY_OK)
		goto out;
	memset(&spec, 0, sizeof(spec));
	spec.conf = ca->conf;
	spec.pubkey = key;
	spec.spki = X509_REQ_get_X509_PUBKEY(req);
	spec.subject = X509_REQ_get_subject_name(req);
	spec.serial = &rec.serial;
	spec.not_before = rec.not_before;
	spec.not_after = rec.not_after;
	spec.issuer = ca->certs[root];
	spec.issuer_name = ca_slot_name(ca, root);
	spec.pathlen = 0;
	spec.constraints = cc;
	if ((r = cert_build(&spec, &x)) != LY_OK ||
	    (r = ca_sign_cert(ca, root, x)) != LY_OK ||
	    (r = ca_record(ca, &rec, x, NULL, actor, "root-sign-issuer")) !=
	    LY_OK)
		goto out;
	*certp = x;
	x = NULL;
 out:
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	X509_free(x);
	return r;
}

/* ---- on the issuing instance, once the root has signed ------------------ */

/* cert chains to root (trusted, self-signed) and is a CA; now in range. */
static int
issuer_chain_check(X509 *cert, X509 *root)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = NULL;
	int r = LY_ERR_ALLOC, err;

	if (X509_check_issued(root, root) != X509_V_OK)
		return ly_fail(LY_ERR_BAD_INPUT, "the root certificate is not "
		    "self-issued");
	if (X509_check_ca(cert) < 1)
		return ly_fail(LY_ERR_BAD_INPUT, "the certificate is not a CA "
		    "certificate");
	if ((st = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_add_cert(st, root) != 1 ||
	    X509_STORE_CTX_init(ctx, st, cert, NULL) != 1)
		goto out;
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		r = ly_fail(LY_ERR_BAD_INPUT, "the certificate does not chain "
		    "to the root: %s", X509_verify_cert_error_string(err));
		goto out;
	}
	r = LY_OK;
 out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return r;
}

/* The issuing CA's certificate as the store keeps it: issued by the root. */
static int
issuer_store(struct ca *ca, X509 *cert, const char *actor, json_t *detail)
{
	struct store_txn *txn = NULL;
	struct store_cert rec, *old = NULL;
	unsigned char *der = NULL;
	char *d = NULL;
	int len, r;

	if ((r = cert_record(cert, CA_ROOT, ca->conf->issuing.name, &rec)) !=
	    LY_OK)
		return r;
	der = rec.der;
	len = (int)rec.derlen;
	rec.der = NULL;
	rec.derlen = 0;
	rec.status = STORE_RESERVED;
	if ((d = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		goto out;
	/* An import that failed after this point is retried: same record. */
	if ((r = store_cert_get(txn, &rec.serial, &old)) == LY_OK) {
		if (old->derlen != (size_t)len || memcmp(old->der, der,
		    (size_t)len) != 0) {
			r = ly_fail(LY_ERR_EXISTS, "another certificate with "
			    "this serial is in the store");
			goto out;
		}
	} else if (r != LY_ERR_NOT_FOUND)
		goto out;
	else if ((r = store_cert_reserve(txn, &rec)) != LY_OK)
		goto out;
	rec.status = STORE_VALID;
	rec.der = der;
	rec.derlen = (size_t)len;
	if ((old == NULL && (r = store_cert_put(txn, &rec)) != LY_OK) ||
	    (r = store_audit_append(txn, actor, "issuer-import", d)) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
 out:
	store_txn_abort(txn);
	store_cert_free(old);
	OPENSSL_free(der);
	json_decref(detail);
	free(d);
	return r;
}

/*
 * Installs the certificate on the token beside the key it certifies,
 * which must be the key there (the one the CSR was made with).
 */
static int
issuer_token_store(struct ca *ca, X509 *cert)
{
	const struct conf_ca *cc = &ca->conf->issuing;
	struct hsm_key *key = NULL;
	char *pin = NULL;
	int r;

	if ((r = hsm_init(ca->conf->hsm_module, ca->conf->softhsm2_conf)) !=
	    LY_OK)
		return r;
	ca->hsm_ready = 1;
	if ((r = ca_pin_load(cc, &pin)) != LY_OK ||
	    (r = hsm_key_open(cc->key_uri, pin, cc->rsa_padding, &key)) !=
	    LY_OK)
		goto out;
	if (EVP_PKEY_eq(hsm_key_get0_public(key), X509_get0_pubkey(cert)) !=
	    1) {
		ERR_clear_error();
		r = ly_fail(LY_ERR_BAD_INPUT, "the certificate is not for the "
		    "issuing CA key on this instance's token (%s)", cc->key_uri);
		goto out;
	}
	hsm_key_free(key);
	key = NULL;
	r = hsm_cert_store(cc->key_uri, pin, cert);
 out:
	hsm_key_free(key);
	hsm_pin_free(pin);
	return r;
}

int
ca_issuer_import(const char *dir, const char *cert_path,
    const char *root_path, const char *actor)
{
	struct ca *ca = NULL;
	X509 *cert = NULL, *root = NULL;
	char *chain = NULL, *sn = NULL;
	struct ca_serial serial;
	int r;

	if ((ca = ca_alloc()) == NULL)
		return LY_ERR_ALLOC;
	if ((r = conf_load(dir, NULL, &ca->conf)) != LY_OK)
		goto out;
	if (!ca_issuer_pending(ca->conf)) {
		r = ly_fail(LY_ERR_STATE, "this instance waits for no issuing CA "
		    "certificate (made by ca-admin init --issuer-only, not "
		    "imported yet)");
		goto out;
	}
	if ((r = cert_load_pem(cert_path, &cert)) != LY_OK ||
	    (r = cert_load_pem(root_path != NULL ? root_path :
	    ca->conf->root.cert_file, &root)) != LY_OK ||
	    (r = issuer_chain_check(cert, root)) != LY_OK ||
	    (r = ca_serial_from_asn1(X509_get0_serialNumber(cert),
	    &serial)) != LY_OK)
		goto out;
	if ((r = store_open(ca->conf->store_dir, ca->conf->store_map_size,
	    STORE_EXISTING, &ca->store)) != LY_OK ||
	    (r = issuer_token_store(ca, cert)) != LY_OK)
		goto out;
	if ((chain = inst_path(ca->conf, "certs/chain.pem")) == NULL ||
	    (sn = ca_serial_hex(&serial)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	/* The issuing certificate last: its file ends the pending state. */
	{
		X509 *both[2] = { cert, root };

		if ((r = cert_write_pem(ca->conf->root.cert_file, &root, 1)) !=
		    LY_OK || (r = cert_write_pem(chain, both, 2)) != LY_OK ||
		    (r = issuer_store(ca, cert, actor, json_pack("{s:s, s:s}",
		    "serial", sn, "cert", ca->conf->issuing.cert_file))) !=
		    LY_OK || (r = cert_write_pem(ca->conf->issuing.cert_file,
		    &cert, 1)) != LY_OK)
			goto out;
	}
 out:
	ca_close(ca);
	X509_free(cert);
	X509_free(root);
	free(chain);
	free(sn);
	return r;
}

/* ---- an issuer's rollover while the root is offline --------------------- */

/*
 * The rollover CSR of issuer waiting for the root's certificate: meta
 * "ca/pending/<issuer>", compact JSON {name, gen, key, subject, csr}; ""
 * once imported. A record whose CA is registered already (an import cut
 * short before it was cleared) counts as none.
 */
#define PENDING_FMT	"ca/pending/%s"

static int
pending_get(struct ca *ca, const char *issuer, json_t **op)
{
	struct store_txn *txn = NULL;
	const void *v;
	char key[CONF_NAME_MAX + 16];
	const char *name;
	size_t len;
	json_t *o = NULL;
	int r;

	*op = NULL;
	snprintf(key, sizeof(key), PENDING_FMT, issuer);
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_meta_get(txn, key, &v, &len);
	if (r == LY_OK && len > 0 && (o = json_loadb(v, len, 0, NULL)) == NULL)
		r = ly_fail(LY_ERR_STORE, "the store's %s is damaged", key);
	store_txn_abort(txn);
	if (r == LY_ERR_NOT_FOUND || (r == LY_OK && o == NULL))
		return LY_OK;
	if (r != LY_OK)
		return r;
	name = json_string_value(json_object_get(o, "name"));
	if (name == NULL || ca_slot_by_name(ca, name) >= 0) {
		json_decref(o);
		return LY_OK;
	}
	*op = o;
	return LY_OK;
}

struct pending_arg {
	const char	*key;
	const char	*val;
	const char	*actor;
	const char	*action;
	const char	*detail;
};

static int
pending_write(struct store_txn *txn, void *arg)
{
	struct pending_arg *a = arg;
	int r;

	if ((r = store_meta_put(txn, a->key, a->val, strlen(a->val))) !=
	    LY_OK)
		return r;
	return a->action == NULL ? LY_OK : store_audit_append(txn, a->actor,
	    a->action, a->detail);
}

int
ca_issuer_rollover_csr(struct ca *ca, const char *issuer, const char *out,
    const char *actor)
{
	struct issuer_plan p;
	struct pending_arg a;
	struct conf_ca cc;
	struct hsm_key *cur;
	json_t *o = NULL;
	char *d = NULL, mk[CONF_NAME_MAX + 16];
	int r, slot;

	if ((r = issuer_plan(ca, issuer, &p)) != LY_OK)
		return r;
	if (p.gen == 1) {
		r = ly_fail(LY_ERR_STATE, "the issuer %s has no CA to roll over",
		    issuer);
		goto out;
	}
	if ((r = pending_get(ca, issuer, &o)) != LY_OK)
		goto out;
	if (o != NULL) {
		r = ly_fail(LY_ERR_STATE, "a rollover CSR of %s (%s) waits for "
		    "the root's certificate: ca-admin issuer import --cert FILE",
		    issuer, json_string_value(json_object_get(o, "csr")));
		goto out;
	}
	/* The HSM, and the token's PIN checked, through the CA in force. */
	if ((slot = ca_issuer_slot(ca, issuer, ly_now())) < 0)
		slot = CA_ISSUING;
	if ((r = ca_key_get(ca, slot, &cur)) != LY_OK)
		goto out;
	issuer_plan_conf(&p, &cc);
	if ((r = key_csr(ca, &cc, out, "ca_issuer_rollover_csr")) != LY_OK)
		goto out;
	o = json_pack("{s:s, s:i, s:s, s:s, s:s}", "name", p.name, "gen",
	    (int)p.gen, "key", cc.key_uri, "subject", cc.subject, "csr", out);
	if (o == NULL || (d = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	snprintf(mk, sizeof(mk), PENDING_FMT, issuer);
	a.key = mk;
	a.val = d;
	a.actor = actor;
	a.action = "issuer-rollover-csr";
	a.detail = d;
	r = commit_write(ca, pending_write, &a);
 out:
	issuer_plan_clear(&p);
	json_decref(o);
	free(d);
	return r;
}

/* The waiting rollover whose key cert certifies: its issuer and record. */
static int
pending_for(struct ca *ca, X509 *cert, const struct conf_ca **secp,
    json_t **op)
{
	struct hsm_key *key = NULL;
	const char *uri;
	char *pin = NULL;
	json_t *o;
	size_t i;
	int r, eq;

	for (i = 0; i < ca->conf->nissuers; i++) {
		const struct conf_ca *sec = ca->conf->issuers[i];

		if ((r = pending_get(ca, sec->name, &o)) != LY_OK)
			return r;
		if (o == NULL)
			continue;
		uri = json_string_value(json_object_get(o, "key"));
		if (uri == NULL || (r = ca_pin_load(sec, &pin)) != LY_OK ||
		    (r = hsm_key_open(uri, pin, sec->rsa_padding, &key)) !=
		    LY_OK) {
			hsm_pin_free(pin);
			json_decref(o);
			return uri == NULL ? LY_ERR_STORE : r;
		}
		eq = EVP_PKEY_eq(hsm_key_get0_public(key),
		    X509_get0_pubkey(cert)) == 1;
		hsm_key_free(key);
		hsm_pin_free(pin);
		ERR_clear_error();
		if (eq) {
			*secp = sec;
			*op = o;
			return LY_OK;
		}
		json_decref(o);
	}
	return ly_fail(LY_ERR_STATE, "no rollover CSR of this instance waits "
	    "for a certificate of that key (ca-admin issuer rollover NAME "
	    "--csr FILE makes one)");
}

int
ca_issuer_rollover_import(struct ca *ca, const char *cert_path,
    time_t activates, const char *actor, int *slotp)
{
	const struct conf_ca *sec = NULL;
	struct ca_slot_new nw;
	struct store_cert rec;
	struct pending_arg a;
	struct hsm_key *cur;
	unsigned char *der = NULL;
	X509 *cert = NULL;
	json_t *o = NULL;
	char *pin = NULL, *d = NULL, mk[CONF_NAME_MAX + 16];
	time_t now = ly_now();
	int root, slot, r;

	if ((r = cert_load_pem(cert_path, &cert)) != LY_OK)
		return r;
	/* The HSM, through the first issuing CA. */
	if ((r = ca_key_get(ca, CA_ISSUING, &cur)) != LY_OK ||
	    (r = pending_for(ca, cert, &sec, &o)) != LY_OK)
		goto out;
	for (root = ca_nslots(ca) - 1; root >= 0; root--)
		if (ca_slot_is_root(ca, root) &&
		    issuer_chain_check(cert, ca_cert(ca, root)) == LY_OK)
			break;
	if (root < 0) {
		r = ly_fail(LY_ERR_BAD_INPUT, "the certificate does not chain "
		    "to a root of this instance at this time");
		goto out;
	}
	if ((r = ca_pin_load(sec, &pin)) != LY_OK ||
	    (r = hsm_cert_store(json_string_value(json_object_get(o, "key")),
	    pin, cert)) != LY_OK)
		goto out;
	if ((r = cert_record(cert, root, sec->name, &rec)) != LY_OK)
		goto out;
	der = rec.der;
	memset(&nw, 0, sizeof(nw));
	nw.issuer = sec->name;
	nw.key_uri = json_string_value(json_object_get(o, "key"));
	nw.cert = cert;
	nw.parent = root;
	nw.activates = activates > now ? activates : now;
	nw.rec = &rec;
	if ((d = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = ca_slot_register(ca, &nw, actor, "issuer-rollover-import", d,
	    &slot)) != LY_OK)
		goto out;
	/* Done; a crash before this leaves a record pending_get() skips. */
	snprintf(mk, sizeof(mk), PENDING_FMT, sec->name);
	a.key = mk;
	a.val = "";
	a.actor = actor;
	a.action = NULL;
	a.detail = NULL;
	(void)commit_write(ca, pending_write, &a);
	if (slotp != NULL)
		*slotp = slot;
 out:
	hsm_pin_free(pin);
	OPENSSL_free(der);
	X509_free(cert);
	json_decref(o);
	free(d);
	return r;
}
