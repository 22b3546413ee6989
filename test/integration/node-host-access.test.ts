// --allow-privileged and --allow-host-namespaces end to end: the control plane, a registry and
// `vic-kubelet node` (embedded VCH, runc) with both flags, all inside a network namespace the
// test creates (netns-stack.ts) — so a hostNetwork pod shares that namespace, never the
// machine's. A hostNetwork pod has the node's IP and serves on it; hostPID and hostIPC pods are
// in the node's PID and IPC namespaces; a privileged container holds every capability, runs
// without seccomp, sees the host's devices and a writable /sys. A pod VM refuses them.
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostDevices } from '../../src/runtime/runc/host-devices.js';
import { NODE_IP, type NetnsStack, startNetnsStack } from './netns-stack.js';
import { until } from './node-harness.js';

const SUBNET = '10.125.0.0/24';
const NS = 'hostaccess';

let work: string;
let stack: NetnsStack;

interface PodJson {
  status?: {
    phase?: string;
    podIP?: string;
    message?: string;
    reason?: string;
    containerStatuses?: { state?: { terminated?: { message?: string } } }[];
  };
}

const pod = (name: string) => stack.get<PodJson>('pod', name, NS);

function podJson(name: string, script: string, spec: object, sc?: object, annotations?: object) {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, ...(annotations && { annotations }) },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': stack.nodeName },
      tolerations: [
        { key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' },
      ],
      terminationGracePeriodSeconds: 1,
      restartPolicy: 'Never',
      ...spec,
      containers: [
        {
          name: 'app',
          image: stack.image,
          command: ['sh', '-c', script],
          ...(sc && { securityContext: sc }),
        },
      ],
    },
  });
}

async function apply(json: string): Promise<void> {
  const file = join(work, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, json);
  await stack.kubectl('apply', '-f', file);
}

/**
 * Runs the pod to its end (restartPolicy Never); the lines its script wrote to its termination
 * message. (kubectl logs would go through the apiserver to the node's kubelet API, which this
 * stack keeps on loopback.)
 */
async function resultOf(name: string): Promise<string[]> {
  const done = await until(
    `${name} to end`,
    async () => {
      const p = await pod(name);
      return (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') && p;
    },
    90_000,
  ).catch(async (e: Error) => {
    const status = JSON.stringify((await pod(name).catch(() => ({}))).status);
    throw new Error(`${e.message}\n${status}\n${stack.nodeOutput().slice(-3000)}`);
  });
  const message = done.status?.containerStatuses?.[0].state?.terminated?.message ?? '';
  return message.trimEnd().split('\n');
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vic-host-access-'));
  stack = await startNetnsStack({
    work,
    bridgeNetwork: SUBNET,
    extra: ['--allow-privileged', '--allow-host-namespaces'],
  });
  await stack.kubectl('create', 'namespace', NS);
  await until(
    'the default service account',
    async () => (await stack.kubectl('get', 'sa', '-n', NS, '-o', 'name')).includes('default'),
    30_000,
  );
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('host namespaces on vic-kubelet node --allow-host-namespaces (runc)', () => {
  it("hostNetwork: the node's network namespace (the test's), the node's IP, served on it", async () => {
    // What it sees, served on port 8099 of the node's address.
    const script =
      'mkdir -p /www && { busybox readlink /proc/self/ns/net; grep -c vknode0 /proc/net/dev; } > /www/info && ' +
      'exec busybox httpd -f -p 8099 -h /www';
    await apply(podJson('hostnet', script, { hostNetwork: true }));
    const p = await until(
      'hostnet to run',
      async () => {
        const q = await pod('hostnet');
        return q.status?.phase === 'Running' && q;
      },
      60_000,
    );
    expect(p.status?.podIP).toBe(NODE_IP);
    let answer = '';
    for (let i = 0; i < 50 && answer === ''; i++) {
      try {
        answer = stack.netns.run('busybox', [
          'wget',
          '-q',
          '-O',
          '-',
          `http://${NODE_IP}:8099/info`,
        ]);
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const [netns, bridges] = answer.trimEnd().split('\n');
    expect(netns).toBe(stack.netns.run('readlink', ['/proc/self/ns/net']).trim());
    expect(bridges).toBe('1'); // the namespace's own interface
  }, 180_000);

  it("hostPID and hostIPC: the node's PID and IPC namespaces; without them, the pod's own", async () => {
    const script =
      '{ busybox readlink /proc/self/ns/pid; busybox readlink /proc/self/ns/ipc; } > /dev/termination-log';
    await apply(podJson('hostpid', script, { hostPID: true, hostIPC: true }));
    await apply(podJson('ownpid', script, {}));
    const [pid, ipc] = await resultOf('hostpid');
    expect(pid).toBe(readlinkSync('/proc/self/ns/pid'));
    expect(ipc).toBe(readlinkSync('/proc/self/ns/ipc'));
    const [ownPid, ownIpc] = await resultOf('ownpid');
    expect(ownPid).not.toBe(readlinkSync('/proc/self/ns/pid'));
    expect(ownIpc).not.toBe(readlinkSync('/proc/self/ns/ipc'));
  }, 180_000);
});

describe('privileged on vic-kubelet node --allow-privileged (runc)', () => {
  it("every capability, no seccomp, the host's devices, /sys writable", async () => {
    // A device of the host's that no plain container gets.
    const plainDevs = new Set(['null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx']);
    const device = (await hostDevices()).find(
      (d) => !plainDevs.has(d.path.slice('/dev/'.length)) && !d.path.startsWith('/dev/tty'),
    );
    expect(device, 'a device on this host beyond the default ones').toBeDefined();
    const script =
      `{ grep -E '^(CapEff|Seccomp):' /proc/self/status; ` +
      `if [ -e ${device!.path} ]; then echo has-device; else echo no-device; fi; ` +
      `grep ' /sys sysfs ' /proc/mounts | busybox cut -d' ' -f4 | busybox cut -d, -f1; } > /dev/termination-log`;
    await apply(podJson('priv', script, {}, { privileged: true }));
    await apply(podJson('plain', script, {}));
    const hostBounding = /CapBnd:\s+(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    expect(await resultOf('priv')).toEqual([
      `CapEff:\t${hostBounding}`,
      'Seccomp:\t0',
      'has-device',
      'rw',
    ]);
    const plain = await resultOf('plain');
    expect(plain[0]).toBe('CapEff:\t00000000a80425fb'); // Docker's default set
    expect(plain[1]).toBe('Seccomp:\t2'); // RuntimeDefault: a filter
    expect(plain.slice(2)).toEqual(['no-device', 'ro']);
  }, 180_000);

  it('a pod VM refuses them in one line', async () => {
    await apply(
      podJson('vmpriv', 'echo no', {}, { privileged: true }, { 'vic-kubelet.io/runtime': 'vm' }),
    );
    const failed = await until(
      'vmpriv to fail',
      async () => {
        const p = await pod('vmpriv');
        return p.status?.phase === 'Failed' && p;
      },
      30_000,
    );
    expect(failed.status?.message).toBe(
      'spec.containers["app"].securityContext.privileged: a pod VM has a kernel of its own, so it cannot share the node\'s namespaces or run a privileged container; run the pod on runc (annotation vic-kubelet.io/runtime: runc)',
    );
  }, 60_000);
});
