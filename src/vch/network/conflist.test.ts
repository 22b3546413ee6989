import { describe, expect, it } from 'vitest';
import { tryParseCidr } from './cidr.js';
import { buildConflist, pluginInput, withoutPlugin } from './conflist.js';
import { masqueradeRule } from './masquerade.js';

const list = buildConflist({
  name: 'vic0123abcd',
  bridge: 'vic0123abcd',
  subnet: tryParseCidr('10.88.0.0/16')!,
  ipamDir: '/state/network/ipam',
});

describe('the network configuration list', () => {
  it("chains Debian's plugins: bridge with host-local, portmap, firewall (runc brings lo up)", () => {
    expect(list.cniVersion).toBe('1.0.0');
    expect(list.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap', 'firewall']);
    expect(list.plugins[0]).toMatchObject({
      bridge: 'vic0123abcd',
      isGateway: true,
      ipMasq: false,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.88.0.0/16', gateway: '10.88.0.1' }]],
        dataDir: '/state/network/ipam',
      },
    });
    expect(list.plugins[1].capabilities).toEqual({ portMappings: true });
  });

  it("gives each plugin its entry, the list's name and version, and the previous result", () => {
    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.88.0.2/16' }] };
    const input = pluginInput(list, list.plugins[2], prev, {});
    expect(input).toEqual({
      type: 'firewall',
      cniVersion: '1.0.0',
      name: 'vic0123abcd',
      prevResult: prev,
    });
    expect(pluginInput(list, list.plugins[0], undefined, {})).not.toHaveProperty('prevResult');
  });

  it('hands port mappings only to the plugin that declares the capability', () => {
    const ports = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
    const portmap = pluginInput(list, list.plugins[1], undefined, { portMappings: ports });
    expect(portmap.runtimeConfig).toEqual({ portMappings: ports });
    expect(portmap).not.toHaveProperty('capabilities');
    const bridge = pluginInput(list, list.plugins[0], undefined, { portMappings: ports });
    expect(bridge).not.toHaveProperty('runtimeConfig');
  });
});

describe('what a pod start costs', () => {
  it('runs portmap only for a pod that publishes ports, the rest of the list as it is', () => {
    expect(withoutPlugin(list, 'portmap').plugins.map((p) => p.type)).toEqual([
      'bridge',
      'firewall',
    ]);
    expect(list.plugins).toHaveLength(3);
  });

  it('masquerades egress with one rule for the range, named after the bridge', () => {
    expect(masqueradeRule(tryParseCidr('10.88.0.0/16')!, 'vic0123abcd').join(' ')).toBe(
      'POSTROUTING -s 10.88.0.0/16 ! -d 10.88.0.0/16 -m comment --comment vic-kubelet vic0123abcd -j MASQUERADE',
    );
  });
});
