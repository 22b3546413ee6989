// Crash tests: `vic-kubelet vch serve` (runc backend) driven through its Docker API for many
// create/start/stop/delete cycles and SIGKILLed at random points, then started again on the same
// state directory. After each restart: every container is running (and runc agrees), exited with
// a known status, or created — none half-made; runc has no container the VCH does not know; a
// running container's log still holds every line read from it before the kill. At the end, with
// everything removed: no runc container, mount, container or sandbox directory is left.
// CRASH_CYCLES and CRASH_KILLS size the run (CI: 20 cycles, 5 kills); CRASH_SEED replays one.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type VchProcess, cleanupVch, ensureBuilt, startVch } from './docker-cli.js';
import { buildBusyboxLayout, pushImage, type Registry, startRegistry } from './registry.js';

const CYCLES = Number(process.env.CRASH_CYCLES ?? 20);
const KILLS = Number(process.env.CRASH_KILLS ?? 5);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
/** runc (CI) or vm (pod VMs under qemu: slower; run by hand with CRASH_RUNTIME=vm). */
const RUNTIME = process.env.CRASH_RUNTIME ?? 'runc';

let work: string;
let stateDir: string;
let socket: string;
let registry: Registry;
let vch: VchProcess;
let image: string;

/** mulberry32: seeded, so a failing run can be replayed with CRASH_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Answer {
  status: number;
  body: string;
  raw: Buffer;
}

/** One request to the VCH's socket; rejects if the connection dies (the VCH was killed). */
function api(method: string, path: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        method,
        path,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, body: raw.toString(), raw });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function ok(method: string, path: string, body?: unknown): Promise<Answer> {
  const a = await api(method, path, body);
  if (a.status >= 300) throw new Error(`${method} ${path}: ${a.status} ${a.body}`);
  return a;
}

const runcRoot = () => join(stateDir, 'runtime', 'runc', 'runc');
function runcList(): { id: string; status: string }[] {
  if (!existsSync(runcRoot())) return [];
  const r = spawnSync('runc', ['--root', runcRoot(), 'list', '--format', 'json'], {
    encoding: 'utf8',
  });
  return (JSON.parse(r.stdout || 'null') as { id: string; status: string }[] | null) ?? [];
}
/** The qemu processes of this VCH's pod VMs (their working directory is the sandbox's). */
function qemuUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('qemu-system')) continue;
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) pids.push(Number(pid));
    } catch {}
  }
  return pids;
}
const mountsUnder = (dir: string) =>
  readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m) => m?.startsWith(dir));

interface Inspect {
  Id: string;
  State: { Status: string; ExitCode: number; Error: string; Running: boolean };
}

/** Lines `line N` each container printed, as read just before a kill. */
const linesSeen = new Map<string, number>();
const found = {
  lost: new Set<string>(),
  kills: 0,
  cycles: 0,
  interrupted: [] as string[],
  backendSeen: 0,
};

async function logLines(id: string): Promise<string[]> {
  const a = await ok('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  // stdcopy frames: 8-byte headers; the payload lines are what we count.
  const out: string[] = [];
  const buf = a.raw;
  for (let p = 0; p + 8 <= buf.length;) {
    const n = buf.readUInt32BE(p + 4);
    out.push(buf.subarray(p + 8, p + 8 + n).toString());
    p += 8 + n;
  }
  return out.join('').split('\n').filter(Boolean);
}

/** What must hold after every restart. */
async function checkInvariants(): Promise<void> {
  const list = JSON.parse((await ok('GET', '/containers/json?all=1')).body) as { Id: string }[];
  const ids = new Set(list.map((c) => c.Id));
  const runc = runcList();
  const runcState = new Map(runc.map((r) => [r.id, r.status]));
  for (const { Id } of list) {
    const c = JSON.parse((await ok('GET', `/containers/${Id}/json`)).body) as Inspect;
    expect(['running', 'exited', 'created'], `${Id}: ${c.State.Status}`).toContain(c.State.Status);
    if (c.State.Status === 'exited') {
      expect(Number.isInteger(c.State.ExitCode)).toBe(true);
      if (c.State.Error === 'Lost') found.lost.add(Id);
    }
    if (c.State.Status === 'running') {
      if (RUNTIME === 'runc')
        expect(runcState.get(Id), `${Id} runs in the VCH but runc says`).toBe('running');
      // Every line read before the kill is still in the log, in order, and more follow.
      const seen = linesSeen.get(Id);
      if (seen !== undefined) {
        const lines = await logLines(Id);
        expect(lines.slice(0, seen)).toEqual(Array.from({ length: seen }, (_, i) => `line ${i}`));
      }
    }
  }
  // runc knows no container the VCH does not (sandboxes, one per container, aside).
  const unknown = runc.filter((r) => !ids.has(r.id));
  expect(unknown.length, `runc: ${JSON.stringify(runc)}`).toBeLessThanOrEqual(ids.size);
  for (const r of runc.filter((x) => ids.has(x.id)))
    expect(['running', 'stopped', 'created']).toContain(r.status);
  // At most one pod VM per container (each `docker create` has its own).
  expect(qemuUnder(stateDir).length).toBeLessThanOrEqual(ids.size);
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'vic-vch-crash-'));
  stateDir = join(work, 'state');
  socket = join(work, 'docker.sock');
  const [reg, layout] = await Promise.all([startRegistry(), buildBusyboxLayout(work)]);
  registry = reg;
  image = `${registry.host}/busybox:crash`;
  await pushImage(layout, 'busybox', image);
  vch = await startVch(stateDir, socket, ['--runtime', RUNTIME]);
  const pull = await vch.docker(['pull', image]);
  expect(pull.code, pull.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  if (work) await cleanupVch(stateDir, vch);
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it(`${RUNTIME}: survives SIGKILL at random points of ${CYCLES} create/start/stop/delete cycles (seed ${SEED})`, async () => {
  const random = rng(SEED);
  // Which cycles get a kill, and at which step (0 create … 3 delete) and delay.
  const killAt = new Map<number, { step: number; delayMs: number }>();
  while (killAt.size < Math.min(KILLS, CYCLES))
    killAt.set(Math.floor(random() * CYCLES), {
      step: Math.floor(random() * 4),
      delayMs: Math.floor(random() * 40),
    });
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const kill = killAt.get(cycle);
    let id = '';
    const steps: (() => Promise<unknown>)[] = [
      async () => {
        const a = await ok('POST', '/containers/create', {
          Image: image,
          Cmd: ['sh', '-c', 'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.02; done'],
        });
        id = (JSON.parse(a.body) as { Id: string }).Id;
      },
      async () => {
        await ok('POST', `/containers/${id}/start`);
        // The checks below look where runc really keeps its containers.
        if (runcList().some((r) => r.id === id && r.status === 'running')) found.backendSeen++;
        if (qemuUnder(stateDir).length > 0) found.backendSeen++;
      },
      () => ok('POST', `/containers/${id}/stop?t=1`),
      () => ok('DELETE', `/containers/${id}?force=1`),
    ];
    for (let step = 0; step < steps.length; step++) {
      if (step === 2) await sleep(50 + Math.floor(random() * 150));
      if (kill?.step !== step) {
        await steps[step]();
        continue;
      }
      // Lines read now must survive the kill (the tether keeps writing while the VCH is away).
      if (id && step >= 2) linesSeen.set(id, (await logLines(id)).length);
      const pending = steps[step]().catch(() => undefined);
      await sleep(kill.delayMs);
      vch.child.kill('SIGKILL');
      await vch.exited;
      await pending;
      found.kills++;
      found.interrupted.push(`cycle ${cycle} step ${step} +${kill.delayMs}ms`);
      vch = await startVch(stateDir, socket, ['--runtime', RUNTIME]);
      await checkInvariants();
      break;
    }
    found.cycles++;
  }
  console.log(
    `crash test (${RUNTIME}): seed ${SEED}, ${found.cycles} cycles, ${found.kills} kills (${found.interrupted.join('; ')}), ${found.lost.size} containers found Lost`,
  );
  // The ones a kill interrupted are still there in some state: remove them all, through the API.
  await checkInvariants();
  const left = JSON.parse((await ok('GET', '/containers/json?all=1')).body) as { Id: string }[];
  for (const { Id } of left) await ok('DELETE', `/containers/${Id}?force=1`);
  expect(runcList()).toEqual([]);
  expect(mountsUnder(stateDir)).toEqual([]);
  expect(qemuUnder(stateDir)).toEqual([]);
  for (const d of [`runtime/${RUNTIME}/containers`, `runtime/${RUNTIME}/sandboxes`, 'containers'])
    if (existsSync(join(stateDir, d))) expect(readdirSync(join(stateDir, d)), d).toEqual([]);
}, 1_200_000);
