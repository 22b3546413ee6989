// The VCH's admin page (issue 16: VIC had vic-admin), seen in a real headless Chromium (Debian's
// chromium-headless-shell) against a real `vch serve` running real runc containers: the page
// lists the running pods, its script tails a container's output as text (a hostile line never
// becomes markup), and the screenshot shows the running pods — checked by its pixels: the green
// "running" badges are there while the pods run and gone once they have stopped. And the other
// side of a browser on the host: a page cannot drive the Docker API on loopback (CSRF).
import { execFile } from 'node:child_process';
import { createServer, request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import {
  buildBusyboxLayout,
  freePort,
  pushImage,
  type Registry,
  startRegistry,
} from './registry.js';

const CHROMIUM = '/usr/bin/chromium-headless-shell';
const run = promisify(execFile);

let work: string;
let registry: Registry;
let vch: VchProcess;
let base: string;
let image: string;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-admin-'));
  const [reg, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  registry = reg;
  image = `${registry.host}/busybox:admin`;
  await pushImage(layout, 'busybox', image);
  const port = await freePort();
  vch = await startVch(join(work, 'state'), join(work, 'docker.sock'), [
    '--docker-tcp',
    `127.0.0.1:${port}`,
    // Each request's status in the log: the browser's attempts are seen refused.
    '--log-level',
    'debug',
  ]);
  base = `http://127.0.0.1:${port}`;
}, 120_000);

afterAll(async () => {
  if (work) await cleanupVch(join(work, 'state'), vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

/** Chromium as a user would open the page: its own profile, the sandbox off (we run as root). */
async function chromium(args: string[]): Promise<string> {
  const profile = mkdtempSync(join(work, 'chromium-'));
  const { stdout } = await run(
    CHROMIUM,
    [
      '--no-sandbox',
      '--disable-gpu',
      `--user-data-dir=${profile}`,
      '--window-size=1280,1000',
      // Loopback only: no background requests of its own, and no name resolves (the tests use
      // IP addresses; 127.0.0.1 itself must stay resolvable), so nothing leaves the machine.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-domain-reliability',
      '--no-pings',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      // Lets the page's script run (its first log refresh is at 2 s) before the capture.
      '--virtual-time-budget=3000',
      ...args,
    ],
    { timeout: 60_000, maxBuffer: 16 << 20 },
  );
  return stdout;
}

/** Pixels of the screenshot in the running badge's green (#1a7f37), give or take antialiasing. */
async function greenPixels(url: string): Promise<{ green: number; total: number }> {
  const file = join(work, `shot-${Date.now()}.png`);
  await chromium([`--screenshot=${file}`, url]);
  const png = PNG.sync.read(readFileSync(file));
  let green = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (Math.abs(r - 0x1a) < 8 && Math.abs(g - 0x7f) < 8 && Math.abs(b - 0x37) < 8) green++;
  }
  return { green, total: png.width * png.height };
}

it('shows the running pods and tails a container as text, in Chromium', async () => {
  const hostile = '<img src=x onerror=document.title="pwned">';
  for (const [name, script] of [
    ['admin-web', `echo '${hostile} first'; while true; do echo tick-$(date +%s); sleep 1; done`],
    ['admin-worker', 'sleep 600'],
  ]) {
    const r = await vch.docker(['run', '-d', '--name', name, image, 'sh', '-c', script]);
    expect(r.code, r.stderr).toBe(0);
  }

  const dom = await chromium(['--dump-dom', `${base}/admin`]);
  expect(dom).toContain('admin-web');
  expect(dom).toContain('admin-worker');
  expect(dom).toContain(image);
  // The tail is the last-started container's (admin-worker prints nothing): ask for admin-web's.
  const id = (await vch.docker(['inspect', '-f', '{{.Id}}', 'admin-web'])).stdout.trim();
  const tailDom = await chromium(['--dump-dom', `${base}/admin?log=${id}`]);
  expect(tailDom).toContain('&lt;img src=x onerror=document.title="pwned"&gt; first');
  expect(tailDom).toMatch(/tick-\d+/);
  expect(tailDom).not.toMatch(/<img/);
  expect(tailDom).not.toContain('<title>pwned');

  const running = await greenPixels(`${base}/admin`);
  // Four badges (two pods, two containers) of about 64×18 pixels each.
  expect(running.green).toBeGreaterThan(2000);

  for (const name of ['admin-web', 'admin-worker']) {
    const r = await vch.docker(['stop', '-t', '1', name]);
    expect(r.code, r.stderr).toBe(0);
  }
  const stopped = await greenPixels(`${base}/admin`);
  expect(stopped.green).toBeLessThan(50);
}, 180_000);

it('a page in the browser cannot create a container through the Docker API on loopback', async () => {
  // A page from another loopback port (any site can make a browser do the same) tries the ways
  // a page has: a fetch without CORS and a text/plain JSON body, a fetch with
  // application/json (preflighted), and a form post.
  const vchUrl = `${base}/containers/create`;
  const body = JSON.stringify({ Image: image, Cmd: ['true'] });
  const page = `<!doctype html><html><body>
<form id="f" method="POST" action="${vchUrl}?name=csrf-form" enctype="text/plain">
<input name='{"Image":"${image}","x":"' value='"}'></form>
<script>
const body = ${JSON.stringify(body)};
fetch(${JSON.stringify(vchUrl + '?name=csrf-fetch')}, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body })
  .catch(() => {})
  .then(() => fetch(${JSON.stringify(vchUrl + '?name=csrf-json')}, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }))
  .catch(() => {})
  .then(() => fetch('/tried', { method: 'POST' }))
  .then(() => document.getElementById('f').submit());
</script></body></html>`;
  let tried = false;
  const server = createServer((req, res) => {
    if (req.url === '/tried') tried = true;
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(req.url === '/' ? page : '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as { port: number };
    await chromium(['--dump-dom', `http://127.0.0.1:${port}/`]);
  } finally {
    server.close();
  }
  expect(tried).toBe(true);
  const ps = await vch.docker(['ps', '-a', '--format', '{{.Names}}']);
  expect(ps.stdout).not.toContain('csrf');
  // Each attempt reached the VCH and was refused before it was read.
  const refused = (name: string, method = 'POST') =>
    vch
      .output()
      .split('\n')
      .some(
        (l) =>
          l.includes(`"method":"${method}"`) &&
          l.includes(`/containers/create?name=${name}`) &&
          l.includes('"status":403'),
      );
  expect(refused('csrf-fetch')).toBe(true);
  expect(refused('csrf-json', 'OPTIONS')).toBe(true);
  expect(refused('csrf-form')).toBe(true);
}, 120_000);

it('answers bad requests with one line and the right status', async () => {
  const get = async (path: string, init?: RequestInit) => {
    const r = await fetch(`${base}${path}`, init);
    return {
      status: r.status,
      body: await r.text(),
      csp: r.headers.get('content-security-policy'),
    };
  };
  const page = await get('/admin');
  expect(page.status).toBe(200);
  expect(page.csp).toContain("script-src 'self'");
  expect(await get('/admin/nothing')).toMatchObject({
    status: 404,
    body: 'no admin page at /admin/nothing\n',
  });
  expect((await get('/admin?log=nope')).status).toBe(404);
  expect((await get('/admin/logs/nope')).status).toBe(404);
  expect(await get('/admin/logs/x?tail=-1')).toMatchObject({ status: 400 });
  expect((await get('/admin', { method: 'POST' })).status).toBe(405);
  // DNS rebinding: a site's own name pointed at the VCH is not the VCH's name.
  // (fetch does not let a caller set Host; node:http does, as a browser on a rebound name would.)
  const rebound = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${base}/admin`, { headers: { Host: 'evil.example:80' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
  expect(rebound.status).toBe(403);
  expect(rebound.body.trim().split('\n')).toHaveLength(1);
});
