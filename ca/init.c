/*
 * ca/init.c — `ca-admin init`: a working instance from an empty directory.
 *
 * The embedded default puts each CA key on its own SoftHSM2 token so the
 * root token can be taken offline once the issuing CA is signed; the PINs
 * are random and live in 0600 files, never on a command line.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "ca/extern.h"
#include "util/util.h"

#define PIN_BYTES	16

/* 1 if dir does not exist or is empty, 0 if it has entries, <0 on error. */
static int
dir_is_empty(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int empty = 1;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 1 :
		    ly_fail(LY_ERR_IO, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

/* A random PIN as hex, written to path with mode 0600. */
static int
make_pin(const char *path, char **pinp)
{
	unsigned char raw[PIN_BYTES];
	char *pin;
	int r;

	if (RAND_priv_bytes(raw, sizeof(raw)) != 1)
		return ly_fail(LY_ERR_INTERNAL, "no randomness for a PIN");
	pin = ly_hex_encode(raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	if (pin == NULL)
		return LY_ERR_ALLOC;
	if ((r = ly_file_write_atomic(path, pin, strlen(pin), 0600)) != LY_OK) {
		hsm_pin_free(pin);
		return r;
	}
	*pinp = pin;
	return LY_OK;
}

/*
 * The embedded default: a SoftHSM2 configuration of the instance's own
 * (conf->softhsm2_conf, tokens beside it), a random SO PIN beside it, and a
 * token with a random user PIN (in the CA's pin_file) for each token the
 * CA keys name. Must run before hsm_init(), which reads SOFTHSM2_CONF.
 */
static int
softhsm_config(const struct conf *conf, char **sopinp)
{
	char *copy = NULL, *hsmdir, *tokdir = NULL, *sopath = NULL;
	char *text = NULL;
	int r = LY_ERR_ALLOC;

	/* An offline root's token is on another machine: no PIN here. */
	if ((conf->root.pin_file == NULL && !conf->root.offline) ||
	    conf->issuing.pin_file == NULL)
		return ly_fail(LY_ERR_CONFIG, "the embedded SoftHSM2 keeps its "
		    "PINs in files: set pin_file in [root] and [issuing]");
	if ((copy = strdup(conf->softhsm2_conf)) == NULL)
		goto out;
	hsmdir = dirname(copy);
	if ((tokdir = ly_path_join(hsmdir, "tokens")) == NULL ||
	    (sopath = ly_path_join(hsmdir, "so.pin")) == NULL)
		goto out;
	if ((r = ly_mkdir_p(tokdir, 0700)) != LY_OK)
		goto out;
	if (asprintf(&text, "# SoftHSM2 for this Lanyard instance only.\n"
	    "directories.tokendir = %s\n"
	    "objectstore.backend = file\n"
	    "log.level = ERROR\n"
	    "slots.removable = false\n", tokdir) == -1) {
		text = NULL;
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = ly_file_write_atomic(conf->softhsm2_conf, text, strlen(text),
	    0600)) != LY_OK)
		goto out;
	r = make_pin(sopath, sopinp);
 out:
	free(copy);
	free(tokdir);
	free(sopath);
	free(text);
	return r;
}

/* Initialises the token of ca (once: root and issuing may share one). */
static int
softhsm_token(const struct conf_ca *ca, const char *sopin)
{
	char label[33], *pin = NULL;
	int r;

	if ((r = hsm_uri_token(ca->key_uri, label)) != LY_OK)
		return r;
	if ((r = make_pin(ca->pin_file, &pin)) != LY_OK)
		return r;
	r = hsm_token_init(label, sopin, pin);
	hsm_pin_free(pin);
	return r;
}

/*
 * Generates the key of a CA (cc) on its token and issues its certificate,
 * signed by itself (parent -1) or by the CA of slot parent; stores the
 * certificate beside the key. The caller records *recp (reserved now,
 * valid once written) and keeps *xp.
 */
int
ca_make_cert(struct ca *ca, const struct conf_ca *cc, int parent, X509 **xp,
    struct store_cert *recp)
{
	struct store_cert rec;
	struct cert_spec spec;
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = NULL;
	X509 *x = NULL;
	char *pin = NULL;
	time_t now = ly_now(), pna = 0;
	int r;

	if ((r = ca_pin_load(cc, &pin)) != LY_OK)
		return r;
	if ((r = ca_keygen(ca, cc, pin, &pub)) != LY_OK)
		goto out;
	if ((r = cert_name_parse(cc->subject, &subject)) != LY_OK)
		goto out;
	memset(&rec, 0, sizeof(rec));
	rec.ca = parent < 0 ? CA_MAX_SLOTS : (uint8_t)parent;
	rec.reason = -1;
	snprintf(rec.profile, sizeof(rec.profile), "%s-ca", cc->name);
	rec.not_before = now - CA_BACKDATE;
	rec.not_after = now + (time_t)cc->days * 86400;
	/* Never past the CA that signs it. */
	if (parent >= 0 && (r = ly_asn1_time(X509_get0_notAfter(
	    ca->certs[parent]), &pna)) == LY_OK && rec.not_after > pna)
		rec.not_after = pna;
	if (r != LY_OK)
		goto out;
	/*
	 * Self-signed: the first root is slot 0. A later root generation
	 * (ca_root_rollover()) gets its number when it is registered: it is
	 * reserved under the next number now (the store takes no other), and
	 * *recp says CA_MAX_SLOTS, which ca_slot_register() replaces with the
	 * number the slot gets.
	 */
	if (parent < 0)
		rec.ca = ca->certs[CA_ROOT] == NULL ? CA_ROOT :
		    (uint8_t)ca_nslots(ca);
	if ((r = ca_reserve(ca, &rec, NULL)) != LY_OK)
		goto out;
	if (parent < 0 && ca->certs[CA_ROOT] != NULL)
		rec.ca = CA_MAX_SLOTS;

	memset(&spec, 0, sizeof(spec));
	spec.conf = ca->conf;
	spec.pubkey = pub;
	spec.subject = subject;
	spec.serial = &rec.serial;
	spec.not_before = rec.not_before;
	spec.not_after = rec.not_after;
	if (parent < 0) {
		spec.pathlen = -1;
	} else {
		spec.issuer = ca->certs[parent];
		spec.issuer_name = ca_slot_name(ca, parent);
		spec.pathlen = 0;
		spec.constraints = cc;
	}
	if ((r = cert_build(&spec, &x)) != LY_OK)
		goto out;
	/* A later root generation signs with a key no slot holds yet. */
	if (parent < 0 && ca->certs[CA_ROOT] != NULL)
		r = ca_sign_cert_self(cc, pin, x);
	else
		r = ca_sign_cert(ca, parent < 0 ? CA_ROOT : parent, x);
	if (r != LY_OK)
		goto out;
	/* The placeholder certificate goes; the real one goes beside the key. */
	if ((r = hsm_cert_store(cc->key_uri, pin, x)) != LY_OK)
		goto out;
	*xp = x;
	x = NULL;
	*recp = rec;
 out:
	hsm_pin_free(pin);
	EVP_PKEY_free(pub);
	X509_NAME_free(subject);
	X509_free(x);
	return r;
}

/* The root and the first issuing CA of a new instance, slots 0 and 1. */
static int
make_ca(struct ca *ca, int slot)
{
	const struct conf_ca *cc = ca_slot_conf(ca, slot);
	struct store_cert rec;
	X509 *x = NULL;
	int r;

	if ((r = ca_make_cert(ca, cc, slot == CA_ROOT ? -1 : CA_ROOT, &x,
	    &rec)) != LY_OK)
		return r;
	hsm_key_free(ca->keys[slot]);
	ca->keys[slot] = NULL;
	if ((r = cert_write_pem(cc->cert_file, &x, 1)) == LY_OK &&
	    (r = ca_record(ca, &rec, x, NULL, "init", slot == CA_ROOT ?
	    "init-root" : "init-issuing")) == LY_OK)
		return slot_set_cert(ca, slot, x);
	X509_free(x);
	return r;
}

/* Appended to an issuer-only instance's ca.conf (a later [root] wins). */
#define ISSUER_ONLY_CONF	"\n# ca-admin init --issuer-only: the root is " \
	"on another instance.\n[root]\noffline = yes\n"

static int
init_in(const char *dir, const char *text0, int issuer_only)
{
	char *text = NULL;
	struct ca *ca = NULL;
	char *sopin = NULL, *path = NULL, *chain = NULL, *certs = NULL;
	char rl[33], il[33];
	size_t i;
	int r;

	if ((r = ly_mkdir_p(dir, 0700)) != LY_OK)
		return r;
	if (asprintf(&text, "%s%s", text0, issuer_only ? ISSUER_ONLY_CONF :
	    "") == -1)
		return LY_ERR_ALLOC;
	if ((ca = ca_alloc()) == NULL) {
		free(text);
		return LY_ERR_ALLOC;
	}
	/* Check the configuration before anything is made from it. */
	if ((path = ly_path_join(dir, "ca.conf")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = conf_parse(dir, path, text, &ca->conf)) != LY_OK ||
	    (r = slots_implied(ca)) != LY_OK ||
	    (r = ly_file_write_atomic(path, text, strlen(text), 0640)) != LY_OK)
		goto out;
	if ((r = ly_mkdir_p(ca->conf->publish_dir, 0755)) != LY_OK)
		goto out;
	if ((certs = ly_path_join(dir, "certs")) == NULL ||
	    (chain = ly_path_join(certs, "chain.pem")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = ly_mkdir_p(certs, 0755)) != LY_OK)
		goto out;
	if (ca->conf->softhsm2_conf != NULL &&
	    (r = softhsm_config(ca->conf, &sopin)) != LY_OK)
		goto out;
	if ((r = store_open(ca->conf->store_dir, ca->conf->store_map_size, 0,
	    &ca->store)) != LY_OK)
		goto out;
	if ((r = hsm_init(ca->conf->hsm_module, ca->conf->softhsm2_conf)) !=
	    LY_OK)
		goto out;
	ca->hsm_ready = 1;
	/* A vendor HSM's tokens are the operator's; SoftHSM's are ours to make. */
	if (sopin != NULL && issuer_only) {
		if ((r = softhsm_token(&ca->conf->issuing, sopin)) != LY_OK)
			goto out;
	} else if (sopin != NULL) {
		if ((r = hsm_uri_token(ca->conf->root.key_uri, rl)) != LY_OK ||
		    (r = hsm_uri_token(ca->conf->issuing.key_uri, il)) != LY_OK ||
		    (r = softhsm_token(&ca->conf->root, sopin)) != LY_OK ||
		    (strcmp(rl, il) != 0 &&
		    (r = softhsm_token(&ca->conf->issuing, sopin)) != LY_OK))
			goto out;
		/* An [issuer NAME] on a token of its own gets one too. */
		for (i = 1; i < ca->conf->nissuers; i++) {
			char xl[33];
			size_t k;
			int seen;

			if ((r = hsm_uri_token(ca->conf->issuers[i]->key_uri,
			    xl)) != LY_OK)
				goto out;
			seen = strcmp(xl, rl) == 0 || strcmp(xl, il) == 0;
			for (k = 1; k < i && !seen; k++) {
				char yl[33];

				seen = hsm_uri_token(ca->conf->issuers[k]->
				    key_uri, yl) == LY_OK && strcmp(xl, yl) == 0;
			}
			if (!seen && (r = softhsm_token(ca->conf->issuers[i],
			    sopin)) != LY_OK)
				goto out;
		}
	}
	if (issuer_only) {
		r = ca_issuer_csr(ca, "init");
		goto out;
	}
	if ((r = make_ca(ca, CA_ROOT)) != LY_OK ||
	    (r = make_ca(ca, CA_ISSUING)) != LY_OK)
		goto out;
	/* Every [issuer NAME] of the file, each a slot of its own. */
	for (i = 1; i < ca->conf->nissuers; i++)
		if ((r = ca_issuer_create(ca, ca->conf->issuers[i]->name,
		    "init", NULL)) != LY_OK)
			goto out;
	{
		/* Leaf-side first, as TLS peers send it. */
		X509 *both[2] = { ca->certs[CA_ISSUING], ca->certs[CA_ROOT] };

		r = cert_write_pem(chain, both, 2);
	}
 out:
	ca_close(ca);
	hsm_pin_free(sopin);
	free(path);
	free(certs);
	free(chain);
	free(text);
	return r;
}

/*
 * The HTTPS listener's certificate is issued here, by the issuing CA just
 * made, so that the instance is whole before its server first starts and
 * a bad [server] tls_dns/tls_ip fails init rather than the first start.
 */
static int
init_tls(const char *dir)
{
	struct ca *ca = NULL;
	int issued, r;

	if ((r = ca_open(dir, 0, &ca)) != LY_OK)
		return r;
	if (strcmp(ca_conf(ca)->https_listen, "off") != 0)
		r = ca_tls_ensure(ca, dir, "ca-admin init", &issued);
	ca_close(ca);
	return r;
}

static int
init_any(const char *dir, enum conf_keytype kt, const char *config,
    int issuer_only)
{
	char *text = NULL;
	struct stat st;
	int empty, existed, r;

	if (config == NULL && kt == CONF_KEY_NONE)
		return ly_fail(LY_ERR_ARG, "unknown key type");
	if ((empty = dir_is_empty(dir)) < 0)
		return empty;
	if (!empty)
		return ly_fail(LY_ERR_EXISTS, "%s is not empty: init wants an "
		    "empty or new directory", dir);
	if (config == NULL && (text = conf_default_text(kt)) == NULL)
		return LY_ERR_ALLOC;
	existed = stat(dir, &st) == 0;
	/* An issuer-only instance gets its TLS certificate at import. */
	if ((r = init_in(dir, config != NULL ? config : text,
	    issuer_only)) != LY_OK ||
	    (!issuer_only && (r = init_tls(dir)) != LY_OK)) {
		char detail[512];

		/* Keep the message: the clean-up must not replace it. */
		snprintf(detail, sizeof(detail), "%s", ly_errdetail());
		/* A directory the user made stays, empty. */
		(void)ly_remove_tree(dir, existed);
		ly_fail(r, "%s", detail);
	}
	free(text);
	return r;
}

int
ca_init(const char *dir, enum conf_keytype kt, const char *config)
{
	return init_any(dir, kt, config, 0);
}

int
ca_init_issuer(const char *dir, enum conf_keytype kt, const char *config)
{
	return init_any(dir, kt, config, 1);
}
