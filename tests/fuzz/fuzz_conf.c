/*
 * The configuration parser: any text as ca.conf. Paths in it are
 * resolved against a directory that does not exist; nothing is opened.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "conf/conf.h"
#include "tests/fuzz/fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct conf *conf = NULL;
	char *text;

	(void)fuzz_conf();	/* quiet logs */
	if ((text = malloc(len + 1)) == NULL)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	if (conf_parse("/nonexistent", "fuzz", text, &conf) == LY_OK)
		conf_free(conf);
	free(text);
	fuzz_reset();
	return 0;
}
