/*
 * cmd/admin_opts.c — what every ca-admin command shares: messages, usage
 * and --help, the operator's name, input files, and output files and
 * directories that are checked before any state changes.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ca/ca.h"
#include "cmd/admin.h"
#include "ocsp/ocsp.h"
#include "util/util.h"

const char *admin_dir;
const char *admin_cmdname = "ca-admin";

void
admin_fail(int r)
{
	const char *d = ly_errdetail();

	if (d[0] != '\0')
		fprintf(stderr, "ca-admin: %s: %s: %s\n", admin_cmdname,
		    ly_strerror(r), d);
	else
		fprintf(stderr, "ca-admin: %s: %s\n", admin_cmdname,
		    ly_strerror(r));
}

int
admin_exit(int r)
{
	if (r == LY_OK)
		return 0;
	admin_fail(r);
	return 1;
}

int
admin_usage(const char *u, const char *why)
{
	if (why != NULL)
		fprintf(stderr, "ca-admin: %s: %s\n", admin_cmdname, why);
	fprintf(stderr, "usage: ca-admin [--dir DIR] %s\n", u);
	return EXIT_USAGE;
}

int
admin_help_asked(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

int
admin_help(const char *u, const char *about)
{
	printf("usage: ca-admin [--dir DIR] %s\n", u);
	if (about != NULL)
		printf("\n%s\n", about);
	return 0;
}

const char *
admin_actor(void)
{
	static char buf[96];
	struct passwd *pw = getpwuid(geteuid());

	snprintf(buf, sizeof(buf), "cli:%s", pw != NULL ? pw->pw_name :
	    "unknown");
	return buf;
}

int
admin_read_input(const char *path, unsigned char **buf, size_t *len)
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

int
admin_open_with_ocsp(unsigned int flags, int optional, struct ca **cap,
    struct ocsp_responder **respp)
{
	int r;

	*respp = NULL;
	if ((r = ca_open(admin_dir, flags, cap)) != LY_OK)
		return r;
	if ((r = ocsp_responder_new(*cap, respp)) != LY_OK && optional) {
		fprintf(stderr, "ca-admin: %s: warning: no OCSP responder (%s: "
		    "%s); responses will be signed on demand\n",
		    admin_cmdname, ly_strerror(r), ly_errdetail());
		ly_errclear();
		return LY_OK;
	}
	return r;
}

int
admin_out_open(const char *path, struct admin_out *o)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (path == NULL)
		return LY_OK;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return ly_fail(LY_ERR_ARG, "--out %s is a directory", path);
	if (asprintf(&o->tmp, "%s.tmp.XXXXXX", path) == -1) {
		o->tmp = NULL;
		return LY_ERR_ALLOC;
	}
	/* Created now: a path that cannot be written fails before a change. */
	if ((o->fd = mkostemp(o->tmp, O_CLOEXEC)) == -1) {
		int e = errno;

		free(o->tmp);
		o->tmp = NULL;
		return ly_fail(LY_ERR_IO, "--out %s: %s", path, strerror(e));
	}
	if (fchmod(o->fd, 0644) == -1) {
		int e = errno;

		admin_out_abort(o);
		return ly_fail(LY_ERR_IO, "--out %s: %s", path, strerror(e));
	}
	o->path = path;
	return LY_OK;
}

/* fsync of the directory that holds path, so a rename is durable. */
static int
sync_parent(const char *path)
{
	char buf[PATH_MAX];
	int fd, r = LY_OK;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return ly_fail(LY_ERR_ARG, "%s: path too long", path);
	if ((fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
	if (fsync(fd) == -1)
		r = ly_fail(LY_ERR_IO, "%s: %s", path, strerror(errno));
	close(fd);
	return r;
}

int
admin_out_commit(struct admin_out *o, const void *data, size_t len)
{
	const unsigned char *p = data;
	ssize_t n;
	int r;

	if (o->path == NULL)
		return fwrite(data, 1, len, stdout) == len &&
		    fflush(stdout) == 0 ? LY_OK : ly_fail(LY_ERR_IO,
		    "standard output: %s", strerror(errno));
	while (len > 0) {
		n = write(o->fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(o->fd) == -1)
		goto fail;
	r = close(o->fd);
	o->fd = -1;
	if (r == -1 || rename(o->tmp, o->path) == -1)
		goto fail;
	free(o->tmp);
	o->tmp = NULL;
	return sync_parent(o->path);
 fail:
	r = ly_fail(LY_ERR_IO, "%s: %s", o->path, strerror(errno));
	admin_out_abort(o);
	return r;
}

void
admin_out_abort(struct admin_out *o)
{
	if (o == NULL)
		return;
	if (o->fd != -1)
		close(o->fd);
	o->fd = -1;
	if (o->tmp != NULL)
		unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
}

int
admin_outdir_check(const char *dir)
{
	struct stat st;

	char why[256];
	int r;

	if ((r = ly_mkdir_p(dir, 0755)) != LY_OK) {
		/* The detail is rewritten: copy it first. */
		snprintf(why, sizeof(why), "%s", ly_errdetail());
		return ly_fail(r, "--out: %s", why);
	}
	if (stat(dir, &st) == -1)
		return ly_fail(LY_ERR_IO, "--out %s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ly_fail(LY_ERR_ARG, "--out %s is not a directory", dir);
	if (access(dir, W_OK | X_OK) == -1)
		return ly_fail(LY_ERR_IO, "--out %s: %s", dir,
		    strerror(errno));
	return LY_OK;
}

int
admin_output_cert(struct ca *ca, X509 *x, int chain, struct admin_out *o)
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
	r = admin_out_commit(o, data, (size_t)len);
 out:
	BIO_free(b);
	return r;
}

int
admin_print_json(json_t *o)
{
	int r = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);

	putchar('\n');
	return r == 0 ? LY_OK : LY_ERR_IO;
}
