// Benchmark of exec probes: N pods (runc), each with an exec liveness probe every second, run
// by the VIC provider against an embedded VCH in this one process, as `vic-kubelet node` runs
// them. Measured over a window once every pod runs: the CPU of this process (node + VCH) and of
// its reaped children (`runc exec`, where a container's tether does not take execs), in CPU
// seconds per second, and the probes that ran per second (N a second when they keep up). The
// pods' own cgroups (their tethers run the probes' processes) are shown beside: the kubelet does
// not count a probe's process as its own CPU either.
//
//   npm run bench:probes     (VIC_BENCH_PODS=100, VIC_BENCH_SECONDS=60; root, runc, umoci)
//
// Prints a table with the target (under half a core). Not a test: nothing passes or
// fails.
import { removeWork } from './work-dir.mjs';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxLayout } from './busybox-layout.mjs';
import { silentLogger } from '../dist/logging/logger.js';
import { PersonaClient, PortlayerClient, VicProvider } from '../dist/providers/vic/index.js';
import { openEmbeddedVch } from '../dist/vch/embedded.js';

const pods = Number(process.env.VIC_BENCH_PODS ?? 100);
const seconds = Number(process.env.VIC_BENCH_SECONDS ?? 60);
const work = mkdtempSync(join(tmpdir(), 'vic-bench-probes-'));
let image = '';

/** CPU seconds of this process and of its reaped children (/proc/self/stat, clock ticks). */
function cpuSeconds() {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  const tick = 100;
  const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]].map(Number);
  return { self: (utime + stime) / tick, children: (cutime + cstime) / tick };
}

/**
 * CPU seconds of the bench's containers' cgroups (cgroup v1 cpuacct, else v2 cpu.stat): their
 * tethers, which run the probes since they take execs, the probes' processes and the apps.
 */
function podsCpuSeconds() {
  let ns = 0;
  const dir = join(work, 'vch', 'runtime', 'runc', 'containers');
  const ids = existsSync(dir) ? readdirSync(dir) : [];
  for (const id of ids) {
    const v1 = `/sys/fs/cgroup/cpuacct/vic-kubelet/${id}/cpuacct.usage`;
    const v2 = `/sys/fs/cgroup/vic-kubelet/${id}/cpu.stat`;
    if (existsSync(v1)) ns += Number(readFileSync(v1, 'utf8'));
    else if (existsSync(v2))
      ns += 1000 * Number(/usage_usec (\d+)/.exec(readFileSync(v2, 'utf8'))?.[1] ?? 0);
  }
  return ns / 1e9;
}

const pod = (i) => ({
  metadata: { name: `probe-${i}`, namespace: 'bench', uid: `uid-${i}` },
  spec: {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'app',
        image,
        imagePullPolicy: 'Never',
        command: ['sleep', '3600'],
        livenessProbe: { exec: { command: ['true'] }, periodSeconds: 1, timeoutSeconds: 5 },
      },
    ],
  },
});

const vch = await openEmbeddedVch({
  stateDir: join(work, 'vch'),
  runtime: 'runc',
  // Loopback only: the default would make the VCH's bridge in the host's network namespace.
  bridgeNetwork: 'none',
  maxPods: pods + 10,
});
let probes = 0;
let failures = 0;
const isolation = new PortlayerClient(vch.portlayerUrl);
const exec = isolation.execInTask.bind(isolation);
isolation.execInTask = async (...args) => {
  const r = await exec(...args);
  probes++;
  if (r.exitCode !== 0) failures++;
  return r;
};
const provider = new VicProvider({
  isolation,
  imageStore: new PersonaClient(vch.url),
  nodeIP: '127.0.0.1',
  log: silentLogger(),
});
const restarts = [];
let table;
try {
  [image] = (await vch.vch.loadImages(busyboxLayout(work, 'probes'))).references;
  const t0 = performance.now();
  for (let i = 0; i < pods; i++) await provider.createPod(pod(i));
  for (;;) {
    const statuses = await Promise.all(
      Array.from({ length: pods }, (_, i) => provider.getPodStatus('bench', `probe-${i}`)),
    );
    const running = statuses.filter((s) => s?.containerStatuses?.[0]?.state?.running).length;
    if (running === pods) break;
    if (performance.now() - t0 > 15 * 60_000) throw new Error(`only ${running}/${pods} running`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const startup = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 5000)); // settle
  const c0 = cpuSeconds();
  const g0 = podsCpuSeconds();
  const p0 = probes;
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = cpuSeconds();
  const g1 = podsCpuSeconds();
  const wall = (performance.now() - w0) / 1000;
  const ran = probes - p0;
  for (let i = 0; i < pods; i++)
    restarts.push(
      (await provider.getPodStatus('bench', `probe-${i}`))?.containerStatuses?.[0]?.restartCount ??
        0,
    );
  const self = (c1.self - c0.self) / wall;
  const children = (c1.children - c0.children) / wall;
  const inPods = (g1 - g0) / wall;
  table = { startup, wall, ran, self, children, inPods };
} finally {
  await provider.close();
  for (let i = 0; i < pods; i++) await provider.deletePod(pod(i)).catch(() => {});
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && (await provider.getPods()).length > 0)
    await new Promise((r) => setTimeout(r, 500));
  await vch.close();
  removeWork(work);
}

const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const { startup, wall, ran, self, children, inPods } = table;
console.log(
  `\nexec liveness probes: ${pods} pods (runc), period 1 s, ${wall.toFixed(0)} s window; ${pods} pods Running after ${startup.toFixed(0)} s; host load ${load}, ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores\n`,
);
console.log(
  '| pods | probes/s (want ' +
    pods +
    ') | failed probes | restarts | node+VCH process CPU s/s | its children (runc exec) CPU s/s | node total CPU s/s | target | in the pods (tethers, probes) CPU s/s |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
console.log(
  `| ${pods} | ${(ran / wall).toFixed(1)} | ${failures} | ${restarts.reduce((a, b) => a + b, 0)} | ${self.toFixed(3)} | ${children.toFixed(3)} | ${(self + children).toFixed(3)} | < 0.5 | ${inPods.toFixed(3)} |`,
);
process.exit(0);
