/* tests/harness.c - real peers for integration tests (see harness.h). */
#include "tests/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

__attribute__((format(printf, 4, 5)))
static int fail(int err, char *errbuf, size_t errsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errsize, fmt, ap);
    va_end(ap);
    return err;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ==== processes ============================================================ */

struct harness_proc {
    pid_t pid;
    bool reaped;
    int status;
    char name[64];
};

int harness_proc_spawn(const char *const argv[], const char *log_path, harness_proc **out,
                       char *errbuf, size_t errsize)
{
    int errpipe[2];
    harness_proc *p = calloc(1, sizeof(*p));
    if (!p)
        return fail(-ENOMEM, errbuf, errsize, "out of memory");
    snprintf(p->name, sizeof(p->name), "%s", argv[0]);
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        int e = errno;
        free(p);
        return fail(-e, errbuf, errsize, "pipe: %s", strerror(e));
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        free(p);
        return fail(-e, errbuf, errsize, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        /* child: report {step, errno} through the pipe if anything fails */
        int report[2] = {0, 0};
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
        setpgid(0, 0);
        /* die with the test, even when it crashes or a failed assertion skips
         * the cleanup */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int in = open("/dev/null", O_RDONLY);
        int log = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || log < 0) {
            report[0] = 1;
            report[1] = errno;
        } else {
            dup2(in, 0);
            dup2(log, 1);
            dup2(log, 2);
            execvp(argv[0], (char *const *)argv);
            report[0] = 2;
            report[1] = errno;
        }
        free(p); /* the child's copy */
        if (write(errpipe[1], report, sizeof(report)) < 0)
            _exit(126);
        _exit(127);
    }
    setpgid(pid, pid); /* also from the parent, so the group exists before we signal it */
    close(errpipe[1]);
    int report[2];
    ssize_t n;
    while ((n = read(errpipe[0], report, sizeof(report))) < 0 && errno == EINTR)
        ;
    close(errpipe[0]);
    if (n == (ssize_t)sizeof(report)) {
        waitpid(pid, NULL, 0);
        free(p);
        if (report[0] == 1)
            return fail(-report[1], errbuf, errsize, "%s: cannot open log %s: %s", argv[0],
                        log_path ? log_path : "/dev/null", strerror(report[1]));
        return fail(-report[1], errbuf, errsize, "cannot run %s: %s%s", argv[0], strerror(report[1]),
                    report[1] == ENOENT ? " (not found on PATH)" : "");
    }
    p->pid = pid;
    *out = p;
    return 0;
}

pid_t harness_proc_pid(const harness_proc *p)
{
    return p->pid;
}

int harness_proc_signal(harness_proc *p, int sig)
{
    if (p->reaped)
        return -ESRCH;
    return kill(p->pid, sig) == 0 ? 0 : -errno;
}

int harness_proc_wait(harness_proc *p, int timeout_ms, int *wstatus, char *errbuf, size_t errsize)
{
    int64_t deadline = now_ms() + timeout_ms;
    int delay = 1;
    while (!p->reaped) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->reaped = true;
            p->status = st;
            break;
        }
        if (r < 0 && errno != EINTR)
            return fail(-errno, errbuf, errsize, "waitpid %s (%d): %s", p->name, (int)p->pid, strerror(errno));
        if (now_ms() >= deadline)
            return fail(-ETIMEDOUT, errbuf, errsize, "%s (pid %d) still running after %d ms", p->name,
                        (int)p->pid, timeout_ms);
        sleep_ms(delay);
        if (delay < 20)
            delay *= 2;
    }
    if (wstatus)
        *wstatus = p->status;
    return 0;
}

int harness_proc_expect_exit(harness_proc *p, int timeout_ms, int code, char *errbuf, size_t errsize)
{
    int st;
    int r = harness_proc_wait(p, timeout_ms, &st, errbuf, errsize);
    if (r)
        return r;
    if (WIFEXITED(st) && WEXITSTATUS(st) == code)
        return 0;
    if (WIFEXITED(st))
        return fail(-ECHILD, errbuf, errsize, "%s exited with %d, expected %d", p->name, WEXITSTATUS(st), code);
    return fail(-ECHILD, errbuf, errsize, "%s killed by signal %d, expected exit %d", p->name,
                WIFSIGNALED(st) ? WTERMSIG(st) : -1, code);
}

void harness_proc_free(harness_proc *p)
{
    if (!p)
        return;
    if (!p->reaped) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free(p);
}

int harness_wait_until(harness_pred pred, void *arg, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int delay = 1;
    for (;;) {
        if (pred(arg))
            return 0;
        if (now_ms() >= deadline)
            return -ETIMEDOUT;
        sleep_ms(delay);
        if (delay < 20)
            delay *= 2;
    }
}

/* ==== redis ================================================================ */

struct harness_redis {
    char dir[PATH_MAX];
    int port;
    harness_proc *proc;
};

static int free_port(int *port, char *errbuf, size_t errsize)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(-errno, errbuf, errsize, "socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        int e = errno;
        close(fd);
        return fail(-e, errbuf, errsize, "cannot bind 127.0.0.1:0: %s", strerror(e));
    }
    close(fd);
    *port = ntohs(a.sin_port);
    return 0;
}

/* Last line of a file, for error messages. */
static void last_line(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, "\n");
        if (n)
            snprintf(buf, size, "%.*s", n < size ? (int)n : (int)size - 1, line);
    }
    fclose(f);
}

static bool ping(int port)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        redisReply *rep = redisCommand(c, "PING");
        ok = rep && rep->type == REDIS_REPLY_STATUS && !strcmp(rep->str, "PONG");
        freeReplyObject(rep);
    }
    redisFree(c);
    return ok;
}

static int redis_launch(harness_redis *r, bool aof, char *errbuf, size_t errsize)
{
    char port[16], logfile[PATH_MAX + 16], outfile[PATH_MAX + 16];
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(logfile, sizeof(logfile), "%s/redis.log", r->dir);
    snprintf(outfile, sizeof(outfile), "%s/redis.out", r->dir);
    const char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", r->dir,
                          "--save", "", "--appendonly", aof ? "yes" : "no", "--appendfsync", "always",
                          "--daemonize", "no", "--logfile", logfile, NULL};
    int e = harness_proc_spawn(argv, outfile, &r->proc, errbuf, errsize);
    if (e)
        return e;
    int64_t deadline = now_ms() + 5000;
    while (!ping(r->port)) {
        int st;
        char err[64], tail[400];
        if (harness_proc_wait(r->proc, 0, &st, err, sizeof(err)) == 0) {
            last_line(logfile, tail, sizeof(tail));
            harness_proc_free(r->proc);
            r->proc = NULL;
            return fail(-ECHILD, errbuf, errsize, "redis-server on port %d exited (status %d): %s",
                        r->port, st, tail);
        }
        if (now_ms() >= deadline) {
            last_line(logfile, tail, sizeof(tail));
            harness_proc_free(r->proc);
            r->proc = NULL;
            return fail(-ETIMEDOUT, errbuf, errsize, "redis-server on port %d did not answer PING in 5 s: %s",
                        r->port, tail);
        }
        sleep_ms(10);
    }
    return 0;
}

int harness_redis_start(harness_redis **out, char *errbuf, size_t errsize)
{
    signal(SIGPIPE, SIG_IGN);
    harness_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return fail(-ENOMEM, errbuf, errsize, "out of memory");
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof(r->dir), "%s/clm-redis-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->dir)) {
        int e = errno;
        fail(-e, errbuf, errsize, "mkdtemp %s: %s", r->dir, strerror(e));
        free(r);
        return -e;
    }
    int e = free_port(&r->port, errbuf, errsize);
    if (!e)
        e = redis_launch(r, true, errbuf, errsize);
    if (e) {
        harness_redis_free(r);
        return e;
    }
    *out = r;
    return 0;
}

int harness_redis_stop(harness_redis *r, char *errbuf, size_t errsize)
{
    if (!r->proc)
        return 0;
    int e = 0;
    harness_proc_signal(r->proc, SIGTERM);
    if (harness_proc_wait(r->proc, 5000, NULL, errbuf, errsize) != 0)
        e = fail(-ETIMEDOUT, errbuf, errsize, "redis-server (port %d) ignored SIGTERM for 5 s; killed", r->port);
    harness_proc_free(r->proc);
    r->proc = NULL;
    return e;
}

int harness_redis_restart(harness_redis *r, char *errbuf, size_t errsize)
{
    int e = harness_redis_stop(r, errbuf, errsize);
    if (e)
        return e;
    return redis_launch(r, true, errbuf, errsize);
}

/* True once INFO persistence says the AOF is on and no rewrite is pending. */
static bool aof_ready(redisContext *c)
{
    redisReply *rep = redisCommand(c, "INFO persistence");
    bool ok = rep && rep->type == REDIS_REPLY_STRING && strstr(rep->str, "aof_enabled:1") &&
              strstr(rep->str, "aof_rewrite_in_progress:0") &&
              strstr(rep->str, "aof_rewrite_scheduled:0");
    freeReplyObject(rep);
    return ok;
}

int harness_redis_load_rdb(harness_redis *r, const char *rdb, char *errbuf, size_t errsize)
{
    char cmd[3 * PATH_MAX];
    int e = harness_redis_stop(r, errbuf, errsize);
    if (e)
        return e;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/appendonlydir' && cp '%s' '%s/dump.rdb'", r->dir, rdb,
             r->dir);
    if (system(cmd) != 0)
        return fail(-EIO, errbuf, errsize, "%s: failed", cmd);
    if ((e = redis_launch(r, false, errbuf, errsize)))
        return e;
    redisContext *c = NULL;
    if ((e = harness_redis_connect(r, &c, errbuf, errsize)))
        return e;
    redisReply *rep = redisCommand(c, "CONFIG SET appendonly yes");
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        e = fail(-EIO, errbuf, errsize, "CONFIG SET appendonly yes: %s",
                 rep ? rep->str : c->errstr);
        goto out;
    }
    int64_t deadline = now_ms() + 10000;
    while (!aof_ready(c)) {
        if (now_ms() >= deadline) {
            e = fail(-ETIMEDOUT, errbuf, errsize, "redis port %d: AOF not written in 10 s", r->port);
            goto out;
        }
        sleep_ms(20);
    }
out:
    freeReplyObject(rep);
    redisFree(c);
    return e;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void harness_redis_free(harness_redis *r)
{
    if (!r)
        return;
    char err[256];
    harness_redis_stop(r, err, sizeof(err));
    nftw(r->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(r);
}

int harness_redis_port(const harness_redis *r)
{
    return r->port;
}

const char *harness_redis_dir(const harness_redis *r)
{
    return r->dir;
}

pid_t harness_redis_pid(const harness_redis *r)
{
    return r->proc ? harness_proc_pid(r->proc) : 0;
}

int harness_redis_connect(const harness_redis *r, redisContext **out, char *errbuf, size_t errsize)
{
    struct timeval conn = {.tv_sec = 2}, cmd = {.tv_sec = 5};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, conn);
    if (!c)
        return fail(-ENOMEM, errbuf, errsize, "out of memory");
    if (c->err) {
        int e = fail(-ECONNREFUSED, errbuf, errsize, "redis 127.0.0.1:%d: %s", r->port, c->errstr);
        redisFree(c);
        return e;
    }
    redisSetTimeout(c, cmd);
    *out = c;
    return 0;
}

/* ---- canonical dump ------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_esc(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < '!' || ch > '~' || ch == '\\' || ch == '=') {
            char e[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
            sb_put(b, e, 4);
        } else {
            sb_put(b, (const char *)&ch, 1);
        }
    }
}

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static int lines_add(lines *l, sbuf *b)
{
    if (b->oom)
        return -ENOMEM;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = b->p; /* the line takes b's buffer */
    *b = (sbuf){0};
    return 0;
}

static void lines_clear(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (lines){0};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_reply_str(const void *a, const void *b)
{
    const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Starts a line "<key> <type> ". */
static void line_head(sbuf *b, const redisReply *key, const char *type)
{
    sb_esc(b, key->str, key->len);
    sb_str(b, " ");
    sb_str(b, type);
    sb_str(b, " ");
}

/* sb_esc of a value without its "emitted_at":"..." member, if any. */
static void sb_esc_no_emitted_at(sbuf *b, const char *s, size_t len)
{
    static const char tag[] = "\"emitted_at\":\"";
    const char *at = memmem(s, len, tag, sizeof(tag) - 1);
    const char *end = at ? memchr(at + sizeof(tag) - 1, '"', len - (size_t)(at - s) - (sizeof(tag) - 1)) : NULL;
    if (!end) {
        sb_esc(b, s, len);
        return;
    }
    sb_esc(b, s, (size_t)(at - s));
    sb_esc(b, end + 1, len - (size_t)(end + 1 - s));
}

static int dump_key(redisContext *c, const redisReply *key, lines *out, char *errbuf, size_t errsize)
{
    redisReply *t = redisCommand(c, "TYPE %b", key->str, key->len);
    if (!t || t->type != REDIS_REPLY_STATUS) {
        freeReplyObject(t);
        return fail(-EIO, errbuf, errsize, "TYPE failed: %s", c->err ? c->errstr : "unexpected reply");
    }
    char type[16];
    snprintf(type, sizeof(type), "%s", t->str);
    freeReplyObject(t);

    const char *cmd;
    if (!strcmp(type, "string"))
        cmd = "GET %b";
    else if (!strcmp(type, "hash"))
        cmd = "HGETALL %b";
    else if (!strcmp(type, "set"))
        cmd = "SMEMBERS %b";
    else if (!strcmp(type, "zset"))
        cmd = "ZRANGE %b 0 -1 WITHSCORES";
    else if (!strcmp(type, "list"))
        cmd = "LRANGE %b 0 -1";
    else if (!strcmp(type, "stream"))
        cmd = "XRANGE %b - +";
    else if (!strcmp(type, "none"))
        return 0; /* expired or deleted since SCAN */
    else
        return fail(-ENOTSUP, errbuf, errsize, "key %.*s has unsupported type %s", (int)key->len, key->str, type);

    redisReply *rep = redisCommand(c, cmd, key->str, key->len);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        int e = fail(-EIO, errbuf, errsize, "%s on %.*s failed: %s", type, (int)key->len, key->str,
                     rep ? rep->str : c->errstr);
        freeReplyObject(rep);
        return e;
    }
    lines mine = {0};
    int e = 0;
    sbuf b = {0};
    bool sorted = true;
    if (rep->type == REDIS_REPLY_STRING) {
        line_head(&b, key, type);
        sb_esc(&b, rep->str, rep->len);
        e = lines_add(&mine, &b);
    } else if (rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < rep->elements && !e; i++) {
            redisReply *el = rep->element[i];
            line_head(&b, key, type);
            if (!strcmp(type, "hash") || !strcmp(type, "zset")) {
                redisReply *val = rep->element[++i];
                sb_esc(&b, el->str, el->len);
                sb_str(&b, !strcmp(type, "hash") ? "=" : " ");
                sb_esc_no_emitted_at(&b, val->str, val->len);
            } else if (!strcmp(type, "set")) {
                sb_esc(&b, el->str, el->len);
            } else if (!strcmp(type, "list")) {
                char idx[24];
                snprintf(idx, sizeof(idx), "%06zu ", i);
                sb_str(&b, idx);
                sb_esc(&b, el->str, el->len);
                sorted = false;
            } else { /* stream entry: [id, [field, value, ...]] */
                /* Entry ids are arrival times and alerts carry their
                 * emission time: neither is part of the state, so both are
                 * left out, and entries compare as a set. */
                redisReply *kv = el->element[1];
                for (size_t j = 0; j + 1 < kv->elements; j += 2) {
                    sb_str(&b, j ? " " : "");
                    sb_esc(&b, kv->element[j]->str, kv->element[j]->len);
                    sb_str(&b, "=");
                    sb_esc_no_emitted_at(&b, kv->element[j + 1]->str, kv->element[j + 1]->len);
                }
            }
            e = lines_add(&mine, &b);
        }
    }
    freeReplyObject(rep);
    free(b.p);
    if (e) {
        lines_clear(&mine);
        return fail(e, errbuf, errsize, "out of memory");
    }
    if (sorted)
        qsort(mine.v, mine.n, sizeof(*mine.v), cmp_str);
    for (size_t i = 0; i < mine.n && !e; i++) {
        sbuf one = {.p = mine.v[i]};
        mine.v[i] = NULL;
        e = lines_add(out, &one);
        if (e)
            free(one.p);
    }
    lines_clear(&mine);
    return e ? fail(e, errbuf, errsize, "out of memory") : 0;
}

int harness_redis_dump(redisContext *c, const char *pattern, char **out, char *errbuf, size_t errsize)
{
    redisReply **keys = NULL, **replies = NULL;
    size_t nkeys = 0, capkeys = 0, nreplies = 0, capreplies = 0;
    char cursor[32] = "0";
    int e = 0;
    do {
        redisReply *rep = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern ? pattern : "*");
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            e = fail(-EIO, errbuf, errsize, "SCAN failed: %s", rep && rep->type == REDIS_REPLY_ERROR ? rep->str
                                                                   : c->errstr[0] ? c->errstr : "unexpected reply");
            freeReplyObject(rep);
            goto out_free_replies;
        }
        if (nreplies == capreplies) {
            capreplies = capreplies ? 2 * capreplies : 16;
            redisReply **p = realloc(replies, capreplies * sizeof(*p));
            if (!p) {
                freeReplyObject(rep);
                e = fail(-ENOMEM, errbuf, errsize, "out of memory");
                goto out_free_replies;
            }
            replies = p;
        }
        replies[nreplies++] = rep;
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        redisReply *batch = rep->element[1];
        for (size_t i = 0; i < batch->elements; i++) {
            if (nkeys == capkeys) {
                capkeys = capkeys ? 2 * capkeys : 256;
                redisReply **p = realloc(keys, capkeys * sizeof(*p));
                if (!p) {
                    e = fail(-ENOMEM, errbuf, errsize, "out of memory");
                    goto out_free_replies;
                }
                keys = p;
            }
            keys[nkeys++] = batch->element[i];
        }
    } while (strcmp(cursor, "0") != 0);

    if (nkeys)
        qsort(keys, nkeys, sizeof(*keys), cmp_reply_str);
    lines all = {0};
    for (size_t i = 0; i < nkeys && !e; i++) {
        if (i > 0 && cmp_reply_str(&keys[i - 1], &keys[i]) == 0)
            continue; /* SCAN may return a key twice */
        e = dump_key(c, keys[i], &all, errbuf, errsize);
    }
    sbuf text = {0};
    sb_put(&text, "", 0);
    for (size_t i = 0; i < all.n && !e; i++) {
        sb_str(&text, all.v[i]);
        sb_str(&text, "\n");
    }
    lines_clear(&all);
    if (!e && text.oom)
        e = fail(-ENOMEM, errbuf, errsize, "out of memory");
    if (e)
        free(text.p);
    else
        *out = text.p;

out_free_replies:
    for (size_t i = 0; i < nreplies; i++)
        freeReplyObject(replies[i]);
    free(replies);
    free(keys);
    return e;
}

int harness_dump_diff(const char *expected, const char *actual, char *buf, size_t size)
{
    const char *a = expected, *b = actual;
    for (size_t line = 1;; line++) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        bool ea = !*a, eb = !*b;
        if (ea && eb)
            return 0;
        if (ea != eb || la != lb || memcmp(a, b, la) != 0) {
            snprintf(buf, size, "line %zu: expected %.*s | actual %.*s", line,
                     ea ? 5 : (int)la, ea ? "<end>" : a, eb ? 5 : (int)lb, eb ? "<end>" : b);
            return 1;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
}

/* ==== kafka ================================================================ */

struct harness_kafka {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    int brokers;
};

int harness_kafka_start(int brokers, harness_kafka **out, char *errbuf, size_t errsize)
{
    char err[256];
    harness_kafka *k = calloc(1, sizeof(*k));
    if (!k)
        return fail(-ENOMEM, errbuf, errsize, "out of memory");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* this handle only hosts the cluster: silence "no bootstrap.servers" */
    rd_kafka_conf_set(conf, "log_level", "4", err, sizeof(err));
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        free(k);
        return fail(-EINVAL, errbuf, errsize, "cannot create a client for the mock cluster: %s", err);
    }
    /* rd_kafka_new took ownership of conf */
    k->mc = rd_kafka_mock_cluster_new(k->rk, brokers);
    if (!k->mc) {
        rd_kafka_destroy(k->rk);
        free(k);
        return fail(-EIO, errbuf, errsize, "cannot start a mock cluster of %d brokers", brokers);
    }
    k->brokers = brokers;
    *out = k;
    return 0;
}

void harness_kafka_free(harness_kafka *k)
{
    if (!k)
        return;
    if (k->mc)
        rd_kafka_mock_cluster_destroy(k->mc);
    rd_kafka_destroy(k->rk);
    free(k);
}

const char *harness_kafka_bootstraps(const harness_kafka *k)
{
    return rd_kafka_mock_cluster_bootstraps(k->mc);
}

int harness_kafka_create_topic(harness_kafka *k, const char *topic, int partitions, char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(k->mc, topic, partitions, k->brokers < 3 ? k->brokers : 3);
    if (e)
        return fail(-EINVAL, errbuf, errsize, "create topic %s (%d partitions): %s", topic, partitions,
                    rd_kafka_err2str(e));
    return 0;
}

int harness_kafka_broker_down(harness_kafka *k, int32_t broker_id, char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_down(k->mc, broker_id);
    return e ? fail(-EINVAL, errbuf, errsize, "broker %d down: %s", (int)broker_id, rd_kafka_err2str(e)) : 0;
}

int harness_kafka_broker_up(harness_kafka *k, int32_t broker_id, char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_up(k->mc, broker_id);
    return e ? fail(-EINVAL, errbuf, errsize, "broker %d up: %s", (int)broker_id, rd_kafka_err2str(e)) : 0;
}

long long harness_redis_hget_int(redisContext *c, const char *key, const char *field)
{
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    long long v = -1;
    if (r && r->type == REDIS_REPLY_STRING)
        v = atoll(r->str);
    else if (r && r->type == REDIS_REPLY_NIL)
        v = 0;
    freeReplyObject(r);
    return v;
}

int harness_kafka_set_leader(harness_kafka *k, const char *topic, int32_t partition,
                             int32_t broker_id, char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_partition_set_leader(k->mc, topic, partition, broker_id);
    return e ? fail(-EINVAL, errbuf, errsize, "leader of %s [%d]: %s", topic, (int)partition,
                    rd_kafka_err2str(e))
             : 0;
}

int harness_kafka_set_coordinator(harness_kafka *k, const char *group, int32_t broker_id,
                                  char *errbuf, size_t errsize)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_coordinator_set(k->mc, "group", group, broker_id);
    return e ? fail(-EINVAL, errbuf, errsize, "coordinator of %s: %s", group, rd_kafka_err2str(e))
             : 0;
}

/* ---- producing ----------------------------------------------------------- */

typedef struct prod {
    rd_kafka_t *rk;
    const char *topic;
    int64_t failed;
    char first_error[200];
} prod;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    prod *p = opaque;
    if (m->err && !p->failed++)
        snprintf(p->first_error, sizeof(p->first_error), "%s", rd_kafka_err2str(m->err));
}

static int prod_open(prod *p, const char *brokers, const char *topic, bool zstd, int timeout_ms,
                     char *errbuf, size_t errsize)
{
    char err[256], timeout[24];
    snprintf(timeout, sizeof(timeout), "%d", timeout_ms);
    const char *props[][2] = {
        {"bootstrap.servers", brokers}, {"enable.idempotence", "true"}, {"linger.ms", "5"},
        {"compression.type", zstd ? "zstd" : "none"}, {"message.timeout.ms", timeout},
    };
    memset(p, 0, sizeof(*p));
    p->topic = topic;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(-EINVAL, errbuf, errsize, "producer %s=%s: %s", props[i][0], props[i][1], err);
        }
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        return fail(-EINVAL, errbuf, errsize, "cannot create producer: %s", err);
    }
    return 0; /* rd_kafka_new took ownership of conf */
}

static int prod_send(prod *p, const char *key, size_t klen, const char *val, size_t vlen,
                     const char *const *headers, int64_t timestamp, char *errbuf, size_t errsize)
{
    for (;;) {
        rd_kafka_headers_t *hdrs = NULL;
        if (headers) {
            hdrs = rd_kafka_headers_new(4);
            for (size_t i = 0; headers[i] && headers[i + 1]; i += 2)
                rd_kafka_header_add(hdrs, headers[i], -1, headers[i + 1], -1);
        }
        /* rd_kafka_produceva, not the RD_KAFKA_V_ macros: those use GNU
         * statement expressions, which -Wpedantic rejects under clang */
        rd_kafka_vu_t vu[6] = {
            {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = p->topic},
            {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)key, klen}},
            {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)val, vlen}},
            {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
        };
        size_t nvu = 4;
        if (timestamp)
            vu[nvu++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_TIMESTAMP, .u.i64 = timestamp};
        if (hdrs)
            vu[nvu++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADERS, .u.headers = hdrs};
        rd_kafka_error_t *error = rd_kafka_produceva(p->rk, vu, nvu);
        rd_kafka_resp_err_t e = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_error_destroy(error);
        if (e && hdrs)
            rd_kafka_headers_destroy(hdrs); /* on success the message owns them */
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(p->rk, 50);
            continue;
        }
        if (e)
            return fail(-EIO, errbuf, errsize, "produce to %s: %s", p->topic, rd_kafka_err2str(e));
        rd_kafka_poll(p->rk, 0);
        return 0;
    }
}

/* Waits for every delivery report and destroys the producer. */
static int prod_close(prod *p, int rc, int timeout_ms, int64_t sent, char *errbuf, size_t errsize)
{
    int64_t deadline = now_ms() + timeout_ms + 5000;
    while (rd_kafka_outq_len(p->rk) > 0 && now_ms() < deadline)
        rd_kafka_flush(p->rk, 100);
    if (!rc && rd_kafka_outq_len(p->rk) > 0)
        rc = fail(-ETIMEDOUT, errbuf, errsize, "%d messages to %s still unacknowledged after %d ms",
                  rd_kafka_outq_len(p->rk), p->topic, timeout_ms);
    if (!rc && p->failed)
        rc = fail(-EIO, errbuf, errsize, "%lld of %lld messages not delivered to %s: %s", (long long)p->failed,
                  (long long)sent, p->topic, p->first_error);
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(p->rk);
    return rc;
}

int harness_produce(const char *brokers, const char *topic, const harness_kv *msgs, size_t n, bool zstd,
                    int timeout_ms, char *errbuf, size_t errsize)
{
    prod p;
    int e = prod_open(&p, brokers, topic, zstd, timeout_ms, errbuf, errsize);
    if (e)
        return e;
    size_t i;
    for (i = 0; i < n && !e; i++)
        e = prod_send(&p, msgs[i].key, msgs[i].key ? msgs[i].key_len : 0, msgs[i].value, msgs[i].value_len,
                      msgs[i].headers, msgs[i].timestamp, errbuf, errsize);
    return prod_close(&p, e, timeout_ms, (int64_t)i, errbuf, errsize);
}

int harness_produce_gen(const char *brokers, const char *topic, clm_gen *g, bool zstd, int timeout_ms,
                        int64_t *produced, char *errbuf, size_t errsize)
{
    prod p;
    int e = prod_open(&p, brokers, topic, zstd, timeout_ms, errbuf, errsize);
    if (e)
        return e;
    int64_t sent = 0;
    clm_gen_msg m;
    int more;
    while (!e && (more = clm_gen_next(g, &m)) != 0) {
        if (more < 0) {
            e = fail(more, errbuf, errsize, "generator: %s", strerror(-more));
            break;
        }
        e = prod_send(&p, m.key, m.key_len, m.value, m.value_len, NULL, 0, errbuf, errsize);
        sent += !e;
    }
    e = prod_close(&p, e, timeout_ms, sent, errbuf, errsize);
    if (!e && produced)
        *produced = sent;
    return e;
}

/* ---- reading ------------------------------------------------------------- */

/* A consumer with no group membership, used with assign() only. */
static int consumer_open(const char *brokers, rd_kafka_t **out, char *errbuf, size_t errsize)
{
    static unsigned counter;
    char err[256], group[64];
    snprintf(group, sizeof(group), "clm-harness-%ld-%u", (long)getpid(), counter++);
    const char *props[][2] = {
        {"bootstrap.servers", brokers}, {"group.id", group}, {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"}, {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(-EINVAL, errbuf, errsize, "consumer %s=%s: %s", props[i][0], props[i][1], err);
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return fail(-EINVAL, errbuf, errsize, "cannot create consumer: %s", err);
    }
    *out = rk; /* rd_kafka_new took ownership of conf */
    return 0;
}

/* Partition count of a topic; -ENOENT when the cluster does not know it. */
static int partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, int *n, char *errbuf,
                           size_t errsize)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (!t)
        return fail(-EINVAL, errbuf, errsize, "topic handle %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
    rd_kafka_topic_destroy(t);
    if (e)
        return fail(-EIO, errbuf, errsize, "metadata for %s: %s", topic, rd_kafka_err2str(e));
    int r = 0;
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1)
        r = fail(-ENOENT, errbuf, errsize, "topic %s: %s", topic,
                 md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err) : "no partitions");
    else
        *n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return r;
}

static int watermarks(rd_kafka_t *rk, const char *topic, int n, int64_t *lo, int64_t *hi, int timeout_ms,
                      char *errbuf, size_t errsize)
{
    for (int p = 0; p < n; p++) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo[p], &hi[p], timeout_ms);
        if (e)
            return fail(-EIO, errbuf, errsize, "watermarks of %s [%d]: %s", topic, p, rd_kafka_err2str(e));
    }
    return 0;
}

int harness_kafka_high_watermarks(const char *brokers, const char *topic, int64_t *high, int max, int *npart,
                                  int timeout_ms, char *errbuf, size_t errsize)
{
    rd_kafka_t *rk;
    int n = 0;
    int e = consumer_open(brokers, &rk, errbuf, errsize);
    if (e)
        return e;
    e = partition_count(rk, topic, timeout_ms, &n, errbuf, errsize);
    if (!e && n > max)
        e = fail(-ERANGE, errbuf, errsize, "topic %s has %d partitions, room for %d", topic, n, max);
    int64_t *lo = NULL, *hi = NULL;
    if (!e) {
        lo = calloc((size_t)n, sizeof(*lo));
        hi = calloc((size_t)n, sizeof(*hi));
        if (!lo || !hi)
            e = fail(-ENOMEM, errbuf, errsize, "out of memory");
    }
    if (!e)
        e = watermarks(rk, topic, n, lo, hi, timeout_ms, errbuf, errsize);
    if (!e) {
        memcpy(high, hi, (size_t)n * sizeof(*hi));
        *npart = n;
    }
    free(lo);
    free(hi);
    rd_kafka_destroy(rk);
    return e;
}

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static void record_clear(harness_record *r)
{
    free(r->key);
    free(r->value);
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
}

void harness_records_free(harness_records *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        record_clear(&r->v[i]);
    free(r->v);
    free(r);
}

static int record_copy(harness_record *r, rd_kafka_message_t *m)
{
    memset(r, 0, sizeof(*r));
    r->partition = m->partition;
    r->offset = m->offset;
    r->timestamp = rd_kafka_message_timestamp(m, NULL);
    if (m->key && !(r->key = dup_bytes(m->key, m->key_len)))
        return -ENOMEM;
    r->key_len = m->key ? m->key_len : 0;
    if (m->payload && !(r->value = dup_bytes(m->payload, m->len)))
        return -ENOMEM;
    r->value_len = m->payload ? m->len : 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
        size_t n = rd_kafka_header_cnt(hdrs);
        r->headers = calloc(n ? n : 1, sizeof(*r->headers));
        if (!r->headers)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            const char *name;
            const void *val;
            size_t len;
            if (rd_kafka_header_get_all(hdrs, i, &name, &val, &len))
                break;
            harness_header *h = &r->headers[r->header_count++];
            h->name = dup_bytes(name, strlen(name));
            h->value = val ? dup_bytes(val, len) : NULL;
            h->value_len = val ? len : 0;
            if (!h->name || (val && !h->value))
                return -ENOMEM;
        }
    }
    return 0;
}

static int cmp_record(const void *a, const void *b)
{
    const harness_record *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

int harness_kafka_read_topic(const char *brokers, const char *topic, int timeout_ms, harness_records **out,
                             char *errbuf, size_t errsize)
{
    rd_kafka_t *rk;
    int n = 0;
    int64_t *lo = NULL, *hi = NULL, *next = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    harness_records *recs = NULL;
    int64_t deadline = now_ms() + timeout_ms;
    int e = consumer_open(brokers, &rk, errbuf, errsize);
    if (e)
        return e;
    e = partition_count(rk, topic, timeout_ms, &n, errbuf, errsize);
    if (e)
        goto out_destroy_consumer;
    lo = calloc((size_t)n, sizeof(*lo));
    hi = calloc((size_t)n, sizeof(*hi));
    next = calloc((size_t)n, sizeof(*next));
    recs = calloc(1, sizeof(*recs));
    if (!lo || !hi || !next || !recs) {
        e = fail(-ENOMEM, errbuf, errsize, "out of memory");
        goto out_free_buffers;
    }
    e = watermarks(rk, topic, n, lo, hi, timeout_ms, errbuf, errsize);
    if (e)
        goto out_free_buffers;

    size_t total = 0;
    int pending = 0;
    parts = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        next[p] = lo[p];
        if (hi[p] > lo[p]) {
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = lo[p];
            total += (size_t)(hi[p] - lo[p]);
            pending++;
        }
    }
    recs->v = calloc(total ? total : 1, sizeof(*recs->v));
    if (!recs->v) {
        e = fail(-ENOMEM, errbuf, errsize, "out of memory for %zu records", total);
        goto out_free_buffers;
    }
    rd_kafka_resp_err_t ae = rd_kafka_assign(rk, parts);
    if (ae) {
        e = fail(-EIO, errbuf, errsize, "assign %s: %s", topic, rd_kafka_err2str(ae));
        goto out_free_buffers;
    }
    while (pending > 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            e = fail(-ETIMEDOUT, errbuf, errsize, "read %zu of %zu records of %s in %d ms", recs->n, total, topic,
                     timeout_ms);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, left < 100 ? (int)left : 100);
        if (!m)
            continue;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            e = fail(-EIO, errbuf, errsize, "consume %s: %s", topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            break;
        }
        int p = m->partition;
        if (m->err) { /* end of partition: done even if offsets had gaps */
            if (p >= 0 && p < n && next[p] < hi[p] && m->offset >= hi[p]) {
                next[p] = hi[p];
                pending--;
            }
        } else if (p >= 0 && p < n && m->offset >= next[p] && m->offset < hi[p]) {
            if (record_copy(&recs->v[recs->n++], m) < 0) {
                e = fail(-ENOMEM, errbuf, errsize, "out of memory");
                rd_kafka_message_destroy(m);
                break;
            }
            next[p] = m->offset + 1;
            if (next[p] >= hi[p])
                pending--;
        }
        rd_kafka_message_destroy(m);
    }
    if (!e) {
        qsort(recs->v, recs->n, sizeof(*recs->v), cmp_record);
        *out = recs;
        recs = NULL;
    }

out_free_buffers:
    harness_records_free(recs);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    free(lo);
    free(hi);
    free(next);
out_destroy_consumer:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return e;
}

/* ---- generated streams in memory ---------------------------------------- */

int harness_stream_gen(const clm_gen_opts *o, harness_stream *out, char *errbuf, size_t errsize)
{
    *out = (harness_stream){ 0 };
    clm_gen *g = NULL;
    int e = clm_gen_new(o, &g, errbuf, errsize);
    if (e < 0)
        return e;
    harness_kv *v = calloc(o->events > 0 ? (size_t)o->events : 1, sizeof(*v));
    if (!v) {
        clm_gen_free(g);
        return fail(-ENOMEM, errbuf, errsize, "out of memory");
    }
    out->msgs = v;
    clm_gen_msg m;
    while (out->n < (size_t)o->events && clm_gen_next(g, &m) == 1) {
        char *b = malloc(m.key_len + m.value_len + 1);
        if (!b) {
            clm_gen_free(g);
            harness_stream_free(out);
            return fail(-ENOMEM, errbuf, errsize, "out of memory");
        }
        memcpy(b, m.key, m.key_len);
        memcpy(b + m.key_len, m.value, m.value_len);
        v[out->n++] = (harness_kv){ .key = b, .key_len = m.key_len, .value = b + m.key_len,
                                    .value_len = m.value_len };
    }
    clm_gen_free(g);
    return 0;
}

void harness_stream_free(harness_stream *s)
{
    for (size_t i = 0; s->msgs && i < s->n; i++)
        free((void *)s->msgs[i].key);
    free(s->msgs);
    *s = (harness_stream){ 0 };
}
