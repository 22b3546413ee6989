import { describe, expect, it } from 'vitest';
import type { PublishedPort } from '../../runtime/runtime.js';
import { checkPublishedPorts, type PortContext } from './ports.js';

const web: PublishedPort = { hostPort: 8080, containerPort: 80, protocol: 'tcp' };
const ctx = (o: Partial<PortContext> = {}): PortContext => ({
  network: true,
  joinsPod: false,
  taken: [],
  ...o,
});

describe('published ports', () => {
  it('takes free ports on a pod of its own on the bridge', () => {
    expect(() => checkPublishedPorts([web], ctx())).not.toThrow();
    expect(() => checkPublishedPorts([], ctx({ network: false }))).not.toThrow();
    // Another address, or another protocol, is another port.
    const taken = [{ pod: 'a', ports: [{ ...web, hostIP: '127.0.0.1' }] }];
    expect(() =>
      checkPublishedPorts([{ ...web, hostIP: '10.0.0.1' }], ctx({ taken })),
    ).not.toThrow();
    expect(() => checkPublishedPorts([{ ...web, protocol: 'udp' }], ctx({ taken }))).not.toThrow();
  });

  it('refuses, in one line each, what cannot be published', () => {
    const cases: [PublishedPort[], Partial<PortContext>, string][] = [
      [[{ ...web, hostPort: 70000 }], {}, 'invalid host port 70000: want 1 to 65535'],
      [[{ ...web, containerPort: 0 }], {}, 'invalid container port 0: want 1 to 65535'],
      [[{ ...web, hostIP: 'here' }], {}, 'invalid host address "here": want an IPv4 address'],
      [[web], { network: false }, '--bridge-network none'],
      [[web], { joinsPod: true }, "published ports are the pod's"],
      [[web, { ...web, containerPort: 81 }], {}, 'port 0.0.0.0:8080/tcp is published twice'],
    ];
    for (const [ports, o, message] of cases)
      expect(() => checkPublishedPorts(ports, ctx(o))).toThrow(message);
  });

  it('takes host port 0 (one the VCH picks) only where asked to', () => {
    const any = { ...web, hostPort: 0 };
    expect(() => checkPublishedPorts([any, any], ctx(), true)).not.toThrow();
    expect(() => checkPublishedPorts([any], ctx())).toThrow('invalid host port 0: want 1 to 65535');
  });

  it('refuses a host port another pod holds as a Conflict', () => {
    const taken = [{ pod: 'web-1', ports: [web] }];
    let err: unknown;
    try {
      checkPublishedPorts([{ ...web, hostIP: '127.0.0.1' }], ctx({ taken }));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      kind: 'Conflict',
      message: 'Bind for 127.0.0.1:8080/tcp failed: port is already allocated (by web-1)',
    });
  });
});
