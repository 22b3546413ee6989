// A real metrics-server (sigs.k8s.io/metrics-server, built by test/metrics-server/build.sh from
// the Go module proxy) beside the test's nodes, as a cluster runs it: its own identity (a client
// certificate for the user "metrics-server") with the RBAC its release manifests grant, serving
// on loopback, registered as the metrics.k8s.io APIService. The apiserver reaches it through an
// ExternalName Service ("localhost"), since no kube-proxy routes a ClusterIP here; it reaches
// each node's kubelet API at the node's InternalIP (127.0.0.1) and published port.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import type { ClusterInfo } from './cluster.js';
import { kubeConfigOf, userKubeconfig } from './node-harness.js';
import { freePort } from './registry.js';

const buildScript = fileURLToPath(new URL('../metrics-server/build.sh', import.meta.url));

/** Builds (or finds cached) one of test/metrics-server's tools; its path. */
export function metricsTool(tool: 'metrics-server' | 'summary-check'): string {
  const dir = execFileSync('bash', [buildScript, tool], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return join(dir, tool);
}

export interface MetricsServer {
  output(): string;
  /** Whether the process has ended (it does not, while it works). */
  exited(): boolean;
  stop(): Promise<void>;
}

const USER = 'metrics-server';
const NAME = 'vic-kubelet-test:metrics-server';
const APISERVICE = 'v1beta1.metrics.k8s.io';

export async function startMetricsServer(
  cluster: ClusterInfo,
  work: string,
): Promise<MetricsServer> {
  const binary = metricsTool('metrics-server');
  const kubeconfig = userKubeconfig(cluster, `/CN=${USER}`, join(work, 'metrics-server-pki'));
  const kc = kubeConfigOf(cluster);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const reg = kc.makeApiClient(k8s.ApiregistrationV1Api);
  const user = [{ kind: 'User', name: USER, apiGroup: 'rbac.authorization.k8s.io' }];
  const roleRef = (kind: string, name: string) => ({
    apiGroup: 'rbac.authorization.k8s.io',
    kind,
    name,
  });
  const port = await freePort();

  const undo: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const u of undo.reverse()) await u().catch(() => {});
  };
  let child: ChildProcess | undefined;
  let out = '';
  try {
    // What it reads (nodes, pods), the kubelet's nodes/metrics, and delegated authn/authz.
    await rbac.createClusterRole({
      body: {
        metadata: { name: NAME },
        rules: [
          { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
          { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
        ],
      },
    });
    undo.push(() => rbac.deleteClusterRole({ name: NAME }));
    for (const [name, ref] of [
      [NAME, NAME],
      [`${NAME}:auth-delegator`, 'system:auth-delegator'],
    ]) {
      await rbac.createClusterRoleBinding({
        body: { metadata: { name }, roleRef: roleRef('ClusterRole', ref), subjects: user },
      });
      undo.push(() => rbac.deleteClusterRoleBinding({ name }));
    }
    await rbac.createNamespacedRoleBinding({
      namespace: 'kube-system',
      body: {
        metadata: { name: `${NAME}:auth-reader` },
        roleRef: roleRef('Role', 'extension-apiserver-authentication-reader'),
        subjects: user,
      },
    });
    undo.push(() =>
      rbac.deleteNamespacedRoleBinding({ namespace: 'kube-system', name: `${NAME}:auth-reader` }),
    );

    const certDir = join(work, 'metrics-server-certs');
    mkdirSync(certDir, { recursive: true });
    child = spawn(
      binary,
      [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${certDir}`,
        // Nodes' serving certificates are the cluster CA's, but metrics-server has no flag to
        // take a CA from a file that the apiserver's kubelet client uses; skip the check.
        '--kubelet-insecure-tls',
        '--kubelet-preferred-address-types=InternalIP',
        '--kubelet-use-node-status-port',
        // Scrapes every 10 s (its least), each within 5 s (less than the resolution, it says).
        '--metric-resolution=10s',
        '--kubelet-request-timeout=5s',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const proc = child;
    undo.push(async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    });

    await core.createNamespacedService({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'metrics-server' },
        spec: { type: 'ExternalName', externalName: 'localhost' },
      },
    });
    undo.push(() =>
      core.deleteNamespacedService({ namespace: 'kube-system', name: 'metrics-server' }),
    );
    await reg.createAPIService({
      body: {
        metadata: { name: APISERVICE },
        spec: {
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          groupPriorityMinimum: 100,
          versionPriority: 100,
          // Its serving certificate is self-signed (in --cert-dir).
          insecureSkipTLSVerify: true,
          service: { namespace: 'kube-system', name: 'metrics-server', port },
        },
      },
    });
    undo.push(() => reg.deleteAPIService({ name: APISERVICE }));
  } catch (e) {
    await cleanup();
    throw new Error(`metrics-server did not start: ${(e as Error).message}\n${out.slice(-2000)}`);
  }
  const proc = child;
  return {
    output: () => out,
    exited: () => proc.exitCode !== null || proc.signalCode !== null,
    stop: cleanup,
  };
}
