/*
 * util/misc.c — the clock seam, files, paths and time formatting (hex is
 * in codec.c).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

static time_t fixed_now;

time_t
ly_now(void)
{
	return fixed_now != 0 ? fixed_now : time(NULL);
}

void
ly_clock_set(time_t t)
{
	fixed_now = t;
}

int
ly_file_read(const char *path, size_t max, unsigned char **bufp, size_t *lenp)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, r = LY_ERR_IO;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return ly_fail(errno == ENOENT ? LY_ERR_NOT_FOUND : LY_ERR_IO,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		r = ly_fail(LY_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = ly_fail(LY_ERR_TOO_LARGE, "%s: larger than %zu bytes",
		    path, max);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	/* The size may change under us: read what is there, up to st_size. */
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	r = LY_OK;
 out:
	free(buf);
	close(fd);
	return r;
}

static int
fsync_dir(const char *path)
{
	char *copy, *dir;
	int fd, r = LY_OK;

	if ((copy = strdup(path)) == NULL)
		return LY_ERR_ALLOC;
	dir = dirname(copy);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		r = ly_fail(LY_ERR_IO, "%s: %s", dir, strerror(errno));
	if (fd != -1)
		close(fd);
	free(copy);
	return r;
}

int
ly_file_write_atomic(const char *path, const void *data, size_t len,
    unsigned int mode)
{
	char tmp[PATH_MAX];
	const unsigned char *p = data;
	ssize_t n;
	int fd, r = LY_ERR_IO;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp))
		return ly_fail(LY_ERR_ARG, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1)
		return ly_fail(LY_ERR_IO, "%s: %s", tmp, strerror(errno));
	/* open() honours the umask; the mode is a promise (PIN files). */
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	return fsync_dir(path);
 fail:
	r = ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return r;
}

char *
ly_path_join(const char *dir, const char *name)
{
	char *p;

	if (name[0] == '/' || dir == NULL || dir[0] == '\0')
		return strdup(name);
	if (asprintf(&p, "%s/%s", dir, name) == -1)
		return NULL;
	return p;
}

int
ly_mkdir_p(const char *dir, unsigned int mode)
{
	char buf[PATH_MAX], *s;

	if (strlen(dir) >= sizeof(buf))
		return ly_fail(LY_ERR_ARG, "%s: path too long", dir);
	strcpy(buf, dir);
	for (s = buf + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return ly_fail(LY_ERR_IO, "%s: %s", buf,
			    strerror(errno));
		*s = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return ly_fail(LY_ERR_IO, "%s: %s", buf, strerror(errno));
	return LY_OK;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	/* Gone already (a race with another cleaner) is what was wanted. */
	return remove(path) == -1 && errno != ENOENT ? -1 : 0;
}

static int
remove_below(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0;
	return remove(path) == -1 && errno != ENOENT ? -1 : 0;
}

int
ly_remove_tree(const char *dir, int keep_top)
{
	struct stat st;

	/* rm -rf: nothing there is nothing to do. */
	if (dir == NULL || (lstat(dir, &st) == -1 && errno == ENOENT))
		return LY_OK;
	/* Depth first, so a directory is empty when its turn comes. */
	if (nftw(dir, keep_top ? remove_below : remove_entry, 16,
	    FTW_DEPTH | FTW_PHYS) != 0)
		return ly_fail(LY_ERR_IO, "%s: cannot remove: %s", dir,
		    strerror(errno));
	return LY_OK;
}

void
ly_time_fmt(time_t t, char buf[21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
ly_time_parse(const char *s, time_t *tp)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) ==
	    NULL || *end != '\0')
		return ly_fail(LY_ERR_BAD_INPUT, "not an RFC 3339 UTC time "
		    "(2026-11-23T18:58:00Z)");
	*tp = timegm(&tm);
	return LY_OK;
}

int
ly_list_split(const char *list, char ***itemsp, size_t *np)
{
	char **items = NULL, *copy = NULL, *tok, *save = NULL, *e;
	size_t n = 0, i;
	int r = LY_ERR_ALLOC;

	if ((copy = strdup(list)) == NULL ||
	    (items = calloc(strlen(list) / 2 + 2, sizeof(*items))) == NULL)
		goto out;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*tok == '\0')
			continue;
		if ((items[n] = strdup(tok)) == NULL)
			goto out;
		n++;
	}
	*itemsp = items;
	*np = n;
	items = NULL; /* transferred */
	r = LY_OK;
 out:
	if (items != NULL)
		for (i = 0; i < n; i++)
			free(items[i]);
	free(items);
	free(copy);
	return r;
}

void
ly_list_free(char **items, size_t n)
{
	size_t i;

	if (items == NULL)
		return;
	for (i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/* The length of the well-formed UTF-8 character at s, or 0 (RFC 3629 4). */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	/* A NUL ends the string: it is no continuation byte. */
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

char *
ly_utf8_clean(const char *in, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n, o = 0;

	while (*s != '\0') {
		if ((n = utf8_len(s)) > 0) {
			if (o + n >= outlen)
				break;
			memcpy(out + o, s, n);
			o += n;
			s += n;
			continue;
		}
		if (o + 4 >= outlen)
			break;
		snprintf(out + o, outlen - o, "\\x%02x", *s++);
		o += 4;
	}
	out[o] = '\0';
	return out;
}
