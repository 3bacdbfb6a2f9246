/*
 * slowsync — an LD_PRELOAD shim for benchmarks: every fsync() and
 * fdatasync() of the process first sleeps SYNC_DELAY_US microseconds
 * (default 2000). This machine's virtual disk syncs in about 0.2 ms; a
 * cloud block volume or an SSD without power-loss protection takes
 * milliseconds, and that is where a durable commit per write hurts.
 * bench/issue builds it when SYNC_DELAY_US is set; it is not part of
 * Lanyard.
 *
 *	cc -shared -fPIC -o slowsync.so bench/slowsync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void
sync_delay(void)
{
	static long us = -1;
	const char *e;
	struct timespec ts;

	/* Racy first read of us: every thread computes the same value. */
	if (us < 0)
		us = (e = getenv("SYNC_DELAY_US")) != NULL ? atol(e) : 2000;
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = (us % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

int
fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	sync_delay();
	return real(fd);
}

int
fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	sync_delay();
	return real(fd);
}
