/* clmgen - write a generated customer-lifecycle stream to a file or to Kafka.
 *
 * File output is one message per line (the generator never puts a newline
 * inside a message); --key-sep adds the key in front of each value. Kafka
 * output uses an idempotent producer keyed by customer id and waits for every
 * delivery report. Kafka message timestamps are the producer's clock (the
 * event time is in the payload). Errors go to stderr with exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/gen.h"

#define MAX_PROPS 64

typedef struct cli {
    clm_gen_opts gen;
    const char *out;
    const char *key_sep;
    const char *brokers;
    const char *topic;
    const char *compression;
    const char *props[MAX_PROPS];
    int nprops;
} cli;

typedef struct counts {
    int64_t messages, malformed, duplicates;
} counts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clmgen [options] (--out FILE|- [--key-sep SEP] | --brokers HOST:PORT --topic T\n"
            "              [--compression none|zstd|lz4] [-X prop=value]...)\n"
            "Writes a deterministic customer-lifecycle event stream (JSON messages).\n"
            "  --seed N          PRNG seed (42)\n"
            "  --customers N     distinct customers (1000)\n"
            "  --events N        messages in the stream (20000)\n"
            "  --days N          simulated span in days (120)\n"
            "  --start DATE      first day, YYYY-MM-DD UTC (2026-01-01)\n"
            "  --malformed RATE  share of malformed messages, 0..1 (0)\n"
            "  --dup RATE        share of re-sent duplicates, 0..1 (0.002)\n"
            "  --ooo RATE        share of events delivered late, 0..1 (0.01)\n"
            "  --ooo-max MS      most an event is delivered late, ms (3600000)\n"
            "  --traits          add customer traits: plan on plan changes, country and\n"
            "                    company_size in \"properties\" (see tools/gen.h)\n"
            "  --anon RATE       share of people who browse anonymously (a-<n>) until they\n"
            "                    identify as c-<n> at signup or first purchase, 0..1 (0)\n"
            "  --out FILE|-      write one message per line to FILE or stdout\n"
            "  --key-sep SEP     with --out: write KEY SEP VALUE; TAB means a tab\n"
            "  --brokers LIST    produce to Kafka (bootstrap servers)\n"
            "  --topic T         Kafka topic\n"
            "  --compression C   none, zstd or lz4 (none)\n"
            "  -X prop=value     any librdkafka producer property (repeatable)\n"
            "  --help            this text\n");
}

static int parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "clmgen: %s: '%s' is not an integer in %" PRId64 "..%" PRId64 "\n", opt, s, lo, hi);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_rate(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0)) {
        fprintf(stderr, "clmgen: %s: '%s' is not a rate in 0..1\n", opt, s);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_date(const char *s, int64_t *out)
{
    int y, m, d, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || s[n] || y < 1970 || m < 1 ||
        m > 12 || d < 1 || d > 31) {
        fprintf(stderr, "clmgen: --start: '%s' is not a date YYYY-MM-DD\n", s);
        return -EINVAL;
    }
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t t = timegm(&tm);
    if (tm.tm_mday != d) {
        fprintf(stderr, "clmgen: --start: '%s' is not a calendar date\n", s);
        return -EINVAL;
    }
    *out = (int64_t)t * 1000;
    return 0;
}

/* Returns 0, 1 after --help, or -EINVAL after printing an error. */
static int parse_args(int argc, char **argv, cli *c)
{
    enum { O_SEED = 256, O_CUST, O_EVENTS, O_DAYS, O_START, O_MAL, O_DUP, O_OOO, O_OOOMAX,
           O_ANON, O_OUT, O_KEYSEP, O_BROKERS, O_TOPIC, O_COMP, O_HELP, O_TRAITS };
    static const struct option longopts[] = {
        {"seed", required_argument, 0, O_SEED},       {"customers", required_argument, 0, O_CUST},
        {"events", required_argument, 0, O_EVENTS},   {"days", required_argument, 0, O_DAYS},
        {"start", required_argument, 0, O_START},     {"malformed", required_argument, 0, O_MAL},
        {"dup", required_argument, 0, O_DUP},         {"ooo", required_argument, 0, O_OOO},
        {"ooo-max", required_argument, 0, O_OOOMAX},  {"out", required_argument, 0, O_OUT},
        {"key-sep", required_argument, 0, O_KEYSEP},  {"brokers", required_argument, 0, O_BROKERS},
        {"topic", required_argument, 0, O_TOPIC},     {"compression", required_argument, 0, O_COMP},
        {"anon", required_argument, 0, O_ANON},       {"help", no_argument, 0, O_HELP},
        {"traits", no_argument, 0, O_TRAITS},
        {0, 0, 0, 0},
    };
    int64_t v;
    int opt, r = 0;
    clm_gen_opts_default(&c->gen);
    while (r == 0 && (opt = getopt_long(argc, argv, "X:", longopts, NULL)) != -1) {
        switch (opt) {
        case O_SEED:
            r = parse_i64("--seed", optarg, 0, INT64_MAX, &v);
            c->gen.seed = (uint64_t)v;
            break;
        case O_CUST:
            r = parse_i64("--customers", optarg, 1, 0x7fffffff, &c->gen.customers);
            break;
        case O_EVENTS:
            r = parse_i64("--events", optarg, 0, INT64_MAX, &c->gen.events);
            break;
        case O_DAYS:
            r = parse_i64("--days", optarg, 1, 36500, &v);
            c->gen.days = (int)v;
            break;
        case O_START:
            r = parse_date(optarg, &c->gen.start_ms);
            break;
        case O_MAL:
            r = parse_rate("--malformed", optarg, &c->gen.malformed_rate);
            break;
        case O_DUP:
            r = parse_rate("--dup", optarg, &c->gen.dup_rate);
            break;
        case O_OOO:
            r = parse_rate("--ooo", optarg, &c->gen.ooo_rate);
            break;
        case O_OOOMAX:
            r = parse_i64("--ooo-max", optarg, 1, 31536000000LL, &c->gen.ooo_max_ms);
            break;
        case O_TRAITS:
            c->gen.traits = true;
            break;
        case O_ANON:
            r = parse_rate("--anon", optarg, &c->gen.anon_rate);
            break;
        case O_OUT:
            c->out = optarg;
            break;
        case O_KEYSEP:
            c->key_sep = (!strcmp(optarg, "TAB") || !strcmp(optarg, "tab") || !strcmp(optarg, "\\t")) ? "\t" : optarg;
            break;
        case O_BROKERS:
            c->brokers = optarg;
            break;
        case O_TOPIC:
            c->topic = optarg;
            break;
        case O_COMP:
            if (strcmp(optarg, "none") && strcmp(optarg, "zstd") && strcmp(optarg, "lz4")) {
                fprintf(stderr, "clmgen: --compression: '%s' is not none, zstd or lz4\n", optarg);
                r = -EINVAL;
            }
            c->compression = optarg;
            break;
        case 'X':
            if (!strchr(optarg, '=') || c->nprops == MAX_PROPS) {
                fprintf(stderr, "clmgen: -X: expected prop=value (at most %d), got '%s'\n", MAX_PROPS, optarg);
                r = -EINVAL;
            } else {
                c->props[c->nprops++] = optarg;
            }
            break;
        case O_HELP:
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (r)
        return r;
    if (optind < argc) {
        fprintf(stderr, "clmgen: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (!!c->out == !!c->brokers) {
        fprintf(stderr, "clmgen: give exactly one of --out or --brokers (see --help)\n");
        return -EINVAL;
    }
    if (c->brokers && !c->topic) {
        fprintf(stderr, "clmgen: --brokers needs --topic\n");
        return -EINVAL;
    }
    if (c->out && (c->topic || c->compression || c->nprops)) {
        fprintf(stderr, "clmgen: --topic, --compression and -X go with --brokers, not --out\n");
        return -EINVAL;
    }
    if (c->brokers && c->key_sep) {
        fprintf(stderr, "clmgen: --key-sep goes with --out\n");
        return -EINVAL;
    }
    return 0;
}

static void count(counts *n, const clm_gen_msg *m)
{
    n->messages++;
    n->malformed += m->malformed;
    n->duplicates += m->duplicate;
}

static int write_file(const cli *c, clm_gen *g, counts *n)
{
    bool std = !strcmp(c->out, "-");
    FILE *f = std ? stdout : fopen(c->out, "w");
    if (!f) {
        fprintf(stderr, "clmgen: %s: %s\n", c->out, strerror(errno));
        return -errno;
    }
    size_t seplen = c->key_sep ? strlen(c->key_sep) : 0;
    clm_gen_msg m;
    int r;
    while ((r = clm_gen_next(g, &m)) == 1) {
        if (c->key_sep) {
            fwrite(m.key, 1, m.key_len, f);
            fwrite(c->key_sep, 1, seplen, f);
        }
        fwrite(m.value, 1, m.value_len, f);
        putc('\n', f);
        count(n, &m);
    }
    if (r < 0)
        fprintf(stderr, "clmgen: generator: %s\n", strerror(-r));
    int err = ferror(f) ? EIO : 0;
    if (std) {
        if (fflush(f) != 0)
            err = errno;
    } else if (fclose(f) != 0) {
        err = errno;
    }
    if (err) {
        fprintf(stderr, "clmgen: %s: write failed: %s\n", c->out, strerror(err));
        return -err;
    }
    return r < 0 ? r : 0;
}

typedef struct delivery {
    int64_t failed;
    char first_error[256];
    char fatal[256];
} delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    delivery *d = opaque;
    if (msg->err) {
        if (!d->failed++)
            snprintf(d->first_error, sizeof(d->first_error), "%s", rd_kafka_err2str(msg->err));
    }
}

/* Only fatal errors stop the run; transient ones end up as delivery reports. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)reason;
    delivery *d = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[200];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        snprintf(d->fatal, sizeof(d->fatal), "%s", buf);
    }
}

static int set_prop(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "clmgen: %s=%s: %s\n", k, v, err);
        return -EINVAL;
    }
    return 0;
}

static rd_kafka_t *make_producer(const cli *c, delivery *d)
{
    static const char *const defaults[][2] = {
        {"enable.idempotence", "true"},
        {"linger.ms", "50"},
        {"batch.num.messages", "100000"},
        {"batch.size", "1000000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"message.timeout.ms", "60000"},
    };
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (set_prop(conf, defaults[i][0], defaults[i][1]))
            goto out_free_conf;
    if (set_prop(conf, "bootstrap.servers", c->brokers) ||
        set_prop(conf, "compression.type", c->compression ? c->compression : "none"))
        goto out_free_conf;
    for (int i = 0; i < c->nprops; i++) {
        char kv[512];
        snprintf(kv, sizeof(kv), "%s", c->props[i]);
        char *eq = strchr(kv, '=');
        *eq = '\0';
        if (set_prop(conf, kv, eq + 1))
            goto out_free_conf;
    }
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "clmgen: cannot create producer: %s\n", err);
        goto out_free_conf;
    }
    return rk; /* rd_kafka_new took ownership of conf */

out_free_conf:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static int produce_kafka(const cli *c, clm_gen *g, counts *n)
{
    delivery d = {0};
    rd_kafka_t *rk = make_producer(c, &d);
    if (!rk)
        return -EINVAL;
    int r = 0, more;
    clm_gen_msg m;
    while (!d.fatal[0] && (more = clm_gen_next(g, &m)) != 0) {
        if (more < 0) {
            fprintf(stderr, "clmgen: generator: %s\n", strerror(-more));
            r = more;
            goto out_destroy_producer;
        }
        for (;;) {
            /* rd_kafka_produceva, not the RD_KAFKA_V_ macros: those use GNU
             * statement expressions, which -Wpedantic rejects under clang */
            rd_kafka_vu_t vu[4] = {
                {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = c->topic},
                {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {(void *)m.key, m.key_len}},
                {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)m.value, m.value_len}},
                {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
            };
            rd_kafka_error_t *error = rd_kafka_produceva(rk, vu, 4);
            rd_kafka_resp_err_t err = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
            rd_kafka_error_destroy(error);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 100);
                continue;
            }
            if (err) {
                fprintf(stderr, "clmgen: produce to %s failed: %s\n", c->topic, rd_kafka_err2str(err));
                r = -EIO;
                goto out_destroy_producer;
            }
            break;
        }
        count(n, &m);
        rd_kafka_poll(rk, 0);
    }
    while (!d.fatal[0] && rd_kafka_outq_len(rk) > 0)
        rd_kafka_flush(rk, 1000);
    if (d.fatal[0]) {
        fprintf(stderr, "clmgen: %s: %s\n", c->brokers, d.fatal);
        r = -EIO;
    } else if (d.failed) {
        fprintf(stderr, "clmgen: %" PRId64 " of %" PRId64 " messages were not delivered to %s: %s\n",
                d.failed, n->messages, c->topic, d.first_error);
        r = -EIO;
    }
out_destroy_producer:
    rd_kafka_destroy(rk);
    return r;
}

int main(int argc, char **argv)
{
    cli c = {0};
    int r = parse_args(argc, argv, &c);
    if (r)
        return r > 0 ? 0 : 1;

    char err[256];
    clm_gen *g;
    if (clm_gen_new(&c.gen, &g, err, sizeof(err)) < 0) {
        fprintf(stderr, "clmgen: %s\n", err);
        return 1;
    }
    counts n = {0};
    r = c.out ? write_file(&c, g, &n) : produce_kafka(&c, g, &n);
    clm_gen_free(g);
    if (r)
        return 1;
    fprintf(stderr, "produced %" PRId64 " messages (%" PRId64 " malformed, %" PRId64 " duplicates) to %s\n",
            n.messages, n.malformed, n.duplicates, c.out ? (strcmp(c.out, "-") ? c.out : "stdout") : c.topic);
    return 0;
}
