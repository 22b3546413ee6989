import { describe, expect, it } from 'vitest';
import type { PodInfo } from '../types.js';
import { LABEL_ID, LABEL_SCOPES } from './directory.js';
import { endpointsOf } from './info.js';

const id = 'a'.repeat(64);
const pod = (o: Partial<PodInfo> = {}): PodInfo => ({
  id: 'b'.repeat(64),
  name: 'ns_web',
  hostname: 'web',
  labels: { [LABEL_ID]: id },
  implicit: false,
  created: '2026-01-01T00:00:00Z',
  containerIds: [],
  runtime: 'runc',
  ...o,
});

describe("a pod's endpoints", () => {
  it('has none without a scope join or a bridge', () => {
    expect(endpointsOf(pod())).toEqual([]);
  });

  it('has its bridge address in the bridge scope, joined or not', () => {
    const network = {
      scope: 'bridge',
      address: '10.88.0.5/16',
      gateway: '10.88.0.1',
      mac: '1a:2b:3c:4d:5e:6f',
    };
    const eps = endpointsOf(
      pod({ network, labels: { [LABEL_ID]: id, [LABEL_SCOPES]: 'default' } }),
    );
    expect(eps.map((e) => [e.scope, e.address, e.gateway])).toEqual([
      ['bridge', '10.88.0.5/16', '10.88.0.1'],
      ['default', '', ''],
    ]);
    expect(eps[0]).toMatchObject({ container: id, macaddress: '1a:2b:3c:4d:5e:6f' });
    const joined = endpointsOf(
      pod({ network, labels: { [LABEL_ID]: id, [LABEL_SCOPES]: 'bridge' } }),
    );
    expect(joined).toHaveLength(1);
    expect(joined[0].address).toBe('10.88.0.5/16');
  });
});
