/* tests/harness.c - real peers for integration tests (see harness.h):
 * processes and Redis servers; the canonical dump is in harness_dump.c, the
 * Kafka mock cluster in harness_kafka.c. */
#include "tests/harness.h"
#include "tests/harness_util.h"

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

int harness_fail(int err, char *errbuf, size_t errsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errsize, fmt, ap);
    va_end(ap);
    return err;
}

int64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms)
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
        return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    snprintf(p->name, sizeof(p->name), "%s", argv[0]);
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        int e = errno;
        free(p);
        return harness_fail(-e, errbuf, errsize, "pipe: %s", strerror(e));
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        free(p);
        return harness_fail(-e, errbuf, errsize, "fork: %s", strerror(e));
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
            return harness_fail(-report[1], errbuf, errsize, "%s: cannot open log %s: %s", argv[0],
                        log_path ? log_path : "/dev/null", strerror(report[1]));
        return harness_fail(-report[1], errbuf, errsize, "cannot run %s: %s%s", argv[0], strerror(report[1]),
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
    int64_t deadline = harness_now_ms() + timeout_ms;
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
            return harness_fail(-errno, errbuf, errsize, "waitpid %s (%d): %s", p->name, (int)p->pid, strerror(errno));
        if (harness_now_ms() >= deadline)
            return harness_fail(-ETIMEDOUT, errbuf, errsize, "%s (pid %d) still running after %d ms", p->name,
                        (int)p->pid, timeout_ms);
        harness_sleep_ms(delay);
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
        return harness_fail(-ECHILD, errbuf, errsize, "%s exited with %d, expected %d", p->name, WEXITSTATUS(st), code);
    return harness_fail(-ECHILD, errbuf, errsize, "%s killed by signal %d, expected exit %d", p->name,
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
    int64_t deadline = harness_now_ms() + timeout_ms;
    int delay = 1;
    for (;;) {
        if (pred(arg))
            return 0;
        if (harness_now_ms() >= deadline)
            return -ETIMEDOUT;
        harness_sleep_ms(delay);
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
    int64_t deadline = harness_now_ms() + 5000;
    while (!ping(r->port)) {
        int st;
        char err[64], tail[400];
        if (harness_proc_wait(r->proc, 0, &st, err, sizeof(err)) == 0) {
            last_line(logfile, tail, sizeof(tail));
            harness_proc_free(r->proc);
            r->proc = NULL;
            return harness_fail(-ECHILD, errbuf, errsize, "redis-server on port %d exited (status %d): %s",
                        r->port, st, tail);
        }
        if (harness_now_ms() >= deadline) {
            last_line(logfile, tail, sizeof(tail));
            harness_proc_free(r->proc);
            r->proc = NULL;
            return harness_fail(-ETIMEDOUT, errbuf, errsize, "redis-server on port %d did not answer PING in 5 s: %s",
                        r->port, tail);
        }
        harness_sleep_ms(10);
    }
    return 0;
}

int harness_redis_start(harness_redis **out, char *errbuf, size_t errsize)
{
    signal(SIGPIPE, SIG_IGN);
    harness_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof(r->dir), "%s/clm-redis-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->dir)) {
        int e = errno;
        harness_fail(-e, errbuf, errsize, "mkdtemp %s: %s", r->dir, strerror(e));
        free(r);
        return -e;
    }
    int e = harness_free_port(&r->port, errbuf, errsize);
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
        e = harness_fail(-ETIMEDOUT, errbuf, errsize, "redis-server (port %d) ignored SIGTERM for 5 s; killed", r->port);
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
        return harness_fail(-EIO, errbuf, errsize, "%s: failed", cmd);
    if ((e = redis_launch(r, false, errbuf, errsize)))
        return e;
    redisContext *c = NULL;
    if ((e = harness_redis_connect(r, &c, errbuf, errsize)))
        return e;
    redisReply *rep = redisCommand(c, "CONFIG SET appendonly yes");
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        e = harness_fail(-EIO, errbuf, errsize, "CONFIG SET appendonly yes: %s",
                 rep ? rep->str : c->errstr);
        goto out;
    }
    int64_t deadline = harness_now_ms() + 10000;
    while (!aof_ready(c)) {
        if (harness_now_ms() >= deadline) {
            e = harness_fail(-ETIMEDOUT, errbuf, errsize, "redis port %d: AOF not written in 10 s", r->port);
            goto out;
        }
        harness_sleep_ms(20);
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

void harness_rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void harness_redis_free(harness_redis *r)
{
    if (!r)
        return;
    char err[256];
    harness_redis_stop(r, err, sizeof(err));
    harness_rm_tree(r->dir);
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
        return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    if (c->err) {
        int e = harness_fail(-ECONNREFUSED, errbuf, errsize, "redis 127.0.0.1:%d: %s", r->port, c->errstr);
        redisFree(c);
        return e;
    }
    redisSetTimeout(c, cmd);
    *out = c;
    return 0;
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

typedef struct consumed_wait {
    const harness_redis *r;
    redisContext *c;
    long long want, got;
} consumed_wait;

static bool consumed_reached(void *arg)
{
    consumed_wait *w = arg;
    if (!w->c || w->c->err) {
        if (w->c)
            redisFree(w->c);
        w->c = NULL;
        char err[256];
        if (harness_redis_connect(w->r, &w->c, err, sizeof(err)) < 0)
            return false;
    }
    w->got = harness_redis_hget_int(w->c, "clm:stats", "consumed");
    return w->got >= w->want;
}

int harness_wait_consumed(const harness_redis *r, long long want, int timeout_ms, long long *got)
{
    consumed_wait w = { .r = r, .want = want, .got = -1 };
    int rc = harness_wait_until(consumed_reached, &w, timeout_ms);
    if (w.c)
        redisFree(w.c);
    if (got)
        *got = w.got;
    return rc < 0 ? -ETIMEDOUT : 0;
}

const char *harness_clmd_bin(void)
{
    const char *p = getenv("CLMD_BIN");
    return p ? p : "clmd";
}
