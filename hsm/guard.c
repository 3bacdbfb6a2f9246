/*
 * hsm/guard.c — keeps the embedded SoftHSM2 tokens usable across crashes.
 *
 * SoftHSM 2.6.1's file object store rewrites a token's token.object in
 * place at every C_Login (it stores the token flags): it truncates the
 * file, drops its own fcntl lock, and only then writes the new contents
 * from a stdio buffer at fclose(). A process killed in between leaves the
 * file empty for good (the token shows as not initialised, its keys are
 * lost to every later process), and a process that reads the file in the
 * window (at C_Initialize, or any call that looks at the token's flags)
 * takes the token for uninitialised until its module is re-initialised.
 * Every process that logs in rewrites it, so every opening of a token is
 * a writer: there is no useful shared mode for opening.
 *
 * So, only for SoftHSM with the instance's own softhsm2.conf:
 *
 *   - One lock for every Lanyard process of the instance: flock() on
 *     token.guard beside softhsm2.conf, taken exclusively around the
 *     check below and C_Initialize, around every login and every other
 *     call that may read or write token files (the admin lock, opening a
 *     key, re-initialising the module). Signing is not under it: strace
 *     shows C_SignInit/C_Sign read only the key's object file and the
 *     token's generation file, neither of which a login rewrites. A
 *     signing session that finds the token logged out (after a token
 *     fault) logs in again under the guard (hsm/pool.c).
 *   - A verified copy of each token's files (token.object and every
 *     <uuid>.object) under tokens.verified/<token dir>/, written
 *     atomically (temporary file, fsync, rename, fsync of the directory),
 *     refreshed after every change Lanyard makes (token init, key
 *     generation, certificate storage) and after every successful login
 *     (which proves the PIN blob in the copy opens with the PIN in use).
 *     Copies of objects that were destroyed are removed.
 *   - Before C_Initialize, each token file is checked: one that does not
 *     parse as a SoftHSM object file, or lacks an attribute its copy has
 *     (a cut at a record boundary), is restored from its copy, loudly,
 *     and the fact is kept for ca/ to audit (hsm_token_restores()). A
 *     damaged token.object with no valid copy is an error: it is never
 *     "repaired" into an empty token. A damaged object file with no copy
 *     was never complete (its creation was cut short: Lanyard never
 *     changes an object in place) and is moved to tokens.damaged/.
 *
 * A file is only ever restored when it is damaged, and only from a copy
 * of that same file: a destroyed object has no file left to restore, so
 * it is never brought back. See docs/security.md.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"

/* SoftHSM's own token attributes in token.object (OSAttributes.h). */
#define SOFTHSM_TOKENLABEL	0x80005349UL
#define SOFTHSM_TOKENSERIAL	0x8000534aUL
#define SOFTHSM_TOKENFLAGS	0x8000534bUL
#define SOFTHSM_SOPIN		0x8000534cUL
#define SOFTHSM_USERPIN		0x8000534dUL

/* Kinds of attribute values in an object file (ObjectFile.cpp, File.cpp). */
#define KIND_BOOL		1
#define KIND_ULONG		2
#define KIND_BYTES		3
#define KIND_MAP		4
#define KIND_MECHS		5

/* Largest token file we read: keys and certificates are a few KiB. */
#define GUARD_FILE_MAX		(1024 * 1024)
/* Most attributes of one object we keep track of. */
#define GUARD_ATTR_MAX		256

#define GUARD_LOCK		"token.guard"
#define GUARD_COPIES		"tokens.verified"
#define GUARD_DAMAGED		"tokens.damaged"
#define GUARD_RECORDS		"token.restores"
#define CLAIMED			".claimed."
#define TOKEN_OBJECT		"token.object"

static struct {
	pthread_mutex_t		 mu;	/* threads; the flock is the process's */
	int			 on;
	int			 fd;	/* token.guard */
	char			*tokendir;
	char			*copies;
	char			*damaged;
	char			*records;	/* one file per restore */
	atomic_ulong		 restores;
} guard = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
};

/* The guard held by this thread: it nests. */
static _Thread_local int guard_depth;

/* --- the SoftHSM object file format ---------------------------------- */

/* What a parse of an object file found. */
struct objinfo {
	unsigned long	 types[GUARD_ATTR_MAX];
	size_t		 ntypes;
	char		 label[33];	/* token.object: the token's label */
};

static int
rd_ulong(const unsigned char *b, size_t len, size_t *pos, uint64_t *v)
{
	if (len - *pos < 8)
		return -1;
	*v = ly_be64_get(b + *pos);
	*pos += 8;
	return 0;
}

/* Skips n bytes; -1 if they are not there. */
static int
rd_skip(size_t len, size_t *pos, uint64_t n)
{
	if (n > len - *pos)
		return -1;
	*pos += (size_t)n;
	return 0;
}

/* An attribute map value: a length, then (type, kind, value) within it. */
static int
rd_map(const unsigned char *b, size_t len, size_t *pos)
{
	uint64_t mlen, t, k, n;
	size_t end;

	if (rd_ulong(b, len, pos, &mlen) != 0 || mlen > len - *pos)
		return -1;
	end = *pos + (size_t)mlen;
	while (*pos < end) {
		if (rd_ulong(b, end, pos, &t) != 0 ||
		    rd_ulong(b, end, pos, &k) != 0)
			return -1;
		switch (k) {
		case KIND_BOOL:
			n = 1;
			break;
		case KIND_ULONG:
			n = 8;
			break;
		case KIND_BYTES:
			if (rd_ulong(b, end, pos, &n) != 0)
				return -1;
			break;
		case KIND_MECHS:
			if (rd_ulong(b, end, pos, &n) != 0 || n > end / 8)
				return -1;
			n *= 8;
			break;
		default:
			return -1;
		}
		if (rd_skip(end, pos, n) != 0)
			return -1;
	}
	return 0;
}

/*
 * Parses a SoftHSM 2.6 object file: a generation number, then records of
 * (PKCS#11 type, kind, value) up to the exact end. 0 and *oi filled, or -1
 * if it is cut short, empty or not of this format.
 */
static int
guard_parse(const unsigned char *b, size_t len, struct objinfo *oi)
{
	uint64_t gen, t, k, n;
	size_t pos = 0;

	memset(oi, 0, sizeof(*oi));
	if (rd_ulong(b, len, &pos, &gen) != 0)
		return -1;
	while (pos < len) {
		if (rd_ulong(b, len, &pos, &t) != 0 ||
		    rd_ulong(b, len, &pos, &k) != 0)
			return -1;
		switch (k) {
		case KIND_BOOL:
			n = 1;
			break;
		case KIND_ULONG:
			n = 8;
			break;
		case KIND_BYTES:
			if (rd_ulong(b, len, &pos, &n) != 0)
				return -1;
			if (t == SOFTHSM_TOKENLABEL && n == 32 && len - pos >= 32)
				hsm_fixstr(oi->label, b + pos, 32);
			break;
		case KIND_MAP:
			if (rd_map(b, len, &pos) != 0)
				return -1;
			n = 0;
			break;
		case KIND_MECHS:
			if (rd_ulong(b, len, &pos, &n) != 0 || n > len / 8)
				return -1;
			n *= 8;
			break;
		default:
			return -1;
		}
		if (rd_skip(len, &pos, n) != 0)
			return -1;
		if (oi->ntypes >= GUARD_ATTR_MAX)
			return -1;
		oi->types[oi->ntypes++] = (unsigned long)t;
	}
	return 0;
}

static int
has_type(const struct objinfo *oi, unsigned long t)
{
	size_t i;

	for (i = 0; i < oi->ntypes; i++)
		if (oi->types[i] == t)
			return 1;
	return 0;
}

/*
 * Whether the bytes of a token file are whole: they parse, a token.object
 * carries the token's label, serial, flags and SO PIN, and (ref not NULL:
 * the file's verified copy) every attribute of the copy is there too.
 * SoftHSM writes attributes in ascending order, so a file cut at a record
 * boundary misses the last ones, and the comparison finds it.
 */
int
hsm_guard_whole(const char *name, const unsigned char *b, size_t len,
    const unsigned char *ref, size_t reflen)
{
	struct objinfo	*oi = NULL, *ri = NULL;
	size_t		 i;
	int		 ok = 0;

	if ((oi = malloc(sizeof(*oi))) == NULL ||
	    (ri = malloc(sizeof(*ri))) == NULL)
		goto out;
	if (guard_parse(b, len, oi) != 0)
		goto out;
	if (strcmp(name, TOKEN_OBJECT) == 0 &&
	    (!has_type(oi, SOFTHSM_TOKENLABEL) ||
	    !has_type(oi, SOFTHSM_TOKENSERIAL) ||
	    !has_type(oi, SOFTHSM_TOKENFLAGS) || !has_type(oi, SOFTHSM_SOPIN)))
		goto out;
	if (ref != NULL && guard_parse(ref, reflen, ri) == 0)
		for (i = 0; i < ri->ntypes; i++)
			if (!has_type(oi, ri->types[i]))
				goto out;
	ok = 1;
 out:
	free(oi);
	free(ri);
	return ok;
}

/* --- set-up and the lock ---------------------------------------------- */

/* The value of key in a softhsm2.conf text, trimmed; NULL if absent. */
static char *
conf_value(const char *text, const char *key)
{
	const char *p = text, *e, *v;
	size_t kl = strlen(key);

	for (; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		e = p + strcspn(p, "\n");
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(e - p) <= kl || strncmp(p, key, kl) != 0)
			continue;
		v = p + kl;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		if (v == e || *v != '=')
			continue;
		v++;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		return strndup(v, (size_t)(e - v));
	}
	return NULL;
}

int
hsm_guard_setup(const char *softhsm2_conf)
{
	unsigned char	*text = NULL;
	char		*copy = NULL, *dir, *backend = NULL, *lock = NULL;
	size_t		 len;
	int		 r;

	if (guard.on)
		return 0;
	if (softhsm2_conf == NULL)
		return 0;	/* a real HSM, or a SoftHSM we do not own */
	if ((r = ly_file_read(softhsm2_conf, 65536, &text, &len)) != 0)
		return ly_fail(LY_ERR_CONFIG, "SoftHSM configuration: %s",
		    ly_errdetail());
	r = LY_ERR_ALLOC;
	backend = conf_value((char *)text, "objectstore.backend");
	if (backend != NULL && strcmp(backend, "file") != 0) {
		ly_log(LY_LOG_INFO, "%s: object store %s: the token guard is "
		    "off (it knows the file store only)", softhsm2_conf, backend);
		r = 0;
		goto out;
	}
	if ((guard.tokendir = conf_value((char *)text,
	    "directories.tokendir")) == NULL) {
		r = ly_fail(LY_ERR_CONFIG, "%s: no directories.tokendir",
		    softhsm2_conf);
		goto out;
	}
	if ((copy = strdup(softhsm2_conf)) == NULL)
		goto out;
	dir = dirname(copy);
	if ((lock = ly_path_join(dir, GUARD_LOCK)) == NULL ||
	    (guard.copies = ly_path_join(dir, GUARD_COPIES)) == NULL ||
	    (guard.damaged = ly_path_join(dir, GUARD_DAMAGED)) == NULL ||
	    (guard.records = ly_path_join(dir, GUARD_RECORDS)) == NULL)
		goto out;
	if ((guard.fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		r = ly_fail(LY_ERR_HSM, "%s: %s", lock, strerror(errno));
		goto out;
	}
	guard.on = 1;
	r = 0;
 out:
	if (!guard.on) {
		free(guard.tokendir);
		free(guard.copies);
		free(guard.damaged);
		free(guard.records);
		guard.tokendir = guard.copies = guard.damaged = NULL;
		guard.records = NULL;
	}
	free(text);
	free(copy);
	free(backend);
	free(lock);
	return r;
}

void
hsm_guard_teardown(void)
{
	if (!guard.on)
		return;
	close(guard.fd);
	guard.fd = -1;
	free(guard.tokendir);
	free(guard.copies);
	free(guard.damaged);
	free(guard.records);
	guard.tokendir = guard.copies = guard.damaged = NULL;
	guard.records = NULL;
	guard.on = 0;
}

void
hsm_guard_lock(void)
{
	if (!guard.on || guard_depth++ > 0)
		return;
	pthread_mutex_lock(&guard.mu);
	/* Only EINTR can make it fail on an open descriptor. */
	while (flock(guard.fd, LOCK_EX) == -1 && errno == EINTR)
		;
}

void
hsm_guard_unlock(void)
{
	if (!guard.on || --guard_depth > 0)
		return;
	(void)flock(guard.fd, LOCK_UN);
	pthread_mutex_unlock(&guard.mu);
}

/* --- restore records -------------------------------------------------- */

/*
 * A restore is recorded durably before it is made (token.restores/<id>,
 * written atomically): a process killed between the restore and ca/'s
 * audit entry leaves the record for the next one. At least once, then:
 * the id tells a repeated entry from a second restore.
 */
static int
record_add(const char *tokdir, const char *file, const char *label,
    const char *what)
{
	unsigned char	 raw[16];
	char		*id = NULL, *path = NULL, *text = NULL;
	int		 r = LY_ERR_ALLOC;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return ly_fail(LY_ERR_INTERNAL, "no random record id");
	if ((id = ly_hex_encode(raw, sizeof(raw))) == NULL ||
	    (path = ly_path_join(guard.records, id)) == NULL ||
	    asprintf(&text, "%s\n%s\n%s\n%s\n", tokdir, file, label, what) == -1) {
		text = NULL;
		goto out;
	}
	if ((r = ly_mkdir_p(guard.records, 0700)) == 0)
		r = ly_file_write_atomic(path, text, strlen(text), 0600);
 out:
	free(id);
	free(path);
	free(text);
	return r;
}

/*
 * Whether name is the temporary file of an atomic write (<name>.tmp.<pid>,
 * util/misc.c) whose writer is gone: a kill left it; it may go.
 */
static int
tmp_stale(const char *name)
{
	const char	*t;
	long		 pid;

	if ((t = strstr(name, ".tmp.")) == NULL)
		return 0;
	pid = strtol(t + 5, NULL, 10);
	return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) == -1 &&
	    errno == ESRCH;
}

/* Removes dir/name if it is a stale temporary file. */
static void
tmp_clean(const char *dir, const char *name)
{
	char *p;

	if (tmp_stale(name) && (p = ly_path_join(dir, name)) != NULL) {
		(void)unlink(p);
		free(p);
	}
}

/* Line i (0-based) of text into dst of max bytes; "" if there is none. */
static void
record_line(const char *text, int i, char *dst, size_t max)
{
	size_t n;

	while (i-- > 0 && (text = strchr(text, '\n')) != NULL)
		text++;
	if (text == NULL) {
		dst[0] = '\0';
		return;
	}
	n = strcspn(text, "\n");
	snprintf(dst, max, "%.*s", (int)n, text);
}

/*
 * Claims the record named name (a fresh one, or one claimed by a process
 * that is gone) by renaming it to <id>.claimed.<our pid>, and reads it
 * into e. 0 if claimed, -1 if not (another process has it, or a file
 * being written).
 */
static int
record_claim(const char *name, struct hsm_restore *e)
{
	const char	*c;
	char		 mine[PATH_MAX], *from = NULL;
	unsigned char	*text = NULL;
	size_t		 idlen, len;
	long		 pid;
	int		 r = -1;

	if (name[0] == '.' || strstr(name, ".tmp.") != NULL)
		return -1;
	if ((c = strstr(name, CLAIMED)) != NULL) {
		pid = strtol(c + strlen(CLAIMED), NULL, 10);
		if (pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			return -1;
		idlen = (size_t)(c - name);
	} else
		idlen = strlen(name);
	if (idlen >= sizeof(e->id))
		return -1;
	if ((from = ly_path_join(guard.records, name)) == NULL ||
	    (size_t)snprintf(mine, sizeof(mine), "%s/%.*s" CLAIMED "%ld",
	    guard.records, (int)idlen, name, (long)getpid()) >= sizeof(mine))
		goto out;
	if (rename(from, mine) == -1)
		goto out;
	if (ly_file_read(mine, 4096, &text, &len) != 0)
		goto out;
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%.*s", (int)idlen, name);
	record_line((char *)text, 0, e->token_dir, sizeof(e->token_dir));
	record_line((char *)text, 1, e->file, sizeof(e->file));
	record_line((char *)text, 2, e->label, sizeof(e->label));
	record_line((char *)text, 3, e->action, sizeof(e->action));
	r = 0;
 out:
	free(from);
	free(text);
	return r;
}

size_t
hsm_token_restores(struct hsm_restore *out, size_t max)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0;

	if (!guard.on || (d = opendir(guard.records)) == NULL)
		return 0;
	while (n < max && (de = readdir(d)) != NULL) {
		tmp_clean(guard.records, de->d_name);
		if (record_claim(de->d_name, &out[n]) == 0)
			n++;
	}
	closedir(d);
	return n;
}

void
hsm_token_restore_done(const struct hsm_restore *e)
{
	char path[PATH_MAX];

	if (!guard.on)
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s" CLAIMED "%ld",
	    guard.records, e->id, (long)getpid()) < sizeof(path))
		(void)unlink(path);
}

unsigned long
hsm_guard_restore_count(void)
{
	return atomic_load(&guard.restores);
}

/* Reads path; *bp NULL (and 0) if it does not exist. */
static int
file_get(const char *path, unsigned char **bp, size_t *lenp)
{
	int r;

	*bp = NULL;
	*lenp = 0;
	r = ly_file_read(path, GUARD_FILE_MAX, bp, lenp);
	return r == LY_ERR_NOT_FOUND ? 0 : r;
}

/* Whether name is one of the token files we keep copies of. */
static int
is_token_file(const char *name)
{
	size_t n = strlen(name);

	return n > 7 && strcmp(name + n - 7, ".object") == 0 &&
	    strchr(name, '/') == NULL && name[0] != '.';
}

/* Moves a damaged object file with no copy out of SoftHSM's sight. */
static int
quarantine(const char *tokname, const char *path, const char *name)
{
	char *dir = NULL, *dst = NULL;
	int r = LY_ERR_ALLOC;

	if ((dir = ly_path_join(guard.damaged, tokname)) == NULL ||
	    (dst = ly_path_join(dir, name)) == NULL)
		goto out;
	if ((r = ly_mkdir_p(dir, 0700)) != 0)
		goto out;
	if (rename(path, dst) == -1) {
		r = ly_fail(LY_ERR_HSM, "moving %s aside: %s", path,
		    strerror(errno));
		goto out;
	}
	r = 0;
 out:
	free(dir);
	free(dst);
	return r;
}

/*
 * Checks one token file against its copy (copydir/name) and restores or
 * moves it aside if damaged. Guard held.
 */
static int
check_file(const char *tokname, const char *tokpath, const char *copydir,
    const char *name, const char *label)
{
	unsigned char	*cur = NULL, *ref = NULL;
	char		*path = NULL, *cpath = NULL;
	struct objinfo	*ri = NULL;
	size_t		 curlen, reflen;
	int		 refok, r = LY_ERR_ALLOC;

	if ((path = ly_path_join(tokpath, name)) == NULL ||
	    (cpath = ly_path_join(copydir, name)) == NULL ||
	    (ri = malloc(sizeof(*ri))) == NULL)
		goto out;
	if ((r = file_get(path, &cur, &curlen)) != 0 ||
	    (r = file_get(cpath, &ref, &reflen)) != 0)
		goto out;
	refok = ref != NULL && hsm_guard_whole(name, ref, reflen, NULL, 0);
	if (cur != NULL && hsm_guard_whole(name, cur, curlen,
	    refok ? ref : NULL, reflen)) {
		r = 0;
		goto out;
	}
	if (refok) {
		if (guard_parse(ref, reflen, ri) == 0 && ri->label[0] != '\0')
			label = ri->label;
		if ((r = record_add(tokname, name, label, "restored")) != 0 ||
		    (r = ly_file_write_atomic(path, ref, reflen, 0600)) != 0)
			goto out;
		atomic_fetch_add(&guard.restores, 1);
		ly_log(LY_LOG_ERR, "HSM TOKEN RESTORED: %s/%s (token %s) was "
		    "damaged (%zu bytes; a crash while SoftHSM rewrote it); "
		    "restored from its verified copy", tokname, name,
		    label[0] != '\0' ? label : "?", curlen);
		r = 0;
	} else if (strcmp(name, TOKEN_OBJECT) == 0) {
		r = ly_fail(LY_ERR_HSM, "SoftHSM token %s: %s is damaged "
		    "(%zu bytes) and there is no verified copy of it; not "
		    "repaired: restore the instance from a backup", tokname,
		    name, curlen);
	} else {
		if ((r = record_add(tokname, name, label, "quarantined")) != 0 ||
		    (r = quarantine(tokname, path, name)) != 0)
			goto out;
		atomic_fetch_add(&guard.restores, 1);
		ly_log(LY_LOG_ERR, "HSM TOKEN REPAIRED: %s/%s was an "
		    "unfinished object (%zu bytes, no verified copy: its "
		    "creation was cut short); moved to %s", tokname, name,
		    curlen, guard.damaged);
	}
 out:
	free(cur);
	free(ref);
	free(path);
	free(cpath);
	free(ri);
	return r;
}

/* The label of a token: from its verified token.object, else the live one. */
static void
token_label(const char *tokpath, const char *copydir, char label[33])
{
	const char	*dirs[2] = { copydir, tokpath };
	struct objinfo	*oi;
	unsigned char	*b;
	char		*p;
	size_t		 len, i;

	label[0] = '\0';
	if ((oi = malloc(sizeof(*oi))) == NULL)
		return;
	for (i = 0; i < 2 && label[0] == '\0'; i++) {
		if ((p = ly_path_join(dirs[i], TOKEN_OBJECT)) == NULL)
			break;
		if (file_get(p, &b, &len) == 0 && b != NULL &&
		    guard_parse(b, len, oi) == 0)
			memcpy(label, oi->label, 33);
		free(b);
		free(p);
	}
	free(oi);
}

/* Checks every token file of one token directory. Guard held. */
static int
check_token(const char *tokname)
{
	DIR		*d = NULL;
	struct dirent	*e;
	char		*tokpath = NULL, *copydir = NULL, label[33];
	int		 r = LY_ERR_ALLOC, fr, seen = 0;

	if ((tokpath = ly_path_join(guard.tokendir, tokname)) == NULL ||
	    (copydir = ly_path_join(guard.copies, tokname)) == NULL)
		goto out;
	if ((d = opendir(tokpath)) == NULL) {
		r = ly_fail(LY_ERR_HSM, "%s: %s", tokpath, strerror(errno));
		goto out;
	}
	token_label(tokpath, copydir, label);
	r = 0;
	while ((e = readdir(d)) != NULL) {
		tmp_clean(tokpath, e->d_name);
		if (!is_token_file(e->d_name))
			continue;
		if (strcmp(e->d_name, TOKEN_OBJECT) == 0)
			seen = 1;
		if ((fr = check_file(tokname, tokpath, copydir, e->d_name,
		    label)) != 0 && r == 0)
			r = fr;
	}
	/* A token.object that is gone altogether. */
	if (!seen && (fr = check_file(tokname, tokpath, copydir,
	    TOKEN_OBJECT, label)) != 0 && r == 0)
		r = fr;
 out:
	if (d != NULL)
		closedir(d);
	free(tokpath);
	free(copydir);
	return r;
}

/* Calls fn for each token directory under the token dir. */
static int
tokens_foreach(int (*fn)(const char *))
{
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	char		*p;
	int		 r = 0, fr;

	if ((d = opendir(guard.tokendir)) == NULL)
		return errno == ENOENT ? 0 : ly_fail(LY_ERR_HSM, "%s: %s",
		    guard.tokendir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((p = ly_path_join(guard.tokendir, e->d_name)) == NULL) {
			r = LY_ERR_ALLOC;
			break;
		}
		fr = stat(p, &st) == 0 && S_ISDIR(st.st_mode) ?
		    fn(e->d_name) : 0;
		free(p);
		if (fr != 0 && r == 0)
			r = fr;
	}
	closedir(d);
	return r;
}

int
hsm_guard_check(void)
{
	int r;

	if (!guard.on)
		return 0;
	hsm_guard_lock();
	r = tokens_foreach(check_token);
	hsm_guard_unlock();
	return r;
}

/* --- verified copies --------------------------------------------------- */

/* Copies one whole token file if its copy differs. Guard held. */
static int
snap_file(const char *tokpath, const char *copydir, const char *name)
{
	unsigned char	*cur = NULL, *ref = NULL;
	char		*path = NULL, *cpath = NULL;
	size_t		 curlen, reflen;
	int		 r = LY_ERR_ALLOC;

	if ((path = ly_path_join(tokpath, name)) == NULL ||
	    (cpath = ly_path_join(copydir, name)) == NULL)
		goto out;
	if ((r = file_get(path, &cur, &curlen)) != 0 ||
	    (r = file_get(cpath, &ref, &reflen)) != 0)
		goto out;
	if (cur == NULL || !hsm_guard_whole(name, cur, curlen, NULL, 0)) {
		/* Not now: the copy we have stays the verified one. */
		ly_log(LY_LOG_WARN, "%s/%s: not whole; its verified copy is "
		    "kept", tokpath, name);
		r = 0;
		goto out;
	}
	/*
	 * The same but for the generation number (the first 8 bytes, which
	 * every login bumps): the copy stands, and a login costs no write.
	 * A restored file with an older number only makes other processes
	 * read it again.
	 */
	if (ref != NULL && reflen == curlen && curlen >= 8 &&
	    memcmp(ref + 8, cur + 8, curlen - 8) == 0)
		r = 0;
	else
		r = ly_file_write_atomic(cpath, cur, curlen, 0600);
 out:
	free(cur);
	free(ref);
	free(path);
	free(cpath);
	return r;
}

/* Removes copies of objects that were destroyed. Guard held. */
static int
snap_prune(const char *tokpath, const char *copydir)
{
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	char		*p, *c;
	int		 r = 0;

	if ((d = opendir(copydir)) == NULL)
		return ly_fail(LY_ERR_IO, "%s: %s", copydir, strerror(errno));
	while ((e = readdir(d)) != NULL && r == 0) {
		if (e->d_name[0] == '.')
			continue;
		p = ly_path_join(tokpath, e->d_name);
		c = ly_path_join(copydir, e->d_name);
		if (p == NULL || c == NULL)
			r = LY_ERR_ALLOC;
		else if ((!is_token_file(e->d_name) || (stat(p, &st) == -1 &&
		    errno == ENOENT)) && unlink(c) == -1)
			r = ly_fail(LY_ERR_IO, "%s: %s", c, strerror(errno));
		free(p);
		free(c);
	}
	closedir(d);
	return r;
}

static int
snap_token(const char *tokname)
{
	DIR		*d = NULL;
	struct dirent	*e;
	char		*tokpath = NULL, *copydir = NULL;
	int		 r = LY_ERR_ALLOC;

	if ((tokpath = ly_path_join(guard.tokendir, tokname)) == NULL ||
	    (copydir = ly_path_join(guard.copies, tokname)) == NULL)
		goto out;
	if ((r = ly_mkdir_p(copydir, 0700)) != 0)
		goto out;
	if ((d = opendir(tokpath)) == NULL) {
		r = ly_fail(LY_ERR_HSM, "%s: %s", tokpath, strerror(errno));
		goto out;
	}
	while ((e = readdir(d)) != NULL && r == 0)
		if (is_token_file(e->d_name))
			r = snap_file(tokpath, copydir, e->d_name);
	if (r == 0)
		r = snap_prune(tokpath, copydir);
 out:
	if (d != NULL)
		closedir(d);
	free(tokpath);
	free(copydir);
	return r;
}

/* Removes the copies of token directories that are gone. Guard held. */
static int
snap_prune_tokens(void)
{
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	char		*p, *c, *f;
	DIR		*cd;
	struct dirent	*ce;

	if ((d = opendir(guard.copies)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		p = ly_path_join(guard.tokendir, e->d_name);
		c = ly_path_join(guard.copies, e->d_name);
		if (p != NULL && c != NULL && stat(p, &st) == -1 &&
		    errno == ENOENT && (cd = opendir(c)) != NULL) {
			while ((ce = readdir(cd)) != NULL)
				if (ce->d_name[0] != '.' &&
				    (f = ly_path_join(c, ce->d_name)) != NULL) {
					(void)unlink(f);
					free(f);
				}
			closedir(cd);
			(void)rmdir(c);
		}
		free(p);
		free(c);
	}
	closedir(d);
	return 0;
}

int
hsm_guard_snapshot(void)
{
	int r;

	if (!guard.on)
		return 0;
	hsm_guard_lock();
	if ((r = ly_mkdir_p(guard.copies, 0700)) == 0 &&
	    (r = tokens_foreach(snap_token)) == 0)
		r = snap_prune_tokens();
	hsm_guard_unlock();
	if (r != 0)
		ly_log(LY_LOG_ERR, "HSM: verified copy of the tokens not "
		    "refreshed: %s", ly_errdetail());
	return r;
}

int
hsm_guard_enabled(void)
{
	return guard.on;
}
