/*
 * ca/backup.c — a backup of an instance as one file.
 *
 * The file is a pax tar (libarchive) holding, in this order:
 *	MANIFEST.json	{"format": "lanyard-backup", "version": 1,
 *			 "created": RFC 3339, "schema": store schema,
 *			 "audit_seq": last audit entry in the snapshot,
 *			 "instance_dir": where the instance was,
 *			 "files": {name: {"size": n, "sha256": hex}, ...}}
 *	ca.conf, certs/<ca>.crt, certs/chain.pem, hsm/softhsm2.conf
 *			as named relative to the instance directory
 *	store/data.mdb	a compact copy of the LMDB environment
 * It never holds a PIN file, a token or the TLS key: HSM keys are backed
 * up by the HSM's own means (docs/operations.md), the TLS certificate is
 * renewed by ca-server when it is missing.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/extern.h"
#include "ca/ops.h"
#include "ca/store.h"

#define BACKUP_MAX_FILES	8
#define BACKUP_CHUNK		(64 * 1024)

struct bfile {
	char		*name;	/* in the archive */
	char		*path;	/* on disk */
	uint64_t	 size;
	char		 sha256[65];
};

/* SHA-256 (hex) and size of a file, read in chunks. */
int
ca_backup_hash_file(const char *path, char hex[65], uint64_t *sizep)
{
	unsigned char buf[BACKUP_CHUNK], md[32];
	EVP_MD_CTX *ctx = NULL;
	uint64_t n = 0;
	ssize_t got;
	char *h = NULL;
	int fd, r = LY_ERR_INTERNAL;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		if (!EVP_DigestUpdate(ctx, buf, (size_t)got))
			goto out;
		n += (uint64_t)got;
	}
	if (got < 0) {
		r = ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, NULL))
		goto out;
	if ((h = ly_hex_encode(md, sizeof(md))) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	memcpy(hex, h, 65);
	*sizep = n;
	r = LY_OK;
 out:
	free(h);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return r;
}

int
ca_backup_check_store(const char *dir, size_t map_size, uint64_t *seqp)
{
	struct store *st = NULL;
	struct store_txn *txn = NULL;
	int r;

	if ((r = store_open(dir, map_size, STORE_RDONLY | STORE_EXISTING,
	    &st)) != LY_OK || (r = store_txn_begin(st, 0, &txn)) != LY_OK)
		goto out;
	if ((r = store_audit_verify(txn, seqp)) != LY_OK)
		goto out;
 out:
	store_txn_abort(txn);
	store_close(st);
	return r;
}

/* name relative to the instance directory, or NULL if path is outside it. */
static const char *
rel_name(const struct conf *conf, const char *path)
{
	size_t n = strlen(conf->dir);

	if (strncmp(path, conf->dir, n) != 0 || path[n] != '/' ||
	    path[n + 1] == '\0')
		return NULL;
	return path + n + 1;
}

static int
bfile_add(struct bfile *f, size_t *np, const char *name, const char *path)
{
	if (*np >= BACKUP_MAX_FILES)
		return ly_fail(LY_ERR_INTERNAL, "backup: too many files");
	if ((f[*np].name = strdup(name)) == NULL ||
	    (f[*np].path = strdup(path)) == NULL) {
		free(f[*np].name);
		f[*np].name = NULL;
		return LY_ERR_ALLOC;
	}
	(*np)++;
	return LY_OK;
}

/* What goes into the backup besides the store, from the configuration. */
static int
bfile_collect(const struct conf *conf, struct bfile *f, size_t *np)
{
	const char *paths[3], *name;
	char *chain = NULL;
	size_t i;
	int r = LY_OK;

	paths[0] = conf->path;
	paths[1] = conf->root.cert_file;
	paths[2] = conf->issuing.cert_file;
	for (i = 0; i < 3; i++) {
		if ((name = rel_name(conf, paths[i])) == NULL)
			return ly_fail(LY_ERR_CONFIG, "backup: %s is outside "
			    "the instance directory %s", paths[i], conf->dir);
		if ((r = bfile_add(f, np, name, paths[i])) != LY_OK)
			return r;
	}
	/* Optional: the chain file init writes, the SoftHSM configuration. */
	if ((chain = ly_path_join(conf->dir, "certs/chain.pem")) == NULL)
		return LY_ERR_ALLOC;
	if (access(chain, R_OK) == 0)
		r = bfile_add(f, np, "certs/chain.pem", chain);
	free(chain);
	if (r == LY_OK && conf->softhsm2_conf != NULL &&
	    (name = rel_name(conf, conf->softhsm2_conf)) != NULL &&
	    access(conf->softhsm2_conf, R_OK) == 0)
		r = bfile_add(f, np, name, conf->softhsm2_conf);
	return r;
}

static int
manifest_build(const struct conf *conf, const struct bfile *f, size_t n,
    uint64_t seq, time_t now, char **textp)
{
	json_t *o = NULL, *files;
	char ts[21];
	size_t i;
	int r = LY_ERR_ALLOC;

	ly_time_fmt(now, ts);
	if ((o = json_pack("{s:s, s:i, s:s, s:i, s:I, s:s, s:{}}", "format",
	    CA_BACKUP_FORMAT, "version", CA_BACKUP_VERSION, "created", ts,
	    "schema", STORE_SCHEMA_VERSION, "audit_seq", (json_int_t)seq,
	    "instance_dir", conf->dir, "files")) == NULL)
		goto out;
	files = json_object_get(o, "files");
	for (i = 0; i < n; i++)
		if (json_object_set_new(files, f[i].name, json_pack(
		    "{s:I, s:s}", "size", (json_int_t)f[i].size, "sha256",
		    f[i].sha256)) != 0)
			goto out;
	if ((*textp = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS)) == NULL)
		goto out;
	r = LY_OK;
 out:
	json_decref(o);
	return r;
}

static int
arc_fail(struct archive *a, const char *what)
{
	return ly_fail(LY_ERR_IO, "backup: %s: %s", what,
	    archive_error_string(a) != NULL ? archive_error_string(a) : "?");
}

static int
arc_entry(struct archive *a, const char *name, uint64_t size, time_t now)
{
	struct archive_entry *e;
	int r = LY_OK;

	if ((e = archive_entry_new()) == NULL)
		return LY_ERR_ALLOC;
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_mtime(e, now, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		r = arc_fail(a, name);
	archive_entry_free(e);
	return r;
}

/* Copies one file into the archive; it must still have the size hashed. */
static int
arc_file(struct archive *a, const struct bfile *f, time_t now)
{
	unsigned char buf[BACKUP_CHUNK];
	uint64_t n = 0;
	ssize_t got;
	int fd, r;

	if ((r = arc_entry(a, f->name, f->size, now)) != LY_OK)
		return r;
	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC)) == -1)
		return ly_fail(LY_ERR_IO, "%s: %s", f->path, strerror(errno));
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		if (archive_write_data(a, buf, (size_t)got) != got) {
			r = arc_fail(a, f->name);
			break;
		}
		n += (uint64_t)got;
	}
	if (r == LY_OK && (got < 0 || n != f->size))
		r = ly_fail(LY_ERR_IO, "backup: %s changed while it was "
		    "copied", f->path);
	close(fd);
	return r;
}

static int
arc_write(int fd, const struct bfile *f, size_t n, const char *manifest,
    time_t now)
{
	struct archive *a;
	size_t i, mlen = strlen(manifest);
	int r = LY_OK;

	if ((a = archive_write_new()) == NULL)
		return LY_ERR_ALLOC;
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		r = arc_fail(a, "open");
		goto out;
	}
	if ((r = arc_entry(a, CA_BACKUP_MANIFEST, mlen, now)) != LY_OK)
		goto out;
	if (archive_write_data(a, manifest, mlen) != (la_ssize_t)mlen) {
		r = arc_fail(a, CA_BACKUP_MANIFEST);
		goto out;
	}
	for (i = 0; i < n && r == LY_OK; i++)
		r = arc_file(a, &f[i], now);
	if (r == LY_OK && archive_write_close(a) != ARCHIVE_OK)
		r = arc_fail(a, "close");
 out:
	archive_write_free(a);
	return r;
}

/* The directory part of path ("." if none); caller frees. */
static char *
dir_of(const char *path)
{
	const char *s = strrchr(path, '/');

	if (s == NULL)
		return strdup(".");
	if (s == path)
		return strdup("/");
	return strndup(path, (size_t)(s - path));
}

int
ca_backup_record(struct store *st, const char *out,
    const struct ca_backup_info *bi, const char *actor)
{
	struct store_txn *txn = NULL;
	unsigned char tb[8];
	json_t *o = NULL;
	char *detail = NULL, ts[21];
	int r = LY_ERR_ALLOC;

	ly_time_fmt(bi->created, ts);
	if ((o = json_pack("{s:s, s:s, s:I, s:I, s:s}", "file", out, "sha256",
	    bi->sha256, "size", (json_int_t)bi->size, "audit_seq",
	    (json_int_t)bi->audit_seq, "created", ts)) == NULL ||
	    (detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	ly_be64_put(tb, (uint64_t)bi->created);
	if ((r = store_txn_begin(st, 1, &txn)) != LY_OK)
		goto out;
	if ((r = store_meta_put(txn, CA_META_BACKUP_LAST, tb, sizeof(tb))) !=
	    LY_OK ||
	    (r = store_audit_append(txn, actor, "backup", detail)) != LY_OK)
		goto out;
	r = store_txn_commit(txn);
	txn = NULL;
 out:
	store_txn_abort(txn);
	json_decref(o);
	free(detail);
	return r;
}

/* Reads the written file back as a restore would, and checks the store. */
static int
backup_verify(const char *file, const char *checkdir, size_t map_size,
    uint64_t want_seq)
{
	json_t *m = NULL;
	char *sdir = NULL;
	uint64_t seq = 0;
	int r;

	if ((r = ca_backup_unpack(file, checkdir, &m)) != LY_OK)
		goto out;
	if ((sdir = ly_path_join(checkdir, "store")) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if ((r = ca_backup_check_store(sdir, map_size, &seq)) != LY_OK)
		goto out;
	if (seq != want_seq)
		r = ly_fail(LY_ERR_AUDIT, "backup: the copy read back ends at "
		    "audit entry %llu, not %llu", (unsigned long long)seq,
		    (unsigned long long)want_seq);
 out:
	json_decref(m);
	free(sdir);
	return r;
}

int
ca_backup(struct ca *ca, const char *out, const char *actor,
    struct ca_backup_info *info)
{
	struct ca_backup_info bi;
	int r;

	if ((r = ca_backup_write(ca, out, &bi)) != LY_OK ||
	    (r = ca_backup_record(ca_store(ca), out, &bi, actor)) != LY_OK)
		return r;
	*info = bi;
	return LY_OK;
}

int
ca_backup_write(struct ca *ca, const char *out, struct ca_backup_info *info)
{
	const struct conf *conf = ca_conf(ca);
	struct ca_backup_info bi;
	struct bfile f[BACKUP_MAX_FILES];
	struct stat sb;
	char *odir = NULL, *tmp = NULL, *snap = NULL, *check = NULL;
	char *data = NULL, *otmp = NULL, *manifest = NULL;
	size_t n = 0, i;
	int fd = -1, r = LY_ERR_ALLOC;

	memset(f, 0, sizeof(f));
	memset(&bi, 0, sizeof(bi));
	bi.created = ly_now();
	if (lstat(out, &sb) == 0)
		return ly_fail(LY_ERR_EXISTS, "%s exists: a backup never "
		    "overwrites a file", out);
	/* Beside out: a large store is copied once, on the same file system. */
	if ((odir = dir_of(out)) == NULL ||
	    (tmp = ly_path_join(odir, ".lanyard-backup.XXXXXX")) == NULL)
		goto out;
	if (mkdtemp(tmp) == NULL) {
		r = ly_fail(LY_ERR_IO, "%s: %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if ((snap = ly_path_join(tmp, "snap")) == NULL ||
	    (check = ly_path_join(tmp, "check")) == NULL ||
	    (data = ly_path_join(snap, "data.mdb")) == NULL ||
	    (otmp = ly_path_join(tmp, "backup.tar")) == NULL)
		goto out;
	if (mkdir(snap, 0700) == -1 || mkdir(check, 0700) == -1) {
		r = ly_fail(LY_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if ((r = store_copy(ca_store(ca), snap)) != LY_OK ||
	    (r = ca_backup_check_store(snap, conf->store_map_size,
	    &bi.audit_seq)) != LY_OK ||
	    (r = bfile_collect(conf, f, &n)) != LY_OK ||
	    (r = bfile_add(f, &n, CA_BACKUP_STORE, data)) != LY_OK)
		goto out;
	for (i = 0; i < n; i++)
		if ((r = ca_backup_hash_file(f[i].path, f[i].sha256,
		    &f[i].size)) != LY_OK)
			goto out;
	if ((r = manifest_build(conf, f, n, bi.audit_seq, bi.created, &manifest)) !=
	    LY_OK)
		goto out;
	if ((fd = open(otmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		r = ly_fail(LY_ERR_IO, "%s: %s", otmp, strerror(errno));
		goto out;
	}
	if ((r = arc_write(fd, f, n, manifest, bi.created)) != LY_OK)
		goto out;
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		r = ly_fail(LY_ERR_IO, "%s: %s", otmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if ((r = backup_verify(otmp, check, conf->store_map_size,
	    bi.audit_seq)) != LY_OK ||
	    (r = ca_backup_hash_file(otmp, bi.sha256, &bi.size)) != LY_OK)
		goto out;
	/* link(), not rename(): never replace a file that appeared since. */
	if (link(otmp, out) == -1) {
		r = ly_fail(errno == EEXIST ? LY_ERR_EXISTS : LY_ERR_IO,
		    "%s: %s", out, strerror(errno));
		goto out;
	}
	if ((fd = open(odir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
		fd = -1;
	}
	*info = bi;
	r = LY_OK;
 out:
	if (fd != -1)
		close(fd);
	(void)ly_remove_tree(tmp, 0);
	for (i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].path);
	}
	free(odir);
	free(tmp);
	free(snap);
	free(check);
	free(data);
	free(otmp);
	free(manifest);
	return r;
}
