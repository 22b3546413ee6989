import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirInRoot, resolveInRoot } from './in-root.js';
import { resolveUser, resolveUserIn } from './user.js';

const passwd = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:App:/home/app:/bin/sh',
  'web:x:33:33::/var/www:/bin/false',
  'broken line',
].join('\n');
const group = [
  'root:x:0:',
  'staff:x:50:app,web',
  'app:x:1000:',
  'web:x:33:',
  'video:x:44:app',
].join('\n');

describe('resolveUserIn', () => {
  it('"" is root', () => {
    expect(resolveUserIn('', passwd, group)).toEqual({
      uid: 0,
      gid: 0,
      additionalGids: [],
      home: '/root',
    });
  });

  it('a name gets its uid, gid, home and supplementary groups', () => {
    expect(resolveUserIn('app', passwd, group)).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [50, 44],
      home: '/home/app',
    });
  });

  it('added groups (names or gids) go on top of the supplementary ones, once each', () => {
    expect(resolveUserIn('app', passwd, group, ['web', '44', '2000']).additionalGids).toEqual([
      50, 44, 33, 2000,
    ]);
    expect(resolveUserIn('1000:1000', passwd, group, ['5']).additionalGids).toEqual([5]);
    expect(() => resolveUserIn('app', passwd, group, ['nope'])).toThrow(
      /unable to find group nope/,
    );
  });

  it('a uid known to passwd gets its entry; an unknown one runs with group 0', () => {
    expect(resolveUserIn('33', passwd, group)).toMatchObject({
      uid: 33,
      gid: 33,
      home: '/var/www',
    });
    expect(resolveUserIn('4242', passwd, group)).toEqual({
      uid: 4242,
      gid: 0,
      additionalGids: [],
      home: '/',
    });
  });

  it('an explicit group (name or number) replaces the primary and drops supplementary ones', () => {
    expect(resolveUserIn('app:staff', passwd, group)).toMatchObject({
      gid: 50,
      additionalGids: [],
    });
    expect(resolveUserIn('app:7', passwd, group)).toMatchObject({ uid: 1000, gid: 7 });
    expect(resolveUserIn('5:6', undefined, undefined)).toMatchObject({ uid: 5, gid: 6 });
  });

  it('unknown names are InvalidInput', () => {
    expect(() => resolveUserIn('nobody', passwd, group)).toThrow(
      expect.objectContaining({ kind: 'InvalidInput', message: expect.stringMatching(/nobody/) }),
    );
    expect(() => resolveUserIn('app:nogroup', passwd, group)).toThrow(/nogroup/);
    expect(() => resolveUserIn('a:b:c', passwd, group)).toThrow(/invalid user/);
  });
});

describe('paths inside a rootfs', () => {
  const root = mkdtempSync(join(tmpdir(), 'in-root-'));
  const outside = mkdtempSync(join(tmpdir(), 'in-root-outside-'));
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  mkdirSync(join(root, 'etc'));
  mkdirSync(join(root, 'real'));
  writeFileSync(join(outside, 'passwd'), 'evil:x:0:0::/:/bin/sh\n');

  it('follows absolute and relative links within the root, never out of it', async () => {
    symlinkSync('/real', join(root, 'abs'));
    symlinkSync('../../../../real', join(root, 'up'));
    symlinkSync(outside, join(root, 'escape'));
    expect(await resolveInRoot(root, '/abs/x')).toBe(join(root, 'real/x'));
    expect(await resolveInRoot(root, '/up/x')).toBe(join(root, 'real/x'));
    expect(await resolveInRoot(root, '/../../etc')).toBe(join(root, 'etc'));
    // A link to the host's directory resolves to that path inside the root.
    expect(await resolveInRoot(root, '/escape/passwd')).toBe(join(root, outside, 'passwd'));
  });

  it('reads /etc/passwd through a link to a host file as the rootfs path, not the host file', async () => {
    symlinkSync(join(outside, 'passwd'), join(root, 'etc/passwd'));
    await expect(resolveUser(root, 'evil')).rejects.toMatchObject({ kind: 'InvalidInput' });
  });

  it('gives up on link loops', async () => {
    symlinkSync('/loop', join(root, 'loop'));
    await expect(resolveInRoot(root, '/loop/x')).rejects.toThrow(/too many symlinks/);
  });

  it('creates a working dir through links inside the root', async () => {
    await mkdirInRoot(root, '/abs/made/here');
    expect((await import('node:fs')).statSync(join(root, 'real/made/here')).isDirectory()).toBe(
      true,
    );
    await mkdirInRoot(root, '/escape/nope');
    expect((await import('node:fs')).existsSync(join(outside, 'nope'))).toBe(false);
  });
});
