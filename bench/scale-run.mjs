// The scale run itself, shared by `npm run bench:scale` (bench/scale.mjs, which brings up the
// control plane and the registry first) and the CI-sized integration test
// (test/integration/scale-runc.test.ts, which uses the run's shared ones): one
// `vic-kubelet node` with its embedded VCH, N pods created through the apiserver at a steady
// rate and scheduled to it, every one followed to Ready, then all deleted. Measures what the
// pod-startup SLO measures (creationTimestamp → Ready, image pull excluded: one pod pulls the
// image before the run), the node process (node + embedded VCH) and what each pod costs the host.
import { removeWork } from './work-dir.mjs';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const TICK = 100; // clock ticks per second in /proc/<pid>/stat (getconf CLK_TCK)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of numbers. */
export function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Polls `probe` every `everyMs` until it returns something truthy; throws after `ms`. */
async function until(what, probe, ms, everyMs = 500) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** RSS (bytes) and CPU seconds of a process, its own and its reaped children's. */
function processFigures(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    return {
      rss: rss * 1024,
      cpu: (Number(stat[11]) + Number(stat[12])) / TICK,
      childCpu: (Number(stat[13]) + Number(stat[14])) / TICK,
    };
  } catch {
    return undefined;
  }
}

/** The node's spawn helper (src/spawn/helper-main.ts): the node process's child running it. */
function spawnHelperOf(pid) {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1];
      if (Number(ppid) !== pid) continue;
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('spawn/helper-main.js'))
        return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * The node process's figures with its spawn helper's added: the helper runs the node's runc,
 * mount and CNI commands, so its private memory and its CPU, and its children's, are the
 * node's.
 */
function nodeFigures(pid) {
  const f = processFigures(pid);
  const helperPid = spawnHelperOf(pid);
  const h = helperPid === undefined ? undefined : processFigures(helperPid);
  if (!f || !h) return f && { ...f, helperRss: 0 };
  // Its private memory: what it adds (its Node binary's pages are the node process's too).
  let priv = 0;
  try {
    const rollup = readFileSync(`/proc/${helperPid}/smaps_rollup`, 'utf8');
    for (const m of rollup.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) priv += Number(m[1]);
  } catch {
    priv = h.rss / 1024;
  }
  return {
    rss: f.rss + priv * 1024,
    cpu: f.cpu + h.cpu,
    childCpu: f.childCpu + h.childCpu,
    helperRss: priv * 1024,
  };
}

/** The runc containers under a VCH's state directory: id, status, init pid. */
export function runcContainers(stateDir) {
  const root = join(stateDir, 'runtime', 'runc', 'runc');
  if (!existsSync(root)) return [];
  const r = spawnSync('runc', ['--root', root, 'list', '--format', 'json'], { encoding: 'utf8' });
  // It fails while a container is half removed: that is not "none".
  if (r.status !== 0) throw new Error(`runc list: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout || 'null') ?? [];
}

/** The persona's containers (all, running or not), through its socket. */
function personaContainers(socket) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/containers/json?all=1' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The memory cgroup (v1 or v2) directory of a process. */
function memoryCgroup(pid) {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  if (v1) return join('/sys/fs/cgroup/memory', v1.split(':')[2]);
  const v2 = lines.find((l) => l.startsWith('0::'));
  return v2 ? join('/sys/fs/cgroup', v2.slice(3)) : undefined;
}

/**
 * What the pods cost the host, summed over every runc container of the VCH (pause sandboxes
 * and the pods' containers, tether included): the cgroups' charged memory (rss + page cache +
 * kernel) and the processes' proportional set size.
 */
function podMemory(stateDir) {
  let cgroup = 0;
  let pss = 0;
  const seen = new Set();
  for (const c of runcContainers(stateDir)) {
    if (!c.pid || c.status !== 'running') continue;
    let dir;
    try {
      dir = memoryCgroup(c.pid);
    } catch {
      continue;
    }
    if (!dir || seen.has(dir)) continue;
    seen.add(dir);
    for (const f of ['memory.usage_in_bytes', 'memory.current']) {
      const p = join(dir, f);
      if (existsSync(p)) {
        cgroup += Number(readFileSync(p, 'utf8'));
        break;
      }
    }
    const procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    for (const p of procs) {
      try {
        const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
        if (m) pss += Number(m[1]) * 1024;
      } catch {}
    }
  }
  return { cgroup, pss, cgroups: seen.size };
}

/**
 * The pod VMs of a VCH (qemu processes whose command line names its state directory): each
 * one's RSS beyond the guest RAM it was given (-m, MiB), i.e. what qemu itself costs, with
 * the guest's touched RAM counted as RAM; the same beyond the guest as PSS (pages shared with
 * the other VMs — the guest kernel's image, qemu's binary and libraries — divided among them)
 * and as private memory (what one more VM costs); and its boot time (launch to the agent's
 * hello, as the VCH recorded it in sandbox.json) while the others booted too.
 */
function vmMemory(stateDir) {
  const vms = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv[0]?.includes('qemu-system') || !argv.some((a) => a.includes(stateDir))) continue;
    const guestMiB = Number(argv[argv.indexOf('-m') + 1]);
    const f = processFigures(pid);
    if (!f) continue;
    // The guest's RAM is the one mapping of exactly its size: what of it is resident is the
    // guest's, the rest is qemu's own.
    let guestRss = 0;
    let pss = 0;
    let priv = 0;
    const kb = (m, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(m)?.[1] ?? 0);
    try {
      const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8').split(/\n(?=[0-9a-f]+-)/);
      for (const m of smaps) {
        if (kb(m, 'Size') === guestMiB * 1024) guestRss += kb(m, 'Rss') * 1024;
        else {
          pss += kb(m, 'Pss') * 1024;
          priv += (kb(m, 'Private_Clean') + kb(m, 'Private_Dirty')) * 1024;
        }
      }
    } catch {}
    // Its sandbox: the directory named in -pidfile.
    const pidFile = argv[argv.indexOf('-pidfile') + 1];
    let bootMs;
    try {
      bootMs = JSON.parse(readFileSync(join(pidFile, '..', 'sandbox.json'), 'utf8')).bootMs;
    } catch {}
    vms.push({ rss: f.rss, guest: guestMiB * 2 ** 20, guestRss, pss, priv, bootMs });
  }
  return vms;
}

/** Unmounts what is left under `dir` (rootfs overlays, shm) and removes it. */
export function removeStateDir(stateDir) {
  let left = [];
  try {
    left = runcContainers(stateDir);
  } catch {}
  for (const c of left) {
    const root = join(stateDir, 'runtime', 'runc', 'runc');
    spawnSync('runc', ['--root', root, 'kill', c.id, 'KILL']);
    spawnSync('runc', ['--root', root, 'delete', '-f', c.id]);
  }
  removeWork(stateDir);
}

function podBody(o, name) {
  return {
    metadata: { name, labels: { app: 'scale' } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': o.nodeName },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
      ],
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'sleep',
          image: o.image,
          // sh runs busybox's applets itself: images with only /bin/sh do.
          command: ['sh', '-c', 'sleep 36000'],
          resources: o.podMemory ? { limits: { memory: o.podMemory } } : undefined,
        },
      ],
    },
  };
}

/**
 * Runs the scale test. `o`: kubeconfig (admin), nodeName, nodeArgs (`vic-kubelet node` flags
 * naming its kubeconfig, node name, kubelet API and serving certificate), work (a directory for
 * the VCH's state and the node's log), registryHost, image, pods, rate (pods/s), runtime
 * (runc|vm), cpuProfDir (optional: the node runs with --cpu-prof there), podMemory (optional
 * memory limit of each pod, e.g. for VMs), log (progress lines). Returns the figures.
 */
export async function runScale(o) {
  const log = o.log ?? (() => {});
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(o.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespace = `scale-${Math.random().toString(36).slice(2, 8)}`;
  const stateDir = join(o.work, 'vch');
  const createMs = (o.pods / o.rate) * 1000;
  // Sized for 1000 pods on a slow machine: the creates, then 1 s a pod to start (and to go).
  const runningTimeoutMs = o.runningTimeoutMs ?? createMs + Math.max(300_000, o.pods * 1000);
  const deleteTimeoutMs = o.deleteTimeoutMs ?? Math.max(300_000, o.pods * 1000);

  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await until(
    'the default service account',
    () => core.readNamespacedServiceAccount({ name: 'default', namespace }),
    60_000,
  );

  const nodeLog = createWriteStream(join(o.work, 'node.log'));
  const child = spawn(
    process.execPath,
    [
      ...(o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : []),
      main,
      'node',
      ...o.nodeArgs,
      '--state-dir',
      stateDir,
      '--insecure-registry',
      o.registryHost,
      '--runtime',
      o.runtime ?? 'runc',
      '--bridge-network',
      'none',
      '--max-pods',
      String(o.pods + 10),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.pipe(nodeLog);
  child.stderr.pipe(nodeLog);
  const exited = new Promise((r) => child.once('exit', r));
  const nodeTail = () => {
    try {
      return readFileSync(join(o.work, 'node.log'), 'utf8').slice(-3000);
    } catch {
      return '';
    }
  };

  const pods = new Map(); // name → { sent, running, ready }
  let informer;
  let sampler;
  try {
    await until(
      `node ${o.nodeName} to be Ready`,
      async () =>
        child.exitCode === null &&
        (await core.readNode({ name: o.nodeName })).status?.conditions?.find(
          (c) => c.type === 'Ready',
        )?.status === 'True',
      90_000,
    ).catch((e) => {
      throw new Error(`${e.message}\n${nodeTail()}`);
    });
    const idle = nodeFigures(child.pid);

    // The image is pulled once, before the clock starts (the SLO excludes pulls).
    await core.createNamespacedPod({ namespace, body: podBody(o, 'warm-up') });
    await until(
      'the warm-up pod to run',
      async () =>
        (await core.readNamespacedPod({ name: 'warm-up', namespace })).status?.phase === 'Running',
      300_000,
    );
    await core.deleteNamespacedPod({ name: 'warm-up', namespace, gracePeriodSeconds: 0 });
    await until(
      'the warm-up pod to go',
      () =>
        core.readNamespacedPod({ name: 'warm-up', namespace }).then(
          () => false,
          () => true,
        ),
      120_000,
    );
    log('image pulled; creating pods');

    informer = k8s.makeInformer(
      kc,
      `/api/v1/namespaces/${namespace}/pods`,
      () => core.listNamespacedPod({ namespace }),
      'app=scale',
    );
    const seen = (pod) => {
      const p = pods.get(pod.metadata?.name);
      if (!p) return;
      const now = performance.now();
      if (p.running === undefined && pod.status?.phase === 'Running') p.running = now;
      const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
      if (p.ready === undefined && ready?.status === 'True') {
        p.ready = now;
        p.apiMs =
          new Date(ready.lastTransitionTime).getTime() -
          new Date(pod.metadata.creationTimestamp).getTime();
      }
    };
    informer.on('add', seen);
    informer.on('update', seen);
    informer.on('error', () => setTimeout(() => informer.start().catch(() => {}), 1000));
    await informer.start();

    // Samples of the node process: peak RSS over the run.
    let peakRss = idle?.rss ?? 0;
    sampler = setInterval(() => {
      const f = nodeFigures(child.pid);
      if (f && f.rss > peakRss) peakRss = f.rss;
    }, 1000);

    const t0 = performance.now();
    const creates = [];
    let createErrors = 0;
    for (let i = 0; i < o.pods; i++) {
      const wait = t0 + (i * 1000) / o.rate - performance.now();
      if (wait > 0) await sleep(wait);
      const name = `scale-${i}`;
      pods.set(name, { sent: performance.now() });
      creates.push(
        (async () => {
          for (let attempt = 0; ; attempt++) {
            try {
              return await core.createNamespacedPod({ namespace, body: podBody(o, name) });
            } catch (e) {
              if (attempt >= 5) {
                createErrors++;
                log(`create ${name}: ${e.message ?? e}`);
                return;
              }
              await sleep(500 * 2 ** attempt);
            }
          }
        })(),
      );
      if (i > 0 && i % 100 === 0) log(`${i} created`);
    }
    await Promise.all(creates);
    const createdIn = performance.now() - t0;
    const readyCount = () => [...pods.values()].filter((p) => p.ready !== undefined).length;
    let lastLog = 0;
    await until(
      `all ${o.pods} pods Ready`,
      async () => {
        // Truthy, to end the wait (a throw here would only count as "not yet").
        if (child.exitCode !== null) return 'exited';
        const n = readyCount();
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          log(`${n}/${o.pods} Ready`);
        }
        return n === o.pods;
      },
      runningTimeoutMs,
    ).catch((e) => {
      throw new Error(`${e.message} (${readyCount()} Ready)\n${nodeTail()}`);
    });
    if (child.exitCode !== null)
      throw new Error(`the node exited (${readyCount()} Ready)\n${nodeTail()}`);
    const allReady = Math.max(...[...pods.values()].map((p) => p.ready)) - t0;
    // Let the figures settle a moment (the node's last status writes), then take them.
    await sleep(3000);
    const atPeak = nodeFigures(child.pid);
    const memory = podMemory(stateDir);
    const vms = vmMemory(stateDir);
    const containersRunning = runcContainers(stateDir).filter((c) => c.status === 'running').length;

    // Deletion: every pod at once, as `kubectl delete pods -l` does.
    log('deleting');
    const d0 = performance.now();
    await core.deleteCollectionNamespacedPod({ namespace, labelSelector: 'app=scale' });
    await until(
      'all pods to leave the API',
      async () =>
        (await core.listNamespacedPod({ namespace, labelSelector: 'app=scale' })).items.length ===
        0,
      deleteTimeoutMs,
      1000,
    );
    const deletedIn = performance.now() - d0;
    await until(
      "the VCH's containers to go",
      async () =>
        runcContainers(stateDir).length === 0 &&
        (await personaContainers(join(stateDir, 'docker.sock'))).length === 0,
      deleteTimeoutMs,
      1000,
    ).catch(() => {});
    const containersGoneIn = performance.now() - d0;
    const leaked = {
      runc: await until('runc list', async () => runcContainers(stateDir), 30_000).then(
        (l) => l.length,
      ),
      persona: (await personaContainers(join(stateDir, 'docker.sock')).catch(() => [])).length,
    };
    const end = nodeFigures(child.pid);

    const watched = [...pods.values()].map((p) => p.ready - p.sent);
    const api = [...pods.values()].map((p) => p.apiMs);
    return {
      pods: o.pods,
      rate: o.rate,
      createErrors,
      createdInMs: createdIn,
      ready: readyCount(),
      containersRunning,
      watchedMs: {
        p50: percentile(watched, 50),
        p90: percentile(watched, 90),
        p99: percentile(watched, 99),
      },
      apiMs: { p50: percentile(api, 50), p90: percentile(api, 90), p99: percentile(api, 99) },
      allReadyMs: allReady,
      node: {
        idleRss: idle?.rss,
        rssAtAllReady: atPeak?.rss,
        peakRss,
        helperRss: end?.helperRss,
        cpuSeconds: (end?.cpu ?? NaN) - (idle?.cpu ?? NaN),
        childCpuSeconds: (end?.childCpu ?? NaN) - (idle?.childCpu ?? NaN),
      },
      memoryPerPod: {
        cgroup: memory.cgroup / o.pods,
        pss: memory.pss / o.pods,
        cgroups: memory.cgroups,
      },
      // Pod VMs (--runtime vm): how many, qemu RSS, and RSS beyond the guest RAM, per VM.
      vms: vms.length && {
        count: vms.length,
        rss: vms.reduce((a, v) => a + v.rss, 0) / vms.length,
        guest: vms.reduce((a, v) => a + v.guest, 0) / vms.length,
        guestResident: vms.reduce((a, v) => a + v.guestRss, 0) / vms.length,
        beyondGuest: percentile(
          vms.map((v) => v.rss - v.guestRss),
          50,
        ),
        maxBeyondGuest: Math.max(...vms.map((v) => v.rss - v.guestRss)),
        pssBeyondGuest: percentile(
          vms.map((v) => v.pss),
          50,
        ),
        privateBeyondGuest: percentile(
          vms.map((v) => v.priv),
          50,
        ),
        // Launch to the agent's hello, all of them booting at the pace the pods were created.
        bootMs: ((b) =>
          b.length > 0 && {
            p50: percentile(b, 50),
            max: Math.max(...b),
          })(vms.map((v) => v.bootMs).filter((ms) => typeof ms === 'number')),
      },
      deletedInMs: deletedIn,
      containersGoneInMs: containersGoneIn,
      leaked,
    };
  } finally {
    clearInterval(sampler);
    informer?.stop();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(t);
    }
    await core.deleteNamespace({ name: namespace }).catch(() => {});
    await core.deleteNode({ name: o.nodeName }).catch(() => {});
    removeStateDir(stateDir);
  }
}

/** The newest CPU profile in `dir`: self time by function, the top `n`. */
export function topFunctions(dir, n = 25) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return [];
  const prof = JSON.parse(readFileSync(join(dir, files.sort().at(-1)), 'utf8'));
  const self = new Map();
  const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
  const dt = prof.timeDeltas;
  for (let i = 0; i < prof.samples.length; i++) {
    const nd = byId.get(prof.samples[i]);
    const f = nd.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, ms]) => ({ fn: k, ms, share: ms / total }));
}
