// Small HTTP helpers of the persona: Docker's JSON error form, the one mapping from an error's
// kind to a status, request bodies with a size limit, and Docker's query conventions.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { type LogChunk, stdcopyHeader } from '../../iolog/index.js';
import { escapeControls } from '../../errdefs.js';
import { invalidInput } from '../errors.js';
import { answerMessage, checkJsonType, readBody, sendJson, statusOf } from '../http-edge.js';

export { HttpError, oneLine, readBody, sendJson, serveRequest, statusOf } from '../http-edge.js';

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

/** Docker's error body: {"message": "..."} with the status of the error's kind. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = statusOf(err);
  sendJson(res, status, { message: answerMessage(err, status) });
}

/** A JSON object body; an empty body is `{}`. 400 with a clear message otherwise. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req);
  checkJsonType(req, body);
  if (body.length === 0) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw invalidInput(`malformed JSON in request body: ${escapeControls((e as Error).message)}`);
  }
  if (doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw invalidInput('request body must be a JSON object');
  return doc as Record<string, unknown>;
}

/** Docker's boolean query values: "1", "true", "True" are true; absent is `dflt`. */
export function queryBool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  const s = v.toLowerCase();
  if (s === '' || s === '0' || s === 'false' || s === 'no') return false;
  return true;
}

/** An integer query value; 400 if it is not one. */
export function queryInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v))
    throw invalidInput(`invalid ${name} ${JSON.stringify(v)}: not an integer`);
  return Number(v);
}

/**
 * Docker's `filters` query: JSON {"name": {"x": true}} (map form) or {"name": ["x"]} (old
 * form). Answers each filter's values; 400 on anything else.
 */
export function parseFilters(q: URLSearchParams): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const text = q.get('filters');
  if (text === null || text === '') return out;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw invalidInput(`invalid filters ${JSON.stringify(text)}: not JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw invalidInput('invalid filters: want a JSON object');
  for (const [k, v] of Object.entries(doc)) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out.set(k, v as string[]);
    else if (typeof v === 'object' && v !== null)
      out.set(
        k,
        Object.entries(v)
          .filter(([, on]) => on === true)
          .map(([x]) => x),
      );
    else throw invalidInput(`invalid filter ${JSON.stringify(k)}: want a list or a map of values`);
  }
  return out;
}

/** Resolves true when `out` drains, false if it closes first. */
function drained(out: Writable): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    out.on('drain', onDrain);
    out.on('close', onClose);
  });
}

/** Writes with backpressure; false if the client went away. */
export function write(out: Writable, data: Uint8Array | string): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return Promise.resolve(false);
  return out.write(data) ? Promise.resolve(true) : drained(out);
}

/**
 * Writes a log chunk as one stdcopy frame (header and payload, corked into one write to the
 * socket, the payload not copied); false if the client went away.
 */
export function writeFrame(out: Writable, chunk: LogChunk): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return Promise.resolve(false);
  out.cork();
  out.write(stdcopyHeader(chunk.stream, chunk.data.length));
  const ok = out.write(chunk.data);
  out.uncork();
  return ok ? Promise.resolve(true) : drained(out);
}
