// The scale benchmark's run at CI size (bench/scale-run.mjs, the same code `npm run bench:scale`
// runs): one `vic-kubelet node` with its embedded VCH on runc, 50 pods created through the
// apiserver at 20/s and scheduled to it; all reach Ready, all are deleted, and the VCH is left
// without a container. Loose bounds only: the figures are the benchmark's to report.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
// @ts-expect-error: a plain ES module of the benchmark, shared with it
import { runScale } from '../../bench/scale-run.mjs';
import { ensureBuilt } from './docker-cli.js';
import { kubeConfigOf, nodeFlags, nodeKubeconfig, servingCert } from './node-harness.js';
import {
  buildBusyboxLayout,
  freePort,
  pushImage,
  type Registry,
  startRegistry,
} from './registry.js';

const PODS = 50;
const cluster = inject('cluster');
const nodeName = `vk-scale-${Math.random().toString(36).slice(2, 8)}`;
let work: string;
let registry: Registry | undefined;
let image: string;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vk-scale-runc-'));
  registry = await startRegistry();
  image = `${registry.host}/busybox:1`;
  // busybox with its `sleep` applet
  await pushImage(await buildBusyboxLayout(join(work, 'image')), 'busybox', image);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

it(`${PODS} pods at 20/s: all Ready, all deleted, no container left`, async () => {
  const tls = await servingCert(cluster, nodeName);
  const kubeconfig = nodeKubeconfig(cluster, nodeName, join(work, 'pki'));
  const r = await runScale({
    kubeconfig: cluster.kubeconfig,
    nodeName,
    nodeArgs: nodeFlags(kubeconfig, nodeName, tls, await freePort()),
    work,
    registryHost: registry!.host,
    image,
    pods: PODS,
    rate: 20,
    runtime: 'runc',
    runningTimeoutMs: 300_000,
    deleteTimeoutMs: 180_000,
  });
  console.log(JSON.stringify(r));
  expect(r.createErrors).toBe(0);
  expect(r.ready).toBe(PODS);
  expect(r.containersRunning).toBeGreaterThanOrEqual(PODS);
  expect(r.leaked).toEqual({ runc: 0, persona: 0 });
  // The node is gone with the run.
  const core = kubeConfigOf(cluster).makeApiClient(k8s.CoreV1Api);
  await expect(core.readNode({ name: nodeName })).rejects.toThrow();
}, 900_000);
