/* store/journal.c - see journal.h. */
#include "store/journal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/flush.h"
#include "store/forget.h"
#include "store/keys.h"

/* Runs the commands of ARGV[3..] on KEYS[1] unless KEYS[2] (the guard
 * hash) already holds a seq >= ARGV[2] for the source ARGV[1], then records
 * the seq. Each command is "<n> <name> <n - 1 arguments after the key>";
 * HADDSAT is the saturating add of store/flush.c. */
static const char GUARD_LUA[] =
    "local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')\n"
    "if last >= tonumber(ARGV[2]) then return 0 end\n"
    "local k, i = KEYS[1], 3\n"
    "while i <= #ARGV do\n"
    "  local n, name = tonumber(ARGV[i]), ARGV[i + 1]\n"
    "  if name == 'HADDSAT' then\n"
    "    for j = i + 2, i + n, 2 do\n"
    "      local r = redis.pcall('HINCRBY', k, ARGV[j], ARGV[j + 1])\n"
    "      if type(r) == 'table' and r.err then\n"
    "        if not string.find(r.err, 'overflow', 1, true) then return r end\n"
    "        redis.call('HSET', k, ARGV[j], string.sub(ARGV[j + 1], 1, 1) == '-'\n"
    "          and '-9223372036854775808' or '9223372036854775807')\n"
    "      end\n"
    "    end\n"
    "  else\n"
    "    local a = {}\n"
    "    for j = 1, n - 1 do a[j] = ARGV[i + 1 + j] end\n"
    "    redis.call(name, k, unpack(a))\n"
    "  end\n"
    "  i = i + 1 + n\n"
    "end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
    "return 1\n";

/* ---- RESP ------------------------------------------------------------- */

/* Reads "<c><digits>\r\n" at *pos. */
static int read_len(const char *buf, size_t len, size_t *pos, char c, size_t *out)
{
    size_t p = *pos, v = 0;
    if (p >= len || buf[p] != c)
        return -EPROTO;
    p++;
    if (p >= len || buf[p] < '0' || buf[p] > '9')
        return -EPROTO;
    while (p < len && buf[p] >= '0' && buf[p] <= '9') {
        if (v > (SIZE_MAX - 9) / 10)
            return -EPROTO;
        v = v * 10 + (size_t)(buf[p++] - '0');
    }
    if (p + 2 > len || buf[p] != '\r' || buf[p + 1] != '\n')
        return -EPROTO;
    *pos = p + 2;
    *out = v;
    return 0;
}

int clm_resp_next(const char *buf, size_t len, size_t *pos, clm_resp_cmd *out)
{
    if (*pos == len)
        return 0;
    size_t p = *pos, argc;
    int r;
    if ((r = read_len(buf, len, &p, '*', &argc)) < 0 || argc == 0)
        return -EPROTO;
    out->start = buf + *pos;
    out->argc = argc;
    out->args = buf + p;
    for (size_t i = 0; i < argc; i++) {
        size_t n;
        if ((r = read_len(buf, len, &p, '$', &n)) < 0)
            return r;
        if (n > len - p || len - p - n < 2 || buf[p + n] != '\r' || buf[p + n + 1] != '\n')
            return -EPROTO;
        p += n + 2;
    }
    out->len = (size_t)(buf + p - out->start);
    *pos = p;
    return 1;
}

int clm_resp_arg(const clm_resp_cmd *c, size_t i, const char **p, size_t *n)
{
    if (i >= c->argc)
        return -ERANGE;
    const char *end = c->start + c->len;
    size_t at = 0, len = (size_t)(end - c->args);
    for (size_t k = 0;; k++) {
        size_t m;
        int r = read_len(c->args, len, &at, '$', &m);
        if (r < 0)
            return r;
        if (k == i) {
            *p = c->args + at;
            *n = m;
            return 0;
        }
        at += m + 2;
    }
}

int clm_resp_args(const clm_resp_cmd *c, const char **argv, size_t *lens)
{
    size_t at = 0, len = (size_t)(c->start + c->len - c->args);
    for (size_t i = 0; i < c->argc; i++) {
        size_t m;
        if (read_len(c->args, len, &at, '$', &m) < 0)
            return -EPROTO;
        argv[i] = c->args + at;
        lens[i] = m;
        at += m + 2;
    }
    return 0;
}

static bool is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

int clm_resp_key(const clm_resp_cmd *c, const char **p, size_t *n)
{
    const char *name;
    size_t nlen;
    int r = clm_resp_arg(c, 0, &name, &nlen);
    if (r < 0)
        return r;
    if (!is(name, nlen, "EVAL"))
        return clm_resp_arg(c, 1, p, n) < 0 ? -EPROTO : 0;
    const char *nk;
    size_t nklen;
    if (clm_resp_arg(c, 2, &nk, &nklen) < 0 || nklen == 0 || nk[0] == '0' ||
        clm_resp_arg(c, 3, p, n) < 0)
        return -EPROTO;
    return 0;
}

/* ---- splitting -------------------------------------------------------- */

/* The guarded commands of one key, as ARGV entries of the guard script. */
typedef struct guarded {
    const char *key;
    size_t key_len;
    clm_cmdbuf args; /* RESP bulk strings */
    size_t nargs;
} guarded;

typedef struct split {
    guarded *g;
    size_t n, cap;
} split;

static guarded *guarded_of(split *s, const char *key, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->g[i].key_len == len && memcmp(s->g[i].key, key, len) == 0)
            return &s->g[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        guarded *v = realloc(s->g, cap * sizeof(*v));
        if (!v)
            return NULL;
        s->g = v;
        s->cap = cap;
    }
    guarded *g = &s->g[s->n++];
    g->key = key;
    g->key_len = len;
    clm_cmdbuf_init(&g->args);
    g->nargs = 0;
    return g;
}

static int put_arg(guarded *g, const void *p, size_t n)
{
    int r = clm_cmdbuf_arg(&g->args, p, n);
    g->nargs += r == 0;
    return r;
}

/* Adds "<n> <name> <arguments from `from` on>" of c to g. */
static int guard_add(guarded *g, const clm_resp_cmd *c, const char *name, size_t from)
{
    char num[24];
    size_t n = c->argc - from + 1;
    const char **argv = malloc(c->argc * sizeof(*argv));
    size_t *lens = malloc(c->argc * sizeof(*lens));
    int r = argv && lens ? clm_resp_args(c, argv, lens) : -ENOMEM;
    if (r == 0)
        r = put_arg(g, num, (size_t)snprintf(num, sizeof(num), "%zu", n));
    if (r == 0)
        r = put_arg(g, name, strlen(name));
    for (size_t i = from; r == 0 && i < c->argc; i++)
        r = put_arg(g, argv[i], lens[i]);
    free(argv);
    free(lens);
    return r;
}

/* EVAL GUARD_LUA 2 <key> <applied key> <source> <seq> <g's arguments> */
static int emit_guarded(const guarded *g, const clm_journal_src *src, clm_cmdbuf *out)
{
    char applied[CLM_KEY_MAX], seq[24];
    int r = clm_key_applied(applied, sizeof(applied), src->prefix, g->key, g->key_len);
    if (r < 0)
        return r;
    if (src->slot_of(applied, strlen(applied)) != src->slot_of(g->key, g->key_len))
        return -EPROTO; /* a prefix whose braces move the guard elsewhere */
    int n = snprintf(seq, sizeof(seq), "%lld", (long long)src->seq);
    if ((r = clm_cmdbuf_begin(out, 7 + g->nargs)) == 0 && (r = clm_cmdbuf_arg(out, "EVAL", 4)) == 0 &&
        (r = clm_cmdbuf_arg(out, GUARD_LUA, sizeof(GUARD_LUA) - 1)) == 0 &&
        (r = clm_cmdbuf_arg(out, "2", 1)) == 0 && (r = clm_cmdbuf_arg(out, g->key, g->key_len)) == 0 &&
        (r = clm_cmdbuf_arg(out, applied, strlen(applied))) == 0 &&
        (r = clm_cmdbuf_arg(out, src->source, strlen(src->source))) == 0 &&
        (r = clm_cmdbuf_arg(out, seq, (size_t)n)) == 0)
        r = clm_cmdbuf_raw(out, g->args.buf, g->args.len);
    return r;
}

/* Commands that set a value, run as they are (the outbox aside). */
static bool sets(const char *name, size_t n)
{
    return is(name, n, "HSET") || is(name, n, "HDEL") || is(name, n, "ZADD") || is(name, n, "ZREM") ||
           is(name, n, "DEL");
}

/* The erasure script (store/forget.h): it only deletes, so it runs as it is. */
static bool is_forget(const clm_resp_cmd *c, const char *name, size_t nlen)
{
    size_t slen, plen;
    const char *script = clm_forget_script(&slen), *p;
    return is(name, nlen, "EVAL") && clm_resp_arg(c, 1, &p, &plen) == 0 && plen == slen &&
           memcmp(p, script, slen) == 0;
}

static int carry(split *s, const clm_resp_cmd *c, const char *key, size_t klen, const char *outbox,
                 clm_cmdbuf *journal)
{
    const char *name;
    size_t nlen;
    int r = clm_resp_arg(c, 0, &name, &nlen);
    if (r < 0)
        return r;
    bool is_outbox = strlen(outbox) == klen && memcmp(outbox, key, klen) == 0;
    if ((sets(name, nlen) && !is_outbox) || is_forget(c, name, nlen)) {
        if ((r = clm_cmdbuf_raw(journal, c->start, c->len)) == 0)
            journal->ncmds++;
        return r;
    }
    guarded *g = guarded_of(s, key, klen);
    if (!g)
        return -ENOMEM;
    if (is(name, nlen, "EVAL")) {
        size_t slen;
        const char *script = clm_flush_hadd_sat_script(&slen), *p;
        size_t plen;
        if ((r = clm_resp_arg(c, 1, &p, &plen)) < 0)
            return r;
        if (plen != slen || memcmp(p, script, slen) != 0)
            return -EPROTO;
        return guard_add(g, c, "HADDSAT", 4);
    }
    if (is(name, nlen, "HINCRBY") || is(name, nlen, "XADD") || is(name, nlen, "HSET")) {
        char upper[8];
        for (size_t i = 0; i < nlen; i++)
            upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
        upper[nlen] = '\0';
        return guard_add(g, c, upper, 2);
    }
    return -EPROTO;
}

int clm_journal_split(const char *in, size_t len, const clm_journal_src *src, clm_cmdbuf *local,
                      clm_cmdbuf *journal)
{
    char outbox[CLM_KEY_MAX];
    int r = clm_key_single(outbox, sizeof(outbox), src->prefix, CLM_KEY_OUTBOX);
    if (r < 0)
        return r;
    split s = { 0 };
    size_t pos = 0;
    clm_resp_cmd c;
    while (r >= 0 && (r = clm_resp_next(in, len, &pos, &c)) == 1) {
        const char *key;
        size_t klen;
        if ((r = clm_resp_key(&c, &key, &klen)) < 0)
            break;
        if (src->slot_of(key, klen) == src->slot) {
            if ((r = clm_cmdbuf_raw(local, c.start, c.len)) == 0)
                local->ncmds++;
        } else {
            r = carry(&s, &c, key, klen, outbox, journal);
        }
    }
    for (size_t i = 0; i < s.n; i++) {
        if (r >= 0)
            r = emit_guarded(&s.g[i], src, journal);
        clm_cmdbuf_release(&s.g[i].args);
    }
    free(s.g);
    return r < 0 ? r : 0;
}

int clm_journal_carry(clm_rpipe *p, const char *j, size_t len, char *errbuf, size_t errsize)
{
    size_t pos = 0, queued = 0;
    clm_resp_cmd c;
    int r;
    /* each command goes as it is, to the node of its key */
    while ((r = clm_resp_next(j, len, &pos, &c)) == 1) {
        const char *key;
        size_t klen;
        if (clm_resp_key(&c, &key, &klen) < 0) {
            r = -EPROTO;
            break;
        }
        if (clm_rpipe_append_raw(p, key, klen, c.start, c.len, errbuf, errsize) < 0)
            return -EIO;
        queued++;
    }
    if (r < 0) {
        snprintf(errbuf, errsize, "a journal does not parse");
        clm_rpipe_reset(p);
        return -EPROTO;
    }
    for (size_t i = 0; i < queued; i++) {
        redisReply *rep;
        if (clm_rpipe_reply(p, &rep, errbuf, errsize) < 0)
            return -EIO;
        if (rep->type == REDIS_REPLY_ERROR && r == 0) {
            snprintf(errbuf, errsize, "Redis refused a journal command: %s", rep->str);
            r = -EPROTO;
        }
        freeReplyObject(rep);
    }
    return r;
}

int clm_journal_carry_key(clm_rpipe *p, const char *key, char *errbuf, size_t errsize)
{
    const char *argv[] = { "GET", key };
    redisReply *rep = clm_rpipe_command(p, 1, 2, argv, NULL, errbuf, errsize);
    if (!rep)
        return -EIO;
    int r = 0;
    if (rep->type == REDIS_REPLY_STRING) {
        char why[512];
        r = clm_journal_carry(p, rep->str, rep->len, why, sizeof(why));
        snprintf(errbuf, errsize, "%s: %s", key, why);
        r = r < 0 ? r : 1;
    } else if (rep->type != REDIS_REPLY_NIL) {
        snprintf(errbuf, errsize, "%s: %s", key,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "not a string");
        r = -EPROTO;
    }
    freeReplyObject(rep);
    return r;
}
