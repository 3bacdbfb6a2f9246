/*
 * CSR intake and policy: DER as a device sends it, parsed and checked
 * against every profile of the built-in configuration.
 */
#include "config.h"

#include <stddef.h>

#include "ca/ca.h"
#include "tests/fuzz/fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *profiles[] = { "client", "service", "ocsp", "admin" };
	const struct conf *conf = fuzz_conf();
	const struct conf_profile *p;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	size_t i;

	if (ca_csr_parse(data, len, &req, &key) == LY_OK) {
		for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
			if ((p = conf_profile_get(conf, profiles[i])) != NULL)
				(void)ca_csr_check(p, req, key);
		X509_REQ_free(req);
		EVP_PKEY_free(key);
	}
	fuzz_reset();
	return 0;
}
