import { describe, expect, it } from 'vitest';
import { vchEndpoints } from './address.js';

describe('vchEndpoints', () => {
  it('puts the portlayer under /portlayer of the same listener', () => {
    expect(vchEndpoints('unix:///run/vch.sock')).toEqual({
      persona: 'unix:///run/vch.sock',
      portlayer: 'unix:///run/vch.sock#/portlayer',
    });
    expect(vchEndpoints('http://127.0.0.1:2375')).toEqual({
      persona: 'http://127.0.0.1:2375',
      portlayer: 'http://127.0.0.1:2375/portlayer',
    });
    expect(vchEndpoints('http://[::1]:2375/').portlayer).toBe('http://[::1]:2375/portlayer');
  });

  it('refuses anything else with one line naming the flag', () => {
    for (const bad of [
      'tcp://127.0.0.1:2375',
      'https://vch:2376',
      'unix://relative.sock',
      'unix:///run/vch.sock#/portlayer',
      'http://127.0.0.1:2375/portlayer',
      'http://127.0.0.1:2375?x=1',
      '/run/vch.sock',
      '',
    ])
      expect(() => vchEndpoints(bad), bad).toThrow(
        `--vch ${JSON.stringify(bad)}: want unix:///PATH or http://HOST:PORT`,
      );
  });
});
