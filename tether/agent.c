/* vic-agent: PID 1 of a pod VM's guest (the initramfs's /init). VIC's tether, in a VM.
 *
 * It loads the guest's kernel modules, mounts the pod's container directory (virtio-9p tag
 * "vic.containers": each container's rootfs, shared by the host), and
 * then does what the VCH asks over the control port. Each container runs in its own mount
 * namespace, pivoted into its rootfs, under a small init of its own (PID 1 of a PID namespace
 * of its own, or a subreaper in the guest's PID namespace when the pod shares one), which
 * forwards signals to the container's process and reaps orphans. The agent writes the
 * container's stdout and stderr as iolog entries, stream-tagged, to the container's
 * virtio-serial port, whose host side is a qemu chardev appending to the container's output.log:
 * no host process relays the bytes. Starts and exits go to the host over the control port only
 * (nothing status-related is written to the share, which the containers can write); the agent
 * keeps each container's last exit until the host has it for good (a start or forget), and
 * tells again on `status`, so the host knows the outcome even when it was away while it
 * happened.
 *
 * The control protocol and the status records are documented in tether/protocol.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iolog.h"
#include "protocol.h"
#include "status.h"
#include "supervise.h"
#include "tokens.h"

#define SHARE_DIR "/containers"
#define MAX_CONTAINERS 64
#define PORT_WAIT_MS 5000

extern char **environ;

struct container {
    int used;
    char id[65];
    int port_fd;       /* the container's log port, kept open across restarts */
    struct iolog_writer *writer;
    pid_t init;        /* the container's init (guest pid); 0 when not running */
    int shared_pid;    /* runs in the guest's PID namespace */
    int out, err;      /* read ends of the process's stdout and stderr */
    int wstatus_fd;    /* the init reports the process's wait status here before it exits */
    long long started_ns;
    int has_exit;           /* exited and not started again or forgotten since */
    struct status_exit exit; /* its last exit; exit.error points into exit_error */
    char exit_error[700];
};

static struct container containers[MAX_CONTAINERS];
static int control_fd = -1;
static long long control_retry_ms; /* while the host is away (POLLHUP), poll the port slowly */

static void cgroups_init(void);

static void logf_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vic-agent: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static long long monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the control port ---- */

static void send_line(const char *fmt, ...) {
    if (control_fd < 0) return;
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* Non-blocking: with no host connected the line is dropped (see the protocol above). */
    ssize_t r = write(control_fd, line, (size_t)n);
    (void)r;
}

static void send_error(const char *id, const char *msg) {
    char enc[1024];
    token_encode(msg, enc, sizeof enc);
    logf_("%s: %s", id, msg);
    send_line("error %s %s", id, enc);
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

/* Answers `status`: what runs now, and the last exit of what has exited since its start. */
static void send_status(void) {
    for (int i = 0; i < MAX_CONTAINERS; i++) {
        const struct container *c = &containers[i];
        if (!c->used) continue;
        if (c->init) send_started(c);
        else if (c->has_exit) send_exited(c);
    }
}

/* Finds the /dev node of the virtio-serial port named `name`: 0 and the path in out. */
static int find_port(const char *name, char *out, size_t cap) {
    DIR *d = opendir("/sys/class/virtio-ports");
    if (!d) return -1;
    struct dirent *e;
    int found = -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[512], got[256];
        snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, got, sizeof got - 1);
        close(fd);
        if (n <= 0) continue;
        got[n] = 0;
        if (got[n - 1] == '\n') got[n - 1] = 0;
        if (!strcmp(got, name)) {
            snprintf(out, cap, "/dev/%s", e->d_name);
            found = 0;
            break;
        }
    }
    closedir(d);
    return found;
}

/* Opens the port named `name`, waiting up to wait_ms for it to appear (ports of containers
 * are hot-plugged by the host just before it asks to start them). */
static int open_port(const char *name, int flags, int wait_ms) {
    long long deadline = monotonic_ms() + wait_ms;
    for (;;) {
        char dev[300];
        if (find_port(name, dev, sizeof dev) == 0) {
            int fd = open(dev, flags | O_CLOEXEC);
            if (fd >= 0) return fd;
        }
        if (monotonic_ms() >= deadline) return -1;
        usleep(20000);
    }
}

/* ---- boot ---- */

static void load_modules(void) {
    /* The guest builder lists the modules in dependency order. */
    FILE *f = fopen("/lib/modules/order", "re");
    if (!f) return;
    char name[256];
    while (fgets(name, sizeof name, f)) {
        name[strcspn(name, "\n")] = 0;
        if (!*name) continue;
        char path[512];
        snprintf(path, sizeof path, "/lib/modules/%s", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))
            logf_("module %s: %s", name, strerror(errno));
        if (fd >= 0) close(fd);
    }
    fclose(f);
}

/* The initramfs is the kernel's rootfs, which pivot_root cannot leave; the containers' roots
 * are pivoted into (not merely chrooted into, which root in a container can undo), so the guest
 * itself moves onto a tmpfs first. The agent's binary stays in memory; nothing else of the
 * initramfs is needed after the modules are loaded. */
static void leave_initramfs(void) {
    if (mkdir("/newroot", 0755) < 0 && errno != EEXIST) goto fail;
    if (mount("tmpfs", "/newroot", "tmpfs", 0, "mode=755") < 0) goto fail;
    const char *dirs[] = {"/newroot/proc", "/newroot/sys", "/newroot/dev", "/newroot" SHARE_DIR,
                          "/newroot/tmp"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) mkdir(dirs[i], 0755);
    if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
        chdir("/") < 0)
        goto fail;
    return;
fail:
    logf_("cannot leave the initramfs: %s", strerror(errno));
}

static void boot(void) {
    mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL);
    int fd = open("/dev/console", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    load_modules();
    leave_initramfs();
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL);
    cgroups_init();
    /* cache=mmap: no page cache for reads and writes (the host's files are the truth), but
     * mmap works for the programs that need it. */
    if (mount(VIC_SHARE_TAG, SHARE_DIR, "9p", 0, "trans=virtio,version=9p2000.L,cache=mmap,msize=262144") <
        0)
        logf_("mount %s: %s", VIC_SHARE_TAG, strerror(errno));
}

/* ---- running a container ---- */

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

struct start_req {
    char *id;
    int shared_pid;
    uid_t uid;
    gid_t gid;
    gid_t gids[64];
    int ngids;
    char *cwd;
    char **argv;
    char **envp;
    long long memory_max; /* bytes; 0: none */
    long long cpu_millis; /* 0: none */
};

/* ---- cgroups: the container's limits inside the VM (the VM itself is the pod's size) ---- */

#define CGROUP_ROOT "/sys/fs/cgroup"

static int cgroups_ok;

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void cgroups_init(void) {
    if (mount("cgroup2", CGROUP_ROOT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
        write_file(CGROUP_ROOT "/cgroup.subtree_control", "+memory +cpu") < 0) {
        logf_("cgroups: %s (containers run without limits)", strerror(errno));
        return;
    }
    cgroups_ok = 1;
}

static void cgroup_path(const char *id, const char *file, char *out, size_t cap) {
    snprintf(out, cap, CGROUP_ROOT "/%.64s%s%s", id, file ? "/" : "", file ? file : "");
}

/* The container's cgroup with its limits, made afresh for each start. */
static void cgroup_prepare(const struct start_req *r) {
    if (!cgroups_ok) return;
    char p[256], v[64];
    cgroup_path(r->id, NULL, p, sizeof p);
    rmdir(p); /* the last run's: empty once its processes are gone */
    if (mkdir(p, 0755) < 0 && errno != EEXIST) return;
    cgroup_path(r->id, "memory.max", p, sizeof p);
    if (r->memory_max > 0) snprintf(v, sizeof v, "%lld", r->memory_max);
    else snprintf(v, sizeof v, "max");
    if (write_file(p, v) < 0) logf_("%s: memory.max: %s", r->id, strerror(errno));
    cgroup_path(r->id, "cpu.max", p, sizeof p);
    if (r->cpu_millis > 0) snprintf(v, sizeof v, "%lld 100000", r->cpu_millis * 100);
    else snprintf(v, sizeof v, "max 100000");
    if (write_file(p, v) < 0) logf_("%s: cpu.max: %s", r->id, strerror(errno));
}

/* Whether the kernel's OOM killer struck in the container's cgroup. */
static int cgroup_oom_killed(const char *id) {
    char p[256], buf[1024];
    cgroup_path(id, "memory.events", p, sizeof p);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    char *k = strstr(buf, "oom_kill ");
    return k && atoll(k + 9) > 0;
}

/* Makes root the root of this mount namespace and detaches the guest's: the share with the
 * other containers' roots and status files, the guest's /dev with every log port. */
static int pivot(const char *root) {
    if (chdir(root) < 0) return -1;
    if (syscall(SYS_pivot_root, ".", ".") < 0) return -1;
    if (umount2(".", MNT_DETACH) < 0) return -1;
    return chdir("/");
}

/* In the container's init, before the process: a /dev with the usual nodes (not the guest's
 * devtmpfs, which holds every container's log port), /proc of its PID namespace, /sys. */
static int prepare_root(const char *root) {
    char p[512];
    static const struct {
        const char *name;
        unsigned maj, min;
    } nodes[] = {{"null", 1, 3},    {"zero", 1, 5}, {"full", 1, 7},
                 {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return -1;
    /* A mount of its own, to pivot into (see pivot below). */
    if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
    const char *dirs[] = {"proc", "sys", "dev"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        mkdir(p, 0755);
    }
    snprintf(p, sizeof p, "%s/proc", root);
    if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) return -1;
    snprintf(p, sizeof p, "%s/sys", root);
    mount("sysfs", p, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
    snprintf(p, sizeof p, "%s/dev", root);
    if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k") < 0) return -1;
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        snprintf(p, sizeof p, "%s/dev/%s", root, nodes[i].name);
        mknod(p, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min));
    }
    const char *links[][2] = {{"/proc/self/fd", "fd"},
                              {"/proc/self/fd/0", "stdin"},
                              {"/proc/self/fd/1", "stdout"},
                              {"/proc/self/fd/2", "stderr"}};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/dev/%s", root, links[i][1]);
        if (symlink(links[i][0], p) < 0 && errno != EEXIST) return -1;
    }
    snprintf(p, sizeof p, "%s/dev/shm", root);
    mkdir(p, 01777);
    mount("shm", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k");
    return 0;
}

static void mkdir_p(const char *path) {
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        mkdir(p, 0755);
        *s = '/';
    }
    mkdir(p, 0755);
}

static void report_and_exit(int report_fd, int err, const char *what) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%d %s", err, what);
    if (n > 0) {
        ssize_t r = write(report_fd, msg, (size_t)n);
        (void)r;
    }
    _exit(err == ENOENT ? 127 : 126);
}

/* The container's process (its init has pivoted into its root): working directory, user,
 * stdio, exec. */
static void exec_process(const struct start_req *r, int out, int err, int report) {
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    mkdir_p(r->cwd); /* as Docker does for a missing working directory */
    if (chdir(r->cwd) < 0) report_and_exit(report, errno, r->cwd);
    if (setgroups((size_t)r->ngids, r->gids) < 0 || setgid(r->gid) < 0 || setuid(r->uid) < 0)
        report_and_exit(report, errno, "user");
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        report_and_exit(report, errno, "stdio");
    environ = r->envp;
    execvp(r->argv[0], r->argv);
    report_and_exit(report, errno, r->argv[0]);
}

/* The container's init (PID 1 of its namespace, or a subreaper): forwards signals to the
 * process, reaps orphans, and when the process exits reports its wait status and exits. */
static void container_init(const struct start_req *r, int out, int err, int report,
                           int wstatus_fd) {
    char root[256];
    snprintf(root, sizeof root, "%s/%s/rootfs", SHARE_DIR, r->id);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    if (cgroups_ok) {
        /* Into the container's cgroup before the process is forked ("0": the writer). */
        char p[256];
        cgroup_path(r->id, "cgroup.procs", p, sizeof p);
        if (write_file(p, "0") < 0) report_and_exit(report, errno, "cgroup");
    }
    if (prepare_root(root) < 0) report_and_exit(report, errno, "container rootfs");
    if (pivot(root) < 0) report_and_exit(report, errno, "pivot_root");
    pid_t pid = fork();
    if (pid < 0) report_and_exit(report, errno, "fork");
    if (pid == 0) exec_process(r, out, err, report);
    close(out);
    close(err);
    close(report);
    sigset_t all;
    sigfillset(&all);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(pid, sig);
            continue;
        }
        int st;
        pid_t got;
        while ((got = waitpid(-1, &st, WNOHANG)) > 0) {
            if (got != pid) continue;
            ssize_t w = write(wstatus_fd, &st, sizeof st);
            (void)w;
            /* As PID 1 of its namespace, its exit kills whatever the process left behind. */
            _exit(sup_exit_code(st));
        }
    }
}

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
    if (iolog_close(c->writer) < 0) logf_("%s: log port: %s", c->id, strerror(c->writer->error));
    snprintf(c->exit_error, sizeof c->exit_error, "%s", error ? error : "");
    c->exit = (struct status_exit){error ? error_code : sup_exit_code(ws),
                                   error ? 0 : sup_exit_signal(ws),
                                   c->started_ns,
                                   sup_now_ns(),
                                   !error && cgroup_oom_killed(c->id),
                                   error ? c->exit_error : NULL};
    c->has_exit = 1;
    c->init = 0;
    send_exited(c);
}

static void start_container(struct start_req *r) {
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
    if (!c->writer && !(c->writer = malloc(sizeof *c->writer)))
        return send_error(r->id, "out of memory");
    iolog_init(c->writer, c->port_fd, iolog_realtime_ns, NULL);
    c->shared_pid = r->shared_pid;
    int out[2], err[2], report[2], wst[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0 ||
        pipe2(wst, O_CLOEXEC) < 0)
        return send_error(r->id, strerror(errno));
    c->started_ns = sup_now_ns();
    cgroup_prepare(r);
    long flags = SIGCHLD | CLONE_NEWNS | (r->shared_pid ? 0 : CLONE_NEWPID);
    /* clone with no new stack behaves as fork; unshare(CLONE_NEWPID) would need two forks. */
    pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
    if (pid == 0) {
        close(out[0]);
        close(err[0]);
        close(report[0]);
        close(wst[0]);
        if (control_fd >= 0) close(control_fd);
        container_init(r, out[1], err[1], report[1], wst[1]);
        _exit(126);
    }
    close(out[1]);
    close(err[1]);
    close(report[1]);
    close(wst[1]);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        close(report[0]);
        close(wst[0]);
        return send_error(r->id, strerror(errno));
    }
    c->init = pid;
    c->out = out[0];
    c->err = err[0];
    c->wstatus_fd = wst[0];
    fcntl(c->out, F_SETFL, O_NONBLOCK);
    fcntl(c->err, F_SETFL, O_NONBLOCK);
    /* The report pipe closes on exec (nothing read) or carries "errno what". */
    char msg[512];
    ssize_t n;
    do n = read(report[0], msg, sizeof msg - 1);
    while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n > 0) {
        msg[n] = 0;
        char *what = strchr(msg, ' ');
        int e = atoi(msg);
        char text[700];
        snprintf(text, sizeof text, "exec %s: %s", what ? what + 1 : "?",
                 e == ENOENT ? "no such file or directory in the container's PATH" : strerror(e));
        char line[800];
        int len = snprintf(line, sizeof line, "vic-agent: %s\n", text);
        iolog_write(c->writer, 1, (unsigned char *)line, (size_t)len);
        /* The init exits by itself; it is reaped (and ignored) with the other children. */
        kill(pid, SIGKILL);
        finish(c, 0, text, e == ENOENT ? 127 : 126);
        return;
    }
    send_started(c);
}

/* Signals the container's process: through its init, which forwards everything it can catch.
 * SIGKILL cannot be caught: in a PID namespace of its own, killing the init kills everything
 * in it; in the shared one, the init's children are killed first. */
static void signal_container(const char *id, int sig) {
    struct container *c = find_container(id, 0);
    if (!c || !c->init) return send_error(id, "not running");
    if (sig == SIGKILL && c->shared_pid) {
        char path[128], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", c->init, c->init);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            buf[n > 0 ? n : 0] = 0;
            for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n")) kill(atoi(t), SIGKILL);
        }
    }
    kill(c->init, sig);
}

static void on_child_exit(pid_t pid, int wstatus, void *ctx) {
    (void)ctx;
    for (int i = 0; i < MAX_CONTAINERS; i++) {
        struct container *c = &containers[i];
        if (c->used && c->init == pid) finish(c, wstatus, NULL, 0);
    }
}

static void power_off(void) {
    for (int i = 0; i < MAX_CONTAINERS; i++)
        if (containers[i].used && containers[i].init) kill(containers[i].init, SIGKILL);
    sync();
    reboot(RB_POWER_OFF);
    _exit(0);
}

/* ---- control messages ---- */

static int valid_id(const char *id) {
    size_t n = strlen(id);
    if (n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return 0;
    return 1;
}

static void handle_line(char *line) {
    static char *tok[8192];
    int nt = 0;
    for (char *t = strtok(line, " "); t && nt < 8192; t = strtok(NULL, " ")) {
        if (token_decode(t) < 0) return send_error("-", "malformed token");
        tok[nt++] = t;
    }
    if (nt == 0) return;
    const char *cmd = tok[0];
    if (!strcmp(cmd, "hello") && nt == 3) {
        long long ns;
        if (token_parse_ll(tok[1], &ns) == 0 && ns > 0) {
            struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
            clock_settime(CLOCK_REALTIME, &ts);
        }
        sethostname(tok[2], strlen(tok[2]));
        struct utsname u;
        uname(&u);
        char rel[256];
        token_encode(u.release, rel, sizeof rel);
        send_line("hello %s", rel);
    } else if (!strcmp(cmd, "start") && nt >= 9) {
        struct start_req r = {0};
        long long uid, gid, argc, envc;
        r.id = tok[1];
        if (!valid_id(r.id)) return send_error("-", "bad container id");
        r.shared_pid = !strncmp(tok[2], "shared", 6);
        char *mem = strstr(tok[2], ",mem="), *cpu = strstr(tok[2], ",cpu=");
        if (mem) r.memory_max = atoll(mem + 5);
        if (cpu) r.cpu_millis = atoll(cpu + 5);
        if (token_parse_ll(tok[3], &uid) < 0 || token_parse_ll(tok[4], &gid) < 0)
            return send_error(r.id, "bad uid or gid");
        r.uid = (uid_t)uid;
        r.gid = (gid_t)gid;
        for (char *g = strtok(tok[5], ","); g && r.ngids < 64; g = strtok(NULL, ","))
            r.gids[r.ngids++] = (gid_t)atoll(g);
        r.cwd = *tok[6] ? tok[6] : "/";
        if (token_parse_ll(tok[7], &argc) < 0 || argc < 1 || 8 + argc >= nt)
            return send_error(r.id, "bad argv");
        if (token_parse_ll(tok[8 + argc], &envc) < 0 || envc < 0 || 9 + argc + envc != nt)
            return send_error(r.id, "bad env");
        static char *argv[4096], *envp[4096];
        if (argc >= 4096 || envc >= 4096) return send_error(r.id, "too many arguments");
        for (long long i = 0; i < argc; i++) argv[i] = tok[8 + i];
        argv[argc] = NULL;
        for (long long i = 0; i < envc; i++) envp[i] = tok[9 + argc + i];
        envp[envc] = NULL;
        r.argv = argv;
        r.envp = envp;
        start_container(&r);
    } else if (!strcmp(cmd, "signal") && nt == 3) {
        long long sig;
        if (token_parse_ll(tok[2], &sig) < 0 || sig < 1 || sig >= NSIG)
            return send_error(tok[1], "bad signal");
        signal_container(tok[1], (int)sig);
    } else if (!strcmp(cmd, "time") && nt == 2) {
        long long host;
        if (token_parse_ll(tok[1], &host) < 0 || host <= 0) return send_error("-", "bad time");
        long long delta = host - sup_now_ns();
        if (delta > 1000000000LL || delta < -1000000000LL) {
            struct timespec ts = {(time_t)(host / 1000000000), (long)(host % 1000000000)};
            clock_settime(CLOCK_REALTIME, &ts);
        } else {
            struct timeval tv = {(time_t)(delta / 1000000000), (suseconds_t)(delta % 1000000000 / 1000)};
            adjtime(&tv, NULL);
        }
    } else if (!strcmp(cmd, "forget") && nt == 2) {
        struct container *c = find_container(tok[1], 0);
        if (!c) return;
        if (c->init) return send_error(tok[1], "still running");
        if (c->port_fd >= 0) close(c->port_fd);
        free(c->writer);
        memset(c, 0, sizeof *c);
    } else if (!strcmp(cmd, VIC_TO_GUEST_STATUS) && nt == 1) {
        send_status();
    } else if (!strcmp(cmd, "poweroff")) {
        power_off();
    } else {
        send_error("-", "unknown request");
    }
}

static void read_control(void) {
    static char buf[VIC_MAX_LINE];
    static size_t len;
    for (;;) {
        ssize_t n = read(control_fd, buf + len, sizeof buf - len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        len += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] != '\n') continue;
            buf[i] = 0;
            handle_line(buf + start);
            start = i + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len >= sizeof buf - 1) {
            send_error("-", "line too long");
            len = 0;
        }
    }
}

int main(void) {
    if (getpid() != 1) {
        fprintf(stderr, "vic-agent: runs as PID 1 of a pod VM's guest\n");
        return 2;
    }
    boot();
    int sfd = sup_signals_init();
    if (sfd < 0) logf_("signalfd: %s", strerror(errno));
    control_fd = open_port(VIC_CONTROL_PORT, O_RDWR | O_NONBLOCK, PORT_WAIT_MS);
    if (control_fd < 0) {
        logf_("no control port: powering off");
        power_off();
    }
    struct utsname u;
    uname(&u);
    send_line("hello %s", u.release);
    /* The guest's uptime here is its share of the boot time the VCH measures (the rest is
     * qemu's start and the kernel's load). */
    char up[64] = "?";
    int ufd = open("/proc/uptime", O_RDONLY | O_CLOEXEC);
    if (ufd >= 0) {
        ssize_t n = read(ufd, up, sizeof up - 1);
        up[n > 0 ? n : 0] = 0;
        up[strcspn(up, " ")] = 0;
        close(ufd);
    }
    logf_("ready (%s) at %s s of uptime", u.release, up);
    for (;;) {
        struct pollfd p[2 + 2 * MAX_CONTAINERS];
        struct container *owner[2 + 2 * MAX_CONTAINERS];
        int np = 0;
        p[np++] = (struct pollfd){sfd, POLLIN, 0};
        int control_at = -1;
        if (monotonic_ms() >= control_retry_ms) {
            control_at = np;
            p[np++] = (struct pollfd){control_fd, POLLIN, 0};
        }
        int timeout = control_at < 0 ? 200 : -1;
        for (int i = 0; i < MAX_CONTAINERS; i++) {
            struct container *c = &containers[i];
            if (!c->used || !c->init) continue;
            if (c->out >= 0) owner[np] = c, p[np++] = (struct pollfd){c->out, POLLIN, 0};
            if (c->err >= 0) owner[np] = c, p[np++] = (struct pollfd){c->err, POLLIN, 0};
            int t = iolog_hold_timeout_ms(c->writer);
            if (t >= 0 && (timeout < 0 || t < timeout)) timeout = t;
        }
        int r = poll(p, (nfds_t)np, timeout);
        if (r < 0 && errno != EINTR) {
            logf_("poll: %s", strerror(errno));
            continue;
        }
        for (int i = 1; i < np; i++) {
            if (i == control_at || !p[i].revents) continue;
            struct container *c = owner[i];
            if (p[i].fd == c->out) iolog_pump(c->writer, &c->out, 0);
            else if (p[i].fd == c->err) iolog_pump(c->writer, &c->err, 1);
        }
        for (int i = 0; i < MAX_CONTAINERS; i++)
            if (containers[i].used && containers[i].init) iolog_expire_hold(containers[i].writer);
        struct signalfd_siginfo si;
        while (sfd >= 0 && sup_read_signal(sfd, &si) == 1) {
            if (si.ssi_signo == SIGCHLD) sup_reap(on_child_exit, NULL);
        }
        sup_reap(on_child_exit, NULL);
        if (control_at >= 0 && p[control_at].revents) {
            if (p[control_at].revents & POLLIN) read_control();
            /* No host on the socket: the port reports hang-up until one connects; look again
             * later rather than spin. */
            else if (p[control_at].revents & (POLLHUP | POLLERR))
                control_retry_ms = monotonic_ms() + 200;
        }
    }
}
