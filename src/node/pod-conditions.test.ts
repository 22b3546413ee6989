import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { withPodConditions } from './pod-conditions.js';

const t0 = new Date('2026-01-01T10:00:00Z');
const cond = (type: string, status: string, at = t0): k8s.V1PodCondition => ({
  type,
  status,
  lastTransitionTime: at,
});
const reported = (ready: boolean): k8s.V1PodStatus => ({
  phase: 'Running',
  conditions: [
    cond('PodScheduled', 'True'),
    cond('ContainersReady', ready ? 'True' : 'False'),
    cond('Ready', ready ? 'True' : 'False'),
  ],
});
const pod = (gates: string[], conditions: k8s.V1PodCondition[] = []): k8s.V1Pod => ({
  spec: { containers: [], readinessGates: gates.map((conditionType) => ({ conditionType })) },
  status: { conditions },
});
const ready = (s: k8s.V1PodStatus) => s.conditions!.find((c) => c.type === 'Ready')!;

describe('withPodConditions', () => {
  it('keeps the conditions of other owners that the API has, and drops its own old ones', () => {
    const api = [cond('Ready', 'False'), cond('DisruptionTarget', 'True'), cond('x.io/lb', 'True')];
    const out = withPodConditions(reported(true), pod([], api));
    expect(out.conditions!.map((c) => `${c.type}=${c.status}`)).toEqual([
      'PodScheduled=True',
      'ContainersReady=True',
      'Ready=True',
      'DisruptionTarget=True',
      'x.io/lb=True',
    ]);
  });

  it('holds Ready False, in the kubelet words, while a gate has no condition or is not True', () => {
    const out = withPodConditions(
      reported(true),
      pod(['x.io/a', 'x.io/b'], [cond('x.io/b', 'False')]),
    );
    expect(ready(out)).toMatchObject({
      status: 'False',
      reason: 'ReadinessGatesNotReady',
      message:
        'corresponding condition of pod readiness gate "x.io/a" does not exist., ' +
        'the status of pod readiness gate "x.io/b" is not "True", but False',
    });
    // ContainersReady does not look at the gates.
    expect(out.conditions!.find((c) => c.type === 'ContainersReady')!.status).toBe('True');
  });

  it('is Ready once every gate is True, with the time of that change', () => {
    const before = [cond('Ready', 'False'), cond('x.io/a', 'True')];
    const out = withPodConditions(reported(true), pod(['x.io/a'], before));
    expect(ready(out).status).toBe('True');
    expect(ready(out).lastTransitionTime!.getTime()).toBeGreaterThan(t0.getTime());
  });

  it("keeps the API's transition time while Ready stays as it is", () => {
    const at = new Date('2026-01-01T09:00:00Z');
    const out = withPodConditions(reported(true), pod(['x.io/a'], [cond('Ready', 'False', at)]));
    expect(ready(out)).toMatchObject({ status: 'False', lastTransitionTime: at });
  });

  it('leaves a not-ready pod not ready, with the containers as the reason', () => {
    const s = reported(false);
    s.conditions![2] = { ...s.conditions![2]!, reason: 'ContainersNotReady' };
    const out = withPodConditions(s, pod(['x.io/a'], [cond('x.io/a', 'True')]));
    expect(ready(out)).toMatchObject({ status: 'False', reason: 'ContainersNotReady' });
  });

  it('changes nothing without conditions (a status written at admission)', () => {
    const s = { phase: 'Failed', reason: 'X' };
    expect(withPodConditions(s, pod(['x.io/a']))).toBe(s);
  });
});
