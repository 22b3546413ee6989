// Vitest global setup of the integration project: one control plane for the whole run,
// handed to the test files with provide/inject and taken down when the run ends. It also holds
// the network rule: a VCH bridge (vic…) left in the host's own network namespace means a test
// gave pods addresses outside a namespace of its own — removed, and the run fails naming it.
import { spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { type ClusterInfo, startCluster } from './cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

/** The VCH bridges (named vic + 8 hex digits) in this network namespace. */
function vchBridges(): string[] {
  const r = spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' });
  return [...(r.stdout ?? '').matchAll(/^\d+: (vic[0-9a-f]{8})[:@]/gm)].map((m) => m[1]);
}

/** The bridge's masquerade rule (src/vch/network/masquerade.ts names it in a comment). */
function removeMasquerade(bridge: string): void {
  const r = spawnSync('iptables', ['-w', '-t', 'nat', '-S', 'POSTROUTING'], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n'))
    if (line.startsWith('-A ') && line.includes(`"vic-kubelet ${bridge}"`))
      spawnSync('sh', ['-c', `iptables -w -t nat ${line.replace(/^-A/, '-D')}`]);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const before = new Set(vchBridges());
  const cluster = await startCluster();
  project.provide('cluster', {
    dir: cluster.dir,
    kubeconfig: cluster.kubeconfig,
    bin: cluster.bin,
  });
  return async () => {
    await cluster.stop();
    const leaked = vchBridges().filter((b) => !before.has(b));
    for (const b of leaked) {
      spawnSync('ip', ['link', 'del', b]);
      removeMasquerade(b);
    }
    if (leaked.length > 0)
      throw new Error(
        `a test made VCH bridges in the host's network namespace (${leaked.join(', ')}): run it in a namespace of its own or pass --bridge-network none`,
      );
  };
}
