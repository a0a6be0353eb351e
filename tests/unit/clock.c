/*
 * Clocks: the monotonic clock never goes back and agrees between its ms and
 * ns forms; eddy_http_date formats known instants as IMF-fixdate, matches
 * strftime in the C locale, and stays English and GMT under another locale
 * and time zone.
 */
#include <locale.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eddy/clock.h"
#include "test.h"

static uint64_t rng_state = 0xa0761d6478bd642full;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void check_date(time_t t, const char *expect)
{
    char out[EDDY_HTTP_DATE_LEN + 1];
    memset(out, '#', sizeof out);
    eddy_http_date(t, out);
    CHECK_EQ(strlen(out), EDDY_HTTP_DATE_LEN);
    CHECK_STR(out, expect);
}

/* What strftime gives in the C locale, the reference for any instant. */
static void reference_date(time_t t, char *out, size_t cap)
{
    struct tm tm;
    CHECK(gmtime_r(&t, &tm) != NULL);
    CHECK(strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm) == EDDY_HTTP_DATE_LEN);
}

static void test_monotonic(void)
{
    uint64_t prev_ns = eddy_clock_ns(), prev_ms = eddy_clock_ms();
    CHECK(prev_ns > 0);
    for (int i = 0; i < 200000; i++) {
        uint64_t ns = eddy_clock_ns();
        uint64_t ms = eddy_clock_ms();
        uint64_t ns2 = eddy_clock_ns();
        CHECK(ns >= prev_ns);
        CHECK(ms >= prev_ms);
        /* ms is the same clock: read between two ns reads, it lies between them. */
        CHECK(ms >= ns / 1000000u);
        CHECK(ms <= ns2 / 1000000u);
        prev_ns = ns2;
        prev_ms = ms;
    }
}

static void test_monotonic_advances(void)
{
    uint64_t ns0 = eddy_clock_ns(), ms0 = eddy_clock_ms();
    struct timespec ts = {0, 30 * 1000 * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
    uint64_t ns1 = eddy_clock_ns(), ms1 = eddy_clock_ms();
    CHECK(ns1 - ns0 >= 30u * 1000 * 1000);
    CHECK(ms1 - ms0 >= 29);                        /* ms truncation can lose up to one */
    CHECK(ns1 - ns0 < 30ull * 1000 * 1000 * 1000); /* and not absurdly far */
}

static void test_http_date_known(void)
{
    check_date(784111777, "Sun, 06 Nov 1994 08:49:37 GMT"); /* RFC 9110's example */
    check_date(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    check_date(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
    check_date(951782400, "Tue, 29 Feb 2000 00:00:00 GMT"); /* leap day */
    check_date(1700000000, "Tue, 14 Nov 2023 22:13:20 GMT");
    check_date(1709251199, "Thu, 29 Feb 2024 23:59:59 GMT");
    check_date(2147483647, "Tue, 19 Jan 2038 03:14:07 GMT");
    if (sizeof(time_t) > 4) {
        check_date((time_t)2147483648ll, "Tue, 19 Jan 2038 03:14:08 GMT");
        check_date((time_t)4102444800ll, "Fri, 01 Jan 2100 00:00:00 GMT");
        check_date((time_t)253402300799ll, "Fri, 31 Dec 9999 23:59:59 GMT");
    }
    /* Every day of the week and month name appears correctly. */
    const char *days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    for (int d = 0; d < 7; d++) {
        char out[EDDY_HTTP_DATE_LEN + 1];
        eddy_http_date((time_t)d * 86400, out);
        CHECK(strncmp(out, days[d], 3) == 0);
    }
    const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int m = 0; m < 12; m++) {
        struct tm tm = {.tm_year = 2021 - 1900, .tm_mon = m, .tm_mday = 15};
        char out[EDDY_HTTP_DATE_LEN + 1];
        eddy_http_date(timegm(&tm), out);
        CHECK(strncmp(out + 8, months[m], 3) == 0);
    }
}

static void test_http_date_matches_strftime(void)
{
    char ref[64], out[EDDY_HTTP_DATE_LEN + 1];
    for (int i = 0; i < 100000; i++) {
        /* 1970 .. ~2242 with 64-bit time_t, 1970 .. 2038 otherwise. */
        time_t t = (time_t)(rng() % (sizeof(time_t) > 4 ? 8589934592ull : 2147483647ull));
        reference_date(t, ref, sizeof ref);
        eddy_http_date(t, out);
        CHECK_STR(out, ref);
    }
}

/* Instants whose year would not fit four digits (or that gmtime cannot
 * represent at all) still give a well-formed 29-character date. */
static void test_http_date_out_of_range(void)
{
    if (sizeof(time_t) <= 4) return;
    static const long long ts[] = {
        253402300800ll,  /* year 10000 */
        -62167219201ll,  /* one second before year 0 */
        -99999999999ll,  /* far in the past */
        INT64_MAX,       /* gmtime_r fails: year overflows int */
        INT64_MIN,       /* likewise */
        (long long)1e15, /* year ~31 million */
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        char out[EDDY_HTTP_DATE_LEN + 1];
        eddy_http_date((time_t)ts[i], out);
        CHECK_EQ(strlen(out), EDDY_HTTP_DATE_LEN);
        CHECK(strcmp(out + EDDY_HTTP_DATE_LEN - 4, " GMT") == 0);
        CHECK(out[3] == ',' && out[4] == ' ');
    }
    /* Clamped to the nearest representable instant. */
    check_date((time_t)INT64_MAX, "Fri, 31 Dec 9999 23:59:59 GMT");
    check_date((time_t)253402300800ll, "Fri, 31 Dec 9999 23:59:59 GMT");
    check_date((time_t)-62167219200ll, "Sat, 01 Jan 0000 00:00:00 GMT");
    check_date((time_t)INT64_MIN, "Sat, 01 Jan 0000 00:00:00 GMT");
}

/* A locale with non-English day and month names: an installed one, or one
 * compiled here with localedef into a private LOCPATH. */
static bool use_foreign_locale(char *locdir, size_t cap)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8",  "fr_FR.UTF-8",
                                        "fr_FR.utf8",  "es_ES.UTF-8", "de_DE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (setlocale(LC_ALL, names[i])) return true;
    const char *tmp = getenv("TMPDIR");
    snprintf(locdir, cap, "%s/eddy-locale-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(locdir)) return false;
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "localedef -i de_DE -f ISO-8859-1 '%s/de_DE.ISO-8859-1' >/dev/null 2>&1", locdir);
    int rc = system(cmd);
    if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) <= 1) { /* 1: warnings only */
        setenv("LOCPATH", locdir, 1);
        if (setlocale(LC_ALL, "de_DE.ISO-8859-1")) return true;
    }
    return false;
}

static void test_http_date_foreign_locale(void)
{
    char locdir[4096] = "";
    if (!use_foreign_locale(locdir, sizeof locdir)) {
        printf("# no non-English locale available, skipped\n");
    } else {
        /* The locale is really in effect: strftime now names days differently. */
        struct tm tm;
        time_t t = 784111777;
        gmtime_r(&t, &tm);
        char local[64];
        strftime(local, sizeof local, "%a", &tm);
        CHECK(strcmp(local, "Sun") != 0);
        printf("# locale %s: strftime %%a gives \"%s\"\n", setlocale(LC_ALL, NULL), local);
        check_date(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
        check_date(1319500800, "Tue, 25 Oct 2011 00:00:00 GMT"); /* "Okt" in German */
        check_date(1262304000, "Fri, 01 Jan 2010 00:00:00 GMT");
        check_date(1267401600, "Mon, 01 Mar 2010 00:00:00 GMT"); /* "März" */
    }
    /* A local time zone far from UTC changes nothing either. */
    setenv("TZ", "XST-9:30XDT,M3.2.0,M11.1.0", 1); /* POSIX rule, no tzdata needed */
    tzset();
    check_date(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
    check_date(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    setlocale(LC_ALL, "C");
    if (locdir[0]) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", locdir);
        CHECK(system(cmd) == 0);
    }
}

int main(void)
{
    RUN(test_monotonic);
    RUN(test_monotonic_advances);
    RUN(test_http_date_known);
    RUN(test_http_date_matches_strftime);
    RUN(test_http_date_out_of_range);
    RUN(test_http_date_foreign_locale);
    return 0;
}
