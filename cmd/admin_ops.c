/*
 * cmd/admin_ops.c — ca-admin backup and restore. See ca-admin(8) and
 * docs/operations.md. Exit status as ca-admin: 0, 1 failed, 2 usage.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/ops.h"
#include "cmd/admin_ops.h"
#include "util/util.h"

#define EXIT_USAGE	2
#define RESTORE_MAX_CRLS	256

static const char *cmdname = "ca-admin";

static int
fail(int r)
{
	const char *d = ly_errdetail();

	if (d[0] != '\0')
		fprintf(stderr, "ca-admin: %s: %s: %s\n", cmdname,
		    ly_strerror(r), d);
	else
		fprintf(stderr, "ca-admin: %s: %s\n", cmdname, ly_strerror(r));
	return 1;
}

static int
usage_err(const char *usage, const char *why)
{
	if (why != NULL)
		fprintf(stderr, "ca-admin: %s: %s\n", cmdname, why);
	fprintf(stderr, "usage: ca-admin [--dir DIR] %s\n", usage);
	return EXIT_USAGE;
}

static int
cmd_backup(const char *dir, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "backup --out FILE";
	struct ca_backup_info bi;
	struct ca *ca = NULL;
	const char *out = NULL;
	char ts[21];
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n", u);
			return 0;
		default:
			return usage_err(u, NULL);
		}
	}
	if (optind != argc || out == NULL)
		return usage_err(u, "--out is required");
	/* No HSM: a backup signs nothing and must work with the token away. */
	if ((r = ca_open(dir, CA_OPEN_NO_HSM, &ca)) == LY_OK)
		r = ca_backup(ca, out, actor, &bi);
	ca_close(ca);
	if (r != LY_OK)
		return fail(r);
	ly_time_fmt(bi.created, ts);
	printf("backup %s: %llu bytes, sha256 %s, audit log verified to "
	    "entry %llu, at %s\n", out, (unsigned long long)bi.size, bi.sha256,
	    (unsigned long long)bi.audit_seq, ts);
	return 0;
}

static int
cmd_restore(const char *dir, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "dir", required_argument, NULL, 'd' },
		{ "crl", required_argument, NULL, 'c' },
		{ "ocsp-dir", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "restore --from FILE --dir NEW [--crl FILE]... "
	    "[--ocsp-dir DIR]";
	const char *crls[RESTORE_MAX_CRLS];
	const char *from = NULL, *ocsp = NULL, *to = dir;
	struct ca_restore_info ri;
	size_t ncrls = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			from = optarg;
			break;
		case 'd':
			to = optarg;
			break;
		case 'c':
			if (ncrls == RESTORE_MAX_CRLS)
				return usage_err(u, "too many --crl");
			crls[ncrls++] = optarg;
			break;
		case 'o':
			ocsp = optarg;
			break;
		case 'h':
			printf("usage: ca-admin %s\n", u);
			return 0;
		default:
			return usage_err(u, NULL);
		}
	}
	if (optind != argc || from == NULL || to == NULL || to[0] == '\0')
		return usage_err(u, "--from and --dir are required");
	if (ncrls == 0 && ocsp == NULL)
		fprintf(stderr, "ca-admin: restore: warning: no --crl given: "
		    "revocations made since the backup are not re-applied\n");
	if ((r = ca_restore(from, to, crls, ncrls, ocsp, actor, &ri)) != LY_OK)
		return fail(r);
	printf("restored %s into %s: %zu CRLs and %zu OCSP revocations read; "
	    "%zu revocations re-applied (%zu without a certificate); next CRL "
	    "numbers above root %llu, issuing %llu\n", from, to, ri.crls,
	    ri.ocsp, ri.reapplied, ri.unknown,
	    (unsigned long long)ri.crl_number[CA_ROOT],
	    (unsigned long long)ri.crl_number[CA_ISSUING]);
	printf("next: put back the HSM tokens and PIN files "
	    "(docs/operations.md), then run ca-admin --dir %s crl publish\n",
	    to);
	return 0;
}

static const struct {
	const char	*name;
	int		(*fn)(const char *, const char *, int, char **);
} ops[] = {
	{ "backup", cmd_backup },
	{ "restore", cmd_restore },
};

int
admin_ops(const char *dir, const char *actor, int argc, char **argv)
{
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(argv[0], ops[i].name) == 0) {
			cmdname = ops[i].name;
			return ops[i].fn(dir, actor, argc, argv);
		}
	fprintf(stderr, "ca-admin: unknown command \"%s\"\n", argv[0]);
	return EXIT_USAGE;
}
