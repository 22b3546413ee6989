/* Running a container's process under an init: spawn with pipes, signals, reaping.
 *
 * The init blocks every signal and reads them from a signalfd (so, as PID 1 of a PID namespace,
 * it still receives signals sent from outside: blocked signals are not ignored). Forwarding is
 * the caller's choice: kill(child, si.ssi_signo) for anything but SIGCHLD. It sets itself as a
 * child subreaper, so orphans of the container come to it to be reaped even when it is not
 * PID 1 (a shared PID namespace). */
#ifndef TETHER_SUPERVISE_H
#define TETHER_SUPERVISE_H

#include <signal.h>
#include <stddef.h>
#include <sys/signalfd.h>
#include <sys/types.h>

/* Blocks all signals but SIGPIPE (ignored: failed writes return EPIPE), becomes a child
 * subreaper, returns a non-blocking close-on-exec signalfd (or -1 with errno). The original
 * mask is kept for sup_spawn's children, which get default dispositions. */
int sup_signals_init(void);

struct sup_spawn_opts {
    char *const *argv;  /* argv[0] is looked up in PATH when it has no '/' */
    char *const *envp;  /* NULL: the caller's environ */
    const char *cwd;    /* NULL: unchanged */
    int stdin_fd;       /* -1: /dev/null */
    /* When use_tty: the process runs on the terminal whose slave is tty_fd (its stdin, stdout
     * and stderr, its controlling terminal in a session of its own; out_fd and err_fd are -1:
     * the caller reads the master). stdin_fd is not used then. */
    int use_tty;
    int tty_fd;
    /* When set_user: the child drops to uid/gid with exactly these supplementary groups before
     * exec, so the init itself stays root (the container's process cannot signal or ptrace
     * it). Zero-initialised options leave the user unchanged. */
    int set_user;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t ngroups;
    /* When set_caps: the capabilities the process may hold (bit N: capability N), applied by
     * sup_limit_privileges. no_new_privs: PR_SET_NO_NEW_PRIVS for the process. */
    int set_caps;
    unsigned long long caps;
    int no_new_privs;
};

/* In a child between fork and exec, running as root: drops every capability not in `caps`
 * from the bounding set (so root's process gets exactly `caps` at exec; a non-root user's gets
 * none, as the drop of uid already cleared them, unless a file capability within the set
 * grants one) and clears the ambient set. Call before dropping the user (it needs
 * CAP_SETPCAP). 0, or -1 with errno. */
int sup_limit_caps(unsigned long long caps);
/* The same child, last thing before exec when `on`: no_new_privs (setuid bits and file
 * capabilities grant nothing from here on). 0, or -1 with errno. */
int sup_no_new_privs(int on);

struct sup_child {
    pid_t pid;
    int out_fd; /* read ends of the child's stdout and stderr pipes (non-blocking, cloexec) */
    int err_fd;
};

/* Starts the child with the original signal mask and default dispositions. Returns 0 once it
 * has exec'd; -1 with errno and a message in err when it could not (fork, chdir or exec failed;
 * the child then has been reaped already). */
int sup_spawn(const struct sup_spawn_opts *o, struct sup_child *c, char *err, size_t errlen);

/* The report pipe between fork and exec: close-on-exec, so it closes when the child has exec'd
 * (nothing to read) or carries "ERRNO WHAT" when it could not. */
#define SUP_REPORT_MAX 512
/* In the child between fork and exec: reports errno and what failed ("WHAT" or "WHAT NAME": "exec
 * /bin/sh"), and exits as a shell would (sup_exec_fail_code). */
_Noreturn void sup_child_fail(int report_fd, const char *what, const char *name);
/* Reads the report pipe and closes it: 0 when the child exec'd, else the errno it reported, with
 * "WHAT: reason" in err. */
int sup_read_report(int fd, char *err, size_t errlen);
/* 127 when the program was not found (ENOENT), else 126: what a shell reports. */
int sup_exec_fail_code(int err);

/* Reads one signal from the signalfd: 1 with *si filled, 0 when none is pending, -1 on error. */
int sup_read_signal(int sfd, struct signalfd_siginfo *si);

/* Reaps every exited child without blocking; calls fn for each. Returns how many. */
typedef void (*sup_exit_fn)(pid_t pid, int wstatus, void *ctx);
int sup_reap(sup_exit_fn fn, void *ctx);

/* The exit code a shell would report: the code, or 128+N for death by signal N. */
int sup_exit_code(int wstatus);
/* The signal that killed it, or 0. */
int sup_exit_signal(int wstatus);

/* Nanoseconds of CLOCK_REALTIME. */
long long sup_now_ns(void);
/* Milliseconds of CLOCK_MONOTONIC: for deadlines. */
long long sup_monotonic_ms(void);

#endif
