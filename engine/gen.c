/* gen.c -- see gen.h.
 *
 * Layout of this file: randomness and dates; the buffered output file; the
 * hand-written formatters used in the hot loops; the name tables; the branch
 * model (masters built once per branch); the terminal state (invoice and
 * transaction counters, the loyalty file's rows); the day model (receipts and
 * order lines of one terminal-day, kept in arrays that are reused); the seven
 * writers; the driver.
 *
 * Every random decision comes from a splitmix64 stream keyed by (seed, what,
 * branch, terminal, day), so a decision never depends on how many numbers an
 * unrelated decision drew, and fault injection does not change the data of
 * the day it is applied to.
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

/* ------------------------------------------------------------------------ */
/* Report types and headers (exactly the samples' header lines)              */

enum { T_RD5000, T_RD5800, T_RD5500, T_RD1800, T_DISCOUNT, T_RD5900, T_BLPR, T_COUNT };

static const char *const type_name[T_COUNT] = {"rd5000", "rd5800",   "rd5500", "rd1800",
                                               "discount", "rd5900", "blpr"};

#define HDR_RD5000                                                                               \
    "STORE_NUM,TRANSDATE,INVOICE,CAS_CODE,ITE_CODE,QUANTITY,UNT_PRIC,AMOUNT,DISCOUNT,SCHARGE,DT," \
    "DEP_CODE,DATE,TIME,CUS_CODE,TRN_CODE,ORNUM,TAG,DISC_CODE,SRNO,SRNAME,TYPE,BACKJOB,DELIVERY,"  \
    "PHONE,RIDER,FREE,INV_FLAG,REC_NO,LPAY_DISC,GC_EXCESS,VAT_FLAG,VATDIV,BDL_CODE,VAT_AMNT,"      \
    "VAT_DISC,VAT_PRIC,TRANSNO,POS,BRANCH"
#define HDR_RD5800                                                                              \
    "STORE_NUM,TRANSDATE,INVOICE,CAS_CODE,AMT_TENDER,CHANGE,NAME,REF_NO,DATE,TIME,TAG,PAYCODE," \
    "TRN_CODE,REF_CODE,ORDERSLIP,REC_NO,CUSINFO1,CUSINFO2,CUSINFO3,TIN_TAG,TRANSNO,POS,BRANCH"
#define HDR_RD5500 "INCODE,ITE_DESC,ECR_DESC,DEP_CODE,UNT_PRIC,UNIT,TAXPRCNT1,TAXAMOUNT1,TAX1DIV,POS,BRANCH"
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
    size_t len;        /* bytes pending in buf */
    long long bytes;   /* bytes handed to the file so far */
    int werr;          /* errno of the first failed write, 0 when none */
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

/* Make room for one row: rows are always written whole into the buffer. */
static inline void out_room(gen_out *o)
{
    if (GEN_OUT_CAP - o->len < GEN_ROW_MAX)
        out_flush(o);
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

static inline void put_u(gen_out *o, unsigned long long v)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        o->buf[o->len++] = t[--n];
}

/* Zero-padded to at least `w` digits. */
static inline void put_u0(gen_out *o, unsigned long long v, int w)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < w && n < 20)
        t[n++] = '0';
    while (n)
        o->buf[o->len++] = t[--n];
}

/* Thousandths as a fixed 3-decimal number: 99000 -> "99.000". */
static inline void put_m3(gen_out *o, long long m)
{
    if (m < 0) {
        put_c(o, '-');
        m = -m;
    }
    put_u(o, (unsigned long long)(m / 1000));
    put_c(o, '.');
    put_u0(o, (unsigned long long)(m % 1000), 3);
}

/* Ten-thousandths the way Python prints a float rounded to 4 places:
 * 1490000 -> "149.0", 1064286 -> "106.4286", 187500 -> "18.75". */
static inline void put_py4(gen_out *o, long long x)
{
    if (x < 0) {
        put_c(o, '-');
        x = -x;
    }
    put_u(o, (unsigned long long)(x / 10000));
    put_c(o, '.');
    int f = (int)(x % 10000);
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
    "BMC",  "MAGS", "AYALA-FRN", "BETA", "B-SMS", "BPAG", "BGRAN", "BTAB", "BCUB", "BLUC",
    "BNAG", "BIRI", "BLEG",      "BSOR", "BDAE",  "BMAS", "BTAC",  "BORM", "BILO", "BBAC",
    "BCEB", "BDAV", "BGEN",      "BZAM", "BCAG",  "BPUE", "BROX",  "SM-NAGA", "BVIR", "BCAT",
    "BPIL"};
#define N_BRANCH_CODES ((int)(sizeof branch_codes / sizeof branch_codes[0]))

static const char *const newer_branches[] = {"BETA", "BPAG", "BGRAN", "BTAB"};

typedef struct gen_profile {
    int base;        /* order lines of terminal 1 on an average day */
    int h24;         /* open around the clock (busy graveyard hours) */
    int p_dine, p_deliv; /* percent of receipts D and C; the rest is T */
    const char *hhmm;    /* usual export time */
    const char *store;   /* blpr STORE */
    int deliv_w;         /* weight of the delivery menu */
} gen_profile;

static const gen_profile fixed_profiles[8] = {
    {430, 0, 58, 2, "20-00", "TEMP", 1},   {1150, 1, 8, 6, "21-00", "TEMP", 8},
    {420, 0, 75, 1, "20-00", "DAET", 1},   {60, 0, 86, 0, "20-00", "TEMP", 0},
    {650, 0, 55, 4, "20-00", "TEMP", 2},   {110, 0, 80, 0, "20-00", "TEMP", 0},
    {85, 0, 84, 0, "21-00", "TEMP", 0},    {75, 0, 82, 0, "20-00", "TEMP", 0}};

static const char *const stores[] = {"TEMP", "TEMP", "TEMP", "NAGA", "IRIGA", "LEGAZPI", "PILI"};
static const char *const export_times[] = {"20-00", "20-00", "20-00", "20-00",
                                           "20-00", "21-00", "21-00", "22-00"};

/* Classic departments: padded and unpadded codes both exist, as in the
 * chain's real lists. */
typedef struct gen_dept_def {
    const char *code, *desc;
} gen_dept_def;

static const gen_dept_def classic_depts[] = {
    {"01", "CHICKEN MEALS"},   {"02", "CLASSIC MEALS"},      {"03", "BREAKFAST"},
    {"04", "PASTA DISHES"},    {"05", "CAKES"},              {"06", "BURGERS AND SANDWICHES"},
    {"07", "BEVERAGES"},       {"08", "BULK ORDER"},         {"09", "EXTRAS"},
    {"10", "SALAD BAR"},       {"12", "PARTY PACK ADD ON"},  {"14", "DIPS AND SAUCES"},
    {"15", "FREE"},            {"17", "ICED TEA UPGRADE"},   {"19", "SOUP"},
    {"21", "SHAKES"},          {"23", "UPGRADE"},            {"24", "UPSELLING"},
    {"25", "RND"},             {"18", "SIDINGS"},            {"27", "HOTDOGS"},
    {"28", "REPRESENTATION"},  {"31", "ADD ONS"},            {"32", "KIDS PARTY PACKAGE"},
    {"34", "JUICE UPGRADE"},   {"35", "KIDS MEALS"},         {"36", "HOUSE FAVORITES"},
    {"37", "MARKETING PROMO"}, {"38", "DELIVERY APP 3"},     {"39", "MEETING PACKAGES"},
    {"41", "LIGHT MEALS"},     {"43", "CERTIFICATE"},        {"44", "COFFEE PODS"},
    {"45", "JELLY DRINKS"},    {"40", "PRESTIGE FREEBIES"},  {"47", "SOLO MEALS"},
    {"50", "XMAS 2014"},       {"51", "Meals At Home"},      {"55", "FRIES GOURMET"},
    {"56", "HOLIDAY FEAST"},   {"57", "PREMIUM ITEMS"},      {"59", "KIDS PARTY MEALS"},
    {"42", "HAPPY ENDING"},    {"60", "RIBS AND MORE"},      {"62", "SIZZLERS"},
    {"65", "HOMETOWN HITS"},   {"46", "HOLIDAY PARTY PACKS"}, {"66", "SNACKS"},
    {"67", "SALAD DRESSING"},  {"68", "SALAD DRESSING"},     {"52", "FAMILY FEAST"},
    {"69", "SUMMER COOLERS"},  {"1", "MANILA MENU"},         {"70", "DOUBLE TREAT"},
    {"2", "MARKETING PROMO 2"}, {"71", "TEST MARKET"},       {"3", "DELIVERY"},
    {"4", "DELIVERY APP"},     {"5", "DELIVERY APP 2"},      {"6", "LOYALTY"},
    {"7", "LOYALTY 2"},        {"8", "PURGED PRODUCTS"},     {"9", "GO BIG"},
    {"11", "FUNCTION"},        {"13", "APP COFFEE"},         {"16", "RSD PROMOS"}};
#define N_CLASSIC_DEPTS ((int)(sizeof classic_depts / sizeof classic_depts[0]))

enum { ST_DISH, ST_DRINK, ST_DESSERT, ST_EXTRA, ST_REP, ST_FREE, ST_PACK, ST_LOYAL };
enum { P_ANY, P_CHICKEN, P_CLASSIC, P_BREAKFAST, P_PASTA, P_BURGER, P_SIDE, P_SALAD, P_SOUP,
       P_SIZZLE, P_COUNT };

static const char *const pool_chicken[] = {
    "CRISPY CHICKEN", "FRIED CHICKEN",  "CHICKEN BBQ",    "CHICKEN INASAL", "CHKN-KEBAB",
    "CHICKEN FILLET", "CHICKEN TENDERS", "CHICKEN CORDON", "HONEY CHICKEN", "SPICY WINGS",
    "CHICKEN ALA KING", "GARLIC CHICKEN", "CHKN TERIYAKI", "CHICKEN CURRY"};
static const char *const pool_classic[] = {
    "PORK CHOP",    "PORK BBQ",      "PORK STEAK",     "LECHON KAWALI", "BEEF STEAK",
    "BEEF SALPICAO", "BEEF CALDERETA", "BEEF BULGOGI", "BABY BACK RIBS", "FISH FILLET",
    "KARE KARE",    "PORK ADOBO",    "MENUDO",         "BICOL EXPRESS", "LAING",
    "CHOPSUEY",     "BANGUS BELLY",  "SHRIMP GAMBAS",  "PORK SISIG",    "TUNA BELLY"};
static const char *const pool_breakfast[] = {
    "TAPSILOG", "TOSILOG",  "LONGSILOG",    "BANGSILOG",   "CORNSILOG",          "HOTSILOG",
    "SPAMSILOG", "COUNTRY BREAKFAST", "PANCAKE", "WAFFLE", "FRENCH TOAST", "CHAMPORADO",
    "GOTO",     "ARROZ CALDO", "DNB",       "HAM AND EGG"};
static const char *const pool_pasta[] = {"SPAGHETTI",     "CARBONARA",    "PESTO PASTA",
                                         "BAKED MAC",     "LASAGNA",      "PANCIT CANTON",
                                         "PANCIT BIHON",  "SOTANGHON",    "PALABOK",
                                         "AGLIO OLIO"};
static const char *const pool_burger[] = {
    "CLASSIC BURGER", "CHEESY BURGER",  "DOUBLE BURGER", "BACON BURGER",  "MUSHROOM BURGER",
    "CLUBHOUSE",      "TUNA SANDWICH",  "CHKN SANDWICH", "EGG SANDWICH",  "HAM SANDWICH",
    "HOTDOG",         "CHILI DOG",      "BURGER STEAK"};
static const char *const pool_side[] = {
    "FRIES",      "CHEESE FRIES", "ONION RINGS", "MOJOS",     "MAC SALAD",
    "COLESLAW",   "PLAIN RICE",   "GARLIC RICE", "JAVA RICE", "FRIED EGG",
    "MASHED POTATO", "CORN AND CARROTS", "LUMPIA"};
static const char *const pool_salad[] = {"GARDEN SALAD", "CAESAR SALAD", "POTATO SALAD",
                                         "CHEF SALAD",   "FRUIT SALAD",  "TUNA SALAD",
                                         "KANI SALAD",   "MANGO SALAD"};
static const char *const pool_soup[] = {"BULALO",      "SINIGANG",  "NILAGA",    "MAMI",
                                        "CREAM OF MUSHROOM", "CORN SOUP", "MOLO SOUP", "SOPAS"};
static const char *const pool_sizzle[] = {"SIZZLING SISIG",   "SIZZLING BEEF", "SIZZLING TOFU",
                                          "SIZZLING CHICKEN", "SIZZLING PORK", "SIZZLING GAMBAS"};

typedef struct gen_pool {
    const char *const *w;
    int n;
} gen_pool;

#define POOL(a) {a, (int)(sizeof a / sizeof a[0])}
static const gen_pool pools[P_COUNT] = {
    {NULL, 0},         POOL(pool_chicken), POOL(pool_classic), POOL(pool_breakfast),
    POOL(pool_pasta),  POOL(pool_burger),  POOL(pool_side),    POOL(pool_salad),
    POOL(pool_soup),   POOL(pool_sizzle)};

static const char *const dish_mods[] = {"",      "",     "",       "",      "1PC",  "2PCS",
                                        "SOLO",  "MEAL", "W RICE", "W EGG", "W DRINK",
                                        "FAMILY", "PLATTER", "REG", "LARGE", "XL",  "PROMO",
                                        "DUO",   "TRIO", "BUCKET", "B1T1", "COMBO", "VALUE"};
static const char *const drinks[] = {
    "ICED TEA",    "PINK JUICE",  "HOUSE BLEND",  "CALAMANSI JUICE", "MANGO SHAKE",
    "BUKO SHAKE",  "CHOCO SHAKE", "STRAWBERRY SHAKE", "COLA",        "COLA ZERO",
    "LEMON SODA",  "ORANGE SODA", "ROOTBEER",     "BOTTLED WATER",   "BREWED COFFEE",
    "HOT CHOCO",   "LEMONADE",    "FOUR SEASONS", "PINEAPPLE JUICE", "MILK TEA"};
static const char *const drink_sizes[] = {"REG", "LARGE", "1L", "PITCHER", "12OZ", "16OZ",
                                          "22OZ", "CAN", "MISMO", ""};
static const char *const desserts[] = {
    "CARROT CAKE", "CHOCO CAKE", "BUTTERSCOTCH", "LECHE FLAN", "HALO HALO",
    "MANGO FLOAT", "BROWNIE",    "CREAM PUFF",   "UBE CAKE",   "CHEESE CAKE",
    "BUKO PIE",    "SUNDAE",     "MELLOW JELLO", "MAIS CON YELO", "SAGO GULAMAN"};
static const char *const extras[] = {
    "EXTRA RICE",   "EXTRA GRAVY",  "EXTRA SAUCE",  "EXTRA CHEESE", "EXTRA EGG",
    "EXTRA BACON",  "KETCHUP PACK", "CHILI OIL",    "GARLIC MAYO",  "VINEGAR DIP",
    "TAKE OUT BOX", "PAPER BAG",    "RICE UPGRADE", "DRINK UPGRADE", "SIDE UPGRADE",
    "UPSIZE DRINK", "UPSIZE FRIES", "GIFT CERT 500"};

typedef struct gen_family {
    const char *prefix;
    short count;
    const char *dep;
    unsigned char style, pool;
    short lo, hi;    /* price range, whole pesos */
    short zero_pm;   /* per mille of items priced 0 */
    short sell;      /* weight on the menu; 0 = not sold */
} gen_family;

static const gen_family families[] = {
    {"CHM", 20, "01", ST_DISH, P_CHICKEN, 149, 399, 0, 10},
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
#define N_FAMILIES ((int)(sizeof families / sizeof families[0]))

/* Discounts: the first ones are used on receipts. */
typedef struct gen_disc_def {
    const char *code, *desc;
    int amount_type; /* 0 SUBTOTAL PERCENT, 1 SUBTOTAL AMOUNT */
    int value;
} gen_disc_def;

static const gen_disc_def classic_disc_head[] = {
    {"5", "PWD", 0, 20},           {"1", "SNR CTZN 20%", 0, 20},     {"11", "5% DISCOUNT", 0, 5},
    {"17", "5% DELIVERY PROMO", 0, 5}, {"14", "LOYALTY CARD 8%", 0, 8}, {"31", "10% DISCOUNT", 0, 10},
    {"37", "MAKE IT BIG", 0, 20},  {"38", "8% DISCOUNT", 0, 8},      {"2", "EMPLOYEE DISCOUNT", 0, 20},
    {"12", "P55 OFF", 1, 55},      {"15", "MOMS DAY", 0, 20},        {"16", "CEO 20% DISC", 0, 20},
    {"18", "COO 20% DISC", 0, 20}, {"19", "50% EMP MEAL DISC", 1, 224}, {"20", "10% TRAVEL DISC", 0, 10}};
#define N_DISC_HEAD ((int)(sizeof classic_disc_head / sizeof classic_disc_head[0]))
#define DISC_PWD 0
#define DISC_SNR 1
static const int promo_discs[] = {2, 4, 5, 8}; /* 5%, 8%, 10%, 20% employee */

static const char *const orgs[] = {"ROTARY CLUB", "LIONS CLUB", "EAGLES", "JAYCEES",
                                   "TEACHERS ASSN", "NURSES ASSN", "ALUMNI", "CHAMBER",
                                   "RIDERS CLUB", "BIKERS", "PICE", "IIEE", "UNITED ARCH",
                                   "REBAP", "CSNHS", "OFW CLUB"};
static const char *const towns[] = {"NAGA", "IRIGA", "LEGAZPI", "DAET", "PILI", "SORSOGON",
                                    "TABACO", "LIGAO", "CamSur", "GOA"};

enum { PK_CASH, PK_CARD, PK_DEBIT, PK_EWALLET, PK_APP, PK_LOYAL, PK_GC, PK_CHARGE, PK_OTHER };

typedef struct gen_pay_def {
    const char *desc;
    int method, max, kind, weight;
} gen_pay_def;

static const gen_pay_def classic_pay_pool[] = {
    {"CHARGE", 6, 0, PK_CHARGE, 2},         {"GC P50", 2, 50, PK_GC, 2},
    {"GC P100", 2, 100, PK_GC, 2},          {"REPRESENTATION", 6, 0, PK_OTHER, 1},
    {"GCASH", 3, 0, PK_EWALLET, 9},         {"PAYMAYA", 6, 0, PK_EWALLET, 4},
    {"FOODPANDA", 6, 0, PK_APP, 5},         {"LOYALTY POINTS", 6, 0, PK_LOYAL, 3},
    {"DEBIT", 6, 0, PK_DEBIT, 7},           {"CHARGE TO LSM", 6, 0, PK_OTHER, 1},
    {"INCENTIVES", 6, 0, PK_OTHER, 1},      {"GRAB FOOD", 6, 0, PK_APP, 3},
    {"ON THE HOUSE", 6, 0, PK_OTHER, 1},    {"GC P200", 0, 0, PK_GC, 1},
    {"BULK ORDER CHARGING", 6, 0, PK_CHARGE, 1}, {"FRANCHISE CHARGING", 6, 0, PK_CHARGE, 1},
    {"GLOBAL PAY", 6, 0, PK_CARD, 2},       {"MIB CASH", 0, 0, PK_CASH, 1},
    {"PANDA DELIVERY", 0, 0, PK_APP, 1},    {"GC P500", 2, 500, PK_GC, 1},
    {"VOUCHER P50", 2, 50, PK_GC, 1},       {"SHOPEE FOOD", 6, 0, PK_APP, 1}};
#define N_PAY_POOL ((int)(sizeof classic_pay_pool / sizeof classic_pay_pool[0]))

/* Newer POS masters: small, like the newer-POS sample. */
typedef struct gen_newer_item {
    const char *code, *name, *dep;
    int price;
    const char *categ;
} gen_newer_item;

static const gen_newer_item newer_items[] = {
    {"DRK1", "COLA IN CAN", "406", 85, "DRK101"},
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
#define N_NEWER_ITEMS ((int)(sizeof newer_items / sizeof newer_items[0]))

typedef struct gen_newer_dept {
    const char *code, *desc, *group;
} gen_newer_dept;

static const gen_newer_dept newer_depts[] = {
    {"1", "MEALS", "CAFE MEALS"},      {"2", "SALAD", "CAFE MEALS"},
    {"3", "SNACKS", "CAFE MEALS"},     {"DRK101", "DRINKS", "CAFE MEALS"},
    {"FRA101", "FRAPPE", "COFFEE"},    {"HOT101", "HOT", "COFFEE"},
    {"ICED101", "ICED", "COFFEE"},     {"NON102", "HOT", "NON COFFEE"}};
#define N_NEWER_DEPTS ((int)(sizeof newer_depts / sizeof newer_depts[0]))

/* ------------------------------------------------------------------------ */
/* Branch model                                                              */

typedef struct gen_prod {
    char code[16];
    char name[56];     /* raw text; quoted on output when needed */
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

typedef struct gen_branch {
    int idx;
    char code[24];
    int newer;
    gen_profile pf;
    int hour_cum[24]; /* cumulative hourly weights */
    gen_prod *prod;
    int nprod;        /* all products (the master grows over time) */
    int nprod_base;   /* listed from day 0; one more every 45 days */
    int rep1;         /* the guest-count item, -1 on the newer POS */
    int *menu;        /* sellable products */
    uint32_t *menu_cum;
    int nmenu;
    gen_dept dept[80];
    int ndept;
    gen_disc disc[128];
    int ndisc;
    gen_pay pay[32];
    int npay;
    uint32_t pay_total;
    int sp_pm;        /* per mille of receipts with a senior/PWD discount */
    int rep_pct;      /* percent of receipts with a guest-count line */
} gen_branch;

static void branch_free(gen_branch *b)
{
    if (!b)
        return;
    free(b->prod);
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

static void make_name(gen_rng *r, const gen_family *f, int k, char *out, size_t n)
{
    const gen_pool *p;
    switch (f->style) {
    case ST_DISH:
        p = f->pool != P_ANY ? &pools[f->pool] : &pools[1 + rng_below(r, P_COUNT - 1)];
        if (k < p->n && f->pool != P_ANY)
            sfmt(out, n, "%s", p->w[k]); /* the plain dish first */
        else {
            const char *mod = dish_mods[rng_below(r, (uint32_t)(sizeof dish_mods / sizeof *dish_mods))];
            sfmt(out, n, "%s%s%s", p->w[rng_below(r, (uint32_t)p->n)], *mod ? " " : "", mod);
        }
        break;
    case ST_DRINK: {
        const char *sz = drink_sizes[rng_below(r, (uint32_t)(sizeof drink_sizes / sizeof *drink_sizes))];
        sfmt(out, n, "%s%s%s", drinks[rng_below(r, (uint32_t)(sizeof drinks / sizeof *drinks))],
             *sz ? " " : "", sz);
        break;
    }
    case ST_DESSERT:
        sfmt(out, n, "%s%s", desserts[rng_below(r, (uint32_t)(sizeof desserts / sizeof *desserts))],
             rng_below(r, 3) == 0 ? " WHOLE" : "");
        break;
    case ST_EXTRA:
        sfmt(out, n, "%s", extras[rng_below(r, (uint32_t)(sizeof extras / sizeof *extras))]);
        break;
    case ST_REP:
        if (k == 0)
            sfmt(out, n, "GUEST COUNT");
        else {
            p = &pools[1 + rng_below(r, P_COUNT - 1)];
            sfmt(out, n, "REP %s", p->w[rng_below(r, (uint32_t)p->n)]);
        }
        break;
    case ST_FREE:
        sfmt(out, n, "FREE %s",
             rng_below(r, 2) ? drinks[rng_below(r, (uint32_t)(sizeof drinks / sizeof *drinks))]
                             : desserts[rng_below(r, (uint32_t)(sizeof desserts / sizeof *desserts))]);
        break;
    case ST_PACK:
        if (rng_below(r, 2))
            sfmt(out, n, "PARTY PACK %c%d", (char)('A' + rng_below(r, 8)), k % 9 + 1);
        else {
            p = &pools[1 + rng_below(r, P_COUNT - 1)];
            sfmt(out, n, "%s TRAY", p->w[rng_below(r, (uint32_t)p->n)]);
        }
        break;
    default: /* ST_LOYAL */
        p = &pools[1 + rng_below(r, P_COUNT - 1)];
        sfmt(out, n, "FREE %s", p->w[rng_below(r, (uint32_t)p->n)]);
        break;
    }
}

static int add_menu(gen_branch *b, int prod, uint32_t w, uint32_t *total)
{
    b->menu[b->nmenu] = prod;
    *total += w ? w : 1;
    b->menu_cum[b->nmenu] = *total;
    b->nmenu++;
    return 0;
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

static int build_classic_master(gen_branch *b, gen_rng *r, int days)
{
    int counts[N_FAMILIES], total = 0;
    for (int f = 0; f < N_FAMILIES; f++) {
        int c = families[f].count;
        if (c > 4 && families[f].style != ST_REP)
            c = c * rng_range(r, 92, 108) / 100;
        if (families[f].style == ST_REP)
            c = c * rng_range(r, 85, 110) / 100;
        counts[f] = c;
        total += c;
    }
    int extra = days / 45 + 1;
    if (extra > 200)
        extra = 200;
    b->prod = calloc((size_t)(total + extra), sizeof *b->prod);
    b->menu = calloc((size_t)total, sizeof *b->menu);
    b->menu_cum = calloc((size_t)total, sizeof *b->menu_cum);
    if (!b->prod || !b->menu || !b->menu_cum)
        return TP_ENOMEM;
    int n = 0;
    for (int f = 0; f < N_FAMILIES; f++) {
        const gen_family *fa = &families[f];
        for (int k = 0; k < counts[f]; k++) {
            gen_prod *p = &b->prod[n++];
            if (!strcmp(fa->prefix, "MPBD"))
                sfmt(p->code, sizeof p->code, "%s%02d", fa->prefix, k + 1);
            else
                sfmt(p->code, sizeof p->code, "%s%d", fa->prefix, k + 1);
            make_name(r, fa, k, p->name, sizeof p->name);
            make_ecr(p->ecr, sizeof p->ecr, p->name);
            copy_str(p->dep, sizeof p->dep, fa->dep);
            long long pesos;
            if (fa->style == ST_LOYAL) {
                p->price = rng_below(r, 10) < 6 ? 10 : 0; /* 0.010, as real loyalty items */
            } else if ((int)rng_below(r, 1000) < fa->zero_pm) {
                p->price = 0;
            } else {
                pesos = rng_range(r, fa->lo, fa->hi);
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
    }
    b->nprod_base = n;
    /* products that appear later in the master */
    for (int k = 0; k < extra; k++) {
        gen_prod *p = &b->prod[n++];
        const gen_family *fa = &families[rng_below(r, N_FAMILIES)];
        if (fa->style == ST_REP)
            fa = &families[0];
        sfmt(p->code, sizeof p->code, "NEW%d", k + 1);
        make_name(r, fa, 1000, p->name, sizeof p->name);
        make_ecr(p->ecr, sizeof p->ecr, p->name);
        copy_str(p->dep, sizeof p->dep, fa->dep);
        p->price = (long long)rng_range(r, 99, 399) * 1000;
        p->taxamt = p->price * 8 / 100 / 10 * 10;
        p->div = 1;
    }
    b->nprod = n;
    b->prod[rng_below(r, (uint32_t)b->nprod_base)].box = 1;

    /* the menu: the first items of each sold family, Zipf-like weights */
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
    add_name_quirks(b);

    /* departments: the chain list, with a few dropped per branch */
    b->ndept = 0;
    for (int i = 0; i < N_CLASSIC_DEPTS && b->ndept < 80; i++) {
        const gen_dept_def *d = &classic_depts[i];
        int used = 0;
        for (int f = 0; f < N_FAMILIES && !used; f++)
            used = !strcmp(families[f].dep, d->code);
        if (!used && rng_below(r, 10) == 0)
            continue;
        copy_str(b->dept[b->ndept].code, sizeof b->dept[0].code, d->code);
        copy_str(b->dept[b->ndept].desc, sizeof b->dept[0].desc, d->desc);
        b->ndept++;
    }

    /* discounts: the fixed head, then local partner discounts up to ~100 */
    b->ndisc = 0;
    for (int i = 0; i < N_DISC_HEAD; i++) {
        gen_disc *d = &b->disc[b->ndisc++];
        copy_str(d->code, sizeof d->code, classic_disc_head[i].code);
        copy_str(d->desc, sizeof d->desc, classic_disc_head[i].desc);
        d->amount_type = classic_disc_head[i].amount_type;
        d->value = classic_disc_head[i].value;
    }
    int ndisc = rng_range(r, 92, 112);
    for (int code = 21; b->ndisc < ndisc && code < 400; code++) {
        if (code == 31 || code == 37 || code == 38 || code == 17)
            continue;
        gen_disc *d = &b->disc[b->ndisc++];
        char desc[64];
        const char *org = orgs[rng_below(r, (uint32_t)(sizeof orgs / sizeof *orgs))];
        const char *town = towns[rng_below(r, (uint32_t)(sizeof towns / sizeof *towns))];
        sfmt(d->code, sizeof d->code, "%d", code);
        if (rng_below(r, 3) == 0) {
            sfmt(desc, sizeof desc, "%s 1000MAX", org);
            d->amount_type = 1;
            d->value = 1000;
        } else {
            int pct = rng_below(r, 4) ? 8 : 10;
            sfmt(desc, sizeof desc, "%d%% %s %s", pct, org, town);
            d->amount_type = 0;
            d->value = pct;
        }
        desc[20] = '\0'; /* the POS keeps 20 characters */
        copy_str(d->desc, sizeof d->desc, desc);
    }

    /* payment methods */
    b->npay = 0;
    gen_pay *p = &b->pay[b->npay++];
    copy_str(p->code, sizeof p->code, "00001");
    copy_str(p->desc, sizeof p->desc, "CASH");
    p->method = 0;
    p->kind = PK_CASH;
    p->weight = 70;
    p = &b->pay[b->npay++];
    copy_str(p->code, sizeof p->code, "00002");
    copy_str(p->desc, sizeof p->desc, "CREDIT CARD");
    p->method = 1;
    p->kind = PK_CARD;
    p->weight = 4;
    int want = rng_range(r, 15, 24), code = 1;
    for (int i = 0; i < N_PAY_POOL && b->npay < want; i++) {
        const gen_pay_def *d = &classic_pay_pool[i];
        if (d->kind != PK_EWALLET && d->kind != PK_DEBIT && d->kind != PK_APP && rng_below(r, 4) == 0)
            continue;
        if (rng_below(r, 5) == 0)
            code++; /* retired codes leave gaps */
        p = &b->pay[b->npay++];
        sfmt(p->code, sizeof p->code, "%d", code++);
        copy_str(p->desc, sizeof p->desc, d->desc);
        p->method = d->method;
        p->max = d->max;
        p->kind = d->kind;
        p->weight = d->weight;
        if (d->kind == PK_APP)
            p->weight *= b->pf.deliv_w;
    }
    b->sp_pm = rng_range(r, 90, 230);
    b->rep_pct = rng_range(r, 35, 75);
    return 0;
}

static int build_newer_master(gen_branch *b, gen_rng *r)
{
    b->prod = calloc(N_NEWER_ITEMS, sizeof *b->prod);
    b->menu = calloc(N_NEWER_ITEMS, sizeof *b->menu);
    b->menu_cum = calloc(N_NEWER_ITEMS, sizeof *b->menu_cum);
    if (!b->prod || !b->menu || !b->menu_cum)
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
    }
    b->nprod = b->nprod_base = N_NEWER_ITEMS;
    b->rep1 = -1;
    b->ndept = N_NEWER_DEPTS;
    for (int i = 0; i < N_NEWER_DEPTS; i++) {
        copy_str(b->dept[i].code, sizeof b->dept[i].code, newer_depts[i].code);
        copy_str(b->dept[i].desc, sizeof b->dept[i].desc, newer_depts[i].desc);
        copy_str(b->dept[i].group, sizeof b->dept[i].group, newer_depts[i].group);
    }
    b->ndisc = 2;
    copy_str(b->disc[0].code, sizeof b->disc[0].code, "PWD");
    copy_str(b->disc[0].desc, sizeof b->disc[0].desc, "20% PWD DISCOUNT");
    copy_str(b->disc[1].code, sizeof b->disc[1].code, "SC");
    copy_str(b->disc[1].desc, sizeof b->disc[1].desc, "20% SC DISCOUNT");
    b->disc[0].value = b->disc[1].value = 20;
    static const gen_pay_def np[3] = {{"E-WALLET", 0, 0, PK_EWALLET, 12},
                                      {"CASH", 0, 0, PK_CASH, 70},
                                      {"PAYMAYA", 0, 0, PK_EWALLET, 18}};
    static const char *const npc[3] = {"10019", "10001", "10018"};
    b->npay = 3;
    for (int i = 0; i < 3; i++) {
        copy_str(b->pay[i].code, sizeof b->pay[i].code, npc[i]);
        copy_str(b->pay[i].desc, sizeof b->pay[i].desc, np[i].desc);
        b->pay[i].kind = np[i].kind;
        b->pay[i].weight = np[i].weight;
    }
    b->sp_pm = rng_range(r, 150, 300);
    b->rep_pct = 0;
    return 0;
}

static gen_branch *branch_build(uint64_t seed, int idx, int days, tp_error *err)
{
    gen_branch *b = calloc(1, sizeof *b);
    if (!b) {
        tp_error_set(err, TP_ENOMEM, "gen: out of memory");
        return NULL;
    }
    gen_rng r = rng_make(seed, K_BRANCH, (uint64_t)idx, 0, 0);
    b->idx = idx;
    if (idx < N_BRANCH_CODES)
        copy_str(b->code, sizeof b->code, branch_codes[idx]);
    else
        sfmt(b->code, sizeof b->code, "B%03d", idx + 1);
    for (size_t i = 0; i < sizeof newer_branches / sizeof *newer_branches; i++)
        if (!strcmp(b->code, newer_branches[i]))
            b->newer = 1;
    if (idx < 8) {
        b->pf = fixed_profiles[idx];
    } else {
        double u = rng_unit(&r);
        b->pf.base = 120 + (int)(780.0 * u * u); /* 120..900, mostly small */
        b->pf.h24 = rng_below(&r, 100) < 15;
        b->pf.p_dine = rng_range(&r, 35, 75);
        b->pf.p_deliv = rng_range(&r, 1, 8);
        b->pf.hhmm = export_times[rng_below(&r, (uint32_t)(sizeof export_times / sizeof *export_times))];
        b->pf.store = stores[rng_below(&r, (uint32_t)(sizeof stores / sizeof *stores))];
        b->pf.deliv_w = rng_range(&r, 1, 4);
    }
    /* hourly receipt weights: meal peaks; graveyard hours are quiet but
     * never empty, busy for around-the-clock branches */
    static const int classic_w[24] = {3, 2, 2, 1, 1, 2, 10, 30, 40, 35, 40, 60,
                                      70, 50, 30, 30, 35, 45, 55, 50, 30, 15, 8, 5};
    static const int newer_w[24] = {2, 1, 1, 1, 1, 1, 2, 4, 6, 8, 10, 15,
                                    15, 12, 12, 25, 30, 35, 35, 30, 25, 20, 15, 6};
    int cum = 0;
    for (int h = 0; h < 24; h++) {
        int w = b->newer ? newer_w[h] : classic_w[h];
        if (b->pf.h24 && (h <= 5 || h >= 22))
            w = w * 10 + 20;
        cum += w;
        b->hour_cum[h] = cum;
    }
    int rc = b->newer ? build_newer_master(b, &r) : build_classic_master(b, &r, days);
    if (rc) {
        branch_free(b);
        tp_error_set(err, rc, "gen: out of memory");
        return NULL;
    }
    return b;
}
