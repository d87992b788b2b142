/* store/alerts.h - the alert keys a flush writes (store/keys.h).
 *
 * Every alert raised goes into the stream <prefix>alerts (capped near
 * alerts.stream_maxlen) and the outbox <prefix>alerts:outbox (alert id ->
 * document, until the alert topic has it), and waits in its partition's
 * <prefix>alerts:paging:{g:p} until its paging window is decided
 * (daemon/paging.h); what pages is appended to <prefix>alerts:page when a
 * paging sink is configured. All are appended to the flush's command
 * buffer, so they commit with the state change that raised them.
 *
 * Each function returns 0, -ENOMEM or -ENAMETOOLONG. Reentrant.
 */
#ifndef CLM_STORE_ALERTS_H
#define CLM_STORE_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/cmdbuf.h"

/* XADD <prefix>alerts MAXLEN ~ maxlen * alert_id id kind kind customer_id
 * customer risk risk json json; HSET <prefix>alerts:outbox id json.
 * customer and risk may be "" (digests). */
int clm_alerts_fmt_kept(clm_cmdbuf *b, const char *prefix, int64_t maxlen, const char *id,
                        const char *kind, const char *customer, size_t clen, const char *risk,
                        const char *json);

/* HSET <prefix>alerts:paging:{group:part} a:<id> "<page_ms>\t<json>" */
int clm_alerts_fmt_pending(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                           const char *id, int64_t page_ms, const char *json);

/* HDEL <prefix>alerts:paging:{group:part} a:<id> */
int clm_alerts_fmt_decided(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                           const char *id);

/* HSET <prefix>alerts:paging:{group:part} tat <tat_us> */
int clm_alerts_fmt_tat(clm_cmdbuf *b, const char *prefix, const char *group, int32_t part,
                       int64_t tat_us);

/* XADD <prefix>alerts:page * alert_id id json json */
int clm_alerts_fmt_page(clm_cmdbuf *b, const char *prefix, const char *id, const char *json);

/* HINCRBY <prefix>stats field by (nothing when by is 0) */
int clm_alerts_fmt_count(clm_cmdbuf *b, const char *prefix, const char *field, int64_t by);

#endif
