/* measure.c -- run a command N times, print its median wall time and the
 * peak resident set size of the child (wait4 rusage): the bench scripts'
 * stopwatch.  Output: "<median seconds> <min seconds> <max rss KiB>".
 *
 * usage: tp-measure N [--stdout FILE] -- command args... */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: tp-measure N [--stdout FILE] -- command args...\n");
        return 2;
    }
    char *end;
    long n = strtol(argv[1], &end, 10);
    if (*end || n < 1 || n > 1000) {
        fprintf(stderr, "tp-measure: N must be 1..1000\n");
        return 2;
    }
    int i = 2;
    const char *out = "/dev/null";
    if (strcmp(argv[i], "--stdout") == 0 && i + 1 < argc) {
        out = argv[i + 1];
        i += 2;
    }
    if (i >= argc || strcmp(argv[i], "--") != 0) {
        fprintf(stderr, "tp-measure: expected -- before the command\n");
        return 2;
    }
    char **cmd = argv + i + 1;
    double *t = calloc((size_t)n, sizeof *t);
    long maxrss = 0;
    for (long k = 0; k < n; k++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                close(fd);
            }
            execvp(cmd[0], cmd);
            _exit(127);
        }
        int st;
        struct rusage ru;
        if (pid < 0 || wait4(pid, &st, 0, &ru) < 0) {
            perror("tp-measure");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "tp-measure: %s failed (status %d)\n", cmd[0], st);
            return 1;
        }
        t[k] = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        if (ru.ru_maxrss > maxrss)
            maxrss = ru.ru_maxrss;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("%.6f %.6f %ld\n", t[n / 2], t[0], maxrss);
    free(t);
    return 0;
}
