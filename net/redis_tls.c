/* net/redis_tls.c - see redis_tls.h. */
#include "net/redis_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* One TLS record's worth of plaintext in each direction. */
#define PUMP_BUF 16384

struct clm_tls_link {
    pthread_t thread;
    SSL_CTX *sctx;
    SSL *ssl;
    int tcp;  /* the TLS connection to Redis */
    int pair; /* the pump's end of the socket pair */
    bool tls_open; /* written by the pump only; read after the join */
    char where[300]; /* "HOST:PORT" */
    pthread_mutex_t lock; /* guards ended */
    char ended[256]; /* why the TLS connection ended; "" while it is open */
    unsigned char in[PUMP_BUF];  /* from Redis, for hiredis */
    size_t in_off, in_len;
    unsigned char out[PUMP_BUF]; /* from hiredis, for Redis */
    size_t out_off, out_len;
};

/* The oldest queued OpenSSL error as text ("" when there is none); clears
 * the queue. */
static void ssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    buf[0] = '\0';
    if (e) {
        const char *r = ERR_reason_error_string(e);
        snprintf(buf, size, "%s", r ? r : "unknown OpenSSL error");
    }
    ERR_clear_error();
}

static bool is_set(const char *s)
{
    return s && s[0];
}

/* ---- files ---------------------------------------------------------------- */

/* Loads o's files into sctx; -EINVAL with *which and why. */
static int load_files(SSL_CTX *sctx, const clm_tls_opts *o, clm_tls_file *which, char *why,
                      size_t whysize)
{
    const char *files[3] = { o->ca_file, o->cert_file, o->key_file };
    char reason[256];
    for (int f = CLM_TLS_CA_FILE; f <= CLM_TLS_KEY_FILE; f++) {
        if (is_set(files[f]) && access(files[f], R_OK) < 0) {
            *which = (clm_tls_file)f;
            snprintf(why, whysize, "cannot be read: %s", strerror(errno));
            return -EINVAL;
        }
    }
    if (is_set(o->cert_file) != is_set(o->key_file)) {
        *which = is_set(o->cert_file) ? CLM_TLS_KEY_FILE : CLM_TLS_CERT_FILE;
        snprintf(why, whysize, "is not set");
        return -EINVAL;
    }
    ERR_clear_error();
    if (is_set(o->ca_file) ? SSL_CTX_load_verify_locations(sctx, o->ca_file, NULL) != 1
                           : SSL_CTX_set_default_verify_paths(sctx) != 1) {
        ssl_reason(reason, sizeof(reason));
        *which = CLM_TLS_CA_FILE;
        snprintf(why, whysize, "does not load: %s", reason);
        return -EINVAL;
    }
    if (!is_set(o->cert_file))
        return 0;
    if (SSL_CTX_use_certificate_chain_file(sctx, o->cert_file) != 1) {
        ssl_reason(reason, sizeof(reason));
        *which = CLM_TLS_CERT_FILE;
        snprintf(why, whysize, "does not load: %s", reason);
        return -EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(sctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
        bool other = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        ssl_reason(reason, sizeof(reason));
        *which = CLM_TLS_KEY_FILE;
        if (other)
            snprintf(why, whysize, "does not match the client certificate");
        else
            snprintf(why, whysize, "does not load: %s", reason);
        return -EINVAL;
    }
    if (SSL_CTX_check_private_key(sctx) != 1) {
        ERR_clear_error();
        *which = CLM_TLS_KEY_FILE;
        snprintf(why, whysize, "does not match the client certificate");
        return -EINVAL;
    }
    return 0;
}

static SSL_CTX *ctx_new(void)
{
    SSL_CTX *sctx = SSL_CTX_new(TLS_client_method());
    if (!sctx)
        return NULL;
    SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(sctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return sctx;
}

int clm_tls_check(const clm_tls_opts *o, clm_tls_file *which, char *why, size_t whysize)
{
    SSL_CTX *sctx = ctx_new();
    if (!sctx) {
        snprintf(why, whysize, "out of memory");
        return -ENOMEM;
    }
    int r = load_files(sctx, o, which, why, whysize);
    SSL_CTX_free(sctx);
    return r;
}

/* ---- connect and handshake ----------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline; 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events };
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

/* A connected non-blocking TCP socket, or -errno with why. */
static int tcp_connect(const char *host, int port, long long deadline, char *why, size_t whysize)
{
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host, service, &hints, &ai);
    if (g != 0) {
        snprintf(why, whysize, "%s", gai_strerror(g));
        return -ECONNREFUSED;
    }
    int fd = -1, r = -ECONNREFUSED;
    snprintf(why, whysize, "no address");
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0 || set_nonblock(fd) < 0) {
            snprintf(why, whysize, "socket: %s", strerror(errno));
            goto next;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (errno != EINPROGRESS) {
            snprintf(why, whysize, "%s", strerror(errno));
            goto next;
        }
        int w = wait_fd(fd, POLLOUT, deadline);
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (w == 0) {
            snprintf(why, whysize, "connect timed out");
            goto next;
        }
        if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
            snprintf(why, whysize, "%s", strerror(w < 0 ? -w : soerr ? soerr : errno));
            goto next;
        }
        break;
next:
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd >= 0 ? fd : r;
}

/* Handshake and certificate check; 0 or -ECONNREFUSED with why. */
static int handshake(clm_tls_link *l, const char *name, long long deadline, char *why,
                     size_t whysize)
{
    unsigned char ip[16];
    bool literal = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    if (literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(l->ssl), name) != 1
                : SSL_set1_host(l->ssl, name) != 1 || SSL_set_tlsext_host_name(l->ssl, name) != 1) {
        ERR_clear_error();
        snprintf(why, whysize, "\"%s\" cannot be verified as a server name", name);
        return -ECONNREFUSED;
    }
    if (SSL_set_fd(l->ssl, l->tcp) != 1) {
        ssl_reason(why, whysize);
        return -ECONNREFUSED;
    }
    for (;;) {
        ERR_clear_error();
        int n = SSL_connect(l->ssl);
        if (n == 1)
            return 0;
        int e = SSL_get_error(l->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int w = wait_fd(l->tcp, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
            if (w > 0)
                continue;
            snprintf(why, whysize, "%s", w == 0 ? "handshake timed out (is it a TLS port?)"
                                                 : strerror(-w));
            return -ECONNREFUSED;
        }
        long v = SSL_get_verify_result(l->ssl);
        char reason[256];
        int saved = errno;
        ssl_reason(reason, sizeof(reason));
        if (v != X509_V_OK)
            snprintf(why, whysize, "certificate verify failed: %s (server name %s)",
                     X509_verify_cert_error_string(v), name);
        else if (reason[0])
            snprintf(why, whysize, "handshake failed: %s", reason);
        else
            snprintf(why, whysize, "handshake failed: %s", e == SSL_ERROR_SYSCALL && saved
                     ? strerror(saved) : "the server closed the connection (is it a TLS port?)");
        return -ECONNREFUSED;
    }
}

/* ---- the pump -------------------------------------------------------------- */

/* SSL_read/SSL_write outcome: the poll events it waits for, or -1 when the TLS
 * connection is over (why is then in l->ended). */
static int tls_wants(clm_tls_link *l, int n)
{
    int saved = errno;
    int e = SSL_get_error(l->ssl, n);
    if (e == SSL_ERROR_WANT_READ)
        return POLLIN;
    if (e == SSL_ERROR_WANT_WRITE)
        return POLLOUT;
    char reason[200];
    ssl_reason(reason, sizeof(reason));
    if (e == SSL_ERROR_ZERO_RETURN)
        snprintf(reason, sizeof(reason), "the server closed the connection");
    else if (!reason[0])
        snprintf(reason, sizeof(reason), "%s", e == SSL_ERROR_SYSCALL && saved
                 ? strerror(saved) : "the connection was cut");
    pthread_mutex_lock(&l->lock);
    snprintf(l->ended, sizeof(l->ended), "%s", reason);
    pthread_mutex_unlock(&l->lock);
    return -1;
}

/* Carries bytes until hiredis closes its end, or until the TLS connection
 * ends and what it delivered has been handed on; then shuts the pair down so
 * hiredis sees the connection closed. */
static void *pump(void *arg)
{
    clm_tls_link *l = arg;
    for (;;) {
        bool progress = false;
        short tcp_events = 0;
        /* Redis -> hiredis */
        if (l->tls_open && l->in_len == 0) {
            ERR_clear_error();
            int n = SSL_read(l->ssl, l->in, sizeof(l->in));
            int w = n > 0 ? 0 : tls_wants(l, n);
            if (n > 0) {
                l->in_off = 0;
                l->in_len = (size_t)n;
                progress = true;
            } else if (w < 0) {
                l->tls_open = false;
            } else {
                tcp_events |= (short)w;
            }
        }
        if (l->in_off < l->in_len) {
            ssize_t n = send(l->pair, l->in + l->in_off, l->in_len - l->in_off, MSG_NOSIGNAL);
            if (n > 0) {
                l->in_off += (size_t)n;
                if (l->in_off == l->in_len)
                    l->in_off = l->in_len = 0;
                progress = true;
            } else if (errno != EAGAIN && errno != EINTR) {
                break; /* hiredis closed its end */
            }
        }
        /* hiredis -> Redis (dropped once the TLS connection is over) */
        if (l->out_len == 0) {
            ssize_t n = recv(l->pair, l->out, sizeof(l->out), 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                break; /* hiredis closed its end: the context was freed */
            if (n > 0) {
                l->out_off = 0;
                l->out_len = l->tls_open ? (size_t)n : 0;
                progress = true;
            }
        }
        if (l->tls_open && l->out_off < l->out_len) {
            ERR_clear_error();
            int n = SSL_write(l->ssl, l->out + l->out_off, (int)(l->out_len - l->out_off));
            int w = n > 0 ? 0 : tls_wants(l, n);
            if (n > 0) {
                l->out_off += (size_t)n;
                if (l->out_off == l->out_len)
                    l->out_off = l->out_len = 0;
                progress = true;
            } else if (w < 0) {
                l->tls_open = false;
            } else {
                tcp_events |= (short)w;
            }
        }
        if (!l->tls_open && l->in_len == 0)
            break; /* everything Redis sent is with hiredis */
        if (progress)
            continue;
        struct pollfd p[2] = {
            { .fd = l->pair, .events = (short)((l->out_len == 0 ? POLLIN : 0) |
                                               (l->in_off < l->in_len ? POLLOUT : 0)) },
            { .fd = l->tcp, .events = l->tls_open ? tcp_events : 0 },
        };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents & (POLLHUP | POLLERR))
            break; /* hiredis closed its end */
    }
    shutdown(l->pair, SHUT_RDWR);
    return NULL;
}

/* ---- the link ------------------------------------------------------------ */

static void link_free(clm_tls_link *l)
{
    if (!l)
        return;
    if (l->ssl) {
        if (l->tls_open)
            SSL_shutdown(l->ssl); /* close_notify, best effort: the socket does not block */
        SSL_free(l->ssl);
    }
    SSL_CTX_free(l->sctx);
    pthread_mutex_destroy(&l->lock);
    if (l->tcp >= 0)
        close(l->tcp);
    if (l->pair >= 0)
        close(l->pair);
    ERR_clear_error();
    free(l);
}

bool clm_tls_ended(clm_tls_link *l, char *errbuf, size_t errsize)
{
    pthread_mutex_lock(&l->lock);
    bool ended = l->ended[0] != '\0';
    if (ended)
        snprintf(errbuf, errsize, "TLS to %s: %s", l->where, l->ended);
    pthread_mutex_unlock(&l->lock);
    return ended;
}

void clm_tls_close(redisContext *ctx, clm_tls_link *link)
{
    if (ctx)
        redisFree(ctx); /* closes hiredis' end: the pump sees it and returns */
    if (!link)
        return;
    pthread_join(link->thread, NULL);
    link_free(link);
}

int clm_tls_connect(const char *host, int port, const clm_tls_opts *o, int timeout_ms,
                    redisContext **ctx, clm_tls_link **link, char *errbuf, size_t errsize)
{
    char why[512];
    int r = -ENOMEM, sv[2] = { -1, -1 };
    redisContext *c = NULL;
    clm_tls_link *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(why, sizeof(why), "out of memory");
        goto out_report;
    }
    l->tcp = l->pair = -1;
    pthread_mutex_init(&l->lock, NULL);
    snprintf(l->where, sizeof(l->where), "%s:%d", host, port);
    long long deadline = now_ms() + timeout_ms;
    clm_tls_file which;
    if (!(l->sctx = ctx_new())) {
        snprintf(why, sizeof(why), "out of memory");
        goto out_free_link;
    }
    char file_why[256];
    if ((r = load_files(l->sctx, o, &which, file_why, sizeof(file_why))) < 0) {
        const char *names[] = { "CA file", "client certificate", "client key" };
        snprintf(why, sizeof(why), "%s %s", names[which], file_why);
        goto out_free_link;
    }
    if (!(l->ssl = SSL_new(l->sctx))) { /* after the files: it copies the certificate */
        r = -ENOMEM;
        snprintf(why, sizeof(why), "out of memory");
        goto out_free_link;
    }
    if ((r = l->tcp = tcp_connect(host, port, deadline, why, sizeof(why))) < 0)
        goto out_free_link;
    const char *name = is_set(o->server_name) ? o->server_name : host;
    deadline = now_ms() + timeout_ms;
    if ((r = handshake(l, name, deadline, why, sizeof(why))) < 0)
        goto out_free_link;
    l->tls_open = true;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || set_nonblock(sv[1]) < 0) {
        r = -errno;
        snprintf(why, sizeof(why), "socketpair: %s", strerror(errno));
        goto out_free_link;
    }
    l->pair = sv[1];
    if (!(c = redisConnectFd(sv[0]))) {
        close(sv[0]);
        r = -ENOMEM;
        snprintf(why, sizeof(why), "out of memory");
        goto out_free_link;
    }
    int e = pthread_create(&l->thread, NULL, pump, l);
    if (e) {
        r = -e;
        snprintf(why, sizeof(why), "starting its thread: %s", strerror(e));
        goto out_free_ctx;
    }
    *ctx = c;
    *link = l;
    return 0;

out_free_ctx:
    redisFree(c);
out_free_link:
    link_free(l);
out_report:
    snprintf(errbuf, errsize, "TLS to %s:%d: %s", host, port, why);
    return r;
}
