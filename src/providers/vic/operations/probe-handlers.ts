// The actions a probe or a lifecycle hook runs, with the kubelet's rules of success
// (pkg/probe/{exec,http,tcp}): exec succeeds with exit code 0, httpGet with a status 200–399,
// tcpSocket when the connection opens. A timeout is a failure. Each answers a result and the
// output the kubelet would put in its Event ("Liveness probe failed: <output>").
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type * as k8s from '@kubernetes/client-node';
import { errorMessage } from '../../../node/errors.js';
import type { ExecTaskResult } from '../proxy/isolation-proxy.js';

export interface ProbeOutcome {
  ok: boolean;
  /** What the kubelet reports of it: the exec's output, the HTTP body or the error. */
  output: string;
}

/** The kubelet keeps 10 KiB of a probe's output (or an HTTP body). */
export const PROBE_OUTPUT_LIMIT = 10 * 1024;
/** The kubelet follows at most 10 redirects, on the same host only. */
const MAX_REDIRECTS = 10;
/** As the kubelet's User-Agent, with this node's name for the version. */
const USER_AGENT = 'kube-probe/vic-kubelet';

const text = (b: Buffer) => b.subarray(0, PROBE_OUTPUT_LIMIT).toString('utf8');

/** An exec probe's outcome from how its command ended. */
export function execOutcome(r: ExecTaskResult, timeoutSec: number): ProbeOutcome {
  if (r.timedOut) return { ok: false, output: `command timed out after ${timeoutSec}s` };
  const output = text(Buffer.concat([r.stdout, r.stderr]));
  return { ok: r.exitCode === 0, output };
}

export interface HttpTarget {
  scheme: 'HTTP' | 'HTTPS';
  host: string;
  port: number;
  path: string;
  headers: k8s.V1HTTPHeader[];
}

/** GETs the target; 200–399 succeeds, a redirect to another host stops there (and succeeds). */
export async function httpProbe(t: HttpTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const deadline = Date.now() + timeoutMs;
  const path = t.path.startsWith('/') ? t.path : `/${t.path}`;
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  let url = new URL(`${t.scheme.toLowerCase()}://${host}:${t.port}${path}`);
  const firstHost = url.hostname;
  try {
    for (let hops = 0; ; hops++) {
      const res = await get(url, t.headers, deadline - Date.now());
      const code = res.status;
      const location = res.location;
      if (code >= 300 && code < 400 && location && hops < MAX_REDIRECTS) {
        const next = new URL(location, url);
        // As the kubelet: a redirect to another host is not followed; the probe succeeds.
        if (next.hostname !== firstHost)
          return { ok: true, output: `Probe terminated redirects, Response: ${res.body}` };
        url = next;
        continue;
      }
      if (code >= 200 && code < 400) return { ok: true, output: res.body };
      return { ok: false, output: `HTTP probe failed with statuscode: ${code}` };
    }
  } catch (err) {
    return { ok: false, output: `Get "${url.href}": ${errorMessage(err)}` };
  }
}

interface Got {
  status: number;
  location?: string;
  body: string;
}

function get(url: URL, headers: k8s.V1HTTPHeader[], timeoutMs: number): Promise<Got> {
  const h: Record<string, string> = { 'user-agent': USER_AGENT, accept: '*/*' };
  for (const { name, value } of headers) h[name.toLowerCase()] = value;
  // A Host header names the virtual host, as Go's client takes it.
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    if (timeoutMs <= 0) return reject(new Error('context deadline exceeded'));
    const req = request(url, {
      method: 'GET',
      headers: h,
      // The kubelet does not verify a probe's certificate.
      rejectUnauthorized: false,
      agent: false,
    });
    const timer = setTimeout(
      () => req.destroy(new Error('context deadline exceeded (Client.Timeout exceeded)')),
      timeoutMs,
    );
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < PROBE_OUTPUT_LIMIT) chunks.push(c);
        size += c.length;
        // Enough of it: the rest is not read.
        if (size >= PROBE_OUTPUT_LIMIT) res.destroy();
      });
      const done = () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location,
          body: text(Buffer.concat(chunks)),
        });
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.end();
  });
}

/** Opens a TCP connection and closes it at once. */
export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const finish = (o: ProbeOutcome) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(
      () => finish({ ok: false, output: `dial tcp ${host}:${port}: i/o timeout` }),
      timeoutMs,
    );
    sock.on('connect', () => finish({ ok: true, output: '' }));
    sock.on('error', (e) =>
      finish({ ok: false, output: `dial tcp ${host}:${port}: ${errorMessage(e)}` }),
    );
  });
}

/**
 * A probe's or hook's port: a number, or the name of one of the container's ports. Throws
 * with the kubelet's words when the name is not one of them.
 */
export function resolvePort(port: number | string, container: k8s.V1Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const found = container.ports?.find((p) => p.name === port);
  if (!found) throw new Error(`couldn't find port: ${port} in container ${container.name}`);
  return found.containerPort;
}
