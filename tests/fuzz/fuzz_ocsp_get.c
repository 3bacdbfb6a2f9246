/*
 * The RFC 5019 GET path of OCSP: the raw path after "/ocsp/" through
 * percent-decoding and strict base64, as web/ decodes it before
 * ocsp_request_parse (fuzz_ocsp.c parses what comes out). Beyond not
 * crashing, what is accepted must be canonical: the decoded bytes,
 * encoded again, give exactly the percent-decoded text.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ocsp/ocsp.h"
#include "ocsp/extern.h"
#include "tests/fuzz/fuzz.h"
#include "util/util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	unsigned char out[OCSP_REQUEST_MAX], *b64 = NULL, *enc = NULL;
	char *path;
	int n, m;

	(void)fuzz_conf();
	if ((path = malloc(len + 1)) == NULL)
		return 0;
	memcpy(path, data, len);
	path[len] = '\0';
	n = ocsp_get_decode(path, out, sizeof(out));
	if (n == 0 || n > (int)sizeof(out))
		abort();
	if (n > 0) {
		/* Accepted: so the percent-decoding must have succeeded. */
		if ((b64 = malloc(len + 1)) == NULL ||
		    (enc = malloc(4 * ((size_t)n / 3 + 1) + 1)) == NULL)
			goto out;
		if ((m = ly_pct_decode(path, strlen(path), b64)) < 0)
			abort();
		if (EVP_EncodeBlock(enc, out, n) != m ||
		    memcmp(enc, b64, (size_t)m) != 0)
			abort();
	}
 out:
	free(enc);
	free(b64);
	free(path);
	fuzz_reset();
	return 0;
}
