/* gen.c -- see gen.h.
 *
 * Layout of this file: randomness and dates; the buffered output file; the
 * hand-written formatters used in the hot loops; the name tables; the branch
 * model (masters built once per branch); the terminal state (invoice and
 * transaction counters, the loyalty file's rows); the day model (receipts and
 * order lines of one terminal-day, kept in arrays that are reused); the
 * writers (the two transaction files, one writer for the four reference
 * files driven by a row function per type, the loyalty file) and the table
 * of the seven report types; the driver.
 *
 * Every random decision comes from a splitmix64 stream keyed by (seed, what,
 * branch, terminal, day), so a decision never depends on how many numbers an
 * unrelated decision drew, and fault injection does not change the data of
 * the day it is applied to.  Within a stream the order of the draws is part of
 * the output: each draw is a statement of its own (never two in one
 * expression, where C leaves the order to the compiler).
 */
#include "gen.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define GEN_MAX_BRANCHES 200
#define GEN_MAX_DAYS 3660
#define GEN_MAX_ORDERS 20000
#define GEN_MAX_BLPR 5000000LL
#define GEN_MAX_BIG (1LL << 40)
#define GEN_VARIED_MIN 15
#define GEN_VARIED_MAX 1500
#define GEN_DEFAULT_START "2025-01-01"
#define GEN_OUT_CAP (256 * 1024)
#define GEN_ROW_MAX 4096 /* room one row may take; rows are < 1 KiB */

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------------------------------ */
/* Report types and headers (exactly the samples' header lines)              */

enum { T_RD5000, T_RD5800, T_RD5500, T_RD1800, T_DISCOUNT, T_RD5900, T_BLPR, T_COUNT };

#define HDR_RD5000                                                                                 \
    "STORE_NUM,TRANSDATE,INVOICE,CAS_CODE,ITE_CODE,QUANTITY,UNT_PRIC,AMOUNT,DISCOUNT,SCHARGE,DT,"  \
    "DEP_CODE,DATE,TIME,CUS_CODE,TRN_CODE,ORNUM,TAG,DISC_CODE,SRNO,SRNAME,TYPE,BACKJOB,DELIVERY,"  \
    "PHONE,RIDER,FREE,INV_FLAG,REC_NO,LPAY_DISC,GC_EXCESS,VAT_FLAG,VATDIV,BDL_CODE,VAT_AMNT,"      \
    "VAT_DISC,VAT_PRIC,TRANSNO,POS,BRANCH"
#define HDR_RD5800                                                                                 \
    "STORE_NUM,TRANSDATE,INVOICE,CAS_CODE,AMT_TENDER,CHANGE,NAME,REF_NO,DATE,TIME,TAG,PAYCODE,"    \
    "TRN_CODE,REF_CODE,ORDERSLIP,REC_NO,CUSINFO1,CUSINFO2,CUSINFO3,TIN_TAG,TRANSNO,POS,BRANCH"
#define HDR_RD5500                                                                                 \
    "INCODE,ITE_DESC,ECR_DESC,DEP_CODE,UNT_PRIC,UNIT,TAXPRCNT1,TAXAMOUNT1,TAX1DIV,POS,BRANCH"
#define HDR_RD1800 "DEP_CODE,DEP_DESC,POS,BRANCH"
#define HDR_DISCOUNT "CODE,DESC,TYPE,VALUE,POS,BRANCH"
#define HDR_RD5900 "PAY_CODE,PAY_DESC,METHOD,MAX_AMOUNT,POS,BRANCH"
#define HDR_BLPR "STORE,PHONE,TRANSNO,ORNO,POS,BRANCH"
#define HDR_NEWER_EXTRA ",TERM_ID,CATEG_ID,VERNO,FULL"

/* ------------------------------------------------------------------------ */
/* Randomness                                                                */

typedef struct gen_rng {
    uint64_t s;
} gen_rng;

enum { K_BRANCH = 1, K_TERM, K_VOLUME, K_DAY, K_FAULT, K_HIST, K_LOYAL, K_BIG };

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static gen_rng rng_make(uint64_t seed, uint64_t what, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL);
    h = mix64(h ^ (what * 0xd6e8feb86659fd93ULL));
    h = mix64(h ^ (a + 0x632be59bd9b4e019ULL));
    h = mix64(h ^ (b * 0x9e3779b97f4a7c15ULL + 0x1234567ULL));
    h = mix64(h ^ (c + 0x2545f4914f6cdd1dULL));
    gen_rng r = {h};
    return r;
}

static uint64_t rng_next(gen_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

/* Uniform in [0, n); 0 when n is 0. */
static uint32_t rng_below(gen_rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static int rng_range(gen_rng *r, int lo, int hi)
{
    return lo + (int)rng_below(r, (uint32_t)(hi - lo + 1));
}

/* An element of a const array, uniformly. */
#define PICK(r, a) ((a)[rng_below((r), (uint32_t)NELEM(a))])

static double rng_unit(gen_rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------------ */
/* Dates: days since 1970-01-01 (proleptic Gregorian)                        */

static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (long long)era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, int *y, int *m, int *d)
{
    z += 719468;
    const long long era = (z >= 0 ? z : z - 146096) / 146097;
    const int doe = (int)(z - era * 146097);
    const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

static int month_days(int y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return md[m - 1];
}

/* Strict YYYY-MM-DD, years 1970..9980.  Returns 0 and the day number. */
static int parse_date(const char *s, long long *out)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1970 || y > 9980 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return -1;
    *out = days_from_civil(y, m, d);
    return 0;
}

static void format_date(long long z, char out[11])
{
    int y, m, d;
    civil_from_days(z, &y, &m, &d);
    out[0] = (char)('0' + y / 1000 % 10);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

/* 0 = Sunday. */
static int weekday(long long z)
{
    return (int)(((z + 4) % 7 + 7) % 7);
}

/* ------------------------------------------------------------------------ */
/* Buffered output file, written under a temporary name and renamed          */

typedef struct gen_out {
    FILE *f;
    size_t len;      /* bytes pending in buf */
    long long bytes; /* bytes handed to the file so far */
    int werr;        /* errno of the first failed write, 0 when none */
    char tmp[PATH_MAX];
    char path[PATH_MAX];
    char buf[GEN_OUT_CAP];
} gen_out;

static void out_flush(gen_out *o)
{
    if (o->len && !o->werr) {
        if (fwrite(o->buf, 1, o->len, o->f) != o->len)
            o->werr = errno ? errno : EIO;
    }
    o->bytes += (long long)o->len;
    o->len = 0;
}

/* Make room for one row (rows are always written whole into the buffer).
 * Returns 0 once a write has failed: the rest would be lost, and the file is
 * removed when closed. */
static inline int out_room(gen_out *o)
{
    if (GEN_OUT_CAP - o->len < GEN_ROW_MAX)
        out_flush(o);
    return !o->werr;
}

/* `dir` NULL: `name` is the full path and the temporary is "<path>.tmp";
 * otherwise the file is dir/name and the temporary dir/.name.tmp. */
static int out_open(gen_out *o, const char *dir, const char *name, tp_error *err)
{
    int n1, n2;
    if (dir) {
        n1 = snprintf(o->path, sizeof o->path, "%s/%s", dir, name);
        n2 = snprintf(o->tmp, sizeof o->tmp, "%s/.%s.tmp", dir, name);
    } else {
        n1 = snprintf(o->path, sizeof o->path, "%s", name);
        n2 = snprintf(o->tmp, sizeof o->tmp, "%s.tmp", name);
    }
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof o->path || (size_t)n2 >= sizeof o->tmp)
        return tp_error_set(err, TP_EINVAL, "gen: path too long: %s", name);
    o->len = 0;
    o->bytes = 0;
    o->werr = 0;
    o->f = fopen(o->tmp, "wb");
    if (!o->f)
        return tp_error_set(err, TP_EIO, "gen: cannot create %s: %s", o->tmp, strerror(errno));
    setvbuf(o->f, NULL, _IONBF, 0); /* we hand fwrite whole 256 KiB blocks */
    return 0;
}

static int out_close(gen_out *o, tp_error *err)
{
    out_flush(o);
    int e = o->werr;
    if (fclose(o->f) != 0 && !e)
        e = errno ? errno : EIO;
    o->f = NULL;
    if (e) {
        remove(o->tmp);
        return tp_error_set(err, TP_EIO, "gen: writing %s: %s", o->tmp, strerror(e));
    }
    if (rename(o->tmp, o->path) != 0) {
        e = errno;
        remove(o->tmp);
        return tp_error_set(err, TP_EIO, "gen: renaming %s to %s: %s", o->tmp, o->path,
                            strerror(e));
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Formatters: append to the buffer, which out_room() made room in           */

static inline void put_c(gen_out *o, char ch)
{
    o->buf[o->len++] = ch;
}

static inline void put_mem(gen_out *o, const char *s, size_t n)
{
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static inline void put_s(gen_out *o, const char *s)
{
    put_mem(o, s, strlen(s));
}

#define PUT_LIT(o, lit) put_mem((o), (lit), sizeof(lit) - 1)

/* Zero-padded to at least `w` digits (0: none). */
static inline void put_u0(gen_out *o, unsigned long long v, int w)
{
    char t[24];
    size_t n = 0, want = w > 20 ? 20 : w > 0 ? (size_t)w : 0;
    do { /* at most 20 digits: the largest unsigned long long has 20 */
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 20);
    while (n < want)
        t[n++] = '0';
    while (n > 0)
        o->buf[o->len++] = t[--n];
}

static inline void put_u(gen_out *o, unsigned long long v)
{
    put_u0(o, v, 0);
}

/* The sign, whole part and point of a fixed-point number of `one` units to
 * the whole; returns the fraction's units. */
static inline long long put_whole(gen_out *o, long long x, long long one)
{
    if (x < 0) {
        put_c(o, '-');
        x = -x;
    }
    put_u(o, (unsigned long long)(x / one));
    put_c(o, '.');
    return x % one;
}

/* Thousandths as a fixed 3-decimal number: 99000 -> "99.000". */
static inline void put_m3(gen_out *o, long long m)
{
    put_u0(o, (unsigned long long)put_whole(o, m, 1000), 3);
}

/* Ten-thousandths the way Python prints a float rounded to 4 places:
 * 1490000 -> "149.0", 1064286 -> "106.4286", 187500 -> "18.75". */
static inline void put_py4(gen_out *o, long long x)
{
    int f = (int)put_whole(o, x, 10000);
    if (f == 0) {
        put_c(o, '0');
        return;
    }
    char d[4] = {(char)('0' + f / 1000), (char)('0' + f / 100 % 10), (char)('0' + f / 10 % 10),
                 (char)('0' + f % 10)};
    int n = 4;
    while (d[n - 1] == '0')
        n--;
    put_mem(o, d, (size_t)n);
}

/* HH:MM or HH:MM:SS of a second of the day. */
static inline void put_hm(gen_out *o, int sec)
{
    put_u0(o, (unsigned)(sec / 3600), 2);
    put_c(o, ':');
    put_u0(o, (unsigned)(sec / 60 % 60), 2);
}

static inline void put_hms(gen_out *o, int sec)
{
    put_hm(o, sec);
    put_c(o, ':');
    put_u0(o, (unsigned)(sec % 60), 2);
}

/* A CSV field, quoted (with doubled quotes) only when it needs to be. */
static void put_csv(gen_out *o, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        put_s(o, s);
        return;
    }
    put_c(o, '"');
    for (; *s; s++) {
        if (*s == '"')
            put_c(o, '"');
        put_c(o, *s);
    }
    put_c(o, '"');
}

/* The shortest text that reads back as `v`, as Python's repr() prints it. */
static void py_repr(double v, char *out, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    size_t l = strlen(out);
    if (!strpbrk(out, ".e") && l + 2 < n)
        memcpy(out + l, ".0", 3);
}

static void sfmt(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sfmt(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(dst, n, fmt, ap);
    va_end(ap);
    if (r < 0 && n)
        dst[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Name tables                                                               */

static const char *const branch_codes[] = {
    "BMC",  "MAGS", "AYALA-FRN", "BETA",    "B-SMS", "BPAG", "BGRAN", "BTAB",
    "BCUB", "BLUC", "BNAG",      "BIRI",    "BLEG",  "BSOR", "BDAE",  "BMAS",
    "BTAC", "BORM", "BILO",      "BBAC",    "BCEB",  "BDAV", "BGEN",  "BZAM",
    "BCAG", "BPUE", "BROX",      "SM-NAGA", "BVIR",  "BCAT", "BPIL"};
#define N_BRANCH_CODES NELEM(branch_codes)

static const char *const newer_branches[] = {"BETA", "BPAG", "BGRAN", "BTAB"};

typedef struct gen_profile {
    int base;            /* order lines of terminal 1 on an average day */
    int h24;             /* open around the clock (busy graveyard hours) */
    int p_dine, p_deliv; /* percent of receipts D and C; the rest is T */
    const char *hhmm;    /* usual export time */
    const char *store;   /* blpr STORE */
    int deliv_w;         /* weight of the delivery menu */
} gen_profile;

static const gen_profile fixed_profiles[8] = {
    {430, 0, 58, 2, "20-00", "TEMP", 1}, {1150, 1, 8, 6, "21-00", "TEMP", 8},
    {420, 0, 75, 1, "20-00", "DAET", 1}, {60, 0, 86, 0, "20-00", "TEMP", 0},
    {650, 0, 55, 4, "20-00", "TEMP", 2}, {110, 0, 80, 0, "20-00", "TEMP", 0},
    {85, 0, 84, 0, "21-00", "TEMP", 0},  {75, 0, 82, 0, "20-00", "TEMP", 0}};

static const char *const stores[] = {"TEMP", "TEMP", "TEMP", "NAGA", "IRIGA", "LEGAZPI", "PILI"};
static const char *const export_times[] = {"20-00", "20-00", "20-00", "20-00",
                                           "20-00", "21-00", "21-00", "22-00"};

/* Classic departments: padded and unpadded codes both exist, as in the
 * chain's real lists. */
typedef struct gen_dept_def {
    const char *code, *desc;
} gen_dept_def;

static const gen_dept_def classic_depts[] = {{"01", "CHICKEN MEALS"},
                                             {"02", "CLASSIC MEALS"},
                                             {"03", "BREAKFAST"},
                                             {"04", "PASTA DISHES"},
                                             {"05", "CAKES"},
                                             {"06", "BURGERS AND SANDWICHES"},
                                             {"07", "BEVERAGES"},
                                             {"08", "BULK ORDER"},
                                             {"09", "EXTRAS"},
                                             {"10", "SALAD BAR"},
                                             {"12", "PARTY PACK ADD ON"},
                                             {"14", "DIPS AND SAUCES"},
                                             {"15", "FREE"},
                                             {"17", "ICED TEA UPGRADE"},
                                             {"19", "SOUP"},
                                             {"21", "SHAKES"},
                                             {"23", "UPGRADE"},
                                             {"24", "UPSELLING"},
                                             {"25", "RND"},
                                             {"18", "SIDINGS"},
                                             {"27", "HOTDOGS"},
                                             {"28", "REPRESENTATION"},
                                             {"31", "ADD ONS"},
                                             {"32", "KIDS PARTY PACKAGE"},
                                             {"34", "JUICE UPGRADE"},
                                             {"35", "KIDS MEALS"},
                                             {"36", "HOUSE FAVORITES"},
                                             {"37", "MARKETING PROMO"},
                                             {"38", "DELIVERY APP 3"},
                                             {"39", "MEETING PACKAGES"},
                                             {"41", "LIGHT MEALS"},
                                             {"43", "CERTIFICATE"},
                                             {"44", "COFFEE PODS"},
                                             {"45", "JELLY DRINKS"},
                                             {"40", "PRESTIGE FREEBIES"},
                                             {"47", "SOLO MEALS"},
                                             {"50", "XMAS 2014"},
                                             {"51", "Meals At Home"},
                                             {"55", "FRIES GOURMET"},
                                             {"56", "HOLIDAY FEAST"},
                                             {"57", "PREMIUM ITEMS"},
                                             {"59", "KIDS PARTY MEALS"},
                                             {"42", "HAPPY ENDING"},
                                             {"60", "RIBS AND MORE"},
                                             {"62", "SIZZLERS"},
                                             {"65", "HOMETOWN HITS"},
                                             {"46", "HOLIDAY PARTY PACKS"},
                                             {"66", "SNACKS"},
                                             {"67", "SALAD DRESSING"},
                                             {"68", "SALAD DRESSING"},
                                             {"52", "FAMILY FEAST"},
                                             {"69", "SUMMER COOLERS"},
                                             {"1", "MANILA MENU"},
                                             {"70", "DOUBLE TREAT"},
                                             {"2", "MARKETING PROMO 2"},
                                             {"71", "TEST MARKET"},
                                             {"3", "DELIVERY"},
                                             {"4", "DELIVERY APP"},
                                             {"5", "DELIVERY APP 2"},
                                             {"6", "LOYALTY"},
                                             {"7", "LOYALTY 2"},
                                             {"8", "PURGED PRODUCTS"},
                                             {"9", "GO BIG"},
                                             {"11", "FUNCTION"},
                                             {"13", "APP COFFEE"},
                                             {"16", "RSD PROMOS"}};
#define N_CLASSIC_DEPTS NELEM(classic_depts)

enum { ST_DISH, ST_DRINK, ST_DESSERT, ST_EXTRA, ST_REP, ST_FREE, ST_PACK, ST_LOYAL };
enum {
    P_ANY,
    P_CHICKEN,
    P_CLASSIC,
    P_BREAKFAST,
    P_PASTA,
    P_BURGER,
    P_SIDE,
    P_SALAD,
    P_SOUP,
    P_SIZZLE,
    P_COUNT
};

static const char *const pool_chicken[] = {
    "CRISPY CHICKEN",   "FRIED CHICKEN",   "CHICKEN BBQ",    "CHICKEN INASAL", "CHKN-KEBAB",
    "CHICKEN FILLET",   "CHICKEN TENDERS", "CHICKEN CORDON", "HONEY CHICKEN",  "SPICY WINGS",
    "CHICKEN ALA KING", "GARLIC CHICKEN",  "CHKN TERIYAKI",  "CHICKEN CURRY"};
static const char *const pool_classic[] = {
    "PORK CHOP",     "PORK BBQ",       "PORK STEAK",    "LECHON KAWALI",  "BEEF STEAK",
    "BEEF SALPICAO", "BEEF CALDERETA", "BEEF BULGOGI",  "BABY BACK RIBS", "FISH FILLET",
    "KARE KARE",     "PORK ADOBO",     "MENUDO",        "BICOL EXPRESS",  "LAING",
    "CHOPSUEY",      "BANGUS BELLY",   "SHRIMP GAMBAS", "PORK SISIG",     "TUNA BELLY"};
static const char *const pool_breakfast[] = {
    "TAPSILOG",  "TOSILOG",           "LONGSILOG", "BANGSILOG",  "CORNSILOG",    "HOTSILOG",
    "SPAMSILOG", "COUNTRY BREAKFAST", "PANCAKE",   "WAFFLE",     "FRENCH TOAST", "CHAMPORADO",
    "GOTO",      "ARROZ CALDO",       "DNB",       "HAM AND EGG"};
static const char *const pool_pasta[] = {"SPAGHETTI", "CARBONARA",     "PESTO PASTA",  "BAKED MAC",
                                         "LASAGNA",   "PANCIT CANTON", "PANCIT BIHON", "SOTANGHON",
                                         "PALABOK",   "AGLIO OLIO"};
static const char *const pool_burger[] = {
    "CLASSIC BURGER", "CHEESY BURGER", "DOUBLE BURGER", "BACON BURGER", "MUSHROOM BURGER",
    "CLUBHOUSE",      "TUNA SANDWICH", "CHKN SANDWICH", "EGG SANDWICH", "HAM SANDWICH",
    "HOTDOG",         "CHILI DOG",     "BURGER STEAK"};
static const char *const pool_side[] = {
    "FRIES",         "CHEESE FRIES",     "ONION RINGS", "MOJOS",     "MAC SALAD",
    "COLESLAW",      "PLAIN RICE",       "GARLIC RICE", "JAVA RICE", "FRIED EGG",
    "MASHED POTATO", "CORN AND CARROTS", "LUMPIA"};
static const char *const pool_salad[] = {"GARDEN SALAD", "CAESAR SALAD", "POTATO SALAD",
                                         "CHEF SALAD",   "FRUIT SALAD",  "TUNA SALAD",
                                         "KANI SALAD",   "MANGO SALAD"};
static const char *const pool_soup[] = {
    "BULALO", "SINIGANG", "NILAGA", "MAMI", "CREAM OF MUSHROOM", "CORN SOUP", "MOLO SOUP", "SOPAS"};
static const char *const pool_sizzle[] = {"SIZZLING SISIG",   "SIZZLING BEEF", "SIZZLING TOFU",
                                          "SIZZLING CHICKEN", "SIZZLING PORK", "SIZZLING GAMBAS"};

typedef struct gen_pool {
    const char *const *w;
    int n;
} gen_pool;

#define POOL(a)                                                                                    \
    {                                                                                              \
        a, NELEM(a)                                                                                \
    }
static const gen_pool pools[P_COUNT] = {
    {NULL, 0},        POOL(pool_chicken), POOL(pool_classic), POOL(pool_breakfast),
    POOL(pool_pasta), POOL(pool_burger),  POOL(pool_side),    POOL(pool_salad),
    POOL(pool_soup),  POOL(pool_sizzle)};

static const char *const dish_mods[] = {"",        "",       "",       "",      "1PC",     "2PCS",
                                        "SOLO",    "MEAL",   "W RICE", "W EGG", "W DRINK", "FAMILY",
                                        "PLATTER", "REG",    "LARGE",  "XL",    "PROMO",   "DUO",
                                        "TRIO",    "BUCKET", "B1T1",   "COMBO", "VALUE"};
static const char *const drinks[] = {
    "ICED TEA",    "PINK JUICE",    "HOUSE BLEND",     "CALAMANSI JUICE",
    "MANGO SHAKE", "BUKO SHAKE",    "CHOCO SHAKE",     "STRAWBERRY SHAKE",
    "COLA",        "COLA ZERO",     "LEMON SODA",      "ORANGE SODA",
    "ROOTBEER",    "BOTTLED WATER", "BREWED COFFEE",   "HOT CHOCO",
    "LEMONADE",    "FOUR SEASONS",  "PINEAPPLE JUICE", "MILK TEA"};
static const char *const drink_sizes[] = {"REG",  "LARGE", "1L",  "PITCHER", "12OZ",
                                          "16OZ", "22OZ",  "CAN", "MISMO",   ""};
static const char *const desserts[] = {
    "CARROT CAKE", "CHOCO CAKE", "BUTTERSCOTCH", "LECHE FLAN",    "HALO HALO",
    "MANGO FLOAT", "BROWNIE",    "CREAM PUFF",   "UBE CAKE",      "CHEESE CAKE",
    "BUKO PIE",    "SUNDAE",     "MELLOW JELLO", "MAIS CON YELO", "SAGO GULAMAN"};
static const char *const extras[] = {
    "EXTRA RICE",   "EXTRA GRAVY",  "EXTRA SAUCE",  "EXTRA CHEESE",  "EXTRA EGG",
    "EXTRA BACON",  "KETCHUP PACK", "CHILI OIL",    "GARLIC MAYO",   "VINEGAR DIP",
    "TAKE OUT BOX", "PAPER BAG",    "RICE UPGRADE", "DRINK UPGRADE", "SIDE UPGRADE",
    "UPSIZE DRINK", "UPSIZE FRIES", "GIFT CERT 500"};

typedef struct gen_family {
    const char *prefix;
    short count;
    const char *dep;
    unsigned char style, pool;
    short lo, hi;  /* price range, whole pesos */
    short zero_pm; /* per mille of items priced 0 */
    short sell;    /* weight on the menu; 0 = not sold */
} gen_family;

static const gen_family families[] = {{"CHM", 20, "01", ST_DISH, P_CHICKEN, 149, 399, 0, 10},
                                      {"CLM", 13, "02", ST_DISH, P_CLASSIC, 199, 389, 0, 8},
                                      {"BRK", 14, "03", ST_DISH, P_BREAKFAST, 99, 289, 0, 7},
                                      {"PST", 5, "04", ST_DISH, P_PASTA, 99, 199, 0, 5},
                                      {"CKS", 5, "05", ST_DESSERT, P_ANY, 59, 899, 0, 1},
                                      {"B&S", 12, "06", ST_DISH, P_BURGER, 79, 229, 0, 6},
                                      {"BEV", 35, "07", ST_DRINK, P_ANY, 49, 159, 0, 9},
                                      {"BLK", 10, "08", ST_PACK, P_ANY, 999, 4999, 0, 0},
                                      {"XTR", 58, "09", ST_EXTRA, P_ANY, 15, 99, 50, 4},
                                      {"SLD", 10, "10", ST_DISH, P_SALAD, 139, 259, 0, 3},
                                      {"PPA", 24, "12", ST_EXTRA, P_ANY, 99, 499, 0, 0},
                                      {"K&D", 8, "14", ST_EXTRA, P_ANY, 25, 79, 0, 1},
                                      {"FRE", 3, "15", ST_FREE, P_ANY, 0, 0, 1000, 0},
                                      {"ITU", 15, "17", ST_DRINK, P_ANY, 20, 45, 0, 1},
                                      {"SID", 12, "18", ST_DISH, P_SIDE, 39, 99, 0, 4},
                                      {"SUP", 5, "19", ST_DISH, P_SOUP, 89, 199, 0, 2},
                                      {"SHK", 6, "21", ST_DRINK, P_ANY, 99, 169, 0, 2},
                                      {"UPG", 21, "23", ST_EXTRA, P_ANY, 10, 60, 0, 3},
                                      {"UPS", 14, "24", ST_EXTRA, P_ANY, 20, 80, 0, 1},
                                      {"RND", 8, "25", ST_DISH, P_ANY, 99, 299, 200, 0},
                                      {"HDG", 4, "27", ST_DISH, P_BURGER, 59, 129, 0, 1},
                                      {"REP", 420, "28", ST_REP, P_ANY, 0, 0, 1000, 0},
                                      {"ADD", 11, "31", ST_EXTRA, P_ANY, 10, 50, 0, 2},
                                      {"KPP", 4, "32", ST_PACK, P_ANY, 2999, 8999, 0, 0},
                                      {"JDU", 11, "34", ST_DRINK, P_ANY, 15, 40, 0, 1},
                                      {"KDM", 7, "35", ST_DISH, P_CHICKEN, 99, 159, 0, 1},
                                      {"NFV", 6, "36", ST_DISH, P_CLASSIC, 149, 299, 0, 1},
                                      {"MP", 153, "37", ST_DISH, P_ANY, 99, 499, 300, 1},
                                      {"FPC", 6, "38", ST_DISH, P_ANY, 99, 399, 0, 0},
                                      {"EFM", 4, "39", ST_PACK, P_ANY, 1999, 4999, 0, 0},
                                      {"PF", 17, "40", ST_FREE, P_ANY, 0, 0, 1000, 0},
                                      {"LM", 9, "41", ST_DISH, P_ANY, 99, 199, 0, 2},
                                      {"HE", 15, "42", ST_DESSERT, P_ANY, 49, 149, 0, 2},
                                      {"GC", 3, "43", ST_EXTRA, P_ANY, 500, 1000, 0, 0},
                                      {"NES", 5, "44", ST_DRINK, P_ANY, 45, 99, 0, 0},
                                      {"YOG", 13, "45", ST_DESSERT, P_ANY, 59, 129, 0, 1},
                                      {"PP", 40, "46", ST_PACK, P_ANY, 899, 2999, 0, 0},
                                      {"SLM", 4, "47", ST_DISH, P_ANY, 99, 149, 0, 1},
                                      {"XM", 16, "50", ST_PACK, P_ANY, 499, 1999, 300, 0},
                                      {"BAH", 15, "51", ST_DISH, P_ANY, 299, 899, 0, 0},
                                      {"FFS", 5, "52", ST_PACK, P_ANY, 1499, 3999, 0, 0},
                                      {"FRI", 22, "55", ST_DISH, P_SIDE, 69, 159, 0, 2},
                                      {"HPP", 15, "56", ST_PACK, P_ANY, 999, 3999, 100, 0},
                                      {"PRM", 6, "57", ST_DISH, P_CLASSIC, 399, 899, 0, 0},
                                      {"KPM", 7, "59", ST_DISH, P_CHICKEN, 129, 199, 0, 0},
                                      {"BEF", 5, "60", ST_DISH, P_CLASSIC, 299, 599, 0, 2},
                                      {"SIZ", 9, "62", ST_DISH, P_SIZZLE, 189, 329, 0, 2},
                                      {"HTH", 8, "65", ST_DISH, P_CLASSIC, 149, 299, 0, 1},
                                      {"SNK", 8, "66", ST_DISH, P_SIDE, 49, 129, 0, 2},
                                      {"DRS", 4, "67", ST_EXTRA, P_ANY, 20, 45, 0, 0},
                                      {"SMC", 5, "69", ST_DRINK, P_ANY, 79, 149, 0, 1},
                                      {"DBT", 6, "70", ST_DISH, P_ANY, 199, 399, 0, 1},
                                      {"TMK", 5, "71", ST_DISH, P_ANY, 99, 299, 400, 0},
                                      {"MNL", 12, "1", ST_DISH, P_ANY, 149, 349, 0, 1},
                                      {"MPBD", 14, "2", ST_DISH, P_ANY, 99, 299, 0, 2},
                                      {"DEL", 92, "3", ST_DISH, P_ANY, 99, 499, 0, 3},
                                      {"FP", 192, "4", ST_DISH, P_ANY, 99, 499, 50, 3},
                                      {"FPD", 8, "5", ST_DISH, P_ANY, 99, 399, 0, 0},
                                      {"BL", 82, "6", ST_DISH, P_ANY, 50, 399, 300, 1},
                                      {"BLT", 71, "7", ST_LOYAL, P_ANY, 0, 0, 0, 2},
                                      {"NF", 40, "8", ST_DISH, P_ANY, 99, 399, 400, 0},
                                      {"GB", 18, "9", ST_DISH, P_ANY, 149, 399, 0, 1},
                                      {"FN", 10, "11", ST_PACK, P_ANY, 2999, 9999, 0, 0},
                                      {"FCF", 12, "13", ST_DRINK, P_ANY, 89, 189, 0, 1},
                                      {"RSD", 4, "16", ST_DISH, P_ANY, 99, 299, 0, 0}};
#define N_FAMILIES NELEM(families)

/* Discounts: the first ones are used on receipts. */
typedef struct gen_disc_def {
    const char *code, *desc;
    int amount_type; /* 0 SUBTOTAL PERCENT, 1 SUBTOTAL AMOUNT */
    int value;
} gen_disc_def;

static const gen_disc_def classic_disc_head[] = {{"5", "PWD", 0, 20},
                                                 {"1", "SNR CTZN 20%", 0, 20},
                                                 {"11", "5% DISCOUNT", 0, 5},
                                                 {"17", "5% DELIVERY PROMO", 0, 5},
                                                 {"14", "LOYALTY CARD 8%", 0, 8},
                                                 {"31", "10% DISCOUNT", 0, 10},
                                                 {"37", "MAKE IT BIG", 0, 20},
                                                 {"38", "8% DISCOUNT", 0, 8},
                                                 {"2", "EMPLOYEE DISCOUNT", 0, 20},
                                                 {"12", "P55 OFF", 1, 55},
                                                 {"15", "MOMS DAY", 0, 20},
                                                 {"16", "CEO 20% DISC", 0, 20},
                                                 {"18", "COO 20% DISC", 0, 20},
                                                 {"19", "50% EMP MEAL DISC", 1, 224},
                                                 {"20", "10% TRAVEL DISC", 0, 10}};
#define N_DISC_HEAD NELEM(classic_disc_head)
#define DISC_PWD 0
#define DISC_SNR 1
static const int promo_discs[] = {2, 4, 5, 8}; /* 5%, 8%, 10%, 20% employee */

static const char *const orgs[] = {"ROTARY CLUB",   "LIONS CLUB",  "EAGLES", "JAYCEES",
                                   "TEACHERS ASSN", "NURSES ASSN", "ALUMNI", "CHAMBER",
                                   "RIDERS CLUB",   "BIKERS",      "PICE",   "IIEE",
                                   "UNITED ARCH",   "REBAP",       "CSNHS",  "OFW CLUB"};
static const char *const towns[] = {"NAGA",     "IRIGA",  "LEGAZPI", "DAET",   "PILI",
                                    "SORSOGON", "TABACO", "LIGAO",   "CamSur", "GOA"};

enum { PK_CASH, PK_CARD, PK_DEBIT, PK_EWALLET, PK_APP, PK_LOYAL, PK_GC, PK_CHARGE, PK_OTHER };

typedef struct gen_pay_def {
    const char *code; /* NULL: numbered by the branch */
    const char *desc;
    int method, max, kind, weight;
} gen_pay_def;

static const gen_pay_def classic_pay_head[] = {{"00001", "CASH", 0, 0, PK_CASH, 70},
                                               {"00002", "CREDIT CARD", 1, 0, PK_CARD, 4}};

static const gen_pay_def classic_pay_pool[] = {{NULL, "CHARGE", 6, 0, PK_CHARGE, 2},
                                               {NULL, "GC P50", 2, 50, PK_GC, 2},
                                               {NULL, "GC P100", 2, 100, PK_GC, 2},
                                               {NULL, "REPRESENTATION", 6, 0, PK_OTHER, 1},
                                               {NULL, "GCASH", 3, 0, PK_EWALLET, 9},
                                               {NULL, "PAYMAYA", 6, 0, PK_EWALLET, 4},
                                               {NULL, "FOODPANDA", 6, 0, PK_APP, 5},
                                               {NULL, "LOYALTY POINTS", 6, 0, PK_LOYAL, 3},
                                               {NULL, "DEBIT", 6, 0, PK_DEBIT, 7},
                                               {NULL, "CHARGE TO LSM", 6, 0, PK_OTHER, 1},
                                               {NULL, "INCENTIVES", 6, 0, PK_OTHER, 1},
                                               {NULL, "GRAB FOOD", 6, 0, PK_APP, 3},
                                               {NULL, "ON THE HOUSE", 6, 0, PK_OTHER, 1},
                                               {NULL, "GC P200", 0, 0, PK_GC, 1},
                                               {NULL, "BULK ORDER CHARGING", 6, 0, PK_CHARGE, 1},
                                               {NULL, "FRANCHISE CHARGING", 6, 0, PK_CHARGE, 1},
                                               {NULL, "GLOBAL PAY", 6, 0, PK_CARD, 2},
                                               {NULL, "MIB CASH", 0, 0, PK_CASH, 1},
                                               {NULL, "PANDA DELIVERY", 0, 0, PK_APP, 1},
                                               {NULL, "GC P500", 2, 500, PK_GC, 1},
                                               {NULL, "VOUCHER P50", 2, 50, PK_GC, 1},
                                               {NULL, "SHOPEE FOOD", 6, 0, PK_APP, 1}};
#define N_PAY_POOL NELEM(classic_pay_pool)

/* Newer POS masters: small, like the newer-POS sample. */
typedef struct gen_newer_item {
    const char *code, *name, *dep;
    int price;
    const char *categ;
} gen_newer_item;

static const gen_newer_item newer_items[] = {{"DRK1", "COLA IN CAN", "406", 85, "DRK101"},
                                             {"DRK2", "BOTTLED WATER", "406", 45, "DRK101"},
                                             {"DRK3", "LEMON SODA CAN", "406", 99, "DRK101"},
                                             {"MLS1", "Herb Roast Chicken", "406", 275, "1"},
                                             {"MLS2", "Grilled Salmon", "406", 495, "1"},
                                             {"MLS3", "Beef Tapa Bowl", "406", 295, "1"},
                                             {"MLS4", "Meatball Marinara", "406", 245, "1"},
                                             {"MLS5", "Baked Ziti", "406", 255, "1"},
                                             {"MLS6", "Chicken Pesto Rice", "406", 265, "1"},
                                             {"SLD1", "Caesar Salad", "406", 185, "2"},
                                             {"SLD2", "Mango Kani Salad", "406", 195, "2"},
                                             {"SNK1", "Loaded Nachos", "406", 225, "3"},
                                             {"SNK2", "Cheese Burger", "406", 295, "3"},
                                             {"SNK3", "Chicken Sandwich", "406", 195, "3"},
                                             {"SNK4", "Truffle Fries", "406", 135, "3"},
                                             {"SNK5", "Brownie a la Mode", "406", 175, "3"},
                                             {"SNK6", "Clubhouse", "406", 215, "3"},
                                             {"COF1", "H12 AMERICANO", "401", 145, "HOT101"},
                                             {"COF11", "ICD16 LATTE", "401", 175, "ICED101"},
                                             {"COF12", "ICD16 MOCHA", "401", 175, "ICED101"},
                                             {"COF13", "ICD24 MOCHA", "401", 185, "ICED101"},
                                             {"COF14", "ICD16 SPANISH L", "401", 185, "ICED101"},
                                             {"COF15", "ICD24 CARAMEL M", "401", 185, "ICED101"},
                                             {"COF2", "H12 LATTE", "401", 165, "HOT101"},
                                             {"COF21", "F16 MOCHA", "401", 149, "FRA101"},
                                             {"COF22", "F24 MATCHA", "401", 195, "FRA101"},
                                             {"COF23", "F16 JAVA CHIP", "401", 175, "FRA101"},
                                             {"COF3", "H12 CAPPUCCINO", "401", 165, "HOT101"},
                                             {"COF4", "H12 MOCHA", "401", 175, "HOT101"},
                                             {"COF5", "H12 CARAMEL M", "401", 175, "HOT101"},
                                             {"NCOF1", "H12 NC CHOCO", "402", 165, "NON102"},
                                             {"NCOF2", "H12 NC MATCHA", "402", 175, "NON102"}};
#define N_NEWER_ITEMS NELEM(newer_items)

typedef struct gen_newer_dept {
    const char *code, *desc, *group;
} gen_newer_dept;

static const gen_newer_dept newer_depts[] = {
    {"1", "MEALS", "CAFE MEALS"},   {"2", "SALAD", "CAFE MEALS"},
    {"3", "SNACKS", "CAFE MEALS"},  {"DRK101", "DRINKS", "CAFE MEALS"},
    {"FRA101", "FRAPPE", "COFFEE"}, {"HOT101", "HOT", "COFFEE"},
    {"ICED101", "ICED", "COFFEE"},  {"NON102", "HOT", "NON COFFEE"}};
#define N_NEWER_DEPTS NELEM(newer_depts)

static const gen_disc_def newer_discs[] = {{"PWD", "20% PWD DISCOUNT", 0, 20},
                                           {"SC", "20% SC DISCOUNT", 0, 20}};
static const gen_pay_def newer_pays[] = {{"10019", "E-WALLET", 0, 0, PK_EWALLET, 12},
                                         {"10001", "CASH", 0, 0, PK_CASH, 70},
                                         {"10018", "PAYMAYA", 0, 0, PK_EWALLET, 18}};

/* ------------------------------------------------------------------------ */
/* Branch model                                                              */

typedef struct gen_prod {
    char code[16];
    char name[56]; /* raw text; quoted on output when needed */
    char ecr[56];
    char dep[12];      /* rd5500 DEP_CODE */
    char categ[12];    /* newer POS: CATEG_ID, an rd1800 code */
    long long price;   /* classic: thousandths; newer: whole pesos */
    long long taxamt;  /* classic TAXAMOUNT1, thousandths */
    unsigned char div; /* classic TAX1DIV: 0 = 9.330000, 1 = 9.333333, 2 = none (0.000000) */
    unsigned char box; /* UNIT is BOX */
} gen_prod;

typedef struct gen_dept {
    char code[12], desc[40], group[24];
} gen_dept;

typedef struct gen_disc {
    char code[8], desc[32];
    int amount_type, value;
} gen_disc;

typedef struct gen_pay {
    char code[8], desc[32];
    int method, max, kind, weight;
} gen_pay;

/* A newer-POS product's tax columns as text.  Made once per branch: printf
 * and strtod (py_repr tries up to 17 precisions) would otherwise be the
 * largest cost of the whole generator. */
typedef struct gen_newer_tax {
    char tax[40], div[40];   /* TAXAMOUNT1, TAX1DIV, as Python printed them */
    char gtax[40], gdiv[40]; /* the same in FULL, as printf's %g */
} gen_newer_tax;

typedef struct gen_branch {
    int idx;
    char code[24];
    int newer;
    gen_profile pf;
    int hour_cum[24]; /* cumulative hourly weights */
    gen_prod *prod;
    gen_newer_tax *tax; /* newer POS: per product; NULL on the classic POS */
    int nprod;          /* all products (the master grows over time) */
    int nprod_base;     /* listed from day 0; one more every 45 days */
    int rep1;           /* the guest-count item, -1 on the newer POS */
    int *menu;          /* sellable products */
    uint32_t *menu_cum;
    int nmenu;
    gen_dept dept[80];
    int ndept;
    gen_disc disc[128];
    int ndisc;
    gen_pay pay[32];
    int npay;
    int sp_pm;   /* per mille of receipts with a senior/PWD discount */
    int rep_pct; /* percent of receipts with a guest-count line */
} gen_branch;

static void branch_free(gen_branch *b)
{
    if (!b)
        return;
    free(b->prod);
    free(b->tax);
    free(b->menu);
    free(b->menu_cum);
    free(b);
}

static void copy_str(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

/* ECR_DESC: the receipt printer's 14-character form of the name. */
static void make_ecr(char *dst, size_t n, const char *name)
{
    copy_str(dst, n < 15 ? n : 15, name);
    size_t l = strlen(dst);
    while (l && dst[l - 1] == ' ')
        dst[--l] = '\0';
}

static const gen_pool *any_pool(gen_rng *r)
{
    return &pools[1 + rng_below(r, P_COUNT - 1)];
}

/* A word of a random dish pool: two draws, the pool and the word. */
static const char *any_dish(gen_rng *r)
{
    const gen_pool *p = any_pool(r);
    return p->w[rng_below(r, (uint32_t)p->n)];
}

/* The name of product k of family f. */
static void make_name(gen_rng *r, const gen_family *f, int k, char *out, size_t n)
{
    switch (f->style) {
    case ST_DISH: {
        const gen_pool *p = f->pool != P_ANY ? &pools[f->pool] : any_pool(r);
        if (k < p->n && f->pool != P_ANY) {
            sfmt(out, n, "%s", p->w[k]); /* the plain dish first */
            break;
        }
        const char *mod = PICK(r, dish_mods);
        sfmt(out, n, "%s%s%s", p->w[rng_below(r, (uint32_t)p->n)], *mod ? " " : "", mod);
        break;
    }
    case ST_DRINK: {
        const char *sz = PICK(r, drink_sizes);
        sfmt(out, n, "%s%s%s", PICK(r, drinks), *sz ? " " : "", sz);
        break;
    }
    case ST_DESSERT: {
        /* the draws in the order the pinned output was made with */
        const char *whole = rng_below(r, 3) == 0 ? " WHOLE" : "";
        const char *d = PICK(r, desserts);
        sfmt(out, n, "%s%s", d, whole);
        break;
    }
    case ST_EXTRA: sfmt(out, n, "%s", PICK(r, extras)); break;
    case ST_REP:
        if (k == 0)
            sfmt(out, n, "GUEST COUNT");
        else
            sfmt(out, n, "REP %s", any_dish(r));
        break;
    case ST_FREE:
        sfmt(out, n, "FREE %s", rng_below(r, 2) ? PICK(r, drinks) : PICK(r, desserts));
        break;
    case ST_PACK:
        if (rng_below(r, 2))
            sfmt(out, n, "PARTY PACK %c%d", (char)('A' + rng_below(r, 8)), k % 9 + 1);
        else
            sfmt(out, n, "%s TRAY", any_dish(r));
        break;
    default: /* ST_LOYAL */ sfmt(out, n, "FREE %s", any_dish(r)); break;
    }
}

static void add_menu(gen_branch *b, int prod, uint32_t w, uint32_t *total)
{
    b->menu[b->nmenu] = prod;
    *total += w ? w : 1;
    b->menu_cum[b->nmenu] = *total;
    b->nmenu++;
}

/* Room for `nprod` products and a menu of `nmenu`: 0 or TP_ENOMEM (what was
 * allocated is freed with the branch). */
static int alloc_products(gen_branch *b, int nprod, int nmenu)
{
    b->prod = calloc((size_t)nprod, sizeof *b->prod);
    b->menu = calloc((size_t)nmenu, sizeof *b->menu);
    b->menu_cum = calloc((size_t)nmenu, sizeof *b->menu_cum);
    return b->prod && b->menu && b->menu_cum ? 0 : TP_ENOMEM;
}

static void set_dept(gen_dept *d, const char *code, const char *desc, const char *group)
{
    copy_str(d->code, sizeof d->code, code);
    copy_str(d->desc, sizeof d->desc, desc);
    copy_str(d->group, sizeof d->group, group);
}

static void set_disc(gen_disc *d, const char *code, const char *desc, int amount_type, int value)
{
    copy_str(d->code, sizeof d->code, code);
    copy_str(d->desc, sizeof d->desc, desc);
    d->amount_type = amount_type;
    d->value = value;
}

static void set_pay(gen_pay *p, const char *code, const gen_pay_def *def)
{
    copy_str(p->code, sizeof p->code, code);
    copy_str(p->desc, sizeof p->desc, def->desc);
    p->method = def->method;
    p->max = def->max;
    p->kind = def->kind;
    p->weight = def->weight;
}

/* Rename a few sold products so the files carry the real quirks: names with
 * a doubled quote, with a comma, with a U+00A0 no-break space. */
static void add_name_quirks(gen_branch *b)
{
    static const char *const quoted[] = {"EXT\"E BURGER", "12\" PARTY PIZZA", "SUP\"R MEAL"};
    static const char *const commas[] = {"CHICKEN, RICE & DRINK", "EGG, HAM & CHEESE",
                                         "FRIES, LARGE"};
    for (int i = 0; i < 8 && i * 5 + 2 < b->nmenu; i++) {
        gen_prod *p = &b->prod[b->menu[i * 5 + 2]];
        if (p->price == 0)
            continue;
        if (i < 3) {
            copy_str(p->name, sizeof p->name, quoted[i]);
            if (i == 0)
                copy_str(p->ecr, sizeof p->ecr, "EXT\"E BURGER");
            else
                make_ecr(p->ecr, sizeof p->ecr, p->name);
        } else if (i < 6) {
            copy_str(p->name, sizeof p->name, commas[i - 3]);
            make_ecr(p->ecr, sizeof p->ecr, p->name);
        } else {
            /* "CARBO<NBSP>PAN" inside, "TUNA SALP<NBSP>" at the end */
            char tmp[56];
            if (i == 6)
                sfmt(tmp, sizeof tmp, "CARBO\xc2\xa0PAN");
            else
                sfmt(tmp, sizeof tmp, "TB TUNA SALP\xc2\xa0");
            copy_str(p->name, sizeof p->name, tmp);
            copy_str(p->ecr, sizeof p->ecr, tmp);
        }
    }
}

/* ---- the classic POS's master files, built once per branch ---- */

/* Products per family, varied around the family's count; returns the sum. */
static int classic_counts(gen_rng *r, int counts[N_FAMILIES])
{
    int total = 0;
    for (int f = 0; f < N_FAMILIES; f++) {
        int c = families[f].count;
        if (c > 4 && families[f].style != ST_REP)
            c = c * rng_range(r, 92, 108) / 100;
        if (families[f].style == ST_REP)
            c = c * rng_range(r, 85, 110) / 100;
        counts[f] = c;
        total += c;
    }
    return total;
}

/* Name, receipt-printer name and department of product k of family fa. */
static void name_product(gen_prod *p, gen_rng *r, const gen_family *fa, int k)
{
    make_name(r, fa, k, p->name, sizeof p->name);
    make_ecr(p->ecr, sizeof p->ecr, p->name);
    copy_str(p->dep, sizeof p->dep, fa->dep);
}

/* Price (thousandths), tax amount and tax division of a product of fa. */
static void price_product(gen_prod *p, gen_rng *r, const gen_family *fa)
{
    if (fa->style == ST_LOYAL) {
        p->price = rng_below(r, 10) < 6 ? 10 : 0; /* 0.010, as real loyalty items */
    } else if ((int)rng_below(r, 1000) < fa->zero_pm) {
        p->price = 0;
    } else {
        long long pesos = rng_range(r, fa->lo, fa->hi);
        if (pesos >= 20 && rng_below(r, 10) < 7)
            pesos = pesos / 10 * 10 + 9;
        p->price = pesos * 1000;
        if (rng_below(r, 40) == 0)
            p->price += 500;
    }
    p->taxamt = p->price * rng_range(r, 3, 11) / 100 / 10 * 10;
    uint32_t u = rng_below(r, 1000);
    p->div = u < 3 ? 2 : (u < 150 ? 0 : 1);
}

/* Every family's products, then `extra` that join the master later (one
 * every 45 days, see active_products); one product is sold by the box. */
static void classic_products(gen_branch *b, gen_rng *r, const int *counts, int extra)
{
    int n = 0;
    for (int f = 0; f < N_FAMILIES; f++) {
        const gen_family *fa = &families[f];
        for (int k = 0; k < counts[f]; k++) {
            gen_prod *p = &b->prod[n++];
            if (!strcmp(fa->prefix, "MPBD"))
                sfmt(p->code, sizeof p->code, "%s%02d", fa->prefix, k + 1);
            else
                sfmt(p->code, sizeof p->code, "%s%d", fa->prefix, k + 1);
            name_product(p, r, fa, k);
            price_product(p, r, fa);
        }
    }
    b->nprod_base = n;
    for (int k = 0; k < extra; k++) {
        gen_prod *p = &b->prod[n++];
        const gen_family *fa = &families[rng_below(r, N_FAMILIES)];
        if (fa->style == ST_REP)
            fa = &families[0];
        sfmt(p->code, sizeof p->code, "NEW%d", k + 1);
        name_product(p, r, fa, 1000);
        p->price = (long long)rng_range(r, 99, 399) * 1000;
        p->taxamt = p->price * 8 / 100 / 10 * 10;
        p->div = 1;
    }
    b->nprod = n;
    b->prod[rng_below(r, (uint32_t)b->nprod_base)].box = 1;
}

/* The menu: the first items of each sold family, Zipf-like weights; and
 * the guest-count item. */
static void classic_menu(gen_branch *b, const int *counts)
{
    uint32_t mt = 0;
    int first = 0;
    b->rep1 = -1;
    for (int f = 0; f < N_FAMILIES; f++) {
        const gen_family *fa = &families[f];
        if (fa->style == ST_REP)
            b->rep1 = first;
        if (fa->sell > 0) {
            int take = counts[f] < 14 ? counts[f] : 14;
            int w = fa->sell;
            if (!strcmp(fa->prefix, "DEL"))
                w *= b->pf.deliv_w;
            for (int k = 0; k < take; k++)
                add_menu(b, first + k, (uint32_t)(w * 1000 / (k + 2)), &mt);
        }
        first += counts[f];
    }
}

/* The chain's department list, a few unused ones dropped per branch. */
static void classic_departments(gen_branch *b, gen_rng *r)
{
    b->ndept = 0;
    for (int i = 0; i < N_CLASSIC_DEPTS && b->ndept < NELEM(b->dept); i++) {
        const gen_dept_def *d = &classic_depts[i];
        int used = 0;
        for (int f = 0; f < N_FAMILIES && !used; f++)
            used = !strcmp(families[f].dep, d->code);
        if (!used && rng_below(r, 10) == 0)
            continue;
        set_dept(&b->dept[b->ndept++], d->code, d->desc, "");
    }
}

static int in_disc_head(const char *code)
{
    for (int i = 0; i < N_DISC_HEAD; i++)
        if (!strcmp(classic_disc_head[i].code, code))
            return 1;
    return 0;
}

/* A local partner's discount: a capped amount or a percentage. */
static void partner_discount(gen_disc *d, gen_rng *r, const char *code)
{
    char desc[64];
    const char *org = PICK(r, orgs);
    const char *town = PICK(r, towns);
    if (rng_below(r, 3) == 0) {
        sfmt(desc, sizeof desc, "%s 1000MAX", org);
        desc[20] = '\0'; /* the POS keeps 20 characters */
        set_disc(d, code, desc, 1, 1000);
    } else {
        int pct = rng_below(r, 4) ? 8 : 10;
        sfmt(desc, sizeof desc, "%d%% %s %s", pct, org, town);
        desc[20] = '\0';
        set_disc(d, code, desc, 0, pct);
    }
}

/* The fixed head (the discounts receipts use), then partner discounts up
 * to ~100, numbered from 21 around the head's codes. */
static void classic_discounts(gen_branch *b, gen_rng *r)
{
    b->ndisc = 0;
    for (int i = 0; i < N_DISC_HEAD; i++) {
        const gen_disc_def *h = &classic_disc_head[i];
        set_disc(&b->disc[b->ndisc++], h->code, h->desc, h->amount_type, h->value);
    }
    int ndisc = rng_range(r, 92, 112);
    for (int code = 21; b->ndisc < ndisc && code < 400; code++) {
        char cs[8];
        sfmt(cs, sizeof cs, "%d", code);
        if (!in_disc_head(cs))
            partner_discount(&b->disc[b->ndisc++], r, cs);
    }
}

/* Cash and credit card, then some of the pool (e-wallets, debit and
 * delivery apps always), numbered with the gaps retired codes leave. */
static void classic_payments(gen_branch *b, gen_rng *r)
{
    b->npay = 0;
    for (int i = 0; i < NELEM(classic_pay_head); i++)
        set_pay(&b->pay[b->npay++], classic_pay_head[i].code, &classic_pay_head[i]);
    int want = rng_range(r, 15, 24), code = 1;
    for (int i = 0; i < N_PAY_POOL && b->npay < want; i++) {
        const gen_pay_def *d = &classic_pay_pool[i];
        if (d->kind != PK_EWALLET && d->kind != PK_DEBIT && d->kind != PK_APP &&
            rng_below(r, 4) == 0)
            continue;
        if (rng_below(r, 5) == 0)
            code++;
        char cs[8];
        sfmt(cs, sizeof cs, "%d", code++);
        gen_pay *p = &b->pay[b->npay++];
        set_pay(p, cs, d);
        if (d->kind == PK_APP)
            p->weight *= b->pf.deliv_w;
    }
}

static int build_classic_master(gen_branch *b, gen_rng *r, int days)
{
    int counts[N_FAMILIES];
    int total = classic_counts(r, counts);
    int extra = days / 45 + 1;
    if (extra > 200)
        extra = 200;
    if (alloc_products(b, total + extra, total))
        return TP_ENOMEM;
    classic_products(b, r, counts, extra);
    classic_menu(b, counts);
    add_name_quirks(b);
    classic_departments(b, r);
    classic_discounts(b, r);
    classic_payments(b, r);
    b->sp_pm = rng_range(r, 90, 230);
    b->rep_pct = rng_range(r, 35, 75);
    return 0;
}

static void set_newer_tax(gen_newer_tax *x, long long pesos)
{
    double price = (double)pesos;
    py_repr(price / 1.12, x->tax, sizeof x->tax);
    py_repr(price * 0.12 / 1.12, x->div, sizeof x->div);
    sfmt(x->gtax, sizeof x->gtax, "%g", price / 1.12);
    sfmt(x->gdiv, sizeof x->gdiv, "%g", price * 0.12 / 1.12);
}

/* The newer POS's masters: the fixed tables, prices varied per branch. */
static int build_newer_master(gen_branch *b, gen_rng *r)
{
    b->tax = calloc(N_NEWER_ITEMS, sizeof *b->tax);
    if (!b->tax || alloc_products(b, N_NEWER_ITEMS, N_NEWER_ITEMS))
        return TP_ENOMEM;
    uint32_t mt = 0;
    for (int i = 0; i < N_NEWER_ITEMS; i++) {
        gen_prod *p = &b->prod[i];
        const gen_newer_item *it = &newer_items[i];
        copy_str(p->code, sizeof p->code, it->code);
        copy_str(p->name, sizeof p->name, it->name);
        copy_str(p->ecr, sizeof p->ecr, it->name);
        copy_str(p->dep, sizeof p->dep, it->dep);
        copy_str(p->categ, sizeof p->categ, it->categ);
        p->price = it->price + (rng_below(r, 4) == 0 ? 10 : 0);
        add_menu(b, i, 200 + rng_below(r, 1800), &mt);
        set_newer_tax(&b->tax[i], p->price);
    }
    b->nprod = b->nprod_base = N_NEWER_ITEMS;
    b->rep1 = -1;
    b->ndept = N_NEWER_DEPTS;
    for (int i = 0; i < N_NEWER_DEPTS; i++)
        set_dept(&b->dept[i], newer_depts[i].code, newer_depts[i].desc, newer_depts[i].group);
    b->ndisc = NELEM(newer_discs);
    for (int i = 0; i < b->ndisc; i++)
        set_disc(&b->disc[i], newer_discs[i].code, newer_discs[i].desc, newer_discs[i].amount_type,
                 newer_discs[i].value);
    b->npay = NELEM(newer_pays);
    for (int i = 0; i < b->npay; i++)
        set_pay(&b->pay[i], newer_pays[i].code, &newer_pays[i]);
    b->sp_pm = rng_range(r, 150, 300);
    b->rep_pct = 0;
    return 0;
}

/* ---- the branch ---- */

/* Volume, opening hours, receipt types, export time: fixed for the first
 * eight branches (the chain's configured ones), drawn for the others. */
static void branch_profile(gen_branch *b, gen_rng *r)
{
    if (b->idx < NELEM(fixed_profiles)) {
        b->pf = fixed_profiles[b->idx];
        return;
    }
    double u = rng_unit(r);
    b->pf.base = 120 + (int)(780.0 * u * u); /* 120..900, mostly small */
    b->pf.h24 = rng_below(r, 100) < 15;
    b->pf.p_dine = rng_range(r, 35, 75);
    b->pf.p_deliv = rng_range(r, 1, 8);
    b->pf.hhmm = PICK(r, export_times);
    b->pf.store = PICK(r, stores);
    b->pf.deliv_w = rng_range(r, 1, 4);
}

/* Hourly receipt weights: meal peaks; graveyard hours are quiet but never
 * empty, busy for around-the-clock branches. */
static void branch_hours(gen_branch *b)
{
    static const int classic_w[24] = {3,  2,  2,  1,  1,  2,  10, 30, 40, 35, 40, 60,
                                      70, 50, 30, 30, 35, 45, 55, 50, 30, 15, 8,  5};
    static const int newer_w[24] = {2,  1,  1,  1,  1,  1,  2,  4,  6,  8,  10, 15,
                                    15, 12, 12, 25, 30, 35, 35, 30, 25, 20, 15, 6};
    int cum = 0;
    for (int h = 0; h < 24; h++) {
        int w = b->newer ? newer_w[h] : classic_w[h];
        if (b->pf.h24 && (h <= 5 || h >= 22))
            w = w * 10 + 20;
        cum += w;
        b->hour_cum[h] = cum;
    }
}

/* Branch number idx (0-based), its masters made for `days` days, into *out
 * (free with branch_free; NULL on failure).  0 or TP_ENOMEM with err set. */
static int branch_build(uint64_t seed, int idx, int days, gen_branch **out, tp_error *err)
{
    gen_branch *b = calloc(1, sizeof *b);
    *out = NULL;
    if (!b)
        return tp_error_set(err, TP_ENOMEM, "gen: out of memory");
    gen_rng r = rng_make(seed, K_BRANCH, (uint64_t)idx, 0, 0);
    b->idx = idx;
    if (idx < N_BRANCH_CODES)
        copy_str(b->code, sizeof b->code, branch_codes[idx]);
    else
        sfmt(b->code, sizeof b->code, "B%03d", idx + 1);
    for (int i = 0; i < NELEM(newer_branches); i++)
        if (!strcmp(b->code, newer_branches[i]))
            b->newer = 1;
    branch_profile(b, &r);
    branch_hours(b);
    int rc = b->newer ? build_newer_master(b, &r) : build_classic_master(b, &r, days);
    if (rc) {
        branch_free(b);
        return tp_error_set(err, rc, "gen: out of memory");
    }
    *out = b;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Terminal state: counters that run across days, the loyalty file           */

typedef struct gen_lrow {
    long long transno, orno;
    uint32_t cust;
    unsigned char reps, flags;
} gen_lrow;

enum { LF_EMPTY = 1, LF_BADPHONE = 2 };

typedef struct gen_term {
    int pos;
    int base_lines; /* order lines on an average day */
    long long next_invoice, next_transno;
    int cas[4];
    int ncas;
    uint64_t phone_salt;
    uint32_t cust_pool;            /* loyalty members of this terminal */
    long long init_rows, cap_rows; /* loyalty rows on day 1, and where growth levels off */
    long long hist_rows;           /* rows from before day 1 (set on day 1) */
    long long hist_start, hist_off;
    long long cur_rows; /* rows in today's loyalty file */
    gen_lrow *app;      /* rows added since day 1, in file order */
    size_t napp, capp;
} gen_term;

typedef struct gen_ctx gen_ctx;

static void term_init(uint64_t seed, long long blpr_rows, const gen_branch *b, gen_term *t, int pos)
{
    memset(t, 0, sizeof *t);
    gen_rng r = rng_make(seed, K_TERM, (uint64_t)b->idx, (uint64_t)pos, 0);
    t->pos = pos;
    t->base_lines = b->pf.base;
    if (pos > 1)
        t->base_lines = b->pf.base * rng_range(&r, 30, 70) / 100;
    if (t->base_lines < GEN_VARIED_MIN)
        t->base_lines = GEN_VARIED_MIN;
    if (b->newer) {
        t->ncas = 1;
        t->cas[0] = rng_range(&r, 100, 199);
    } else {
        t->ncas = rng_range(&r, 2, 4);
        for (int i = 0; i < t->ncas; i++)
            t->cas[i] = rng_below(&r, 3) ? rng_range(&r, 1000, 2999) : rng_range(&r, 10000, 29999);
    }
    t->phone_salt = rng_next(&r);
    if (b->newer) {
        t->init_rows = t->cap_rows = 0; /* the newer POS sends the loyalty header only */
    } else if (blpr_rows > 0) {
        t->init_rows = blpr_rows;
        t->cap_rows = blpr_rows * 25 / 12;
    } else {
        t->init_rows = 12000LL * rng_range(&r, 90, 110) / 100;
        t->cap_rows = 25000LL * rng_range(&r, 95, 105) / 100;
    }
    t->cust_pool = (uint32_t)(2000 + t->init_rows / 3);
    t->hist_start = rng_range(&r, 1000, 20000);
    t->hist_off = rng_range(&r, 150, 2500);
    if (b->newer) {
        t->next_invoice = (long long)pos * 10000000000000LL + rng_range(&r, 1000, 9000);
        t->next_transno = t->next_invoice;
    } else {
        t->next_transno = t->hist_start + t->init_rows * 24 + rng_range(&r, 1000, 30000);
        t->next_invoice = t->next_transno + t->hist_off + rng_range(&r, 0, 400);
    }
}

static void term_free(gen_term *t)
{
    free(t->app);
    t->app = NULL;
    t->napp = t->capp = 0;
}

/* ------------------------------------------------------------------------ */
/* Day model: the receipts and order lines of one terminal-day               */

enum { LINE_DISC = -1 }; /* prod <= -10: item "ZZ<n>", missing from the master */
enum { BAD_NONE, BAD_TIME, BAD_PREVDATE, BAD_QTY };

typedef struct gen_line {
    int prod;
    int qty;
    long long unit, amount, disc, vatdiv, vat_amnt, vat_disc,
        vat_pric;           /* classic 1e-3, newer 1e-4 */
    unsigned char vat_flag; /* 0, 1, 2 = empty */
    unsigned char bad;      /* BAD_* */
    unsigned char rec_no;
} gen_line;

typedef struct gen_rcpt {
    int sec;           /* second of the business day */
    int first, nlines; /* into the line array */
    long long invoice, transno;
    long long total;
    int disc; /* into b->disc, -1 none */
    int cas;
    unsigned char refund, sp, type, npay, short5800;
    unsigned char pay[2];
    long long tender[2], change[2];
    uint64_t salt; /* source of the receipt's reference strings */
} gen_rcpt;

struct gen_ctx {
    uint64_t seed;
    int faults, orders;
    long long blpr_rows;
    const char *dir;
    tp_error *err;
    tp_gen_stats st;
    gen_rcpt *rc;
    int nrc;
    gen_line *ln;
    int nln, capln; /* capln: room in ln, rc and tmp */
    int *tmp;       /* receipt times, loyalty picks */
    char date[11], prev[11];
    int rot;      /* newer POS: the receipt its rd5000 export starts with */
    int npayrows; /* rd5800 rows of the day */
    gen_out out;
};

static int ensure_day(gen_ctx *c, int lines)
{
    if (lines > c->capln) {
        int n = lines < 256 ? 256 : lines;
        gen_line *ln = realloc(c->ln, (size_t)n * sizeof *ln);
        if (!ln)
            return TP_ENOMEM;
        c->ln = ln;
        c->capln = n;
        gen_rcpt *rc = realloc(c->rc, (size_t)n * sizeof *rc);
        if (!rc)
            return TP_ENOMEM;
        c->rc = rc;
        int *tmp = realloc(c->tmp, (size_t)n * sizeof *tmp);
        if (!tmp)
            return TP_ENOMEM;
        c->tmp = tmp;
    }
    return 0;
}

static int pick_cum(const uint32_t *cum, int n, gen_rng *r)
{
    uint32_t x = rng_below(r, cum[n - 1]);
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int pick_qty(gen_rng *r)
{
    uint32_t u = rng_below(r, 100);
    if (u < 86)
        return 1;
    if (u < 95)
        return 2;
    if (u < 98)
        return 3;
    if (u < 99)
        return 4;
    return rng_range(r, 5, 11);
}

/* Classic amounts, thousandths.  Senior/PWD (sp): VAT-exempt price rounded
 * to centavos, 20% off; other discounts: `pct` off the VAT-inclusive price. */
static void line_classic(gen_line *ln, long long price, int qty, int sp, int pct)
{
    ln->qty = qty;
    ln->vat_disc = 0;
    ln->vatdiv = 0;
    if (sp) {
        ln->unit = (price * 100 + 560) / 1120 * 10;
        ln->amount = (qty * price * 100 + 560) / 1120 * 10;
        ln->disc = -((ln->amount * pct + 500) / 1000 * 10);
        ln->vat_flag = 0;
        ln->vat_amnt = ln->amount;
        ln->vat_pric = ln->unit;
    } else {
        ln->unit = price;
        ln->amount = qty * price;
        ln->disc = pct ? -((ln->amount * pct + 500) / 1000 * 10) : 0;
        ln->vat_flag = 1;
        ln->vat_amnt = (ln->amount * 100 + 56) / 112;
        ln->vat_pric = (price * 100 + 56) / 112;
    }
}

/* Newer-POS amounts, ten-thousandths; `price` in whole pesos.  disc: -1
 * none, 0 PWD, 1 SC (20% off the VAT-exempt price). */
static void line_newer(gen_line *ln, long long price, int qty, int disc)
{
    long long gross = qty * price * 10000;
    long long net = (gross * 100 + 56) / 112;
    ln->qty = qty;
    ln->unit = price;
    if (disc < 0) {
        ln->amount = gross;
        ln->disc = 0;
        ln->vat_flag = 1;
        ln->vatdiv = gross - net;
        ln->vat_amnt = net;
        ln->vat_disc = 0;
        ln->vat_pric = net;
    } else {
        ln->disc = (net * 2 + 5) / 10;
        ln->amount = net - ln->disc;
        ln->vat_flag = disc == 1;
        ln->vatdiv = 0;
        ln->vat_amnt = 0;
        ln->vat_disc = ln->amount;
        ln->vat_pric = 0;
    }
}

/* An item line of a classic receipt: a menu item, now and then one missing
 * from the master ("ZZ<n>"). */
static void classic_item(gen_line *l, const gen_branch *b, gen_rng *r, int sp, int pct)
{
    if (rng_below(r, 1000) < 3) {
        int z = rng_range(r, 1, 60);
        l->prod = -10 - z;
        line_classic(l, (99 + z % 5 * 30) * 1000LL, pick_qty(r), sp, pct);
    } else {
        l->prod = b->menu[pick_cum(b->menu_cum, b->nmenu, r)];
        line_classic(l, b->prod[l->prod].price, pick_qty(r), sp, pct);
    }
}

/* The discount line that closes a discounted classic receipt. */
static void disc_line(gen_line *l, int pct, long long dsum)
{
    memset(l, 0, sizeof *l);
    l->prod = LINE_DISC;
    l->qty = 1;
    l->unit = pct * 1000LL;
    l->amount = dsum;
    l->vat_flag = 2;
    l->vat_amnt = dsum;
}

static void receipt_classic(gen_ctx *c, const gen_branch *b, gen_rcpt *rc, gen_rng *r,
                            int remaining)
{
    gen_line *ln = &c->ln[rc->first];
    int refund = c->nrc > 3 && rng_below(r, 1000) < 8;
    int sp = 0, disc = -1;
    if (!refund) {
        int u = (int)rng_below(r, 1000);
        if (u < b->sp_pm) {
            sp = 1;
            disc = rng_below(r, 10) < 7 ? DISC_SNR : DISC_PWD;
        } else if (u < b->sp_pm + 25) {
            disc = PICK(r, promo_discs);
        }
    }
    int items = 1;
    while (items < 12 && rng_below(r, 100) < 42)
        items++;
    int rep = b->rep1 >= 0 && (int)rng_below(r, 100) < b->rep_pct;
    int dl = disc >= 0;
    while (items + rep + dl > remaining) {
        if (rep)
            rep = 0;
        else if (dl) {
            dl = 0;
            disc = -1;
            sp = 0;
        } else
            items--;
    }
    int pct = disc >= 0 ? b->disc[disc].value : 0;
    int rep_front = rng_below(r, 100) < 65, guests = rng_range(r, 1, 4);
    int n = 0;
    long long sum = 0, dsum = 0;
    for (int k = 0; k < items + rep; k++) {
        gen_line *l = &ln[n];
        memset(l, 0, sizeof *l);
        if (rep && ((rep_front && k == 0) || (!rep_front && k == items))) {
            l->prod = b->rep1;
            line_classic(l, 0, guests, sp, 0);
        } else {
            classic_item(l, b, r, sp, pct);
        }
        sum += l->amount;
        dsum += l->disc;
        l->rec_no = (unsigned char)(n + 1);
        n++;
    }
    if (dl) {
        disc_line(&ln[n], pct, dsum);
        ln[n].rec_no = (unsigned char)(n + 1);
        n++;
    }
    rc->nlines = n;
    rc->refund = (unsigned char)refund;
    rc->sp = (unsigned char)sp;
    rc->disc = disc;
    rc->total = sum + dsum;
}

static void receipt_newer(gen_ctx *c, const gen_branch *b, gen_rcpt *rc, gen_rng *r, int remaining)
{
    gen_line *ln = &c->ln[rc->first];
    int items = 1;
    while (items < 8 && rng_below(r, 100) < 40)
        items++;
    if (items > remaining)
        items = remaining;
    int disc = (int)rng_below(r, 1000) < b->sp_pm ? (int)rng_below(r, 2) : -1;
    long long sum = 0;
    for (int k = 0; k < items; k++) {
        gen_line *l = &ln[k];
        memset(l, 0, sizeof *l);
        l->prod = b->menu[pick_cum(b->menu_cum, b->nmenu, r)];
        line_newer(l, b->prod[l->prod].price, pick_qty(r), disc);
        l->rec_no = 1;
        sum += l->amount;
    }
    rc->nlines = items;
    rc->disc = disc;
    rc->sp = disc >= 0;
    rc->total = sum;
}

static int pick_pay(const gen_branch *b, gen_rng *r, int kind)
{
    uint32_t tot = 0;
    for (int i = 0; i < b->npay; i++)
        if (kind < 0 || b->pay[i].kind == kind)
            tot += (uint32_t)b->pay[i].weight;
    if (!tot)
        return 0;
    uint32_t x = rng_below(r, tot);
    for (int i = 0; i < b->npay; i++) {
        if (kind >= 0 && b->pay[i].kind != kind)
            continue;
        if (x < (uint32_t)b->pay[i].weight)
            return i;
        x -= (uint32_t)b->pay[i].weight;
    }
    return 0;
}

/* A cash tender for `total` in units where `peso` is one peso. */
static long long cash_tender(long long total, long long peso, gen_rng *r)
{
    static const int bills[] = {100, 200, 500, 1000, 2000};
    if (total <= 0)
        return 0;
    if (rng_below(r, 100) < 25)
        return (total + peso - 1) / peso * peso;
    for (int i = 0; i < NELEM(bills); i++)
        if (bills[i] * peso >= total && rng_below(r, 4) != 0)
            return bills[i] * peso;
    return (total + 1000 * peso - 1) / (1000 * peso) * (1000 * peso);
}

static void pay_receipt(const gen_branch *b, gen_rcpt *rc, gen_rng *r)
{
    long long peso = b->newer ? 10000 : 1000;
    int pi;
    if (!b->newer && rc->total > 0 && rc->total <= peso)
        pi = pick_pay(b, r, PK_LOYAL); /* loyalty freebies priced 0.010 */
    else if (!b->newer && rc->type != 'D' && rng_below(r, 100) < 35)
        pi = pick_pay(b, r, PK_APP);
    else
        pi = pick_pay(b, r, -1);
    rc->npay = 1;
    rc->pay[0] = (unsigned char)pi;
    if (!b->newer && !rc->refund && rc->total > 300 * peso && rng_below(r, 1000) < 15 &&
        b->pay[pi].kind != PK_CASH) {
        /* split: part cash, the rest by the other method */
        rc->npay = 2;
        rc->pay[0] = 0;
        rc->tender[0] = rc->total * rng_range(r, 10, 60) / 100 / peso * peso;
        rc->change[0] = 0;
        rc->pay[1] = (unsigned char)pi;
        rc->tender[1] = rc->total - rc->tender[0];
        rc->change[1] = 0;
        return;
    }
    if (b->pay[pi].kind == PK_CASH && !rc->refund) {
        rc->tender[0] = cash_tender(rc->total, peso, r);
        rc->change[0] = rc->tender[0] - rc->total;
    } else {
        rc->tender[0] = b->newer ? (rc->total + 50) / 100 * 100 : rc->total;
        rc->change[0] = 0;
    }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Build receipts and lines for `lines` order lines; assigns times, cashiers,
 * invoice and transaction numbers (advancing the terminal's counters) and
 * payments. */
static int build_day(gen_ctx *c, const gen_branch *b, gen_term *t, uint64_t dayidx, int lines)
{
    if (ensure_day(c, lines))
        return tp_error_set(c->err, TP_ENOMEM, "gen: out of memory");
    gen_rng r = rng_make(c->seed, K_DAY, (uint64_t)b->idx, (uint64_t)t->pos, dayidx);
    c->nrc = c->nln = 0;
    while (c->nln < lines) {
        gen_rcpt *rc = &c->rc[c->nrc++];
        memset(rc, 0, sizeof *rc);
        rc->salt = rng_next(&r);
        rc->first = c->nln;
        rc->disc = -1;
        int u = (int)rng_below(&r, 100);
        rc->type =
            (unsigned char)(u < b->pf.p_dine ? 'D'
                                             : (u < b->pf.p_dine + b->pf.p_deliv ? 'C' : 'T'));
        if (b->newer)
            receipt_newer(c, b, rc, &r, lines - c->nln);
        else
            receipt_classic(c, b, rc, &r, lines - c->nln);
        c->nln += rc->nlines;
    }
    for (int i = 0; i < c->nrc; i++) {
        uint32_t x = rng_below(&r, (uint32_t)b->hour_cum[23]);
        int h = 0;
        while (b->hour_cum[h] <= (int)x)
            h++;
        c->tmp[i] = h * 3600 + (int)rng_below(&r, 3600);
    }
    qsort(c->tmp, (size_t)c->nrc, sizeof *c->tmp, cmp_int);
    int ci = (int)rng_below(&r, (uint32_t)t->ncas);
    int c0 = t->cas[ci], c1 = t->cas[(ci + 1) % t->ncas];
    int shift = 14 * 3600 + (int)rng_below(&r, 7200);
    c->npayrows = 0;
    for (int i = 0; i < c->nrc; i++) {
        gen_rcpt *rc = &c->rc[i];
        rc->sec = c->tmp[i];
        rc->cas = rc->sec < shift ? c0 : c1;
        rc->invoice = t->next_invoice++;
        if (b->newer) {
            rc->transno = rc->invoice;
        } else if (rc->refund) {
            rc->transno = -1;
        } else {
            rc->transno = t->next_transno++;
        }
        pay_receipt(b, rc, &r);
        c->npayrows += rc->npay;
    }
    c->rot = b->newer && c->nrc > 1 ? c->nrc * rng_range(&r, 30, 60) / 100 : 0;
    return 0;
}

/* Today's new loyalty registrations: some of the day's sales receipts,
 * appended to the cumulative file.  Growth slows as the file nears its cap. */
static int cmp_lrow(const void *a, const void *b)
{
    const gen_lrow *x = a, *y = b;
    return (x->transno > y->transno) - (x->transno < y->transno);
}

static int loyal_append(gen_ctx *c, const gen_branch *b, gen_term *t, uint64_t dayidx)
{
    if (b->newer)
        return 0;
    gen_rng r = rng_make(c->seed, K_LOYAL, (uint64_t)b->idx, (uint64_t)t->pos, dayidx);
    if (dayidx == 0)
        t->cur_rows = t->init_rows;
    long long gap = t->cap_rows - t->cur_rows;
    double want = gap > 0 ? (double)gap / 150.0 : 0.0;
    long long a = (long long)want;
    if (rng_unit(&r) < want - (double)a)
        a++;
    if (dayidx == 0 && a > t->init_rows)
        a = t->init_rows;
    int nsales = 0;
    for (int i = 0; i < c->nrc; i++)
        if (!c->rc[i].refund)
            c->tmp[nsales++] = i;
    if (!nsales)
        a = 0;
    size_t first = t->napp;
    long long added = 0;
    while (added < a) {
        if (t->napp == t->capp) {
            size_t n = t->capp ? t->capp * 2 : 256;
            gen_lrow *p = realloc(t->app, n * sizeof *p);
            if (!p)
                return tp_error_set(c->err, TP_ENOMEM, "gen: out of memory");
            t->app = p;
            t->capp = n;
        }
        const gen_rcpt *rc = &c->rc[c->tmp[rng_below(&r, (uint32_t)nsales)]];
        gen_lrow *lr = &t->app[t->napp++];
        uint32_t u = rng_below(&r, 100);
        long long reps = u < 82 ? 1 : (u < 94 ? 2 : rng_range(&r, 3, 5));
        if (reps > a - added)
            reps = a - added;
        lr->reps = (unsigned char)reps;
        lr->transno = rc->transno;
        /* ORNO is the receipt's invoice; now and then the member's
         * transaction number was keyed in instead */
        lr->orno = rng_below(&r, 100) < 3 ? rc->transno : rc->invoice;
        uint32_t x = rng_below(&r, 65536);
        lr->cust = (uint32_t)(((uint64_t)t->cust_pool * x * x) >> 32);
        u = rng_below(&r, 1000);
        lr->flags = (unsigned char)(u < 10 ? LF_EMPTY : (u < 15 ? LF_BADPHONE : 0));
        added += reps;
    }
    if (t->napp > first)
        qsort(t->app + first, t->napp - first, sizeof *t->app, cmp_lrow);
    if (dayidx == 0)
        t->hist_rows = t->init_rows - added;
    else
        t->cur_rows += added;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Writers                                                                   */

/* A row function of a reference file; see gen_row below. */
typedef struct gen_row gen_row;
typedef void (*gen_row_fn)(const gen_branch *b, int i, gen_row *r);

/* One report file being written: what its writer reads. */
typedef struct gen_file {
    gen_ctx *c;
    const gen_branch *b;
    const gen_term *t;
    int type, dayidx;
    long long limit; /* data rows to write, -1 all */
    gen_row_fn row;  /* reference files: the type's rows */
    char tail[64];   /* the classic POS's row end: ",<POS>,<BRANCH>\n" */
    size_t tl;
} gen_file;

static void put_person(gen_out *o, uint64_t salt)
{
    static const char hex[] = "0123456789ABCDEF";
    PUT_LIT(o, "PERSON ");
    for (int i = 5; i >= 0; i--)
        put_c(o, hex[(salt >> (i * 4 + 8)) & 15]);
}

/* ID card numbers as cashiers key them: "1037", "1271 5247", "2600 9157 0678". */
static void put_idno(gen_out *o, uint64_t salt)
{
    uint64_t v = mix64(salt ^ 0x5bd1e995ULL);
    int groups = (int)(v % 3) + 1;
    v >>= 4;
    for (int g = 0; g < groups; g++) {
        if (g)
            put_c(o, ' ');
        put_u0(o, v % 10000, 4);
        v /= 10000;
    }
}

static void put_alnum(gen_out *o, uint64_t v, int n)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < n; i++) {
        put_c(o, al[v % 36]);
        v /= 36;
    }
}

static void put_item_code(gen_out *o, const gen_branch *b, const gen_line *ln)
{
    if (ln->prod >= 0) {
        put_s(o, b->prod[ln->prod].code);
    } else if (ln->prod == LINE_DISC) {
        PUT_LIT(o, "SDis- ");
        put_u(o, (unsigned long long)(ln->unit / 1000));
        PUT_LIT(o, ".00%");
    } else {
        PUT_LIT(o, "ZZ");
        put_u(o, (unsigned long long)(-ln->prod - 10));
    }
}

/* ---- the transaction files (rd5000, rd5800) ---- */

/* A DATE column: the classic POS writes midnight after the date. */
static void put_day(gen_out *o, int newer, const char *date)
{
    put_mem(o, date, 10);
    if (!newer)
        PUT_LIT(o, " 00:00:00");
}

static void put_time(gen_out *o, int sec, int bad)
{
    if (bad == BAD_TIME) {
        PUT_LIT(o, "xx:");
        put_u0(o, (unsigned)(sec / 60 % 60), 2);
    } else {
        put_hm(o, sec);
    }
}

/* "1,<TRANSDATE>,<INVOICE>,<CAS_CODE>,", the start of both transaction
 * files' rows: the newer POS stamps the time and pads invoices to 14 digits,
 * the classic POS to 8. */
static void put_head(gen_out *o, int newer, const char *date, int sec, long long invoice, int cas)
{
    PUT_LIT(o, "1,");
    if (newer) {
        put_mem(o, date, 10);
        put_c(o, 'T');
        put_hms(o, sec);
    } else {
        put_day(o, 0, date);
    }
    put_c(o, ',');
    put_u0(o, (unsigned long long)invoice, newer ? 14 : 8);
    put_c(o, ',');
    put_u(o, (unsigned long long)cas);
    put_c(o, ',');
}

/* TRANSNO and the row's end: the classic POS leaves a refund's TRANSNO
 * empty and ends with POS and BRANCH; the newer POS pads to 14 digits and
 * leaves POS and BRANCH empty. */
static void put_transno(gen_out *o, const gen_file *f, long long transno)
{
    if (f->b->newer) {
        put_u0(o, (unsigned long long)transno, 14);
        PUT_LIT(o, ",,\n");
        return;
    }
    if (transno >= 0)
        put_u0(o, (unsigned long long)transno, 8);
    put_mem(o, f->tail, f->tl);
}

/* QUANTITY: "abc" in a bad row (fault); the classic POS writes 3 decimals. */
static void put_qty(gen_out *o, const gen_line *ln, int newer)
{
    if (ln->bad == BAD_QTY) {
        PUT_LIT(o, "abc");
        return;
    }
    put_u(o, (unsigned long long)ln->qty);
    if (!newer)
        PUT_LIT(o, ".000");
}

static void row5000_classic(const gen_file *f, const gen_rcpt *rc, const gen_line *ln)
{
    static const char *const divs[3] = {"9.330", "9.333", "0.000"};
    gen_out *o = &f->c->out;
    const gen_branch *b = f->b;
    const char *date = ln->bad == BAD_PREVDATE ? f->c->prev : f->c->date;
    const int dl = ln->prod == LINE_DISC;
    const gen_prod *p = ln->prod >= 0 ? &b->prod[ln->prod] : NULL;
    const char trn = rc->refund ? 'R' : 'S';
    put_head(o, 0, date, rc->sec, rc->invoice, rc->cas);
    put_item_code(o, b, ln);
    put_c(o, ',');
    put_qty(o, ln, 0);
    put_c(o, ',');
    put_m3(o, ln->unit);
    put_c(o, ',');
    put_m3(o, ln->amount);
    put_c(o, ',');
    put_m3(o, ln->disc);
    PUT_LIT(o, ",0.000,");
    if (rc->sp)
        PUT_LIT(o, "SP");
    put_c(o, ',');
    if (p)
        put_s(o, p->dep);
    else if (!dl)
        put_c(o, '8');
    put_c(o, ',');
    put_day(o, 0, date);
    put_c(o, ',');
    put_time(o, rc->sec, ln->bad);
    PUT_LIT(o, ",,");
    put_c(o, trn);
    PUT_LIT(o, ",,");
    put_c(o, trn);
    put_c(o, ',');
    if (rc->disc >= 0)
        put_s(o, b->disc[rc->disc].code);
    put_c(o, ',');
    if (rc->sp) {
        put_person(o, rc->salt);
        put_c(o, ',');
        put_idno(o, rc->salt);
    } else {
        put_c(o, ',');
    }
    put_c(o, ',');
    put_c(o, (char)rc->type);
    if (dl)
        PUT_LIT(o, ",0,0,,,0,0,");
    else
        PUT_LIT(o, ",1,0,,,0,1,");
    put_u(o, ln->rec_no);
    if (dl)
        PUT_LIT(o, ",1,0.000,");
    else
        PUT_LIT(o, ",0,0.000,");
    if (ln->vat_flag < 2)
        put_c(o, (char)('0' + ln->vat_flag));
    put_c(o, ',');
    put_s(o, dl ? divs[2] : (p ? divs[p->div] : divs[1]));
    put_c(o, ',');
    if (!dl)
        put_item_code(o, b, ln);
    put_c(o, ',');
    put_m3(o, ln->vat_amnt);
    PUT_LIT(o, ",0.000,");
    put_m3(o, ln->vat_pric);
    put_c(o, ',');
    put_transno(o, f, rc->transno);
}

static void row5000_newer(const gen_file *f, const gen_rcpt *rc, const gen_line *ln)
{
    gen_out *o = &f->c->out;
    const char *date = ln->bad == BAD_PREVDATE ? f->c->prev : f->c->date;
    put_head(o, 1, date, rc->sec, rc->invoice, rc->cas);
    put_item_code(o, f->b, ln);
    put_c(o, ',');
    put_qty(o, ln, 1);
    put_c(o, ',');
    put_u(o, (unsigned long long)ln->unit);
    put_c(o, ',');
    put_py4(o, ln->amount);
    put_c(o, ',');
    put_py4(o, ln->disc);
    PUT_LIT(o, ",0,,,");
    put_day(o, 1, date);
    put_c(o, ',');
    put_time(o, rc->sec, ln->bad);
    PUT_LIT(o, ",,S,,S,");
    if (rc->disc >= 0)
        put_s(o, f->b->disc[rc->disc].code);
    PUT_LIT(o, ",,,");
    put_c(o, (char)rc->type);
    PUT_LIT(o, ",1,0,,,0,1,1,0,0,");
    put_c(o, (char)('0' + ln->vat_flag));
    put_c(o, ',');
    put_py4(o, ln->vatdiv);
    put_c(o, ',');
    put_item_code(o, f->b, ln);
    put_c(o, ',');
    put_py4(o, ln->vat_amnt);
    put_c(o, ',');
    put_py4(o, ln->vat_disc);
    put_c(o, ',');
    put_py4(o, ln->vat_pric);
    put_c(o, ',');
    put_transno(o, f, rc->transno);
}

/* The day's rd5000 rows, from the receipt the export starts with, until
 * f->limit rows (-1: all) or until the file holds `max_bytes` bytes. */
static void put_rd5000_rows(const gen_file *f, long long max_bytes)
{
    gen_ctx *c = f->c;
    gen_out *o = &c->out;
    long long n = 0;
    for (int k = 0; k < c->nrc; k++) {
        const gen_rcpt *rc = &c->rc[(k + c->rot) % c->nrc];
        for (int j = 0; j < rc->nlines; j++, n++) {
            if (n == f->limit || o->bytes + (long long)o->len >= max_bytes || !out_room(o))
                return;
            if (f->b->newer)
                row5000_newer(f, rc, &c->ln[rc->first + j]);
            else
                row5000_classic(f, rc, &c->ln[rc->first + j]);
        }
    }
}

static void w_rd5000(const gen_file *f)
{
    put_rd5000_rows(f, LLONG_MAX);
}

/* REF_NO: what the payment method gives as its reference. */
static void put_ref(gen_out *o, const gen_branch *b, const gen_rcpt *rc, int j)
{
    uint64_t v = mix64(rc->salt + 0x1000 + (uint64_t)j);
    switch (b->pay[rc->pay[j]].kind) {
    case PK_CARD:
    case PK_DEBIT:
    case PK_LOYAL:
    case PK_CHARGE: put_u0(o, v % 1000000, 6); break;
    case PK_EWALLET:
        if (b->newer && v % 3 == 0) {
            PUT_LIT(o, "bm-");
            put_u0(o, (v >> 8) % 100000, 5);
        } else {
            put_u0(o, v % 1000000000000ULL, 12);
        }
        break;
    case PK_APP: put_alnum(o, v, 4); break;
    default: break;
    }
}

/* Payment j of a receipt; `v` is the payment's own random bits. */
static void row5800_newer(const gen_file *f, const gen_rcpt *rc, int j, uint64_t v)
{
    gen_out *o = &f->c->out;
    int sec = rc->sec + (int)(v % 2);
    if (sec > 86399)
        sec = 86399;
    put_head(o, 1, f->c->date, sec, rc->invoice, rc->cas);
    put_py4(o, rc->tender[j]);
    put_c(o, ',');
    put_py4(o, rc->change[j]);
    PUT_LIT(o, ",,");
    put_ref(o, f->b, rc, j);
    put_c(o, ',');
    put_day(o, 1, f->c->date);
    put_c(o, ',');
    put_hm(o, sec);
    PUT_LIT(o, ",S,");
    put_s(o, f->b->pay[rc->pay[j]].code);
    PUT_LIT(o, ",S,");
    put_ref(o, f->b, rc, j);
    PUT_LIT(o, ",0,1,,,,0,");
    put_transno(o, f, rc->transno);
}

static void row5800_classic(const gen_file *f, const gen_rcpt *rc, int j, uint64_t v)
{
    gen_out *o = &f->c->out;
    const gen_pay *p = &f->b->pay[rc->pay[j]];
    const char tag = rc->refund ? 'R' : 'S';
    put_head(o, 0, f->c->date, rc->sec, rc->invoice, rc->cas);
    put_m3(o, rc->tender[j]);
    put_c(o, ',');
    put_m3(o, rc->change[j]);
    put_c(o, ',');
    if (p->kind == PK_CHARGE)
        put_person(o, v);
    put_c(o, ',');
    put_ref(o, f->b, rc, j);
    put_c(o, ',');
    put_day(o, 0, f->c->date);
    put_c(o, ',');
    put_hm(o, rc->sec);
    put_c(o, ',');
    put_c(o, tag);
    put_c(o, ',');
    put_s(o, p->code);
    put_c(o, ',');
    put_c(o, tag);
    put_c(o, ',');
    if (rc->refund)
        put_u0(o, (v >> 8) % 100000000000ULL, 11);
    put_c(o, ',');
    if (p->kind == PK_APP) {
        PUT_LIT(o, "fp");
        put_u0(o, (v >> 20) % 10000, 4);
    } else if (v % 100 >= 45) {
        put_u0(o, (v >> 12) % 100, 2);
    }
    put_c(o, ',');
    put_u(o, (unsigned long long)(j + 1));
    PUT_LIT(o, ",,,,");
    put_c(o, rc->sp ? '1' : '0');
    put_c(o, ',');
    put_transno(o, f, rc->transno);
}

/* Cut the row that starts at `start` after its `commas`-th comma (fault). */
static void cut_row(gen_out *o, size_t start, int commas)
{
    int n = 0;
    for (size_t i = start; i < o->len; i++) {
        if (o->buf[i] == ',' && ++n == commas) {
            o->len = i;
            put_c(o, '\n');
            return;
        }
    }
}

static void w_rd5800(const gen_file *f)
{
    gen_ctx *c = f->c;
    gen_out *o = &c->out;
    long long n = 0;
    for (int k = 0; k < c->nrc; k++) {
        const gen_rcpt *rc = &c->rc[k];
        for (int j = 0; j < rc->npay; j++, n++) {
            if (n == f->limit || !out_room(o))
                return;
            size_t start = o->len;
            uint64_t v = mix64(rc->salt + 0x2000 + (uint64_t)j);
            if (f->b->newer)
                row5800_newer(f, rc, j, v);
            else
                row5800_classic(f, rc, j, v);
            if (rc->short5800 && j == 0)
                cut_row(o, start, rc->short5800);
        }
    }
}

/* ---- the reference files (rd5500, rd1800, discount, rd5900) ---- */

/* How a field of a reference file is written. */
enum {
    F_TEXT,  /* as it is */
    F_CSV,   /* quoted when it needs to be (raw in FULL) */
    F_INT,   /* a whole number */
    F_M3,    /* thousandths, 3 decimals */
    F_PESOS, /* whole pesos: "20.000" on the classic POS, "20" on the newer */
};

typedef struct gen_field {
    int kind;         /* F_* */
    const char *s;    /* F_TEXT, F_CSV */
    long long v;      /* the numbers */
    const char *full; /* the text in the newer POS's FULL column; NULL: as written */
} gen_field;

/* The fields of one row from the master: the columns up to (not with) POS,
 * and for the newer POS its CATEG_ID.  The writer adds the rest: the classic
 * POS's POS and BRANCH; the newer POS's empty POS, BRANCH and TERM_ID,
 * CATEG_ID, VERNO 0, and FULL, " " and the fields joined by spaces. */
struct gen_row {
    gen_field f[9]; /* the most a type has: rd5500's 9 */
    int n;
    const char *categ;
};

static void field(gen_row *r, int kind, const char *s, long long v, const char *full)
{
    gen_field *x = &r->f[r->n++];
    x->kind = kind;
    x->s = s;
    x->v = v;
    x->full = full;
}

static void row_rd5500(const gen_branch *b, int i, gen_row *r)
{
    static const char *const divs6[3] = {"9.330000", "9.333333", "0.000000"};
    const gen_prod *p = &b->prod[i];
    field(r, F_TEXT, p->code, 0, NULL);
    field(r, F_CSV, p->name, 0, NULL);
    if (b->newer) {
        const gen_newer_tax *x = &b->tax[i];
        field(r, F_CSV, p->name, 0, NULL);
        field(r, F_TEXT, p->dep, 0, NULL);
        field(r, F_INT, NULL, p->price, NULL);
        field(r, F_TEXT, "ORDER", 0, NULL);
        field(r, F_TEXT, "12", 0, NULL);
        field(r, F_TEXT, x->tax, 0, x->gtax);
        field(r, F_TEXT, x->div, 0, x->gdiv);
        r->categ = p->categ;
        return;
    }
    field(r, F_CSV, p->ecr, 0, NULL);
    field(r, F_TEXT, p->dep, 0, NULL);
    field(r, F_M3, NULL, p->price, NULL);
    field(r, F_TEXT, p->box ? "BOX" : "PC", 0, NULL);
    field(r, F_TEXT, p->div == 2 ? "0.000" : "12.000", 0, NULL);
    field(r, F_M3, NULL, p->taxamt, NULL);
    field(r, F_TEXT, divs6[p->div], 0, NULL);
}

static void row_rd1800(const gen_branch *b, int i, gen_row *r)
{
    const gen_dept *d = &b->dept[i];
    field(r, F_TEXT, d->code, 0, NULL);
    field(r, F_CSV, d->desc, 0, NULL);
    r->categ = d->group;
}

static void row_discount(const gen_branch *b, int i, gen_row *r)
{
    static const char *const dtype[2] = {"SUBTOTAL PERCENT", "SUBTOTAL AMOUNT"};
    const gen_disc *d = &b->disc[i];
    field(r, F_TEXT, d->code, 0, NULL);
    field(r, F_CSV, d->desc, 0, NULL);
    field(r, F_TEXT, dtype[d->amount_type], 0, NULL);
    field(r, F_PESOS, NULL, d->value, NULL);
    r->categ = " ";
}

static void row_rd5900(const gen_branch *b, int i, gen_row *r)
{
    const gen_pay *p = &b->pay[i];
    field(r, F_TEXT, p->code, 0, NULL);
    field(r, F_CSV, p->desc, 0, NULL);
    field(r, F_INT, NULL, p->method, NULL);
    field(r, F_PESOS, NULL, p->max, NULL);
    r->categ = " ";
}

static void put_field(gen_out *o, const gen_field *x, int newer)
{
    switch (x->kind) {
    case F_TEXT: put_s(o, x->s); break;
    case F_CSV: put_csv(o, x->s); break;
    case F_INT: put_u(o, (unsigned long long)x->v); break;
    case F_M3: put_m3(o, x->v); break;
    default: /* F_PESOS */
        if (newer)
            put_u(o, (unsigned long long)x->v);
        else
            put_m3(o, x->v * 1000);
        break;
    }
}

/* The newer POS's columns after the master's: POS, BRANCH, TERM_ID (empty),
 * CATEG_ID, VERNO and FULL. */
static void put_newer_end(gen_out *o, const gen_row *r)
{
    PUT_LIT(o, ",,,,");
    put_s(o, r->categ);
    PUT_LIT(o, ",0,");
    for (int i = 0; i < r->n; i++) {
        const gen_field *x = &r->f[i];
        put_c(o, ' ');
        if (x->full || x->kind == F_CSV)
            put_s(o, x->full ? x->full : x->s);
        else
            put_field(o, x, 1);
    }
    PUT_LIT(o, "    ");
    put_s(o, r->categ);
    put_c(o, '\n');
}

/* Products listed on day `dayidx`: the base master, one more every 45 days. */
static int active_products(const gen_branch *b, int dayidx)
{
    int extra = dayidx / 45;
    if (extra > b->nprod - b->nprod_base)
        extra = b->nprod - b->nprod_base;
    return b->nprod_base + extra;
}

/* Data rows of a full file of `type` on this terminal-day. */
static long long type_rows(const gen_ctx *c, const gen_branch *b, const gen_term *t, int type,
                           int dayidx)
{
    switch (type) {
    case T_RD5000: return c->nln;
    case T_RD5800: return c->npayrows;
    case T_RD5500: return active_products(b, dayidx);
    case T_RD1800: return b->ndept;
    case T_DISCOUNT: return b->ndisc;
    case T_RD5900: return b->npay;
    default: return b->newer ? 0 : t->cur_rows;
    }
}

/* A reference file: the master's rows (as many as are listed on this day)
 * through the type's row function. */
static void w_master(const gen_file *f)
{
    gen_out *o = &f->c->out;
    const gen_branch *b = f->b;
    long long n = type_rows(f->c, b, f->t, f->type, f->dayidx);
    if (f->limit >= 0 && f->limit < n)
        n = f->limit;
    gen_row r;
    for (int i = 0; i < n; i++) {
        if (!out_room(o))
            return;
        r.n = 0;
        r.categ = "";
        f->row(b, i, &r);
        for (int k = 0; k < r.n; k++) {
            if (k)
                put_c(o, ',');
            put_field(o, &r.f[k], b->newer);
        }
        if (b->newer)
            put_newer_end(o, &r);
        else
            put_mem(o, f->tail, f->tl);
    }
}

/* ---- the loyalty file (blpr) ---- */

static inline void put_blpr_row(gen_out *o, const char *pre, size_t pl, uint64_t salt,
                                uint32_t cust, unsigned flags, long long transno, long long orno,
                                const char *tail, size_t tl)
{
    uint64_t ph = mix64(salt ^ ((uint64_t)cust * 0x9e3779b97f4a7c15ULL)) % 1000000000ULL;
    put_mem(o, pre, pl);
    PUT_LIT(o, "09");
    if (flags & LF_BADPHONE)
        put_u0(o, ph / 10, 8);
    else
        put_u0(o, ph, 9);
    if (flags & LF_EMPTY) {
        PUT_LIT(o, ",,");
    } else {
        PUT_LIT(o, ",\"=\"\"");
        put_u0(o, (unsigned long long)transno, 8);
        PUT_LIT(o, "\"\"\",\"=\"\"");
        put_u0(o, (unsigned long long)orno, 8);
        PUT_LIT(o, "\"\"\"");
    }
    put_mem(o, tail, tl);
}

/* The cumulative loyalty file: rows from before day 1, regenerated from
 * their own stream every day, then the rows added since.  The newer POS
 * sends the header only. */
static void w_blpr(const gen_file *f)
{
    const gen_branch *b = f->b;
    const gen_term *t = f->t;
    gen_out *o = &f->c->out;
    if (b->newer)
        return;
    char pre[32];
    sfmt(pre, sizeof pre, "%s,", b->pf.store);
    size_t pl = strlen(pre);
    gen_rng h = rng_make(f->c->seed, K_HIST, (uint64_t)b->idx, (uint64_t)t->pos, 0);
    long long tn = t->hist_start, off = t->hist_off;
    uint32_t cust = 0;
    unsigned flags = 0;
    for (long long i = 0; i < t->hist_rows; i++) {
        /* one draw per row, sliced: this loop writes most of the bytes */
        uint64_t v = rng_next(&h);
        if (i == 0 || (v & 127) >= 22) { /* else (17%): the same row again */
            tn += 1 + (long long)((v >> 7) & 15) + (long long)((v >> 11) & 7);
            if (((v >> 14) & 2047) == 0)
                tn += rng_below(&h, 40000);
            if (((v >> 25) & 511) == 0)
                off += rng_range(&h, 1, 40);
            uint64_t x = (v >> 34) & 65535;
            cust = (uint32_t)(((uint64_t)t->cust_pool * x * x) >> 32);
            uint32_t u = (uint32_t)((v >> 50) & 1023);
            flags = u < 8 ? LF_EMPTY : (u < 13 ? LF_BADPHONE : 0);
        }
        if (!out_room(o))
            return;
        put_blpr_row(o, pre, pl, t->phone_salt, cust, flags, tn, tn + off, f->tail, f->tl);
    }
    for (size_t i = 0; i < t->napp; i++) {
        const gen_lrow *lr = &t->app[i];
        for (int k = 0; k < lr->reps; k++) {
            if (!out_room(o))
                return;
            put_blpr_row(o, pre, pl, t->phone_salt, lr->cust, lr->flags, lr->transno, lr->orno,
                         f->tail, f->tl);
        }
    }
}

/* ---- the seven report types ---- */

typedef struct gen_report {
    const char *name;                /* the type in file names */
    const char *hdr;                 /* the header line, classic POS */
    const char *newer_hdr;           /* and newer POS */
    void (*write)(const gen_file *); /* the data rows */
    gen_row_fn row;                  /* reference files: row i, for w_master */
} gen_report;

static const gen_report reports[T_COUNT] = {
    [T_RD5000] = {"rd5000", HDR_RD5000, HDR_RD5000, w_rd5000, NULL},
    [T_RD5800] = {"rd5800", HDR_RD5800, HDR_RD5800, w_rd5800, NULL},
    [T_RD5500] = {"rd5500", HDR_RD5500, HDR_RD5500 HDR_NEWER_EXTRA, w_master, row_rd5500},
    [T_RD1800] = {"rd1800", HDR_RD1800, HDR_RD1800 HDR_NEWER_EXTRA, w_master, row_rd1800},
    [T_DISCOUNT] = {"discount", HDR_DISCOUNT, HDR_DISCOUNT HDR_NEWER_EXTRA, w_master, row_discount},
    [T_RD5900] = {"rd5900", HDR_RD5900, HDR_RD5900 HDR_NEWER_EXTRA, w_master, row_rd5900},
    [T_BLPR] = {"blpr", HDR_BLPR, HDR_BLPR, w_blpr, NULL},
};

/* The header line, into the empty buffer of a file just opened. */
static void put_header(gen_out *o, int type, int newer)
{
    put_s(o, newer ? reports[type].newer_hdr : reports[type].hdr);
    put_c(o, '\n');
}

static void file_init(gen_file *f, gen_ctx *c, const gen_branch *b, const gen_term *t, int type,
                      int dayidx, long long limit)
{
    f->c = c;
    f->b = b;
    f->t = t;
    f->type = type;
    f->dayidx = dayidx;
    f->limit = limit;
    f->row = reports[type].row;
    sfmt(f->tail, sizeof f->tail, ",%d,%s\n", t->pos, b->code);
    f->tl = strlen(f->tail);
}

/* ------------------------------------------------------------------------ */
/* Driver                                                                    */

typedef struct gen_faults {
    int resend;        /* type sent twice (19-59 and 20-00), -1 none */
    int partial_later; /* the 20-00 copy is the partial one */
    int partial_pct;   /* rows the partial copy keeps */
    int missing[T_COUNT];
} gen_faults;

static void plan_faults(gen_ctx *c, const gen_branch *b, const gen_term *t, uint64_t dayidx,
                        gen_faults *f)
{
    memset(f, 0, sizeof *f);
    f->resend = -1;
    if (!c->faults)
        return;
    gen_rng r = rng_make(c->seed, K_FAULT, (uint64_t)b->idx, (uint64_t)t->pos, dayidx);
    uint32_t u_resend = rng_below(&r, 1000), u_missing = rng_below(&r, 1000);
    uint32_t u_bad = rng_below(&r, 1000), u_short = rng_below(&r, 1000);
    uint32_t which = rng_below(&r, 100), later = rng_below(&r, 100), miss = rng_below(&r, 100);
    f->partial_pct = rng_range(&r, 10, 90);
    if (u_resend < 35) {
        static const int cut[T_COUNT] = {50, 70, 87, 92, 96, 100, 80};
        static const int order[T_COUNT] = {T_RD5000, T_RD5800,   T_BLPR,  T_RD5500,
                                           T_RD1800, T_DISCOUNT, T_RD5900};
        for (int i = 0; i < T_COUNT; i++) {
            int ty = order[i];
            if ((int)which < cut[ty]) {
                f->resend = ty;
                break;
            }
        }
        f->partial_later = later < 30;
    }
    if (u_missing < 25) {
        static const int one[6] = {T_RD5500, T_RD1800, T_DISCOUNT, T_RD5900, T_RD5800, T_BLPR};
        if (miss < 60)
            f->missing[T_RD5800] = f->missing[T_RD5900] = 1;
        else
            f->missing[one[miss % 6]] = 1;
    }
    if (f->resend >= 0 && f->missing[f->resend])
        f->resend = -1;
    /* Each fault draws its kind, then where it goes: the order the pinned
     * output was made with. */
    if (u_bad < 30 && c->nln > 0) {
        int n = rng_range(&r, 1, 4);
        for (int i = 0; i < n; i++) {
            unsigned char bad = (unsigned char)rng_range(&r, BAD_TIME, BAD_QTY);
            c->ln[rng_below(&r, (uint32_t)c->nln)].bad = bad;
        }
    }
    if (u_short < 20 && c->nrc > 0) {
        int n = rng_range(&r, 1, 3);
        for (int i = 0; i < n; i++) {
            unsigned char cut = (unsigned char)rng_range(&r, 8, 19);
            c->rc[rng_below(&r, (uint32_t)c->nrc)].short5800 = cut;
        }
    }
}

static int write_file(gen_ctx *c, const gen_branch *b, const gen_term *t, int type, int dayidx,
                      const char *hhmm, long long limit)
{
    char name[160];
    sfmt(name, sizeof name, "a_%s_%d_%s_%s_%s_.csv", b->code, t->pos, reports[type].name, c->date,
         hhmm);
    int rc = out_open(&c->out, c->dir, name, c->err);
    if (rc)
        return rc;
    gen_file f;
    file_init(&f, c, b, t, type, dayidx, limit);
    put_header(&c->out, type, b->newer);
    reports[type].write(&f);
    rc = out_close(&c->out, c->err);
    if (rc)
        return rc;
    c->st.files++;
    c->st.bytes += c->out.bytes;
    return 0;
}

static int day_lines(const gen_ctx *c, const gen_branch *b, const gen_term *t, long long dayno,
                     int dayidx)
{
    static const int wd_pct[7] = {125, 85, 85, 90, 95, 115, 130}; /* Sunday first */
    if (c->orders)
        return c->orders;
    gen_rng r = rng_make(c->seed, K_VOLUME, (uint64_t)b->idx, (uint64_t)t->pos, (uint64_t)dayidx);
    double v = t->base_lines * wd_pct[weekday(dayno)] / 100.0 * (0.8 + 0.4 * rng_unit(&r));
    uint32_t u = rng_below(&r, 1000);
    if (u < 10)
        v *= 1.4; /* paydays and holidays */
    else if (u < 30)
        v *= 0.5; /* storms, power cuts */
    int n = (int)v;
    return n < GEN_VARIED_MIN ? GEN_VARIED_MIN : (n > GEN_VARIED_MAX ? GEN_VARIED_MAX : n);
}

static int termday(gen_ctx *c, const gen_branch *b, gen_term *t, int dayidx, long long dayno)
{
    format_date(dayno, c->date);
    format_date(dayno - 1, c->prev);
    int rc = build_day(c, b, t, (uint64_t)dayidx, day_lines(c, b, t, dayno, dayidx));
    if (!rc)
        rc = loyal_append(c, b, t, (uint64_t)dayidx);
    if (rc)
        return rc;
    gen_faults f;
    plan_faults(c, b, t, (uint64_t)dayidx, &f);
    for (int type = 0; type < T_COUNT && !rc; type++) {
        if (f.missing[type])
            continue;
        if (type == f.resend) {
            long long part =
                type == T_BLPR ? -1 : type_rows(c, b, t, type, dayidx) * f.partial_pct / 100;
            rc = write_file(c, b, t, type, dayidx, "19-59", f.partial_later ? -1 : part);
            if (!rc)
                rc = write_file(c, b, t, type, dayidx, "20-00", f.partial_later ? part : -1);
        } else {
            rc = write_file(c, b, t, type, dayidx, b->pf.hhmm, -1);
        }
    }
    if (!rc) {
        c->st.order_lines += c->nln;
        c->st.terminal_days++;
    }
    return rc;
}

static int make_dir(const char *dir, tp_error *err)
{
    if (mkdir(dir, 0777) == 0)
        return 0;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (e == EEXIST)
        return tp_error_set(err, TP_EIO, "gen: %s exists and is not a folder", dir);
    return tp_error_set(err, TP_EIO, "gen: cannot create folder %s: %s", dir, strerror(e));
}

static void ctx_free(gen_ctx *c)
{
    if (!c)
        return;
    if (c->out.f) {
        fclose(c->out.f);
        remove(c->out.tmp);
    }
    free(c->rc);
    free(c->ln);
    free(c->tmp);
    free(c);
}

void tp_gen_opts_init(tp_gen_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->branches = 1;
    o->terminals = 2;
    o->days = 1;
    o->seed = 1;
    o->faults = 1;
}

/* 0 and the first day's number in *start, or TP_EINVAL with err set. */
static int check_opts(const tp_gen_opts *o, long long *start, tp_error *err)
{
    if (!o)
        return tp_error_set(err, TP_EINVAL, "gen: no options");
    if (o->branches < 1 || o->branches > GEN_MAX_BRANCHES)
        return tp_error_set(err, TP_EINVAL, "gen: branches must be 1..%d (got %d)",
                            GEN_MAX_BRANCHES, o->branches);
    if (o->terminals < 1 || o->terminals > 2)
        return tp_error_set(err, TP_EINVAL, "gen: terminals must be 1..2 (got %d)", o->terminals);
    if (o->days < 1 || o->days > GEN_MAX_DAYS)
        return tp_error_set(err, TP_EINVAL, "gen: days must be 1..%d (got %d)", GEN_MAX_DAYS,
                            o->days);
    if (o->orders_per_day < 0 || o->orders_per_day > GEN_MAX_ORDERS)
        return tp_error_set(err, TP_EINVAL, "gen: orders per day must be 0..%d (got %d)",
                            GEN_MAX_ORDERS, o->orders_per_day);
    if (o->blpr_rows < 0 || o->blpr_rows > GEN_MAX_BLPR)
        return tp_error_set(err, TP_EINVAL, "gen: loyalty rows must be 0..%lld (got %lld)",
                            GEN_MAX_BLPR, o->blpr_rows);
    const char *sd = o->start_date ? o->start_date : GEN_DEFAULT_START;
    if (parse_date(sd, start) != 0)
        return tp_error_set(err, TP_EINVAL,
                            "gen: bad start date \"%.40s\" (want a YYYY-MM-DD date, 1970..9980)",
                            sd);
    if (!o->out_dir || !*o->out_dir)
        return tp_error_set(err, TP_EINVAL, "gen: no output folder");
    return 0;
}

/* A new context (free with ctx_free), or NULL with err set (TP_ENOMEM). */
static gen_ctx *ctx_create(uint64_t seed, tp_error *err)
{
    gen_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        tp_error_set(err, TP_ENOMEM, "gen: out of memory");
        return NULL;
    }
    c->seed = seed;
    c->err = err;
    return c;
}

/* Every terminal-day of branch number bi. */
static int branch_days(gen_ctx *c, const tp_gen_opts *o, int bi, long long start)
{
    gen_branch *b;
    int rc = branch_build(c->seed, bi, o->days, &b, c->err);
    for (int pos = 1; pos <= o->terminals && !rc; pos++) {
        gen_term t;
        term_init(c->seed, c->blpr_rows, b, &t, pos);
        for (int d = 0; d < o->days && !rc; d++)
            rc = termday(c, b, &t, d, start + d);
        term_free(&t);
    }
    branch_free(b);
    return rc;
}

int tp_gen_run(const tp_gen_opts *o, tp_gen_stats *stats, tp_error *err)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    long long start = 0;
    int rc = check_opts(o, &start, err);
    if (!rc)
        rc = make_dir(o->out_dir, err);
    if (rc)
        return rc;
    gen_ctx *c = ctx_create(o->seed, err);
    if (!c)
        return TP_ENOMEM;
    c->faults = o->faults != 0;
    c->orders = o->orders_per_day;
    c->blpr_rows = o->blpr_rows;
    c->dir = o->out_dir;
    for (int bi = 0; bi < o->branches && !rc; bi++)
        rc = branch_days(c, o, bi, start);
    if (stats)
        *stats = c->st;
    ctx_free(c);
    return rc;
}

/* The big file: the first branch's first terminal, day after day at the
 * largest varied volume, every row dated 2025-01-01. */
static int write_big(gen_ctx *c, const gen_branch *b, const char *path, long long bytes)
{
    gen_term t;
    term_init(c->seed, 0, b, &t, 1);
    long long day = days_from_civil(2025, 1, 1);
    format_date(day, c->date);
    format_date(day - 1, c->prev);
    gen_out *o = &c->out;
    int rc = out_open(o, NULL, path, c->err);
    if (!rc) {
        gen_file f;
        file_init(&f, c, b, &t, T_RD5000, 0, -1);
        put_header(o, T_RD5000, b->newer);
        for (uint64_t it = 0; !rc && !o->werr && o->bytes + (long long)o->len < bytes; it++) {
            rc = build_day(c, b, &t, it, GEN_VARIED_MAX);
            if (!rc)
                put_rd5000_rows(&f, bytes);
        }
        if (!rc)
            rc = out_close(o, c->err);
    }
    term_free(&t);
    return rc;
}

int tp_gen_big_rd5000(const char *path, long long bytes, unsigned long long seed, tp_error *err)
{
    if (!path || !*path)
        return tp_error_set(err, TP_EINVAL, "gen: no output file");
    if (bytes < 1 || bytes > GEN_MAX_BIG)
        return tp_error_set(err, TP_EINVAL, "gen: size must be 1..%lld bytes (got %lld)",
                            GEN_MAX_BIG, bytes);
    gen_ctx *c = ctx_create(seed, err);
    if (!c)
        return TP_ENOMEM;
    gen_branch *b;
    int rc = branch_build(seed, 0, 1, &b, err);
    if (!rc)
        rc = write_big(c, b, path, bytes);
    branch_free(b);
    ctx_free(c);
    return rc;
}
