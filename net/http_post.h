/* net/http_post.h - JSON posts to one URL over libcurl.
 *
 * One libcurl easy handle, reused (keep-alive), with a whole-request
 * timeout, http and https only (https verified against the system's CA
 * store), no signals (safe in a threaded program). A post succeeds on a
 * 2xx answer; anything else is an error that names the URL and why
 * ("POST http://127.0.0.1:9093/api/v2/alerts: HTTP 400 <start of the
 * body>", "...: Connection refused").
 *
 * Not thread-safe: one handle, one thread.
 */
#ifndef CLM_NET_HTTP_POST_H
#define CLM_NET_HTTP_POST_H

#include <stddef.h>

typedef struct clm_http_post clm_http_post;

/* Called during a transfer; a non-zero return aborts it. */
typedef int (*clm_http_abort_fn)(void *ctx);

/* url (copied) must start with http:// or https://. abort may be NULL.
 * Returns NULL with errbuf set (a bad URL, libcurl unusable, ENOMEM). */
clm_http_post *clm_http_post_new(const char *url, long timeout_ms, clm_http_abort_fn abort,
                                 void *ctx, char *errbuf, size_t errsize);

/* Accepts NULL. */
void clm_http_post_free(clm_http_post *p);

/* POSTs body (Content-Type: application/json). Returns 0 on a 2xx answer,
 * -ECOMM otherwise (errbuf says why). */
int clm_http_post_json(clm_http_post *p, const char *body, size_t len, char *errbuf,
                       size_t errsize);

const char *clm_http_post_url(const clm_http_post *p);

#endif
