// `vic-kubelet vch serve --runtime vm` as a docker user meets it (TCG on this machine): the real
// docker CLI, a busybox image from a real registry, each container in a pod VM of its own with
// the guest's kernel. Output apart by stream and by --since, the exit code, `docker stop`
// powering the VM off (no qemu left), a qemu killed from outside marking its container exited
// with a reason, the boot metric in `docker info`, a VM container kept across a VCH restart,
// and a container choosing runc on this VCH.
// Five VM boots in all: each is seconds of a busy CPU on a shared machine.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgent, killQemus, qemuPids, waitNoQemu } from '../support/vm.js';
import { type VchProcess, cleanupVch, ensureBuilt, startVch, stopVch } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let work: string;
let stateDir: string;
let registry: Registry;
let vch: VchProcess;
let image: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ok(args: string[], timeoutMs = 90_000): Promise<string> {
  const r = await vch.docker(args, { timeoutMs });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const inspect = async (name: string) =>
  JSON.parse(await ok(['inspect', name]))[0] as {
    Id: string;
    State: { Status: string; ExitCode: number; Error: string };
    HostConfig: { Runtime: string };
  };

/** The qemu of a container's own pod VM, by the pod's id in its command line. */
const podQemus = () => qemuPids(join(stateDir, 'runtime', 'vm'));

beforeAll(async () => {
  ensureBuilt();
  ensureAgent();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-vm-'));
  stateDir = join(work, 'state');
  let layout: string;
  [registry, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  image = `${registry.host}/busybox:latest`;
  await pushImage(layout, 'busybox', image);
  vch = await startVch(stateDir, join(work, 'docker.sock'), [
    '--insecure-registry',
    registry.host,
    '--runtime',
    'vm',
  ]);
  await ok(['pull', image]);
}, 180_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  if (work) {
    killQemus(work);
    waitNoQemu(work);
  }
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 90_000);

describe('vch serve --runtime vm with the docker CLI', () => {
  it('runs a container in a VM: its own kernel; streams apart; --since; exit code; powered off after', async () => {
    const t0 = Date.now();
    const id = (
      await ok([
        'run',
        '-d',
        '--name',
        'talk',
        image,
        'sh',
        '-c',
        'echo "kernel $(uname -r) host $(hostname)"; echo err1 >&2; sleep 3; echo out2; echo err2 >&2; exit 3',
      ])
    ).trim();
    const runMs = Date.now() - t0;
    expect((await inspect('talk')).HostConfig.Runtime).toBe('vm');
    expect(await ok(['wait', 'talk'])).toBe('3\n');
    const st = await inspect('talk');
    expect(st.State).toMatchObject({ Status: 'exited', ExitCode: 3 });

    const all = await vch.docker(['logs', 'talk']);
    const m = /^kernel (\S+) host (\S+)\nout2\n$/.exec(all.stdout);
    expect(m, all.stdout).not.toBeNull();
    expect(m![1]).not.toBe(release());
    expect(m![2]).toBe(id.slice(0, 12));
    expect(m![2]).not.toBe(hostname());
    expect(all.stderr).toBe('err1\nerr2\n');

    // --since the second line's stamp: only the second pair.
    const stamped = (await ok(['logs', '-t', 'talk'])).split('\n');
    const since = stamped.find((l) => l.endsWith(' out2'))!.split(' ')[0];
    const later = await vch.docker(['logs', '--since', since, 'talk']);
    expect(later.stdout).toBe('out2\n');
    expect(later.stderr).toBe('err2\n');

    // The whole pod exited: its VM is powered off.
    await until('the VM powered off', async () => podQemus().length === 0);
    const info = await ok(['info', '--format', '{{json .DriverStatus}}']);
    const status = Object.fromEntries(JSON.parse(info) as [string, string][]);
    expect(Number(status['VM boots'])).toBeGreaterThanOrEqual(1);
    expect(status['VM accelerator']).toMatch(/^(tcg|kvm)$/);
    expect(Number(status['VM boot last ms'])).toBeLessThan(runMs + 1000);
    expect(vch.output()).toMatch(/"bootMs":\d+.*"msg":"pod VM booted"/);
    await ok(['rm', 'talk']);
  }, 120_000);

  it('docker stop powers the VM off, docker start boots it again; a qemu killed from outside leaves a reason', async () => {
    await ok(['run', '-d', '--name', 'sleeper', image, 'sh', '-c', 'sleep 600']);
    await ok(['run', '-d', '--name', 'victim', image, 'sh', '-c', 'sleep 600']);
    expect(podQemus()).toHaveLength(2);
    const victim = await inspect('victim');

    await ok(['stop', '-t', '1', 'sleeper']);
    expect((await inspect('sleeper')).State.Status).toBe('exited');
    await until('one VM left', async () => podQemus().length === 1);

    // Kill the victim's qemu as an outsider would.
    const pidFile = join(stateDir, 'runtime', 'vm', 'sandboxes');
    const [pid] = podQemus();
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain(pidFile);
    process.kill(pid, 'SIGKILL');
    const st = await until('the victim exited', async () => {
      const s = await inspect('victim');
      return s.State.Status === 'exited' && s;
    });
    expect(st.Id).toBe(victim.Id);
    expect(st.State.Error).toBe('PodVMExited');
    expect(st.State.ExitCode).not.toBe(0);
    expect(podQemus()).toHaveLength(0);

    // docker start boots the stopped container's VM again; rm -f powers it off for good.
    await ok(['start', 'sleeper']);
    expect((await inspect('sleeper')).State.Status).toBe('running');
    expect(podQemus()).toHaveLength(1);
    await ok(['rm', '-f', 'sleeper', 'victim']);
    await until('no VM left', async () => podQemus().length === 0);
  }, 180_000);

  it('a VCH restart keeps a VM container running, its output flowing, and it stoppable', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'keep',
      image,
      'sh',
      '-c',
      'i=0; while :; do i=$((i+1)); echo "n $i"; sleep 0.3; done',
    ]);
    const count = async () => (await ok(['logs', 'keep'])).split('\n').filter(Boolean).length;
    await until('output', async () => (await count()) >= 3);
    const started = (await inspect('keep')) as unknown as { State: { StartedAt: string } };
    await stopVch(vch);
    await sleep(1500);
    vch = await startVch(stateDir, join(work, 'docker.sock'), [
      '--insecure-registry',
      registry.host,
      '--runtime',
      'vm',
    ]);
    const after = (await inspect('keep')) as unknown as {
      State: { Status: string; StartedAt: string };
    };
    expect(after.State).toMatchObject({ Status: 'running', StartedAt: started.State.StartedAt });
    const lines = (await ok(['logs', 'keep'])).split('\n').filter(Boolean);
    // Written while the VCH was down (1.5 s at 0.3 s a line), none lost, none twice.
    expect(lines.length).toBeGreaterThan(6);
    expect(lines).toEqual(lines.map((_, i) => `n ${i + 1}`));
    await ok(['stop', '-t', '1', 'keep']);
    await until('the VM powered off', async () => podQemus().length === 0);
    await ok(['rm', 'keep']);
  }, 120_000);

  it('takes runc for a container that asks for it on a vm VCH', async () => {
    const out = await ok([
      'run',
      '--rm',
      '--label',
      'vic-kubelet.io/runtime=runc',
      image,
      'sh',
      '-c',
      'uname -r',
    ]);
    expect(out.trim()).toBe(release());
    const bad = await vch.docker(['run', '--rm', '--runtime', 'kata', image, 'sh']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--runtime "kata": want runc or vm');
  }, 60_000);
});
