import { describe, expect, it } from 'vitest';
import {
  chooseBridgeCidr,
  formatCidr,
  gatewayOf,
  overlaps,
  parseBridgeCidr,
  routedRanges,
  tryParseCidr,
} from './cidr.js';

const c = (s: string) => tryParseCidr(s)!;

describe('bridge network ranges', () => {
  it('parses a network and its gateway', () => {
    expect(formatCidr(parseBridgeCidr('10.88.0.0/16'))).toBe('10.88.0.0/16');
    expect(gatewayOf(parseBridgeCidr('192.168.5.0/24'))).toBe('192.168.5.1');
  });

  it('refuses what is not a usable IPv4 network, in one line each', () => {
    for (const [value, message] of [
      ['nope', /want an IPv4 network such as 10.88.0.0\/16/],
      ['10.88.0.0', /want an IPv4 network/],
      ['10.300.0.0/16', /want an IPv4 network/],
      ['10.88.0.1/16', /host bits are set \(the network is 10.88.0.0\/16\)/],
      ['10.0.0.0/4', /between \/8 and \/28/],
      ['10.0.0.0/30', /between \/8 and \/28/],
      ['127.0.0.0/8', /loopback, multicast or reserved/],
      ['224.0.0.0/8', /loopback, multicast or reserved/],
    ] as const)
      expect(() => parseBridgeCidr(value), value).toThrow(message);
  });

  it('tells overlapping ranges from disjoint ones', () => {
    expect(overlaps(c('10.88.0.0/16'), c('10.88.5.0/24'))).toBe(true);
    expect(overlaps(c('10.88.5.0/24'), c('10.0.0.0/8'))).toBe(true);
    expect(overlaps(c('10.88.0.0/16'), c('10.89.0.0/16'))).toBe(false);
    expect(overlaps(c('10.88.0.0/16'), c('10.88.255.255'))).toBe(true);
  });

  it("keeps every route but the default and the VCH's own bridge", () => {
    const routes = routedRanges(
      [
        { dst: 'default', dev: 'eth0' },
        { dst: '192.0.2.0/24', dev: 'eth0' },
        { dst: '10.88.0.0/16', dev: 'vic12345678' },
        { dst: '10.77.1.1', dev: 'tun0' },
      ],
      'vic12345678',
    );
    expect(routes.map(formatCidr)).toEqual(['192.0.2.0/24', '10.77.1.1/32']);
    expect(routes.map((r) => r.dev)).toEqual(['eth0', 'tun0']);
  });

  it("names the device of the route a request overlaps, and another VCH's bridge as such", () => {
    expect(() =>
      chooseBridgeCidr('10.88.0.0/24', [{ ...c('10.88.0.0/16'), dev: 'vic0123abcd' }]),
    ).toThrow(
      "--bridge-network 10.88.0.0/24 overlaps the host's route to 10.88.0.0/16 on vic0123abcd (another VCH's bridge): choose another range",
    );
    expect(() => chooseBridgeCidr('192.0.2.0/25', [{ ...c('192.0.2.0/24'), dev: 'eth0' }])).toThrow(
      "overlaps the host's route to 192.0.2.0/24 on eth0: choose another range",
    );
  });

  it('picks the first default that overlaps no route, and refuses an overlapping request', () => {
    expect(formatCidr(chooseBridgeCidr(undefined, []))).toBe('10.88.0.0/16');
    expect(formatCidr(chooseBridgeCidr(undefined, [c('10.88.1.0/24')]))).toBe('10.89.0.0/16');
    expect(formatCidr(chooseBridgeCidr(undefined, [c('10.0.0.0/8')]))).toBe('172.30.0.0/16');
    expect(() => chooseBridgeCidr('10.88.0.0/16', [c('10.88.4.0/24')])).toThrow(
      "--bridge-network 10.88.0.0/16 overlaps the host's route to 10.88.4.0/24: choose another range",
    );
    expect(() =>
      chooseBridgeCidr(undefined, [c('10.0.0.0/8'), c('172.16.0.0/12'), c('192.168.0.0/16')]),
    ).toThrow(
      /every default bridge network .* overlaps a route of the host: give --bridge-network/,
    );
    expect(formatCidr(chooseBridgeCidr('10.50.0.0/24', [c('10.88.0.0/16')]))).toBe('10.50.0.0/24');
  });
});
