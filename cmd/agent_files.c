/*
 * cmd/agent_files.c — the device agent's identity directory: its files,
 * agent.conf, the backups, and the install of a new identity, which a
 * crash cannot leave half done.
 *
 * An install writes key.pem.next, cert.pem.next and chain.pem.next, then
 * renames them into place in that order; agent_recover() completes an
 * install a crash cut short. The key of a renewal is key.pem.next from
 * before its CSR is sent until its certificate is installed, so that an
 * answer lost on the way can be asked for again with the same key.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cmd/agent.h"
#include "util/util.h"

/* ---- files -------------------------------------------------------------- */

char *
agent_path(const char *dir, const char *name)
{
	char *p = ly_path_join(dir, name);

	if (p == NULL) {
		agent_err("out of memory");
		exit(EXIT_AGENT_ERR);
	}
	return p;
}

int
agent_write(const char *dir, const char *name, const char *data,
    unsigned int mode)
{
	char *p = agent_path(dir, name);
	int r;

	if ((r = ly_file_write_atomic(p, data, strlen(data), mode)) != LY_OK)
		agent_err("cannot write %s: %s %s", p, ly_strerror(r),
		    ly_errdetail());
	free(p);
	return r == LY_OK ? 0 : -1;
}

/* Reads DIR/name (NUL-terminated) or NULL, silently if missing and quiet. */
static char *
agent_read(const char *dir, const char *name, int quiet)
{
	char *p = agent_path(dir, name);
	unsigned char *buf = NULL;
	size_t len;
	int r;

	if ((r = ly_file_read(p, AGENT_MAX_FILE, &buf, &len)) != LY_OK) {
		if (!quiet)
			agent_err("cannot read %s: %s %s", p, ly_strerror(r),
			    ly_errdetail());
		buf = NULL;
	}
	free(p);
	return (char *)buf;
}

/* agent.conf: "key = value" lines. Returns a copy of the value or NULL. */
char *
agent_conf_get(const char *dir, const char *key)
{
	char *conf, *line, *save = NULL, *v, *r = NULL;
	size_t kl = strlen(key);

	if ((conf = agent_read(dir, "agent.conf", 1)) == NULL)
		return NULL;
	for (line = strtok_r(conf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, kl) != 0)
			continue;
		v = line + kl;
		v += strspn(v, " \t");
		if (*v != '=')
			continue;
		v++;
		v += strspn(v, " \t");
		free(r);
		r = strdup(v);
	}
	free(conf);
	return r;
}

int
agent_conf_write(const char *dir, const char *server, time_t allowed_after)
{
	char *s, t[21];
	int r;

	if (allowed_after > 0) {
		ly_time_fmt(allowed_after, t);
		r = asprintf(&s, "# written by ca-enroll\nserver = %s\n"
		    "allowed_after = %s\n", server, t);
	} else
		r = asprintf(&s, "# written by ca-enroll\nserver = %s\n", server);
	if (r < 0)
		return -1;
	r = agent_write(dir, "agent.conf", s, 0600);
	free(s);
	return r;
}

/* Copies key, cert and chain into DIR/backup/<UTC time>/ before a renew. */
int
agent_backup(const char *dir)
{
	static const struct { const char *name; unsigned int mode; } f[] = {
		{ "key.pem", 0600 }, { "cert.pem", 0644 }, { "chain.pem", 0644 },
	};
	char stamp[32], *bdir, *sub, *data;
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	int r = -1;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "backup/%Y%m%dT%H%M%SZ", &tm);
	bdir = agent_path(dir, stamp);
	if ((r = ly_mkdir_p(bdir, 0700)) != LY_OK) {
		agent_err("cannot create %s: %s", bdir, ly_errdetail());
		free(bdir);
		return -1;
	}
	sub = agent_path(dir, "backup");
	chmod(sub, 0700);
	free(sub);
	r = 0;
	for (i = 0; i < sizeof(f) / sizeof(f[0]) && r == 0; i++) {
		if ((data = agent_read(dir, f[i].name, 0)) == NULL) {
			r = -1;
			break;
		}
		r = agent_write(bdir, f[i].name, data, f[i].mode);
		OPENSSL_cleanse(data, strlen(data));
		free(data);
	}
	free(bdir);
	return r;
}

/* The certificate must carry our public key: a server bug must not leave us with a mismatched pair. */
X509 *
agent_check_cert(const char *pem, EVP_PKEY *key)
{
	BIO *b;
	X509 *x = NULL;

	if ((b = BIO_new_mem_buf(pem, -1)) != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (x == NULL) {
		agent_err_crypto("the server sent an unreadable certificate");
		return NULL;
	}
	if (X509_check_private_key(x, key) != 1) {
		agent_err("the server's certificate is not for our key");
		X509_free(x);
		ERR_clear_error();
		return NULL;
	}
	return x;
}

/* ---- install and recovery ----------------------------------------------- */

/*
 * The three files of an identity, in the order they are renamed into
 * place: a crash after the key leaves a key that cert.pem.next matches,
 * which agent_recover() recognises.
 */
static const char *const agent_files[] = { "key.pem", "cert.pem", "chain.pem" };

int
agent_exists(const char *dir, const char *name)
{
	char *p = agent_path(dir, name);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/* DIR/name's private key, or NULL (quietly: missing or unreadable). */
EVP_PKEY *
agent_load_key(const char *dir, const char *name)
{
	char *p = agent_path(dir, name);
	EVP_PKEY *k = NULL;
	FILE *f;

	if ((f = fopen(p, "r")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	ERR_clear_error();
	free(p);
	return k;
}

/* The first certificate in DIR/name, or NULL (quietly). */
X509 *
agent_load_cert(const char *dir, const char *name)
{
	char *p = agent_path(dir, name);
	X509 *x = NULL;
	FILE *f;

	if ((f = fopen(p, "r")) != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	ERR_clear_error();
	free(p);
	return x;
}

/* Whether x is for key; NULLs match nothing. */
static int
agent_matches(X509 *x, EVP_PKEY *key)
{
	int r;

	if (x == NULL || key == NULL)
		return 0;
	r = X509_check_private_key(x, key) == 1;
	ERR_clear_error();
	return r;
}

/* The serial of x in hex, for messages (static buffer). */
static const char *
agent_serial(X509 *x)
{
	static char buf[64];
	BIGNUM *bn;
	char *h = NULL;

	buf[0] = '\0';
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL &&
	    (h = BN_bn2hex(bn)) != NULL)
		snprintf(buf, sizeof(buf), "%s", h);
	OPENSSL_free(h);
	BN_free(bn);
	return buf;
}

static int
agent_sync_dir(const char *dir)
{
	int fd, r = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1) {
		agent_err("cannot sync %s: %s", dir, strerror(errno));
		r = -1;
	}
	if (fd != -1)
		close(fd);
	return r;
}

static void
agent_discard(const char *dir, const char *name, const char *why)
{
	char *p = agent_path(dir, name);

	if (unlink(p) == 0)
		agent_err("warning: removed %s: %s", p, why);
	free(p);
}

/*
 * Renames NAME.next over NAME for key (if with_key), cert and chain, in
 * that order, each that exists, then syncs the directory. 0 or -1.
 */
static int
agent_commit(const char *dir, int with_key)
{
	char *from, *to, next[32];
	size_t i;
	int r = 0;

	for (i = with_key ? 0 : 1; i < 3 && r == 0; i++) {
		snprintf(next, sizeof(next), "%s.next", agent_files[i]);
		from = agent_path(dir, next);
		to = agent_path(dir, agent_files[i]);
		if (access(from, F_OK) == 0 && rename(from, to) == -1) {
			agent_err("cannot rename %s to %s: %s", from, to,
			    strerror(errno));
			r = -1;
		}
		free(from);
		free(to);
	}
	if (r == 0)
		r = agent_sync_dir(dir);
	return r;
}

/*
 * Writes a new identity as key.pem.next, cert.pem.next and chain.pem.next,
 * each by temporary file, fsync and rename. Nothing current changes.
 */
int
agent_stage(const char *dir, EVP_PKEY *key, const struct agent_reply *a)
{
	char *kp;
	int r;

	if ((kp = agent_key_pem(key)) == NULL) {
		agent_err_crypto("cannot encode the key");
		return -1;
	}
	r = agent_write(dir, "key.pem.next", kp, 0600);
	OPENSSL_cleanse(kp, strlen(kp));
	free(kp);
	if (r != 0 ||
	    agent_write(dir, "cert.pem.next", a->certificate, 0644) != 0 ||
	    agent_write(dir, "chain.pem.next", a->chain, 0644) != 0)
		return -1;
	return 0;
}

/*
 * Installs a new identity: all three files staged as .next, then renamed
 * into place. A crash before the renames leaves the old identity (and
 * key.pem.next for the retry); one during them, a state agent_recover()
 * completes.
 */
int
agent_install(const char *dir, EVP_PKEY *key, const struct agent_reply *a)
{
	if (agent_stage(dir, key, a) != 0)
		return -1;
	return agent_commit(dir, 1);
}

/*
 * Completes an install a crash interrupted, and says so:
 *  - cert.pem.next and chain.pem.next agree and are for key.pem.next:
 *    none was renamed; rename all three;
 *  - they agree and are for key.pem: the key was renamed; rename the rest;
 *  - only chain.pem.next is left, for cert.pem and key.pem: rename it.
 * A cert.pem.next or chain.pem.next that fits none of these is a write
 * cut short before any rename, and is removed. key.pem.next alone is the
 * key of a renewal under way and stays, for agent_next_key().
 * Returns 0, or -1 if a rename failed (reported).
 */
int
agent_recover(const char *dir)
{
	EVP_PKEY *kn = agent_load_key(dir, "key.pem.next"),
	    *k = agent_load_key(dir, "key.pem");
	X509 *cn = agent_load_cert(dir, "cert.pem.next"),
	    *hn = agent_load_cert(dir, "chain.pem.next"),
	    *c = agent_load_cert(dir, "cert.pem");
	int r = 0, with_key = -1;

	if (cn != NULL && hn != NULL && X509_cmp(cn, hn) == 0) {
		if (agent_matches(cn, kn))
			with_key = 1;
		else if (agent_matches(cn, k))
			with_key = 0;
	} else if (cn == NULL && hn != NULL && c != NULL &&
	    X509_cmp(hn, c) == 0 && agent_matches(c, k))
		with_key = 0;
	if (with_key >= 0) {
		if ((r = agent_commit(dir, with_key)) == 0) {
			printf("completed an interrupted install: serial %s\n",
			    agent_serial(cn != NULL ? cn : hn));
			fflush(stdout);
		}
		goto out;
	}
	if (agent_exists(dir, "cert.pem.next"))
		agent_discard(dir, "cert.pem.next", "an install cut short");
	if (agent_exists(dir, "chain.pem.next"))
		agent_discard(dir, "chain.pem.next", "an install cut short");
 out:
	EVP_PKEY_free(kn);
	EVP_PKEY_free(k);
	X509_free(cn);
	X509_free(hn);
	X509_free(c);
	return r;
}

/*
 * The key of the next certificate: key.pem.next if a renewal left one
 * (its CSR may have been answered, and the server answers the holder of
 * that key with the same certificate again), else a new key of type,
 * written as key.pem.next (0600) before any CSR for it leaves the device.
 * *reused says which. NULL on failure (reported).
 */
EVP_PKEY *
agent_next_key(const char *dir, const char *type, int *reused)
{
	EVP_PKEY *k;
	char *kp;
	int r;

	if ((k = agent_load_key(dir, "key.pem.next")) != NULL) {
		*reused = 1;
		return k;
	}
	*reused = 0;
	if ((k = agent_keygen(type)) == NULL)
		return NULL;
	if ((kp = agent_key_pem(k)) == NULL) {
		agent_err_crypto("cannot encode the key");
		EVP_PKEY_free(k);
		return NULL;
	}
	r = agent_write(dir, "key.pem.next", kp, 0600);
	OPENSSL_cleanse(kp, strlen(kp));
	free(kp);
	if (r != 0) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}
