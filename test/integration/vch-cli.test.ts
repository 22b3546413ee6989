// `vic-kubelet vch serve` as an operator runs it: bad flags get one line and status 2; the
// socket of a VCH that was killed is replaced, a live one is not; a second VCH on the same
// state directory is refused; the optional TCP listener is loopback only unless it has TLS with
// client certificates (dockerd's --tlsverify), and speaks the same API to the docker CLI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DOCKER,
  type VchProcess,
  cleanupVch,
  ensureBuilt,
  main,
  startVch,
  stopVch,
} from './docker-cli.js';
import { buildBusyboxLayout, freePort } from './registry.js';

let work: string;
/** The VCH last started on each state directory, for cleanup. */
const started = new Map<string, VchProcess>();

function serve(args: string[]): { status: number | null; stderr: string; stdout: string } {
  // The host's network namespace: no bridge here (a VCH makes its bridge when it opens).
  const network = args.includes('--bridge-network') ? [] : ['--bridge-network', 'none'];
  const r = spawnSync(process.execPath, [main, 'vch', 'serve', ...args, ...network], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-cli-'));
}, 120_000);

afterAll(async () => {
  const failures: unknown[] = [];
  for (const v of started.values()) await cleanupVch(v.stateDir, v).catch((e) => failures.push(e));
  if (work) rmSync(work, { recursive: true, force: true });
  if (failures.length > 0) throw failures[0];
}, 60_000);

describe('vch serve flags', () => {
  it('answers mistakes with one line and status 2', () => {
    const state = join(work, 'flags');
    const cases: [string[], RegExp][] = [
      [['--docker-host', `unix://${work}/a.sock`], /required option '--state-dir/],
      [
        ['--state-dir', state, '--docker-host', 'tcp://127.0.0.1:2375'],
        /unix:\/\/\/absolute\/path/,
      ],
      [
        [
          '--state-dir',
          state,
          '--docker-host',
          `unix://${work}/a.sock`,
          '--docker-tcp',
          '0.0.0.0:2375',
        ],
        /plain TCP is for loopback addresses; elsewhere give --tlsverify/,
      ],
      [
        ['--state-dir', state, '--docker-host', `unix://${work}/a.sock`, '--tlsverify'],
        /--tlsverify secures --docker-tcp/,
      ],
      [
        [
          '--state-dir',
          state,
          '--docker-host',
          `unix://${work}/a.sock`,
          '--docker-tcp',
          '127.0.0.1:2375',
          '--tlsverify',
          '--tlscert',
          '/nonexistent.pem',
        ],
        /--tlsverify needs --tlscacert, --tlskey/,
      ],
      [
        ['--state-dir', state, '--docker-host', `unix://${work}/a.sock`, '--tlscert', 'x.pem'],
        /--tlscert without --tlsverify/,
      ],
      [
        ['--state-dir', state, '--docker-host', `unix://${work}/a.sock`, '--tls'],
        /--tls without --tlsverify would take any client/,
      ],
      [
        ['--state-dir', state, '--docker-host', `unix://${work}/a.sock`, '--docker-tcp', 'nope'],
        /want HOST:PORT/,
      ],
      [
        [
          '--state-dir',
          state,
          '--docker-host',
          `unix://${work}/a.sock`,
          '--insecure-registry',
          'a b',
        ],
        /--insecure-registry "a b": want HOST\[:PORT\]/,
      ],
      [
        ['--state-dir', state, '--docker-host', `unix://${work}/a.sock`, '--log-level', 'loud'],
        /--log-level "loud"/,
      ],
      [
        [
          '--state-dir',
          state,
          '--docker-host',
          `unix://${work}/a.sock`,
          '--max-layer-expansion',
          '1',
        ],
        /--max-layer-expansion "1": want a whole number of at least 2/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = serve(args);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('refuses to replace a file that is not a socket', () => {
    const notSocket = join(work, 'plain-file');
    writeFileSync(notSocket, 'keep me\n');
    const r = serve(['--state-dir', join(work, 'plain'), '--docker-host', `unix://${notSocket}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('exists and is not a socket');
  });
});

describe('vch serve listening', () => {
  it('replaces a stale socket, refuses a live one and a second VCH on its state', async () => {
    const socket = join(work, 'vch.sock');
    // A socket file nobody listens on, as a killed VCH leaves it: a process that exits
    // while listening does not remove its socket file.
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.exit(0))`,
    ]);
    expect(statSync(socket).isSocket()).toBe(true);
    const state = join(work, 'live');
    const vch = await startVch(state, socket);
    started.set(vch.stateDir, vch);
    expect(statSync(socket).mode & 0o777).toBe(0o660);

    const again = serve(['--state-dir', join(work, 'other'), '--docker-host', `unix://${socket}`]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`another server is listening on ${socket}`);
    const sameState = serve(['--state-dir', state, '--docker-host', `unix://${work}/second.sock`]);
    expect(sameState.status).toBe(1);
    expect(sameState.stderr).toContain(`is in use by process ${vch.child.pid}`);
    expect(await stopVch(vch)).toBe(0);
  });

  it('serves the same API on loopback TCP', async () => {
    const port = await freePort();
    const vch = await startVch(join(work, 'tcp'), join(work, 'tcp.sock'), [
      '--docker-tcp',
      `127.0.0.1:${port}`,
    ]);
    started.set(vch.stateDir, vch);
    const r = spawnSync(
      DOCKER,
      ['-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.APIVersion}}'],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      },
    );
    expect(r.stdout.trim(), r.stderr).toBe('1.43');
    expect(await stopVch(vch)).toBe(0);
    expect(vch.output()).toMatch(/"msg":"stopped"/);
  });

  it('serves TCP with TLS: docker --tlsverify with a client certificate works, without one fails', async () => {
    const pki = makePki(join(work, 'pki'));
    const port = await freePort();
    const vch = await startVch(join(work, 'tls'), join(work, 'tls.sock'), [
      '--docker-tcp',
      `127.0.0.1:${port}`,
      '--tlsverify',
      '--tlscacert',
      pki.ca,
      '--tlscert',
      pki.serverCert,
      '--tlskey',
      pki.serverKey,
    ]);
    started.set(vch.stateDir, vch);
    const version = (tls: string[]) =>
      spawnSync(
        DOCKER,
        [...tls, '-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.APIVersion}}'],
        { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20_000 },
      );
    const good = version([
      '--tlsverify',
      '--tlscacert',
      pki.ca,
      '--tlscert',
      pki.clientCert,
      '--tlskey',
      pki.clientKey,
    ]);
    expect(good.stdout.trim(), good.stderr).toBe('1.43');
    // No certificate; a certificate of another CA; plain HTTP: all refused.
    const none = version(['--tlsverify', '--tlscacert', pki.ca]);
    expect(none.stdout.trim()).not.toBe('1.43');
    expect(none.stderr).toMatch(/certificate|tls|handshake/i);
    const rogue = version([
      '--tlsverify',
      '--tlscacert',
      pki.ca,
      '--tlscert',
      pki.rogueCert,
      '--tlskey',
      pki.rogueKey,
    ]);
    expect(rogue.stdout.trim()).not.toBe('1.43');
    const plain = version([]);
    expect(plain.stdout.trim()).not.toBe('1.43');
    expect(await stopVch(vch)).toBe(0);
  });

  it('SIGTERM ends attached clients and log followers at once; the container keeps running', async () => {
    const layout = await buildBusyboxLayout(join(work, 'img'));
    const archive = join(work, 'img', 'busybox.tar');
    spawnSync('skopeo', [
      'copy',
      '-q',
      `oci:${layout}:busybox`,
      `docker-archive:${archive}:busybox:1`,
    ]);
    const state = join(work, 'term');
    const socket = join(work, 'term.sock');
    const vch = await startVch(state, socket);
    started.set(vch.stateDir, vch);
    expect((await vch.docker(['load', '-i', archive])).code).toBe(0);
    const env = { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}` };
    const attached = spawn(
      DOCKER,
      ['run', '--name', 'fg', 'busybox:1', 'sh', '-c', 'while true; do echo up; sleep 0.2; done'],
      { env },
    );
    const attachedExit = new Promise((r) => attached.once('exit', r));
    let out = '';
    attached.stdout.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 100 && !out.includes('up'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('up');
    const follower = spawn(DOCKER, ['logs', '-f', 'fg'], { env });
    const followerExit = new Promise((r) => follower.once('exit', r));
    await new Promise((r) => setTimeout(r, 300));
    const pid = Number((await vch.docker(['inspect', '-f', '{{.State.Pid}}', 'fg'])).stdout.trim());

    const t0 = Date.now();
    expect(await stopVch(vch)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    await Promise.all([attachedExit, followerExit]);
    expect(existsSync(`/proc/${pid}`)).toBe(true);

    const again = await startVch(state, socket);
    started.set(again.stateDir, again);
    expect((await again.docker(['ps', '--format', '{{.Names}} {{.State}}'])).stdout).toContain(
      'fg running',
    );
  });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate it signed; a rogue client's of another CA. */
function makePki(dir: string) {
  spawnSync('mkdir', ['-p', dir]);
  const ssl = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const ca = (name: string) =>
    ssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    ]);
  const leaf = (name: string, issuer: string, ext: string) => {
    ssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.pem`,
      '-CAkey',
      `${issuer}.key`,
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ]);
  };
  ca('ca');
  ca('rogue-ca');
  leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => join(dir, n);
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    rogueCert: f('rogue.pem'),
    rogueKey: f('rogue.key'),
  };
}
