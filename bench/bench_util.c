/* bench/bench_util.c - see bench_util.h. */
#include "bench/bench_util.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void bu_sleep_ms(double ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
                           .tv_nsec = (long)((ms - (double)(long long)(ms / 1000) * 1000) * 1e6) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int bu_self_dir(char *buf, size_t size)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n < 0)
        return -errno;
    path[n] = '\0';
    const char *dir = dirname(path);
    size_t len = strlen(dir);
    if (len >= size)
        return -ENAMETOOLONG;
    memcpy(buf, dir, len + 1);
    return 0;
}

long long bu_vmhwm_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    long long kib = -EPROTO;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %lld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

double bu_proc_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    if (pid)
        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/stat");
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: fields follow the last ')' */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -EPROTO;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(ut + st) * 1000.0 / (double)(hz > 0 ? hz : 100);
}

int bu_host_cpu_ms(double *busy, double *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -errno;
    unsigned long long v[8] = { 0 };
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return -EPROTO;
    /* user nice system idle iowait irq softirq steal */
    unsigned long long all = 0;
    for (int i = 0; i < 8; i++)
        all += v[i];
    long hz = sysconf(_SC_CLK_TCK);
    double ms = 1000.0 / (double)(hz > 0 ? hz : 100);
    *busy = (double)(all - v[3] - v[4]) * ms;
    *total = (double)all * ms;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bu_percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_double);
    /* nearest rank: ceil(p/100 * n), 1-based */
    double r = p / 100.0 * (double)n;
    size_t rank = (size_t)r;
    if ((double)rank < r)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

int bu_cmdstats_parse(const char *text, bu_cmdstats *out)
{
    static const char tag[] = "cmdstat_";
    bu_cmdstats s = { .n = 0 };
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, "\r\n");
        if (len > sizeof(tag) - 1 && strncmp(p, tag, sizeof(tag) - 1) == 0) {
            const char *name = p + sizeof(tag) - 1;
            const char *colon = memchr(name, ':', len - (sizeof(tag) - 1));
            const char *calls = colon ? strstr(colon, "calls=") : NULL;
            if (!colon || !calls || calls > p + len)
                return -EPROTO;
            if (s.n == BU_CMDSTATS_MAX)
                return -E2BIG;
            bu_cmdstat *c = &s.v[s.n++];
            size_t nlen = (size_t)(colon - name);
            if (nlen >= sizeof(c->name))
                nlen = sizeof(c->name) - 1;
            memcpy(c->name, name, nlen);
            c->name[nlen] = '\0';
            c->calls = strtoll(calls + 6, NULL, 10);
        }
        p += len;
        while (*p == '\r' || *p == '\n')
            p++;
    }
    *out = s;
    return 0;
}

int bu_cmdstats_read(redisContext *c, bu_cmdstats *out, char *errbuf, size_t errsize)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    if (!r) {
        snprintf(errbuf, errsize, "INFO commandstats: %s", c->errstr);
        return -EIO;
    }
    int e = -EPROTO;
    if (r->type == REDIS_REPLY_STRING)
        e = bu_cmdstats_parse(r->str, out);
    if (e < 0)
        snprintf(errbuf, errsize, "INFO commandstats: unexpected reply");
    freeReplyObject(r);
    return e;
}

long long bu_cmdstats_calls(const bu_cmdstats *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return s->v[i].calls;
    return 0;
}

long long bu_cmdstats_family(const bu_cmdstats *s, const char *family)
{
    size_t len = strlen(family);
    long long sum = 0;
    for (size_t i = 0; i < s->n; i++)
        if (strncmp(s->v[i].name, family, len) == 0 &&
            (s->v[i].name[len] == '\0' || s->v[i].name[len] == '|'))
            sum += s->v[i].calls;
    return sum;
}

long long bu_cmdstats_total(const bu_cmdstats *s)
{
    long long sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i].calls;
    return sum;
}
