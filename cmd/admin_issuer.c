/*
 * cmd/admin_issuer.c — ca-admin's issuer commands: the issuing CAs of an
 * instance. "issuer list" shows every CA the instance has had, "issuer
 * create" makes the CA of an [issuer NAME] section added to ca.conf,
 * "issuer rollover" makes an issuer's next generation (ca/issuers.c),
 * and "issuer import" installs the certificate a root signed in a
 * ceremony (ca/ceremony.c). docs/operations.md, "Years of operation".
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "cmd/admin.h"
#include "crl/crl.h"
#include "ocsp/ocsp.h"
#include "util/util.h"

static const char *issuer_u =
    "issuer list\n"
    "       ca-admin issuer create NAME\n"
    "       ca-admin issuer rollover NAME [--at TIME | --csr FILE]\n"
    "       ca-admin issuer import --cert FILE [--root FILE | --at TIME]";

static const char *issuer_about =
    "list: every CA of the instance: name, ca.conf section, generation, "
    "state\n(active, next, retiring, retired), notAfter and when it "
    "starts issuing.\n"
    "create: makes the CA of an [issuer NAME] section added to ca.conf "
    "(init\nmakes those in the file): a key on its token and a "
    "certificate from the root.\n"
    "rollover: makes the next generation of issuer NAME (NAME-2, "
    "NAME-3, ...): a new\nkey on its token, certified by the root; it "
    "takes over new issuance at TIME\n(RFC 3339, default now), and the "
    "generation it replaces keeps revoking and\npublishing CRLs until "
    "its last certificate has expired. A running ca-server\nfollows "
    "within a second. With the root offline ([root] offline = yes),\n"
    "--csr FILE makes the new key and a CSR for the root's instance "
    "(ca-admin root\nsign-issuer), and issuer import --cert installs "
    "what it signed.\n"
    "import: on an instance made by an issuer-only init: checks that the "
    "certificate\nthe root signed (root sign-issuer) is for the issuing "
    "CA key on this token and\nchains to the root (--root, default the "
    "[root] cert file), then stores it on\nthe token, in the store and "
    "in certs/, and issues the TLS certificate. After\nissuer rollover "
    "--csr: installs the new generation, taking over at --at TIME.";

/* issuer import: the certificate the root signed, on the issuing instance. */
static int
issuer_import(const char *cert, const char *root)
{
	struct ocsp_responder *resp = NULL;
	struct ca *ca = NULL;
	int issued, r;

	if ((r = ca_issuer_import(admin_dir, cert, root, admin_actor())) !=
	    LY_OK)
		goto out;
	/* As init does: the TLS certificate, the OCSP signer, the CRLs. */
	if ((r = admin_open_with_ocsp(0, 0, &ca, &resp)) != LY_OK ||
	    (strcmp(ca_conf(ca)->https_listen, "off") != 0 &&
	    (r = ca_tls_ensure(ca, admin_dir, admin_actor(), &issued)) !=
	    LY_OK) || (r = crl_publish_all(ca, admin_actor(), NULL)) != LY_OK)
		goto out;
	printf("issuing CA certificate imported into %s; import the root's "
	    "CRL and OCSP\nresponses with ca-admin root import-crl\n",
	    admin_dir);
 out:
	ocsp_responder_free(resp);
	ca_close(ca);
	return admin_exit(r);
}

/* Whether the instance waits for its first issuing CA certificate. */
static int
issuer_waits_first(void)
{
	struct conf *conf = NULL;
	int w;

	if (conf_load(admin_dir, NULL, &conf) != LY_OK)
		return 0;	/* the import says why */
	w = ca_issuer_pending(conf);
	conf_free(conf);
	return w;
}

static void
time_or_dash(time_t t, char buf[21])
{
	if (t == 0)
		snprintf(buf, 21, "-");
	else
		ly_time_fmt(t, buf);
}

static int
issuer_list(void)
{
	struct ca *ca = NULL;
	char na[21], act[21];
	time_t now = ly_now(), t;
	int n, slot, r;

	if ((r = ca_open(admin_dir, CA_OPEN_READONLY, &ca)) != LY_OK) {
		admin_fail(r);
		return 1;
	}
	printf("%-20s %-12s %4s %-9s %-20s %s\n", "NAME", "SECTION", "GEN",
	    "STATE", "NOT-AFTER", "ISSUES-FROM");
	n = ca_nslots(ca);
	for (slot = 0; slot < n; slot++) {
		if (ly_asn1_time(X509_get0_notAfter(ca_cert(ca, slot)), &t) !=
		    LY_OK)
			t = 0;
		time_or_dash(t, na);
		time_or_dash(ca_slot_activates(ca, slot), act);
		printf("%-20s %-12s %4u %-9s %-20s %s\n", ca_slot_name(ca, slot),
		    ca_slot_issuer(ca, slot), ca_slot_gen(ca, slot),
		    ca_slot_state_name(ca_slot_state(ca, slot, now)), na, act);
	}
	ca_close(ca);
	return 0;
}

/*
 * create and rollover (and the import of a rollover the root signed in
 * a ceremony, cert): a new CA, then its OCSP signer and first CRLs.
 * With csr, only the key and the CSR.
 */
static int
issuer_make(const char *name, int rollover, time_t at, const char *csr,
    const char *cert)
{
	struct ocsp_responder *resp = NULL;
	struct ca *ca = NULL;
	int slot = -1, r;

	if (csr != NULL) {
		if ((r = ca_open(admin_dir, 0, &ca)) == LY_OK &&
		    (r = ca_issuer_rollover_csr(ca, name, csr,
		    admin_actor())) == LY_OK)
			printf("%s: have the root's instance sign it (ca-admin "
			    "root sign-issuer --csr %s), then ca-admin issuer "
			    "import --cert FILE\n", csr, csr);
		goto out;
	}
	if ((r = admin_open_with_ocsp(0, 0, &ca, &resp)) != LY_OK)
		goto out;
	if (cert != NULL)
		r = ca_issuer_rollover_import(ca, cert, at, admin_actor(),
		    &slot);
	else if (rollover)
		r = ca_issuer_rollover(ca, name, at, admin_actor(), &slot);
	else
		r = ca_issuer_create(ca, name, admin_actor(), &slot);
	if (r != LY_OK)
		goto out;
	/* Its CRLs exist before anything it issues names them. */
	if ((r = crl_publish_all(ca, admin_actor(), NULL)) != LY_OK)
		goto out;
	/* And its OCSP signer before anything it issues is asked about. */
	if (ocsp_refresh(resp, NULL) != LY_OK)
		fprintf(stderr, "ca-admin: warning: OCSP signer of %s: %s (the "
		    "server makes it on the first request)\n",
		    ca_slot_name(ca, slot), ly_errdetail());
	printf("%s\n", ca_slot_name(ca, slot));
 out:
	ocsp_responder_free(resp);
	ca_close(ca);
	return admin_exit(r);
}

int
admin_issuer(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "at", required_argument, NULL, 'a' },
		{ "csr", required_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cert = NULL, *root = NULL, *sub, *at = NULL, *csr = NULL;
	time_t when = 0;
	int c;

	if (admin_help_asked(argc, argv))
		return admin_help(issuer_u, issuer_about);
	if (argc < 2)
		return admin_usage(issuer_u, NULL);
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cert = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'a':
			at = optarg;
			break;
		case 'q':
			csr = optarg;
			break;
		default:
			return admin_usage(issuer_u, NULL);
		}
	}
	if (at != NULL && strcmp(at, "now") != 0 &&
	    ly_time_parse(at, &when) != LY_OK)
		return admin_usage(issuer_u, "--at wants a time like "
		    "2027-01-31T00:00:00Z, or now");
	if (strcmp(sub, "list") == 0 && optind == argc && cert == NULL &&
	    root == NULL && at == NULL && csr == NULL)
		return issuer_list();
	if (strcmp(sub, "import") == 0 && optind == argc && csr == NULL) {
		if (cert == NULL)
			return admin_usage(issuer_u, "--cert FILE is required");
		if (root != NULL && at != NULL)
			return admin_usage(issuer_u, "--root is for the first "
			    "import, --at for a rollover's");
		/* --root: only the first import takes it (and says so). */
		if (root != NULL || issuer_waits_first())
			return at != NULL ? admin_usage(issuer_u, "--at is for "
			    "a rollover's import") : issuer_import(cert, root);
		return issuer_make(NULL, 1, when, NULL, cert);
	}
	if (strcmp(sub, "create") == 0 && optind + 1 == argc && cert == NULL &&
	    root == NULL && at == NULL && csr == NULL)
		return issuer_make(argv[optind], 0, 0, NULL, NULL);
	if (strcmp(sub, "rollover") == 0 && optind + 1 == argc &&
	    cert == NULL && root == NULL && (at == NULL || csr == NULL))
		return issuer_make(argv[optind], 1, when, csr, NULL);
	return admin_usage(issuer_u, NULL);
}
