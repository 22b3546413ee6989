import { describe, expect, it } from 'vitest';
import { parseTaints } from './taints.js';

describe('parseTaints (kubelet --register-with-taints)', () => {
  it('parses key=value:Effect and key:Effect lists; "" is none', () => {
    expect(parseTaints('virtual-kubelet.io/provider=vic:NoSchedule,dedicated:NoExecute')).toEqual([
      { key: 'virtual-kubelet.io/provider', value: 'vic', effect: 'NoSchedule' },
      { key: 'dedicated', effect: 'NoExecute' },
    ]);
    expect(parseTaints('')).toEqual([]);
  });

  it.each(['novalue', 'a=b:Sometimes', 'bad key=x:NoSchedule', 'a=b c:NoSchedule'])(
    'refuses %s',
    (t) => expect(() => parseTaints(t)).toThrow(expect.objectContaining({ kind: 'InvalidInput' })),
  );
});
