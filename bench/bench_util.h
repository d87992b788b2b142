/* bench/bench_util.h - small measuring helpers shared by the benchmarks:
 * clocks, percentiles, a process's peak memory, and Redis INFO commandstats.
 *
 * Contract for every int-returning function: 0 (or the documented value) on
 * success, or a negative errno with one human-readable line in errbuf where
 * the function takes one; output parameters untouched on failure. Nothing
 * here keeps state; call from any thread.
 */
#ifndef CLM_BENCH_UTIL_H
#define CLM_BENCH_UTIL_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <sys/types.h>

/* Monotonic clock in milliseconds (fractional). */
double bu_now_ms(void);

/* Sleeps for ms milliseconds (fractional), resuming after signals. */
void bu_sleep_ms(double ms);

/* Writes the directory holding the running executable (from /proc/self/exe)
 * into buf. Returns 0, or -errno (-ENAMETOOLONG when buf is too small). */
int bu_self_dir(char *buf, size_t size);

/* Peak resident set size (VmHWM of /proc/<pid>/status) in KiB, or -errno
 * (-ENOENT once the process is gone, -EPROTO when the field is missing). */
long long bu_vmhwm_kib(pid_t pid);

/* CPU time (user + system) the process has used so far, in milliseconds,
 * from /proc/<pid>/stat (pid 0: this process); or -errno. */
double bu_proc_cpu_ms(pid_t pid);

/* Whole-machine CPU time from the first line of /proc/stat, in milliseconds
 * summed over all CPUs: *busy (everything but idle and iowait) and *total.
 * Returns 0 or -errno (outputs untouched). */
int bu_host_cpu_ms(double *busy, double *total);

/* The p-th percentile (0 < p <= 100) of v[0..n-1] by the nearest-rank
 * method: the smallest value with at least p% of the values at or below it.
 * Sorts v in place. n must be > 0. */
double bu_percentile(double *v, size_t n, double p);

/* One line of INFO commandstats: "cmdstat_<name>:calls=<calls>,...". Names
 * keep Redis's spelling, subcommands included ("config|resetstat"). */
typedef struct bu_cmdstat {
    char name[48];
    long long calls;
} bu_cmdstat;

#define BU_CMDSTATS_MAX 128

typedef struct bu_cmdstats {
    bu_cmdstat v[BU_CMDSTATS_MAX];
    size_t n;
} bu_cmdstats;

/* Parses the text of INFO commandstats into *out (lines that are not
 * cmdstat_ lines are skipped). Returns 0, or -E2BIG with more than
 * BU_CMDSTATS_MAX commands, or -EPROTO for a cmdstat_ line without calls=. */
int bu_cmdstats_parse(const char *text, bu_cmdstats *out);

/* Sends INFO commandstats on c and parses the reply. Returns 0, -EIO (no
 * reply: c->errstr says why) or -EPROTO (not the expected text). */
int bu_cmdstats_read(redisContext *c, bu_cmdstats *out, char *errbuf, size_t errsize);

/* Calls of the command `name` (exact, e.g. "hgetall" or "config|set"), or
 * 0 when it does not appear. */
long long bu_cmdstats_calls(const bu_cmdstats *s, const char *name);

/* Calls of every command whose name is `family` or starts with "<family>|"
 * ("config" counts "config|set" and "config|resetstat"). */
long long bu_cmdstats_family(const bu_cmdstats *s, const char *family);

/* Calls of all commands. */
long long bu_cmdstats_total(const bu_cmdstats *s);

#endif
