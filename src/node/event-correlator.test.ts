import { describe, expect, it } from 'vitest';
import { COMBINED_PREFIX, EventCorrelator, type EventFacts } from './event-correlator.js';

const ev = (over: Partial<EventFacts> = {}): EventFacts => ({
  object: 'Pod/ns/p/uid1',
  fieldPath: 'spec.containers{c}',
  type: 'Warning',
  reason: 'BackOff',
  message: 'Back-off restarting failed container c in pod p_ns(uid1)',
  ...over,
});

describe('EventCorrelator', () => {
  it('creates an Event once, then counts its repeats', () => {
    const c = new EventCorrelator();
    const first = c.decide(ev());
    expect(first.action).toBe('create');
    const again = c.decide(ev());
    expect(again).toMatchObject({ action: 'count' });
    expect(again.action !== 'drop' && first.action !== 'drop' && again.key === first.key).toBe(
      true,
    );
  });

  it('keeps Events of another container, reason or message apart', () => {
    const c = new EventCorrelator();
    expect(c.decide(ev()).action).toBe('create');
    expect(c.decide(ev({ fieldPath: 'spec.containers{d}' })).action).toBe('create');
    expect(c.decide(ev({ reason: 'Started', type: 'Normal' })).action).toBe('create');
    expect(c.decide(ev({ message: 'other' })).action).toBe('create');
  });

  it('drops what one object sends beyond its burst, and not another object', () => {
    const c = new EventCorrelator({ burst: 25, qps: 1 / 300 });
    const actions = Array.from({ length: 40 }, () => c.decide(ev()).action);
    expect(actions.filter((a) => a !== 'drop')).toHaveLength(25);
    expect(actions.slice(25).every((a) => a === 'drop')).toBe(true);
    expect(c.decide(ev({ object: 'Pod/ns/q/uid2' })).action).toBe('create');
  });

  it('combines more than ten different messages of one reason into one Event', () => {
    let now = 0;
    const c = new EventCorrelator({ now: () => now });
    const got = Array.from({ length: 12 }, (_, i) => c.decide(ev({ message: `m${i}` })));
    expect(got.slice(0, 9).every((d) => d.action === 'create')).toBe(true);
    expect(got[9]).toMatchObject({ action: 'create', message: `${COMBINED_PREFIX}m9` });
    expect(got[10]).toMatchObject({ action: 'count', message: `${COMBINED_PREFIX}m10` });
    // Past the window the count starts over.
    now = 11 * 60_000;
    expect(c.decide(ev({ message: 'm12' }))).toMatchObject({ action: 'create', message: 'm12' });
  });

  it('writes a new Event after one was forgotten (expired)', () => {
    const c = new EventCorrelator();
    const d = c.decide(ev());
    if (d.action === 'drop') throw new Error('dropped');
    c.forget(d.key);
    expect(c.decide(ev()).action).toBe('create');
  });
});
