/*
 * hsm/pin.c — reading token PINs from a protected file or the environment,
 * and remembering the PIN that logged into each token.
 *
 * A PIN never comes from argv (ps shows it to everyone) and never goes to
 * a log. Every buffer that held one is wiped before it is freed.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"

/* A PIN longer than this is a mistake (PKCS#11 tokens take far less). */
#define HSM_PIN_MAX	256

/* Drops trailing CR and LF; returns the new length. */
static size_t
pin_chomp(char *pin, size_t len)
{
	while (len > 0 && (pin[len - 1] == '\n' || pin[len - 1] == '\r'))
		pin[--len] = '\0';
	return len;
}

/*
 * Reads the PIN file. It is opened first and checked with fstat() so that
 * the file checked is the file read (no race with a rename).
 */
static int
pin_file_read(const char *path, char **pinp)
{
	struct stat	 st;
	char		 buf[HSM_PIN_MAX + 2];
	char		*pin = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, r = LY_ERR_HSM_PIN;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		r = ly_fail(LY_ERR_HSM_PIN, "PIN file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		r = ly_fail(LY_ERR_HSM_PIN, "PIN file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = ly_fail(LY_ERR_HSM_PIN, "PIN file %s: not a regular file",
		    path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		r = ly_fail(LY_ERR_HSM_PIN, "PIN file %s: mode %04o lets group "
		    "or others access it; chmod 600 it", path,
		    (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	/* Read to EOF: short reads are legal even on regular files. */
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = ly_fail(LY_ERR_HSM_PIN, "PIN file %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len > HSM_PIN_MAX) {
		r = ly_fail(LY_ERR_HSM_PIN, "PIN file %s: longer than %d bytes",
		    path, HSM_PIN_MAX);
		goto out;
	}
	if ((len = pin_chomp(buf, len)) == 0 || strlen(buf) != len) {
		r = ly_fail(LY_ERR_HSM_PIN, "PIN file %s: empty or contains a "
		    "NUL byte", path);
		goto out;
	}
	if ((pin = OPENSSL_malloc(len + 1)) == NULL) {
		r = ly_fail(LY_ERR_ALLOC, "PIN file %s: out of memory", path);
		goto out;
	}
	memcpy(pin, buf, len + 1);
	*pinp = pin;
	r = 0;
 out:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (fd != -1)
		close(fd);
	return r;
}

/* Copies the PIN from the environment variable env. */
static int
pin_env_read(const char *env, char **pinp)
{
	const char	*v;
	char		*pin;
	size_t		 len;

	if ((v = getenv(env)) == NULL)
		return ly_fail(LY_ERR_HSM_PIN, "PIN variable %s is not set", env);
	len = strlen(v);
	if (len > HSM_PIN_MAX)
		return ly_fail(LY_ERR_HSM_PIN, "PIN variable %s: longer than "
		    "%d bytes", env, HSM_PIN_MAX);
	if ((pin = OPENSSL_malloc(len + 1)) == NULL)
		return ly_fail(LY_ERR_ALLOC, "PIN variable %s: out of memory",
		    env);
	memcpy(pin, v, len + 1);
	if (pin_chomp(pin, len) == 0) {
		OPENSSL_clear_free(pin, len + 1);
		return ly_fail(LY_ERR_HSM_PIN, "PIN variable %s is empty", env);
	}
	*pinp = pin;
	return 0;
}

/*
 * Reads a PIN from pin_file, else from the environment variable pin_env.
 * LY_ERR_HSM_PIN if neither is given, the file is not a regular file, is
 * accessible by group or others, is empty, or the variable is unset or
 * empty. *pinp is set only on success; free it with hsm_pin_free().
 */
int
hsm_pin_load(const char *pin_file, const char *pin_env, char **pinp)
{
	if (pinp == NULL)
		return ly_fail(LY_ERR_ARG, "hsm_pin_load: no output pointer");
	if (pin_file != NULL)
		return pin_file_read(pin_file, pinp);
	if (pin_env != NULL)
		return pin_env_read(pin_env, pinp);
	return ly_fail(LY_ERR_HSM_PIN, "no PIN file or PIN variable given");
}

/* Wipes and frees a PIN from hsm_pin_load(); NULL is a no-op. */
void
hsm_pin_free(char *pin)
{
	if (pin == NULL)
		return;
	OPENSSL_clear_free(pin, strlen(pin) + 1);
}

/* --- PINs that logged in ------------------------------------------------ */

/*
 * A PIN that logged into a token (by label and serial), kept so that
 * pkcs11-helper's PIN hook can log in again after a session is lost, and
 * so that a different PIN is refused while the token is logged in.
 */
struct hsm_pin_entry {
	struct hsm_pin_entry	*next;
	char			 label[33];
	char			 serial[17];
	char			*pin;
};

static pthread_mutex_t		 pins_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_pin_entry	*pins;

/* Finds the entry of a token. pins_lock held. */
static struct hsm_pin_entry *
pin_entry_find(const char *label, const char *serial)
{
	struct hsm_pin_entry	*e;

	for (e = pins; e != NULL; e = e->next)
		if (strcmp(e->label, label) == 0 &&
		    strcmp(e->serial, serial) == 0)
			return e;
	return NULL;
}

int
hsm_pin_remember(const char *label, const char *serial, const char *pin)
{
	struct hsm_pin_entry	*e;
	char			*copy;
	int			 r = LY_ERR_ALLOC;

	if ((copy = OPENSSL_strdup(pin)) == NULL)
		return ly_fail(LY_ERR_ALLOC, "out of memory");
	pthread_mutex_lock(&pins_lock);
	if ((e = pin_entry_find(label, serial)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			r = ly_fail(LY_ERR_ALLOC, "out of memory");
			goto out;
		}
		snprintf(e->label, sizeof(e->label), "%s", label);
		snprintf(e->serial, sizeof(e->serial), "%s", serial);
		e->next = pins;
		pins = e;
	}
	hsm_pin_free(e->pin);
	e->pin = copy;
	copy = NULL;
	r = 0;
 out:
	pthread_mutex_unlock(&pins_lock);
	hsm_pin_free(copy);
	return r;
}

int
hsm_pin_same(const char *label, const char *serial, const char *pin)
{
	struct hsm_pin_entry	*e;
	size_t			 len = strlen(pin);
	int			 same = -1;

	pthread_mutex_lock(&pins_lock);
	if ((e = pin_entry_find(label, serial)) != NULL)
		same = strlen(e->pin) == len &&
		    CRYPTO_memcmp(e->pin, pin, len) == 0;
	pthread_mutex_unlock(&pins_lock);
	return same;
}

int
hsm_pin_copy(const char *label, const char *serial, char *buf, size_t max)
{
	struct hsm_pin_entry	*e;
	int			 ok = 0;

	pthread_mutex_lock(&pins_lock);
	if ((e = pin_entry_find(label, serial)) != NULL &&
	    strlen(e->pin) < max) {
		memcpy(buf, e->pin, strlen(e->pin) + 1);
		ok = 1;
	}
	pthread_mutex_unlock(&pins_lock);
	return ok;
}

void
hsm_pin_forget_all(void)
{
	struct hsm_pin_entry	*e;

	pthread_mutex_lock(&pins_lock);
	while ((e = pins) != NULL) {
		pins = e->next;
		hsm_pin_free(e->pin);
		free(e);
	}
	pthread_mutex_unlock(&pins_lock);
}
