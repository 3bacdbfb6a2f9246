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

#include <jansson.h>

#include "ca/ca.h"
#include "ca/ops.h"
#include "ca/store.h"
#include "cmd/admin.h"
#include "cmd/admin_ops.h"
#include "util/util.h"

#define RESTORE_MAX_CRLS	256

/* admin_fail() with the exit status of a failed operation. */
static int
ops_fail(int r)
{
	admin_fail(r);
	return 1;
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
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc || out == NULL)
		return admin_usage(u, "--out is required");
	/* No HSM: a backup signs nothing and must work with the token away. */
	if ((r = ca_open(dir, CA_OPEN_NO_HSM, &ca)) == LY_OK)
		r = ca_backup(ca, out, actor, &bi);
	ca_close(ca);
	if (r != LY_OK)
		return ops_fail(r);
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
				return admin_usage(u, "too many --crl");
			crls[ncrls++] = optarg;
			break;
		case 'o':
			ocsp = optarg;
			break;
		case 'h':
			printf("usage: ca-admin %s\n", u);
			return 0;
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc || from == NULL || to == NULL || to[0] == '\0')
		return admin_usage(u, "--from and --dir are required");
	if (ncrls == 0 && ocsp == NULL)
		fprintf(stderr, "ca-admin: restore: warning: no --crl given: "
		    "revocations made since the backup are not re-applied\n");
	if ((r = ca_restore(from, to, crls, ncrls, ocsp, actor, &ri)) != LY_OK)
		return ops_fail(r);
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

static const char *identity_usage = "identity disable (--identity JSON | "
    "--spiffe URI | --dns NAME) [--revoke REASON] | identity enable "
    "(--identity JSON | --spiffe URI | --dns NAME) | identity list [--json]";

/* disable and enable: the identity from the options, and --revoke. */
static int
identity_change(const char *dir, const char *actor, int argc, char **argv,
    int disable)
{
	static const struct option opts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "spiffe", required_argument, NULL, 's' },
		{ "dns", required_argument, NULL, 'd' },
		{ "revoke", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *kind = NULL, *value = NULL;
	struct ca *ca = NULL;
	char *key = NULL;
	size_t n = 0;
	int c, reason = -2, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
		case 's':
		case 'd':
			if (kind != NULL)
				return admin_usage(identity_usage,
				    "one identity");
			kind = c == 'i' ? "identity" : c == 's' ? "spiffe" :
			    "dns";
			value = optarg;
			break;
		case 'r':
			if (!disable || (reason = ca_reason_parse(optarg)) < -1)
				return admin_usage(identity_usage, disable ?
				    "unknown reason" : "--revoke is for disable");
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n", identity_usage);
			return 0;
		default:
			return admin_usage(identity_usage, NULL);
		}
	}
	if (optind != argc || kind == NULL)
		return admin_usage(identity_usage, "--identity, --spiffe or "
		    "--dns is required");
	if ((r = ca_open(dir, CA_OPEN_NO_HSM, &ca)) != LY_OK ||
	    (r = ca_identity_parse_key(ca_conf(ca), kind, value, &key)) !=
	    LY_OK)
		goto out;
	if (disable)
		r = ca_identity_disable(ca, key, reason, actor, &n);
	else
		r = ca_identity_enable(ca, key, actor);
 out:
	ca_close(ca);
	if (r != LY_OK) {
		free(key);
		return ops_fail(r);
	}
	if (disable)
		printf("disabled %s; %zu certificates revoked\n", key, n);
	else
		printf("enabled %s\n", key);
	free(key);
	return 0;
}

static int
identity_list(const char *dir, int argc, char **argv)
{
	struct ca *ca = NULL;
	json_t *a = NULL, *o;
	size_t i;
	int json = argc == 2 && strcmp(argv[1], "--json") == 0, r;

	if (argc > 2 || (argc == 2 && !json))
		return admin_usage(identity_usage, NULL);
	if ((r = ca_open(dir, CA_OPEN_READONLY, &ca)) == LY_OK)
		r = ca_identity_disabled_list(ca, &a);
	ca_close(ca);
	if (r != LY_OK)
		return ops_fail(r);
	if (json) {
		char *s = json_dumps(a, JSON_INDENT(2));

		if (s != NULL)
			printf("%s\n", s);
		free(s);
	} else {
		printf("%-20s %-16s %s\n", "DISABLED_AT", "BY", "IDENTITY");
		json_array_foreach(a, i, o)
			printf("%-20s %-16s %s\n", json_string_value(
			    json_object_get(o, "disabled_at")),
			    json_string_value(json_object_get(o, "by")),
			    json_string_value(json_object_get(o, "identity")));
	}
	json_decref(a);
	return 0;
}

static int
cmd_identity(const char *dir, const char *actor, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		if (argc < 2)
			return admin_usage(identity_usage, NULL);
		printf("usage: ca-admin --dir DIR %s\n", identity_usage);
		return 0;
	}
	if (strcmp(argv[1], "disable") == 0)
		return identity_change(dir, actor, argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "enable") == 0)
		return identity_change(dir, actor, argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "list") == 0)
		return identity_list(dir, argc - 1, argv + 1);
	return admin_usage(identity_usage, "unknown identity command");
}

static int
cmd_upgrade(const char *dir, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "backup", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "upgrade [--backup FILE]";
	const char *backup = NULL;
	char *path = NULL;
	uint32_t from = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			backup = optarg;
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n", u);
			return 0;
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc)
		return admin_usage(u, NULL);
	if ((r = ca_upgrade(dir, backup, actor, &from, &path)) != LY_OK)
		return ops_fail(r);
	printf("store upgraded from schema version %u to %d; backup before "
	    "the upgrade: %s\n", from, STORE_SCHEMA_VERSION, path);
	free(path);
	return 0;
}

static void
tidy_print(const char *kind, const char *id, const char *status, time_t when,
    void *arg)
{
	char ts[21];

	ly_time_fmt(when, ts);
	printf("%s %-11s %-40s %-8s %s\n", *(int *)arg ? "would remove" :
	    "removed", kind, id, status, ts);
}

static int
cmd_tidy(const char *dir, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "keep", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "tidy [--dry-run] [--keep DAYS]";
	struct ca_tidy_info ti;
	struct ca *ca = NULL;
	char *end;
	long keep = CA_TIDY_KEEP_DAYS;
	int c, dry = 0, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			dry = 1;
			break;
		case 'k':
			keep = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || keep < 0 ||
			    keep > 36600)
				return admin_usage(u, "--keep takes 0 to 36600 "
				    "days");
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n", u);
			return 0;
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc)
		return admin_usage(u, NULL);
	if ((r = ca_open(dir, dry ? CA_OPEN_READONLY : CA_OPEN_NO_HSM,
	    &ca)) == LY_OK)
		r = ca_tidy(ca, (int)keep, dry, actor, tidy_print, &dry, &ti);
	ca_close(ca);
	if (r != LY_OK)
		return ops_fail(r);
	printf("%s %zu certificate records (%zu revoked) and %zu tokens that "
	    "expired or were used more than %ld days ago; %zu revoked kept "
	    "until a CRL after their expiry lists them\n", dry ?
	    "would remove" : "removed", ti.certs, ti.revoked, ti.tokens, keep,
	    ti.kept);
	return 0;
}

static int
cmd_status(const char *dir, const char *actor, int argc, char **argv)
{
	(void)actor;
	return admin_status(dir, argc, argv);
}

static const struct {
	const char	*name;
	int		(*fn)(const char *, const char *, int, char **);
} ops[] = {
	{ "status", cmd_status },
	{ "tidy", cmd_tidy },
	{ "upgrade", cmd_upgrade },
	{ "backup", cmd_backup },
	{ "restore", cmd_restore },
	{ "identity", cmd_identity },
};

int
admin_ops(const char *dir, const char *actor, int argc, char **argv)
{
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(argv[0], ops[i].name) == 0) {
			admin_cmdname = ops[i].name;
			return ops[i].fn(dir, actor, argc, argv);
		}
	fprintf(stderr, "ca-admin: unknown command \"%s\"\n", argv[0]);
	return EXIT_USAGE;
}
