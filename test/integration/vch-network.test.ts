// The VCH's bridge network with Debian's CNI plugins, driven through the real docker CLI: each
// pod gets its own address on the bridge and reaches the others; addresses, veths and rules go
// with the pods; a VCH killed with SIGKILL and started again keeps its pods' addresses and
// releases those of sandboxes that vanished meanwhile. The whole VCH runs in a network namespace
// the test creates (the bridge never touches the host's); its image comes from `docker load`.
import { execFileSync, spawnSync } from 'node:child_process';
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
  run('umoci', ['config', '--image', `${layout}:img`, '--os', 'linux', '--architecture', 'amd64']);
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
      "vic-kubelet: --bridge-network 10.88.4.0/24 overlaps the host's route to 10.88.0.0/16: choose another range",
    );
    const bad = serve(['--bridge-network', '10.88.4.1/24']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('host bits are set (the network is 10.88.4.0/24)');

    const vch = await startNetVch('c', ['--runtime', 'runc']);
    await ok(vch, ['load', '-i', archive]);
    const ip = await web(vch, 'dflt');
    expect(ip).toMatch(/^10\.89\.\d+\.\d+$/);
    expect(await fetchFrom(vch, ip)).toBe('dflt\n');
    await ok(vch, ['rm', '-f', 'dflt']);
    expect(veths()).toEqual([]);
    await stopVch(vch);
  }, 180_000);
});

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

  it('refuses published ports for a pod VM in one line, and makes nothing', async () => {
    const vch = await startNetVch('vmp', ['--runtime', 'runc', '--bridge-network', SUBNET]);
    await ok(vch, ['load', '-i', archive]);
    const r = await vch.docker([
      'run',
      '-d',
      '--runtime',
      'vm',
      '-p',
      '127.0.0.1:8081:80',
      IMAGE,
      'sh',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('published ports are not supported for pod VMs yet: run it on runc');
    expect(taps()).toEqual([]);
    expect(leases(vch.stateDir)).toEqual([]);
    await stopVch(vch);
  }, 120_000);
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

    // The same host port again: one clear error, nothing made.
    const taken = await run('pub2', '127.0.0.1:8080:80');
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toContain('Bind for 127.0.0.1:8080/tcp failed: port is already allocated');
    expect((await vch.docker(['inspect', 'pub2'])).code).not.toBe(0);
    const range = await run('pub3', '127.0.0.1:70000:80');
    expect(range.code).not.toBe(0);
    expect(veths()).toHaveLength(1);

    await ok(vch, ['rm', '-f', 'pub']);
    expect(netns.run('iptables-save', ['-t', 'nat']).includes('8080')).toBe(false);
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
});

/** The sandbox whose network attachment holds `ip` (<state>/network/attachments/<id>.json). */
function sandboxOf(stateDir: string, ip: string): string {
  const dir = join(stateDir, 'network', 'attachments');
  const file = readdirSync(dir).find((f) => readFileSync(join(dir, f), 'utf8').includes(`"${ip}/`));
  if (!file) throw new Error(`no attachment holds ${ip}`);
  return file.replace(/\.json$/, '');
}
