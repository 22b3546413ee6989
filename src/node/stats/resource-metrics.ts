// The kubelet's /metrics/resource in the Prometheus text format (0.0.4), as metrics-server
// scrapes it: cumulative CPU seconds and working-set bytes of the node, each pod and each
// running container, container start times, each sample stamped with when it was read, and
// resource_scrape_error (1 when the provider could not be asked). Containers that do not run
// have no figures and are left out: metrics-server drops a pod with a zero CPU or memory.
import type { NodeUsage } from './usage.js';

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: { labels: Record<string, string>; value: number; at?: number }[];
}

/** A label value with \, " and newlines escaped, as the text format wants. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(15)));
}

export function renderFamilies(families: Family[]): string {
  let out = '';
  for (const f of families) {
    out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      out += `${f.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`;
      out += s.at !== undefined ? ` ${s.at}\n` : '\n';
    }
  }
  return out;
}

const seconds = (ns: number) => ns / 1e9;

/** The whole /metrics/resource body; `usage` undefined when the provider failed. */
export function resourceMetrics(usage: NodeUsage | undefined): string {
  const family = (name: string, type: Family['type'], help: string): Family => ({
    name,
    type,
    help,
    samples: [],
  });
  const nodeCpu = family(
    'node_cpu_usage_seconds_total',
    'counter',
    'Cumulative cpu time consumed by the node in core-seconds',
  );
  const nodeMem = family(
    'node_memory_working_set_bytes',
    'gauge',
    'Current working set of the node in bytes',
  );
  const ctrCpu = family(
    'container_cpu_usage_seconds_total',
    'counter',
    'Cumulative cpu time consumed by the container in core-seconds',
  );
  const ctrMem = family(
    'container_memory_working_set_bytes',
    'gauge',
    'Current working set of the container in bytes',
  );
  const ctrStart = family(
    'container_start_time_seconds',
    'gauge',
    'Start time of the container since unix epoch in seconds',
  );
  const podCpu = family(
    'pod_cpu_usage_seconds_total',
    'counter',
    'Cumulative cpu time consumed by the pod in core-seconds',
  );
  const podMem = family(
    'pod_memory_working_set_bytes',
    'gauge',
    'Current working set of the pod in bytes',
  );
  const scrapeError = family(
    'resource_scrape_error',
    'gauge',
    '1 if there was an error while getting container metrics, 0 otherwise',
  );
  scrapeError.samples.push({ labels: {}, value: usage ? 0 : 1 });
  if (usage) {
    const at = Date.parse(usage.time);
    nodeCpu.samples.push({ labels: {}, value: seconds(usage.cpu.usageCoreNanoSeconds), at });
    nodeMem.samples.push({ labels: {}, value: usage.memory.workingSetBytes, at });
    for (const p of usage.pods) {
      const pod = { namespace: p.namespace, pod: p.name };
      let cpu = 0;
      let mem = 0;
      let running = 0;
      for (const c of p.containers) {
        if (!c.cpu || !c.memory) continue;
        running += 1;
        const labels = { container: c.name, ...pod };
        const cAt = Date.parse(c.time);
        ctrCpu.samples.push({ labels, value: seconds(c.cpu.usageCoreNanoSeconds), at: cAt });
        ctrMem.samples.push({ labels, value: c.memory.workingSetBytes, at: cAt });
        ctrStart.samples.push({ labels, value: Date.parse(c.startTime) / 1000, at: cAt });
        cpu += c.cpu.usageCoreNanoSeconds;
        mem += c.memory.workingSetBytes;
      }
      if (running === 0) continue;
      const pAt = Date.parse(p.time);
      podCpu.samples.push({ labels: pod, value: seconds(cpu), at: pAt });
      podMem.samples.push({ labels: pod, value: mem, at: pAt });
    }
  }
  return renderFamilies([ctrCpu, ctrMem, ctrStart, nodeCpu, nodeMem, podCpu, podMem, scrapeError]);
}
