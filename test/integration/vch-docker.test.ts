// The VCH as a user meets it: `vic-kubelet vch serve` from the build, driven by the real docker
// CLI over its unix socket, pulling from a real registry (Debian's docker-registry on loopback)
// a busybox image built from Debian's busybox-static, running containers in runc sandboxes.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestLayout } from '../support/fake-runtime.js';
import {
  DOCKER,
  type VchProcess,
  cleanupVch,
  ensureBuilt,
  startVch,
  stopVch,
} from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

const run = promisify(execFile);
const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /;

let work: string;
let stateDir: string;
let socket: string;
let registry: Registry;
let layout: string;
let vch: VchProcess;
let image: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** docker with this VCH; fails the test with the CLI's stderr when it does not exit 0. */
async function ok(args: string[]): Promise<string> {
  const r = await vch.docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

/** A shell script that prints `<tag> out N` and `<tag> err N` (to stderr) every `ms` forever. */
const talker = (tag: string, ms = 200) =>
  `i=0; while true; do i=$((i+1)); echo "${tag} out $i"; echo "${tag} err $i" >&2; sleep ${ms / 1000}; done`;

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-docker-'));
  stateDir = join(work, 'state');
  socket = join(work, 'docker.sock');
  [registry, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  image = `${registry.host}/busybox:latest`;
  await pushImage(layout, 'busybox', image);
  await pushImage(layout, 'busybox', `${registry.host}/busybox:other`);
  vch = await startVch(stateDir, socket, ['--insecure-registry', registry.host]);
}, 120_000);

afterAll(async () => {
  if (stateDir) await cleanupVch(stateDir, vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('docker CLI against the VCH', () => {
  it('negotiates the API version and answers version and info', async () => {
    const v = await ok(['version', '--format', '{{.Client.APIVersion}} {{.Server.APIVersion}}']);
    expect(v.trim()).toBe('1.43 1.43');
    const info = JSON.parse(await ok(['info', '--format', '{{json .}}'])) as Record<
      string,
      unknown
    >;
    expect(info.NCPU).toBeGreaterThan(0);
    expect(info.MemTotal).toBeGreaterThan(0);
    expect(info.OSType).toBe('linux');
  });

  it('pulls with Docker progress, then lists the image', async () => {
    const out = await ok(['pull', image]);
    expect(out).toContain(`Pulling from ${registry.host}/busybox`);
    expect(out).toMatch(/[0-9a-f]{12}: Pull complete/);
    expect(out).toMatch(/Digest: sha256:[0-9a-f]{64}/);
    expect(out).toContain(`Status: Downloaded newer image for ${image}`);
    const again = await ok(['pull', image]);
    expect(again).toMatch(/[0-9a-f]{12}: Already exists/);
    expect(again).not.toContain('Pull complete');
    expect(again).toContain(`Status: Image is up to date for ${image}`);
    const images = await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    expect(images).toMatch(new RegExp(`${registry.host}/busybox:latest [0-9a-f]{12}`));
  });

  it('runs -d an image it does not have yet: create, 404, pull, create, start', async () => {
    const r = await vch.docker([
      'run',
      '-d',
      '--name',
      'autopull',
      `${registry.host}/busybox:other`,
      'sh',
      '-c',
      'echo pulled-and-ran',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Unable to find image');
    expect(r.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    await until(
      'autopull to exit',
      async () =>
        (await ok(['inspect', '-f', '{{.State.Status}}', 'autopull'])).trim() === 'exited',
    );
    expect(await ok(['logs', 'autopull'])).toBe('pulled-and-ran\n');
    await ok(['rm', 'autopull']);
  });

  it('runs a container printing to both streams; ps, logs keep the streams apart', async () => {
    const id = (await ok(['run', '-d', '--name', 'talker', image, 'sh', '-c', talker('t')])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ps = await ok(['ps', '--format', '{{.ID}} {{.Names}} {{.Status}}']);
    expect(ps).toMatch(new RegExp(`^${id.slice(0, 12)} talker Up `, 'm'));
    await until('three lines', async () => lines(await ok(['logs', 'talker'])).length >= 3);

    const both = await vch.docker(['logs', 'talker']);
    expect(lines(both.stdout).length).toBeGreaterThan(2);
    expect(lines(both.stdout).every((l) => /^t out \d+$/.test(l))).toBe(true);
    expect(lines(both.stderr).every((l) => /^t err \d+$/.test(l))).toBe(true);
    expect(lines(both.stdout).slice(0, 2)).toEqual(['t out 1', 't out 2']);

    // As a user types it: `docker logs talker 2>/dev/null` shows stdout only.
    const { stdout } = await run('sh', ['-c', `${DOCKER} logs talker 2>/dev/null`], {
      env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}` },
    });
    expect(lines(stdout).length).toBeGreaterThan(2);
    expect(stdout).not.toContain('err');
    const errOnly = await run('sh', ['-c', `${DOCKER} logs talker 2>&1 >/dev/null`], {
      env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}` },
    });
    expect(lines(errOnly.stdout).every((l) => /^t err \d+$/.test(l))).toBe(true);
  });

  it('logs -t, --tail, --since and --until with real timestamps', async () => {
    // A container that is done: its log is fixed, so the expectations are exact.
    await ok([
      'run',
      '-d',
      '--name',
      'counter',
      image,
      'sh',
      '-c',
      'for i in 1 2 3 4 5 6 7 8; do echo "c out $i"; echo "c err $i" >&2; sleep 0.05; done',
    ]);
    await until(
      'counter to exit',
      async () =>
        (await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'counter'])).trim() ===
        'exited 0',
    );
    const all = await vch.docker(['logs', '-t', 'counter']);
    const out = lines(all.stdout);
    const err = lines(all.stderr);
    expect(out).toHaveLength(8);
    expect(err).toHaveLength(8);
    for (const l of [...out, ...err]) expect(l).toMatch(TS);
    const stamp = (l: string) => l.slice(0, 30);
    const nowish = Date.parse(stamp(out[0]));
    expect(Math.abs(Date.now() - nowish)).toBeLessThan(120_000);
    // Merged in time order, stdout and stderr lines alternate as written.
    const merged = [...out, ...err].sort();
    expect(merged.map((l) => l.slice(31))).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].flatMap((i) => [`c out ${i}`, `c err ${i}`]),
    );

    const tail = await vch.docker(['logs', '--tail', '3', 'counter']);
    expect(lines(tail.stdout)).toEqual(['c out 8']);
    expect(lines(tail.stderr)).toEqual(['c err 7', 'c err 8']);

    // --since and --until are inclusive to the nanosecond (the CLI sends seconds.nanoseconds).
    const from = stamp(merged[4]); // c out 3
    const to = stamp(merged[9]); // c err 5
    const window = await vch.docker(['logs', '--since', from, '--until', to, 'counter']);
    expect(lines(window.stdout)).toEqual(['c out 3', 'c out 4', 'c out 5']);
    expect(lines(window.stderr)).toEqual(['c err 3', 'c err 4', 'c err 5']);
    const later = await vch.docker(['logs', '--since', stamp(merged[14]), 'counter']);
    expect(lines(later.stdout)).toEqual(['c out 8']);
    expect(lines(later.stderr)).toEqual(['c err 8']);
    await ok(['rm', 'counter']);
  });

  it('logs many lines and a line longer than an entry, byte for byte', async () => {
    const script =
      'i=0; while [ $i -lt 20000 ]; do echo "line $i of many, padded to look like a log line"; i=$((i+1)); done; ' +
      "head -c 10000 /dev/zero | tr '\\0' x; echo; echo last >&2";
    await ok(['run', '-d', '--name', 'bulk', image, 'sh', '-c', script]);
    await until(
      'bulk to exit',
      async () =>
        (await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'bulk'])).trim() ===
        'exited 0',
    );
    const r = await vch.docker(['logs', 'bulk']);
    const out = r.stdout.split('\n');
    expect(out).toHaveLength(20002);
    expect(out[0]).toBe('line 0 of many, padded to look like a log line');
    expect(out[19999]).toBe('line 19999 of many, padded to look like a log line');
    expect(out[20000]).toBe('x'.repeat(10000));
    expect(r.stderr).toBe('last\n');
    const t = await vch.docker(['logs', '-t', '--tail', '2', 'bulk']);
    expect(t.stdout).toMatch(new RegExp(`^\\S+Z x{10000}\\n$`));
    await ok(['rm', 'bulk']);
  });

  it('logs -f shows new lines as they come and ends when the container stops', async () => {
    const follower: ChildProcess = spawn(DOCKER, ['logs', '-f', '--tail', '0', 'talker'], {
      env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    follower.stdout?.on('data', (d: Buffer) => (seen += d.toString()));
    const ended = new Promise<number | null>((r) => follower.once('exit', (code) => r(code)));
    try {
      // A line the container writes after the follow began arrives.
      const before = lines(await ok(['logs', 'talker'])).length;
      await until('a followed line', async () => {
        const m = /t out (\d+)/.exec(seen);
        return m !== null && Number(m[1]) > before - 1;
      });
      const stopped = await vch.docker(['stop', 'talker']);
      expect(stopped.code, stopped.stderr).toBe(0);
      const code = await Promise.race([ended, sleep(10_000).then(() => 'still running')]);
      expect(code).toBe(0);
    } finally {
      follower.kill('SIGKILL');
    }
    const state = (
      await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'talker'])
    ).trim();
    expect(state).toMatch(/^exited (143|137)$/);
    expect(await ok(['ps', '-a', '--filter', 'name=talker', '--format', '{{.Status}}'])).toMatch(
      /^Exited \(\d+\) /,
    );
  });

  it('stop, rm, and the errors Docker gives', async () => {
    await ok(['run', '-d', '--name', 'busy', image, 'sh', '-c', talker('b', 500)]);
    const rmRunning = await vch.docker(['rm', 'busy']);
    expect(rmRunning.code).not.toBe(0);
    expect(rmRunning.stderr).toContain('container is running');
    expect((await vch.docker(['stop', 'busy'])).code).toBe(0);
    expect((await vch.docker(['rm', 'busy'])).code).toBe(0);
    expect(await ok(['ps', '-a', '--format', '{{.Names}}'])).not.toMatch(/^busy$/m);

    const missing = await vch.docker(['logs', 'nosuch']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('No such container: nosuch');
    const refused = await vch.docker(['run', '-d', '--volumes-from', 'talker', image]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--volumes-from is not supported');
    const taken = await vch.docker(['run', '-d', '--name', 'talker', image]);
    expect(taken.stderr).toContain('is already in use');
    await ok(['rm', 'talker']);
  });

  it('runs in the foreground (attach): output on the right streams, exit code, --rm', async () => {
    const fg = await vch.docker([
      'run',
      '--name',
      'fg',
      image,
      'sh',
      '-c',
      'echo hello; echo oops >&2; sleep 0.3; echo bye; exit 4',
    ]);
    expect(fg.code).toBe(4);
    expect(fg.stdout).toBe('hello\nbye\n');
    expect(fg.stderr).toBe('oops\n');
    expect((await ok(['inspect', '-f', '{{.State.ExitCode}}', 'fg'])).trim()).toBe('4');
    await ok(['rm', 'fg']);

    const rm = await vch.docker(['run', '--rm', '--name', 'gone', image, 'sh', '-c', 'echo bye']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toBe('bye\n');
    await until(
      'gone to be removed',
      async () => !(await ok(['ps', '-a', '--format', '{{.Names}}'])).includes('gone'),
    );

    // A command that cannot be run: Docker's error and 127 at once, in the foreground too, and
    // --rm still removes the container.
    for (const args of [
      ['--name', 'nocmd'],
      ['--rm', '--name', 'nocmd-rm'],
    ]) {
      const t = Date.now();
      const r = await vch.docker(['run', ...args, image, 'no-such-command'], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(127);
      expect(r.stderr).toMatch(/no-such-command/);
      expect(Date.now() - t).toBeLessThan(15_000);
    }
    await until(
      'nocmd-rm to be removed',
      async () => !(await ok(['ps', '-a', '--format', '{{.Names}}'])).includes('nocmd-rm'),
    );
    await ok(['rm', 'nocmd']);
  });

  it('runs --read-only --cap-drop ALL --cap-add --security-opt no-new-privileges --group-add; refuses other options', async () => {
    const script = "touch /x; echo touch=$?; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status";
    const locked = await vch.docker([
      'run',
      '--rm',
      '--read-only',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      image,
      'sh',
      '-c',
      script,
    ]);
    expect(locked.code, locked.stderr).toBe(0);
    expect(locked.stderr).toMatch(/Read-only file system/);
    expect(locked.stdout).toMatch(/touch=1\nCapEff:\s+0000000000000000\nNoNewPrivs:\s+1\n/);
    const groups = await vch.docker([
      'run',
      '--rm',
      '--user',
      '1000:1000',
      '--group-add',
      '2000',
      image,
      'sh',
      '-c',
      'id -G',
    ]);
    expect(groups.stdout).toBe('1000 2000\n');
    const added = await vch.docker([
      'run',
      '--rm',
      '--cap-add',
      'NET_ADMIN',
      image,
      'sh',
      '-c',
      script,
    ]);
    expect(added.stdout).toMatch(/touch=0\nCapEff:\s+00000000a80435fb\nNoNewPrivs:\s+0\n/);

    const other = await vch.docker([
      'run',
      '--rm',
      '--security-opt',
      'label=disable',
      image,
      'true',
    ]);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain(
      'security option "label=disable" is not supported by this VCH (only no-new-privileges and seccomp)',
    );

    // seccomp: the default profile unless unconfined; a profile file the CLI reads and sends.
    const seccomp = "grep '^Seccomp:' /proc/self/status; mkdir /sc-d && echo mkdir=ok";
    const dflt = await vch.docker(['run', '--rm', image, 'sh', '-c', seccomp]);
    expect(dflt.stdout).toMatch(/Seccomp:\s+2\nmkdir=ok\n/);
    const free = await vch.docker([
      'run',
      '--rm',
      '--security-opt',
      'seccomp=unconfined',
      image,
      'sh',
      '-c',
      seccomp,
    ]);
    expect(free.stdout).toMatch(/Seccomp:\s+0\nmkdir=ok\n/);
    const profile = join(work, 'no-mkdir.json');
    writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
      }),
    );
    const own = await vch.docker([
      'run',
      '--rm',
      '--security-opt',
      `seccomp=${profile}`,
      image,
      'sh',
      '-c',
      seccomp,
    ]);
    expect(own.stdout).toMatch(/Seccomp:\s+2\n/);
    expect(own.stderr).toMatch(/Permission denied/);
    expect(own.stdout).not.toContain('mkdir=ok');

    const unknown = await vch.docker(['run', '--rm', '--cap-add', 'FLY', image, 'true']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown capability "(CAP_)?FLY"/);
  });

  it('loads a docker save archive and runs from it', async () => {
    // An image of its own (its config sets an env var), so that its only reference is this one.
    const archive = join(work, 'save.tar');
    await run('umoci', [
      'config',
      '--image',
      `${layout}:busybox`,
      '--tag',
      'loadme',
      '--config.env',
      'LOADED=yes',
    ]);
    await run('skopeo', [
      'copy',
      '-q',
      `oci:${layout}:loadme`,
      `docker-archive:${archive}:loaded/busybox:v1`,
    ]);
    const out = await ok(['load', '-i', archive]);
    expect(out).toContain('Loaded image: loaded/busybox:v1');
    expect(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(
      'loaded/busybox:v1',
    );
    await ok([
      'run',
      '-d',
      '--name',
      'fromload',
      'loaded/busybox:v1',
      'sh',
      '-c',
      'echo loaded-ok $LOADED',
    ]);
    await until(
      'fromload to exit',
      async () =>
        (await ok(['inspect', '-f', '{{.State.Status}}', 'fromload'])).trim() === 'exited',
    );
    expect(await ok(['logs', 'fromload'])).toBe('loaded-ok yes\n');
    const inUse = await vch.docker(['rmi', 'loaded/busybox:v1']);
    expect(inUse.code).not.toBe(0);
    expect(inUse.stderr).toContain('is using its referenced image');
    await ok(['rm', 'fromload']);
    expect(await ok(['rmi', 'loaded/busybox:v1'])).toContain('Untagged: loaded/busybox:v1');

    writeFileSync(join(work, 'junk.tar'), 'not a tar at all\n');
    const bad = await vch.docker(['load', '-i', join(work, 'junk.tar')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('the image archive');
    expect(bad.stderr).not.toContain(stateDir);
  });

  it('refuses layers that escape their rootfs with a clear error', async () => {
    const target = join(work, 'escaped');
    mkdirSync(target);
    const dotdot = await writeTestLayout(join(work, 'evil-dotdot'), 'evil', undefined, [
      { name: 'ok.txt', body: 'fine\n' },
      { name: '../../../../../../../../tmp/vch-escape.txt', body: 'pwned\n' },
    ]);
    const symlink = await writeTestLayout(join(work, 'evil-link'), 'evil', undefined, [
      { name: 'link', type: '2', linkname: target },
      { name: 'link/pwned.txt', body: 'pwned\n' },
    ]);
    await pushImage(dotdot, 'evil', `${registry.host}/evil:dotdot`);
    await pushImage(symlink, 'evil', `${registry.host}/evil:link`);

    const a = await vch.docker(['pull', `${registry.host}/evil:dotdot`]);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/refused: ".." component/);
    const b = await vch.docker(['pull', `${registry.host}/evil:link`]);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/refused: .*symlink .*absolute path outside the rootfs/);
    expect(existsSync('/tmp/vch-escape.txt')).toBe(false);
    expect(existsSync(join(target, 'pwned.txt'))).toBe(false);
    expect(await ok(['images', '--format', '{{.Repository}}'])).not.toContain('evil');
  });
});

describe('VCH restarts', () => {
  it('after SIGKILL lists its containers and their logs; a running one kept logging', async () => {
    await ok(['run', '-d', '--name', 'survivor', image, 'sh', '-c', talker('s', 200)]);
    await ok(['run', '-d', '--name', 'finisher', image, 'sh', '-c', 'echo finished; exit 3']);
    await until(
      'finisher to exit',
      async () =>
        (await ok(['inspect', '-f', '{{.State.Status}}', 'finisher'])).trim() === 'exited',
    );
    await until('survivor output', async () => lines(await ok(['logs', 'survivor'])).length >= 3);

    expect(await stopVch(vch, 'SIGKILL')).toBe('SIGKILL');
    const whileDown = Date.now();
    await sleep(1500);
    vch = await startVch(stateDir, socket, ['--insecure-registry', registry.host]);

    const ps = await ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    expect(ps).toMatch(/^survivor Up /m);
    expect(ps).toMatch(/^finisher Exited \(3\) /m);
    expect(await ok(['logs', 'finisher'])).toBe('finished\n');

    // Nothing lost: every line from 1 on, including those written while the VCH was down.
    const afterRestart = lines((await vch.docker(['logs', '-t', 'survivor'])).stdout);
    const numbers = afterRestart.map((l) => Number(/s out (\d+)$/.exec(l)?.[1]));
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
    expect(afterRestart.some((l) => Date.parse(l.slice(0, 30)) > whileDown + 500)).toBe(true);
    // And it keeps logging now.
    await until(
      'more survivor output',
      async () => lines(await ok(['logs', 'survivor'])).length > afterRestart.length + 2,
    );
    // The re-attached VCH sees it stop.
    expect((await vch.docker(['stop', '-t', '2', 'survivor'])).code).toBe(0);
    expect((await ok(['inspect', '-f', '{{.State.Status}}', 'survivor'])).trim()).toBe('exited');
    await ok(['rm', 'survivor', 'finisher']);
  });

  it('SIGTERM stops the server and leaves containers running', async () => {
    await ok(['run', '-d', '--name', 'stays', image, 'sh', '-c', talker('k', 200)]);
    const pid = Number((await ok(['inspect', '-f', '{{.State.Pid}}', 'stays'])).trim());
    expect(pid).toBeGreaterThan(0);
    expect(await stopVch(vch, 'SIGTERM')).toBe(0);
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    vch = await startVch(stateDir, socket, ['--insecure-registry', registry.host]);
    expect(await ok(['ps', '--format', '{{.Names}} {{.Status}}'])).toMatch(/^stays Up /m);
    await ok(['rm', '-f', 'stays']);
  });
});
