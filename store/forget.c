/* store/forget.c - see forget.h. */
#include "store/forget.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "store/keys.h"

/* KEYS[1]: a hash or a stream (or nothing); ARGV[1]: a customer id.
 * Deletes every hash field and stream entry naming the id (forget.h);
 * returns how many. A stream is read in pages of 1000 from the last id
 * read, inclusive (that entry is skipped), so no exclusive range (Redis
 * 6.2) is needed. */
static const char FORGET_LUA[] =
    "local id = ARGV[1]\n"
    "local function walk(v, depth)\n"
    "  if type(v) == 'string' then return v == id end\n"
    "  if type(v) ~= 'table' or depth > 16 then return false end\n"
    "  for _, x in pairs(v) do\n"
    "    if walk(x, depth + 1) then return true end\n"
    "  end\n"
    "  return false\n"
    "end\n"
    "local function names(s)\n"
    "  if s == id then return true end\n"
    "  if not string.find(s, id, 1, true) then return false end\n"
    "  local j = string.find(s, '{', 1, true)\n"
    "  if not j then return false end\n"
    "  local ok, d = pcall(cjson.decode, string.sub(s, j))\n"
    "  return ok and walk(d, 0)\n"
    "end\n"
    "local t = redis.call('TYPE', KEYS[1])\n"
    "if type(t) == 'table' then t = t.ok end\n"
    "local n = 0\n"
    "if t == 'hash' then\n"
    "  local cur = '0'\n"
    "  repeat\n"
    "    local r = redis.call('HSCAN', KEYS[1], cur, 'COUNT', 1000)\n"
    "    cur = r[1]\n"
    "    local kv = r[2]\n"
    "    for i = 1, #kv, 2 do\n"
    "      if names(kv[i]) or names(kv[i + 1]) then\n"
    "        n = n + redis.call('HDEL', KEYS[1], kv[i])\n"
    "      end\n"
    "    end\n"
    "  until cur == '0'\n"
    "elseif t == 'stream' then\n"
    "  local from, last = '-', nil\n"
    "  while true do\n"
    "    local r = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 1000)\n"
    "    for _, e in ipairs(r) do\n"
    "      local f = e[2]\n"
    "      for i = 1, e[1] ~= last and #f or 0 do\n"
    "        if names(f[i]) then\n"
    "          n = n + redis.call('XDEL', KEYS[1], e[1])\n"
    "          break\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    if #r < 1000 then break end\n"
    "    last = r[#r][1]\n"
    "    from = last\n"
    "  end\n"
    "end\n"
    "return n\n";

static const char VIEW_HSET_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "return redis.call('HSET', KEYS[1], unpack(ARGV))\n";

const char *clm_forget_view_hset_script(size_t *len)
{
    *len = sizeof(VIEW_HSET_LUA) - 1;
    return VIEW_HSET_LUA;
}

const char *clm_forget_script(size_t *len)
{
    *len = sizeof(FORGET_LUA) - 1;
    return FORGET_LUA;
}

int clm_forget_hmac(const char *key, size_t key_len, const char *id, size_t len,
                    char hex[CLM_FORGET_HMAC_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (key_len == 0 || key_len > INT32_MAX)
        return -EINVAL;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)id, len, md, &mdlen) ||
        mdlen * 2 != CLM_FORGET_HMAC_HEX)
        return -ENOMEM;
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int cmd(clm_cmdbuf *b, const char *name, const char *key, int klen, const char *id,
               size_t len)
{
    if (klen < 0)
        return klen;
    const char *argv[] = { name, key, id };
    size_t lens[] = { strlen(name), (size_t)klen, len };
    return clm_cmdbuf_append(b, 3, argv, lens);
}

static int scrub(clm_cmdbuf *b, const char *key, int klen, const char *id, size_t len)
{
    if (klen < 0)
        return klen;
    size_t slen;
    const char *script = clm_forget_script(&slen);
    const char *argv[] = { "EVAL", script, "1", key, id };
    size_t lens[] = { 4, slen, 1, (size_t)klen, len };
    return clm_cmdbuf_append(b, 5, argv, lens);
}

int clm_forget_fmt(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                   const char *id, size_t len, int64_t now_ms, const char *hmac_key)
{
    char key[CLM_KEY_MAX];
    int r, kl;
    /* what a freeze deletes, then the alerts naming it */
    if ((r = clm_freeze_fmt(b, prefix, group, part, id, len)) < 0 ||
        (r = scrub(b, key, clm_key_single(key, sizeof(key), prefix, CLM_KEY_ALERTS), id, len)) < 0 ||
        (r = scrub(b, key, clm_key_single(key, sizeof(key), prefix, CLM_KEY_OUTBOX), id, len)) < 0 ||
        (r = scrub(b, key, clm_key_single(key, sizeof(key), prefix, CLM_KEY_PAGE), id, len)) < 0)
        return r;

    char at[24], pn[16], hex[CLM_FORGET_HMAC_HEX + 1];
    if ((kl = clm_key_single(key, sizeof(key), prefix, CLM_KEY_ERASURE_LOG)) < 0)
        return kl;
    const char *argv[] = { "XADD", key, "*", "at", at, "partition", pn, "id_hmac", hex };
    size_t lens[] = { 4, (size_t)kl, 1, 2, (size_t)snprintf(at, sizeof(at), "%" PRId64, now_ms),
                      9, (size_t)snprintf(pn, sizeof(pn), "%" PRId32, part), 7,
                      CLM_FORGET_HMAC_HEX };
    int argc = 7;
    if (hmac_key && hmac_key[0]) {
        if ((r = clm_forget_hmac(hmac_key, strlen(hmac_key), id, len, hex)) < 0)
            return r;
        argc = 9;
    }
    return clm_cmdbuf_append(b, argc, argv, lens);
}

int clm_forget_fmt_firing(clm_cmdbuf *b, const char *prefix, bool cluster, const char *id,
                          size_t len)
{
    char key[CLM_KEY_MAX];
    return scrub(b, key, clm_key_sink(key, sizeof(key), prefix, CLM_KEY_FIRING, cluster), id, len);
}

int clm_freeze_fmt(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                   const char *id, size_t len)
{
    char key[CLM_KEY_MAX];
    int r;
    if ((r = cmd(b, "HDEL", key, clm_key_ckpt(key, sizeof(key), prefix, group, part), id, len)) < 0 ||
        (r = cmd(b, "ZREM", key, clm_key_deadlines(key, sizeof(key), prefix, group, part), id,
                 len)) < 0 ||
        (r = scrub(b, key, clm_key_paging(key, sizeof(key), prefix, group, part), id, len)) < 0 ||
        (r = cmd(b, "HDEL", key, clm_key_single(key, sizeof(key), prefix, CLM_KEY_UPGRADE_POOL),
                 id, len)) < 0)
        return r;
    int kl = clm_key_customer(key, sizeof(key), prefix, id, len);
    if (kl < 0)
        return kl;
    const char *del[] = { "DEL", key };
    size_t dlens[] = { 3, (size_t)kl };
    if ((r = clm_cmdbuf_append(b, 2, del, dlens)) < 0)
        return r;
    return cmd(b, "ZREM", key, clm_key_single(key, sizeof(key), prefix, CLM_KEY_AT_RISK), id, len);
}
