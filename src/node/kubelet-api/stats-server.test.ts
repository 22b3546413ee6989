// /stats/summary and /metrics/resource through the KubeletServer (a provider double, an
// authenticator double): the documents, their content types, authentication first, and one line
// for bad input or a provider without stats.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unauthorized } from '../../errdefs.js';
import { createLogger } from '../../logging/logger.js';
import type { Provider } from '../provider.js';
import type { NodeUsage } from '../stats/usage.js';
import type { Authenticator } from './auth.js';
import { KubeletServer } from './server.js';

const now = new Date().toISOString();
const usage: NodeUsage = {
  startTime: '2026-01-01T00:00:00.000Z',
  time: now,
  cpu: { usageCoreNanoSeconds: 9e12 },
  memory: {
    usageBytes: 8e9,
    workingSetBytes: 6e9,
    rssBytes: 3e9,
    pageFaults: 1,
    majorPageFaults: 0,
  },
  pods: [
    {
      namespace: 'ns',
      name: 'web',
      uid: 'u1',
      startTime: '2026-01-01T00:00:00.000Z',
      time: now,
      interfaces: [],
      containers: [
        {
          name: 'app',
          startTime: '2026-01-01T00:00:00.000Z',
          time: now,
          cpu: { usageCoreNanoSeconds: 3e9 },
          memory: {
            usageBytes: 5e6,
            workingSetBytes: 4e6,
            rssBytes: 3e6,
            pageFaults: 1,
            majorPageFaults: 0,
          },
        },
      ],
    },
  ],
};

let failing = false;
const withStats = {
  getStats: async () => {
    if (failing) throw new Error('VCH down');
    return usage;
  },
} as unknown as Provider;
const auth = {
  async check(req: { headers: Record<string, string | undefined> }) {
    if (req.headers.authorization === 'Bearer good')
      return { ok: true, caller: { user: 'admin', groups: [] } };
    return { ok: false, error: unauthorized('Unauthorized') };
  },
} as unknown as Authenticator;

const servers: KubeletServer[] = [];
let ports: { stats: number; none: number };

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vk-stats-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=kubelet', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' }); // prettier-ignore
  const start = async (provider: Provider) => {
    const s = new KubeletServer(
      provider,
      auth,
      {
        cert: readFileSync(join(dir, 'cert.pem')),
        key: readFileSync(join(dir, 'key.pem')),
        host: '127.0.0.1',
        port: 0,
        nodeName: 'vk-node',
      },
      createLogger({ level: 'silent' }),
    );
    servers.push(s);
    return s.start();
  };
  ports = { stats: await start(withStats), none: await start({} as Provider) };
});
afterAll(() => Promise.all(servers.map((s) => s.stop())));

function get(port: number, path: string, token = 'good') {
  return new Promise<{ status: number; type?: string; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        rejectUnauthorized: false,
        headers: { authorization: `Bearer ${token}` },
      },
      async (res) => {
        let body = '';
        for await (const c of res) body += c;
        resolve({ status: res.statusCode!, type: res.headers['content-type'], body });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('kubelet API stats', () => {
  it('serves the Summary as JSON, with the node’s name', async () => {
    const r = await get(ports.stats, '/stats/summary');
    expect(r).toMatchObject({ status: 200, type: 'application/json' });
    const s = JSON.parse(r.body);
    expect(s.node).toMatchObject({ nodeName: 'vk-node', memory: { workingSetBytes: 6e9 } });
    expect(s.pods[0].containers[0].cpu.usageCoreNanoSeconds).toBe(3e9);
    const only = JSON.parse(
      (await get(ports.stats, '/stats/summary?only_cpu_and_memory=true')).body,
    );
    expect(only.pods[0].containers[0]).toEqual({
      name: 'app',
      startTime: '2026-01-01T00:00:00.000Z',
      cpu: s.pods[0].containers[0].cpu,
      memory: s.pods[0].containers[0].memory,
    });
  });

  it('serves /metrics/resource as Prometheus text; a failing provider is a scrape error', async () => {
    const r = await get(ports.stats, '/metrics/resource');
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.body).toMatch(
      /^container_cpu_usage_seconds_total\{container="app",namespace="ns",pod="web"\} 3 \d+$/m,
    );
    failing = true;
    try {
      const f = await get(ports.stats, '/metrics/resource');
      expect(f.status).toBe(200);
      expect(f.body).toMatch(/^resource_scrape_error 1$/m);
      expect((await get(ports.stats, '/stats/summary')).status).toBe(500);
    } finally {
      failing = false;
    }
  });

  it('authenticates first, and answers bad input with one line', async () => {
    expect((await get(ports.stats, '/metrics/resource', 'bad')).status).toBe(401);
    expect(await get(ports.stats, '/stats/summary?only_cpu_and_memory=yes')).toMatchObject({
      status: 400,
      body: 'invalid only_cpu_and_memory "yes": want true or false\n',
    });
    expect(await get(ports.none, '/stats/summary')).toMatchObject({
      status: 501,
      body: "/stats/summary is not implemented by this node's provider\n",
    });
    expect((await get(ports.none, '/metrics/resource')).status).toBe(501);
  });
});
