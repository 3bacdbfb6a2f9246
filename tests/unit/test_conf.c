/* Unit tests of conf/: the default file, profiles, errors with line numbers. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "util/util.h"

static struct conf *
parse_default_plus(const char *extra)
{
	struct conf *c = NULL;
	char *text, *all;

	text = conf_default_text(CONF_KEY_EC_P256);
	assert_non_null(text);
	assert_true(asprintf(&all, "%s%s", text, extra) > 0);
	if (conf_parse("/srv/ca", "ca.conf", all, &c) != LY_OK)
		c = NULL;
	free(text);
	free(all);
	return c;
}

static int
parse_err(const char *extra)
{
	struct conf *c = NULL;
	char *text, *all;
	int r;

	text = conf_default_text(CONF_KEY_EC_P256);
	assert_true(asprintf(&all, "%s%s", text, extra) > 0);
	r = conf_parse("/srv/ca", "ca.conf", all, &c);
	assert_null(c);
	free(text);
	free(all);
	return r;
}

static void
test_default(void **state)
{
	struct conf *c = parse_default_plus("");
	const struct conf_profile *p;

	assert_non_null(c);
	assert_string_equal(c->store_dir, "/srv/ca/store");
	assert_string_equal(c->root.pin_file, "/srv/ca/hsm/root.pin");
	assert_string_equal(c->issuing.key_uri,
	    "pkcs11:token=lanyard-issuing;object=issuing-ca");
	assert_int_equal(c->issuing.key_type, CONF_KEY_EC_P256);
	assert_int_equal(c->nfields, 3);
	assert_string_equal(c->spiffe_trust_domain, "example.org");
	p = conf_profile_get(c, "client");
	assert_non_null(p);
	assert_int_equal(p->eku, CONF_EKU_CLIENT);
	assert_int_equal(p->encoding, CONF_ENC_URI);
	assert_int_equal(p->reissue_before, 7 * 86400);
	assert_int_equal(p->identities, 1u << CONF_ID_JSON |
	    1u << CONF_ID_SPIFFE);
	p = conf_profile_get(c, "service");
	assert_int_equal(p->eku, CONF_EKU_SERVER | CONF_EKU_CLIENT);
	assert_true(p->require_dns_or_ip);
	p = conf_profile_get(c, "ocsp");
	assert_int_equal(p->eku, CONF_EKU_OCSP);
	assert_true(p->ocsp_nocheck);
	p = conf_profile_get(c, "admin");
	assert_string_equal(p->role, "admin");
	assert_null(conf_profile_get(c, "nope"));
	assert_int_equal(c->crl_root_validity, 30 * 86400);
	assert_int_equal(c->crl_shards, 1);
	assert_true(c->ocsp_nonce_sign);
	assert_string_equal(c->http_listen, "127.0.0.1:8080");
	/* threads = auto: 4 per core, at most 32. */
	assert_int_equal(c->threads, conf_threads_auto());
	assert_true(c->threads >= CONF_THREADS_PER_CORE &&
	    c->threads <= CONF_THREADS_AUTO_MAX);
	conf_free(c);
}

static void
test_conf_threads(void **state)
{
	struct conf *c;

	assert_non_null(c = parse_default_plus("[server]\nthreads = 3\n"));
	assert_int_equal(c->threads, 3);
	conf_free(c);
	assert_non_null(c = parse_default_plus("[server]\nthreads = auto\n"));
	assert_int_equal(c->threads, conf_threads_auto());
	conf_free(c);
	assert_int_equal(parse_err("[server]\nthreads = 0\n"), LY_ERR_CONFIG);
	assert_non_null(strstr(ly_errdetail(), "or auto"));
	assert_int_equal(parse_err("[server]\nthreads = many\n"),
	    LY_ERR_CONFIG);
}

/* [hsm] sessions: signing sessions per key, 1 to 256 or auto (0). */
static void
test_hsm_sessions(void **state)
{
	struct conf *c;

	assert_non_null(c = parse_default_plus(""));
	assert_int_equal(c->hsm_sessions, 0);
	conf_free(c);
	assert_non_null(c = parse_default_plus("[hsm]\nsessions = 1\n"));
	assert_int_equal(c->hsm_sessions, 1);
	conf_free(c);
	assert_non_null(c = parse_default_plus("[hsm]\nsessions = auto\n"));
	assert_int_equal(c->hsm_sessions, 0);
	conf_free(c);
	assert_int_equal(parse_err("[hsm]\nsessions = 0\n"), LY_ERR_CONFIG);
	assert_non_null(strstr(ly_errdetail(), "1 to 256, or auto"));
	assert_int_equal(parse_err("[hsm]\nsessions = 257\n"), LY_ERR_CONFIG);
}

/* [ca] tidy_interval (off by default) and tidy_keep, for ca-server. */
static void
test_tidy_keys(void **state)
{
	struct conf *c;

	assert_non_null(c = parse_default_plus(""));
	assert_int_equal(c->tidy_interval, 0);
	assert_int_equal(c->tidy_keep, 90);
	conf_free(c);
	assert_non_null(c = parse_default_plus("[ca]\ntidy_interval = 1d\n"
	    "tidy_keep = 30\n"));
	assert_int_equal(c->tidy_interval, 86400);
	assert_int_equal(c->tidy_keep, 30);
	conf_free(c);
	assert_non_null(c = parse_default_plus("[ca]\ntidy_interval = off\n"));
	assert_int_equal(c->tidy_interval, 0);
	conf_free(c);
	assert_int_equal(parse_err("[ca]\ntidy_interval = 5m\n"),
	    LY_ERR_CONFIG);
	assert_int_equal(parse_err("[ca]\ntidy_keep = -1\n"), LY_ERR_CONFIG);
}

static void
test_profile_override(void **state)
{
	struct conf *c = parse_default_plus(
	    "[profile client]\nencoding = othername\nreissue_threshold = 33%\n"
	    "rsa_min_bits = 3072\n"
	    "[profile iot]\ndays = 2\nkey_types = ec-p256\n");
	const struct conf_profile *p;

	assert_non_null(c);
	p = conf_profile_get(c, "client");
	assert_int_equal(p->encoding, CONF_ENC_OTHERNAME);
	assert_int_equal(p->reissue_percent, 33);
	assert_int_equal(p->reissue_before, 0);
	assert_int_equal(p->rsa_min_bits, 3072);
	p = conf_profile_get(c, "iot");
	assert_non_null(p);
	assert_int_equal(p->days, 2);
	assert_int_equal(p->key_types, CONF_ALLOW_EC_P256);
	/* A new profile starts as a client profile. */
	assert_int_equal(p->eku, CONF_EKU_CLIENT);
	conf_free(c);
}

static void
test_conf_errors(void **state)
{
	assert_int_equal(parse_err("[profile client]\nrsa_min_bit = 1\n"),
	    LY_ERR_CONFIG);
	/* The message names the file, the line and the key. */
	assert_non_null(strstr(ly_errdetail(), "rsa_min_bit"));
	assert_non_null(strstr(ly_errdetail(), "ca.conf:"));
	assert_int_equal(parse_err("[nosuch]\na = b\n"), LY_ERR_CONFIG);
	assert_non_null(strstr(ly_errdetail(), "unknown section"));
	assert_int_equal(parse_err("[profile client]\nrsa_min_bits = 1024\n"),
	    LY_ERR_CONFIG);
	assert_int_equal(parse_err("[profile client]\ndays = 500\n"),
	    LY_ERR_CONFIG);
	assert_non_null(strstr(ly_errdetail(), "max_days"));
	assert_int_equal(parse_err("[profile client]\neku = telnet\n"),
	    LY_ERR_CONFIG);
	assert_int_equal(parse_err("[root]\nkey = /dev/token\n"),
	    LY_ERR_CONFIG);
	assert_int_equal(parse_err("[root]\nkey_type = dsa\n"), LY_ERR_CONFIG);
	assert_int_equal(parse_err("[urls]\nbase = ftp://x\n"), LY_ERR_CONFIG);
	assert_int_equal(parse_err("[identity]\nfield.x = float\n"),
	    LY_ERR_CONFIG);
	assert_int_equal(parse_err("[profile client]\nreissue_threshold = 0%\n"),
	    LY_ERR_CONFIG);
	assert_int_equal(parse_err("this is not ini\n"), LY_ERR_CONFIG);
	assert_int_equal(parse_err("[identity]\nothername_oid = not.an.oid\n"),
	    LY_ERR_CONFIG);
	assert_non_null(strstr(ly_errdetail(), "OID"));
	assert_int_equal(parse_err("[urls]\nbogus = 1\n"), LY_ERR_CONFIG);
	assert_non_null(strstr(ly_errdetail(), "unknown key"));
	assert_int_equal(parse_err("[server]\nhttp = off\n"), LY_ERR_CONFIG);
	assert_int_equal(parse_err("[server]\nhttp = 8080\n"), LY_ERR_CONFIG);
	assert_int_equal(parse_err("[crl]\nvalidity = 10s\n"), LY_ERR_CONFIG);
	assert_int_equal(parse_err("[ocsp]\nnonce = maybe\n"), LY_ERR_CONFIG);
	assert_non_null(strstr(ly_errdetail(), "sign or ignore"));
}

static void
test_line_numbers(void **state)
{
	struct conf *c = NULL;
	char *text = conf_default_text(CONF_KEY_EC_P256), *all;
	int lines = 0;
	const char *s;
	char want[32];

	for (s = text; *s != '\0'; s++)
		lines += *s == '\n';
	assert_true(asprintf(&all, "%s[ca]\nbogus = 1\n", text) > 0);
	assert_int_equal(conf_parse("/d", "ca.conf", all, &c), LY_ERR_CONFIG);
	snprintf(want, sizeof(want), "ca.conf:%d:", lines + 2);
	assert_non_null(strstr(ly_errdetail(), want));
	free(all);
	free(text);
}

static void
test_long_line(void **state)
{
	char line[400];

	memset(line, 'a', sizeof(line));
	memcpy(line, "[ca]\norganization = ", 20);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(parse_err(line), LY_ERR_CONFIG);
	assert_non_null(strstr(ly_errdetail(), "longer than"));
}

static void
test_missing_required(void **state)
{
	struct conf *c = NULL;

	assert_int_equal(conf_parse("/d", "x.conf", "[ca]\nstore = s\n", &c),
	    LY_ERR_CONFIG);
	assert_non_null(strstr(ly_errdetail(), "module"));
}

static void
test_duration(void **state)
{
	assert_int_equal(conf_duration_parse("90"), 90);
	assert_int_equal(conf_duration_parse("30m"), 1800);
	assert_int_equal(conf_duration_parse("24h"), 86400);
	assert_int_equal(conf_duration_parse("7d"), 7 * 86400);
	assert_int_equal(conf_duration_parse("7w"), -1);
	assert_int_equal(conf_duration_parse("-1"), -1);
	assert_int_equal(conf_duration_parse(""), -1);
	assert_int_equal(conf_duration_parse("99999d"), -1);
}

static void
test_keytype(void **state)
{
	assert_int_equal(conf_keytype_parse("rsa-3072"), CONF_KEY_RSA_3072);
	assert_int_equal(conf_keytype_parse("ec-p521"), CONF_KEY_NONE);
	assert_string_equal(conf_keytype_name(CONF_KEY_EC_P384), "ec-p384");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_conf_threads),
		cmocka_unit_test(test_hsm_sessions),
		cmocka_unit_test(test_tidy_keys),
		cmocka_unit_test(test_profile_override),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_line_numbers),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_keytype),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
