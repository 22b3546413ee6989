// Kubelet's --register-with-taints syntax: key=value:Effect or key:Effect, comma-separated.
import type * as k8s from '@kubernetes/client-node';
import { invalidInput } from './errors.js';

const EFFECTS = new Set(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
// A qualified name (optional DNS prefix), as label keys are.
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export function parseTaints(text: string): k8s.V1Taint[] {
  if (text.trim() === '') return [];
  return text.split(',').map((item) => {
    const m = /^([^=:]+)(?:=([^:]*))?:([^:]+)$/.exec(item.trim());
    if (!m)
      throw invalidInput(`taint ${JSON.stringify(item)}: want key=value:Effect or key:Effect`);
    const [, key, value, effect] = m as unknown as [string, string, string | undefined, string];
    if (!KEY.test(key) || key.length > 316)
      throw invalidInput(`taint key ${JSON.stringify(key)} is not a valid name`);
    if (value !== undefined && (!VALUE.test(value) || value.length > 63))
      throw invalidInput(`taint value ${JSON.stringify(value)} is not a valid label value`);
    if (!EFFECTS.has(effect))
      throw invalidInput(
        `taint effect ${JSON.stringify(effect)}: want NoSchedule, PreferNoSchedule or NoExecute`,
      );
    return value === undefined ? { key, effect } : { key, value, effect };
  });
}

/** The taint a virtual node carries unless told otherwise: only pods that tolerate it land. */
export const DEFAULT_TAINT: k8s.V1Taint = {
  key: 'virtual-kubelet.io/provider',
  value: 'vic',
  effect: 'NoSchedule',
};
