/* elf.h -- what a plugin file is, read from its bytes without loading it.
 *
 * `tillpipe plugin info FILE.so` must describe a file without running its
 * constructors, which dlopen would.  This reads the ELF headers with pread:
 * every offset and size is checked against the file's size before it is
 * used, at most a few KiB are held at a time, nothing is mapped or
 * executed, nothing is allocated.  Only 64-bit little-endian objects are
 * read in full; anything else is refused with a message saying what it is.
 *
 * Where each field comes from: the ELF header (class, type, machine); the
 * program headers (PT_DYNAMIC, PT_INTERP, PT_NOTE, and PT_LOAD to turn the
 * dynamic section's addresses into file offsets); the dynamic entries
 * (DT_NEEDED, DT_SONAME, DT_INIT, DT_INIT_ARRAYSZ, DT_TEXTREL, DT_RPATH,
 * DT_RUNPATH, DT_FLAGS_1); the dynamic symbol table from the section headers
 * (SHT_DYNSYM and its sh_link string table), or -- when the file has no
 * section headers -- from DT_SYMTAB, sized by DT_HASH or DT_GNU_HASH.
 */
#ifndef TP_ELF_H
#define TP_ELF_H

#include <stddef.h>

#include "core/error.h"

#define TP_ELF_NEEDED_MAX 16 /* DT_NEEDED names kept */
#define TP_ELF_NAME_MAX 64   /* bytes of a kept name, NUL included (longer ones cut) */

typedef struct tp_elf_info {
    int is_elf;        /* starts with \x7fELF */
    int is_64;         /* ELFCLASS64 */
    int is_shared;     /* ET_DYN: a shared object (or a PIE executable, see is_pie) */
    int is_pie;        /* an executable: has PT_INTERP or DF_1_PIE -- not a plugin */
    int machine_ok;    /* e_machine is this host's (x86-64 on x86-64, AArch64 on arm64) */
    char machine[24];  /* "x86-64", "AArch64", ..., or "machine 0x%x" */
    int exports_entry; /* .dynsym defines a global/weak, default-visibility FUNC
                          "tp_plugin_entry" */
    size_t nexports;   /* defined global/weak default-visibility symbols in .dynsym
                          (a plugin built with -fvisibility=hidden exports 1) */
    size_t nneeded;    /* DT_NEEDED names in needed[] (at most TP_ELF_NEEDED_MAX) */
    int needed_more;   /* 1 when the file names more than TP_ELF_NEEDED_MAX */
    char needed[TP_ELF_NEEDED_MAX][TP_ELF_NAME_MAX]; /* "libc.so.6", ... in file order */
    int has_init;                                    /* DT_INIT present: a function dlopen runs */
    size_t ninit_array;           /* DT_INIT_ARRAYSZ / 8: constructors dlopen runs (compilers add
                                     frame_dummy, so an ordinary plugin already has 1 or more) */
    int has_textrel;              /* DT_TEXTREL or DF_TEXTREL: code patched at load */
    int has_rpath;                /* DT_RPATH or DT_RUNPATH: libraries looked up in its own paths */
    char build_id[41];            /* NT_GNU_BUILD_ID as hex (first 20 bytes), "" if none */
    char soname[TP_ELF_NAME_MAX]; /* DT_SONAME, "" if none */
} tp_elf_info;

/* Inspect the file open on fd (read with pread from offset 0; the file
 * position is not used or moved).  Returns 0 with *out filled, or
 * TP_EPLUGIN with err saying why: not a regular file, empty, not an ELF
 * file, 32-bit, big-endian, not a shared object (an executable, an object
 * file, a core dump), truncated, corrupt headers; TP_EIO when reading
 * fails.  On failure *out still holds what was learned before the problem
 * (is_elf, is_64, machine...).  err does not name the file: callers add it
 * (tp_elf_inspect does). */
int tp_elf_inspect_fd(int fd, tp_elf_info *out, tp_error *err);

/* tp_elf_inspect_fd on the file at path, opened read-only; err starts with
 * the path.  TP_ENOTFOUND when it does not exist, TP_EIO when it cannot be
 * opened. */
int tp_elf_inspect(const char *path, tp_elf_info *out, tp_error *err);

#endif
