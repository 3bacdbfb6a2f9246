/*
 * ca/ca.c — the engine's state changes: issue, reissue, revoke.
 *
 * The order of every issuance is the invariant of DESIGN.md section 3:
 *   1. the serial is reserved in a durable transaction,
 *   2. the HSM signs, the signature is verified with the CA's public key,
 *   3. the certificate and its audit entry are stored durably,
 *   4. only then is it handed to the caller.
 * A crash after 1 leaves a reserved serial that is never drawn again.
 * Steps 1 and 3 go through the group commit (commit.c): concurrent
 * issuances share one durable transaction, each in a nested one.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "ca/ops.h"
#include "util/util.h"

/* How often a colliding serial is redrawn before giving up. */
#define SERIAL_TRIES	8

static int	 reserve(struct ca *, struct store_cert *,
		    const unsigned char *tok);
static int	 record(struct ca *, struct store_cert *,
		    const unsigned char *der, size_t derlen,
		    struct store_cert *old, const unsigned char *tok,
		    const char *actor, const char *action);

/* An empty engine with its locks; ca_open() and ca_init() fill it in. */
struct ca *
ca_alloc(void)
{
	struct ca *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return NULL;
	pthread_mutex_init(&ca->lock, NULL);
	commit_init(&ca->commit);
	return ca;
}

int
ca_open(const char *dir, unsigned int flags, struct ca **cap)
{
	struct ca *ca;
	int i, r;

	if ((ca = ca_alloc()) == NULL)
		return LY_ERR_ALLOC;
	ca->flags = flags;
	if ((r = conf_load(dir, NULL, &ca->conf)) != LY_OK)
		goto out;
	if ((r = store_open(ca->conf->store_dir, ca->conf->store_map_size,
	    STORE_EXISTING | ((flags & CA_OPEN_READONLY) ? STORE_RDONLY : 0),
	    &ca->store)) != LY_OK)
		goto out;
	if ((r = cert_load_pem(ca->conf->root.cert_file,
	    &ca->certs[CA_ROOT])) != LY_OK ||
	    (r = cert_load_pem(ca->conf->issuing.cert_file,
	    &ca->certs[CA_ISSUING])) != LY_OK)
		goto out;
	for (i = 0; i < 2; i++) {
		int len = i2d_X509(ca->certs[i], &ca->der[i]);

		if (len <= 0) {
			r = LY_ERR_INTERNAL;
			goto out;
		}
		ca->derlen[i] = (size_t)len;
	}
	*cap = ca;
	ca = NULL;
	r = LY_OK;
 out:
	ca_close(ca);
	return r;
}

void
ca_close(struct ca *ca)
{
	int i;

	if (ca == NULL)
		return;
	for (i = 0; i < 2; i++) {
		hsm_key_free(ca->keys[i]);
		X509_free(ca->certs[i]);
		OPENSSL_free(ca->der[i]);
	}
	if (ca->hsm_ready)
		hsm_shutdown();
	store_close(ca->store);
	conf_free(ca->conf);
	commit_destroy(&ca->commit);
	pthread_mutex_destroy(&ca->lock);
	free(ca);
}

const struct conf *
ca_conf(const struct ca *ca)
{
	return ca->conf;
}

struct store *
ca_store(const struct ca *ca)
{
	return ca->store;
}

X509 *
ca_cert(const struct ca *ca, int slot)
{
	return ca->certs[slot];
}

static const struct conf_ca *
ca_slot_conf(const struct ca *ca, int slot)
{
	return slot == CA_ROOT ? &ca->conf->root : &ca->conf->issuing;
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
	pthread_mutex_lock(&ca->lock);
	if (ca->keys[slot] != NULL)
		goto out;
	if (!ca->hsm_ready) {
		if ((r = hsm_init(ca->conf->hsm_module,
		    ca->conf->softhsm2_conf)) != LY_OK)
			goto out;
		ca->hsm_ready = 1;
		hsm_restores_audit(ca);
	}
	if ((r = hsm_pin_load(cc->pin_file, cc->pin_env, &pin)) != LY_OK)
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

/*
 * Draws a fresh serial and records it durably as reserved. rec->serial is
 * set on success; the other fields of rec are written as given.
 */
int
ca_reserve(struct ca *ca, struct store_cert *rec)
{
	return reserve(ca, rec, NULL);
}

struct reserve_arg {
	const struct store_cert	*rec;
	const unsigned char	*tok;
	int			 collision;	/* the serial was taken */
};

/* commit_fn of reserve(): the serial and the token's claim, or neither. */
static int
reserve_write(struct store_txn *txn, void *arg)
{
	struct reserve_arg *a = arg;
	int r;

	/* Every door issues through here: a disabled identity stops here. */
	if ((r = ca_identity_enabled(txn, a->rec->identity)) != LY_OK)
		return r;
	if ((r = store_cert_reserve(txn, a->rec)) != LY_OK) {
		a->collision = r == LY_ERR_EXISTS;
		return r;
	}
	if (a->tok != NULL)
		return token_claim(txn, a->tok, &a->rec->serial);
	return LY_OK;
}

/*
 * tok, if not NULL, is the SHA-256 of a one-time token, claimed for the
 * serial in the same transaction: of concurrent uses one gets here, also
 * when several share a group commit (each claim sees the ones before it
 * in the batch, and the refused one's nested transaction is undone).
 */
static int
reserve(struct ca *ca, struct store_cert *rec, const unsigned char *tok)
{
	struct reserve_arg a;
	int i, r = LY_ERR_INTERNAL;

	rec->status = STORE_RESERVED;
	rec->created = ly_now();
	for (i = 0; i < SERIAL_TRIES; i++) {
		if ((r = ca_serial_new(&rec->serial)) != LY_OK)
			return r;
		memset(&a, 0, sizeof(a));
		a.rec = rec;
		a.tok = tok;
		if ((r = commit_write(ca, reserve_write, &a)) == LY_OK ||
		    !a.collision)
			return r;
		ly_log(LY_LOG_WARN, "serial collision, drawing again");
	}
	return ly_fail(LY_ERR_INTERNAL, "no free serial after %d draws",
	    SERIAL_TRIES);
}

/* Compact JSON describing a certificate record, for the audit log. */
char *
ca_audit_detail_cert(const struct store_cert *rec)
{
	json_t *o;
	char *hex, *s = NULL, na[21];

	if ((hex = ca_serial_hex(&rec->serial)) == NULL)
		return NULL;
	ly_time_fmt((time_t)rec->not_after, na);
	o = json_pack("{s:s, s:s, s:s?, s:s}", "serial", hex,
	    "profile", rec->profile, "identity", rec->identity,
	    "not_after", na);
	if (o != NULL && !ca_serial_is_zero(&rec->supersedes)) {
		char *old = ca_serial_hex(&rec->supersedes);

		if (old != NULL)
			json_object_set_new(o, "supersedes", json_string(old));
		free(old);
	}
	if (o != NULL)
		s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	free(hex);
	return s;
}

/* An RFC 3339 time under key, unless t is 0 (not set). */
void
ca_json_time(json_t *o, const char *key, int64_t t)
{
	char buf[21];

	if (t == 0)
		return;
	ly_time_fmt((time_t)t, buf);
	json_object_set_new(o, key, json_string(buf));
}

/* A serial in hex under key, unless it is zero (not set). */
void
ca_json_serial(json_t *o, const char *key, const struct ca_serial *s)
{
	char *hex;

	if (ca_serial_is_zero(s) || (hex = ca_serial_hex(s)) == NULL)
		return;
	json_object_set_new(o, key, json_string(hex));
	free(hex);
}

const char *
ca_cert_status(const struct store_cert *c)
{
	switch (c->status) {
	case STORE_RESERVED:
		return "reserved";
	case STORE_BURNED:
		return "burned";
	case STORE_REVOKED:
		return "revoked";
	default:
		return c->not_after <= ly_now() ? "expired" : "valid";
	}
}

json_t *
ca_cert_json(const struct store_cert *c, const char *pem_key)
{
	json_t *o;

	if ((o = json_pack("{s:s, s:s, s:s, s:s?}", "status",
	    ca_cert_status(c), "issuer", c->ca == CA_ROOT ? "root" : "issuing",
	    "profile", c->profile, "identity", c->identity)) == NULL)
		return NULL;
	ca_json_serial(o, "serial", &c->serial);
	ca_json_time(o, "not_before", c->not_before);
	ca_json_time(o, "not_after", c->not_after);
	if (c->status == STORE_REVOKED) {
		ca_json_time(o, "revoked_at", c->revoked_at);
		json_object_set_new(o, "reason",
		    json_string(ca_reason_name(c->reason)));
		ca_json_time(o, "invalidity_date", c->invalidity);
	}
	ca_json_serial(o, "supersedes", &c->supersedes);
	ca_json_serial(o, "superseded_by", &c->superseded_by);
	if (pem_key != NULL && c->der != NULL) {
		const unsigned char *p = c->der;
		X509 *x = d2i_X509(NULL, &p, (long)c->derlen);
		BIO *b = BIO_new(BIO_s_mem());
		char *data;
		long len;

		if (x != NULL && b != NULL && PEM_write_bio_X509(b, x) &&
		    (len = BIO_get_mem_data(b, &data)) > 0)
			json_object_set_new(o, pem_key,
			    json_stringn(data, (size_t)len));
		X509_free(x);
		BIO_free(b);
	}
	return o;
}

/*
 * Stores a signed certificate over its reservation, with the record it
 * supersedes (old, may be NULL) and the audit entry, in one durable
 * transaction. rec->der is set from x for the duration of the call.
 */
int
ca_record(struct ca *ca, struct store_cert *rec, X509 *x,
    struct store_cert *old, const char *actor, const char *action)
{
	unsigned char *der = NULL;
	int derlen, r;

	if ((derlen = i2d_X509(x, &der)) <= 0)
		return LY_ERR_INTERNAL;
	r = record(ca, rec, der, (size_t)derlen, old, NULL, actor, action);
	OPENSSL_free(der);
	return r;
}

struct record_arg {
	const struct store_cert	*rec;
	const struct store_cert	*old;
	const unsigned char	*tok;
	const unsigned char	*ocsp;
	size_t			 ocsplen;
	const char		*actor;
	const char		*action;
	const char		*detail;
};

/* commit_fn of record(): everything an issuance stores, or none of it. */
/*
 * Marks old as superseded by serial, from its record as it is now: the
 * copy the caller read before signing may be stale. A revocation or
 * another reissue that landed meanwhile wins, and this issuance is
 * refused (its serial stays reserved, its certificate is never returned),
 * so a reissue can neither undo a revocation nor give one certificate two
 * successors.
 */
static int
supersede(struct store_txn *txn, const struct store_cert *old,
    const struct ca_serial *serial)
{
	struct store_cert *cur = NULL;
	int r;

	if ((r = store_cert_get(txn, &old->serial, &cur)) != LY_OK)
		return r;
	if (cur->status != STORE_VALID)
		r = ly_fail(LY_ERR_STATE, "the certificate was revoked while "
		    "its successor was signed");
	else if (!ca_serial_is_zero(&cur->superseded_by))
		r = ly_fail(LY_ERR_STATE, "the certificate was already "
		    "superseded");
	else {
		cur->superseded_by = *serial;
		r = store_cert_put(txn, cur);
	}
	store_cert_free(cur);
	return r;
}

static int
record_write(struct store_txn *txn, void *arg)
{
	const struct record_arg *a = arg;
	int r;

	/* Disabled while the HSM signed: the certificate is never handed out. */
	if ((r = ca_identity_enabled(txn, a->rec->identity)) != LY_OK ||
	    (r = store_cert_put(txn, a->rec)) != LY_OK)
		return r;
	if (a->ocsp != NULL &&
	    (r = store_ocsp_put(txn, &a->rec->serial, a->ocsp,
	    a->ocsplen)) != LY_OK)
		return r;
	if (a->old != NULL && (r = supersede(txn, a->old, &a->rec->serial)) !=
	    LY_OK)
		return r;
	if ((r = store_audit_append(txn, a->actor, a->action,
	    a->detail)) != LY_OK)
		return r;
	if (a->tok != NULL)
		return token_use(txn, a->tok, &a->rec->serial, a->actor);
	return LY_OK;
}

/*
 * As ca_record(), for the certificate's DER (borrowed); tok, if not NULL,
 * is the claimed token it marks used.
 */
static int
record(struct ca *ca, struct store_cert *rec, const unsigned char *der,
    size_t derlen, struct store_cert *old, const unsigned char *tok,
    const char *actor, const char *action)
{
	struct record_arg a;
	unsigned char *ocsp = NULL;
	size_t ocsplen = 0;
	char *detail = NULL;
	int r;

	rec->status = STORE_VALID;
	/* The store only reads it; the record does not own it. */
	rec->der = (unsigned char *)der;
	rec->derlen = derlen;
	if ((detail = ca_audit_detail_cert(rec)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	/* Signed before the write transaction: the HSM is slow, the writer lock is shared. */
	if (ca->presign != NULL &&
	    (r = ca->presign(ca->presign_arg, rec, &ocsp, &ocsplen)) != LY_OK)
		goto out;
	if (old != NULL)
		old->superseded_by = rec->serial;
	memset(&a, 0, sizeof(a));
	a.rec = rec;
	a.old = old;
	a.tok = tok;
	a.ocsp = ocsp;
	a.ocsplen = ocsplen;
	a.actor = actor;
	a.action = action;
	a.detail = detail;
	r = commit_write(ca, record_write, &a);
 out:
	rec->der = NULL;
	rec->derlen = 0;
	free(ocsp);
	free(detail);
	return r;
}

/*
 * RFC 5280 4.2.1.10 for dNSName: "example.org" covers itself and every
 * name below it, ".example.org" only the names below it.
 */
static int
dns_within(const char *name, const char *base)
{
	size_t n = strlen(name), b = strlen(base);

	if (base[0] == '.')
		return n > b && strcasecmp(name + n - b, base) == 0;
	if (n == b)
		return strcasecmp(name, base) == 0;
	return n > b && name[n - b - 1] == '.' &&
	    strcasecmp(name + n - b, base) == 0;
}

static int
ip_within(const char *ip, const char *cidr)
{
	unsigned char a[16], net[16], mask[16];
	int len, i;

	if ((len = ca_identity_ip_parse(ip, a)) < 0 ||
	    cert_cidr_parse(cidr, net, mask) != len)
		return 0;
	for (i = 0; i < len; i++)
		if ((a[i] & mask[i]) != net[i])
			return 0;
	return 1;
}

/*
 * The issuing CA does not sign what its own name constraints forbid: the
 * relying party would refuse it, and a CA that signs it anyway is broken.
 */
static int
constraints_check(const struct conf_ca *c, const struct ca_identity *id)
{
	size_t i, j;
	int in;

	for (i = 0; i < id->ndns; i++) {
		for (j = 0; j < c->nexcluded_dns; j++)
			if (dns_within(id->dns[i], c->excluded_dns[j]))
				return ly_fail(LY_ERR_POLICY, "DNS name %s is "
				    "excluded by the issuing CA's name "
				    "constraints (%s)", id->dns[i],
				    c->excluded_dns[j]);
		for (in = c->npermitted_dns == 0, j = 0; !in &&
		    j < c->npermitted_dns; j++)
			in = dns_within(id->dns[i], c->permitted_dns[j]);
		if (!in)
			return ly_fail(LY_ERR_POLICY, "DNS name %s is outside "
			    "the issuing CA's name constraints", id->dns[i]);
	}
	for (i = 0; i < id->nip; i++) {
		for (in = c->npermitted_ip == 0, j = 0; !in &&
		    j < c->npermitted_ip; j++)
			in = ip_within(id->ip[i], c->permitted_ip[j]);
		if (!in)
			return ly_fail(LY_ERR_POLICY, "IP address %s is outside "
			    "the issuing CA's name constraints", id->ip[i]);
	}
	return LY_OK;
}

/* Checks the identity against the profile and brings JSON to canonical form. */
static int
identity_check(const struct conf *conf, const struct conf_profile *p,
    const struct ca_identity *in, struct ca_identity *out)
{
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if ((p->identities & (1u << in->kind)) == 0) {
		const char *k = in->kind == CONF_ID_JSON ? "a JSON identity" :
		    in->kind == CONF_ID_SPIFFE ? "a SPIFFE ID" :
		    "only DNS/IP names";
		return ly_fail(LY_ERR_POLICY, "profile %s does not take %s",
		    p->name, k);
	}
	if (in->ndns + in->nip > 0 && !p->allow_dns_ip)
		return ly_fail(LY_ERR_POLICY, "profile %s does not take DNS "
		    "or IP names", p->name);
	if (p->require_dns_or_ip && in->ndns + in->nip == 0)
		return ly_fail(LY_ERR_POLICY, "profile %s needs at least one "
		    "DNS name or IP address", p->name);
	out->kind = in->kind;
	switch (in->kind) {
	case CONF_ID_JSON:
		if (in->value == NULL)
			return ly_fail(LY_ERR_BAD_IDENTITY, "empty identity");
		if ((r = ca_identity_json_canon(conf, in->value,
		    strlen(in->value), p->role, &out->value)) != LY_OK)
			goto fail;
		break;
	case CONF_ID_SPIFFE:
		if (in->value == NULL)
			return ly_fail(LY_ERR_BAD_IDENTITY, "empty SPIFFE ID");
		if ((r = ca_identity_spiffe_check(conf, in->value)) != LY_OK)
			goto fail;
		if ((out->value = strdup(in->value)) == NULL) {
			r = LY_ERR_ALLOC;
			goto fail;
		}
		break;
	default:
		if (in->value != NULL)
			return ly_fail(LY_ERR_BAD_IDENTITY, "profile %s takes "
			    "no identity value", p->name);
		break;
	}
	for (i = 0; i < in->ndns; i++)
		if ((r = ca_identity_add_dns(out, in->dns[i])) != LY_OK)
			goto fail;
	for (i = 0; i < in->nip; i++)
		if ((r = ca_identity_add_ip(out, in->ip[i])) != LY_OK)
			goto fail;
	if ((r = constraints_check(&conf->issuing, out)) != LY_OK)
		goto fail;
	return LY_OK;
 fail:
	ca_identity_clear(out);
	return r;
}

int
ca_identity_check(const struct conf *conf, const struct conf_profile *p,
    const struct ca_identity *in, struct ca_identity *out)
{
	return identity_check(conf, p, in, out);
}

void
ca_issued_clear(struct ca_issued *is)
{
	if (is == NULL)
		return;
	OPENSSL_free(is->der);
	memset(is, 0, sizeof(*is));
}

/*
 * The common path of issue and reissue. old, if not NULL, is the record
 * being superseded: it is updated in the same transaction that stores the
 * new certificate. tok, if not NULL, is the hash of the one-time token
 * that authorises this issuance: claimed with the serial, used with the
 * certificate, released if anything in between fails. On success *out
 * holds the DER as stored; and *certp, when certp is not NULL, the
 * certificate decoded from that DER, before it is stored, as a client
 * would read it. Callers that only pass the certificate on ask for no
 * X509: decoding one costs more than the HSM's signature in OpenSSL 3.0
 * (its key goes through a provider decoder).
 */
static int
issue(struct ca *ca, const struct conf_profile *p, X509_REQ *req,
    EVP_PKEY *reqkey, const struct ca_identity *id, int days,
    const char *actor,
    const char *cn, struct store_cert *old, const unsigned char *tok,
    struct ca_issued *out, X509 **certp)
{
	struct store_cert rec;
	struct cert_spec spec;
	struct hsm_key *key;
	X509 *x = NULL, *y = NULL, *issuer = ca->certs[CA_ISSUING];
	X509_NAME *subject = NULL;
	unsigned char *der = NULL;
	time_t now = ly_now(), nb, na, inb = 0, ina = 0;
	int derlen, r = LY_ERR_INTERNAL, claimed = 0;

	if (days == 0)
		days = p->days;
	if (days < 0 || days > p->max_days)
		return ly_fail(LY_ERR_POLICY, "profile %s allows 1 to %d days, "
		    "not %d", p->name, p->max_days, days);
	/* Clamp inside the issuer's validity (RFC 5280 6.1.3 would reject). */
	if ((r = ly_asn1_time(X509_get0_notBefore(issuer), &inb)) != LY_OK ||
	    (r = ly_asn1_time(X509_get0_notAfter(issuer), &ina)) != LY_OK)
		return r;
	if (now >= ina)
		return ly_fail(LY_ERR_STATE, "the issuing CA certificate has "
		    "expired");
	nb = now - CA_BACKDATE < inb ? inb : now - CA_BACKDATE;
	na = now + (time_t)days * 86400 > ina ? ina : now + (time_t)days * 86400;

	/*
	 * Open the key before drawing a serial, so that a missing PIN or an
	 * absent token refuses the request without touching the store.
	 */
	if ((r = ca_key_get(ca, CA_ISSUING, &key)) != LY_OK)
		return r;
	memset(&rec, 0, sizeof(rec));
	rec.ca = CA_ISSUING;
	rec.reason = -1;
	snprintf(rec.profile, sizeof(rec.profile), "%s", p->name);
	rec.identity = (char *)ca_identity_key(id);
	rec.not_before = nb;
	rec.not_after = na;
	if (old != NULL)
		rec.supersedes = old->serial;
	if ((r = reserve(ca, &rec, tok)) != LY_OK)
		return r;
	claimed = tok != NULL;

	if ((subject = cert_leaf_subject(ca->conf, id, cn)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memset(&spec, 0, sizeof(spec));
	spec.conf = ca->conf;
	spec.profile = p;
	spec.issuer = issuer;
	spec.issuer_name = ca->conf->issuing.name;
	spec.pubkey = reqkey;
	spec.spki = X509_REQ_get_X509_PUBKEY(req);
	spec.subject = subject;
	spec.serial = &rec.serial;
	spec.not_before = nb;
	spec.not_after = na;
	spec.pathlen = -1;
	spec.id = id;
	if ((r = cert_build(&spec, &x)) != LY_OK)
		goto out;
	if ((r = ca_sign_cert(ca, CA_ISSUING, x)) != LY_OK)
		goto out;
	if ((derlen = i2d_X509(x, &der)) <= 0) {
		ly_log_crypto("issue");
		r = ly_fail(LY_ERR_INTERNAL, "the certificate does not encode");
		goto out;
	}
	if (certp != NULL &&
	    (r = cert_decode(der, (size_t)derlen, &y)) != LY_OK)
		goto out;
	if ((r = record(ca, &rec, der, (size_t)derlen, old, tok, actor,
	    old != NULL ? "reissue" : "issue")) != LY_OK)
		goto out;
	claimed = 0;
	memset(out, 0, sizeof(*out));
	out->der = der;
	der = NULL;
	out->derlen = (size_t)derlen;
	out->serial = rec.serial;
	out->not_after = na;
	if (certp != NULL) {
		*certp = y;
		y = NULL;
	}
	r = LY_OK;
 out:
	/*
	 * A crash between the claim and here leaves the token CLAIMED and
	 * the serial reserved: ca_reconcile() at ca-server's next start
	 * burns the serial and gives the token back.
	 */
	if (claimed) {
		/* The release is a store write of its own: keep why we failed. */
		char why[512];

		snprintf(why, sizeof(why), "%s", ly_errdetail());
		token_release(ca, tok, &rec.serial);
		if (why[0] != '\0')
			(void)ly_fail(r, "%s", why);
	}
	X509_NAME_free(subject);
	X509_free(x);
	X509_free(y);
	OPENSSL_free(der);
	return r;
}

int
ca_issue(struct ca *ca, const struct ca_request *rq, X509 **certp,
    struct ca_serial *serialp)
{
	const struct conf_profile *p;
	struct ca_identity id;
	struct ca_issued is;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	int r;

	memset(&id, 0, sizeof(id));
	memset(&is, 0, sizeof(is));
	if (rq->profile == NULL ||
	    (p = conf_profile_get(ca->conf, rq->profile)) == NULL) {
		char names[256];

		conf_profile_names(ca->conf, names, sizeof(names));
		return ly_fail(LY_ERR_BAD_PROFILE, "unknown profile \"%.64s\" "
		    "(profiles: %s)", rq->profile != NULL ? rq->profile : "",
		    names);
	}
	if ((r = ca_csr_parse(rq->csr, rq->csrlen, &req, &key)) != LY_OK ||
	    (r = ca_csr_check(p, req, key)) != LY_OK ||
	    (r = identity_check(ca->conf, p, &rq->identity, &id)) != LY_OK)
		goto out;
	if ((r = issue(ca, p, req, key, &id, rq->days, rq->actor, rq->cn,
	    NULL, NULL, &is, certp)) == LY_OK)
		*serialp = is.serial;
 out:
	ca_issued_clear(&is);
	ca_identity_clear(&id);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return r;
}

/*
 * A reissue of old, which is superseded already: its holder asking again
 * because the answer was lost. The successor is the answer if it is valid,
 * not expired, not superseded itself and for the key of this CSR (whose
 * self-signature proves possession of that key); nothing is written, as
 * nothing changes. Anything else is refused as before. *out and certp as
 * for issue(): the successor's DER as stored.
 */
static int
reissue_replay(struct ca *ca, const struct store_cert *old,
    const unsigned char *csr, size_t csrlen, struct ca_issued *out,
    X509 **certp)
{
	const struct conf_profile *p;
	struct store_txn *txn = NULL;
	struct store_cert *next = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	unsigned char *der = NULL;
	int r;

	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_cert_get(txn, &old->superseded_by, &next);
	store_txn_abort(txn);
	if (r != LY_OK && r != LY_ERR_NOT_FOUND)
		return r;
	if (r == LY_ERR_NOT_FOUND || next->status != STORE_VALID ||
	    next->der == NULL || next->not_after <= ly_now() ||
	    !ca_serial_is_zero(&next->superseded_by) ||
	    (p = conf_profile_get(ca->conf, next->profile)) == NULL)
		goto refuse;
	if ((r = ca_csr_parse(csr, csrlen, &req, &key)) != LY_OK ||
	    (r = ca_csr_check(p, req, key)) != LY_OK)
		goto out;
	/* Rare (a lost answer): the successor is decoded to compare keys. */
	if ((r = cert_decode(next->der, next->derlen, &x)) != LY_OK) {
		r = ly_fail(LY_ERR_STORE, "stored certificate does not parse");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1)
		goto refuse;
	if ((der = OPENSSL_memdup(next->der, next->derlen)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->der = der;
	out->derlen = next->derlen;
	out->serial = next->serial;
	out->not_after = (time_t)next->not_after;
	if (certp != NULL) {
		*certp = x;
		x = NULL;
	}
	r = LY_OK;
	goto out;
 refuse:
	r = ly_fail(LY_ERR_STATE, "the certificate was already superseded");
 out:
	X509_free(x);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	store_cert_free(next);
	return r;
}

/* LY_OK unless the identity is disabled (ca/disable.c). */
static int
identity_enabled(struct ca *ca, const char *identity)
{
	struct store_txn *txn = NULL;
	int r;

	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = ca_identity_enabled(txn, identity);
	store_txn_abort(txn);
	return r;
}

/* ca_reissue() and ca_reissue_der(): certp as for issue(). */
static int
reissue(struct ca *ca, const struct ca_serial *serial,
    const unsigned char *csr, size_t csrlen, const char *actor,
    struct ca_issued *out, X509 **certp)
{
	const struct conf_profile *p;
	struct store_txn *txn = NULL;
	struct store_cert *old = NULL;
	struct ca_identity id;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	X509 *oldx = NULL;
	const unsigned char *der;
	int r;

	memset(&id, 0, sizeof(id));
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_cert_get(txn, serial, &old);
	store_txn_abort(txn);
	if (r == LY_ERR_NOT_FOUND)
		return ly_fail(r, "no certificate with that serial");
	if (r != LY_OK)
		return r;
	if (old->status == STORE_REVOKED) {
		r = ly_fail(LY_ERR_STATE, "the certificate is revoked");
		goto out;
	}
	if (old->status != STORE_VALID || old->ca != CA_ISSUING) {
		r = ly_fail(LY_ERR_STATE, "not a certificate of the issuing CA");
		goto out;
	}
	if (old->not_after <= ly_now()) {
		r = ly_fail(LY_ERR_STATE, "the certificate has expired");
		goto out;
	}
	/* Before the replay too: a disabled identity gets nothing back. */
	if ((r = identity_enabled(ca, old->identity)) != LY_OK)
		goto out;
	if (!ca_serial_is_zero(&old->superseded_by)) {
		r = reissue_replay(ca, old, csr, csrlen, out, certp);
		goto out;
	}
	if ((p = conf_profile_get(ca->conf, old->profile)) == NULL) {
		r = ly_fail(LY_ERR_BAD_PROFILE, "profile \"%s\" of the "
		    "certificate is no longer configured", old->profile);
		goto out;
	}
	der = old->der;
	if ((oldx = d2i_X509(NULL, &der, (long)old->derlen)) == NULL) {
		r = ly_fail(LY_ERR_STORE, "stored certificate does not parse");
		goto out;
	}
	if ((r = cert_identity_from(ca->conf, oldx, &id)) != LY_OK)
		goto out;
	if ((r = ca_csr_parse(csr, csrlen, &req, &key)) != LY_OK ||
	    (r = ca_csr_check(p, req, key)) != LY_OK)
		goto out;
	r = issue(ca, p, req, key, &id, 0, actor, NULL, old, NULL, out,
	    certp);
 out:
	ca_identity_clear(&id);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	X509_free(oldx);
	store_cert_free(old);
	return r;
}

int
ca_reissue(struct ca *ca, const struct ca_serial *serial,
    const unsigned char *csr, size_t csrlen, const char *actor,
    X509 **certp, struct ca_serial *serialp)
{
	struct ca_issued is;
	int r;

	memset(&is, 0, sizeof(is));
	if ((r = reissue(ca, serial, csr, csrlen, actor, &is, certp)) ==
	    LY_OK)
		*serialp = is.serial;
	ca_issued_clear(&is);
	return r;
}

int
ca_reissue_der(struct ca *ca, const struct ca_serial *serial,
    const unsigned char *csr, size_t csrlen, const char *actor,
    struct ca_issued *out)
{
	return reissue(ca, serial, csr, csrlen, actor, out, NULL);
}

int
ca_issue_tok(struct ca *ca, const char *profile, const struct ca_identity *in,
    const unsigned char *tok, const unsigned char *csr, size_t csrlen,
    const char *actor, struct ca_issued *out, X509 **certp)
{
	const struct conf_profile *p;
	struct ca_identity id;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	int r;

	memset(&id, 0, sizeof(id));
	if ((p = conf_profile_get(ca->conf, profile)) == NULL)
		return ly_fail(LY_ERR_BAD_PROFILE, "profile \"%s\" of the "
		    "token is no longer configured", profile);
	if ((r = ca_csr_parse(csr, csrlen, &req, &key)) != LY_OK ||
	    (r = ca_csr_check(p, req, key)) != LY_OK ||
	    (r = identity_check(ca->conf, p, in, &id)) != LY_OK)
		goto out;
	r = issue(ca, p, req, key, &id, 0, actor, NULL, NULL, tok, out,
	    certp);
 out:
	ca_identity_clear(&id);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return r;
}

static const char *reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise",
};

int
ca_reason_parse(const char *s)
{
	int i;

	for (i = 0; i < (int)(sizeof(reasons) / sizeof(reasons[0])); i++)
		if (reasons[i] != NULL && strcasecmp(s, reasons[i]) == 0)
			return i;
	return -2;
}

const char *
ca_reason_name(int reason)
{
	if (reason < 0 || reason >= (int)(sizeof(reasons) / sizeof(reasons[0]))
	    || reasons[reason] == NULL)
		return "none";
	return reasons[reason];
}

#define META_REVOCATIONS	"revocations"

int
ca_revocations(struct store_txn *txn, uint64_t *np)
{
	const void *vp;
	size_t len;
	int r;

	if ((r = store_meta_get(txn, META_REVOCATIONS, &vp, &len)) ==
	    LY_ERR_NOT_FOUND) {
		*np = 0;
		return LY_OK;
	}
	if (r != LY_OK)
		return r;
	if (len != 8)
		return ly_fail(LY_ERR_STORE, "meta %s: corrupt", META_REVOCATIONS);
	*np = ly_be64_get(vp);
	return LY_OK;
}

/* The counter ca-server watches to regenerate CRLs after a revocation. */
static int
revocations_bump(struct store_txn *txn)
{
	unsigned char buf[8];
	uint64_t n;
	int r;

	if ((r = ca_revocations(txn, &n)) != LY_OK)
		return r;
	ly_be64_put(buf, n + 1);
	return store_meta_put(txn, META_REVOCATIONS, buf, sizeof(buf));
}

struct revoke_arg {
	const struct store_cert	*rec;
	const unsigned char	*ocsp;		/* NULL: delete the stale one */
	size_t			 ocsplen;
	const char		*actor;
	const char		*detail;
};

/* commit_fn of ca_revoke(): the check and the revocation, at once. */
static int
revoke_write(struct store_txn *txn, void *arg)
{
	const struct revoke_arg *a = arg;
	const struct ca_serial *serial = &a->rec->serial;
	struct store_cert *now = NULL;
	int r, st;

	/* Another writer may have revoked it since ca_revoke() read it. */
	if ((r = store_cert_get(txn, serial, &now)) != LY_OK)
		return r;
	st = now->status;
	store_cert_free(now);
	if (st != STORE_VALID)
		return ly_fail(LY_ERR_STATE, "already revoked");
	if ((r = store_cert_put(txn, a->rec)) != LY_OK ||
	    (r = revocations_bump(txn)) != LY_OK ||
	    (r = a->ocsp != NULL ? store_ocsp_put(txn, serial, a->ocsp,
	    a->ocsplen) : store_ocsp_del(txn, serial)) != LY_OK)
		return r;
	return store_audit_append(txn, a->actor, "revoke", a->detail);
}

int
ca_revoke(struct ca *ca, const struct ca_serial *serial, int reason,
    time_t invalidity, const char *actor)
{
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	struct revoke_arg a;
	unsigned char *ocsp = NULL;
	size_t ocsplen = 0;
	json_t *o = NULL;
	char *hex = NULL, *detail = NULL;
	int r, pr;

	/* removeFromCRL only appears in delta CRLs; 7 is unassigned. */
	if (reason < -1 || reason > 10 || reason == 7 || reason == 8)
		return ly_fail(LY_ERR_ARG, "reason code %d cannot be used "
		    "to revoke", reason);
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_cert_get(txn, serial, &rec);
	store_txn_abort(txn);
	txn = NULL;
	if (r != LY_OK) {
		if (r == LY_ERR_NOT_FOUND)
			ly_fail(r, "no certificate with that serial");
		goto out;
	}
	if (rec->status == STORE_REVOKED) {
		r = ly_fail(LY_ERR_STATE, "already revoked");
		goto out;
	}
	if (rec->status != STORE_VALID) {
		r = ly_fail(LY_ERR_STATE, "serial was %s but no certificate "
		    "was issued", ca_cert_status(rec));
		goto out;
	}
	rec->status = STORE_REVOKED;
	rec->reason = (int8_t)reason;
	rec->revoked_at = ly_now();
	rec->invalidity = invalidity;
	/*
	 * The revoked response is signed first; if the HSM cannot sign it
	 * now, the stale "good" response is removed in the same transaction
	 * so that nothing ever serves it again (OCSP then signs on demand).
	 */
	if (ca->presign != NULL &&
	    (pr = ca->presign(ca->presign_arg, rec, &ocsp, &ocsplen)) != LY_OK)
		ly_log(LY_LOG_WARN, "revoke: no pre-signed OCSP response (%s: "
		    "%s); the responder will sign on demand", ly_strerror(pr),
		    ly_errdetail());
	if ((hex = ca_serial_hex(serial)) == NULL ||
	    (o = json_pack("{s:s, s:s}", "serial", hex, "reason",
	    ca_reason_name(reason))) == NULL ||
	    (detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.rec = rec;
	a.ocsp = ocsp;
	a.ocsplen = ocsplen;
	a.actor = actor;
	a.detail = detail;
	r = commit_write(ca, revoke_write, &a);
 out:
	store_cert_free(rec);
	json_decref(o);
	free(ocsp);
	free(hex);
	free(detail);
	return r;
}

int
ca_slot_by_name(const struct ca *ca, const char *name)
{
	if (strcmp(name, ca->conf->root.name) == 0)
		return CA_ROOT;
	if (strcmp(name, ca->conf->issuing.name) == 0)
		return CA_ISSUING;
	return -1;
}

const char *
ca_slot_name(const struct ca *ca, int slot)
{
	return ca_slot_conf(ca, slot)->name;
}

int
ca_cert_der(const struct ca *ca, int slot, const unsigned char **derp,
    size_t *lenp)
{
	if (slot != CA_ROOT && slot != CA_ISSUING)
		return ly_fail(LY_ERR_NOT_FOUND, "no such CA");
	*derp = ca->der[slot];
	*lenp = ca->derlen[slot];
	return LY_OK;
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
ca_hsm_check(struct ca *ca)
{
	struct hsm_key *key;
	int r;

	if ((r = ca_key_get(ca, CA_ISSUING, &key)) != LY_OK)
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

void
ca_set_presign(struct ca *ca, ca_presign_fn fn, void *arg)
{
	ca->presign = fn;
	ca->presign_arg = arg;
}

/* One OCSP response, or (ca_ocsp_store_if()) several, each if still current. */
struct ocsp_arg {
	const struct ca_ocsp_item *items;
	size_t			 n;
	int			 check;		/* status must be unchanged */
	size_t			 stored;
};

/* commit_fn of the OCSP stores. */
static int
ocsp_write(struct store_txn *txn, void *arg)
{
	struct ocsp_arg *a = arg;
	const struct ca_ocsp_item *it;
	struct store_cert *rec;
	size_t i;
	int r;

	for (i = 0; i < a->n; i++) {
		it = &a->items[i];
		if (a->check) {
			rec = NULL;
			r = store_cert_get(txn, &it->serial, &rec);
			if (r == LY_ERR_NOT_FOUND || (r == LY_OK &&
			    rec->status != it->status)) {
				store_cert_free(rec);
				continue;
			}
			store_cert_free(rec);
			if (r != LY_OK)
				return r;
		}
		if ((r = store_ocsp_put(txn, &it->serial, it->der,
		    it->len)) != LY_OK)
			return r;
		a->stored++;
	}
	return LY_OK;
}

int
ca_ocsp_store(struct ca *ca, const struct ca_serial *serial,
    const unsigned char *der, size_t len)
{
	struct ca_ocsp_item it;
	struct ocsp_arg a;

	memset(&it, 0, sizeof(it));
	it.serial = *serial;
	it.der = der;
	it.len = len;
	memset(&a, 0, sizeof(a));
	a.items = &it;
	a.n = 1;
	return commit_write(ca, ocsp_write, &a);
}

int
ca_ocsp_store_if(struct ca *ca, const struct ca_ocsp_item *items, size_t n,
    size_t *storedp)
{
	struct ocsp_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	a.items = items;
	a.n = n;
	a.check = 1;
	/* The check and the write in one transaction: see ca.h. */
	if ((r = commit_write(ca, ocsp_write, &a)) == LY_OK && storedp != NULL)
		*storedp = a.stored;
	return r;
}

int
ca_ocsp_signer_set(struct ca *ca, const void *prev, size_t prevlen,
    const void *rec, size_t len, const char *actor, const char *detail)
{
	struct store_txn *txn = NULL;
	const void *cur;
	size_t curlen;
	int r;

	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		return r;
	/* The check and the write in one write transaction: LMDB has one writer. */
	r = store_meta_get(txn, CA_META_OCSP_SIGNER, &cur, &curlen);
	if (r != LY_OK && r != LY_ERR_NOT_FOUND)
		goto out;
	if ((r == LY_ERR_NOT_FOUND) != (prev == NULL) || (prev != NULL &&
	    (curlen != prevlen || memcmp(cur, prev, prevlen) != 0))) {
		r = ly_fail(LY_ERR_EXISTS, "the OCSP signer was changed by "
		    "another process");
		goto out;
	}
	if ((r = store_meta_put(txn, CA_META_OCSP_SIGNER, rec, len)) != LY_OK ||
	    (r = store_audit_append(txn, actor, "ocsp-signer", detail)) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
 out:
	store_txn_abort(txn);
	return r;
}

int
ca_crl_number_next(struct ca *ca, int slot, uint64_t *np)
{
	struct store_txn *txn = NULL;
	const void *v;
	unsigned char buf[8];
	char key[64];
	uint64_t n = 0;
	size_t len;
	int r;

	snprintf(key, sizeof(key), "crl_number/%s", ca_slot_name(ca, slot));
	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		return r;
	r = store_meta_get(txn, key, &v, &len);
	if (r == LY_OK && len == sizeof(buf)) {
		n = ly_be64_get(v);
	} else if (r == LY_OK) {
		r = ly_fail(LY_ERR_STORE, "%s: corrupt", key);
		goto out;
	} else if (r != LY_ERR_NOT_FOUND)
		goto out;
	n++;
	ly_be64_put(buf, n);
	if ((r = store_meta_put(txn, key, buf, sizeof(buf))) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
	if (r == LY_OK)
		*np = n;
 out:
	store_txn_abort(txn);
	return r;
}

/*
 * The CRL number of a stored CRL from its DER: only for a CRL recorded
 * before its number was kept beside it (key + "/number").
 */
static int
crl_der_number(const void *der, size_t len, uint64_t *np)
{
	const unsigned char *p = der;
	X509_CRL *crl = NULL;
	ASN1_INTEGER *n = NULL;
	uint64_t v;
	int r = LY_ERR_STORE;

	if (len > LONG_MAX || (crl = d2i_X509_CRL(NULL, &p, (long)len)) ==
	    NULL || (n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL,
	    NULL)) == NULL || ASN1_INTEGER_get_uint64(&v, n) != 1) {
		ly_log_crypto("crl_der_number");
		r = ly_fail(LY_ERR_STORE, "the stored CRL has no readable "
		    "CRL number");
		goto out;
	}
	*np = v;
	r = LY_OK;
 out:
	ASN1_INTEGER_free(n);
	X509_CRL_free(crl);
	return r;
}

/*
 * The number of the CRL stored under key (nkey is key + "/number"), 0 if
 * there is none. Read inside the caller's write transaction.
 */
static int
crl_stored_number(struct store_txn *txn, const char *key, const char *nkey,
    uint64_t *np)
{
	const void *v;
	uint64_t n = 0;
	size_t len, i;
	int r;

	if ((r = store_meta_get(txn, nkey, &v, &len)) == LY_OK) {
		if (len != 8)
			return ly_fail(LY_ERR_STORE, "%s: corrupt", nkey);
		for (i = 0; i < len; i++)
			n = n << 8 | ((const unsigned char *)v)[i];
		*np = n;
		return LY_OK;
	}
	if (r != LY_ERR_NOT_FOUND)
		return r;
	if ((r = store_meta_get(txn, key, &v, &len)) == LY_ERR_NOT_FOUND) {
		*np = 0;
		return LY_OK;
	}
	if (r != LY_OK)
		return r;
	return crl_der_number(v, len, np);
}

int
ca_crl_record(struct ca *ca, const char *key, uint64_t number,
    const unsigned char *der, size_t len, const void *info, size_t infolen,
    const char *actor, const char *detail, int *storedp)
{
	struct store_txn *txn = NULL;
	unsigned char nb[8];
	char ikey[128], nkey[128];
	uint64_t cur = 0;
	size_t i;
	int r;

	if ((size_t)snprintf(ikey, sizeof(ikey), "%s/info", key) >=
	    sizeof(ikey) || (size_t)snprintf(nkey, sizeof(nkey), "%s/number",
	    key) >= sizeof(nkey))
		return ly_fail(LY_ERR_ARG, "CRL key too long");
	if (number == 0)
		return ly_fail(LY_ERR_ARG, "CRL number 0");
	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		return r;
	/*
	 * The comparison and the write in one write transaction (LMDB has
	 * one writer at a time, across processes): of two generations that
	 * overlap, the one with the lower number, recorded last, changes
	 * nothing, and what is served never goes back (RFC 5280 5.2.3).
	 */
	if ((r = crl_stored_number(txn, key, nkey, &cur)) != LY_OK)
		goto out;
	if (number <= cur) {
		ly_log(LY_LOG_DEBUG, "%s: CRL number %llu not recorded, %llu "
		    "is newer", key, (unsigned long long)number,
		    (unsigned long long)cur);
		store_txn_abort(txn);
		txn = NULL;
		if (storedp != NULL)
			*storedp = 0;
		r = LY_OK;
		goto out;
	}
	for (i = 0; i < sizeof(nb); i++)
		nb[i] = (unsigned char)(number >> (56 - 8 * i));
	if ((r = store_meta_put(txn, key, der, len)) != LY_OK ||
	    (r = store_meta_put(txn, ikey, info, infolen)) != LY_OK ||
	    (r = store_meta_put(txn, nkey, nb, sizeof(nb))) != LY_OK ||
	    (r = store_audit_append(txn, actor, "crl-publish",
	    detail)) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
	if (r == LY_OK && storedp != NULL)
		*storedp = 1;
 out:
	store_txn_abort(txn);
	return r;
}

unsigned int
ca_crl_shard(const struct conf *conf, const struct ca_serial *serial)
{
	/* The low octet of 128 random bits spreads serials evenly. */
	return conf->crl_shards <= 1 ? 0 :
	    serial->b[CA_SERIAL_LEN - 1] % conf->crl_shards;
}
