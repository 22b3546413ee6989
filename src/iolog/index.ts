// VIC's container-VM log format: writer, reader, query engine. Imports nothing of the project.
export * from './format.js';
export * from './clock.js';
export * from './errors.js';
export * from './writer.js';
export * from './scan.js';
export * from './reader.js';
export * from './query.js';
export * from './time.js';
export * from './stdcopy.js';
export * from './select.js';
export * from './parallel.js';
