/*
 * cmd/admin_root.c — ca-admin's commands for the root CA, the ones that
 * need its token: the root's ceremony. "root crl" signs what the root
 * must sign for a period, so that its token can go back offline: the
 * root's CRL (the CA certificates it revoked) and the OCSP responses
 * about the CA certificates it issued (ocsp/root.c).
 */
#include "config.h"

#include <stdio.h>
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
	int r;

	/* Before any CRL number is used: the directory must take files. */
	if (out != NULL && (r = admin_outdir_check(out)) != LY_OK)
		goto out;
	if ((r = ca_open(admin_dir, 0, &ca)) != LY_OK)
		goto out;
	dir = out != NULL ? out : ca_conf(ca)->publish_dir;
	if ((r = crl_generate_ca(ca, CA_ROOT, admin_actor(), dir)) != LY_OK ||
	    (r = crl_write_bundle(ca, dir)) != LY_OK ||
	    (r = ocsp_root_presign(ca, admin_actor(), &n, &nu)) != LY_OK)
		goto out;
	ly_time_fmt(nu, t);
	printf("root CRL published to %s; %zu OCSP responses about CA "
	    "certificates, valid until %s\n", dir, n, t);
 out:
	ca_close(ca);
	if (r != LY_OK) {
		admin_fail(r);
		return 1;
	}
	return 0;
}

int
admin_root(int argc, char **argv)
{
	const char *u = "root crl [--out DIR]";
	const char *about = "Signs, with the root CA key, the root's CRL and "
	    "the OCSP responses\nabout the CA certificates the root issued "
	    "(valid for [root] ocsp_validity),\nand publishes the CRL and the "
	    "bundle to --out or the publish directory.\nRun it with the root "
	    "token present, before [crl] root_validity and\n[root] "
	    "ocsp_validity run out (ca-admin status warns), and after revoking "
	    "an\nissuing CA (ca-admin revoke with the serial of its certificate).";

	if (admin_help_asked(argc, argv))
		return admin_help(u, about);
	if (argc == 2 && strcmp(argv[1], "crl") == 0)
		return root_crl(NULL);
	if (argc == 4 && strcmp(argv[1], "crl") == 0 &&
	    strcmp(argv[2], "--out") == 0)
		return root_crl(argv[3]);
	return admin_usage(u, NULL);
}
