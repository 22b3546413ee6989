import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { NodeMetrics, routeOf } from './node-metrics.js';

describe('NodeMetrics', () => {
  it('names routes by their first segment, and nothing unbounded', () => {
    expect(routeOf('/containerLogs/ns/pod/c?tailLines=1')).toBe('containerLogs');
    expect(routeOf('/metrics')).toBe('metrics');
    expect(routeOf('/stats/summary')).toBe('stats');
    expect(routeOf('/anything/else')).toBe('other');
    expect(routeOf('/')).toBe('other');
  });

  it('observes a pod start once, from when it was first seen', async () => {
    let running = 0;
    const m = new NodeMetrics(new Registry(), () => running);
    m.podSeen('u1', 1000);
    m.podSeen('u1', 5000); // seen again: still counts from the first time
    m.podRunning('u1', 3500);
    m.podRunning('u1', 9000); // running again (a status rewrite): not observed twice
    m.podRunning('never-seen', 9000);
    running = 1;
    const { body } = await m.exposition();
    expect(body).toContain('kubelet_pod_start_duration_seconds_count 1');
    expect(body).toContain('kubelet_pod_start_duration_seconds_sum 2.5');
    expect(body).toContain('kubelet_running_pods 1');
  });

  it('counts API requests by route and code, apiserver requests and errors', async () => {
    const m = new NodeMetrics(new Registry(), () => 0);
    m.httpRequest('GET', '/containerLogs/a/b/c', 200, 0.02);
    m.httpRequest('GET', '/containerLogs/x/y/z', 200, 0.03);
    m.httpRequest('GET', '/pods', 401, 0.001);
    m.restRequest('PATCH', '127.0.0.1:6443', 200, 0.01);
    m.restRequest('GET', '127.0.0.1:6443', undefined, 1);
    m.error('pod_sync');
    const { body } = await m.exposition();
    expect(body).toContain(
      'kubelet_http_requests_total{method="GET",path="containerLogs",code="200"} 2',
    );
    expect(body).toContain('kubelet_http_requests_total{method="GET",path="pods",code="401"} 1');
    expect(body).toContain(
      'rest_client_requests_total{code="200",method="PATCH",host="127.0.0.1:6443"} 1',
    );
    expect(body).toContain(
      'rest_client_requests_total{code="<error>",method="GET",host="127.0.0.1:6443"} 1',
    );
    expect(body).toContain('vic_kubelet_errors_total{source="pod_sync"} 1');
  });

  it('keeps two nodes in one process apart', async () => {
    const a = new NodeMetrics(new Registry(), () => 1);
    const b = new NodeMetrics(new Registry(), () => 2);
    a.error('event');
    expect((await a.exposition()).body).toContain('kubelet_running_pods 1');
    expect((await b.exposition()).body).toContain('kubelet_running_pods 2');
    expect((await b.exposition()).body).not.toContain('source="event"');
  });
});
