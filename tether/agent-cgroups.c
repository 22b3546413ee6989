/* vic-agent, cgroups: each container's limits inside the VM (the VM itself is the pod's size),
 * and whether the OOM killer struck in them. Without cgroup2 in the guest, containers run
 * without limits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "protocol.h"
#include "tokens.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

static int cgroups_ok;

void cgroups_init(void) {
    if (mount("cgroup2", CGROUP_ROOT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
        write_text(CGROUP_ROOT "/cgroup.subtree_control", "+memory +cpu") < 0) {
        agent_log("cgroups: %s (containers run without limits)", strerror(errno));
        return;
    }
    cgroups_ok = 1;
}

static void cgroup_path(const char *id, const char *file, char *out, size_t cap) {
    snprintf(out, cap, CGROUP_ROOT "/%.64s%s%s", id, file ? "/" : "", file ? file : "");
}

void cgroup_prepare(const struct start_req *r) {
    if (!cgroups_ok) return;
    char p[256], v[64];
    cgroup_path(r->id, NULL, p, sizeof p);
    rmdir(p); /* the last run's: empty once its processes are gone */
    if (mkdir(p, 0755) < 0 && errno != EEXIST) return;
    cgroup_path(r->id, "memory.max", p, sizeof p);
    if (r->memory_max > 0) snprintf(v, sizeof v, "%lld", r->memory_max);
    else snprintf(v, sizeof v, "max");
    if (write_text(p, v) < 0) agent_log("%s: memory.max: %s", r->id, strerror(errno));
    cgroup_path(r->id, "cpu.max", p, sizeof p);
    if (r->cpu_millis > 0) snprintf(v, sizeof v, "%lld 100000", r->cpu_millis * 100);
    else snprintf(v, sizeof v, "max 100000");
    if (write_text(p, v) < 0) agent_log("%s: cpu.max: %s", r->id, strerror(errno));
}

int cgroup_enter(const char *id) {
    if (!cgroups_ok) return 0;
    char p[256];
    cgroup_path(id, "cgroup.procs", p, sizeof p);
    return write_text(p, "0"); /* "0": the writer itself */
}

int cgroup_oom_killed(const char *id) {
    char p[256], buf[1024];
    cgroup_path(id, "memory.events", p, sizeof p);
    if (read_text(p, buf, sizeof buf) < 0) return 0;
    char *k = strstr(buf, "oom_kill ");
    return k && atoll(k + 9) > 0;
}

/* The number after `key` at the start of a line of a "key value" file, or -1. */
static long long stat_value(const char *text, const char *key) {
    size_t n = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (!strncmp(l, key, n) && l[n] == ' ') return atoll(l + n + 1);
    return -1;
}

void cgroup_send_stats(const char *id, int running) {
    char p[256], cpu[1024], cur[64], max[64], mem[8192], eid[200];
    if (!cgroups_ok) return send_error(id, "no cgroups in the guest");
    if (!running) return send_error(id, "not running");
    cgroup_path(id, "cpu.stat", p, sizeof p);
    if (read_text(p, cpu, sizeof cpu) < 0) return send_error(id, "no cpu.stat");
    cgroup_path(id, "memory.current", p, sizeof p);
    if (read_text(p, cur, sizeof cur) < 0) return send_error(id, "no memory.current");
    cgroup_path(id, "memory.max", p, sizeof p);
    if (read_text(p, max, sizeof max) < 0) snprintf(max, sizeof max, "max");
    cgroup_path(id, "memory.stat", p, sizeof p);
    if (read_text(p, mem, sizeof mem) < 0) return send_error(id, "no memory.stat");
    max[strcspn(max, "\n")] = 0;
    token_encode(id, eid, sizeof eid);
    send_line(VIC_TO_HOST_STATS " %s %lld %lld %s %lld %lld %lld %lld", eid,
              stat_value(cpu, "usage_usec"), atoll(cur), strcmp(max, "max") ? max : "max",
              stat_value(mem, "inactive_file"), stat_value(mem, "anon"),
              stat_value(mem, "pgfault"), stat_value(mem, "pgmajfault"));
}
