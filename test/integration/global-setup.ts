// Vitest global setup of the integration project: one control plane for the whole run,
// handed to the test files with provide/inject and taken down when the run ends.
import type { TestProject } from 'vitest/node';
import { type ClusterInfo, startCluster } from './cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startCluster();
  project.provide('cluster', {
    dir: cluster.dir,
    kubeconfig: cluster.kubeconfig,
    bin: cluster.bin,
  });
  return () => cluster.stop();
}
