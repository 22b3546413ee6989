// A registry that wants a password (Debian's docker-registry with htpasswd): `docker login`
// checks the credentials through the VCH (POST /auth), the CLI keeps them in its config and
// sends them with each pull (X-Registry-Auth), and the VCH pulls with them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

let work: string;
let registry: Registry;
let vch: VchProcess;
let configDir: string;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-auth-'));
  configDir = join(work, 'docker-config');
  const [reg, layout] = await Promise.all([
    startRegistry({ htpasswd: { alice: 's3cret' } }),
    buildBusyboxLayout(work),
  ]);
  registry = reg;
  await pushImage(layout, 'busybox', `${registry.host}/private:1`, 'alice:s3cret');
  vch = await startVch(join(work, 'state'), join(work, 'docker.sock'));
}, 120_000);

afterAll(async () => {
  if (work) await cleanupVch(join(work, 'state'), vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

it('pulls from a password-protected registry after docker login, and not before', async () => {
  const d = (args: string[]) => vch.docker(args, { configDir });
  const image = `${registry.host}/private:1`;

  const anonymous = await d(['pull', image]);
  expect(anonymous.code).not.toBe(0);
  expect(anonymous.stderr).toContain(`needs a username and password for ${registry.host}`);

  const wrong = await d(['login', '-u', 'alice', '-p', 'wrong', registry.host]);
  expect(wrong.code).not.toBe(0);
  expect(wrong.stderr).toContain('401 Unauthorized');

  const login = await d(['login', '-u', 'alice', '-p', 's3cret', registry.host]);
  expect(login.code, login.stderr).toBe(0);
  expect(login.stdout).toContain('Login Succeeded');

  const pull = await d(['pull', image]);
  expect(pull.code, pull.stderr).toBe(0);
  expect(pull.stdout).toContain(`Status: Downloaded newer image for ${image}`);
  const run = await d(['run', '--rm', image, 'sh', '-c', 'echo private-ok']);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toBe('private-ok\n');
});
