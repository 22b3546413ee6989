import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { noPodNetwork, podNetworkNeed } from './action-support.js';

const pod = (containers: k8s.V1Container[], initContainers?: k8s.V1Container[]): k8s.V1Pod => ({
  metadata: { name: 'p', namespace: 'ns' },
  spec: { containers, ...(initContainers && { initContainers }) },
});

describe('which pods need their IP', () => {
  it('names the first probe or hook that connects to the pod IP', () => {
    const exec = { exec: { command: ['true'] } };
    expect(
      podNetworkNeed(pod([{ name: 'a', livenessProbe: exec, lifecycle: { preStop: exec } }])),
    ).toBeUndefined();
    expect(
      podNetworkNeed(pod([{ name: 'a', readinessProbe: { httpGet: { port: 80 as never } } }])),
    ).toBe('spec.containers["a"].readinessProbe.httpGet');
    expect(
      podNetworkNeed(
        pod([{ name: 'a' }], [{ name: 'i', startupProbe: { tcpSocket: { port: 1 as never } } }]),
      ),
    ).toBe('spec.initContainers["i"].startupProbe.tcpSocket');
    expect(
      podNetworkNeed(
        pod([{ name: 'a', lifecycle: { postStart: { httpGet: { port: 80 as never } } } }]),
      ),
    ).toBe('spec.containers["a"].lifecycle.postStart.httpGet');
    // A grpc probe has no host of its own: always the pod's IP.
    expect(podNetworkNeed(pod([{ name: 'a', livenessProbe: { grpc: { port: 9090 } } }]))).toBe(
      'spec.containers["a"].livenessProbe.grpc',
    );
  });

  it('leaves out probes with a host of their own (they do not go to the pod IP)', () => {
    const probe = { httpGet: { host: '127.0.0.1', port: 80 as never } };
    expect(podNetworkNeed(pod([{ name: 'a', livenessProbe: probe }]))).toBeUndefined();
  });

  it('says in one line why such a pod cannot run without a pod network', () => {
    const why = noPodNetwork('spec.containers["a"].readinessProbe.httpGet');
    expect(why.split('\n')).toHaveLength(1);
    expect(why).toContain('--bridge-network none');
  });
});
