/* net/http_post.c - JSON posts over libcurl (see http_post.h). */
#include "net/http_post.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_KEEP 200 /* bytes of a refusal's body kept for its message */

struct clm_http_post {
    char *url;
    CURL *curl;
    struct curl_slist *headers;
    clm_http_abort_fn abort;
    void *ctx;
    char curl_err[CURL_ERROR_SIZE];
    char response[RESPONSE_KEEP + 1];
    size_t response_len;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    clm_http_post *p = arg;
    size_t len = size * n, room = RESPONSE_KEEP - p->response_len;
    size_t take = len < room ? len : room;
    memcpy(p->response + p->response_len, data, take);
    p->response_len += take;
    p->response[p->response_len] = '\0';
    return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    clm_http_post *p = arg;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return p->abort && p->abort(p->ctx);
}

clm_http_post *clm_http_post_new(const char *url, long timeout_ms, clm_http_abort_fn abort,
                                 void *ctx, char *errbuf, size_t errsize)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        snprintf(errbuf, errsize, "\"%s\" is not an http:// or https:// URL", url ? url : "");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errbuf, errsize, "libcurl cannot be initialized");
        return NULL;
    }
    clm_http_post *p = calloc(1, sizeof(*p));
    if (!p) {
        curl_global_cleanup();
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    p->abort = abort;
    p->ctx = ctx;
    p->url = strdup(url);
    p->curl = curl_easy_init();
    p->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!p->url || !p->curl || !p->headers) {
        clm_http_post_free(p);
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    CURL *h = p->curl;
    curl_easy_setopt(h, CURLOPT_URL, p->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* a thread of a threaded program */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, p);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, p->curl_err);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    return p;
}

void clm_http_post_free(clm_http_post *p)
{
    if (!p)
        return;
    if (p->curl)
        curl_easy_cleanup(p->curl);
    curl_slist_free_all(p->headers);
    free(p->url);
    free(p);
    curl_global_cleanup();
}

const char *clm_http_post_url(const clm_http_post *p)
{
    return p->url;
}

int clm_http_post_json(clm_http_post *p, const char *body, size_t len, char *errbuf,
                       size_t errsize)
{
    p->response_len = 0;
    p->response[0] = '\0';
    p->curl_err[0] = '\0';
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    CURLcode e = curl_easy_perform(p->curl);
    long status = 0;
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
    if (e != CURLE_OK) {
        snprintf(errbuf, errsize, "POST %s: %s", p->url,
                 p->curl_err[0] ? p->curl_err : curl_easy_strerror(e));
        return -ECOMM;
    }
    if (status / 100 != 2) {
        snprintf(errbuf, errsize, "POST %s: HTTP %ld %s", p->url, status, p->response);
        return -ECOMM;
    }
    return 0;
}
