// The grpc probe against a gRPC health server of Node's own HTTP/2 stack on loopback (the
// wire format checked byte for byte here; test/integration/node-network.test.ts runs it against
// google.golang.org/grpc's health server in a pod).
import { createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkOutcome, decodeCheckResponse, encodeCheckRequest, grpcProbe } from './grpc-probe.js';

/** A HealthCheckResponse frame with `status` (field 1). */
const response = (status: number) => {
  const msg = status ? Buffer.from([0x08, status]) : Buffer.alloc(0);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
};

let server: Http2Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/** A server whose handler sees each call's headers and request frame. */
async function serve(
  handler: (stream: ServerHttp2Stream, headers: Record<string, unknown>, body: Buffer) => void,
): Promise<number> {
  server = createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => handler(stream, headers, Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** Answers `frame` with grpc-status 0, as a gRPC server does: headers, data, trailers. */
function answer(stream: ServerHttp2Stream, frame: Buffer) {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(frame);
}

describe('the health check messages', () => {
  it('encodes the service name as field 1, and nothing for the overall health', () => {
    expect(encodeCheckRequest('')).toEqual(Buffer.from([0, 0, 0, 0, 0]));
    expect(encodeCheckRequest('app')).toEqual(
      Buffer.from([0, 0, 0, 0, 5, 0x0a, 3, ...Buffer.from('app')]),
    );
    const long = 'x'.repeat(200);
    expect(encodeCheckRequest(long).subarray(5, 8)).toEqual(Buffer.from([0x0a, 0xc8, 0x01]));
  });

  it('decodes the status, skipping fields it does not know, UNKNOWN when absent', () => {
    expect(decodeCheckResponse(response(1))).toBe(1);
    expect(decodeCheckResponse(response(0))).toBe(0);
    // field 2 (a string "ab") before field 1
    const other = Buffer.from([0, 0, 0, 0, 6, 0x12, 2, 0x61, 0x62, 0x08, 2]);
    expect(decodeCheckResponse(other)).toBe(2);
    expect(() => decodeCheckResponse(Buffer.from([0, 0, 0, 0, 9, 0x08]))).toThrow(/shorter/);
    expect(() => decodeCheckResponse(Buffer.from([1, 0, 0, 0, 0]))).toThrow(/compressed/);
  });

  it("words each outcome as the kubelet's prober does", () => {
    expect(checkOutcome(0, '', response(1), 1000)).toEqual({ ok: true, output: 'service healthy' });
    expect(checkOutcome(0, '', response(2), 1000)).toEqual({
      ok: false,
      output: 'service unhealthy (responded with "NOT_SERVING")',
    });
    expect(checkOutcome(12, 'unknown service', Buffer.alloc(0), 1000).output).toBe(
      'error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service',
    );
    expect(checkOutcome(4, '', Buffer.alloc(0), 2000).output).toBe(
      'timeout: health rpc did not complete within 2s',
    );
    expect(checkOutcome(5, 'unknown service x', Buffer.alloc(0), 1000).output).toBe(
      'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service x',
    );
  });
});

describe('grpcProbe', () => {
  it('sends the Check call as gRPC does, and SERVING is a success', async () => {
    let seen: { headers: Record<string, unknown>; body: Buffer } | undefined;
    const port = await serve((stream, headers, body) => {
      seen = { headers, body };
      answer(stream, response(1));
    });
    expect(await grpcProbe('127.0.0.1', port, 'app', 2000)).toEqual({
      ok: true,
      output: 'service healthy',
    });
    expect(seen?.headers).toMatchObject({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'kube-probe/vic-kubelet',
      'grpc-timeout': '2000m',
    });
    expect(seen?.body).toEqual(encodeCheckRequest('app'));
  });

  it('NOT_SERVING is a failure', async () => {
    const port = await serve((stream) => answer(stream, response(2)));
    expect(await grpcProbe('127.0.0.1', port, '', 2000)).toEqual({
      ok: false,
      output: 'service unhealthy (responded with "NOT_SERVING")',
    });
  });

  it('an error status in a trailers-only answer is a failure with its message', async () => {
    const port = await serve((stream) =>
      stream.respond(
        { ':status': 200, 'grpc-status': '5', 'grpc-message': 'unknown%20service' },
        { endStream: true },
      ),
    );
    expect((await grpcProbe('127.0.0.1', port, 'nope', 2000)).output).toBe(
      'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service',
    );
  });

  it('a server that never answers is a failure at the timeout, not a hang', async () => {
    const port = await serve(() => {}); // takes the call, says nothing
    const start = Date.now();
    const o = await grpcProbe('127.0.0.1', port, '', 300);
    expect(Date.now() - start).toBeLessThan(2000);
    expect(o).toEqual({ ok: false, output: 'timeout: health rpc did not complete within 0.3s' });
  });

  it('a closed port is a failure naming the address', async () => {
    const port = await serve(() => {});
    server!.close();
    await new Promise((r) => setTimeout(r, 50));
    const o = await grpcProbe('127.0.0.1', port, '', 1000);
    expect(o.ok).toBe(false);
    expect(o.output).toMatch(`error: failed to connect service at "127.0.0.1:${port}": `);
    expect(o.output).toContain('ECONNREFUSED');
  });

  it('a response past the cap is a failure, not read on', async () => {
    const port = await serve((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      stream.end(Buffer.alloc(100 * 1024));
    });
    expect((await grpcProbe('127.0.0.1', port, '', 2000)).output).toContain('ResourceExhausted');
  });
});
