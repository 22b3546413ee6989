// `vic-kubelet run POD.yaml` as a user runs it, no cluster: the built CLI on an embedded VCH in
// a state directory, an image pulled from a real registry or loaded from an OCI layout
// (--load). Output of several containers comes prefixed with their names, on the stream each
// wrote; the exit code is the first non-zero one of the containers; Ctrl-C stops and removes
// the pod; a bad manifest or a missing image gets one clear line.
import { execFile, spawn, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
  copyFileSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupVch, ensureBuilt, main, startVch } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

const run = promisify(execFile);

let work: string;
let state: string;
let registry: Registry;
let image: string;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vk-run-cli-'));
  state = join(work, 'state');
  registry = await startRegistry();
  image = `${registry.host}/busybox:1`;
  await pushImage(await buildBusyboxLayout(join(work, 'image')), 'busybox', image);
}, 180_000);

afterAll(async () => {
  if (work) await cleanupVch(state);
  await registry?.stop();
  if (work) spawnSync('rm', ['-rf', work]);
}, 60_000);

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `vic-kubelet run`; `onStderr` sees standard error as it comes (to send Ctrl-C). */
function vk(
  args: string[],
  onStderr?: (soFar: string, child: ReturnType<typeof spawn>) => void,
): Promise<Result> {
  return new Promise((resolve) => {
    // Pods keep to loopback: no bridge in the host's network namespace.
    const child = spawn(process.execPath, [main, 'run', ...args, '--bridge-network', 'none'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    const t = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

function manifest(name: string, containers: object[], extra: object = {}): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 2, containers, ...extra },
    }),
  );
  return file;
}

/** Containers the VCH at `state` still has (through a `vch serve` on it for a moment). */
async function containersLeft(): Promise<string> {
  const v = await startVch(state, join(work, 'check.sock'));
  try {
    const r = await v.docker(['ps', '-aq']);
    expect(r.code).toBe(0);
    return r.stdout;
  } finally {
    v.child.kill('SIGTERM');
    await v.exited;
  }
}

describe('vic-kubelet run', () => {
  it('runs two containers: output by name on both streams, the first non-zero exit code, the pod removed', async () => {
    const file = manifest('two', [
      {
        name: 'first',
        image,
        command: ['sh', '-c', 'echo out-a; echo err-a >&2; echo partial'],
      },
      {
        name: 'second',
        image,
        command: ['sh', '-c', 'echo out-b; echo err-b >&2; exit 3'],
      },
    ]);
    const r = await vk([file, '--state-dir', state]);
    expect(r.code).toBe(3);
    expect(r.stdout.split('\n').sort()).toEqual(
      ['', '[first] out-a', '[first] partial', '[second] out-b'].sort(),
    );
    expect(r.stderr).toContain('[first] err-a\n');
    expect(r.stderr).toContain('[second] err-b\n');
    expect(r.stderr).toMatch(/pod default\/two: Failed \(first: exited 0.*second: exited 3/);
    expect(await containersLeft()).toBe('');
  }, 180_000);

  it('one container: its output as it is, exit 0', async () => {
    const file = manifest('one', [{ name: 'c', image, command: ['sh', '-c', 'echo hello'] }]);
    const r = await vk([file, '--state-dir', state]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'hello\n' });
  }, 120_000);

  it('ConfigMaps and Secrets beside the pod serve its volumes and env', async () => {
    const pod = readFileSync(
      manifest(
        'cfg',
        [
          {
            name: 'c',
            image,
            command: ['sh', '-c', 'echo "$(cat /cfg/greeting) $PW"'],
            env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'creds', key: 'pw' } } }],
            volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }],
          },
        ],
        { volumes: [{ name: 'cfg', configMap: { name: 'settings' } }] },
      ),
      'utf8',
    );
    const file = join(work, 'cfg-all.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: hello}',
        'apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {pw: s3cret}',
        pod,
      ].join('\n---\n'),
    );
    const r = await vk([file, '--state-dir', state]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'hello s3cret\n' });
    expect(await containersLeft()).toBe('');
  }, 120_000);

  it('Ctrl-C stops the pod and removes it', async () => {
    const file = manifest('long', [
      { name: 'c', image, command: ['sh', '-c', 'echo started; while true; do sleep 1; done'] },
    ]);
    const started = Date.now();
    let sent = false;
    const r = await vk([file, '--state-dir', state], (_err, child) => {
      if (!sent && _err.includes('Running')) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), 500);
      }
    });
    expect(sent).toBe(true);
    expect(r.stdout).toBe('started\n');
    expect(r.stderr).toContain('pod default/long: stopping\n');
    expect(r.code).not.toBe(0);
    // The grace period is 2 s: well under the time a hung pod would take.
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await containersLeft()).toBe('');
  }, 180_000);

  it('a reader that goes away (| head) stops the pod and removes it', async () => {
    const file = manifest('chatty', [
      {
        name: 'c',
        image,
        command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "line $i"; done'],
      },
    ]);
    const r = await run('bash', [
      '-c',
      // --bridge-network none: pods keep to loopback (no bridge in the host's namespace).
      `"$0" "$1" run "$2" --state-dir "$3" --bridge-network none | head -3; echo "status \${PIPESTATUS[0]}" >&2`,
      process.execPath,
      main,
      file,
      state,
    ]);
    expect(r.stdout).toBe('line 1\nline 2\nline 3\n');
    expect(r.stderr).toContain('pod default/chatty: stopping\n');
    expect(r.stderr).toMatch(/status \d+\n$/);
    expect(await containersLeft()).toBe('');
  }, 120_000);

  it('bad flags: one line, status 2', async () => {
    const file = manifest('flags', [{ name: 'c', image, command: ['true'] }]);
    const cases: [string[], string][] = [
      [['--runtime', 'kvm'], '--runtime "kvm": want runc, vm or auto'],
      [['--insecure-registry', 'a b'], '--insecure-registry "a b": want HOST[:PORT]'],
      [['--log-level', 'loud'], '--log-level "loud": want debug, info, warn or error'],
    ];
    for (const [args, message] of cases) {
      const r = await vk([file, '--state-dir', state, ...args]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({
        code: 2,
        stderr: `vic-kubelet: ${message}\n`,
      });
    }
  }, 60_000);

  it('a bad manifest: one line, status 2', async () => {
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, 'kind: [\n');
    const r = await vk([bad, '--state-dir', state]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vic-kubelet: .*bad\.yaml: not a pod manifest: [^\n]+\n$/);
    const notPod = join(work, 'svc.yaml');
    writeFileSync(notPod, 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\n');
    const r2 = await vk([notPod, '--state-dir', state]);
    expect({ code: r2.code, stderr: r2.stderr }).toEqual({
      code: 2,
      stderr: `vic-kubelet: ${notPod}: want a manifest of kind Pod\n`,
    });
    const r3 = await vk([join(work, 'absent.yaml'), '--state-dir', state]);
    expect({ code: r3.code, stderr: r3.stderr }).toEqual({
      code: 2,
      stderr: `vic-kubelet: ${join(work, 'absent.yaml')}: ENOENT\n`,
    });
  }, 60_000);

  it('a missing image: a clear line, exit 125, nothing left', async () => {
    const file = manifest('missing', [
      { name: 'c', image: `${registry.host}/nothing-here:1`, command: ['sh'] },
    ]);
    const r = await vk([file, '--state-dir', state]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(
      /pod default\/missing: cannot run: c: failed to pull image "127\.0\.0\.1:\d+\/nothing-here:1": [^\n]+\n/,
    );
    expect(await containersLeft()).toBe('');
  }, 120_000);

  it('--load puts an OCI layout in the VCH: a pod runs its image with no registry', async () => {
    const dir = join(work, 'local');
    const src = join(dir, 'src');
    mkdirSync(join(src, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(src, 'bin', 'busybox'));
    symlinkSync('busybox', join(src, 'bin', 'sh'));
    const layout = join(dir, 'oci');
    const ref = 'vic-test.example/local:1';
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:${ref}`]);
    await run('umoci', ['insert', '--image', `${layout}:${ref}`, src, '/']);
    const file = manifest('local', [
      { name: 'c', image: ref, imagePullPolicy: 'Never', command: ['sh', '-c', 'echo local'] },
    ]);
    const r = await vk([file, '--state-dir', state, '--load', layout]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: 'local\n' });
    expect(r.stderr).toContain(`loaded image ${ref}\n`);
    const r2 = await vk([file, '--state-dir', state, '--load', join(dir, 'nope')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/^vic-kubelet: --load .*nope: [^\n]+\n$/);
  }, 120_000);

  it('a state directory in use: one line', async () => {
    const v = await startVch(state, join(work, 'busy.sock'));
    try {
      const file = manifest('busy', [{ name: 'c', image, command: ['true'] }]);
      const r = await vk([file, '--state-dir', state]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^vic-kubelet: the VCH state directory .* is in use by process \d+\n$/,
      );
    } finally {
      v.child.kill('SIGTERM');
      await v.exited;
    }
  }, 60_000);
});
