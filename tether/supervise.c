/* Spawning and supervising the container's process: see supervise.h. */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static sigset_t original_mask;

int sup_signals_init(void) {
    sigset_t all;
    sigfillset(&all);
    /* SIGPIPE is ours alone: a write to a log that went away (a serial port closed) must fail
     * with EPIPE, not arrive on the signalfd and be forwarded to kill the container. */
    sigdelset(&all, SIGPIPE);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &all, &original_mask) < 0) return -1;
    /* Orphans of the container come to us, not to whoever is PID 1 (the sandbox's pause
     * process when the pod shares one PID namespace). */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    return signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC);
}

void sup_child_fail(int report_fd, const char *what, const char *name) {
    int e = errno;
    char msg[SUP_REPORT_MAX];
    int n = snprintf(msg, sizeof msg, "%d %s%s%s", e, what, name ? " " : "", name ? name : "");
    if (n > 0) {
        ssize_t r = write(report_fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        (void)r;
    }
    _exit(sup_exec_fail_code(e));
}

int sup_read_report(int fd, char *err, size_t errlen) {
    char msg[SUP_REPORT_MAX];
    ssize_t n;
    do n = read(fd, msg, sizeof msg - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return 0;
    msg[n] = 0;
    char *what = strchr(msg, ' ');
    int e = atoi(msg);
    if (e <= 0) e = EIO;
    snprintf(err, errlen, "%s: %s", what ? what + 1 : "?",
             e == ENOENT ? "no such file or directory in the container's PATH" : strerror(e));
    return e;
}

int sup_exec_fail_code(int err) {
    return err == ENOENT ? 127 : 126;
}

int sup_spawn(const struct sup_spawn_opts *o, struct sup_child *c, char *err, size_t errlen) {
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, report[2] = {-1, -1};
    err[0] = 0;
    if ((!o->use_tty && (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)) ||
        pipe2(report, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
        sigprocmask(SIG_SETMASK, &original_mask, NULL);
        if (o->use_tty) {
            /* A session of its own with the terminal as its controlling one, as runc gives a
             * container's process with terminal: true. */
            if (setsid() < 0 || ioctl(o->tty_fd, TIOCSCTTY, 0) < 0 ||
                (o->set_user && fchown(o->tty_fd, o->uid, (gid_t)-1) < 0) ||
                dup2(o->tty_fd, 0) < 0 || dup2(o->tty_fd, 1) < 0 || dup2(o->tty_fd, 2) < 0)
                sup_child_fail(report[1], "terminal", NULL);
            if (o->tty_fd > 2) close(o->tty_fd);
        } else {
            int in = o->stdin_fd >= 0 ? o->stdin_fd : open("/dev/null", O_RDONLY);
            if (in < 0 || dup2(in, 0) < 0 || dup2(out[1], 1) < 0 || dup2(errp[1], 2) < 0)
                sup_child_fail(report[1], "stdio", NULL);
        }
        if (o->set_caps && sup_limit_caps(o->caps) < 0) sup_child_fail(report[1], "capabilities", NULL);
        if (o->set_user) {
            /* Groups first: after setuid to a non-root user there is no right to change them. */
            if (setgroups(o->ngroups, o->groups) < 0)
                sup_child_fail(report[1], "setgroups", NULL);
            if (setgid(o->gid) < 0) sup_child_fail(report[1], "setgid", NULL);
            if (setuid(o->uid) < 0) sup_child_fail(report[1], "setuid", NULL);
        }
        if (o->cwd && chdir(o->cwd) < 0) sup_child_fail(report[1], "chdir", o->cwd);
        if (o->envp) environ = (char **)o->envp;
        if (sup_no_new_privs(o->no_new_privs) < 0) sup_child_fail(report[1], "no_new_privs", NULL);
        execvp(o->argv[0], o->argv);
        sup_child_fail(report[1], "exec", o->argv[0]);
    }
    if (out[1] >= 0) close(out[1]);
    if (errp[1] >= 0) close(errp[1]);
    close(report[1]);
    int e = sup_read_report(report[0], err, errlen);
    if (e) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        if (out[0] >= 0) close(out[0]);
        if (errp[0] >= 0) close(errp[0]);
        errno = e;
        return -1;
    }
    if (out[0] >= 0) fcntl(out[0], F_SETFL, O_NONBLOCK);
    if (errp[0] >= 0) fcntl(errp[0], F_SETFL, O_NONBLOCK);
    c->pid = pid;
    c->out_fd = out[0];
    c->err_fd = errp[0];
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0) close(out[i]);
        if (errp[i] >= 0) close(errp[i]);
        if (report[i] >= 0) close(report[i]);
    }
    return -1;
}

int sup_limit_caps(unsigned long long caps) {
    /* PR_CAPBSET_READ fails (EINVAL) past the kernel's last capability. */
    for (int cap = 0; cap < 64 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (!(caps >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -1;
    return 0;
}

int sup_no_new_privs(int on) {
    return on ? prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) : 0;
}

int sup_read_signal(int sfd, struct signalfd_siginfo *si) {
    for (;;) {
        ssize_t n = read(sfd, si, sizeof *si);
        if (n == (ssize_t)sizeof *si) return 1;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        return -1;
    }
}

int sup_reap(sup_exit_fn fn, void *ctx) {
    int count = 0;
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid < 0 && errno == EINTR) continue;
        if (pid <= 0) return count;
        count++;
        if (fn) fn(pid, st, ctx);
    }
}

int sup_exit_code(int wstatus) {
    if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
    return 255;
}

int sup_exit_signal(int wstatus) {
    return WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
}

long long sup_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long long sup_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
