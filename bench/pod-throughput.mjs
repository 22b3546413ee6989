// Pod-to-pod throughput on the VCH's bridge: an HTTP download (busybox httpd → busybox wget) of
// 64 MiB between pods, runc ↔ runc and runc ↔ pod VM, timed inside the client pod. The VCH runs
// as `vch serve`, driven through the docker CLI, whole inside a network namespace this creates
// (and deletes). Not a test: prints a table.
//
//   npm run bench:pod-throughput     (root, runc, qemu, CNI plugins, docker CLI, umoci, skopeo)
import { unmountUnder } from './work-dir.mjs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIB = Number(process.env.VIC_BENCH_MIB ?? 64);
const IMAGE = 'local/netbench:1';
const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const { buildGuest, kvmUsable } = await import('../dist/runtime/vm/index.js');
await buildGuest(); // here, where the Debian archive is reachable

const netns = `vkthru-${randomBytes(3).toString('hex')}`;
const enter = ['nsenter', `--net=/var/run/netns/${netns}`];
const work = mkdtempSync(join(tmpdir(), 'vic-bench-thru-'));
const sock = join(work, 'docker.sock');
const state = join(work, 'state');
execFileSync('ip', ['netns', 'add', netns]);
execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
let vch;
const docker = (args) =>
  spawnSync('docker', ['-H', `unix://${sock}`, ...args], { encoding: 'utf8', timeout: 300_000 });
const ok = (args) => {
  const r = docker(args);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};
try {
  // busybox as an image archive.
  const src = join(work, 'src');
  mkdirSync(join(src, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(src, 'bin/busybox'));
  symlinkSync('busybox', join(src, 'bin/sh'));
  const layout = join(work, 'oci');
  const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'pipe' });
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:img`]);
  run('umoci', ['insert', '--image', `${layout}:img`, src, '/']);
  run('umoci', ['config', '--image', `${layout}:img`, '--os', 'linux', '--architecture', 'amd64']);
  run('skopeo', ['copy', '-q', `oci:${layout}:img`, `docker-archive:${work}/image.tar:${IMAGE}`]);

  vch = spawn(
    enter[0],
    [
      ...enter.slice(1),
      process.execPath,
      main,
      'vch',
      'serve',
      '--state-dir',
      state,
      '--docker-host',
      `unix://${sock}`,
      '--runtime',
      'runc',
      '--bridge-network',
      '10.124.0.0/24',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100 && docker(['version']).status !== 0; i++)
    await new Promise((r) => setTimeout(r, 200));
  ok(['load', '-i', `${work}/image.tar`]);

  const serve = `mkdir -p /www && busybox dd if=/dev/zero of=/www/big bs=1M count=${MIB} 2>/dev/null && exec busybox httpd -f -p 80 -h /www`;
  const server = (name, runtime) => {
    ok(['run', '-d', '--runtime', runtime, '--name', name, IMAGE, 'sh', '-c', serve]);
    return ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', name]);
  };
  const ips = { runc: server('srv-runc', 'runc'), vm: server('srv-vm', 'vm') };
  const fetch = (client, ip) => {
    const script = `busybox time busybox wget -q -O /dev/null http://${ip}/big`;
    for (let i = 0; i < 60; i++) {
      const r = docker(['run', '--rm', '--runtime', client, IMAGE, 'sh', '-c', script]);
      const m = /real\s+(\d+)m\s*([\d.]+)s/.exec(r.stderr + r.stdout);
      if (r.status === 0 && m) return Number(m[1]) * 60 + Number(m[2]);
      spawnSync('sleep', ['1']);
    }
    throw new Error(`no answer from ${ip}`);
  };
  const rows = [
    ['runc → runc', fetch('runc', ips.runc)],
    ['vm → runc (runc client, VM server)', fetch('runc', ips.vm)],
    ['runc → vm (VM client, runc server)', fetch('vm', ips.runc)],
  ];
  const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ')[0];
  const accel = kvmUsable() ? 'kvm' : 'tcg';
  console.log(
    `\npod-to-pod HTTP download of ${MIB} MiB on the bridge (host load ${load}; VMs: ${accel})\n`,
  );
  console.log('| direction (data flows) | seconds | MiB/s |');
  console.log('|---|---|---|');
  for (const [what, s] of rows)
    console.log(`| ${what} | ${s.toFixed(2)} | ${(MIB / s).toFixed(1)} |`);
} finally {
  try {
    const ids = docker(['ps', '-aq']).stdout.split('\n').filter(Boolean);
    if (ids.length) docker(['rm', '-f', ...ids]);
  } catch {
    // below
  }
  if (vch && vch.exitCode === null) {
    vch.kill('SIGTERM');
    await new Promise((r) => vch.once('exit', r));
  }
  unmountUnder(state);
  execFileSync('ip', ['netns', 'delete', netns]);
  rmSync(work, { recursive: true, force: true });
}
