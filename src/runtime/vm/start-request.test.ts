import { describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../core/container-record.js';
import { startRequest } from './start-request.js';

const rec = (extra: object = {}): ContainerRecord =>
  ({
    id: 'c'.repeat(64),
    sandboxId: 's'.repeat(64),
    spec: {
      id: 'c'.repeat(64),
      name: 'app',
      imageRootfs: '/images/x',
      process: { args: ['sh'], env: ['PATH=/bin', 'HOME=/root'], cwd: '/', user: '' },
      logPath: '/logs/x',
      ...extra,
    },
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
    rootfsMode: 'copy',
    status: 'created',
  }) as ContainerRecord;

describe('startRequest', () => {
  it('passes the terminationMessagePath hex-encoded in the options (a path may hold commas)', () => {
    const opts = String(startRequest(rec({ terminationMessagePath: '/var/a,b' }), false)[2]);
    expect(opts).toMatch(/,tlog=2f7661722f612c62$/);
    expect(Buffer.from('/var/a,b').toString('hex')).toBe('2f7661722f612c62');
    expect(String(startRequest(rec(), false)[2])).not.toContain('tlog');
  });
});
