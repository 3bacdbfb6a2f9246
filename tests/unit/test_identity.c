/*
 * tests/unit/test_identity.c — ca/identity.c: canonical JSON, SPIFFE IDs,
 * DNS names, IP addresses.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"
#include "ca/ca.h"

static struct conf tconf;

static int
setup_identity(void **state)
{
	(void)state;
	memset(&tconf, 0, sizeof(tconf));
	tconf.fields[0].name = "userId";
	tconf.fields[0].types = CONF_FIELD_INTEGER;
	tconf.fields[0].required = 1;
	tconf.fields[1].name = "platform";
	tconf.fields[1].types = CONF_FIELD_STRING;
	tconf.fields[2].name = "name";
	tconf.fields[2].types = CONF_FIELD_STRING | CONF_FIELD_INTEGER;
	tconf.nfields = 3;
	tconf.identity_max = 256;
	tconf.spiffe_trust_domain = "example.org";
	return 0;
}

/* With an explicit length, so that NUL bytes can be in the input. */
static void
canon_okn(const char *json, size_t len, const char *role, const char *want)
{
	char *canon = NULL;
	int r;

	r = ca_identity_json_canon(&tconf, json, len, role, &canon);
	if (r != LY_OK)
		fail_msg("%s: %d %s", json, r, ly_errdetail());
	assert_non_null(canon);
	assert_string_equal(canon, want);
	free(canon);
}

static void
canon_ok(const char *json, const char *role, const char *want)
{
	canon_okn(json, strlen(json), role, want);
}

static void
canon_badn(const char *json, size_t len, const char *role, int want,
    const char *detail)
{
	char *canon = (char *)0x1;	/* must stay untouched */
	int r;

	ly_errclear();
	r = ca_identity_json_canon(&tconf, json, len, role, &canon);
	if (r != want)
		fail_msg("%s: got %d (%s), want %d", json, r, ly_errdetail(),
		    want);
	assert_ptr_equal(canon, (char *)0x1);
	assert_true(strlen(ly_errdetail()) > 0);
	if (detail != NULL && strstr(ly_errdetail(), detail) == NULL)
		fail_msg("%s: detail \"%s\" lacks \"%s\"", json,
		    ly_errdetail(), detail);
}

static void
canon_bad(const char *json, const char *role, int want, const char *detail)
{
	canon_badn(json, strlen(json), role, want, detail);
}

/* ---- JSON -------------------------------------------------------------- */

static void
test_canon_order_and_space(void **state)
{
	(void)state;
	canon_ok("{ \"userId\": 42, \"platform\": \"linux\" }", NULL,
	    "{\"platform\":\"linux\",\"userId\":42}");
	canon_ok("\n\t{\"platform\":\"linux\",\r\n\"userId\":42}\n  ", NULL,
	    "{\"platform\":\"linux\",\"userId\":42}");
	canon_ok("{\"userId\":42}", NULL, "{\"userId\":42}");
	/* Integers stay integers; name takes either type. */
	canon_ok("{\"userId\":-7,\"name\":123}", NULL,
	    "{\"name\":123,\"userId\":-7}");
	canon_ok("{\"userId\":9223372036854775807,\"name\":\"42\"}", NULL,
	    "{\"name\":\"42\",\"userId\":9223372036854775807}");
	/* Not NUL-terminated: only len bytes are read. */
	canon_okn("{\"userId\":1}XXXX", 12, NULL, "{\"userId\":1}");
}

static void
test_canon_unicode(void **state)
{
	(void)state;
	/*
	 * Raw UTF-8 é and its escape both become \u00E9: jansson writes the
	 * hex digits in upper case, and so does every other json_dumps() with
	 * these flags, so that is the canonical form.
	 */
	canon_ok("{\"userId\":1,\"name\":\"Ren\xc3\xa9\"}", NULL,
	    "{\"name\":\"Ren\\u00E9\",\"userId\":1}");
	canon_ok("{\"userId\":1,\"name\":\"Ren\\u00E9\"}", NULL,
	    "{\"name\":\"Ren\\u00E9\",\"userId\":1}");
	/* Outside the BMP: a surrogate pair. U+1F600 */
	canon_ok("{\"userId\":1,\"name\":\"\xf0\x9f\x98\x80\"}", NULL,
	    "{\"name\":\"\\uD83D\\uDE00\",\"userId\":1}");
	/* Escaped ASCII is unescaped; quote and backslash stay escaped. */
	canon_ok("{\"userId\":1,\"name\":\"\\u0041\\\"\\\\\\/\"}", NULL,
	    "{\"name\":\"A\\\"\\\\/\",\"userId\":1}");
}

static void
test_canon_not_object(void **state)
{
	(void)state;
	canon_bad("[1,2]", NULL, LY_ERR_BAD_IDENTITY, "not a JSON object");
	canon_bad("\"userId\"", NULL, LY_ERR_BAD_IDENTITY, "not a JSON object");
	canon_bad("42", NULL, LY_ERR_BAD_IDENTITY, "not a JSON object");
	canon_bad("null", NULL, LY_ERR_BAD_IDENTITY, "not a JSON object");
	canon_bad("", NULL, LY_ERR_BAD_IDENTITY, "invalid JSON");
	canon_bad("   ", NULL, LY_ERR_BAD_IDENTITY, "invalid JSON");
	canon_bad("{", NULL, LY_ERR_BAD_IDENTITY, "invalid JSON");
	canon_bad("{}", NULL, LY_ERR_BAD_IDENTITY, "empty object");
	canon_bad("{'userId':1}", NULL, LY_ERR_BAD_IDENTITY, "invalid JSON");
}

static void
test_canon_bad_values(void **state)
{
	(void)state;
	canon_bad("{\"userId\":1,\"name\":{\"a\":1}}", NULL,
	    LY_ERR_BAD_IDENTITY, "an object");
	canon_bad("{\"userId\":1,\"name\":[1]}", NULL, LY_ERR_BAD_IDENTITY,
	    "an array");
	canon_bad("{\"userId\":1,\"name\":null}", NULL, LY_ERR_BAD_IDENTITY,
	    "null");
	canon_bad("{\"userId\":1,\"name\":true}", NULL, LY_ERR_BAD_IDENTITY,
	    "a boolean");
	canon_bad("{\"userId\":1,\"name\":false}", NULL, LY_ERR_BAD_IDENTITY,
	    "a boolean");
	canon_bad("{\"userId\":1.0}", NULL, LY_ERR_BAD_IDENTITY,
	    "a real number");
	canon_bad("{\"userId\":1e3}", NULL, LY_ERR_BAD_IDENTITY,
	    "a real number");
	/* Out of range for json_int_t: jansson refuses it. */
	canon_bad("{\"userId\":99999999999999999999}", NULL,
	    LY_ERR_BAD_IDENTITY, "invalid JSON");
	/* Wrong type for the field. */
	canon_bad("{\"userId\":\"42\"}", NULL, LY_ERR_BAD_IDENTITY,
	    "must be an integer");
	canon_bad("{\"userId\":1,\"platform\":7}", NULL, LY_ERR_BAD_IDENTITY,
	    "must be a string");
	/* Empty string, control characters (C0, DEL, C1). */
	canon_bad("{\"userId\":1,\"platform\":\"\"}", NULL, LY_ERR_BAD_IDENTITY,
	    "empty string");
	canon_bad("{\"userId\":1,\"platform\":\"a\\nb\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "control character");
	canon_bad("{\"userId\":1,\"platform\":\"a\\u001fb\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "control character");
	canon_bad("{\"userId\":1,\"platform\":\"a\\u007fb\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "control character");
	canon_bad("{\"userId\":1,\"platform\":\"a\\u0085b\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "control character");
	/* A raw tab inside a string is invalid JSON already. */
	canon_bad("{\"userId\":1,\"platform\":\"a\tb\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "invalid JSON");
}

static void
test_canon_bad_encoding(void **state)
{
	static const char nulbyte[] = "{\"userId\":1,\"platform\":\"a\0b\"}";
	static const char nulafter[] = "{\"userId\":1}\0";

	(void)state;
	canon_bad("{\"userId\":1,\"userId\":2}", NULL, LY_ERR_BAD_IDENTITY,
	    "duplicate");
	/* Invalid UTF-8: a lone continuation byte, an overlong '/'. */
	canon_bad("{\"userId\":1,\"platform\":\"a\x80\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "invalid JSON");
	canon_bad("{\"userId\":1,\"platform\":\"\xc0\xaf\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "invalid JSON");
	/* A surrogate on its own, escaped or encoded. */
	canon_bad("{\"userId\":1,\"platform\":\"\\ud800\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "invalid JSON");
	canon_bad("{\"userId\":1,\"platform\":\"\xed\xa0\x80\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "invalid JSON");
	/* NUL escaped, NUL as a raw byte inside and after. */
	canon_bad("{\"userId\":1,\"platform\":\"a\\u0000b\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "invalid JSON");
	canon_badn(nulbyte, sizeof(nulbyte) - 1, NULL, LY_ERR_BAD_IDENTITY,
	    "invalid JSON");
	canon_badn(nulafter, sizeof(nulafter) - 1, NULL, LY_ERR_BAD_IDENTITY,
	    "invalid JSON");
	/* Trailing garbage, including a second object. */
	canon_bad("{\"userId\":1}x", NULL, LY_ERR_BAD_IDENTITY, "invalid JSON");
	canon_bad("{\"userId\":1}{}", NULL, LY_ERR_BAD_IDENTITY,
	    "invalid JSON");
	canon_bad("{\"userId\":1},", NULL, LY_ERR_BAD_IDENTITY, "invalid JSON");
}

static void
test_canon_schema(void **state)
{
	(void)state;
	canon_bad("{\"userId\":1,\"admin\":1}", NULL, LY_ERR_BAD_IDENTITY,
	    "unknown key \"admin\"");
	/* Keys are case-sensitive. */
	canon_bad("{\"userid\":1}", NULL, LY_ERR_BAD_IDENTITY,
	    "unknown key \"userid\"");
	canon_bad("{\"platform\":\"linux\"}", NULL, LY_ERR_BAD_IDENTITY,
	    "required key \"userId\" is missing");
	canon_bad("{\"\":1,\"userId\":1}", NULL, LY_ERR_BAD_IDENTITY,
	    "unknown key");
	/* An untrusted key goes into the message only if printable. */
	canon_bad("{\"a\\nb\":1,\"userId\":1}", NULL, LY_ERR_BAD_IDENTITY,
	    "unknown key \"(not printable)\"");
}

static void
test_canon_role(void **state)
{
	(void)state;
	canon_bad("{\"userId\":1,\"role\":\"admin\"}", NULL,
	    LY_ERR_BAD_IDENTITY, "\"role\"");
	/* Forced when the profile has one. */
	canon_ok("{\"userId\":1}", "admin",
	    "{\"role\":\"admin\",\"userId\":1}");
	canon_ok("{\"userId\":1,\"role\":\"admin\"}", "admin",
	    "{\"role\":\"admin\",\"userId\":1}");
	canon_bad("{\"userId\":1,\"role\":\"root\"}", "admin",
	    LY_ERR_BAD_IDENTITY, "must be \"admin\"");
	canon_bad("{\"userId\":1,\"role\":\"Admin\"}", "admin",
	    LY_ERR_BAD_IDENTITY, "must be \"admin\"");
	canon_bad("{\"userId\":1,\"role\":1}", "admin", LY_ERR_BAD_IDENTITY,
	    "must be \"admin\"");
	canon_bad("{\"userId\":1,\"role\":null}", "admin", LY_ERR_BAD_IDENTITY,
	    "must be \"admin\"");
	/* Still refused if the rest is bad. */
	canon_bad("{\"role\":\"admin\"}", "admin", LY_ERR_BAD_IDENTITY,
	    "required key");
	canon_bad("{\"userId\":1,\"role\":\"admin\",\"role\":\"admin\"}",
	    "admin", LY_ERR_BAD_IDENTITY, "duplicate");
}

static void
test_canon_size(void **state)
{
	char buf[2048], want[2048];
	size_t n;

	(void)state;
	/* Exactly identity_max is fine: {"name":"aaa...","userId":1} */
	n = tconf.identity_max - strlen("{\"name\":\"\",\"userId\":1}");
	snprintf(buf, sizeof(buf), "{\"userId\":1,\"name\":\"%0*d\"}",
	    (int)n, 0);
	snprintf(want, sizeof(want), "{\"name\":\"%0*d\",\"userId\":1}",
	    (int)n, 0);
	assert_int_equal(strlen(want), tconf.identity_max);
	canon_ok(buf, NULL, want);
	/* One more is too large. */
	snprintf(buf, sizeof(buf), "{\"userId\":1,\"name\":\"%0*d\"}",
	    (int)n + 1, 0);
	canon_bad(buf, NULL, LY_ERR_TOO_LARGE, "canonical form");
	/* Escapes that grow: 50 é is 100 bytes in, 300 out. */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "{\"userId\":1,\"name\":\"");
	for (n = 0; n < 50; n++)
		strcat(buf, "\xc3\xa9");
	strcat(buf, "\"}");
	canon_bad(buf, NULL, LY_ERR_TOO_LARGE, "canonical form");
	/* Up to 4 x identity_max of input is parsed ... */
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "{\"userId\":1}", 12);
	canon_okn(buf, 4 * tconf.identity_max, NULL, "{\"userId\":1}");
	/* ... more is refused before parsing: not even a JSON error. */
	buf[4 * tconf.identity_max] = 'x';
	canon_badn(buf, 4 * tconf.identity_max + 1, NULL, LY_ERR_TOO_LARGE,
	    "bytes of JSON");
}

/* ---- SPIFFE ------------------------------------------------------------ */

static void
spiffe_bad(const char *id, const char *detail)
{
	ly_errclear();
	assert_int_equal(ca_identity_spiffe_check(&tconf, id),
	    LY_ERR_BAD_IDENTITY);
	if (detail != NULL && strstr(ly_errdetail(), detail) == NULL)
		fail_msg("%s: detail \"%s\" lacks \"%s\"", id, ly_errdetail(),
		    detail);
}

static void
test_spiffe_good(void **state)
{
	(void)state;
	assert_int_equal(ca_identity_spiffe_check(&tconf,
	    "spiffe://example.org/ns/prod/sa/web"), LY_OK);
	assert_int_equal(ca_identity_spiffe_check(&tconf,
	    "spiffe://example.org"), LY_OK);
	assert_int_equal(ca_identity_spiffe_check(&tconf,
	    "spiffe://example.org/A-Z_a.z-09/..a/a.."), LY_OK);
}

static void
test_spiffe_bad(void **state)
{
	char *big;
	size_t pre;

	(void)state;
	spiffe_bad("spiffe://example.com/web", "trust domain \"example.com\"");
	spiffe_bad("spiffe://sub.example.org/web", "is not \"example.org\"");
	spiffe_bad("SPIFFE://example.org/web", "must begin with");
	spiffe_bad("Spiffe://example.org/web", "must begin with");
	spiffe_bad("https://example.org/web", "must begin with");
	spiffe_bad("spiffe:/example.org/web", "must begin with");
	spiffe_bad("spiffe://Example.org/web", "lower case");
	spiffe_bad("spiffe:///web", "empty trust domain");
	spiffe_bad("spiffe://", "empty trust domain");
	spiffe_bad("spiffe://example.org/ns/../web", "\"..\"");
	spiffe_bad("spiffe://example.org/ns/./web", "\".\"");
	spiffe_bad("spiffe://example.org/..", "\"..\"");
	spiffe_bad("spiffe://example.org/ns//web", "empty path segment");
	spiffe_bad("spiffe://example.org/web/", "trailing '/'");
	spiffe_bad("spiffe://example.org/", "trailing '/'");
	spiffe_bad("spiffe://example.org/web?x=1", "a query");
	spiffe_bad("spiffe://example.org/web#frag", "a fragment");
	spiffe_bad("spiffe://example.org:443/web", "a port");
	spiffe_bad("spiffe://user@example.org/web", "user info");
	spiffe_bad("spiffe://example.org/w%65b", "percent-encoding");
	spiffe_bad("spiffe://example.org/we b", "0x20");
	spiffe_bad("spiffe://example.org/w\xc3\xa9", "0xc3");

	/* 2048 bytes is fine, 2049 is not. */
	assert_non_null(big = malloc(CA_SPIFFE_MAX + 2));
	strcpy(big, "spiffe://example.org/");
	pre = strlen(big);
	memset(big + pre, 'a', CA_SPIFFE_MAX - pre);
	big[CA_SPIFFE_MAX] = '\0';
	assert_int_equal(ca_identity_spiffe_check(&tconf, big), LY_OK);
	big[CA_SPIFFE_MAX] = 'a';
	big[CA_SPIFFE_MAX + 1] = '\0';
	spiffe_bad(big, "longer than 2048");
	free(big);
}

static void
test_spiffe_unconfigured(void **state)
{
	(void)state;
	tconf.spiffe_trust_domain = NULL;
	spiffe_bad("spiffe://example.org/web", "no SPIFFE trust domain");
	tconf.spiffe_trust_domain = "example.org";
}

/* ---- DNS and IP -------------------------------------------------------- */

static void
dns_ok(const char *in, const char *want)
{
	char buf[300];

	snprintf(buf, sizeof(buf), "%s", in);
	if (ca_identity_dns_check(buf) != LY_OK)
		fail_msg("%s: %s", in, ly_errdetail());
	assert_string_equal(buf, want);
}

static void
dns_bad(const char *in, const char *detail)
{
	char buf[300];

	snprintf(buf, sizeof(buf), "%s", in);
	ly_errclear();
	assert_int_equal(ca_identity_dns_check(buf), LY_ERR_BAD_IDENTITY);
	/* A refused name is left as it was. */
	assert_string_equal(buf, in);
	if (detail != NULL && strstr(ly_errdetail(), detail) == NULL)
		fail_msg("%s: detail \"%s\" lacks \"%s\"", in, ly_errdetail(),
		    detail);
}

static void
test_dns(void **state)
{
	char name[300];
	size_t i;

	(void)state;
	dns_ok("www.example.org", "www.example.org");
	dns_ok("WWW.Example.ORG", "www.example.org");
	dns_ok("localhost", "localhost");
	dns_ok("*.example.org", "*.example.org");
	dns_ok("a-b.c0.example", "a-b.c0.example");
	dns_ok("xn--bcher-kva.example", "xn--bcher-kva.example");
	dns_ok("XN--bcher-kva.example", "xn--bcher-kva.example");
	dns_ok("1.2.3.example", "1.2.3.example");
	dns_ok("0a.example", "0a.example");

	dns_bad("", "empty");
	dns_bad("example.org.", "trailing '.'");
	dns_bad(".example.org", "empty label");
	dns_bad("www..example.org", "empty label");
	dns_bad("my_host.example.org", "'_'");
	dns_bad("-www.example.org", "'-'");
	dns_bad("www-.example.org", "'-'");
	dns_bad("b\xc3\xbc" "cher.example", "A-labels");
	dns_bad("ab--cd.example", "positions 3 and 4");
	dns_bad("www.*.example.org", "'*'");
	dns_bad("w*.example.org", "'*'");
	dns_bad("*", "wildcard");
	dns_bad("*.", "trailing '.'");
	dns_bad("*.*.example.org", "'*'");
	dns_bad("www example.org", "0x20");
	dns_bad("10.0.0.1", "all digits");
	dns_bad("example.123", "all digits");
	dns_bad("example.org:443", "0x3a");

	/* Label of 63 octets is fine, 64 not. */
	memset(name, 'a', 63);
	strcpy(name + 63, ".example");
	dns_ok(name, name);
	memset(name, 'a', 64);
	strcpy(name + 64, ".example");
	dns_bad(name, "longer than 63");

	/* 253 octets total is fine, 254 not: "a.a.a...a" and "ba.a...a". */
	for (i = 0; i < 253; i++)
		name[i] = i % 2 == 0 ? 'a' : '.';
	name[253] = '\0';
	dns_ok(name, name);
	memmove(name + 1, name, 254);
	name[0] = 'b';
	assert_int_equal(strlen(name), 254);
	dns_bad(name, "longer than 253");
}

static void
ip_ok(const char *in, int len, const char *hexbytes)
{
	unsigned char b[16];
	char *h;

	if (ca_identity_ip_parse(in, b) != len)
		fail_msg("%s: %s", in, ly_errdetail());
	assert_non_null(h = ly_hex_encode(b, (size_t)len));
	assert_string_equal(h, hexbytes);
	free(h);
}

static void
test_ip_parse(void **state)
{
	static const char *bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ",
		" 1.2.3.4", "1.2.3.4/24", "fe80::1%eth0", "::g", "1:2:3:4:5:6:7:8:9",
		"[::1]", "example.org", "0x7f.0.0.1", "127.1",
		"0000:0000:0000:0000:0000:0000:0000:0000:",
	};
	unsigned char b[16];
	size_t i;

	(void)state;
	ip_ok("192.0.2.1", 4, "c0000201");
	ip_ok("0.0.0.0", 4, "00000000");
	ip_ok("::1", 16, "00000000000000000000000000000001");
	ip_ok("2001:DB8::1", 16, "20010db8000000000000000000000001");
	ip_ok("::ffff:192.0.2.1", 16, "00000000000000000000ffffc0000201");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ca_identity_ip_parse(bad[i], b) != LY_ERR_BAD_IDENTITY)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void
test_add_names(void **state)
{
	struct ca_identity id;
	char name[32];
	size_t i;

	(void)state;
	memset(&id, 0, sizeof(id));
	assert_null(ca_identity_key(&id));

	assert_int_equal(ca_identity_add_ip(&id, "2001:DB8:0:0::0:1"), LY_OK);
	assert_string_equal(id.ip[0], "2001:db8::1");
	assert_string_equal(ca_identity_key(&id), "2001:db8::1");
	/* The same address in another spelling is a duplicate. */
	assert_int_equal(ca_identity_add_ip(&id, "2001:db8::1"),
	    LY_ERR_BAD_IDENTITY);
	assert_non_null(strstr(ly_errdetail(), "twice"));
	assert_int_equal(ca_identity_add_ip(&id, "192.0.2.1"), LY_OK);
	assert_int_equal(ca_identity_add_ip(&id, "192.0.2.300"),
	    LY_ERR_BAD_IDENTITY);
	assert_int_equal(id.nip, 2);

	assert_int_equal(ca_identity_add_dns(&id, "Www.Example.org"), LY_OK);
	assert_string_equal(id.dns[0], "www.example.org");
	/* The DNS name now comes before the IP. */
	assert_string_equal(ca_identity_key(&id), "www.example.org");
	assert_int_equal(ca_identity_add_dns(&id, "www.EXAMPLE.org"),
	    LY_ERR_BAD_IDENTITY);
	assert_non_null(strstr(ly_errdetail(), "twice"));
	assert_int_equal(ca_identity_add_dns(&id, "bad_name.example"),
	    LY_ERR_BAD_IDENTITY);
	assert_int_equal(id.ndns, 1);

	/* 16 names in all: 3 so far. */
	for (i = 0; id.ndns + id.nip < CA_MAX_NAMES; i++) {
		snprintf(name, sizeof(name), "h%zu.example.org", i);
		assert_int_equal(ca_identity_add_dns(&id, name), LY_OK);
	}
	assert_int_equal(ca_identity_add_dns(&id, "one-more.example.org"),
	    LY_ERR_TOO_LARGE);
	assert_int_equal(ca_identity_add_ip(&id, "192.0.2.2"),
	    LY_ERR_TOO_LARGE);
	assert_int_equal(id.ndns + id.nip, CA_MAX_NAMES);

	/* The value wins over names. */
	assert_non_null(id.value = strdup("{\"userId\":1}"));
	id.kind = CONF_ID_JSON;
	assert_string_equal(ca_identity_key(&id), "{\"userId\":1}");

	ca_identity_clear(&id);
	assert_null(id.value);
	assert_int_equal(id.ndns, 0);
	assert_int_equal(id.nip, 0);
	assert_int_equal(id.kind, CONF_ID_NONE);
	assert_null(ca_identity_key(&id));
	ca_identity_clear(&id);		/* twice is fine */
	ca_identity_clear(NULL);
}

static void
test_add_ip_only(void **state)
{
	struct ca_identity id;
	int i;
	char ip[32];

	(void)state;
	memset(&id, 0, sizeof(id));
	for (i = 0; i < CA_MAX_NAMES; i++) {
		snprintf(ip, sizeof(ip), "10.0.0.%d", i + 1);
		assert_int_equal(ca_identity_add_ip(&id, ip), LY_OK);
	}
	assert_int_equal(ca_identity_add_ip(&id, "10.0.1.1"),
	    LY_ERR_TOO_LARGE);
	assert_int_equal(ca_identity_add_dns(&id, "a.example"),
	    LY_ERR_TOO_LARGE);
	assert_string_equal(ca_identity_key(&id), "10.0.0.1");
	ca_identity_clear(&id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_order_and_space),
		cmocka_unit_test(test_canon_unicode),
		cmocka_unit_test(test_canon_not_object),
		cmocka_unit_test(test_canon_bad_values),
		cmocka_unit_test(test_canon_bad_encoding),
		cmocka_unit_test(test_canon_schema),
		cmocka_unit_test(test_canon_role),
		cmocka_unit_test(test_canon_size),
		cmocka_unit_test(test_spiffe_good),
		cmocka_unit_test(test_spiffe_bad),
		cmocka_unit_test(test_spiffe_unconfigured),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_ip_parse),
		cmocka_unit_test(test_add_names),
		cmocka_unit_test(test_add_ip_only),
	};

	return cmocka_run_group_tests(tests, setup_identity, NULL);
}
