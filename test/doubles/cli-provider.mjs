// A provider module for `vic-kubelet node --provider-module` in the CLI's test: plain
// JavaScript (the CLI runs from dist/), pods in memory, every pod Running at once, no logs.
const pods = new Map();

export function createProvider({ nodeIP }) {
  const notFound = (what) => Object.assign(new Error(`${what} not found`), { kind: 'NotFound' });
  return {
    async createPod(pod) {
      pods.set(`${pod.metadata.namespace}/${pod.metadata.name}`, pod);
    },
    async updatePod(pod) {
      pods.set(`${pod.metadata.namespace}/${pod.metadata.name}`, pod);
    },
    async deletePod(pod) {
      if (!pods.delete(`${pod.metadata.namespace}/${pod.metadata.name}`)) throw notFound('pod');
    },
    async getPod(namespace, name) {
      return pods.get(`${namespace}/${name}`);
    },
    async getPodStatus(namespace, name) {
      const pod = pods.get(`${namespace}/${name}`);
      if (!pod) return undefined;
      return {
        phase: 'Running',
        hostIP: nodeIP,
        containerStatuses: pod.spec.containers.map((c) => ({
          name: c.name,
          image: c.image,
          imageID: '',
          ready: true,
          restartCount: 0,
          state: { running: {} },
        })),
      };
    },
    async getPods() {
      return [...pods.values()];
    },
    async ping() {},
    async nodeStatus() {
      return {
        capacity: { cpu: '2', memory: '4Gi', pods: '110' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'ProviderReady', message: 'ready' }],
        addresses: [],
        nodeInfo: { operatingSystem: 'linux' },
      };
    },
    async getContainerLogs() {
      throw notFound('log');
    },
  };
}
