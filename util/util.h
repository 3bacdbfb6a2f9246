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

#include <openssl/types.h>	/* ASN1_TIME */

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
 * rm -rf dir, without following symbolic links; with keep_top, dir
 * itself stays (a directory the user made). A dir that is not there, or
 * NULL, is LY_OK. LY_ERR_IO if anything could not be removed;
 * ly_errdetail() is set only then.
 */
int		 ly_remove_tree(const char *dir, int keep_top);
/*
 * Splits a comma list, trimming blanks and dropping empty items. *itemsp
 * (n strings) is freed with ly_list_free().
 */
int		 ly_list_split(const char *list, char ***itemsp, size_t *np);
void		 ly_list_free(char **, size_t);

/* ---- codec.c: hex, base64, PEM, ASN.1 time; big-endian below -------- */

/* The value of hex digit c (either case), or -1. */
int		 ly_hex_digit(int c);
/* Lower-case hex of len bytes into a new string. */
char		*ly_hex_encode(const unsigned char *, size_t);
/*
 * Parses hex (upper or lower case, an optional "0x" prefix and ':'
 * separators are accepted; an odd count has a leading nibble, "abc" is
 * 0x0abc) into at most max bytes. Returns the byte count, or
 * LY_ERR_BAD_INPUT (empty, not hex) or LY_ERR_TOO_LARGE.
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

#define LY_B64_WS	0x1	/* skip white space (RFC 8951 3, PEM bodies) */
/*
 * Percent-decodes len bytes of in into out (room for len bytes: decoding
 * never lengthens). '+' stays '+' (it is not a space in a path). Refuses
 * a '%' not followed by two hex digits, and %00. Returns the decoded
 * length or LY_ERR_BAD_INPUT.
 */
int		 ly_pct_decode(const char *in, size_t len, unsigned char *out);
/*
 * Decodes base64 (RFC 4648 section 4: '+' and '/', padding required, and
 * canonical: the bits a final quantum leaves over are zero, so a value
 * has one spelling) of len bytes of in into out (room for max bytes).
 * Flags: LY_B64_WS skips spaces, tabs, CRs and LFs anywhere; without it
 * they are refused like any other byte outside the alphabet. Returns
 * the byte count (> 0), LY_ERR_BAD_INPUT (empty included),
 * LY_ERR_TOO_LARGE or LY_ERR_ALLOC.
 */
int		 ly_b64_decode(const char *in, size_t len, unsigned int flags,
		    unsigned char *out, size_t max);
/*
 * PEM armour ("-----BEGIN label-----", base64 in 64-character lines,
 * "-----END label-----\n") of len bytes of der, NUL-terminated. *pemp
 * (*lenp bytes without the NUL) is the caller's to free. LY_ERR_ALLOC.
 */
int		 ly_pem_encode(const char *label, const unsigned char *der,
		    size_t len, char **pemp, size_t *lenp);
/*
 * An ASN.1 UTCTime or GeneralizedTime as seconds since the epoch (UTC;
 * UTCTime years 50-99 are 19xx, 00-49 20xx). LY_ERR_INTERNAL if t is NULL
 * or unreadable: the times we read come from certificates already parsed.
 */
int		 ly_asn1_time(const ASN1_TIME *t, time_t *out);

/* Big-endian integers of 4 and 8 bytes at p (store keys, records). */
static inline void
ly_be32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline uint32_t
ly_be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void
ly_be64_put(unsigned char *p, uint64_t v)
{
	ly_be32_put(p, (uint32_t)(v >> 32));
	ly_be32_put(p + 4, (uint32_t)v);
}

static inline uint64_t
ly_be64_get(const unsigned char *p)
{
	return (uint64_t)ly_be32_get(p) << 32 | ly_be32_get(p + 4);
}

/* Formats t as RFC 3339 UTC ("2026-11-23T18:58:00Z") into buf[21]. */
void		 ly_time_fmt(time_t t, char buf[21]);
/*
 * Parses what ly_time_fmt writes (RFC 3339 UTC, "Z", no fraction) into
 * *tp. LY_ERR_BAD_INPUT for anything else, *tp untouched.
 */
int		 ly_time_parse(const char *s, time_t *tp);

#endif /* LANYARD_UTIL_H */
