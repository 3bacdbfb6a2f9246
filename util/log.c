/*
 * util/log.c — logging to stderr, and the one place that drains the OpenSSL
 * error queue (after Unbound's log_crypto_err_code).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "util/util.h"

static enum ly_loglevel maxlevel = LY_LOG_INFO;

void
ly_log_setlevel(enum ly_loglevel l)
{
	maxlevel = l;
}

void
ly_log(enum ly_loglevel l, const char *fmt, ...)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	char buf[1024];
	va_list ap;

	if (l > maxlevel)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One write per line so lines from threads do not interleave. */
	fprintf(stderr, "lanyard: %s: %s\n", names[l], buf);
}

void
ly_log_crypto(const char *where)
{
	unsigned long e;
	const char *file, *data;
	int line, flags;
	char buf[256];

	while ((e = ERR_get_error_all(&file, &line, NULL, &data, &flags)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		ly_log(LY_LOG_ERR, "%s: %s%s%s", where, buf,
		    (flags & ERR_TXT_STRING) ? ": " : "",
		    (flags & ERR_TXT_STRING) ? data : "");
	}
}
