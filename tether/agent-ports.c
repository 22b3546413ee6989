/* vic-agent, ports: finding the guest's virtio-serial ports by the names the host gave them. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "supervise.h"

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
        ssize_t n = read_text(path, got, sizeof got);
        if (n <= 0) continue;
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

int open_port(const char *name, int flags, int wait_ms) {
    long long deadline = sup_monotonic_ms() + wait_ms;
    for (;;) {
        char dev[300];
        if (find_port(name, dev, sizeof dev) == 0) {
            int fd = open(dev, flags | O_CLOEXEC);
            if (fd >= 0) return fd;
        }
        if (sup_monotonic_ms() >= deadline) return -1;
        usleep(20000);
    }
}

