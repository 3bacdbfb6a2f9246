/*
 * HTTP dates and conditional GET (web/routes.c): If-Modified-Since in
 * its three RFC 7231 forms, and If-None-Match lists, both straight from
 * the client. The input is split at its first NUL into If-None-Match
 * and If-Modified-Since; each part is also parsed as a date alone. A
 * date that parses and fits a four-digit year must come back from the
 * IMF-fixdate we write for it.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "web/extern.h"
#include "tests/fuzz/fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* 9999-12-31T23:59:59Z: the last second web_http_date_fmt can write. */
#define LAST_FMT_TIME	253402300799LL

static void
roundtrip(const char *s)
{
	char buf[WEB_DATE_LEN];
	time_t t, u;

	if (web_http_date_parse(s, &t) != LY_OK ||
	    t < 0 || (long long)t > LAST_FMT_TIME)
		return;
	web_http_date_fmt(t, buf);
	if (web_http_date_parse(buf, &u) != LY_OK || u != t)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *inm, *ims;
	char *s;
	size_t a;

	if ((s = malloc(len + 2)) == NULL)
		return 0;
	memcpy(s, data, len);
	s[len] = '\0';
	s[len + 1] = '\0';
	inm = s;
	a = strlen(s);
	ims = s + a + 1;
	if (a == len)
		ims = s + len + 1;	/* no NUL in the input: ims is "" */
	roundtrip(inm);
	roundtrip(ims);
	(void)web_not_modified(inm, ims, "\"1a-2b\"", 1700000000);
	(void)web_not_modified(NULL, ims, "\"1a-2b\"", 1700000000);
	(void)web_not_modified(inm, NULL, "", 0);
	free(s);
	fuzz_reset();
	return 0;
}
