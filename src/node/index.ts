// The virtual kubelet: node registration and lease, the pod controller, the kubelet API.
// Knows nothing of VIC: it drives any Provider.
export * from './errors.js';
export * from './provider.js';
export * from './kube.js';
export * from '../logging/logger.js';
export * from './node-controller.js';
export * from './pod-controller.js';
export * from './virtual-kubelet.js';
export { KubeletServer } from './kubelet-api/server.js';
export { Authenticator } from './kubelet-api/auth.js';
