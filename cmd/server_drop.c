/*
 * cmd/server_drop.c — what ca-server's front gives up once it has
 * opened its sockets (the supervisor's), the store read-only and the TLS
 * key, before it answers anyone (docs/security.md, "The front/engine
 * boundary"). In order:
 *
 *   1. started as root with [server] user: the user's uid and gid, no
 *      supplementary groups (the PIN files, the token directory, the
 *      store's files and the TLS key are 0600 root: closed to it);
 *   2. no core dumps and no ptrace (PR_SET_DUMPABLE 0: a uid change
 *      resets it) and PR_SET_NO_NEW_PRIVS;
 *   3. Landlock, when the kernel has it: files may be read only below
 *      ca.conf, DIR/certs, DIR/tls, the store and the system's library
 *      and configuration directories, written nowhere but the store's
 *      lock file. The PIN files and the token directory (DIR/hsm by
 *      default) are outside: closed even to root, and when the front
 *      keeps the supervisor's uid (no root: tests, the demo);
 *   4. a seccomp allow-list (libseccomp, --enable-seccomp): the system
 *      calls a web server's threads make; everything else (execve,
 *      ptrace, new TCP sockets, mount, ...) fails with EPERM.
 * Not root, there is no uid to drop: 2 to 4 still apply (docs/security.md).
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/landlock.h>

#ifdef HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "ca/ca.h"
#include "cmd/server.h"
#include "conf/conf.h"
#include "util/util.h"

/* ---- 1. the user ---------------------------------------------------------- */

static int
drop_user(const struct srv_opts *o)
{
	gid_t g = o->gid;

	if (setgroups(1, &g) == -1 || setgid(o->gid) == -1 ||
	    setuid(o->uid) == -1)
		return ly_fail(LY_ERR_INTERNAL, "front: cannot become %s: %s",
		    o->user, strerror(errno));
	/* Gone for good: root cannot be taken back. */
	if (setuid(0) != -1 || geteuid() != o->uid || getegid() != o->gid)
		return ly_fail(LY_ERR_INTERNAL, "front: %s: root is still "
		    "within reach", o->user);
	return LY_OK;
}

/* ---- 3. Landlock ---------------------------------------------------------- */

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif

/* The file system rights Landlock knows at ABI 1, 2, 3. */
static uint64_t
ll_fs_rights(int abi)
{
	uint64_t r = LANDLOCK_ACCESS_FS_EXECUTE |
	    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return r;
}

/* Allows rights beneath path (a file or a directory); absent is fine. */
static int
ll_allow(int ruleset, const char *path, uint64_t rights)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd, rc;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return errno == ENOENT ? LY_OK : ly_fail(LY_ERR_IO,
		    "landlock: %s: %s", path, strerror(errno));
	/* A file takes file rights only. */
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		rights &= LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_EXECUTE;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = rights;
	pb.parent_fd = fd;
	rc = (int)syscall(SYS_landlock_add_rule, ruleset,
	    LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	close(fd);
	if (rc == -1)
		return ly_fail(LY_ERR_IO, "landlock: %s: %s", path,
		    strerror(errno));
	return LY_OK;
}

/* Whether path lies below (or is) one of the n directories in dirs. */
static int
below(const char *path, char *const *dirs, size_t n)
{
	char rp[4096], rd[4096];
	size_t i, l;

	if (path == NULL || realpath(path, rp) == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		if (dirs[i] == NULL || realpath(dirs[i], rd) == NULL)
			continue;
		l = strlen(rd);
		if (strncmp(rp, rd, l) == 0 && (rp[l] == '/' || rp[l] == '\0'))
			return 1;
	}
	return 0;
}

/*
 * The ruleset, made while the paths can still be opened (before the uid
 * changes); *fdp is -1 when the kernel has no Landlock.
 */
static int
landlock_rules(const struct srv_opts *o, const struct conf *conf, int *fdp)
{
	static const char *sys[] = { "/usr", "/lib", "/lib64", "/etc",
	    "/dev/urandom", "/dev/null", "/proc/self", "/sys/devices/system/cpu" };
	struct landlock_ruleset_attr ra;
	const uint64_t rd = LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR;
	char *mine[5] = { NULL };
	size_t i;
	int abi, fd = -1, r = LY_OK;

	*fdp = -1;
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		ly_log(LY_LOG_WARN, "front: no Landlock in this kernel: the "
		    "PIN files are closed to the front only by its uid");
		return LY_OK;
	}
	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = ll_fs_rights(abi);
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &ra,
	    sizeof(ra.handled_access_fs), 0)) == -1)
		return ly_fail(LY_ERR_INTERNAL, "landlock: %s", strerror(errno));
	mine[0] = ly_path_join(o->dir, "ca.conf");
	mine[1] = ly_path_join(o->dir, "certs");
	mine[2] = ly_path_join(o->dir, CA_TLS_DIR);
	mine[3] = strdup(conf->store_dir);
	for (i = 0; i < 4 && r == LY_OK; i++)
		r = mine[i] == NULL ? LY_ERR_ALLOC : ll_allow(fd, mine[i],
		    i == 3 ? rd | LANDLOCK_ACCESS_FS_WRITE_FILE : rd);
	/* The CA certificates may live elsewhere: only they, then. */
	if (r == LY_OK)
		r = ll_allow(fd, conf->root.cert_file, rd);
	if (r == LY_OK)
		r = ll_allow(fd, conf->issuing.cert_file, rd);
	for (i = 0; i < sizeof(sys) / sizeof(sys[0]) && r == LY_OK; i++)
		r = ll_allow(fd, sys[i], rd);
	if (r == LY_OK && (below(conf->root.pin_file, mine, 4) ||
	    below(conf->issuing.pin_file, mine, 4)))
		ly_log(LY_LOG_WARN, "front: a PIN file lies where the front "
		    "may read (ca.conf, certs, tls, store): move it");
	for (i = 0; i < 5; i++)
		free(mine[i]);
	if (r != LY_OK) {
		close(fd);
		return r;
	}
	*fdp = fd;
	return LY_OK;
}

/* ---- 4. seccomp ----------------------------------------------------------- */

#ifdef HAVE_SECCOMP
/* What the front's threads call; anything else fails with EPERM. */
static const char *const allowed[] = {
	/* files and memory (LMDB, OpenSSL, GnuTLS, the reload) */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "close", "lseek", "fstat", "newfstatat", "stat", "lstat",
	"statx", "fstatfs", "openat", "open", "getdents64", "readlink",
	"readlinkat", "access", "faccessat", "faccessat2", "fcntl", "flock",
	"dup", "dup2", "dup3", "mmap", "munmap", "mprotect", "madvise",
	"brk", "mremap", "msync", "mincore", "membarrier",
	/* threads, time, signals */
	"futex", "set_robust_list", "get_robust_list", "rseq",
	"sched_yield", "sched_getaffinity", "getcpu", "clone", "clone3",
	"exit", "exit_group", "set_tid_address", "rt_sigaction",
	"rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait",
	"rt_sigpending", "sigaltstack", "tgkill", "tkill", "kill",
	"restart_syscall", "getpid", "gettid", "getppid", "getuid",
	"geteuid", "getgid", "getegid", "getresuid", "getresgid",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time", "getrandom", "uname", "prlimit64",
	"getrlimit", "sysinfo", "prctl",
	/* the listeners, the engine's socket, syslog */
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select",
	"pselect6", "eventfd", "eventfd2", "pipe", "pipe2", "accept",
	"accept4", "recvfrom", "recvmsg", "sendto", "sendmsg", "sendmmsg",
	"recvmmsg", "shutdown", "setsockopt", "getsockopt", "getsockname",
	"getpeername", "connect", "ioctl",
};

static int
drop_seccomp(int *loadedp)
{
	scmp_filter_ctx ctx;
	size_t i;
	int nr, rc;

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return ly_fail(LY_ERR_ALLOC, "seccomp_init");
	/* Every thread, MHD's pools included, gets the filter. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0)
		goto out;
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		/* A name this architecture lacks is no loss. */
		if ((nr = seccomp_syscall_resolve_name(allowed[i])) ==
		    __NR_SCMP_ERROR)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) != 0)
			goto out;
	}
	/* A socket only for syslog's /dev/log: no TCP of its own. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_UNIX))) != 0)
		goto out;
	/*
	 * A service manager's own filter may forbid seccomp(2) (systemd's
	 * @system-service does): its filter then stands in for ours.
	 */
	if ((rc = seccomp_load(ctx)) == -EPERM || rc == -EACCES) {
		ly_log(LY_LOG_WARN, "front: seccomp(2) is not allowed here "
		    "(%s): no filter of our own", strerror(-rc));
		*loadedp = 0;
		rc = 0;
		goto out;
	}
	*loadedp = rc == 0;
 out:
	seccomp_release(ctx);
	if (rc != 0)
		return ly_fail(LY_ERR_INTERNAL, "seccomp: %s", strerror(-rc));
	return LY_OK;
}
#endif

int
front_confine(const struct srv_opts *o, const struct conf *conf)
{
	int ll = -1, filtered = 0, r;

	(void)filtered;	/* without libseccomp */
	if ((r = landlock_rules(o, conf, &ll)) != LY_OK)
		return r;
	if (o->drop && (r = drop_user(o)) != LY_OK)
		goto out;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		r = ly_fail(LY_ERR_INTERNAL, "front: prctl: %s",
		    strerror(errno));
		goto out;
	}
	if (ll != -1 && syscall(SYS_landlock_restrict_self, ll, 0) == -1) {
		r = ly_fail(LY_ERR_INTERNAL, "landlock: %s", strerror(errno));
		goto out;
	}
#ifdef HAVE_SECCOMP
	if ((r = drop_seccomp(&filtered)) != LY_OK)
		goto out;
#endif
	ly_log(LY_LOG_INFO, "front: confined (%s%s, no new privileges, "
	    "%s, %s)", o->drop ? "user " : "uid ",
	    o->drop ? o->user : (getuid() == 0 ? "root" : "unchanged"),
	    ll != -1 ? "Landlock" : "no Landlock",
#ifdef HAVE_SECCOMP
	    filtered ? "seccomp" : "no seccomp filter"
#else
	    "no seccomp in this build"
#endif
	    );
	r = LY_OK;
 out:
	if (ll != -1)
		close(ll);
	return r;
}
