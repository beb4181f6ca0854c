/* fuzz_unpack.c -- archive extraction (io/unpack.h): zip and tar(.gz)
 * through libarchive, with tillpipe's checks and caps.
 *
 * Input: the archive's bytes, a memory file (one, rewritten for each input)
 * opened by name.  Members are extracted into a folder of this process
 * (tmpfs where there is one), caps
 * small (64 KiB a member, 256 KiB in all, 32 members) so that bombs are
 * cheap.  Every member handed out is a regular file directly in its own
 * numbered folder under the output, named by the member's last path segment,
 * of the size said and the sha256 said, within the caps; an archive refused
 * says why.  The output is emptied after each input: the members handed out
 * by name, the folder scanned only when a member was left half-written.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "io/sha.h"
#include "io/unpack.h"

#define MAX_MEMBER (64u << 10)
#define MAX_TOTAL (256u << 10)
#define MAX_MEMBERS 32

static char outdir[PATH_MAX];
static int archive_fd = -1;
static char archive_path[64];

typedef struct seen {
    uint64_t total;
    unsigned members;
    char made[MAX_MEMBERS][PATH_MAX]; /* the members handed out, to remove */
} seen;

static seen out; /* big: kept out of the stack, reset per input */

static int on_member(void *ud, const char *name, const char *path, uint64_t size,
                     const char sha256[TP_SHA256_HEX], tp_error *err)
{
    (void)err;
    seen *s = ud;
    s->members++;
    s->total += size;
    TP_FUZZ_CHECK(s->members <= MAX_MEMBERS && size <= MAX_MEMBER && s->total <= MAX_TOTAL);
    TP_FUZZ_CHECK(!strchr(name, '/'));
    size_t ol = strlen(outdir);
    TP_FUZZ_CHECK(strncmp(path, outdir, ol) == 0 && path[ol] == '/');
    const char *slash = strchr(path + ol + 1, '/');
    TP_FUZZ_CHECK(slash && strcmp(slash + 1, name) == 0);
    struct stat st;
    TP_FUZZ_CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size);
    char hex[TP_SHA256_HEX];
    TP_FUZZ_CHECK(tp_sha256_file(path, hex, NULL, NULL) == 0 && strcmp(hex, sha256) == 0);
    snprintf(s->made[s->members - 1], sizeof s->made[0], "%s", path);
    return 0;
}

/* Remove what an extraction left: outdir/<i>/<name>. */
static void empty_outdir(void)
{
    DIR *d = opendir(outdir);
    TP_FUZZ_CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", outdir, e->d_name);
        DIR *s = opendir(sub);
        struct dirent *f;
        while (s && (f = readdir(s)) != NULL) {
            if (strcmp(f->d_name, ".") == 0 || strcmp(f->d_name, "..") == 0)
                continue;
            char file[PATH_MAX];
            snprintf(file, sizeof file, "%s/%s", sub, f->d_name);
            TP_FUZZ_CHECK(unlink(file) == 0);
        }
        if (s)
            closedir(s);
        TP_FUZZ_CHECK(rmdir(sub) == 0);
    }
    closedir(d);
}

/* Remove what one extraction left: the members handed out, their folders,
 * and the next numbered folder (a member refused while written); anything
 * else (not expected) by a scan. */
static void clean_outdir(void)
{
    char dir[PATH_MAX];
    for (unsigned i = 0; i < out.members; i++) {
        TP_FUZZ_CHECK(unlink(out.made[i]) == 0);
        snprintf(dir, sizeof dir, "%s", out.made[i]);
        *strrchr(dir, '/') = '\0';
        TP_FUZZ_CHECK(rmdir(dir) == 0);
    }
    snprintf(dir, sizeof dir, "%s/%u", outdir, out.members + 1);
    if (rmdir(dir) < 0 && errno != ENOENT)
        empty_outdir();
}

static void remove_outdir(void)
{
    empty_outdir();
    rmdir(outdir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                       : getenv("TMPDIR") ? getenv("TMPDIR")
                                          : "/tmp";
    snprintf(outdir, sizeof outdir, "%s/tp-fuzz-unpack-%d", base, (int)getpid());
    if (mkdir(outdir, 0700) < 0) {
        perror(outdir);
        exit(1);
    }
    atexit(remove_outdir);
    archive_fd = tp_fuzz_memfd("", 0);
    TP_FUZZ_CHECK(archive_fd >= 0);
    snprintf(archive_path, sizeof archive_path, "/proc/self/fd/%d", archive_fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    TP_FUZZ_CHECK(tp_fuzz_memfd_set(archive_fd, data, size) == 0);
    tp_archive_limits lim = {MAX_MEMBER, MAX_TOTAL, MAX_MEMBERS};
    out.total = 0;
    out.members = 0;
    tp_error err = {0};
    int rc = tp_archive_extract(archive_path, outdir, &lim, on_member, &out, &err);
    TP_FUZZ_CHECK((rc == 0) == (err.code == 0));
    if (rc < 0)
        TP_FUZZ_CHECK(err.msg[0] != '\0');
    (void)tp_archive_sniff(archive_path);
    clean_outdir();
    return 0;
}
