// Times as the runtime reports them (RFC 3339 with nanoseconds, as Docker prints them).
import { formatTime } from '../../iolog/index.js';

/** Unix nanoseconds (a decimal string from a status record, or a bigint) as a time. */
export const nsToTime = (ns: string | bigint): string => formatTime(BigInt(ns));
export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;
export const now = (): string => formatTime(nowNs());
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
