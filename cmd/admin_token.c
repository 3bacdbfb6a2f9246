/*
 * cmd/admin_token.c — ca-admin token create|list|revoke: one-time
 * enrollment tokens (ca/token.c).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "cmd/admin.h"
#include "conf/conf.h"
#include "crl/crl.h"
#include "ocsp/ocsp.h"
#include "util/util.h"

/* ---- token create|list|revoke ------------------------------------------ */

static const char *token_create_about = "Prints the one-time token "
    "(shown only once) and its id (for list and revoke).";
static const char *token_usage = "token create --profile P --identity JSON "
    "[--ttl 24h] | token list [--json] | token revoke --id HEX";

static int
token_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "identity", required_argument, NULL, 'i' },
		{ "spiffe", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "token create --profile P --identity JSON | "
	    "--spiffe SPIFFE-ID [--ttl 24h]";
	const char *profile = NULL, *identity = NULL;
	struct ca *ca = NULL;
	char *tok = NULL, *id = NULL;
	long ttl = 86400;
	int c, r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, token_create_about);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			profile = optarg;
			break;
		case 'i':
		case 's':
			/* As for issue: one identity, JSON or a SPIFFE ID. */
			if (identity != NULL)
				return admin_usage(u, "one --identity or "
				    "--spiffe");
			identity = optarg;
			break;
		case 't':
			if ((ttl = conf_duration_parse(optarg)) <= 0 ||
			    ttl > CA_TOKEN_TTL_MAX)
				return admin_usage(u, "--ttl must be a duration "
				    "of at most 30d (30s, 10m, 24h, 7d)");
			break;
		case 'h':
			return admin_help(u, token_create_about);
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc || profile == NULL || identity == NULL)
		return admin_usage(u, "--profile and --identity (or --spiffe) "
		    "are required");
	if ((r = ca_open(admin_dir, CA_OPEN_NO_HSM, &ca)) == LY_OK)
		r = ca_token_create(ca, profile, identity, ttl, admin_actor(), &tok,
		    &id);
	ca_close(ca);
	if (r != LY_OK) {
		admin_fail(r);
		return 1;
	}
	printf("token: %s\nid: %s\n", tok, id);
	OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	free(id);
	return 0;
}

static int
token_list_cb(const struct ca_token_info *t, void *arg)
{
	json_t *array = arg, *o;
	char buf[21];

	if (array == NULL) {
		ly_time_fmt(t->expires, buf);
		printf("%-16s %-8s %-10s %-20s %s\n", t->id,
		    ca_token_state_name(t->state), t->profile, buf,
		    t->identity);
		return 0;
	}
	if ((o = ca_token_json(t)) == NULL ||
	    json_array_append_new(array, o) != 0)
		return LY_ERR_ALLOC;
	return 0;
}

static int
token_list(int argc, char **argv)
{
	const char *u = "token list [--json]";
	struct ca *ca = NULL;
	json_t *array = NULL;
	int r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	if (argc == 2 && strcmp(argv[1], "--json") == 0) {
		if ((array = json_array()) == NULL)
			return 1;
	} else if (argc != 1)
		return admin_usage(u, NULL);
	if ((r = ca_open(admin_dir, CA_OPEN_READONLY, &ca)) != LY_OK)
		goto out;
	if (array == NULL)
		printf("%-16s %-8s %-10s %-20s %s\n", "ID", "STATE", "PROFILE",
		    "EXPIRES", "IDENTITY");
	if ((r = ca_token_list(ca, token_list_cb, array)) != LY_OK)
		goto out;
	if (array != NULL)
		r = admin_print_json(array);
 out:
	ca_close(ca);
	json_decref(array);
	return admin_exit(r);
}

static int
token_revoke(int argc, char **argv)
{
	const char *u = "token revoke --id HEX";
	struct ca *ca = NULL;
	int r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	if (argc != 3 || strcmp(argv[1], "--id") != 0)
		return admin_usage(u, "--id is required");
	if ((r = ca_open(admin_dir, CA_OPEN_NO_HSM, &ca)) == LY_OK)
		r = ca_token_revoke(ca, argv[2], admin_actor());
	ca_close(ca);
	if (r != LY_OK) {
		admin_fail(r);
		return 1;
	}
	printf("revoked token %s\n", argv[2]);
	return 0;
}

int
admin_token(int argc, char **argv)
{
	if (argc < 2)
		return admin_usage(token_usage, NULL);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return admin_help(token_usage, NULL);
	optind = 1;
	if (strcmp(argv[1], "create") == 0)
		return token_create(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return token_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return token_revoke(argc - 1, argv + 1);
	return admin_usage(token_usage, "unknown token command");
}

