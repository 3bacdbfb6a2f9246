/*
 * The front/engine protocol's one door (ipc/msg.c): a whole message as
 * the engine reads it from a front that may be hostile, or the front
 * from the engine. A message that parses must encode back to the same
 * bytes: the format has one encoding, so nothing is read two ways.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "ipc/ipc.h"
#include "tests/fuzz/fuzz.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ipc_msg m;
	unsigned char *buf = NULL;
	size_t blen, bodylen;
	uint32_t id;
	uint8_t type;

	ly_log_setlevel(LY_LOG_ERR);
	if (len >= IPC_HDR_LEN)
		(void)ipc_hdr_parse(data, &type, &id, &bodylen);
	if (ipc_msg_parse(data, len, &m) == LY_OK) {
		if (ipc_msg_encode(m.type, m.id, m.f, m.nfields, &buf,
		    &blen) != LY_OK || blen != len ||
		    memcmp(buf, data, len) != 0)
			abort();
		free(buf);
		ipc_msg_clear(&m);
	}
	fuzz_reset();
	return 0;
}
