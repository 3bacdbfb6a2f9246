/*
 * ca/issuers.c — issuing CAs beyond the first: making the CA of an
 * [issuer NAME] section, and rolling an issuer over to a new generation
 * (a new key, a certificate from the root in force, issuance switching
 * at a chosen time) while the old generation stays for revocation until
 * its last certificate expires (crl/ publishes its last CRL and retires
 * it). docs/operations.md, "Years of operation", is the runbook.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/extern.h"
#include "util/util.h"

int
ca_keygen(struct ca *ca, const struct conf_ca *cc, const char *pin,
    EVP_PKEY **pubp)
{
	struct hsm_key *k = NULL;
	int i, r;

	if ((r = hsm_keygen(cc->key_uri, pin, cc->key_type, pubp)) !=
	    LY_ERR_EXISTS)
		return r;
	/*
	 * A key under that label and no CA of ours on it: made by a run of
	 * this command that stopped before the new CA was registered (a
	 * crash, an HSM failure). No certificate of it was ever handed out
	 * (a reserved serial is burned by ca_reconcile()), so it is taken
	 * for the CA it was made for, rather than leaving a label that
	 * blocks every later attempt.
	 */
	for (i = 0; i < ca_nslots(ca); i++)
		if (strcmp(ca_slot_conf(ca, i)->key_uri, cc->key_uri) == 0)
			return ly_fail(LY_ERR_EXISTS, "%s is the key of the %s "
			    "CA", cc->key_uri, ca_slot_name(ca, i));
	if ((r = hsm_key_open(cc->key_uri, pin, cc->rsa_padding, &k)) !=
	    LY_OK)
		return r;
	if ((*pubp = EVP_PKEY_dup(hsm_key_get0_public(k))) == NULL)
		r = LY_ERR_ALLOC;
	hsm_key_free(k);
	if (r == LY_OK)
		ly_log(LY_LOG_WARN, "%s: the key an interrupted run made is "
		    "taken for %s", cc->key_uri, cc->name);
	return r;
}

void
issuer_plan_clear(struct issuer_plan *p)
{
	free(p->key_uri);
	free(p->subject);
	memset(p, 0, sizeof(*p));
}

int
issuer_plan(struct ca *ca, const char *issuer, struct issuer_plan *p)
{
	char object[CONF_NAME_MAX + 8];
	unsigned int gen = 0;
	time_t now = ly_now();
	int i, r;

	memset(p, 0, sizeof(*p));
	if ((p->sec = conf_issuer(ca->conf, issuer)) == NULL)
		return ly_fail(LY_ERR_NOT_FOUND, "no issuer %s in ca.conf "
		    "(issuing, or an [issuer NAME] section)", issuer);
	(void)ca_slots_refresh(ca);
	for (i = 0; i < ca_nslots(ca); i++) {
		if (strcmp(ca_slot_issuer(ca, i), issuer) != 0)
			continue;
		if (ca_slot_state(ca, i, now) == CA_SLOT_NEXT)
			return ly_fail(LY_ERR_STATE, "the issuer %s has a "
			    "rollover waiting already: %s starts issuing at "
			    "%lld", issuer, ca_slot_name(ca, i),
			    (long long)ca_slot_activates(ca, i));
		if (ca_slot_gen(ca, i) > gen)
			gen = ca_slot_gen(ca, i);
	}
	p->gen = gen + 1;
	if (p->gen == 1) {
		snprintf(p->name, sizeof(p->name), "%s", issuer);
		if ((p->key_uri = strdup(p->sec->key_uri)) == NULL ||
		    (p->subject = strdup(p->sec->subject)) == NULL) {
			issuer_plan_clear(p);
			return LY_ERR_ALLOC;
		}
		return LY_OK;
	}
	if ((r = slot_gen_name(ca->conf, p->sec, p->gen, p->name,
	    sizeof(p->name))) != LY_OK)
		return r;
	snprintf(object, sizeof(object), "%s-ca", p->name);
	if ((r = hsm_uri_sibling(p->sec->key_uri, object, &p->key_uri)) !=
	    LY_OK)
		return r;
	/*
	 * A generation's subject differs from its predecessor's (" G2" ends
	 * it): relying parties that keep one CRL per issuer name (GnuTLS)
	 * or pick an issuer by name alone must not confuse the two.
	 */
	if (asprintf(&p->subject, "%s G%u", p->sec->subject, p->gen) == -1) {
		p->subject = NULL;
		issuer_plan_clear(p);
		return LY_ERR_ALLOC;
	}
	return LY_OK;
}

/* The settings of the CA a plan makes: its section's, with its names. */
void
issuer_plan_conf(const struct issuer_plan *p, struct conf_ca *cc)
{
	*cc = *p->sec;
	cc->name = (char *)p->name;
	cc->key_uri = p->key_uri;
	cc->subject = p->subject;
}

/*
 * Makes the CA of plan p: its key on the section's token, its
 * certificate from the root in force, and its slot, activated at
 * activates. action is audited.
 */
static int
make_gen(struct ca *ca, const struct issuer_plan *p, time_t activates,
    const char *actor, const char *action, int *slotp)
{
	struct conf_ca cc;
	struct ca_slot_new nw;
	struct store_cert rec;
	char *detail = NULL, *sn;
	unsigned char *der = NULL;
	X509 *x = NULL;
	json_t *o;
	int len, r, root;

	if (ca_root_offline(ca))
		return ly_fail(LY_ERR_STATE, "the root is offline on this "
		    "instance: the root signs the new CA in a ceremony "
		    "(ca-admin issuer rollover %s --csr FILE here, root "
		    "sign-issuer on the root's instance, issuer import here; "
		    "docs/operations.md)", p->sec->name);
	root = ca_root_slot(ca, ly_now());
	issuer_plan_conf(p, &cc);
	/* Opens the HSM (and checks the root's key) before making a key. */
	{
		struct hsm_key *k;

		if ((r = ca_key_get(ca, root, &k)) != LY_OK)
			goto out;
	}
	if ((r = ca_make_cert(ca, &cc, root, &x, &rec)) != LY_OK)
		goto out;
	sn = ca_serial_hex(&rec.serial);
	o = json_pack("{s:s, s:s, s:s?, s:I, s:s}", "ca", p->name, "issuer",
	    p->sec->name, "serial", sn, "activates", (json_int_t)activates,
	    "key", cc.key_uri);
	free(sn);
	detail = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) :
	    NULL;
	json_decref(o);
	if (detail == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((len = i2d_X509(x, &der)) <= 0) {
		r = LY_ERR_INTERNAL;
		goto out;
	}
	rec.status = STORE_VALID;
	rec.der = der;
	rec.derlen = (size_t)len;
	memset(&nw, 0, sizeof(nw));
	nw.issuer = p->sec->name;
	nw.key_uri = cc.key_uri;
	nw.cert = x;
	nw.parent = root;
	nw.activates = activates;
	nw.rec = &rec;
	r = ca_slot_register(ca, &nw, actor, action, detail, slotp);
 out:
	OPENSSL_free(der);
	X509_free(x);
	free(detail);
	return r;
}

int
ca_issuer_create(struct ca *ca, const char *name, const char *actor,
    int *slotp)
{
	struct issuer_plan p;
	int i, slot, r;

	if (conf_issuer(ca->conf, name) == NULL)
		return ly_fail(LY_ERR_NOT_FOUND, "no [issuer %s] section in "
		    "ca.conf", name);
	(void)ca_slots_refresh(ca);
	for (i = 0; i < ca_nslots(ca); i++)
		if (strcmp(ca_slot_issuer(ca, i), name) == 0)
			return ly_fail(LY_ERR_EXISTS, "the issuer %s has its CA "
			    "already (%s); a new generation is made by ca-admin "
			    "issuer rollover %s", name, ca_slot_name(ca, i),
			    name);
	if ((r = issuer_plan(ca, name, &p)) != LY_OK)
		return r;
	r = make_gen(ca, &p, 0, actor, "issuer-create",
	    slotp != NULL ? slotp : &slot);
	issuer_plan_clear(&p);
	return r;
}

int
ca_issuer_rollover(struct ca *ca, const char *name, time_t activates,
    const char *actor, int *slotp)
{
	struct issuer_plan p;
	time_t now = ly_now();
	int slot, r;

	if ((r = issuer_plan(ca, name, &p)) != LY_OK)
		return r;
	if (p.gen == 1) {
		issuer_plan_clear(&p);
		return ly_fail(LY_ERR_STATE, "the issuer %s has no CA to roll "
		    "over: ca-admin issuer create %s", name, name);
	}
	if (activates < now)
		activates = now;
	r = make_gen(ca, &p, activates, actor, "issuer-rollover",
	    slotp != NULL ? slotp : &slot);
	issuer_plan_clear(&p);
	return r;
}

int
ca_issuer_rollover_due(struct ca *ca, const char *actor, int *rolledp)
{
	const struct conf *conf = ca->conf;
	time_t now = ly_now(), na;
	size_t i;
	int slot, k, waiting, r, rc = LY_OK;

	*rolledp = 0;
	if (ca_root_offline(ca))
		return LY_OK;
	(void)ca_slots_refresh(ca);
	for (i = 0; i < conf->nissuers; i++) {
		const struct conf_ca *ic = conf->issuers[i];

		if (ic->rollover_before == 0 ||
		    (slot = ca_issuer_slot(ca, ic->name, now)) < 0 ||
		    ly_asn1_time(X509_get0_notAfter(ca->certs[slot]), &na) !=
		    LY_OK || na - now > ic->rollover_before)
			continue;
		for (waiting = 0, k = 0; k < ca_nslots(ca); k++)
			if (strcmp(ca_slot_issuer(ca, k), ic->name) == 0 &&
			    ca_slot_state(ca, k, now) == CA_SLOT_NEXT)
				waiting = 1;
		if (waiting)
			continue;
		if ((r = ca_issuer_rollover(ca, ic->name, now, actor, &k)) !=
		    LY_OK) {
			ly_log(LY_LOG_ERR, "scheduled rollover of %s: %s",
			    ic->name, ly_errdetail());
			rc = r;
			continue;
		}
		ly_log(LY_LOG_INFO, "issuer %s rolled over on schedule "
		    "(rollover_before): %s issues from now on, %s revokes until "
		    "its last certificate expires", ic->name,
		    ca_slot_name(ca, k), ca_slot_name(ca, slot));
		(*rolledp)++;
	}
	return rc;
}
