/*
 * ca-admin — the operator's command line. See ca-admin(8).
 *
 * Exit status: 0 success, 1 the operation failed (the message says why),
 * 2 usage error. Input that is refused (CSR, identity, profile, PIN)
 * changes nothing in the store; a certificate that was issued is stored
 * and audited even if writing --out fails afterwards.
 */
#include "config.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "conf/conf.h"
#include "crl/bundle.h"
#include "crl/crl.h"
#include "ocsp/ocsp.h"
#include "util/util.h"

#define EXIT_USAGE	2

static const char *dir;
static const char *cmdname = "ca-admin";

struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
};

static void
fail_msg(int r)
{
	const char *d = ly_errdetail();

	if (d[0] != '\0')
		fprintf(stderr, "ca-admin: %s: %s: %s\n", cmdname,
		    ly_strerror(r), d);
	else
		fprintf(stderr, "ca-admin: %s: %s\n", cmdname, ly_strerror(r));
}

static int
usage_err(const char *usage, const char *why)
{
	if (why != NULL)
		fprintf(stderr, "ca-admin: %s: %s\n", cmdname, why);
	fprintf(stderr, "usage: ca-admin [--dir DIR] %s\n", usage);
	return EXIT_USAGE;
}

/* "cli:<user>" names the operator in the audit log. */
static const char *
actor(void)
{
	static char buf[96];
	struct passwd *pw = getpwuid(geteuid());

	snprintf(buf, sizeof(buf), "cli:%s", pw != NULL ? pw->pw_name :
	    "unknown");
	return buf;
}

static int
read_input(const char *path, unsigned char **buf, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	unsigned char *b, *nb;

	if (strcmp(path, "-") != 0)
		/* Over the CSR limit, so the parser is the one to say "too large". */
		return ly_file_read(path, 4 * CA_CSR_MAX, buf, len);
	if ((b = malloc(cap)) == NULL)
		return LY_ERR_ALLOC;
	while ((got = fread(b + n, 1, cap - n - 1, stdin)) > 0) {
		n += got;
		if (n > CA_CSR_MAX) {
			free(b);
			return ly_fail(LY_ERR_TOO_LARGE, "standard input over "
			    "%d bytes", CA_CSR_MAX);
		}
		if (cap - n - 1 == 0) {
			if ((nb = realloc(b, cap * 2)) == NULL) {
				free(b);
				return LY_ERR_ALLOC;
			}
			b = nb;
			cap *= 2;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return LY_OK;
}

/*
 * Opens the instance with its OCSP responder, so that every certificate is
 * stored with its pre-signed response (ocsp.h). With optional set, a
 * responder that cannot be had (HSM away) is a warning, not a failure.
 */
static int
open_with_ocsp(unsigned int flags, int optional, struct ca **cap,
    struct ocsp_responder **respp)
{
	int r;

	*respp = NULL;
	if ((r = ca_open(dir, flags, cap)) != LY_OK)
		return r;
	if ((r = ocsp_responder_new(*cap, respp)) != LY_OK && optional) {
		fprintf(stderr, "ca-admin: %s: warning: no OCSP responder (%s: "
		    "%s); responses will be signed on demand\n", cmdname,
		    ly_strerror(r), ly_errdetail());
		ly_errclear();
		return LY_OK;
	}
	return r;
}

/* Writes the certificate (and the issuing CA with chain) as PEM. */
static int
output(struct ca *ca, X509 *x, int chain, const char *out)
{
	BIO *b;
	char *data;
	long len;
	int r = LY_ERR_INTERNAL;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return LY_ERR_ALLOC;
	if (!PEM_write_bio_X509(b, x) || (chain &&
	    !PEM_write_bio_X509(b, ca_cert(ca, CA_ISSUING))))
		goto out;
	len = BIO_get_mem_data(b, &data);
	if (out != NULL)
		r = ly_file_write_atomic(out, data, (size_t)len, 0644);
	else
		r = fwrite(data, 1, (size_t)len, stdout) == (size_t)len &&
		    fflush(stdout) == 0 ? LY_OK : LY_ERR_IO;
 out:
	BIO_free(b);
	return r;
}

static int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-type", required_argument, NULL, 'k' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "init [--key-type ec-p256|ec-p384|rsa-2048|rsa-3072|"
	    "rsa-4096 | --config FILE]";
	enum conf_keytype kt = CONF_KEY_EC_P256;
	const char *cfile = NULL, *kts = NULL;
	unsigned char *text = NULL;
	size_t len;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if ((kt = conf_keytype_parse(optarg)) == CONF_KEY_NONE)
				return usage_err(u, "unknown key type");
			kts = optarg;
			break;
		case 'c':
			cfile = optarg;
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n", u);
			return 0;
		default:
			return usage_err(u, NULL);
		}
	}
	if (optind != argc)
		return usage_err(u, "unexpected argument");
	if (kts != NULL && cfile != NULL)
		return usage_err(u, "the key types of --config are in its "
		    "[root] and [issuing] sections");
	/* ca.conf is small; 256 KiB is what conf_load() accepts too. */
	if (cfile != NULL &&
	    (r = ly_file_read(cfile, 256 * 1024, &text, &len)) != LY_OK) {
		fail_msg(r);
		return 1;
	}
	if (text != NULL && memchr(text, '\0', len) != NULL) {
		free(text);
		fprintf(stderr, "ca-admin: init: %s contains a NUL byte\n",
		    cfile);
		return 1;
	}
	r = ca_init(dir, kt, (const char *)text);
	free(text);
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	/* The OCSP signer and the first CRLs, so the instance serves at once. */
	{
		struct ca *ca = NULL;
		struct ocsp_responder *resp = NULL;

		if ((r = open_with_ocsp(0, 0, &ca, &resp)) == LY_OK &&
		    (r = crl_generate_all(ca, actor(),
		    ca_conf(ca)->publish_dir)) == LY_OK)
			r = crl_write_bundle(ca, ca_conf(ca)->publish_dir);
		ocsp_responder_free(resp);
		ca_close(ca);
		if (r != LY_OK) {
			fail_msg(r);
			return 1;
		}
	}
	printf("initialised %s: root and issuing CA keys on their tokens\n",
	    dir);
	return 0;
}

static int
cmd_issue(int argc, char **argv)
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
	const char *csrfile = NULL, *out = NULL;
	const char *dns[CA_MAX_NAMES + 1], *ip[CA_MAX_NAMES + 1];
	size_t ndns = 0, nip = 0, i;
	unsigned char *csr = NULL;
	X509 *x = NULL;
	char *end;
	int c, chain = 0, r = LY_OK, ex = 1;

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
				return usage_err(u, "give one --identity or "
				    "--spiffe");
			rq.identity.kind = c == 'i' ? CONF_ID_JSON :
			    CONF_ID_SPIFFE;
			rq.identity.value = optarg;
			break;
		case 'd':
		case 'a':
			if (ndns + nip >= CA_MAX_NAMES)
				return usage_err(u, "too many names");
			if (c == 'd')
				dns[ndns++] = optarg;
			else
				ip[nip++] = optarg;
			break;
		case 'D':
			rq.days = (int)strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || rq.days <= 0)
				return usage_err(u, "--days wants a positive "
				    "number");
			break;
		case 'o':
			out = optarg;
			break;
		case 'C':
			chain = 1;
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n", u);
			return 0;
		default:
			return usage_err(u, NULL);
		}
	}
	if (optind != argc)
		return usage_err(u, "unexpected argument");
	if (rq.profile == NULL || csrfile == NULL)
		return usage_err(u, "--profile and --csr are required");
	if (rq.identity.kind == CONF_ID_NONE && ndns + nip == 0)
		return usage_err(u, "an identity, SPIFFE ID, DNS name or IP "
		    "address is required");
	/* The identity value is the caller's; ca_issue() checks it all. */
	for (i = 0; r == LY_OK && i < ndns; i++)
		r = ca_identity_add_dns(&rq.identity, dns[i]);
	for (i = 0; r == LY_OK && i < nip; i++)
		r = ca_identity_add_ip(&rq.identity, ip[i]);
	if (r != LY_OK)
		goto out;
	rq.actor = actor();
	if ((r = read_input(csrfile, &csr, &rq.csrlen)) != LY_OK)
		goto out;
	rq.csr = csr;
	if ((r = open_with_ocsp(0, 0, &ca, &resp)) != LY_OK ||
	    (r = ca_issue(ca, &rq, &x, &serial)) != LY_OK ||
	    (r = output(ca, x, chain, out)) != LY_OK)
		goto out;
	ex = 0;
 out:
	if (ex != 0)
		fail_msg(r);
	/* value points into argv: only the names are ours to free. */
	rq.identity.value = NULL;
	ca_identity_clear(&rq.identity);
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
		usage_err(u, "--serial wants the hex serial (as openssl x509 "
		    "-serial prints it)");
		return 0;
	}
	return 1;
}

static int
cmd_reissue(int argc, char **argv)
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
	const char *csrfile = NULL, *out = NULL, *sarg = NULL;
	unsigned char *csr = NULL;
	size_t csrlen;
	X509 *x = NULL;
	int c, chain = 0, r, ex = 1;

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
			printf("usage: ca-admin --dir DIR %s\n", u);
			return 0;
		default:
			return usage_err(u, NULL);
		}
	}
	if (optind != argc || sarg == NULL || csrfile == NULL)
		return usage_err(u, "--serial and --csr are required");
	if (!parse_serial_opt(u, sarg, &old))
		return EXIT_USAGE;
	if ((r = read_input(csrfile, &csr, &csrlen)) != LY_OK ||
	    (r = open_with_ocsp(0, 0, &ca, &resp)) != LY_OK ||
	    (r = ca_reissue(ca, &old, csr, csrlen, actor(), &x,
	    &serial)) != LY_OK ||
	    (r = output(ca, x, chain, out)) != LY_OK)
		goto out;
	ex = 0;
 out:
	if (ex != 0)
		fail_msg(r);
	X509_free(x);
	ocsp_responder_free(resp);
	ca_close(ca);
	free(csr);
	return ex;
}

static int
cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "invalidity-date", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "revoke --serial HEX [--reason keyCompromise|"
	    "superseded|cessationOfOperation|affiliationChanged|"
	    "privilegeWithdrawn|...] [--invalidity-date YYYY-MM-DDTHH:MM:SSZ]";
	struct ca *ca = NULL;
	struct ocsp_responder *resp = NULL;
	struct ca_serial serial;
	const char *sarg = NULL;
	time_t inv = 0;
	int c, reason = -1, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sarg = optarg;
			break;
		case 'r':
			if ((reason = ca_reason_parse(optarg)) < -1)
				return usage_err(u, "unknown reason");
			break;
		case 'i':
			if (ly_time_parse(optarg, &inv) != LY_OK)
				return usage_err(u, "bad --invalidity-date");
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n", u);
			return 0;
		default:
			return usage_err(u, NULL);
		}
	}
	if (optind != argc || sarg == NULL)
		return usage_err(u, "--serial is required");
	if (!parse_serial_opt(u, sarg, &serial))
		return EXIT_USAGE;
	/* Revocation must not wait for the HSM: the response is best effort. */
	if ((r = open_with_ocsp(0, 1, &ca, &resp)) == LY_OK)
		r = ca_revoke(ca, &serial, reason, inv, actor());
	ocsp_responder_free(resp);
	ca_close(ca);
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	printf("revoked %s (%s)\n", sarg, ca_reason_name(reason));
	return 0;
}

struct list_arg {
	const char	*status;
	const char	*profile;
	json_t		*array;
	size_t		 n;
};

static int
list_cb(const struct store_cert *c, void *arg)
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
		return json_array_append_new(la->array, ca_cert_json(c, NULL)) == 0 ?
		    0 : LY_ERR_ALLOC;
	if ((hex = ca_serial_hex(&c->serial)) == NULL)
		return LY_ERR_ALLOC;
	ly_time_fmt((time_t)c->not_after, na);
	printf("%-40s %-8s %-12s %s %s\n", hex, ca_cert_status(c), c->profile,
	    na, c->identity != NULL ? c->identity : "-");
	free(hex);
	return 0;
}

static int
print_json(json_t *o)
{
	int r = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);

	putchar('\n');
	return r == 0 ? LY_OK : LY_ERR_IO;
}

static int
cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "profile", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "list [--status valid|revoked|expired|reserved|all] "
	    "[--profile P] [--json]";
	struct list_arg la;
	struct ca *ca = NULL;
	struct store_txn *txn = NULL;
	int c, json = 0, r;

	memset(&la, 0, sizeof(la));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "valid") != 0 &&
			    strcmp(optarg, "revoked") != 0 &&
			    strcmp(optarg, "expired") != 0 &&
			    strcmp(optarg, "reserved") != 0 &&
			    strcmp(optarg, "all") != 0)
				return usage_err(u, "unknown status");
			la.status = optarg;
			break;
		case 'p':
			la.profile = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n", u);
			return 0;
		default:
			return usage_err(u, NULL);
		}
	}
	if (optind != argc)
		return usage_err(u, "unexpected argument");
	if (json && (la.array = json_array()) == NULL)
		return 1;
	if ((r = ca_open(dir, CA_OPEN_READONLY, &ca)) != LY_OK ||
	    (r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	if (!json)
		printf("%-40s %-8s %-12s %-20s %s\n", "SERIAL", "STATUS",
		    "PROFILE", "NOT_AFTER", "IDENTITY");
	if ((r = store_cert_foreach(txn, list_cb, &la)) != LY_OK)
		goto out;
	if (json)
		r = print_json(la.array);
 out:
	store_txn_abort(txn);
	ca_close(ca);
	json_decref(la.array);
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	return 0;
}

static int
cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "show --serial HEX [--json]";
	struct ca *ca = NULL;
	struct store_txn *txn = NULL;
	struct store_cert *rec = NULL;
	struct ca_serial serial;
	const char *sarg = NULL, *k;
	json_t *o = NULL, *v;
	int c, json = 0, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sarg = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n", u);
			return 0;
		default:
			return usage_err(u, NULL);
		}
	}
	if (optind != argc || sarg == NULL)
		return usage_err(u, "--serial is required");
	if (!parse_serial_opt(u, sarg, &serial))
		return EXIT_USAGE;
	if ((r = ca_open(dir, CA_OPEN_READONLY, &ca)) != LY_OK ||
	    (r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	if ((r = store_cert_get(txn, &serial, &rec)) != LY_OK) {
		if (r == LY_ERR_NOT_FOUND)
			ly_fail(r, "no certificate with serial %s", sarg);
		goto out;
	}
	if ((o = ca_cert_json(rec, "pem")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if (json) {
		r = print_json(o);
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
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	return 0;
}

static int
audit_list_cb(const struct store_audit_entry *e, void *arg)
{
	json_t *a = arg, *o;
	char t[21], *h;

	ly_time_fmt((time_t)e->time, t);
	if (a == NULL) {
		printf("%6llu %s %-20s %-14s %s\n", (unsigned long long)e->seq,
		    t, e->actor, e->action, e->detail);
		return 0;
	}
	if ((h = ly_hex_encode(e->hash, sizeof(e->hash))) == NULL)
		return LY_ERR_ALLOC;
	o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "seq",
	    (json_int_t)e->seq, "time", t, "actor", e->actor, "action",
	    e->action, "detail", e->detail, "hash", h);
	free(h);
	return json_array_append_new(a, o) == 0 ? 0 : LY_ERR_ALLOC;
}

static int
cmd_audit(int argc, char **argv)
{
	const char *u = "audit verify | audit list [--json]";
	struct ca *ca = NULL;
	struct store_txn *txn = NULL;
	json_t *a = NULL;
	uint64_t n = 0;
	int r;

	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: ca-admin --dir DIR %s\n", u);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "verify") == 0) {
		/* below */
	} else if (argc >= 2 && strcmp(argv[1], "list") == 0 &&
	    (argc == 2 || (argc == 3 && strcmp(argv[2], "--json") == 0))) {
		if (argc == 3 && (a = json_array()) == NULL)
			return 1;
	} else
		return usage_err(u, NULL);
	if ((r = ca_open(dir, CA_OPEN_READONLY, &ca)) != LY_OK ||
	    (r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	if (strcmp(argv[1], "verify") == 0) {
		if ((r = store_audit_verify(txn, &n)) == LY_OK)
			printf("audit log intact: %llu entries\n",
			    (unsigned long long)n);
	} else if ((r = store_audit_foreach(txn, audit_list_cb, a)) == LY_OK &&
	    a != NULL)
		r = print_json(a);
 out:
	store_txn_abort(txn);
	ca_close(ca);
	json_decref(a);
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	return 0;
}

static int
cmd_crl(int argc, char **argv)
{
	const char *u = "crl publish [--out DIR]";
	const char *out = NULL;
	struct ca *ca = NULL;
	int r;

	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: ca-admin --dir DIR %s\n", u);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "publish") == 0 &&
	    strcmp(argv[2], "--out") == 0)
		out = argv[3];
	else if (argc != 2 || strcmp(argv[1], "publish") != 0)
		return usage_err(u, NULL);
	if ((r = ca_open(dir, 0, &ca)) == LY_OK &&
	    (r = crl_generate_all(ca, actor(), out != NULL ? out :
	    ca_conf(ca)->publish_dir)) == LY_OK)
		r = crl_write_bundle(ca, out != NULL ? out :
		    ca_conf(ca)->publish_dir);
	if (r == LY_OK)
		printf("CRLs published to %s\n", out != NULL ? out :
		    ca_conf(ca)->publish_dir);
	ca_close(ca);
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	return 0;
}

static int
cmd_ocsp(int argc, char **argv)
{
	const char *u = "ocsp refresh";
	struct ca *ca = NULL;
	struct ocsp_responder *resp = NULL;
	size_t n = 0;
	int r;

	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: ca-admin --dir DIR %s\n", u);
		return 0;
	}
	if (argc != 2 || strcmp(argv[1], "refresh") != 0)
		return usage_err(u, NULL);
	if ((r = open_with_ocsp(0, 0, &ca, &resp)) == LY_OK)
		r = ocsp_refresh(resp, &n);
	ocsp_responder_free(resp);
	ca_close(ca);
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	printf("re-signed %zu OCSP responses\n", n);
	return 0;
}

/* Writes path = dir/sub/name with the bytes given, making dir/sub. */
static int
write_under(const char *out, const char *sub, const char *name,
    const unsigned char *data, size_t len)
{
	char *d = NULL, *p = NULL;
	int r = LY_ERR_ALLOC;

	if ((d = ly_path_join(out, sub)) != NULL &&
	    (p = ly_path_join(d, name)) != NULL &&
	    (r = ly_mkdir_p(d, 0755)) == LY_OK)
		r = ly_file_write_atomic(p, data, len, 0644);
	free(d);
	free(p);
	return r;
}

static int
cmd_publish(int argc, char **argv)
{
	const char *u = "publish --out DIR";
	struct ca *ca = NULL;
	struct ocsp_responder *resp = NULL;
	const unsigned char *der;
	char *sub = NULL, name[64];
	size_t len, n = 0;
	int slot, r;

	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: ca-admin --dir DIR %s\n", u);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--out") != 0)
		return usage_err(u, NULL);
	if ((r = open_with_ocsp(0, 0, &ca, &resp)) != LY_OK)
		goto out;
	/* The same paths as ca-server's GET URLs: /ca, /crl, /ocsp. */
	for (slot = CA_ROOT; slot <= CA_ISSUING; slot++) {
		snprintf(name, sizeof(name), "%s.crt", ca_slot_name(ca, slot));
		if ((r = ca_cert_der(ca, slot, &der, &len)) != LY_OK ||
		    (r = write_under(argv[2], "ca", name, der, len)) != LY_OK)
			goto out;
	}
	if ((sub = ly_path_join(argv[2], "crl")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = ly_mkdir_p(sub, 0755)) != LY_OK ||
	    (r = crl_generate_all(ca, actor(), sub)) != LY_OK ||
	    (r = crl_write_bundle(ca, sub)) != LY_OK)
		goto out;
	free(sub);
	if ((sub = ly_path_join(argv[2], "ocsp")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = ocsp_publish(resp, ca, sub, &n)) != LY_OK)
		goto out;
	printf("published to %s: CA certificates, CRLs, %zu OCSP responses\n",
	    argv[2], n);
 out:
	free(sub);
	ocsp_responder_free(resp);
	ca_close(ca);
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	return 0;
}

static int
cmd_config(int argc, char **argv)
{
	const char *u = "config [--key-type TYPE]";
	enum conf_keytype kt = CONF_KEY_EC_P256;
	char *text;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: ca-admin %s\n", u);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--key-type") == 0) {
		if ((kt = conf_keytype_parse(argv[2])) == CONF_KEY_NONE)
			return usage_err(u, "unknown key type");
	} else if (argc != 1)
		return usage_err(u, NULL);
	if ((text = conf_default_text(kt)) == NULL)
		return 1;
	fputs(text, stdout);
	free(text);
	return 0;
}

/* ---- token create|list|revoke ------------------------------------------ */

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

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			profile = optarg;
			break;
		case 'i':
		case 's':
			/* As for issue: one identity, JSON or a SPIFFE ID. */
			if (identity != NULL)
				return usage_err(u, "one --identity or "
				    "--spiffe");
			identity = optarg;
			break;
		case 't':
			if ((ttl = conf_duration_parse(optarg)) <= 0 ||
			    ttl > CA_TOKEN_TTL_MAX)
				return usage_err(u, "--ttl must be a duration "
				    "of at most 30d (30s, 10m, 24h, 7d)");
			break;
		case 'h':
			printf("usage: ca-admin --dir DIR %s\n\n"
			    "Prints the one-time token (shown only once) and "
			    "its id (for list and revoke).\n", u);
			return 0;
		default:
			return usage_err(u, NULL);
		}
	}
	if (optind != argc || profile == NULL || identity == NULL)
		return usage_err(u, "--profile and --identity (or --spiffe) "
		    "are required");
	if ((r = ca_open(dir, CA_OPEN_NO_HSM, &ca)) == LY_OK)
		r = ca_token_create(ca, profile, identity, ttl, actor(), &tok,
		    &id);
	ca_close(ca);
	if (r != LY_OK) {
		fail_msg(r);
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

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: ca-admin --dir DIR %s\n", u);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--json") == 0) {
		if ((array = json_array()) == NULL)
			return 1;
	} else if (argc != 1)
		return usage_err(u, NULL);
	if ((r = ca_open(dir, CA_OPEN_READONLY, &ca)) != LY_OK)
		goto out;
	if (array == NULL)
		printf("%-16s %-8s %-10s %-20s %s\n", "ID", "STATE", "PROFILE",
		    "EXPIRES", "IDENTITY");
	if ((r = ca_token_list(ca, token_list_cb, array)) != LY_OK)
		goto out;
	if (array != NULL)
		r = print_json(array);
 out:
	ca_close(ca);
	json_decref(array);
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	return 0;
}

static int
token_revoke(int argc, char **argv)
{
	const char *u = "token revoke --id HEX";
	struct ca *ca = NULL;
	int r;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: ca-admin --dir DIR %s\n", u);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--id") != 0)
		return usage_err(u, "--id is required");
	if ((r = ca_open(dir, CA_OPEN_NO_HSM, &ca)) == LY_OK)
		r = ca_token_revoke(ca, argv[2], actor());
	ca_close(ca);
	if (r != LY_OK) {
		fail_msg(r);
		return 1;
	}
	printf("revoked token %s\n", argv[2]);
	return 0;
}

static int
cmd_token(int argc, char **argv)
{
	if (argc < 2)
		return usage_err(token_usage, NULL);
	if (strcmp(argv[1], "--help") == 0) {
		printf("usage: ca-admin --dir DIR %s\n", token_usage);
		return 0;
	}
	optind = 1;
	if (strcmp(argv[1], "create") == 0)
		return token_create(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return token_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return token_revoke(argc - 1, argv + 1);
	return usage_err(token_usage, "unknown token command");
}

static const struct cmd cmds[] = {
	{ "config", cmd_config, "print the default ca.conf, to edit for init --config" },
	{ "init", cmd_init, "create a new instance in an empty directory" },
	{ "issue", cmd_issue, "issue a certificate from a CSR" },
	{ "reissue", cmd_reissue, "reissue a valid certificate for a new CSR" },
	{ "revoke", cmd_revoke, "revoke a certificate" },
	{ "list", cmd_list, "list certificates" },
	{ "show", cmd_show, "show one certificate" },
	{ "token", cmd_token, "create, list or revoke one-time enrollment tokens" },
	{ "audit", cmd_audit, "verify or list the audit log" },
	{ "crl", cmd_crl, "generate and publish every CRL now" },
	{ "ocsp", cmd_ocsp, "re-sign OCSP responses that are due" },
	{ "publish", cmd_publish, "write CA certificates, CRLs and OCSP responses as static files" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ca-admin [--dir DIR] COMMAND [OPTIONS]\n\n"
	    "The instance directory is --dir or $LANYARD_DIR.\n\n"
	    "Commands (ca-admin COMMAND --help for each):\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].usage);
}

int
main(int argc, char **argv)
{
	size_t i;
	int a = 1, help = 0;

	while (a < argc && argv[a][0] == '-') {
		if (strcmp(argv[a], "--dir") == 0 && a + 1 < argc) {
			dir = argv[a + 1];
			a += 2;
		} else if (strncmp(argv[a], "--dir=", 6) == 0) {
			dir = argv[a] + 6;
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
	if (dir == NULL)
		dir = getenv("LANYARD_DIR");
	/* "ca-admin issue --help" and "ca-admin config" need no instance. */
	for (i = (size_t)a + 1; i < (size_t)argc; i++)
		if (strcmp(argv[i], "--help") == 0)
			help = 1;
	if (strcmp(argv[a], "config") == 0)
		help = 1;
	if (!help && (dir == NULL || dir[0] == '\0')) {
		fprintf(stderr, "ca-admin: no instance: give --dir DIR or set "
		    "LANYARD_DIR\n");
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[a], cmds[i].name) != 0)
			continue;
		cmdname = cmds[i].name;
		/* Each command parses its own options from its own argv. */
		optind = 1;
		return cmds[i].fn(argc - a, argv + a);
	}
	fprintf(stderr, "ca-admin: unknown command \"%s\"\n", argv[a]);
	usage(stderr);
	return EXIT_USAGE;
}
