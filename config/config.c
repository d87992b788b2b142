/* config/config.c - reading clmd's configuration: the main file, then the
 * secrets files, each walked section by section against the key table.
 *
 * What a single key accepts is decided by its row (config/keys.c, config/schema.c); this file decides
 * which keys a document may hold (sections, comments, unknown keys, what a
 * secrets file may contain) and where the documents come from.
 */
#include "config/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/event_types.h"
#include "config/lifecycle.h"
#include "config/risk.h"
#include "config/schema.h"
#include "config/segments.h"
#include "config/breakdowns.h"
#include "core/customer.h"
#include "core/kpi.h"

/* Longest key component considered for a "did you mean" hint. */
#define HINT_KEY_MAX 64

static int oom_error(char *errbuf, size_t errsize, const char *name)
{
    clm_cfg_errorf(errbuf, errsize, "%s: out of memory", name);
    return -ENOMEM;
}

/* ---- documents ---------------------------------------------------------- */

/* A document being applied. */
typedef struct walk {
    const clm_cfg_key *keys;
    size_t nkeys;
    void *base;
    clm_cfg_source from;
    const char *name;
    char *errbuf;
    size_t errsize;
} walk;

static bool visible(const walk *w, const clm_cfg_key *row)
{
    return w->from == CLM_CFG_FROM_MAIN || (row->flags & (CLM_CFG_SECRET | CLM_CFG_IN_SECRETS));
}

static const clm_cfg_key *find_row(const walk *w, const char *path)
{
    for (size_t i = 0; i < w->nkeys; i++)
        if (visible(w, &w->keys[i]) && strcmp(w->keys[i].path, path) == 0)
            return &w->keys[i];
    return NULL;
}

/* Whether path names a section: a visible row's path continues it with '.'. */
static bool is_section(const walk *w, const char *path)
{
    size_t len = strlen(path);

    for (size_t i = 0; i < w->nkeys; i++)
        if (visible(w, &w->keys[i]) && strncmp(w->keys[i].path, path, len) == 0 &&
            w->keys[i].path[len] == '.')
            return true;
    return false;
}

/* Optimal string alignment distance (a transposition counts as one edit);
 * SIZE_MAX for strings longer than HINT_KEY_MAX. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t rows[3][HINT_KEY_MAX + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

    if (la > HINT_KEY_MAX || lb > HINT_KEY_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *t;

        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1], d = prev[j - 1] + cost;

            if (prev[j] + 1 < d)
                d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* "unknown key", with the nearest name in the same section (at most 2 edits)
 * as a hint; from a secrets file, with what such a file may hold. */
static int unknown_key(const walk *w, const char *prefix, const char *key, const char *path)
{
    size_t plen = prefix ? strlen(prefix) + 1 : 0, best = 3, best_len = 0;
    const char *best_name = NULL;
    char allowed[256] = "";
    size_t used = 0;

    for (size_t i = 0; i < w->nkeys; i++) {
        const char *p = w->keys[i].path, *child, *dot;
        size_t clen, d;

        if (!visible(w, &w->keys[i]) ||
            (prefix && (strncmp(p, prefix, plen - 1) != 0 || p[plen - 1] != '.')))
            continue;
        child = p + plen;
        dot = strchr(child, '.');
        clen = dot ? (size_t)(dot - child) : strlen(child);
        d = edit_distance(key, strlen(key), child, clen);
        if (d < best) {
            best = d;
            best_name = p;
            best_len = plen + clen;
        }
    }
    if (best_name) {
        clm_cfg_errorf(w->errbuf, w->errsize, "%s: %s: unknown key (did you mean %.*s?)", w->name,
                       path, (int)best_len, best_name);
        return -EINVAL;
    }
    if (w->from == CLM_CFG_FROM_MAIN) {
        clm_cfg_errorf(w->errbuf, w->errsize, "%s: %s: unknown key", w->name, path);
        return -EINVAL;
    }
    for (size_t i = 0; i < w->nkeys && used < sizeof allowed; i++)
        if (visible(w, &w->keys[i]))
            used += (size_t)snprintf(allowed + used, sizeof allowed - used, "%s%s",
                                     used ? ", " : "", w->keys[i].path);
    clm_cfg_errorf(w->errbuf, w->errsize, "%s: %s: unknown key (a secrets file holds only %s)",
                   w->name, path, allowed);
    return -EINVAL;
}

static int walk_object(const walk *w, json_t *obj, const char *prefix)
{
    const char *k;
    json_t *v;

    json_object_foreach(obj, k, v) {
        const clm_cfg_key *row;
        char *path;
        int r;

        if (clm_cfg_is_comment(k))
            continue;
        path = clm_cfg_join(prefix, k);
        if (!path)
            return oom_error(w->errbuf, w->errsize, w->name);
        row = find_row(w, path);
        if (row)
            r = clm_cfg_set_value(row, w->base, v, w->from, w->name, path, w->errbuf, w->errsize);
        else if (!is_section(w, path))
            r = unknown_key(w, prefix, k, path);
        else if (json_is_object(v))
            r = walk_object(w, v, path);
        else
            r = clm_cfg_error(w->errbuf, w->errsize, w->name, path, v,
                              w->from == CLM_CFG_FROM_SECRETS, "has the wrong type", "an object");
        free(path);
        if (r < 0)
            return r;
    }
    return 0;
}

int clm_cfg_apply(const clm_cfg_key *keys, size_t nkeys, void *base, json_t *root,
                  clm_cfg_source from, const char *name, char *errbuf, size_t errsize)
{
    walk w = {
        .keys = keys,
        .nkeys = nkeys,
        .base = base,
        .from = from,
        .name = name,
        .errbuf = errbuf,
        .errsize = errsize,
    };

    if (!json_is_object(root))
        return clm_cfg_error(errbuf, errsize, name, "top level", root, from == CLM_CFG_FROM_SECRETS,
                             "has the wrong type", "an object");
    return walk_object(&w, root, NULL);
}

/* ---- clmd's configuration ---------------------------------------------- */

static const char secrets_credential[] = "clmd-secrets.json";

/* Reads one JSON document. A secrets file's syntax errors leave out the text
 * near the error, which could be part of a secret. */
static int read_json_file(const char *path, bool secret, json_t **out, char *errbuf, size_t errsize)
{
    json_error_t jerr;
    struct stat st;
    json_t *root;
    FILE *fp;
    int r;

    fp = fopen(path, "rbe");
    if (!fp) {
        r = -errno;
        clm_cfg_errorf(errbuf, errsize, "%s: cannot open: %s", path, strerror(-r));
        return r;
    }
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        r = -EISDIR;
        clm_cfg_errorf(errbuf, errsize, "%s: cannot open: %s", path, strerror(-r));
        goto out_close;
    }
    root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char *near = secret ? strstr(jerr.text, " near ") : NULL;

        if (near)
            *near = '\0';
        clm_cfg_errorf(errbuf, errsize, "%s: line %d, column %d: invalid JSON: %s", path, jerr.line,
                       jerr.column, jerr.text);
        r = json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
        goto out_close;
    }
    *out = root;
    r = 0;
out_close:
    fclose(fp);
    return r;
}

/* Applies the secrets file at path onto cfg. A missing file is an error
 * unless optional. */
static int load_secrets(clm_config *cfg, const char *path, bool optional, char *errbuf,
                        size_t errsize)
{
    json_t *root = NULL;
    int r;

    r = read_json_file(path, true, &root, errbuf, errsize);
    if (r == -ENOENT && optional)
        return 0;
    if (r < 0)
        return r;
    r = clm_cfg_apply(clm_config_keys, clm_config_key_count, cfg, root, CLM_CFG_FROM_SECRETS, path,
                      errbuf, errsize);
    json_decref(root);
    struct stat st;
    if (r == 0 && stat(path, &st) == 0 && (st.st_mode & S_IROTH)) {
        free(cfg->secrets_exposed);
        cfg->secrets_exposed = strdup(path);
        if (!cfg->secrets_exposed)
            r = oom_error(errbuf, errsize, path);
    }
    return r;
}

/* name's directory joined with file; file itself when it is absolute or
 * name has no directory. */
static char *path_beside(const char *name, const char *file)
{
    const char *slash = name ? strrchr(name, '/') : NULL;
    size_t dlen, flen = strlen(file);
    char *path;

    if (file[0] == '/' || !slash)
        return strdup(file);
    dlen = (size_t)(slash - name);
    path = malloc(dlen + 1 + flen + 1);
    if (!path)
        return NULL;
    memcpy(path, name, dlen);
    path[dlen] = '/';
    memcpy(path + dlen + 1, file, flen + 1);
    return path;
}

/* redis.cluster: "" or host:port[,host:port...], IPv6 hosts in brackets,
 * ports 1..65535. Returns 0 or -EINVAL naming the seed. */
static int check_seeds(const clm_config *cfg, const char *name, char *errbuf, size_t errsize)
{
    const char *s = cfg->redis_cluster;
    for (int n = 1; *s; n++) {
        size_t len = strcspn(s, ",");
        /* the port follows the last colon; a host with colons is bracketed */
        const char *colon = memrchr(s, ':', len);
        bool bracketed = s[0] == '[' && colon && colon > s + 2 && colon[-1] == ']';
        if (colon && !bracketed && memchr(s, ':', (size_t)(colon - s)))
            colon = NULL;
        if (colon && s[0] == '[' && !bracketed)
            colon = NULL;
        long port = 0;
        bool ok = colon && colon > s && colon + 1 < s + len;
        for (const char *p = ok ? colon + 1 : s + len; p < s + len && ok; p++) {
            ok = *p >= '0' && *p <= '9' && port <= 65535;
            port = port * 10 + (*p - '0');
        }
        if (!ok || port < 1 || port > 65535) {
            clm_cfg_errorf(errbuf, errsize, "%s: redis.cluster: seed %d \"%.*s\" is not a node "
                           "address (expected host:port, e.g. 127.0.0.1:7000 or [::1]:7000, "
                           "separated by commas)", name, n, (int)len, s);
            return -EINVAL;
        }
        s += len;
        if (*s == ',' && !*++s) {
            clm_cfg_errorf(errbuf, errsize, "%s: redis.cluster: \"%s\" ends with a comma "
                           "(expected host:port[,host:port...])", name, cfg->redis_cluster);
            return -EINVAL;
        }
    }
    if (cfg->redis_cluster[0] && cfg->redis_db != 0) {
        clm_cfg_errorf(errbuf, errsize, "%s: redis.db: %d with redis.cluster set (a Redis Cluster "
                       "has database 0 only: expected 0)", name, cfg->redis_db);
        return -EINVAL;
    }
    if (cfg->redis_cluster[0] && strpbrk(cfg->redis_prefix, "{}")) {
        clm_cfg_errorf(errbuf, errsize, "%s: redis.prefix: \"%s\" contains a brace with "
                       "redis.cluster set (clmd sets the hash tags of its keys itself: expected "
                       "a prefix without { or })", name, cfg->redis_prefix);
        return -EINVAL;
    }
    return 0;
}

/* identity.topic: "" or a topic no other key names (an events topic, a
 * dead-letter topic, the alerts topic), so no message of one kind is read
 * as the other; with it, the range assignor. */
static int check_identity_topic(const clm_config *cfg, const char *name, char *errbuf,
                                size_t errsize)
{
    const char *t = cfg->identity_topic;
    const char *other = NULL;

    if (!t[0])
        return 0;
    for (size_t i = 0; i < cfg->kafka_topic_count && !other; i++) {
        const char *topic = cfg->kafka_topics[i];
        size_t len = strlen(topic);
        if (strcmp(t, topic) == 0)
            other = "kafka.topics";
        else if (cfg->kafka_dlq_topic[0] ? strcmp(t, cfg->kafka_dlq_topic) == 0
                                         : strncmp(t, topic, len) == 0 && strcmp(t + len, ".dlq") == 0)
            other = "kafka.dlq_topic";
    }
    if (!other && strcmp(t, cfg->alerts_topic) == 0)
        other = "alerts.topic";
    if (other) {
        clm_cfg_errorf(errbuf, errsize, "%s: identity.topic: \"%s\" is also the topic of %s "
                       "(expected a topic of its own, e.g. \"%s.clmd-identity\")", name, t, other,
                       cfg->kafka_topics[0]);
        return -EINVAL;
    }
    /* only the range assignor gives a member the same partition numbers of
     * every topic, which the internal topic relies on */
    for (size_t i = 0; i < cfg->kafka_prop_count; i++) {
        const clm_kv *kv = &cfg->kafka_props[i];
        if (strcmp(kv->key, "partition.assignment.strategy") == 0 && strcmp(kv->value, "range") != 0) {
            clm_cfg_errorf(errbuf, errsize, "%s: kafka.properties: partition.assignment.strategy "
                           "\"%s\" with identity.topic set (expected \"range\", the default: a "
                           "consumer must own the same partition numbers of the events topics "
                           "and the internal topic)", name, kv->value);
            return -EINVAL;
        }
    }
    return 0;
}

/* Cross-key checks of what the daemon builds from the config: the KPI
 * buckets a partition's late events may fall in, the stage ranks a
 * customer record holds, and the scheme of the Alertmanager URL. */
static int check_limits(const clm_config *cfg, const char *name, char *errbuf, size_t errsize)
{
    int64_t bucket_ms = (int64_t)cfg->kpi_bucket_s * 1000;

    if (check_seeds(cfg, name, errbuf, errsize) < 0 ||
        check_identity_topic(cfg, name, errbuf, errsize) < 0)
        return -EINVAL;
    if (clm_bucket_check(bucket_ms) < 0) {
        clm_cfg_errorf(errbuf, errsize, "%s: kpi.bucket_s: %d is not supported (expected a whole "
                       "number of minutes dividing 86400)", name, cfg->kpi_bucket_s);
        return -EINVAL;
    }
    if (cfg->events_allowed_lateness_s * 1000 > 62 * bucket_ms) {
        clm_cfg_errorf(errbuf, errsize, "%s: events.allowed_lateness_s: %lld spans more than 62 "
                       "buckets of kpi.bucket_s %d (expected at most %lld, or a larger "
                       "kpi.bucket_s)", name, (long long)cfg->events_allowed_lateness_s,
                       cfg->kpi_bucket_s, (long long)(62 * bucket_ms / 1000));
        return -EINVAL;
    }
    const char *url = cfg->alerts_am_url;
    size_t scheme = strncmp(url, "http://", 7) == 0 ? 7 : strncmp(url, "https://", 8) == 0 ? 8 : 0;
    if (url[0] && (!scheme || !url[scheme])) {
        clm_cfg_errorf(errbuf, errsize, "%s: alerts.alertmanager.url: \"%s\" is not an HTTP URL "
                       "(expected \"\" or a URL starting with http:// or https://)", name, url);
        return -EINVAL;
    }
    if (cfg->stages && clm_stages_ordinary(cfg->stages) > CLM_CUST_RANKS) {
        clm_cfg_errorf(errbuf, errsize, "%s: lifecycle.stages: %zu ordinary stages (expected at "
                       "most %d)", name, clm_stages_ordinary(cfg->stages), CLM_CUST_RANKS);
        return -EINVAL;
    }
    return 0;
}

/* Builds a config from the parsed main document; dir_of names the file the
 * secrets_file path is relative to (NULL: the working directory). */
static int build(const char *name, const char *dir_of, json_t *root, clm_config **out, char *errbuf,
                 size_t errsize)
{
    const char *credentials = getenv("CREDENTIALS_DIRECTORY");
    clm_config *cfg;
    char *path;
    int r;

    cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return oom_error(errbuf, errsize, name);
    r = clm_cfg_set_defaults(clm_config_keys, clm_config_key_count, cfg, errbuf, errsize);
    if (r < 0)
        goto out_free_cfg;
    cfg->path = strdup(name);
    if (!cfg->path) {
        r = oom_error(errbuf, errsize, name);
        goto out_free_cfg;
    }
    r = clm_cfg_apply(clm_config_keys, clm_config_key_count, cfg, root, CLM_CFG_FROM_MAIN, name,
                      errbuf, errsize);
    if (r < 0)
        goto out_free_cfg;
    if (cfg->secrets_file[0]) {
        path = path_beside(dir_of, cfg->secrets_file);
        r = path ? load_secrets(cfg, path, false, errbuf, errsize)
                 : oom_error(errbuf, errsize, name);
        free(path);
        if (r < 0)
            goto out_free_cfg;
    }
    if (credentials && credentials[0]) {
        size_t size = strlen(credentials) + 1 + sizeof secrets_credential;

        path = malloc(size);
        if (!path) {
            r = oom_error(errbuf, errsize, name);
            goto out_free_cfg;
        }
        snprintf(path, size, "%s/%s", credentials, secrets_credential);
        r = load_secrets(cfg, path, true, errbuf, errsize);
        free(path);
        if (r < 0)
            goto out_free_cfg;
    }
    r = clm_cfg_check_event_types(cfg, name, errbuf, errsize);
    if (r < 0)
        goto out_free_cfg;
    r = clm_cfg_check_breakdowns(cfg, name, errbuf, errsize);
    if (r < 0)
        goto out_free_cfg;
    r = clm_cfg_compile_stages(cfg, name, errbuf, errsize);
    if (r < 0)
        goto out_free_cfg;
    r = clm_cfg_derive_risk(cfg, name, errbuf, errsize);
    if (r < 0)
        goto out_free_cfg;
    r = clm_cfg_compile_segments(cfg, name, errbuf, errsize);
    if (r < 0)
        goto out_free_cfg;
    r = check_limits(cfg, name, errbuf, errsize);
    if (r < 0)
        goto out_free_cfg;
    *out = cfg;
    return 0;

out_free_cfg:
    clm_config_free(cfg);
    return r;
}

clm_config *clm_config_new_defaults(void)
{
    clm_config *cfg = calloc(1, sizeof *cfg);

    if (cfg && (clm_cfg_set_defaults(clm_config_keys, clm_config_key_count, cfg, NULL, 0) < 0 ||
                clm_cfg_compile_stages(cfg, "built-in defaults", NULL, 0) < 0 ||
                clm_cfg_derive_risk(cfg, "built-in defaults", NULL, 0) < 0 ||
                clm_cfg_compile_segments(cfg, "built-in defaults", NULL, 0) < 0)) {
        clm_config_free(cfg);
        return NULL;
    }
    return cfg;
}

int clm_config_load(const char *path, clm_config **out, char *errbuf, size_t errsize)
{
    json_t *root = NULL;
    int r;

    r = read_json_file(path, false, &root, errbuf, errsize);
    if (r < 0)
        return r;
    r = build(path, path, root, out, errbuf, errsize);
    json_decref(root);
    return r;
}

int clm_config_load_string(const char *name, const char *json, size_t len, clm_config **out,
                           char *errbuf, size_t errsize)
{
    json_error_t jerr;
    json_t *root;
    int r;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        clm_cfg_errorf(errbuf, errsize, "%s: line %d, column %d: invalid JSON: %s", name, jerr.line,
                       jerr.column, jerr.text);
        return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : -EINVAL;
    }
    r = build(name, NULL, root, out, errbuf, errsize);
    json_decref(root);
    return r;
}

void clm_config_free(clm_config *cfg)
{
    if (!cfg)
        return;
    clm_cfg_release(clm_config_keys, clm_config_key_count, cfg);
    clm_stages_free(cfg->stages);
    clm_segments_free(cfg->segments);
    clm_rfm_map_free(cfg->rfm_map);
    free(cfg->secrets_exposed);
    free(cfg->path);
    free(cfg);
}
