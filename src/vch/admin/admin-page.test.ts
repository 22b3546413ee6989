import { describe, expect, it } from 'vitest';
import type { ContainerInfo, PodInfo, VchInfo } from '../types.js';
import { renderAdminPage } from './admin-page.js';
import { esc, html } from './html.js';

const info: VchInfo = {
  name: 'vch-1',
  version: '0.1.0',
  runtime: 'runc',
  stateDir: '/var/lib/vch',
  containers: { total: 2, running: 1, stopped: 1, created: 0 },
  images: 1,
  capacity: {
    cpus: 2,
    memoryBytes: 8 << 30,
    diskBytes: 100 << 30,
    diskFreeBytes: 50 << 30,
    usedCpuMillis: 500,
    usedMemoryBytes: 256 << 20,
    runningContainers: 1,
    pods: 1,
  },
  os: 'linux',
  kernelVersion: '6.1.0',
  architecture: 'amd64',
  vmBoots: { count: 3, meanMs: 812.4, maxMs: 1200, lastMs: 700, accel: 'kvm' },
};

function container(over: Partial<ContainerInfo>): ContainerInfo {
  return {
    id: 'a'.repeat(64),
    name: 'web',
    nameInPod: 'web',
    podId: 'p'.repeat(64),
    ownPod: true,
    config: { image: 'busybox' },
    imageReference: '127.0.0.1:5000/busybox:latest',
    imageId: 'sha256:' + 'b'.repeat(64),
    path: 'sh',
    args: [],
    env: [],
    workingDir: '/',
    user: '',
    stopSignal: 'SIGTERM',
    created: '2026-12-03T10:00:00.000000000Z',
    status: 'running',
    ...over,
  } as ContainerInfo;
}

const pod: PodInfo = {
  id: 'p'.repeat(64),
  name: 'web-pod',
  hostname: 'web',
  labels: {},
  implicit: true,
  created: '2026-12-03T10:00:00Z',
  containerIds: ['a'.repeat(64)],
  runtime: 'runc',
  network: { scope: 'bridge', address: '10.88.0.2/16', gateway: '10.88.0.1' },
};

describe('admin page', () => {
  it('lists pods, containers, images and boots, with a badge per state', () => {
    const running = container({ startedAt: '2026-12-03T10:00:01Z' });
    const exited = container({
      id: 'c'.repeat(64),
      name: 'job',
      status: 'exited',
      exitCode: 3,
      error: 'OOMKilled',
    });
    const page = renderAdminPage({
      info,
      pods: [pod],
      containers: [running, exited],
      images: [],
      log: { container: running, text: 'hello\n' },
    });
    // Whitespace between tags is the formatter's; the text and the order are what count.
    const flat = page.replace(/>\s+</g, '><').replace(/\s+/g, ' ');
    expect(flat).toContain('<h1>VCH vch-1</h1>');
    expect(flat).toContain('<td>web-pod</td>');
    expect(flat).toContain('10.88.0.2/16');
    expect(flat).toMatch(/<span class="badge running">running<\/span><\/td><td>web-pod/);
    expect(flat).toContain('exit 3 (OOMKilled)');
    expect(flat).toContain('3 boots · mean 812 ms · last 700 ms · slowest 1200 ms · kvm');
    expect(flat).toContain('No images.');
    expect(page).toContain(`data-src="/admin/logs/${'a'.repeat(64)}">hello\n</pre>`);
    // No inline script or style: the Content-Security-Policy forbids them.
    expect(page).not.toMatch(/<script>|<style>|style="|on\w+=/);
  });

  it('escapes what a container chose: log text, names, image references', () => {
    const evil = '<img src=x onerror=alert(1)>"\'&';
    const c = container({ name: evil, imageReference: evil });
    const page = renderAdminPage({
      info,
      pods: [{ ...pod, name: evil }],
      containers: [c],
      images: [],
      log: { container: c, text: `${evil}\n` },
    });
    expect(page).not.toContain('<img');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
  });
});

describe('html', () => {
  it('escapes interpolations but not nested html', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
    expect(html`<p>${'<b>'}${html`<i>ok</i>`}${[html`<hr />`, '&']}${undefined}</p>`.text).toBe(
      '<p>&lt;b&gt;<i>ok</i><hr />&amp;</p>',
    );
  });
});
