import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { routeLabel, VchMetrics } from './vch-metrics.js';

const dir = mkdtempSync(join(tmpdir(), 'vch-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('VchMetrics', () => {
  it('labels routes without ids, names or the API version', () => {
    expect(routeLabel('/v1.43/containers/abc123/json?all=1')).toBe('/containers/{}/json');
    expect(routeLabel('/images/registry:5000/busybox:1/json')).toBe('/images/{}/{}/json');
    expect(routeLabel('/portlayer/containers/abc/handle')).toBe('/portlayer/containers/{}/handle');
    expect(routeLabel('/_ping')).toBe('/_ping');
    expect(routeLabel('/')).toBe('/');
  });

  it('counts pull bytes once per layer as they download, and the pull time', async () => {
    const m = new VchMetrics(() => []);
    const heard: string[] = [];
    const pull = m.pulling({ reference: 'x', onProgress: (e) => heard.push(e.status) });
    const on = pull.req.onProgress!;
    on({ id: 'l1', status: 'Downloading', current: 100, total: 300 });
    on({ id: 'l1', status: 'Downloading', current: 300, total: 300 });
    on({ id: 'l1', status: 'Verifying', current: 300, total: 300 });
    on({ id: 'l2', status: 'Already exists' });
    on({ id: 'l3', status: 'Downloading', current: 50, total: 50 });
    pull.done(true);
    const { body } = await m.exposition();
    expect(body).toContain('vch_image_pull_bytes_total 350');
    expect(body).toContain('vch_image_pull_duration_seconds_count{result="success"} 1');
    expect(heard).toHaveLength(5); // the caller's own progress still hears everything
  });

  it('sums the log files that are regular files, never through a link', async () => {
    writeFileSync(join(dir, 'a.log'), 'x'.repeat(10));
    writeFileSync(join(dir, 'b.log'), 'y'.repeat(5));
    writeFileSync(join(dir, 'big'), 'z'.repeat(1000));
    symlinkSync(join(dir, 'big'), join(dir, 'link.log'));
    const files = ['a.log', 'b.log', 'link.log', 'missing.log'].map((f) => join(dir, f));
    const m = new VchMetrics(() => files);
    m.containerStarted();
    m.containerExited(0);
    m.containerExited(3);
    m.vmBooted(1500, 'tcg');
    m.request('persona', 'GET', '/v1.43/containers/abc/json', 200, 0.01);
    const { body } = await m.exposition();
    expect(body).toContain('vch_container_log_bytes 15');
    expect(body).toContain('vch_container_starts_total 1');
    expect(body).toContain('vch_container_exits_total{result="failure"} 1');
    expect(body).toContain('vch_vm_boot_duration_seconds_sum{accel="tcg"} 1.5');
    expect(body).toContain(
      'vch_api_requests_total{api="persona",method="GET",route="/containers/{}/json",code="200"} 1',
    );
  });
});
