// `--runtime` on `vic-kubelet vch serve` with the real backends, no VM boot: a bad value gets
// one line and status 2; `auto` says what it chose and why (here: runc, the CPU has no VMX/SVM;
// vm where KVM boots a probe VM) and `docker info` agrees; a container keeps its backend when the
// VCH comes back with another default, and its output and stop still work.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvmPrerequisites } from '../../src/runtime/vm/index.js';
import { type VchProcess, cleanupVch, ensureBuilt, main, startVch, stopVch } from './docker-cli.js';
import { buildBusyboxLayout } from './registry.js';

let work: string;
let layout: string;
let vch: VchProcess | undefined;

async function ok(args: string[]): Promise<string> {
  const r = await vch!.docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-runtime-select-'));
  layout = await buildBusyboxLayout(work);
}, 120_000);

afterAll(async () => {
  if (work) await cleanupVch(join(work, 'state'), vch);
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('vch serve --runtime', () => {
  it('refuses a bad value in one line with status 2', () => {
    const r = spawnSync(
      process.execPath,
      [
        main,
        'vch',
        'serve',
        '--state-dir',
        join(work, 'bad'),
        '--docker-host',
        `unix://${join(work, 'bad.sock')}`,
        '--runtime',
        'kvm',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('vic-kubelet: --runtime "kvm": want runc, vm or auto\n');
  });

  it('auto says what it chose and why; a container keeps its backend across a restart', async () => {
    const state = join(work, 'state');
    const socket = join(work, 'docker.sock');
    vch = await startVch(state, socket, ['--runtime', 'auto']);
    const line = vch
      .output()
      .split('\n')
      .find((l) => l.includes('--runtime auto'));
    expect(line, vch.output()).toBeDefined();
    const logged = JSON.parse(line!) as { runtime: string; reason: string };
    // Without the CPU's extensions no probe VM is tried: the answer is runc, with that reason.
    if (!kvmPrerequisites().usable) {
      expect(logged.runtime).toBe('runc');
      expect(logged.reason).toMatch(/VMX\/SVM|\/dev\/kvm/);
    }
    expect(logged.reason.length).toBeGreaterThan(10);
    const info = JSON.parse(await ok(['info', '--format', '{{json .}}'])) as {
      DefaultRuntime: string;
      Runtimes: Record<string, unknown>;
    };
    expect(info.DefaultRuntime).toBe(logged.runtime);
    expect(Object.keys(info.Runtimes).sort()).toEqual(['runc', 'vm']);

    // A runc container, then the VCH back with vm as its default: the container stays on runc.
    const archive = join(work, 'busybox.tar');
    const copy = spawnSync('skopeo', [
      'copy',
      '-q',
      `oci:${layout}:busybox`,
      `docker-archive:${archive}:select/busybox:1`,
    ]);
    expect(copy.status, String(copy.stderr)).toBe(0);
    await ok(['load', '-i', archive]);
    const ref = 'select/busybox:1';
    await ok([
      'run',
      '-d',
      '--name',
      'keeper',
      '--runtime',
      'runc',
      ref,
      'sh',
      '-c',
      'uname -r; while :; do sleep 1; done',
    ]);
    await stopVch(vch);
    vch = await startVch(state, socket, ['--runtime', 'vm']);
    const c = JSON.parse(await ok(['inspect', 'keeper']))[0] as {
      State: { Status: string };
      HostConfig: { Runtime: string };
    };
    expect(c.State.Status).toBe('running');
    expect(c.HostConfig.Runtime).toBe('runc');
    expect((await ok(['logs', 'keeper'])).split('\n')[0]).toBe(release());
    await ok(['stop', '-t', '1', 'keeper']);
    await ok(['rm', 'keeper']);
    expect(JSON.parse(await ok(['info', '--format', '{{json .DefaultRuntime}}']))).toBe('vm');
  }, 120_000);
});
