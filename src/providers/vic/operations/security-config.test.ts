import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { testPod } from '../../../../test/support/pods.js';
import { taskSecurity } from './security-config.js';

const sec = (
  sc: k8s.V1SecurityContext | undefined,
  imageUser: string,
  psc?: k8s.V1PodSecurityContext,
) => {
  const pod = testPod('p', [{ name: 'app', securityContext: sc }], { securityContext: psc });
  return taskSecurity(pod, pod.spec!.containers[0], imageUser);
};

describe('taskSecurity: user and group', () => {
  it("runs the image's user unless runAsUser or runAsGroup say otherwise; the container's win", () => {
    expect(sec(undefined, 'app:staff').user).toBe('app:staff');
    expect(sec({ runAsUser: 1000 }, 'app').user).toBe('1000');
    expect(sec({ runAsUser: 1000, runAsGroup: 100 }, 'app').user).toBe('1000:100');
    expect(sec({ runAsUser: 7 }, 'app', { runAsUser: 1000, runAsGroup: 100 }).user).toBe('7:100');
  });

  it("runAsGroup alone keeps the image's user (root when it has none) with that group", () => {
    expect(sec({ runAsGroup: 100 }, 'app:staff').user).toBe('app:100');
    expect(sec({ runAsGroup: 100 }, '').user).toBe('0:100');
    expect(sec(undefined, '1000', { runAsGroup: 5 }).user).toBe('1000:5');
  });
});

describe('taskSecurity: supplementalGroups', () => {
  it("adds the pod's supplementalGroups to every container's groups", () => {
    expect(sec(undefined, 'app', { supplementalGroups: [5, 2000] })).toEqual({
      user: 'app',
      groupAdd: ['5', '2000'],
    });
  });
});

describe('taskSecurity: runAsNonRoot, as the kubelet verifies it', () => {
  const where = '(pod: "p_default(uid-p)", container: app)';
  it('refuses a root image, a root runAsUser and a non-numeric image user', () => {
    expect(() => sec({ runAsNonRoot: true }, '')).toThrow(
      `container has runAsNonRoot and image will run as root ${where}`,
    );
    expect(() => sec({ runAsNonRoot: true }, '0:0')).toThrow(/image will run as root/);
    expect(() => sec(undefined, '1000', { runAsNonRoot: true, runAsUser: 0 })).toThrow(
      `container's runAsUser breaks non-root policy ${where}`,
    );
    expect(() => sec({ runAsNonRoot: true }, 'app:staff')).toThrow(
      `container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root ${where}`,
    );
    try {
      sec({ runAsNonRoot: true }, '');
    } catch (e) {
      expect(e).toMatchObject({ kind: 'InvalidInput' });
    }
  });

  it("accepts a non-zero runAsUser or image uid; the container's false beats the pod's true", () => {
    expect(sec({ runAsNonRoot: true }, '1000:1000').user).toBe('1000:1000');
    expect(sec({ runAsUser: 1000 }, '', { runAsNonRoot: true }).user).toBe('1000');
    expect(sec({ runAsUser: 1000 }, 'app', { runAsNonRoot: true }).user).toBe('1000');
    expect(sec({ runAsNonRoot: false }, '', { runAsNonRoot: true }).user).toBe('');
  });
});

describe('taskSecurity: what the runtime applies', () => {
  it('passes on a read-only root, capabilities and allowPrivilegeEscalation: false', () => {
    expect(
      sec(
        {
          readOnlyRootFilesystem: true,
          capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] },
          allowPrivilegeEscalation: false,
        },
        '',
      ),
    ).toEqual({
      user: '',
      readOnlyRootfs: true,
      capAdd: ['NET_ADMIN'],
      capDrop: ['ALL'],
      noNewPrivileges: true,
    });
  });

  it('asks nothing for the defaults', () => {
    expect(
      sec({ readOnlyRootFilesystem: false, allowPrivilegeEscalation: true, capabilities: {} }, ''),
    ).toEqual({ user: '' });
  });
});
