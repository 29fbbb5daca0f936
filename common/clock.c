/* clock.c - monotonic intervals, real-time receipt times. */
#include "clock.h"

#include <errno.h>

#include "log.h"

int64_t
clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
clock_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t attr;

	if ((errno = pthread_condattr_init(&attr)) != 0 ||
	    (errno = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
	    (errno = pthread_cond_init(cv, &attr)) != 0)
		fatal("pthread_cond_init");
	pthread_condattr_destroy(&attr);
}

void
clock_mono_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}
