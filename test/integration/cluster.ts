// Starts and stops a real control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) through scripts/cluster.sh, which builds the binaries on first use. The
// integration tests share one per run: bringing one up costs seconds, building it the first
// time much more, and every test works in a namespace of its own.
import { execFile, spawn, spawnSync } from 'node:child_process';
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
 * the tail of the failing component's log there) and returns its stdout.
 */
function runScript(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [clusterScript, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`scripts/cluster.sh ${args.join(' ')} exited with ${code}`));
    });
  });
}

/**
 * Brings a control plane up in a new temporary directory. `stop()` takes it down and removes
 * the directory, unless VIC_KUBELET_KEEP_CLUSTER=1 asks to keep it (and its logs) to look at.
 */
export async function startCluster(): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'vic-kubelet-cluster-'));
  const down = () => spawnSync('bash', [clusterScript, 'down', dir], { stdio: 'inherit' });
  // If the test run dies before stop() (an uncaught error, process.exit), still take the
  // control plane down: its processes live in sessions of their own and would outlive us.
  process.once('exit', down);
  try {
    await runScript(['up', dir]);
  } catch (e) {
    process.off('exit', down);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const bin = await runScript(['bin']);
  return {
    dir,
    kubeconfig: join(dir, 'kubeconfig'),
    bin,
    async stop() {
      process.off('exit', down);
      await runScript(['down', dir]);
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
