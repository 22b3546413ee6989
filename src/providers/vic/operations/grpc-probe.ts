// The grpc probe: one call of the gRPC health checking protocol (grpc.health.v1.Health/Check)
// over HTTP/2 without TLS to the pod's IP, as the kubelet's pkg/probe/grpc does: the service
// name in the request, SERVING is a success, anything else (another status, an error status, no
// connection, the timeout) a failure, with the kubelet's words for the Event.
//
// Why node:http2 and a hand-encoded message rather than a gRPC library: the exchange is one
// unary call whose request is one optional string field and whose answer is one enum field, so
// the whole protocol here is a 5-byte frame header and two protobuf tags. @grpc/grpc-js with a
// proto loader would bring a dependency tree (and a .proto parser) for those few bytes; node:http2
// is the same HTTP/2 stack Node's gRPC library itself runs on.
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { errorMessage } from '../../../node/errors.js';
import type { ProbeOutcome } from './probe-handlers.js';

const CHECK_PATH = '/grpc.health.v1.Health/Check';
/** As the kubelet's "kube-probe/<major>.<minor>", with this node's name for the version. */
const USER_AGENT = 'kube-probe/vic-kubelet';
/** A health answer is a few bytes; more than this is not one. */
const MAX_RESPONSE = 64 * 1024;

/** grpc.health.v1.HealthCheckResponse.ServingStatus, as Go's String() names them. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const SERVING = 1;

/** gRPC status codes, as Go's codes.Code String() names them (in "rpc error: code = ..."). */
const CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];
const DEADLINE_EXCEEDED = 4;
const UNIMPLEMENTED = 12;

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * A HealthCheckRequest in its gRPC frame: flag 0 (not compressed), the length (big-endian), then
 * field 1 (service, a string: tag 0x0a) unless empty, as proto3 leaves a default out.
 */
export function encodeCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const msg = name.length
    ? Buffer.concat([Buffer.from([0x0a]), varint(name.length), name])
    : Buffer.alloc(0);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

function readVarint(b: Buffer, at: number): [number, number] {
  let n = 0;
  for (let shift = 0; at < b.length && shift < 35; shift += 7) {
    const byte = b[at++];
    n += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return [n, at];
  }
  throw new Error('malformed varint');
}

/**
 * The status of a HealthCheckResponse frame (field 1, a varint: tag 0x08; absent is UNKNOWN).
 * Other fields are skipped by their wire type, as protobuf readers do.
 */
export function decodeCheckResponse(frame: Buffer): number {
  if (frame.length < 5) throw new Error('a response shorter than its frame header');
  if (frame[0] !== 0) throw new Error('a compressed response, which was not asked for');
  const len = frame.readUInt32BE(1);
  if (frame.length < 5 + len) throw new Error('a response shorter than its frame says');
  const msg = frame.subarray(5, 5 + len);
  let status = 0;
  for (let at = 0; at < msg.length;) {
    const [key, next] = readVarint(msg, at);
    at = next;
    const [field, wire] = [Math.floor(key / 8), key & 7];
    if (wire === 0) {
      const [v, after] = readVarint(msg, at);
      if (field === 1) status = v;
      at = after;
    } else if (wire === 2) {
      const [n, after] = readVarint(msg, at);
      at = after + n;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`a field of wire type ${wire}`);
    if (at > msg.length) throw new Error('a field past the end of the response');
  }
  return status;
}

/** grpc-message is percent-encoded. */
function grpcMessage(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? v[0] : (v ?? '');
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The outcome of a call that ended with `code` (the grpc-status) and, on OK, `body`. */
export function checkOutcome(
  code: number,
  message: string,
  body: Buffer,
  timeoutMs: number,
): ProbeOutcome {
  const within = `${timeoutMs / 1000}s`;
  if (code === UNIMPLEMENTED)
    return {
      ok: false,
      output: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${message}`,
    };
  if (code === DEADLINE_EXCEEDED)
    return { ok: false, output: `timeout: health rpc did not complete within ${within}` };
  if (code !== 0) {
    const name = CODE_NAMES[code] ?? `Code(${code})`;
    return {
      ok: false,
      output: `error: health rpc probe failed: rpc error: code = ${name} desc = ${message}`,
    };
  }
  let status: number;
  try {
    status = decodeCheckResponse(body);
  } catch (err) {
    return {
      ok: false,
      output: `error: health rpc probe failed: rpc error: code = Internal desc = ${errorMessage(err)}`,
    };
  }
  if (status !== SERVING) {
    const name = SERVING_STATUS[status] ?? String(status);
    return { ok: false, output: `service unhealthy (responded with "${name}")` };
  }
  return { ok: true, output: 'service healthy' };
}

/**
 * Calls grpc.health.v1.Health/Check for `service` at host:port, within `timeoutMs` (the
 * connection and the call together, as the kubelet's one context does). A connection that is
 * refused fails at once, with the kubelet's words for a failed connection (its client would
 * retry until the timeout; the outcome, a failure, is the same).
 */
export function grpcProbe(
  host: string,
  port: number,
  service: string,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve) => {
    // (its errors come on a later tick, once the listeners below are on)
    const session: ClientHttp2Session = connect(`http://${addr}`);
    let connected = false;
    let settled = false;
    const finish = (o: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(o);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          output: connected
            ? `timeout: health rpc did not complete within ${timeoutMs / 1000}s`
            : `timeout: failed to connect service "${addr}" within ${timeoutMs / 1000}s: context deadline exceeded`,
        }),
      timeoutMs,
    );
    const failed = (err: unknown) =>
      finish({
        ok: false,
        output: connected
          ? `error: health rpc probe failed: rpc error: code = Unavailable desc = ${errorMessage(err)}`
          : `error: failed to connect service at "${addr}": ${errorMessage(err)}`,
      });
    session.on('error', failed);
    session.on('connect', () => (connected = true));
    const req = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: CHECK_PATH,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      [constants.HTTP2_HEADER_TE]: 'trailers',
      [constants.HTTP2_HEADER_USER_AGENT]: USER_AGENT,
      // The server may stop working on it after the probe's timeout ("m": milliseconds).
      'grpc-timeout': `${Math.max(1, Math.floor(timeoutMs))}m`,
    });
    req.on('error', failed);
    let code: number | undefined;
    let message = '';
    const chunks: Buffer[] = [];
    let size = 0;
    const takeStatus = (h: Record<string, string | string[] | undefined>) => {
      if (h['grpc-status'] !== undefined) {
        code = Number(h['grpc-status']);
        message = grpcMessage(h['grpc-message']);
      }
    };
    req.on('response', (headers) => {
      const httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
      if (httpStatus !== 200)
        return finish({
          ok: false,
          output: `error: health rpc probe failed: rpc error: code = Unknown desc = unexpected HTTP status code received from server: ${httpStatus}`,
        });
      // A trailers-only answer (an error) has its status in the headers.
      takeStatus(headers);
    });
    req.on('trailers', takeStatus);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE)
        return finish({
          ok: false,
          output: `error: health rpc probe failed: rpc error: code = ResourceExhausted desc = a response over ${MAX_RESPONSE} bytes`,
        });
      chunks.push(c);
    });
    req.on('end', () => {
      if (code === undefined)
        return finish({
          ok: false,
          output:
            'error: health rpc probe failed: rpc error: code = Internal desc = the server sent no grpc-status',
        });
      finish(checkOutcome(code, message, Buffer.concat(chunks), timeoutMs));
    });
    req.end(encodeCheckRequest(service));
  });
}
