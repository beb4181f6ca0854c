/* unpack.h -- report files inside zip and tar(.gz) archives (libarchive).
 *
 * A download, or a file in a folder given to `tillpipe run`, may be an
 * archive whose members are the report files.  Members are extracted one at
 * a time into a folder, hashed as they stream.  An archive with a member
 * whose path is absolute or has a ".." segment, or with a link (symbolic or
 * hard), is rejected as a whole with a clear error; so is one whose members
 * pass the size caps (an archive bomb), whatever their headers claim.
 */
#ifndef TP_UNPACK_H
#define TP_UNPACK_H

#include <stdint.h>

#include "core/error.h"
#include "sha.h"

/* 1 when the file starts like a zip, gzip or tar archive; 0 when not (or
 * unreadable). */
int tp_archive_sniff(const char *path);

typedef struct tp_archive_limits {
    uint64_t max_member;  /* bytes per member; 0 = 256 MiB */
    uint64_t max_total;   /* bytes of all members; 0 = 1 GiB */
    unsigned max_members; /* 0 = 10000 */
} tp_archive_limits;

/* Called for each regular member once it is extracted to `path` (under the
 * output folder, file name = the member's last path segment).  Return < 0
 * with err set to stop. */
typedef int (*tp_archive_member_fn)(void *ud, const char *name, const char *path, uint64_t size,
                                    const char sha256[TP_SHA256_HEX], tp_error *err);

/* Extract the members of `path` into the existing folder `outdir` (member i
 * goes to outdir/<i>/<name>).  On error the members extracted so far stay
 * for the caller to remove with the folder.  TP_EPARSE for an unsafe or
 * broken archive, TP_ELIMIT over a cap, TP_EIO when writing fails. */
int tp_archive_extract(const char *path, const char *outdir, const tp_archive_limits *lim,
                       tp_archive_member_fn fn, void *ud, tp_error *err);

#endif
