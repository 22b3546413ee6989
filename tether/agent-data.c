/* vic-agent, data: the data port and its channels (tether/protocol.h, "the data port"). A
 * channel carries one interactive exec's streams or one port-forward connection's bytes. The
 * agent reads the port whenever it can: what the host sends for a channel waits in that
 * channel's buffer (at most VIC_DATA_WINDOW bytes, which the host's credit keeps it within)
 * until its fd takes it, so a stalled exec or connection never blocks the port or the other
 * channels. The other way, a channel's fds are read only while it has credit and the port's
 * outgoing buffer has room for a frame.
 *
 * Nothing blocks: every fd is non-blocking, and a connection is made with a non-blocking
 * connect (a full listen backlog in a container must not stall PID 1). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"
#include "supervise.h"
#include "tokens.h"

/* The port's outgoing frames not yet taken: two full frames, so a channel can always queue one
 * while another is being written. */
#define OUT_CAP (4 * (VIC_FRAME_HEADER + VIC_FRAME_MAX))
/* Kept free of DATA for the small frames (EOF, CREDIT, RESET) every channel may need at once. */
#define OUT_RESERVE (2 * MAX_CHANS * (VIC_FRAME_HEADER + 4))
#define IN_CAP (4 * (VIC_FRAME_HEADER + VIC_FRAME_MAX))

enum chan_kind { CHAN_EXEC = 1, CHAN_CONN };

struct chan {
    uint32_t id; /* 0: the slot is free */
    enum chan_kind kind;
    int in_fd;        /* where the host's DATA goes; -1 once closed (or none) */
    int out_fd;       /* stdout, the terminal's master or the socket; -1 once at EOF */
    int err_fd;       /* an exec's stderr; -1 once at EOF (or none) */
    int tty;          /* in_fd and out_fd are the terminal's master */
    int sock;         /* in_fd and out_fd are the connection's socket */
    int connecting;   /* a connection being made: 4 (IPv4) or 6 (IPv6) */
    int port;
    char why4[160];   /* why the IPv4 connect failed */
    int reaped;       /* the exec's process is gone: its output ends at the next EAGAIN */
    int eof_sent;     /* our EOF (or RESET) is queued */
    int host_done;    /* the host's EOF or RESET has come (or there is no input) */
    int host_eof;     /* the host's EOF: close in_fd once inbuf is written */
    unsigned char *inbuf; /* the host's DATA not yet written to in_fd */
    size_t in_len;
    size_t consumed;      /* written to in_fd, not credited back yet */
    long long credit;     /* bytes we may still send the host */
};

int data_fd = -1;
static long long retry_ms;
static struct chan chans[MAX_CHANS];
static unsigned char outbuf[OUT_CAP];
static size_t out_len;
static unsigned char inraw[IN_CAP];
static size_t inraw_len;
static int rr; /* the channel read first at the next pump (round robin) */

int data_open(void) {
    data_fd = open_port(VIC_DATA_PORT, O_RDWR | O_NONBLOCK, PORT_WAIT_MS);
    return data_fd < 0 ? -1 : 0;
}

static int connected_now(void) {
    return data_fd >= 0 && sup_monotonic_ms() >= retry_ms;
}

static struct chan *find_chan(uint32_t id) {
    if (id == 0) return NULL;
    for (int i = 0; i < MAX_CHANS; i++)
        if (chans[i].id == id) return &chans[i];
    return NULL;
}

/* Queues a frame: 0, or -1 when the outgoing buffer has no room for it. */
static int queue_frame(uint32_t id, int type, const void *data, size_t len) {
    if (out_len + VIC_FRAME_HEADER + len > OUT_CAP) return -1;
    unsigned char *h = outbuf + out_len;
    h[0] = (unsigned char)(id >> 24);
    h[1] = (unsigned char)(id >> 16);
    h[2] = (unsigned char)(id >> 8);
    h[3] = (unsigned char)id;
    h[4] = (unsigned char)type;
    h[5] = 0;
    h[6] = (unsigned char)(len >> 8);
    h[7] = (unsigned char)len;
    if (len) memcpy(h + VIC_FRAME_HEADER, data, len);
    out_len += VIC_FRAME_HEADER + len;
    return 0;
}

/* Whether a full DATA frame fits, leaving the reserve. */
static int room_for_data(void) {
    return out_len + VIC_FRAME_HEADER + VIC_FRAME_MAX + OUT_RESERVE <= OUT_CAP;
}

static int queue_credit(struct chan *c) {
    if (!c->consumed) return 0;
    unsigned char n[4] = {(unsigned char)(c->consumed >> 24), (unsigned char)(c->consumed >> 16),
                          (unsigned char)(c->consumed >> 8), (unsigned char)c->consumed};
    if (queue_frame(c->id, VIC_FRAME_CREDIT, n, 4) < 0) return -1;
    c->consumed = 0;
    return 0;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Closes what the channel holds (in_fd and out_fd may be one fd) and frees its slot. */
static void chan_free(struct chan *c) {
    if (c->in_fd == c->out_fd) c->out_fd = -1;
    close_fd(&c->in_fd);
    close_fd(&c->out_fd);
    close_fd(&c->err_fd);
    free(c->inbuf);
    memset(c, 0, sizeof *c);
    c->in_fd = c->out_fd = c->err_fd = -1;
}

static void maybe_free(struct chan *c) {
    if (c->id && c->eof_sent && c->host_done) chan_free(c);
}

/* The agent gives the channel up: RESET to the host (when it has room; else the host learns
 * from the exec's exit or not at all, and its frames for the channel are dropped). */
static void give_up(struct chan *c) {
    queue_frame(c->id, VIC_FRAME_RESET, NULL, 0);
    chan_free(c);
}

void chan_refused(uint32_t id) {
    if (id && !find_chan(id) && connected_now()) queue_frame(id, VIC_FRAME_RESET, NULL, 0);
}

int chan_can_open(uint32_t id) {
    if (data_fd < 0 || !connected_now() || id == 0 || find_chan(id)) return 0;
    for (int i = 0; i < MAX_CHANS; i++)
        if (!chans[i].id) return 1;
    return 0;
}

static struct chan *new_chan(uint32_t id, enum chan_kind kind) {
    if (id == 0 || find_chan(id)) return NULL;
    for (int i = 0; i < MAX_CHANS; i++) {
        struct chan *c = &chans[i];
        if (c->id) continue;
        memset(c, 0, sizeof *c);
        c->inbuf = malloc(VIC_DATA_WINDOW);
        if (!c->inbuf) return NULL;
        c->id = id;
        c->kind = kind;
        c->in_fd = c->out_fd = c->err_fd = -1;
        c->credit = VIC_DATA_WINDOW;
        /* The host's first window: it sends nothing on the channel before this, so no frame
         * of it can come before the request that opens it (they travel on two ports). */
        c->consumed = VIC_DATA_WINDOW;
        queue_credit(c);
        return c;
    }
    return NULL;
}

int chan_open_exec(uint32_t id, int in_fd, int out_fd, int err_fd, int tty) {
    if (data_fd < 0 || !connected_now()) return -1;
    struct chan *c = new_chan(id, CHAN_EXEC);
    if (!c) return -1;
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->err_fd = err_fd;
    c->tty = tty;
    c->host_done = in_fd < 0;
    for (int *fd = &c->in_fd; fd <= &c->err_fd; fd++)
        if (*fd >= 0) fcntl(*fd, F_SETFL, O_NONBLOCK);
    return 0;
}

void chan_exec_reaped(uint32_t id) {
    struct chan *c = find_chan(id);
    if (c) c->reaped = 1;
}

int chan_output_done(uint32_t id) {
    struct chan *c = find_chan(id);
    return !c || c->eof_sent;
}

int chan_resize(uint32_t id, int cols, int rows) {
    struct chan *c = find_chan(id);
    if (!c || !c->tty || c->out_fd < 0) return -1;
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    return ioctl(c->out_fd, TIOCSWINSZ, &ws);
}

/* Starts a non-blocking connect to the loopback of `family`: 0 connected or in progress, -1
 * failed (why in why). */
static int start_connect(struct chan *c, int family, char *why, size_t cap) {
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
        snprintf(why, cap, "socket: %s", strerror(errno));
        return -1;
    }
    int r;
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        r = connect(s, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)c->port)};
        a.sin6_addr = in6addr_loopback;
        r = connect(s, (struct sockaddr *)&a, sizeof a);
    }
    if (r < 0 && errno != EINPROGRESS) {
        snprintf(why, cap, "%s: %s", family == AF_INET ? "127.0.0.1" : "[::1]", strerror(errno));
        close(s);
        return -1;
    }
    c->in_fd = c->out_fd = s;
    c->sock = 1;
    c->connecting = r < 0 ? (family == AF_INET ? 4 : 6) : 0;
    return 0;
}

static void send_connfail(uint32_t id, const char *why) {
    char enc[1024];
    token_encode(why, enc, sizeof enc);
    send_line(VIC_TO_HOST_CONNFAIL " %u %s", id, enc);
}

/* The IPv4 attempt failed (why4): IPv6, or the connection fails with both reasons. */
static void connect_v6(struct chan *c) {
    char why6[160];
    if (start_connect(c, AF_INET6, why6, sizeof why6) == 0) {
        if (!c->connecting) send_line(VIC_TO_HOST_CONNECTED " %u", c->id);
        return;
    }
    char why[400];
    snprintf(why, sizeof why, "failed to connect to localhost:%d inside the pod: %s; %s", c->port,
             c->why4, why6);
    send_connfail(c->id, why);
    chan_free(c);
}

void chan_connect(uint32_t id, int port) {
    if (data_fd < 0 || !connected_now()) return send_connfail(id, "the data port is not open");
    struct chan *c = new_chan(id, CHAN_CONN);
    if (!c) return send_connfail(id, "channel in use, or too many channels");
    c->port = port;
    if (start_connect(c, AF_INET, c->why4, sizeof c->why4) < 0) return connect_v6(c);
    if (!c->connecting) send_line(VIC_TO_HOST_CONNECTED " %u", c->id);
}

/* A connect in progress: done now? */
static void check_connect(struct chan *c) {
    int err = 0;
    socklen_t len = sizeof err;
    struct pollfd p = {c->out_fd, POLLOUT, 0};
    if (poll(&p, 1, 0) <= 0) return;
    if (getsockopt(c->out_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (!err) {
        c->connecting = 0;
        send_line(VIC_TO_HOST_CONNECTED " %u", c->id);
        return;
    }
    int family = c->connecting;
    close_fd(&c->out_fd);
    c->in_fd = -1;
    c->connecting = 0;
    if (family == 4) {
        snprintf(c->why4, sizeof c->why4, "127.0.0.1: %s", strerror(err));
        return connect_v6(c);
    }
    char why[400];
    snprintf(why, sizeof why, "failed to connect to localhost:%d inside the pod: %s; [::1]: %s",
             c->port, c->why4, strerror(err));
    send_connfail(c->id, why);
    chan_free(c);
}

/* One frame from the host. */
static void on_frame(uint32_t id, int type, const unsigned char *data, size_t len) {
    struct chan *c = find_chan(id);
    if (!c || c->connecting) return; /* gone already, or not ours yet: dropped */
    switch (type) {
    case VIC_FRAME_DATA:
        if (c->host_done || c->in_fd < 0) {
            /* After EOF, no stdin, or its reader gone: dropped, and credited (the host must not
             * wait for room that will never be made). */
            c->consumed += len;
            queue_credit(c);
            return;
        }
        if (c->in_len + len > VIC_DATA_WINDOW) {
            agent_log("channel %u: the host sent past its window", id);
            return give_up(c);
        }
        memcpy(c->inbuf + c->in_len, data, len);
        c->in_len += len;
        return;
    case VIC_FRAME_EOF:
        c->host_done = 1;
        c->host_eof = 1;
        return;
    case VIC_FRAME_CREDIT:
        if (len != 4) return give_up(c);
        c->credit += (long long)data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3];
        if (c->credit > VIC_DATA_WINDOW) c->credit = VIC_DATA_WINDOW;
        return;
    case VIC_FRAME_RESET:
        c->eof_sent = 1; /* no RESET back: the host has forgotten it */
        return chan_free(c);
    default:
        return give_up(c);
    }
}

static void reset_all(void) {
    for (int i = 0; i < MAX_CHANS; i++)
        if (chans[i].id) chan_free(&chans[i]);
    out_len = 0;
    inraw_len = 0;
}

static void read_frames(void) {
    for (;;) {
        ssize_t n = read(data_fd, inraw + inraw_len, sizeof inraw - inraw_len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        inraw_len += (size_t)n;
        size_t at = 0;
        while (inraw_len - at >= VIC_FRAME_HEADER) {
            const unsigned char *h = inraw + at;
            size_t len = (size_t)h[6] << 8 | h[7];
            if (len > VIC_FRAME_MAX) {
                /* Not a frame: the stream cannot be followed any more. */
                agent_log("data port: bad frame; resetting every channel");
                reset_all();
                return;
            }
            if (inraw_len - at < VIC_FRAME_HEADER + len) break;
            uint32_t id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
            on_frame(id, h[4], h + VIC_FRAME_HEADER, len);
            at += VIC_FRAME_HEADER + len;
        }
        memmove(inraw, inraw + at, inraw_len - at);
        inraw_len -= at;
    }
}

static void data_ready(short revents) {
    if (revents & POLLIN) read_frames();
    if (revents & POLLOUT && out_len) {
        ssize_t n = write(data_fd, outbuf, out_len);
        if (n > 0) {
            memmove(outbuf, outbuf + n, out_len - (size_t)n);
            out_len -= (size_t)n;
        }
    }
    /* No host on the socket: every channel was the host's that went away. */
    if (!(revents & POLLIN) && revents & (POLLHUP | POLLERR | POLLNVAL)) {
        retry_ms = sup_monotonic_ms() + 200;
        reset_all();
    }
}

/* Writes what the host sent to the channel's fd, credits it back, and closes (or half-closes)
 * its input after the host's EOF. */
static void push_input(struct chan *c) {
    if (c->connecting) return;
    if (c->in_fd < 0) { /* no stdin (or closed): an EOF has nothing to close */
        c->host_eof = 0;
        return;
    }
    while (c->in_len) {
        ssize_t n = write(c->in_fd, c->inbuf, c->in_len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) { /* the reader is gone: what is left is dropped (and credited) */
            if (c->kind == CHAN_CONN) {
                agent_log("channel %u: writing to port %d: %s", c->id, c->port,
                          n < 0 ? strerror(errno) : "nothing written");
                return give_up(c);
            }
            c->consumed += c->in_len;
            c->in_len = 0;
            if (!c->tty) close_fd(&c->in_fd);
            break;
        }
        memmove(c->inbuf, c->inbuf + n, c->in_len - (size_t)n);
        c->in_len -= (size_t)n;
        c->consumed += (size_t)n;
    }
    if (c->consumed >= VIC_DATA_WINDOW / 4 || (c->consumed && !c->in_len)) queue_credit(c);
    if (c->host_eof && !c->in_len) {
        c->host_eof = 0;
        if (c->sock) shutdown(c->in_fd, SHUT_WR);
        else if (!c->tty) close_fd(&c->in_fd); /* a terminal's input just stops */
    }
}

/* Reads one chunk of fd into a frame: 1 when it made one; at EOF (or with the exec's process
 * gone and nothing left now: an orphan may hold the pipe) the fd is done. */
static int read_output(struct chan *c, int *fd, int type) {
    static unsigned char chunk[VIC_FRAME_MAX];
    if (*fd < 0 || c->credit <= 0 || !room_for_data()) return 0;
    size_t want = c->credit < VIC_FRAME_MAX ? (size_t)c->credit : VIC_FRAME_MAX;
    ssize_t n = read(*fd, chunk, want);
    if (n < 0 && errno == EINTR) return 0;
    if (n > 0) {
        queue_frame(c->id, type, chunk, (size_t)n);
        c->credit -= n;
        return 1;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN) || c->reaped) {
        /* EOF; EIO from a terminal whose last slave is closed; or the process gone. */
        if (*fd == c->in_fd) {
            if (c->sock) { /* the peer half-closed: it may still read */
                *fd = -1;
                return 0;
            }
            c->in_fd = -1;
            c->in_len = 0;
            if (c->tty) c->host_done = 1; /* the terminal is gone: no input goes anywhere */
        }
        close_fd(fd);
    }
    return 0;
}

static void pump_chan(struct chan *c) {
    if (c->connecting) return check_connect(c);
    push_input(c);
    if (!c->id) return;
    for (int i = 0; i < 4; i++) /* a few frames per channel and pass: fair to the others */
        if (!read_output(c, &c->out_fd, VIC_FRAME_DATA) &&
            !read_output(c, &c->err_fd, VIC_FRAME_STDERR))
            break;
    if (!c->eof_sent && c->out_fd < 0 && c->err_fd < 0) {
        if (queue_frame(c->id, VIC_FRAME_EOF, NULL, 0) == 0) c->eof_sent = 1;
    }
    maybe_free(c);
}

void chans_pump(const struct pollfd *p, int np) {
    if (data_fd < 0) return;
    for (int i = 0; i < np; i++)
        if (p[i].fd == data_fd && p[i].revents) data_ready(p[i].revents);
    for (int k = 0; k < MAX_CHANS; k++) {
        struct chan *c = &chans[(rr + k) % MAX_CHANS];
        if (c->id) pump_chan(c);
    }
    rr = (rr + 1) % MAX_CHANS;
    if (out_len && connected_now()) {
        ssize_t n = write(data_fd, outbuf, out_len);
        if (n > 0) {
            memmove(outbuf, outbuf + n, out_len - (size_t)n);
            out_len -= (size_t)n;
        }
    }
}

int chans_poll_fds(struct pollfd *p, int *timeout) {
    if (data_fd < 0) return 0;
    int n = 0;
    if (!connected_now()) {
        if (*timeout < 0 || *timeout > 200) *timeout = 200;
        return 0;
    }
    p[n++] = (struct pollfd){data_fd, (short)(POLLIN | (out_len ? POLLOUT : 0)), 0};
    int room = room_for_data();
    for (int i = 0; i < MAX_CHANS; i++) {
        struct chan *c = &chans[i];
        if (!c->id) continue;
        if (c->connecting) {
            p[n++] = (struct pollfd){c->out_fd, POLLOUT, 0};
            continue;
        }
        short in_ev = c->in_fd >= 0 && c->in_len ? POLLOUT : 0;
        if (c->in_fd >= 0 && c->in_fd == c->out_fd) {
            short ev = (short)(in_ev | (room && c->credit > 0 ? POLLIN : 0));
            if (ev) p[n++] = (struct pollfd){c->out_fd, ev, 0};
        } else {
            if (in_ev) p[n++] = (struct pollfd){c->in_fd, POLLOUT, 0};
            if (c->out_fd >= 0 && room && c->credit > 0) p[n++] = (struct pollfd){c->out_fd, POLLIN, 0};
        }
        if (c->err_fd >= 0 && room && c->credit > 0) p[n++] = (struct pollfd){c->err_fd, POLLIN, 0};
        /* Work that needs no event: a reaped exec's last output, an EOF to queue. */
        if ((c->reaped && c->credit > 0 && room) || (!c->eof_sent && c->out_fd < 0 && c->err_fd < 0))
            *timeout = 0;
        if (c->host_eof && !c->in_len) *timeout = 0;
    }
    return n;
}
