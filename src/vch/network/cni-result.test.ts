import { describe, expect, it } from 'vitest';
import { endpointOf, failureMessage, parseResult } from './cni-result.js';

// What Debian's bridge plugin (1.1.1) answers to ADD, as seen on this project's VCH.
const BRIDGE_RESULT = JSON.stringify({
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'vic6a097a64', mac: '4e:fb:b1:6b:48:2b' },
    { name: 'vethd24ef595', mac: '86:d5:a8:08:e3:34' },
    { name: 'eth0', mac: '1a:2b:3c:4d:5e:6f', sandbox: '/state/network/netns/abc' },
  ],
  ips: [{ interface: 2, address: '10.88.0.2/16', gateway: '10.88.0.1' }],
  routes: [{ dst: '0.0.0.0/0' }],
  dns: {},
});

describe('CNI results', () => {
  it("finds the pod's address, gateway, MAC and the host's end of the veth", () => {
    expect(endpointOf(parseResult(BRIDGE_RESULT, 'bridge'), 'eth0')).toEqual({
      address: '10.88.0.2/16',
      gateway: '10.88.0.1',
      mac: '1a:2b:3c:4d:5e:6f',
      hostVeth: 'vethd24ef595',
    });
  });

  it('refuses a result without an IPv4 address for the interface, or one that is not JSON', () => {
    const v6only = {
      interfaces: [{ name: 'eth0', sandbox: '/x' }],
      ips: [{ interface: 0, address: 'fd00::2/64' }],
    };
    expect(() => endpointOf(v6only, 'eth0')).toThrow('the CNI result gives eth0 no IPv4 address');
    expect(() => endpointOf({ ips: [{ address: '10.88.0.2' }] }, 'eth0')).toThrow(/not a.b.c.d\/n/);
    expect(() => parseResult('oops', 'bridge')).toThrow(
      'CNI plugin bridge printed no JSON result: oops',
    );
    expect(() => parseResult('[1]', 'bridge')).toThrow('the result is not an object');
    expect(() => parseResult('{"ips": 3}', 'bridge')).toThrow('"ips" is not a list');
  });

  it("says a plugin's failure in one line: its error object, else its last line of output", () => {
    const err = JSON.stringify({
      code: 11,
      msg: 'failed to allocate for range 0',
      details: 'no IP addresses available in range set: 10.88.0.1-10.88.0.14',
    });
    expect(failureMessage('bridge', err, '')).toBe(
      'CNI plugin bridge: failed to allocate for range 0: no IP addresses available in range set: 10.88.0.1-10.88.0.14',
    );
    expect(failureMessage('portmap', '', 'line one\nline two\n')).toBe(
      'CNI plugin portmap: line two',
    );
    expect(failureMessage('firewall', '', '')).toBe('CNI plugin firewall: failed');
  });
});
