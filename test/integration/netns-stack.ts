// A whole node stack inside a network namespace the test creates: a control plane
// (scripts/cluster.sh), an OCI registry and `vic-kubelet node` with its embedded VCH on a bridge
// network, all on the namespace's loopback and on the VCH's bridge there — so pods have IPs,
// and the node reaches them as a kubelet does (probes), without touching the host's namespace.
// The test process itself stays outside: it drives the stack through kubectl run inside
// (`nsenter --net=`, which keeps the host's /sys and cgroups for the node and its runc).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createNetns, type TestNetns } from '../support/netns.js';
import { type Cluster, startCluster } from './cluster.js';
import { cleanupVch, ensureBuilt, main } from './docker-cli.js';
import { nodeFlags, nodeKubeconfig, servingCert, until } from './node-harness.js';
import { buildBusyboxLayout } from './registry.js';

const run = promisify(execFile);

/** The registry's address inside the namespace. */
const REGISTRY = '127.0.0.1:5000';

/** The node's InternalIP: on an interface of the namespace's own (the apiserver's is loopback). */
export const NODE_IP = '10.127.0.1';
/** The namespace's bridge that holds NODE_IP. */
export const NODE_BRIDGE = 'vknode0';

export interface NetnsStack {
  netns: TestNetns;
  cluster: Cluster;
  nodeName: string;
  /** The busybox image in the namespace's registry. */
  image: string;
  /** kubectl inside the namespace, as the cluster's admin; its standard output. */
  kubectl(...args: string[]): Promise<string>;
  /** `kubectl get -o json` of one object. */
  get<T = Record<string, unknown>>(kind: string, name: string, namespace?: string): Promise<T>;
  /** What the node printed so far. */
  nodeOutput(): string;
  stop(): Promise<void>;
}

/** A child process inside the namespace, its output kept. */
export function spawnIn(
  netns: TestNetns,
  argv: string[],
): { child: ChildProcess; output: () => string } {
  const child = spawn(netns.prefix[0], [...netns.prefix.slice(1), ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

/** SIGTERM, then SIGKILL after 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export async function startNetnsStack(o: {
  work: string;
  /** The VCH's --bridge-network. */
  bridgeNetwork: string;
  extra?: string[];
  /** More files in the test image: its path there to the host file (buildBusyboxLayout). */
  imageFiles?: Record<string, string>;
}): Promise<NetnsStack> {
  ensureBuilt();
  const netns = createNetns('vkstack');
  const cleanups: (() => Promise<void>)[] = [async () => netns.remove()];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    // (a bridge of the namespace's, with no ports: this kernel has no dummy interfaces)
    netns.run('ip', ['link', 'add', NODE_BRIDGE, 'type', 'bridge']);
    netns.run('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', NODE_BRIDGE]);
    netns.run('ip', ['link', 'set', NODE_BRIDGE, 'up']);
    const cluster = await startCluster({ wrap: netns.prefix });
    cleanups.push(() => cluster.stop());
    const kubectl = async (...args: string[]) =>
      (
        await run(
          netns.prefix[0],
          [
            ...netns.prefix.slice(1),
            join(cluster.bin, 'kubectl'),
            '--kubeconfig',
            cluster.kubeconfig,
            '--cache-dir',
            join(cluster.dir, 'kubectl-cache'),
            ...args,
          ],
          { maxBuffer: 1 << 24 },
        )
      ).stdout;

    // The registry, on the namespace's loopback, with busybox pushed from inside.
    const regDir = join(o.work, 'registry');
    mkdirSync(regDir, { recursive: true });
    writeFileSync(
      join(regDir, 'config.yml'),
      `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n` +
        `storage:\n  filesystem:\n    rootdirectory: ${join(regDir, 'storage')}\n` +
        `http:\n  addr: ${REGISTRY}\n  secret: vic-kubelet-test\n`,
    );
    const registry = spawnIn(netns, [
      '/usr/bin/docker-registry',
      'serve',
      join(regDir, 'config.yml'),
    ]);
    cleanups.push(() => stopChild(registry.child));
    const layout = await buildBusyboxLayout(join(o.work, 'image'), o.imageFiles);
    const image = `${REGISTRY}/busybox:1`;
    await until(
      'the registry to take the image',
      async () => {
        try {
          netns.run('skopeo', [
            'copy',
            '-q',
            '--dest-tls-verify=false',
            `oci:${layout}:busybox`,
            `docker://${image}`,
          ]);
          return true;
        } catch {
          return false;
        }
      },
      20_000,
    );

    // The node, with the node's own credentials and an embedded VCH on a bridge.
    const nodeName = `netns-${netns.name.split('-')[1]}`;
    const tls = await servingCert(cluster, nodeName, [NODE_IP, '127.0.0.1']);
    const vchDir = join(o.work, 'vch');
    const node = spawnIn(netns, [
      process.execPath,
      main,
      'node',
      ...nodeFlags(nodeKubeconfig(cluster, nodeName, join(o.work, 'pki')), nodeName, tls, 10250),
      '--state-dir',
      vchDir,
      '--insecure-registry',
      REGISTRY,
      '--runtime',
      'runc',
      '--bridge-network',
      o.bridgeNetwork,
      // Its pods' status.hostIP, its hostPorts' address and where its kubelet API listens: the
      // apiserver dials the InternalIP for `kubectl exec` and `logs`.
      '--node-ip',
      NODE_IP,
      '--address',
      NODE_IP,
      ...(o.extra ?? []),
    ]);
    cleanups.push(async () => {
      await stopChild(node.child);
      await cleanupVch(vchDir);
    });
    const get = async <T>(kind: string, name: string, namespace?: string) =>
      JSON.parse(
        await kubectl('get', kind, name, ...(namespace ? ['-n', namespace] : []), '-o', 'json'),
      ) as T;
    await until(
      `${nodeName} to be Ready`,
      async () => {
        const n = await get<{ status?: { conditions?: { type: string; status: string }[] } }>(
          'node',
          nodeName,
        ).catch(() => undefined);
        return n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      90_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${node.output().slice(-2000)}`);
    });
    return { netns, cluster, nodeName, image, kubectl, get, nodeOutput: node.output, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
