import { describe, expect, it } from 'vitest';
import { mergeOptions, parseResolvConf, renderResolvConf, withinLimits } from './resolv-conf.js';

describe('resolv.conf', () => {
  it('parses nameservers, the last search or domain line, and options', () => {
    const c = parseResolvConf(
      'domain old.example\nnameserver 10.0.0.1\n#nameserver 9.9.9.9\nsearch a.example b.example\noptions ndots:2 edns0\noptions rotate\nsortlist 1.2.3.4\n',
    );
    expect(c).toEqual({
      nameservers: ['10.0.0.1'],
      searches: ['a.example', 'b.example'],
      options: ['ndots:2', 'edns0', 'rotate'],
    });
    expect(renderResolvConf(c)).toBe(
      'nameserver 10.0.0.1\nsearch a.example b.example\noptions ndots:2 edns0 rotate\n',
    );
    expect(parseResolvConf('garbage\x00\n\n   \nnameserver\n')).toEqual({
      nameservers: [],
      searches: [],
      options: [],
    });
  });

  it('merges options by name, the later one winning', () => {
    expect(mergeOptions(['ndots:5', 'edns0'], ['ndots:2', 'single-request'])).toEqual([
      'ndots:2',
      'edns0',
      'single-request',
    ]);
  });

  it("keeps to the kubelet's limits and says what it dropped", () => {
    const searches = Array.from({ length: 40 }, (_, i) => `s${i}.example`);
    const { config, dropped } = withinLimits({
      nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4'],
      searches,
      options: [],
    });
    expect(config.nameservers).toEqual(['1.1.1.1', '2.2.2.2', '3.3.3.3']);
    expect(config.searches).toHaveLength(32);
    expect(dropped).toEqual([
      'nameservers 4.4.4.4',
      `search domains ${searches.slice(32).join(' ')}`,
    ]);
    const long = withinLimits({
      nameservers: [],
      searches: ['x'.repeat(2000), 'y'.repeat(100)],
      options: [],
    });
    expect(long.config.searches).toEqual(['x'.repeat(2000)]);
  });
});
