/*
 * http_client — fetch a URL with eddy's asynchronous HTTP client.
 *
 *   http_client URL [-X METHOD] [-d BODY] [-H 'Name: value']... [-n REPEAT] [-i] [-L]
 *
 * Prints the status line (and the response headers with -i), a blank line,
 * then the body as it streams in. -d sends BODY (with Content-Length);
 * -H adds a request header (repeatable); -L follows redirects. -n sends the
 * request REPEAT times, one after another over the client's keep-alive pool,
 * printing every response, and then says on stderr how many connections were
 * opened for them (1 when the server keeps the connection alive).
 *
 * Exits 0 when every request got a complete response (whatever its status),
 * 1 with a message on stderr on the first error (connection refused,
 * timeout, malformed response, ...), 2 on a usage error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eddy.h>

#define MAX_HEADERS 64
#define MAX_REPEAT  1000000

typedef struct fetch {
    eddy_http_client_t *client;
    eddy_http_client_request_t rq;
    bool show_headers;
    bool head_printed;
    unsigned long left; /* requests still to send */
    unsigned long done;
    int status; /* the exit status */
} fetch_t;

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s URL [-X METHOD] [-d BODY] [-H 'Name: value']... [-n REPEAT] [-i] [-L]\n",
            prog);
}

static void print_head(fetch_t *f, const eddy_http_client_response_t *res)
{
    if (f->head_printed) return;
    f->head_printed = true;
    printf("HTTP/1.%d %d %s\n", res->minor_version, res->status, res->reason);
    if (f->show_headers)
        for (size_t i = 0; i < res->num_headers; i++)
            printf("%s: %s\n", res->headers[i].name, res->headers[i].value);
    printf("\n");
}

static int on_body(eddy_http_client_transfer_t *t, const eddy_http_client_response_t *res,
                   const char *data, size_t len, void *ud)
{
    fetch_t *f = ud;
    print_head(f, res);
    return fwrite(data, 1, len, stdout) == len ? 0 : -EIO;
}

static void report_error(const fetch_t *f, int err, const eddy_http_client_response_t *res)
{
    const char *method = f->rq.method ? f->rq.method : "GET";
    fprintf(stderr, "http_client: %s %s: %s (%s)", method, res->url, eddy_strerror(err),
            eddy_err_name(err));
    if (err == -EDDY_EHTTP_PARSE) fprintf(stderr, ": %s", eddy_http1_error_str(res->parse_error));
    if (res->status) fprintf(stderr, " [status %d]", res->status);
    fprintf(stderr, "\n");
}

static void on_complete(eddy_http_client_transfer_t *t, int err,
                        const eddy_http_client_response_t *res, void *ud)
{
    fetch_t *f = ud;
    f->done++;
    if (err < 0) {
        fflush(stdout);
        report_error(f, err, res);
        f->status = 1;
        eddy_http_client_free(f->client); /* the loop ends once its connections have closed */
        return;
    }
    print_head(f, res); /* if no body came */
    f->head_printed = false;
    if (--f->left == 0) {
        fflush(stdout);
        eddy_http_client_stats_t st;
        eddy_http_client_stats(f->client, &st);
        if (f->done > 1)
            fprintf(stderr, "http_client: %lu requests, %llu connection%s opened\n", f->done,
                    (unsigned long long)st.connections_opened,
                    st.connections_opened == 1 ? "" : "s");
        eddy_http_client_free(f->client);
        return;
    }
    int rc = eddy_http_client_send(f->client, &f->rq, NULL); /* the pooled connection */
    if (rc < 0) {
        fprintf(stderr, "http_client: %s\n", eddy_strerror(rc));
        f->status = 1;
        eddy_http_client_free(f->client);
    }
}

/* "Name: value" into a header whose strings point into arg (modified). */
static bool parse_header(char *arg, eddy_http_client_header_t *h)
{
    char *colon = strchr(arg, ':');
    if (!colon || colon == arg) return false;
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    h->name = arg;
    h->value = value;
    return true;
}

static bool parse_repeat(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || s[0] == '-' || s[0] == '\0' || v < 1 || v > MAX_REPEAT) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    static eddy_http_client_header_t headers[MAX_HEADERS];
    fetch_t f = {.left = 1};
    eddy_http_client_request_init(&f.rq);
    bool follow = false;
    for (int opt; (opt = getopt(argc, argv, "X:d:H:n:iL")) != -1;) {
        switch (opt) {
        case 'X': f.rq.method = optarg; break;
        case 'd':
            f.rq.body = optarg;
            f.rq.body_len = strlen(optarg);
            if (!f.rq.method) f.rq.method = "POST";
            break;
        case 'H':
            if (f.rq.num_headers == MAX_HEADERS ||
                !parse_header(optarg, &headers[f.rq.num_headers])) {
                fprintf(stderr, "http_client: -H wants 'Name: value' (at most %d)\n", MAX_HEADERS);
                return 2;
            }
            f.rq.num_headers++;
            break;
        case 'n':
            if (!parse_repeat(optarg, &f.left)) {
                fprintf(stderr, "http_client: -n wants a count from 1 to %d\n", MAX_REPEAT);
                return 2;
            }
            break;
        case 'i': f.show_headers = true; break;
        case 'L': follow = true; break;
        default: usage(argv[0]); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(argv[0]);
        return 2;
    }
    f.rq.url = argv[optind];
    f.rq.headers = headers;
    f.rq.on_body = on_body;
    f.rq.on_complete = on_complete;
    f.rq.ud = &f;

    eddy_http_client_options_t opts;
    eddy_http_client_options_init(&opts);
    opts.follow_redirects = follow;
    eddy_loop_t *loop;
    int rc = eddy_loop_new(&loop);
    if (rc == 0) rc = eddy_http_client_new(loop, &opts, &f.client);
    if (rc < 0) {
        fprintf(stderr, "http_client: %s\n", eddy_strerror(rc));
        return 1;
    }
    rc = eddy_http_client_send(f.client, &f.rq, NULL);
    if (rc < 0) { /* a bad URL, method or header: nothing was sent */
        fprintf(stderr, "http_client: %s: %s (%s)\n", f.rq.url, eddy_strerror(rc),
                eddy_err_name(rc));
        eddy_http_client_free(f.client);
        f.status = 1;
    }
    rc = eddy_loop_run(loop); /* until the client is freed and its connections closed */
    eddy_loop_free(loop);
    return rc < 0 ? 1 : f.status;
}
