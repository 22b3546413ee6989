/* vic-agent, network: the pod's interfaces as the VCH chose them. Loopback comes up always; eth0
 * (virtio_net on the tap the VCH put on its bridge) gets the address and the default route the
 * kernel command line names (`vic.net=A.B.C.D/N,G.G.G.G`, written by the host's qemu launch). A
 * few ioctls: the guest has no `ip` binary and needs none. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"

static int if_up(int s, const char *name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(s, SIOCSIFFLAGS, &ifr);
}

static int set_in_addr(int s, const char *name, unsigned long req, in_addr_t a) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = a;
    return ioctl(s, req, &ifr);
}

static int default_route(int s, in_addr_t gw) {
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
    struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
    struct sockaddr_in *gate = (struct sockaddr_in *)&rt.rt_gateway;
    dst->sin_family = mask->sin_family = gate->sin_family = AF_INET;
    gate->sin_addr.s_addr = gw;
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = "eth0";
    return ioctl(s, SIOCADDRT, &rt);
}

/* Parses "A.B.C.D/N,G.G.G.G" (what the host wrote); 0 when it is one. */
static int parse_net(char *v, in_addr_t *addr, in_addr_t *mask, in_addr_t *gw) {
    char *slash = strchr(v, '/'), *comma = strchr(v, ',');
    if (!slash || !comma || comma < slash) return -1;
    *slash = *comma = 0;
    char *end;
    long prefix = strtol(slash + 1, &end, 10);
    if (*end || prefix < 1 || prefix > 30) return -1;
    struct in_addr a, g;
    if (inet_pton(AF_INET, v, &a) != 1 || inet_pton(AF_INET, comma + 1, &g) != 1) return -1;
    *addr = a.s_addr;
    *gw = g.s_addr;
    *mask = htonl(0xffffffffu << (32 - prefix));
    return 0;
}

void net_init(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        agent_log("network: socket: %s", strerror(errno));
        return;
    }
    if (if_up(s, "lo") < 0) agent_log("network: lo: %s", strerror(errno));
    char cmdline[4096];
    ssize_t n = read_text("/proc/cmdline", cmdline, sizeof cmdline);
    char *opt = n > 0 ? strstr(cmdline, "vic.net=") : NULL;
    if (opt) {
        opt += strlen("vic.net=");
        opt[strcspn(opt, " \n")] = 0;
        in_addr_t addr, mask, gw;
        if (parse_net(opt, &addr, &mask, &gw) < 0)
            agent_log("network: cannot parse vic.net");
        else if (set_in_addr(s, "eth0", SIOCSIFADDR, addr) < 0 ||
                 set_in_addr(s, "eth0", SIOCSIFNETMASK, mask) < 0 || if_up(s, "eth0") < 0 ||
                 default_route(s, gw) < 0)
            agent_log("network: eth0: %s", strerror(errno));
    }
    close(s);
}
