/*
 * OCSP request handling: a POST body as DER, and the same bytes as the
 * path of a GET (percent-encoded base64), both through the request parser
 * the responder uses, with the responder's default CertID limit.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "ocsp/ocsp.h"
#include "ocsp/extern.h"
#include "tests/fuzz/fuzz.h"
#include "util/util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const struct conf *conf = fuzz_conf();
	struct ocsp_request *rq = NULL;
	unsigned char out[OCSP_REQUEST_MAX];
	char *path;
	int n;

	if (ocsp_request_parse(data, len, conf->ocsp_max_requests, &rq) ==
	    LY_OK)
		ocsp_request_free(rq);
	fuzz_reset();
	if ((path = malloc(len + 1)) == NULL)
		return 0;
	memcpy(path, data, len);
	path[len] = '\0';
	if ((n = ocsp_get_decode(path, out, sizeof(out))) > 0 &&
	    ocsp_request_parse(out, (size_t)n, conf->ocsp_max_requests,
	    &rq) == LY_OK)
		ocsp_request_free(rq);
	free(path);
	fuzz_reset();
	return 0;
}
