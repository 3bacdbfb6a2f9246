/*
 * ca/rootimport.c — a root renewed on the root's own instance (ca-admin
 * root rollover, ca/rootroll.c), brought to an issuing instance whose
 * root is offline: the new root's certificate and the cross-certificates
 * by which the roots vouch for each other. The new root is trusted here
 * only because a root this instance has certified its key (a
 * cross-certificate); it becomes the root in force, so the issuing CAs
 * it certifies in later ceremonies (ca-admin issuer rollover --csr, root
 * sign-issuer, issuer import) chain to it. Its key never comes here.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ca/extern.h"
#include "util/util.h"

/* x is a self-signed CA certificate whose signature verifies. */
static int
root_cert_check(X509 *x)
{
	if (X509_check_issued(x, x) != X509_V_OK || X509_check_ca(x) < 1 ||
	    X509_verify(x, X509_get0_pubkey(x)) != 1) {
		ERR_clear_error();
		return ly_fail(LY_ERR_BAD_INPUT, "the root certificate is not "
		    "a self-signed CA certificate whose signature verifies");
	}
	return LY_OK;
}

/*
 * Whether cross is a cross-certificate of root x (x's name and key) by a
 * root slot of this instance: the slot, or -1.
 */
static int
cross_signer(struct ca *ca, X509 *cross, X509 *x)
{
	int s;

	if (X509_NAME_cmp(X509_get_subject_name(cross),
	    X509_get_subject_name(x)) != 0 ||
	    EVP_PKEY_eq(X509_get0_pubkey(cross), X509_get0_pubkey(x)) != 1) {
		ERR_clear_error();
		return -1;
	}
	for (s = 0; s < ca_nslots(ca); s++)
		if (ca_slot_is_root(ca, s) &&
		    X509_check_issued(ca_cert(ca, s), cross) == X509_V_OK &&
		    X509_verify(cross, X509_get0_pubkey(ca_cert(ca, s))) == 1)
			return s;
	ERR_clear_error();
	return -1;
}

int
ca_root_import(struct ca *ca, const char *cert_path,
    const char *const *cross_paths, size_t ncross, const char *actor,
    int *slotp)
{
	X509 *x = NULL, *cross[CA_MAX_SLOTS];
	struct ca_slot_new nw;
	struct store_cert rec;
	unsigned char *der = NULL;
	unsigned int gen = 0;
	char *uri = NULL, *sn = NULL, *d = NULL;
	size_t i, n = 0;
	int s, vouched = 0, r;
	json_t *o;

	if (!ca_root_offline(ca))
		return ly_fail(LY_ERR_STATE, "the root is on line here: "
		    "ca-admin root rollover renews it on this instance");
	if (ncross == 0 || ncross > CA_MAX_SLOTS)
		return ly_fail(LY_ERR_ARG, "give the cross-certificates by "
		    "which this instance's root vouches for the new one (--cross)");
	if ((r = cert_load_pem(cert_path, &x)) != LY_OK ||
	    (r = root_cert_check(x)) != LY_OK)
		goto out;
	for (s = 0; s < ca_nslots(ca); s++) {
		if (EVP_PKEY_eq(X509_get0_pubkey(ca_cert(ca, s)),
		    X509_get0_pubkey(x)) == 1) {
			r = ly_fail(LY_ERR_EXISTS, "that key is the %s CA's "
			    "already", ca_slot_name(ca, s));
			goto out;
		}
		if (ca_slot_is_root(ca, s) && ca_slot_gen(ca, s) > gen)
			gen = ca_slot_gen(ca, s);
	}
	ERR_clear_error();
	for (i = 0; i < ncross; i++) {
		if ((r = cert_load_pem(cross_paths[i], &cross[n])) != LY_OK)
			goto out;
		n++;
		if (cross_signer(ca, cross[i], x) >= 0)
			vouched = 1;
	}
	/* Trust comes from a root we have, never from the file alone. */
	if (!vouched) {
		r = ly_fail(LY_ERR_BAD_INPUT, "no cross-certificate given is by "
		    "a root of this instance for that root's name and key");
		goto out;
	}
	/* Issued by itself, once it has a slot (CA_MAX_SLOTS). */
	if ((r = root_gen_key_uri(ca, gen + 1, &uri)) != LY_OK ||
	    (r = cert_record(x, CA_MAX_SLOTS, ca->conf->root.name, &rec)) !=
	    LY_OK)
		goto out;
	der = rec.der;
	sn = ca_serial_hex(&rec.serial);
	o = json_pack("{s:s?, s:s, s:i}", "serial", sn, "cert", cert_path,
	    "crosses", (int)n);
	d = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (d == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memset(&nw, 0, sizeof(nw));
	nw.issuer = ca->conf->root.name;
	nw.key_uri = uri;	/* on the root's token, never opened here */
	nw.cert = x;
	nw.parent = -1;
	nw.activates = 0;
	nw.rec = &rec;
	if ((r = ca_slot_register(ca, &nw, actor, "root-import", d, &s)) !=
	    LY_OK)
		goto out;
	for (i = 0; i < n && r == LY_OK; i++)
		r = ca_cross_register(ca, cross[i], actor);
	if (r == LY_OK && slotp != NULL)
		*slotp = s;
 out:
	for (i = 0; i < n; i++)
		X509_free(cross[i]);
	X509_free(x);
	OPENSSL_free(der);
	free(uri);
	free(sn);
	free(d);
	return r;
}
