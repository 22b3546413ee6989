// Pods for the provider's unit tests.
import type * as k8s from '@kubernetes/client-node';

export function testPod(
  name: string,
  containers: Partial<k8s.V1Container>[] = [{ name: 'app', image: 'busybox:1' }],
  spec: Partial<k8s.V1PodSpec> = {},
): k8s.V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: {
      restartPolicy: 'Always',
      ...spec,
      containers: containers.map((c, i) => ({ name: `c${i}`, image: 'busybox:1', ...c })),
    },
  };
}

/** Polls `check` until it returns something truthy (real timers). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
