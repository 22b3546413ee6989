// A pod's kernel-facing settings on the real control plane, through `vic-kubelet node` and its
// embedded VCH (runc): the default seccomp filter and Unconfined, sysctls (the safe set, one the
// node allows with --allowed-unsafe-sysctls, and one it rejects as the kubelet does:
// SysctlForbidden), and shareProcessNamespace (the containers see each other's processes).
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubectl } from './cluster.js';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({ prefix: 'sec', extra: ['--allowed-unsafe-sysctls', 'kernel.msg*'] });
const { cluster, core, namespace } = vic;

const pod = (name: string, spec: Partial<k8s.V1PodSpec> & { containers: k8s.V1Container[] }) =>
  podOn(vic.node.name, namespace, name, spec);
const status = async (name: string) => (await core.readNamespacedPod({ name, namespace })).status;
const succeeded = (name: string) =>
  until(
    `${name} to succeed`,
    async () => (await status(name))?.phase === 'Succeeded',
    90_000,
  ).catch(async (e: Error) => {
    throw new Error(
      `${e.message}: ${JSON.stringify(await status(name))}\n${vic.node.output().slice(-1500)}`,
    );
  });

describe('seccomp, sysctls and shareProcessNamespace on a vic-kubelet node', () => {
  it('applies the default seccomp filter, Unconfined when asked, and the allowed sysctls', async () => {
    const script =
      "grep '^Seccomp:' /proc/self/status; cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shm_rmid_forced /proc/sys/kernel/msgmax";
    await core.createNamespacedPod({
      namespace,
      body: pod('tuned', {
        securityContext: {
          sysctls: [
            { name: 'net.ipv4.ip_unprivileged_port_start', value: '80' },
            { name: 'kernel.shm_rmid_forced', value: '1' },
            { name: 'kernel.msgmax', value: '12345' },
          ],
        },
        containers: [
          { name: 'dflt', image: vic.image, command: ['sh', '-c', script] },
          {
            name: 'free',
            image: vic.image,
            command: ['sh', '-c', "grep '^Seccomp:' /proc/self/status"],
            securityContext: { seccompProfile: { type: 'Unconfined' } },
          },
        ],
      }),
    });
    await succeeded('tuned');
    const dflt = await kubectl(cluster, 'logs', '-n', namespace, 'tuned', '-c', 'dflt');
    expect(dflt).toMatch(/^Seccomp:\s+2\n80\n1\n12345\n$/);
    const free = await kubectl(cluster, 'logs', '-n', namespace, 'tuned', '-c', 'free');
    expect(free).toMatch(/^Seccomp:\s+0\n$/);
  }, 120_000);

  it('rejects a pod with a sysctl the node does not allow: Failed, SysctlForbidden', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('forbidden', {
        securityContext: { sysctls: [{ name: 'net.core.somaxconn', value: '1024' }] },
        containers: [{ name: 'app', image: vic.image, command: ['true'] }],
      }),
    });
    const s = await until(
      'forbidden to fail',
      async () => {
        const st = await status('forbidden');
        return st?.phase === 'Failed' && st;
      },
      60_000,
    );
    expect(s.reason).toBe('SysctlForbidden');
    expect(s.message).toBe(
      'Pod was rejected: forbidden sysctl: "net.core.somaxconn" not allowlisted',
    );
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=forbidden',
    });
    expect(events.items.map((e) => e.reason)).toContain('SysctlForbidden');
  }, 90_000);

  it('shares one PID namespace between the containers with shareProcessNamespace', async () => {
    await core.createNamespacedPod({
      namespace,
      body: pod('shared', {
        shareProcessNamespace: true,
        containers: [
          // The image has sh alone on PATH; this command line is what the other one looks for.
          {
            name: 'sleeper',
            image: vic.image,
            command: ['sh', '-c', 'sleep 3; echo sleeper-done'],
          },
          {
            name: 'looker',
            image: vic.image,
            command: ['sh', '-c', 'sleep 1; ps -o args'],
          },
        ],
      }),
    });
    await succeeded('shared');
    const logs = await kubectl(cluster, 'logs', '-n', namespace, 'shared', '-c', 'looker');
    expect(logs).toContain('sh -c sleep 3; echo sleeper-done');
  }, 120_000);
});
