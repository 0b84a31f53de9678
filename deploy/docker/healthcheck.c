/*
 * gatehouse-healthcheck: the health probe of the Gatehouse container image.
 *
 * The runtime image has no shell, curl or wget, so a container runtime's health check (the
 * docker-compose `healthcheck:` of the token and login services) runs this instead:
 *
 *     gatehouse-healthcheck http://127.0.0.1:4444/health/ready
 *
 * It sends one HTTP GET to an IP literal (it never resolves names, so it needs no resolver
 * configuration and works in a static binary), and exits 0 when the answer's status is 200, 1 on
 * any other status, a refused connection or a malformed answer, 2 on a usage error. A check that
 * takes longer than TIMEOUT_SECONDS is ended by SIGALRM, which also counts as unhealthy.
 * Kubernetes does not need it: the kubelet probes the same paths itself.
 *
 * Built statically in the Dockerfile: gcc -static -Os -o gatehouse-healthcheck healthcheck.c
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_SECONDS 3

static int usage(const char *problem) {
    fprintf(stderr, "gatehouse-healthcheck: %s\nusage: gatehouse-healthcheck http://IP:PORT/PATH\n",
            problem);
    return 2;
}

static int unhealthy(const char *problem) {
    fprintf(stderr, "gatehouse-healthcheck: unhealthy: %s\n", problem);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        return usage("expected exactly one URL");
    }
    const char *url = argv[1];
    const char *scheme = "http://";
    if (strncmp(url, scheme, strlen(scheme)) != 0) {
        return usage("the URL must start with http://");
    }
    const char *authority = url + strlen(scheme);
    const char *authority_end = strchr(authority, '/');
    if (authority_end == NULL) {
        authority_end = authority + strlen(authority);
    }
    const char *path = *authority_end ? authority_end : "/";

    const char *host = authority;
    const char *host_end;
    const char *port_text = NULL;
    if (*authority == '[') {
        host = authority + 1;
        host_end = memchr(authority, ']', (size_t)(authority_end - authority));
        if (host_end == NULL) {
            return usage("unterminated IPv6 address");
        }
        if (host_end + 1 < authority_end) {
            if (host_end[1] != ':') {
                return usage("expected :PORT after the IPv6 address");
            }
            port_text = host_end + 2;
        }
    } else {
        const char *colon = memchr(authority, ':', (size_t)(authority_end - authority));
        host_end = colon ? colon : authority_end;
        if (colon) {
            port_text = colon + 1;
        }
    }

    char host_text[INET6_ADDRSTRLEN];
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len >= sizeof host_text) {
        return usage("missing or overlong host");
    }
    memcpy(host_text, host, host_len);
    host_text[host_len] = '\0';

    long port = 80;
    if (port_text != NULL) {
        char *port_end;
        port = strtol(port_text, &port_end, 10);
        if (port_end != authority_end || port < 1 || port > 65535) {
            return usage("the port must be a number from 1 to 65535");
        }
    }

    struct sockaddr_storage address;
    socklen_t address_len;
    memset(&address, 0, sizeof address);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    if (inet_pton(AF_INET, host_text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        address_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host_text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        address_len = sizeof *v6;
    } else {
        return usage("the host must be an IP address such as 127.0.0.1 (names are not resolved)");
    }

    alarm(TIMEOUT_SECONDS);

    int fd = socket(address.ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        return unhealthy("cannot create a socket");
    }
    if (connect(fd, (struct sockaddr *)&address, address_len) != 0) {
        return unhealthy("connection failed");
    }

    char request[2048];
    int request_len = snprintf(request, sizeof request,
                               "GET %s HTTP/1.1\r\nHost: %.*s\r\n"
                               "User-Agent: gatehouse-healthcheck\r\nConnection: close\r\n\r\n",
                               path, (int)(authority_end - authority), authority);
    if (request_len < 0 || (size_t)request_len >= sizeof request) {
        return usage("the URL is too long");
    }
    for (int sent = 0; sent < request_len;) {
        ssize_t n = write(fd, request + sent, (size_t)(request_len - sent));
        if (n <= 0) {
            return unhealthy("sending the request failed");
        }
        sent += (int)n;
    }

    /* Only the status line matters: "HTTP/1.x 200 ...". */
    char status[64];
    size_t got = 0;
    while (got < sizeof status - 1 && memchr(status, '\n', got) == NULL) {
        ssize_t n = read(fd, status + got, sizeof status - 1 - got);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    status[got] = '\0';
    char *line_end = strpbrk(status, "\r\n");
    if (line_end != NULL) {
        *line_end = '\0';
    }
    if (strncmp(status, "HTTP/1.", 7) != 0 || got < 12 || status[8] != ' ') {
        return unhealthy("the answer is not HTTP");
    }
    if (strncmp(status + 9, "200", 3) != 0 || (status[12] != ' ' && status[12] != '\0')) {
        fprintf(stderr, "gatehouse-healthcheck: unhealthy: %s\n", status);
        return 1;
    }
    return 0;
}
