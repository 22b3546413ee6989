/* vm-jail: starts a pod VM's qemu as an unprivileged uid of its own, holding only the file
 * capabilities its 9p server needs, under a seccomp filter that refuses setuid and setgid bits.
 *
 *   vm-jail UID GID [--tap NAME] -- qemu-system-x86_64 ARGS...
 *
 * Why not qemu's own -runas: it drops every capability, and the 9p server (security_model=
 * passthrough, the only model that shows an image's own symlinks, owners and modes as they are)
 * must write files of the container's image that root owns and give new files the guest's
 * owner. So qemu runs as UID:GID (no supplementary groups) keeping CAP_CHOWN, CAP_DAC_OVERRIDE,
 * CAP_DAC_READ_SEARCH and CAP_FOWNER (as ambient capabilities, which survive the exec) and
 * nothing else, the bounding set included. Without CAP_MKNOD the guest cannot make a device
 * node on the host through the share; without CAP_FSETID a write or chown through the share
 * clears a file's setuid bit; without CAP_SETFCAP or CAP_SYS_ADMIN it cannot set file
 * capabilities (security.capability) or other security.* attributes. What owning a file still
 * allows — setting its setuid or setgid bit with chmod, or creating it with them — the seccomp
 * filter refuses (EPERM): chmod, fchmod, fchmodat, fchmodat2, creat, open and openat when they
 * create, mkdir, mkdirat, mknod and mknodat with S_ISUID or S_ISGID in their mode; openat2
 * (whose mode is in a struct a filter cannot read) is ENOSYS, so a caller falls back to openat.
 * Not being root, a qemu the guest took over cannot signal or trace the VCH or other VMs' qemu
 * (each VM has a uid of its own) and holds no capability beyond the four.
 *
 * --tap NAME: the tap is opened here, as root (attaching to a tap needs CAP_NET_ADMIN unless
 * one owns it), and handed to qemu as fd 3 (`-netdev tap,fd=3`).
 *
 * qemu's own -sandbox filter comes on top of this one (filters stack; the stricter answer
 * wins). Exit status 125 and a message on stderr when something here fails; 127 when there is
 * no such command, 126 when it cannot be run. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif

#define TAP_FD 3
#define FAIL 125

static const int keep[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER};
#define NKEEP ((int)(sizeof keep / sizeof keep[0]))

static void die(const char *what) {
    fprintf(stderr, "vm-jail: %s: %s\n", what, strerror(errno));
    exit(FAIL);
}

static unsigned parse_id(const char *s) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    /* Root is what this is here to avoid; (uid_t)-1 means "unchanged" to setresuid. */
    if (errno || *s == '\0' || *end || v == 0 || v >= 0xffffffffUL) {
        fprintf(stderr, "vm-jail: bad uid or gid %s (a number, not 0)\n", s);
        exit(FAIL);
    }
    return (unsigned)v;
}

static int kept(int cap) {
    for (int i = 0; i < NKEEP; i++)
        if (keep[i] == cap) return 1;
    return 0;
}

static void open_tap(const char *name) {
    if (strlen(name) >= IFNAMSIZ) {
        fprintf(stderr, "vm-jail: tap name %s too long\n", name);
        exit(FAIL);
    }
    int fd = open("/dev/net/tun", O_RDWR);
    if (fd < 0) die("/dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    /* As qemu opens a tap by name: virtio-net headers when the kernel has them. */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) die(name);
    }
    if (fd != TAP_FD) {
        if (dup2(fd, TAP_FD) < 0) die("dup2");
        close(fd);
    }
}

/* Offset of the low 32 bits of a syscall argument in seccomp_data (x86-64: little-endian). */
#define ARG_LO(i) ((unsigned)(offsetof(struct seccomp_data, args) + 8 * (i)))
#define SUID_BITS (S_ISUID | S_ISGID)

static struct sock_filter prog[96];
static unsigned short len;

static void emit(struct sock_filter f) {
    prog[len++] = f;
}

/* syscall nr: EPERM when argument `mode` has S_ISUID or S_ISGID; when `flags` >= 0, only when
 * that argument asks to create (O_CREAT or O_TMPFILE). Every path ends in a return. */
static void mode_rule(unsigned nr, int flags, int mode) {
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, flags >= 0 ? 6 : 4));
    if (flags >= 0) {
        emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(flags)));
        emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_CREAT | __O_TMPFILE, 0, 3));
    }
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(mode)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SUID_BITS, 0, 1));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
}

static void install_filter(void) {
    /* Only x86-64 calls (no i386 int 0x80, no x32): the numbers below are theirs. */
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    mode_rule(__NR_chmod, -1, 1);
    mode_rule(__NR_fchmod, -1, 1);
    mode_rule(__NR_fchmodat, -1, 2);
    mode_rule(__NR_fchmodat2, -1, 2);
    mode_rule(__NR_creat, -1, 1);
    mode_rule(__NR_open, 1, 2);
    mode_rule(__NR_openat, 2, 3);
    mode_rule(__NR_mkdir, -1, 1);
    mode_rule(__NR_mkdirat, -1, 2);
    mode_rule(__NR_mknod, -1, 1);
    mode_rule(__NR_mknodat, -1, 2);
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat2, 0, 1));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    struct sock_fprog fprog = {.len = len, .filter = prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
    if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0) die("seccomp");
}

static void drop_privileges(unsigned uid, unsigned gid) {
    /* The bounding set first: dropping from it needs CAP_SETPCAP, gone after setresuid. */
    for (int c = 0; c <= 63; c++)
        if (!kept(c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            die("dropping a capability from the bounding set");
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die("keepcaps");
    if (setgroups(0, NULL) < 0) die("setgroups");
    if (setresgid(gid, gid, gid) < 0) die("setresgid");
    if (setresuid(uid, uid, uid) < 0) die("setresuid");
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < NKEEP; i++) {
        data[keep[i] / 32].effective |= 1u << (keep[i] % 32);
        data[keep[i] / 32].permitted |= 1u << (keep[i] % 32);
        data[keep[i] / 32].inheritable |= 1u << (keep[i] % 32);
    }
    if (syscall(__NR_capset, &hdr, data) < 0) die("capset");
    /* Ambient: what a non-root process keeps across exec of a binary without file caps. */
    for (int i = 0; i < NKEEP; i++)
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, keep[i], 0, 0) < 0) die("ambient caps");
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: vm-jail UID GID [--tap NAME] -- QEMU ARGS...\n");
        return FAIL;
    }
    unsigned uid = parse_id(argv[1]), gid = parse_id(argv[2]);
    int i = 3;
    if (strcmp(argv[i], "--tap") == 0) {
        if (i + 1 >= argc) {
            fprintf(stderr, "vm-jail: --tap wants a name\n");
            return FAIL;
        }
        open_tap(argv[i + 1]);
        i += 2;
    }
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
        fprintf(stderr, "vm-jail: expected -- and the command\n");
        return FAIL;
    }
    drop_privileges(uid, gid);
    install_filter();
    execvp(argv[i + 1], &argv[i + 1]);
    /* As a shell says it (and nice(1)): 127 no such program, 126 not runnable. */
    int e = errno;
    fprintf(stderr, "vm-jail: %s: %s\n", argv[i + 1], strerror(e));
    return e == ENOENT ? 127 : 126;
}
