/* clock.c -- see clock.h. */
#include "clock.h"

#include <errno.h>
#include <time.h>

double tp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tp_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int tp_sleep_unless(double seconds, double step, const volatile int *stop)
{
    for (double end = tp_now() + seconds;;) {
        if (stop && *stop)
            return 1;
        double left = end - tp_now();
        if (left <= 0)
            return 0;
        tp_sleep(left < step ? left : step);
    }
}
