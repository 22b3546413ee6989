import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKeepAliveClient } from './kube-clients.js';

let dir: string;
let server: Server;
let handshakes = 0;
const paths: string[] = [];
let config: k8s.KubeConfig;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kube-clients-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' }); // prettier-ignore
  server = createServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (req, res) => {
      paths.push(`${req.headers.authorization} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'x' } }));
    },
  );
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  config = new k8s.KubeConfig();
  config.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `https://127.0.0.1:${port}`,
        caData: readFileSync(join(dir, 'cert.pem')).toString('base64'),
      },
    ],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});

afterAll(() => {
  server?.closeAllConnections();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('makeKeepAliveClient', () => {
  it('sends every request with the kubeconfig’s credentials over one TLS connection', async () => {
    const core = makeKeepAliveClient(config, k8s.CoreV1Api);
    const other = makeKeepAliveClient(config, k8s.CoreV1Api);
    for (let i = 0; i < 5; i++) await core.readNamespace({ name: 'x' });
    await other.readNamespace({ name: 'x' });
    expect(paths).toHaveLength(6);
    expect(new Set(paths)).toEqual(new Set(['Bearer secret-token /api/v1/namespaces/x']));
    expect(handshakes).toBe(1);
  });

  it('a client from makeApiClient pays a handshake a request (what this avoids)', async () => {
    const before = handshakes;
    const plain = config.makeApiClient(k8s.CoreV1Api);
    for (let i = 0; i < 3; i++) await plain.readNamespace({ name: 'x' });
    expect(handshakes - before).toBe(3);
  });
});
