/*
 * util/codec.c — the byte codecs every part shares, one of each: hex,
 * strict base64, PEM armour, and ASN.1 times as time_t. OpenSSL does the
 * base64 and the time arithmetic (util/ links libcrypto already, for the
 * error queue in log.c); the checks around it are ours. The big-endian
 * helpers are inline in util.h.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>

#include "util/util.h"

/* Input bytes per EVP_EncodeUpdate call (its length is an int). */
#define PEM_CHUNK	(48 * 1024 * 1024)

/* ---- hex ------------------------------------------------------------- */

int
ly_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
ly_hex_encode(const unsigned char *b, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *s;
	size_t i;

	if ((s = malloc(len * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		s[2 * i] = digits[b[i] >> 4];
		s[2 * i + 1] = digits[b[i] & 0xf];
	}
	s[2 * len] = '\0';
	return s;
}

int
ly_hex_decode(const char *s, unsigned char *out, size_t max)
{
	char digits[2 * 64 + 1];
	size_t nd = 0, i, n;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (ly_hex_digit((unsigned char)*s) < 0)
			return ly_fail(LY_ERR_BAD_INPUT,
			    "'%c' is not a hex digit", *s);
		if (nd >= sizeof(digits) - 1)
			return ly_fail(LY_ERR_TOO_LARGE, "hex string too long");
		digits[nd++] = *s;
	}
	if (nd == 0)
		return ly_fail(LY_ERR_BAD_INPUT, "empty hex string");
	/* An odd count is a leading nibble: "abc" is 0x0abc. */
	n = (nd + 1) / 2;
	if (n > max)
		return ly_fail(LY_ERR_TOO_LARGE, "hex value longer than %zu "
		    "bytes", max);
	for (i = 0; i < n; i++) {
		size_t hi = 2 * i - (nd & 1);
		int h = (nd & 1) && i == 0 ? 0 : ly_hex_digit(digits[hi]);
		out[i] = (unsigned char)(h << 4 | ly_hex_digit(digits[hi + 1]));
	}
	return (int)n;
}

/* ---- base64 ---------------------------------------------------------- */

static int
is_b64_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Strict decoding of in (len a multiple of 4) into out; see ly_b64_decode. */
static int
b64_strict(const char *in, size_t len, unsigned char *out, size_t max)
{
	unsigned char *dec = NULL;
	char *enc = NULL;
	size_t pad = 0;
	int n, r = LY_ERR_BAD_INPUT;

	if (len == 0 || len % 4 != 0) {
		ly_fail(r, "base64 of %zu characters", len);
		goto out;
	}
	if (len / 4 * 3 > max + 2) {
		r = ly_fail(LY_ERR_TOO_LARGE, "base64 over %zu bytes", max);
		goto out;
	}
	while (pad < 2 && in[len - 1 - pad] == '=')
		pad++;
	if ((dec = malloc(len / 4 * 3 + 1)) == NULL ||
	    (enc = malloc(len + 1)) == NULL) {
		r = LY_ERR_ALLOC;
		goto out;
	}
	/*
	 * EVP_DecodeBlock skips white space and does not look at the bits a
	 * final quantum leaves over; encoding the result again and asking
	 * for the same text refuses both, and any character outside the
	 * alphabet, without a base64 decoder of our own.
	 */
	if ((n = EVP_DecodeBlock(dec, (const unsigned char *)in,
	    (int)len)) < 0 || (size_t)n != len / 4 * 3 ||
	    EVP_EncodeBlock((unsigned char *)enc, dec, (int)((size_t)n -
	    pad)) != (int)len || memcmp(enc, in, len) != 0) {
		ly_fail(r, "not canonical base64");
		goto out;
	}
	if ((size_t)n - pad > max) {
		r = ly_fail(LY_ERR_TOO_LARGE, "base64 over %zu bytes", max);
		goto out;
	}
	memcpy(out, dec, (size_t)n - pad);
	r = (int)((size_t)n - pad);
 out:
	free(dec);
	free(enc);
	return r;
}

int
ly_b64_decode(const char *in, size_t len, unsigned int flags,
    unsigned char *out, size_t max)
{
	char *compact;
	size_t i, n = 0;
	int r;

	if (len > (size_t)INT32_MAX)
		return ly_fail(LY_ERR_TOO_LARGE, "base64 of %zu characters",
		    len);
	if ((flags & LY_B64_WS) == 0)
		return b64_strict(in, len, out, max);
	if ((compact = malloc(len + 1)) == NULL)
		return LY_ERR_ALLOC;
	for (i = 0; i < len; i++)
		if (!is_b64_space((unsigned char)in[i]))
			compact[n++] = in[i];
	r = b64_strict(compact, n, out, max);
	free(compact);
	return r;
}

/* ---- PEM ------------------------------------------------------------- */

int
ly_pem_encode(const char *label, const unsigned char *der, size_t len,
    char **pemp, size_t *lenp)
{
	EVP_ENCODE_CTX *ctx = NULL;
	char *pem = NULL;
	size_t cap, pos, off, chunk;
	int outl, n, r = LY_ERR_ALLOC;

	/* 64 characters and a newline per 48 bytes, plus the armour. */
	cap = (len / 48 + 2) * 65 + 2 * (strlen(label) + 20) + 1;
	if ((pem = malloc(cap)) == NULL || (ctx = EVP_ENCODE_CTX_new()) == NULL)
		goto out;
	n = snprintf(pem, cap, "-----BEGIN %s-----\n", label);
	pos = (size_t)n;
	EVP_EncodeInit(ctx);
	for (off = 0; off < len; off += chunk) {
		chunk = len - off < PEM_CHUNK ? len - off : PEM_CHUNK;
		if (EVP_EncodeUpdate(ctx, (unsigned char *)pem + pos, &outl,
		    der + off, (int)chunk) != 1) {
			r = ly_fail(LY_ERR_INTERNAL, "PEM encoding failed");
			goto out;
		}
		pos += (size_t)outl;
	}
	EVP_EncodeFinal(ctx, (unsigned char *)pem + pos, &outl);
	pos += (size_t)outl;
	n = snprintf(pem + pos, cap - pos, "-----END %s-----\n", label);
	pos += (size_t)n;
	*pemp = pem;
	*lenp = pos;
	pem = NULL; /* transferred */
	r = LY_OK;
 out:
	EVP_ENCODE_CTX_free(ctx);
	free(pem);
	return r;
}

/* ---- ASN.1 time ------------------------------------------------------ */

int
ly_asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	/* UTCTime's two-digit years are 1950-2049 (RFC 5280 4.1.2.5.1). */
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return ly_fail(LY_ERR_INTERNAL, "unreadable ASN.1 time");
	*out = timegm(&tm);
	return LY_OK;
}

int
ly_pct_decode(const char *in, size_t len, unsigned char *out)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (in[i] != '%') {
			/* A raw NUL cannot come from MHD, but the API allows it. */
			if (in[i] == '\0')
				return LY_ERR_BAD_INPUT;
			out[o++] = (unsigned char)in[i];
			continue;
		}
		if (len - i < 3)
			return LY_ERR_BAD_INPUT;
		if ((hi = ly_hex_digit((unsigned char)in[i + 1])) < 0 ||
		    (lo = ly_hex_digit((unsigned char)in[i + 2])) < 0)
			return LY_ERR_BAD_INPUT;
		/* A NUL would cut the name short in every C string after us. */
		if (hi == 0 && lo == 0)
			return LY_ERR_BAD_INPUT;
		out[o++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return (int)o;
}
