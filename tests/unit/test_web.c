/*
 * tests/unit/test_web.c — the pure pieces of web/: URL and RFC 5019 path
 * decoding, strict base64, PEM armour, HTTP dates, conditional GET, the
 * log escaper, the metrics text, and the TLS helpers (renewal time, name
 * lists, which paths go to enroll/). No sockets.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"
#include "web/extern.h"

static void
test_http_date(void **state)
{
	char buf[WEB_DATE_LEN];
	time_t t;

	(void)state;
	web_http_date_fmt(784111777, buf);
	assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(web_http_date_parse(buf, &t), LY_OK);
	assert_int_equal(t, 784111777);
	assert_int_equal(web_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT",
	    &t), LY_OK);
	assert_int_equal(t, 784111777);
	assert_int_equal(web_http_date_parse("Sun Nov  6 08:49:37 1994", &t),
	    LY_OK);
	assert_int_equal(t, 784111777);
	assert_int_equal(web_http_date_parse("yesterday", &t),
	    LY_ERR_BAD_INPUT);
	assert_int_equal(web_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT "
	    "junk", &t), LY_ERR_BAD_INPUT);
	web_http_date_fmt(0, buf);
	assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void
test_not_modified(void **state)
{
	const char *etag = "\"1-5f\"";
	time_t lm = 784111777;

	(void)state;
	/* Nothing conditional: send. */
	assert_int_equal(web_not_modified(NULL, NULL, etag, lm), 0);
	/* If-None-Match: exact, in a list, weak, "*"; a miss sends. */
	assert_int_equal(web_not_modified("\"1-5f\"", NULL, etag, lm), 1);
	assert_int_equal(web_not_modified("\"x\", \"1-5f\"", NULL, etag, lm), 1);
	assert_int_equal(web_not_modified("W/\"1-5f\"", NULL, etag, lm), 1);
	assert_int_equal(web_not_modified("*", NULL, etag, lm), 1);
	assert_int_equal(web_not_modified("\"1-5e\"", NULL, etag, lm), 0);
	assert_int_equal(web_not_modified("\"1-5f", NULL, etag, lm), 0);
	assert_int_equal(web_not_modified("1-5f", NULL, etag, lm), 0);
	/* If-None-Match decides alone, even against a matching date. */
	assert_int_equal(web_not_modified("\"nope\"",
	    "Sun, 06 Nov 1994 08:49:37 GMT", etag, lm), 0);
	/* If-Modified-Since: at or after last_modified → 304. */
	assert_int_equal(web_not_modified(NULL,
	    "Sun, 06 Nov 1994 08:49:37 GMT", etag, lm), 1);
	assert_int_equal(web_not_modified(NULL,
	    "Sun, 06 Nov 1994 09:00:00 GMT", etag, lm), 1);
	assert_int_equal(web_not_modified(NULL,
	    "Sun, 06 Nov 1994 08:49:36 GMT", etag, lm), 0);
	assert_int_equal(web_not_modified(NULL, "garbage", etag, lm), 0);
	assert_int_equal(web_not_modified(NULL,
	    "Sun, 06 Nov 1994 08:49:37 GMT", etag, 0), 0);
}

static void
test_log_escape(void **state)
{
	char out[4 * WEB_LOG_PATH_MAX + 4], in[300];

	(void)state;
	web_log_escape("/ocsp/a b\n\"\\\x01\xff", 100, out, sizeof(out));
	assert_string_equal(out, "/ocsp/a\\x20b\\x0a\\x22\\x5c\\x01\\xff");
	memset(in, 'a', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	web_log_escape(in, WEB_LOG_PATH_MAX, out, sizeof(out));
	assert_int_equal(strlen(out), WEB_LOG_PATH_MAX + 3);
	assert_string_equal(out + WEB_LOG_PATH_MAX, "...");
}

static void
test_metrics_text(void **state)
{
	struct web_crl_gauge g = { "issuing", 7, 1000, 4600 };
	char *text = NULL;
	size_t len;

	(void)state;
	web_metrics_reset();
	web_metrics_request(WEB_EP_OCSP, 200, 50);
	web_metrics_request(WEB_EP_OCSP, 200, 3000);
	web_metrics_request(WEB_EP_CRL, 304, 2000000);
	web_metrics_request(WEB_EP_OTHER, 418, 10);
	web_metrics_ocsp(OCSP_OUT_GOOD, 1);
	web_metrics_ocsp(OCSP_OUT_MALFORMED, 0);
	web_metrics_hsm_error();
	web_metrics_hsm(&(struct ca_hsm_stats){ 5, 3, 2, 1 });
	assert_int_equal(web_metrics_text(&g, 1, 1600, &text, &len), LY_OK);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "# TYPE lanyard_http_requests_total "
	    "counter\n"));
	assert_non_null(strstr(text, "lanyard_http_requests_total{endpoint="
	    "\"ocsp\",code=\"200\"} 2\n"));
	assert_non_null(strstr(text, "lanyard_http_requests_total{endpoint="
	    "\"crl\",code=\"304\"} 1\n"));
	assert_non_null(strstr(text, "lanyard_http_requests_total{endpoint="
	    "\"other\",code=\"other\"} 1\n"));
	assert_non_null(strstr(text, "lanyard_ocsp_responses_total{status="
	    "\"good\"} 1\n"));
	assert_non_null(strstr(text, "lanyard_ocsp_responses_total{status="
	    "\"malformed\"} 1\n"));
	assert_non_null(strstr(text, "lanyard_ocsp_presigned_total 1\n"));
	assert_non_null(strstr(text, "lanyard_hsm_errors_total 1\n"));
	assert_non_null(strstr(text, "# TYPE lanyard_hsm_bad_signatures_total "
	    "counter\n"));
	assert_non_null(strstr(text, "lanyard_hsm_sign_failures_total 5\n"));
	assert_non_null(strstr(text, "lanyard_hsm_session_reopens_total 3\n"));
	assert_non_null(strstr(text, "lanyard_hsm_module_reinits_total 2\n"));
	assert_non_null(strstr(text, "lanyard_hsm_bad_signatures_total 1\n"));
	assert_non_null(strstr(text, "lanyard_crl_number{crl=\"issuing\"} 7\n"));
	assert_non_null(strstr(text, "lanyard_crl_age_seconds{crl=\"issuing\"} "
	    "600\n"));
	assert_non_null(strstr(text, "lanyard_crl_next_update_seconds{crl="
	    "\"issuing\"} 3000\n"));
	/* Cumulative buckets: 50 µs in the first, 3 ms by 0.005, 2 s in +Inf. */
	assert_non_null(strstr(text, "lanyard_http_request_duration_seconds_"
	    "bucket{le=\"0.0001\"} 2\n"));
	assert_non_null(strstr(text, "lanyard_http_request_duration_seconds_"
	    "bucket{le=\"0.005\"} 3\n"));
	assert_non_null(strstr(text, "lanyard_http_request_duration_seconds_"
	    "bucket{le=\"1\"} 3\n"));
	assert_non_null(strstr(text, "lanyard_http_request_duration_seconds_"
	    "bucket{le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(text, "lanyard_http_request_duration_seconds_"
	    "count 4\n"));
	assert_non_null(strstr(text, "lanyard_http_request_duration_seconds_"
	    "sum 2.003060\n"));
	/* Series that never happened are left out. */
	assert_null(strstr(text, "endpoint=\"healthz\""));
	assert_int_equal(text[len - 1], '\n');
	free(text);
}

static void
test_route_helpers(void **state)
{
	(void)state;
	assert_true(web_route_takes_body("POST", "/ocsp"));
	assert_true(web_route_takes_body("POST", "/ocsp/"));
	assert_false(web_route_takes_body("GET", "/ocsp"));
	assert_false(web_route_takes_body("POST", "/crl/issuing.crl"));
	assert_true(web_ocsp_ctype_ok(NULL));
	assert_true(web_ocsp_ctype_ok("application/ocsp-request"));
	assert_true(web_ocsp_ctype_ok("Application/OCSP-Request; x=y"));
	assert_false(web_ocsp_ctype_ok("application/x-www-form-urlencoded"));
	assert_false(web_ocsp_ctype_ok("application/ocsp-requestx"));
}

static void
test_tls_renew_due(void **state)
{
	const time_t nb = 1000000, na = nb + 90 * 86400;

	(void)state;
	assert_false(ca_tls_renew_due(nb, na, nb));
	assert_false(ca_tls_renew_due(nb, na, nb + 59 * 86400));
	/* A third of 90 days left: renew. */
	assert_true(ca_tls_renew_due(nb, na, nb + 60 * 86400));
	assert_true(ca_tls_renew_due(nb, na, na - 1));
	assert_true(ca_tls_renew_due(nb, na, na));
	assert_true(ca_tls_renew_due(nb, na, na + 1));
	/* Not yet valid, or nonsense dates: renew too. */
	assert_true(ca_tls_renew_due(nb, na, nb - 1));
	assert_true(ca_tls_renew_due(na, nb, nb));
	assert_true(ca_tls_renew_due(nb, nb, nb));
}

static void
test_tls_split(void **state)
{
	char **items = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(ly_list_split(" localhost, ca.test ,,\tx ", &items,
	    &n), LY_OK);
	assert_int_equal(n, 3);
	assert_string_equal(items[0], "localhost");
	assert_string_equal(items[1], "ca.test");
	assert_string_equal(items[2], "x");
	ly_list_free(items, n);
	assert_int_equal(ly_list_split("", &items, &n), LY_OK);
	assert_int_equal(n, 0);
	ly_list_free(items, n);
	assert_int_equal(ly_list_split(",", &items, &n), LY_OK);
	assert_int_equal(n, 0);
	ly_list_free(items, n);
	ly_list_free(NULL, 0);
}

static void
test_enroll_paths(void **state)
{
	char *text = NULL;
	size_t len;

	(void)state;
	assert_true(web_enroll_path("/.well-known/est/cacerts"));
	assert_true(web_enroll_path("/api/v1/enroll"));
	assert_false(web_enroll_path("/crl/issuing.crl"));
	assert_false(web_enroll_path("/healthz"));
	assert_false(web_enroll_path("/api/v2"));
	/* Over HTTP the body rule is POST /ocsp's alone. */
	assert_false(web_route_takes_body("POST", "/api/v1/enroll"));
	web_metrics_reset();
	web_metrics_request(WEB_EP_EST, 200, 10);
	web_metrics_request(WEB_EP_API, 401, 10);
	assert_int_equal(web_metrics_text(NULL, 0, 0, &text, &len), LY_OK);
	assert_non_null(strstr(text, "lanyard_http_requests_total{endpoint="
	    "\"est\",code=\"200\"} 1\n"));
	assert_non_null(strstr(text, "lanyard_http_requests_total{endpoint="
	    "\"api\",code=\"401\"} 1\n"));
	free(text);
}

/* web_field_check(): one header field as RFC 9110 5 wants it. */
static void
test_field_check(void **state)
{
	static const char nul_value[] = "a\0b", nul_name[] = "X-\0A";

	(void)state;
	assert_null(web_field_check("Host", 4, "x", 1));
	assert_null(web_field_check("X-A!#$%&'*+-.^_`|~", 18, "", 0));
	/* HTAB, SP and obs-text are allowed in a value. */
	assert_null(web_field_check("X-A", 3, "a\tb c\xc3\xa9", 7));
	assert_non_null(web_field_check("", 0, "x", 1));
	assert_non_null(web_field_check("X A", 3, "x", 1));
	assert_non_null(web_field_check("X(A)", 4, "x", 1));
	assert_non_null(web_field_check("X:A", 3, "x", 1));
	assert_non_null(web_field_check("X-\xc3\xa9", 4, "x", 1));
	assert_non_null(web_field_check(nul_name, 4, "x", 1));
	/* A length past strlen: MHD 0.9.76+ would report the NUL so. */
	assert_non_null(web_field_check("X-A", 3, nul_value, 3));
	assert_non_null(web_field_check("X-A", 3, "a\rb", 3));
	assert_non_null(web_field_check("X-A", 3, "a\nb", 3));
	assert_non_null(web_field_check("X-A", 3, "a\x1b" "b", 3));
	assert_non_null(web_field_check("X-A", 3, "a\x7f" "b", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_date),
		cmocka_unit_test(test_not_modified),
		cmocka_unit_test(test_log_escape),
		cmocka_unit_test(test_field_check),
		cmocka_unit_test(test_metrics_text),
		cmocka_unit_test(test_route_helpers),
		cmocka_unit_test(test_tls_renew_due),
		cmocka_unit_test(test_tls_split),
		cmocka_unit_test(test_enroll_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
