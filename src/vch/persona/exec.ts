// docker exec, following Docker's API: `POST /containers/{id}/exec` makes an exec instance (not
// started), `POST /exec/{id}/start` runs it — on a hijacked connection (`Upgrade: tcp`) that
// carries stdin one way and the output the other, stdcopy-framed, or raw with a TTY — or
// detached; `POST /exec/{id}/resize` and `GET /exec/{id}/json` (Running, ExitCode). The process
// is the VCH's streaming exec (vch.execStream); instances live in memory, as Docker's do, and a
// finished one is forgotten after a while.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { StreamId } from '../../iolog/index.js';
import type { ExecStream, TerminalSize } from '../../runtime/runtime.js';
import { conflict, invalidInput, notFound } from '../errors.js';
import type { Vch } from '../vch.js';
import { queryInt, readJson, sendEmpty, sendJson, writeFrame } from './http.js';
import { decodePathPart, MAX_API_VERSION, type Router } from './router.js';

interface ExecInstance {
  id: string;
  containerId: string;
  args: string[];
  env: string[];
  cwd?: string;
  user?: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  size?: TerminalSize;
  stream?: ExecStream;
  exitCode?: number;
  /** When a finished one may be forgotten (ms). */
  expires?: number;
}

const KEEP_MS = 10 * 60_000;
const MAX_INSTANCES = 1000;

/** The exec instances of one VCH, shared by the routes and the hijacked start. */
export class PersonaExecs {
  private readonly all = new Map<string, ExecInstance>();

  add(e: Omit<ExecInstance, 'id'>): string {
    const now = Date.now();
    for (const [id, x] of this.all)
      if (x.expires !== undefined && x.expires <= now) this.all.delete(id);
    if (this.all.size >= MAX_INSTANCES) throw conflict('too many exec instances; try again later');
    const id = randomBytes(32).toString('hex');
    this.all.set(id, { ...e, id });
    return id;
  }

  get(id: string): ExecInstance {
    const e = this.all.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  /** Starts it (once): its streams; Conflict when it has run already. */
  async start(vch: Vch, id: string): Promise<ExecStream> {
    const e = this.get(id);
    if (e.stream) throw conflict(`exec ${id} has already run`);
    const s = await vch.execStream(
      e.containerId,
      { args: e.args, env: e.env, ...(e.cwd && { cwd: e.cwd }), ...(e.user && { user: e.user }) },
      { stdin: e.stdin, tty: e.tty, ...(e.size && { size: e.size }) },
    );
    e.stream = s;
    void s.exit
      .then(
        (code) => void (e.exitCode = code),
        () => void (e.exitCode = 126),
      )
      .finally(() => void (e.expires = Date.now() + KEEP_MS));
    return s;
  }
}

const shared = new WeakMap<Vch, PersonaExecs>();
export function personaExecs(vch: Vch): PersonaExecs {
  let e = shared.get(vch);
  if (!e) shared.set(vch, (e = new PersonaExecs()));
  return e;
}

const strings = (v: unknown, what: string): string[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw invalidInput(`${what} must be a list of strings`);
  return v as string[];
};

/** Docker's ConsoleSize: [height, width]. */
function consoleSize(v: unknown): TerminalSize | undefined {
  if (v === undefined || v === null) return undefined;
  const inRange = (n: unknown) =>
    Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffff;
  if (!Array.isArray(v) || v.length !== 2 || !v.every(inRange))
    throw invalidInput('ConsoleSize must be [height, width], each 0..65535');
  return { height: v[0] as number, width: v[1] as number };
}

export function addExecRoutes(router: Router, vch: Vch): void {
  const execs = personaExecs(vch);

  router.add('POST', '/containers/{id}/exec', async ({ req, res, params }) => {
    const body = await readJson(req);
    const args = strings(body.Cmd, 'Cmd');
    if (args.length === 0) throw invalidInput('No exec command specified');
    if (body.Privileged === true) throw invalidInput('Privileged exec is not supported');
    const info = await vch.inspectContainer(params[0]!);
    if (info.status !== 'running') throw conflict(`Container ${info.id} is not running`);
    const id = execs.add({
      containerId: info.id,
      args,
      env: strings(body.Env, 'Env'),
      ...(typeof body.WorkingDir === 'string' && body.WorkingDir && { cwd: body.WorkingDir }),
      ...(typeof body.User === 'string' && body.User && { user: body.User }),
      stdin: body.AttachStdin === true,
      stdout: body.AttachStdout === true,
      stderr: body.AttachStderr === true,
      tty: body.Tty === true,
      size: consoleSize(body.ConsoleSize),
    });
    sendJson(res, 201, { Id: id });
  });

  // Detached (no hijack): the output is read and dropped.
  router.add('POST', '/exec/{id}/start', async ({ req, res, params }) => {
    const body = await readJson(req);
    if (body.Detach !== true) throw invalidInput('exec start without Detach must upgrade (hijack)');
    const s = await execs.start(vch, params[0]!);
    s.stdout.resume();
    s.stderr?.resume();
    s.stdin?.end();
    sendEmpty(res, 200);
  });

  router.add('POST', '/exec/{id}/resize', async ({ res, params, query }) => {
    const e = execs.get(params[0]!);
    const width = queryInt(query, 'w') ?? 0;
    const height = queryInt(query, 'h') ?? 0;
    if (!inTerminalRange(width) || !inTerminalRange(height))
      throw invalidInput('terminal size out of range: w and h are 0..65535');
    if (!e.stream) e.size = { width, height };
    else e.stream.resize({ width, height });
    sendEmpty(res, 200);
  });

  router.add('GET', '/exec/{id}/json', async ({ res, params }) => {
    const e = execs.get(params[0]!);
    const running = e.stream !== undefined && e.exitCode === undefined;
    sendJson(res, 200, {
      ID: e.id,
      Running: running,
      ExitCode: e.exitCode ?? null,
      ProcessConfig: {
        tty: e.tty,
        entrypoint: e.args[0],
        arguments: e.args.slice(1),
        privileged: false,
        user: e.user ?? '',
      },
      OpenStdin: e.stdin,
      OpenStderr: e.stderr,
      OpenStdout: e.stdout,
      CanRemove: e.exitCode !== undefined,
      ContainerID: e.containerId,
      DetachKeys: '',
      Pid: 0,
    });
  });
}

const START = /^\/exec\/([^/]+)\/start$/;

/** The path of a hijacked exec start, or undefined. */
export function execStartId(path: string): string | undefined {
  const m = START.exec(path);
  return m ? decodePathPart(m[1]!, path) : undefined;
}

const inTerminalRange = (n: number) => n >= 0 && n <= 0xffff;

/**
 * A hijacked `POST /exec/{id}/start`: the 101, then stdin from the client (its half-close ends
 * it) and the output back, framed without a TTY; the connection ends once the process has and
 * its output is through. The client going away kills the process.
 */
export async function serveExecStart(
  vch: Vch,
  id: string,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const execs = personaExecs(vch);
  const body = await upgradeBody(req, socket, head);
  if (body.Detach === true) throw invalidInput('a detached exec start does not upgrade');
  const e = execs.get(id);
  const s = await execs.start(vch, id);
  socket.write(
    `HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.${e.tty ? 'raw' : 'multiplexed'}-stream\r\n` +
      `Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${MAX_API_VERSION}\r\n\r\n`,
  );
  let done = false;
  socket.once('close', () => {
    if (!done) s.kill();
  });
  if (s.stdin && e.stdin) {
    s.stdin.on('error', () => undefined);
    socket.pipe(s.stdin);
  } else {
    s.stdin?.end();
    socket.resume();
  }
  const pump = async (from: AsyncIterable<Buffer>, stream: StreamId, keep: boolean) => {
    for await (const data of from) {
      if (!keep) continue;
      const ok = e.tty
        ? await new Promise<boolean>((r) => socket.write(data, (err) => r(!err)))
        : await writeFrame(socket, { stream, data });
      if (!ok) break;
    }
  };
  try {
    await Promise.all([pump(s.stdout, 0, e.stdout), s.stderr && pump(s.stderr, 1, e.stderr)]);
    await s.exit;
    done = true;
    socket.end();
  } catch {
    // After the 101 the connection is a raw stream: an error can only end it.
    s.kill();
    socket.destroy();
  }
}

/** The JSON body of an upgrade request: in `head` and on the socket (node parses none). */
function upgradeBody(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<Record<string, unknown>> {
  const n = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(n) || n < 0 || n > 64 * 1024)
    return Promise.reject(invalidInput('exec start: a JSON body of at most 64 KiB is wanted'));
  const parse = (buf: Buffer) => {
    if (buf.length > n) socket.unshift(buf.subarray(n));
    if (n === 0) return {};
    try {
      const v: unknown = JSON.parse(buf.subarray(0, n).toString('utf8'));
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {}
    throw invalidInput('exec start: the body is not a JSON object');
  };
  if (head.length >= n) return Promise.resolve().then(() => parse(head));
  return new Promise((resolve, reject) => {
    let buf = head;
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length < n) return;
      socket.off('data', onData);
      socket.pause();
      try {
        resolve(parse(buf));
      } catch (err) {
        reject(err);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(invalidInput('exec start: the client went away')));
  });
}
