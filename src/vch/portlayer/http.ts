// The portlayer's HTTP edge: its error model ({code, message}) with the status of the error's
// kind, JSON bodies with a size limit, and typed query values. Kinds become statuses here only.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PortlayerError } from '../../api/portlayer/index.js';
import { escapeControls } from '../../errdefs.js';
import { invalidInput } from '../errors.js';
import { answerMessage, checkJsonType, readBody, sendJson, statusOf } from '../http-edge.js';

export { HttpError, oneLine, sendJson, serveRequest, statusOf } from '../http-edge.js';

/** The portlayer's error model: {code, message}. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = statusOf(err);
  const body: PortlayerError = { code: status, message: answerMessage(err, status) };
  sendJson(res, status, body);
}

export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  checkJsonType(req, body);
  const text = body.toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidInput(`malformed JSON in request body: ${escapeControls((e as Error).message)}`);
  }
}

/**
 * A request body as a wire model T (src/api/portlayer/models.ts) sends it: its fields, each
 * still to be checked. Reading a field by a name T lacks does not compile.
 */
export type Body<T> = { [K in keyof T]?: unknown };

/** A JSON object body; `required` names fields that must be non-empty strings. */
export async function readObject<T>(
  req: IncomingMessage,
  required: (keyof T & string)[] = [],
): Promise<Body<T>> {
  const body = (await readJsonBody(req)) ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalidInput('request body must be a JSON object');
  const o = body as Record<string, unknown>;
  for (const f of required)
    if (typeof o[f] !== 'string' || o[f] === '')
      throw invalidInput(`request body needs ${JSON.stringify(f)} (a non-empty string)`);
  return o as Body<T>;
}

export function optString<T>(body: Body<T>, f: keyof T & string): string | undefined {
  const o = body as Record<string, unknown>;
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidInput(`${f} must be a string`);
  return v;
}

export function optStrings<T>(body: Body<T>, f: keyof T & string): string[] | undefined {
  const o = body as Record<string, unknown>;
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw invalidInput(`${f} must be a list of strings`);
  return v as string[];
}

export function optBool<T>(body: Body<T>, f: keyof T & string): boolean | undefined {
  const v = (body as Record<string, unknown>)[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidInput(`${f} must be a boolean`);
  return v;
}

export function optNumber<T>(body: Body<T>, f: keyof T & string, min = 0): number | undefined {
  const o = body as Record<string, unknown>;
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw invalidInput(`${f} must be a whole number ≥ ${min}`);
  return v;
}

export function queryBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '') return false;
  if (['1', 'true', 'True', 'TRUE'].includes(v)) return true;
  if (['0', 'false', 'False', 'FALSE'].includes(v)) return false;
  throw invalidInput(`invalid ${name} ${JSON.stringify(v)}: want true or false`);
}

export function queryInt(
  q: URLSearchParams,
  name: string,
  min = 0,
  required = false,
): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') {
    if (required) throw invalidInput(`${name} is required`);
    return undefined;
  }
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min)
    throw invalidInput(`invalid ${name} ${JSON.stringify(v)}: want a whole number ≥ ${min}`);
  return Number(v);
}

/** Unix seconds with up to nine decimals ("1714557600", "1714557600.5") → Unix ns. */
export function queryUnixNanos(q: URLSearchParams, name: string): bigint | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const m = /^(-?\d{1,12})(?:\.(\d{1,9}))?$/.exec(v);
  if (!m)
    throw invalidInput(
      `invalid ${name} ${JSON.stringify(v)}: want Unix seconds, like 1714557600.5`,
    );
  const sign = m[1].startsWith('-') ? -1n : 1n;
  const whole = BigInt(m[1].replace('-', ''));
  const frac = BigInt((m[2] ?? '').padEnd(9, '0'));
  return sign * (whole * 1_000_000_000n + frac);
}

/** Writes with backpressure; false if the client went away. */
export function write(res: ServerResponse, data: Uint8Array | string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (res.write(data)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
