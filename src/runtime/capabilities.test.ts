import { describe, expect, it } from 'vitest';
import { capMask, capName, DEFAULT_CAPS, effectiveCaps } from './capabilities.js';

describe('effectiveCaps', () => {
  it("is Docker's default set when nothing is asked, whose mask is Docker's CapBnd", () => {
    expect(effectiveCaps()).toHaveLength(DEFAULT_CAPS.length);
    expect(capMask(effectiveCaps())).toBe('a80425fb');
  });

  it('drops and adds by name, with or without CAP_, in any case', () => {
    const caps = effectiveCaps(['cap_net_admin', 'SYS_TIME'], ['CAP_CHOWN', 'kill']);
    expect(caps).toContain('NET_ADMIN');
    expect(caps).toContain('SYS_TIME');
    expect(caps).not.toContain('CHOWN');
    expect(caps).not.toContain('KILL');
    expect(caps).toContain('SETUID');
  });

  it('drop ALL keeps only the added ones; add ALL gives all but the dropped ones', () => {
    expect(effectiveCaps([], ['ALL'])).toEqual([]);
    expect(capMask(effectiveCaps([], ['ALL']))).toBe('0');
    expect(effectiveCaps(['NET_BIND_SERVICE'], ['ALL'])).toEqual(['NET_BIND_SERVICE']);
    const all = effectiveCaps(['ALL'], ['SYS_ADMIN']);
    expect(all).toContain('SYS_MODULE');
    expect(all).not.toContain('SYS_ADMIN');
  });

  it('adds a capability named in both lists (moby)', () => {
    expect(effectiveCaps(['CHOWN'], ['CHOWN'])).toContain('CHOWN');
  });

  it('refuses an unknown name as InvalidInput', () => {
    expect(() => capName('CAP_FLY')).toThrow(/unknown capability "CAP_FLY"/);
    expect(() => effectiveCaps(['NOPE'])).toThrow(
      expect.objectContaining({ kind: 'InvalidInput' }),
    );
  });

  it('maps names to their bit numbers', () => {
    expect(capMask(['NET_ADMIN'])).toBe('1000');
    expect(capMask(['CHOWN', 'CAP_SETFCAP'])).toBe((1 + 2 ** 31).toString(16));
  });
});
