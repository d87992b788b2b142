/* store/ahead.c - see ahead.h. */
#include "store/ahead.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "core/timeutil.h"

size_t clm_ahead_encode(const clm_wm *w, char *buf)
{
    size_t n = 0;
    buf[0] = '\0';
    if (w->nahead == 0)
        return 0;
    n += (size_t)snprintf(buf, CLM_AHEAD_TEXT_MAX, "1");
    for (unsigned i = 0; i < w->nahead; i++)
        n += (size_t)snprintf(buf + n, CLM_AHEAD_TEXT_MAX - n, ";%016" PRIx64 ":%" PRId64 ":%" PRId64,
                              w->ahead[i].source, w->ahead[i].ts, w->ahead[i].base);
    return n;
}

/* Reads an unsigned decimal (1..19 digits) or, when hex, exactly 16
 * lowercase hex digits, at s[*i]. */
static int number(const char *s, size_t len, size_t *i, bool hex, uint64_t *out)
{
    uint64_t v = 0;
    size_t k = *i;
    for (; k < len && k - *i < (hex ? 16u : 19u); k++) {
        char c = s[k];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (hex && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            break;
        v = v * (hex ? 16 : 10) + d;
    }
    if (k == *i || (hex && k - *i != 16) ||
        (!hex && ((k < len && s[k] >= '0' && s[k] <= '9') || (s[*i] == '0' && k - *i > 1))))
        return -EINVAL;
    *i = k;
    *out = v;
    return 0;
}

int clm_ahead_decode(const char *s, size_t len, clm_wm *w)
{
    clm_wm t = *w;
    size_t i = 0;
    t.nahead = 0;
    if (len == 0) {
        w->nahead = 0;
        return 0;
    }
    if (s[i++] != '1')
        return -EINVAL;
    while (i < len) {
        uint64_t src, ts, base;
        if (t.nahead == CLM_WM_QUORUM_MAX - 1 || s[i++] != ';' ||
            number(s, len, &i, true, &src) < 0 || i >= len || s[i++] != ':' ||
            number(s, len, &i, false, &ts) < 0 || i >= len || s[i++] != ':' ||
            number(s, len, &i, false, &base) < 0 || ts > CLM_TS_MAX_MS || base > CLM_TS_MAX_MS)
            return -EINVAL;
        t.ahead[t.nahead++] = (clm_wm_ahead){ .source = src, .ts = (int64_t)ts,
                                              .base = (int64_t)base };
    }
    if (t.nahead == 0 || clm_wm_check(&t) < 0)
        return -EINVAL;
    *w = t;
    return 0;
}
