import { describe, expect, it } from 'vitest';
import type { PublishedPort } from '../../runtime/runtime.js';
import { canBind, ephemeralRange, HostPortAllocator } from './host-port-allocator.js';
import { createServer } from 'node:net';

const any = (
  containerPort: number,
  protocol: PublishedPort['protocol'] = 'tcp',
): PublishedPort => ({
  hostPort: 0,
  containerPort,
  protocol,
});

function allocator(range: [number, number], bound: number[] = []) {
  return new HostPortAllocator({
    range: async () => range,
    free: async (port) => !bound.includes(port),
  });
}

describe('the host port allocator', () => {
  it('picks from the range in turn, after the last one given, skipping taken and bound ports', async () => {
    const a = allocator([100, 105], [102]);
    const taken: PublishedPort[] = [{ hostPort: 100, containerPort: 1, protocol: 'tcp' }];
    const fixed = { hostPort: 101, containerPort: 2, protocol: 'tcp' as const };
    expect(await a.allocate([fixed, any(80), any(81)], taken)).toEqual([
      fixed,
      { ...any(80), hostPort: 103 },
      { ...any(81), hostPort: 104 },
    ]);
    // The next request goes on from there, and wraps round.
    expect((await a.allocate([any(80)], taken))[0].hostPort).toBe(105);
    expect((await a.allocate([any(80)], taken))[0].hostPort).toBe(101);
    // Another protocol is another series; a taken port of another protocol is no bar.
    expect((await a.allocate([any(53, 'udp')], taken))[0].hostPort).toBe(100);
  });

  it('leaves ports with a host port alone, and says so when the range is full', async () => {
    const a = allocator([100, 101]);
    const fixed = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
    expect(await a.allocate(fixed, [])).toEqual(fixed);
    const taken = [100, 101].map((hostPort) => ({
      hostPort,
      containerPort: 1,
      protocol: 'tcp' as const,
    }));
    await expect(a.allocate([any(80)], taken)).rejects.toMatchObject({
      kind: 'Conflict',
      message: 'no free host port for 80/tcp in 100-101: all ports are allocated',
    });
  });

  it("reads the kernel's range and finds a bound port busy", async () => {
    const [lo, hi] = await ephemeralRange();
    expect(lo).toBeGreaterThan(0);
    expect(hi).toBeGreaterThanOrEqual(lo);
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    expect(await canBind(port, 'tcp', '127.0.0.1')).toBe(false);
    await new Promise((r) => srv.close(r));
    expect(await canBind(port, 'tcp', '127.0.0.1')).toBe(true);
  });
});
