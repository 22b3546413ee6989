// The runtime: the interface between the VCH and what isolates a pod, and its backends.
export * from './runtime.js';
export * from './errors.js';
export * from './signals.js';
export * from './process-spec.js';
export { resolveUser, resolveUserIn, type ResolvedUser } from './user.js';
export { defaultTetherPath } from './paths.js';
export { createRuncRuntime } from './runc/index.js';
export { RouterRuntime, type BackendName, type RouterOptions } from './router.js';
