/* tests/harness_util.h - what the harness' files share (tests/harness.c:
 * processes and Redis; harness_dump.c: the canonical dump; harness_kafka.c:
 * the mock cluster, producing and reading). Not for tests. */
#ifndef CLM_TESTS_HARNESS_UTIL_H
#define CLM_TESTS_HARNESS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Formats into errbuf; returns err. */
__attribute__((format(printf, 4, 5)))
int harness_fail(int err, char *errbuf, size_t errsize, const char *fmt, ...);

int64_t harness_now_ms(void); /* monotonic */
void harness_sleep_ms(int ms);

#endif
