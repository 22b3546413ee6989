import { describe, expect, it } from 'vitest';
import { parseExposedPorts, parsePortBindings, portBindings, portList, portMap } from './ports.js';

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

  it('takes a binding without a host port as one the VCH picks (-p 80, -p 127.0.0.1::80)', () => {
    const ports = parsePortBindings({
      PortBindings: {
        '80/tcp': [{ HostIp: '', HostPort: '' }],
        '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '0' }],
      },
    });
    expect(ports).toEqual([
      { hostPort: 0, containerPort: 80, protocol: 'tcp' },
      { hostPort: 0, containerPort: 81, protocol: 'tcp', hostIP: '127.0.0.1' },
    ]);
    // As asked for in HostConfig.PortBindings; as picked in NetworkSettings.Ports.
    expect(portBindings(ports)).toEqual({
      '80/tcp': [{ HostIp: '', HostPort: '' }],
      '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    });
  });

  it('shows exposed ports published nowhere as null, and in the list without a public port', () => {
    const ports = [{ hostPort: 32768, containerPort: 80, protocol: 'tcp' as const }];
    expect(portMap(ports, ['80/tcp', '90/udp'])).toEqual({
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }],
      '90/udp': null,
    });
    expect(portList(ports, ['80/tcp', '90/udp'])).toEqual([
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 32768, Type: 'tcp' },
      { PrivatePort: 90, Type: 'udp' },
    ]);
  });

  it('reads Config.ExposedPorts (--expose), refusing what is not a port', () => {
    // (as JSON objects go: a key that is a whole number comes first)
    expect(parseExposedPorts({ ExposedPorts: { '80/tcp': {}, '53': {}, '9/sctp': {} } })).toEqual([
      '53/tcp',
      '80/tcp',
      '9/sctp',
    ]);
    expect(parseExposedPorts({})).toEqual([]);
    expect(() => parseExposedPorts({ ExposedPorts: { '70000/tcp': {} } })).toThrow(
      'invalid exposed port "70000/tcp": want PORT or PORT/PROTO (tcp, udp, sctp), PORT 1 to 65535',
    );
    expect(() => parseExposedPorts({ ExposedPorts: ['80'] })).toThrow(
      'invalid ExposedPorts: want an object',
    );
  });

  it('refuses what it cannot publish, in one line each', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ PortBindings: { '80/tcp': [{ HostPort: '8000-8010' }] } }, 'host port ranges'],
      [{ PortBindings: { '80/tcp': [{ HostPort: '99999' }] } }, 'invalid host port "99999"'],
      [{ PortBindings: { 'x/tcp': [] } }, 'invalid port "x/tcp"'],
      [{ PortBindings: [] }, 'invalid PortBindings: want an object'],
    ];
    for (const [host, message] of cases) expect(() => parsePortBindings(host)).toThrow(message);
  });
});
