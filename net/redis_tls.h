/* net/redis_tls.h - a hiredis context that reaches Redis over TLS.
 *
 * hiredis 0.14 speaks only plain TCP. A TLS connection is carried instead by
 * a socket pair: hiredis reads and writes plain RESP on one end (a blocking
 * context from redisConnectFd, so redisSetTimeout, redisCommand and
 * pipelining work unchanged); a pump thread, one per connection, carries the
 * bytes between the other end and the TLS connection to Redis (OpenSSL).
 *
 * The TCP connect, the handshake and the server's certificate check (chain
 * to the CA file, or to the system's CAs; the name given as server_name or
 * the host) all happen before the context is handed out. When the TLS
 * connection ends or fails, the pump closes its end of the pair, so hiredis
 * sees the connection closed on its next read; a silent peer is caught by
 * the context's own timeout (redisSetTimeout).
 *
 * The process must ignore SIGPIPE (the pump writes to a socket the peer may
 * have closed). Each connection is used by one thread at a time, like any
 * hiredis context.
 */
#ifndef CLM_NET_REDIS_TLS_H
#define CLM_NET_REDIS_TLS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct clm_tls_opts {
    const char *ca_file;     /* PEM CA certificates; NULL or "": the system's CA store */
    const char *cert_file;   /* PEM client certificate; NULL or "": none */
    const char *key_file;    /* its PEM private key; NULL or "": none */
    const char *server_name; /* SNI and the name verified; NULL or "": the host */
} clm_tls_opts;

/* The pump of one connection. */
typedef struct clm_tls_link clm_tls_link;

/* Connects to host:port within timeout_ms (TCP connect and handshake each),
 * verifies the server's certificate, and starts the pump. Returns 0 with
 * *ctx (a connected blocking context, no timeout set yet) and *link; or
 * -ECONNREFUSED (connect, handshake or certificate check failed), -EINVAL (a
 * file does not load), -ENOMEM, with "TLS to HOST:PORT: <reason>" in errbuf,
 * e.g. "TLS to 127.0.0.1:6380: certificate verify failed: unable to get local
 * issuer certificate". Outputs untouched on failure. Free both with
 * clm_tls_close. */
int clm_tls_connect(const char *host, int port, const clm_tls_opts *o, int timeout_ms,
                    redisContext **ctx, clm_tls_link **link, char *errbuf, size_t errsize);

/* Whether the TLS connection has ended; then writes why into errbuf, e.g.
 * "TLS to 127.0.0.1:6380: tlsv13 alert certificate required" (with TLS 1.3
 * a server that refuses the client's certificate says so only after the
 * handshake, and hiredis sees just a closed connection). Any thread. */
bool clm_tls_ended(clm_tls_link *link, char *errbuf, size_t errsize);

/* Frees ctx (redisFree), which ends the pump, then waits for the pump and
 * frees link (closing the TLS connection). Either may be NULL. */
void clm_tls_close(redisContext *ctx, clm_tls_link *link);

/* Which file of clm_tls_opts a check refused. */
typedef enum clm_tls_file {
    CLM_TLS_CA_FILE,
    CLM_TLS_CERT_FILE,
    CLM_TLS_KEY_FILE,
} clm_tls_file;

/* Loads the files of o the way clm_tls_connect does, connecting nowhere.
 * Returns 0; or -EINVAL with *which set and the reason in why (e.g. "cannot
 * be read: No such file or directory", "does not load: no certificate or
 * crl found", "does not match the client certificate"); -ENOMEM. A client
 * certificate needs its key and the other way round (the missing one is
 * *which, why "is not set"). */
int clm_tls_check(const clm_tls_opts *o, clm_tls_file *which, char *why, size_t whysize);

#endif
