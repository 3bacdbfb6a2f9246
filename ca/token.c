/*
 * ca/token.c — one-time enrollment tokens.
 *
 * A token is 32 bytes from RAND_priv_bytes in base64url without padding.
 * The store keeps only SHA-256 of the token text as the key of a small
 * JSON record (version, profile, canonical identity, times, state, the
 * serial it was claimed or used for): a copy of the store does not give
 * anyone a usable token. The public handle of a token is the hex of the
 * first 8 bytes of that hash.
 *
 * States: UNUSED → CLAIMED (in the transaction that reserves the serial)
 * → USED (in the one that stores the certificate); CLAIMED → UNUSED when
 * signing fails, or at ca-server's start after a crash in between
 * (ca_reconcile(): the serial is burned and kept in the record's
 * "burned" list); UNUSED → REVOKED by an admin. Expiry is not a state:
 * an UNUSED token past its expiry is refused and listed as expired.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ca/extern.h"
#include "ca/ops.h"
#include "util/util.h"

#define TOKEN_REC_VERSION	1
#define TOKEN_RAND_LEN		32
#define TOKEN_REC_MAX		8192
/* Serials burned under one token that its record remembers (the latest). */
#define TOKEN_BURNED_MAX	8

struct token_rec {
	char		 profile[CONF_NAME_MAX];
	int		 kind;		/* enum conf_identity_kind */
	char		*identity;
	int64_t		 created;
	int64_t		 expires;
	int		 state;
	struct ca_serial serial;
	int64_t		 used_at;
	struct ca_serial burned[TOKEN_BURNED_MAX];	/* oldest first */
	size_t		 nburned;
};

static const char *state_names[] = {
	NULL, "unused", "claimed", "used", "revoked", "expired",
};

const char *
ca_token_state_name(int s)
{
	if (s < CA_TOKEN_UNUSED || s > CA_TOKEN_EXPIRED)
		return "unknown";
	return state_names[s];
}

static void
token_rec_clear(struct token_rec *t)
{
	free(t->identity);
	memset(t, 0, sizeof(*t));
}

/* Our own bytes from the store, but checked: a corrupt record is refused. */
static int
token_rec_parse(const void *buf, size_t len, struct token_rec *t)
{
	json_t *o, *burned = NULL, *e;
	json_int_t v, kind, state;
	json_int_t created, expires, used_at = 0;
	const char *profile, *identity, *serial = NULL;
	size_t i;
	int r = LY_ERR_STORE;

	memset(t, 0, sizeof(*t));
	if (len > TOKEN_REC_MAX ||
	    (o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return ly_fail(LY_ERR_STORE, "token record does not parse");
	if (json_unpack(o, "{s:I, s:s, s:I, s:s, s:I, s:I, s:I, s?s, s?I, "
	    "s?o}", "v", &v, "profile", &profile, "kind", &kind, "identity",
	    &identity, "created", &created, "expires", &expires, "state",
	    &state, "serial", &serial, "used_at", &used_at, "burned",
	    &burned) != 0 ||
	    v != TOKEN_REC_VERSION || state < CA_TOKEN_UNUSED ||
	    state > CA_TOKEN_REVOKED || strlen(profile) >= CONF_NAME_MAX ||
	    (burned != NULL && (!json_is_array(burned) ||
	    json_array_size(burned) > TOKEN_BURNED_MAX))) {
		ly_fail(LY_ERR_STORE, "token record is corrupt");
		goto out;
	}
	if (serial != NULL && ca_serial_parse(serial, &t->serial) != LY_OK) {
		ly_fail(LY_ERR_STORE, "token record: bad serial");
		goto out;
	}
	json_array_foreach(burned, i, e) {
		if (!json_is_string(e) || ca_serial_parse(json_string_value(e),
		    &t->burned[i]) != LY_OK) {
			ly_fail(LY_ERR_STORE, "token record: bad burned serial");
			goto out;
		}
		t->nburned = i + 1;
	}
	if ((t->identity = strdup(identity)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	snprintf(t->profile, sizeof(t->profile), "%s", profile);
	t->kind = (int)kind;
	t->created = created;
	t->expires = expires;
	t->state = (int)state;
	t->used_at = used_at;
	r = LY_OK;
 out:
	json_decref(o);
	return r;
}

/* The serials as an array of hex strings under "burned" in o. */
static int
burned_json(json_t *o, const struct ca_serial *b, size_t n)
{
	json_t *a;
	char *hex;
	size_t i;

	if ((a = json_array()) == NULL)
		return LY_ERR_ALLOC;
	for (i = 0; i < n; i++) {
		if ((hex = ca_serial_hex(&b[i])) == NULL ||
		    json_array_append_new(a, json_string(hex)) != 0) {
			free(hex);
			json_decref(a);
			return LY_ERR_ALLOC;
		}
		free(hex);
	}
	return json_object_set_new(o, "burned", a) == 0 ? LY_OK :
	    LY_ERR_ALLOC;
}

static int
token_rec_encode(const struct token_rec *t, char **outp)
{
	json_t *o;
	char *hex = NULL;
	int r = LY_ERR_ALLOC;

	o = json_pack("{s:i, s:s, s:i, s:s, s:I, s:I, s:i}",
	    "v", TOKEN_REC_VERSION, "profile", t->profile, "kind", t->kind,
	    "identity", t->identity, "created", (json_int_t)t->created,
	    "expires", (json_int_t)t->expires, "state", t->state);
	if (o == NULL)
		return r;
	if (!ca_serial_is_zero(&t->serial)) {
		if ((hex = ca_serial_hex(&t->serial)) == NULL ||
		    json_object_set_new(o, "serial", json_string(hex)) != 0)
			goto out;
	}
	if (t->used_at != 0 && json_object_set_new(o, "used_at",
	    json_integer(t->used_at)) != 0)
		goto out;
	if (t->nburned > 0 && (r = burned_json(o, t->burned, t->nburned)) !=
	    LY_OK)
		goto out;
	r = LY_ERR_ALLOC;
	if ((*outp = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	r = LY_OK;
 out:
	free(hex);
	json_decref(o);
	return r;
}

static int
token_put(struct store_txn *txn, const unsigned char hash[32],
    const struct token_rec *t)
{
	char *s = NULL;
	int r;

	if ((r = token_rec_encode(t, &s)) != LY_OK)
		return r;
	r = store_token_put(txn, hash, s, strlen(s));
	free(s);
	return r;
}

static int
token_get(struct store_txn *txn, const unsigned char hash[32],
    struct token_rec *t)
{
	const void *v;
	size_t len;
	int r;

	if ((r = store_token_get(txn, hash, &v, &len)) != LY_OK) {
		if (r == LY_ERR_NOT_FOUND)
			return ly_fail(r, "unknown token");
		return r;
	}
	return token_rec_parse(v, len, t);
}

/*
 * SHA-256 of the token text. A text that cannot be a token (wrong length
 * or alphabet) is LY_ERR_NOT_FOUND like an unknown one.
 */
static int
token_hash(const char *token, unsigned char hash[32])
{
	size_t i, n;

	if (token == NULL || (n = strlen(token)) != CA_TOKEN_LEN)
		return ly_fail(LY_ERR_NOT_FOUND, "unknown token");
	for (i = 0; i < n; i++) {
		char c = token[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return ly_fail(LY_ERR_NOT_FOUND, "unknown token");
	}
	if (EVP_Digest(token, n, hash, NULL, EVP_sha256(), NULL) != 1)
		return LY_ERR_INTERNAL;
	return LY_OK;
}

static char *
token_id(const unsigned char hash[32])
{
	return ly_hex_encode(hash, CA_TOKEN_ID_LEN / 2);
}

static int
token_state_now(const struct token_rec *t)
{
	if (t->state == CA_TOKEN_UNUSED && ly_now() >= t->expires)
		return CA_TOKEN_EXPIRED;
	return t->state;
}

int
ca_token_rec_times(const void *rec, size_t len, int *statep,
    time_t *expiresp, time_t *used_atp)
{
	struct token_rec t;
	int r;

	if ((r = token_rec_parse(rec, len, &t)) != LY_OK)
		return r;
	*statep = token_state_now(&t);
	*expiresp = (time_t)t.expires;
	*used_atp = (time_t)t.used_at;
	token_rec_clear(&t);
	return LY_OK;
}

static int
token_refuse(int state)
{
	switch (state) {
	case CA_TOKEN_EXPIRED:
		return ly_fail(LY_ERR_TOKEN, "the token has expired");
	case CA_TOKEN_REVOKED:
		return ly_fail(LY_ERR_TOKEN, "the token was revoked");
	default:
		return ly_fail(LY_ERR_TOKEN, "the token was used already");
	}
}

/* Audit detail of a token: its id, profile and identity, never the token. */
static int
token_audit(struct store_txn *txn, const unsigned char hash[32],
    const struct token_rec *t, const char *actor, const char *action)
{
	json_t *o = NULL;
	char *id = NULL, *hex = NULL, *detail = NULL;
	int r = LY_ERR_ALLOC;

	if ((id = token_id(hash)) == NULL ||
	    (o = json_pack("{s:s, s:s, s:s}", "token_id", id, "profile",
	    t->profile, "identity", t->identity)) == NULL)
		goto out;
	if (!ca_serial_is_zero(&t->serial) &&
	    ((hex = ca_serial_hex(&t->serial)) == NULL ||
	    json_object_set_new(o, "serial", json_string(hex)) != 0))
		goto out;
	if ((detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	r = store_audit_append(txn, actor, action, detail);
 out:
	json_decref(o);
	free(id);
	free(hex);
	free(detail);
	return r;
}

static int
token_identity(const char *s, struct ca_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->kind = strncmp(s, "spiffe://", 9) == 0 ? CONF_ID_SPIFFE :
	    CONF_ID_JSON;
	if ((id->value = strdup(s)) == NULL)
		return LY_ERR_ALLOC;
	return LY_OK;
}

struct create_arg {
	const unsigned char	*hash;
	const struct token_rec	*t;
	const char		*actor;
};

/* commit_fn of ca_token_create(): the record and its audit entry. */
static int
create_write(struct store_txn *txn, void *arg)
{
	const struct create_arg *a = arg;
	int r;

	if ((r = token_put(txn, a->hash, a->t)) != LY_OK)
		return r;
	return token_audit(txn, a->hash, a->t, a->actor, "token-create");
}

int
ca_token_create(struct ca *ca, const char *profile, const char *identity,
    long ttl, const char *actor, char **tokenp, char **idp)
{
	const struct conf_profile *p;
	struct ca_identity in, id;
	struct create_arg cw;
	struct token_rec t;
	unsigned char rnd[TOKEN_RAND_LEN], hash[32];
	unsigned char b64[((TOKEN_RAND_LEN + 2) / 3) * 4 + 1];
	char *tok = NULL, *tid = NULL;
	size_t i;
	int r;

	memset(&in, 0, sizeof(in));
	memset(&id, 0, sizeof(id));
	memset(&t, 0, sizeof(t));
	if (profile == NULL ||
	    (p = conf_profile_get(ca->conf, profile)) == NULL) {
		char names[256];

		conf_profile_names(ca->conf, names, sizeof(names));
		return ly_fail(LY_ERR_BAD_PROFILE, "unknown profile \"%.64s\" "
		    "(profiles: %s)", profile != NULL ? profile : "", names);
	}
	if (ttl <= 0 || ttl > CA_TOKEN_TTL_MAX)
		return ly_fail(LY_ERR_ARG, "token lifetime must be 1 to %d "
		    "seconds", CA_TOKEN_TTL_MAX);
	if (identity == NULL)
		return ly_fail(LY_ERR_BAD_IDENTITY, "a token needs an identity");
	if ((r = token_identity(identity, &in)) != LY_OK ||
	    (r = ca_identity_check(ca->conf, p, &in, &id)) != LY_OK)
		goto out;
	if (id.value == NULL) {
		r = ly_fail(LY_ERR_BAD_IDENTITY, "a token needs an identity");
		goto out;
	}
	if (RAND_priv_bytes(rnd, sizeof(rnd)) != 1) {
		ly_log_crypto("ca_token_create");
		r = LY_ERR_INTERNAL;
		goto out;
	}
	/* base64url (RFC 4648 5) without padding from OpenSSL's base64. */
	EVP_EncodeBlock(b64, rnd, sizeof(rnd));
	for (i = 0; b64[i] != '\0'; i++) {
		if (b64[i] == '+')
			b64[i] = '-';
		else if (b64[i] == '/')
			b64[i] = '_';
		else if (b64[i] == '=')
			b64[i] = '\0';
	}
	if ((tok = strndup((char *)b64, CA_TOKEN_LEN)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = token_hash(tok, hash)) != LY_OK)
		goto out;
	if ((tid = token_id(hash)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	snprintf(t.profile, sizeof(t.profile), "%s", p->name);
	t.kind = id.kind;
	t.identity = id.value;
	t.created = ly_now();
	t.expires = t.created + ttl;
	t.state = CA_TOKEN_UNUSED;
	cw.hash = hash;
	cw.t = &t;
	cw.actor = actor;
	if ((r = commit_write(ca, create_write, &cw)) != LY_OK)
		goto out;
	*tokenp = tok;
	*idp = tid;
	tok = tid = NULL;
 out:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(b64, sizeof(b64));
	if (tok != NULL) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
	}
	free(tid);
	ca_identity_clear(&in);
	ca_identity_clear(&id);
	return r;
}

struct list_arg {
	int	(*cb)(const struct ca_token_info *, void *);
	void	*arg;
};

static int
list_one(const unsigned char *hash, const void *v, size_t len, void *arg)
{
	struct list_arg *la = arg;
	struct ca_token_info info;
	struct token_rec t;
	char *id;
	int r;

	if ((r = token_rec_parse(v, len, &t)) != LY_OK)
		return r;
	memset(&info, 0, sizeof(info));
	if ((id = token_id(hash)) == NULL) {
		token_rec_clear(&t);
		return LY_ERR_ALLOC;
	}
	snprintf(info.id, sizeof(info.id), "%s", id);
	free(id);
	info.profile = t.profile;
	info.identity = t.identity;
	info.state = token_state_now(&t);
	info.created = t.created;
	info.expires = t.expires;
	info.serial = t.serial;
	info.used_at = t.used_at;
	info.burned = t.burned;
	info.nburned = t.nburned;
	r = la->cb(&info, la->arg);
	token_rec_clear(&t);
	return r;
}

int
ca_token_list(struct ca *ca, int (*cb)(const struct ca_token_info *, void *),
    void *arg)
{
	struct store_txn *txn = NULL;
	struct list_arg la = { cb, arg };
	int r;

	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_token_foreach(txn, list_one, &la);
	store_txn_abort(txn);
	return r;
}

struct find_arg {
	unsigned char	 prefix[CA_TOKEN_ID_LEN / 2];
	unsigned char	 hash[32];
	int		 found;
};

static int
find_one(const unsigned char *hash, const void *v, size_t len, void *arg)
{
	struct find_arg *fa = arg;

	(void)v;
	(void)len;
	/* Bytes derived from a secret: compared in constant time. */
	if (CRYPTO_memcmp(hash, fa->prefix, sizeof(fa->prefix)) == 0) {
		memcpy(fa->hash, hash, sizeof(fa->hash));
		fa->found++;
	}
	return 0;
}

int
ca_token_revoke(struct ca *ca, const char *id_hex, const char *actor)
{
	struct store_txn *txn = NULL;
	struct find_arg fa;
	struct token_rec t;
	int r;

	memset(&fa, 0, sizeof(fa));
	memset(&t, 0, sizeof(t));
	if (id_hex == NULL || strlen(id_hex) != CA_TOKEN_ID_LEN ||
	    ly_hex_decode(id_hex, fa.prefix, sizeof(fa.prefix)) !=
	    (int)sizeof(fa.prefix))
		return ly_fail(LY_ERR_NOT_FOUND, "no token with id \"%s\"",
		    id_hex != NULL ? id_hex : "");
	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK)
		return r;
	if ((r = store_token_foreach(txn, find_one, &fa)) != LY_OK)
		goto out;
	if (fa.found != 1) {
		r = ly_fail(fa.found == 0 ? LY_ERR_NOT_FOUND : LY_ERR_EXISTS,
		    fa.found == 0 ? "no token with id %s" :
		    "token id %s is ambiguous", id_hex);
		goto out;
	}
	if ((r = token_get(txn, fa.hash, &t)) != LY_OK)
		goto out;
	/*
	 * A CLAIMED token may be revoked too (one left by a crash): an
	 * issuance in flight then fails to mark it used and stores nothing.
	 */
	if (t.state != CA_TOKEN_UNUSED && t.state != CA_TOKEN_CLAIMED) {
		r = ly_fail(LY_ERR_STATE, "the token is %s",
		    ca_token_state_name(t.state));
		goto out;
	}
	t.state = CA_TOKEN_REVOKED;
	if ((r = token_put(txn, fa.hash, &t)) != LY_OK ||
	    (r = token_audit(txn, fa.hash, &t, actor, "token-revoke")) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
 out:
	store_txn_abort(txn);
	token_rec_clear(&t);
	OPENSSL_cleanse(&fa, sizeof(fa));
	return r;
}

int
ca_token_status(struct ca *ca, const char *token, int *statep)
{
	struct store_txn *txn = NULL;
	struct token_rec t;
	unsigned char hash[32];
	int r;

	if ((r = token_hash(token, hash)) != LY_OK)
		return r;
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = token_get(txn, hash, &t);
	store_txn_abort(txn);
	if (r == LY_OK) {
		*statep = token_state_now(&t);
		token_rec_clear(&t);
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	return r;
}

int
token_claim(struct store_txn *txn, const unsigned char hash[32],
    const struct ca_serial *serial)
{
	struct token_rec t;
	int r, s;

	if ((r = token_get(txn, hash, &t)) != LY_OK)
		return r;
	if ((s = token_state_now(&t)) != CA_TOKEN_UNUSED) {
		r = token_refuse(s);
		goto out;
	}
	t.state = CA_TOKEN_CLAIMED;
	t.serial = *serial;
	r = token_put(txn, hash, &t);
 out:
	token_rec_clear(&t);
	return r;
}

int
token_use(struct store_txn *txn, const unsigned char hash[32],
    const struct ca_serial *serial, const char *actor)
{
	struct token_rec t;
	int r;

	if ((r = token_get(txn, hash, &t)) != LY_OK)
		return r;
	if (t.state != CA_TOKEN_CLAIMED ||
	    memcmp(t.serial.b, serial->b, CA_SERIAL_LEN) != 0) {
		r = ly_fail(LY_ERR_STATE, "the token is not claimed for this "
		    "serial");
		goto out;
	}
	t.state = CA_TOKEN_USED;
	t.used_at = ly_now();
	if ((r = token_put(txn, hash, &t)) != LY_OK)
		goto out;
	r = token_audit(txn, hash, &t, actor, "token-use");
 out:
	token_rec_clear(&t);
	return r;
}

struct release_arg {
	const unsigned char	*hash;
	const struct ca_serial	*serial;
};

/* commit_fn of token_release(). */
static int
release_write(struct store_txn *txn, void *arg)
{
	const struct release_arg *a = arg;
	struct token_rec t;
	int r;

	if ((r = token_get(txn, a->hash, &t)) != LY_OK)
		return r;
	/* Only our own claim: an admin may have revoked it meanwhile. */
	if (t.state == CA_TOKEN_CLAIMED &&
	    memcmp(t.serial.b, a->serial->b, CA_SERIAL_LEN) == 0) {
		t.state = CA_TOKEN_UNUSED;
		memset(&t.serial, 0, sizeof(t.serial));
		r = token_put(txn, a->hash, &t);
	}
	token_rec_clear(&t);
	return r;
}

void
token_release(struct ca *ca, const unsigned char hash[32],
    const struct ca_serial *serial)
{
	struct release_arg a = { hash, serial };
	int r;

	if ((r = commit_write(ca, release_write, &a)) != LY_OK)
		ly_log(LY_LOG_ERR, "token release failed (%s): the token "
		    "stays claimed", ly_strerror(r));
}

/* ca_issue_token() and ca_issue_token_der(): certp as for issue(). */
static int
issue_token(struct ca *ca, const char *token, const unsigned char *csr,
    size_t csrlen, const char *actor, struct ca_issued *out, X509 **certp)
{
	struct store_txn *txn = NULL;
	struct ca_identity in;
	struct token_rec t;
	unsigned char hash[32];
	int r, s;

	memset(&in, 0, sizeof(in));
	memset(&t, 0, sizeof(t));
	/* An unknown token is a refused one; only the store's own errors differ. */
	if ((r = token_hash(token, hash)) != LY_OK)
		return r == LY_ERR_NOT_FOUND ? LY_ERR_TOKEN : r;
	/* Early refusal without signing; the claim below decides races. */
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		goto out;
	r = token_get(txn, hash, &t);
	store_txn_abort(txn);
	if (r == LY_ERR_NOT_FOUND)
		r = LY_ERR_TOKEN;
	if (r != LY_OK)
		goto out;
	if ((s = token_state_now(&t)) != CA_TOKEN_UNUSED) {
		r = token_refuse(s);
		goto out;
	}
	in.kind = t.kind;
	in.value = t.identity;
	r = ca_issue_tok(ca, t.profile, &in, hash, csr, csrlen, actor, out,
	    certp);
 out:
	token_rec_clear(&t);
	OPENSSL_cleanse(hash, sizeof(hash));
	return r;
}

int
ca_issue_token(struct ca *ca, const char *token, const unsigned char *csr,
    size_t csrlen, const char *actor, X509 **certp,
    struct ca_serial *serialp)
{
	struct ca_issued is;
	int r;

	memset(&is, 0, sizeof(is));
	if ((r = issue_token(ca, token, csr, csrlen, actor, &is, certp)) ==
	    LY_OK)
		*serialp = is.serial;
	ca_issued_clear(&is);
	return r;
}

int
ca_issue_token_der(struct ca *ca, const char *token,
    const unsigned char *csr, size_t csrlen, const char *actor,
    struct ca_issued *out)
{
	return issue_token(ca, token, csr, csrlen, actor, out, NULL);
}

json_t *
ca_token_json(const struct ca_token_info *t)
{
	json_t *o;

	if ((o = json_pack("{s:s, s:s, s:s, s:s}", "id", t->id, "state",
	    ca_token_state_name(t->state), "profile", t->profile,
	    "identity", t->identity)) == NULL)
		return NULL;
	ca_json_time(o, "created", t->created);
	ca_json_time(o, "expires", t->expires);
	ca_json_time(o, "used_at", t->used_at);
	ca_json_serial(o, "serial", &t->serial);
	if (t->nburned > 0 && burned_json(o, t->burned, t->nburned) != LY_OK) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- after a crash: ca_reconcile() --------------------------------------- */

struct rc_claim {
	unsigned char	 hash[32];
	struct ca_serial serial;
};

/* What the scans found: reservations, and tokens in the claimed state. */
struct rc_scan {
	struct ca_serial *res;
	size_t		  nres, capres;
	struct rc_claim	 *cl;
	size_t		  ncl, capcl;
};

static int
rc_grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *np;
	size_t c;

	if (n < *cap)
		return LY_OK;
	c = *cap ? *cap * 2 : 16;
	if ((np = reallocarray(*p, c, size)) == NULL)
		return LY_ERR_ALLOC;
	*p = np;
	*cap = c;
	return LY_OK;
}

static int
rc_res_cb(const struct store_cert *c, void *arg)
{
	struct rc_scan *sc = arg;
	int r;

	if (c->status != STORE_RESERVED)
		return 0;
	if ((r = rc_grow((void **)&sc->res, &sc->capres, sc->nres,
	    sizeof(*sc->res))) != LY_OK)
		return r;
	sc->res[sc->nres++] = c->serial;
	return 0;
}

static int
rc_claim_cb(const unsigned char *hash, const void *rec, size_t len,
    void *arg)
{
	struct rc_scan *sc = arg;
	struct token_rec t;
	int r;

	if ((r = token_rec_parse(rec, len, &t)) != LY_OK)
		return r;
	if (t.state == CA_TOKEN_CLAIMED && (r = rc_grow((void **)&sc->cl,
	    &sc->capcl, sc->ncl, sizeof(*sc->cl))) == LY_OK) {
		memcpy(sc->cl[sc->ncl].hash, hash, 32);
		sc->cl[sc->ncl++].serial = t.serial;
	}
	token_rec_clear(&t);
	return r;
}

static const struct rc_claim *
rc_claim_of(const struct rc_scan *sc, const struct ca_serial *serial)
{
	size_t i;

	for (i = 0; i < sc->ncl; i++)
		if (memcmp(sc->cl[i].serial.b, serial->b, CA_SERIAL_LEN) == 0)
			return &sc->cl[i];
	return NULL;
}

/* The token that claimed serial back to unused, the serial in its history. */
static int
rc_reclaim(struct store_txn *txn, const struct rc_claim *cl,
    const char *actor)
{
	struct token_rec t;
	int r;

	if ((r = token_get(txn, cl->hash, &t)) != LY_OK)
		return r;
	if (t.state != CA_TOKEN_CLAIMED || memcmp(t.serial.b, cl->serial.b,
	    CA_SERIAL_LEN) != 0) {
		r = ly_fail(LY_ERR_STATE, "token changed during reconcile");
		goto out;
	}
	/* Audited with the serial it loses, then the claim is undone. */
	if ((r = token_audit(txn, cl->hash, &t, actor, "token-reclaim")) !=
	    LY_OK)
		goto out;
	if (t.nburned == TOKEN_BURNED_MAX) {
		memmove(t.burned, t.burned + 1, (TOKEN_BURNED_MAX - 1) *
		    sizeof(t.burned[0]));
		t.nburned--;
	}
	t.burned[t.nburned++] = t.serial;
	memset(&t.serial, 0, sizeof(t.serial));
	t.state = CA_TOKEN_UNUSED;
	r = token_put(txn, cl->hash, &t);
 out:
	token_rec_clear(&t);
	return r;
}

/* Burns serial if it is still a reservation that cannot be in flight. */
static int
rc_burn(struct store_txn *txn, const struct rc_scan *sc,
    const struct ca_serial *serial, const char *actor,
    struct ca_reconcile_stats *st)
{
	const struct rc_claim *cl = rc_claim_of(sc, serial);
	struct store_cert *c = NULL;
	json_t *o = NULL;
	char *hex = NULL, *detail = NULL, *id = NULL, at[21];
	int r;

	if ((r = store_cert_get(txn, serial, &c)) != LY_OK)
		return r;
	if (c->status != STORE_RESERVED)
		goto out;
	if (cl == NULL && c->created > ly_now() - CA_RESERVATION_STALE) {
		st->left++;
		goto out;
	}
	c->status = STORE_BURNED;
	ly_time_fmt((time_t)c->created, at);
	r = LY_ERR_ALLOC;
	if ((hex = ca_serial_hex(serial)) == NULL || (o = json_pack(
	    "{s:s, s:s, s:s, s:s?}", "serial", hex, "profile", c->profile,
	    "reserved_at", at, "identity", c->identity)) == NULL ||
	    (cl != NULL && ((id = token_id(cl->hash)) == NULL ||
	    json_object_set_new(o, "token_id", json_string(id)) != 0)) ||
	    (detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	if ((r = store_cert_put(txn, c)) != LY_OK ||
	    (r = store_audit_append(txn, actor, "serial-burn", detail)) !=
	    LY_OK)
		goto out;
	st->burned++;
	if (cl != NULL) {
		if ((r = rc_reclaim(txn, cl, actor)) != LY_OK)
			goto out;
		st->tokens++;
	}
	ly_log(LY_LOG_WARN, "serial %s was reserved at %s and no certificate "
	    "was stored: burned%s", hex, at, cl != NULL ?
	    "; its token can be used again" : "");
	r = LY_OK;
 out:
	store_cert_free(c);
	json_decref(o);
	free(hex);
	free(id);
	free(detail);
	return r;
}

int
ca_reconcile(struct ca *ca, const char *actor, struct ca_reconcile_stats *stp)
{
	struct ca_reconcile_stats st;
	struct store_txn *txn = NULL;
	struct rc_scan sc;
	size_t i;
	int r;

	memset(&st, 0, sizeof(st));
	memset(&sc, 0, sizeof(sc));
	/*
	 * XXX one pass over every record, at start only: there is no index
	 * of reservations. The pass reads; the writes re-check each record.
	 */
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_cert_foreach(txn, rc_res_cb, &sc);
	store_txn_abort(txn);
	txn = NULL;
	if (r != LY_OK || sc.nres == 0)
		goto out;
	if ((r = store_txn_begin(ca->store, 1, &txn)) != LY_OK ||
	    (r = store_token_foreach(txn, rc_claim_cb, &sc)) != LY_OK)
		goto out;
	for (i = 0; i < sc.nres; i++)
		if ((r = rc_burn(txn, &sc, &sc.res[i], actor, &st)) != LY_OK)
			goto out;
	if (st.burned > 0) {
		r = store_txn_commit(txn);
		txn = NULL;
		if (r != LY_OK)
			goto out;
	}
	r = LY_OK;
 out:
	store_txn_abort(txn);
	free(sc.res);
	free(sc.cl);
	if (r == LY_OK && stp != NULL)
		*stp = st;
	return r;
}
