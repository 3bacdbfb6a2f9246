/*
 * The JSON API's request bodies (enroll/body.c): the same bytes as the
 * body of each kind of request — enroll, reissue, token create, revoke,
 * identity disable and enable.
 * What is accepted must carry every member its kind requires, and none
 * it does not take.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>

#include "enroll/extern.h"
#include "tests/fuzz/fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const enum enroll_body_kind kinds[] = {
		ENROLL_BODY_ENROLL, ENROLL_BODY_REISSUE, ENROLL_BODY_TOKEN,
		ENROLL_BODY_REVOKE, ENROLL_BODY_DISABLE, ENROLL_BODY_ENABLE,
	};
	struct enroll_body b;
	size_t i;
	int ok;

	(void)fuzz_conf();
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (enroll_body_parse(data, len, kinds[i], &b) != LY_OK) {
			fuzz_reset();
			continue;
		}
		switch (kinds[i]) {
		case ENROLL_BODY_ENROLL:
			ok = b.token != NULL && b.csr != NULL &&
			    b.profile == NULL && b.reason == NULL;
			break;
		case ENROLL_BODY_REISSUE:
			ok = b.csr != NULL && b.token == NULL;
			break;
		case ENROLL_BODY_TOKEN:
			ok = b.profile != NULL && b.identity != NULL &&
			    b.csr == NULL;
			break;
		case ENROLL_BODY_DISABLE:
		case ENROLL_BODY_ENABLE:
			ok = (b.identity != NULL) + (b.spiffe != NULL) +
			    (b.dns != NULL) == 1 && b.csr == NULL &&
			    (kinds[i] == ENROLL_BODY_DISABLE || b.revoke == NULL);
			break;
		default:
			ok = b.token == NULL && b.csr == NULL;
			break;
		}
		if (!ok || b.json == NULL)
			abort();
		enroll_body_clear(&b);
		fuzz_reset();
	}
	return 0;
}
