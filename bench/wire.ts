// JSON lines between the suite and its agents: 64-bit counters travel as {"$bigint": "123"}.

export function encode(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

export function decode(line: string): unknown {
  return JSON.parse(line, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$bigint === 'string' && Object.keys(o).length === 1) return BigInt(o.$bigint);
    }
    return v;
  });
}

export interface Request { id: number; cmd: string; args?: unknown }
export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** A counter from the addon, the daemon's JSON (decimal strings) or a number, as a bigint. */
export function big(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.trunc(value));
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  return 0n;
}

/** bigint → number for reports (every counter here stays far below 2^53). */
export function num(value: bigint | number | undefined): number {
  return value === undefined ? 0 : Number(value);
}
