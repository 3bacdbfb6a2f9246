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
#include <ftw.h>
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

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Removes what is below the top, leaving a directory the user made. */
static int
rm_below(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return ftw->level == 0 ? 0 : remove(path);
}

static int
write_in(const char *dir, const char *name, const char *text, unsigned mode)
{
	char *p;
	int r;

	if ((p = ly_path_join(dir, name)) == NULL)
		return LY_ERR_ALLOC;
	r = ly_file_write_atomic(p, text, strlen(text), mode);
	free(p);
	return r;
}

/* A random PIN as hex, written to dir/name with mode 0600. */
static int
make_pin(const char *dir, const char *name, char **pinp)
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
	if ((r = write_in(dir, name, pin, 0600)) != LY_OK) {
		hsm_pin_free(pin);
		return r;
	}
	*pinp = pin;
	return LY_OK;
}

static int
softhsm_setup(const char *dir, char **sopin, char **rootpin, char **isspin)
{
	char *hsmdir = NULL, *tokdir = NULL, *text = NULL;
	int r = LY_ERR_ALLOC;

	if ((hsmdir = ly_path_join(dir, "hsm")) == NULL ||
	    (tokdir = ly_path_join(hsmdir, "tokens")) == NULL)
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
	if ((r = write_in(hsmdir, "softhsm2.conf", text, 0600)) != LY_OK ||
	    (r = make_pin(hsmdir, "so.pin", sopin)) != LY_OK ||
	    (r = make_pin(hsmdir, "root.pin", rootpin)) != LY_OK ||
	    (r = make_pin(hsmdir, "issuing.pin", isspin)) != LY_OK)
		goto out;
	r = LY_OK;
 out:
	free(hsmdir);
	free(tokdir);
	free(text);
	return r;
}

/*
 * Generates the key of a CA on its token and issues its certificate,
 * signed by itself (root) or by the root (issuing); stores the certificate
 * beside the key, in the store and in certs/.
 */
static int
make_ca(struct ca *ca, int slot, const char *pin)
{
	const struct conf_ca *cc = slot == CA_ROOT ? &ca->conf->root :
	    &ca->conf->issuing;
	struct store_cert rec;
	struct cert_spec spec;
	EVP_PKEY *pub = NULL;
	X509_NAME *subject = NULL;
	X509 *x = NULL;
	time_t now = ly_now();
	int r;

	if ((r = hsm_keygen(cc->key_uri, pin, cc->key_type, &pub)) != LY_OK)
		return r;
	if ((r = cert_name_parse(cc->subject, &subject)) != LY_OK)
		goto out;
	memset(&rec, 0, sizeof(rec));
	rec.ca = CA_ROOT;	/* the root signs both */
	rec.reason = -1;
	snprintf(rec.profile, sizeof(rec.profile), "%s-ca", cc->name);
	rec.not_before = now - CA_BACKDATE;
	rec.not_after = now + (time_t)cc->days * 86400;
	if ((r = ca_reserve(ca, &rec)) != LY_OK)
		goto out;

	memset(&spec, 0, sizeof(spec));
	spec.conf = ca->conf;
	spec.pubkey = pub;
	spec.subject = subject;
	spec.serial = &rec.serial;
	spec.not_before = rec.not_before;
	spec.not_after = rec.not_after;
	if (slot == CA_ROOT) {
		spec.pathlen = -1;
	} else {
		spec.issuer = ca->certs[CA_ROOT];
		spec.issuer_name = ca->conf->root.name;
		spec.pathlen = 0;
		spec.constraints = cc;
	}
	if ((r = cert_build(&spec, &x)) != LY_OK ||
	    (r = ca_sign_cert(ca, CA_ROOT, x)) != LY_OK)
		goto out;
	/* The placeholder certificate goes; reopen the key through the real one. */
	if ((r = hsm_cert_store(cc->key_uri, pin, x)) != LY_OK)
		goto out;
	hsm_key_free(ca->keys[slot]);
	ca->keys[slot] = NULL;
	if ((r = cert_write_pem(cc->cert_file, &x, 1)) != LY_OK)
		goto out;

	if ((r = ca_record(ca, &rec, x, NULL, "init", slot == CA_ROOT ?
	    "init-root" : "init-issuing")) != LY_OK)
		goto out;
	ca->certs[slot] = x;
	x = NULL;
 out:
	EVP_PKEY_free(pub);
	X509_NAME_free(subject);
	X509_free(x);
	return r;
}

static int
init_in(const char *dir, enum conf_keytype kt)
{
	struct ca *ca = NULL;
	char *sopin = NULL, *rootpin = NULL, *isspin = NULL, *text = NULL;
	char *chain = NULL;
	int r;

	if ((r = ly_mkdir_p(dir, 0700)) != LY_OK)
		return r;
	if ((r = softhsm_setup(dir, &sopin, &rootpin, &isspin)) != LY_OK)
		goto out;
	if ((text = conf_default_text(kt)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = write_in(dir, "ca.conf", text, 0640)) != LY_OK)
		goto out;
	if ((ca = calloc(1, sizeof(*ca))) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	pthread_mutex_init(&ca->lock, NULL);
	if ((r = conf_load(dir, NULL, &ca->conf)) != LY_OK)
		goto out;
	if ((r = ly_mkdir_p(ca->conf->publish_dir, 0755)) != LY_OK)
		goto out;
	{
		char *certs = ly_path_join(dir, "certs");

		r = certs == NULL ? LY_ERR_ALLOC : ly_mkdir_p(certs, 0755);
		free(certs);
		if (r != LY_OK)
			goto out;
	}
	if ((r = store_open(ca->conf->store_dir, ca->conf->store_map_size, 0,
	    &ca->store)) != LY_OK)
		goto out;
	if ((r = hsm_init(ca->conf->hsm_module, ca->conf->softhsm2_conf)) !=
	    LY_OK)
		goto out;
	ca->hsm_ready = 1;
	if ((r = hsm_token_init(CA_ROOT_TOKEN, sopin, rootpin)) != LY_OK ||
	    (r = hsm_token_init(CA_ISSUING_TOKEN, sopin, isspin)) != LY_OK)
		goto out;
	if ((r = make_ca(ca, CA_ROOT, rootpin)) != LY_OK ||
	    (r = make_ca(ca, CA_ISSUING, isspin)) != LY_OK)
		goto out;
	if ((chain = ly_path_join(dir, "certs/chain.pem")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	{
		/* Leaf-side first, as TLS peers send it. */
		X509 *both[2] = { ca->certs[CA_ISSUING], ca->certs[CA_ROOT] };

		r = cert_write_pem(chain, both, 2);
	}
 out:
	ca_close(ca);
	hsm_pin_free(sopin);
	hsm_pin_free(rootpin);
	hsm_pin_free(isspin);
	free(text);
	free(chain);
	return r;
}

int
ca_init(const char *dir, enum conf_keytype kt)
{
	struct stat st;
	int empty, existed, r;

	if (kt == CONF_KEY_NONE)
		return ly_fail(LY_ERR_ARG, "unknown key type");
	if ((empty = dir_is_empty(dir)) < 0)
		return empty;
	if (!empty)
		return ly_fail(LY_ERR_EXISTS, "%s is not empty: init wants an "
		    "empty or new directory", dir);
	existed = stat(dir, &st) == 0;
	if ((r = init_in(dir, kt)) != LY_OK) {
		char detail[512];

		/* Keep the message: nftw's calls must not replace it. */
		snprintf(detail, sizeof(detail), "%s", ly_errdetail());
		nftw(dir, existed ? rm_below : rm_entry, 16,
		    FTW_DEPTH | FTW_PHYS);
		ly_fail(r, "%s", detail);
	}
	return r;
}
