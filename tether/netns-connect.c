/* netns-connect: one port-forward connection of a runc pod, made inside the pod's network
 * namespace (what `kubectl port-forward` reaches on a kubelet).
 *
 *   netns-connect PORT      with fd 3 an open /proc/<pause>/ns/net of the pod's sandbox
 *
 * It joins that namespace, connects to 127.0.0.1:PORT (then [::1]:PORT, as the kubelet tries
 * both), closes stderr to say it is connected, and relays: stdin to the socket, the socket to
 * stdout; stdin's end becomes a half-close of the socket (shutdown SHUT_WR), the socket's end
 * closes stdout. A connect that fails leaves its reason on stderr and exits 1.
 *
 * Why a relaying process rather than handing the socket back: Node cannot receive a descriptor
 * over SCM_RIGHTS (only through its own IPC framing), and it cannot setns() a thread of its own
 * (libuv's threads would follow it into the pod). A process per connection, with pipes that
 * Node already handles with backpressure, is the least code and fails alone: nothing of the VCH
 * lives in the pod's namespace. The VCH opens the namespace file and checks the pause process
 * is still the one it knows after opening it, so a reused pid cannot redirect the connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NETNS_FD 3
#define BUF (256 * 1024)

static char up[BUF], down[BUF];

static int try_connect(int family, int port, char *why, size_t cap) {
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(why, cap, "socket: %s", strerror(errno));
        return -1;
    }
    int r;
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        r = connect(s, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((unsigned short)port)};
        a.sin6_addr = in6addr_loopback;
        r = connect(s, (struct sockaddr *)&a, sizeof a);
    }
    if (r < 0) {
        snprintf(why, cap, "%s: %s", family == AF_INET ? "127.0.0.1" : "[::1]", strerror(errno));
        close(s);
        return -1;
    }
    return s;
}

/* Writes all of buf: 0, or -1 when the other end is gone. */
static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    char *end = NULL;
    long port = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || *end || port < 1 || port > 65535) {
        fprintf(stderr, "usage: netns-connect PORT (with the network namespace on fd 3)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (setns(NETNS_FD, CLONE_NEWNET) < 0) {
        fprintf(stderr, "cannot enter the pod's network namespace: %s\n", strerror(errno));
        return 1;
    }
    close(NETNS_FD);
    char why4[160], why6[160];
    int s = try_connect(AF_INET, (int)port, why4, sizeof why4);
    if (s < 0) s = try_connect(AF_INET6, (int)port, why6, sizeof why6);
    if (s < 0) {
        fprintf(stderr, "failed to connect to localhost:%ld inside the pod's network namespace: "
                        "IPv4 %s, IPv6 %s\n", port, why4, why6);
        return 1;
    }
    close(2); /* connected */
    int in_open = 1, sock_open = 1;
    while (in_open || sock_open) {
        /* stdout is watched too: the VCH closing its end (the client went away) ends it all. */
        struct pollfd p[3] = {{in_open ? 0 : -1, POLLIN, 0},
                              {sock_open ? s : -1, POLLIN, 0},
                              {sock_open ? 1 : -1, 0, 0}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        if (p[2].revents & (POLLERR | POLLHUP)) return 1;
        if (p[0].revents) {
            ssize_t n = read(0, up, sizeof up);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                in_open = 0;
                shutdown(s, SHUT_WR);
            } else if (write_all(s, up, (size_t)n) < 0) {
                return 1; /* the server went away: nothing more to carry either way */
            }
        }
        if (p[1].revents) {
            ssize_t n = read(s, down, sizeof down);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                sock_open = 0;
                close(1);
                /* Nothing more comes back; what the client still sends has nowhere to go. */
                if (n < 0) return 1;
            } else if (write_all(1, down, (size_t)n) < 0) {
                return 1;
            }
        }
    }
    return 0;
}
