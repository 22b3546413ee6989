/* container-cp: the file work of `docker cp` (the persona's archive endpoints), done inside a
 * running runc container's own mount namespace, so that every path — and every symlink the
 * container may have planted in it — resolves against the container's root and its mounts, never
 * the host's.
 *
 *   container-cp stat PATH            prints "MODE SIZE MTIME_SEC MTIME_NSEC\n" (octal st_mode of
 *                                     lstat) and for a symlink a second line: where it leads
 *   container-cp get PATH             writes a tar of PATH (not following a last symlink) to stdout
 *   container-cp put DIR [keep-owner] extracts the tar on stdin into the directory DIR; without
 *                                     keep-owner the files belong to root, as docker cp makes them
 *
 *   fd 3: /proc/<init>/ns/mnt of the container (opened by the VCH, which checks the init is still
 *         the one it knows after opening it, so a reused pid cannot point elsewhere)
 *   fd 4: the host's static busybox, opened by the VCH before anything here enters the container
 *
 * Why: the host's path to a container's rootfs is a tree the container writes; resolving a path
 * given by a user in it from the host would follow the container's symlinks out to the host (a
 * link to /etc is enough). setns() into the container's mount namespace makes its root our root,
 * as chroot() would, and gives the container's view (volumes, /etc/hosts) besides. tar is the
 * host's busybox run with fexecve(), never a binary of the container's, so nothing the container
 * wrote runs here with the host's root. Nothing of the container's processes can reach this
 * process: it stays in the host's PID namespace.
 *
 * Exit: 0 done, 2 no such path, 3 not a directory (put), 1 anything else; the reason on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MNTNS_FD 3
#define BUSYBOX_FD 4

static int fail(int code, const char *what, const char *path) {
    fprintf(stderr, "%s %s: %s\n", what, path, strerror(errno));
    return code;
}

static int missing(int e) { return e == ENOENT || e == ENOTDIR || e == ELOOP; }

static int do_stat(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) return fail(missing(errno) ? 2 : 1, "lstat", path);
    printf("%o %lld %lld %ld\n", (unsigned)st.st_mode, (long long)st.st_size,
           (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    if (S_ISLNK(st.st_mode)) {
        char buf[PATH_MAX];
        /* Resolved in the container's root; a dangling link says only its own target. */
        if (realpath(path, buf)) printf("%s\n", buf);
        else {
            ssize_t n = readlink(path, buf, sizeof buf - 1);
            if (n < 0) return fail(1, "readlink", path);
            buf[n] = 0;
            printf("%s\n", buf);
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static int run_tar(char *const argv[]) {
    static char *const envp[] = {NULL};
    /* Close-on-exec is fine for an ELF binary (only a script needs its fd after exec). */
    if (fcntl(BUSYBOX_FD, F_SETFD, FD_CLOEXEC) < 0) return fail(1, "fcntl", "busybox");
    fexecve(BUSYBOX_FD, argv, envp);
    return fail(1, "fexecve", "busybox");
}

static int do_get(char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) return fail(missing(errno) ? 2 : 1, "lstat", path);
    /* tar -C DIR -- BASE: the archive is named after the last element, as docker cp's. */
    char dir[PATH_MAX];
    const char *base;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') path[--n] = 0;
    char *slash = strrchr(path, '/');
    if (!slash || n >= sizeof dir) {
        errno = EINVAL;
        return fail(1, "path", path);
    }
    if (slash == path && path[1] == 0) { /* "/" itself */
        strcpy(dir, "/");
        base = ".";
    } else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = 0;
        if (dir[0] == 0) strcpy(dir, "/");
        base = slash + 1;
    }
    char *const argv[] = {"tar", "-c", "-f", "-", "-C", dir, "--", (char *)base, NULL};
    return run_tar(argv);
}

static int do_put(const char *dir, int keep_owner) {
    struct stat st;
    if (stat(dir, &st) < 0) return fail(missing(errno) ? 2 : 1, "stat", dir);
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "extraction point is not a directory: %s\n", dir);
        return 3;
    }
    if (keep_owner) {
        char *const argv[] = {"tar", "-x", "-f", "-", "-C", (char *)dir, NULL};
        return run_tar(argv);
    }
    char *const argv[] = {"tar", "-x", "-o", "-f", "-", "-C", (char *)dir, NULL};
    return run_tar(argv);
}

int main(int argc, char **argv) {
    if (argc < 3 || argv[2][0] != '/') {
        fprintf(stderr, "usage: container-cp stat|get PATH | put DIR [keep-owner]  (absolute)\n");
        return 1;
    }
    if (setns(MNTNS_FD, CLONE_NEWNS) < 0) return fail(1, "setns", "mnt");
    close(MNTNS_FD);
    /* setns() put our root and working directory at the namespace's root: the container's. */
    if (chdir("/") < 0) return fail(1, "chdir", "/");
    const char *op = argv[1];
    if (strcmp(op, "stat") == 0) return do_stat(argv[2]);
    if (strcmp(op, "get") == 0) return do_get(argv[2]);
    if (strcmp(op, "put") == 0) return do_put(argv[2], argc > 3 && strcmp(argv[3], "keep-owner") == 0);
    fprintf(stderr, "container-cp: unknown operation %s\n", op);
    return 1;
}
