/* vic-agent, exec: the child the agent clones for a container (in a mount namespace of its own,
 * and a PID namespace of its own unless the pod shares one). It becomes the container's init:
 * into its cgroup, a root of its own (the container's rootfs on the share, pivoted into, with
 * its own /dev, /proc and /sys), then it forks the container's process and stays to forward
 * signals and reap orphans. Failures before the exec go to the agent on the report pipe
 * (supervise.h), so the agent can say why the container could not start. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "agent.h"
#include "supervise.h"

extern char **environ;

/* Makes root the root of this mount namespace and detaches the guest's: the share with the
 * other containers' roots, the guest's /dev with every log port. */
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
        chmod(p, 0666); /* mknod's mode is under the umask: /dev/null must be anyone's */
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

/* Where a volume waits between the share and its destination: the container's fresh /dev
 * (a tmpfs made just now, so nothing in it is the container's). */
#define VOLUME_STAGE "/dev/.vic-volumes"

/* Before the pivot: binds each volume the host put on the share at the stage in the new root
 * (the share is detached by the pivot, and a bind must come from a mount of this namespace). */
static void stage_volumes(const struct start_req *r, const char *root, int report) {
    char src[512], stage[512];
    if (r->nmounts == 0) return;
    snprintf(stage, sizeof stage, "%s" VOLUME_STAGE, root);
    if (mkdir(stage, 0700) < 0) sup_child_fail(report, "volume stage", NULL);
    for (int i = 0; i < r->nmounts; i++) {
        snprintf(src, sizeof src, "%s/%s/mounts/%s", SHARE_DIR, r->id, r->mounts[i].name);
        snprintf(stage, sizeof stage, "%s" VOLUME_STAGE "/%d", root, i);
        int made = r->mounts[i].is_dir ? mkdir(stage, 0700)
                                       : close(open(stage, O_WRONLY | O_CREAT | O_EXCL, 0600));
        if (made < 0 || mount(src, stage, NULL, MS_BIND | MS_REC, NULL) < 0)
            sup_child_fail(report, "volume", r->mounts[i].dest);
    }
}

/* After the pivot: binds each staged volume at its destination, resolved in the container's
 * root (it is / now, so a link in the image cannot aim the mount elsewhere in the guest);
 * nosuid and nodev always, read-only when asked. The stage goes afterwards. */
static void bind_volumes(const struct start_req *r, int report) {
    char stage[64];
    for (int i = 0; i < r->nmounts; i++) {
        const char *dest = r->mounts[i].dest;
        if (r->mounts[i].is_dir) {
            mkdir_p(dest);
        } else {
            char parent[4096];
            snprintf(parent, sizeof parent, "%s", dest);
            char *slash = strrchr(parent, '/');
            if (slash && slash != parent) {
                *slash = 0;
                mkdir_p(parent);
            }
            int f = open(dest, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (f >= 0) close(f);
        }
        snprintf(stage, sizeof stage, VOLUME_STAGE "/%d", i);
        unsigned long ro = r->mounts[i].readonly ? MS_RDONLY : 0;
        if (mount(stage, dest, NULL, MS_BIND | MS_REC, NULL) < 0 ||
            mount(NULL, dest, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | ro, NULL) < 0)
            sup_child_fail(report, "volume mount", dest);
        umount2(stage, MNT_DETACH);
        if (r->mounts[i].is_dir) rmdir(stage);
        else unlink(stage);
    }
    if (r->nmounts > 0) rmdir(VOLUME_STAGE);
}

/* The container's process (its init has pivoted into its root), or an exec's (in the
 * container's namespaces): working directory (created when `make_cwd`, as Docker does for a
 * container's), user, stdio, exec. */
_Noreturn static void exec_process(const struct proc_req *r, int in, int out, int err,
                                   int report, int make_cwd) {
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    /* An exec's terminal becomes its controlling terminal (job control, SIGWINCH, ^C). */
    if (r->tty && ioctl(in, TIOCSCTTY, 0) < 0) sup_child_fail(report, "controlling terminal", NULL);
    if (make_cwd) mkdir_p(r->cwd);
    if (chdir(r->cwd) < 0) sup_child_fail(report, "chdir", r->cwd);
    if (r->set_caps && sup_limit_caps(r->caps) < 0) sup_child_fail(report, "capabilities", NULL);
    /* Still root with every capability here, so the filter needs no no_new_privs; what follows
     * (setgroups, setuid, dup2, execve) must be allowed by it, as under runc. */
    if (r->seccomp_len) {
        struct sock_fprog prog = {.len = (unsigned short)(r->seccomp_len / 8),
                                  .filter = (struct sock_filter *)(void *)r->seccomp};
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
            sup_child_fail(report, "seccomp", NULL);
    }
    if (setgroups((size_t)r->ngids, r->gids) < 0 || setgid(r->gid) < 0 || setuid(r->uid) < 0)
        sup_child_fail(report, "user", NULL);
    if (in < 0) in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        sup_child_fail(report, "stdio", NULL);
    environ = r->envp;
    if (sup_no_new_privs(r->no_new_privs) < 0) sup_child_fail(report, "no_new_privs", NULL);
    execvp(r->argv[0], r->argv);
    sup_child_fail(report, "exec", r->argv[0]);
}

/* The rest of a child that runs the process `pid` for the agent: every signal it gets goes to
 * the process; it reaps whatever dies (orphans of its namespace too) and, when the process has
 * exited, reports its wait status to `wstatus_fd` (if >= 0) and exits with its code. Signals
 * are blocked in the caller (sigwaitinfo takes them). */
static void forward_and_wait(pid_t pid, int wstatus_fd) __attribute__((noreturn));
static void forward_and_wait(pid_t pid, int wstatus_fd) {
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
            if (wstatus_fd >= 0) {
                ssize_t w = write(wstatus_fd, &st, sizeof st);
                (void)w;
            }
            _exit(sup_exit_code(st));
        }
    }
}

/* Kubernetes' terminationMessagePath: the host's file for it (on the share, beside the
 * rootfs, where the host reads it when the container has exited) bound at that path in the
 * container's root, made if missing. */
static int mount_termination_log(const char *root, const struct start_req *r) {
    if (!r->tlog[0]) return 0;
    char src[512], dst[1024], dir[1024];
    snprintf(src, sizeof src, "%s/%s/termination-log", SHARE_DIR, r->id);
    snprintf(dst, sizeof dst, "%s%s", root, r->tlog);
    snprintf(dir, sizeof dir, "%s", dst);
    char *slash = strrchr(dir, '/');
    if (slash && slash > dir) {
        *slash = 0;
        mkdir_p(dir);
    }
    int fd = open(dst, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return -1;
    close(fd);
    return mount(src, dst, NULL, MS_BIND, NULL);
}

/* The container's init (PID 1 of its namespace, or a subreaper): forwards signals to the
 * process, reaps orphans, and when the process exits reports its wait status and exits. */
void container_init(const struct start_req *r, int out, int err, int report, int wstatus_fd) {
    char root[256];
    snprintf(root, sizeof root, "%s/%s/rootfs", SHARE_DIR, r->id);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    /* Into the container's cgroup before the process is forked. */
    if (cgroup_enter(r->id) < 0) sup_child_fail(report, "cgroup", NULL);
    if (prepare_root(root) < 0) sup_child_fail(report, "container rootfs", NULL);
    stage_volumes(r, root, report);
    if (mount_termination_log(root, r) < 0) sup_child_fail(report, "termination message", NULL);
    if (pivot(root) < 0) sup_child_fail(report, "pivot_root", NULL);
    bind_volumes(r, report);
    if (r->readonly_root) {
        /* As Docker's --read-only: the root alone; /dev, /dev/shm, /proc stay as they are. The
         * working dir is made first, as for a writable root. */
        mkdir_p(r->p.cwd);
        if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
            sup_child_fail(report, "read-only root", NULL);
    }
    pid_t pid = fork();
    if (pid < 0) sup_child_fail(report, "fork", NULL);
    if (pid == 0) exec_process(&r->p, -1, out, err, report, 1);
    close(out);
    close(err);
    close(report);
    /* As PID 1 of its namespace, its exit kills whatever the process left behind. */
    forward_and_wait(pid, wstatus_fd);
}

/* An exec: into the container's cgroup (while the guest's cgroupfs is still in reach), its
 * init's PID namespace (for the child to come) and mount namespace (its root and /proc: the
 * init pivoted into the container's rootfs, so the exec's root is the container's), then the
 * process as a child, waited for here. The agent kills that child through this one
 * (task_signal). The container's UTS and IPC namespaces are the guest's, as are ours. */
void task_child(const struct exec_req *r, pid_t init, int in, int out, int err, int report) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)init);
    int pidns = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)init);
    int mntns = open(path, O_RDONLY | O_CLOEXEC);
    if (pidns < 0 || mntns < 0) sup_child_fail(report, "container namespaces", NULL);
    if (cgroup_enter(r->id) < 0) sup_child_fail(report, "cgroup", NULL);
    if (setns(pidns, CLONE_NEWPID) < 0 || setns(mntns, CLONE_NEWNS) < 0)
        sup_child_fail(report, "setns", NULL);
    close(pidns);
    close(mntns);
    pid_t pid = fork();
    if (pid < 0) sup_child_fail(report, "fork", NULL);
    if (pid == 0) exec_process(&r->p, in, out, err, report, 0);
    /* (in, out and err may be one terminal) */
    if (in >= 0 && in != out) close(in);
    if (err != out) close(err);
    close(out);
    close(report);
    forward_and_wait(pid, -1);
}
