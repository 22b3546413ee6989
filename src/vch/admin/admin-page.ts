// The VCH's admin page (VIC had vic-admin): one read-only HTML page of what the VCH holds —
// its pods, containers, images and pod VM boots — and the live tail of one container's output.
// Rendered here from a snapshot, so the page is a pure function of the VCH's state; the page's
// one script (admin-assets.ts) only refreshes the log tail and reloads the tables.
import type { ContainerInfo, ImageInfo, PodInfo, VchInfo } from '../types.js';
import { html, type Html } from './html.js';

export const ADMIN_PATH = '/admin';

export interface AdminSnapshot {
  info: VchInfo;
  pods: PodInfo[];
  containers: ContainerInfo[];
  images: ImageInfo[];
  /** The container whose output the page tails, and its last lines. */
  log?: { container: ContainerInfo; text: string };
}

export function renderAdminPage(s: AdminSnapshot): string {
  const byId = new Map(s.containers.map((c) => [c.id, c]));
  const page = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>VCH ${s.info.name}</title>
        <link rel="stylesheet" href="${ADMIN_PATH}/admin.css" />
        <script src="${ADMIN_PATH}/admin.js" defer></script>
      </head>
      <body>
        <header>
          <h1>VCH ${s.info.name}</h1>
          <p>
            ${s.info.version} · runtime ${s.info.runtime} · ${s.info.os}/${s.info.architecture} ·
            kernel ${s.info.kernelVersion}
          </p>
        </header>
        ${summary(s.info)}
        <section>
          <h2>Pods (${s.pods.length})</h2>
          ${podTable(s.pods, byId)}
        </section>
        <section>
          <h2>Containers (${s.containers.length})</h2>
          ${containerTable(s.containers, s.log?.container.id)}
        </section>
        <section>
          <h2>Images (${s.images.length})</h2>
          ${imageTable(s.images)}
        </section>
        <section>
          <h2>Pod VM boots</h2>
          ${boots(s.info)}
        </section>
        ${logSection(s.log)}
      </body>
    </html> `;
  return page.text;
}

function summary(info: VchInfo): Html {
  const c = info.capacity;
  return html`<section class="summary">
    <dl>
      <div>
        <dt>Containers</dt>
        <dd>
          ${info.containers.running} running · ${info.containers.stopped} stopped ·
          ${info.containers.created} created
        </dd>
      </div>
      <div>
        <dt>CPUs</dt>
        <dd>${c.cpus} (running containers' limits: ${c.usedCpuMillis}m)</dd>
      </div>
      <div>
        <dt>Memory</dt>
        <dd>${bytes(c.memoryBytes)} (running containers' limits: ${bytes(c.usedMemoryBytes)})</dd>
      </div>
      <div>
        <dt>Disk</dt>
        <dd>${bytes(c.diskFreeBytes)} free of ${bytes(c.diskBytes)}</dd>
      </div>
    </dl>
  </section>`;
}

/** A pod is as live as its liveliest container. */
function podState(p: PodInfo, byId: Map<string, ContainerInfo>): string {
  const states = p.containerIds.map((id) => byId.get(id)?.status);
  if (states.includes('running')) return 'running';
  if (states.includes('exited')) return 'exited';
  return 'created';
}

function podTable(pods: PodInfo[], byId: Map<string, ContainerInfo>): Html {
  if (pods.length === 0) return html`<p class="empty">No pods.</p>`;
  const rows = pods.map((p) => {
    const state = podState(p, byId);
    return html`<tr>
      <td>${badge(state)}</td>
      <td>${p.name}</td>
      <td class="id">${p.id.slice(0, 12)}</td>
      <td>${p.runtime}</td>
      <td>${p.network?.address ?? '—'}</td>
      <td>${p.containerIds.length}</td>
      <td>${p.created}</td>
    </tr>`;
  });
  return table(
    'pods',
    ['State', 'Name', 'Id', 'Runtime', 'Address', 'Containers', 'Created'],
    rows,
  );
}

function containerTable(containers: ContainerInfo[], tailed: string | undefined): Html {
  if (containers.length === 0) return html`<p class="empty">No containers.</p>`;
  const rows = containers.map((c) => {
    const ended =
      c.status === 'exited' ? `exit ${c.exitCode ?? '?'}${c.error ? ` (${c.error})` : ''}` : '';
    const link = `${ADMIN_PATH}?log=${encodeURIComponent(c.id)}`;
    return html`<tr${c.id === tailed ? html` class="tailed"` : ''}><td>${badge(c.status)}</td><td><a href="${link}">${c.name}</a></td><td class="id">${c.podId.slice(0, 12)}</td><td>${c.imageReference}</td><td>${c.startedAt ?? '—'}</td><td>${ended}</td></tr>`;
  });
  return table('containers', ['State', 'Name', 'Pod', 'Image', 'Started', 'Ended'], rows);
}

function imageTable(images: ImageInfo[]): Html {
  if (images.length === 0) return html`<p class="empty">No images.</p>`;
  const rows = images.map(
    (i) =>
      html`<tr>
        <td>${i.references.join(', ') || '<none>'}</td>
        <td class="id">${i.id.replace(/^sha256:/, '').slice(0, 12)}</td>
        <td>${bytes(i.size)}</td>
        <td>${i.diffIds.length}</td>
      </tr>`,
  );
  return table('images', ['References', 'Id', 'Size', 'Layers'], rows);
}

function boots(info: VchInfo): Html {
  const b = info.vmBoots;
  if (!b) return html`<p class="empty">This VCH has no pod VM backend.</p>`;
  if (b.count === 0) return html`<p class="empty">No pod VM has booted yet.</p>`;
  return html`<p>
    ${b.count} boots · mean ${ms(b.meanMs)} · last ${ms(b.lastMs)} · slowest
    ${ms(b.maxMs)}${b.accel ? ` · ${b.accel}` : ''}
  </p>`;
}

function logSection(log: AdminSnapshot['log']): Html {
  if (!log)
    return html`<section>
      <h2>Output</h2>
      <p class="empty">No container to tail.</p>
    </section>`;
  const src = `${ADMIN_PATH}/logs/${encodeURIComponent(log.container.id)}`;
  return html`<section>
    <h2>Output of ${log.container.name}</h2>
    <pre id="log" data-src="${src}">${log.text}</pre>
  </section>`;
}

/** A table of `cls` with these column heads over the rows. */
function table(cls: string, heads: string[], rows: Html[]): Html {
  const th = heads.map((h) => html`<th>${h}</th>`);
  return html`<table class="${cls}">
    <thead>
      <tr>
        ${th}
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;
}

function badge(state: string): Html {
  return html`<span class="badge ${state}">${state}</span>`;
}

function ms(v: number | undefined): string {
  return v === undefined ? '—' : `${Math.round(v)} ms`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
