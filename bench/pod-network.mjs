// Benchmark of what the VCH's bridge network adds to a runc pod's start (and removal): the same
// pod started through the runtime with and without the network (CNI ADD of bridge + host-local
// and firewall on the sandbox's namespace, portmap when it publishes; DEL on removal), plus the
// attach and detach themselves, timed around the network's own calls. The ADD runs beside the
// container's start work, so "added" is what is left of it on the pod's critical path.
//
//   npm run bench:pod-network        (VIC_BENCH_RUNS=20 by default; root, runc, CNI plugins)
//
// It runs whole inside a network namespace it creates (and deletes): the bridge, veths and
// rules never touch the host's. Prints one table with medians and the target (under
// 50 ms per runc pod). Not a test: nothing passes or fails.
import { inOwnNetns } from './own-netns.mjs';
import { removeWork } from './work-dir.mjs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

await inOwnNetns(fileURLToPath(import.meta.url), 'vkbench', bench);

async function bench() {
  const { createRuncRuntime } = await import('../dist/runtime/runc/index.js');
  const { BridgeNetwork } = await import('../dist/vch/network/bridge-network.js');
  const runs = Number(process.env.VIC_BENCH_RUNS ?? 20);
  const work = mkdtempSync(join(tmpdir(), 'vic-bench-net-'));
  const id = () => randomBytes(32).toString('hex');
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };

  const image = join(work, 'rootfs');
  mkdirSync(join(image, 'bin'), { recursive: true });
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  copyFileSync(busybox, join(image, 'bin/busybox'));
  symlinkSync('busybox', join(image, 'bin/sh'));

  /** The network, with its calls timed. */
  async function timedNetwork(stateDir) {
    const net = await BridgeNetwork.open({ stateDir, cidr: '10.123.0.0/16', logger: quiet });
    const times = { attach: [], detach: [] };
    return {
      times,
      attach: async (sid, ns) => {
        const t = performance.now();
        const r = await net.attach(sid, ns);
        times.attach.push(performance.now() - t);
        return r;
      },
      detach: async (sid) => {
        const t = performance.now();
        await net.detach(sid);
        times.detach.push(performance.now() - t);
      },
    };
  }

  async function measure(runtime) {
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
        process: { args: ['sh', '-c', 'sleep 60'], env: ['PATH=/bin'], cwd: '/', user: '' },
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

  try {
    const plain = createRuncRuntime({ stateDir: join(work, 'plain') });
    await plain.recover();
    const without = await measure(plain);
    await plain.close();

    const network = await timedNetwork(join(work, 'net'));
    const bridged = createRuncRuntime({ stateDir: join(work, 'net', 'runtime'), network });
    await bridged.recover();
    const withNet = await measure(bridged);
    await bridged.close();

    const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ')[0];
    console.log(
      `\nrunc pod start with the bridge network (${runs} runs each; host load ${load})\n`,
    );
    console.log('| | loopback only: median | bridge: median | added | target |');
    console.log('|---|---|---|---|---|');
    const ms = (r) => median(r);
    console.log(
      `| pod to Running | ${fmt(ms(without.start))} | ${fmt(ms(withNet.start))} | ${fmt(ms(withNet.start) - ms(without.start))} | < 50 ms added |`,
    );
    console.log(
      `| stop + remove | ${fmt(ms(without.stop))} | ${fmt(ms(withNet.stop))} | ${fmt(ms(withNet.stop) - ms(without.stop))} | |`,
    );
    console.log(
      `| CNI attach (ADD) / detach (DEL) | | ${fmt(ms(network.times.attach))} / ${fmt(ms(network.times.detach))} | | < 50 ms |`,
    );
  } finally {
    removeWork(work);
  }
}
