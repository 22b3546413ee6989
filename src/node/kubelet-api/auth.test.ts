// The kubelet API's authentication and authorization against a test double of the apiserver's
// review APIs: how many reviews a loop of requests costs, how long answers are kept, and that a
// failed review is neither cached nor quoted to the caller.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Kube } from '../kube.js';
import { ALLOWED_TTL_MS, Authenticator, DENIED_TTL_MS, TOKEN_TTL_MS } from './auth.js';

function fakeKube(
  opts: { allowed?: (user: string) => boolean; failTokens?: boolean; delayMs?: number } = {},
) {
  const counts = { tokenReviews: 0, accessReviews: 0 };
  const kube = {
    call: <T>(f: () => Promise<T>) => f(),
    authentication: {
      createTokenReview: async ({ body }: { body: { spec: { token: string } } }) => {
        counts.tokenReviews++;
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
        if (opts.failTokens) throw new Error('etcd is on fire at 10.0.0.1');
        const good = body.spec.token === 'good';
        return {
          status: good
            ? { authenticated: true, user: { username: 'alice', groups: ['devs'] } }
            : { authenticated: false },
        };
      },
    },
    authorization: {
      createSubjectAccessReview: async ({ body }: { body: { spec: { user: string } } }) => {
        counts.accessReviews++;
        return { status: { allowed: opts.allowed?.(body.spec.user) ?? true } };
      },
    },
  } as unknown as Kube;
  return { kube, counts };
}

const request = (token: string) =>
  ({
    socket: { authorized: false },
    headers: { authorization: `Bearer ${token}` },
    method: 'GET',
  }) as unknown as IncomingMessage;

describe('kubelet API authentication and authorization', () => {
  it('costs one TokenReview for a thousand requests with the same junk token, at once or in turn', async () => {
    const { kube, counts } = fakeKube({ delayMs: 20 });
    const auth = new Authenticator(kube, 'node-1');
    const at_once = await Promise.all(
      Array.from({ length: 500 }, () => auth.check(request('junk'), '/pods')),
    );
    for (let i = 0; i < 500; i++) await auth.check(request('junk'), '/pods');
    expect(at_once.every((r) => !r.ok && r.error.message === 'Unauthorized')).toBe(true);
    expect(counts.tokenReviews).toBe(1);
    expect(counts.accessReviews).toBe(0);
  });

  it('keeps a token 2 min and access 2 min when allowed, 30 s when denied', async () => {
    let now = 1_000_000;
    let allow = false;
    const { kube, counts } = fakeKube({ allowed: () => allow });
    const auth = new Authenticator(kube, 'node-1', () => now);
    expect((await auth.check(request('good'), '/pods')).ok).toBe(false);
    allow = true;
    now += DENIED_TTL_MS - 1;
    expect((await auth.check(request('good'), '/pods')).ok).toBe(false);
    now += 2;
    expect((await auth.check(request('good'), '/pods')).ok).toBe(true);
    expect(counts.accessReviews).toBe(2);
    expect(counts.tokenReviews).toBe(1);
    allow = false;
    now += ALLOWED_TTL_MS - 1;
    expect((await auth.check(request('good'), '/stats/summary')).ok).toBe(false);
    expect((await auth.check(request('good'), '/pods')).ok).toBe(true);
    expect(counts.accessReviews).toBe(3); // /stats is another subresource
    // The token was reviewed 150 s ago: past its 2 min, reviewed again.
    expect(TOKEN_TTL_MS).toBeLessThan(DENIED_TTL_MS + ALLOWED_TTL_MS);
    expect(counts.tokenReviews).toBe(2);
  });

  it('does not cache a review that failed, and keeps its text out of the reply', async () => {
    const { kube, counts } = fakeKube({ failTokens: true });
    const auth = new Authenticator(kube, 'node-1');
    for (let i = 0; i < 3; i++) {
      const r = await auth.check(request('good'), '/pods');
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.message).toBe('authentication could not be checked');
        expect(String(r.error.cause)).toContain('etcd is on fire');
      }
    }
    expect(counts.tokenReviews).toBe(3);
  });

  it('holds a bounded number of tokens', async () => {
    const { kube } = fakeKube();
    const auth = new Authenticator(kube, 'node-1');
    for (let i = 0; i < 5000; i++) await auth.check(request(`junk-${i}`), '/pods');
    expect((auth as unknown as { tokens: { size: number } }).tokens.size).toBeLessThanOrEqual(4096);
  });
});
