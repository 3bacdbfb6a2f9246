/* Unit tests of util/: error table, hex, files, clock. */
#include "config.h"

#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/asn1.h>

#include <jansson.h>

#include "util/util.h"

static void
test_errors(void **state)
{
	int r;

	assert_string_equal(ly_errcode(LY_ERR_BAD_CSR), "bad_csr");
	assert_string_equal(ly_errcode(LY_OK), "ok");
	/* Out of range codes map to "internal", never a crash. */
	assert_string_equal(ly_errcode(-1000), "internal");
	assert_string_equal(ly_errcode(5), "internal");
	r = ly_fail(LY_ERR_KEY_POLICY, "RSA key of %d bits", 1024);
	assert_int_equal(r, LY_ERR_KEY_POLICY);
	assert_string_equal(ly_errdetail(), "RSA key of 1024 bits");
	ly_errclear();
	assert_string_equal(ly_errdetail(), "");
}

static void
test_hex(void **state)
{
	unsigned char b[4];
	char *s;

	assert_int_equal(ly_hex_decode("0A:1b:FF", b, sizeof(b)), 3);
	assert_memory_equal(b, "\x0a\x1b\xff", 3);
	/* An odd digit count is a leading nibble. */
	assert_int_equal(ly_hex_decode("abc", b, sizeof(b)), 2);
	assert_memory_equal(b, "\x0a\xbc", 2);
	assert_int_equal(ly_hex_decode("0x01", b, sizeof(b)), 1);
	assert_int_equal(b[0], 1);
	assert_int_equal(ly_hex_decode("", b, sizeof(b)), LY_ERR_BAD_INPUT);
	assert_int_equal(ly_hex_decode("zz", b, sizeof(b)), LY_ERR_BAD_INPUT);
	assert_int_equal(ly_hex_decode("0102030405", b, sizeof(b)),
	    LY_ERR_TOO_LARGE);
	s = ly_hex_encode((const unsigned char *)"\x00\xff\x10", 3);
	assert_string_equal(s, "00ff10");
	free(s);
	/* A single digit is one byte; "0x" alone is empty. */
	assert_int_equal(ly_hex_decode("f", b, sizeof(b)), 1);
	assert_int_equal(b[0], 0x0f);
	assert_int_equal(ly_hex_decode("0x", b, sizeof(b)), LY_ERR_BAD_INPUT);
	/* Seven digits fit four bytes, nine do not. */
	assert_int_equal(ly_hex_decode("1234567", b, sizeof(b)), 4);
	assert_memory_equal(b, "\x01\x23\x45\x67", 4);
	assert_int_equal(ly_hex_decode("123456789", b, sizeof(b)),
	    LY_ERR_TOO_LARGE);
	assert_int_equal(ly_hex_decode(" 01", b, sizeof(b)), LY_ERR_BAD_INPUT);
	assert_int_equal(ly_hex_digit('a'), 10);
	assert_int_equal(ly_hex_digit('F'), 15);
	assert_int_equal(ly_hex_digit('9'), 9);
	assert_int_equal(ly_hex_digit('g'), -1);
	assert_int_equal(ly_hex_digit('\0'), -1);
}

static void
test_b64(void **state)
{
	unsigned char out[16];
	size_t i;
	static const char *const bad[] = {
		"", "QQ", "QUJ", "!!!!", " QUJ", "QUJ\n", "QR==", "Q===",
		"QQ=A", "=QQQ", "-_-_", "QUJD=", "QUJDQQ",
	};

	(void)state;
	assert_int_equal(ly_b64_decode("QUJD", 4, 0, out, sizeof(out)), 3);
	assert_memory_equal(out, "ABC", 3);
	/* Padding: one and two '='. */
	assert_int_equal(ly_b64_decode("QUI=", 4, 0, out, sizeof(out)), 2);
	assert_memory_equal(out, "AB", 2);
	assert_int_equal(ly_b64_decode("QQ==", 4, 0, out, sizeof(out)), 1);
	assert_int_equal(out[0], 'A');
	/* '+' and '/' are the alphabet's, not URL-safe '-' and '_'. */
	assert_int_equal(ly_b64_decode("+/+/", 4, 0, out, sizeof(out)), 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
	/*
	 * Refused without LY_B64_WS: empty, missing padding, bad
	 * characters, white space, bits left over (QR==), padding inside.
	 */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ly_b64_decode(bad[i], strlen(bad[i]), 0, out,
		    sizeof(out)), LY_ERR_BAD_INPUT);
	/* With LY_B64_WS, white space anywhere is skipped, nothing else. */
	assert_int_equal(ly_b64_decode(" Q U\r\nJ D\n\t", 11, LY_B64_WS,
	    out, sizeof(out)), 3);
	assert_memory_equal(out, "ABC", 3);
	assert_int_equal(ly_b64_decode("QQ=\n=", 5, LY_B64_WS, out,
	    sizeof(out)), 1);
	assert_int_equal(ly_b64_decode(" \n ", 3, LY_B64_WS, out,
	    sizeof(out)), LY_ERR_BAD_INPUT);
	assert_int_equal(ly_b64_decode("QR==\n", 5, LY_B64_WS, out,
	    sizeof(out)), LY_ERR_BAD_INPUT);
	assert_int_equal(ly_b64_decode("QUJD\0QUJD", 9, LY_B64_WS, out,
	    sizeof(out)), LY_ERR_BAD_INPUT);
	/* max counts decoded bytes: 6 do not fit 5, 5 fit 5. */
	assert_int_equal(ly_b64_decode("QUJDQUJD", 8, 0, out, 5),
	    LY_ERR_TOO_LARGE);
	assert_int_equal(ly_b64_decode("QUJDQUI=", 8, 0, out, 5), 5);
	assert_int_equal(ly_b64_decode("QUJDQUJDQUJD", 12, 0, out, 5),
	    LY_ERR_TOO_LARGE);
}

static void
test_pem(void **state)
{
	unsigned char der[100];
	char *pem = NULL, *line, *save = NULL;
	size_t len, i, nlines = 0;

	(void)state;
	for (i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)i;
	assert_int_equal(ly_pem_encode("X509 CRL", der, sizeof(der), &pem,
	    &len), LY_OK);
	assert_int_equal(strlen(pem), len);
	assert_int_equal(strncmp(pem, "-----BEGIN X509 CRL-----\n", 25), 0);
	assert_non_null(strstr(pem, "\n-----END X509 CRL-----\n"));
	for (line = strtok_r(pem, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), nlines++)
		if (line[0] != '-')
			assert_true(strlen(line) <= 64);
	/* 100 bytes: 136 characters, lines of 64, 64 and 8. */
	assert_int_equal(nlines, 5);
	free(pem);
	/* Exactly 48 bytes: one full line; no bytes: the armour alone. */
	assert_int_equal(ly_pem_encode("CERTIFICATE", der, 48, &pem, &len),
	    LY_OK);
	assert_int_equal(len, strlen("-----BEGIN CERTIFICATE-----\n") + 65 +
	    strlen("-----END CERTIFICATE-----\n"));
	free(pem);
	assert_int_equal(ly_pem_encode("X", der, 0, &pem, &len), LY_OK);
	assert_string_equal(pem, "-----BEGIN X-----\n-----END X-----\n");
	free(pem);
}

/* ASN1_TIME_set_string's text as time_t through ly_asn1_time. */
static time_t
asn1_text_time(const char *text, int general)
{
	ASN1_TIME *t = ASN1_TIME_new();
	time_t out = -1;

	assert_non_null(t);
	if (general)
		assert_int_equal(ASN1_GENERALIZEDTIME_set_string(t, text), 1);
	else
		assert_int_equal(ASN1_UTCTIME_set_string(t, text), 1);
	assert_int_equal(ly_asn1_time(t, &out), LY_OK);
	ASN1_TIME_free(t);
	return out;
}

static void
test_asn1_time(void **state)
{
	time_t t = 0;

	(void)state;
	/* UTCTime: 49 is 2049, 50 is 1950 (RFC 5280 4.1.2.5.1). */
	assert_int_equal(asn1_text_time("491231235959Z", 0), 2524607999);
	assert_int_equal(asn1_text_time("500101000000Z", 0), -631152000);
	assert_int_equal(asn1_text_time("700101000000Z", 0), 0);
	/* GeneralizedTime, as certificates must use from 2050 on. */
	assert_int_equal(asn1_text_time("20500101000000Z", 1), 2524608000);
	assert_int_equal(asn1_text_time("19700101000001Z", 1), 1);
	assert_int_equal(asn1_text_time("99991231235959Z", 1), 253402300799);
	/* A leap day. */
	assert_int_equal(asn1_text_time("20240229120000Z", 1), 1709208000);
	assert_int_equal(ly_asn1_time(NULL, &t), LY_ERR_INTERNAL);
	assert_int_equal(t, 0);
}

static void
test_be(void **state)
{
	unsigned char b[8];

	(void)state;
	ly_be64_put(b, 0x0102030405060708ULL);
	assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_true(ly_be64_get(b) == 0x0102030405060708ULL);
	ly_be64_put(b, UINT64_MAX);
	assert_true(ly_be64_get(b) == UINT64_MAX);
	/* A negative time_t stored as two's complement comes back. */
	ly_be64_put(b, (uint64_t)(int64_t)-631152000);
	assert_true((int64_t)ly_be64_get(b) == -631152000);
	ly_be32_put(b, 0xdeadbeef);
	assert_memory_equal(b, "\xde\xad\xbe\xef", 4);
	assert_true(ly_be32_get(b) == 0xdeadbeef);
	ly_be32_put(b, 0);
	assert_true(ly_be32_get(b) == 0);
}

static void
test_files(void **state)
{
	char dir[] = "/tmp/lanyard-util-XXXXXX", *p, *q;
	char out[] = "/tmp/lanyard-util-out-XXXXXX";
	unsigned char *buf;
	size_t len;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	p = ly_path_join(dir, "a/b/c");
	assert_int_equal(ly_mkdir_p(p, 0700), LY_OK);
	assert_int_equal(ly_mkdir_p(p, 0700), LY_OK);	/* exists: fine */
	q = ly_path_join(p, "pin");
	assert_int_equal(ly_file_write_atomic(q, "1234\n", 5, 0600), LY_OK);
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ly_file_read(q, 100, &buf, &len), LY_OK);
	assert_int_equal(len, 5);
	assert_string_equal((char *)buf, "1234\n");
	free(buf);
	assert_int_equal(ly_file_read(q, 4, &buf, &len), LY_ERR_TOO_LARGE);
	unlink(q);
	assert_int_equal(ly_file_read(q, 4, &buf, &len), LY_ERR_NOT_FOUND);
	free(q);
	/* An absolute name is not joined. */
	q = ly_path_join(dir, "/etc/x");
	assert_string_equal(q, "/etc/x");
	free(q);
	/*
	 * keep_top: what is below goes, dir stays; then dir goes too. A
	 * symbolic link is removed, not followed: its target stays.
	 */
	q = ly_path_join(p, "f");
	assert_int_equal(ly_file_write_atomic(q, "x", 1, 0600), LY_OK);
	free(q);
	assert_non_null(mkdtemp(out));
	q = ly_path_join(p, "link");
	assert_int_equal(symlink(out, q), 0);
	free(q);
	assert_int_equal(ly_remove_tree(dir, 1), LY_OK);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(rmdir(out), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(stat(p, &st), -1);
	free(p);
	assert_int_equal(ly_remove_tree(dir, 0), LY_OK);
	assert_int_equal(stat(dir, &st), -1);
	/* rm -rf: what is not there, or NULL, is done already. */
	assert_int_equal(ly_remove_tree(dir, 0), LY_OK);
	assert_int_equal(ly_remove_tree(NULL, 0), LY_OK);
}

static void
test_clock(void **state)
{
	char buf[21];
	time_t t;

	ly_clock_set(1767225600);	/* 2026-01-01T00:00:00Z */
	assert_int_equal(ly_now(), 1767225600);
	ly_time_fmt(ly_now(), buf);
	assert_string_equal(buf, "2026-01-01T00:00:00Z");
	ly_clock_set(0);
	assert_true(ly_now() > 1767225600);
	/* ly_time_parse reads what ly_time_fmt writes, and nothing else. */
	assert_int_equal(ly_time_parse(buf, &t), LY_OK);
	assert_int_equal(t, 1767225600);
	assert_int_equal(ly_time_parse("2050-01-01T00:00:00Z", &t), LY_OK);
	assert_int_equal(t, 2524608000);
	t = 7;
	assert_int_equal(ly_time_parse("2026-01-01T00:00:00", &t),
	    LY_ERR_BAD_INPUT);
	assert_int_equal(ly_time_parse("2026-01-01T00:00:00Z ", &t),
	    LY_ERR_BAD_INPUT);
	assert_int_equal(ly_time_parse("", &t), LY_ERR_BAD_INPUT);
	assert_int_equal(ly_time_parse(NULL, &t), LY_ERR_BAD_INPUT);
	assert_int_equal(t, 7);
}

static void
test_utf8_clean(void **state)
{
	static const struct {
		const char	*in, *want;
	} cases[] = {
		{ "plain ASCII", "plain ASCII" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91",
		    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91" },
		{ "a\xff\xfe" "b", "a\\xff\\xfeb" },
		/* A lead byte without its continuation, and one cut short. */
		{ "\xc3(", "\\xc3(" },
		{ "x\xe2\x82", "x\\xe2\\x82" },
		/* Overlong '/', a surrogate, above U+10FFFF, a lone continuation. */
		{ "\xc0\xaf", "\\xc0\\xaf" },
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },
		{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" },
		{ "\x80", "\\x80" },
	};
	char out[64], small[8];
	json_t *o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(ly_utf8_clean(cases[i].in, out,
		    sizeof(out)), cases[i].want);
		/* What it gives, jansson takes. */
		assert_non_null(o = json_pack("{s:s}", "detail", out));
		json_decref(o);
	}
	/* Cut only between characters: 3 x U+20AC is 9 bytes, room for 7. */
	assert_string_equal(ly_utf8_clean("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
	    small, sizeof(small)), "\xe2\x82\xac\xe2\x82\xac");
	/* ... and never inside an escape. */
	assert_string_equal(ly_utf8_clean("abcd\xff", small, sizeof(small)),
	    "abcd");
	assert_string_equal(ly_utf8_clean("abc", small, 1), "");
}

static void
test_pct_decode(void **state)
{
	unsigned char out[64];
	int n;

	(void)state;
	n = ly_pct_decode("ab%2Bcd%2fef+gh", 15, out);
	assert_int_equal(n, 11);
	assert_memory_equal(out, "ab+cd/ef+gh", 11);
	assert_int_equal(ly_pct_decode("", 0, out), 0);
	/* Truncated or non-hex escapes, and NUL, are refused. */
	assert_int_equal(ly_pct_decode("ab%2", 4, out), LY_ERR_BAD_INPUT);
	assert_int_equal(ly_pct_decode("ab%", 3, out), LY_ERR_BAD_INPUT);
	assert_int_equal(ly_pct_decode("%zz", 3, out), LY_ERR_BAD_INPUT);
	assert_int_equal(ly_pct_decode("a%00b", 5, out), LY_ERR_BAD_INPUT);
	/* Traversal decodes to what it is; the name checks refuse it. */
	n = ly_pct_decode("..%2f..%2fca.conf", 17, out);
	assert_int_equal(n, 13);
	assert_memory_equal(out, "../../ca.conf", 13);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_pem),
		cmocka_unit_test(test_asn1_time),
		cmocka_unit_test(test_be),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_utf8_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
