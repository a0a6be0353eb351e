/*
 * bench/http1_parse.c — eddy's HTTP/1.1 request parser on a typical browser
 * request (the 703-byte one picohttpparser's bench.c uses), per SIMD path.
 *
 *   bench_http1_parse [-n ITERATIONS] [-r RUNS] [-p PATH]
 *                                   (defaults: 10000000, 3, every path)
 *
 * For each code path the CPU has (portable, sse42, avx2; or only PATH) it
 * parses the head ITERATIONS times per run, RUNS times, and prints the best
 * run as name=value lines:
 *   http1_request_bytes  http1_iterations
 *   http1_<path>_ns_per_request  http1_<path>_mb_per_sec
 * Time is the thread's CPU time, so other load on the machine disturbs the
 * numbers less. Exit status 1 if any parse fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <eddy/http1.h>

#define REQ                                                                                        \
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"                \
    "Host: www.kittyhell.com\r\n"                                                                  \
    "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) "          \
    "Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"                                                \
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"                  \
    "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"                                                 \
    "Accept-Encoding: gzip,deflate\r\n"                                                            \
    "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"                                            \
    "Keep-Alive: 115\r\n"                                                                          \
    "Connection: keep-alive\r\n"                                                                   \
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "                          \
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "                             \
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/"        \
    "reader/|utmcmd=referral\r\n"                                                                  \
    "\r\n"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long iterations = 10000000, runs = 3;
    const char *only = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "n:r:p:")) != -1) {
        switch (opt) {
        case 'n': iterations = atol(optarg); break;
        case 'r': runs = atol(optarg); break;
        case 'p': only = optarg; break;
        default:
            fprintf(stderr, "usage: bench_http1_parse [-n ITERATIONS] [-r RUNS] [-p PATH]\n");
            return 2;
        }
    }
    if (iterations < 1 || runs < 1) return 2;

    static const char req[] = REQ;
    const size_t len = sizeof req - 1;
    /* A private copy, as a connection's input buffer would be. */
    char *buf = malloc(len);
    if (!buf) return 1;
    memcpy(buf, req, len);

    static const eddy_http1_simd_t all[] = {EDDY_HTTP1_SIMD_PORTABLE, EDDY_HTTP1_SIMD_SSE42,
                                            EDDY_HTTP1_SIMD_AVX2};
    eddy_http1_simd_t paths[3];
    double best[3];
    int npaths = 0;
    for (size_t k = 0; k < 3; k++) {
        if (only && strcmp(only, eddy_http1_simd_name(all[k])) != 0) continue;
        if (eddy_http1_simd_set(all[k]) != 0) continue;
        best[npaths] = 1e30;
        paths[npaths++] = all[k];
    }
    eddy_http1_header_t headers[32];
    eddy_http1_limits_t limits;
    eddy_http1_limits_init(&limits);
    /* The paths take turns in ROUNDS slices of each run, so a burst of other
     * load on the machine hits them alike; a run's time per request is its
     * sum, the best run counts. */
    enum { ROUNDS = 100 };
    long slice = iterations / ROUNDS > 0 ? iterations / ROUNDS : 1;
    for (long r = 0; r < runs; r++) {
        double total[3] = {0, 0, 0};
        for (int round = 0; round < ROUNDS; round++) {
            for (int k = 0; k < npaths; k++) {
                eddy_http1_simd_set(paths[k]);
                double t0 = now_s();
                for (long i = 0; i < slice; i++) {
                    eddy_http1_request_t q;
                    q.headers = headers;
                    q.max_headers = 32;
                    int rc = eddy_http1_parse_request(buf, len, 0, &q, &limits);
                    if (rc != (int)len) {
                        fprintf(stderr, "bench_http1_parse: %s: parse returned %d\n",
                                eddy_http1_simd_name(paths[k]), rc);
                        return 1;
                    }
                    __asm__ volatile("" : : "g"(&q) : "memory");
                }
                total[k] += now_s() - t0;
            }
        }
        for (int k = 0; k < npaths; k++)
            if (total[k] < best[k]) best[k] = total[k];
    }
    double n = (double)slice * ROUNDS;
    printf("http1_request_bytes=%zu\n", len);
    printf("http1_iterations=%.0f\n", n);
    for (int k = 0; k < npaths; k++) {
        const char *name = eddy_http1_simd_name(paths[k]);
        printf("http1_%s_ns_per_request=%.1f\n", name, best[k] * 1e9 / n);
        printf("http1_%s_mb_per_sec=%.0f\n", name, (double)len * n / best[k] / 1e6);
    }
    free(buf);
    return 0;
}
