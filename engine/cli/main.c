/* main.c -- the tillpipe command: dispatch to a subcommand. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <tillpipe/sdk.h>

#include "cli.h"
#include "pipeline/sandbox.h"

#ifndef TP_VERSION
#define TP_VERSION "0.0.0"
#endif

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", tp__cmd_run, "parse and combine a folder of reports into records"},
    {"parse", tp__cmd_parse, "parse one report file with its plugin (JSON lines)"},
    {"plugin", tp__cmd_plugin, "list plugins, or show why one cannot load"},
    {"config", tp__cmd_config, "show the branch configuration, or check one against the plugins"},
    {"gen", tp__cmd_gen, "write generated report folders (tests, benchmarks, demos)"},
    {"migrate", tp__cmd_migrate, "create or upgrade the database schema"},
    {"branch", tp__cmd_branch, "import or list branches in the database"},
    {"enqueue", tp__cmd_enqueue, "queue terminal-day jobs (one, or a date range)"},
    {"jobs", tp__cmd_jobs, "list jobs"},
    {"job", tp__cmd_job, "show one job (attempts, files, quality), or --cancel it"},
    {"worker", tp__cmd_worker, "run queued jobs into the database"},
    {"reparse", tp__cmd_reparse, "queue terminal-days to run again from their stored raw files"},
    {"serve", tp__cmd_serve, "the HTTP API (and workers in the same process)"},
    {"store", tp__cmd_store, "verify the raw-file store against the database (and --repair)"},
    {"user", tp__cmd_user, "add a user of the HTTP API (password from standard input)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tillpipe <command> [options]   (tillpipe <command> --help)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  version  print the version and plugin ABI\n");
}

int main(int argc, char **argv)
{
    /* Each terminal-day builds and frees lookups of a few MB.  Keep freed
     * memory in the heap instead of returning it to the kernel every time:
     * page faults, not parsing, were the largest cost (docs/architecture.md,
     * "Memory").  Peak memory is unchanged. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 16 << 20);
    if (argc < 2) {
        usage(stderr);
        return TP_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "__plugin-host") == 0) /* a plugin helper (pipeline/sandbox.h) */
        return tp_sandbox_helper_main(3);
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return TP_EXIT_OK;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf("tillpipe %s (plugin ABI %d.%d)\n", TP_VERSION, TP_SDK_ABI_MAJOR, TP_SDK_ABI_MINOR);
        return TP_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tillpipe: unknown command \"%s\"\n", name);
    usage(stderr);
    return TP_EXIT_USAGE;
}
