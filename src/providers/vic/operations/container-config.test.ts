import { describe, expect, it } from 'vitest';
import type { ImageConfig } from '../proxy/image-store.js';
import { testPod } from '../../../../test/support/pods.js';
import { expand, taskConfig } from './container-config.js';

const image: ImageConfig = {
  id: 'sha256:1',
  name: 'img',
  entrypoint: ['/entry'],
  cmd: ['--default'],
  env: ['PATH=/usr/bin:/bin', 'MODE=image', 'KEEP=1'],
  workingDir: '/srv',
  user: 'nobody',
  stopSignal: 'SIGQUIT',
};

describe('taskConfig', () => {
  it("runs the image's entrypoint and cmd when the pod says nothing", () => {
    const pod = testPod('p', [{ name: 'c' }]);
    const t = taskConfig(pod, pod.spec!.containers[0], image);
    expect([t.path, ...t.args!]).toEqual(['/entry', '--default']);
    expect(t).toMatchObject({
      name: 'c',
      workingDir: '/srv',
      user: 'nobody',
      stopSignal: 'SIGQUIT',
    });
    expect(t.env).toEqual(['PATH=/usr/bin:/bin', 'MODE=image', 'KEEP=1']);
  });

  it('command replaces the entrypoint and drops cmd; args replace cmd', () => {
    const pod = testPod('p', [
      { name: 'a', command: ['sh', '-c'] },
      { name: 'b', args: ['--flag'] },
      { name: 'c', command: ['sh'], args: ['-c', 'echo $(MODE)'] },
      { name: 'd', command: ['echo', '$(MODE)'], env: [{ name: 'MODE', value: 'pod' }] },
    ]);
    const [a, b, c, d] = pod.spec!.containers.map((x) => taskConfig(pod, x, image));
    expect([a.path, ...a.args!]).toEqual(['sh', '-c']);
    expect([b.path, ...b.args!]).toEqual(['/entry', '--flag']);
    // As the kubelet: $(VAR) names the container's variables, never the image's.
    expect([c.path, ...c.args!]).toEqual(['sh', '-c', 'echo $(MODE)']);
    expect([d.path, ...d.args!]).toEqual(['echo', 'pod']);
  });

  it('puts the env of the container over the image, expands $(VAR), takes fieldRefs', () => {
    const pod = testPod('p', [
      {
        name: 'c',
        workingDir: '/work',
        env: [
          { name: 'MODE', value: 'pod' },
          { name: 'GREETING', value: 'mode=$(MODE) literal=$$(MODE) unknown=$(NOPE)' },
          { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        ],
        securityContext: { runAsUser: 1000, runAsGroup: 100 },
        resources: { limits: { memory: '64Mi', cpu: '250m' } },
      },
    ]);
    const t = taskConfig(pod, pod.spec!.containers[0], image);
    expect(t.env).toEqual([
      'PATH=/usr/bin:/bin',
      'KEEP=1',
      'MODE=pod',
      'GREETING=mode=pod literal=$(MODE) unknown=$(NOPE)',
      'POD=p',
    ]);
    expect(t).toMatchObject({
      workingDir: '/work',
      user: '1000:100',
      memoryLimitBytes: 64 * 2 ** 20,
      cpuMillis: 250,
    });
  });

  it('adds a PATH when neither the image nor the pod has one', () => {
    const pod = testPod('p', [{ name: 'c', command: ['true'] }]);
    const t = taskConfig(pod, pod.spec!.containers[0], { ...image, env: [] });
    expect(t.env![0]).toMatch(/^PATH=\/usr\/local\/sbin:/);
  });

  it('refuses what it cannot do with one clear message', () => {
    const secretEnv = testPod('p', [
      {
        name: 'c',
        env: [
          {
            name: 'X',
            valueFrom: { fileKeyRef: { volumeName: 'v', path: 'env', key: 'k' } },
          },
        ],
      },
    ]);
    expect(() => taskConfig(secretEnv, secretEnv.spec!.containers[0], image)).toThrow(
      /env X takes its value from a source this node does not support/,
    );
    const noCmd = testPod('p', [{ name: 'c' }]);
    expect(() =>
      taskConfig(noCmd, noCmd.spec!.containers[0], { ...image, entrypoint: [], cmd: [] }),
    ).toThrow(/no command/);
    const badQ = testPod('p', [{ name: 'c', resources: { limits: { memory: 'lots' } } }]);
    expect(() => taskConfig(badQ, badQ.spec!.containers[0], image)).toThrow(
      /memory limit: "lots" is not a quantity/,
    );
  });

  it('expands as Kubernetes does', () => {
    const vars = new Map([['A', '1']]);
    expect(expand('$(A)-$$(A)-$(B)-$$-$', vars)).toBe('1-$(A)-$(B)-$-$');
  });
});
