/*
 * JSON identity canonicalisation: what an admin or a token names, checked
 * against the default schema, as a plain identity and as an admin's (with
 * a role); and the same bytes as a SPIFFE ID and as a DNS name.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "ca/ca.h"
#include "tests/fuzz/fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const struct conf *conf = fuzz_conf();
	char *canon = NULL, *again = NULL, *s;

	if (ca_identity_json_canon(conf, (const char *)data, len, NULL,
	    &canon) == LY_OK) {
		/* Canonical form is a fixed point. */
		if (ca_identity_json_canon(conf, canon, strlen(canon), NULL,
		    &again) != LY_OK || strcmp(canon, again) != 0)
			abort();
		free(again);
		free(canon);
	}
	fuzz_reset();
	if (ca_identity_json_canon(conf, (const char *)data, len, "admin",
	    &canon) == LY_OK)
		free(canon);
	fuzz_reset();
	if ((s = malloc(len + 1)) != NULL) {
		memcpy(s, data, len);
		s[len] = '\0';
		(void)ca_identity_spiffe_check(conf, s);
		(void)ca_identity_dns_check(s);
		free(s);
	}
	fuzz_reset();
	return 0;
}
