// Interactive kubectl exec end to end: the real kubectl 1.34 against the real apiserver, which
// reaches `vic-kubelet node` (an embedded VCH) over SPDY/3.1. On runc and on a pod VM: piped
// stdin (checksum; 100 MiB on runc, 32 MiB in the VM, which runs under TCG here), a terminal
// under a real one (tmux), resized, `kubectl cp` both ways (tar over exec), and exit codes.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

// The test image links only sh, ls and echo: the applets the tests use are added.
const APPLETS = 'cat sleep true sha256sum stty tar mkdir head tr';
const SHELL = `for a in ${APPLETS}; do busybox ln -s busybox /bin/$a; done; mkdir -p /tmp; exec sleep 3600`;

const vic = useVicNode({
  prefix: 'exec-it',
  vm: true,
  afterNode: async () => {
    for (const [name, runtime] of [
      ['shell', undefined],
      ['vmshell', 'vm'],
    ] as const) {
      const pod = podOn(nodeName, namespace, name, {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'app', image: vic.image, command: ['sh', '-c', SHELL] }],
      });
      if (runtime) pod.metadata!.annotations = { 'vic-kubelet.io/runtime': runtime };
      await core.createNamespacedPod({ namespace, body: pod });
    }
    for (const name of ['shell', 'vmshell'])
      await until(
        `${name} to run`,
        async () => (await core.readNamespacedPod({ name, namespace })).status?.phase === 'Running',
        120_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${vic.node.output().slice(-2000)}`);
      });
  },
  cleanup: async () => {
    for (const name of ['shell', 'vmshell'])
      await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch(() => {});
  },
  setupTimeout: 300_000,
  teardownTimeout: 180_000,
});
const { cluster, core, namespace, nodeName } = vic;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const kubectlArgs = () => [
  '--kubeconfig',
  cluster.kubeconfig,
  '--cache-dir',
  join(cluster.dir, 'kubectl-cache'),
];

/** The cluster's kubectl; `input` (text or a file) is its stdin. */
function kubectl(args: string[], input?: string | { file: string }): Promise<Run> {
  const child = spawn(join(cluster.bin, 'kubectl'), [...kubectlArgs(), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined); // kubectl may exit before reading it all
  if (typeof input === 'object') createReadStream(input.file).pipe(child.stdin);
  else child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const exec = (
  pod: string,
  command: string[],
  flags: string[] = [],
  input?: string | { file: string },
) => kubectl(['exec', '-n', namespace, ...flags, pod, '--', ...command], input);

/** A tmux of its own (its own socket), for a command that wants a real terminal. */
class Tmux {
  private readonly socket = join(vic.work, `tmux-${randomBytes(4).toString('hex')}`);
  run(...args: string[]): string {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }
  screen(): string {
    return this.run('capture-pane', '-p', '-t', 'main');
  }
  async waitFor(want: RegExp, ms = 30_000): Promise<string> {
    let seen = '';
    await until(
      `${want} on the screen`,
      async () => {
        seen = this.screen();
        return want.test(seen);
      },
      ms,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; the screen:\n${seen}\n${vic.node.output().slice(-1500)}`);
    });
    return seen;
  }
  kill(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server']);
  }
}

/** What exec -i pipes through sha256sum, per runtime: a pod VM under TCG is slow. */
const STDIN_MIB = { runc: 100, vm: 32 };

describe.each([
  ['runc', 'shell'],
  ['vm', 'vmshell'],
] as const)('interactive kubectl exec on a vic-kubelet node (%s)', (runtime, shell) => {
  it('passes the exit code through', async () => {
    const r = await exec(shell, ['sh', '-c', 'echo hi; echo oops >&2; exit 7']);
    expect(r).toMatchObject({ code: 7, stdout: 'hi\n' });
    expect(r.stderr).toContain('oops');
  }, 60_000);

  it(`exec -i: ${STDIN_MIB[runtime]} MiB piped through sha256sum gives the right sum`, async () => {
    const file = join(vic.work, `input-${runtime}.bin`);
    const data = randomBytes(STDIN_MIB[runtime] << 20);
    writeFileSync(file, data);
    const r = await exec(shell, ['sha256sum'], ['-i'], { file });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  }, 180_000);

  it('exec -it under tmux: a terminal whose size follows the window', async () => {
    const tmux = new Tmux();
    try {
      const cmd = [join(cluster.bin, 'kubectl'), ...kubectlArgs()];
      cmd.push('exec', '-it', '-n', namespace, shell, '--', 'sh');
      tmux.run('new-session', '-d', '-s', 'main', '-x', '100', '-y', '30', cmd.join(' '));
      tmux.run('send-keys', '-t', 'main', 'stty size; [ -t 0 ] && echo T-T-Y', 'Enter');
      await tmux.waitFor(/^30 100$/m);
      await tmux.waitFor(/^T-T-Y$/m);
      tmux.run('resize-window', '-t', 'main', '-x', '120', '-y', '40');
      await new Promise((r) => setTimeout(r, 500));
      tmux.run('send-keys', '-t', 'main', 'clear; stty size', 'Enter');
      await tmux.waitFor(/^40 120$/m);
    } finally {
      tmux.kill();
    }
  }, 90_000);

  it('kubectl cp copies a directory in and out intact', async () => {
    const src = join(vic.work, `cp-src-${runtime}`);
    mkdirSync(join(src, 'sub'), { recursive: true });
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('hello\n'),
      'sub/b.bin': randomBytes(3 << 20),
      'sub/empty': Buffer.alloc(0),
    };
    for (const [f, d] of Object.entries(files)) writeFileSync(join(src, f), d);
    const inn = await kubectl(['cp', src, `${namespace}/${shell}:/tmp/copied`]);
    expect(inn.stderr).toBe('');
    expect(inn.code).toBe(0);
    const out = join(vic.work, `cp-out-${runtime}`);
    const back = await kubectl(['cp', `${namespace}/${shell}:/tmp/copied`, out]);
    expect(back.code, back.stderr).toBe(0);
    for (const [f, d] of Object.entries(files))
      expect(readFileSync(join(out, f)).equals(d)).toBe(true);
  }, 120_000);
});

describe('kubectl exec in a pod VM', () => {
  it('passes the exit code and the output through', async () => {
    const r = await exec('vmshell', ['sh', '-c', 'head -c 2000000 /dev/zero | tr "\\0" x; exit 7']);
    expect(r.code).toBe(7);
    expect(r.stdout.length).toBe(2_000_000);
  }, 60_000);
});
