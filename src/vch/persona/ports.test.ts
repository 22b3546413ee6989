import { describe, expect, it } from 'vitest';
import { parsePortBindings, portList, portMap } from './ports.js';

describe("Docker's port bindings", () => {
  it('become published ports and back', () => {
    const ports = parsePortBindings({
      PortBindings: {
        '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
        '53/udp': [{ HostIp: '', HostPort: '5353' }],
      },
    });
    expect(ports).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp' },
    ]);
    expect(portMap(ports)).toEqual({
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
      '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }],
    });
    expect(portList(ports)[0]).toEqual({
      IP: '127.0.0.1',
      PrivatePort: 80,
      PublicPort: 8080,
      Type: 'tcp',
    });
    expect(parsePortBindings({})).toEqual([]);
  });

  it('refuses what it cannot publish, in one line each', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ PublishAllPorts: true }, 'PublishAllPorts (-P) is not supported yet'],
      [{ PortBindings: { '80/tcp': [{ HostPort: '' }] } }, 'a host port is needed'],
      [{ PortBindings: { '80/tcp': [{ HostPort: '8000-8010' }] } }, 'host port ranges'],
      [{ PortBindings: { '80/tcp': [{ HostPort: '99999' }] } }, 'invalid host port "99999"'],
      [{ PortBindings: { 'x/tcp': [] } }, 'invalid port "x/tcp"'],
      [{ PortBindings: [] }, 'invalid PortBindings: want an object'],
    ];
    for (const [host, message] of cases) expect(() => parsePortBindings(host)).toThrow(message);
  });
});
