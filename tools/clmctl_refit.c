/* tools/clmctl_refit.c - `clmctl refit [--wait]`: asks clmd's model job
 * (daemon/model_job.h) for a BG/NBD and Gamma-Gamma fit now, and with --wait
 * shows its outcome. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"
#include "store/keys.h"

/* Fields shown first, in this order; the others follow in byte order. */
static const char *const lead_fields[] = {
    "status", "last_error", "fitted_at", "now_day", "unit_days", "customers",
    "repeat_customers", "r", "alpha", "a", "b", "bgnbd_ll", "p", "q", "gamma", "gg_ll",
    "fit_ms", "clv_model_sum", "clv_model_avg",
};
#define NLEAD (sizeof(lead_fields) / sizeof(lead_fields[0]))

static bool is_lead(const char *field)
{
    for (size_t i = 0; i < NLEAD; i++)
        if (strcmp(lead_fields[i], field) == 0)
            return true;
    return false;
}

static int print_model(const clmctl_ctx *x, const char *key, const clmctl_hash *h, char *errbuf,
                       size_t errsize)
{
    size_t count = clmctl_hash_count(h), n = 0;
    const char **order = calloc(count + 1, sizeof(*order));
    json_t *o = x->json ? json_object() : NULL;
    clmctl_table *t = x->json ? NULL : clmctl_table_new(2);
    int r = -ENOMEM;
    if (!order || (x->json ? !o : !t)) {
        snprintf(errbuf, errsize, "out of memory");
        goto out_free;
    }
    for (size_t i = 0; i < NLEAD; i++)
        if (clmctl_hash_get(h, lead_fields[i]))
            order[n++] = lead_fields[i];
    for (size_t i = 0; i < count; i++)
        if (!is_lead(clmctl_hash_field(h, i)))
            order[n++] = clmctl_hash_field(h, i);
    for (size_t i = 0; i < n; i++) {
        const char *value = clmctl_hash_get(h, order[i]);
        const char *cells[] = { order[i], value };
        if (o && json_object_set_new(o, order[i], json_string(value)) < 0) {
            snprintf(errbuf, errsize, "%s: field %s or its value is not UTF-8", key, order[i]);
            r = -EIO;
            goto out_free;
        }
        if (t && clmctl_table_add(t, cells) < 0) {
            snprintf(errbuf, errsize, "out of memory");
            goto out_free;
        }
    }
    if (o)
        r = clmctl_json_print(o, x->out, errbuf, errsize);
    else if ((r = clmctl_table_print(t, x->out)) < 0)
        snprintf(errbuf, errsize, r == -ENOMEM ? "out of memory" : "writing the output failed");
out_free:
    clmctl_table_free(t);
    json_decref(o);
    free(order);
    return r;
}

int clmctl_refit(const clmctl_ctx *x, bool wait, char *errbuf, size_t errsize)
{
    char key[128], token[64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    clm_key_single(key, sizeof(key), x->prefix, CLM_KEY_MODEL);
    snprintf(token, sizeof(token), "%lld-%ld",
             (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000, (long)getpid());
    const char *set[] = { "HSET", key, "refit_requested", token };
    redisReply *rep = NULL;
    int r = clmctl_command(x->rp, 1, 4, set, &rep, errbuf, errsize);
    if (r < 0)
        return r;
    freeReplyObject(rep);
    if (!wait) {
        if (x->json)
            fprintf(x->out, "{\"refit_requested\": \"%s\"}\n", token);
        else
            fprintf(x->out, "refit requested (%s); clmd fits within a second or so and then "
                    "writes %s\n", token, key);
        return 0;
    }
    /* clmd answers the request by setting refit_done to its token */
    clmctl_hash *h = NULL;
    for (int waited_ms = 0;; waited_ms += 100) {
        if ((r = clmctl_hash_read(x->rp, key, &h, errbuf, errsize)) < 0)
            return r;
        const char *done = clmctl_hash_get(h, "refit_done");
        if (done && strcmp(done, token) == 0)
            break;
        clmctl_hash_free(h);
        h = NULL;
        if (waited_ms >= CLMCTL_REFIT_WAIT_S * 1000) {
            snprintf(errbuf, errsize, "clmd did not answer the refit request within %d s "
                     "(is it running, with model.enabled?)", CLMCTL_REFIT_WAIT_S);
            return -ETIMEDOUT;
        }
        struct timespec pause = { 0, 100 * 1000000L };
        nanosleep(&pause, NULL);
    }
    const char *status = clmctl_hash_get(h, "status");
    if (!status || strcmp(status, "ok") != 0) {
        const char *why = clmctl_hash_get(h, "last_error");
        snprintf(errbuf, errsize, "the fit failed: %s", why ? why : "(no reason stored)");
        r = -EIO;
    } else {
        r = print_model(x, key, h, errbuf, errsize);
    }
    clmctl_hash_free(h);
    return r;
}
