/* daemon/log.c - see log.h. */
#include "daemon/log.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

atomic_int clm_log_level = LOG_INFO;

static void vlog(int prio, const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "<%d>", prio);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void clm_log_write(int prio, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(prio, fmt, ap);
    va_end(ap);
}

void clm_log_rdkafka(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (level < LOG_EMERG)
        level = LOG_EMERG;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    clm_log(level, "librdkafka %s %s: %s", fac, rd_kafka_name(rk), buf);
}

void clm_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_CRIT, fmt, ap);
    va_end(ap);
    _exit(EXIT_FAILURE);
}
