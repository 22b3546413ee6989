import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { AdmissionError } from '../../../node/errors.js';
import { podSysctls } from './sysctl-policy.js';

const pod = (sysctls: k8s.V1Sysctl[]): k8s.V1Pod => ({
  metadata: { name: 'p', namespace: 'ns' },
  spec: { containers: [{ name: 'app' }], securityContext: { sysctls } },
});

describe('podSysctls (the kubelet admission rule)', () => {
  it('allows the safe set always and unsafe ones the node allows', () => {
    expect(
      podSysctls(
        pod([
          { name: 'kernel.shm_rmid_forced', value: '1' },
          { name: 'net/ipv4/tcp_keepalive_time', value: '60' },
          { name: 'kernel.msgmax', value: '9' },
          { name: 'net.core.somaxconn', value: '512' },
        ]),
        ['kernel.msg*', 'net.core.somaxconn'],
      ),
    ).toEqual({
      'kernel.shm_rmid_forced': '1',
      'net.ipv4.tcp_keepalive_time': '60',
      'kernel.msgmax': '9',
      'net.core.somaxconn': '512',
    });
  });

  it('rejects another with SysctlForbidden and the kubelet’s words', () => {
    const err = (() => {
      try {
        podSysctls(pod([{ name: 'net.core.somaxconn', value: '1' }]), ['kernel.msg*']);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AdmissionError);
    expect(err).toMatchObject({
      reason: 'SysctlForbidden',
      message: 'forbidden sysctl: "net.core.somaxconn" not allowlisted',
    });
  });
});
