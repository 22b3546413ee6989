/* vic-agent, boot: from the kernel's initramfs to a guest ready for containers (modules, a root
 * of its own, /proc, /sys, /dev, cgroups, the share with the containers' rootfs directories). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"

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
            agent_log("module %s: %s", name, strerror(errno));
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
    agent_log("cannot leave the initramfs: %s", strerror(errno));
}

void boot(void) {
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
    /* The execs' terminals (agent-tasks.c opens /dev/pts/ptmx). */
    mkdir("/dev/pts", 0755);
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
        agent_log("mount devpts: %s", strerror(errno));
    cgroups_init();
    net_init();
    /* cache=mmap: no page cache for reads and writes (the host's files are the truth), but
     * mmap works for the programs that need it. */
    const char *opts = "trans=virtio,version=9p2000.L,cache=mmap,msize=262144";
    if (mount(VIC_SHARE_TAG, SHARE_DIR, "9p", 0, opts) < 0)
        agent_log("mount %s: %s", VIC_SHARE_TAG, strerror(errno));
}
