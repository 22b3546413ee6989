// Benchmark of port-forward throughput, layer by layer (issue 15's target: over 200 MiB/s):
//   1. the kubelet API's SPDY port-forward (serveSpdyPortForward, the framer, the pairs) over
//      loopback TCP to an echo server on the host: what the node adds;
//   2. the runc path into a pod: runtime.portForward (tether/netns-connect in the pause
//      process's network namespace) to a busybox `nc` echo server in a real runc sandbox.
// Each run pushes PF_BENCH_MIB (default 256) MiB through CONNECTIONS (8) connections at once
// and reads the echo back; the figure is bytes one way per second.
//
//   npm run bench:port-forward        (root, runc; busybox-static on the host)
//
// kubectl + the apiserver's tunnel are measured by test/integration/node-port-forward.test.ts,
// which prints its figure. Not a test: nothing passes or fails.
import { removeWork } from './work-dir.mjs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { serveSpdyPortForward } = await import('../dist/node/kubelet-api/port-forward.js');
const { SpdySession } = await import('../dist/node/kubelet-api/spdy/session.js');
const { createRuncRuntime } = await import('../dist/runtime/runc/index.js');

const MIB = 1 << 20;
const total = Number(process.env.PF_BENCH_MIB ?? 256) * MIB;
const CONNECTIONS = 8;
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const chunk = randomBytes(256 * 1024);

/** Writes `bytes` on `conn` and reads as many back; resolves when all came back. */
function echoRun(conn, bytes) {
  return new Promise((resolve, reject) => {
    let back = 0;
    conn.on('data', (d) => {
      back += d.length;
      if (back >= bytes) resolve();
    });
    conn.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!conn.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
          return void conn.once('drain', pump);
      }
    };
    pump();
  });
}

async function timed(open) {
  const conns = await Promise.all(Array.from({ length: CONNECTIONS }, open));
  const t0 = performance.now();
  await Promise.all(conns.map((c) => echoRun(c, total / CONNECTIONS)));
  const s = (performance.now() - t0) / 1000;
  for (const c of conns) c.destroy();
  return total / MIB / s;
}

/** Layer 1: SPDY port-forward to a host echo server. */
async function spdyLayer() {
  const echo = createServer((s) => s.pipe(s)).listen(0, '127.0.0.1');
  await new Promise((r) => echo.once('listening', r));
  const echoPort = echo.address().port;
  const provider = {
    portForward: async () => {
      const s = connect(echoPort, '127.0.0.1');
      await new Promise((r, j) => s.once('connect', r).once('error', j));
      return s;
    },
  };
  const http = createHttpServer().listen(0, '127.0.0.1');
  await new Promise((r) => http.once('listening', r));
  http.on(
    'upgrade',
    (req, socket, head) =>
      void serveSpdyPortForward(req, socket, head, provider, { namespace: 'b', pod: 'p' }, quiet),
  );
  const sock = connect(http.address().port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write(
    'POST /portForward/b/p HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
      'X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n',
  );
  await new Promise((resolve) => {
    let got = '';
    const onData = (d) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      const rest = Buffer.from(got.slice(end + 4), 'latin1');
      if (rest.length) sock.unshift(rest);
      resolve();
    };
    sock.on('data', onData);
  });
  const session = new SpdySession(sock, { server: false });
  let rid = 0;
  const rate = await timed(async () => {
    const id = String(rid++);
    const h = (t) => ({ streamtype: [t], port: ['9000'], requestid: [id] });
    const error = await session.openStream(h('error'), true);
    error.resume();
    return session.openStream(h('data'));
  });
  await session.close();
  http.close();
  echo.close();
  return rate;
}

/** Layer 2: into a runc pod through the runtime. */
async function runcLayer(work) {
  const image = join(work, 'rootfs');
  mkdirSync(join(image, 'bin'), { recursive: true });
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  copyFileSync(busybox, join(image, 'bin/busybox'));
  symlinkSync('busybox', join(image, 'bin/sh'));
  const runtime = createRuncRuntime({ stateDir: join(work, 'runtime') });
  await runtime.recover();
  const pod = randomBytes(32).toString('hex');
  const c = randomBytes(32).toString('hex');
  await runtime.createSandbox({ id: pod, hostname: 'bench' });
  await runtime.createContainer(pod, {
    id: c,
    name: 'echo',
    imageRootfs: image,
    process: {
      args: ['busybox', 'nc', '-ll', '-p', '9000', '-e', 'busybox', 'cat'],
      env: ['PATH=/bin'],
      cwd: '/',
      user: '',
    },
    logPath: join(work, 'echo.log'),
  });
  await runtime.start(c);
  try {
    for (let i = 0; ; i++) {
      const probe = await runtime.portForward(pod, 9000).catch(() => undefined);
      if (probe) {
        probe.destroy();
        break;
      }
      if (i > 100) throw new Error('the echo server did not listen');
      await new Promise((r) => setTimeout(r, 50));
    }
    return await timed(() => runtime.portForward(pod, 9000));
  } finally {
    await runtime.stop(c, { graceMs: 1000 });
    await runtime.remove(c);
    await runtime.removeSandbox(pod);
    await runtime.close();
  }
}

const work = mkdtempSync(join(tmpdir(), 'vic-bench-pf-'));
try {
  const spdy = await spdyLayer();
  const runc = await runcLayer(work);
  const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ')[0];
  console.log(
    `\nport-forward throughput, ${total / MIB} MiB echoed over ${CONNECTIONS} connections (host load ${load})\n`,
  );
  console.log('| layer | MiB/s (one way; as much back) | target |');
  console.log('|---|---|---|');
  console.log(
    `| kubelet API: SPDY port-forward to a host echo server | ${spdy.toFixed(0)} | > 200 |`,
  );
  console.log(
    `| runc: runtime.portForward (netns-connect) to nc in a pod | ${runc.toFixed(0)} | > 200 |`,
  );
} finally {
  removeWork(work);
}
process.exit(0);
