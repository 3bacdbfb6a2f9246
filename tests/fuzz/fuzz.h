/*
 * tests/fuzz/fuzz.h — what the libFuzzer targets share: the built-in
 * configuration (the policy every input is judged by) and quiet logs.
 * Each target is one file with LLVMFuzzerTestOneInput; tests/fuzz/run
 * builds and runs them (`make fuzz`).
 */
#ifndef LANYARD_FUZZ_H
#define LANYARD_FUZZ_H

#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "conf/conf.h"
#include "util/util.h"

/* The default ca.conf, parsed once; the fuzzer's process keeps it. */
static const struct conf *
fuzz_conf(void)
{
	static struct conf *conf;
	char *text;

	if (conf != NULL)
		return conf;
	ly_log_setlevel(LY_LOG_ERR);
	if ((text = conf_default_text(CONF_KEY_EC_P256)) == NULL ||
	    conf_parse("/nonexistent", "fuzz", text, &conf) != LY_OK)
		abort();
	free(text);
	return conf;
}

/* Between inputs: no error state may carry over. */
static void
fuzz_reset(void)
{
	ERR_clear_error();
	ly_errclear();
}

#endif /* LANYARD_FUZZ_H */
