/* fake_mhd.h -- a stand-in for a libmicrohttpd connection, for harnesses
 * that call what tillpipe calls on one (the post processor, tp_body_object,
 * tp_query) without a socket.  The harness defines the library's two
 * lookup functions (fake_mhd.c), so that its own calls and libmicrohttpd's
 * internal ones (through the PLT: link with -rdynamic) read a tp_fuzz_conn:
 * a Content-Type header and query arguments. */
#ifndef TP_FAKE_MHD_H
#define TP_FAKE_MHD_H

#include <microhttpd.h>

typedef struct tp_fuzz_conn {
    const char *content_type; /* the Content-Type header, or NULL */
    const char *arg_key[4];   /* GET arguments */
    const char *arg_val[4];
    int nargs;
} tp_fuzz_conn;

#define TP_FUZZ_MHD_CONN(fc) ((struct MHD_Connection *)(void *)(fc))

#endif
