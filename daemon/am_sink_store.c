/* daemon/am_sink_store.c - the Alertmanager sink's side in Redis
 * (am_sink.h): the delivered cursor, the gauges, the lease, the firing
 * hash, and the transaction that records a delivered batch. Sink thread
 * only. */
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/am_sink_impl.h"
#include "daemon/lease.h"
#include "daemon/redis.h"
#include "store/keys.h"

/* A reply of the expected type, or NULL (last_error set) after dropping
 * the connection. argv[1] is the key. */
redisReply *am_sink_command(clm_am_sink *s, clm_rpipe *rc, int type, int argc,
                            const char **argv)
{
    char why[256] = "";
    redisReply *rep = clm_rpipe_command(rc, 1, argc, argv, NULL, why, sizeof(why));
    if (rep && rep->type == type)
        return rep;
    am_sink_set_error(s, "Redis %s %s: %s", argv[0], argv[1],
                      !rep ? why : rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    freeReplyObject(rep);
    clm_redis_drop(s->redis);
    return NULL;
}

/* The delivered cursor: the id of the last delivered entry, "0" when none. */
int am_sink_read_cursor(clm_am_sink *s, clm_rpipe *rc, char *out, size_t size)
{
    char why[256] = "";
    const char *argv[] = { "GET", s->cursor };
    redisReply *rep = clm_rpipe_command(rc, 1, 2, argv, NULL, why, sizeof(why));
    if (!rep || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL)) {
        am_sink_set_error(s, "Redis GET %s: %s", s->cursor,
                          rep && rep->type == REDIS_REPLY_ERROR ? rep->str : why);
        freeReplyObject(rep);
        clm_redis_drop(s->redis);
        return -EIO;
    }
    snprintf(out, size, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "0");
    freeReplyObject(rep);
    return 0;
}

/* The XRANGE start of what follows cursor: "-" from the start, else "(id". */
void am_sink_range_start(const char *cursor, char *out, size_t size)
{
    if (strcmp(cursor, "0") == 0 || strcmp(cursor, "0-0") == 0)
        snprintf(out, size, "-");
    else
        snprintf(out, size, "(%s", cursor);
}

/* The gauges: depth, firing and the age of the first undelivered entry. */
void am_sink_refresh_gauges(clm_am_sink *s, clm_rpipe *rc)
{
    s->gauges_ms = clm_now_ms();
    char cur[64], start[80];
    if (am_sink_read_cursor(s, rc, cur, sizeof(cur)) < 0)
        return;
    const char *xlen[] = { "XLEN", s->page };
    redisReply *rep = am_sink_command(s, rc, REDIS_REPLY_INTEGER, 2, xlen);
    if (!rep)
        return;
    atomic_store(&s->depth, (int64_t)rep->integer);
    freeReplyObject(rep);
    const char *hlen[] = { "HLEN", s->firing_key };
    if (!(rep = am_sink_command(s, rc, REDIS_REPLY_INTEGER, 2, hlen)))
        return;
    atomic_store(&s->firing, (int64_t)rep->integer);
    freeReplyObject(rep);
    am_sink_range_start(cur, start, sizeof(start));
    const char *first[] = { "XRANGE", s->page, start, "+", "COUNT", "1" };
    if (!(rep = am_sink_command(s, rc, REDIS_REPLY_ARRAY, 6, first)))
        return;
    int64_t age = 0;
    if (rep->elements > 0 && rep->element[0]->type == REDIS_REPLY_ARRAY &&
        rep->element[0]->element[0]->type == REDIS_REPLY_STRING) {
        int64_t added = strtoll(rep->element[0]->element[0]->str, NULL, 10);
        age = clm_wall_ms() - added;
        if (age < 0)
            age = 0;
    }
    atomic_store(&s->oldest_age_ms, age);
    freeReplyObject(rep);
}

/* Takes or renews the lease; on a Redis failure the instance counts as
 * not leading. */
void am_sink_hold_lease(clm_am_sink *s, clm_rpipe *rc)
{
    bool was = s->is_leader;
    char why[256];
    int r = clm_lease_hold(&s->lease, rc, why, sizeof(why));
    if (r < 0) {
        am_sink_set_error(s, "%s", why);
        clm_redis_drop(s->redis);
    }
    s->is_leader = r == 1;
    if (s->is_leader) {
        s->lease_ms = clm_now_ms();
        if (!was) { /* taking over: the firing alerts at once, then the page */
            s->resend_due_ms = s->lease_ms;
            s->retry_ms = 0;
            s->backoff_ms = BACKOFF_MIN_MS;
        }
    }
    atomic_store(&s->leader, s->is_leader);
}

void am_sink_release_lease(clm_am_sink *s)
{
    char err[256];
    clm_rpipe *rc = s->is_leader ? clm_redis_pipe(s->redis, err, sizeof(err)) : NULL;
    clm_lease_release(&s->lease, rc);
    s->is_leader = false;
    atomic_store(&s->leader, false);
}

/* The firing alert of an incident as this batch leaves it: from the
 * batch's own changes (overlay: incident -> alert, or null once dropped),
 * else from the hash. *out gets a new reference or NULL. 0 or -EIO. */
int am_sink_firing_get(clm_am_sink *s, clm_rpipe *rc, json_t *overlay, const char *incident,
                       json_t **out)
{
    json_t *v = json_object_get(overlay, incident);
    if (v) {
        *out = json_is_null(v) ? NULL : json_incref(v);
        return 0;
    }
    char why[256] = "";
    const char *argv[] = { "HGET", s->firing_key, incident };
    redisReply *rep = clm_rpipe_command(rc, 1, 3, argv, NULL, why, sizeof(why));
    if (!rep || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL)) {
        am_sink_set_error(s, "Redis HGET %s: %s", s->firing_key,
                          rep && rep->type == REDIS_REPLY_ERROR ? rep->str : why);
        freeReplyObject(rep);
        clm_redis_drop(s->redis);
        return -EIO;
    }
    *out = rep->type == REDIS_REPLY_STRING ? json_loadb(rep->str, rep->len, 0, NULL) : NULL;
    freeReplyObject(rep);
    return 0;
}

/* The id that follows "ms-seq": the XTRIM MINID bound that removes it. */
static void next_id(const char *id, char *out, size_t size)
{
    char *end;
    unsigned long long ms = strtoull(id, &end, 10), seq = 0;
    if (*end == '-')
        seq = strtoull(end + 1, NULL, 10);
    if (seq == UINT64_MAX)
        snprintf(out, size, "%llu-0", ms + 1);
    else
        snprintf(out, size, "%llu-%llu", ms, seq + 1);
}

/* One command on the transaction's context: the reply, or NULL (last_error
 * set) after dropping the connection, or telling a redirect (the slot map
 * is read again before the next try). */
static redisReply *tx_command(clm_am_sink *s, redisContext *rc, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(rc, argc, argv, NULL);
    if (rep && rep->type != REDIS_REPLY_ERROR)
        return rep;
    am_sink_set_error(s, "Redis %s %s: %s", argv[0], argv[1], rep ? rep->str : rc->errstr);
    bool moved = rep && clm_rpipe_redirected(rep->str);
    freeReplyObject(rep);
    if (moved) {
        clm_redis_stale(s->redis);
        freeReplyObject(redisCommand(rc, "UNWATCH"));
    } else {
        clm_redis_drop_ctx(s->redis, rc);
    }
    return NULL;
}

/* After a 2xx: the batch's firing changes and the cursor in one
 * transaction, under WATCH of the lease and the cursor, on the node serving
 * them (sink_key), and the trim: in the transaction on one server, just
 * after it on Redis Cluster, where the stream lives in another slot (a trim
 * that did not run is done by the next: MINID removes everything before).
 * 0, or -EIO (nothing applied). */
int am_sink_commit(clm_am_sink *s, clm_rpipe *rp, json_t *overlay, const char *cursor_was,
                   const char *last_id)
{
    char why[256];
    redisContext *rc = clm_redis_get_key(s->redis, s->lease.key, strlen(s->lease.key), why,
                                         sizeof(why));
    if (!rc) {
        am_sink_set_error(s, "Redis: %s", why);
        return -EIO;
    }
    bool cluster = clm_redis_is_cluster(s->redis);
    const char *watch[] = { "WATCH", s->lease.key, s->cursor };
    redisReply *rep = tx_command(s, rc, 3, watch);
    if (!rep)
        return -EIO;
    freeReplyObject(rep);
    const char *get[] = { "GET", s->lease.key };
    if (!(rep = tx_command(s, rc, 2, get)))
        return -EIO;
    bool mine = rep->type == REDIS_REPLY_STRING && clm_lease_mine(&s->lease, rep->str);
    freeReplyObject(rep);
    char cur[64] = "";
    const char *getc[] = { "GET", s->cursor };
    if (mine) {
        if (!(rep = tx_command(s, rc, 2, getc)))
            return -EIO;
        snprintf(cur, sizeof(cur), "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "0");
        freeReplyObject(rep);
    }
    if (!mine || strcmp(cur, cursor_was) != 0) {
        if (!mine)
            am_sink_set_error(s, "the lease %s was lost before the delivery was recorded",
                              s->lease.key);
        else
            am_sink_set_error(s, "%s moved during the delivery (another instance)", s->cursor);
        freeReplyObject(redisCommand(rc, "UNWATCH"));
        s->is_leader = s->lease.held = false; /* SET NX takes it again once it is free */
        atomic_store(&s->leader, false);
        return -EIO;
    }
    char trim[64];
    next_id(last_id, trim, sizeof(trim));
    /* pipelined: one round trip */
    int n = 0;
    bool queued = redisAppendCommand(rc, "MULTI") == REDIS_OK;
    n++;
    const char *inc;
    json_t *v;
    json_object_foreach(overlay, inc, v) {
        if (json_is_null(v)) {
            queued = queued && redisAppendCommand(rc, "HDEL %s %s", s->firing_key, inc) == REDIS_OK;
        } else {
            char *text = json_dumps(v, JSON_COMPACT);
            queued = queued && text &&
                     redisAppendCommand(rc, "HSET %s %s %s", s->firing_key, inc, text) == REDIS_OK;
            free(text);
        }
        n++;
    }
    queued = queued && redisAppendCommand(rc, "SET %s %s", s->cursor, last_id) == REDIS_OK &&
             (cluster || redisAppendCommand(rc, "XTRIM %s MINID %s", s->page, trim) == REDIS_OK) &&
             redisAppendCommand(rc, "EXEC") == REDIS_OK;
    n += cluster ? 2 : 3;
    if (!queued) {
        am_sink_set_error(s, "alertmanager: out of memory recording a delivery");
        clm_redis_drop_ctx(s->redis, rc); /* discards what was queued: no EXEC was sent */
        return -EIO;
    }
    int r = 0;
    for (int i = 0; i < n; i++) {
        redisReply *x = NULL;
        if (redisGetReply(rc, (void **)&x) != REDIS_OK || !x) {
            am_sink_set_error(s, "Redis MULTI/EXEC: %s", rc->errstr);
            clm_redis_drop_ctx(s->redis, rc);
            return -EIO;
        }
        if (x->type == REDIS_REPLY_ERROR && clm_rpipe_redirected(x->str))
            clm_redis_stale(s->redis); /* EXEC then aborts: tried again later */
        if (i == n - 1 && x->type != REDIS_REPLY_ARRAY) {
            am_sink_set_error(s, "Redis EXEC: %s",
                              x->type == REDIS_REPLY_ERROR ? x->str : "aborted");
            r = -EIO;
        }
        for (size_t k = 0; i == n - 1 && x->type == REDIS_REPLY_ARRAY && k < x->elements; k++)
            if (x->element[k]->type == REDIS_REPLY_ERROR) { /* a key of the wrong type */
                am_sink_set_error(s, "Redis EXEC: %s", x->element[k]->str);
                r = -EIO;
            }
        freeReplyObject(x);
    }
    if (r == 0 && cluster) {
        const char *xtrim[] = { "XTRIM", s->page, "MINID", trim };
        redisReply *t = am_sink_command(s, rp, REDIS_REPLY_INTEGER, 4, xtrim);
        freeReplyObject(t); /* recorded all the same: the next trim catches up */
    }
    return r;
}
