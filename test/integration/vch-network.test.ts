// The VCH's bridge network with Debian's CNI plugins, driven through the real docker CLI: each
// pod gets its own address on the bridge and reaches the others; addresses, veths and rules go
// with the pods; a VCH killed with SIGKILL and started again keeps its pods' addresses and
// releases those of sandboxes that vanished meanwhile. Published ports (-p, -P, to runc pods and
// pod VMs) answer, survive a SIGKILL of the VCH, and go with their pods; bad input (a port out of
// range, a taken one, a range that overlaps a route or another VCH's bridge) gets one clear line
// and makes nothing. The whole VCH runs in a network namespace the test creates (the bridge
// never touches the host's); its image comes from `docker load`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildGuest } from '../../src/runtime/vm/guest-build.js';
import { bridgeName } from '../../src/vch/network/bridge-network.js';
import { createNetns, type TestNetns } from '../support/netns.js';
import { type VchProcess, cleanupVch, ensureBuilt, main, startVch, stopVch } from './docker-cli.js';

const SUBNET = '10.123.0.0/24';
const IMAGE = 'local/netbox:1';

let work: string;
/** A network namespace per test: a VCH's bridge (and its route) outlives the VCH. */
let netns: TestNetns;
const namespaces: TestNetns[] = [];
let archive: string;
const started: VchProcess[] = [];

/** busybox as an image archive (umoci, then skopeo to a docker archive): no registry needed. */
function buildImageArchive(dir: string): string {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'bin'), { recursive: true });
  mkdirSync(join(src, 'www'), { recursive: true });
  copyFileSync('/bin/busybox', join(src, 'bin/busybox'));
  symlinkSync('busybox', join(src, 'bin/sh'));
  const layout = join(dir, 'oci');
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:img`]);
  run('umoci', ['insert', '--image', `${layout}:img`, src, '/']);
  // (EXPOSE 80: what -P publishes)
  run('umoci', [
    'config',
    '--image',
    `${layout}:img`,
    '--os',
    'linux',
    '--architecture',
    'amd64',
    '--config.exposedports',
    '80/tcp',
  ]);
  const tar = join(dir, 'image.tar');
  run('skopeo', ['copy', '-q', `oci:${layout}:img`, `docker-archive:${tar}:${IMAGE}`]);
  return tar;
}

async function startNetVch(name: string, extra: string[] = []): Promise<VchProcess> {
  const state = join(work, name);
  const vch = await startVch(state, join(work, `${name}.sock`), extra, netns.prefix);
  started.push(vch);
  return vch;
}

async function ok(vch: VchProcess, args: string[]): Promise<string> {
  const r = await vch.docker(args);
  expect(r.code, `docker ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function ipOf(vch: VchProcess, name: string): Promise<string> {
  return (await ok(vch, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).trim();
}

/** An httpd pod answering /hostname with its hostname. */
async function web(vch: VchProcess, name: string): Promise<string> {
  const script = 'busybox hostname > /www/hostname && exec busybox httpd -f -p 80 -h /www';
  await ok(vch, ['run', '-d', '--name', name, '--hostname', name, IMAGE, 'sh', '-c', script]);
  return ipOf(vch, name);
}

/** What a new pod fetches from http://ip/path (busybox wget). */
async function fetchFrom(vch: VchProcess, ip: string, path = '/hostname'): Promise<string> {
  const url = `http://${ip}${path}`;
  // (busybox 1.35's static wget crashes with -T: the docker call's own timeout bounds it)
  return ok(vch, ['run', '--rm', IMAGE, 'busybox', 'wget', '-q', '-O', '-', url]);
}

/** What the namespace's loopback answers on `port` (tries for a while: a server may be starting). */
async function fetchPublished(port: number, host = '127.0.0.1', tries = 50): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return netns.run('busybox', ['wget', '-q', '-O', '-', `http://${host}:${port}/hostname`]);
    } catch (e) {
      if (i >= tries) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** A raw Engine API call on the VCH's socket (what the docker CLI would refuse itself). */
function api(
  vch: VchProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: vch.socket, method, path, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Veths in the test's namespace (the host's ends of pods' interfaces). */
function veths(): string[] {
  return netns.run('ip', ['-o', 'link', 'show', 'type', 'veth']).split('\n').filter(Boolean);
}

/** Addresses host-local holds leases for under the VCH's state. */
function leases(stateDir: string): string[] {
  const dir = join(stateDir, 'network', 'ipam');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((net) => readdirSync(join(dir, net)))
    .filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
}

/** The namespace's iptables rules that name an address. */
function rulesNaming(ip: string): string[] {
  return netns
    .run('iptables-save', [])
    .split('\n')
    .filter((l) => l.includes(`${ip}/`) || l.includes(`${ip} `));
}

beforeEach(() => {
  netns = createNetns('vknet');
  namespaces.push(netns);
});

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-net-'));
  archive = buildImageArchive(join(work, 'image'));
  // The pod VMs' guest, built (or found in the cache) here: inside the test's namespace there
  // is no way to the Debian archive its kernel comes from.
  await buildGuest();
}, 300_000);

afterAll(async () => {
  const failures: unknown[] = [];
  for (const v of started) await cleanupVch(v.stateDir, v).catch((e) => failures.push(e));
  for (const n of namespaces) n.remove();
  if (work) rmSync(work, { recursive: true, force: true });
  if (failures.length > 0) throw failures[0];
}, 120_000);

describe('the bridge network', () => {
  it('gives each pod its own address; pods reach each other; deletes release everything', async () => {
    const vch = await startNetVch('a', ['--runtime', 'runc', '--bridge-network', SUBNET]);
    await ok(vch, ['load', '-i', archive]);
    const ip1 = await web(vch, 'web1');
    const ip2 = await web(vch, 'web2');
    for (const ip of [ip1, ip2]) expect(ip).toMatch(/^10\.123\.0\.\d+$/);
    expect(ip1).not.toBe(ip2);
    expect(await ipOf(vch, 'web1')).toBe(ip1);
    const inspect = JSON.parse(await ok(vch, ['inspect', 'web1']))[0];
    expect(inspect.NetworkSettings).toMatchObject({
      IPAddress: ip1,
      IPPrefixLen: 24,
      Gateway: '10.123.0.1',
      Networks: { bridge: { IPAddress: ip1, Gateway: '10.123.0.1' } },
    });

    // docker network ls / inspect: the VCH's one network, its range and the pods on it.
    expect((await ok(vch, ['network', 'ls', '--format', '{{.Name}} {{.Driver}}'])).trim()).toBe(
      'bridge bridge',
    );
    const [bridge] = JSON.parse(await ok(vch, ['network', 'inspect', 'bridge']));
    expect(bridge.IPAM.Config).toEqual([{ Subnet: SUBNET, Gateway: '10.123.0.1' }]);
    expect(
      Object.values(bridge.Containers as Record<string, { Name: string; IPv4Address: string }>)
        .map((c) => `${c.Name} ${c.IPv4Address}`)
        .sort(),
    ).toEqual([`web1 ${ip1}/24`, `web2 ${ip2}/24`].sort());
    expect((await vch.docker(['network', 'inspect', 'nosuch'])).stderr).toContain(
      'network nosuch not found',
    );

    // Pod to pod, both ways, by address.
    expect(await fetchFrom(vch, ip1)).toBe('web1\n');
    expect(await fetchFrom(vch, ip2)).toBe('web2\n');
    // Its interface's counters, as docker stats reads them from the pod's namespace.
    const netIO = await ok(vch, ['stats', '--no-stream', '--format', '{{.NetIO}}', 'web1']);
    expect(netIO.trim()).toMatch(/^[1-9][\d.]*[kMG]?B \/ [1-9][\d.]*[kMG]?B$/);
    // The pod's /etc/hosts maps its hostname to its address, as Docker's does.
    const hosts = await ok(vch, [
      'run',
      '--rm',
      '--hostname',
      'me',
      IMAGE,
      'busybox',
      'cat',
      '/etc/hosts',
    ]);
    expect(hosts).toMatch(/^10\.123\.0\.\d+\tme$/m);
    expect(hosts).toMatch(/^127\.0\.0\.1\tlocalhost$/m);

    expect(veths()).toHaveLength(2);
    expect(leases(vch.stateDir).sort()).toEqual([ip1, ip2].sort());
    expect(rulesNaming(ip1).length).toBeGreaterThan(0);

    await ok(vch, ['rm', '-f', 'web1', 'web2']);
    expect(veths()).toEqual([]);
    expect(leases(vch.stateDir)).toEqual([]);
    expect(rulesNaming(ip1)).toEqual([]);
    expect(rulesNaming(ip2)).toEqual([]);
    expect(readdirSync(join(vch.stateDir, 'network', 'attachments'))).toEqual([]);
    await stopVch(vch);
  }, 180_000);

  it('after SIGKILL and a restart: pods keep their addresses; a vanished sandbox is released', async () => {
    const vch = await startNetVch('b', ['--runtime', 'runc', '--bridge-network', SUBNET]);
    await ok(vch, ['load', '-i', archive]);
    const keep = await web(vch, 'keep');
    const lost = await web(vch, 'lost');
    const lostContainer = (await ok(vch, ['inspect', '-f', '{{.Id}}', 'lost'])).trim();
    expect(await stopVch(vch, 'SIGKILL')).toBe('SIGKILL');

    // While the VCH is down its pods still answer (nothing of the network is the VCH process's).
    expect(netns.run('busybox', ['wget', '-q', '-O', '-', `http://${keep}/hostname`])).toBe(
      'keep\n',
    );
    const pin = join(vch.stateDir, 'network', 'netns');
    expect(readdirSync(pin)).toHaveLength(2);

    // A sandbox that goes while the VCH is away, as a crash in the middle of its removal leaves
    // it: its runc containers and its directory gone, its network attachment still recorded.
    const runcRoot = join(vch.stateDir, 'runtime', 'runc', 'runc');
    const sandboxes = join(vch.stateDir, 'runtime', 'runc', 'sandboxes');
    const lostSandboxId = sandboxOf(vch.stateDir, lost);
    for (const id of [lostContainer, `pod-${lostSandboxId}`]) {
      spawnSync('runc', ['--root', runcRoot, 'kill', id, 'KILL']);
      spawnSync('runc', ['--root', runcRoot, 'delete', '-f', id]);
    }
    spawnSync('umount', ['-l', join(sandboxes, lostSandboxId, 'shm')]);
    rmSync(join(sandboxes, lostSandboxId), { recursive: true, force: true });

    const again = await startNetVch('b', ['--runtime', 'runc']);
    // The range is the one it had (no flag now), the surviving pod keeps its address and answers.
    expect(await ipOf(again, 'keep')).toBe(keep);
    expect(await fetchFrom(again, keep)).toBe('keep\n');
    // The vanished sandbox's address, veth and rules are gone.
    expect(leases(again.stateDir)).toEqual([keep]);
    expect(veths()).toHaveLength(1);
    expect(rulesNaming(lost)).toEqual([]);
    expect(readdirSync(pin)).toHaveLength(1);

    await ok(again, ['rm', '-f', 'keep', 'lost']);
    expect(leases(again.stateDir)).toEqual([]);
    expect(veths()).toEqual([]);
    expect(rulesNaming(keep)).toEqual([]);
    await stopVch(again);
  }, 180_000);

  it('refuses a range that overlaps a route, in one line; the default avoids the routes', async () => {
    // A route in the test's namespace where the first default range would be.
    netns.run('ip', ['link', 'add', 'taken0', 'type', 'bridge']);
    netns.run('ip', ['addr', 'add', '10.88.0.1/16', 'dev', 'taken0']);
    netns.run('ip', ['link', 'set', 'taken0', 'up']);
    const state = join(work, 'c');
    const serve = (args: string[]) =>
      spawnSync(
        netns.prefix[0],
        [
          ...netns.prefix.slice(1),
          process.execPath,
          main,
          'vch',
          'serve',
          '--state-dir',
          state,
          '--docker-host',
          `unix://${work}/c.sock`,
          '--runtime',
          'runc',
          ...args,
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
    const overlap = serve(['--bridge-network', '10.88.4.0/24']);
    expect(overlap.status).toBe(2);
    expect(overlap.stderr.trim()).toBe(
      "vic-kubelet: --bridge-network 10.88.4.0/24 overlaps the host's route to 10.88.0.0/16 on taken0: choose another range",
    );
    // Refused before anything is made: no bridge of its own, no range recorded.
    expect(bridgeExists(bridgeName(state))).toBe(false);
    expect(existsSync(join(state, 'network', 'network.json'))).toBe(false);
    const bad = serve(['--bridge-network', '10.88.4.1/24']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('host bits are set (the network is 10.88.4.0/24)');

    const vch = await startNetVch('c', ['--runtime', 'runc']);
    await ok(vch, ['load', '-i', archive]);
    const ip = await web(vch, 'dflt');
    expect(ip).toMatch(/^10\.89\.\d+\.\d+$/);
    expect(await fetchFrom(vch, ip)).toBe('dflt\n');

    // A second VCH beside it, in the same namespace: the first one's bridge (there since it
    // opened, pods or none) is a route it must not overlap; its default goes past it.
    const rulesBefore = nsRules();
    const second = join(work, 'c2');
    const clash = spawnSync(
      netns.prefix[0],
      [
        ...netns.prefix.slice(1),
        process.execPath,
        main,
        'vch',
        'serve',
        '--state-dir',
        second,
        '--docker-host',
        `unix://${work}/c2.sock`,
        '--runtime',
        'runc',
        '--bridge-network',
        '10.89.128.0/17',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(clash.status).toBe(2);
    expect(clash.stderr.trim()).toBe(
      `vic-kubelet: --bridge-network 10.89.128.0/17 overlaps the host's route to 10.89.0.0/16 on ${bridgeName(vch.stateDir)} (another VCH's bridge): choose another range`,
    );
    expect(bridgeExists(bridgeName(second))).toBe(false);
    expect(nsRules()).toEqual(rulesBefore);
    const beside = await startNetVch('c2', ['--runtime', 'runc']);
    expect(JSON.parse(await ok(beside, ['network', 'inspect', 'bridge']))[0].IPAM.Config).toEqual([
      { Subnet: '10.90.0.0/16', Gateway: '10.90.0.1' },
    ]);
    await stopVch(beside);

    await ok(vch, ['rm', '-f', 'dflt']);
    expect(veths()).toEqual([]);
    await stopVch(vch);
  }, 180_000);
});

function bridgeExists(name: string): boolean {
  return netns.run('ip', ['-o', 'link', 'show', 'type', 'bridge']).includes(`: ${name}:`);
}

/** The namespace's iptables rules, every table. */
function nsRules(): string[] {
  return netns
    .run('iptables-save', [])
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith(':'));
}

/** Taps in the test's namespace (pod VMs' interfaces on the bridge). */
function taps(): string[] {
  return netns.run('ip', ['-o', 'link', 'show', 'type', 'tun']).split('\n').filter(Boolean);
}

describe('pod VMs on the bridge', () => {
  it('a VM pod and a runc pod reach each other; SIGKILL keeps the address; rm releases the tap', async () => {
    const vch = await startNetVch('vm', ['--runtime', 'runc', '--bridge-network', SUBNET]);
    await ok(vch, ['load', '-i', archive]);
    // The VM first: the bridge is made for it (no runc pod has made it yet).
    const script = 'busybox hostname > /www/hostname && exec busybox httpd -f -p 80 -h /www';
    await ok(vch, [
      'run',
      '-d',
      '--runtime',
      'vm',
      '--name',
      'v1',
      '--hostname',
      'v1',
      IMAGE,
      'sh',
      '-c',
      script,
    ]);
    const vmIp = await ipOf(vch, 'v1');
    expect(vmIp).toMatch(/^10\.123\.0\.\d+$/);
    const runcIp = await web(vch, 'r1');
    expect(runcIp).not.toBe(vmIp);
    expect(taps()).toHaveLength(1);
    expect(JSON.parse(await ok(vch, ['inspect', 'v1']))[0].NetworkSettings).toMatchObject({
      IPAddress: vmIp,
      IPPrefixLen: 24,
      Gateway: '10.123.0.1',
    });

    // runc → vm (the VM's httpd may still be starting: a few tries).
    let answer = '';
    for (let i = 0; i < 30 && answer === ''; i++) {
      const r = await vch.docker([
        'run',
        '--rm',
        IMAGE,
        'busybox',
        'wget',
        '-q',
        '-O',
        '-',
        `http://${vmIp}/hostname`,
      ]);
      if (r.code === 0) answer = r.stdout;
      else await new Promise((res) => setTimeout(res, 500));
    }
    expect(answer).toBe('v1\n');
    // vm → runc, from a second VM whose /etc/hosts names it by its own address.
    const client = await ok(vch, [
      'run',
      '--rm',
      '--runtime',
      'vm',
      '--hostname',
      'vc',
      IMAGE,
      'sh',
      '-c',
      `busybox wget -q -O - http://${runcIp}/hostname; busybox grep vc /etc/hosts`,
    ]);
    expect(client).toMatch(/^r1\n10\.123\.0\.\d+\tvc\n$/);
    expect(client).not.toContain(vmIp);
    expect(taps()).toHaveLength(1);
    // From the VCH's own namespace, as a probe or kube-proxy reaches a pod.
    expect(netns.run('busybox', ['wget', '-q', '-O', '-', `http://${vmIp}/hostname`])).toBe('v1\n');
    // The VM's counters, as its tap on the bridge counts them (turned round to be its eth0's).
    const vmIO = await ok(vch, ['stats', '--no-stream', '--format', '{{.NetIO}}', 'v1']);
    expect(vmIO.trim()).toMatch(/^[1-9][\d.]*[kMG]?B \/ [1-9][\d.]*[kMG]?B$/);

    // A second VM whose sandbox vanishes while the VCH is down (its qemu and record gone).
    await ok(vch, [
      'run',
      '-d',
      '--runtime',
      'vm',
      '--name',
      'v2',
      IMAGE,
      'sh',
      '-c',
      'exec busybox sleep 1000',
    ]);
    const lostIp = await ipOf(vch, 'v2');
    const lostSandbox = sandboxOf(vch.stateDir, lostIp);
    expect(taps()).toHaveLength(2);
    expect(await stopVch(vch, 'SIGKILL')).toBe('SIGKILL');
    const lostDir = join(vch.stateDir, 'runtime', 'vm', 'sandboxes', lostSandbox);
    process.kill(Number(readFileSync(join(lostDir, 'qemu.pid'), 'utf8').trim()), 'SIGKILL');
    await new Promise((res) => setTimeout(res, 500));
    // (its containers' rootfs and volume mounts under the share go too, deepest first)
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m) => m?.startsWith(`${lostDir}/`))
      .sort()
      .reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    rmSync(lostDir, { recursive: true, force: true });
    // The VM runs on while the VCH is away, and answers.
    expect(netns.run('busybox', ['wget', '-q', '-O', '-', `http://${vmIp}/hostname`])).toBe('v1\n');

    const again = await startNetVch('vm', ['--runtime', 'runc']);
    expect(await ipOf(again, 'v1')).toBe(vmIp);
    expect(await fetchFrom(again, vmIp)).toBe('v1\n');
    expect(taps()).toHaveLength(1);
    expect(leases(again.stateDir).sort()).toEqual([vmIp, runcIp].sort());

    await ok(again, ['rm', '-f', 'v1', 'r1', 'v2']);
    expect(taps()).toEqual([]);
    expect(veths()).toEqual([]);
    expect(leases(again.stateDir)).toEqual([]);
    expect(readdirSync(join(again.stateDir, 'network', 'attachments'))).toEqual([]);
    await stopVch(again);
  }, 300_000);

  it('publishes ports to a pod VM (docker run --runtime vm -p); they go with it', async () => {
    const vch = await startNetVch('vmp', ['--runtime', 'runc', '--bridge-network', SUBNET]);
    await ok(vch, ['load', '-i', archive]);
    const script = 'busybox hostname > /www/hostname && exec busybox httpd -f -p 80 -h /www';
    await ok(vch, [
      'run',
      '-d',
      '--runtime',
      'vm',
      '--name',
      'vp',
      '--hostname',
      'vp',
      '-p',
      '127.0.0.1:8081:80',
      '-p',
      '8082:80',
      IMAGE,
      'sh',
      '-c',
      script,
    ]);
    expect((await ok(vch, ['port', 'vp'])).trim().split('\n').sort()).toEqual([
      '80/tcp -> 0.0.0.0:8082',
      '80/tcp -> 127.0.0.1:8081',
    ]);
    // On the namespace's loopback (the VM boots first: TCG here), and on an address of the
    // VCH's that is not loopback (the bridge's gateway).
    expect(await fetchPublished(8081, '127.0.0.1', 300)).toBe('vp\n');
    expect(await fetchPublished(8082, '10.123.0.1')).toBe('vp\n');
    expect(taps()).toHaveLength(1);

    await ok(vch, ['rm', '-f', 'vp']);
    const nat = netns.run('iptables-save', ['-t', 'nat']);
    expect(nat.includes('8081') || nat.includes('8082')).toBe(false);
    expect(taps()).toEqual([]);
    expect(leases(vch.stateDir)).toEqual([]);
    await stopVch(vch);
  }, 300_000);
});

describe('published ports (docker run -p)', () => {
  it('answers on the published port, shows it in docker port and inspect, refuses a taken one', async () => {
    const vch = await startNetVch('p', ['--runtime', 'runc', '--bridge-network', SUBNET]);
    await ok(vch, ['load', '-i', archive]);
    const script = 'busybox hostname > /www/hostname && exec busybox httpd -f -p 80 -h /www';
    const run = (name: string, publish: string) =>
      vch.docker([
        'run',
        '-d',
        '--name',
        name,
        '--hostname',
        name,
        '-p',
        publish,
        IMAGE,
        'sh',
        '-c',
        script,
      ]);
    expect((await run('pub', '127.0.0.1:8080:80')).code).toBe(0);
    expect((await ok(vch, ['port', 'pub'])).trim()).toBe('80/tcp -> 127.0.0.1:8080');
    const inspect = JSON.parse(await ok(vch, ['inspect', 'pub']))[0];
    expect(inspect.NetworkSettings.Ports).toEqual({
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
    });
    // From the namespace's own loopback, as a client on the VCH's host would.
    let answer = '';
    for (let i = 0; i < 50 && answer === ''; i++) {
      try {
        answer = netns.run('busybox', ['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/hostname']);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(answer).toBe('pub\n');

    // A VCH killed with SIGKILL: the port answers while it is down and after it is back.
    expect(await stopVch(vch, 'SIGKILL')).toBe('SIGKILL');
    expect(await fetchPublished(8080)).toBe('pub\n');
    const again = await startNetVch('p', ['--runtime', 'runc']);
    expect((await ok(again, ['port', 'pub'])).trim()).toBe('80/tcp -> 127.0.0.1:8080');
    expect(await fetchPublished(8080)).toBe('pub\n');

    // The same host port again: one clear error, nothing made.
    const rules = nsRules();
    const taken = await again.docker([
      'run',
      '-d',
      '--name',
      'pub2',
      '-p',
      '127.0.0.1:8080:80',
      IMAGE,
      'sh',
    ]);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr.trim().split('\n')[0]).toMatch(
      /^docker: Error response from daemon: Bind for 127\.0\.0\.1:8080\/tcp failed: port is already allocated \(by implicit-[0-9a-f]{12}\)$/,
    );
    expect((await again.docker(['inspect', 'pub2'])).code).not.toBe(0);
    // Out of range: the CLI refuses it itself; the API in one line (400), whatever sends it.
    const range = await again.docker(['run', '-d', '-p', '127.0.0.1:70000:80', IMAGE, 'sh']);
    expect(range.code).toBe(125);
    expect(range.stderr).toContain('invalid hostPort: 70000');
    for (const [config, message] of [
      [
        { HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } } },
        'invalid host port "70000": want 1 to 65535',
      ],
      [
        { HostConfig: { PortBindings: { '0/tcp': [{ HostPort: '8090' }] } } },
        'invalid container port "0": want 1 to 65535',
      ],
      [
        { ExposedPorts: { '70000/tcp': {} }, HostConfig: { PublishAllPorts: true } },
        'invalid exposed port "70000/tcp": want PORT or PORT/PROTO (tcp, udp, sctp), PORT 1 to 65535',
      ],
    ] as const) {
      const r = await api(again, 'POST', '/containers/create?name=bad', {
        Image: IMAGE,
        ...config,
      });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toEqual({ message });
    }
    expect((await ok(again, ['ps', '-a', '--format', '{{.Names}}'])).trim()).toBe('pub');
    expect(veths()).toHaveLength(1);
    expect(nsRules()).toEqual(rules);

    await ok(again, ['rm', '-f', 'pub']);
    expect(netns.run('iptables-save', ['-t', 'nat']).includes('8080')).toBe(false);
    expect(veths()).toEqual([]);
    await stopVch(again);
  }, 180_000);

  it('-P publishes every exposed port on a free port of the ephemeral range, as -p CONTAINER does', async () => {
    const vch = await startNetVch('pa', ['--runtime', 'runc', '--bridge-network', SUBNET]);
    await ok(vch, ['load', '-i', archive]);
    const [lo, hi] = netns
      .run('cat', ['/proc/sys/net/ipv4/ip_local_port_range'])
      .trim()
      .split(/\s+/)
      .map(Number);
    const inRange = (p: number) => p >= lo && p <= hi;
    const script = 'busybox hostname > /www/hostname && exec busybox httpd -f -p 80 -h /www';
    const serve = (name: string, ...flags: string[]) =>
      ok(vch, [
        'run',
        '-d',
        '--name',
        name,
        '--hostname',
        name,
        ...flags,
        IMAGE,
        'sh',
        '-c',
        script,
      ]);

    // The image's EXPOSE 80 and --expose 90/udp, each on a port of its own.
    await serve('all', '-P', '--expose', '90/udp');
    const lines = (await ok(vch, ['port', 'all'])).trim().split('\n').sort();
    const tcp = Number(/^80\/tcp -> 0\.0\.0\.0:(\d+)$/.exec(lines[0])?.[1]);
    const udp = Number(/^90\/udp -> 0\.0\.0\.0:(\d+)$/.exec(lines[1])?.[1]);
    expect(lines).toHaveLength(2);
    expect(inRange(tcp) && inRange(udp)).toBe(true);
    const inspect = JSON.parse(await ok(vch, ['inspect', 'all']))[0];
    expect(inspect.Config.ExposedPorts).toEqual({ '80/tcp': {}, '90/udp': {} });
    expect(inspect.HostConfig.PublishAllPorts).toBe(true);
    expect(inspect.HostConfig.PortBindings).toEqual({});
    expect(inspect.NetworkSettings.Ports).toEqual({
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(tcp) }],
      '90/udp': [{ HostIp: '0.0.0.0', HostPort: String(udp) }],
    });
    expect(await fetchPublished(tcp)).toBe('all\n');
    const ps = await ok(vch, ['ps', '--filter', 'name=all', '--format', '{{.Ports}}']);
    expect(ps).toContain(`0.0.0.0:${tcp}->80/tcp`);

    // A port something on the host listens on is passed over (as dockerd's trial bind does):
    // the next one in turn is held by a listener of the test's.
    const held = tcp + 1 > hi ? lo : tcp + 1;
    const listener = spawn(netns.prefix[0], [
      ...netns.prefix.slice(1),
      'busybox',
      'nc',
      '-l',
      '-p',
      String(held),
    ]);
    try {
      await new Promise((r) => setTimeout(r, 500));
      await serve('one', '-p', '127.0.0.1::80');
      const one = (await ok(vch, ['port', 'one', '80/tcp'])).trim();
      const port = Number(/^127\.0\.0\.1:(\d+)$/.exec(one)?.[1]);
      expect(inRange(port)).toBe(true);
      expect([tcp, udp, held]).not.toContain(port);
      expect(JSON.parse(await ok(vch, ['inspect', 'one']))[0].HostConfig.PortBindings).toEqual({
        '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      });
      expect(await fetchPublished(port)).toBe('one\n');
    } finally {
      listener.kill();
    }

    // Exposed and published nowhere: null in inspect, no public port in docker ps.
    await serve('expo');
    expect(JSON.parse(await ok(vch, ['inspect', 'expo']))[0].NetworkSettings.Ports).toEqual({
      '80/tcp': null,
    });
    expect((await ok(vch, ['ps', '--filter', 'name=expo', '--format', '{{.Ports}}'])).trim()).toBe(
      '80/tcp',
    );

    await ok(vch, ['rm', '-f', 'all', 'one', 'expo']);
    expect(netns.run('iptables-save', ['-t', 'nat']).includes(`--dport ${tcp} `)).toBe(false);
    expect(veths()).toEqual([]);
    await stopVch(vch);
  }, 180_000);
});

describe('a pod through the VIC provider (vic-kubelet run)', () => {
  it('has its IP in env (fieldRef status.podIP) and in /etc/hosts, and releases it at the end', async () => {
    const dir = join(work, 'run');
    mkdirSync(dir, { recursive: true });
    const pod = join(dir, 'pod.json');
    writeFileSync(
      pod,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'ipenv' },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'a',
              image: IMAGE,
              command: [
                'sh',
                '-c',
                'echo "env=$MY_IP"; busybox ip -4 -o addr show eth0; busybox tail -1 /etc/hosts',
              ],
              env: [{ name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
            },
          ],
        },
      }),
    );
    const state = join(dir, 'state');
    const [cmd, ...args] = [
      ...netns.prefix,
      process.execPath,
      main,
      'run',
      pod,
      '--state-dir',
      state,
      '--load',
      archive,
      '--runtime',
      'runc',
      '--bridge-network',
      SUBNET,
    ];
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const ip = /^env=(10\.123\.0\.\d+)$/m.exec(r.stdout)?.[1];
    expect(ip, r.stdout).toBeDefined();
    expect(r.stdout).toContain(`inet ${ip}/24`);
    expect(r.stdout).toMatch(new RegExp(`^${ip!.replace(/\./g, '\\.')}\tipenv$`, 'm'));
    expect(leases(state)).toEqual([]);
    expect(veths()).toEqual([]);
    await cleanupVch(state);
  }, 180_000);

  it('refuses a hostPort or containerPort out of range in one line, and makes nothing', async () => {
    const dir = join(work, 'run-bad');
    mkdirSync(dir, { recursive: true });
    const state = join(dir, 'state');
    const cases: [Record<string, unknown>, string][] = [
      [
        { containerPort: 80, hostPort: 65536 },
        'spec.containers["a"].ports[0].hostPort 65536: want 1 to 65535',
      ],
      [
        { containerPort: 0, hostPort: 8080 },
        'spec.containers["a"].ports[0].containerPort 0: want 1 to 65535',
      ],
    ];
    for (const [port, message] of cases) {
      const pod = join(dir, 'pod.json');
      writeFileSync(
        pod,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'badport' },
          spec: {
            restartPolicy: 'Never',
            containers: [{ name: 'a', image: IMAGE, command: ['sh', '-c', 'true'], ports: [port] }],
          },
        }),
      );
      const [cmd, ...args] = [
        ...netns.prefix,
        process.execPath,
        main,
        'run',
        pod,
        '--state-dir',
        state,
        '--load',
        archive,
        '--runtime',
        'runc',
        '--bridge-network',
        SUBNET,
      ];
      const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
      expect(r.status).toBe(2);
      // (after --load's progress line)
      expect(
        r.stderr
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('loaded image')),
      ).toEqual([`vic-kubelet: ${message}`]);
      expect(veths()).toEqual([]);
      expect(leases(state)).toEqual([]);
      expect(netns.run('iptables-save', ['-t', 'nat']).includes('CNI-DN-')).toBe(false);
    }
    await cleanupVch(state);
  }, 180_000);
});

/** The sandbox whose network attachment holds `ip` (<state>/network/attachments/<id>.json). */
function sandboxOf(stateDir: string, ip: string): string {
  const dir = join(stateDir, 'network', 'attachments');
  const file = readdirSync(dir).find((f) => readFileSync(join(dir, f), 'utf8').includes(`"${ip}/`));
  if (!file) throw new Error(`no attachment holds ${ip}`);
  return file.replace(/\.json$/, '');
}
