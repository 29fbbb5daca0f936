/* clock.h - the two clocks bevis reads: monotonic for intervals and
 * deadlines, real time for receipt times. */
#ifndef BEVIS_CLOCK_H
#define BEVIS_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t clock_mono_ms(void);
/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_real_us(void);
/* Initializes cv to time its waits on CLOCK_MONOTONIC, so that a wall
 * clock step does not stretch or cut a pthread_cond_timedwait. */
void clock_cond_init(pthread_cond_t *cv);
/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait on a
 * condition variable made by clock_cond_init. */
void clock_mono_deadline(struct timespec *ts, int64_t ms);

#endif
