/* tools/clmctl.c - clmctl, the command line companion of clmd: reads from
 * Redis (one server, or a Redis Cluster with --cluster or redis.cluster)
 * what dashboards read and prints it as aligned tables, or as JSON for
 * scripts. Output is the same for both. `forget` is the one command that
 * writes: an erasure request to clmd's input topic (tools/clmctl_forget.c).
 *
 * Exit status: 0 done; 1 an error (config, Redis, missing data), one line on
 * stderr; 2 a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/event.h"
#include "tools/clmctl_cmd.h"
#include "tools/clmctl_redis.h"

#define DEFAULT_CONFIG "/etc/clmd/clmd.json"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: clmctl [-c FILE] [--redis HOST:PORT | --cluster HOST:PORT[,...]] [--prefix P]\n"
            "              [--json | --csv] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n"
            "  kpi [--window Nd]   rolling KPIs of one window, or of every window in Redis\n"
            "  kpi --history [--from D] [--to D] [--last N] [--columns A,B,...]\n"
            "                      the KPIs of each day (one-day windows), oldest first:\n"
            "                      every day kept, or those of the range\n"
            "  customer ID         one customer's fields\n"
            "  stages              customers per lifecycle stage\n"
            "  days [--last N] [--from D] [--to D] [--columns A,B,...]\n"
            "                      daily counters of the last N days (default 7), or of\n"
            "                      the days D (YYYY-MM-DD) from .. to, both included\n"
            "  refit [--wait]      ask clmd to fit the BG/NBD and Gamma-Gamma models now;\n"
            "                      --wait waits for the fit and shows it\n"
            "  at-risk [--top N]   the N customers of highest churn risk at or above the\n"
            "                      alert threshold, and why (default 20)\n"
            "  rebuild-view ID|--all\n"
            "                      rewrite customer views from the checkpoints clmd keeps\n"
            "  alerts [--count N] [--tail [--max M]]\n"
            "                      the last N alerts (default 20); --tail then follows new\n"
            "                      ones until interrupted, or until M new ones with --max\n"
            "  forget ID [--brokers B] [--topic T]\n"
            "                      ask clmd to erase customer ID: produces an erasure request\n"
            "                      to topic T (default: the config's first kafka.topics)\n"
            "                      through brokers B (default: kafka.brokers), keyed by ID\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE   clmd's config file, for Redis, the prefix and the stages\n"
            "                      (default " DEFAULT_CONFIG " when it exists, else defaults)\n"
            "  --redis HOST:PORT   Redis to read instead of the config's (or a socket path)\n"
            "  --cluster HOST:PORT[,HOST:PORT...]\n"
            "                      a Redis Cluster to read instead, by its seed nodes (the\n"
            "                      config's redis.cluster, when set, does the same)\n"
            "  --prefix P          key prefix instead of the config's redis.prefix\n"
            "  --json              JSON for scripts instead of tables (days, kpi --history:\n"
            "                      values as JSON numbers)\n"
            "  --csv               CSV instead of a table (days, kpi --history)\n"
            "  -h, --help          this help\n"
            "  -V, --version       the version\n"
            "\n"
            "Exit status: 0 done, 1 error, 2 usage error.\n");
}

/* Prints a usage error and returns the usage exit status. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("clmctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'clmctl --help'.\n", stderr);
    va_end(ap);
    return 2;
}

typedef struct options {
    const char *config;
    const char *redis;
    const char *cluster; /* --cluster seeds */
    const char *prefix;
    bool json;
    int window; /* kpi --window; 0: every window */
    int last;   /* days --last, kpi --history --last (0: not given) */
    bool csv;   /* --csv */
    bool history; /* kpi --history */
    const char *from, *to, *columns; /* days, kpi --history */
    bool wait;  /* refit --wait */
    bool all;   /* rebuild-view --all */
    int top;    /* at-risk --top */
    int count;  /* alerts --count */
    bool tail;  /* alerts --tail */
    int max;    /* alerts --tail --max; 0: until interrupted */
    const char *brokers; /* forget --brokers */
    const char *topic;   /* forget --topic */
} options;

/* Parses "N" or "Nd" in 1..CLMCTL_MAX_DAYS; returns it, or 0. */
static int parse_days(const char *s, bool allow_suffix)
{
    int64_t v;
    char digits[16];
    size_t len = strlen(s);
    if (allow_suffix && len > 1 && s[len - 1] == 'd')
        len--;
    if (len == 0 || len >= sizeof(digits) || s[0] == '-')
        return 0;
    memcpy(digits, s, len);
    digits[len] = '\0';
    if (clmctl_parse_i64(digits, &v) < 0 || v < 1 || v > CLMCTL_MAX_DAYS)
        return 0;
    return (int)v;
}

/* Parses "N" in 1..CLMCTL_MAX_ROWS; returns it, or 0. */
static int parse_count(const char *s)
{
    int64_t v;
    if (s[0] == '-' || clmctl_parse_i64(s, &v) < 0 || v < 1 || v > CLMCTL_MAX_ROWS)
        return 0;
    return (int)v;
}

enum { OPT_REDIS = 256, OPT_PREFIX, OPT_JSON, OPT_WINDOW, OPT_LAST, OPT_TOP, OPT_COUNT, OPT_TAIL,
       OPT_MAX };

enum { OPT_WAIT = 512, OPT_ALL, OPT_CLUSTER, OPT_BROKERS, OPT_TOPIC, OPT_CSV, OPT_HISTORY, OPT_FROM,
       OPT_TO, OPT_COLUMNS };

static const struct option long_opts[] = {
    { "config", required_argument, NULL, 'c' },
    { "redis", required_argument, NULL, OPT_REDIS },
    { "cluster", required_argument, NULL, OPT_CLUSTER },
    { "prefix", required_argument, NULL, OPT_PREFIX },
    { "json", no_argument, NULL, OPT_JSON },
    { "csv", no_argument, NULL, OPT_CSV },
    { "history", no_argument, NULL, OPT_HISTORY },
    { "from", required_argument, NULL, OPT_FROM },
    { "to", required_argument, NULL, OPT_TO },
    { "columns", required_argument, NULL, OPT_COLUMNS },
    { "window", required_argument, NULL, OPT_WINDOW },
    { "last", required_argument, NULL, OPT_LAST },
    { "top", required_argument, NULL, OPT_TOP },
    { "count", required_argument, NULL, OPT_COUNT },
    { "tail", no_argument, NULL, OPT_TAIL },
    { "max", required_argument, NULL, OPT_MAX },
    { "wait", no_argument, NULL, OPT_WAIT },
    { "all", no_argument, NULL, OPT_ALL },
    { "brokers", required_argument, NULL, OPT_BROKERS },
    { "topic", required_argument, NULL, OPT_TOPIC },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { 0, 0, 0, 0 },
};

/* One getopt pass. Global options may come before the command, --json and
 * the command's own option also after it. Returns -1 to go on, else the
 * exit status. */
static int parse_pass(int argc, char **argv, bool global, const char *cmd, options *o)
{
    int c, li = -1;
    opterr = 0;
    optind = 0; /* glibc: a full re-initialisation for the second pass */
    while ((c = getopt_long(argc, argv, global ? "+:c:hV" : ":h", long_opts, &li)) != -1) {
        /* the option as typed: a long one from argv, a short one by letter */
        const char *typed = argv[optind - 1];
        char shortopt[3] = { '-', (char)optopt, '\0' };
        if (strncmp(typed, "--", 2) != 0)
            typed = shortopt;
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case OPT_REDIS:
            o->redis = optarg;
            break;
        case OPT_CLUSTER:
            o->cluster = optarg;
            break;
        case OPT_PREFIX:
            o->prefix = optarg;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_WINDOW:
            if (global || strcmp(cmd, "kpi") != 0)
                return usage_error("--window goes after the kpi command");
            if (!(o->window = parse_days(optarg, true)))
                return usage_error("--window: \"%s\" is not a number of days 1..%d (e.g. 30d)", optarg,
                                   CLMCTL_MAX_DAYS);
            break;
        case OPT_CSV:
            o->csv = true;
            break;
        case OPT_HISTORY:
            if (global || strcmp(cmd, "kpi") != 0)
                return usage_error("--history goes after the kpi command");
            o->history = true;
            break;
        case OPT_FROM:
        case OPT_TO:
        case OPT_COLUMNS:
            if (global || (strcmp(cmd, "days") != 0 && strcmp(cmd, "kpi") != 0))
                return usage_error("--%s goes after the days or kpi --history command",
                                   long_opts[li].name);
            *(c == OPT_FROM ? &o->from : c == OPT_TO ? &o->to : &o->columns) = optarg;
            break;
        case OPT_LAST:
            if (global || (strcmp(cmd, "days") != 0 && strcmp(cmd, "kpi") != 0))
                return usage_error("--last goes after the days or kpi --history command");
            if (!(o->last = parse_days(optarg, false)))
                return usage_error("--last: \"%s\" is not a number of days 1..%d", optarg,
                                   CLMCTL_MAX_DAYS);
            break;
        case OPT_TOP:
            if (global || strcmp(cmd, "at-risk") != 0)
                return usage_error("--top goes after the at-risk command");
            if (!(o->top = parse_count(optarg)))
                return usage_error("--top: \"%s\" is not a number 1..%d", optarg, CLMCTL_MAX_ROWS);
            break;
        case OPT_COUNT:
        case OPT_TAIL:
        case OPT_MAX: {
            int *n = c == OPT_COUNT ? &o->count : &o->max;
            if (global || strcmp(cmd, "alerts") != 0)
                return usage_error("--%s goes after the alerts command", long_opts[li].name);
            if (c == OPT_TAIL)
                o->tail = true;
            else if (!(*n = parse_count(optarg)))
                return usage_error("--%s: \"%s\" is not a number 1..%d", long_opts[li].name, optarg,
                                   CLMCTL_MAX_ROWS);
            break;
        }
        case OPT_WAIT:
            if (global || strcmp(cmd, "refit") != 0)
                return usage_error("--wait goes after the refit command");
            o->wait = true;
            break;
        case OPT_ALL:
            if (global || strcmp(cmd, "rebuild-view") != 0)
                return usage_error("--all goes after the rebuild-view command");
            o->all = true;
            break;
        case OPT_BROKERS:
        case OPT_TOPIC:
            if (global || strcmp(cmd, "forget") != 0)
                return usage_error("--%s goes after the forget command", long_opts[li].name);
            if (!optarg[0])
                return usage_error("--%s needs a value", long_opts[li].name);
            *(c == OPT_BROKERS ? &o->brokers : &o->topic) = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("clmctl %s\n", CLMD_VERSION);
            return 0;
        case ':':
            return usage_error("%s needs a value", typed);
        default:
            return usage_error("unknown option %s", typed);
        }
        if (!global && (c == 'c' || c == OPT_REDIS || c == OPT_CLUSTER || c == OPT_PREFIX))
            return usage_error("--%s goes before the command", long_opts[li].name);
        li = -1;
    }
    return -1;
}

/* Splits --redis HOST:PORT (or a socket path) into t. Returns 0 or -EINVAL. */
static int parse_redis(const char *s, char *host, size_t size, clmctl_target *t)
{
    int64_t port;
    if (s[0] == '/') {
        snprintf(host, size, "%s", s);
        t->host = host;
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= size ||
        clmctl_parse_i64(colon + 1, &port) < 0 || port < 1 || port > 65535)
        return -EINVAL;
    size_t len = (size_t)(colon - s);
    if (s[0] == '[' && len > 2 && s[len - 1] == ']') /* [IPv6]:port */
        snprintf(host, size, "%.*s", (int)len - 2, s + 1);
    else
        snprintf(host, size, "%.*s", (int)len, s);
    t->host = host;
    t->port = (int)port;
    return 0;
}

static bool valid_prefix(const char *p)
{
    size_t len = strlen(p);
    if (len == 0 || len > 64)
        return false;
    for (; *p; p++)
        if (strchr(" \t\r\n\v\f", *p))
            return false;
    return true;
}

/* clmd's config from path; without one, DEFAULT_CONFIG when it exists, else
 * the defaults. Same contract as clm_config_load. */
static int load_config(const char *path, clm_config **out, char *errbuf, size_t errsize)
{
    if (!path && access(DEFAULT_CONFIG, F_OK) == 0)
        path = DEFAULT_CONFIG;
    if (path)
        return clm_config_load(path, out, errbuf, errsize);
    clm_config *cfg = clm_config_new_defaults();
    if (!cfg) {
        snprintf(errbuf, errsize, "out of memory");
        return -ENOMEM;
    }
    *out = cfg;
    return 0;
}

int main(int argc, char **argv)
{
    options o = { .top = 20, .count = 20 };
    signal(SIGPIPE, SIG_IGN); /* a closed Redis connection is an error reply, not a kill */
    int st = parse_pass(argc, argv, true, NULL, &o);
    if (st >= 0)
        return st;
    if (optind >= argc)
        return usage_error("a command is needed (kpi, customer, stages, days, at-risk, alerts, refit, "
                           "rebuild-view or forget)");
    const char *cmd = argv[optind];
    int cargc = argc - optind;
    char **cargv = argv + optind;
    if (strcmp(cmd, "kpi") != 0 && strcmp(cmd, "refit") != 0 && strcmp(cmd, "customer") != 0 &&
        strcmp(cmd, "stages") != 0 &&
        strcmp(cmd, "days") != 0 && strcmp(cmd, "at-risk") != 0 && strcmp(cmd, "alerts") != 0 &&
        strcmp(cmd, "rebuild-view") != 0 && strcmp(cmd, "forget") != 0)
        return usage_error("unknown command \"%s\"", cmd);
    if ((st = parse_pass(cargc, cargv, false, cmd, &o)) >= 0)
        return st;
    if (o.json && o.csv)
        return usage_error("--json and --csv do not go together");
    if (strcmp(cmd, "kpi") == 0 && o.history && o.window)
        return usage_error("--window and --history do not go together");
    if (strcmp(cmd, "kpi") == 0 && !o.history && (o.from || o.to || o.columns || o.last || o.csv))
        return usage_error("--from, --to, --last, --columns and --csv go with kpi --history");
    if (o.csv && strcmp(cmd, "days") != 0 && strcmp(cmd, "kpi") != 0)
        return usage_error("--csv goes with the days and kpi --history commands");
    bool rebuild = strcmp(cmd, "rebuild-view") == 0;
    bool forget = strcmp(cmd, "forget") == 0;
    bool wants_id = strcmp(cmd, "customer") == 0 || (rebuild && !o.all) || forget;
    const char *id = NULL;
    if (wants_id && optind == cargc)
        return usage_error("%s needs a customer ID%s", cmd, rebuild ? " or --all" : "");
    if (wants_id)
        id = cargv[optind++];
    if (forget && (!id[0] || strlen(id) > CLM_ID_MAX))
        return usage_error("forget: a customer ID is 1..%d bytes", CLM_ID_MAX);
    if (optind < cargc)
        return usage_error("unexpected argument \"%s\"", cargv[optind]);
    if (o.max && !o.tail)
        return usage_error("--max goes with --tail");
    if (o.prefix && !valid_prefix(o.prefix))
        return usage_error("--prefix: \"%s\" must be 1..64 bytes without whitespace", o.prefix);
    if (o.redis && o.cluster)
        return usage_error("--redis and --cluster exclude each other");
    if (o.cluster && !o.cluster[0])
        return usage_error("--cluster needs seed nodes HOST:PORT[,HOST:PORT...]");
    char host[256];
    clmctl_target over = { 0 };
    if (o.redis && parse_redis(o.redis, host, sizeof(host), &over) < 0)
        return usage_error("--redis: \"%s\" is not HOST:PORT with a port 1..65535", o.redis);

    char err[1024];
    clm_config *cfg = NULL;
    int r;
    if ((r = load_config(o.config, &cfg, err, sizeof(err))) < 0) {
        fprintf(stderr, "clmctl: %s\n", err);
        return 1;
    }
    if (forget) {
        r = clmctl_forget(cfg, o.brokers ? o.brokers : cfg->kafka_brokers,
                          o.topic ? o.topic : cfg->kafka_topics[0], id, o.json, stdout, err,
                          sizeof(err));
        if (r == 0 && fflush(stdout) == EOF) {
            snprintf(err, sizeof(err), "writing the output failed: %s", strerror(errno));
            r = -EIO;
        }
        goto out_free_config;
    }
    clmctl_target t = { .host = cfg->redis_host, .port = cfg->redis_port, .db = cfg->redis_db,
                        .timeout_ms = cfg->redis_timeout_ms, .password = cfg->redis_password,
                        .user = cfg->redis_user, .tls = cfg->redis_tls,
                        .tls_opts = { .ca_file = cfg->redis_tls_ca_file,
                                      .cert_file = cfg->redis_tls_cert_file,
                                      .key_file = cfg->redis_tls_key_file,
                                      .server_name = cfg->redis_tls_server_name } };
    if (o.redis) {
        t.host = over.host;
        t.port = over.port ? over.port : t.port;
    }
    /* a cluster: --cluster, else the config's redis.cluster unless --redis */
    const char *seeds = o.cluster ? o.cluster
                        : !o.redis && cfg->redis_cluster && cfg->redis_cluster[0] ? cfg->redis_cluster
                                                                                  : NULL;
    clmctl_conn conn = { 0 };
    clm_cluster *cl = NULL;
    if (seeds && o.cluster && cfg->redis_db != 0) {
        snprintf(err, sizeof(err), "--cluster: a Redis Cluster has only database 0, the config "
                 "has redis.db %d", cfg->redis_db);
        r = -EINVAL;
        goto out_free_config;
    }
    if (seeds)
        r = clmctl_cluster_connect(&t, seeds, o.cluster ? "--cluster" : "redis.cluster", &cl, err,
                                   sizeof(err));
    else
        r = clmctl_connect(&t, &conn, err, sizeof(err));
    if (r < 0)
        goto out_free_config;
    clm_rpipe *rp = clm_rpipe_new();
    if (!rp) {
        snprintf(err, sizeof(err), "out of memory");
        r = -ENOMEM;
        goto out_disconnect;
    }
    if (cl)
        clm_rpipe_use_cluster(rp, cl);
    else
        clm_rpipe_use_ctx(rp, conn.rc);
    clmctl_ctx x = { .rc = conn.rc, .cl = cl, .rp = rp, .cfg = cfg,
                     .prefix = o.prefix ? o.prefix : cfg->redis_prefix, .json = o.json,
                     .csv = o.csv, .out = stdout };
    bool days = strcmp(cmd, "days") == 0;
    clmctl_span span = { .last = o.last ? o.last : days ? 7 : CLMCTL_MAX_HISTORY_DAYS,
                         .max_days = days ? CLMCTL_MAX_DAYS : CLMCTL_MAX_HISTORY_DAYS,
                         .from = o.from, .to = o.to, .columns = o.columns };
    if (strcmp(cmd, "kpi") == 0 && o.history)
        r = clmctl_kpi_history(&x, &span, err, sizeof(err));
    else if (strcmp(cmd, "kpi") == 0)
        r = clmctl_kpi(&x, o.window, err, sizeof(err));
    else if (strcmp(cmd, "customer") == 0)
        r = clmctl_customer(&x, id, err, sizeof(err));
    else if (strcmp(cmd, "stages") == 0)
        r = clmctl_stages(&x, err, sizeof(err));
    else if (strcmp(cmd, "refit") == 0)
        r = clmctl_refit(&x, o.wait, err, sizeof(err));
    else if (strcmp(cmd, "at-risk") == 0)
        r = clmctl_at_risk(&x, o.top, err, sizeof(err));
    else if (strcmp(cmd, "alerts") == 0)
        r = clmctl_alerts(&x, o.count, o.tail, o.max, err, sizeof(err));
    else if (rebuild)
        r = clmctl_rebuild_view(&x, id, err, sizeof(err));
    else
        r = clmctl_days(&x, &span, err, sizeof(err));
    clm_rpipe_free(rp);
    if (r == 0 && fflush(stdout) == EOF) {
        snprintf(err, sizeof(err), "writing the output failed: %s", strerror(errno));
        r = -EIO;
    }
out_disconnect:
    clm_cluster_free(cl);
    clmctl_disconnect(&conn);
out_free_config:
    clm_config_free(cfg);
    if (r < 0) {
        fprintf(stderr, "clmctl: %s\n", err);
        return 1;
    }
    return 0;
}
