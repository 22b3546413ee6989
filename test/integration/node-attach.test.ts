// kubectl attach end to end: the real kubectl 1.34 against the real apiserver, which reaches
// `vic-kubelet node` (an embedded VCH, runc) over SPDY/3.1. `kubectl attach -it` and
// `kubectl run -it --rm` under a real terminal (tmux), resized; `kubectl attach -i` with piped
// stdin to a stdinOnce container (its stdin closes at the end); and the refusals: stdin asked
// of a container without it, a malformed attach on the kubelet API.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const TOOLS = 'for a in cat stty; do busybox ln -s busybox /bin/$a; done';

const vic = useVicNode({
  prefix: 'attach',
  afterNode: async () => {
    const pods = [
      // A shell on a terminal, stdin kept open (kubectl attach -it).
      ['tty', { stdin: true, tty: true }, `${TOOLS}; exec sh`],
      // Reads its stdin to the end once (kubectl attach -i with piped input).
      [
        'once',
        { stdin: true, stdinOnce: true },
        'while read l; do echo "got:$l"; done; echo stdin-closed',
      ],
      // Neither: output only.
      ['plain', {}, 'while :; do echo tick; read -t 1 x </dev/zero; done'],
    ] as const;
    for (const [name, io, script] of pods) {
      const pod = podOn(nodeName, namespace, name, {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'app', image: vic.image, command: ['sh', '-c', script], ...io }],
      });
      // The reader exits once its stdin closes: kubectl attach ends with it.
      if (name === 'once') pod.spec!.restartPolicy = 'Never';
      await core.createNamespacedPod({ namespace, body: pod });
    }
    for (const [name] of pods)
      await until(
        `${name} to run`,
        async () => (await core.readNamespacedPod({ name, namespace })).status?.phase === 'Running',
        120_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${vic.node.output().slice(-2000)}`);
      });
  },
  cleanup: async () => {
    for (const name of ['tty', 'once', 'plain', 'runit'])
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

describe('kubectl attach on a vic-kubelet node (runc)', () => {
  it("attach -it under tmux: the container's own shell, on a terminal that follows the window", async () => {
    const tmux = new Tmux();
    try {
      const cmd = [join(cluster.bin, 'kubectl'), ...kubectlArgs()];
      cmd.push('attach', '-it', '-n', namespace, 'tty', '-c', 'app');
      tmux.run('new-session', '-d', '-s', 'main', '-x', '100', '-y', '30', cmd.join(' '));
      await new Promise((r) => setTimeout(r, 2000));
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
    // Detaching left it running.
    expect((await core.readNamespacedPod({ name: 'tty', namespace })).status?.phase).toBe(
      'Running',
    );
  }, 90_000);

  it('attach -i with piped stdin to a stdinOnce container: the input, then its stdin closes', async () => {
    const r = await kubectl(['attach', '-i', '-n', namespace, 'once', '-c', 'app'], 'one\ntwo\n');
    expect(r.stdout, `${r.stderr}\n${vic.node.output().slice(-3000)}`).toContain(
      'got:one\ngot:two\nstdin-closed\n',
    );
    const logs = await kubectl(['logs', '-n', namespace, 'once']);
    expect(logs.stdout).toBe('got:one\ngot:two\nstdin-closed\n');
  }, 90_000);

  it('run -it --rm … -- sh under tmux: a shell, then the pod is gone', async () => {
    const tmux = new Tmux();
    try {
      const cmd = [join(cluster.bin, 'kubectl'), ...kubectlArgs()];
      cmd.push('run', 'runit', '-it', '--rm', '--restart=Never', '-n', namespace);
      cmd.push(`--image=${vic.image}`, `--overrides='${JSON.stringify({ spec: { nodeName } })}'`);
      cmd.push('--', 'sh');
      tmux.run(
        'new-session',
        '-d',
        '-s',
        'main',
        '-x',
        '100',
        '-y',
        '30',
        `${cmd.join(' ')}; echo kubectl-exit=$?; sleep 60`,
      );
      await new Promise((r) => setTimeout(r, 3000));
      tmux.run('send-keys', '-t', 'main', 'echo R-U-N-$((6*7))', 'Enter');
      await tmux.waitFor(/^R-U-N-42$/m, 60_000);
      tmux.run('send-keys', '-t', 'main', 'exit', 'Enter');
      await tmux.waitFor(/kubectl-exit=0/m, 60_000);
    } finally {
      tmux.kill();
    }
    await until(
      'runit to be deleted',
      async () =>
        !(await core.readNamespacedPod({ name: 'runit', namespace }).catch(() => undefined)),
      60_000,
    );
  }, 150_000);

  it('refuses stdin asked of a container created without it; output-only attach works', async () => {
    const r = await kubectl(['attach', '-i', '-n', namespace, 'plain', '-c', 'app'], 'x\n');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/was not created with stdin/);
    const child = spawn(
      join(cluster.bin, 'kubectl'),
      [...kubectlArgs(), 'attach', '-n', namespace, 'plain'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until('tick from attach', async () => out.includes('tick'), 30_000);
    child.kill('SIGKILL');
  }, 90_000);
});
