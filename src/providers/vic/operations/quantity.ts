// Kubernetes resource quantities ("128Mi", "1.5Gi", "500m", "2", "1e3") as numbers.
import { NodeError } from '../../../node/errors.js';

const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The quantity's value; InvalidInput naming `what` when it is not one. */
export function parseQuantity(text: string | number, what: string): number {
  if (typeof text === 'number') return text;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE])?)$/.exec(
    text.trim(),
  );
  if (!m) throw new NodeError('InvalidInput', `${what}: ${JSON.stringify(text)} is not a quantity`);
  const [, num, exp, suffix = ''] = m;
  return Number(num + (exp ?? '')) * SUFFIX[suffix];
}
