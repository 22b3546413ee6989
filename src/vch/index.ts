// The Virtual Container Host: the core (images, pods, containers, logs, capacity) that the
// persona (Docker Engine API, ./persona/) and the portlayer API are built on.
export * from './errors.js';
export * from './types.js';
export { Vch, type VchOptions, type VchLogger, VCH_VERSION, LOST_EXIT_CODE } from './vch.js';
export { hostCapacity, type HostCapacity } from './capacity.js';
