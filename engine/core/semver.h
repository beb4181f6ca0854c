/* semver.h -- plugin versions (semver.org 2.0.0) and version ranges.
 *
 * Several versions of one plugin may be installed side by side; by default
 * the highest wins, and a branch's configuration may pin one with a range
 * ("1.0.1", "^1.2", ">=1.0.0 <2.0.0").  Nothing here allocates or reads a
 * file: every struct is fixed-size and owned by the caller.
 *
 * Versions are strict semver 2.0.0: MAJOR.MINOR.PATCH, each a decimal
 * number without leading zeros that fits in 64 bits, then an optional
 * "-prerelease" (dot-separated identifiers of [0-9A-Za-z-], numeric ones
 * without leading zeros) and an optional "+build" (identifiers of
 * [0-9A-Za-z-], leading zeros allowed).  "1" and "1.2" are not versions (a
 * plugin declares all three numbers); no leading "v", no spaces.
 *
 * Ranges are the npm/cargo forms, comparator sets joined by spaces (AND):
 *   1.0.1  =1.0.1         exactly that version (build metadata ignored)
 *   >=1.2.0 >1.2 <2 <=1.4.0   comparators; a partial version fills in as npm
 *                         does: >1.2 is >=1.3.0, <=1.4 is <1.5.0, <2 is <2.0.0
 *   ^1.2.3                >=1.2.3 <2.0.0 (^0.2.3: <0.3.0; ^0.0.3: <0.0.4)
 *   ~1.2.3  ~1.2  ~1      >=1.2.3 <1.3.0; >=1.2.0 <1.3.0; >=1.0.0 <2.0.0
 *   1.x  1.2.*  1  1.2  * wildcards: any version of that prefix; * any
 * At most TP_SEMVER_RANGE_MAX comparators after expansion (a caret, tilde or
 * wildcard makes two).  Not accepted: "||", hyphen ranges "1 - 2", a range
 * that can match no version (">*"), an empty range.
 *
 * Prereleases follow npm's rule: a version with a prerelease (1.3.0-beta)
 * satisfies a range only when it satisfies every comparator AND one of the
 * range's comparators names a prerelease of the same MAJOR.MINOR.PATCH
 * (">=1.3.0-alpha" lets 1.3.0-beta in, but not 1.4.0-beta).  So "*", "^1.2"
 * or ">=1.0.0" never pick a prerelease by accident.
 */
#ifndef TP_SEMVER_H
#define TP_SEMVER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TP_SEMVER_PRE_MAX 63   /* bytes of a prerelease, '-' excluded */
#define TP_SEMVER_BUILD_MAX 63 /* bytes of build metadata, '+' excluded */
#define TP_SEMVER_RANGE_MAX 8  /* comparators in one range, after expansion */
#define TP_SEMVER_STR_MAX 200  /* a formatted version fits in this many bytes */

typedef struct tp_semver {
    uint64_t major, minor, patch;
    char pre[TP_SEMVER_PRE_MAX + 1];     /* "" for a release */
    char build[TP_SEMVER_BUILD_MAX + 1]; /* "" when none; ignored by comparisons */
} tp_semver;

typedef enum tp_semver_op {
    TP_SEMVER_EQ, /* =  */
    TP_SEMVER_LT, /* <  */
    TP_SEMVER_LE, /* <= */
    TP_SEMVER_GT, /* >  */
    TP_SEMVER_GE  /* >= */
} tp_semver_op;

typedef struct tp_semver_comparator {
    tp_semver_op op;
    tp_semver v;
} tp_semver_comparator;

typedef struct tp_semver_range {
    size_t n; /* comparators, all of which must hold; 0 = any release */
    tp_semver_comparator c[TP_SEMVER_RANGE_MAX];
} tp_semver_range;

/* Parse a strict semver 2.0.0 version (see above) into *out.  Returns 0, or
 * TP_EINVAL (and *out zeroed) for anything else: empty, "1.2", "01.2.3",
 * "1..2", a number over 2^64-1, a prerelease or build over 63 bytes, an
 * empty identifier, trailing junk. */
int tp_semver_parse(const char *s, tp_semver *out);

/* Semver precedence: <0, 0 or >0 as a is lower than, equal to or higher
 * than b.  A prerelease is lower than its release; prerelease identifiers
 * compare numerically when both are numbers, as ASCII otherwise, a number
 * below a word, and a shorter list below a longer one with the same start.
 * Build metadata is ignored (1.0.0+a equals 1.0.0+b). */
int tp_semver_cmp(const tp_semver *a, const tp_semver *b);

/* A total, deterministic order of version strings: parsable versions by
 * precedence (ties -- versions differing only in build metadata -- by
 * strcmp), every unparsable string below every parsable one, unparsable
 * strings among themselves by strcmp.  0 only for equal strings; NULL sorts
 * like "". */
int tp_semver_cmp_str(const char *a, const char *b);

/* Write v as text ("1.2.3-beta.1+exp") into buf; returns buf.  A buffer of
 * TP_SEMVER_STR_MAX bytes always holds the whole version. */
char *tp_semver_format(const tp_semver *v, char *buf, size_t size);

/* Parse a range (see above) into *out.  Returns 0, or TP_ECONFIG with a
 * message naming the range, what is wrong and the accepted forms. */
int tp_semver_range_parse(const char *s, tp_semver_range *out, tp_error *err);

/* 1 when v satisfies r (every comparator, and the prerelease rule above),
 * else 0. */
int tp_semver_range_match(const tp_semver_range *r, const tp_semver *v);

/* Both at once: 1 when `version` satisfies `range`, 0 when not; TP_ECONFIG
 * for a bad range, TP_EINVAL for a version that is not semver (err says
 * which). */
int tp_semver_satisfies(const char *range, const char *version, tp_error *err);

/* The index of the highest of versions[0..n) that satisfies r, or -1 when
 * none does.  r NULL is the default choice: the highest release, or the
 * highest prerelease when there is no release.  Unparsable and NULL entries
 * are never picked.  "Highest" is tp_semver_cmp_str's order, so the pick
 * does not depend on the order of the array (except for duplicate strings:
 * the first wins). */
int tp_semver_pick(const tp_semver_range *r, const char *const *versions, size_t n);

#endif
