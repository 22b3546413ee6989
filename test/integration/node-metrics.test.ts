// Prometheus metrics end to end: `vic-kubelet node` with an embedded VCH (runc) runs a pod
// applied through the real API server; the kubelet API's /metrics answers only a caller
// allowed nodes/metrics (401 without credentials, 403 for one without the grant, 200 for a
// service account bound to a role with nodes/metrics) with the node's metrics, and the VCH's
// /metrics beside its Docker API has the pull, the container start and the API requests.
// Both pass `promtool check metrics` (Debian's prometheus).
import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podOn, until } from './node-harness.js';
import { useVicNode } from './node-fixture.js';

const vic = useVicNode({
  prefix: 'metrics',
  cleanup: async () => {
    await rbac.deleteClusterRoleBinding({ name: role }).catch(() => {});
    await rbac.deleteClusterRole({ name: role }).catch(() => {});
  },
});
const { kc, core, namespace, nodeName } = vic;
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const role = `${namespace}-reader`;

interface Answer {
  status: number;
  body: string;
  type?: string;
}

function kubeletGet(path: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: vic.node.port,
        path,
        rejectUnauthorized: false,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => (body += s));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function vchGet(path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: join(vic.work, 'vch', 'docker.sock'), path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** `promtool check metrics` on the text: its exit status and what it said. */
function promtool(text: string): { status: number | null; said: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, said: `${r.stdout}${r.stderr}` };
}

/** A sample's value: the line `name{labels} value` (labels as printed, in order). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function tokenOf(name: string): Promise<string> {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  return tr.status!.token;
}

describe('/metrics on vic-kubelet node and its VCH (runc)', () => {
  it('runs a pod to count', async () => {
    await core.createNamespacedPod({
      namespace,
      body: podOn(nodeName, namespace, 'busy', {
        restartPolicy: 'Always',
        containers: [{ name: 'app', image: vic.image, command: ['sh', '-c', 'sleep 600'] }],
      }),
    });
    await until(
      'the pod to run',
      async () =>
        (await core.readNamespacedPod({ name: 'busy', namespace })).status?.phase === 'Running',
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${vic.node.output().slice(-3000)}`);
    });
  }, 90_000);

  it("the kubelet API's /metrics: authorized as nodes/metrics, the node's metrics, promtool-clean", async () => {
    expect((await kubeletGet('/metrics')).status).toBe(401);
    const plain = await tokenOf('plain');
    const denied = await kubeletGet('/metrics', plain);
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('metrics');
    // A role with nodes/metrics, and nothing else of the node.
    await rbac.createClusterRole({
      body: {
        metadata: { name: role },
        rules: [{ apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] }],
      },
    });
    const reader = await tokenOf('reader');
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace }],
      },
    });
    const got = await until(
      'the reader to be allowed /metrics',
      async () => {
        const a = await kubeletGet('/metrics', reader);
        return a.status === 200 && a;
      },
      30_000,
    );
    expect((await kubeletGet('/pods', reader)).status).toBe(403); // nodes/proxy: not granted
    expect(got.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = got.body;
    expect(sample(text, 'kubelet_running_pods')).toBe(1);
    expect(sample(text, 'kubelet_pod_start_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'kubelet_pod_start_duration_seconds_sum')).toBeGreaterThan(0);
    // The 401 and the 403 above were counted by route and code.
    expect(
      sample(text, 'kubelet_http_requests_total{method="GET",path="metrics",code="401"}'),
    ).toBe(1);
    expect(
      sample(text, 'kubelet_http_requests_total{method="GET",path="metrics",code="403"}'),
    ).toBeGreaterThanOrEqual(1);
    const apiserver = new URL(kc.getCurrentCluster()!.server).host;
    expect(
      sample(text, `rest_client_requests_total{code="201",method="POST",host="${apiserver}"}`),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('process_start_time_seconds ');
    const check = promtool(text);
    expect(check.status, check.said).toBe(0);
  }, 60_000);

  it("the VCH's /metrics beside its Docker API: the pull, the start, the requests", async () => {
    const got = await vchGet('/metrics');
    expect(got.status).toBe(200);
    const text = got.body;
    expect(sample(text, 'vch_image_pull_bytes_total')).toBeGreaterThan(100_000);
    expect(
      sample(text, 'vch_image_pull_duration_seconds_count{result="success"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'vch_container_starts_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'vch_container_log_bytes')).toBeGreaterThanOrEqual(0);
    expect(text).toMatch(
      /^vch_api_requests_total\{api="portlayer",method="POST",route="[^"]+",code="2\d\d"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^vch_api_requests_total\{api="persona",method="POST",route="\/images\/create",code="200"\} [1-9]/m,
    );
    const check = promtool(text);
    expect(check.status, check.said).toBe(0);
    // Bad input: one clear line.
    const post = await new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        { socketPath: join(vic.work, 'vch', 'docker.sock'), path: '/metrics', method: 'POST' },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (s: string) => (body += s));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(post).toEqual({ status: 405, body: '/metrics answers GET only\n' });
  }, 60_000);
});
