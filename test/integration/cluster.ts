// Starts and stops a real control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) through scripts/cluster.sh, which builds the binaries on first use. The
// integration tests share one per run: bringing one up costs seconds, building it the first
// time much more, and every test works in a namespace of its own.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const clusterScript = fileURLToPath(new URL('../../scripts/cluster.sh', import.meta.url));

/** What a test needs to reach the control plane; plain data, so vitest can pass it around. */
export interface ClusterInfo {
  /** The cluster's directory: pki/ (ca.crt, ca.key), logs/, kubeconfig. */
  dir: string;
  /** An admin kubeconfig (system:masters). */
  kubeconfig: string;
  /** The directory with kubectl and the control plane's binaries, of one version. */
  bin: string;
}

export interface Cluster extends ClusterInfo {
  stop(): Promise<void>;
}

/**
 * Runs scripts/cluster.sh with its progress and errors on our stderr (a failed `up` prints
 * the tail of the failing component's log there). `done` gives its stdout.
 */
function runScript(
  args: string[],
  wrap: string[] = [],
): { child: ChildProcess; done: Promise<string> } {
  const [cmd, ...rest] = [...wrap, 'bash', clusterScript, ...args];
  const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`scripts/cluster.sh ${args.join(' ')} failed (${signal ?? code})`));
    });
  });
  return { child, done };
}

/**
 * Brings a control plane up in a new temporary directory (`o.wrap`: inside a namespace). `stop()` takes it down and removes
 * the directory, unless VIC_KUBELET_KEEP_CLUSTER=1 asks to keep it (and its logs) to look at.
 */
export async function startCluster(o: { wrap?: string[] } = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'vic-kubelet-cluster-'));
  // `wrap`: an argv prefix (`nsenter --net=…`) that starts it in a network namespace of the
  // test's; `down` stops it by its pid files from anywhere.
  const up = runScript(['up', dir], o.wrap);
  // If the test run ends before stop(), still take the control plane down: its processes live
  // in sessions of their own and would outlive us. That covers a signal (Ctrl-C; SIGTERM from
  // a timeout, which kills Node without an 'exit' event unless someone listens for it) and
  // process.exit(). An `up` still running is told to stop first (it then stops what it had
  // started), so that it does not go on starting components after `down`.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const unhook = () => {
    process.off('exit', takeDown);
    for (const s of signals) process.off(s, onSignal);
  };
  function takeDown() {
    unhook();
    if (up.child.exitCode === null && up.child.signalCode === null) up.child.kill('SIGTERM');
    spawnSync('bash', [clusterScript, 'down', dir], { stdio: 'inherit' });
    if (process.env.VIC_KUBELET_KEEP_CLUSTER !== '1') rmSync(dir, { recursive: true, force: true });
  }
  function onSignal(signal: NodeJS.Signals) {
    takeDown();
    // Then die of the signal as we would have (or let another listener, vitest's, handle it).
    process.kill(process.pid, signal);
  }
  // First in line: vitest's own listeners call process.exit(), after which no later listener
  // of the signal or of 'exit' runs.
  process.prependOnceListener('exit', takeDown);
  for (const s of signals) process.prependOnceListener(s, onSignal);
  try {
    await up.done;
  } catch (e) {
    // A failed `up` has stopped what it started; `down` makes sure, whatever killed it.
    unhook();
    await runScript(['down', dir]).done.catch(() => {});
    if (process.env.VIC_KUBELET_KEEP_CLUSTER !== '1') rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const bin = await runScript(['bin']).done;
  return {
    dir,
    kubeconfig: join(dir, 'kubeconfig'),
    bin,
    async stop() {
      unhook();
      await runScript(['down', dir]).done;
      if (process.env.VIC_KUBELET_KEEP_CLUSTER !== '1')
        rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the cluster's own kubectl against it and returns its standard output. Its discovery
 * cache lives in the cluster's directory rather than in ~/.kube, which would otherwise gain
 * one per test run (each run's apiserver has a new port).
 */
export async function kubectl(cluster: ClusterInfo, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    join(cluster.bin, 'kubectl'),
    [
      '--kubeconfig',
      cluster.kubeconfig,
      '--cache-dir',
      join(cluster.dir, 'kubectl-cache'),
      ...args,
    ],
    { encoding: 'utf8' },
  );
  return stdout;
}
