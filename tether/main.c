/* vic tether, container mode: the init of a runc container. It runs the container's process,
 * writes its stdout and stderr as iolog entries straight to the log fd it was handed (opened
 * O_APPEND by the VCH), forwards signals to it, reaps orphans, and writes `started` and `exited`
 * records (tether/protocol.h) to the status fd it was handed. Nothing on the host reads the
 * container's output: the log keeps growing while the VCH is down. Both fds are close-on-exec,
 * and the tether is not dumpable, so the container's process (root in it, without
 * CAP_SYS_PTRACE) can neither inherit them nor open them through /proc/1/fd.
 *
 *   tether [--log-fd N] [--status-fd N] [--user UID:GID[:G1,G2...]] [--caps HEX]
 *          [--no-new-privs] [--log-dir-fd N --log-name NAME --log-max-size BYTES
 *          --log-max-files N] [--exec-fd N]
 *          [--stdin] [--tty] [--stdin-once] [--attach-fd N]
 *          -- ARGV...                                  run ARGV (log defaults to fd 1, no
 *                                                       status records without --status-fd),
 *                                                       as that user and those groups if given,
 *                                                       with at most the capabilities of mask
 *                                                       HEX (bit N: capability N) and
 *                                                       no_new_privs if asked; the log
 *                                                       rotated in directory fd N where it
 *                                                       is named NAME (iolog-out.c); execs
 *                                                       taken on listening socket fd N
 *                                                       (exec-server.h); with --stdin
 *                                                       its stdin a pipe, with --tty a
 *                                                       terminal, both held by the tether
 *                                                       for attach sessions on listening
 *                                                       socket fd N (attach-server.h)
 *   tether --console-relay SOCKET PIDFILE -- RUNC ...   runc exec with a terminal: relay
 *                                                       its pty master (console-relay.c)
 *   tether --pause                                      hold a sandbox's namespaces: reap,
 *                                                       exit 0 on SIGTERM or SIGINT
 *   tether --iolog-replay START STEP                    test only: frames on stdin (stream
 *                                                       byte, uint32 LE length, bytes) become
 *                                                       entries on stdout, with the vectors'
 *                                                       stepping clock
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include "attach-server.h"
#include "console-relay.h"
#include "exec-server.h"
#include "iolog.h"
#include "protocol.h"
#include "status.h"
#include "supervise.h"
#include "tokens.h"

static struct iolog_writer writer; /* large: static storage */

static void usage(void) {
    fprintf(stderr, "usage: tether [--log-fd N] [--status-fd N] [--user UID:GID[:G,...]] "
                    "[--caps HEX] [--no-new-privs] [--log-dir-fd N --log-name NAME "
                    "--log-max-size BYTES --log-max-files N] [--exec-fd N] [--stdin] [--tty] "
                    "[--stdin-once] [--attach-fd N] -- ARGV...\n"
                    "       tether --pause\n");
    exit(2);
}

static int read_full(int fd, void *buf, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t r = read(fd, (char *)buf + off, n - off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return off == 0 && r == 0 ? 0 : -1;
        off += (size_t)r;
    }
    return 1;
}

static int replay(const char *start, const char *step) {
    long long s, st;
    if (token_parse_ll(start, &s) < 0 || token_parse_ll(step, &st) < 0) usage();
    struct iolog_stepping_clock clock = {s, st};
    iolog_init(&writer, 1, iolog_stepping_ns, &clock);
    static unsigned char buf[1 << 20];
    for (;;) {
        unsigned char head[5];
        int r = read_full(0, head, 5);
        if (r == 0) break;
        size_t len = head[1] | head[2] << 8 | head[3] << 16 | (size_t)head[4] << 24;
        if (r < 0 || len > sizeof buf || read_full(0, buf, len) != 1) {
            fprintf(stderr, "tether: bad replay frame\n");
            return 2;
        }
        if (iolog_write(&writer, head[0], buf, len) < 0) return 1;
    }
    return iolog_close(&writer) < 0 ? 1 : 0;
}

static int pause_forever(void) {
    int sfd = sup_signals_init();
    if (sfd < 0) {
        perror("tether: signalfd");
        return 1;
    }
    for (;;) {
        struct pollfd p = {sfd, POLLIN, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) return 1;
        struct signalfd_siginfo si;
        while (sup_read_signal(sfd, &si) == 1) {
            if (si.ssi_signo == SIGCHLD) sup_reap(NULL, NULL);
            else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) return 0;
        }
    }
}

struct main_child {
    pid_t pid;
    int exited;
    int wstatus;
};

static void on_exit_of(pid_t pid, int wstatus, void *ctx) {
    struct main_child *c = ctx;
    if (pid == c->pid) {
        c->exited = 1;
        c->wstatus = wstatus;
    } else {
        exec_server_reaped(pid, wstatus);
    }
}

#define MAX_GROUPS 256

/* The child's user: "UID:GID" or "UID:GID:G1,G2,...", numbers only (names were resolved by the
 * runtime in the image's /etc/passwd: a static binary has no NSS). */
static int parse_user(const char *s, struct sup_spawn_opts *o) {
    static gid_t groups[MAX_GROUPS];
    char *end;
    errno = 0;
    unsigned long uid = strtoul(s, &end, 10);
    if (errno || end == s || *end != ':') return -1;
    s = end + 1;
    unsigned long gid = strtoul(s, &end, 10);
    if (errno || end == s || (*end && *end != ':')) return -1;
    size_t n = 0;
    if (*end == ':' && end[1]) {
        s = end + 1;
        for (;;) {
            unsigned long g = strtoul(s, &end, 10);
            if (errno || end == s || n == MAX_GROUPS || (*end && *end != ',')) return -1;
            groups[n++] = (gid_t)g;
            if (!*end) break;
            s = end + 1;
        }
    }
    o->set_user = 1;
    o->uid = (uid_t)uid;
    o->gid = (gid_t)gid;
    o->groups = groups;
    o->ngroups = n;
    return 0;
}

/* Writes a status record, when a status fd was handed in. */
static void record(int status_fd, const char *line) {
    if (status_fd >= 0 && status_write_line(status_fd, line) < 0) perror("tether: status");
}

struct rotation {
    long long dir_fd; /* -1: none */
    const char *name;
    long long max_size;
    long long max_files;
};

/* The container's own stdin and terminal (attach-server.h). */
struct stdio_opts {
    int stdin_open; /* --stdin: a pipe the tether holds the write end of */
    int tty;        /* --tty: a terminal whose master the tether holds */
    int stdin_once; /* --stdin-once */
    long long attach_fd; /* --attach-fd, -1: none */
};

/* Makes the process's terminal: a pty of the container's own devpts (opened in the container,
 * as runc would with terminal: true), 80x24 until the first resize. 0 with the master and the
 * slave, or -1 with a message in err. */
static int open_terminal(int *master, int *slave, char *err, size_t errlen) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    char name[64];
    if (m < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) {
        snprintf(err, errlen, "terminal: %s", strerror(errno));
        if (m >= 0) close(m);
        return -1;
    }
    int sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sl < 0) {
        snprintf(err, errlen, "terminal %s: %s", name, strerror(errno));
        close(m);
        return -1;
    }
    struct winsize ws = {24, 80, 0, 0};
    ioctl(m, TIOCSWINSZ, &ws);
    fcntl(m, F_SETFL, O_NONBLOCK);
    *master = m;
    *slave = sl;
    return 0;
}

static int run(char **argv, int log_fd, int status_fd, struct sup_spawn_opts *opts,
               const struct rotation *rot, const struct stdio_opts *io) {
    char line[STATUS_MAX_LINE];
    if (iolog_init(&writer, log_fd, iolog_realtime_ns, NULL) < 0) {
        fprintf(stderr, "tether: log: out of memory\n");
        return 1;
    }
    writer.one_stamp = 1;
    if (rot->dir_fd >= 0)
        iolog_rotate_at(&writer, (int)rot->dir_fd, rot->name, rot->max_size, (int)rot->max_files);
    int sfd = sup_signals_init();
    if (sfd < 0) {
        perror("tether: signalfd");
        return 1;
    }
    opts->argv = argv;
    opts->stdin_fd = 0;
    struct sup_child child;
    char err[512];
    long long started = sup_now_ns();
    int master = -1, in_pipe[2] = {-1, -1}, spawned = -1;
    if (io->tty) {
        if (open_terminal(&master, &opts->tty_fd, err, sizeof err) == 0) {
            opts->use_tty = 1;
            spawned = sup_spawn(opts, &child, err, sizeof err);
            close(opts->tty_fd); /* the process has it: the master sees EIO once it is gone */
        } else {
            errno = EIO;
        }
    } else if (io->stdin_open) {
        if (pipe2(in_pipe, O_CLOEXEC) == 0) {
            opts->stdin_fd = in_pipe[0];
            spawned = sup_spawn(opts, &child, err, sizeof err);
            close(in_pipe[0]);
            fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
        } else {
            snprintf(err, sizeof err, "stdin pipe: %s", strerror(errno));
        }
    } else {
        spawned = sup_spawn(opts, &child, err, sizeof err);
    }
    if (spawned < 0) {
        int code = sup_exec_fail_code(errno);
        /* The reason goes where the user looks for it: the container's log, as stderr. */
        char msg[600];
        int n = snprintf(msg, sizeof msg, "tether: %s\n", err);
        iolog_write(&writer, 1, (unsigned char *)msg, (size_t)n);
        iolog_close(&writer);
        struct status_exit e = {code, 0, started, sup_now_ns(), 0, err};
        status_format_exited(line, "", &e);
        record(status_fd, line);
        return code;
    }
    status_format_started(line, "", child.pid, started);
    record(status_fd, line);

    struct main_child mc = {child.pid, 0, 0};
    int out = child.out_fd, errfd = child.err_fd;
    iolog_grow_pipe(out);
    iolog_grow_pipe(errfd);
    /* With a terminal, its output is the stdout stream; the master's duplicate takes input and
     * resizes (the log's copy closes at the process's EIO). Without attach fd, stdin stays
     * open with no writer but the tether: the process waits for input that never comes, as
     * Docker's -i without an attach. */
    int attaching = 0;
    if (master >= 0) {
        out = master;
        int term = fcntl(master, F_DUPFD_CLOEXEC, 3);
        if (io->attach_fd >= 0 && term >= 0)
            attaching = attach_server_init((int)io->attach_fd, io->stdin_open ? term : -1, term,
                                           io->stdin_once) == 0;
    } else if (io->attach_fd >= 0) {
        attaching = attach_server_init((int)io->attach_fd, in_pipe[1], -1, io->stdin_once) == 0;
    }
    if (!attaching && io->attach_fd >= 0) perror("tether: attach fd");
    long long exited_at = 0;
    for (;;) {
        /* While the disk is full the pipes wait (poll ignores negative fds): the process
         * blocks on its output until the log takes it again. */
        int take = !iolog_stalled(&writer);
        struct pollfd p[3 + EXEC_POLL_MAX + ATTACH_POLL_MAX] = {
            {sfd, POLLIN, 0}, {take ? out : -1, POLLIN, 0}, {take ? errfd : -1, POLLIN, 0}};
        /* Once the process has exited, take what is already in the pipes and stop: orphans
         * that still hold them open do not keep the container alive. */
        int timeout = mc.exited ? 0 : iolog_timeout_ms(&writer);
        int nexec = mc.exited ? 0 : exec_server_poll(p + 3, &timeout);
        int nattach = mc.exited ? 0 : attach_server_poll(p + 3 + nexec);
        int r = poll(p, (nfds_t)(3 + nexec + nattach), timeout);
        if (r < 0 && errno != EINTR) {
            perror("tether: poll");
            break;
        }
        struct signalfd_siginfo si;
        while (sup_read_signal(sfd, &si) == 1) {
            if (si.ssi_signo == SIGCHLD) sup_reap(on_exit_of, &mc);
            else if (!mc.exited) kill(mc.pid, (int)si.ssi_signo);
        }
        /* Also when poll timed out: an exec reaped since the last pass has its exit to send. */
        if (nexec > 0) exec_server_handle(p + 3, nexec);
        if (nattach > 0 && r > 0) attach_server_handle(p + 3 + nexec, nattach);
        if (mc.exited) attach_server_close();
        size_t got = 0;
        if (r > 0 && (p[1].revents || p[2].revents)) {
            got += iolog_pump(&writer, &out, 0);
            got += iolog_pump(&writer, &errfd, 1);
            /* Interactive output (a terminal, or an attachable stdin) is not line-bound: what
             * is there goes out now, not when a newline comes. */
            if (master >= 0 || io->stdin_open) {
                iolog_cut_partial(&writer, 0);
                iolog_cut_partial(&writer, 1);
            }
        }
        iolog_tick(&writer);
        if (!mc.exited) {
            sup_reap(on_exit_of, &mc); /* SIGCHLD may be merged with one already read */
            continue;
        }
        if (out < 0 && errfd < 0) break;
        if (r == 0 || (r > 0 && got == 0 && !(p[0].revents))) break;
        /* An orphan that keeps writing must not keep a finished container from exiting. */
        if (!exited_at) exited_at = sup_now_ns();
        else if (sup_now_ns() - exited_at > 500000000LL) break;
    }
    if (iolog_close(&writer) < 0) fprintf(stderr, "tether: log: %s\n", strerror(writer.error));
    /* OOM 0: the host reads runc's cgroup itself. */
    struct status_exit e = {sup_exit_code(mc.wstatus), sup_exit_signal(mc.wstatus), started,
                            sup_now_ns(), 0, NULL};
    status_format_exited(line, "", &e);
    record(status_fd, line);
    return e.exit_code;
}

/* Checks an fd the VCH handed in and makes it close-on-exec: the container's process must not
 * write around us. The status fd is append-only, so each record lands whole at the end. */
static int handed_fd(long long fd, const char *what, int append) {
    int fl = fd <= INT_MAX ? fcntl((int)fd, F_GETFL) : (errno = EBADF, -1);
    if (fl < 0 || fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0 ||
        (append && fcntl((int)fd, F_SETFL, fl | O_APPEND) < 0)) {
        fprintf(stderr, "tether: %s fd %lld: %s\n", what, fd, strerror(errno));
        return -1;
    }
    return (int)fd;
}

int main(int argc, char **argv) {
    /* First thing: from here on, /proc/<our pid>/fd and friends are root's alone and need
     * CAP_SYS_PTRACE, which a container's process does not have. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    long long log_fd = 1, status_fd = -1, exec_fd = -1;
    struct stdio_opts io = {0, 0, 0, -1};
    struct rotation rot = {-1, NULL, 0, 0};
    struct sup_spawn_opts opts = {0};
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--pause")) return pause_forever();
        if (!strcmp(a, "--console-relay")) {
            if (i + 4 >= argc || strcmp(argv[i + 3], "--")) usage();
            return console_relay(argv[i + 1], argv[i + 2], argv + i + 4);
        }
        if (!strcmp(a, "--iolog-replay")) {
            if (i + 2 >= argc) usage();
            return replay(argv[i + 1], argv[i + 2]);
        }
        if (!strcmp(a, "--log-fd") && i + 1 < argc) {
            if (token_parse_ll(argv[++i], &log_fd) < 0 || log_fd < 0) usage();
        } else if (!strcmp(a, "--status-fd") && i + 1 < argc) {
            if (token_parse_ll(argv[++i], &status_fd) < 0 || status_fd < 0) usage();
        } else if (!strcmp(a, "--user") && i + 1 < argc) {
            if (parse_user(argv[++i], &opts) < 0) usage();
        } else if (!strcmp(a, "--caps") && i + 1 < argc) {
            char *end;
            errno = 0;
            opts.caps = strtoull(argv[++i], &end, 16);
            if (errno || end == argv[i] || *end) usage();
            opts.set_caps = 1;
        } else if (!strcmp(a, "--log-dir-fd") && i + 1 < argc) {
            if (token_parse_ll(argv[++i], &rot.dir_fd) < 0 || rot.dir_fd < 0) usage();
        } else if (!strcmp(a, "--log-name") && i + 1 < argc) {
            rot.name = argv[++i];
            if (!*rot.name || strchr(rot.name, '/') || strlen(rot.name) > 200) usage();
        } else if (!strcmp(a, "--log-max-size") && i + 1 < argc) {
            if (token_parse_ll(argv[++i], &rot.max_size) < 0 || rot.max_size < IOLOG_MAX_ENTRY)
                usage();
        } else if (!strcmp(a, "--log-max-files") && i + 1 < argc) {
            if (token_parse_ll(argv[++i], &rot.max_files) < 0 || rot.max_files < 2 ||
                rot.max_files > 1000)
                usage();
        } else if (!strcmp(a, "--exec-fd") && i + 1 < argc) {
            if (token_parse_ll(argv[++i], &exec_fd) < 0 || exec_fd < 0 || exec_fd > INT_MAX)
                usage();
        } else if (!strcmp(a, "--attach-fd") && i + 1 < argc) {
            if (token_parse_ll(argv[++i], &io.attach_fd) < 0 || io.attach_fd < 0 ||
                io.attach_fd > INT_MAX)
                usage();
        } else if (!strcmp(a, "--stdin")) {
            io.stdin_open = 1;
        } else if (!strcmp(a, "--stdin-once")) {
            io.stdin_once = 1;
        } else if (!strcmp(a, "--tty")) {
            io.tty = 1;
        } else if (!strcmp(a, "--no-new-privs")) {
            opts.no_new_privs = 1;
        } else if (!strcmp(a, "--")) {
            i++;
            break;
        } else {
            usage();
        }
    }
    if (i >= argc) usage();
    int log = handed_fd(log_fd, "log", 0);
    int status = status_fd < 0 ? -1 : handed_fd(status_fd, "status", 1);
    if (log < 0 || (status_fd >= 0 && status < 0)) return 1;
    if (rot.dir_fd >= 0) {
        if (!rot.name || !rot.max_size || !rot.max_files) usage();
        if (handed_fd(rot.dir_fd, "log directory", 0) < 0) return 1;
    }
    if (exec_fd >= 0 && exec_server_init((int)exec_fd, &opts) < 0) {
        fprintf(stderr, "tether: exec fd %lld: %s\n", exec_fd, strerror(errno));
        return 1;
    }
    if (io.attach_fd >= 0 && handed_fd(io.attach_fd, "attach", 0) < 0) return 1;
    return run(argv + i, log, status, &opts, &rot, &io);
}
