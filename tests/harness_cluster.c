/* tests/harness_cluster.c - a real Redis Cluster (see harness_cluster.h). */
#include "tests/harness_cluster.h"
#include "tests/harness.h"
#include "tests/harness_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 16
#define SIG_MAX 4096

typedef struct cnode {
    int port;
    char dir[PATH_MAX];
    char id[64];        /* CLUSTER MYID */
    harness_proc *proc; /* NULL once killed or stopped */
} cnode;

struct harness_cluster {
    int n, masters, replicas;
    cnode node[MAX_NODES];
    char seeds[MAX_NODES * 24];
    /* the migration under way: slot, source and target nodes; slot -1 when none */
    int mig_slot, mig_src, mig_dst;
    char password[64];       /* requirepass; "" for none */
    char tls_dir[PATH_MAX];  /* TLS only, certificates there; "" for plain TCP */
};

/* ---- ports and processes ----------------------------------------------- */

static bool port_free(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* A port p below the ephemeral range with p and its bus port p + 10000
 * free and not given to another node of h. */
static int pick_port(const harness_cluster *h, char *errbuf, size_t errsize)
{
    for (int tries = 0; tries < 1000; tries++) {
        int p = 20000 + rand() % 10000;
        bool taken = false;
        for (int i = 0; i < h->n && !taken; i++)
            taken = h->node[i].port == p;
        if (!taken && port_free(p) && port_free(p + 10000))
            return p;
    }
    return harness_fail(-EADDRINUSE, errbuf, errsize, "no free port pair p, p+10000 in 20000..39999");
}

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

static redisContext *connect_port(int port, int cmd_ms)
{
    struct timeval conn = { .tv_sec = 2 };
    struct timeval cmd = { .tv_sec = cmd_ms / 1000, .tv_usec = (cmd_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, conn);
    if (c && !c->err) {
        redisSetTimeout(c, cmd);
        return c;
    }
    redisFree(c);
    return NULL;
}

int harness_cluster_connect(harness_cluster *h, int port, redisContext **out, char *errbuf,
                            size_t errsize)
{
    (void)h;
    struct timeval conn = { .tv_sec = 2 }, cmd = { .tv_sec = 5 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, conn);
    if (!c)
        return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    if (c->err) {
        int e = harness_fail(-ECONNREFUSED, errbuf, errsize, "cluster node 127.0.0.1:%d: %s",
                             port, c->errstr);
        redisFree(c);
        return e;
    }
    redisSetTimeout(c, cmd);
    *out = c;
    return 0;
}

/* Runs a command on node i expecting no error; the reply into *out when out
 * is not NULL (the caller frees it). */
static int node_cmd(harness_cluster *h, int i, redisReply **out, char *errbuf, size_t errsize,
                    int argc, const char **argv)
{
    redisContext *c = NULL;
    int e = harness_cluster_connect(h, h->node[i].port, &c, errbuf, errsize);
    if (e)
        return e;
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        char cmd[128] = "";
        for (int a = 0; a < argc && strlen(cmd) < 100; a++)
            snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%.24s", a ? " " : "", argv[a]);
        e = harness_fail(-EIO, errbuf, errsize, "cluster node 127.0.0.1:%d: %s: %s",
                         h->node[i].port, cmd, rep ? rep->str : c->errstr);
        freeReplyObject(rep);
        redisFree(c);
        return e;
    }
    if (out)
        *out = rep;
    else
        freeReplyObject(rep);
    redisFree(c);
    return 0;
}

/* Starts node i on a fresh port pair and waits up to 5 s for PING; a few
 * tries when the port was taken in the meantime. */
static int node_launch(harness_cluster *h, int i, char *errbuf, size_t errsize)
{
    cnode *n = &h->node[i];
    char port[16], logfile[PATH_MAX + 16], outfile[PATH_MAX + 16], tail[400];
    snprintf(logfile, sizeof(logfile), "%s/redis.log", n->dir);
    snprintf(outfile, sizeof(outfile), "%s/redis.out", n->dir);
    int e = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        n->port = 0;
        if ((e = pick_port(h, errbuf, errsize)) < 0)
            return e;
        n->port = e;
        snprintf(port, sizeof(port), "%d", n->port);
        char crt[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
        snprintf(crt, sizeof(crt), "%s/server.crt", h->tls_dir);
        snprintf(key, sizeof(key), "%s/server.key", h->tls_dir);
        snprintf(ca, sizeof(ca), "%s/ca.crt", h->tls_dir);
        const char *argv[48] = { "redis-server", "--bind", "127.0.0.1",
                                 "--dir", n->dir, "--cluster-enabled", "yes",
                                 "--cluster-config-file", "nodes.conf",
                                 "--cluster-node-timeout", "2000",
                                 "--cluster-replica-validity-factor", "0",
                                 "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                                 "--daemonize", "no", "--logfile", logfile };
        int argc = 0;
        while (argv[argc])
            argc++;
        if (h->password[0]) {
            argv[argc++] = "--requirepass";
            argv[argc++] = h->password;
        }
        if (h->tls_dir[0]) {
            const char *tls[] = { "--port", "0", "--tls-port", port, "--tls-cert-file", crt,
                                  "--tls-key-file", key, "--tls-ca-cert-file", ca,
                                  "--tls-auth-clients", "no", "--tls-cluster", "yes",
                                  "--tls-replication", "yes" };
            for (size_t k = 0; k < sizeof(tls) / sizeof(tls[0]); k++)
                argv[argc++] = tls[k];
        } else {
            argv[argc++] = "--port";
            argv[argc++] = port;
        }
        if ((e = harness_proc_spawn(argv, outfile, &n->proc, errbuf, errsize)))
            return e;
        int64_t deadline = harness_now_ms() + 5000;
        for (;;) {
            redisContext *c = connect_port(n->port, 500);
            /* over TLS: listening is enough (this plain client cannot PING) */
            redisReply *rep = c && !h->tls_dir[0] ? redisCommand(c, "PING") : NULL;
            bool up = h->tls_dir[0] ? c != NULL
                      : rep && (rep->type == REDIS_REPLY_STATUS ||
                                (rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOAUTH", 6)));
            freeReplyObject(rep);
            redisFree(c);
            if (up)
                return 0;
            int st;
            char err[64];
            if (harness_proc_wait(n->proc, 0, &st, err, sizeof(err)) == 0) {
                last_line(logfile, tail, sizeof(tail));
                e = harness_fail(-ECHILD, errbuf, errsize, "cluster node 127.0.0.1:%d exited "
                                 "(status %d): %s", n->port, st, tail);
                break; /* perhaps the port was taken: another one */
            }
            if (harness_now_ms() >= deadline) {
                last_line(logfile, tail, sizeof(tail));
                e = harness_fail(-ETIMEDOUT, errbuf, errsize, "cluster node 127.0.0.1:%d did "
                                 "not answer PING in 5 s: %s", n->port, tail);
                break;
            }
            harness_sleep_ms(10);
        }
        harness_proc_free(n->proc);
        n->proc = NULL;
    }
    return e;
}

/* ---- views of the map ------------------------------------------------------ */

/* What node i says: state ok, its map as "lo-hi:port[/replicas];..." and the
 * master port of slot (0 when none). -EIO when it does not answer. */
typedef struct view {
    bool ok;
    char sig[SIG_MAX];
    int owner;
} view;

static int node_view(harness_cluster *h, int i, int slot, bool replicas, view *v, char *errbuf,
                     size_t errsize)
{
    redisReply *info = NULL, *slots = NULL;
    const char *iargv[] = { "CLUSTER", "INFO" }, *sargv[] = { "CLUSTER", "SLOTS" };
    int e = node_cmd(h, i, &info, errbuf, errsize, 2, iargv);
    if (!e)
        e = node_cmd(h, i, &slots, errbuf, errsize, 2, sargv);
    if (e)
        goto out;
    v->ok = info->type == REDIS_REPLY_STRING && strstr(info->str, "cluster_state:ok");
    v->sig[0] = '\0';
    v->owner = 0;
    for (size_t r = 0; slots->type == REDIS_REPLY_ARRAY && r < slots->elements; r++) {
        redisReply *row = slots->element[r];
        if (row->type != REDIS_REPLY_ARRAY || row->elements < 3)
            continue;
        long long lo = row->element[0]->integer, hi = row->element[1]->integer;
        long long port = row->element[2]->element[1]->integer;
        size_t len = strlen(v->sig);
        if (replicas)
            snprintf(v->sig + len, sizeof(v->sig) - len, "%lld-%lld:%lld/%zu;", lo, hi, port,
                     row->elements - 3);
        else
            snprintf(v->sig + len, sizeof(v->sig) - len, "%lld-%lld:%lld;", lo, hi, port);
        if (slot >= lo && slot <= hi)
            v->owner = (int)port;
    }
out:
    freeReplyObject(info);
    freeReplyObject(slots);
    return e;
}

/* Waits up to timeout_ms until every running node is ok with the same map
 * (each master with h->replicas replicas when `replicas`), and the owner
 * of slot is `want` (> 0) or is not `not` (> 0). Returns the owner. */
static int wait_agreed(harness_cluster *h, int slot, int want, int not, bool replicas,
                       int timeout_ms, char *errbuf, size_t errsize)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    char why[600] = "";
    for (;;) {
        view first, v;
        int e = 0, agreed = 0, running = 0, first_port = 0;
        for (int i = 0; i < h->n && !e; i++) {
            if (!h->node[i].proc)
                continue;
            view *w = running++ ? &v : &first;
            if (w == &first)
                first_port = h->node[i].port;
            if ((e = node_view(h, i, slot, replicas, w, why, sizeof(why))))
                break;
            if (!w->ok) {
                snprintf(why, sizeof(why), "cluster node 127.0.0.1:%d: cluster_state is not ok",
                         h->node[i].port);
                break;
            }
            if (w != &first && strcmp(w->sig, first.sig) != 0) {
                snprintf(why, sizeof(why), "cluster node 127.0.0.1:%d sees %.200s, 127.0.0.1:%d "
                         "%.200s", h->node[i].port, w->sig, first_port, first.sig);
                break;
            }
            agreed++;
        }
        if (!e && running && agreed == running) {
            bool shape = true;
            if (replicas) {
                char tail[16];
                snprintf(tail, sizeof(tail), "/%d;", h->replicas);
                for (const char *p = strchr(first.sig, '/'); p && shape; p = strchr(p + 1, '/'))
                    shape = strncmp(p, tail, strlen(tail)) == 0;
            }
            if (!shape)
                snprintf(why, sizeof(why), "not every master has %d replicas yet: %.300s",
                         h->replicas, first.sig);
            else if (want > 0 && first.owner != want)
                snprintf(why, sizeof(why), "slot %d is served by port %d, not %d yet", slot,
                         first.owner, want);
            else if (not > 0 && first.owner == not)
                snprintf(why, sizeof(why), "slot %d is still served by port %d", slot, not);
            else if (first.owner <= 0)
                snprintf(why, sizeof(why), "no master serves slot %d", slot);
            else
                return first.owner;
        }
        if (harness_now_ms() >= deadline)
            return harness_fail(-ETIMEDOUT, errbuf, errsize, "the cluster did not settle in "
                                "%d ms: %s", timeout_ms, why);
        harness_sleep_ms(100);
    }
}

/* ---- lifecycle ---------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void harness_cluster_stop(harness_cluster *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++)
        if (h->node[i].proc)
            harness_proc_signal(h->node[i].proc, SIGTERM);
    int64_t deadline = harness_now_ms() + 5000;
    for (int i = 0; i < h->n; i++) {
        char err[256];
        if (h->node[i].proc) {
            int64_t left = deadline - harness_now_ms();
            harness_proc_wait(h->node[i].proc, left > 0 ? (int)left : 0, NULL, err, sizeof(err));
            harness_proc_free(h->node[i].proc); /* SIGKILL when still running */
        }
        if (h->node[i].dir[0])
            nftw(h->node[i].dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(h);
}

int harness_cluster_start(int masters, int replicas, harness_cluster **out, char *errbuf,
                          size_t errsize)
{
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)(getpid() ^ (unsigned)harness_now_ms()));
    if (masters < 3 || replicas < 0 || masters * (1 + replicas) > MAX_NODES)
        return harness_fail(-EINVAL, errbuf, errsize, "a cluster needs 3 or more masters and "
                            "at most %d nodes; asked for %d masters, %d replicas each",
                            MAX_NODES, masters, replicas);
    harness_cluster *h = calloc(1, sizeof(*h));
    if (!h)
        return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    h->masters = masters;
    h->replicas = replicas;
    h->mig_slot = -1;
    const char *tmp = getenv("TMPDIR");
    int e = 0;
    const char *cli[MAX_NODES + 8];
    char addrs[MAX_NODES][32], nrep[16], clilog[PATH_MAX + 32], tail[400];
    int argc = 0;
    cli[argc++] = "redis-cli";
    cli[argc++] = "--cluster";
    cli[argc++] = "create";
    for (int i = 0; i < masters * (1 + replicas); i++) {
        cnode *n = &h->node[i];
        snprintf(n->dir, sizeof(n->dir), "%s/clm-cluster-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(n->dir)) {
            e = harness_fail(-errno, errbuf, errsize, "mkdtemp %s: %s", n->dir, strerror(errno));
            n->dir[0] = '\0';
            goto out_stop;
        }
        h->n++;
        if ((e = node_launch(h, i, errbuf, errsize)))
            goto out_stop;
        snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d", n->port);
        cli[argc++] = addrs[i];
        size_t len = strlen(h->seeds);
        snprintf(h->seeds + len, sizeof(h->seeds) - len, "%s%s", i ? "," : "", addrs[i]);
    }
    snprintf(nrep, sizeof(nrep), "%d", replicas);
    cli[argc++] = "--cluster-replicas";
    cli[argc++] = nrep;
    cli[argc++] = "--cluster-yes";
    cli[argc] = NULL;
    snprintf(clilog, sizeof(clilog), "%s/cluster-create.log", h->node[0].dir);
    harness_proc *p = NULL;
    if ((e = harness_proc_spawn(cli, clilog, &p, errbuf, errsize)))
        goto out_stop;
    e = harness_proc_expect_exit(p, 60000, 0, errbuf, errsize);
    harness_proc_free(p);
    if (e) {
        last_line(clilog, tail, sizeof(tail));
        size_t len = strlen(errbuf);
        snprintf(errbuf + len, errsize > len ? errsize - len : 0, ": redis-cli --cluster "
                 "create: %s", tail);
        goto out_stop;
    }
    for (int i = 0; i < h->n; i++) {
        redisReply *rep = NULL;
        const char *argv[] = { "CLUSTER", "MYID" };
        if ((e = node_cmd(h, i, &rep, errbuf, errsize, 2, argv)))
            goto out_stop;
        snprintf(h->node[i].id, sizeof(h->node[i].id), "%s",
                 rep->type == REDIS_REPLY_STRING ? rep->str : "");
        freeReplyObject(rep);
    }
    if ((e = wait_agreed(h, 0, 0, 0, true, 30000, errbuf, errsize)) < 0)
        goto out_stop;
    *out = h;
    return 0;

out_stop:
    harness_cluster_stop(h);
    return e;
}

int harness_cluster_start_empty(const harness_cluster_opts *o, harness_cluster **out,
                                char *errbuf, size_t errsize)
{
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)(getpid() ^ (unsigned)harness_now_ms()));
    harness_cluster *h = calloc(1, sizeof(*h));
    if (!h)
        return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
    h->masters = 1;
    h->mig_slot = -1;
    snprintf(h->password, sizeof(h->password), "%s", o && o->password ? o->password : "");
    snprintf(h->tls_dir, sizeof(h->tls_dir), "%s", o && o->tls_dir ? o->tls_dir : "");
    const char *tmp = getenv("TMPDIR");
    cnode *n = &h->node[0];
    snprintf(n->dir, sizeof(n->dir), "%s/clm-cluster-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int e;
    if (!mkdtemp(n->dir)) {
        e = harness_fail(-errno, errbuf, errsize, "mkdtemp %s: %s", n->dir, strerror(errno));
        n->dir[0] = '\0';
        goto out_stop;
    }
    h->n = 1;
    if ((e = node_launch(h, 0, errbuf, errsize)))
        goto out_stop;
    snprintf(h->seeds, sizeof(h->seeds), "127.0.0.1:%d", n->port);
    *out = h;
    return 0;

out_stop:
    harness_cluster_stop(h);
    return e;
}

const char *harness_cluster_seeds(const harness_cluster *h)
{
    return h->seeds;
}

int harness_cluster_nodes(const harness_cluster *h)
{
    return h->n;
}

int harness_cluster_port(const harness_cluster *h, int i)
{
    return i >= 0 && i < h->n ? h->node[i].port : -EINVAL;
}

/* The node listening on port, -1 when none. */
static int node_at(const harness_cluster *h, int port)
{
    for (int i = 0; i < h->n; i++)
        if (h->node[i].port == port)
            return i;
    return -1;
}

int harness_cluster_master_port(harness_cluster *h, int slot)
{
    char err[256];
    for (int i = 0; i < h->n; i++) {
        view v;
        if (h->node[i].proc && node_view(h, i, slot, false, &v, err, sizeof(err)) == 0)
            return v.owner > 0 ? v.owner : -ENXIO;
    }
    return -EIO;
}

int harness_cluster_crash_master(harness_cluster *h, int slot, char *errbuf, size_t errsize)
{
    int port = harness_cluster_master_port(h, slot);
    int i = port > 0 ? node_at(h, port) : -1;
    if (i < 0 || !h->node[i].proc)
        return harness_fail(port < 0 ? port : -ENXIO, errbuf, errsize, "no running master "
                            "serves slot %d (%s)", slot, strerror(port < 0 ? -port : ENXIO));
    harness_proc_signal(h->node[i].proc, SIGKILL);
    int e = harness_proc_wait(h->node[i].proc, 5000, NULL, errbuf, errsize);
    harness_proc_free(h->node[i].proc);
    h->node[i].proc = NULL;
    return e ? e : port;
}

int harness_cluster_wait_failover(harness_cluster *h, int slot, int dead_port, char *errbuf,
                                  size_t errsize)
{
    return wait_agreed(h, slot, 0, dead_port, false, 30000, errbuf, errsize);
}

int harness_cluster_kill_master(harness_cluster *h, int slot, char *errbuf, size_t errsize)
{
    int port = harness_cluster_crash_master(h, slot, errbuf, errsize);
    return port < 0 ? port : harness_cluster_wait_failover(h, slot, port, errbuf, errsize);
}

/* ---- migration ------------------------------------------------------------------- */

int harness_cluster_begin_migration(harness_cluster *h, int slot, char *errbuf, size_t errsize)
{
    if (h->mig_slot >= 0)
        return harness_fail(-EBUSY, errbuf, errsize, "slot %d is being migrated already",
                            h->mig_slot);
    int port = harness_cluster_master_port(h, slot);
    int src = port > 0 ? node_at(h, port) : -1;
    if (src < 0)
        return harness_fail(-ENXIO, errbuf, errsize, "no master serves slot %d", slot);
    /* the next running master after the source, in start order */
    int dst = -1;
    for (int k = 1; k < h->n && dst < 0; k++) {
        int i = (src + k) % h->n;
        view v;
        if (h->node[i].proc && node_view(h, i, -1, false, &v, errbuf, errsize) == 0) {
            char me[32];
            snprintf(me, sizeof(me), ":%d;", h->node[i].port);
            if (strstr(v.sig, me))
                dst = i;
        }
    }
    if (dst < 0)
        return harness_fail(-ENXIO, errbuf, errsize, "no other master to move slot %d to", slot);
    char s[16];
    snprintf(s, sizeof(s), "%d", slot);
    const char *imp[] = { "CLUSTER", "SETSLOT", s, "IMPORTING", h->node[src].id };
    const char *mig[] = { "CLUSTER", "SETSLOT", s, "MIGRATING", h->node[dst].id };
    int e = node_cmd(h, dst, NULL, errbuf, errsize, 5, imp);
    if (!e)
        e = node_cmd(h, src, NULL, errbuf, errsize, 5, mig);
    if (e)
        return e;
    h->mig_slot = slot;
    h->mig_src = src;
    h->mig_dst = dst;
    return h->node[dst].port;
}

int harness_cluster_migrate_keys(harness_cluster *h, int count, char *errbuf, size_t errsize)
{
    if (h->mig_slot < 0)
        return harness_fail(-EINVAL, errbuf, errsize, "no migration under way");
    char s[16], n[16], port[16];
    snprintf(s, sizeof(s), "%d", h->mig_slot);
    snprintf(n, sizeof(n), "%d", count);
    snprintf(port, sizeof(port), "%d", h->node[h->mig_dst].port);
    redisReply *keys = NULL;
    const char *get[] = { "CLUSTER", "GETKEYSINSLOT", s, n };
    int e = node_cmd(h, h->mig_src, &keys, errbuf, errsize, 4, get);
    if (e)
        return e;
    int moved = keys->type == REDIS_REPLY_ARRAY ? (int)keys->elements : 0;
    if (moved > 0) {
        const char **argv = calloc((size_t)moved + 7, sizeof(*argv));
        if (!argv) {
            freeReplyObject(keys);
            return harness_fail(-ENOMEM, errbuf, errsize, "out of memory");
        }
        /* MIGRATE host port "" db timeout KEYS k...: atomic per call */
        int argc = 0;
        argv[argc++] = "MIGRATE";
        argv[argc++] = "127.0.0.1";
        argv[argc++] = port;
        argv[argc++] = "";
        argv[argc++] = "0";
        argv[argc++] = "5000";
        argv[argc++] = "KEYS";
        for (int k = 0; k < moved; k++)
            argv[argc++] = keys->element[k]->str;
        e = node_cmd(h, h->mig_src, NULL, errbuf, errsize, argc, argv);
        free(argv);
    }
    freeReplyObject(keys);
    return e ? e : moved;
}

int harness_cluster_finish_migration(harness_cluster *h, char *errbuf, size_t errsize)
{
    int e, moved;
    while ((moved = harness_cluster_migrate_keys(h, 100, errbuf, errsize)) > 0)
        ;
    if (moved < 0)
        return moved;
    char s[16];
    snprintf(s, sizeof(s), "%d", h->mig_slot);
    const char *argv[] = { "CLUSTER", "SETSLOT", s, "NODE", h->node[h->mig_dst].id };
    /* the target first, then the source, then the other masters (the order
     * the specification gives, so that no node redirects in a loop) */
    if ((e = node_cmd(h, h->mig_dst, NULL, errbuf, errsize, 5, argv)) ||
        (e = node_cmd(h, h->mig_src, NULL, errbuf, errsize, 5, argv)))
        return e;
    for (int i = 0; i < h->n; i++) {
        view v;
        char me[32];
        if (i == h->mig_src || i == h->mig_dst || !h->node[i].proc)
            continue;
        if ((e = node_view(h, i, -1, false, &v, errbuf, errsize)))
            return e;
        snprintf(me, sizeof(me), ":%d;", h->node[i].port);
        if (strstr(v.sig, me) && (e = node_cmd(h, i, NULL, errbuf, errsize, 5, argv)))
            return e;
    }
    int slot = h->mig_slot, want = h->node[h->mig_dst].port;
    h->mig_slot = -1;
    return wait_agreed(h, slot, want, 0, false, 15000, errbuf, errsize);
}

int harness_cluster_move_slot(harness_cluster *h, int slot, char *errbuf, size_t errsize)
{
    int e = harness_cluster_begin_migration(h, slot, errbuf, errsize);
    return e < 0 ? e : harness_cluster_finish_migration(h, errbuf, errsize);
}
