/* vic-agent, tasks: execs in running containers (tether/protocol.h: exec, execio, execsignal,
 * execresize, execout, execexit). The agent forks a child that joins the container
 * (agent-exec.c task_child) and runs the process under it; it reads the process's stdout and
 * stderr and sends them to the host as execout lines (exec), or hands its streams (a terminal's
 * master, or pipes) to a channel of the data port (execio: agent-data.c), then sends an
 * execexit line with the child's exit code once all the output has gone.
 *
 * Nothing here blocks the agent: the pipes are non-blocking, and each exec holds at most one
 * line the control port did not take yet. While it holds one, its pipes are not read: a host
 * that reads slowly slows the exec'd process (its pipes fill), not the agent or the others. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"
#include "supervise.h"
#include "tokens.h"

#define EXEC_ID_MAX 32
#define LINE_MAX_LEN (200 + (VIC_EXEC_CHUNK + 2) / 3 * 4 + 2 * SUP_REPORT_MAX)
#define LINES_PER_PUMP 32 /* per exec and wake-up, so one busy exec cannot hold the loop */

struct task {
    int used;
    char id[65];
    char exec_id[EXEC_ID_MAX + 1];
    pid_t pid;       /* the child that joined the container; 0 once reaped */
    int code;        /* its exit code, once reaped */
    int out, err;    /* read ends of the process's stdout and stderr; -1 once closed */
    uint32_t chan;   /* execio: the data port's channel that has its streams; else 0 */
    int exit_queued; /* the execexit line is the one held (or sent) */
    char error[SUP_REPORT_MAX + 64];
    char line[LINE_MAX_LEN];
    size_t line_len; /* a line the control port has not taken yet */
};

static struct task tasks[MAX_TASKS];

static int valid_exec_id(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > EXEC_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z'))) return 0;
    return 1;
}

static struct task *find_task(const char *id, const char *exec_id) {
    for (int i = 0; i < MAX_TASKS; i++)
        if (tasks[i].used && !strcmp(tasks[i].id, id) && !strcmp(tasks[i].exec_id, exec_id))
            return &tasks[i];
    return NULL;
}

static void send_exit(const char *id, const char *exec_id, int code, const char *error) {
    char enc[2 * SUP_REPORT_MAX];
    token_encode(error, enc, sizeof enc);
    send_line(VIC_TO_HOST_EXECEXIT " %s %s %d %s", id, exec_id, code, enc);
}

static void refuse(const struct exec_req *r, const char *why) {
    chan_refused(r->chan);
    task_refuse(r->id, r->exec_id, why);
}

void task_refuse(const char *id, const char *exec_id, const char *why) {
    agent_log("%s: exec %s: %s", id, exec_id, why);
    if (!valid_exec_id(exec_id)) return send_error(id, why);
    send_exit(id, exec_id, 126, why);
}

/* The process's ends of its stdin, stdout and stderr (fds[0..2]; -1: /dev/null for stdin) and
 * the agent's (mine[0..2]; -1: none): pipes, or one terminal. 0, or -1 with errno. */
static int make_stdio(const struct exec_req *r, int fds[3], int mine[3]) {
    if (r->p.tty) {
        int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        int unlock = 0;
        if (master < 0) return -1;
        struct winsize ws = {.ws_row = (unsigned short)r->rows, .ws_col = (unsigned short)r->cols};
        int slave = -1;
        if (ioctl(master, TIOCSPTLCK, &unlock) == 0 && ioctl(master, TIOCSWINSZ, &ws) == 0)
            slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
            int e = errno;
            close(master);
            errno = e;
            return -1;
        }
        fds[0] = fds[1] = fds[2] = slave;
        mine[0] = mine[1] = master;
        return 0;
    }
    int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}; /* in, out, err */
    int ok = 1;
    for (int i = r->with_stdin ? 0 : 1; i < 3 && ok; i++) ok = pipe2(p[i], O_CLOEXEC) == 0;
    if (!ok) {
        int e = errno;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++)
                if (p[i][j] >= 0) close(p[i][j]);
        errno = e;
        return -1;
    }
    fds[0] = p[0][0];
    mine[0] = p[0][1];
    for (int i = 1; i < 3; i++) {
        fds[i] = p[i][1];
        mine[i] = p[i][0];
    }
    return 0;
}

static void close_stdio(int fds[3]) {
    if (fds[0] >= 0 && fds[0] != fds[1]) close(fds[0]);
    if (fds[2] >= 0 && fds[2] != fds[1]) close(fds[2]);
    if (fds[1] >= 0) close(fds[1]);
    fds[0] = fds[1] = fds[2] = -1;
}

void task_start(const struct exec_req *r) {
    if (!valid_exec_id(r->exec_id)) {
        chan_refused(r->chan);
        return send_error(r->id, "bad exec id");
    }
    if (find_task(r->id, r->exec_id)) return refuse(r, "exec id in use");
    pid_t init = container_init_pid(r->id);
    if (!init) return refuse(r, "container not running");
    if (r->chan && !chan_can_open(r->chan)) return refuse(r, "no data channel for its streams");
    struct task *t = NULL;
    for (int i = 0; i < MAX_TASKS && !t; i++)
        if (!tasks[i].used) t = &tasks[i];
    if (!t) return refuse(r, "too many execs in this VM");
    int child[3] = {-1, -1, -1}, mine[3] = {-1, -1, -1}, report[2] = {-1, -1};
    int ok = make_stdio(r, child, mine) == 0;
    if (ok && pipe2(report, O_CLOEXEC) < 0) ok = 0;
    pid_t pid = ok ? fork() : -1;
    if (pid == 0) {
        int keep[4] = {child[0], child[1], child[2], report[1]};
        close_fds_except(keep, 4);
        task_child(r, init, child[0], child[1], child[2], report[1]);
    }
    int e = errno;
    close_stdio(child);
    if (report[1] >= 0) close(report[1]);
    if (pid < 0) {
        close_stdio(mine);
        if (report[0] >= 0) close(report[0]);
        return refuse(r, strerror(e));
    }
    memset(t, 0, sizeof *t);
    t->used = 1;
    snprintf(t->id, sizeof t->id, "%s", r->id);
    snprintf(t->exec_id, sizeof t->exec_id, "%s", r->exec_id);
    t->pid = pid;
    t->out = t->err = -1;
    if (r->chan) {
        t->chan = r->chan;
        chan_open_exec(r->chan, mine[0], mine[1], mine[2], r->p.tty); /* can_open said yes */
    } else {
        t->out = mine[1];
        t->err = mine[2];
        fcntl(t->out, F_SETFL, O_NONBLOCK);
        fcntl(t->err, F_SETFL, O_NONBLOCK);
    }
    /* Until the process has exec'd, or why it could not (the child then exits by itself). */
    if (sup_read_report(report[0], t->error, sizeof t->error))
        agent_log("%s: exec: %s", t->id, t->error);
}

void task_resize(const char *id, const char *exec_id, int cols, int rows) {
    struct task *t = find_task(id, exec_id);
    if (t && t->chan) chan_resize(t->chan, cols, rows);
}

void task_signal(const char *id, const char *exec_id, int sig) {
    struct task *t = find_task(id, exec_id);
    if (!t || !t->pid) return; /* over already: its execexit is on its way */
    /* The child forwards what it can catch; SIGKILL goes to the process (its only child) and
     * then to the child itself. */
    if (sig == SIGKILL) {
        char path[128], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)t->pid, (int)t->pid);
        if (read_text(path, buf, sizeof buf) > 0)
            for (char *s = strtok(buf, " \n"); s; s = strtok(NULL, " \n")) kill(atoi(s), SIGKILL);
    }
    kill(t->pid, sig);
}

int task_reaped(pid_t pid, int wstatus) {
    for (int i = 0; i < MAX_TASKS; i++) {
        struct task *t = &tasks[i];
        if (!t->used || t->pid != pid) continue;
        t->pid = 0;
        t->code = sup_exit_code(wstatus);
        if (t->chan) chan_exec_reaped(t->chan);
        return 1;
    }
    return 0;
}

/* Sends the held line: 1 when it is gone (sent, or dropped with no host to take it, as all news
 * is), 0 when the port is full. One write: virtio-serial takes a line whole or not at all. */
static int flush(struct task *t) {
    if (!t->line_len) return 1;
    if (control_fd < 0 || !control_pollable()) return t->line_len = 0, 1;
    ssize_t n = write(control_fd, t->line, t->line_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    t->line_len = 0;
    return 1;
}

/* Reads one chunk of a stream into an execout line: 1 when it made one. At EOF, or with the
 * process gone and nothing left now (an orphan may hold the pipe), the pipe is closed. */
static int read_chunk(struct task *t, int *fd, int stream) {
    unsigned char buf[VIC_EXEC_CHUNK];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return 0;
    if (n > 0) {
        int len = snprintf(t->line, sizeof t->line, VIC_TO_HOST_EXECOUT " %s %s %d ", t->id,
                           t->exec_id, stream);
        len += (int)token_base64(buf, (size_t)n, t->line + len);
        t->line[len++] = '\n';
        t->line_len = (size_t)len;
        return 1;
    }
    if (n == 0 || t->pid == 0) {
        close(*fd);
        *fd = -1;
    }
    return 0;
}

static void pump(struct task *t) {
    for (int lines = 0; lines < LINES_PER_PUMP; lines++) {
        if (!flush(t)) return;
        if (t->exit_queued) {
            memset(t, 0, sizeof *t); /* its last line is sent */
            return;
        }
        if (t->out >= 0 && read_chunk(t, &t->out, 1)) continue;
        if (t->err >= 0 && read_chunk(t, &t->err, 2)) continue;
        if (t->pid || t->out >= 0 || t->err >= 0) return;
        if (t->chan && !chan_output_done(t->chan)) return; /* its EOF goes first */
        char enc[2 * SUP_REPORT_MAX];
        token_encode(t->error, enc, sizeof enc);
        t->line_len = (size_t)snprintf(t->line, sizeof t->line, VIC_TO_HOST_EXECEXIT " %s %s %d %s\n",
                                       t->id, t->exec_id, t->code, enc);
        t->exit_queued = 1;
    }
}

void tasks_pump(void) {
    for (int i = 0; i < MAX_TASKS; i++)
        if (tasks[i].used) pump(&tasks[i]);
}

int tasks_poll_fds(struct pollfd *p, int *timeout) {
    int n = 0, held = 0;
    for (int i = 0; i < MAX_TASKS; i++) {
        struct task *t = &tasks[i];
        if (!t->used) continue;
        if (t->line_len) held = 1;
        else if (!t->pid && (!t->chan || chan_output_done(t->chan)))
            *timeout = 0; /* reaped: its last output and exit go now */
        else {
            if (t->out >= 0) p[n++] = (struct pollfd){t->out, POLLIN, 0};
            if (t->err >= 0) p[n++] = (struct pollfd){t->err, POLLIN, 0};
        }
    }
    /* With no host there (the port hangs up), a held line is dropped at the next pump. */
    if (held && control_fd >= 0 && control_pollable())
        p[n++] = (struct pollfd){control_fd, POLLOUT, 0};
    else if (held) *timeout = 0;
    return n;
}
