/*
 * ca/slots.c — the CAs of an instance as slots (ca/ca.h): their names,
 * generations, states, which one issues for a ca.conf section now, and
 * the registry in the store that makes them outlive a restart.
 *
 * Slots 0 and 1 are implied by [root] and [issuing] (every instance has
 * had them since its init, and their certificates are the files those
 * sections name); every later one is registered in the store's meta:
 *
 *	ca/slots		the registry's version, uint64 big-endian,
 *				bumped by every change (ca_slots_refresh()
 *				compares it)
 *	ca/slot/NN		JSON: name, issuer (section), gen, parent,
 *				key (URI), activates, retired (0: not);
 *				for 0 and 1 only once retired
 *	ca/slotcert/NN		the slot's certificate, DER
 *	ca/cross/NN		a cross-certificate, DER
 *
 * NN is the slot number in two decimal digits.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "ca/extern.h"
#include "util/util.h"

#define META_VERSION	"ca/slots"
/* How often a process looks for slots others registered, in seconds. */
#define REFRESH_EVERY	1

const char *
ca_slot_state_name(int st)
{
	switch (st) {
	case CA_SLOT_ACTIVE:
		return "active";
	case CA_SLOT_NEXT:
		return "next";
	case CA_SLOT_RETIRING:
		return "retiring";
	case CA_SLOT_RETIRED:
		return "retired";
	}
	return "unknown";
}

int
ca_nslots(const struct ca *ca)
{
	return atomic_load_explicit(&ca->nslots, memory_order_acquire);
}

static int
valid(const struct ca *ca, int slot)
{
	return slot >= 0 && slot < ca_nslots(ca);
}

const struct conf_ca *
ca_slot_conf(const struct ca *ca, int slot)
{
	return &ca->slots[slot].cc;
}

int
ca_slot_by_name(const struct ca *ca, const char *name)
{
	int slot, n = ca_nslots(ca);

	for (slot = 0; slot < n; slot++)
		if (strcmp(name, ca->slots[slot].name) == 0)
			return slot;
	return -1;
}

const char *
ca_slot_name(const struct ca *ca, int slot)
{
	return ca->slots[slot].name;
}

const char *
ca_slot_issuer(const struct ca *ca, int slot)
{
	return ca->slots[slot].issuer;
}

unsigned int
ca_slot_gen(const struct ca *ca, int slot)
{
	return ca->slots[slot].gen;
}

int
ca_slot_is_root(const struct ca *ca, int slot)
{
	return strcmp(ca->slots[slot].issuer, ca->conf->root.name) == 0;
}

int
ca_slot_parent(const struct ca *ca, int slot)
{
	return ca->slots[slot].parent;
}

time_t
ca_slot_activates(const struct ca *ca, int slot)
{
	return (time_t)ca->slots[slot].activates;
}

/*
 * The slot of section issuer in force at now: the newest generation
 * activated by then and not retired; -1 if none.
 */
static int
in_force(const struct ca *ca, const char *issuer, time_t now)
{
	int slot, best = -1, n = ca_nslots(ca);

	for (slot = 0; slot < n; slot++) {
		const struct ca_slot *s = &ca->slots[slot];

		if (strcmp(s->issuer, issuer) != 0 || s->activates > now ||
		    atomic_load(&s->retired))
			continue;
		if (best < 0 || s->gen > ca->slots[best].gen)
			best = slot;
	}
	return best;
}

int
ca_slot_state(const struct ca *ca, int slot, time_t now)
{
	const struct ca_slot *s = &ca->slots[slot];

	if (atomic_load(&s->retired))
		return CA_SLOT_RETIRED;
	if (s->activates > now)
		return CA_SLOT_NEXT;
	return in_force(ca, s->issuer, now) == slot ? CA_SLOT_ACTIVE :
	    CA_SLOT_RETIRING;
}

int
ca_issuer_slot(const struct ca *ca, const char *issuer, time_t now)
{
	if (strcmp(issuer, ca->conf->root.name) == 0)
		return -1;
	return in_force(ca, issuer, now);
}

int
ca_root_slot(const struct ca *ca, time_t now)
{
	int slot = in_force(ca, ca->conf->root.name, now);

	return slot >= 0 ? slot : CA_ROOT;
}

int
ca_cert_der(const struct ca *ca, int slot, const unsigned char **derp,
    size_t *lenp)
{
	if (!valid(ca, slot) || ca->der[slot] == NULL)
		return ly_fail(LY_ERR_NOT_FOUND, "no such CA");
	*derp = ca->der[slot];
	*lenp = ca->derlen[slot];
	return LY_OK;
}

int
slot_set_cert(struct ca *ca, int slot, X509 *x)
{
	unsigned char *der = NULL;
	int len;

	if ((len = i2d_X509(x, &der)) <= 0) {
		X509_free(x);
		return ly_fail(LY_ERR_INTERNAL, "cannot encode the %s CA "
		    "certificate", ca->slots[slot].name);
	}
	X509_free(ca->certs[slot]);
	OPENSSL_free(ca->der[slot]);
	ca->certs[slot] = x;
	ca->der[slot] = der;
	ca->derlen[slot] = (size_t)len;
	return LY_OK;
}

/* Slot s's settings: its section's with its own name, key and file. */
static int
slot_conf_set(struct ca *ca, struct ca_slot *s, const struct conf_ca *sec,
    const char *key_uri)
{
	char file[CONF_NAME_MAX + 16];

	s->cc = *sec;
	s->cc.name = NULL;
	s->cc.key_uri = NULL;
	s->cc.cert_file = NULL;
	s->own = 1;
	snprintf(file, sizeof(file), "certs/%s.crt", s->name);
	if ((s->cc.name = strdup(s->name)) == NULL ||
	    (s->cc.key_uri = strdup(key_uri)) == NULL ||
	    (s->cc.cert_file = ly_path_join(ca->conf->dir, file)) == NULL)
		return LY_ERR_ALLOC;
	return LY_OK;
}

int
slots_implied(struct ca *ca)
{
	struct ca_slot *s;
	int i;

	for (i = 0; i < 2; i++) {
		const struct conf_ca *cc = i == CA_ROOT ? &ca->conf->root :
		    &ca->conf->issuing;

		s = &ca->slots[i];
		snprintf(s->name, sizeof(s->name), "%s", cc->name);
		snprintf(s->issuer, sizeof(s->issuer), "%s", cc->name);
		s->gen = 1;
		s->parent = CA_ROOT;
		s->activates = 0;
		s->cc = *cc;
		s->own = 0;
	}
	atomic_store_explicit(&ca->nslots, 2, memory_order_release);
	return LY_OK;
}

void
slots_free(struct ca *ca)
{
	int i;

	for (i = 0; i < CA_MAX_SLOTS; i++) {
		if (ca->slots[i].own) {
			free(ca->slots[i].cc.name);
			free(ca->slots[i].cc.key_uri);
			free(ca->slots[i].cc.cert_file);
		}
		X509_free(ca->cross[i]);
	}
}

static void
slot_meta_key(char *buf, size_t len, const char *what, int n)
{
	snprintf(buf, len, "ca/%s/%02d", what, n);
}

static int
der_get(struct store_txn *txn, const char *what, int n, X509 **xp)
{
	const unsigned char *p;
	const void *v;
	char key[32];
	size_t len;
	X509 *x;
	int r;

	slot_meta_key(key, sizeof(key), what, n);
	if ((r = store_meta_get(txn, key, &v, &len)) != LY_OK)
		return r;
	p = v;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != (const unsigned char *)v + len) {
		X509_free(x);
		return ly_fail(LY_ERR_STORE, "the store's %s is not a "
		    "certificate", key);
	}
	*xp = x;
	return LY_OK;
}

/* The registry record of slot n, parsed; LY_ERR_NOT_FOUND if none. */
static int
rec_get(struct store_txn *txn, int n, json_t **op)
{
	const void *v;
	char key[32];
	size_t len;
	json_t *o;
	int r;

	slot_meta_key(key, sizeof(key), "slot", n);
	if ((r = store_meta_get(txn, key, &v, &len)) != LY_OK)
		return r;
	if ((o = json_loadb(v, len, 0, NULL)) == NULL || !json_is_object(o)) {
		json_decref(o);
		return ly_fail(LY_ERR_STORE, "the store's %s is damaged", key);
	}
	*op = o;
	return LY_OK;
}

/* Fills in slot n (not yet counted) from its record o. */
static int
slot_from(struct ca *ca, struct store_txn *txn, int n, json_t *o)
{
	struct ca_slot *s = &ca->slots[n];
	const struct conf_ca *sec;
	struct conf_ca none;
	const char *name = NULL, *issuer = NULL, *key = NULL;
	json_int_t gen = 0, parent = -1, act = 0, ret = 0;
	X509 *x = NULL;
	int r;

	if (json_unpack(o, "{s:s, s:s, s:I, s:I, s:s, s:I, s:I}", "name",
	    &name, "issuer", &issuer, "gen", &gen, "parent", &parent, "key",
	    &key, "activates", &act, "retired", &ret) != 0 ||
	    strlen(name) >= sizeof(s->name) ||
	    strlen(issuer) >= sizeof(s->issuer) || gen < 1 || parent < 0 ||
	    parent >= CA_MAX_SLOTS)
		return ly_fail(LY_ERR_STORE, "the store's record of CA slot "
		    "%d is damaged", n);
	sec = strcmp(issuer, ca->conf->root.name) == 0 ? &ca->conf->root :
	    conf_issuer(ca->conf, issuer);
	/*
	 * A section this process's ca.conf lacks: added to the file after
	 * the process read it (ca-admin issuer create while ca-server runs),
	 * or removed from it. The slot is read all the same -- its
	 * certificate, chain, CRLs and OCSP as files and stored responses,
	 * and every later slot -- but nothing here can sign for it (no PIN):
	 * ca_key_get() says to reload.
	 */
	if (sec == NULL) {
		ly_log(LY_LOG_WARN, "the CA %s belongs to [issuer %s], which "
		    "the ca.conf this process read does not have: reload "
		    "(systemctl reload ca-server, or SIGHUP) to sign for it; "
		    "a section removed from ca.conf must be put back, its "
		    "certificates must stay revocable", name, issuer);
		memset(&none, 0, sizeof(none));
		none.name = (char *)issuer;
		sec = &none;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->issuer, sizeof(s->issuer), "%s", issuer);
	s->gen = (unsigned int)gen;
	s->parent = (int)parent;
	s->activates = act;
	atomic_store(&s->retired, ret != 0);
	if ((r = slot_conf_set(ca, s, sec, key)) != LY_OK ||
	    (r = der_get(txn, "slotcert", n, &x)) != LY_OK)
		return r;
	/*
	 * certs/<name>.crt is written after the registration commits: a
	 * process killed in between leaves the store's copy only. Put the
	 * file back (the store is the record; the file is for operators).
	 */
	if (!(ca->flags & CA_OPEN_READONLY) &&
	    access(s->cc.cert_file, F_OK) != 0 &&
	    cert_write_pem(s->cc.cert_file, &x, 1) != LY_OK)
		ly_log(LY_LOG_WARN, "%s", ly_errdetail());
	return slot_set_cert(ca, n, x);
}

/*
 * Reads what the registry has beyond the slots known: new slots (from
 * nslots on), the retired mark of known ones, new cross-certificates.
 */
static int
registry_read(struct ca *ca, struct store_txn *txn)
{
	json_t *o = NULL;
	json_int_t ret;
	X509 *x;
	int n, r = LY_OK;

	for (n = 0; n < CA_MAX_SLOTS; n++) {
		if ((r = rec_get(txn, n, &o)) == LY_ERR_NOT_FOUND) {
			if (n < 2)
				continue;
			r = LY_OK;
			break;
		}
		if (r != LY_OK)
			break;
		if (n < ca_nslots(ca)) {
			ret = json_integer_value(json_object_get(o,
			    "retired"));
			atomic_store(&ca->slots[n].retired, ret != 0);
		} else if (n == ca_nslots(ca)) {
			if ((r = slot_from(ca, txn, n, o)) != LY_OK)
				break;
			atomic_store_explicit(&ca->nslots, n + 1,
			    memory_order_release);
		}
		json_decref(o);
		o = NULL;
	}
	json_decref(o);
	for (n = atomic_load(&ca->ncross); r == LY_OK && n < CA_MAX_SLOTS;
	    n++) {
		if ((r = der_get(txn, "cross", n, &x)) == LY_ERR_NOT_FOUND) {
			r = LY_OK;
			break;
		}
		if (r == LY_OK) {
			ca->cross[n] = x;
			atomic_store(&ca->ncross, n + 1);
		}
	}
	return r;
}

static uint64_t
version_get(struct store_txn *txn)
{
	const void *v;
	size_t len;

	if (store_meta_get(txn, META_VERSION, &v, &len) != LY_OK || len != 8)
		return 0;
	return ly_be64_get(v);
}

int
slots_load(struct ca *ca)
{
	struct store_txn *txn = NULL;
	X509 *x;
	int i, r;

	for (i = 0; i < 2; i++) {
		if ((r = cert_load_pem(ca->slots[i].cc.cert_file, &x)) !=
		    LY_OK || (r = slot_set_cert(ca, i, x)) != LY_OK)
			return r;
	}
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	pthread_mutex_lock(&ca->slots_lock);
	ca->slots_version = version_get(txn);
	r = registry_read(ca, txn);
	pthread_mutex_unlock(&ca->slots_lock);
	store_txn_abort(txn);
	/* Real time: the rate of looks, not a time in a certificate. */
	atomic_store(&ca->slots_checked, (int64_t)time(NULL));
	return r;
}

int
ca_slots_refresh(struct ca *ca)
{
	int64_t now = (int64_t)time(NULL), then;

	then = atomic_load(&ca->slots_checked);
	if (now - then < REFRESH_EVERY ||
	    !atomic_compare_exchange_strong(&ca->slots_checked, &then, now))
		return LY_OK;
	return ca_slots_sync(ca);
}

int
ca_slots_sync(struct ca *ca)
{
	struct store_txn *txn = NULL;
	int r = LY_OK;

	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	pthread_mutex_lock(&ca->slots_lock);
	if (version_get(txn) != ca->slots_version) {
		ca->slots_version = version_get(txn);
		r = registry_read(ca, txn);
	}
	pthread_mutex_unlock(&ca->slots_lock);
	store_txn_abort(txn);
	return r;
}

/* ---- changes to the registry ------------------------------------------- */

static int
version_bump(struct store_txn *txn)
{
	unsigned char v[8];

	ly_be64_put(v, version_get(txn) + 1);
	return store_meta_put(txn, META_VERSION, v, sizeof(v));
}

static int
rec_put(struct store_txn *txn, int n, const struct ca_slot *s,
    int64_t retired)
{
	json_t *o;
	char key[32], *d;
	int r;

	o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:I}", "name", s->name,
	    "issuer", s->issuer, "gen", (json_int_t)s->gen, "parent",
	    (json_int_t)s->parent, "key", s->cc.key_uri, "activates",
	    (json_int_t)s->activates, "retired", (json_int_t)retired);
	d = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (d == NULL)
		return LY_ERR_ALLOC;
	slot_meta_key(key, sizeof(key), "slot", n);
	r = store_meta_put(txn, key, d, strlen(d));
	free(d);
	return r;
}

static int
der_put(struct store_txn *txn, const char *what, int n, X509 *x)
{
	unsigned char *der = NULL;
	char key[32];
	int len, r;

	if ((len = i2d_X509(x, &der)) <= 0)
		return LY_ERR_INTERNAL;
	slot_meta_key(key, sizeof(key), what, n);
	r = store_meta_put(txn, key, der, (size_t)len);
	OPENSSL_free(der);
	return r;
}

struct reg_arg {
	struct ca		*ca;
	struct ca_slot		*s;	/* the new slot, not yet counted */
	X509			*cert;
	struct store_cert	*rec;	/* its certificate's record, or NULL */
	const char		*actor;
	const char		*action;
	const char		*detail;
	int			 n;	/* out: its number */
};

static int
reg_write(struct store_txn *txn, void *arg)
{
	struct reg_arg *a = arg;
	json_t *o = NULL;
	int n, r;

	/* The next free number, read in the transaction that takes it. */
	for (n = 2; n < CA_MAX_SLOTS; n++) {
		if ((r = rec_get(txn, n, &o)) == LY_ERR_NOT_FOUND)
			break;
		json_decref(o);
		o = NULL;
		if (r != LY_OK)
			return r;
	}
	if (n == CA_MAX_SLOTS)
		return ly_fail(LY_ERR_STATE, "this instance has had %d CAs, "
		    "the most it can hold", CA_MAX_SLOTS);
	/* A new root signed itself: its parent is its own number. */
	if (a->s->parent < 0)
		a->s->parent = n;
	if (a->rec != NULL && a->rec->ca == CA_MAX_SLOTS)
		a->rec->ca = (uint8_t)n;
	if ((r = rec_put(txn, n, a->s, 0)) != LY_OK ||
	    (r = der_put(txn, "slotcert", n, a->cert)) != LY_OK ||
	    (r = version_bump(txn)) != LY_OK)
		return r;
	if (a->rec != NULL) {
		struct store_cert *cur = NULL, res;

		/* A certificate a root signed elsewhere has no reservation here. */
		if ((r = store_cert_get(txn, &a->rec->serial, &cur)) ==
		    LY_ERR_NOT_FOUND) {
			res = *a->rec;
			res.status = STORE_RESERVED;
			res.der = NULL;
			res.derlen = 0;
			r = store_cert_reserve(txn, &res);
		}
		store_cert_free(cur);
		if (r != LY_OK || (r = store_cert_put(txn, a->rec)) != LY_OK)
			return r;
	}
	if ((r = store_audit_append(txn, a->actor, a->action, a->detail)) !=
	    LY_OK)
		return r;
	a->n = n;
	return LY_OK;
}

int
slot_gen_name(const struct conf *conf, const struct conf_ca *sec,
    unsigned int gen, char *buf, size_t len)
{
	unsigned int shards = sec->crl_shards != 0 ? sec->crl_shards :
	    conf->crl_shards;
	int n;

	if (gen == 1)
		n = snprintf(buf, len, "%s", sec->name);
	/*
	 * A CA whose CRL is split has CRLs called <name>-<k>: "-g" keeps
	 * its later generations' names apart from them.
	 */
	else if (sec != &conf->root && shards > 1)
		n = snprintf(buf, len, "%s-g%u", sec->name, gen);
	else
		n = snprintf(buf, len, "%s-%u", sec->name, gen);
	if (n < 0 || (size_t)n >= len)
		return ly_fail(LY_ERR_CONFIG, "the name of generation %u of %s "
		    "is too long", gen, sec->name);
	return LY_OK;
}

int
ca_slot_register(struct ca *ca, const struct ca_slot_new *nw,
    const char *actor, const char *action, const char *detail, int *slotp)
{
	const struct conf_ca *sec;
	struct ca_slot s;
	struct reg_arg a;
	int gen = 0, i, r;

	sec = strcmp(nw->issuer, ca->conf->root.name) == 0 ?
	    &ca->conf->root : conf_issuer(ca->conf, nw->issuer);
	if (sec == NULL)
		return ly_fail(LY_ERR_CONFIG, "no [issuer %s] in ca.conf",
		    nw->issuer);
	if ((r = ca_slots_refresh(ca)) != LY_OK)
		return r;
	for (i = 0; i < ca_nslots(ca); i++)
		if (strcmp(ca->slots[i].issuer, nw->issuer) == 0 &&
		    (int)ca->slots[i].gen > gen)
			gen = (int)ca->slots[i].gen;
	memset(&s, 0, sizeof(s));
	s.gen = (unsigned int)gen + 1;
	if ((r = slot_gen_name(ca->conf, sec, s.gen, s.name,
	    sizeof(s.name))) != LY_OK)
		goto out;
	snprintf(s.issuer, sizeof(s.issuer), "%s", nw->issuer);
	s.parent = nw->parent;
	s.activates = nw->activates;
	if ((r = slot_conf_set(ca, &s, sec, nw->key_uri)) != LY_OK)
		goto out;
	memset(&a, 0, sizeof(a));
	a.ca = ca;
	a.s = &s;
	a.cert = nw->cert;
	a.rec = nw->rec;
	a.actor = actor;
	a.action = action;
	a.detail = detail;
	if ((r = commit_write(ca, reg_write, &a)) != LY_OK)
		goto out;
	/* Written after the commit: the store is the record, this a copy. */
	if ((r = cert_write_pem(s.cc.cert_file, &nw->cert, 1)) != LY_OK)
		ly_log(LY_LOG_WARN, "%s", ly_errdetail());
	/* Ours now; the copy goes, and the registry is read back. */
	free(s.cc.name);
	free(s.cc.key_uri);
	free(s.cc.cert_file);
	s.own = 0;
	atomic_store(&ca->slots_checked, 0);
	if ((r = ca_slots_refresh(ca)) != LY_OK)
		goto out;
	if (a.n >= ca_nslots(ca)) {
		r = ly_fail(LY_ERR_INTERNAL, "slot %d registered but not read "
		    "back", a.n);
		goto out;
	}
	*slotp = a.n;
 out:
	if (s.own) {
		free(s.cc.name);
		free(s.cc.key_uri);
		free(s.cc.cert_file);
	}
	return r;
}

struct retire_arg {
	struct ca	*ca;
	int		 slot;
	const char	*actor;
	int64_t		 now;
};

static int
retire_write(struct store_txn *txn, void *arg)
{
	struct retire_arg *a = arg;
	const struct ca_slot *s = &a->ca->slots[a->slot];
	char detail[160];
	int r;

	if ((r = rec_put(txn, a->slot, s, a->now)) != LY_OK ||
	    (r = version_bump(txn)) != LY_OK)
		return r;
	snprintf(detail, sizeof(detail), "{\"ca\":\"%s\",\"slot\":%d}",
	    s->name, a->slot);
	return store_audit_append(txn, a->actor, "issuer-retire", detail);
}

int
ca_slot_retire(struct ca *ca, int slot, const char *actor)
{
	struct retire_arg a;
	time_t now = ly_now(), last;
	int r;

	if (!valid(ca, slot))
		return ly_fail(LY_ERR_NOT_FOUND, "no such CA");
	if (ca_slot_state(ca, slot, now) != CA_SLOT_RETIRING)
		return ly_fail(LY_ERR_STATE, "the %s CA is %s, not retiring: "
		    "only a superseded generation retires", ca->slots[slot].name,
		    ca_slot_state_name(ca_slot_state(ca, slot, now)));
	if ((r = ca_slot_last_expiry(ca, slot, now, &last)) != LY_OK)
		return r;
	if (last != 0)
		return ly_fail(LY_ERR_STATE, "the %s CA still has certificates "
		    "that have not expired", ca->slots[slot].name);
	a.ca = ca;
	a.slot = slot;
	a.actor = actor;
	a.now = (int64_t)now;
	if ((r = commit_write(ca, retire_write, &a)) != LY_OK)
		return r;
	atomic_store(&ca->slots[slot].retired, 1);
	return LY_OK;
}

struct expiry_arg {
	int		 slot;
	int64_t		 now;
	int64_t		 last;
};

static int
expiry_cb(const struct store_cert *c, void *arg)
{
	struct expiry_arg *a = arg;

	if (c->ca == a->slot && (c->status == STORE_VALID ||
	    c->status == STORE_REVOKED) && c->not_after > a->now &&
	    c->not_after > a->last)
		a->last = c->not_after;
	return 0;
}

int
ca_slot_last_expiry(struct ca *ca, int slot, time_t now, time_t *tp)
{
	struct store_txn *txn = NULL;
	struct expiry_arg a;
	int r;

	a.slot = slot;
	a.now = (int64_t)now;
	a.last = 0;
	if ((r = store_txn_begin(ca->store, 0, &txn)) != LY_OK)
		return r;
	r = store_cert_foreach(txn, expiry_cb, &a);
	store_txn_abort(txn);
	if (r != LY_OK)
		return r;
	*tp = (time_t)a.last;
	return LY_OK;
}

struct cross_arg {
	X509		*x;
	const char	*actor;
};

static int
cross_write(struct store_txn *txn, void *arg)
{
	struct cross_arg *a = arg;
	char *subj, *iss, detail[600];
	X509 *x = NULL;
	int n, r;

	for (n = 0; n < CA_MAX_SLOTS; n++) {
		if ((r = der_get(txn, "cross", n, &x)) == LY_ERR_NOT_FOUND)
			break;
		X509_free(x);
		if (r != LY_OK)
			return r;
	}
	if (n == CA_MAX_SLOTS)
		return ly_fail(LY_ERR_STATE, "too many cross-certificates");
	if ((r = der_put(txn, "cross", n, a->x)) != LY_OK ||
	    (r = version_bump(txn)) != LY_OK)
		return r;
	subj = X509_NAME_oneline(X509_get_subject_name(a->x), NULL, 0);
	iss = X509_NAME_oneline(X509_get_issuer_name(a->x), NULL, 0);
	snprintf(detail, sizeof(detail), "{\"subject\":\"%s\","
	    "\"issuer\":\"%s\"}", subj != NULL ? subj : "",
	    iss != NULL ? iss : "");
	OPENSSL_free(subj);
	OPENSSL_free(iss);
	return store_audit_append(txn, a->actor, "cross-register", detail);
}

int
ca_cross_register(struct ca *ca, X509 *x, const char *actor)
{
	struct cross_arg a;
	int r;

	a.x = x;
	a.actor = actor;
	if ((r = commit_write(ca, cross_write, &a)) != LY_OK)
		return r;
	atomic_store(&ca->slots_checked, 0);
	return ca_slots_refresh(ca);
}

int
ca_trust_bundle(struct ca *ca, X509 **out, size_t max, size_t *np)
{
	time_t now = ly_now();
	size_t k = 0;
	int pass, slot, n;

	(void)ca_slots_refresh(ca);
	n = ca_nslots(ca);
	/* Issuers, newest first; then roots, newest first. */
	for (pass = 0; pass < 2; pass++)
		for (slot = n - 1; slot >= 0; slot--) {
			if (ca_slot_is_root(ca, slot) != pass ||
			    ca_slot_state(ca, slot, now) == CA_SLOT_RETIRED ||
			    ca->certs[slot] == NULL)
				continue;
			if (k == max)
				return ly_fail(LY_ERR_TOO_LARGE, "bundle");
			out[k++] = ca->certs[slot];
		}
	for (slot = 0; slot < atomic_load(&ca->ncross); slot++) {
		if (k == max)
			return ly_fail(LY_ERR_TOO_LARGE, "bundle");
		out[k++] = ca->cross[slot];
	}
	*np = k;
	return LY_OK;
}
