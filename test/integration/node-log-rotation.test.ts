// Log rotation end to end through the real control plane: `vic-kubelet node` with an embedded
// VCH on runc and the kubelet's --container-log-max-size/--container-log-max-files; a pod prints
// 200k lines through 20+ rotations of its log; `kubectl logs` returns all of them in order,
// `--tail 10` the last ten, `--since-time` from the right first line, and `kubectl logs -f`
// started while the pod writes sees every line once.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from './docker-cli.js';
import { nodeFlags, podOn, servingCert, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const MAX_SIZE = 200 * 1024;
const MAX_FILES = 25;

const vic = useVicNode({
  prefix: 'logrot',
  extra: [
    '--runtime', 'runc',
    '--container-log-max-size', '200Ki', '--container-log-max-files', String(MAX_FILES),
  ], // prettier-ignore
});
const { cluster, core, namespace, nodeName } = vic;

const kubectlArgs = (args: string[]) => [
  '--kubeconfig', cluster.kubeconfig, '--cache-dir', join(cluster.dir, 'kubectl-cache'), ...args,
]; // prettier-ignore

/** kubectl with room for a big log (the shared helper keeps Node's 1 MiB default). */
async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(join(cluster.bin, 'kubectl'), kubectlArgs(args), {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  return stdout;
}

const seq = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join('');

describe('kubectl logs across rotated files', () => {
  it('200k lines through 20+ rotations: logs, --tail, --since-time and -f', async () => {
    // In 20 bursts 250 ms apart: whole seconds fall inside the run, for --since-time.
    const script =
      'sleep 2; i=0; while [ $i -lt 20 ]; do seq $((i*10000+1)) $((i*10000+10000)); i=$((i+1)); sleep 0.25; done';
    await core.createNamespacedPod({
      namespace,
      body: podOn(nodeName, namespace, 'talker', {
        containers: [{ name: 'app', image: vic.image, command: ['sh', '-c', script] }],
      }),
    });
    await until(
      'talker to run',
      async () => {
        const p = await core.readNamespacedPod({ name: 'talker', namespace });
        return p.status?.phase === 'Running' || p.status?.phase === 'Succeeded';
      },
      90_000,
    );
    // Following from (nearly) the start: the pod sleeps 2 s before its first line.
    const follower = spawn(
      join(cluster.bin, 'kubectl'),
      kubectlArgs(['logs', '-f', '-n', namespace, 'talker']),
    );
    let followed = '';
    follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    const followEnd = new Promise((r) => follower.once('exit', r));
    await until(
      'talker to finish',
      async () =>
        (await core.readNamespacedPod({ name: 'talker', namespace })).status?.phase === 'Succeeded',
      90_000,
    );
    await Promise.race([followEnd, new Promise((r) => setTimeout(r, 30_000))]);
    follower.kill();
    expect(followed.length).toBe(seq(1, 200000).length);
    expect(followed).toBe(seq(1, 200000));

    expect(await kubectl('logs', '-n', namespace, 'talker')).toBe(seq(1, 200000));
    expect(await kubectl('logs', '-n', namespace, 'talker', '--tail', '10')).toBe(
      seq(199991, 200000),
    );
    // --since-time (whole seconds, as the API carries it): the first line stamped at or after.
    const stamped = (await kubectl('logs', '-n', namespace, 'talker', '--timestamps'))
      .split('\n')
      .slice(0, -1)
      .map((l) => {
        const [t, n] = l.split(' ');
        return { ms: Date.parse(t), n: Number(n) };
      });
    expect(stamped).toHaveLength(200000);
    const second = Math.ceil(stamped[0].ms / 1000) * 1000 + 1000;
    expect(second).toBeLessThan(stamped[stamped.length - 1].ms);
    const first = stamped.find((s) => s.ms >= second)!;
    const sinceTime = new Date(second).toISOString().replace('.000Z', 'Z');
    expect(await kubectl('logs', '-n', namespace, 'talker', '--since-time', sinceTime)).toBe(
      seq(first.n, 200000),
    );

    // On disk: 20+ files of at most max-size each, at most max-files of them.
    const containers = join(vic.work, 'vch', 'containers');
    const dirs = readdirSync(containers).filter((d) =>
      readdirSync(join(containers, d)).includes('output.log.1'),
    );
    expect(dirs).toHaveLength(1);
    const files = readdirSync(join(containers, dirs[0])).filter((f) =>
      /^output\.log(\.\d+)?$/.test(f),
    );
    expect(files.length).toBeGreaterThan(20);
    expect(files.length).toBeLessThanOrEqual(MAX_FILES);
    for (const f of files)
      expect(statSync(join(containers, dirs[0], f)).size).toBeLessThanOrEqual(MAX_SIZE);
  });
});

describe('vic-kubelet node log rotation flags', () => {
  it('answers mistakes with one line and status 2', async () => {
    const tls = await servingCert(cluster, 'logrot-flags');
    const base = nodeFlags(cluster.kubeconfig, 'logrot-flags', tls, 0);
    const cases: [string[], string][] = [
      [
        [...base, '--state-dir', join(vic.work, 'x'), '--container-log-max-size', '10MB'],
        'vic-kubelet: --container-log-max-size "10MB": want a size of at least 4111 bytes, e.g. 10Mi, 512Ki or 1000000\n',
      ],
      [
        [...base, '--state-dir', join(vic.work, 'x'), '--container-log-max-files', '1'],
        'vic-kubelet: --container-log-max-files "1": want a whole number from 2 to 1000\n',
      ],
      [
        [...base, '--vch', 'unix:///run/vch.sock', '--container-log-max-files', '3'],
        "vic-kubelet: --container-log-max-size and --container-log-max-files are the VCH's settings: give them to the VCH (vch serve), not with --vch or --provider-module\n",
      ],
    ];
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [main, 'node', ...args], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect({ args, stderr: r.stderr, status: r.status }).toEqual({
        args,
        stderr: message,
        status: 2,
      });
    }
  });
});
