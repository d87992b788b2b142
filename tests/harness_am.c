/* tests/harness_am.c - a real Alertmanager and its webhook (see harness_am.h). */
#include "tests/harness_am.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

struct harness_am {
    struct MHD_Daemon *d;
    int hook_port, port;
    pthread_mutex_t lock;
    json_t *alerts; /* the notifications' alerts, in arrival order */
    char dir[64], config[128], storage[128], log[128];
    harness_proc *proc;
};

typedef struct upload {
    char *buf;
    size_t len;
} upload;

static enum MHD_Result hook_answer(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **con_cls)
{
    (void)url, (void)method, (void)version;
    harness_am *a = cls;
    upload *u = *con_cls;
    if (!u) {
        *con_cls = calloc(1, sizeof(upload));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*size) {
        char *b = realloc(u->buf, u->len + *size + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + u->len, data, *size);
        u->buf = b;
        u->len += *size;
        b[u->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    json_t *msg = u->buf ? json_loadb(u->buf, u->len, 0, NULL) : NULL;
    json_t *alerts = json_object_get(msg, "alerts");
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < json_array_size(alerts); i++)
        json_array_append(a->alerts, json_array_get(alerts, i));
    pthread_mutex_unlock(&a->lock);
    json_decref(msg);
    struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static void hook_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    upload *u = *con_cls;
    if (u)
        free(u->buf);
    free(u);
    *con_cls = NULL;
}

int harness_am_restart(harness_am *a, char *errbuf, size_t errsize)
{
    char listen[64], cfg[160], storage[160];
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", a->port);
    snprintf(cfg, sizeof(cfg), "--config.file=%s", a->config);
    snprintf(storage, sizeof(storage), "--storage.path=%s", a->storage);
    const char *argv[] = { "prometheus-alertmanager", cfg, storage, listen,
                           "--cluster.listen-address=", "--log.level=debug", NULL };
    int r = harness_proc_spawn(argv, a->log, &a->proc, errbuf, errsize);
    if (r < 0)
        return r;
    char body[256];
    for (int i = 0; i < 200; i++) {
        if (harness_http_get(a->port, "/-/ready", body, sizeof(body)) == 200)
            return 0;
        usleep(50000);
    }
    snprintf(errbuf, errsize, "prometheus-alertmanager not ready on port %d within 10 s (log %s)",
             a->port, a->log);
    return -ETIMEDOUT;
}

int harness_am_stop(harness_am *a, char *errbuf, size_t errsize)
{
    if (!a->proc)
        return 0;
    int r = harness_proc_signal(a->proc, SIGTERM);
    if (r == 0)
        r = harness_proc_wait(a->proc, 10000, NULL, errbuf, errsize);
    harness_proc_free(a->proc);
    a->proc = NULL;
    return r;
}

int harness_am_start(harness_am **out, char *errbuf, size_t errsize)
{
    harness_am *a = calloc(1, sizeof(*a));
    int r = -ENOMEM;
    if (!a || !(a->alerts = json_array()))
        goto fail;
    pthread_mutex_init(&a->lock, NULL);
    if ((r = harness_free_port(&a->hook_port, errbuf, errsize)) < 0 ||
        (r = harness_free_port(&a->port, errbuf, errsize)) < 0)
        goto fail;
    a->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, (uint16_t)a->hook_port, NULL, NULL,
                            hook_answer, a, MHD_OPTION_NOTIFY_COMPLETED, hook_done, a,
                            MHD_OPTION_END);
    if (!a->d) {
        snprintf(errbuf, errsize, "webhook: cannot listen on port %d", a->hook_port);
        r = -EADDRINUSE;
        goto fail;
    }
    snprintf(a->dir, sizeof(a->dir), "/tmp/clm-am-XXXXXX");
    if (!mkdtemp(a->dir)) {
        r = -errno;
        snprintf(errbuf, errsize, "mkdtemp: %s", strerror(errno));
        a->dir[0] = '\0';
        goto fail;
    }
    snprintf(a->config, sizeof(a->config), "%s/alertmanager.yml", a->dir);
    snprintf(a->storage, sizeof(a->storage), "%s/data", a->dir);
    snprintf(a->log, sizeof(a->log), "%s/alertmanager.log", a->dir);
    FILE *f = fopen(a->config, "w");
    if (!f) {
        r = -errno;
        snprintf(errbuf, errsize, "%s: %s", a->config, strerror(errno));
        goto fail;
    }
    fprintf(f,
            "route:\n"
            "  receiver: hook\n"
            "  group_by: ['...']\n"
            "  group_wait: 0s\n"
            "  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n"
            "  - name: hook\n"
            "    webhook_configs:\n"
            "      - url: http://127.0.0.1:%d/\n"
            "        send_resolved: true\n",
            a->hook_port);
    fclose(f);
    if ((r = harness_am_restart(a, errbuf, errsize)) < 0)
        goto fail;
    *out = a;
    return 0;

fail:
    harness_am_free(a);
    return r;
}

void harness_am_free(harness_am *a)
{
    if (!a)
        return;
    char err[256];
    harness_am_stop(a, err, sizeof(err));
    if (a->d)
        MHD_stop_daemon(a->d);
    json_decref(a->alerts);
    if (a->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "# could not remove %s\n", a->dir);
    }
    pthread_mutex_destroy(&a->lock);
    free(a);
}

int harness_am_port(const harness_am *a)
{
    return a->port;
}

const char *harness_am_dir(const harness_am *a)
{
    return a->dir;
}

json_t *harness_am_hook_find(harness_am *a, const json_t *labels, const char *status)
{
    json_t *found = NULL;
    pthread_mutex_lock(&a->lock);
    for (size_t i = json_array_size(a->alerts); i-- > 0 && !found;) {
        json_t *x = json_array_get(a->alerts, i);
        const char *st = json_string_value(json_object_get(x, "status"));
        if (json_equal(json_object_get(x, "labels"), labels) && st && strcmp(st, status) == 0)
            found = json_deep_copy(x);
    }
    pthread_mutex_unlock(&a->lock);
    return found;
}

json_t *harness_am_hook_all(harness_am *a)
{
    pthread_mutex_lock(&a->lock);
    json_t *copy = json_deep_copy(a->alerts);
    pthread_mutex_unlock(&a->lock);
    return copy;
}

json_t *harness_am_find(harness_am *a, const json_t *labels)
{
    static char body[1 << 20];
    if (harness_http_get(a->port, "/api/v2/alerts", body, sizeof(body)) != 200)
        return NULL;
    json_t *all = json_loads(body, 0, NULL), *found = NULL;
    for (size_t i = 0; i < json_array_size(all) && !found; i++) {
        json_t *x = json_array_get(all, i);
        if (json_equal(json_object_get(x, "labels"), labels))
            found = json_incref(x);
    }
    json_decref(all);
    return found;
}
