/*
 * Minimal test harness. Each test file is its own program (one CTest test),
 * so a crash or hang in one cannot hide another. CHECK failures print the
 * location and abort the test with exit status 1.
 */
#ifndef EDDY_TEST_H
#define EDDY_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__,          \
                    __LINE__, #a, a_, #b, b_);                                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (strcmp(a_, b_) != 0) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_, \
                    b_);                                                                           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated text (a reply, a command's output) that must, or must
 * not, contain needle; on failure the whole text is printed. */
#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        if (!strstr((hay), (needle))) {                                                            \
            fprintf(stderr, "%s:%d: missing \"%s\" in:\n%s\n", __FILE__, __LINE__, (needle),       \
                    (hay));                                                                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_LACKS(hay, needle)                                                                   \
    do {                                                                                           \
        if (strstr((hay), (needle))) {                                                             \
            fprintf(stderr, "%s:%d: unexpected \"%s\" in:\n%s\n", __FILE__, __LINE__, (needle),    \
                    (hay));                                                                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Run a test function and say so; a failing CHECK exits before "ok". */
#define RUN(fn)                                                                                    \
    do {                                                                                           \
        fn();                                                                                      \
        printf("ok %s\n", #fn);                                                                    \
    } while (0)

#endif
