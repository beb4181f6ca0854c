/* reload.c -- SIGHUP reloads the plugins of `worker` and `serve` (see
 * cli.h): the handler only sets a flag; a thread of its own reloads, so a
 * reload never runs inside a signal handler and never stops a job. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/clock.h"

static volatile sig_atomic_t hup_flag;

static struct {
    pthread_t th;
    int running;
    volatile int stop;
    tp_plugset *set;
    const char *cmd;
    int quiet;
} reloader;

static void on_hup(int sig)
{
    (void)sig;
    hup_flag = 1;
}

void tp__sighup_catch(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    /* held back from this thread and every thread it starts from now on;
     * the reloader's thread takes it */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
}

/* One reload, and what it gave on stderr. */
static void reload_now(void)
{
    tp_error err = {0};
    int rc = tp_plugset_reload(reloader.set, &err);
    const tp_registry *reg = tp_plugset_acquire(reloader.set);
    tp_plugset_info info;
    tp_plugset_info_of(reloader.set, reg, &info);
    char what[1024];
    tp_plugset_summary(reg, what, sizeof what);
    if (rc == TP_OK && !reloader.quiet)
        fprintf(stderr, "tillpipe %s: plugins reloaded (SIGHUP): %s; generation %lu\n",
                reloader.cmd, what, info.generation);
    else if (rc < 0) /* even when quiet: the operator asked and it did not happen */
        fprintf(stderr,
                "tillpipe %s: plugins not reloaded (SIGHUP): %s; generation %lu stays in use "
                "(%s)\n",
                reloader.cmd, err.msg, info.generation, what);
    tp_plugset_release(reloader.set, reg);
}

static void *reloader_main(void *arg)
{
    (void)arg;
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &hup, NULL);
    while (!reloader.stop) {
        if (hup_flag) {
            hup_flag = 0;
            reload_now();
        }
        tp_sleep_unless(0.1, 0.1, &reloader.stop);
    }
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
    return NULL;
}

int tp__reloader_start(tp_plugset *s, const char *cmd, int quiet, tp_error *err)
{
    reloader.set = s;
    reloader.cmd = cmd;
    reloader.quiet = quiet;
    reloader.stop = 0;
    if (pthread_create(&reloader.th, NULL, reloader_main, NULL) != 0)
        return tp_error_set(err, TP_ENOMEM, "cannot start the plugin reload thread");
    reloader.running = 1;
    return TP_OK;
}

void tp__reloader_stop(void)
{
    if (!reloader.running)
        return;
    reloader.stop = 1;
    pthread_join(reloader.th, NULL);
    reloader.running = 0;
}
