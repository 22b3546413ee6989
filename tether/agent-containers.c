/* vic-agent, containers: the agent's side of each container. It clones the container's init
 * (agent-exec.c), logs the process's stdout and stderr to the container's log port as iolog
 * entries, signals it, and when the init exits tells the host: `started` and `exited` go over
 * the control port only, and the last exit of each container is kept until the host starts it
 * again or forgets it, so `status` can tell it again after a reconnection. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "iolog.h"
#include "protocol.h"
#include "status.h"
#include "supervise.h"

struct container {
    int used;
    char id[65];
    int port_fd; /* the container's log port, kept open across restarts */
    struct iolog_writer *writer;
    pid_t init;      /* the container's init (guest pid); 0 when not running */
    int shared_pid;  /* runs in the guest's PID namespace */
    int set_caps, no_new_privs; /* as started: its execs get the same */
    unsigned long long caps;
    unsigned char *seccomp; /* its seccomp filter (owned), seccomp_len bytes; its execs too */
    size_t seccomp_len;
    int out, err;    /* read ends of the process's stdout and stderr */
    int wstatus_fd;  /* the init reports the process's wait status here before it exits */
    long long started_ns;
    int has_exit;            /* exited, and not started again or forgotten since */
    struct status_exit exit; /* that exit; exit.error points into exit_error */
    char exit_error[SUP_REPORT_MAX + 64];
};

static struct container containers[MAX_CONTAINERS];

static struct container *find_container(const char *id, int create) {
    struct container *free_slot = NULL;
    for (int i = 0; i < MAX_CONTAINERS; i++) {
        if (containers[i].used && !strcmp(containers[i].id, id)) return &containers[i];
        if (!containers[i].used && !free_slot) free_slot = &containers[i];
    }
    if (!create || !free_slot) return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->used = 1;
    snprintf(free_slot->id, sizeof free_slot->id, "%s", id);
    free_slot->port_fd = free_slot->out = free_slot->err = free_slot->wstatus_fd = -1;
    return free_slot;
}

static void send_started(const struct container *c) {
    char line[STATUS_MAX_LINE];
    status_format_started(line, c->id, c->init, c->started_ns);
    send_line("%s", line);
}

static void send_exited(const struct container *c) {
    char line[STATUS_MAX_LINE];
    status_format_exited(line, c->id, &c->exit);
    send_line("%s", line);
}

/* The writer's rotate_hook: everything written so far went through the port; ask the host for a
 * fresh file behind it (protocol.h: rotate). */
static int request_rotation(struct iolog_writer *w, void *ctx) {
    struct container *c = ctx;
    send_line(VIC_TO_HOST_ROTATE " %s %lld", c->id, (long long)w->file_size);
    return 0;
}

void container_log_rotated(const char *id) {
    struct container *c = find_container(id, 0);
    if (!c || !c->writer || !c->writer->awaiting) return;
    iolog_resume(c->writer, c->port_fd);
}

void containers_status(void) {
    for (int i = 0; i < MAX_CONTAINERS; i++) {
        const struct container *c = &containers[i];
        if (!c->used) continue;
        if (c->init) send_started(c);
        else if (c->has_exit) send_exited(c);
        /* A host that connects while the log waits for its fresh file is asked again. */
        if (c->writer && c->writer->awaiting)
            send_line(VIC_TO_HOST_ROTATE " %s %lld", c->id, (long long)c->writer->file_size);
    }
}

/* The container's init has exited (wstatus; the process's own comes from the init), or its
 * process could not exec (error, exit code error_code). */
static void finish(struct container *c, int wstatus, const char *error, int error_code) {
    /* What the process wrote before it exited is in the pipes: take it all. In a shared PID
     * namespace an orphan may still hold them: what is there now is what we log. */
    iolog_pump(c->writer, &c->out, 0);
    iolog_pump(c->writer, &c->err, 1);
    if (c->out >= 0) close(c->out);
    if (c->err >= 0) close(c->err);
    c->out = c->err = -1;
    int ws = wstatus;
    if (c->wstatus_fd >= 0) {
        int got;
        if (read(c->wstatus_fd, &got, sizeof got) == (ssize_t)sizeof got) ws = got;
        close(c->wstatus_fd);
        c->wstatus_fd = -1;
    }
    if (iolog_close(c->writer) < 0)
        agent_log("%s: log port: %s", c->id, strerror(c->writer->error));
    snprintf(c->exit_error, sizeof c->exit_error, "%s", error ? error : "");
    c->exit = (struct status_exit){
        .exit_code = error ? error_code : sup_exit_code(ws),
        .signal = error ? 0 : sup_exit_signal(ws),
        .started_ns = c->started_ns,
        .finished_ns = sup_now_ns(),
        .oom = !error && cgroup_oom_killed(c->id),
        .error = error ? c->exit_error : NULL,
    };
    c->has_exit = 1;
    c->init = 0;
    send_exited(c);
}

/* Clones the container's init with pipes for the process's stdout and stderr, the report of a
 * failed exec and the process's wait status. Returns its pid, or -1 with errno. */
static pid_t clone_init(struct container *c, struct start_req *r, int *report_fd) {
    int p[4][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}}; /* out, err, report, wstatus */
    int ok = 1;
    for (int i = 0; i < 4 && ok; i++) ok = pipe2(p[i], O_CLOEXEC) == 0;
    pid_t pid = -1;
    if (ok) {
        long flags = SIGCHLD | CLONE_NEWNS | (r->shared_pid ? 0 : CLONE_NEWPID);
        /* clone with no new stack behaves as fork; unshare(CLONE_NEWPID) would need two forks. */
        pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
        if (pid == 0) {
            int keep[4] = {p[0][1], p[1][1], p[2][1], p[3][1]};
            close_fds_except(keep, 4);
            container_init(r, p[0][1], p[1][1], p[2][1], p[3][1]);
        }
    }
    int e = errno;
    for (int i = 0; i < 4; i++) {
        if (p[i][1] >= 0) close(p[i][1]);
        if (pid < 0 && p[i][0] >= 0) close(p[i][0]);
    }
    errno = e;
    if (pid < 0) return -1;
    iolog_grow_pipe(p[0][0]);
    iolog_grow_pipe(p[1][0]);
    c->out = p[0][0];
    c->err = p[1][0];
    *report_fd = p[2][0];
    c->wstatus_fd = p[3][0];
    fcntl(c->out, F_SETFL, O_NONBLOCK);
    fcntl(c->err, F_SETFL, O_NONBLOCK);
    return pid;
}

void container_start(struct start_req *r) {
    struct container *c = find_container(r->id, 1);
    if (!c) return send_error(r->id, "too many containers in this VM");
    if (c->init) return send_error(r->id, "already running");
    c->has_exit = 0; /* the host has had the last one: it asks to start again */
    if (c->port_fd < 0) {
        char name[128];
        snprintf(name, sizeof name, VIC_LOG_PORT_PREFIX "%s", r->id);
        c->port_fd = open_port(name, O_WRONLY, PORT_WAIT_MS);
        if (c->port_fd < 0) return send_error(r->id, "no log port for the container");
    }
    /* Zeroed the first time: iolog_init keeps the batch of an earlier run. */
    if (!c->writer && !(c->writer = calloc(1, sizeof *c->writer)))
        return send_error(r->id, "out of memory");
    if (iolog_init(c->writer, c->port_fd, iolog_realtime_ns, NULL) < 0)
        return send_error(r->id, "out of memory");
    c->writer->one_stamp = 1;
    if (r->log_max > 0) iolog_rotate_by(c->writer, r->log_max, r->log_size, request_rotation, c);
    c->shared_pid = r->shared_pid;
    c->set_caps = r->p.set_caps;
    c->caps = r->p.caps;
    c->no_new_privs = r->p.no_new_privs;
    /* A copy for its execs: the request's is freed when the request is done. */
    free(c->seccomp);
    c->seccomp = NULL;
    c->seccomp_len = 0;
    if (r->p.seccomp_len) {
        if (!(c->seccomp = malloc(r->p.seccomp_len))) return send_error(r->id, "out of memory");
        memcpy(c->seccomp, r->p.seccomp, r->p.seccomp_len);
        c->seccomp_len = r->p.seccomp_len;
    }
    c->started_ns = sup_now_ns();
    cgroup_prepare(r);
    int report;
    pid_t pid = clone_init(c, r, &report);
    if (pid < 0) return send_error(r->id, strerror(errno));
    c->init = pid;
    char text[SUP_REPORT_MAX + 64];
    int e = sup_read_report(report, text, sizeof text);
    if (e) {
        char line[sizeof text + 16];
        int len = snprintf(line, sizeof line, "vic-agent: %s\n", text);
        iolog_write(c->writer, 1, (unsigned char *)line, (size_t)len);
        /* The init exits by itself; it is reaped (and ignored) with the other children. */
        kill(pid, SIGKILL);
        finish(c, 0, text, sup_exec_fail_code(e));
        return;
    }
    send_started(c);
}

/* Signals the container's process: through its init, which forwards everything it can catch.
 * SIGKILL cannot be caught: in a PID namespace of its own, killing the init kills everything
 * in it; in the shared one, the init's children are killed first. */
void container_signal(const char *id, int sig) {
    struct container *c = find_container(id, 0);
    if (!c || !c->init) return send_error(id, "not running");
    if (sig == SIGKILL && c->shared_pid) {
        char path[128], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", c->init, c->init);
        if (read_text(path, buf, sizeof buf) > 0)
            for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n")) kill(atoi(t), SIGKILL);
    }
    kill(c->init, sig);
}

pid_t container_init_pid(const char *id) {
    struct container *c = find_container(id, 0);
    return c ? c->init : 0;
}

void container_privileges(const char *id, struct proc_req *p) {
    struct container *c = find_container(id, 0);
    if (!c) return;
    p->set_caps = c->set_caps;
    p->caps = c->caps;
    p->no_new_privs = c->no_new_privs;
    p->seccomp = c->seccomp;
    p->seccomp_len = c->seccomp_len;
}

void container_forget(const char *id) {
    struct container *c = find_container(id, 0);
    if (!c) return;
    if (c->init) return send_error(id, "still running");
    if (c->port_fd >= 0) close(c->port_fd);
    if (c->writer) iolog_free(c->writer);
    free(c->writer);
    free(c->seccomp);
    memset(c, 0, sizeof *c);
}

static void on_child_exit(pid_t pid, int wstatus, void *ctx) {
    (void)ctx;
    if (task_reaped(pid, wstatus)) return;
    for (int i = 0; i < MAX_CONTAINERS; i++) {
        struct container *c = &containers[i];
        if (c->used && c->init == pid) finish(c, wstatus, NULL, 0);
    }
}

void containers_reap(void) {
    sup_reap(on_child_exit, NULL);
}

void containers_kill_all(void) {
    for (int i = 0; i < MAX_CONTAINERS; i++)
        if (containers[i].used && containers[i].init) kill(containers[i].init, SIGKILL);
}

int containers_poll_fds(struct pollfd *p, int *timeout) {
    int n = 0;
    for (int i = 0; i < MAX_CONTAINERS; i++) {
        struct container *c = &containers[i];
        if (!c->used || !c->init) continue;
        /* While its log waits for a fresh file, the process's output waits in the pipes (what
         * is there when it exits is still taken: finish). */
        int take = !iolog_stalled(c->writer);
        if (take && c->out >= 0) p[n++] = (struct pollfd){c->out, POLLIN, 0};
        if (take && c->err >= 0) p[n++] = (struct pollfd){c->err, POLLIN, 0};
        int t = iolog_timeout_ms(c->writer);
        if (t >= 0 && (*timeout < 0 || t < *timeout)) *timeout = t;
    }
    return n;
}

void containers_pump(const struct pollfd *p, int n) {
    for (int i = 0; i < MAX_CONTAINERS; i++) {
        struct container *c = &containers[i];
        if (!c->used || !c->init) continue;
        for (int j = 0; j < n; j++) {
            if (!p[j].revents) continue;
            if (p[j].fd == c->out) iolog_pump(c->writer, &c->out, 0);
            else if (p[j].fd == c->err) iolog_pump(c->writer, &c->err, 1);
        }
        iolog_tick(c->writer);
    }
}
