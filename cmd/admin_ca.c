/*
 * cmd/admin_ca.c — ca-admin's commands on the instance and its revocation
 * data: init, config, audit, crl, ocsp and publish.
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

int
admin_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-type", required_argument, NULL, 'k' },
		{ "config", required_argument, NULL, 'c' },
		{ "issuer-only", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *u = "init [--key-type ec-p256|ec-p384|rsa-2048|rsa-3072|"
	    "rsa-4096 | --config FILE] [--issuer-only]";
	const char *about = "--issuer-only: the root is on another instance "
	    "(a key ceremony): only the\nissuing CA's key is made, on this "
	    "instance's token, with a CSR in\ncerts/issuing.csr for the root's "
	    "instance (ca-admin root sign-issuer);\nca.conf gets [root] offline "
	    "= yes. The instance waits for ca-admin issuer import.";
	enum conf_keytype kt = CONF_KEY_EC_P256;
	const char *cfile = NULL, *kts = NULL;
	unsigned char *text = NULL;
	size_t len;
	int c, r, issuer_only = 0;

	if (admin_help_asked(argc, argv))
		return admin_help(u, about);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if ((kt = conf_keytype_parse(optarg)) == CONF_KEY_NONE)
				return admin_usage(u, "unknown key type");
			kts = optarg;
			break;
		case 'c':
			cfile = optarg;
			break;
		case 'i':
			issuer_only = 1;
			break;
		case 'h':
			return admin_help(u, about);
		default:
			return admin_usage(u, NULL);
		}
	}
	if (optind != argc)
		return admin_usage(u, "unexpected argument");
	if (kts != NULL && cfile != NULL)
		return admin_usage(u, "the key types of --config are in its "
		    "[root] and [issuing] sections");
	/* ca.conf is small; 256 KiB is what conf_load() accepts too. */
	if (cfile != NULL &&
	    (r = ly_file_read(cfile, 256 * 1024, &text, &len)) != LY_OK) {
		admin_fail(r);
		return 1;
	}
	if (text != NULL && memchr(text, '\0', len) != NULL) {
		free(text);
		fprintf(stderr, "ca-admin: init: %s contains a NUL byte\n",
		    cfile);
		return 1;
	}
	r = issuer_only ? ca_init_issuer(admin_dir, kt, (const char *)text) :
	    ca_init(admin_dir, kt, (const char *)text);
	free(text);
	if (r != LY_OK) {
		admin_fail(r);
		return 1;
	}
	if (issuer_only) {
		printf("initialised %s: issuing CA key on its token; have the "
		    "root sign\n%s/%s (ca-admin root sign-issuer), then run "
		    "ca-admin issuer import\n", admin_dir, admin_dir,
		    CA_ISSUER_CSR);
		return 0;
	}
	/* The OCSP signer and the first CRLs, so the instance serves at once. */
	{
		struct ca *ca = NULL;
		struct ocsp_responder *resp = NULL;

		/* And the root's responses about the issuing CA (root crl). */
		if ((r = admin_open_with_ocsp(0, 0, &ca, &resp)) == LY_OK &&
		    (r = crl_publish_all(ca, admin_actor(), NULL)) == LY_OK)
			r = ocsp_root_presign(ca, admin_actor(), NULL, NULL);
		ocsp_responder_free(resp);
		ca_close(ca);
		if (r != LY_OK) {
			admin_fail(r);
			return 1;
		}
	}
	printf("initialised %s: root and issuing CA keys on their tokens\n",
	    admin_dir);
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

int
admin_audit(int argc, char **argv)
{
	const char *u = "audit verify | audit list [--json]";
	struct ca *ca = NULL;
	struct store_txn *txn = NULL;
	json_t *a = NULL;
	uint64_t n = 0;
	int r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	if (argc == 2 && strcmp(argv[1], "verify") == 0) {
		/* below */
	} else if (argc >= 2 && strcmp(argv[1], "list") == 0 &&
	    (argc == 2 || (argc == 3 && strcmp(argv[2], "--json") == 0))) {
		if (argc == 3 && (a = json_array()) == NULL)
			return 1;
	} else
		return admin_usage(u, NULL);
	if ((r = ca_open(admin_dir, CA_OPEN_READONLY, &ca)) != LY_OK ||
	    (r = store_txn_begin(ca_store(ca), 0, &txn)) != LY_OK)
		goto out;
	if (strcmp(argv[1], "verify") == 0) {
		if ((r = store_audit_verify(txn, &n)) == LY_OK)
			printf("audit log intact: %llu entries\n",
			    (unsigned long long)n);
	} else if ((r = store_audit_foreach(txn, audit_list_cb, a)) == LY_OK &&
	    a != NULL)
		r = admin_print_json(a);
 out:
	store_txn_abort(txn);
	ca_close(ca);
	json_decref(a);
	return admin_exit(r);
}

int
admin_crl(int argc, char **argv)
{
	const char *u = "crl publish [--delta] [--out DIR]";
	const char *out = NULL;
	struct ca *ca = NULL;
	int i, delta = 0, r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	if (argc < 2 || strcmp(argv[1], "publish") != 0)
		return admin_usage(u, NULL);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--delta") == 0)
			delta = 1;
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else
			return admin_usage(u, NULL);
	}
	/* Before any CRL number is used: the directory must take files. */
	if ((out == NULL || (r = admin_outdir_check(out)) == LY_OK) &&
	    (r = ca_open(admin_dir, 0, &ca)) == LY_OK)
		r = delta ? crl_publish_deltas(ca, admin_actor(), out) :
		    crl_publish_all(ca, admin_actor(), out);
	if (r == LY_OK)
		printf("CRLs published to %s\n", out != NULL ? out :
		    ca_conf(ca)->publish_dir);
	ca_close(ca);
	return admin_exit(r);
}

int
admin_ocsp(int argc, char **argv)
{
	const char *u = "ocsp refresh";
	struct ca *ca = NULL;
	struct ocsp_responder *resp = NULL;
	size_t n = 0;
	int r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	if (argc != 2 || strcmp(argv[1], "refresh") != 0)
		return admin_usage(u, NULL);
	if ((r = admin_open_with_ocsp(0, 0, &ca, &resp)) == LY_OK)
		r = ocsp_refresh(resp, &n);
	ocsp_responder_free(resp);
	ca_close(ca);
	if (r != LY_OK) {
		admin_fail(r);
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

/* out, out/ca, out/crl and out/ocsp, made and checked. */
static int
publish_dirs(const char *out)
{
	static const char *subs[] = { "ca", "crl", "ocsp" };
	char *d;
	size_t i;
	int r;

	if ((r = admin_outdir_check(out)) != LY_OK)
		return r;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if ((d = ly_path_join(out, subs[i])) == NULL)
			return LY_ERR_ALLOC;
		r = admin_outdir_check(d);
		free(d);
		if (r != LY_OK)
			return r;
	}
	return LY_OK;
}

int
admin_publish(int argc, char **argv)
{
	const char *u = "publish --out DIR";
	struct ca *ca = NULL;
	struct ocsp_responder *resp = NULL;
	const unsigned char *der;
	char *sub = NULL, *pem = NULL, name[64];
	size_t len, n = 0;
	int slot, r;

	if (admin_help_asked(argc, argv))
		return admin_help(u, NULL);
	if (argc != 3 || strcmp(argv[1], "--out") != 0)
		return admin_usage(u, NULL);
	/* Every directory first: a CRL number is not used up for nothing. */
	if ((r = publish_dirs(argv[2])) != LY_OK ||
	    (r = admin_open_with_ocsp(0, 0, &ca, &resp)) != LY_OK)
		goto out;
	/* The same paths as ca-server's GET URLs: /ca, /crl, /ocsp. */
	for (slot = 0; slot < ca_nslots(ca); slot++) {
		snprintf(name, sizeof(name), "%s.crt", ca_slot_name(ca, slot));
		if ((r = ca_cert_der(ca, slot, &der, &len)) != LY_OK ||
		    (r = write_under(argv[2], "ca", name, der, len)) != LY_OK)
			goto out;
	}
	/* GET /ca/bundle.pem: every issuer, root and cross-certificate. */
	if ((r = ca_trust_pem(ca, &pem)) != LY_OK ||
	    (r = write_under(argv[2], "ca", "bundle.pem", (unsigned char *)pem,
	    strlen(pem))) != LY_OK)
		goto out;
	if ((sub = ly_path_join(argv[2], "crl")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = ly_mkdir_p(sub, 0755)) != LY_OK ||
	    (r = crl_publish_all(ca, admin_actor(), sub)) != LY_OK)
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
	free(pem);
	ocsp_responder_free(resp);
	ca_close(ca);
	return admin_exit(r);
}

int
admin_config(int argc, char **argv)
{
	const char *u = "config [--key-type TYPE]";
	enum conf_keytype kt = CONF_KEY_EC_P256;
	char *text;

	if (admin_help_asked(argc, argv)) {
		printf("usage: ca-admin %s\n\nNeeds no instance.\n", u);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--key-type") == 0) {
		if ((kt = conf_keytype_parse(argv[2])) == CONF_KEY_NONE)
			return admin_usage(u, "unknown key type");
	} else if (argc != 1)
		return admin_usage(u, NULL);
	if ((text = conf_default_text(kt)) == NULL)
		return 1;
	fputs(text, stdout);
	free(text);
	return 0;
}

