// Benchmark of a pod's start on each isolation backend, through the runtime interface the VCH
// uses: sandbox created (for vm: the VM booted to its agent) → container created → started
// (its process runs: "Running"). Then the pod is stopped and removed, which is timed too.
//
//   npm run bench:pod-start          (VIC_BENCH_RUNS=5 by default; root, runc and qemu needed)
//
// Prints one table with the best and the median of the runs and the targets (pod Running
// in under 5 s under TCG, under 1 s with KVM). Not a test: nothing passes or fails. The first
// vm run may build the guest (kernel + initramfs, ~15 s, cached afterwards); it is done before
// timing starts.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuncRuntime } from '../dist/runtime/runc/index.js';
import { createVmRuntime } from '../dist/runtime/vm/index.js';
import { buildGuest } from '../dist/runtime/vm/guest-build.js';

const runs = Number(process.env.VIC_BENCH_RUNS ?? 5);
const work = mkdtempSync(join(tmpdir(), 'vic-bench-pod-'));

/** A busybox rootfs: /bin/busybox and its applets. */
function rootfs() {
  const dir = join(work, 'rootfs');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new Error('busybox-static is not installed');
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  for (const a of spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n'))
    if (a && a !== 'busybox') symlinkSync('busybox', join(dir, 'bin', a));
  return dir;
}

const id = () => randomBytes(32).toString('hex');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

async function measure(runtime, image) {
  const start = [];
  const stop = [];
  for (let i = 0; i < runs; i++) {
    const pod = id();
    const c = id();
    const t0 = performance.now();
    await runtime.createSandbox({ id: pod, hostname: `bench${i}` });
    await runtime.createContainer(pod, {
      id: c,
      name: 'app',
      imageRootfs: image,
      process: { args: ['sh', '-c', 'echo up; sleep 60'], env: ['PATH=/bin'], cwd: '/', user: '' },
      logPath: join(work, `${c}.log`),
    });
    await runtime.start(c);
    start.push(performance.now() - t0);
    const t1 = performance.now();
    await runtime.stop(c, { graceMs: 2000 });
    await runtime.remove(c);
    await runtime.removeSandbox(pod);
    stop.push(performance.now() - t1);
  }
  return { start, stop };
}

const image = rootfs();
const rows = [];
try {
  const runc = createRuncRuntime({ stateDir: join(work, 'runc') });
  await runc.recover();
  rows.push(['runc', await measure(runc, image), 'n/a']);
  await runc.close();

  await buildGuest({});
  const vm = createVmRuntime({ stateDir: join(work, 'vm'), accel: 'auto' });
  await vm.recover();
  const accel = vm.accelerator;
  rows.push([`vm (${accel})`, await measure(vm, image), accel === 'kvm' ? '< 1 s' : '< 5 s']);
  await vm.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(
  `\npod start (${runs} runs each; host load ${spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ')[0]})\n`,
);
console.log('| backend | to Running: best | median | stop + remove: median | target (Running) |');
console.log('|---|---|---|---|---|');
for (const [name, r, target] of rows)
  console.log(
    `| ${name} | ${fmt(Math.min(...r.start))} | ${fmt(median(r.start))} | ${fmt(median(r.stop))} | ${target} |`,
  );
