/*
 * ca/serial.c — certificate serial numbers: drawing, ASN.1 and hex.
 *
 * A serial is kept as 20 big-endian octets, left-padded with zeros, so the
 * store's keys sort by value. RFC 5280 4.1.2.2: positive, at most 20
 * octets. We draw 128 bits, which leaves the top four octets zero: the
 * DER INTEGER then has at most 17 content octets (16 and a 00 pad).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "util/util.h"
#include "ca/ca.h"

#define CA_SERIAL_RANDOM	16	/* octets drawn from the CSPRNG */

/* The test seam: borrowed from the caller, see ca_serial_set_source(). */
static const struct ca_serial *seam;
static size_t seam_n, seam_next;

void
ca_serial_set_source(const struct ca_serial *list, size_t n)
{
	seam = n > 0 ? list : NULL;
	seam_n = seam != NULL ? n : 0;
	seam_next = 0;
}

int
ca_serial_is_zero(const struct ca_serial *s)
{
	unsigned char acc = 0;
	size_t i;

	for (i = 0; i < CA_SERIAL_LEN; i++)
		acc |= s->b[i];
	return acc == 0;
}

/*
 * Fills s with a fresh serial. The seam's serials are returned as given
 * (a test may want a collision or a zero); the CSPRNG's never are zero.
 */
int
ca_serial_new(struct ca_serial *s)
{
	struct ca_serial t;

	if (seam != NULL && seam_next < seam_n) {
		*s = seam[seam_next++];
		return LY_OK;
	}
	memset(&t, 0, sizeof(t));
	/* A zero draw has probability 2^-128, but zero is not a serial. */
	do {
		if (RAND_priv_bytes(t.b + CA_SERIAL_LEN - CA_SERIAL_RANDOM,
		    CA_SERIAL_RANDOM) != 1) {
			ly_log_crypto("RAND_priv_bytes");
			return ly_fail(LY_ERR_INTERNAL,
			    "cannot draw a serial from the CSPRNG");
		}
	} while (ca_serial_is_zero(&t));
	*s = t;
	return LY_OK;
}

ASN1_INTEGER *
ca_serial_to_asn1(const struct ca_serial *s)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;

	if (ca_serial_is_zero(s)) {
		ly_fail(LY_ERR_ARG, "serial is zero (RFC 5280 4.1.2.2)");
		return NULL;
	}
	if ((bn = BN_bin2bn(s->b, CA_SERIAL_LEN, NULL)) == NULL ||
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		ly_log_crypto("ca_serial_to_asn1");
		ly_fail(LY_ERR_INTERNAL, "cannot encode serial");
	}
	BN_free(bn);
	return ai;
}

int
ca_serial_from_asn1(const ASN1_INTEGER *ai, struct ca_serial *s)
{
	BIGNUM *bn = NULL;
	int r = LY_ERR_INTERNAL;

	if (ai == NULL)
		return ly_fail(LY_ERR_ARG, "no serial");
	/*
	 * Through a BIGNUM: ASN1_INTEGER_get_int64() stops at 8 octets and
	 * serials have up to 20.
	 */
	if ((bn = ASN1_INTEGER_to_BN(ai, NULL)) == NULL) {
		ly_log_crypto("ASN1_INTEGER_to_BN");
		r = ly_fail(LY_ERR_BAD_INPUT, "serial is not an INTEGER");
		goto out;
	}
	if (BN_is_negative(bn)) {
		r = ly_fail(LY_ERR_BAD_INPUT, "serial is negative "
		    "(RFC 5280 4.1.2.2)");
		goto out;
	}
	if (BN_is_zero(bn)) {
		r = ly_fail(LY_ERR_BAD_INPUT, "serial is zero "
		    "(RFC 5280 4.1.2.2)");
		goto out;
	}
	if (BN_num_bytes(bn) > CA_SERIAL_LEN) {
		r = ly_fail(LY_ERR_BAD_INPUT, "serial of %d octets is longer "
		    "than %d (RFC 5280 4.1.2.2)", BN_num_bytes(bn),
		    CA_SERIAL_LEN);
		goto out;
	}
	if (BN_bn2binpad(bn, s->b, CA_SERIAL_LEN) != CA_SERIAL_LEN) {
		r = ly_fail(LY_ERR_INTERNAL, "BN_bn2binpad");
		goto out;
	}
	r = LY_OK;
 out:
	BN_free(bn);
	return r;
}

/*
 * As "openssl x509 -serial" prints it (i2a_ASN1_INTEGER): upper case, the
 * magnitude's octets without leading zero octets and without the 00 that
 * DER puts before a first octet >= 0x80. Zero prints as "00".
 */
char *
ca_serial_hex(const struct ca_serial *s)
{
	char *hex, *p;
	size_t first;

	for (first = 0; first < CA_SERIAL_LEN - 1 && s->b[first] == 0; first++)
		continue;
	if ((hex = ly_hex_encode(s->b + first, CA_SERIAL_LEN - first)) == NULL)
		return NULL;
	for (p = hex; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return hex;
}

/*
 * Parses what ca_serial_hex() writes, in either case, with ':' between
 * digits allowed (as "openssl x509 -text" shows serials). An odd number
 * of digits has a leading nibble: "abc" is 0x0abc.
 */
int
ca_serial_parse(const char *hex, struct ca_serial *s)
{
	struct ca_serial t;
	unsigned char buf[CA_SERIAL_LEN];
	int n;

	if (hex == NULL)
		return ly_fail(LY_ERR_ARG, "no serial");
	/* ly_hex_decode() takes a "0x" prefix; a serial as OpenSSL prints it has none. */
	if (hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
		return ly_fail(LY_ERR_BAD_INPUT, "serial: 'x' is not a hex "
		    "digit");
	if ((n = ly_hex_decode(hex, buf, sizeof(buf))) < 0) {
		if (n == LY_ERR_TOO_LARGE)
			return ly_fail(LY_ERR_BAD_INPUT, "serial longer than "
			    "%d octets (RFC 5280 4.1.2.2)", CA_SERIAL_LEN);
		return ly_fail(LY_ERR_BAD_INPUT, "serial: %s", ly_errdetail());
	}
	/* Right-align the octets into the 20. */
	memset(&t, 0, sizeof(t));
	memcpy(t.b + CA_SERIAL_LEN - n, buf, (size_t)n);
	if (ca_serial_is_zero(&t))
		return ly_fail(LY_ERR_BAD_INPUT, "serial is zero "
		    "(RFC 5280 4.1.2.2)");
	*s = t;
	return LY_OK;
}
