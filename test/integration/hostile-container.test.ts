// A hostile container against the VCH that runs it (issue 11, "status the host owns"), on both
// backends. A root busybox container spends a few seconds replacing every file it can reach —
// with FIFOs (a plain read of one hangs a libuv thread for ever), symlinks to /dev/zero (a plain
// read fills buffers until it fails) and 1 GiB sparse files — over and over, status-looking
// names included, and exits 42. The VCH runs as a process of its own (`vch serve`), polled over
// HTTP every 50 ms from `docker run` until the container has exited: a VCH that read anything
// the container wrote with a plain readFile would show it as slow or missing answers once its
// thread pool is stuck, or as an exit it never reports (a status watcher stuck opening a FIFO:
// what the runc backend did before status went over an fd the container cannot reach). Every
// answer has to come quickly, the exit code has to be the real one, and the container has to
// go away with `docker rm` as any other.
// On vm, a second container tries to plant device nodes and setuid/setgid files through the
// 9p share (mknod, chmod u+s/g+s, mkdir -m 2777): each is refused in the guest, and nothing of
// the kind is in its overlay's upper directory on the host; its qemu runs as the VM's own uid,
// with the four capabilities vm-jail leaves it and seccomp on (tether/vm-jail.c).
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgent, killQemus, qemuPids, waitNoQemu } from '../support/vm.js';
import { type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import {
  buildBusyboxLayout,
  freePort,
  pushImage,
  type Registry,
  startRegistry,
} from './registry.js';

/** Bounds on the VCH's answers while the container runs (ms, whole body read). */
const LIST_MS = 100;
const INSPECT_MS = 100;
const LOGS_MS = 100;
const POLL_EVERY_MS = 50;
/** A request that takes this long is cut off and counted as that slow. */
const REQUEST_CUTOFF_MS = 10_000;
const EXIT_CODE = 42;

/**
 * The container's script. It copies busybox to /tmp/hostile/busybox first (the image has
 * /bin/busybox and three links, which it replaces too, last), then for about `seconds` walks
 * every file reachable outside /proc, /sys and /dev (but /dev/shm, the pod's, on the host) —
 * /.vic, the bind-mounted /etc files and whatever else there is included — and replaces each,
 * in turn, with a FIFO, a symlink to /dev/zero or a 1 GiB sparse file; each round shifts the
 * kinds, so a file is each of them over time. Status-looking names are planted beside
 * whatever is under /.vic and in / as well. A last pass makes every one of them a FIFO (the
 * next kind where the filesystem refuses FIFOs), left in place for a second: a host that
 * still opened one with a plain read would hang there.
 * What cannot be removed (bind mounts: /etc/hosts and the like) is grown in place to 1 GiB
 * (sparse) if it can be written, else left. It prints what it did and exits 42.
 */
function hostileScript(seconds: number): string {
  return [
    'set +e',
    'd=/tmp/hostile',
    '/bin/busybox mkdir -p $d || exit 90',
    // Named busybox: busybox takes the applet from its own name unless that is busybox.
    '/bin/busybox cp /bin/busybox $d/busybox || exit 91',
    'bb=$d/busybox',
    'n=0',
    'total=0',
    'kinds=""',
    // Replaces one path with the n-th kind (or $kind), or the next kind the filesystem takes
    // (qemu's 9p share refuses FIFOs: counted as refused); what cannot be removed (a bind
    // mount) but can be written is grown in place to a 1 GiB sparse file instead.
    'kind=""',
    'replace() {',
    '  if [ -e "$1" ] || [ -L "$1" ]; then',
    '    if ! $bb rm -f "$1" 2>/dev/null; then',
    '      [ -f "$1" ] && $bb truncate -s 1G "$1" 2>/dev/null && kinds="${kinds}g"',
    '      return 0',
    '    fi',
    '  fi',
    '  k=${kind:-$((n % 3))}',
    '  for t in 0 1 2; do',
    '    case $(((k + t) % 3)) in',
    '      0) if $bb mkfifo "$1" 2>/dev/null; then kinds="${kinds}f"; break; else kinds="${kinds}x"; fi ;;',
    '      1) $bb ln -s /dev/zero "$1" 2>/dev/null && kinds="${kinds}z" && break ;;',
    '      2) $bb truncate -s 1G "$1" 2>/dev/null && kinds="${kinds}s" && break ;;',
    '    esac',
    '  done',
    '  n=$((n + 1))',
    '  total=$((total + 1))',
    '}',
    `end=$(($($bb date +%s) + ${seconds}))`,
    '[ "$end" -gt 0 ] || exit 92',
    'round=0',
    'while :; do',
    '  n=$round',
    // Every file but directories, busybox's copy and /bin (done last).
    '  $bb find / \\( -path /proc -o -path /sys -o -path /dev -o -path $d -o -path /bin \\) -prune -o ! -type d -print > $d/list 2>/dev/null',
    '  $bb find /dev/shm ! -type d >> $d/list 2>/dev/null',
    '  $bb find /bin ! -type d >> $d/list 2>/dev/null',
    // Status-looking names, planted beside what the runtime put under /.vic, and in /.
    '  for dir in / $($bb find /.vic -type d 2>/dev/null); do',
    '    for name in started.json exit.json status.json exit pid; do echo "$dir/$name" >> $d/list; done',
    '  done',
    '  while read -r f; do replace "$f"; done < $d/list',
    '  round=$((round + 1))',
    // Bounded however slow or broken the clock: at most 100 rounds.
    '  [ "$($bb date +%s)" -ge "$end" ] || [ $round -ge 100 ] && break',
    'done',
    // Last, everything (the status-looking names too) a FIFO, left so a moment before exiting.
    'kind=0',
    'while read -r f; do replace "$f"; done < $d/list',
    '$bb sleep 1',
    'echo "hostile: rounds $round replaced $total"',
    'echo "hostile: fifos $(echo -n "$kinds" | $bb tr -cd f | $bb wc -c) refused $(echo -n "$kinds" | $bb tr -cd x | $bb wc -c) zero-links $(echo -n "$kinds" | $bb tr -cd z | $bb wc -c) sparse $(echo -n "$kinds" | $bb tr -cd s | $bb wc -c) grown $(echo -n "$kinds" | $bb tr -cd g | $bb wc -c)"',
    'echo "hostile: /.vic: $($bb ls -la /.vic /.vic/* 2>&1 | $bb tr "\\n" " ")"',
    `exit ${EXIT_CODE}`,
  ].join('\n');
}

interface Sample {
  /** ms since `docker run` was started. */
  at: number;
  what: 'list' | 'inspect' | 'logs';
  ms: number;
  status: number;
  error?: string;
}

/**
 * Polls the VCH's Docker API on loopback TCP every POLL_EVERY_MS: the container list, and the
 * container's inspect and logs (404 until it exists), each to the end of its body, until
 * `stop` is called. The last inspect body is kept.
 */
function pollVch(base: string, name: string, t0: number) {
  const samples: Sample[] = [];
  let state: { Status?: string; ExitCode?: number } | undefined;
  let stopped = false;
  const request = async (what: Sample['what'], path: string) => {
    const start = performance.now();
    const at = Math.round(start - t0);
    try {
      const res = await fetch(`${base}${path}`, {
        signal: AbortSignal.timeout(REQUEST_CUTOFF_MS),
      });
      const body = Buffer.from(await res.arrayBuffer());
      samples.push({ at, what, ms: performance.now() - start, status: res.status });
      if (what === 'inspect' && res.status === 200)
        state = (JSON.parse(body.toString()) as { State: typeof state }).State;
    } catch (e) {
      samples.push({ at, what, ms: performance.now() - start, status: 0, error: String(e) });
    }
  };
  const loop = (async () => {
    while (!stopped) {
      const tick = performance.now();
      // One at a time, so that each latency is its request's own.
      await request('list', '/containers/json?all=1');
      await request('inspect', `/containers/${name}/json`);
      await request('logs', `/containers/${name}/logs?stdout=1&stderr=1`);
      const rest = POLL_EVERY_MS - (performance.now() - tick);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
  })();
  return {
    samples,
    state: () => state,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** The slowest samples of a kind, for failure messages. */
function slowest(samples: Sample[], what: Sample['what'], count = 5): string {
  return samples
    .filter((s) => s.what === what)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, count)
    .map((s) => `${s.ms.toFixed(1)} ms at +${s.at} ms (${s.status}${s.error ? ` ${s.error}` : ''})`)
    .join('; ');
}

const maxMs = (samples: Sample[], what: Sample['what']) =>
  Math.max(0, ...samples.filter((s) => s.what === what).map((s) => s.ms));

let work: string;
let registry: Registry | undefined;
let image: string;

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-hostile-'));
  let layout: string;
  [registry, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  image = `${registry.host}/busybox:latest`;
  await pushImage(layout, 'busybox', image);
}, 180_000);

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

/**
 * One backend: its own `vch serve --runtime <runtime>` (a child process, with a loopback TCP
 * listener for the poller beside its socket) and the hostile container on it.
 */
function hostileCase(runtime: 'runc' | 'vm', o: { runMs: number; waitMs: number }) {
  let vch: VchProcess | undefined;
  let stateDir: string;
  let base: string;

  const ok = async (args: string[], timeoutMs = 60_000): Promise<string> => {
    const r = await vch!.docker(args, { timeoutMs });
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    if (runtime === 'vm') ensureAgent();
    stateDir = join(work, `state-${runtime}`);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    vch = await startVch(stateDir, join(work, `${runtime}.sock`), [
      '--insecure-registry',
      registry!.host,
      '--runtime',
      runtime,
      '--docker-tcp',
      `127.0.0.1:${port}`,
    ]);
    await ok(['pull', image], 120_000);
  }, 180_000);

  afterAll(async () => {
    if (stateDir) await cleanupVch(stateDir, vch);
    if (runtime === 'vm' && stateDir) {
      killQemus(stateDir);
      waitNoQemu(stateDir);
    }
  }, 90_000);

  it(
    'stays responsive while a container replaces every file it can reach, and reports its exit code',
    async () => {
      const name = `hostile-${runtime}`;
      const t0 = performance.now();
      const poll = pollVch(base, name, t0);
      let run: Awaited<ReturnType<VchProcess['docker']>>;
      let waited: Awaited<ReturnType<VchProcess['docker']>> | undefined;
      let runMs = 0;
      try {
        run = await vch!.docker(
          ['run', '-d', '--name', name, image, 'sh', '-c', hostileScript(5)],
          {
            timeoutMs: o.runMs,
          },
        );
        runMs = Math.round(performance.now() - t0);
        if (run.code === 0) {
          waited = await vch!.docker(['wait', name], { timeoutMs: o.waitMs });
          // Until the VCH itself says exited (docker wait may answer a moment before a list
          // or inspect shows it), within the same bound.
          const deadline = performance.now() + o.waitMs;
          while (poll.state()?.Status !== 'exited' && performance.now() < deadline)
            await new Promise((r) => setTimeout(r, POLL_EVERY_MS));
        }
      } finally {
        await poll.stop();
      }
      const s = poll.samples;
      const elapsed = Math.round(performance.now() - t0);
      const summary =
        `${s.length} answers in ${elapsed} ms (docker run returned at +${runMs} ms); ` +
        `slowest list: ${slowest(s, 'list', 3)}; inspect: ${slowest(s, 'inspect', 3)}; ` +
        `logs: ${slowest(s, 'logs', 3)}`;
      console.log(`hostile ${runtime}: ${summary}`);
      expect(run.code, `docker run: ${run.stderr}\n${vch!.output().slice(-4000)}`).toBe(0);
      if (waited?.code !== 0) {
        const logs = await vch!.docker(['logs', name], { timeoutMs: 10_000 });
        expect.fail(
          `docker wait ${name} exited ${waited?.code} (${o.waitMs} ms allowed): ${waited?.stderr}\n` +
            `last state the VCH gave: ${JSON.stringify(poll.state())}\n` +
            `container output: ${logs.stdout}${logs.stderr}\n${summary}\n` +
            vch!.output().slice(-4000),
        );
      }
      expect(waited.stdout, summary).toBe(`${EXIT_CODE}\n`);

      // Every answer quick, none an error or a timeout. 404 only before the container exists.
      expect(s.filter((x) => x.what === 'list').length).toBeGreaterThan(10);
      expect(
        maxMs(s, 'list'),
        `GET /containers/json max ${maxMs(s, 'list').toFixed(1)} ms (bound ${LIST_MS}): ${slowest(s, 'list')}`,
      ).toBeLessThan(LIST_MS);
      expect(
        maxMs(s, 'inspect'),
        `GET /containers/${name}/json max ${maxMs(s, 'inspect').toFixed(1)} ms (bound ${INSPECT_MS}): ${slowest(s, 'inspect')}`,
      ).toBeLessThan(INSPECT_MS);
      expect(
        maxMs(s, 'logs'),
        `GET /containers/${name}/logs max ${maxMs(s, 'logs').toFixed(1)} ms (bound ${LOGS_MS}): ${slowest(s, 'logs')}`,
      ).toBeLessThan(LOGS_MS);
      const bad = s.filter((x) => x.status !== 200 && !(x.status === 404 && x.what !== 'list'));
      expect(bad, 'answers other than 200 (or 404 before the container existed)').toEqual([]);
      const firstFound = s.find((x) => x.what === 'inspect' && x.status === 200);
      expect(firstFound, 'inspect never found the container while it ran').toBeDefined();
      const lost = s.filter(
        (x) => x.what !== 'list' && x.status === 404 && x.at > firstFound!.at + 1000,
      );
      expect(lost, 'the container went missing after it was created').toEqual([]);
      expect(poll.state()).toMatchObject({ Status: 'exited', ExitCode: EXIT_CODE });

      // The script did what it says: files replaced, of each kind.
      const logs = await ok(['logs', name]);
      const m =
        /hostile: rounds (\d+) replaced (\d+)\nhostile: fifos (\d+) refused (\d+) zero-links (\d+) sparse (\d+) grown (\d+)\n/.exec(
          logs,
        );
      expect(m, logs).not.toBeNull();
      console.log(`hostile ${runtime}: ${logs.trim().split('\n').join(' | ')}`);
      const [, , replaced, fifos, refused, links, sparse] = m!.map(Number);
      expect(replaced).toBeGreaterThanOrEqual(10);
      // In a pod VM the root is qemu's 9p share, which refuses to create FIFOs (mkfifo gets
      // ENXIO): the guest's container cannot plant one where the host would see it.
      if (runtime === 'runc') expect(fifos).toBeGreaterThan(0);
      else expect(fifos + refused).toBeGreaterThan(0);
      expect(links).toBeGreaterThan(0);
      expect(sparse).toBeGreaterThan(0);

      // The VCH goes on as usual: the container listed, inspected, removed; the daemon alive.
      const inspected = JSON.parse(await ok(['inspect', name]))[0] as {
        State: { Status: string; ExitCode: number };
      };
      expect(inspected.State).toMatchObject({ Status: 'exited', ExitCode: EXIT_CODE });
      expect(await ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).toMatch(
        new RegExp(`^${name} Exited \\(${EXIT_CODE}\\)`, 'm'),
      );
      await ok(['rm', name]);
      expect(await ok(['ps', '-aq'])).toBe('');
      expect(vch!.child.exitCode).toBeNull();
      expect(vch!.child.signalCode).toBeNull();
    },
    o.runMs + o.waitMs + 60_000,
  );

  if (runtime === 'vm')
    it("cannot plant a device node or a setuid/setgid file on the host through the share; qemu runs as the VM's own uid under seccomp", async () => {
      const name = 'share-vm';
      // Root in the container, with Docker's default capabilities (CAP_MKNOD, CAP_FSETID
      // included) and seccomp profile, which allow all of this on a local filesystem.
      const script = [
        'mknod /chardev c 1 3; echo "mknod-c $?"',
        'mknod /blockdev b 7 0; echo "mknod-b $?"',
        'echo hi > /suid; chmod 4755 /suid; echo "chmod-u $?"',
        'echo hi > /sgid; chmod 2755 /sgid; echo "chmod-g $?"',
        'cp /bin/busybox /bb; chmod u+s,g+s /bb; echo "chmod-bb $?"',
        'mkdir -m 2777 /sgid-dir; echo "mkdir-g $?"',
        'echo marker-done',
        'sleep 600',
      ].join('\n');
      const id = (await ok(['run', '-d', '--name', name, image, 'sh', '-c', script])).trim();
      let logs = '';
      for (let i = 0; i < 600 && !logs.includes('marker-done'); i++) {
        logs = await ok(['logs', name]);
        if (!logs.includes('marker-done')) await new Promise((r) => setTimeout(r, 200));
      }
      console.log(`share ${runtime}: ${logs.trim().split('\n').join(' | ')}`);
      expect(logs).toContain('marker-done');

      // What the guest wrote lands in the container's overlay upper directory on the host.
      const upper = execFileSync(
        'find',
        [stateDir, '-type', 'd', '-path', `*/vm/containers/${id}/upper`],
        { encoding: 'utf8' },
      ).trim();
      expect(upper, `no upper directory of ${id} under ${stateDir}`).not.toBe('');
      const planted: string[] = [];
      const walk = (dir: string) => {
        for (const e of readdirSync(dir)) {
          const path = join(dir, e);
          const st = lstatSync(path);
          if (st.isCharacterDevice() || st.isBlockDevice() || (st.mode & 0o6000) !== 0)
            planted.push(`${path.slice(upper.length)} mode ${st.mode.toString(8)}`);
          if (st.isDirectory()) walk(path);
        }
      };
      walk(upper);
      expect(planted, 'device nodes or setuid/setgid files on the host').toEqual([]);
      // The files were written (only their bits refused).
      expect(lstatSync(join(upper, 'suid')).isFile()).toBe(true);
      expect(lstatSync(join(upper, 'bb')).isFile()).toBe(true);
      // And the guest was told no.
      for (const step of ['mknod-c', 'mknod-b', 'chmod-u', 'chmod-g', 'chmod-bb', 'mkdir-g'])
        expect(logs).toMatch(new RegExp(`^${step} [1-9]`, 'm'));

      // Its qemu: the VM's own uid and gid (not root), seccomp filtering (mode 2), and
      // only the four file capabilities vm-jail leaves it, in the bounding set too.
      const pids = qemuPids(stateDir);
      expect(pids.length).toBe(1);
      const status = readFileSync(`/proc/${pids[0]}/status`, 'utf8');
      const field = (f: string) => new RegExp(`^${f}:[ \\t]*(.*)$`, 'm').exec(status)?.[1];
      for (const f of ['Uid', 'Gid'])
        for (const v of field(f)!.split(/\s+/))
          expect(Number(v), `${f}: ${field(f)}`).toBeGreaterThan(0);
      expect(field('Groups')?.trim()).toBe('');
      expect(field('Seccomp')).toBe('2');
      expect(field('NoNewPrivs')).toBe('1');
      expect(field('CapEff')).toBe('000000000000000f');
      expect(field('CapBnd')).toBe('000000000000000f');
      await ok(['rm', '-f', name]);
    }, 240_000);
}

describe('a hostile container on vch serve --runtime runc', () => {
  hostileCase('runc', { runMs: 60_000, waitMs: 60_000 });
});

describe('a hostile container on vch serve --runtime vm', () => {
  hostileCase('vm', { runMs: 120_000, waitMs: 120_000 });
});
