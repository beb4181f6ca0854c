/* csv.c -- the engine's copy of the SDK's header-only CSV reader. */
#define TP_CSV_IMPLEMENTATION
#include <tillpipe/csv.h>
