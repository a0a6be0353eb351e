/*
 * eddy_strerror / eddy_err_name: every EDDY_ERRNO_MAP entry has its own name
 * and message, system errors are named by errno, and any other value yields
 * "unknown error" / "EUNKNOWN", never NULL.
 */
#include <errno.h>
#include <limits.h>

#include "eddy/error.h"
#include "test.h"

struct entry {
    const char *name;
    int value;
    const char *msg;
};

static const struct entry table[] = {
#define ENTRY_(name, value, msg) {"EDDY_" #name, value, msg},
    EDDY_ERRNO_MAP(ENTRY_)
#undef ENTRY_
};

enum { NTABLE = sizeof table / sizeof table[0] };

static void test_table_entries(void)
{
    CHECK(NTABLE > 0);
    for (int i = 0; i < NTABLE; i++) {
        const struct entry *e = &table[i];
        CHECK(e->value > 4000); /* never collides with an errno */
        CHECK_STR(eddy_err_name(-e->value), e->name);
        CHECK_STR(eddy_strerror(-e->value), e->msg);
        CHECK(strlen(e->msg) > 0);
        CHECK(strcmp(e->msg, "unknown error") != 0);
        for (int j = 0; j < i; j++) {
            CHECK(table[j].value != e->value);
            CHECK(strcmp(table[j].name, e->name) != 0);
            CHECK(strcmp(table[j].msg, e->msg) != 0);
        }
    }
    /* The enum constants are generated from the same table. */
    CHECK_EQ(EDDY_EOUTPUT_FULL, 4001);
    CHECK_STR(eddy_err_name(-EDDY_EOUTPUT_FULL), "EDDY_EOUTPUT_FULL");
    CHECK_STR(eddy_err_name(-EDDY_ETIMER), "EDDY_ETIMER");
    /* Positive eddy values are not error codes (codes are negative). */
    CHECK_STR(eddy_err_name(EDDY_EOUTPUT_FULL), "EUNKNOWN");
    CHECK_STR(eddy_strerror(EDDY_EOUTPUT_FULL), "unknown error");
}

static void test_errno_codes(void)
{
    CHECK_STR(eddy_err_name(-ECONNRESET), "ECONNRESET");
    CHECK_STR(eddy_err_name(-ENOMEM), "ENOMEM");
    CHECK_STR(eddy_err_name(-EAGAIN), "EAGAIN");
    CHECK_STR(eddy_err_name(-EPIPE), "EPIPE");
    CHECK_STR(eddy_err_name(-ETIMEDOUT), "ETIMEDOUT");
    CHECK_STR(eddy_err_name(-EINVAL), "EINVAL");
    /* Messages match the C library's, and do not depend on the locale. */
    CHECK_STR(eddy_strerror(-ECONNRESET), "Connection reset by peer");
    CHECK_STR(eddy_strerror(-ENOENT), "No such file or directory");
    CHECK_STR(eddy_strerror(-EPIPE), strerror(EPIPE));
    /* Every errno the C library names gets a name and a message. */
    for (int e = 1; e < 134; e++) {
        const char *name = eddy_err_name(-e);
        const char *msg = eddy_strerror(-e);
        CHECK(name != NULL && msg != NULL);
        if (strcmp(name, "EUNKNOWN") != 0) {
            CHECK(name[0] == 'E');
            CHECK(strcmp(msg, "unknown error") != 0);
        }
    }
}

static void test_unknown_codes(void)
{
    static const int unknown[] = {-4000,   -4099, -4999,   -5000, -3999, -100000,
                                  INT_MIN, -9999, INT_MAX, 1,     4001,  12345};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        int err = unknown[i];
        const char *name = eddy_err_name(err);
        const char *msg = eddy_strerror(err);
        CHECK(name != NULL);
        CHECK(msg != NULL);
        CHECK_STR(name, "EUNKNOWN");
        CHECK_STR(msg, "unknown error");
    }
    /* Success is described, not unknown. */
    CHECK(eddy_strerror(0) != NULL);
    CHECK(eddy_err_name(0) != NULL);
    CHECK(strcmp(eddy_err_name(0), "EUNKNOWN") != 0);
    /* Sweep: never NULL anywhere in a wide range. */
    for (int err = -70000; err <= 10; err++) {
        CHECK(eddy_err_name(err) != NULL);
        CHECK(eddy_strerror(err) != NULL);
    }
}

int main(void)
{
    RUN(test_table_entries);
    RUN(test_errno_codes);
    RUN(test_unknown_codes);
    return 0;
}
