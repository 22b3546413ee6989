/* The runc tether's exec server: see exec-server.h. */
#include "exec-server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol.h"
#include "tokens.h"

#define EXEC_ID_MAX 32
#define MAX_ARGS 4096
#define MAX_GROUPS 64
#define OUT_LINE_MAX (200 + (VIC_EXEC_CHUNK + 2) / 3 * 4 + 2 * SUP_REPORT_MAX)

struct session {
    int used;
    int conn;      /* -1 once the VCH hung up */
    char *in;      /* the request line as it arrives (VIC_MAX_LINE at most) */
    size_t in_len;
    char exec_id[EXEC_ID_MAX + 1];
    pid_t pid;     /* the exec's process while it runs; 0 before and once reaped */
    int ran;       /* it was started */
    int code;      /* its exit code, once reaped */
    int out, err;  /* read ends of its stdout and stderr; -1 once closed */
    char error[SUP_REPORT_MAX + 64];
    char line[OUT_LINE_MAX]; /* the line the VCH has not taken yet */
    size_t line_len, line_off;
    int exit_queued; /* the held line is the execexit */
};

static struct session sessions[EXEC_SESSIONS];
static int listen_sock = -1;
static struct sup_spawn_opts container_opts;

int exec_server_init(int listen_fd, const struct sup_spawn_opts *container) {
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(listen_fd, F_SETFD, FD_CLOEXEC) < 0)
        return -1;
    listen_sock = listen_fd;
    container_opts = *container;
    return 0;
}

static void end_session(struct session *s) {
    if (s->conn >= 0) close(s->conn);
    if (s->out >= 0) close(s->out);
    if (s->err >= 0) close(s->err);
    free(s->in);
    memset(s, 0, sizeof *s);
}

/* Holds the execexit line: the exec is over (or never ran: code and error say why). */
static void queue_exit(struct session *s) {
    char enc[2 * SUP_REPORT_MAX];
    token_encode(s->error, enc, sizeof enc);
    s->line_len = (size_t)snprintf(s->line, sizeof s->line, VIC_TO_HOST_EXECEXIT " - %s %d %s\n",
                                   *s->exec_id ? s->exec_id : "-", s->code, enc);
    s->line_off = 0;
    s->exit_queued = 1;
}

static void refuse(struct session *s, const char *why) {
    snprintf(s->error, sizeof s->error, "%s", why);
    s->code = 126;
    queue_exit(s);
}

static int valid_exec_id(const char *id) {
    size_t n = strlen(id);
    if (n < 1 || n > EXEC_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z'))) return 0;
    return 1;
}

/* exec - EXECID UID GID GIDS CWD ARGC ARG... ENVC ENV...: starts it, or refuses. */
static void start(struct session *s, char **tok, int nt) {
    static char *argv[MAX_ARGS], *envp[MAX_ARGS];
    static gid_t groups[MAX_GROUPS];
    if (nt < 1 + VIC_TO_GUEST_EXEC_NFIELDS || strcmp(tok[0], VIC_TO_GUEST_EXEC) || *tok[1])
        return refuse(s, "not an exec request for this container");
    if (!valid_exec_id(tok[2])) return refuse(s, "bad exec id");
    snprintf(s->exec_id, sizeof s->exec_id, "%s", tok[2]);
    long long uid, gid, argc, envc;
    if (token_parse_ll(tok[3], &uid) < 0 || token_parse_ll(tok[4], &gid) < 0 || uid < 0 ||
        gid < 0 || uid > 0xfffffffeLL || gid > 0xfffffffeLL)
        return refuse(s, "bad uid or gid");
    size_t ngroups = 0;
    for (char *g = tok[5], *end; *g; g = *end ? end + 1 : end) {
        long long v = strtoll(g, &end, 10);
        if (end == g || (*end && *end != ',') || v < 0 || v > 0xfffffffeLL ||
            ngroups == MAX_GROUPS)
            return refuse(s, "bad groups");
        groups[ngroups++] = (gid_t)v;
    }
    if (token_parse_ll(tok[7], &argc) < 0 || argc < 1 || argc >= MAX_ARGS || 8 + argc >= nt)
        return refuse(s, "bad argv");
    if (token_parse_ll(tok[8 + argc], &envc) < 0 || envc < 0 || envc >= MAX_ARGS ||
        9 + argc + envc != nt)
        return refuse(s, "bad env");
    for (long long i = 0; i < argc; i++) argv[i] = tok[8 + i];
    argv[argc] = NULL;
    for (long long i = 0; i < envc; i++) envp[i] = tok[9 + argc + i];
    envp[envc] = NULL;

    struct sup_spawn_opts o = container_opts;
    o.argv = argv;
    o.envp = envp;
    o.cwd = *tok[6] ? tok[6] : "/";
    o.stdin_fd = -1;
    o.use_tty = 0; /* an exec without a terminal, whatever the container has */
    o.set_user = 1;
    o.uid = (uid_t)uid;
    o.gid = (gid_t)gid;
    o.groups = groups;
    o.ngroups = ngroups;
    struct sup_child c;
    if (sup_spawn(&o, &c, s->error, sizeof s->error) < 0) {
        s->code = sup_exec_fail_code(errno);
        return queue_exit(s);
    }
    s->pid = c.pid;
    s->ran = 1;
    s->out = c.out_fd;
    s->err = c.err_fd;
}

/* Takes a request line once it is whole; execsignal lines after it; EOF kills the exec. */
static void read_conn(struct session *s) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(s->conn, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            /* The VCH hung up (or gave up): the exec goes, nothing more is sent. */
            close(s->conn);
            s->conn = -1;
            if (s->pid) kill(s->pid, SIGKILL);
            return;
        }
        if (s->in_len + (size_t)n > VIC_MAX_LINE) return refuse(s, "request too long");
        if (!s->in && !(s->in = malloc(VIC_MAX_LINE + 1))) return refuse(s, "out of memory");
        memcpy(s->in + s->in_len, buf, (size_t)n);
        s->in_len += (size_t)n;
        char *nl;
        while ((nl = memchr(s->in, '\n', s->in_len))) {
            *nl = 0;
            static char *tok[2 * MAX_ARGS + 16];
            int nt = 0, bad = 0;
            for (char *t = strtok(s->in, " "); t; t = strtok(NULL, " ")) {
                if (nt == (int)(sizeof tok / sizeof *tok) || token_decode(t) < 0) bad = 1;
                else tok[nt++] = t;
            }
            if (!s->ran && !s->exit_queued) {
                if (bad) refuse(s, "malformed request");
                else start(s, tok, nt);
            } else if (!bad && nt == 1 + VIC_TO_GUEST_EXECSIGNAL_NFIELDS &&
                       !strcmp(tok[0], VIC_TO_GUEST_EXECSIGNAL) && s->pid) {
                long long sig;
                if (token_parse_ll(tok[3], &sig) == 0 && sig > 0 && sig < NSIG)
                    kill(s->pid, (int)sig);
            }
            size_t used = (size_t)(nl - s->in) + 1;
            memmove(s->in, nl + 1, s->in_len - used);
            s->in_len -= used;
        }
    }
}

/* Sends what is held: 1 once it is all gone, 0 while the socket is full. */
static int flush(struct session *s) {
    while (s->line_off < s->line_len) {
        if (s->conn < 0) return s->line_len = 0, 1;
        ssize_t n = send(s->conn, s->line + s->line_off, s->line_len - s->line_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        if (n < 0) { /* gone: the exec is killed on the next read, or is over */
            close(s->conn);
            s->conn = -1;
            if (s->pid) kill(s->pid, SIGKILL);
            return s->line_len = 0, 1;
        }
        s->line_off += (size_t)n;
    }
    s->line_len = s->line_off = 0;
    return 1;
}

/* Reads a chunk of one stream into an execout line: 1 when it made one. At EOF, or with the
 * process gone and nothing left now (an orphan may hold the pipe), the pipe is closed. */
static int read_chunk(struct session *s, int *fd, int stream) {
    unsigned char buf[VIC_EXEC_CHUNK];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return 0;
    if (n > 0) {
        int len = snprintf(s->line, sizeof s->line, VIC_TO_HOST_EXECOUT " - %s %d ", s->exec_id,
                           stream);
        len += (int)token_base64(buf, (size_t)n, s->line + len);
        s->line[len++] = '\n';
        s->line_len = (size_t)len;
        s->line_off = 0;
        return 1;
    }
    if (n == 0 || s->pid == 0) {
        close(*fd);
        *fd = -1;
    }
    return 0;
}

/* Moves an exec on as far as it goes without blocking (a bounded number of lines). */
static void pump(struct session *s) {
    for (int lines = 0; lines < 32; lines++) {
        if (!flush(s)) return;
        if (s->exit_queued || (s->conn < 0 && !s->pid)) {
            /* Its last line is sent (or no one is left to take it, and it is reaped). */
            if (!s->pid) end_session(s);
            return;
        }
        if (!s->ran) return;
        if (s->out >= 0 && read_chunk(s, &s->out, 1)) continue;
        if (s->err >= 0 && read_chunk(s, &s->err, 2)) continue;
        if (s->pid || s->out >= 0 || s->err >= 0) return;
        queue_exit(s);
    }
}

static void accept_all(void) {
    for (;;) {
        int c = accept4(listen_sock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) return; /* EAGAIN, or nothing we can do now */
        struct session *s = NULL;
        for (int i = 0; i < EXEC_SESSIONS && !s; i++)
            if (!sessions[i].used) s = &sessions[i];
        if (!s) {
            static const char busy[] = VIC_TO_HOST_EXECEXIT " - - 126 too%20many%20execs\n";
            ssize_t w = send(c, busy, sizeof busy - 1, MSG_NOSIGNAL);
            (void)w;
            close(c);
            continue;
        }
        memset(s, 0, sizeof *s);
        s->used = 1;
        s->conn = c;
        s->out = s->err = -1;
    }
}

int exec_server_poll(struct pollfd *p, int *timeout_ms) {
    if (listen_sock < 0) return 0;
    int n = 0;
    p[n++] = (struct pollfd){listen_sock, POLLIN, 0};
    for (int i = 0; i < EXEC_SESSIONS; i++) {
        struct session *s = &sessions[i];
        if (!s->used) continue;
        if (s->conn >= 0)
            p[n++] = (struct pollfd){s->conn, (short)(POLLIN | (s->line_len ? POLLOUT : 0)), 0};
        if (s->line_len) continue;
        if (s->ran && !s->pid) *timeout_ms = 0; /* reaped: its last output and exit go now */
        if (s->out >= 0) p[n++] = (struct pollfd){s->out, POLLIN, 0};
        if (s->err >= 0) p[n++] = (struct pollfd){s->err, POLLIN, 0};
    }
    return n;
}

void exec_server_handle(const struct pollfd *p, int n) {
    if (listen_sock < 0) return;
    if (n > 0 && p[0].revents) accept_all();
    for (int i = 0; i < EXEC_SESSIONS; i++) {
        struct session *s = &sessions[i];
        if (!s->used) continue;
        if (s->conn >= 0) read_conn(s);
        if (s->used) pump(s);
    }
}

int exec_server_reaped(pid_t pid, int wstatus) {
    for (int i = 0; i < EXEC_SESSIONS; i++) {
        struct session *s = &sessions[i];
        if (!s->used || s->pid != pid) continue;
        s->pid = 0;
        s->code = sup_exit_code(wstatus);
        return 1;
    }
    return 0;
}
