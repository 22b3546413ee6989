import { describe, expect, it } from 'vitest';
import { matchesFilter } from './container-filter.js';
import type { ContainerRow } from './db.js';

const row = (name: string, status: ContainerRow['status'] = 'running'): ContainerRow => ({
  id: 'ab'.repeat(32),
  name,
  nameInPod: name,
  podId: 'cd'.repeat(32),
  config: { image: 'x', labels: { app: 'web' } },
  imageReference: 'x',
  imageId: 'sha256:00',
  process: {
    path: '/x',
    args: [],
    env: [],
    workingDir: '/',
    user: '',
    stopSignal: 'SIGTERM',
    stopTimeout: 10,
  },
  created: '2026-01-01T00:00:00Z',
  status,
  restartCount: 0,
});

describe('name filter', () => {
  it('matches parts and ^…$ anchors as text, never compiling the pattern', () => {
    expect(matchesFilter(row('web-1'), { names: ['web'] })).toBe(true);
    expect(matchesFilter(row('web-1'), { names: ['^web'] })).toBe(true);
    expect(matchesFilter(row('web-1'), { names: ['^/web'] })).toBe(true);
    expect(matchesFilter(row('my-web'), { names: ['^web'] })).toBe(false);
    expect(matchesFilter(row('web'), { names: ['^web$'] })).toBe(true);
    expect(matchesFilter(row('web-1'), { names: ['^web$'] })).toBe(false);
    expect(matchesFilter(row('web-1'), { names: ['-1$'] })).toBe(true);
    expect(matchesFilter(row('a'.repeat(40)), { names: ['(a+)+$b'] })).toBe(false);
  });

  it('hides stopped containers unless all or a status is asked for', () => {
    expect(matchesFilter(row('x', 'exited'), {})).toBe(false);
    expect(matchesFilter(row('x', 'exited'), { all: true })).toBe(true);
    expect(matchesFilter(row('x', 'exited'), { statuses: ['exited'] })).toBe(true);
    expect(matchesFilter(row('x'), { labels: ['app=web', 'app'] })).toBe(true);
    expect(matchesFilter(row('x'), { labels: ['app=db'] })).toBe(false);
  });
});
