// Benchmark of an exec's round trip on the node, beyond kubectl's and the apiserver's own cost:
// `true` run in a pod's container (runc) through the VIC provider (portlayer exec task join,
// bind, commit, the interaction streams, wait, inspect) — what the kubelet API does for each
// `kubectl exec pod -- true` — and, apart, the runtime's streaming exec alone (runc exec),
// without and with a terminal. An embedded VCH in this one process, as `vic-kubelet node`
// runs it.
//
//   npm run bench:exec     (VIC_BENCH_RUNS=30; root, runc, umoci)
//
// Prints a table with the target (under 150 ms on runc). Not a test: nothing passes or
// fails.
import { removeWork } from './work-dir.mjs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { busyboxLayout } from './busybox-layout.mjs';
import { silentLogger } from '../dist/logging/logger.js';
import { PersonaClient, PortlayerClient, VicProvider } from '../dist/providers/vic/index.js';
import { openEmbeddedVch } from '../dist/vch/embedded.js';

const runs = Number(process.env.VIC_BENCH_RUNS ?? 30);
const work = mkdtempSync(join(tmpdir(), 'vic-bench-exec-'));
let image = '';

const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const pod = {
  metadata: { name: 'exec-bench', namespace: 'bench', uid: 'uid-exec-bench' },
  spec: {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'app', image, imagePullPolicy: 'Never', command: ['sleep', '3600'] }],
  },
};

// Loopback only: the default would make the VCH's bridge in the host's network namespace.
const vch = await openEmbeddedVch({
  stateDir: join(work, 'vch'),
  runtime: 'runc',
  bridgeNetwork: 'none',
});
const isolation = new PortlayerClient(vch.portlayerUrl);
const provider = new VicProvider({
  isolation,
  imageStore: new PersonaClient(vch.url),
  nodeIP: '127.0.0.1',
  log: silentLogger(),
});
const rows = [];
try {
  [image] = (await vch.vch.loadImages(busyboxLayout(work, 'exec'))).references;
  pod.spec.containers[0].image = image;
  await provider.createPod(pod);
  let taskId;
  for (const t0 = Date.now(); Date.now() - t0 < 120_000;) {
    const s = await provider.getPodStatus('bench', 'exec-bench');
    if (s?.containerStatuses?.[0]?.state?.running) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  // The VCH's container of the pod's one task: the runtime's rows exec in it straight.
  taskId = (await vch.vch.listContainers({})).find((c) => c.status === 'running')?.id;
  const time = async (what, fn) => {
    await fn(); // warm
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const code = await fn();
      ms.push(performance.now() - t0);
      if (code !== 0) throw new Error(`${what}: exit ${code}`);
    }
    rows.push([what, pct(ms, 0.5), pct(ms, 0.9), Math.min(...ms)]);
  };
  await time(
    'kubectl exec path on the node: provider.runInContainer (portlayer attach)',
    async () => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      stdout.resume();
      stderr.resume();
      const r = await provider.runInContainer('bench', 'exec-bench', 'app', ['true'], {
        stdout,
        stderr,
        tty: false,
        signal: new AbortController().signal,
      });
      return r.exitCode;
    },
  );
  await time('  of it: the runtime streaming exec alone (runc exec)', async () => {
    const s = await vch.vch.execStream(taskId, { args: ['true'] }, {});
    s.stdout.resume();
    s.stderr?.resume();
    return s.exit;
  });
  await time('  with a terminal (runc exec --tty + console relay)', async () => {
    const s = await vch.vch.execStream(taskId, { args: ['true'] }, { tty: true });
    s.stdout.resume();
    return s.exit;
  });
} finally {
  await provider.close();
  await provider.deletePod(pod).catch(() => {});
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await provider.getPods()).length > 0)
    await new Promise((r) => setTimeout(r, 500));
  await vch.close();
  removeWork(work);
}

const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const ms = (x) => `${x.toFixed(1)} ms`;
console.log(
  `\nexec round trip on the node (runc), ${runs} runs each; host load ${load}, ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores\n`,
);
console.log('| what | median | p90 | best | target |');
console.log('|---|---|---|---|---|');
for (const [what, med, p90, best] of rows)
  console.log(
    `| ${what} | ${ms(med)} | ${ms(p90)} | ${ms(best)} | ${rows[0][0] === what ? '< 150 ms' : ''} |`,
  );
process.exit(0);
