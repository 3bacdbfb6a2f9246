/*
 * cmd/notify.h — ca-server tells its service manager how it stands
 * (sd_notify(3), for a Type=notify unit such as lanyard.service).
 */
#ifndef LANYARD_CMD_NOTIFY_H
#define LANYARD_CMD_NOTIFY_H

/*
 * Sends state ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...") to
 * the service manager when NOTIFY_SOCKET names one; a no-op otherwise,
 * and in a build without libsystemd. A failure is logged once, never
 * fatal: serving matters more than telling.
 */
void	 server_notify(const char *state);

#endif
