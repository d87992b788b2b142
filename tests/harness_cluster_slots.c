/* tests/harness_cluster_slots.c - see harness_cluster.h: the map as the
 * nodes see it, a master killed and replaced, a slot migrated. */
#include "tests/harness_cluster_int.h"
#include "tests/harness_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- views of the map ------------------------------------------------------ */

int cluster_node_view(harness_cluster *h, int i, int slot, bool replicas, view *v, char *errbuf,
                      size_t errsize)
{
    redisReply *info = NULL, *slots = NULL;
    const char *iargv[] = { "CLUSTER", "INFO" }, *sargv[] = { "CLUSTER", "SLOTS" };
    int e = cluster_node_cmd(h, i, &info, errbuf, errsize, 2, iargv);
    if (!e)
        e = cluster_node_cmd(h, i, &slots, errbuf, errsize, 2, sargv);
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
int cluster_wait_agreed(harness_cluster *h, int slot, int want, int not, bool replicas,
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
            if ((e = cluster_node_view(h, i, slot, replicas, w, why, sizeof(why))))
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

int harness_cluster_master_port(harness_cluster *h, int slot)
{
    char err[256];
    for (int i = 0; i < h->n; i++) {
        view v;
        if (h->node[i].proc && cluster_node_view(h, i, slot, false, &v, err, sizeof(err)) == 0)
            return v.owner > 0 ? v.owner : -ENXIO;
    }
    return -EIO;
}

int harness_cluster_crash_master(harness_cluster *h, int slot, char *errbuf, size_t errsize)
{
    int port = harness_cluster_master_port(h, slot);
    int i = port > 0 ? cluster_node_at(h, port) : -1;
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
    return cluster_wait_agreed(h, slot, 0, dead_port, false, 30000, errbuf, errsize);
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
    int src = port > 0 ? cluster_node_at(h, port) : -1;
    if (src < 0)
        return harness_fail(-ENXIO, errbuf, errsize, "no master serves slot %d", slot);
    /* the next running master after the source, in start order */
    int dst = -1;
    for (int k = 1; k < h->n && dst < 0; k++) {
        int i = (src + k) % h->n;
        view v;
        if (h->node[i].proc && cluster_node_view(h, i, -1, false, &v, errbuf, errsize) == 0) {
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
    int e = cluster_node_cmd(h, dst, NULL, errbuf, errsize, 5, imp);
    if (!e)
        e = cluster_node_cmd(h, src, NULL, errbuf, errsize, 5, mig);
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
    int e = cluster_node_cmd(h, h->mig_src, &keys, errbuf, errsize, 4, get);
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
        e = cluster_node_cmd(h, h->mig_src, NULL, errbuf, errsize, argc, argv);
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
    if ((e = cluster_node_cmd(h, h->mig_dst, NULL, errbuf, errsize, 5, argv)) ||
        (e = cluster_node_cmd(h, h->mig_src, NULL, errbuf, errsize, 5, argv)))
        return e;
    for (int i = 0; i < h->n; i++) {
        view v;
        char me[32];
        if (i == h->mig_src || i == h->mig_dst || !h->node[i].proc)
            continue;
        if ((e = cluster_node_view(h, i, -1, false, &v, errbuf, errsize)))
            return e;
        snprintf(me, sizeof(me), ":%d;", h->node[i].port);
        if (strstr(v.sig, me) && (e = cluster_node_cmd(h, i, NULL, errbuf, errsize, 5, argv)))
            return e;
    }
    int slot = h->mig_slot, want = h->node[h->mig_dst].port;
    h->mig_slot = -1;
    return cluster_wait_agreed(h, slot, want, 0, false, 15000, errbuf, errsize);
}

int harness_cluster_move_slot(harness_cluster *h, int slot, char *errbuf, size_t errsize)
{
    int e = harness_cluster_begin_migration(h, slot, errbuf, errsize);
    return e < 0 ? e : harness_cluster_finish_migration(h, errbuf, errsize);
}
