/*
 * EST body decoding (RFC 7030 with RFC 8951's base64 rules): the body of
 * a simpleenroll, decoded and taken as a CSR by the client profile.
 */
#include "config.h"

#include <stddef.h>

#include "ca/ca.h"
#include "enroll/extern.h"
#include "tests/fuzz/fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const struct conf *conf = fuzz_conf();
	unsigned char *der = NULL;
	size_t derlen = 0;
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;

	if (est_b64_decode(data, len, &der, &derlen) == LY_OK) {
		if (ca_csr_parse(der, derlen, &req, &key) == LY_OK) {
			(void)ca_csr_check(conf_profile_get(conf, "client"),
			    req, key);
			X509_REQ_free(req);
			EVP_PKEY_free(key);
		}
		free(der);
	}
	fuzz_reset();
	return 0;
}
