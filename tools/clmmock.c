/* clmmock - a local Kafka for development and tests: librdkafka's mock
 * cluster, served until SIGTERM or SIGINT.
 *
 * Prints "bootstrap=<host:port,...>" on stdout once the brokers listen and,
 * with --bootstrap-file, writes the same address (one line) to that file
 * atomically (temporary file + rename), so scripts can wait for the file.
 * The mock keeps everything in memory; in librdkafka 2.0.2 each partition
 * holds about 5 MiB before it silently drops its oldest data, so large
 * streams need more partitions or compression.
 */
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TOPICS 64

typedef struct topic_spec {
    char name[250];
    int partitions;
} topic_spec;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clmmock [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file F]\n"
            "Runs an in-memory Kafka cluster (librdkafka mock) until SIGTERM/SIGINT.\n"
            "  --brokers N           number of brokers, 1..16 (1)\n"
            "  --topic NAME:P        create topic NAME with P partitions (repeatable)\n"
            "  --bootstrap-file F    also write the bootstrap address to F (atomically)\n"
            "  --help                this text\n"
            "Prints bootstrap=<address> on stdout when ready.\n");
}

static int parse_topic(const char *s, topic_spec *t)
{
    const char *colon = strrchr(s, ':');
    char *end;
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(t->name))
        return -EINVAL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 1 || p > 10000)
        return -EINVAL;
    memcpy(t->name, s, (size_t)(colon - s));
    t->name[colon - s] = '\0';
    t->partitions = (int)p;
    return 0;
}

/* Writes "addr\n" to path via a temporary file in the same directory. */
static int write_atomic(const char *path, const char *addr)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    int r = 0;
    if (fprintf(f, "%s\n", addr) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
        r = -errno;
    if (fclose(f) != 0 && !r)
        r = -errno;
    if (!r && rename(tmp, path) != 0)
        r = -errno;
    if (r)
        unlink(tmp);
    return r;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"topic", required_argument, 0, 't'},
        {"bootstrap-file", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static topic_spec topics[MAX_TOPICS];
    int ntopics = 0, brokers = 1, opt;
    const char *bootfile = NULL;
    char *end;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            errno = 0;
            brokers = (int)strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || brokers < 1 || brokers > 16) {
                fprintf(stderr, "clmmock: --brokers: '%s' is not an integer in 1..16\n", optarg);
                return 1;
            }
            break;
        case 't':
            if (ntopics == MAX_TOPICS || parse_topic(optarg, &topics[ntopics]) < 0) {
                fprintf(stderr, "clmmock: --topic: expected NAME:PARTITIONS (1..10000, at most %d topics), got '%s'\n",
                        MAX_TOPICS, optarg);
                return 1;
            }
            ntopics++;
            break;
        case 'f':
            bootfile = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "clmmock: unexpected argument '%s'\n", argv[optind]);
        return 1;
    }

    /* Block the stop signals before any thread starts, so every librdkafka
     * thread inherits the mask and sigwait() below receives them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    int status = 1;
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "clmmock: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "clmmock: cannot create a client handle: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    /* rd_kafka_new took ownership of conf */
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "clmmock: cannot start a mock cluster of %d brokers\n", brokers);
        goto out_destroy_rk;
    }
    for (int i = 0; i < ntopics; i++) {
        int rf = brokers < 3 ? brokers : 3;
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topics[i].name, topics[i].partitions, rf);
        if (e) {
            fprintf(stderr, "clmmock: cannot create topic %s: %s\n", topics[i].name, rd_kafka_err2str(e));
            goto out_destroy_cluster;
        }
    }
    const char *addr = rd_kafka_mock_cluster_bootstraps(mc);
    if (bootfile) {
        int r = write_atomic(bootfile, addr);
        if (r < 0) {
            fprintf(stderr, "clmmock: %s: %s\n", bootfile, strerror(-r));
            goto out_destroy_cluster;
        }
    }
    printf("bootstrap=%s\n", addr);
    fflush(stdout);

    int sig;
    while (sigwait(&stop, &sig) != 0)
        ;
    status = 0;

out_destroy_cluster:
    rd_kafka_mock_cluster_destroy(mc);
out_destroy_rk:
    rd_kafka_destroy(rk);
    return status;
}
