export type * from './usage.js';
export { resourceMetrics } from './resource-metrics.js';
export { type Summary, SummaryBuilder } from './summary.js';
