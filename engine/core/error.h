/* error.h -- tillpipe's error codes and the caller-owned error struct.
 *
 * Functions return 0 (TP_OK) or a negative TP_E* code, or a pointer that is
 * NULL on failure; details go into a caller-owned tp_error, which may be NULL
 * when the caller does not want them.  Codes are append-only: never renumber
 * or remove one.
 */
#ifndef TP_ERROR_H
#define TP_ERROR_H

#include <stddef.h>

enum {
    TP_OK = 0,
    TP_ENOMEM = -1,      /* out of memory */
    TP_EIO = -2,         /* reading or writing a file failed */
    TP_EINVAL = -3,      /* bad argument or bad input */
    TP_ECONFIG = -4,     /* invalid configuration */
    TP_EPLUGIN = -5,     /* a plugin could not be loaded or failed */
    TP_ENOTFOUND = -6,   /* a file, branch, type or plugin does not exist */
    TP_EPARSE = -7,      /* input could not be parsed */
    TP_EUSAGE = -8,      /* bad command line */
    TP_ESTOP = -9,       /* stopped on request */
    TP_ELIMIT = -10,     /* a size or count limit was exceeded */
    TP_EDB = -11,        /* the database refused or could not be reached */
    TP_ELOST = -12,      /* a job's lease was lost: another attempt owns it now */
    TP_ECANCELLED = -13, /* the job was cancelled */
    TP_ECRASHED = -14,   /* a sandboxed plugin crashed, hung, exceeded a limit or exited */
    TP_ECORRUPT = -15    /* stored bytes do not match the checksum that names them */
};

typedef struct tp_error {
    int code;       /* TP_E* of the failure, TP_OK when none */
    char msg[1024]; /* one line, no trailing newline */
} tp_error;

/* Record `code` and a printf-style message in `err` (which may be NULL);
 * returns `code` so callers can `return tp_error_set(...)`. */
int tp_error_set(tp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the message already in `err` with more context ("file.csv: ..."). */
int tp_error_prefix(tp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short static description of a TP_E* code. */
const char *tp_strerror(int code);

#endif
