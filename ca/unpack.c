/*
 * ca/unpack.c — reading a backup file (ca/backup.c describes it). The
 * file is untrusted input: a backup may have been kept anywhere. Only a
 * tar of regular files is read (libarchive parses it); every name is
 * checked before anything is written, sizes are capped, files are made
 * with O_EXCL|O_NOFOLLOW inside the target directory only, and each must
 * match its size and SHA-256 in the manifest, which must come first.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "util/util.h"
#include "ca/ca.h"
#include "ca/ops.h"

#define UNPACK_NAME_MAX		128
#define UNPACK_DEPTH_MAX	3
#define UNPACK_SMALL_MAX	(1024 * 1024)		/* conf, certificates */
#define UNPACK_STORE_MAX	((int64_t)1 << 40)	/* 1 TiB */
#define UNPACK_CHUNK		(64 * 1024)

/* Names a backup never holds: secrets, tokens, the TLS key. */
static int
name_secret(const char *name)
{
	size_t n = strlen(name);

	return (n >= 4 && (strcmp(name + n - 4, ".pin") == 0 ||
	    strcmp(name + n - 4, ".key") == 0)) ||
	    strncmp(name, "tls/", 4) == 0 ||
	    (strncmp(name, "hsm/", 4) == 0 &&
	    strcmp(name, "hsm/softhsm2.conf") != 0);
}

/*
 * A relative name of at most UNPACK_DEPTH_MAX components of
 * [A-Za-z0-9._-], none empty or starting with '.', so no "..", no
 * absolute path, no hidden file; and none of name_secret(): a backup
 * cannot plant a PIN file, a token or a key in the new instance.
 */
static int
name_ok(const char *name)
{
	const char *p;
	size_t depth = 1;

	if (name == NULL || name[0] == '\0' ||
	    strlen(name) > UNPACK_NAME_MAX || name_secret(name))
		return 0;
	for (p = name; *p != '\0'; p++) {
		if (p == name || p[-1] == '/') {
			if (*p == '.' || *p == '/')
				return 0;
		}
		if (*p == '/') {
			if (++depth > UNPACK_DEPTH_MAX || p[1] == '\0')
				return 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '-'))
			return 0;
	}
	return 1;
}

static int
bad(const char *file, const char *fmt, const char *what)
{
	return ly_fail(LY_ERR_BAD_INPUT, "backup %s: %s%s", file, fmt,
	    what != NULL ? what : "");
}

/* The manifest, first entry, read whole and checked. */
static int
manifest_read(struct archive *a, struct archive_entry *e, const char *file,
    json_t **mp)
{
	json_t *m = NULL, *files, *v;
	json_error_t je;
	const char *k;
	char *buf = NULL;
	int64_t size = archive_entry_size(e);
	int r = LY_ERR_BAD_INPUT;

	if (strcmp(archive_entry_pathname(e), CA_BACKUP_MANIFEST) != 0 ||
	    archive_entry_filetype(e) != AE_IFREG)
		return bad(file, "does not begin with ", CA_BACKUP_MANIFEST);
	if (!archive_entry_size_is_set(e) || size <= 0 ||
	    size > UNPACK_SMALL_MAX)
		return bad(file, "manifest of a bad size", NULL);
	if ((buf = malloc((size_t)size)) == NULL)
		return LY_ERR_ALLOC;
	if (archive_read_data(a, buf, (size_t)size) != (la_ssize_t)size) {
		r = bad(file, "truncated manifest", NULL);
		goto out;
	}
	if ((m = json_loadb(buf, (size_t)size, JSON_REJECT_DUPLICATES,
	    &je)) == NULL) {
		r = bad(file, "manifest: ", je.text);
		goto out;
	}
	v = json_object_get(m, "format");
	if (!json_is_string(v) ||
	    strcmp(json_string_value(v), CA_BACKUP_FORMAT) != 0) {
		r = bad(file, "not a Lanyard backup", NULL);
		goto out;
	}
	v = json_object_get(m, "version");
	if (!json_is_integer(v) || json_integer_value(v) != CA_BACKUP_VERSION) {
		r = bad(file, "unknown backup format version", NULL);
		goto out;
	}
	files = json_object_get(m, "files");
	if (!json_is_object(files) || json_object_size(files) == 0 ||
	    json_object_size(files) >= CA_BACKUP_MAX_ENTRIES ||
	    json_object_get(files, CA_BACKUP_STORE) == NULL ||
	    json_object_get(files, "ca.conf") == NULL) {
		r = bad(file, "manifest lists no store or no ca.conf", NULL);
		goto out;
	}
	json_object_foreach(files, k, v) {
		json_t *sz = json_object_get(v, "size");
		json_t *h = json_object_get(v, "sha256");

		if (!name_ok(k) || strcmp(k, CA_BACKUP_MANIFEST) == 0 ||
		    !json_is_integer(sz) || json_integer_value(sz) < 0 ||
		    !json_is_string(h) || strlen(json_string_value(h)) != 64) {
			r = bad(file, "manifest: bad entry ", k);
			goto out;
		}
		/* Marks the files seen: none yet. */
		if (json_object_set_new(v, "seen", json_false()) != 0) {
			r = LY_ERR_ALLOC;
			goto out;
		}
	}
	*mp = m;
	m = NULL;
	r = LY_OK;
 out:
	json_decref(m);
	free(buf);
	return r;
}

/* Makes the parent directories of name below dir (names are checked). */
static int
parents_make(const char *dir, const char *name, char **pathp)
{
	char *path, *s;

	if ((path = ly_path_join(dir, name)) == NULL)
		return LY_ERR_ALLOC;
	for (s = path + strlen(dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			int r = ly_fail(LY_ERR_IO, "%s: %s", path,
			    strerror(errno));

			free(path);
			return r;
		}
		*s = '/';
	}
	*pathp = path;
	return LY_OK;
}

/* Writes one entry to dir/name, hashing it; checks it against the manifest. */
static int
entry_write(struct archive *a, const char *file, const char *dir,
    const char *name, int64_t size, json_t *want)
{
	unsigned char buf[UNPACK_CHUNK], md[32];
	EVP_MD_CTX *ctx = NULL;
	char *path = NULL, *hex = NULL;
	int64_t n = 0;
	la_ssize_t got;
	int fd = -1, r = LY_ERR_INTERNAL;

	if ((r = parents_make(dir, name, &path)) != LY_OK)
		return r;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		r = ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while ((got = archive_read_data(a, buf, sizeof(buf))) > 0) {
		n += got;
		if (n > size) {
			r = bad(file, "entry longer than it says: ", name);
			goto out;
		}
		if (write(fd, buf, (size_t)got) != got ||
		    !EVP_DigestUpdate(ctx, buf, (size_t)got)) {
			r = ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	if (got < 0 || n != size) {
		r = bad(file, "truncated entry ", name);
		goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, NULL))
		goto out;
	if ((hex = ly_hex_encode(md, sizeof(md))) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	if (json_integer_value(json_object_get(want, "size")) != size ||
	    strcmp(hex, json_string_value(json_object_get(want,
	    "sha256"))) != 0) {
		r = bad(file, "size or SHA-256 differs from the manifest: ",
		    name);
		goto out;
	}
	if (fsync(fd) == -1) {
		r = ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	r = LY_OK;
 out:
	if (fd != -1)
		close(fd);
	EVP_MD_CTX_free(ctx);
	free(path);
	free(hex);
	return r;
}

static int
entry_next(struct archive *a, const char *file, const char *dir, json_t *m,
    struct archive_entry *e)
{
	json_t *want;
	const char *name = archive_entry_pathname(e);
	int64_t size = archive_entry_size(e);

	if (!name_ok(name) || archive_entry_filetype(e) != AE_IFREG)
		return bad(file, "not a plain file of an allowed name: ",
		    name != NULL ? name : "(none)");
	want = json_object_get(json_object_get(m, "files"), name);
	if (want == NULL)
		return bad(file, "file not in the manifest: ", name);
	if (json_is_true(json_object_get(want, "seen")))
		return bad(file, "file twice: ", name);
	if (!archive_entry_size_is_set(e) || size < 0 ||
	    size > (strcmp(name, CA_BACKUP_STORE) == 0 ? UNPACK_STORE_MAX :
	    UNPACK_SMALL_MAX))
		return bad(file, "entry of a bad size: ", name);
	if (json_object_set_new(want, "seen", json_true()) != 0)
		return LY_ERR_ALLOC;
	return entry_write(a, file, dir, name, size, want);
}

int
ca_backup_unpack(const char *file, const char *dir, json_t **manifestp)
{
	struct archive *a;
	struct archive_entry *e;
	json_t *m = NULL, *v;
	const char *k;
	void *tmp;
	size_t count = 0;
	int ar, r = LY_ERR_BAD_INPUT;

	if ((a = archive_read_new()) == NULL)
		return LY_ERR_ALLOC;
	/* A tar and nothing else: no other format's parser is reachable. */
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open_filename(a, file, UNPACK_CHUNK) != ARCHIVE_OK) {
		r = ly_fail(LY_ERR_IO, "backup %s: %s", file,
		    archive_error_string(a));
		goto out;
	}
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if (++count > CA_BACKUP_MAX_ENTRIES) {
			r = bad(file, "too many entries", NULL);
			goto out;
		}
		if (m == NULL)
			r = manifest_read(a, e, file, &m);
		else
			r = entry_next(a, file, dir, m, e);
		if (r != LY_OK)
			goto out;
	}
	if (ar != ARCHIVE_EOF || m == NULL) {
		r = bad(file, "unreadable: ", ar != ARCHIVE_EOF ?
		    archive_error_string(a) : "empty");
		goto out;
	}
	json_object_foreach_safe(json_object_get(m, "files"), tmp, k, v) {
		if (!json_is_true(json_object_get(v, "seen"))) {
			r = bad(file, "file missing: ", k);
			goto out;
		}
		json_object_del(v, "seen");
	}
	*manifestp = m;
	m = NULL;
	r = LY_OK;
 out:
	json_decref(m);
	archive_read_free(a);
	return r;
}
