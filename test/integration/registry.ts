// A real OCI registry for the image tests: Debian's docker-registry (distribution 2.8) on
// 127.0.0.1 with filesystem storage in a temporary directory, and a small image built from
// Debian's busybox-static with umoci and pushed with skopeo.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Registry {
  /** `127.0.0.1:PORT`, as written in image references. */
  host: string;
  dir: string;
  /** The registry's output, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface RegistryAuthConfig {
  /** htpasswd basic auth: users and their (plain) passwords. */
  htpasswd?: Record<string, string>;
  /** Token auth: the registry trusts tokens signed by the key of `rootCertBundle`. */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

/** Starts docker-registry on a free loopback port; resolves once it answers /v2/. */
export async function startRegistry(auth: RegistryAuthConfig = {}): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'vic-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let authYaml = '';
  if (auth.htpasswd) {
    const lines: string[] = [];
    for (const [user, password] of Object.entries(auth.htpasswd)) {
      const { stdout } = await run('htpasswd', ['-Bbn', user, password]);
      lines.push(stdout.trim());
    }
    writeFileSync(join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
    authYaml = `auth:\n  htpasswd:\n    realm: vic-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth.token) {
    const t = auth.token;
    authYaml =
      `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n` +
      `    issuer: ${t.issuer}\n    rootcertbundle: ${t.rootCertBundle}\n`;
  }
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n` +
      `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'storage')}\n  delete:\n    enabled: true\n` +
      `http:\n  addr: ${host}\n  secret: vic-kubelet-test\n${authYaml}`,
  );
  let output = '';
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (true) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited with ${child.exitCode}: ${output}`);
    }
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${host}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, dir, log: () => output, stop };
}

/**
 * Builds an OCI layout at `<dir>/oci` with image `busybox`: one layer holding
 * /bin/busybox (Debian's busybox-static) and symlinks sh, ls and echo, config for
 * linux/amd64 with Cmd /bin/sh. A second image `busybox-arm` differs only in its config's
 * architecture (arm64), to build a multi-platform index from. `files` adds more files to the
 * layer: a path in the image to the host file copied there (kept executable).
 */
export async function buildBusyboxLayout(
  dir: string,
  files: Record<string, string> = {},
): Promise<string> {
  const layout = join(dir, 'oci');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'bin'), { recursive: true });
  mkdirSync(join(src, 'etc'), { recursive: true });
  copyFileSync('/bin/busybox', join(src, 'bin/busybox'));
  symlinkSync('busybox', join(src, 'bin/sh'));
  symlinkSync('/bin/busybox', join(src, 'bin/ls'));
  symlinkSync('busybox', join(src, 'bin/echo'));
  writeFileSync(join(src, 'etc/hostname'), 'busybox\n');
  for (const [inImage, from] of Object.entries(files)) {
    mkdirSync(dirname(join(src, inImage)), { recursive: true });
    copyFileSync(from, join(src, inImage));
  }
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:busybox`]);
  await run('umoci', ['insert', '--image', `${layout}:busybox`, src, '/']);
  await run('umoci', [
    'config',
    '--image',
    `${layout}:busybox`,
    '--os',
    'linux',
    '--architecture',
    'amd64',
    '--config.cmd',
    '/bin/sh',
  ]);
  await run('umoci', ['tag', '--image', `${layout}:busybox`, 'busybox-arm']);
  await run('umoci', ['config', '--image', `${layout}:busybox-arm`, '--architecture', 'arm64']);
  return layout;
}

/** Pushes `layout:tag` to `registry` as `repository:destTag` with skopeo. */
export async function pushImage(
  layout: string,
  tag: string,
  dest: string,
  creds?: string,
): Promise<void> {
  await run('skopeo', [
    'copy',
    '-q',
    '--dest-tls-verify=false',
    ...(creds ? ['--dest-creds', creds] : []),
    `oci:${layout}:${tag}`,
    `docker://${dest}`,
  ]);
}
