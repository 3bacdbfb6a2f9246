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
}

static void
test_files(void **state)
{
	char dir[] = "/tmp/lanyard-util-XXXXXX", *p, *q;
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
	free(p);
	assert_true(asprintf(&p, "rm -rf %s", dir) > 0);
	assert_int_equal(system(p), 0);
	free(p);
}

static void
test_clock(void **state)
{
	char buf[21];

	ly_clock_set(1767225600);	/* 2026-01-01T00:00:00Z */
	assert_int_equal(ly_now(), 1767225600);
	ly_time_fmt(ly_now(), buf);
	assert_string_equal(buf, "2026-01-01T00:00:00Z");
	ly_clock_set(0);
	assert_true(ly_now() > 1767225600);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_utf8_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
