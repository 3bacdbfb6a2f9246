/*
 * tests/unit/test_agent.c — the pure parts of the device agent
 * (cmd/ca-enroll.c): the URL, the HTTP response, the server's JSON answer,
 * times and intervals, and which answers are errors. The agent is one
 * file; it is included here with its main() renamed.
 */
#define main ca_enroll_main
int ca_enroll_main(int, char *[]);
#include "cmd/ca-enroll.c"
#undef main

#include <setjmp.h>
#include <stddef.h>

#include <cmocka.h>

static void
test_url(void **state)
{
	struct agent_url u;

	assert_int_equal(agent_url_parse("https://ca.example.net", &u), 0);
	assert_string_equal(u.host, "ca.example.net");
	assert_string_equal(u.port, "443");
	assert_string_equal(u.prefix, "");
	assert_false(u.is_ip);
	agent_url_free(&u);

	assert_int_equal(agent_url_parse("https://127.0.0.1:8443/", &u), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "8443");
	assert_string_equal(u.prefix, "");
	assert_true(u.is_ip);
	agent_url_free(&u);

	assert_int_equal(agent_url_parse("https://[::1]:8443/pki/", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.prefix, "/pki");
	assert_true(u.is_ip);
	agent_url_free(&u);

	assert_int_equal(agent_url_parse("http://ca.example.net", &u), -1);
	assert_int_equal(agent_url_parse("https://", &u), -1);
	assert_int_equal(agent_url_parse("https://h:", &u), -1);
	assert_int_equal(agent_url_parse("https://h:84x3", &u), -1);
	assert_int_equal(agent_url_parse("https://h:123456", &u), -1);
	assert_int_equal(agent_url_parse("https://[::1", &u), -1);
	assert_int_equal(agent_url_parse("https://h x", &u), -1);
	/* Nothing that would end the request line or add a header. */
	assert_int_equal(agent_url_parse("https://h/a b", &u), -1);
	assert_int_equal(agent_url_parse("https://h/a\r\nX: y", &u), -1);
	assert_int_equal(agent_url_parse("https://h\r\n/", &u), -1);
}

static void
test_http(void **state)
{
	char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk";
	char noclen[] = "HTTP/1.0 409 Conflict\r\nX: y\r\n\r\n{\"a\":1}";
	char shortb[] = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}";
	char bad[] = "HTTP/1.1 2000 OK\r\n\r\n";
	char nohdr[] = "HTTP/1.1 200 OK\r\n";
	char *body;
	size_t len;
	int st;

	assert_int_equal(agent_http_parse(ok, strlen(ok), &st, &body, &len), 0);
	assert_int_equal(st, 200);
	assert_int_equal(len, 2);
	assert_string_equal(body, "{}");
	assert_int_equal(agent_http_parse(noclen, strlen(noclen), &st, &body,
	    &len), 0);
	assert_int_equal(st, 409);
	assert_string_equal(body, "{\"a\":1}");
	assert_int_equal(agent_http_parse(shortb, strlen(shortb), &st, &body,
	    &len), -1);
	assert_int_equal(agent_http_parse(bad, strlen(bad), &st, &body, &len),
	    -1);
	assert_int_equal(agent_http_parse(nohdr, strlen(nohdr), &st, &body,
	    &len), -1);
}

static void
test_reply_ok(void **state)
{
	const char *b = "{\"certificate\":\"C\\n\",\"chain\":[\"I\",\"R\\n\"],"
	    "\"serial\":\"0A\",\"not_after\":\"2026-12-23T20:28:59Z\"}";
	struct agent_reply a;

	assert_int_equal(agent_reply_parse(200, b, strlen(b), &a), 0);
	assert_string_equal(a.certificate, "C\n");
	assert_string_equal(a.chain, "C\nI\nR\n");
	assert_string_equal(a.serial, "0A");
	assert_string_equal(a.not_after, "2026-12-23T20:28:59Z");
	assert_null(a.error);
	agent_reply_clear(&a);
}

static void
test_reply_bad(void **state)
{
	static const char *bad[] = {
		"not json",
		"[]",
		"{\"certificate\":\"C\",\"serial\":\"0A\"}",
		"{\"certificate\":\"C\",\"serial\":\"0A\",\"chain\":\"I\"}",
		"{\"certificate\":\"C\",\"serial\":\"0A\",\"chain\":[1]}",
		"{\"serial\":\"0A\",\"chain\":[]}",
	};
	struct agent_reply a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(agent_reply_parse(200, bad[i], strlen(bad[i]),
		    &a), -1);
		agent_reply_clear(&a);
	}
}

static void
test_reply_error(void **state)
{
	const char *b = "{\"error\":\"reissue_too_early\",\"detail\":\"d\","
	    "\"allowed_after\":\"2026-12-16T20:28:59Z\"}";
	struct agent ag = { .verbose = 0 };
	struct agent_reply a;

	assert_int_equal(agent_reply_parse(409, b, strlen(b), &a), 0);
	assert_string_equal(a.error, "reissue_too_early");
	assert_string_equal(a.detail, "d");
	assert_int_equal(agent_time_parse(a.allowed_after), 1797452939);
	assert_int_equal(agent_reply_report(&ag, &a), EXIT_AGENT_OK);
	agent_reply_clear(&a);

	b = "{\"error\":\"token_used\",\"detail\":\"used\"}";
	assert_int_equal(agent_reply_parse(403, b, strlen(b), &a), 0);
	assert_int_equal(agent_reply_report(&ag, &a), EXIT_AGENT_REENROLL);
	agent_reply_clear(&a);

	assert_int_equal(agent_reply_parse(502, "<html>", 6, &a), 0);
	assert_string_equal(a.error, "http_error");
	assert_int_equal(agent_reply_report(&ag, &a), EXIT_AGENT_ERR);
	agent_reply_clear(&a);

	b = "{\"error\":\"conflict\"}";
	assert_int_equal(agent_reply_parse(409, b, strlen(b), &a), 0);
	assert_int_equal(agent_reply_report(&ag, &a), EXIT_AGENT_ERR);
	agent_reply_clear(&a);
}

static void
test_times(void **state)
{
	assert_int_equal(agent_time_parse("1970-01-01T00:01:00Z"), 60);
	assert_int_equal(agent_time_parse("1797452939"), 1797452939);
	assert_int_equal(agent_time_parse("2026-12-16T20:28:59"), 0);
	assert_int_equal(agent_time_parse("soon"), 0);
	assert_int_equal(agent_time_parse(""), 0);
	assert_int_equal(agent_time_parse(NULL), 0);

	assert_int_equal(agent_interval_parse("90"), 90);
	assert_int_equal(agent_interval_parse("90s"), 90);
	assert_int_equal(agent_interval_parse("30m"), 1800);
	assert_int_equal(agent_interval_parse("1h"), 3600);
	assert_int_equal(agent_interval_parse("2d"), 172800);
	assert_int_equal(agent_interval_parse("0"), 0);
	assert_int_equal(agent_interval_parse("-1h"), 0);
	assert_int_equal(agent_interval_parse("1hh"), 0);
	assert_int_equal(agent_interval_parse("1w"), 0);
	assert_int_equal(agent_interval_parse("31d"), 0);
	assert_int_equal(agent_interval_parse("h"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_reply_bad),
		cmocka_unit_test(test_reply_error),
		cmocka_unit_test(test_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
