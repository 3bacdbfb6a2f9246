/*
 * cmd/admin_root.c — ca-admin's commands for the root CA, the ones that
 * need its token: the root's ceremony. "root crl" signs what the root
 * must sign for a period, so that its token can go back offline: the
 * root's CRL (the CA certificates it revoked) and the OCSP responses
 * about the CA certificates it issued (ocsp/root.c); "root sign-issuer"
 * certifies an issuing CA made on another instance (ca/ceremony.c).
 * On that issuing instance ([root] offline = yes), "root import-crl"
 * installs what the ceremony signed (cmd/admin_issuer.c has "issuer
 * import"; docs/operations.md, "Years of operation").
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "cmd/admin.h"
#include "crl/bundle.h"
#include "crl/crl.h"
#include "ocsp/ocsp.h"
#include "util/util.h"

static int
root_crl(const char *out)
{
	struct ca *ca = NULL;
	const char *dir;
	time_t nu = 0;
	char t[21];
	size_t n = 0;
	int r, slot;

	/* Before any CRL number is used: the directory must take files. */
	if (out != NULL && (r = admin_outdir_check(out)) != LY_OK)
		goto out;
	if ((r = ca_open(admin_dir, 0, &ca)) != LY_OK)
		goto out;
	dir = out != NULL ? out : ca_conf(ca)->publish_dir;
	if (ca_root_offline(ca)) {
		r = ly_fail(LY_ERR_STATE, "the root is offline on this instance "
		    "([root] offline = yes): run root crl on the root's "
		    "instance, then root import-crl here");
		goto out;
	}
	/* Every root generation's CRL (a retired one's as it is). */
	for (slot = 0; slot < ca_nslots(ca); slot++) {
		if (!ca_slot_is_root(ca, slot))
			continue;
		if ((r = crl_generate_ca(ca, slot, admin_actor(), dir)) !=
		    LY_OK)
			goto out;
		printf("%s CRL published to %s\n", ca_slot_name(ca, slot),
		    dir);
	}
	if ((r = crl_write_bundle(ca, dir)) != LY_OK ||
	    (r = ocsp_root_presign(ca, admin_actor(), &n, &nu)) != LY_OK)
		goto out;
	ly_time_fmt(nu, t);
	printf("%zu OCSP responses about CA certificates, valid until %s\n",
	    n, t);
	/* For an issuing instance elsewhere (root import-crl --ocsp-dir). */
	if (out != NULL) {
		if ((r = ocsp_root_export(ca, out, &n)) != LY_OK)
			goto out;
		printf("%zu of them written to %s/%s\n", n, out,
		    OCSP_ROOT_DIR);
	}
 out:
	ca_close(ca);
	return admin_exit(r);
}

/* root sign-issuer: the root certifies an issuing CA's CSR. */
static int
root_sign_issuer(const char *csr, const char *outp, int days)
{
	struct admin_out o;
	struct ca *ca = NULL;
	unsigned char *buf = NULL;
	X509 *x = NULL;
	size_t len;
	int r;

	memset(&o, 0, sizeof(o));
	o.fd = -1;
	/* The output is writable before the root signs anything. */
	if ((r = admin_out_open(outp, &o)) != LY_OK ||
	    (r = admin_read_input(csr, &buf, &len)) != LY_OK ||
	    (r = ca_open(admin_dir, 0, &ca)) != LY_OK ||
	    (r = ca_root_sign_issuer(ca, buf, len, days, admin_actor(),
	    &x)) != LY_OK || (r = admin_output_cert(ca, x, 0, &o)) != LY_OK)
		goto out;
	if (outp != NULL)
		fprintf(stderr, "issuing CA certificate written to %s: carry "
		    "it with certs/root.crt to the issuing instance (ca-admin "
		    "issuer import)\n", outp);
 out:
	admin_out_abort(&o);
	X509_free(x);
	free(buf);
	ca_close(ca);
	return admin_exit(r);
}

/* root import-crl: what the root's ceremony signed, on the issuing instance. */
static int
root_import_crl(const char *crlp, const char *ocspdir)
{
	struct ocsp_responder *resp = NULL;
	struct crl_info info;
	struct ca *ca = NULL;
	unsigned char *der = NULL;
	size_t len, n = 0;
	char t[21];
	int r;

	if ((r = ly_file_read(crlp, CRL_IMPORT_MAX, &der, &len)) != LY_OK ||
	    (r = admin_open_with_ocsp(0, 1, &ca, &resp)) != LY_OK)
		goto out;
	if (!ca_root_offline(ca)) {
		r = ly_fail(LY_ERR_STATE, "the root is not offline here: its "
		    "CRL is signed here (ca-admin root crl)");
		goto out;
	}
	if ((r = crl_import_root(ca, der, len, admin_actor(), &info)) != LY_OK)
		goto out;
	ly_time_fmt(info.next_update, t);
	printf("root CRL number %llu imported, nextUpdate %s\n",
	    (unsigned long long)info.number, t);
	if (ocspdir != NULL) {
		if ((r = ocsp_root_import(ca, ocspdir, admin_actor(), &n)) !=
		    LY_OK)
			goto out;
		printf("%zu OCSP responses of the root imported\n", n);
	}
	/* Served at once: the publish directory and the bundle. */
	r = crl_publish_all(ca, admin_actor(), NULL);
 out:
	ocsp_responder_free(resp);
	ca_close(ca);
	free(der);
	return admin_exit(r);
}

/* root rollover: a new root generation, cross-signed both ways. */
static int
root_rollover(int days, const char *subject)
{
	struct ca *ca = NULL;
	unsigned int gen, old;
	int slot, r;

	if ((r = ca_open(admin_dir, 0, &ca)) != LY_OK)
		goto out;
	if ((r = ca_root_rollover(ca, subject, days, admin_actor(), &slot)) !=
	    LY_OK)
		goto out;
	/* Root generations follow each other: 1, 2, 3... */
	gen = ca_slot_gen(ca, slot);
	old = gen - 1;
	printf("root generation %u (%s) made and in force; in %s:\n"
	    CA_ROOT_GEN_FILE " (the new root), " CA_CROSS_FILE " (the old "
	    "root's\ncertificate for it), " CA_CROSS_FILE " (its certificate "
	    "for the old root).\nGive relying parties the new root, and serve "
	    "the cross-certificates with\nthe chains (the trust bundle has "
	    "them); then run ca-admin root crl.\n", gen, ca_slot_name(ca,
	    slot), admin_dir, gen, old, gen, gen, old);
 out:
	ca_close(ca);
	return admin_exit(r);
}

/* root import: a renewed root, on an issuing instance. */
static int
root_import(const char *cert, const char *const *cross, size_t ncross)
{
	struct ca *ca = NULL;
	int slot = -1, r;

	if ((r = ca_open(admin_dir, CA_OPEN_NO_HSM, &ca)) == LY_OK &&
	    (r = ca_root_import(ca, cert, cross, ncross, admin_actor(),
	    &slot)) == LY_OK)
		printf("%s is the root in force here; import its CRL and OCSP "
		    "responses (ca-admin root import-crl) after the root's "
		    "next ceremony\n", ca_slot_name(ca, slot));
	ca_close(ca);
	return admin_exit(r);
}

static const char *root_u = "root crl [--out DIR]\n"
    "       ca-admin root sign-issuer --csr FILE [--out FILE] [--days N]\n"
    "       ca-admin root import-crl --crl FILE [--ocsp-dir DIR]\n"
    "       ca-admin root rollover [--days N] [--subject S]\n"
    "       ca-admin root import --cert FILE --cross FILE [--cross FILE]";

int
admin_root(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "csr", required_argument, NULL, 'c' },
		{ "days", required_argument, NULL, 'd' },
		{ "crl", required_argument, NULL, 'l' },
		{ "ocsp-dir", required_argument, NULL, 'O' },
		{ "subject", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'C' },
		{ "cross", required_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 }
	};
	const char *about = "crl: signs, with the root CA key, the root's CRL "
	    "and the OCSP responses\nabout the CA certificates the root issued "
	    "(valid for [root] ocsp_validity),\nand publishes the CRL and the "
	    "bundle to --out or the publish directory;\nwith --out, the OCSP "
	    "responses too, in DIR/root-ocsp/. Run it with the root\ntoken "
	    "present, before [crl] root_validity and [root] ocsp_validity run "
	    "out\n(ca-admin status warns [root] renew_before ahead), and after "
	    "revoking an\nissuing CA (ca-admin revoke with the serial of its "
	    "certificate).\n"
	    "sign-issuer: on the root's instance, signs the CSR an issuing "
	    "instance made\n(an issuer-only ca-admin init): CA:TRUE, pathlen 0, "
	    "the [issuing] name\nconstraints and the URLs of this ca.conf, for "
	    "--days (default [issuing] days).\n"
	    "import-crl: on an issuing instance whose root is offline, installs "
	    "the root\nCRL and (--ocsp-dir DIR/root-ocsp) the OCSP responses "
	    "that root crl --out DIR\nwrote, and publishes them.\n"
	    "rollover: on the root's instance, renews the root: a new key on "
	    "its token,\na self-signed root of a new name (--subject, default "
	    "the CN + \" G<gen>\") for\n--days (default [root] days), and the "
	    "two cross-certificates by which each\nroot vouches for the other's "
	    "key; the new root signs from now on.\n"
	    "import: on an issuing instance whose root is offline, installs the "
	    "renewed root\n(certs/root-<gen>.crt of the root's instance) with "
	    "its cross-certificates\n(certs/cross-*.crt); one must be by a root "
	    "this instance has. The new root\nis then in force here: later "
	    "ceremonies chain to it.";
	const char *out = NULL, *csr = NULL, *crl = NULL, *ocspdir = NULL;
	const char *subject = NULL, *cert = NULL, *cross[8];
	const char *sub;
	size_t ncross = 0;
	long days = 0;
	char *end;
	int c;

	if (admin_help_asked(argc, argv))
		return admin_help(root_u, about);
	if (argc < 2)
		return admin_usage(root_u, NULL);
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'c':
			csr = optarg;
			break;
		case 'd':
			days = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || days < 1 ||
			    days > 36600)
				return admin_usage(root_u, "--days: 1 to 36600");
			break;
		case 'l':
			crl = optarg;
			break;
		case 'O':
			ocspdir = optarg;
			break;
		case 's':
			subject = optarg;
			break;
		case 'C':
			cert = optarg;
			break;
		case 'X':
			if (ncross == sizeof(cross) / sizeof(cross[0]))
				return admin_usage(root_u, "too many --cross");
			cross[ncross++] = optarg;
			break;
		default:
			return admin_usage(root_u, NULL);
		}
	}
	if (optind != argc)
		return admin_usage(root_u, "unexpected argument");
	if (subject != NULL && strcmp(sub, "rollover") != 0)
		return admin_usage(root_u, "--subject is for root rollover");
	if ((cert != NULL || ncross > 0) != (strcmp(sub, "import") == 0))
		return admin_usage(root_u, "--cert and --cross are for root "
		    "import, which needs both");
	if (strcmp(sub, "import") == 0) {
		if (cert == NULL || ncross == 0 || out != NULL || csr != NULL ||
		    crl != NULL || ocspdir != NULL || days != 0)
			return admin_usage(root_u, "root import --cert FILE "
			    "--cross FILE");
		return root_import(cert, cross, ncross);
	}
	if (strcmp(sub, "crl") == 0 && csr == NULL && crl == NULL &&
	    ocspdir == NULL && days == 0)
		return root_crl(out);
	if (strcmp(sub, "sign-issuer") == 0 && csr != NULL && crl == NULL &&
	    ocspdir == NULL)
		return root_sign_issuer(csr, out, (int)days);
	if (strcmp(sub, "import-crl") == 0 && crl != NULL && csr == NULL &&
	    out == NULL && days == 0)
		return root_import_crl(crl, ocspdir);
	if (strcmp(sub, "rollover") == 0 && out == NULL && csr == NULL &&
	    crl == NULL && ocspdir == NULL)
		return root_rollover((int)days, subject);
	return admin_usage(root_u, NULL);
}
