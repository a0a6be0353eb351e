#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "base/base_internal.h"
#include "eddy/error.h"
#include "server_internal.h"

/* ---- options ---------------------------------------------------------------- */

#define MAX_WORKERS  4094 /* the session id has 12 bits for the worker */
#define MAX_REACTORS 256

void eddy_server_options_init(eddy_server_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->mode = EDDY_MODE_BASE;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->worker_num = cpus > 0 ? (int)cpus : 1;
    o->reactor_num = o->worker_num < MAX_REACTORS ? o->worker_num : MAX_REACTORS;
    o->dispatch_mode = EDDY_DISPATCH_FD;
    o->max_queued_bytes = 8u << 20;
    o->max_wait_time = 3;
    o->log_level = eddy_log_get_level();
    eddy_port_options_init(&o->port);
}

static int set_string(const char **field, const char *value)
{
    if (!value[0]) return -EDDY_EOPTION;
    char *copy = strdup(value);
    if (!copy) return -ENOMEM;
    free((char *)*field);
    *field = copy;
    return 0;
}

static int set_number(eddy_server_options_t *o, const char *key, const char *value, bool *found)
{
    struct {
        const char *key;
        uint64_t min, max;
    } const keys[] = {
        {"worker_num", 1, MAX_WORKERS},      {"task_worker_num", 0, MAX_WORKERS},
        {"max_request", 0, UINT32_MAX},      {"max_request_grace", 0, UINT32_MAX},
        {"task_max_request", 0, UINT32_MAX}, {"max_wait_time", 1, 86400},
        {"reactor_num", 1, MAX_REACTORS},    {"dispatch_mode", 1, 5},
        {"max_queued_bytes", 1, 1ull << 40},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i].key) != 0) continue;
        *found = true;
        uint64_t v;
        int rc = eddy__parse_uint(value, keys[i].min, keys[i].max, &v);
        if (rc < 0) return rc;
        switch (i) {
        case 0: o->worker_num = (int)v; break;
        case 1: o->task_worker_num = (int)v; break;
        case 2: o->max_request = v; break;
        case 3: o->max_request_grace = v; break;
        case 4: o->task_max_request = v; break;
        case 5: o->max_wait_time = v; break;
        case 6: o->reactor_num = (int)v; break;
        case 7: o->dispatch_mode = (eddy_dispatch_mode_t)v; break;
        default: o->max_queued_bytes = v; break;
        }
        return 0;
    }
    return 0;
}

static int options_set(eddy_server_options_t *o, const char *key, const char *value)
{
    if (!key) return -EDDY_EUNKNOWN_OPTION;
    if (!value) return -EDDY_EOPTION;
    bool found = false;
    int rc = set_number(o, key, value, &found);
    if (found) return rc;
    if (strcmp(key, "mode") == 0) {
        if (strcasecmp(value, "base") == 0 || strcmp(value, "1") == 0)
            return o->mode = EDDY_MODE_BASE, 0;
        if (strcasecmp(value, "process") == 0 || strcmp(value, "2") == 0)
            return o->mode = EDDY_MODE_PROCESS, 0;
        return -EDDY_EOPTION;
    }
    if (strcmp(key, "reload_async") == 0) return eddy__parse_bool(value, &o->reload_async);
    if (strcmp(key, "daemonize") == 0) return eddy__parse_bool(value, &o->daemonize);
    if (strcmp(key, "pid_file") == 0) return set_string(&o->pid_file, value);
    if (strcmp(key, "log_file") == 0) return set_string(&o->log_file, value);
    if (strcmp(key, "user") == 0) return set_string(&o->user, value);
    if (strcmp(key, "group") == 0) return set_string(&o->group, value);
    if (strcmp(key, "log_level") == 0) {
        eddy_log_level_t level;
        if (eddy_log_level_parse(value, &level) < 0) return -EDDY_EOPTION;
        o->log_level = level;
        return 0;
    }
    return eddy_port_options_set(&o->port, key, value);
}

static void options_free(eddy_server_options_t *o)
{
    free((char *)o->pid_file);
    free((char *)o->log_file);
    free((char *)o->user);
    free((char *)o->group);
}

static int options_copy(eddy_server_options_t *dst, const eddy_server_options_t *src)
{
    *dst = *src;
    dst->pid_file = dst->log_file = dst->user = dst->group = NULL;
    const char *const from[] = {src->pid_file, src->log_file, src->user, src->group};
    const char **to[] = {&dst->pid_file, &dst->log_file, &dst->user, &dst->group};
    for (size_t i = 0; i < 4; i++) {
        if (!from[i]) continue;
        int rc = set_string(to[i], from[i]);
        if (rc < 0) {
            options_free(dst);
            return rc;
        }
    }
    return 0;
}

static int options_validate(const eddy_server_options_t *o)
{
    if (o->mode != EDDY_MODE_BASE && o->mode != EDDY_MODE_PROCESS) return -EDDY_EOPTION;
    if (o->reactor_num < 1 || o->reactor_num > MAX_REACTORS) return -EDDY_EOPTION;
    if (o->dispatch_mode < EDDY_DISPATCH_ROUND_ROBIN || o->dispatch_mode > EDDY_DISPATCH_UID)
        return -EDDY_EOPTION;
    if (o->max_queued_bytes == 0) return -EDDY_EOPTION;
    if (o->worker_num < 1 || o->worker_num > MAX_WORKERS) return -EDDY_EOPTION;
    if (o->worker_num + o->task_worker_num > MAX_WORKERS) return -EDDY_EOPTION;
    if (o->max_wait_time < 1) return -EDDY_EOPTION;
    return eddy_port_options_validate(&o->port);
}

/* ---- the server object -------------------------------------------------- */

int eddy_server_new(const eddy_server_options_t *opts, const eddy_server_callbacks_t *cbs, void *ud,
                    eddy_server_t **out)
{
    eddy_server_t *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    int rc = 0;
    if (opts)
        rc = options_copy(&s->opts, opts);
    else
        eddy_server_options_init(&s->opts);
    if (rc == 0 && opts) rc = options_validate(&s->opts);
    if (rc < 0) {
        options_free(&s->opts);
        free(s);
        return rc;
    }
    if (cbs) s->cbs = *cbs;
    s->ud = ud;
    s->worker_id = -1;
    s->notice_pipe[0] = s->notice_pipe[1] = -1;
    *out = s;
    return 0;
}

void eddy_server_free(eddy_server_t *s)
{
    if (!s) return;
    for (int i = 0; i < s->nports; i++) {
        if (s->ports[i].fd >= 0) close(s->ports[i].fd);
        if (s->ports[i].first_fd >= 0) close(s->ports[i].first_fd);
        free(s->ports[i].url);
        free(s->ports[i].spool_dir);
    }
    free(s->ports);
    free(s->slots);
    if (s->inboxes)
        for (int i = 0; i < s->ninboxes; i++)
            eddy__ipc_inbox_close(&s->inboxes[i]);
    free(s->inboxes);
    eddy__table_destroy(&s->table);
    free(s->owed);
    for (int i = 0; i < 2; i++)
        if (s->notice_pipe[i] >= 0) close(s->notice_pipe[i]);
    free(s->leavers);
    free(s->sessions);
    options_free(&s->opts);
    free(s);
}

int eddy_server_set(eddy_server_t *s, const char *key, const char *value)
{
    if (s->started) return -EDDY_ESTATE;
    eddy_server_options_t o;
    int rc = options_copy(&o, &s->opts);
    if (rc < 0) return rc;
    /* Combinations (EOF framing without package_eof yet ...) are checked by
     * eddy_server_listen and eddy_server_start: settings come one at a time. */
    rc = options_set(&o, key, value);
    if (rc < 0) {
        options_free(&o);
        return rc;
    }
    options_free(&s->opts);
    s->opts = o;
    return 0;
}

static char *trim(char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return p;
}

int eddy_server_load_config(eddy_server_t *s, const char *path, int *line_out)
{
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    char buf[4096];
    int line = 0, rc = 0;
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        line++;
        if (!strchr(buf, '\n') && !feof(f)) {
            rc = -EDDY_EOPTION; /* a line longer than the buffer */
            break;
        }
        char *p = trim(buf);
        if (*p == '\0' || *p == '#') continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            rc = -EDDY_EOPTION;
            break;
        }
        *eq = '\0';
        char *key = trim(p), *value = trim(eq + 1);
        size_t n = strlen(value);
        if (n >= 2 && value[0] == '"' && value[n - 1] == '"') { /* "quoted value" */
            value[n - 1] = '\0';
            value++;
        }
        rc = eddy_server_set(s, key, value);
    }
    fclose(f);
    if (rc < 0 && line_out) *line_out = line;
    return rc;
}

/* A socket that holds addr (SO_REUSEPORT, bound, not listening) so no other
 * program can take the port between now and the workers binding theirs. */
static int hold_port(const eddy_addr_t *addr, const eddy_port_options_t *o)
{
    int fd = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int on = 1, v6only = o->ipv6_only ? 1 : 0;
    int rc = 0;
    /* No SO_REUSEADDR: with it, a socket that is not listening lets any other
     * SO_REUSEADDR socket bind the port too. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0 ||
        (addr->u.sa.sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0) ||
        bind(fd, &addr->u.sa, addr->len) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int eddy_server_listen(eddy_server_t *s, const char *url, const eddy_port_options_t *opts,
                       const eddy_server_callbacks_t *cbs, void *ud)
{
    if (s->started) return -EDDY_ESTATE;
    const eddy_port_options_t *o = opts ? opts : &s->opts.port;
    server_port_t *ports = realloc(s->ports, (size_t)(s->nports + 1) * sizeof *ports);
    if (!ports) return -ENOMEM;
    s->ports = ports;
    server_port_t *p = &ports[s->nports];
    memset(p, 0, sizeof *p);
    p->index = s->nports;
    p->opts = *o;
    p->cbs = cbs ? *cbs : s->cbs;
    p->ud = cbs ? ud : s->ud;
    p->url = strdup(url);
    if (!p->url) return -ENOMEM;
    int fd = eddy_bind(url, o, &p->addr);
    if (fd < 0) {
        free(p->url);
        return fd;
    }
    int type = SOCK_STREAM;
    socklen_t type_len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len);
    p->udp = type == SOCK_DGRAM;
    p->unix_path = p->addr.u.sa.sa_family == AF_UNIX;
    p->first_fd = -1;
    if (o->reuse_port && !p->unix_path && !p->udp) {
        /* Each worker listens on its own socket in the SO_REUSEPORT group;
         * the master's must not be in it. (A UDP port is shared instead: a
         * datagram socket cannot be kept out of the group.) */
        int hold = hold_port(&p->addr, o);
        if (hold < 0) {
            close(fd);
            free(p->url);
            return hold;
        }
        p->first_fd = fd;
        fd = hold;
    }
    p->fd = fd;
    return s->nports++;
}

int eddy_server_set_dispatch(eddy_server_t *s, eddy_dispatch_fn fn, void *ud)
{
    if (s->started) return -EDDY_ESTATE;
    s->dispatch_fn = fn;
    s->dispatch_ud = ud;
    return 0;
}

int eddy_server_set_spool_dir(eddy_server_t *s, int port, const char *dir)
{
    if (s->started) return -EDDY_ESTATE;
    /* Room for "/eddy-body-XXXXXX" after it. */
    if (port < 0 || port >= s->nports || !dir || !dir[0] || strlen(dir) + 20 > SPOOL_PATH_MAX)
        return -EINVAL;
    char *copy = strdup(dir);
    if (!copy) return -ENOMEM;
    free(s->ports[port].spool_dir);
    s->ports[port].spool_dir = copy;
    return 0;
}

int eddy_server_port(const eddy_server_t *s, int i)
{
    if (i < 0 || i >= s->nports) return -EINVAL;
    return eddy_addr_port(&s->ports[i].addr);
}

int eddy__server_total_workers(const eddy_server_t *s)
{
    return s->opts.worker_num + s->opts.task_worker_num;
}

int eddy__server_notice(eddy_server_t *s, notice_type_t type, int worker_id)
{
    notice_t n = {type, worker_id, (int32_t)getpid()};
    ssize_t w = send(s->notice_pipe[1], &n, sizeof n, MSG_NOSIGNAL | MSG_DONTWAIT);
    return w == (ssize_t)sizeof n ? 0 : -errno; /* e.g. the master is gone */
}

int eddy_server_worker_id(const eddy_server_t *s)
{
    return s->worker_id;
}

pid_t eddy_server_master_pid(const eddy_server_t *s)
{
    return s->master_pid;
}

pid_t eddy_server_manager_pid(const eddy_server_t *s)
{
    return s->manager_pid;
}

eddy_loop_t *eddy_server_loop(const eddy_server_t *s)
{
    return s->loop;
}

int eddy_server_reload(eddy_server_t *s, bool task_workers_only)
{
    if (!s->started) return -EDDY_ESTATE;
    return eddy__server_notice(s, task_workers_only ? NOTICE_RELOAD_TASKS : NOTICE_RELOAD,
                               s->worker_id);
}

int eddy_server_shutdown(eddy_server_t *s)
{
    if (!s->started) return -EDDY_ESTATE;
    return eddy__server_notice(s, NOTICE_SHUTDOWN, s->worker_id);
}

int eddy_server_stop_worker(eddy_server_t *s, int worker_id)
{
    if (!s->started) return -EDDY_ESTATE;
    if (worker_id < 0 || worker_id >= eddy__server_total_workers(s)) return -EINVAL;
    return eddy__server_notice(s, NOTICE_STOP_WORKER, worker_id);
}

/* ---- start ------------------------------------------------------------------- */

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid > 0) _exit(0);
    if (setsid() < 0) return -errno;
    pid = fork(); /* no longer a session leader: can never regain a terminal */
    if (pid < 0) return -errno;
    if (pid > 0) _exit(0);
    if (chdir("/") < 0) return -errno;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO); /* the log goes to log_file, if any */
    close(fd);
    return 0;
}

static int write_pid_file(const char *path)
{
    FILE *f = fopen(path, "we");
    if (!f) return -errno;
    fprintf(f, "%d\n", (int)getpid());
    return fclose(f) == 0 ? 0 : -errno;
}

/* After binding: ports under 1024 need root, serving them does not. */
static int drop_privileges(const eddy_server_options_t *o)
{
    if (o->group) {
        struct group *g = getgrnam(o->group);
        if (!g) return -EDDY_EOPTION;
        if (setgroups(0, NULL) < 0 || setgid(g->gr_gid) < 0) return -errno;
    }
    if (o->user) {
        struct passwd *pw = getpwnam(o->user);
        if (!pw) return -EDDY_EOPTION;
        if (!o->group && (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0))
            return -errno;
        if (setuid(pw->pw_uid) < 0) return -errno;
    }
    return 0;
}

int eddy__server_reuse_port_socket(server_port_t *p)
{
    int fd = p->first_fd;
    p->first_fd = -1;
    if (fd >= 0) return fd;
    char addr[128], url[160];
    eddy_addr_format(&p->addr, addr, sizeof addr);
    snprintf(url, sizeof url, "tcp://%s", addr);
    eddy_addr_t bound;
    return eddy_bind(url, &p->opts, &bound);
}

void eddy__server_release_first_fds(eddy_server_t *s)
{
    for (int i = 0; i < s->nports; i++) {
        if (s->ports[i].first_fd >= 0) close(s->ports[i].first_fd);
        s->ports[i].first_fd = -1;
    }
}

/* BASE mode with enable_reuse_port: a leaving worker's socket takes its
 * accept queue with it unless the kernel moves it to the group's others. */
static void note_reuse_port_migration(const eddy_server_t *s)
{
    bool reuse = false;
    for (int i = 0; i < s->nports; i++)
        reuse |= s->ports[i].opts.reuse_port && !s->ports[i].unix_path && !s->ports[i].udp;
    if (!reuse || is_process_mode(s)) return;
    char v = '1';
    int fd = open("/proc/sys/net/ipv4/tcp_migrate_req", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, 1) != 1) v = '1'; /* unknown: say nothing */
        close(fd);
    }
    if (v == '0')
        EDDY_NOTICE("enable_reuse_port: net.ipv4.tcp_migrate_req is 0, so connections still "
                    "queued on a reloading worker's socket are reset; "
                    "sysctl -w net.ipv4.tcp_migrate_req=1 hands them to the other workers");
}

static int prepare(eddy_server_t *s)
{
    int rc = 0;
    eddy_log_set_level(s->opts.log_level);
    if (s->opts.log_file && (rc = eddy_log_set_file(s->opts.log_file)) < 0) return rc;
    if (s->opts.daemonize && (rc = daemonize()) < 0) return rc;
    if (s->opts.pid_file && (rc = write_pid_file(s->opts.pid_file)) < 0) return rc;
    note_reuse_port_migration(s);
    return drop_privileges(&s->opts);
}

static void cleanup(eddy_server_t *s)
{
    for (int i = 0; i < s->nports; i++) {
        server_port_t *p = &s->ports[i];
        if (p->unix_path) unlink(p->addr.u.un.sun_path);
        if (p->fd >= 0) close(p->fd);
        p->fd = -1;
    }
    eddy__server_release_first_fds(s);
    if (s->opts.pid_file) unlink(s->opts.pid_file);
}

/* PROCESS mode: one entry per descriptor the master may open. */
static size_t table_size(void)
{
    struct rlimit rl;
    size_t n = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) n = rl.rlim_cur;
    return n < SESSION_FD_MAX ? n : SESSION_FD_MAX;
}

/* What every process of the tree shares, made before the first fork: the
 * worker slots, the notice socket, one inbox per slot (and per reactor
 * thread), and in PROCESS mode the session table. */
static int tree_create(eddy_server_t *s)
{
    s->nslots = eddy__server_total_workers(s);
    s->slots = calloc((size_t)s->nslots, sizeof *s->slots);
    if (!s->slots) return -ENOMEM;
    s->reload_next = -1;
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, s->notice_pipe) < 0)
        return -errno;
    s->ninboxes = s->nslots + (is_process_mode(s) ? s->opts.reactor_num : 0);
    s->inboxes = calloc((size_t)s->ninboxes, sizeof *s->inboxes);
    if (!s->inboxes) return -ENOMEM;
    for (int i = 0; i < s->ninboxes; i++)
        s->inboxes[i].fd[0] = s->inboxes[i].fd[1] = -1;
    for (int i = 0; i < s->ninboxes; i++) {
        int rc = eddy__ipc_inbox_create(&s->inboxes[i]);
        if (rc < 0) return rc;
    }
    if (!is_process_mode(s)) return 0;
    return eddy__table_create(&s->table, table_size(), s->opts.worker_num, s->opts.reactor_num);
}

static void tree_destroy(eddy_server_t *s)
{
    for (int i = 0; i < 2; i++) {
        if (s->notice_pipe[i] >= 0) close(s->notice_pipe[i]);
        s->notice_pipe[i] = -1;
    }
}

int eddy_server_start(eddy_server_t *s)
{
    if (s->started) return -EDDY_ESTATE;
    if (s->nports == 0) return -EINVAL;
    int rc = options_validate(&s->opts);
    if (rc < 0) return rc;
    s->started = true;
    s->master_pid = getpid();
    s->role = ROLE_MASTER;
    sigprocmask(SIG_SETMASK, NULL, &s->original_mask);
    rc = prepare(s);
    if (rc == 0) {
        s->master_pid = s->manager_pid = getpid(); /* daemonize forked */
        rc = tree_create(s);
    }
    if (rc == 0) rc = is_process_mode(s) ? eddy__process_run(s) : eddy__master_run(s);
    tree_destroy(s);
    cleanup(s);
    return rc;
}
