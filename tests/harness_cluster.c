/* tests/harness_cluster.c - a real Redis Cluster (see harness_cluster.h):
 * ports, processes, starting and stopping; the map as the nodes see it,
 * failover and slot migration are in harness_cluster_slots.c. */
#include "tests/harness_cluster_int.h"
#include "tests/harness_util.h"

#include <arpa/inet.h>
#include <errno.h>
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
    return harness_fail(-EADDRINUSE, errbuf, errsize,
                        "no free port pair p, p+10000 in 20000..39999");
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
int cluster_node_cmd(harness_cluster *h, int i, redisReply **out, char *errbuf, size_t errsize,
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
            snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%.24s", a ? " " : "",
                     argv[a]);
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
            bool noauth = rep && rep->type == REDIS_REPLY_ERROR &&
                          !strncmp(rep->str, "NOAUTH", 6);
            bool up = h->tls_dir[0] ? c != NULL
                                    : rep && (rep->type == REDIS_REPLY_STATUS || noauth);
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

/* ---- lifecycle ---------------------------------------------------------------- */

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
            harness_rm_tree(h->node[i].dir);
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
        if ((e = cluster_node_cmd(h, i, &rep, errbuf, errsize, 2, argv)))
            goto out_stop;
        snprintf(h->node[i].id, sizeof(h->node[i].id), "%s",
                 rep->type == REDIS_REPLY_STRING ? rep->str : "");
        freeReplyObject(rep);
    }
    if ((e = cluster_wait_agreed(h, 0, 0, 0, true, 30000, errbuf, errsize)) < 0)
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

int cluster_node_at(const harness_cluster *h, int port)
{
    for (int i = 0; i < h->n; i++)
        if (h->node[i].port == port)
            return i;
    return -1;
}
