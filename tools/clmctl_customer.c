/* tools/clmctl_customer.c - `clmctl customer ID`: one customer's hash. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "tools/clmctl_cmd.h"
#include "tools/clmctl_out.h"
#include "tools/clmctl_redis.h"
#include "store/keys.h"

/* The fields shown first, in this order; the others follow in byte order. */
static const char *const lead_fields[] = {
    "stage", "stage_since", "first_seen", "last_seen", "events", "orders", "revenue",
    "refunds", "clv", "clv_rate", "clv_pred", "last_type",
};
#define NLEAD (sizeof(lead_fields) / sizeof(lead_fields[0]))

static bool is_lead(const char *field)
{
    for (size_t i = 0; i < NLEAD; i++)
        if (strcmp(lead_fields[i], field) == 0)
            return true;
    return false;
}

/* Whether a field holds an epoch-ms time shown as an ISO time too. */
static bool is_time(const char *field)
{
    return strcmp(field, "stage_since") == 0 || strcmp(field, "first_seen") == 0 ||
           strcmp(field, "last_seen") == 0;
}

/* The text shown for a value: "ISO (ms)" for a time in the accepted range,
 * the stored value otherwise. */
static void show(const char *field, const char *value, char *buf, size_t size)
{
    int64_t ms;
    char iso[32];
    if (is_time(field) && clmctl_parse_i64(value, &ms) == 0 && ms >= 0 && ms <= CLM_TS_MAX_MS) {
        clm_ts_format(ms, iso);
        snprintf(buf, size, "%s (%s)", iso, value);
    } else {
        snprintf(buf, size, "%s", value);
    }
}

/* The hash's fields in display order (pointers into h). */
static const char **display_order(const clmctl_hash *h, size_t *n)
{
    size_t count = clmctl_hash_count(h), k = 0;
    const char **order = calloc(count + 1, sizeof(*order));
    if (!order)
        return NULL;
    for (size_t i = 0; i < NLEAD; i++)
        if (clmctl_hash_get(h, lead_fields[i]))
            order[k++] = lead_fields[i];
    for (size_t i = 0; i < count; i++)
        if (!is_lead(clmctl_hash_field(h, i)))
            order[k++] = clmctl_hash_field(h, i);
    *n = k;
    return order;
}

static int print_table(const clmctl_ctx *x, const clmctl_hash *h, const char **order, size_t n)
{
    clmctl_table *t = clmctl_table_new(2);
    int r = -ENOMEM;
    if (!t)
        return r;
    for (size_t i = 0; i < n; i++) {
        const char *value = clmctl_hash_get(h, order[i]);
        size_t size = strlen(value) + 32; /* room for the ISO time and " ()" */
        char *buf = malloc(size);
        if (!buf) {
            r = -ENOMEM;
            goto out_free_table;
        }
        show(order[i], value, buf, size);
        const char *cells[] = { order[i], buf };
        r = clmctl_table_add(t, cells);
        free(buf);
        if (r < 0)
            goto out_free_table;
    }
    r = clmctl_table_print(t, x->out);
out_free_table:
    clmctl_table_free(t);
    return r;
}

static int print_json(const clmctl_ctx *x, const char *key, const clmctl_hash *h,
                      const char **order, size_t n, char *errbuf, size_t errsize)
{
    json_t *o = json_object();
    int r = 0;
    if (!o) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (json_object_set_new(o, order[i], json_string(clmctl_hash_get(h, order[i]))) < 0) {
            snprintf(errbuf, errsize, "%s: field %s or its value is not UTF-8", key, order[i]);
            r = -EIO;
            goto out_decref;
        }
    r = clmctl_json_print(o, x->out, errbuf, errsize);
out_decref:
    json_decref(o);
    return r;
}

int clmctl_customer(const clmctl_ctx *x, const char *id, char *errbuf, size_t errsize)
{
    char *key = malloc(CLM_KEY_MAX);
    clmctl_hash *h = NULL;
    const char **order = NULL;
    size_t n = 0;
    int r;
    if (!key) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    if (clm_key_customer(key, CLM_KEY_MAX, x->prefix, id, strlen(id)) < 0) {
        snprintf(errbuf, errsize, "customer id too long");
        r = -EINVAL;
        goto out_free_key;
    }
    if ((r = clmctl_hash_read(x->rp, key, &h, errbuf, errsize)) < 0)
        goto out_free_key;
    if (clmctl_hash_count(h) == 0) {
        snprintf(errbuf, errsize, "no customer %s", id);
        r = -ENOENT;
        goto out_free_key;
    }
    if (!(order = display_order(h, &n))) {
        snprintf(errbuf, errsize, "out of memory");
        r = -ENOMEM;
        goto out_free_key;
    }
    if (x->json)
        r = print_json(x, key, h, order, n, errbuf, errsize);
    else if ((r = print_table(x, h, order, n)) < 0)
        snprintf(errbuf, errsize, r == -ENOMEM ? "out of memory" : "writing the output failed");
out_free_key:
    free(order);
    clmctl_hash_free(h);
    free(key);
    return r;
}
