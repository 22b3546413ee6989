// A rebuilt pod is evicted again only when the API holds that very pod Failed as Evicted and
// none of its containers runs; an API that cannot be reached leaves it as the VCH has it.
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { testPod } from '../../../test/support/pods.js';
import { silentLogger } from '../../logging/logger.js';
import type { ProcessConfig } from '../../api/portlayer/index.js';
import { newVicPod, type VicPod } from './cache/vic-pod.js';
import { type ApiPodReader, restoreEvicted } from './evicted-state.js';

function rebuilt(status: string): VicPod {
  const vp = newVicPod(testPod('web'));
  vp.info = {
    tasks: [
      {
        id: 't1',
        name: 'c0',
        restartCount: 0,
        processConfig: { status } as ProcessConfig,
      },
    ],
  };
  return vp;
}

const evictedStatus: k8s.V1PodStatus = {
  phase: 'Failed',
  reason: 'Evicted',
  message: 'Usage of EmptyDir volume "s" exceeds the limit "1Mi". ',
};

const reader =
  (pod: Partial<k8s.V1Pod> | undefined): ApiPodReader =>
  async () =>
    pod && { metadata: { name: 'web', namespace: 'default', uid: 'uid-web' }, ...pod };

describe('restoreEvicted', () => {
  it('takes the API’s Evicted state and message for a stopped pod', async () => {
    const vp = rebuilt('exited');
    await restoreEvicted(vp, reader({ status: evictedStatus }), silentLogger());
    expect(vp.evicted).toEqual({ message: evictedStatus.message });
  });

  it('leaves it alone: running, another pod of the name, not evicted, not found, API down', async () => {
    const cases: [VicPod, ApiPodReader][] = [
      [rebuilt('running'), reader({ status: evictedStatus })],
      [
        rebuilt('exited'),
        reader({ metadata: { name: 'web', uid: 'other' }, status: evictedStatus }),
      ],
      [rebuilt('exited'), reader({ status: { phase: 'Failed', reason: 'DeadlineExceeded' } })],
      [rebuilt('exited'), reader({ status: { phase: 'Running' } })],
      [rebuilt('exited'), reader(undefined)],
      [
        rebuilt('exited'),
        async () => {
          throw new Error('connection refused');
        },
      ],
    ];
    for (const [vp, read] of cases) {
      await restoreEvicted(vp, read, silentLogger());
      expect(vp.evicted).toBeUndefined();
    }
  });
});
