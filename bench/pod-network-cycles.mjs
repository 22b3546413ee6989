// Leak check of the VCH's bridge network: N pods (runc; a few pod VMs) created, started, stopped
// and removed one after the other, every other one publishing a port (portmap), then a count of
// what is left — leases, veths, taps, iptables rules naming a pod address, portmap's chains and
// rules, pinned network namespaces (files and mounts), attachment records. Every count must be
// what it was before the first cycle.
//
//   node bench/pod-network-cycles.mjs   (VIC_BENCH_CYCLES=1000, VIC_BENCH_VM_CYCLES=10; root)
//
// It runs whole inside a network namespace it creates (and deletes). Not a test; prints a table.
import { inOwnNetns } from './own-netns.mjs';
import { removeWork } from './work-dir.mjs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The pod VMs' guest is built (or found) in the host's namespace, where the Debian archive is
// reachable; the cycles run in a namespace of their own.
if (!process.env.VIC_BENCH_NETNS && Number(process.env.VIC_BENCH_VM_CYCLES ?? 10) > 0) {
  const { buildGuest } = await import('../dist/runtime/vm/index.js');
  await buildGuest();
}
await inOwnNetns(fileURLToPath(import.meta.url), 'vkcycles', cycles);

async function cycles() {
  const { createRuncRuntime } = await import('../dist/runtime/runc/index.js');
  const { createVmRuntime } = await import('../dist/runtime/vm/index.js');
  const { BridgeNetwork } = await import('../dist/vch/network/bridge-network.js');
  const runs = Number(process.env.VIC_BENCH_CYCLES ?? 1000);
  const vmRuns = Number(process.env.VIC_BENCH_VM_CYCLES ?? 10);
  const work = mkdtempSync(join(tmpdir(), 'vic-bench-cycles-'));
  const id = () => randomBytes(32).toString('hex');
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const image = join(work, 'rootfs');
  mkdirSync(join(image, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(image, 'bin/busybox'));
  symlinkSync('busybox', join(image, 'bin/sh'));

  const state = join(work, 'vch');
  const net = await BridgeNetwork.open({ stateDir: state, cidr: '10.123.0.0/16', logger: quiet });
  const sh = (cmd) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout;
  const count = () => ({
    leases: (existsSync(join(state, 'network', 'ipam'))
      ? readdirSync(join(state, 'network', 'ipam'))
      : []
    ).flatMap((n) =>
      readdirSync(join(state, 'network', 'ipam', n)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)),
    ).length,
    veths: sh('ip -o link show type veth | wc -l').trim(),
    taps: sh('ip -o link show type tun | wc -l').trim(),
    rules: sh("iptables-save | grep -c '10\\.123\\.[0-9]*\\.[0-9]*/32' || true").trim(),
    portmap: sh("iptables-save -t nat | grep -c 'CNI-DN-' || true").trim(),
    pinned: readdirSync(join(state, 'network', 'netns')).length,
    mounts: sh(
      `grep -c ' ${join(state, 'network', 'netns')}/' /proc/self/mountinfo || true`,
    ).trim(),
    records: readdirSync(join(state, 'network', 'attachments')).length,
  });

  async function cycle(runtime, n, label) {
    const times = [];
    for (let i = 0; i < n; i++) {
      const pod = id();
      const c = id();
      const t0 = performance.now();
      // Every other pod publishes a port (portmap's chain and rules come and go with it).
      const ports =
        i % 2 ? [{ hostPort: 20000 + (i % 1000), containerPort: 80, protocol: 'tcp' }] : [];
      await runtime.createSandbox({ id: pod, hostname: `c${i}`, ports });
      await runtime.createContainer(pod, {
        id: c,
        name: 'app',
        imageRootfs: image,
        process: { args: ['sh', '-c', 'busybox sleep 60'], env: ['PATH=/bin'], cwd: '/', user: '' },
        logPath: join(work, 'logs', `${c}.log`),
      });
      await runtime.start(c);
      await runtime.stop(c, { graceMs: 1000 });
      await runtime.remove(c);
      await runtime.removeSandbox(pod);
      times.push(performance.now() - t0);
      if ((i + 1) % 100 === 0) console.error(`${label}: ${i + 1}/${n}`);
    }
    return times;
  }

  try {
    const before = count();
    const runc = createRuncRuntime({
      stateDir: join(state, 'runtime', 'runc'),
      network: net,
      logger: undefined,
    });
    await runc.recover();
    const t0 = performance.now();
    await cycle(runc, runs, 'runc');
    const runcSec = (performance.now() - t0) / 1000;
    await runc.close();
    const afterRunc = count();
    let afterVm;
    let vmSec = 0;
    if (vmRuns > 0) {
      const vm = createVmRuntime({ stateDir: join(state, 'runtime'), network: net });
      await vm.recover();
      const t1 = performance.now();
      await cycle(vm, vmRuns, 'vm');
      vmSec = (performance.now() - t1) / 1000;
      await vm.close();
      afterVm = count();
    }
    const load = sh('cat /proc/loadavg').split(' ')[0];
    console.log(`\ncreate/start/stop/remove cycles on the bridge (host load ${load})\n`);
    console.log(
      '| | cycles | seconds | leases | veths | taps | iptables rules naming a pod IP | portmap (CNI-DN-) lines | pinned netns files / mounts | records |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    const row = (label, n, s, c) =>
      console.log(
        `| ${label} | ${n} | ${s.toFixed(0)} | ${c.leases} | ${c.veths} | ${c.taps} | ${c.rules} | ${c.portmap} | ${c.pinned} / ${c.mounts} | ${c.records} |`,
      );
    row('before', 0, 0, before);
    row('after runc', runs, runcSec, afterRunc);
    if (afterVm) row('after vm', vmRuns, vmSec, afterVm);
  } finally {
    removeWork(work);
  }
}
