/*
 * cmd/notify.c — sd_notify(3) for ca-server, through libsystemd when the
 * build has it (configure --with-libsystemd, the default if found).
 */
#include "config.h"

#include <string.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cmd/notify.h"
#include "util/util.h"

void
server_notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	static int warned;
	int r;

	/* 0: no NOTIFY_SOCKET, not under a service manager. */
	if ((r = sd_notify(0, state)) < 0 && !warned) {
		warned = 1;
		ly_log(LY_LOG_WARN, "sd_notify %s: %s", state, strerror(-r));
	}
#else
	(void)state;
#endif
}
