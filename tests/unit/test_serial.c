/*
 * tests/unit/test_serial.c — ca/serial.c: drawing, ASN.1, hex.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>

#include "util/util.h"
#include "ca/ca.h"

#define NDRAWS	1000

static int
serial_order(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct ca_serial));
}

/* What "openssl x509 -serial" prints: i2a_ASN1_INTEGER(). */
static char *
openssl_serial_text(const ASN1_INTEGER *ai)
{
	BIO *bio;
	char *p, *s;
	long n;

	assert_non_null(bio = BIO_new(BIO_s_mem()));
	assert_true(i2a_ASN1_INTEGER(bio, ai) > 0);
	n = BIO_get_mem_data(bio, &p);
	assert_non_null(s = strndup(p, (size_t)n));
	BIO_free(bio);
	return s;
}

static void
serial_from_hexstr(const char *hex, struct ca_serial *s)
{
	assert_int_equal(ca_serial_parse(hex, s), LY_OK);
}

static void
test_new_distinct_positive(void **state)
{
	struct ca_serial *s;
	ASN1_INTEGER *ai;
	unsigned char *der, *p;
	size_t i;
	int i2, n;

	(void)state;
	assert_non_null(s = calloc(NDRAWS, sizeof(*s)));
	for (i = 0; i < NDRAWS; i++) {
		assert_int_equal(ca_serial_new(&s[i]), LY_OK);
		assert_false(ca_serial_is_zero(&s[i]));
		/* 128 bits: the top four octets stay zero. */
		for (i2 = 0; i2 < CA_SERIAL_LEN - 16; i2++)
			assert_int_equal(s[i].b[i2], 0);
		assert_non_null(ai = ca_serial_to_asn1(&s[i]));
		assert_int_equal(ASN1_STRING_type(ai), V_ASN1_INTEGER);
		/* DER: tag, length, at most 17 content octets (00 pad). */
		der = NULL;
		n = i2d_ASN1_INTEGER(ai, &der);
		assert_true(n > 2 && n <= 2 + 17);
		assert_int_equal(der[0], 0x02);
		assert_int_equal(der[1], n - 2);
		assert_true(der[1] <= CA_SERIAL_LEN);
		assert_true((der[2] & 0x80) == 0);	/* positive */
		p = der;
		OPENSSL_free(p);
		ASN1_INTEGER_free(ai);
	}
	qsort(s, NDRAWS, sizeof(*s), serial_order);
	for (i = 1; i < NDRAWS; i++)
		assert_int_not_equal(memcmp(&s[i - 1], &s[i], sizeof(*s)), 0);
	free(s);
}

static void
test_asn1_roundtrip(void **state)
{
	static const char *vals[] = {
		"01", "7F", "80", "FF", "0100", "0A0B",
		"8000000000000000000000000000000000000001",
		"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
		"0123456789ABCDEF0123456789ABCDEF",
	};
	struct ca_serial s, t;
	ASN1_INTEGER *ai;
	char *hex;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		serial_from_hexstr(vals[i], &s);
		assert_non_null(ai = ca_serial_to_asn1(&s));
		memset(&t, 0xaa, sizeof(t));
		assert_int_equal(ca_serial_from_asn1(ai, &t), LY_OK);
		assert_memory_equal(&s, &t, sizeof(s));
		assert_non_null(hex = ca_serial_hex(&t));
		assert_string_equal(hex, vals[i]);
		free(hex);
		ASN1_INTEGER_free(ai);
	}
}

/* The hex form is what "openssl x509 -serial -noout" prints. */
static void
test_hex_matches_openssl(void **state)
{
	/* Checked with: openssl req -x509 -set_serial 0x80...01 | x509 -serial */
	static const struct {
		const char *in, *printed;
	} vals[] = {
		{ "8000000000000000000000000000000000000001",
		  "8000000000000000000000000000000000000001" },
		{ "0a0b", "0A0B" },
		{ "abc", "0ABC" },
		{ "00:00:c0:ff:ee", "C0FFEE" },
		{ "1", "01" },
	};
	struct ca_serial s;
	ASN1_INTEGER *ai;
	char *hex, *ossl;
	size_t i;
	int j;

	(void)state;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		serial_from_hexstr(vals[i].in, &s);
		assert_non_null(hex = ca_serial_hex(&s));
		assert_string_equal(hex, vals[i].printed);
		assert_non_null(ai = ca_serial_to_asn1(&s));
		ossl = openssl_serial_text(ai);
		assert_string_equal(hex, ossl);
		free(ossl);
		free(hex);
		ASN1_INTEGER_free(ai);
	}
	/* And for random serials, some of whose first octets are >= 0x80. */
	for (j = 0; j < 200; j++) {
		assert_int_equal(ca_serial_new(&s), LY_OK);
		assert_non_null(hex = ca_serial_hex(&s));
		assert_non_null(ai = ca_serial_to_asn1(&s));
		ossl = openssl_serial_text(ai);
		assert_string_equal(hex, ossl);
		free(ossl);
		free(hex);
		ASN1_INTEGER_free(ai);
	}
}

static void
test_hex_roundtrip(void **state)
{
	struct ca_serial s, t;
	char *hex, *lower, *p;
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		assert_int_equal(ca_serial_new(&s), LY_OK);
		assert_non_null(hex = ca_serial_hex(&s));
		assert_int_equal(strlen(hex) % 2, 0);
		memset(&t, 0, sizeof(t));
		assert_int_equal(ca_serial_parse(hex, &t), LY_OK);
		assert_memory_equal(&s, &t, sizeof(s));
		assert_non_null(lower = strdup(hex));
		for (p = lower; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
		memset(&t, 0, sizeof(t));
		assert_int_equal(ca_serial_parse(lower, &t), LY_OK);
		assert_memory_equal(&s, &t, sizeof(s));
		free(lower);
		free(hex);
	}
}

static void
test_parse_values(void **state)
{
	struct ca_serial s;

	(void)state;
	assert_int_equal(ca_serial_parse("01:02:Ab", &s), LY_OK);
	assert_int_equal(s.b[17], 0x01);
	assert_int_equal(s.b[18], 0x02);
	assert_int_equal(s.b[19], 0xab);
	assert_int_equal(s.b[16], 0);
	/* 20 octets is the maximum and fits exactly. */
	assert_int_equal(ca_serial_parse(
	    "7fffffffffffffffffffffffffffffffffffff01", &s), LY_OK);
	assert_int_equal(s.b[0], 0x7f);
	assert_int_equal(s.b[19], 0x01);
}

static void
test_parse_bad(void **state)
{
	static const char *bad[] = {
		"",
		":",
		"0",
		"00",
		"00:00",
		"xyz",
		"12 34",
		"0x12",
		"-01",
		"12g4",
		/* 21 octets */
		"010000000000000000000000000000000000000000",
		/* 21 octets even with a leading zero */
		"000000000000000000000000000000000000000001",
	};
	struct ca_serial s, orig;
	size_t i;

	(void)state;
	memset(&orig, 0x5a, sizeof(orig));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = orig;
		assert_int_equal(ca_serial_parse(bad[i], &s), LY_ERR_BAD_INPUT);
		/* Output untouched on failure. */
		assert_memory_equal(&s, &orig, sizeof(s));
		assert_true(strlen(ly_errdetail()) > 0);
	}
}

static void
test_from_asn1_bad(void **state)
{
	struct ca_serial s, orig;
	ASN1_INTEGER *ai;
	BIGNUM *bn;

	(void)state;
	memset(&orig, 0x5a, sizeof(orig));

	/* Zero. */
	assert_non_null(ai = ASN1_INTEGER_new());
	assert_int_equal(ASN1_INTEGER_set_int64(ai, 0), 1);
	s = orig;
	assert_int_equal(ca_serial_from_asn1(ai, &s), LY_ERR_BAD_INPUT);
	assert_memory_equal(&s, &orig, sizeof(s));
	assert_non_null(strstr(ly_errdetail(), "zero"));
	ASN1_INTEGER_free(ai);

	/* Negative. */
	assert_non_null(ai = ASN1_INTEGER_new());
	assert_int_equal(ASN1_INTEGER_set_int64(ai, -5), 1);
	assert_int_equal(ca_serial_from_asn1(ai, &s), LY_ERR_BAD_INPUT);
	assert_non_null(strstr(ly_errdetail(), "negative"));
	ASN1_INTEGER_free(ai);

	/* 21 octets. */
	assert_non_null(bn = BN_new());
	assert_int_equal(BN_set_bit(bn, 20 * 8), 1);
	assert_non_null(ai = BN_to_ASN1_INTEGER(bn, NULL));
	assert_int_equal(ca_serial_from_asn1(ai, &s), LY_ERR_BAD_INPUT);
	assert_memory_equal(&s, &orig, sizeof(s));
	ASN1_INTEGER_free(ai);

	/* Exactly 20 octets with the top bit set is fine (DER: 21). */
	assert_int_equal(BN_clear_bit(bn, 20 * 8), 1);
	assert_int_equal(BN_set_bit(bn, 20 * 8 - 1), 1);
	assert_non_null(ai = BN_to_ASN1_INTEGER(bn, NULL));
	assert_int_equal(ca_serial_from_asn1(ai, &s), LY_OK);
	assert_int_equal(s.b[0], 0x80);
	assert_int_equal(s.b[19], 0);
	ASN1_INTEGER_free(ai);
	BN_free(bn);

	assert_int_equal(ca_serial_from_asn1(NULL, &s), LY_ERR_ARG);
}

static void
test_zero(void **state)
{
	struct ca_serial z;

	(void)state;
	memset(&z, 0, sizeof(z));
	assert_true(ca_serial_is_zero(&z));
	assert_null(ca_serial_to_asn1(&z));
	z.b[0] = 1;
	assert_false(ca_serial_is_zero(&z));
}

static void
test_seam(void **state)
{
	struct ca_serial list[3], s;
	char *hex;

	(void)state;
	serial_from_hexstr("01", &list[0]);
	serial_from_hexstr("FF00", &list[1]);
	serial_from_hexstr("01", &list[2]);	/* a collision on purpose */
	ca_serial_set_source(list, 3);
	assert_int_equal(ca_serial_new(&s), LY_OK);
	assert_memory_equal(&s, &list[0], sizeof(s));
	assert_int_equal(ca_serial_new(&s), LY_OK);
	assert_non_null(hex = ca_serial_hex(&s));
	assert_string_equal(hex, "FF00");
	free(hex);
	assert_int_equal(ca_serial_new(&s), LY_OK);
	assert_memory_equal(&s, &list[2], sizeof(s));
	/* Exhausted: back to the CSPRNG. */
	assert_int_equal(ca_serial_new(&s), LY_OK);
	assert_memory_not_equal(&s, &list[0], sizeof(s));
	assert_memory_not_equal(&s, &list[1], sizeof(s));

	/* Cleared with NULL. */
	ca_serial_set_source(list, 3);
	ca_serial_set_source(NULL, 0);
	assert_int_equal(ca_serial_new(&s), LY_OK);
	assert_memory_not_equal(&s, &list[0], sizeof(s));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_distinct_positive),
		cmocka_unit_test(test_asn1_roundtrip),
		cmocka_unit_test(test_hex_matches_openssl),
		cmocka_unit_test(test_hex_roundtrip),
		cmocka_unit_test(test_parse_values),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_from_asn1_bad),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_seam),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
