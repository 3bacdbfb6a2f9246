/*
 * hsm/recover.c — what hsm/ does when the token fails: the module lock,
 * re-initialising the module with backoff, the counters of /metrics and
 * the refusal of signatures that do not verify.
 *
 * Reopening a key's session (hsm.c) mends a lost session or login. It does
 * not mend a module whose own view of the token went bad: SoftHSM marks a
 * token invalid for good once its directory vanishes, and enumerates
 * tokens only in C_Initialize, so the token stays "not present" after the
 * directory is back. Only C_Finalize and C_Initialize bring it back, and
 * pkcs11-helper's sessions must go with them (their handles die with the
 * module's sessions, and new handles may reuse the numbers). That is
 * hsm_module_restart() (hsm.c), run here with the module lock held for
 * writing, so no thread is inside the module meanwhile, and at most once
 * per backoff interval, so a dead token is not hammered.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/util.h"
#include "hsm/hsm.h"
#include "hsm/extern.h"

static struct {
	/* Read: any call into the module. Write: re-initialising it. */
	pthread_rwlock_t	 mod;
	/* One recovery at a time; guards the backoff below. */
	pthread_mutex_t		 lock;
	/* Written with both locks held; read with either. */
	int			 down;		/* module not initialised */
	char			 why[256];	/* what the last restart said */
	unsigned long		 epoch;		/* restarts so far */
	/* Guarded by lock. */
	struct timespec		 next;		/* no restart before this */
	unsigned int		 delay_ms;	/* 0: no backoff running */
	atomic_int		 failing;	/* a backoff is running */
	atomic_ulong		 stat[HSM_STAT_MAX];
} rec = {
	/* Writers first: a restart must not wait for a lull in signing. */
	.mod = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/*
 * Read locks held by this thread: they nest (a writer-preferring lock
 * would deadlock a thread that read-locks twice while a writer waits).
 */
static _Thread_local int mod_depth;

void
hsm_mod_rdlock(void)
{
	if (mod_depth++ == 0)
		pthread_rwlock_rdlock(&rec.mod);
}

void
hsm_mod_unlock(void)
{
	if (--mod_depth == 0)
		pthread_rwlock_unlock(&rec.mod);
}

int
hsm_mod_check(unsigned long *epochp)
{
	if (epochp != NULL)
		*epochp = rec.epoch;
	if (rec.down)
		return ly_fail(LY_ERR_HSM, "module down: %s", rec.why);
	return 0;
}

void
hsm_mod_reset(void)
{
	pthread_mutex_lock(&rec.lock);
	rec.down = 0;
	rec.why[0] = '\0';
	rec.delay_ms = 0;
	memset(&rec.next, 0, sizeof(rec.next));
	atomic_store(&rec.failing, 0);
	pthread_mutex_unlock(&rec.lock);
}

static long
ms_until(const struct timespec *t, const struct timespec *now)
{
	return (long)(t->tv_sec - now->tv_sec) * 1000 +
	    (t->tv_nsec - now->tv_nsec) / 1000000;
}

/* Starts or doubles the backoff from now. Lock held. */
static void
backoff_step(const struct timespec *now)
{
	if (rec.delay_ms == 0)
		rec.delay_ms = HSM_RECOVER_MIN_MS;
	else if ((rec.delay_ms *= 2) > HSM_RECOVER_MAX_MS)
		rec.delay_ms = HSM_RECOVER_MAX_MS;
	rec.next = *now;
	rec.next.tv_sec += rec.delay_ms / 1000;
	rec.next.tv_nsec += (long)(rec.delay_ms % 1000) * 1000000;
	if (rec.next.tv_nsec >= 1000000000) {
		rec.next.tv_sec++;
		rec.next.tv_nsec -= 1000000000;
	}
	atomic_store(&rec.failing, 1);
}

int
hsm_recover(unsigned long epoch, const char *why)
{
	struct timespec	 now;
	char		 cause[384];
	long		 wait;
	int		 down = 1, r;

	/* why is often ly_errdetail(): keep it before ly_fail() reuses it. */
	snprintf(cause, sizeof(cause), "%s", why != NULL ? why : "");
	if (mod_depth != 0)
		return ly_fail(LY_ERR_INTERNAL, "hsm_recover with the module "
		    "lock held");
	pthread_mutex_lock(&rec.lock);
	if (rec.epoch != epoch) {
		/* Another thread restarted the module since: try again. */
		r = 0;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (rec.delay_ms != 0 && (wait = ms_until(&rec.next, &now)) > 0) {
		r = ly_fail(LY_ERR_HSM, "%s; next re-initialisation in %ld ms",
		    cause, wait);
		goto out;
	}
	ly_log(LY_LOG_WARN, "HSM: re-initialising the PKCS#11 module (%s)",
	    cause);
	atomic_fetch_add(&rec.stat[HSM_STAT_REINIT], 1);
	pthread_rwlock_wrlock(&rec.mod);
	r = hsm_module_restart(&down);
	rec.down = down;
	snprintf(rec.why, sizeof(rec.why), "%s", r == 0 ? "" : ly_errdetail());
	rec.epoch++;
	pthread_rwlock_unlock(&rec.mod);
	backoff_step(&now);
	if (r == 0)
		ly_log(LY_LOG_INFO, "HSM: PKCS#11 module re-initialised, keys "
		    "reopened");
	else {
		ly_log(LY_LOG_ERR, "HSM: re-initialising the PKCS#11 module "
		    "failed: %s; next attempt in %u ms", rec.why, rec.delay_ms);
		r = ly_fail(LY_ERR_HSM, "%s%s; next re-initialisation in %u ms",
		    rec.down ? "module down: " : "", rec.why, rec.delay_ms);
	}
 out:
	pthread_mutex_unlock(&rec.lock);
	return r;
}

void
hsm_recover_ok(void)
{
	if (!atomic_load_explicit(&rec.failing, memory_order_relaxed))
		return;
	pthread_mutex_lock(&rec.lock);
	rec.delay_ms = 0;
	atomic_store(&rec.failing, 0);
	pthread_mutex_unlock(&rec.lock);
}

void
hsm_stat_add(enum hsm_stat which)
{
	atomic_fetch_add_explicit(&rec.stat[which], 1, memory_order_relaxed);
}

void
hsm_stats(struct hsm_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->sign_failures = atomic_load(&rec.stat[HSM_STAT_SIGN_FAILURE]);
	st->reopens = atomic_load(&rec.stat[HSM_STAT_REOPEN]);
	st->reinits = atomic_load(&rec.stat[HSM_STAT_REINIT]);
	st->bad_signatures = atomic_load(&rec.stat[HSM_STAT_BAD_SIGNATURE]);
	pthread_mutex_lock(&rec.lock);
	st->down = rec.down;
	pthread_mutex_unlock(&rec.lock);
}

int
hsm_bad_signature(const char *fmt, ...)
{
	char	msg[384];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&rec.stat[HSM_STAT_BAD_SIGNATURE], 1);
	ly_log(LY_LOG_ERR, "HSM: bad signature refused: %s", msg);
	return ly_fail(LY_ERR_HSM, "%s", msg);
}
