/* elf.c -- see elf.h.  Every read goes through rd(), which refuses any
 * range that does not lie inside the file; counts taken from the file are
 * bounded by what the file can hold before anything is looped over. */
#include "elf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#elif defined(__s390x__)
#define HOST_MACHINE EM_S390
#else
#define HOST_MACHINE EM_NONE /* no machine matches */
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "elf.c reads little-endian ELF files with the host's byte order"
#endif

#define PHDR_MAX 64         /* program headers accepted (real objects have ~10) */
#define SHDR_MAX (1u << 20) /* section headers accepted */
#define SYM_CHUNK 64        /* symbols read at a time */
#define WORD_CHUNK 256      /* hash-table words read at a time */

static const char redo[] = "rebuild the plugin or copy it again";

typedef struct elf_ctx {
    int fd;
    uint64_t size; /* bytes in the file */
    tp_error *err;
    tp_elf_info *out;
    Elf64_Ehdr eh;
    Elf64_Phdr ph[PHDR_MAX];
    size_t nph;
    /* from the dynamic section */
    uint64_t strtab, strsz, symtab, syment, hash, gnu_hash; /* addresses; 0 = absent */
    uint64_t needed[TP_ELF_NEEDED_MAX], soname;             /* offsets into strtab */
    int has_soname;
    uint64_t str_off; /* file offset of the dynamic string table */
} elf_ctx;

/* ---------------------------------------------------------------- reads */

static int corrupt(elf_ctx *c, const char *what)
{
    return tp_error_set(c->err, TP_EPLUGIN, "corrupt ELF headers: %s; %s", what, redo);
}

/* 1 when [off, off+len) lies inside the file. */
static int inside(const elf_ctx *c, uint64_t off, uint64_t len)
{
    return off <= c->size && len <= c->size - off;
}

static int beyond_end(elf_ctx *c, const char *what, uint64_t off, uint64_t len)
{
    return tp_error_set(c->err, TP_EPLUGIN,
                        "truncated or corrupt ELF file: %s (offset %" PRIu64 ", %" PRIu64
                        " bytes) lies beyond the end of the file (%" PRIu64 " bytes); %s",
                        what, off, len, c->size, redo);
}

/* Read exactly len bytes at off, which must lie inside the file. */
static int rd(elf_ctx *c, uint64_t off, void *buf, size_t len, const char *what)
{
    if (!inside(c, off, len))
        return beyond_end(c, what, off, len);
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(c->fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return tp_error_set(c->err, TP_EIO, "reading the ELF file's %s failed: %s", what,
                                n < 0 ? strerror(errno) : "the file became shorter");
        got += (size_t)n;
    }
    return 0;
}

/* The file offset of the `len` bytes at virtual address addr, through the
 * PT_LOAD segment holding them in the file. */
static int addr_to_off(elf_ctx *c, uint64_t addr, uint64_t len, const char *what, uint64_t *off)
{
    for (size_t i = 0; i < c->nph; i++) {
        const Elf64_Phdr *p = &c->ph[i];
        if (p->p_type != PT_LOAD || addr < p->p_vaddr || addr - p->p_vaddr >= p->p_filesz)
            continue;
        uint64_t rel = addr - p->p_vaddr;
        if (len > p->p_filesz - rel)
            continue;
        *off = p->p_offset + rel;
        if (*off < p->p_offset || !inside(c, *off, len))
            return beyond_end(c, what, *off, len);
        return 0;
    }
    char msg[160];
    snprintf(msg, sizeof msg,
             "%s (address 0x%" PRIx64 ", %" PRIu64 " bytes) is in no loaded segment", what, addr,
             len);
    return corrupt(c, msg);
}

/* The NUL-terminated string at offset `at` of the dynamic string table,
 * cut to fit dst. */
static int read_str(elf_ctx *c, uint64_t at, char *dst, size_t size, const char *what)
{
    if (at >= c->strsz)
        return corrupt(c, "a name's offset is past the end of the dynamic string table");
    size_t n = size - 1;
    if (n > c->strsz - at)
        n = (size_t)(c->strsz - at);
    int rc = rd(c, c->str_off + at, dst, n, what);
    if (rc < 0)
        return rc;
    dst[n] = '\0';
    return 0;
}

/* ------------------------------------------------------------ the header */

static void set_machine(tp_elf_info *out, unsigned m)
{
    static const struct {
        unsigned em;
        const char *name;
    } names[] = {{EM_X86_64, "x86-64"},   {EM_AARCH64, "AArch64"}, {EM_386, "i386"},
                 {EM_ARM, "ARM"},         {EM_RISCV, "RISC-V"},    {EM_PPC64, "PowerPC64"},
                 {EM_PPC, "PowerPC"},     {EM_S390, "s390"},       {EM_MIPS, "MIPS"},
                 {EM_SPARCV9, "SPARC V9"}};
    snprintf(out->machine, sizeof out->machine, "machine 0x%x", m);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].em == m)
            snprintf(out->machine, sizeof out->machine, "%s", names[i].name);
    out->machine_ok = HOST_MACHINE != EM_NONE && m == HOST_MACHINE;
}

/* The identification bytes: ELF at all, 64-bit, little-endian. */
static int check_ident(elf_ctx *c)
{
    unsigned char id[EI_NIDENT + 4] = {0}; /* e_ident, e_type, e_machine */
    size_t n = c->size < sizeof id ? (size_t)c->size : sizeof id;
    if (n == 0)
        return tp_error_set(c->err, TP_EPLUGIN,
                            "empty file, not a plugin: a plugin is a shared object (.so)");
    int rc = rd(c, 0, id, n, "identification");
    if (rc < 0)
        return rc;
    if (n < SELFMAG || memcmp(id, ELFMAG, SELFMAG) != 0)
        return tp_error_set(c->err, TP_EPLUGIN,
                            "not an ELF file (it does not start with \\x7fELF): a plugin is a "
                            "shared object (.so) built against the SDK");
    c->out->is_elf = 1;
    int msb = id[EI_DATA] == ELFDATA2MSB;
    if (n == sizeof id)
        set_machine(c->out, msb ? (unsigned)id[18] << 8 | id[19] : (unsigned)id[19] << 8 | id[18]);
    if (n < EI_NIDENT)
        return beyond_end(c, "the identification bytes", 0, EI_NIDENT);
    if (id[EI_CLASS] == ELFCLASS32)
        return tp_error_set(c->err, TP_EPLUGIN,
                            "a 32-bit ELF file (%s): tillpipe loads 64-bit plugins only; build "
                            "it for this host",
                            c->out->machine);
    if (id[EI_CLASS] != ELFCLASS64)
        return corrupt(c, "unknown ELF class (neither 32- nor 64-bit)");
    c->out->is_64 = 1;
    if (msb)
        return tp_error_set(c->err, TP_EPLUGIN,
                            "a big-endian ELF file (%s): tillpipe reads little-endian plugins "
                            "only; build it for this host",
                            c->out->machine);
    if (id[EI_DATA] != ELFDATA2LSB || id[EI_VERSION] != EV_CURRENT)
        return corrupt(c, "unknown byte order or ELF version");
    return 0;
}

static int check_type(elf_ctx *c)
{
    const char *what = NULL;
    switch (c->eh.e_type) {
    case ET_DYN: c->out->is_shared = 1; return 0;
    case ET_EXEC: what = "an executable (ET_EXEC)"; break;
    case ET_REL: what = "an object file (ET_REL): link it with -shared"; break;
    case ET_CORE: what = "a core dump (ET_CORE)"; break;
    default: return corrupt(c, "unknown ELF file type");
    }
    return tp_error_set(c->err, TP_EPLUGIN, "not a shared object but %s; a plugin is a .so", what);
}

static int read_header(elf_ctx *c)
{
    int rc = check_ident(c);
    if (rc < 0)
        return rc;
    if ((rc = rd(c, 0, &c->eh, sizeof c->eh, "ELF header")) < 0 || (rc = check_type(c)) < 0)
        return rc;
    const Elf64_Ehdr *h = &c->eh;
    if (h->e_phnum == 0)
        return tp_error_set(c->err, TP_EPLUGIN,
                            "no program headers: not a shared object that can be loaded; %s", redo);
    if (h->e_phentsize != sizeof(Elf64_Phdr) || h->e_phnum > PHDR_MAX)
        return corrupt(c, "program header size or count out of range");
    c->nph = h->e_phnum;
    return rd(c, h->e_phoff, c->ph, c->nph * sizeof c->ph[0], "program headers");
}

/* -------------------------------------------------------- the dynamic part */

static void dyn_entry(elf_ctx *c, const Elf64_Dyn *d)
{
    tp_elf_info *o = c->out;
    uint64_t v = d->d_un.d_val;
    switch (d->d_tag) {
    case DT_NEEDED:
        if (o->nneeded < TP_ELF_NEEDED_MAX)
            c->needed[o->nneeded++] = v;
        else
            o->needed_more = 1;
        break;
    case DT_SONAME: c->soname = v, c->has_soname = 1; break;
    case DT_STRTAB: c->strtab = v; break;
    case DT_STRSZ: c->strsz = v; break;
    case DT_SYMTAB: c->symtab = v; break;
    case DT_SYMENT: c->syment = v; break;
    case DT_HASH: c->hash = v; break;
    case DT_GNU_HASH: c->gnu_hash = v; break;
    case DT_INIT: o->has_init = 1; break;
    case DT_INIT_ARRAYSZ: o->ninit_array = (size_t)(v / sizeof(Elf64_Addr)); break;
    case DT_TEXTREL: o->has_textrel = 1; break;
    case DT_RPATH:
    case DT_RUNPATH: o->has_rpath = 1; break;
    case DT_FLAGS: o->has_textrel |= (v & DF_TEXTREL) != 0; break;
    case DT_FLAGS_1: o->is_pie |= (v & DF_1_PIE) != 0; break;
    default: break;
    }
}

/* Every dynamic entry up to DT_NULL, a chunk at a time. */
static int read_dynamic(elf_ctx *c, const Elf64_Phdr *dyn)
{
    uint64_t count = dyn->p_filesz / sizeof(Elf64_Dyn);
    if (!inside(c, dyn->p_offset, count * sizeof(Elf64_Dyn)))
        return beyond_end(c, "the dynamic section", dyn->p_offset, dyn->p_filesz);
    Elf64_Dyn buf[32];
    for (uint64_t i = 0; i < count;) {
        size_t n = count - i < 32 ? (size_t)(count - i) : 32;
        int rc =
            rd(c, dyn->p_offset + i * sizeof buf[0], buf, n * sizeof buf[0], "dynamic section");
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < n; j++, i++) {
            if (buf[j].d_tag == DT_NULL)
                return 0;
            dyn_entry(c, &buf[j]);
        }
    }
    return corrupt(c, "the dynamic section does not end with DT_NULL");
}

/* DT_NEEDED and DT_SONAME names, once the string table is known. */
static int read_names(elf_ctx *c)
{
    tp_elf_info *o = c->out;
    if (o->nneeded == 0 && !c->has_soname && !c->symtab)
        return 0;
    if (!c->strtab || !c->strsz)
        return corrupt(c, "names without a dynamic string table (DT_STRTAB, DT_STRSZ)");
    int rc = addr_to_off(c, c->strtab, c->strsz, "the dynamic string table", &c->str_off);
    for (size_t i = 0; rc == 0 && i < o->nneeded; i++)
        rc = read_str(c, c->needed[i], o->needed[i], sizeof o->needed[i], "DT_NEEDED name");
    if (rc == 0 && c->has_soname)
        rc = read_str(c, c->soname, o->soname, sizeof o->soname, "DT_SONAME");
    return rc;
}

/* --------------------------------------------------------------- symbols */

static int is_entry_name(elf_ctx *c, uint32_t name, int *yes)
{
    static const char entry[] = "tp_plugin_entry";
    char buf[sizeof entry];
    *yes = 0;
    if (name >= c->strsz)
        return corrupt(c, "a symbol's name is past the end of its string table");
    if (c->strsz - name < sizeof entry)
        return 0;
    int rc = rd(c, c->str_off + name, buf, sizeof buf, "symbol name");
    *yes = rc == 0 && memcmp(buf, entry, sizeof entry) == 0;
    return rc;
}

static int count_symbol(elf_ctx *c, const Elf64_Sym *s)
{
    int bind = ELF64_ST_BIND(s->st_info);
    if ((bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE) ||
        ELF64_ST_VISIBILITY(s->st_other) != STV_DEFAULT || s->st_shndx == SHN_UNDEF ||
        s->st_shndx == SHN_ABS)
        return 0;
    c->out->nexports++;
    int yes = 0, rc = 0;
    if (ELF64_ST_TYPE(s->st_info) == STT_FUNC && !c->out->exports_entry)
        rc = is_entry_name(c, s->st_name, &yes);
    c->out->exports_entry |= yes;
    return rc;
}

/* Symbols 1..count-1 of the table at file offset `off`. */
static int scan_symbols(elf_ctx *c, uint64_t off, uint64_t count)
{
    if (count > c->size / sizeof(Elf64_Sym) || !inside(c, off, count * sizeof(Elf64_Sym)))
        return beyond_end(c, "the dynamic symbol table", off, count * sizeof(Elf64_Sym));
    Elf64_Sym buf[SYM_CHUNK];
    for (uint64_t i = 0; i < count;) {
        size_t n = count - i < SYM_CHUNK ? (size_t)(count - i) : SYM_CHUNK;
        int rc = rd(c, off + i * sizeof buf[0], buf, n * sizeof buf[0], "dynamic symbols");
        for (size_t j = 0; rc == 0 && j < n; j++, i++)
            if (i > 0)
                rc = count_symbol(c, &buf[j]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int read_shdr(elf_ctx *c, uint64_t i, Elf64_Shdr *sh)
{
    return rd(c, c->eh.e_shoff + i * sizeof *sh, sh, sizeof *sh, "section header");
}

/* The SHT_DYNSYM section and its string table.  *found is 0 when the file
 * has no section headers or no such section. */
static int symbols_from_sections(elf_ctx *c, int *found)
{
    *found = 0;
    const Elf64_Ehdr *h = &c->eh;
    if (h->e_shoff == 0)
        return 0;
    if (h->e_shentsize != sizeof(Elf64_Shdr))
        return corrupt(c, "section header size out of range");
    Elf64_Shdr sh;
    int rc = read_shdr(c, 0, &sh);
    uint64_t count = h->e_shnum ? h->e_shnum : sh.sh_size; /* SHN_XINDEX-style count */
    if (rc < 0 || count > SHDR_MAX || !inside(c, h->e_shoff, count * sizeof sh))
        return rc < 0 ? rc : beyond_end(c, "the section headers", h->e_shoff, count * sizeof sh);
    uint64_t i = 1;
    for (; i < count; i++) {
        if ((rc = read_shdr(c, i, &sh)) < 0)
            return rc;
        if (sh.sh_type == SHT_DYNSYM)
            break;
    }
    if (i >= count)
        return 0;
    Elf64_Shdr str;
    if (sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link == 0 || sh.sh_link >= count)
        return corrupt(c, "the dynamic symbol section's entry size or string table link");
    if ((rc = read_shdr(c, sh.sh_link, &str)) < 0)
        return rc;
    if (str.sh_type != SHT_STRTAB || !inside(c, str.sh_offset, str.sh_size))
        return corrupt(c, "the dynamic symbol section's string table");
    c->str_off = str.sh_offset;
    c->strsz = str.sh_size;
    *found = 1;
    return scan_symbols(c, sh.sh_offset, sh.sh_size / sizeof(Elf64_Sym));
}

/* Read words [at, at+n) of a 32-bit hash table at file offset off. */
static int hash_words(elf_ctx *c, uint64_t off, uint64_t at, uint32_t *w, size_t n)
{
    return rd(c, off + at * 4, w, n * sizeof *w, "symbol hash table");
}

/* The number of symbols a DT_GNU_HASH table covers: one past the last
 * chain that ends, starting from the highest bucket's first symbol. */
static int gnu_hash_count(elf_ctx *c, uint64_t off, uint64_t *count)
{
    uint32_t hdr[4], w[WORD_CHUNK]; /* nbuckets, symoffset, bloom words, shift */
    int rc = hash_words(c, off, 0, hdr, 4);
    if (rc < 0)
        return rc;
    uint64_t buckets = 4 + (uint64_t)hdr[2] * 2, last = 0; /* 64-bit bloom words */
    for (uint64_t i = 0; i < hdr[0];) {
        size_t n = hdr[0] - i < WORD_CHUNK ? (size_t)(hdr[0] - i) : WORD_CHUNK;
        if ((rc = hash_words(c, off, buckets + i, w, n)) < 0)
            return rc;
        for (size_t j = 0; j < n; j++, i++)
            last = w[j] > last ? w[j] : last;
    }
    if (last == 0) {
        *count = hdr[1];
        return 0;
    }
    if (last < hdr[1])
        return corrupt(c, "a GNU hash bucket points below its first hashed symbol");
    uint64_t chain = buckets + hdr[0] - hdr[1]; /* word of symbol k: chain + k */
    for (uint64_t k = last; k - last < c->size / 4;) {
        uint64_t pos = off + (chain + k) * 4, left = pos < c->size ? (c->size - pos) / 4 : 1;
        size_t n = left < WORD_CHUNK ? (size_t)(left ? left : 1) : WORD_CHUNK;
        if ((rc = hash_words(c, off, chain + k, w, n)) < 0)
            return rc;
        for (size_t j = 0; j < n; j++, k++)
            if (w[j] & 1) {
                *count = k + 1;
                return 0;
            }
    }
    return corrupt(c, "a GNU hash chain does not end");
}

/* No section headers: the table DT_SYMTAB points at, sized by a hash. */
static int symbols_from_dynamic(elf_ctx *c)
{
    if (!c->symtab)
        return 0;
    if (c->syment && c->syment != sizeof(Elf64_Sym))
        return corrupt(c, "DT_SYMENT is not the size of a symbol");
    uint64_t hoff, count = 0;
    int rc;
    if (c->gnu_hash) {
        rc = addr_to_off(c, c->gnu_hash, 16, "the GNU hash table", &hoff);
        if (rc == 0)
            rc = gnu_hash_count(c, hoff, &count);
    } else if (c->hash) {
        uint32_t w[2]; /* nbucket, nchain: one chain entry per symbol */
        rc = addr_to_off(c, c->hash, 8, "the symbol hash table", &hoff);
        if (rc == 0 && (rc = hash_words(c, hoff, 0, w, 2)) == 0)
            count = w[1];
    } else {
        return corrupt(c, "a dynamic symbol table with no hash table to size it");
    }
    uint64_t off;
    if (rc == 0 && count > 0)
        rc = addr_to_off(c, c->symtab, count * sizeof(Elf64_Sym), "the dynamic symbol table", &off);
    return rc == 0 && count > 0 ? scan_symbols(c, off, count) : rc;
}

/* ---------------------------------------------------------- the build id */

static void hex20(const unsigned char *b, size_t n, char out[41])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n && i < 20; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
        out[2 * i + 2] = '\0';
    }
}

/* NT_GNU_BUILD_ID in one PT_NOTE segment; a malformed note list ends the
 * search quietly (the build id is only informative). */
static int note_build_id(elf_ctx *c, const Elf64_Phdr *p)
{
    uint64_t align = p->p_align == 8 ? 8 : 4, at = 0;
    if (!inside(c, p->p_offset, p->p_filesz))
        return beyond_end(c, "a note segment", p->p_offset, p->p_filesz);
    while (p->p_filesz - at >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        unsigned char buf[20];
        int rc = rd(c, p->p_offset + at, &nh, sizeof nh, "note");
        if (rc < 0)
            return rc;
        uint64_t name = (nh.n_namesz + align - 1) / align * align;
        uint64_t desc = (nh.n_descsz + align - 1) / align * align;
        at += sizeof nh;
        if (name > p->p_filesz - at || desc > p->p_filesz - at - name)
            return 0;
        char gnu[4] = {0};
        int is_id = nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && nh.n_descsz > 0;
        if (is_id && (rc = rd(c, p->p_offset + at, gnu, 4, "note name")) < 0)
            return rc;
        if (is_id && memcmp(gnu, "GNU", 4) == 0) {
            size_t n = nh.n_descsz < sizeof buf ? nh.n_descsz : sizeof buf;
            if ((rc = rd(c, p->p_offset + at + name, buf, n, "build id")) < 0)
                return rc;
            hex20(buf, n, c->out->build_id);
            return 0;
        }
        at += name + desc;
    }
    return 0;
}

/* ------------------------------------------------------------------ all */

static int inspect(elf_ctx *c)
{
    int rc = read_header(c);
    if (rc < 0)
        return rc;
    const Elf64_Phdr *dyn = NULL;
    for (size_t i = 0; i < c->nph && rc == 0; i++) {
        if (c->ph[i].p_type == PT_INTERP)
            c->out->is_pie = 1;
        if (c->ph[i].p_type == PT_DYNAMIC && !dyn)
            dyn = &c->ph[i];
        if (c->ph[i].p_type == PT_NOTE && !c->out->build_id[0])
            rc = note_build_id(c, &c->ph[i]);
    }
    if (rc < 0)
        return rc;
    if (!dyn)
        return tp_error_set(c->err, TP_EPLUGIN,
                            "no dynamic section (PT_DYNAMIC): not a shared object dlopen can "
                            "load; %s",
                            redo);
    if ((rc = read_dynamic(c, dyn)) < 0 || (rc = read_names(c)) < 0)
        return rc;
    int found;
    if ((rc = symbols_from_sections(c, &found)) < 0 || found)
        return rc;
    return symbols_from_dynamic(c);
}

int tp_elf_inspect_fd(int fd, tp_elf_info *out, tp_error *err)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return tp_error_set(err, TP_EIO, "cannot inspect the file: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tp_error_set(err, TP_EPLUGIN,
                            "not a regular file (a folder, device or pipe): a plugin is a "
                            "shared object (.so) file");
    elf_ctx c = {.fd = fd, .size = (uint64_t)st.st_size, .err = err, .out = out};
    return inspect(&c);
}

int tp_elf_inspect(const char *path, tp_elf_info *out, tp_error *err)
{
    memset(out, 0, sizeof *out);
    /* O_NONBLOCK: a FIFO must not block the open; it is refused as not a
     * regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return tp_error_set(err, e == ENOENT ? TP_ENOTFOUND : TP_EIO, "%s: cannot open: %s", path,
                            strerror(e));
    }
    int rc = tp_elf_inspect_fd(fd, out, err);
    close(fd);
    if (rc < 0)
        tp_error_prefix(err, "%s: ", path);
    return rc;
}
