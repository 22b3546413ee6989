// What the virtual kubelet's integration tests share: a kubelet serving certificate signed
// by the cluster's CA (the apiserver checks it, with 127.0.0.1 as an IP SAN), a virtual
// kubelet on a MemoryProvider, and polling.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { silentLogger } from '../../src/logging/logger.js';
import { VirtualKubelet, type VirtualKubeletOptions } from '../../src/node/virtual-kubelet.js';
import { MemoryProvider } from '../doubles/memory-provider.js';
import { killQemus, waitNoQemu } from '../support/vm.js';
import type { ClusterInfo } from './cluster.js';

const run = promisify(execFile);

export interface ServingCert {
  cert: Buffer;
  key: Buffer;
  clientCa: Buffer;
  /** The same, as files. */
  files: { cert: string; key: string; clientCa: string };
}

export async function servingCert(
  cluster: ClusterInfo,
  nodeName: string,
  /** The addresses it names (what the apiserver dials: the node's InternalIP). */
  ips: string[] = ['127.0.0.1'],
): Promise<ServingCert> {
  const dir = mkdtempSync(join(tmpdir(), 'vic-kubelet-node-pki-'));
  const pki = join(cluster.dir, 'pki');
  const key = join(dir, 'kubelet.key');
  const csr = join(dir, 'kubelet.csr');
  const crt = join(dir, 'kubelet.crt');
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  await run('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${nodeName}`, '-out', csr]);
  await run('bash', [
    '-c',
    'openssl x509 -req -in "$1" -CA "$2/ca.crt" -CAkey "$2/ca.key" -CAcreateserial ' +
      `-CAserial "$4/ca.srl" -days 1 ` +
      `-extfile <(printf "subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\\nextendedKeyUsage=serverAuth") -out "$3"`,
    '_',
    csr,
    pki,
    crt,
    dir,
  ]);
  return {
    cert: readFileSync(crt),
    key: readFileSync(key),
    clientCa: readFileSync(join(pki, 'ca.crt')),
    files: { cert: crt, key, clientCa: join(pki, 'ca.crt') },
  };
}

/**
 * A kubeconfig for system:node:NAME in system:nodes, as a kubelet has: the apiserver's Node
 * authorizer lets it read only what the pods bound to that node reference. Written in `dir`.
 */
export function nodeKubeconfig(cluster: ClusterInfo, nodeName: string, dir: string): string {
  return userKubeconfig(cluster, `/O=system:nodes/CN=system:node:${nodeName}`, dir);
}

/**
 * A kubeconfig whose client certificate (signed by the cluster's CA) has `subject`, e.g.
 * "/CN=metrics-server": a user whose rights are only what RBAC grants it. Written in `dir`.
 */
export function userKubeconfig(cluster: ClusterInfo, subject: string, dir: string): string {
  const pki = join(cluster.dir, 'pki');
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(
    'bash',
    [
      '-c',
      'openssl ecparam -name prime256v1 -genkey -noout -out user.key && ' +
        `openssl req -new -key user.key -subj "${subject}" -out user.csr && ` +
        `openssl x509 -req -in user.csr -CA ${pki}/ca.crt -CAkey ${pki}/ca.key -CAcreateserial ` +
        `-CAserial ca.srl -days 1 -extfile <(printf "extendedKeyUsage=clientAuth") -out user.crt`,
    ],
    { encoding: 'utf8', cwd: dir },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  const b64 = (f: string) => readFileSync(join(dir, f)).toString('base64');
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    readFileSync(cluster.kubeconfig, 'utf8')
      .replace(/client-certificate-data: .*/, `client-certificate-data: ${b64('user.crt')}`)
      .replace(/client-key-data: .*/, `client-key-data: ${b64('user.key')}`),
  );
  return file;
}

export function kubeConfigOf(cluster: ClusterInfo): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  return kc;
}

export function startKubelet(
  cluster: ClusterInfo,
  provider: MemoryProvider,
  nodeName: string,
  tls: ServingCert,
  extra: Partial<VirtualKubeletOptions> = {},
): Promise<VirtualKubelet> {
  const vk = new VirtualKubelet({
    kubeConfig: kubeConfigOf(cluster),
    provider,
    nodeName,
    log: silentLogger(),
    listen: { host: '127.0.0.1', port: 0, cert: tls.cert, key: tls.key, clientCa: tls.clientCa },
    ...extra,
  });
  return vk.start().then(() => vk);
}

/** Polls `probe` until it returns a value other than undefined/false; fails after `ms`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export { MemoryProvider };

/** Waits for the namespace's default service account: pods are not admitted before it exists. */
export function defaultServiceAccount(core: k8s.CoreV1Api, namespace: string): Promise<boolean> {
  return until('the default service account', () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace }).then(() => true),
  );
}

/** Creates a namespace for a test and waits until it takes pods. */
export async function createTestNamespace(core: k8s.CoreV1Api, namespace: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await defaultServiceAccount(core, namespace);
}

/**
 * The flags of `vic-kubelet node` that every node test passes: its kubeconfig, name, the
 * loopback address and port of its kubelet API, and the serving certificate with the
 * cluster's client CA. A test adds its own (state dir, registry, runtime); with an embedded
 * VCH, `--bridge-network none` too, since node tests run in the host's network namespace.
 */
export function nodeFlags(
  kubeconfig: string,
  name: string,
  tls: ServingCert,
  port: number,
): string[] {
  return [
    '--kubeconfig',
    kubeconfig,
    '--node-name',
    name,
    '--node-ip',
    '127.0.0.1',
    '--address',
    '127.0.0.1',
    '--port',
    String(port),
    '--tls-cert-file',
    tls.files.cert,
    '--tls-private-key-file',
    tls.files.key,
    '--client-ca-file',
    tls.files.clientCa,
  ];
}

/** A `vic-kubelet node` process with an embedded VCH, Ready in the cluster. */
export interface VicNode {
  name: string;
  /** The loopback port of its kubelet API. */
  port: number;
  /** Everything it printed so far. */
  output(): string;
  /** SIGTERM, wait for it to exit, delete the Node, its pod VMs and the VCH's state. */
  stop(): Promise<void>;
  /**
   * SIGTERM, wait for it to exit, and start it again on the same state (its containers keep
   * running meanwhile); resolves once the new process has rebuilt its pod cache.
   */
  restart(): Promise<void>;
}

/**
 * Starts `vic-kubelet node` from the build with the node's own credentials (system:node:NAME),
 * an embedded VCH under `<work>/vch` that pulls from `registryHost`, and `extra` flags; resolves
 * once the Node is Ready.
 */
export async function startVicNode(
  cluster: ClusterInfo,
  core: k8s.CoreV1Api,
  o: { name: string; work: string; registryHost: string; extra?: string[] },
): Promise<VicNode> {
  const { spawn } = await import('node:child_process');
  const { cleanupVch, main } = await import('./docker-cli.js');
  const { freePort } = await import('./registry.js');
  const tls = await servingCert(cluster, o.name);
  const port = await freePort();
  const launch = () =>
    spawn(
      process.execPath,
      [
        main,
        'node',
        ...nodeFlags(nodeKubeconfig(cluster, o.name, join(o.work, 'pki')), o.name, tls, port),
        '--state-dir',
        join(o.work, 'vch'),
        '--insecure-registry',
        o.registryHost,
        // The host's network namespace: no bridge here.
        '--bridge-network',
        'none',
        ...(o.extra ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  let out = '';
  let child = launch();
  const capture = () => {
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  };
  capture();
  const end = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  };
  const node: VicNode = {
    name: o.name,
    port,
    output: () => out,
    restart: async () => {
      await end();
      const from = out.length;
      child = launch();
      capture();
      await until(
        `${o.name} to rebuild its pod cache`,
        async () => out.slice(from).includes('pod cache rebuilt'),
        60_000,
      );
    },
    stop: async () => {
      await end();
      await core.deleteNode({ name: o.name }).catch(() => {});
      // Pod VMs outlive the node: gone before their state is.
      killQemus(o.work);
      waitNoQemu(o.work);
      await cleanupVch(join(o.work, 'vch'));
    },
  };
  await until(
    `${o.name} to be Ready`,
    async () =>
      (await core.readNode({ name: o.name })).status?.conditions?.find((c) => c.type === 'Ready')
        ?.status === 'True',
    60_000,
  ).catch(async (e: Error) => {
    await node.stop();
    throw new Error(`${e.message}\n${out.slice(-2000)}`);
  });
  return node;
}

/** A pod for `node`: scheduled there, tolerating its taint, never restarted, quick to stop. */
export function podOn(
  node: string,
  namespace: string,
  name: string,
  spec: Partial<k8s.V1PodSpec> & { containers: k8s.V1Container[] },
): k8s.V1Pod {
  return {
    metadata: { name, namespace },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
      ],
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 2,
      ...spec,
    },
  };
}
