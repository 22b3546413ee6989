// `docker stats`: GET /containers/{id}/stats in the Docker Engine API's shape (StatsJSON), from
// the same figures the portlayer serves (the VCH's stats service). `stream=true` (the default)
// sends one object per second, each with the previous one's CPU as precpu_stats, until the
// client goes away; `stream=false` waits a second for a second reading (so the CLI has a CPU
// rate, as Docker's daemon does) unless `one-shot=true`. The CLI computes the percentages.
import { cpus } from 'node:os';
import type { ServerResponse } from 'node:http';
import { readSystemCpuNanoSeconds } from '../../runtime/stats/index.js';
import type { ContainerStats } from '../services/stats.js';
import type { Vch } from '../vch.js';
import { queryBool, write } from './http.js';
import type { Router } from './router.js';

/** docker stats refreshes each second. */
export const INTERVAL_MS = 1000;
/** What Docker writes for a time it does not have. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

interface CpuJson {
  cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage: number;
  online_cpus: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

interface Reading {
  read: string;
  cpu: CpuJson;
  json: Record<string, unknown>;
}

function cpuJson(c: ContainerStats, system: number): CpuJson {
  return {
    cpu_usage: {
      total_usage: c.cpu?.usageNanoSeconds ?? 0,
      usage_in_kernelmode: 0,
      usage_in_usermode: 0,
    },
    system_cpu_usage: c.cpu ? system : 0,
    online_cpus: c.cpu ? cpus().length : 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

async function reading(vch: Vch, ref: string, hostMemory: number): Promise<Reading> {
  const c = await vch.containerStats(ref);
  const [pod, system] = await Promise.all([
    vch.podStats(c.podId).catch(() => undefined),
    readSystemCpuNanoSeconds(),
  ]);
  const m = c.memory;
  const cpu = cpuJson(c, system);
  const networks = Object.fromEntries(
    (pod?.network ?? []).map((i) => [
      i.name,
      {
        rx_bytes: i.rxBytes,
        rx_packets: 0,
        rx_errors: i.rxErrors,
        rx_dropped: 0,
        tx_bytes: i.txBytes,
        tx_packets: 0,
        tx_errors: i.txErrors,
        tx_dropped: 0,
      },
    ]),
  );
  const read = c.cpu ? c.read : ZERO_TIME;
  return {
    read,
    cpu,
    json: {
      name: `/${(await vch.inspectContainer(c.id)).name}`,
      id: c.id,
      read,
      pids_stats: c.processes !== undefined ? { current: c.processes } : {},
      blkio_stats: {
        io_service_bytes_recursive: null,
        io_serviced_recursive: null,
        io_queue_recursive: null,
        io_service_time_recursive: null,
        io_wait_time_recursive: null,
        io_merged_recursive: null,
        io_time_recursive: null,
        sectors_recursive: null,
      },
      num_procs: 0,
      storage_stats: {},
      cpu_stats: cpu,
      // The CLI takes usage minus inactive_file as the container's memory (the working set).
      memory_stats: m
        ? {
            usage: m.usageBytes,
            stats: {
              inactive_file: m.usageBytes - m.workingSetBytes,
              anon: m.rssBytes,
              pgfault: m.pageFaults,
              pgmajfault: m.majorPageFaults,
            },
            limit: m.limitBytes ?? hostMemory,
          }
        : {},
      ...(Object.keys(networks).length > 0 && { networks }),
    },
  };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

function body(now: Reading, before: Reading | undefined): string {
  const pre = before?.cpu ?? {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: 0,
    online_cpus: 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
  return `${JSON.stringify({ ...now.json, preread: before?.read ?? ZERO_TIME, precpu_stats: pre })}\n`;
}

export function addStatsRoutes(router: Router, vch: Vch): void {
  router.add('GET', '/containers/{id}/stats', async ({ res, params, query, signal }) => {
    const stream = queryBool(query, 'stream', true);
    const oneShot = queryBool(query, 'one-shot');
    const hostMemory = (await vch.hostStats()).memory.limitBytes ?? 0;
    let before: Reading | undefined;
    let now = await reading(vch, params[0], hostMemory);
    if (!stream && !oneShot) {
      await sleep(INTERVAL_MS, signal);
      before = now;
      now = await reading(vch, params[0], hostMemory);
    }
    const out: ServerResponse = res;
    out.writeHead(200, { 'Content-Type': 'application/json' });
    if (!stream) return void out.end(body(now, before));
    out.flushHeaders();
    for (;;) {
      if (!(await write(out, body(now, before)))) break;
      await sleep(INTERVAL_MS, signal);
      if (signal.aborted) break;
      before = now;
      // Removed in between: the stream ends, as Docker's does.
      const next = await reading(vch, params[0], hostMemory).catch(() => undefined);
      if (!next) break;
      now = next;
    }
    out.end();
  });
}
