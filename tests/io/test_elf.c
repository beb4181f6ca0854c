/* test_elf.c -- unit tests of engine/io/elf: plugin files described from
 * their bytes, never loaded -- the bundled plugins, a plugin with a
 * constructor of its own (which must not run), the tillpipe binary, files
 * that are not plugins, truncated, patched and fuzzed copies. */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/elf.h"
#include "testutil.h"

#define PLAIN TP_TEST_PLUGIN_DIR "/rd5900.so"
#define CTOR TP_TEST_ELF_DIR "/ctor.so"
#define CTOR_SYSV TP_TEST_ELF_DIR "/ctor_sysv.so"

/* ------------------------------------------------------------- helpers */

typedef struct blob {
    unsigned char *b;
    size_t n;
} blob;

static blob load(const char *path)
{
    blob f = {0};
    f.b = (unsigned char *)tu_read(path, &f.n);
    ck_assert_msg(f.b != NULL, "cannot read %s", path);
    ck_assert_uint_gt(f.n, sizeof(Elf64_Ehdr));
    return f;
}

static Elf64_Ehdr ehdr(const blob *f)
{
    Elf64_Ehdr h;
    memcpy(&h, f->b, sizeof h);
    return h;
}

/* A file of its own holding n bytes (memfd: nothing left on disk). */
static int bytes_fd(const void *b, size_t n)
{
    int fd = memfd_create("elf", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, b, n, 0), (ssize_t)n);
    return fd;
}

/* Inspect n bytes; returns the code, *out and *err filled. */
static int inspect_bytes(const void *b, size_t n, tp_elf_info *out, tp_error *err)
{
    int fd = bytes_fd(b, n);
    int rc = tp_elf_inspect_fd(fd, out, err);
    close(fd);
    return rc;
}

/* The code is TP_EPLUGIN and the message holds `want`. */
static void refused(const void *b, size_t n, const char *want, tp_elf_info *out)
{
    tp_error err = {0};
    int rc = inspect_bytes(b, n, out, &err);
    ck_assert_msg(rc == TP_EPLUGIN, "rc %d (%s), expected a refusal saying \"%s\"", rc, err.msg,
                  want);
    ck_assert_msg(strstr(err.msg, want) != NULL, "\"%s\" does not say \"%s\"", err.msg, want);
}

/* The file offset of the first dynamic entry tagged `tag`, or 0. */
static size_t dyn_find(const blob *f, int64_t tag)
{
    Elf64_Ehdr h = ehdr(f);
    for (size_t i = 0; i < h.e_phnum; i++) {
        Elf64_Phdr p;
        memcpy(&p, f->b + h.e_phoff + i * sizeof p, sizeof p);
        if (p.p_type != PT_DYNAMIC)
            continue;
        for (size_t at = p.p_offset; at + sizeof(Elf64_Dyn) <= p.p_offset + p.p_filesz;
             at += sizeof(Elf64_Dyn)) {
            Elf64_Dyn d;
            memcpy(&d, f->b + at, sizeof d);
            if (d.d_tag == tag)
                return at;
            if (d.d_tag == DT_NULL)
                return 0;
        }
    }
    return 0;
}

/* The file offset of the first section header of type `type`, or 0. */
static size_t shdr_find(const blob *f, uint32_t type)
{
    Elf64_Ehdr h = ehdr(f);
    for (size_t i = 1; i < h.e_shnum; i++) {
        Elf64_Shdr sh;
        memcpy(&sh, f->b + h.e_shoff + i * sizeof sh, sizeof sh);
        if (sh.sh_type == type)
            return h.e_shoff + i * sizeof sh;
    }
    return 0;
}

/* Set the `size` bytes at f->b + off to the little-endian value v. */
static void poke(blob *f, size_t off, uint64_t v, size_t size)
{
    ck_assert_uint_le(off + size, f->n);
    memcpy(f->b + off, &v, size);
}

/* A copy of f with the bytes at off set to v. */
static blob patched(const blob *f, size_t off, uint64_t v, size_t size)
{
    blob c = {malloc(f->n), f->n};
    ck_assert_ptr_nonnull(c.b);
    memcpy(c.b, f->b, f->n);
    poke(&c, off, v, size);
    return c;
}

/* Refused, saying `want`, once the bytes at off are set to v. */
static void refused_patched(const blob *f, size_t off, uint64_t v, size_t size, const char *want)
{
    blob c = patched(f, off, v, size);
    tp_elf_info in;
    refused(c.b, c.n, want, &in);
    free(c.b);
}

static int has_needed(const tp_elf_info *in, const char *name)
{
    for (size_t i = 0; i < in->nneeded; i++)
        if (strcmp(in->needed[i], name) == 0)
            return 1;
    return 0;
}

static tp_elf_info inspect_ok(const char *path)
{
    tp_elf_info in;
    tp_error err = {0};
    ck_assert_msg(tp_elf_inspect(path, &in, &err) == 0, "%s", err.msg);
    return in;
}

/* ------------------------------------------------------------- plugins */

START_TEST(bundled_plugin_described)
{
    tp_elf_info in = inspect_ok(PLAIN);
    ck_assert(in.is_elf && in.is_64 && in.is_shared);
    ck_assert_int_eq(in.is_pie, 0);
    ck_assert_int_eq(in.machine_ok, 1);
#if defined(__x86_64__)
    ck_assert_str_eq(in.machine, "x86-64");
#elif defined(__aarch64__)
    ck_assert_str_eq(in.machine, "AArch64");
#endif
    ck_assert_int_eq(in.exports_entry, 1);
    ck_assert_uint_eq(in.nexports, 1);
    ck_assert_msg(has_needed(&in, "libc.so.6"), "libc.so.6 not among %zu needed", in.nneeded);
    ck_assert_int_eq(in.needed_more, 0);
    ck_assert_int_eq(in.has_textrel, 0);
    ck_assert_int_eq(in.has_rpath, 0);
    ck_assert_uint_ge(in.ninit_array, 1); /* frame_dummy */
    ck_assert_str_eq(in.soname, "");      /* CMake gives a MODULE no soname */
    if (in.build_id[0]) {                 /* the linker's default; not every toolchain's */
        ck_assert_uint_eq(strlen(in.build_id), 40);
        ck_assert_uint_eq(strspn(in.build_id, "0123456789abcdef"), 40);
    }
}
END_TEST

/* Every plugin tillpipe ships exports its entry and nothing else. */
START_TEST(every_bundled_plugin_exports_one_entry)
{
    DIR *d = opendir(TP_TEST_PLUGIN_DIR);
    ck_assert_ptr_nonnull(d);
    int seen = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", TP_TEST_PLUGIN_DIR, e->d_name);
        tp_elf_info in = inspect_ok(path);
        ck_assert_msg(in.exports_entry && in.nexports == 1 && in.machine_ok && !in.is_pie,
                      "%s: entry %d, %zu exports, machine %s", e->d_name, in.exports_entry,
                      in.nexports, in.machine);
        seen++;
    }
    closedir(d);
    ck_assert_int_ge(seen, 7);
}
END_TEST

/* The fixture's constructor is counted, and inspecting does not run it --
 * while loading it does (so the check above is not vacuous). */
START_TEST(constructor_counted_never_run)
{
    unlink(TP_TEST_CTOR_MARK);
    tp_elf_info plain = inspect_ok(PLAIN), ctor = inspect_ok(CTOR);
    ck_assert_int_eq(ctor.exports_entry, 1);
    ck_assert_uint_eq(ctor.nexports, 1);
    ck_assert_uint_gt(ctor.ninit_array, plain.ninit_array);
    ck_assert_int_eq(access(TP_TEST_CTOR_MARK, F_OK), -1);
    ck_assert_int_eq(errno, ENOENT);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) { /* a child loads it: the constructor runs there */
        void *h = dlopen(CTOR, RTLD_NOW | RTLD_LOCAL);
        _exit(h ? 0 : 1);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(access(TP_TEST_CTOR_MARK, F_OK), 0);
    unlink(TP_TEST_CTOR_MARK);
}
END_TEST

/* A PIE executable is ET_DYN too: it says so, and exports no entry. */
START_TEST(binary_is_pie_without_entry)
{
    tp_elf_info in = inspect_ok(TP_TEST_BIN);
    ck_assert(in.is_elf && in.is_64 && in.is_shared && in.is_pie);
    ck_assert_int_eq(in.exports_entry, 0);
    ck_assert_int_eq(in.machine_ok, 1);
    ck_assert(has_needed(&in, "libc.so.6"));
    ck_assert_uint_ge(in.nneeded, 5); /* jansson, curl, libpq, ... */
}
END_TEST

/* --------------------------------------------------------- not plugins */

START_TEST(not_elf_refused)
{
    tp_elf_info in;
    refused("hello, world\n", 13, "not an ELF file", &in);
    ck_assert_int_eq(in.is_elf, 0);
    refused("", 0, "empty file", &in);
    refused("\x7f"
            "EL",
            3, "not an ELF file", &in);
    refused("\x7f"
            "ELF",
            4, "truncated", &in);
    ck_assert_int_eq(in.is_elf, 1);
    tp_error err = {0};
    int fd = open(TP_TEST_SOURCE_DIR, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(tp_elf_inspect_fd(fd, &in, &err), TP_EPLUGIN);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
    close(fd);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1],
                           "\x7f"
                           "ELF",
                           4),
                     4);
    ck_assert_int_eq(tp_elf_inspect_fd(p[0], &in, &err), TP_EPLUGIN);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
    close(p[0]);
    close(p[1]);
}
END_TEST

/* By path: the message starts with the path; a missing file is
 * TP_ENOTFOUND; a FIFO is refused without blocking. */
START_TEST(by_path_names_the_file)
{
    char *dir = tu_tmpdir();
    char *txt = tu_write(dir, "notes.so", "not a plugin\n");
    tp_elf_info in;
    tp_error err = {0};
    ck_assert_int_eq(tp_elf_inspect(txt, &in, &err), TP_EPLUGIN);
    ck_assert_msg(strncmp(err.msg, txt, strlen(txt)) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, ": not an ELF file"));
    char missing[4096], fifo[4096];
    snprintf(missing, sizeof missing, "%s/missing.so", dir);
    ck_assert_int_eq(tp_elf_inspect(missing, &in, &err), TP_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, missing));
    snprintf(fifo, sizeof fifo, "%s/fifo.so", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(tp_elf_inspect(fifo, &in, &err), TP_EPLUGIN);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
    free(txt);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* Cut copies: whatever part is missing, the file is called truncated. */
START_TEST(truncated_copies_refused)
{
    blob f = load(PLAIN);
    static const size_t cuts[] = {16, 20, 63, 100, 600, 4000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        tp_elf_info in;
        refused(f.b, cuts[i], "truncated", &in);
        ck_assert_int_eq(in.is_elf, 1);
        ck_assert_int_eq(in.is_64, 1);
    }
    tp_elf_info in; /* the section headers are at the end */
    refused(f.b, f.n - 1, "truncated", &in);
    free(f.b);
}
END_TEST

/* Patched headers: another class, byte order or file type. */
START_TEST(other_kinds_refused)
{
    blob f = load(PLAIN);
    tp_elf_info in;
    blob c = patched(&f, EI_CLASS, ELFCLASS32, 1);
    refused(c.b, c.n, "32-bit", &in);
    ck_assert(in.is_elf && !in.is_64);
    ck_assert_str_ne(in.machine, ""); /* what was learned is kept */
    free(c.b);
    refused_patched(&f, EI_CLASS, 7, 1, "corrupt");
    refused_patched(&f, EI_DATA, ELFDATA2MSB, 1, "big-endian");
    refused_patched(&f, EI_DATA, 0, 1, "corrupt");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_type), ET_REL, 2, "an object file (ET_REL)");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_type), ET_EXEC, 2, "an executable (ET_EXEC)");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_type), ET_CORE, 2, "a core dump");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_type), 0x1234, 2, "unknown ELF file type");
    /* another machine is described, not refused: the caller decides */
    c = patched(&f, offsetof(Elf64_Ehdr, e_machine), EM_386, 2);
    tp_error err = {0};
    ck_assert_int_eq(inspect_bytes(c.b, c.n, &in, &err), 0);
    ck_assert_str_eq(in.machine, "i386");
    ck_assert_int_eq(in.machine_ok, 0);
    free(c.b);
    free(f.b);
}
END_TEST

/* Patched headers pointing nowhere or counting nonsense. */
START_TEST(corrupt_headers_refused)
{
    blob f = load(PLAIN);
    refused_patched(&f, offsetof(Elf64_Ehdr, e_phnum), 0, 2, "no program headers");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_phnum), 0xffff, 2, "corrupt");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_phentsize), 32, 2, "corrupt");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX - 8, 8, "truncated");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_shoff), f.n, 8, "truncated");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_shoff), UINT64_MAX / 2, 8, "truncated");
    refused_patched(&f, offsetof(Elf64_Ehdr, e_shentsize), 40, 2, "corrupt");
    size_t at = dyn_find(&f, DT_STRTAB);
    ck_assert_uint_gt(at, 0);
    refused_patched(&f, at + 8, 0x7fff0000, 8, "in no loaded segment");
    at = dyn_find(&f, DT_STRSZ);
    ck_assert_uint_gt(at, 0);
    refused_patched(&f, at + 8, UINT64_MAX, 8, "corrupt");
    at = dyn_find(&f, DT_NEEDED);
    ck_assert_uint_gt(at, 0);
    refused_patched(&f, at + 8, 0xffffff, 8, "past the end of the dynamic string table");
    at = shdr_find(&f, SHT_DYNSYM);
    ck_assert_uint_gt(at, 0);
    refused_patched(&f, at + offsetof(Elf64_Shdr, sh_entsize), 0, 8, "entry size");
    refused_patched(&f, at + offsetof(Elf64_Shdr, sh_link), 0, 4, "string table");
    refused_patched(&f, at + offsetof(Elf64_Shdr, sh_size), UINT64_MAX / 2, 8, "truncated");
    free(f.b);
}
END_TEST

/* ------------------------------------------------- no section headers */

/* Without section headers the symbols come from DT_SYMTAB, sized by the
 * GNU hash table (ctor.so) or the SysV one (ctor_sysv.so): same answers. */
START_TEST(no_section_headers_same_answers)
{
    const char *paths[] = {PLAIN, CTOR, CTOR_SYSV};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        blob f = load(paths[i]);
        tp_elf_info want = inspect_ok(paths[i]), got;
        blob c = patched(&f, offsetof(Elf64_Ehdr, e_shoff), 0, 8);
        poke(&c, offsetof(Elf64_Ehdr, e_shnum), 0, 2);
        poke(&c, offsetof(Elf64_Ehdr, e_shstrndx), 0, 2);
        tp_error err = {0};
        ck_assert_msg(inspect_bytes(c.b, c.n, &got, &err) == 0, "%s: %s", paths[i], err.msg);
        ck_assert_int_eq(got.exports_entry, 1);
        ck_assert_uint_eq(got.nexports, want.nexports);
        ck_assert_uint_eq(got.nneeded, want.nneeded);
        ck_assert_str_eq(got.needed[0], want.needed[0]);
        ck_assert_str_eq(got.build_id, want.build_id);
        ck_assert_uint_eq(got.ninit_array, want.ninit_array);
        free(c.b);
        free(f.b);
    }
    blob sysv = load(CTOR_SYSV); /* the fixture has the table it is meant to test */
    ck_assert_uint_gt(dyn_find(&sysv, DT_HASH), 0);
    ck_assert_uint_eq(dyn_find(&sysv, DT_GNU_HASH), 0);
    free(sysv.b);
    blob gnu = load(CTOR);
    ck_assert_uint_gt(dyn_find(&gnu, DT_GNU_HASH), 0);
    ck_assert_uint_eq(dyn_find(&gnu, DT_HASH), 0);
    free(gnu.b);
}
END_TEST

/* --------------------------------------------------------------- fuzz */

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Whatever came out of a damaged file is bounded and terminated. */
static void check_sane(const tp_elf_info *in)
{
    ck_assert_uint_le(in->nneeded, TP_ELF_NEEDED_MAX);
    for (size_t i = 0; i < in->nneeded; i++)
        ck_assert_uint_lt(strnlen(in->needed[i], TP_ELF_NAME_MAX), TP_ELF_NAME_MAX);
    ck_assert_uint_lt(strnlen(in->soname, TP_ELF_NAME_MAX), TP_ELF_NAME_MAX);
    ck_assert_uint_le(strnlen(in->build_id, sizeof in->build_id), 40);
    ck_assert_uint_lt(strnlen(in->machine, sizeof in->machine), sizeof in->machine);
}

/* An offset where a flip matters: the first 4 KiB (headers, notes, hash
 * tables, symbols, names), the dynamic section, the section headers, or
 * anywhere. */
static size_t fuzz_offset(const blob *f, uint64_t r)
{
    Elf64_Ehdr h = ehdr(f);
    size_t dyn = dyn_find(f, DT_NEEDED), shoff = h.e_shoff < f->n ? h.e_shoff : 0;
    switch (r % 4) {
    case 0: return (r >> 8) % (f->n < 4096 ? f->n : 4096);
    case 1: return dyn + (r >> 8) % 400;
    case 2: return shoff + (r >> 8) % (f->n - shoff);
    default: return (r >> 8) % f->n;
    }
}

/* One damaged copy of src: 1 to 8 bytes changed, or (cut) cut short.
 * Returns the inspection's code, which must be 0 or TP_EPLUGIN. */
static int fuzz_one(const blob *src, unsigned char *buf, uint64_t *seed, int cut)
{
    memcpy(buf, src->b, src->n);
    size_t n = src->n;
    if (cut)
        n = next_rand(seed) % src->n;
    else
        for (uint64_t k = 1 + next_rand(seed) % 8; k > 0; k--)
            buf[fuzz_offset(src, next_rand(seed)) % n] ^= 1 + next_rand(seed) % 255;
    tp_elf_info in;
    tp_error err = {0};
    int rc = inspect_bytes(buf, n, &in, &err);
    ck_assert_msg(rc == 0 || rc == TP_EPLUGIN, "rc %d: %s", rc, err.msg);
    check_sane(&in);
    return rc;
}

/* A few hundred copies of a plugin, with and without its section headers,
 * with random bytes changed, then random cuts: each is either inspected (0)
 * or refused (TP_EPLUGIN); never a crash, never an overrun (the ASan build
 * runs this too).  The seed is fixed: a failure reproduces. */
START_TEST(fuzzed_copies_never_crash)
{
    blob f[2] = {load(CTOR), {0}};
    f[1] = patched(&f[0], offsetof(Elf64_Ehdr, e_shoff), 0, 8);
    poke(&f[1], offsetof(Elf64_Ehdr, e_shnum), 0, 2);
    unsigned char *buf = malloc(f[0].n);
    ck_assert_ptr_nonnull(buf);
    uint64_t seed = 0x5eed0f7111e5ull;
    int ok[2] = {0, 0}, refusals[2] = {0, 0};
    for (int iter = 0; iter < 800; iter++) {
        int which = iter % 2, rc = fuzz_one(&f[which], buf, &seed, iter >= 600);
        ok[which] += rc == 0;
        refusals[which] += rc != 0;
    }
    for (int i = 0; i < 2; i++) {
        ck_assert_int_gt(ok[i], 50);       /* the flips reach past the first checks... */
        ck_assert_int_gt(refusals[i], 50); /* ...and are caught */
    }
    free(buf);
    free(f[0].b);
    free(f[1].b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("elf");
    TCase *t = tcase_create("elf");
    tcase_add_test(t, bundled_plugin_described);
    tcase_add_test(t, every_bundled_plugin_exports_one_entry);
    tcase_add_test(t, constructor_counted_never_run);
    tcase_add_test(t, binary_is_pie_without_entry);
    tcase_add_test(t, not_elf_refused);
    tcase_add_test(t, by_path_names_the_file);
    tcase_add_test(t, truncated_copies_refused);
    tcase_add_test(t, other_kinds_refused);
    tcase_add_test(t, corrupt_headers_refused);
    tcase_add_test(t, no_section_headers_same_answers);
    tcase_add_test(t, fuzzed_copies_never_crash);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return tu_run_suite(suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
