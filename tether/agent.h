/* vic-agent's internals: what its files (agent*.c) share. tether/agent.c says what the agent is;
 * tether/protocol.h defines what it speaks with the host. */
#ifndef TETHER_AGENT_H
#define TETHER_AGENT_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef SHARE_DIR /* a test build may put it elsewhere */
#define SHARE_DIR "/containers" /* where the share (VIC_SHARE_TAG) is mounted in the guest */
#endif
#define MAX_CONTAINERS 64
#define MAX_TASKS 16 /* execs running at once in the VM */
#define MAX_MOUNTS 64 /* volumes of one container */
#define PORT_WAIT_MS 5000

/* A process to run: the fields start and exec share (UID GID GIDS CWD ARGC ARG... ENVC ENV...),
 * decoded from the request's line (its strings point into it). */
struct proc_req {
    uid_t uid;
    gid_t gid;
    gid_t gids[64];
    int ngids;
    char *cwd;
    char **argv;
    char **envp;
    /* The container's (an exec takes its container's): the capabilities its processes may hold
     * when set_caps (bit N: capability N), and no_new_privs. */
    int set_caps;
    unsigned long long caps;
    int no_new_privs;
    /* The container's seccomp filter: a BPF program (struct sock_filter[], seccomp_len / 8
     * instructions) compiled by the host, installed last before exec; none when seccomp_len is 0.
     * A start request's is its own (freed after it); an exec's points at its container's. */
    unsigned char *seccomp;
    size_t seccomp_len;
    /* An exec's: its stdin is a terminal (it becomes its controlling terminal). */
    int tty;
};

/* A request to start a container. */
struct start_req {
    char *id;
    int shared_pid; /* run in the guest's PID namespace, not one of its own */
    struct proc_req p;
    long long memory_max; /* bytes; 0: none */
    long long cpu_millis; /* 0: none */
    int readonly_root;    /* the container's root is mounted read-only */
    char tlog[256];       /* Kubernetes' terminationMessagePath, or "" */
    long long log_max;    /* its log rotated at this many bytes; 0: not rotated */
    long long log_size;   /* what its current log file holds */
    /* Volumes: each bound by the host at SHARE_DIR/ID/mounts/NAME, bound in at dest. */
    int nmounts;
    struct {
        char *name, *dest;
        int readonly, is_dir;
    } mounts[MAX_MOUNTS];
};

/* A request to run a process in a running container (an exec, a "task" as VIC calls it). */
struct exec_req {
    char *id;
    char *exec_id;
    struct proc_req p;
    /* execio: its streams on this data port channel (0: exec, output as execout lines). */
    uint32_t chan;
    int with_stdin; /* its stdin reads the channel */
    int cols, rows; /* its terminal's size, with p.tty */
};

/* agent.c: the main loop, and what every part uses. */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void power_off(void);
/* Reads a small file (one read) into buf, NUL-terminated: its length, or -1 with errno. */
ssize_t read_text(const char *path, char *buf, size_t cap);
/* Writes text to an existing file (sysfs, cgroupfs) with one write: 0, or -1 with errno. */
int write_text(const char *path, const char *text);

/* agent-boot.c: from the kernel's initramfs to a guest ready for containers. */
void boot(void);
/* agent-net.c: loopback up; eth0 as the kernel command line's vic.net says. */
void net_init(void);

/* agent-ports.c: the guest's virtio-serial ports, by name. */
/* Opens the port named `name`, waiting up to wait_ms for it to appear (the host hot-plugs a
 * container's log port just before it asks to start it). The fd, or -1. */
int open_port(const char *name, int flags, int wait_ms);

/* agent-control.c: the control port (tether/protocol.h). */
extern int control_fd;
int control_open(void);           /* at boot: opens the port, says hello; -1 if there is none */
int control_pollable(void);       /* whether to poll the port now (not while no host is there) */
void control_ready(short revents); /* reads and handles what the host sent */
void send_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void send_error(const char *id, const char *msg);
/* In a child the agent forks: closes every fd from 3 up but the n in keep (the agent's ports
 * and other execs' pipes must not live on in a container). */
void close_fds_except(const int *keep, int n);

/* agent-data.c: the data port and its channels (tether/protocol.h). */
extern int data_fd;
int data_open(void); /* at boot; -1 if there is none (a qemu from before the data port) */
int chan_can_open(uint32_t id);
/* The channel of an interactive exec: it owns the fds from now on (in_fd -1: no stdin; with
 * tty, in_fd and out_fd are the terminal's master and err_fd is -1). 0, or -1. */
int chan_open_exec(uint32_t id, int in_fd, int out_fd, int err_fd, int tty);
void chan_refused(uint32_t id);          /* an execio refused: RESET for its channel */
void chan_exec_reaped(uint32_t id);      /* its process is gone: its output ends when drained */
int chan_output_done(uint32_t id);       /* its EOF is queued (or it is gone) */
int chan_resize(uint32_t id, int cols, int rows);
void chan_connect(uint32_t id, int port); /* answers connect */
/* Adds the port and the channels' fds to p (room for 1 + 3 * MAX_CHANS); lowers *timeout. */
int chans_poll_fds(struct pollfd *p, int *timeout);
/* Moves bytes between the port and the channels (p, n: the poll results, for the port's). */
void chans_pump(const struct pollfd *p, int n);
#define MAX_CHANS 64

/* agent-cgroups.c: each container's limits inside the VM (the VM itself is the pod's size). */
void cgroups_init(void);
void cgroup_prepare(const struct start_req *r); /* the container's cgroup, made afresh */
int cgroup_enter(const char *id);               /* in its init: 0, or -1 with errno */
int cgroup_oom_killed(const char *id);          /* whether the OOM killer struck in it */
void cgroup_send_stats(const char *id, int running); /* answers a stats request */

/* agent-exec.c: in the child the agent clones for a container: its init, then its process. */
_Noreturn void container_init(const struct start_req *r, int out, int err, int report,
                              int wstatus_fd);

/* In the child the agent forks for an exec: joins container `id`'s cgroup and the namespaces of
 * its init, forks the process and waits for it, exiting with its exit code. */
_Noreturn void task_child(const struct exec_req *r, pid_t init, int in, int out, int err,
                          int report);

/* agent-containers.c: the agent's side of each container. */
pid_t container_init_pid(const char *id); /* its init while it runs, else 0 */
/* Copies the capabilities and no_new_privs container `id` was started with into p (its execs
 * run with them). */
void container_privileges(const char *id, struct proc_req *p);
void container_start(struct start_req *r);
void container_signal(const char *id, int sig);
void container_forget(const char *id);
void container_log_rotated(const char *id); /* answers `rotated`: the fresh log port */
void containers_status(void);   /* answers `status` */
void containers_reap(void); /* reaps exited children; finishes the containers they were inits of */
void containers_kill_all(void);
/* Adds the pipes of the running containers to p (room for 2 * MAX_CONTAINERS) and lowers
 * *timeout to the nearest expiry of held output. Returns how many it added. */
int containers_poll_fds(struct pollfd *p, int *timeout);
/* Logs what those pipes hold (p, n as they came back from poll) and releases held output whose
 * time is up. */
void containers_pump(const struct pollfd *p, int n);

/* agent-tasks.c: execs (tether/protocol.h exec, execsignal, execout, execexit). */
void task_start(const struct exec_req *r);
/* Answers an exec the agent will not run: execexit with 126 and why (an error line when even
 * its exec id is bad). */
void task_refuse(const char *id, const char *exec_id, const char *why);
void task_signal(const char *id, const char *exec_id, int sig);
void task_resize(const char *id, const char *exec_id, int cols, int rows);
int task_reaped(pid_t pid, int wstatus); /* 1 when pid was an exec's */
/* Adds what the execs wait on to p (room for 1 + 2 * MAX_TASKS) and lowers *timeout; returns
 * how many it added. */
int tasks_poll_fds(struct pollfd *p, int *timeout);
/* Moves the execs' output to the control port as far as it takes lines, and their exits. */
void tasks_pump(void);

#endif
