/* clock.h -- the one clock and the one sleep of tillpipe: seconds as a
 * double, on the monotonic clock (durations, deadlines, backoffs -- never
 * wall-clock dates). */
#ifndef TP_CLOCK_H
#define TP_CLOCK_H

/* Seconds on the monotonic clock (an arbitrary origin). */
double tp_now(void);

/* Sleep `seconds` (<= 0: not at all), resuming after signals. */
void tp_sleep(double seconds);

/* Sleep `seconds` in steps of at most `step`, returning early (1) once
 * *stop becomes non-zero; 0 when the whole time passed. */
int tp_sleep_unless(double seconds, double step, const volatile int *stop);

#endif
