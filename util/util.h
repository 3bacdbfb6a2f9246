/*
 * util/util.h — the bottom layer every part may use: error codes with a
 * string table (after OpenSSH's ssherr.h), a per-thread error detail, logging
 * that drains the OpenSSL error queue, the clock seam, and small helpers.
 *
 * It knows nothing about X.509, PKCS#11 or the store.
 */
#ifndef LANYARD_UTIL_H
#define LANYARD_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Error codes. Library-level functions return LY_OK (0) or one of these
 * negative values. The numeric values and the codes returned by
 * ly_errcode() are stable: the HTTP API and scripts rely on them.
 */
#define LY_OK			  0
#define LY_ERR_INTERNAL		 -1	/* a bug or an OpenSSL failure */
#define LY_ERR_ALLOC		 -2
#define LY_ERR_ARG		 -3	/* bad argument from the caller */
#define LY_ERR_IO		 -4	/* file system */
#define LY_ERR_CONFIG		 -5	/* ca.conf or a referenced file */
#define LY_ERR_HSM		 -6	/* token unavailable or failed */
#define LY_ERR_HSM_PIN		 -7	/* PIN missing, unreadable, wrong */
#define LY_ERR_NOT_FOUND	 -8
#define LY_ERR_EXISTS		 -9
#define LY_ERR_STORE		-10	/* LMDB failure */
#define LY_ERR_STORE_FULL	-11	/* LMDB map full */
#define LY_ERR_BAD_CSR		-12	/* malformed PKCS#10 */
#define LY_ERR_CSR_SIGNATURE	-13	/* CSR self-signature does not verify */
#define LY_ERR_KEY_POLICY	-14	/* key type or size not allowed */
#define LY_ERR_BAD_IDENTITY	-15	/* identity malformed or not allowed */
#define LY_ERR_POLICY		-16	/* request not allowed by the profile */
#define LY_ERR_STATE		-17	/* wrong state: revoked, expired, ... */
#define LY_ERR_AUDIT		-18	/* audit chain broken */
#define LY_ERR_TOO_LARGE	-19	/* input over a hard limit */
#define LY_ERR_BAD_PROFILE	-20	/* unknown profile */
#define LY_ERR_BAD_INPUT	-21	/* malformed input other than a CSR */
#define LY_ERR_LINT		-22	/* to-be-signed object fails a rule */
#define LY_ERR_TOKEN		-23	/* enrollment token unknown, used, expired, revoked */
#define LY_ERR_IDENTITY_DISABLED -24	/* an admin disabled the identity */
#define LY_ERR_ENGINE		-25	/* ca-server's engine process unavailable */
#define LY_ERR_MAX		 25

/* Human text for an error code; never NULL. */
const char	*ly_strerror(int);
/* Stable machine code ("bad_csr", "key_policy", ...); never NULL. */
const char	*ly_errcode(int);

/*
 * Per-thread detail of the last failure: ly_fail() records a formatted
 * message and returns the code, so a failing check reads
 *	return ly_fail(LY_ERR_KEY_POLICY, "RSA key of %d bits", bits);
 * ly_errdetail() returns the last message of this thread ("" if none); the
 * string is valid until the next ly_fail() or ly_errclear() on this thread.
 */
int		 ly_fail(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*ly_errdetail(void);
void		 ly_errclear(void);

/* Logging. Messages go to stderr unless ly_log_quiet is set by a test. */
enum ly_loglevel {
	LY_LOG_ERR,
	LY_LOG_WARN,
	LY_LOG_INFO,
	LY_LOG_DEBUG,
};
void		 ly_log_setlevel(enum ly_loglevel);
void		 ly_log(enum ly_loglevel, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* Logs "where: reason" for each entry of the OpenSSL error queue, then clears it. */
void		 ly_log_crypto(const char *where);

/*
 * The clock seam: everything that puts a time into a certificate, CRL,
 * token or audit entry asks ly_now(). Tests pin it with ly_clock_set();
 * passing 0 returns to the system clock. ca-admin and ca-server also honour
 * LANYARD_TEST_NOW (seconds since the epoch) when built with
 * --enable-test-hooks, so integration tests can move time without sleeping.
 */
time_t		 ly_now(void);
void		 ly_clock_set(time_t);

/*
 * Reads a whole regular file of at most max bytes into a NUL-terminated
 * buffer (*len excludes the NUL). The caller frees *buf. LY_ERR_TOO_LARGE if
 * the file is larger than max.
 */
int		 ly_file_read(const char *path, size_t max, unsigned char **buf,
		    size_t *len);
/*
 * Writes data to path atomically and durably: a temporary file in the same
 * directory with the given mode, fsync, rename, fsync of the directory.
 */
int		 ly_file_write_atomic(const char *path, const void *data,
		    size_t len, unsigned int mode);
/* Joins dir and name into a newly allocated path; name absolute → copy of name. */
char		*ly_path_join(const char *dir, const char *name);
/* Creates dir (and missing parents) with mode; existing dir is fine. */
int		 ly_mkdir_p(const char *dir, unsigned int mode);
/*
 * Splits a comma list, trimming blanks and dropping empty items. *itemsp
 * (n strings) is freed with ly_list_free().
 */
int		 ly_list_split(const char *list, char ***itemsp, size_t *np);
void		 ly_list_free(char **, size_t);

/* Lower-case hex of len bytes into a new string. */
char		*ly_hex_encode(const unsigned char *, size_t);
/*
 * Parses hex (upper or lower case, an optional "0x" prefix and ':'
 * separators are accepted) into at most max bytes. Returns the byte count or
 * a negative error.
 */
int		 ly_hex_decode(const char *, unsigned char *out, size_t max);

/*
 * Copies in into out (outlen bytes, at least 1) as valid UTF-8, for text
 * a JSON encoder must take (jansson refuses invalid UTF-8): well-formed
 * characters (RFC 3629: no overlong form, no surrogate, none above
 * U+10FFFF) as they are, every other byte as the four characters "\xHH".
 * Stops before a character or escape that would not fit, so the text is
 * cut only between characters. Returns out, always NUL-terminated.
 */
char		*ly_utf8_clean(const char *in, char *out, size_t outlen);

/* Formats t as RFC 3339 UTC ("2026-11-23T18:58:00Z") into buf[21]. */
void		 ly_time_fmt(time_t t, char buf[21]);

#endif /* LANYARD_UTIL_H */
