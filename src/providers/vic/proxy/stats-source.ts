// What the provider reads of the VCH's usage figures: the portlayer's
// `GET /containers/{id}/stats` (a pod and its tasks) and `GET /vch/stats` (the host, which the
// node reports as its own). The HTTP implementation is portlayer-client.ts.
import type { ContainerStats, VCHStats } from '../../../api/portlayer/index.js';

export type { ContainerStats, TaskStats, VCHStats } from '../../../api/portlayer/index.js';

export interface StatsSource {
  /** A pod's (portlayer container's) figures; NotFound when the VCH has no such pod. */
  containerStats(id: string): Promise<ContainerStats>;
  vchStats(): Promise<VCHStats>;
}
