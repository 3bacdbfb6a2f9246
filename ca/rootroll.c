/*
 * ca/rootroll.c — root renewal by cross-signing (ca-admin root rollover,
 * docs/operations.md "Root renewal").
 *
 * A root cannot be replaced in every relying party at once, so the new
 * root generation is made with a new key and a distinct subject, and the
 * two roots certify each other's key: with cross-certificate A (issuer the
 * old root, subject and key the new one) a relying party that still trusts
 * only the old root accepts what the new hierarchy issues, and with B
 * (issuer the new root, subject and key the old one) one that already
 * trusts only the new root accepts the leaves of the old hierarchy until
 * they expire. The new root is registered as a slot (it signs every later
 * issuer rollover); the old root keeps its slot for its CRL and OCSP.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "util/util.h"

/* Longest validity asked for, as root sign-issuer takes it (100 years). */
#define DAYS_MAX	36600

/*
 * Refuses a rollover while one is in progress: a root generation newer
 * than the one in force (registered to activate later), or a registry
 * without room for one more slot. Changes nothing.
 */
static int
rollover_check(const struct ca *ca, int cur)
{
	int s, n = ca_nslots(ca);

	for (s = 0; s < n; s++) {
		if (!ca_slot_is_root(ca, s) ||
		    ca_slot_gen(ca, s) <= ca_slot_gen(ca, cur))
			continue;
		return ly_fail(LY_ERR_STATE, "the root already has a newer "
		    "generation than the one in force (%s, generation %u, "
		    "state %s): a rollover is in progress", ca_slot_name(ca, s),
		    ca_slot_gen(ca, s), ca_slot_state_name(ca_slot_state(ca, s,
		    ly_now())));
	}
	if (n >= CA_MAX_SLOTS)
		return ly_fail(LY_ERR_STATE, "this instance has %d CA slots, "
		    "the most it can have: no room for a new root generation",
		    n);
	return LY_OK;
}

/*
 * The default subject of root generation gen: [root] subject with " G<gen>"
 * after its (last) CN, so that generation 3 of "Lanyard Root CA" is
 * "Lanyard Root CA G3", not "... G2 G3". Caller frees.
 */
static int
default_subject(const char *base, unsigned int gen, char **outp)
{
	const char *cn = NULL, *p, *end;
	char *s;

	for (p = base; (p = strstr(p, "/CN=")) != NULL; p++)
		cn = p;
	if (cn == NULL)
		return ly_fail(LY_ERR_CONFIG, "[root] subject \"%s\" has no CN "
		    "to name the new generation after: give --subject", base);
	if ((end = strchr(cn + 1, '/')) == NULL)
		end = base + strlen(base);
	if (asprintf(&s, "%.*s G%u%s", (int)(end - base), base, gen, end) ==
	    -1)
		return LY_ERR_ALLOC;
	*outp = s;
	return LY_OK;
}

/*
 * The subject must parse, name a CN, and differ from the subject of every
 * CA of the instance: a relying party finds issuers by name, and two roots
 * of one name would leave it to guess by key identifier.
 */
static int
subject_check(const struct ca *ca, const char *subject)
{
	X509_NAME *name = NULL;
	X509 *x;
	int r, s;

	if ((r = cert_name_parse(subject, &name)) != LY_OK)
		return ly_fail(LY_ERR_ARG, "%s", ly_errdetail());
	r = LY_OK;
	if (X509_NAME_get_index_by_NID(name, NID_commonName, -1) < 0)
		r = ly_fail(LY_ERR_ARG, "subject \"%s\" has no CN", subject);
	for (s = 0; r == LY_OK && s < ca_nslots(ca); s++)
		if ((x = ca_cert(ca, s)) != NULL && X509_NAME_cmp(name,
		    X509_get_subject_name(x)) == 0)
			r = ly_fail(LY_ERR_ARG, "subject \"%s\" is the %s CA's: "
			    "a new root needs a name of its own", subject,
			    ca_slot_name(ca, s));
	X509_NAME_free(name);
	return r;
}

/*
 * The key of root generation gen: on the [root] token, labelled with the
 * [root] key's object and "-<gen>". Caller frees.
 */
int
root_gen_key_uri(const struct ca *ca, unsigned int gen, char **urip)
{
	char *obj = NULL, *label = NULL;
	int r;

	if ((r = hsm_uri_object(ca->conf->root.key_uri, &obj)) != LY_OK)
		return r;
	if (asprintf(&label, "%s-%u", obj, gen) == -1) {
		label = NULL;
		r = LY_ERR_ALLOC;
	} else
		r = hsm_uri_sibling(ca->conf->root.key_uri, label, urip);
	free(obj);
	free(label);
	return r;
}

/*
 * Cross-certificate of the root certificate subject by the root slot
 * signer: subject's name, key (its encoding kept) and path length, so
 * that the cross-certificate allows what the self-signed one does (no
 * name constraints: roots carry none), with signer's URLs; valid from now
 * until the earlier of the two notAfters. Reserved, signed, recorded as
 * issued by signer (audited "cross-certify") and added to the trust
 * bundle. *xp is freed by the caller.
 */
static int
cross_make(struct ca *ca, int signer, X509 *subject, const char *actor,
    X509 **xp)
{
	X509 *issuer = ca_cert(ca, signer);
	struct store_cert rec;
	struct cert_spec spec;
	X509 *x = NULL;
	time_t now = ly_now(), end, subj_end;
	int r;

	if (issuer == NULL)
		return ly_fail(LY_ERR_INTERNAL, "no certificate in slot %d",
		    signer);
	if ((r = ly_asn1_time(X509_get0_notAfter(issuer), &end)) != LY_OK ||
	    (r = ly_asn1_time(X509_get0_notAfter(subject), &subj_end)) !=
	    LY_OK)
		return r;
	memset(&rec, 0, sizeof(rec));
	rec.ca = signer;
	rec.reason = -1;
	snprintf(rec.profile, sizeof(rec.profile), "root-cross");
	rec.not_before = now - CA_BACKDATE;
	/* Never past what either root vouches for. */
	rec.not_after = subj_end < end ? subj_end : end;
	if ((r = ca_reserve(ca, &rec, NULL)) != LY_OK)
		return r;
	memset(&spec, 0, sizeof(spec));
	spec.conf = ca->conf;
	spec.issuer = issuer;
	spec.issuer_name = ca_slot_name(ca, signer);
	spec.pubkey = X509_get0_pubkey(subject);
	spec.spki = X509_get_X509_PUBKEY(subject);
	spec.subject = (X509_NAME *)X509_get_subject_name(subject);
	spec.serial = &rec.serial;
	spec.not_before = rec.not_before;
	spec.not_after = rec.not_after;
	spec.pathlen = (int)X509_get_pathlen(subject);
	if ((r = cert_build(&spec, &x)) != LY_OK ||
	    (r = ca_sign_cert(ca, signer, x)) != LY_OK ||
	    (r = ca_record(ca, &rec, x, NULL, actor, "cross-certify")) !=
	    LY_OK || (r = ca_cross_register(ca, x, actor)) != LY_OK)
		goto out;
	*xp = x;
	x = NULL;
 out:
	X509_free(x);
	return r;
}

/* The root slot of generation gen, or -1. */
static int
root_gen_slot(const struct ca *ca, unsigned int gen)
{
	int s;

	for (s = 0; s < ca_nslots(ca); s++)
		if (ca_slot_is_root(ca, s) && ca_slot_gen(ca, s) == gen)
			return s;
	return -1;
}

/*
 * The cross-certificate in the trust bundle by the root of slot signer
 * for the name and key of the root certificate subject, or NULL.
 * Borrowed until ca_close().
 */
static X509 *
cross_find(struct ca *ca, int signer, X509 *subject)
{
	X509 *b[CA_MAX_SLOTS * 2], *issuer = ca_cert(ca, signer), *found = NULL;
	size_t i, n;

	if (issuer == NULL || ca_trust_bundle(ca, b, sizeof(b) / sizeof(b[0]),
	    &n) != LY_OK)
		return NULL;
	for (i = 0; i < n && found == NULL; i++)
		if (b[i] != subject && X509_NAME_cmp(X509_get_subject_name(b[i]),
		    X509_get_subject_name(subject)) == 0 &&
		    X509_NAME_cmp(X509_get_issuer_name(b[i]),
		    X509_get_subject_name(issuer)) == 0 &&
		    EVP_PKEY_eq(X509_get0_pubkey(b[i]),
		    X509_get0_pubkey(subject)) == 1 &&
		    X509_verify(b[i], X509_get0_pubkey(issuer)) == 1)
			found = b[i];
	ERR_clear_error();
	return found;
}

/* Writes x to certs/cross-<from>-<to>.crt. */
static int
cross_save(struct ca *ca, X509 *x, unsigned int from, unsigned int to)
{
	char rel[64], *path;
	int r;

	snprintf(rel, sizeof(rel), CA_CROSS_FILE, from, to);
	if ((path = ly_path_join(ca->conf->dir, rel)) == NULL)
		return LY_ERR_ALLOC;
	r = cert_write_pem(path, &x, 1);
	free(path);
	return r;
}

/* The audit detail of the rollover: what was made, from what. */
static char *
rollover_detail(const struct ca *ca, int old, unsigned int gen,
    const char *uri, X509 *x)
{
	struct ca_serial serial;
	json_t *o;
	char *sn = NULL, *subj, *d = NULL;

	if (ca_serial_from_asn1(X509_get0_serialNumber(x), &serial) != LY_OK ||
	    (sn = ca_serial_hex(&serial)) == NULL)
		return NULL;
	if ((subj = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0)) ==
	    NULL) {
		free(sn);
		return NULL;
	}
	o = json_pack("{s:s, s:I, s:s, s:s, s:s}", "previous",
	    ca_slot_name(ca, old), "gen", (json_int_t)gen, "subject", subj,
	    "key", uri, "serial", sn);
	if (o != NULL)
		d = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	OPENSSL_free(subj);
	free(sn);
	return d;
}

/*
 * Registers the new root (its certificate's record, reserved by
 * ca_make_cert(), is written valid with the slot), audited
 * "root-rollover".
 */
static int
root_register(struct ca *ca, int old, unsigned int gen, const char *uri,
    X509 *x, struct store_cert *rec, const char *actor, int *slotp)
{
	struct ca_slot_new nw;
	unsigned char *der = NULL;
	char *detail;
	int len, r;

	if ((detail = rollover_detail(ca, old, gen, uri, x)) == NULL)
		return LY_ERR_ALLOC;
	if ((len = i2d_X509(x, &der)) <= 0) {
		free(detail);
		return ly_fail(LY_ERR_INTERNAL, "i2d_X509");
	}
	rec->status = STORE_VALID;
	rec->der = der;
	rec->derlen = (size_t)len;
	memset(&nw, 0, sizeof(nw));
	nw.issuer = ca->conf->root.name;
	nw.key_uri = uri;
	nw.cert = x;
	nw.parent = -1;
	nw.activates = 0;	/* in force at once */
	nw.rec = rec;
	r = ca_slot_register(ca, &nw, actor, "root-rollover", detail, slotp);
	rec->der = NULL;
	OPENSSL_free(der);
	free(detail);
	return r;
}

/*
 * The two cross-certificates between the root slots older and newer,
 * each made unless the trust bundle has it (a rollover that stopped
 * half-way is finished so), and both written to certs/.
 */
static int
crosses(struct ca *ca, int older, int newer, const char *actor)
{
	X509 *a = NULL, *b = NULL, *ea, *eb;
	unsigned int og = ca_slot_gen(ca, older), ng = ca_slot_gen(ca, newer);
	int r = LY_OK;

	/* A: the old root vouches for the new key; B: the new for the old. */
	if ((ea = cross_find(ca, older, ca_cert(ca, newer))) == NULL &&
	    (r = cross_make(ca, older, ca_cert(ca, newer), actor, &a)) != LY_OK)
		goto out;
	if ((eb = cross_find(ca, newer, ca_cert(ca, older))) == NULL &&
	    (r = cross_make(ca, newer, ca_cert(ca, older), actor, &b)) != LY_OK)
		goto out;
	if ((r = cross_save(ca, a != NULL ? a : ea, og, ng)) != LY_OK)
		goto out;
	r = cross_save(ca, b != NULL ? b : eb, ng, og);
 out:
	X509_free(a);
	X509_free(b);
	return r;
}

/*
 * A rollover registered the root in force, slot cur, but stopped before
 * both its cross-certificates were made: the next run finishes it (with
 * the subject and days of the first), rather than make yet another
 * generation. 1 if so, with the outcome in *rp.
 */
static int
rollover_resume(struct ca *ca, int cur, const char *subject, int days,
    const char *actor, int *rp)
{
	int prev;

	if (ca_slot_gen(ca, cur) < 2 ||
	    (prev = root_gen_slot(ca, ca_slot_gen(ca, cur) - 1)) < 0 ||
	    (cross_find(ca, prev, ca_cert(ca, cur)) != NULL &&
	    cross_find(ca, cur, ca_cert(ca, prev)) != NULL))
		return 0;
	if (subject != NULL || days != 0)
		*rp = ly_fail(LY_ERR_STATE, "the rollover to %s stopped before "
		    "its cross-certificates were made: run root rollover "
		    "again, without --subject and --days, to finish it",
		    ca_slot_name(ca, cur));
	else
		*rp = crosses(ca, prev, cur, actor);
	return 1;
}

int
ca_root_rollover(struct ca *ca, const char *subject, int days,
    const char *actor, int *slotp)
{
	struct conf_ca cc;
	struct store_cert rec;
	struct hsm_key *k;
	X509 *root = NULL;
	char *subj = NULL, *uri = NULL, name[CONF_NAME_MAX];
	unsigned int gen;
	int old, slot, r;

	/* Before anything: an offline root's key is not here to use. */
	if (ca_root_offline(ca))
		return ly_fail(LY_ERR_STATE, "the root is offline on this "
		    "instance ([root] offline = yes): roll it over on the "
		    "root's own instance, with its token present");
	if (days < 0 || days > DAYS_MAX)
		return ly_fail(LY_ERR_ARG, "days: 1 to %d", DAYS_MAX);
	if ((r = ca_slots_refresh(ca)) != LY_OK)
		return r;
	old = ca_root_slot(ca, ly_now());
	if ((r = rollover_check(ca, old)) != LY_OK)
		return r;
	if (rollover_resume(ca, old, subject, days, actor, &r)) {
		if (r == LY_OK)
			*slotp = old;
		return r;
	}
	gen = ca_slot_gen(ca, old) + 1;
	if (subject == NULL &&
	    (r = default_subject(ca->conf->root.subject, gen, &subj)) != LY_OK)
		goto out;
	if ((r = subject_check(ca, subject != NULL ? subject : subj)) !=
	    LY_OK || (r = root_gen_key_uri(ca, gen, &uri)) != LY_OK)
		goto out;
	/* The old root's key first: a token that is not there stops us here. */
	if ((r = ca_key_get(ca, old, &k)) != LY_OK)
		goto out;
	/* The new root as init makes a root: its own key, name and days. */
	snprintf(name, sizeof(name), "%s-%u", ca->conf->root.name, gen);
	cc = ca->conf->root;
	cc.name = name;
	cc.key_uri = uri;
	cc.subject = subject != NULL ? (char *)subject : subj;
	if (days > 0)
		cc.days = days;
	if ((r = ca_make_cert(ca, &cc, -1, &root, &rec)) != LY_OK ||
	    (r = root_register(ca, old, gen, uri, root, &rec, actor, &slot)) !=
	    LY_OK)
		goto out;
	if ((r = crosses(ca, old, slot, actor)) != LY_OK) {
		char why[512];

		snprintf(why, sizeof(why), "%s", ly_errdetail());
		r = ly_fail(r, "%s; %s is in force, without both its "
		    "cross-certificates: run root rollover again to make "
		    "them", why, ca_slot_name(ca, slot));
		goto out;
	}
	*slotp = slot;
 out:
	X509_free(root);
	free(subj);
	free(uri);
	return r;
}
