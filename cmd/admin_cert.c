/*
 * cmd/admin_cert.c — ca-admin's certificate commands: issue, reissue,
 * revoke, list and show. An output file is created before the CA signs
 * anything, and the serial of what was issued is always named, so a
 * failed write never leads to a second certificate on retry.
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
#include "ca/ops.h"
#include "ca/store.h"
#include "cmd/admin.h"
#include "conf/conf.h"
#include "crl/crl.h"
#include "ocsp/ocsp.h"
#include "util/util.h"

/*
 * Hands the certificate ca just issued (and stored) to the operator:
 * into the output made ready before (o), and its serial on standard
 * output with --out. If the write fails after all, the message names the
 * serial, so that no one issues a second certificate to get the first.
 */
static int
deliver(struct ca *ca, X509 *x, const struct ca_serial *serial, int chain,
    struct admin_out *o)
{
	char *hex, why[512];
	int r;

	if ((hex = ca_serial_hex(serial)) == NULL)
		return LY_ERR_ALLOC;
	if ((r = admin_output_cert(ca, x, chain, o)) != LY_OK) {
		snprintf(why, sizeof(why), "%s", ly_errdetail());
		ly_fail(r, "%s; certificate %s was issued and stored: "
		    "ca-admin show --serial %s prints it", why, hex, hex);
	} else if (o->path != NULL)
		printf("issued %s: %s\n", hex, o->path);
	free(hex);
	return r;
}

int
admin_issue(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "csr", required_argument, NULL, 'c' },
		{ "identity", required_argument, NULL, 'i' },
		{ "spiffe", required_argument, NULL, 's' },
		{ "dns", required_argument, NULL, 'd' },
		{ "ip", required_argument, NULL, 'a' },
		{ "days", required_argument, NULL, 'D' },
		{ "out", required_argument, NULL, 'o' },
		{ "chain", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "issue --profile P --csr FILE (--identity JSON | "
	    "--spiffe URI | --dns NAME... | --ip ADDR...) [--days N] "
	    "[--out FILE] [--chain]";
	struct ca_request rq;
	struct ca *ca = NULL;
	struct ocsp_responder *resp = NULL;
	struct ca_serial serial;
	struct admin_out o = { NULL, NULL, -1 };
	const char *csrfile = NULL, *out = NULL;
	const char *dns[CA_MAX_NAMES + 1], *ip[CA_MAX_NAMES + 1];
	size_t ndns = 0, nip = 0, i;
	unsigned char *csr = NULL;
	X509 *x = NULL;
	char *end;
	int c, chain = 0, r = LY_OK, ex = 1;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	memset(&rq, 0, sizeof(rq));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			rq.profile = optarg;
			break;
		case 'c':
			csrfile = optarg;
			break;
		case 'i':
		case 's':
			if (rq.identity.kind != CONF_ID_NONE)
				return admin_usage(u, "give one --identity or "
				    "--spiffe");
			rq.identity.kind = c == 'i' ? CONF_ID_JSON :
			    CONF_ID_SPIFFE;
			rq.identity.value = optarg;
			break;
		case 'd':
		case 'a':
			if (ndns + nip >= CA_MAX_NAMES)
				return admin_usage(u, "too many names");
			if (c == 'd')
				dns[ndns++] = optarg;
			else
				ip[nip++] = optarg;
			break;
		case 'D':
			rq.days = (int)strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || rq.days <= 0)
				return admin_usage(u, "--days wants a positive "
				    "number");
			break;
		case 'o':
			out = optarg;
			break;
		case 'C':
			chain = 1;
			break;
		case 'h':
			return admin_help(u, NULL);
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc)
		return admin_usage(u, "unexpected argument");
	if (rq.profile == NULL || csrfile == NULL)
		return admin_usage(u, "--profile and --csr are required");
	if (rq.identity.kind == CONF_ID_NONE && ndns + nip == 0)
		return admin_usage(u, "an identity, SPIFFE ID, DNS name or IP "
		    "address is required");
	/* The identity value is the caller's; ca_issue() checks it all. */
	for (i = 0; r == LY_OK && i < ndns; i++)
		r = ca_identity_add_dns(&rq.identity, dns[i]);
	for (i = 0; r == LY_OK && i < nip; i++)
		r = ca_identity_add_ip(&rq.identity, ip[i]);
	if (r != LY_OK)
		goto out;
	rq.actor = admin_actor();
	if ((r = admin_read_input(csrfile, &csr, &rq.csrlen)) != LY_OK)
		goto out;
	rq.csr = csr;
	if ((r = admin_out_open(out, &o)) != LY_OK ||
	    (r = admin_open_with_ocsp(0, 0, &ca, &resp)) != LY_OK ||
	    (r = ca_issue(ca, &rq, &x, &serial)) != LY_OK ||
	    (r = deliver(ca, x, &serial, chain, &o)) != LY_OK)
		goto out;
	ex = 0;
 out:
	if (ex != 0)
		admin_fail(r);
	/* value points into argv: only the names are ours to free. */
	rq.identity.value = NULL;
	ca_identity_clear(&rq.identity);
	admin_out_abort(&o);
	X509_free(x);
	ocsp_responder_free(resp);
	ca_close(ca);
	free(csr);
	return ex;
}

static int
parse_serial_opt(const char *u, const char *s, struct ca_serial *serial)
{
	if (ca_serial_parse(s, serial) != LY_OK) {
		admin_usage(u, "--serial wants the hex serial (as openssl x509 "
		    "-serial prints it)");
		return 0;
	}
	return 1;
}

int
admin_reissue(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "csr", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "chain", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "reissue --serial HEX --csr FILE [--out FILE] "
	    "[--chain]";
	struct ca *ca = NULL;
	struct ocsp_responder *resp = NULL;
	struct ca_serial old, serial;
	struct admin_out o = { NULL, NULL, -1 };
	const char *csrfile = NULL, *out = NULL, *sarg = NULL;
	unsigned char *csr = NULL;
	size_t csrlen;
	X509 *x = NULL;
	int c, chain = 0, r, ex = 1;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sarg = optarg;
			break;
		case 'c':
			csrfile = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'C':
			chain = 1;
			break;
		case 'h':
			return admin_help(u, NULL);
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc || sarg == NULL || csrfile == NULL)
		return admin_usage(u, "--serial and --csr are required");
	if (!parse_serial_opt(u, sarg, &old))
		return EXIT_USAGE;
	if ((r = admin_read_input(csrfile, &csr, &csrlen)) != LY_OK ||
	    (r = admin_out_open(out, &o)) != LY_OK ||
	    (r = admin_open_with_ocsp(0, 0, &ca, &resp)) != LY_OK ||
	    (r = ca_reissue(ca, &old, csr, csrlen, admin_actor(), &x,
	    &serial)) != LY_OK ||
	    (r = deliver(ca, x, &serial, chain, &o)) != LY_OK)
		goto out;
	ex = 0;
 out:
	if (ex != 0)
		admin_fail(r);
	admin_out_abort(&o);
	X509_free(x);
	ocsp_responder_free(resp);
	ca_close(ca);
	free(csr);
	return ex;
}

/*
 * --issuer: the certificate with that serial must be one the CA named
 * issued (issuer and serial name a certificate together; a record of
 * another CA is "not found"). LY_ERR_NOT_FOUND if not, or no record.
 */
static int
issuer_check(struct ca *ca, const struct ca_serial *serial,
    const char *issuer)
{
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	int r;

	if (issuer == NULL)
		return LY_OK;
	if (ca_slot_by_name(ca, issuer) < 0)
		return ly_fail(LY_ERR_NOT_FOUND, "no CA called %s (ca-admin "
		    "issuer list)", issuer);
	if ((r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		return r;
	r = store_cert_get(txn, serial, &rec);
	store_txn_abort(txn);
	if (r == LY_OK && strcmp(ca_slot_name(ca, rec->ca), issuer) != 0)
		r = ly_fail(LY_ERR_NOT_FOUND, "the certificate with that serial "
		    "was issued by the %s CA, not %s", ca_slot_name(ca, rec->ca),
		    issuer);
	store_cert_free(rec);
	return r;
}

int
admin_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "invalidity-date", required_argument, NULL, 'i' },
		{ "unknown", no_argument, NULL, 'u' },
		{ "issuer", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "revoke --serial HEX [--issuer CA] [--reason "
	    "keyCompromise|superseded|cessationOfOperation|affiliationChanged|"
	    "privilegeWithdrawn|...] [--invalidity-date YYYY-MM-DDTHH:MM:SSZ] "
	    "[--unknown]";
	const char *issuer = NULL;
	int slot;
	struct ca *ca = NULL;
	struct ocsp_responder *resp = NULL;
	struct ca_serial serial;
	const char *sarg = NULL;
	time_t inv = 0;
	int c, reason = -1, unknown = 0, r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sarg = optarg;
			break;
		case 'u':
			unknown = 1;
			break;
		case 'I':
			issuer = optarg;
			break;
		case 'r':
			if ((reason = ca_reason_parse(optarg)) < -1)
				return admin_usage(u, "unknown reason");
			break;
		case 'i':
			if (ly_time_parse(optarg, &inv) != LY_OK)
				return admin_usage(u, "bad --invalidity-date");
			break;
		case 'h':
			return admin_help(u, NULL);
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc || sarg == NULL)
		return admin_usage(u, "--serial is required");
	if (!parse_serial_opt(u, sarg, &serial))
		return EXIT_USAGE;
	/* Revocation must not wait for the HSM: the response is best effort. */
	if ((r = admin_open_with_ocsp(0, 1, &ca, &resp)) == LY_OK &&
	    (r = issuer_check(ca, &serial, issuer)) == LY_OK)
		r = ca_revoke(ca, &serial, reason, inv, admin_actor());
	/*
	 * Issued after the backup this instance was restored from (ops.h):
	 * only when asked, so that a mistyped serial is still an error.
	 */
	/* Without --issuer: the first issuing CA, as before several. */
	slot = ca != NULL && issuer != NULL ? ca_slot_by_name(ca, issuer) :
	    CA_ISSUING;
	if (r == LY_ERR_NOT_FOUND && unknown && slot >= 0 &&
	    (r = ca_revoke_unknown(ca, &serial, slot, reason, 0, inv,
	    admin_actor())) == LY_OK)
		printf("no certificate %s in the store: revocation recorded "
		    "without one, for the CRL and OCSP\n", sarg);
	else if (r == LY_ERR_NOT_FOUND && !unknown)
		(void)ly_fail(r, "no certificate with that serial (one issued "
		    "after the backup this instance was restored from is "
		    "revoked with --unknown)");
	ocsp_responder_free(resp);
	ca_close(ca);
	if (r != LY_OK) {
		admin_fail(r);
		return 1;
	}
	printf("revoked %s (%s)\n", sarg, ca_reason_name(reason));
	return 0;
}

struct list_arg {
	const struct ca	*ca;
	const char	*status;
	const char	*profile;
	json_t		*array;
	size_t		 n;
};

static int
cert_list_cb(const struct store_cert *c, void *arg)
{
	struct list_arg *la = arg;
	char *hex, na[21];

	if (la->status != NULL && strcmp(la->status, "all") != 0 &&
	    strcmp(la->status, ca_cert_status(c)) != 0)
		return 0;
	if (la->profile != NULL && strcmp(la->profile, c->profile) != 0)
		return 0;
	la->n++;
	if (la->array != NULL)
		return json_array_append_new(la->array, ca_cert_json(la->ca, c, NULL)) == 0 ?
		    0 : LY_ERR_ALLOC;
	if ((hex = ca_serial_hex(&c->serial)) == NULL)
		return LY_ERR_ALLOC;
	ly_time_fmt((time_t)c->not_after, na);
	printf("%-40s %-8s %-12s %s %s\n", hex, ca_cert_status(c), c->profile,
	    na, c->identity != NULL ? c->identity : "-");
	free(hex);
	return 0;
}

int
admin_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "profile", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "list [--status valid|revoked|expired|reserved|"
	    "burned|all] [--profile P] [--json]";
	struct list_arg la;
	struct ca *ca = NULL;
	struct store_txn *txn = NULL;
	int c, json = 0, r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	memset(&la, 0, sizeof(la));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "valid") != 0 &&
			    strcmp(optarg, "revoked") != 0 &&
			    strcmp(optarg, "expired") != 0 &&
			    strcmp(optarg, "reserved") != 0 &&
			    strcmp(optarg, "burned") != 0 &&
			    strcmp(optarg, "all") != 0)
				return admin_usage(u, "unknown status");
			la.status = optarg;
			break;
		case 'p':
			la.profile = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			return admin_help(u, NULL);
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc)
		return admin_usage(u, "unexpected argument");
	if (json && (la.array = json_array()) == NULL)
		return 1;
	if ((r = ca_open(admin_dir, CA_OPEN_READONLY, &ca)) != LY_OK ||
	    (r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	la.ca = ca;
	if (!json)
		printf("%-40s %-8s %-12s %-20s %s\n", "SERIAL", "STATUS",
		    "PROFILE", "NOT_AFTER", "IDENTITY");
	if ((r = store_cert_foreach(txn, cert_list_cb, &la)) != LY_OK)
		goto out;
	if (json)
		r = admin_print_json(la.array);
 out:
	store_txn_abort(txn);
	ca_close(ca);
	json_decref(la.array);
	return admin_exit(r);
}

int
admin_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "issuer", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "show --serial HEX [--issuer CA] [--json]";
	const char *issuer = NULL;
	struct ca *ca = NULL;
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	struct ca_serial serial;
	const char *sarg = NULL, *k;
	json_t *o = NULL, *v;
	int c, json = 0, r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sarg = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'I':
			issuer = optarg;
			break;
		case 'h':
			return admin_help(u, NULL);
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc || sarg == NULL)
		return admin_usage(u, "--serial is required");
	if (!parse_serial_opt(u, sarg, &serial))
		return EXIT_USAGE;
	if ((r = ca_open(admin_dir, CA_OPEN_READONLY, &ca)) != LY_OK ||
	    (r = issuer_check(ca, &serial, issuer)) != LY_OK ||
	    (r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	if ((r = store_cert_get(txn, &serial, &rec)) != LY_OK) {
		if (r == LY_ERR_NOT_FOUND)
			ly_fail(r, "no certificate with serial %s", sarg);
		goto out;
	}
	if ((o = ca_cert_json(ca, rec, "pem")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if (json) {
		r = admin_print_json(o);
		goto out;
	}
	json_object_foreach(o, k, v) {
		if (strcmp(k, "pem") != 0)
			printf("%-16s %s\n", k, json_string_value(v));
	}
	if ((v = json_object_get(o, "pem")) != NULL)
		fputs(json_string_value(v), stdout);
 out:
	store_txn_abort(txn);
	store_cert_free(rec);
	json_decref(o);
	ca_close(ca);
	return admin_exit(r);
}

