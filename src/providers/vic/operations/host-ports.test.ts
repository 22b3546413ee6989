import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { admitHostPorts, podHostPorts } from './host-ports.js';

const pod = (name: string, ports: k8s.V1ContainerPort[]): k8s.V1Pod => ({
  metadata: { name, namespace: 'ns' },
  spec: { containers: [{ name: 'web', image: 'busybox', ports }] },
});

describe('hostPort', () => {
  it('publishes each hostPort, TCP by default, on every node address unless hostIP says', () => {
    const p = pod('a', [
      { containerPort: 80, hostPort: 8080 },
      { containerPort: 53, hostPort: 5353, protocol: 'UDP', hostIP: '10.0.0.5' },
      { containerPort: 9000 },
    ]);
    expect(podHostPorts(p)).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '10.0.0.5' },
    ]);
  });

  it("refuses a hostPort another pod holds, in one line naming both; other protocols or addresses don't clash", () => {
    const held = pod('old', [{ containerPort: 80, hostPort: 8080, hostIP: '10.0.0.5' }]);
    expect(() =>
      admitHostPorts(pod('new', [{ containerPort: 80, hostPort: 8080 }]), [held]),
    ).toThrow(
      'spec.containers["web"].ports[0].hostPort: 0.0.0.0:8080/tcp is already taken on this node by pod ns/old',
    );
    const fine = [
      pod('udp', [{ containerPort: 80, hostPort: 8080, protocol: 'UDP' }]),
      pod('ip', [{ containerPort: 80, hostPort: 8080, hostIP: '10.0.0.6' }]),
      pod('other', [{ containerPort: 80, hostPort: 8081 }]),
    ];
    for (const p of fine) expect(() => admitHostPorts(p, [held])).not.toThrow();
  });

  it('refuses a hostPort out of range, or one to a container port out of range, or another protocol', () => {
    const cases: [k8s.V1ContainerPort, string][] = [
      [{ containerPort: 80, hostPort: 70000 }, 'ports[0].hostPort 70000: want 1 to 65535'],
      [{ containerPort: 80, hostPort: 65536 }, 'ports[0].hostPort 65536: want 1 to 65535'],
      [{ containerPort: 80, hostPort: -1 }, 'ports[0].hostPort -1: want 1 to 65535'],
      [{ containerPort: 0, hostPort: 8080 }, 'ports[0].containerPort 0: want 1 to 65535'],
      [
        { containerPort: 80, hostPort: 8080, protocol: 'ICMP' },
        'ports[0].protocol "ICMP": want TCP, UDP or SCTP',
      ],
    ];
    for (const [port, message] of cases)
      expect(() => admitHostPorts(pod('x', [port]), [])).toThrow(
        `spec.containers["web"].${message}`,
      );
    // hostPort 0 is no hostPort (the API's default): nothing published, nothing refused.
    const none = pod('y', [{ containerPort: 80, hostPort: 0 }]);
    expect(() => admitHostPorts(none, [])).not.toThrow();
    expect(podHostPorts(none)).toEqual([]);
  });
});
