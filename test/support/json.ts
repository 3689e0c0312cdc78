// Reading the admin socket's JSON answers in tests.
export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Counters cross the admin socket as decimal strings (bigint); a missing one is NaN, never 0. */
export const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN);
