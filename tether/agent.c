/* vic-agent: PID 1 of a pod VM's guest (the initramfs's /init). VIC's tether, in a VM.
 *
 * It loads the guest's kernel modules, mounts the pod's container directory (virtio-9p tag
 * "vic.containers": each container's rootfs, shared by the host), and then does what the VCH
 * asks over the control port. Each container runs in its own mount namespace, pivoted into its
 * rootfs, under a small init of its own (PID 1 of a PID namespace of its own, or a subreaper in
 * the guest's PID namespace when the pod shares one), which forwards signals to the container's
 * process and reaps orphans. The agent writes the container's stdout and stderr as iolog
 * entries, stream-tagged, to the container's virtio-serial port, whose host side is a qemu
 * chardev appending to the container's output.log: no host process relays the bytes. Starts
 * and exits go to the host over the control port only (nothing status-related is written to
 * the share, which the containers can write); the agent keeps each container's last exit until
 * the host starts it again or forgets it, and tells it again on `status`, so the host knows the
 * outcome even when it was away while it happened.
 *
 * The control protocol and the status records: tether/protocol.h. The agent's parts:
 *   agent.c             this: the main loop (signals, the control port, the containers' pipes)
 *   agent-boot.c        from the initramfs to a guest ready for containers
 *   agent-ports.c       virtio-serial ports by name
 *   agent-control.c     the control port: lines in, requests dispatched, lines out
 *   agent-containers.c  the agent's side of each container: start, log, signal, exit, status
 *   agent-exec.c        the container's init and process (in the clone)
 *   agent-tasks.c       execs in running containers: their output and exits to the host
 *   agent-data.c        the data port: interactive execs' streams, port-forward connections
 *   agent-cgroups.c     the containers' cgroups in the guest */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "supervise.h"

void agent_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vic-agent: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

ssize_t read_text(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, cap - 1);
    int e = errno;
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    errno = e;
    return n;
}

int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

void power_off(void) {
    containers_kill_all();
    sync();
    reboot(RB_POWER_OFF);
    _exit(0);
}

/* The guest's uptime now is its share of the boot time the VCH measures (the rest is qemu's
 * start and the kernel's load). */
static void log_ready(void) {
    struct utsname u;
    uname(&u);
    char up[64] = "?";
    if (read_text("/proc/uptime", up, sizeof up) <= 0) snprintf(up, sizeof up, "?");
    up[strcspn(up, " ")] = 0;
    agent_log("ready (%s) at %s s of uptime", u.release, up);
}

void close_fds_except(const int *keep, int n) {
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < max; fd++) {
        int k = 0;
        for (int i = 0; i < n && !k; i++) k = keep[i] == fd;
        if (!k) close(fd);
    }
}

int main(void) {
    if (getpid() != 1) {
        fprintf(stderr, "vic-agent: runs as PID 1 of a pod VM's guest\n");
        return 2;
    }
    boot();
    int sfd = sup_signals_init();
    if (sfd < 0) agent_log("signalfd: %s", strerror(errno));
    if (control_open() < 0) {
        agent_log("no control port: powering off");
        power_off();
    }
    if (data_open() < 0) agent_log("no data port: no interactive exec or port-forward");
    log_ready();
    for (;;) {
        struct pollfd p[2 + 2 * MAX_CONTAINERS + 1 + 2 * MAX_TASKS + 1 + 3 * MAX_CHANS];
        int np = 0;
        p[np++] = (struct pollfd){sfd, POLLIN, 0};
        int control_at = -1;
        if (control_pollable()) {
            control_at = np;
            p[np++] = (struct pollfd){control_fd, POLLIN, 0};
        }
        /* While the control port is not polled, wake up to look at it again. */
        int timeout = control_at < 0 ? 200 : -1;
        int pipes_at = np;
        np += containers_poll_fds(p + np, &timeout);
        np += tasks_poll_fds(p + np, &timeout);
        int chans_at = np;
        np += chans_poll_fds(p + np, &timeout);
        int r = poll(p, (nfds_t)np, timeout);
        if (r < 0 && errno != EINTR) {
            agent_log("poll: %s", strerror(errno));
            continue;
        }
        containers_pump(p + pipes_at, np - pipes_at);
        /* Drain the signalfd (only SIGCHLD matters to the agent), then reap: a SIGCHLD may have
         * been merged with one already read. */
        struct signalfd_siginfo si;
        while (sfd >= 0 && sup_read_signal(sfd, &si) == 1) {
        }
        containers_reap();
        chans_pump(p + chans_at, np - chans_at);
        tasks_pump();
        if (control_at >= 0 && p[control_at].revents) control_ready(p[control_at].revents);
    }
}
