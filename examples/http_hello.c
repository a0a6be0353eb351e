/*
 * http_hello — the smallest HTTP server: every request gets
 * "200 OK", Content-Type: text/plain, "Hello, World!".
 *
 *   http_hello [-p PORT] [-w WORKERS] [-m base|process] [-r REACTORS]
 *
 * PORT 0 (the default) picks a free port; the program prints
 * "listening on 127.0.0.1:PORT" once it is bound. WORKERS processes
 * (default 1) serve the port; the master restarts any that dies and shuts
 * everything down gracefully on SIGTERM or Ctrl-C.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <eddy.h>

static void hello(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_set_header(res, "Content-Type", "text/plain");
    eddy_http_end(res, "Hello, World!", 13);
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-p PORT] [-w WORKERS] [-m base|process] [-r REACTORS]\n", prog);
    return 2;
}

static void fail(const char *what, const char *value, int rc)
{
    fprintf(stderr, "http_hello: %s%s%s: %s\n", what, value ? " " : "", value ? value : "",
            eddy_strerror(rc));
    exit(1);
}

int main(int argc, char **argv)
{
    eddy_proctitle_init(argc, argv); /* first: ps shows "eddy: worker #0" ... */
    const char *port = "0", *workers = "1", *mode = "base", *reactors = NULL;
    for (int opt; (opt = getopt(argc, argv, "p:w:m:r:")) != -1;) {
        switch (opt) {
        case 'p': port = optarg; break;
        case 'w': workers = optarg; break;
        case 'm': mode = optarg; break;
        case 'r': reactors = optarg; break;
        default: return usage(argv[0]);
        }
    }
    eddy_server_t *s;
    int rc = eddy_server_new(NULL, NULL, NULL, &s);
    if (rc < 0) fail("new", NULL, rc);
    if ((rc = eddy_server_set(s, "mode", mode)) < 0) fail("mode", mode, rc);
    if ((rc = eddy_server_set(s, "worker_num", workers)) < 0) fail("worker_num", workers, rc);
    if (reactors && (rc = eddy_server_set(s, "reactor_num", reactors)) < 0)
        fail("reactor_num", reactors, rc);

    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%s", port);
    int index = eddy_http_listen(s, url, NULL, hello, NULL);
    if (index < 0) fail("listen", url, index);
    printf("listening on 127.0.0.1:%d\n", eddy_server_port(s, index));
    fflush(stdout);
    rc = eddy_server_start(s);
    eddy_server_free(s);
    if (rc < 0) fail("start", NULL, rc);
    return 0;
}
