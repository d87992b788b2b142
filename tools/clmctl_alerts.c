/* tools/clmctl_alerts.c - `clmctl alerts`: the latest entries of the alert
 * stream and, with --tail, the new ones as they arrive. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"
#include "store/keys.h"
#include "store/reasons.h"

/* How long one XREAD waits for new entries: also the longest a stop request
 * waits to be noticed. */
#define BLOCK_MS 1000
/* Entries one XREAD returns at most when no --max bounds them. */
#define READ_BATCH 100
/* Reasons shown on a line. */
#define TOP_REASONS 3

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- one entry ----------------------------------------------------------- */

/* The value of `name` in an entry's field/value array, or NULL. */
static const redisReply *entry_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1];
    return NULL;
}

static const char *member_str(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* A JSON number as text: integers whole, reals in up to 15 significant
 * digits (so 1250.5 stays 1250.5). */
static void number_text(const json_t *v, char *buf, size_t size)
{
    if (json_is_integer(v))
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, size, "%.15g", json_real_value(v));
}

/* The human line of an alert (its reasons sorted in place). -EINVAL, with
 * nothing printed, when the reasons are malformed; -ENOMEM. */
/* fputs with control characters made visible (clmctl_text_escape): the
 * fields come from event producers and the alert stream. */
static void put_text(FILE *out, const char *s)
{
    char buf[2048];
    clmctl_text_escape(s, buf, sizeof(buf));
    fputs(buf, out);
}

static int print_line(FILE *out, json_t *a)
{
    const char *at = member_str(a, "emitted_at"), *kind = member_str(a, "kind");
    const char *customer = member_str(a, "customer_id"), *stage = member_str(a, "stage");
    json_t *risk = json_object_get(a, "risk"), *prev = json_object_get(a, "previous_risk");
    json_t *clv = json_object_get(a, "clv"), *reasons = json_object_get(a, "reasons");
    char num[64], text[256] = "";
    if (reasons) {
        int r = clm_reasons_sort(reasons);
        if (r < 0)
            return r;
        clmctl_reasons_text(reasons, TOP_REASONS, text, sizeof(text));
    }
    put_text(out, at ? at : "-");
    fputs("  ", out);
    put_text(out, kind ? kind : "-");
    if (kind && strcmp(kind, "suppressed_summary") == 0) {
        json_t *n = json_object_get(a, "suppressed");
        const char *since = member_str(a, "since");
        if (json_is_number(n))
            number_text(n, num, sizeof(num));
        else
            snprintf(num, sizeof(num), "?");
        fprintf(out, "  %s %s suppressed since ", num, strcmp(num, "1") == 0 ? "alert" : "alerts");
        put_text(out, since ? since : "-");
        fputc('\n', out);
        return 0;
    }
    if (kind && strcmp(kind, "digest") == 0) {
        json_t *held = json_object_get(a, "held"), *more = json_object_get(a, "more");
        json_t *src = json_object_get(a, "source"), *win = json_object_get(a, "window");
        json_t *named = json_object_get(a, "customers");
        fprintf(out, "  partition %lld",
                (long long)json_integer_value(json_object_get(src, "partition")));
        fprintf(out, "  %lld held from ", (long long)json_integer_value(held));
        put_text(out, win ? member_str(win, "start") ? member_str(win, "start") : "-" : "-");
        fputs(" to ", out);
        put_text(out, win ? member_str(win, "end") ? member_str(win, "end") : "-" : "-");
        fputc(':', out);
        for (size_t i = 0; i < json_array_size(named); i++) {
            json_t *c = json_array_get(named, i);
            const char *id = member_str(c, "customer_id"), *k = member_str(c, "kind");
            fputc(' ', out);
            put_text(out, id ? id : "-");
            fputs(" (", out);
            put_text(out, k ? k : "-");
            fprintf(out, " %.4f)", json_number_value(json_object_get(c, "risk")));
        }
        if (json_integer_value(more) > 0)
            fprintf(out, " and %lld more", (long long)json_integer_value(more));
        fputc('\n', out);
        return 0;
    }
    if (customer && *customer) {
        fputs("  ", out);
        put_text(out, customer);
    }
    if (json_is_number(risk)) {
        fputs("  risk ", out);
        if (kind && (strcmp(kind, "churn_risk") == 0 || strcmp(kind, "resolved") == 0) &&
            json_is_number(prev))
            fprintf(out, "%.4f -> ", json_number_value(prev));
        fprintf(out, "%.4f", json_number_value(risk));
    }
    const char *reason = member_str(a, "reason");
    if (reason && *reason) {
        fputs("  reason ", out);
        put_text(out, reason);
    }
    if (stage && *stage) {
        fputs("  stage ", out);
        put_text(out, stage);
    }
    if (json_is_number(clv)) {
        number_text(clv, num, sizeof(num));
        fprintf(out, "  clv %s", num);
    }
    if (*text) {
        fputs("  ", out);
        put_text(out, text);
    }
    fputc('\n', out);
    return 0;
}

/* Prints one stream entry ([id, [field, value, ...]]) and copies its id to
 * last_id (of size idsize). */
static int print_entry(const clmctl_ctx *x, const char *key, const redisReply *e, char *last_id,
                       size_t idsize, char *errbuf, size_t errsize)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY) {
        snprintf(errbuf, errsize, "%s: an entry of unexpected form", key);
        return -EIO;
    }
    const char *id = e->element[0]->str;
    const redisReply *j = entry_field(e->element[1], "json");
    if (!j || j->type != REDIS_REPLY_STRING) {
        snprintf(errbuf, errsize, "%s: entry %s has no json field", key, id);
        return -EIO;
    }
    if (x->json) {
        fwrite(j->str, 1, j->len, x->out);
        fputc('\n', x->out);
    } else {
        json_t *a = json_loadb(j->str, j->len, 0, NULL);
        int r = json_is_object(a) ? print_line(x->out, a) : -EIO;
        json_decref(a);
        if (r == -EIO) {
            snprintf(errbuf, errsize, "%s: the json field of entry %s is not a JSON object", key,
                     id);
            return r;
        }
        if (r == -EINVAL) {
            snprintf(errbuf, errsize,
                     "%s: the reasons of entry %s are not an array of {\"signal\", "
                     "\"contribution\"}",
                     key, id);
            return -EIO;
        }
        if (r < 0) {
            snprintf(errbuf, errsize, "out of memory");
            return r;
        }
    }
    if (ferror(x->out)) {
        snprintf(errbuf, errsize, "writing the output failed");
        return -EIO;
    }
    snprintf(last_id, idsize, "%s", id);
    return 0;
}

/* ---- the stream ---------------------------------------------------------- */

/* The last `count` entries, oldest first; last_id becomes the newest's id
 * (left as it is when the stream is empty). Sets *printed. */
static int print_latest(const clmctl_ctx *x, const char *key, int count, char *last_id,
                        size_t idsize, size_t *printed, char *errbuf, size_t errsize)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", count);
    const char *argv[] = { "XREVRANGE", key, "+", "-", "COUNT", n };
    redisReply *rep;
    int r = clmctl_command(x->rp, 1, 6, argv, &rep, errbuf, errsize);
    if (r < 0)
        return r;
    if (rep->type != REDIS_REPLY_ARRAY) {
        snprintf(errbuf, errsize, "XREVRANGE %s: unexpected reply", key);
        r = -EIO;
        goto out_free_reply;
    }
    for (size_t i = rep->elements; i-- > 0 && r == 0;)
        r = print_entry(x, key, rep->element[i], last_id, idsize, errbuf, errsize);
    *printed = rep->elements;
out_free_reply:
    freeReplyObject(rep);
    return r;
}

/* XREAD's reply: nil when BLOCK_MS passed without a new entry, else
 * [[key, [entry, ...]]]. Prints the entries and counts them in *printed. */
static int print_read(const clmctl_ctx *x, const char *key, const redisReply *rep, char *last_id,
                      size_t idsize, int *printed, char *errbuf, size_t errsize)
{
    if (rep->type == REDIS_REPLY_NIL)
        return 0;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
        rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[0]->elements != 2 ||
        rep->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
        snprintf(errbuf, errsize, "XREAD %s: unexpected reply", key);
        return -EIO;
    }
    const redisReply *entries = rep->element[0]->element[1];
    for (size_t i = 0; i < entries->elements; i++) {
        int r = print_entry(x, key, entries->element[i], last_id, idsize, errbuf, errsize);
        if (r < 0)
            return r;
        (*printed)++;
    }
    return 0;
}

static int flush(FILE *out, char *errbuf, size_t errsize)
{
    if (fflush(out) == EOF) {
        snprintf(errbuf, errsize, "writing the output failed: %s", strerror(errno));
        return -EIO;
    }
    return 0;
}

/* Entries after last_id as they arrive, until a stop request or max (> 0)
 * of them. */
static int follow(const clmctl_ctx *x, const char *key, char *last_id, size_t idsize, int max,
                  char *errbuf, size_t errsize)
{
    /* a command may now take BLOCK_MS longer than the configured timeout */
    int ms = x->cfg->redis_timeout_ms + BLOCK_MS;
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    char block[16], count[16];
    int printed = 0, r = 0;
    char why[512] = "";
    snprintf(block, sizeof(block), "%d", BLOCK_MS);
    while (!stop_requested && (max == 0 || printed < max) && r == 0) {
        /* on a cluster, the connection of the stream's node (again each time:
         * the slot may have moved to a node connected since) */
        redisContext *c = x->cl ? clm_cluster_for_key(x->cl, key, strlen(key), why, sizeof(why))
                                : x->rc;
        if (!c) {
            snprintf(errbuf, errsize, "XREAD %s: connection to Redis lost: %s", key, why);
            return -EIO;
        }
        if (redisSetTimeout(c, tv) != REDIS_OK) {
            snprintf(errbuf, errsize, "setting the Redis command timeout failed");
            return -EIO;
        }
        snprintf(count, sizeof(count), "%d", max ? max - printed : READ_BATCH);
        const char *argv[] = { "XREAD", "COUNT", count, "BLOCK", block, "STREAMS", key, last_id };
        redisReply *rep = clm_rpipe_command(x->rp, 6, 8, argv, NULL, why, sizeof(why));
        if (!rep) {
            snprintf(errbuf, errsize, "XREAD %s: connection to Redis lost: %s", key, why);
            return -EIO;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            snprintf(errbuf, errsize, "XREAD %s: %s", key, rep->str);
            r = -EIO;
        } else if ((r = print_read(x, key, rep, last_id, idsize, &printed, errbuf, errsize)) == 0) {
            r = flush(x->out, errbuf, errsize);
        }
        freeReplyObject(rep);
    }
    return r;
}

int clmctl_alerts(const clmctl_ctx *x, int count, bool tail, int max, char *errbuf,
                  size_t errsize)
{
    char key[512], last_id[64] = "0-0"; /* an empty stream: every entry is new */
    size_t printed = 0;
    struct sigaction sa = { .sa_handler = on_stop, .sa_flags = SA_RESTART }, old_int, old_term;
    int r;
    clm_key_single(key, sizeof(key), x->prefix, CLM_KEY_ALERTS);
    if (tail) {
        /* handled before the first read, so that no stop request is lost */
        stop_requested = 0;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }
    if ((r = print_latest(x, key, count, last_id, sizeof(last_id), &printed, errbuf, errsize)) < 0)
        goto out_restore;
    if (printed == 0 && !tail && !x->json)
        fprintf(x->out, "no alerts (%s is empty)\n", key);
    if ((r = flush(x->out, errbuf, errsize)) < 0 || !tail)
        goto out_restore;
    r = follow(x, key, last_id, sizeof(last_id), max, errbuf, errsize);
out_restore:
    if (tail) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    return r;
}
