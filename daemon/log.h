/* daemon/log.h - the program's log: stderr lines with syslog priority prefixes.
 *
 * Each line is written with one write(2) as "<P>message\n" so journald keeps
 * the level (SyslogLevelPrefix=). Only the program (daemon/) logs; core/ and
 * config/ return codes and error text. Never pass a secret to these macros.
 * Thread-safe.
 */
#ifndef CLM_DAEMON_LOG_H
#define CLM_DAEMON_LOG_H

#include <stdatomic.h>
#include <syslog.h>

extern atomic_int clm_log_level; /* LOG_EMERG .. LOG_DEBUG; default LOG_INFO */

void clm_log_write(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct rd_kafka_s;

/* librdkafka's log callback (pass it to rd_kafka_conf_set_log_cb on every
 * handle): librdkafka's own lines, whose levels are syslog priorities, get
 * the same "<P>" prefix and level filter as clmd's, as
 * "<P>librdkafka FAC handle: message". Called on librdkafka's threads. */
void clm_log_rdkafka(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf);

/* Logs at LOG_CRIT and ends the process at once with exit status 1, without
 * flushing anything: Redis holds a consistent state (offsets move with the
 * data), so a restart resumes exactly. For states clmd cannot continue from. */
_Noreturn void clm_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks the level before formatting anything. */
#define clm_log(prio, ...)                                                                   \
    do {                                                                                     \
        if ((prio) <= atomic_load_explicit(&clm_log_level, memory_order_relaxed))          \
            clm_log_write((prio), __VA_ARGS__);                                              \
    } while (0)

#define log_err(...) clm_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...) clm_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) clm_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) clm_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) clm_log(LOG_DEBUG, __VA_ARGS__)

#endif
