/* tests/harness_http.c - loopback ports and HTTP GET for the operators'
 * endpoint (see harness.h). */
#include "tests/harness.h"
#include "tests/harness_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int harness_free_port(int *port, char *errbuf, size_t errsize)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return harness_fail(-errno, errbuf, errsize, "socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        int e = errno;
        close(fd);
        return harness_fail(-e, errbuf, errsize, "cannot bind 127.0.0.1:0: %s", strerror(e));
    }
    close(fd);
    *port = ntohs(a.sin_port);
    return 0;
}

int harness_http_get(int port, const char *path, char *body, size_t size)
{
    if (size)
        body[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0)
        return 0;
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return 0;
    }
    enum { RESP_MAX = 262144 };
    char req[256], *resp = malloc(RESP_MAX);
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    size_t got = 0;
    if (resp && write(fd, req, (size_t)n) == n)
        for (ssize_t k; got + 1 < RESP_MAX && (k = read(fd, resp + got, RESP_MAX - 1 - got)) > 0;)
            got += (size_t)k;
    close(fd);
    int status = 0;
    if (resp) {
        resp[got] = '\0';
        if (sscanf(resp, "HTTP/1.%*d %d", &status) == 1) {
            const char *b = strstr(resp, "\r\n\r\n");
            if (size)
                snprintf(body, size, "%s", b ? b + 4 : "");
        } else {
            status = 0;
        }
    }
    free(resp);
    return status;
}

long long harness_metric_value(const char *body, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, name, n) == 0 && l[n] == ' ')
            return strtoll(l + n + 1, NULL, 10);
    return -1;
}
