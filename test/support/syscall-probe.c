/* Built by the seccomp tests (gcc -static) into their busybox rootfs: tries two system calls
 * that Debian's default seccomp profile refuses with ENOSYS but the kernel itself would answer
 * otherwise, and prints the errno each got (0: it succeeded). */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    /* add_key with no type: EFAULT from the kernel. */
    long r = syscall(SYS_add_key, 0, 0, 0, 0, 0);
    printf("add_key=%d\n", r < 0 ? errno : 0);
    /* personality(ADDR_NO_RANDOMIZE): allowed by the kernel, not by the profile. */
    r = syscall(SYS_personality, 0x0040000UL);
    printf("personality=%d\n", r < 0 ? errno : 0);
    return 0;
}
