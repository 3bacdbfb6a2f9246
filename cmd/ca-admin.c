/*
 * ca-admin — the operator's command line. See ca-admin(8).
 *
 * This file holds main(): the global options, the default instance and
 * the table of commands; cmd/admin.h names the files of the commands.
 *
 * Exit status: 0 success, 1 the operation failed (the message says why),
 * 2 usage error. Input that is refused (CSR, identity, profile, PIN)
 * changes nothing in the store; an output file is created before anything
 * changes, and the serial of a certificate that was issued is printed.
 */
#include "config.h"

#include <sys/stat.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/admin.h"
#include "cmd/admin_ops.h"
#include "util/util.h"

/* The default instance of an installed system (configure's localstatedir). */
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif
#define DEFAULT_DIR	LOCALSTATEDIR "/lib/lanyard"

/* The commands of cmd/admin_ops.c (running an instance for years). */
static int
admin_run_ops(int argc, char **argv)
{
	return admin_ops(admin_dir, admin_actor(), argc, argv);
}

struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
};

static const struct cmd cmds[] = {
	{ "config", admin_config, "print the default ca.conf, to edit for init --config" },
	{ "init", admin_init, "create a new instance in an empty directory" },
	{ "issue", admin_issue, "issue a certificate from a CSR" },
	{ "reissue", admin_reissue, "reissue a valid certificate for a new CSR" },
	{ "revoke", admin_revoke, "revoke a certificate" },
	{ "list", admin_list, "list certificates" },
	{ "show", admin_show, "show one certificate" },
	{ "token", admin_token, "create, list or revoke one-time enrollment tokens" },
	{ "audit", admin_audit, "verify or list the audit log" },
	{ "crl", admin_crl, "generate and publish every CRL now" },
	{ "ocsp", admin_ocsp, "re-sign OCSP responses that are due" },
	{ "root", admin_root, "sign the root CRL and the OCSP responses about CA certificates" },
	{ "issuer", admin_issuer, "list, create, roll over or import issuing CAs" },
	{ "publish", admin_publish, "write CA certificates, CRLs and OCSP responses as static files" },
	{ "backup", admin_run_ops, "write a verified backup of the instance to a file" },
	{ "restore", admin_run_ops, "make a new instance from a backup and the published CRLs" },
	{ "identity", admin_run_ops, "disable, enable or list disabled identities" },
	{ "upgrade", admin_run_ops, "migrate the store to this version's schema, after a backup" },
	{ "tidy", admin_run_ops, "remove records that expired long ago (never a needed CRL entry)" },
	{ "status", admin_run_ops, "what needs action today; non-zero exit if anything does" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ca-admin [--dir DIR] [-v] COMMAND [OPTIONS]\n"
	    "       ca-admin --help | --version\n\n"
	    "The instance directory is --dir DIR (before or after the "
	    "command),\nelse $LANYARD_DIR, else the default instance %s.\n\n"
	    "Commands (ca-admin COMMAND --help for each):\n", DEFAULT_DIR);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].usage);
}

/*
 * Takes the global options out of the command's arguments (argv[a..]),
 * wherever they are: "ca-admin issue --dir demo ..." is the same as
 * "ca-admin --dir demo issue ...". Stops at "--". Returns the new argc
 * or -1 (message printed) for --dir without a value.
 */
static int
take_global(int argc, char **argv, int a)
{
	int i, n = a;

	for (i = a; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--dir") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "ca-admin: --dir wants the "
				    "instance directory\n");
				return -1;
			}
			admin_dir = argv[++i];
		} else if (strncmp(argv[i], "--dir=", 6) == 0)
			admin_dir = argv[i] + 6;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

/*
 * Every command but init (and config and --help) works on an instance:
 * a directory that is not one is named as such at once.
 */
static int
instance_check(const char *d, int explicit)
{
	struct stat st;
	char *conf;
	int ok;

	if ((conf = ly_path_join(d, "ca.conf")) == NULL)
		return 1;
	ok = stat(conf, &st) == 0;
	free(conf);
	if (ok)
		return 0;
	if (stat(d, &st) == -1)
		fprintf(stderr, "ca-admin: %s: no such directory%s: give "
		    "--dir DIR or set LANYARD_DIR, or create it with "
		    "ca-admin --dir DIR init\n", d, explicit ? "" :
		    " (the default instance)");
	else
		fprintf(stderr, "ca-admin: %s is not a Lanyard instance (it "
		    "has no ca.conf): give the directory ca-admin init made, "
		    "or create one with ca-admin --dir DIR init\n", d);
	return 1;
}

int
main(int argc, char **argv)
{
	const char *env;
	size_t i;
	int a = 1, explicit = 1;

	while (a < argc && argv[a][0] == '-') {
		if (strcmp(argv[a], "--dir") == 0 && a + 1 < argc) {
			admin_dir = argv[a + 1];
			a += 2;
		} else if (strncmp(argv[a], "--dir=", 6) == 0) {
			admin_dir = argv[a] + 6;
			a++;
		} else if (strcmp(argv[a], "--help") == 0 ||
		    strcmp(argv[a], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[a], "--version") == 0) {
			printf("ca-admin (lanyard) %s\n", PACKAGE_VERSION);
			return 0;
		} else if (strcmp(argv[a], "-v") == 0) {
			ly_log_setlevel(LY_LOG_DEBUG);
			a++;
		} else {
			fprintf(stderr, "ca-admin: unknown option %s\n",
			    argv[a]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (a >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((argc = take_global(argc, argv, a)) < 0)
		return EXIT_USAGE;
	if (admin_dir == NULL && (env = getenv("LANYARD_DIR")) != NULL &&
	    env[0] != '\0')
		admin_dir = env;
	if (admin_dir == NULL || admin_dir[0] == '\0') {
		admin_dir = DEFAULT_DIR;
		explicit = 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[a], cmds[i].name) != 0)
			continue;
		admin_cmdname = cmds[i].name;
		if (!admin_help_asked(argc - a, argv + a) &&
		    strcmp(cmds[i].name, "init") != 0 &&
		    strcmp(cmds[i].name, "config") != 0 &&
		    /* restore makes the instance --dir names */
		    strcmp(cmds[i].name, "restore") != 0 &&
		    instance_check(admin_dir, explicit))
			return 1;
		/* Each command parses its own options from its own argv. */
		optind = 1;
		return cmds[i].fn(argc - a, argv + a);
	}
	fprintf(stderr, "ca-admin: unknown command \"%s\"\n", argv[a]);
	usage(stderr);
	return EXIT_USAGE;
}
