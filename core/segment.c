/* core/segment.c - compiled segment sets (core/segment.h). */
#include "core/segment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seg {
    char *name;
    char *text;
    clm_rule *rule;
    bool notify;
} seg;

struct clm_segments {
    size_t n;
    seg *segs;
};

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CLM_SEG_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

int clm_segments_new(const clm_segment_spec *specs, size_t n, clm_rule_resolve_fn resolve,
                     void *rctx, clm_segments **out, char *errbuf, size_t errsize)
{
    char rerr[160];
    int r;

    if (n > CLM_SEG_MAX) {
        snprintf(errbuf, errsize, ": %zu segments (expected at most %d)", n, CLM_SEG_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!specs[i].name || !valid_name(specs[i].name)) {
            snprintf(errbuf, errsize,
                     "[%zu].name: \"%.80s\" is not a segment name (expected 1..%d of "
                     "A-Z a-z 0-9 _ - .)",
                     i, specs[i].name ? specs[i].name : "", CLM_SEG_NAME_MAX);
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(specs[i].name, specs[j].name) == 0) {
                snprintf(errbuf, errsize, "[%zu].name: \"%s\" is also segment [%zu]", i,
                         specs[i].name, j);
                return -EINVAL;
            }
    }
    clm_segments *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->segs = calloc(n ? n : 1, sizeof *s->segs);
    if (!s->segs) {
        r = -ENOMEM;
        goto out_free_set;
    }
    for (size_t i = 0; i < n; i++, s->n++) {
        seg *g = &s->segs[i];
        g->notify = specs[i].notify;
        g->name = strdup(specs[i].name);
        g->text = strdup(specs[i].rule ? specs[i].rule : "");
        if (!g->name || !g->text) {
            r = -ENOMEM;
            s->n++;
            goto out_free_set;
        }
        r = clm_rule_parse(g->text, resolve, rctx, &g->rule, rerr, sizeof rerr);
        if (r < 0) {
            if (r == -EINVAL)
                snprintf(errbuf, errsize, "[%zu].rule: %s", i, rerr);
            s->n++;
            goto out_free_set;
        }
    }
    *out = s;
    return 0;

out_free_set:
    clm_segments_free(s);
    return r;
}

clm_seg_mask clm_segments_eval(const clm_segments *s, clm_rule_get_fn get, void *gctx)
{
    clm_seg_mask m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (clm_rule_eval(s->segs[i].rule, get, gctx))
            m |= (clm_seg_mask)1 << i;
    return m;
}

clm_seg_mask clm_segments_using(const clm_segments *s, int id)
{
    clm_seg_mask m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (clm_rule_uses(s->segs[i].rule, id))
            m |= (clm_seg_mask)1 << i;
    return m;
}

size_t clm_segments_count(const clm_segments *s)
{
    return s ? s->n : 0;
}

const char *clm_segments_name(const clm_segments *s, size_t i)
{
    return s->segs[i].name;
}

const char *clm_segments_rule(const clm_segments *s, size_t i)
{
    return s->segs[i].text;
}

bool clm_segments_notify(const clm_segments *s, size_t i)
{
    return s->segs[i].notify;
}

int clm_segments_find(const clm_segments *s, const char *name)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (strcmp(s->segs[i].name, name) == 0)
            return (int)i;
    return -1;
}

void clm_segments_free(clm_segments *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->segs && i < s->n; i++) {
        free(s->segs[i].name);
        free(s->segs[i].text);
        clm_rule_free(s->segs[i].rule);
    }
    free(s->segs);
    free(s);
}
