/* vic tether, console-relay mode: the host side of `runc exec` with a terminal.
 *
 *   tether --console-relay SOCKET PIDFILE -- RUNC ARGS...
 *
 * runc hands the pty master of a terminal exec to an AF_UNIX socket (--console-socket) as an
 * SCM_RIGHTS message, which Node cannot receive. Rather than an npm pty module or a second
 * program, the tether (already built and shipped for every container) does it in ~200 lines:
 * it listens on SOCKET, runs RUNC ARGS (which must name the same --console-socket and
 * --pid-file PIDFILE), takes the master, and relays: its stdin to the master, the master to its
 * stdout. Fd 3, when open, is a pipe of resize lines "COLS ROWS\n" applied with TIOCSWINSZ.
 * runc only takes a console socket with --detach, so, as containerd's shim does, the relay is
 * a child subreaper: once runc has exited, the exec'd process (PIDFILE) is its child, and its
 * exit status is ours. Output still in the pty when it exits is drained until the terminal is
 * closed (EIO), or 200 ms pass without output (an orphan holding the terminal open). runc's
 * own stderr is ours, so its error reaches the host. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "console-relay.h"

#define RELAY_BUF 65536
#define RESIZE_FD 3

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, -1);
            continue;
        }
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The master fd of one SCM_RIGHTS message on a connection, or -1. */
static int receive_fd(int conn) {
    char name[4096];
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {name, sizeof name};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int)))
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/* Applies each complete "COLS ROWS\n" line in buf (len bytes); keeps a partial one. */
static size_t apply_resizes(int master, char *buf, size_t len) {
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n') continue;
        buf[i] = '\0';
        unsigned cols, rows;
        if (sscanf(buf + start, "%u %u", &cols, &rows) == 2 && cols < 65536 && rows < 65536) {
            struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
            ioctl(master, TIOCSWINSZ, &ws);
        }
        start = i + 1;
    }
    memmove(buf, buf + start, len - start);
    return len - start;
}

static int exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

/* The pid runc wrote, or -1. */
static pid_t read_pid(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    char buf[32] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    long v = n > 0 ? strtol(buf, NULL, 10) : -1;
    return v > 1 ? (pid_t)v : -1;
}

/* Reaps what has ended; sets *status and returns 1 once `target` has. */
static int reap(pid_t target, int *status) {
    int st, done = 0;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0)
        if (p == target) {
            *status = st;
            done = 1;
        }
    return done;
}

int console_relay(const char *sock_path, const char *pid_file, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof addr.sun_path) {
        fprintf(stderr, "console-relay: socket path too long\n");
        return 2;
    }
    strcpy(addr.sun_path, sock_path);
    int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (lsock < 0 || bind(lsock, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(lsock, 1) < 0) {
        fprintf(stderr, "console-relay: %s: %s\n", sock_path, strerror(errno));
        return 2;
    }
    pid_t runc = fork();
    if (runc < 0) return 2;
    if (runc == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        close(RESIZE_FD);
        execvp(argv[0], argv);
        fprintf(stderr, "console-relay: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    /* runc (detached) sends the master, writes the pid file and exits; its failure is its
     * exit status, and it said why on stderr. */
    int status = 0, master = -1;
    if (waitpid(runc, &status, 0) != runc || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        unlink(sock_path);
        return WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 255;
    }
    int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
    if (conn >= 0) {
        master = receive_fd(conn);
        close(conn);
    }
    close(lsock);
    unlink(sock_path);
    pid_t target = read_pid(pid_file);
    if (master < 0 || target < 0) {
        fprintf(stderr, "console-relay: runc gave no terminal or no pid\n");
        return 255;
    }
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);

    static char in[RELAY_BUF], out[RELAY_BUF];
    char rs[256];
    size_t in_len = 0, in_off = 0, rs_len = 0;
    int exited = 0, stdin_open = 1, resize_open = fcntl(RESIZE_FD, F_GETFD) >= 0;
    for (;;) {
        if (!exited) exited = reap(target, &status);
        struct pollfd pf[3] = {
            {master, POLLIN | (in_len > in_off ? POLLOUT : 0), 0},
            {stdin_open && in_len == in_off ? 0 : -1, POLLIN, 0},
            {resize_open ? RESIZE_FD : -1, POLLIN, 0},
        };
        /* A short wait while it runs: its exit (we have no SIGCHLD handler) is polled. */
        int n = poll(pf, 3, exited ? 200 : 50);
        if (n < 0 && errno != EINTR) break;
        if (n == 0 && exited) break; /* drained: nothing more within 200 ms */
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(master, out, sizeof out);
            if (r > 0) {
                if (write_all(1, out, (size_t)r) < 0) break;
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                break; /* EIO: the terminal's last holder closed it */
            }
        }
        if ((pf[0].revents & POLLOUT) && in_len > in_off) {
            ssize_t w = write(master, in + in_off, in_len - in_off);
            if (w > 0) in_off += (size_t)w;
            if (in_off == in_len) in_len = in_off = 0;
        }
        if (pf[1].revents & (POLLIN | POLLHUP)) {
            ssize_t r = read(0, in, sizeof in);
            if (r > 0) {
                in_len = (size_t)r;
                in_off = 0;
            } else if (r == 0 || errno != EINTR) {
                stdin_open = 0;
            }
        }
        if (pf[2].revents & (POLLIN | POLLHUP)) {
            ssize_t r = read(RESIZE_FD, rs + rs_len, sizeof rs - rs_len);
            if (r <= 0) resize_open = 0;
            else rs_len = apply_resizes(master, rs, rs_len + (size_t)r);
            if (rs_len == sizeof rs) rs_len = 0; /* a line that long is junk */
        }
    }
    close(master);
    while (!exited) {
        exited = reap(target, &status);
        if (!exited) usleep(10000);
    }
    return exit_code(status);
}
