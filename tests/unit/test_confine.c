/*
 * What ca-server's front gives up (cmd/server_drop.c), tried in a child
 * process that confines itself as the front does, on a real instance:
 * the PIN files and the token directory cannot be opened (Landlock, even
 * as the same uid or root), ca.conf, the certificates and the store can;
 * no execve, no TCP socket (seccomp); no new privileges, no core dumps.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmd/server.h"
#include "conf/conf.h"
#include "util/util.h"
#include "tests/unit/fixture.h"

struct fixture {
	char		 base[64];
	char		 dir[80];
};

static int
setup_confine(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || fixture_instance("/tmp/lanyard-confine",
	    CONF_KEY_EC_P256, NULL, f->base, f->dir) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown_confine(void **state)
{
	struct fixture *f = *state;

	fixture_remove(f->base);
	free(f);
	return 0;
}

/* Whether path opens for reading (0) or the errno of the failure. */
static int
try_open(const char *path)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno;
	close(fd);
	return 0;
}

/*
 * The child's verdicts, one bit each, so that the parent can assert:
 * the child cannot use cmocka's jumps across fork.
 */
#define V_CONFINED	0x001
#define V_PIN_ROOT	0x002	/* refused */
#define V_PIN_ISSUING	0x004
#define V_TOKENS	0x008
#define V_CONF		0x010	/* allowed */
#define V_CERT		0x020
#define V_STORE		0x040
#define V_EXEC		0x080	/* refused */
#define V_TCP		0x100
#define V_NNP		0x200
#define V_NODUMP	0x400
#define V_ALL		0x7ff

static int
child(const char *dir)
{
	struct srv_opts o;
	struct conf *conf = NULL;
	char path[512];
	char *const argv[] = { "/bin/true", NULL };
	int v = 0;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.http_fd = o.https_fd = -1;
	if (conf_load(dir, NULL, &conf) != LY_OK)
		return 0;
	if (front_confine(&o, conf) == LY_OK)
		v |= V_CONFINED;
	if (try_open(conf->root.pin_file) == EACCES)
		v |= V_PIN_ROOT;
	if (try_open(conf->issuing.pin_file) == EACCES)
		v |= V_PIN_ISSUING;
	snprintf(path, sizeof(path), "%s/hsm/softhsm2.conf", dir);
	if (try_open(path) == EACCES)
		v |= V_TOKENS;
	snprintf(path, sizeof(path), "%s/ca.conf", dir);
	if (try_open(path) == 0)
		v |= V_CONF;
	if (try_open(conf->issuing.cert_file) == 0)
		v |= V_CERT;
	snprintf(path, sizeof(path), "%s/data.mdb", conf->store_dir);
	if (try_open(path) == 0)
		v |= V_STORE;
	execv(argv[0], argv);
	v |= V_EXEC;	/* still here */
	if (socket(AF_INET, SOCK_STREAM, 0) == -1 && errno == EPERM)
		v |= V_TCP;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		v |= V_NNP;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)
		v |= V_NODUMP;
	conf_free(conf);
	return v;
}

static void
test_front_confined(void **state)
{
	struct fixture *f = *state;
	int p[2], v = -1, st;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		v = child(f->dir);
		if (write(p[1], &v, sizeof(v)) != sizeof(v))
			_exit(2);
		_exit(0);
	}
	assert_true(pid > 0);
	close(p[1]);
	assert_int_equal(read(p[0], &v, sizeof(v)), sizeof(v));
	close(p[0]);
	waitpid(pid, &st, 0);
	print_message("verdicts %#x of %#x\n", (unsigned int)v, V_ALL);
	assert_true(v & V_CONFINED);
	assert_true(v & V_PIN_ROOT);
	assert_true(v & V_PIN_ISSUING);
	assert_true(v & V_TOKENS);
	assert_true(v & V_CONF);
	assert_true(v & V_CERT);
	assert_true(v & V_STORE);
#ifdef HAVE_SECCOMP
	assert_true(v & V_EXEC);
	assert_true(v & V_TCP);
#endif
	assert_true(v & V_NNP);
	assert_true(v & V_NODUMP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_front_confined, setup_confine,
		    teardown_confine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
