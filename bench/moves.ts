// How many flows a server change moves, predicted: for LAS from the Maglev tables the addon builds
// (addon.maglevTable), for the nftables balancer from how `jhash ... mod N map {...}` splits the
// hash range (the kernel maps the 32-bit hash to [0, N) with reciprocal_scale: equal contiguous
// ranges, so changing N re-cuts every range; the hash is taken as uniform).
import type { BenchServer } from './scenarios.js';

export type MaglevTableFn = (servers: { address: string; weight: number }[], size: number) => Int32Array;

/** Server address per slot; -1 (no server) stays null. */
function owners(table: Int32Array, servers: BenchServer[]): Array<string | null> {
  return Array.from(table, (i) => (i >= 0 ? servers[i]?.address ?? null : null));
}

export interface MoveForecast {
  /** LAS with its flow table: established flows stay unless their server is gone. */
  lasWithFlowTable: number;
  /** Maglev alone (what new flows see, and LAS if its table were empty): slots whose server changed. */
  maglevStateless: number;
  /** The nftables jhash balancer (stateless): share of the hash range mapped to another server. */
  nftJhash: number;
  /** Share of the flows each server should get after the change (Maglev), by address. */
  maglevSharesAfter: Record<string, number>;
  maglevSharesBefore: Record<string, number>;
}

function shares(table: Array<string | null>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of table) if (a) out[a] = (out[a] ?? 0) + 1 / table.length;
  return out;
}

/** The nft map as the suite writes it: server i appears weight_i times, in order. */
export function nftBuckets(servers: BenchServer[]): string[] {
  return servers.flatMap((s) => Array.from({ length: s.weight }, () => s.address));
}

/** Fraction of a uniform hash range that maps to another server when the buckets change. */
export function rangeRemapFraction(before: string[], after: string[]): number {
  // Walk the union of cut points of both partitions of [0, 1).
  const cuts = new Set<number>([0, 1]);
  before.forEach((_, i) => cuts.add(i / before.length));
  after.forEach((_, i) => cuts.add(i / after.length));
  const points = [...cuts].sort((a, b) => a - b);
  let moved = 0;
  for (let k = 0; k + 1 < points.length; k++) {
    const lo = points[k]!;
    const hi = points[k + 1]!;
    const mid = (lo + hi) / 2;
    const a = before[Math.floor(mid * before.length)];
    const b = after[Math.floor(mid * after.length)];
    if (a !== b) moved += hi - lo;
  }
  return moved;
}

export function forecastMoves(maglevTable: MaglevTableFn, size: number, before: BenchServer[], after: BenchServer[]): MoveForecast {
  const t0 = owners(maglevTable(before.map(({ address, weight }) => ({ address, weight })), size), before);
  const t1 = owners(maglevTable(after.map(({ address, weight }) => ({ address, weight })), size), after);
  let changed = 0;
  for (let i = 0; i < t0.length; i++) if (t0[i] !== t1[i]) changed++;
  const alive = new Set(after.filter((s) => s.weight > 0).map((s) => s.address));
  // Established flows move only when their server left (or can take nothing any more).
  const orphaned = t0.filter((a) => a !== null && !alive.has(a) && !after.some((s) => s.address === a)).length;
  return {
    lasWithFlowTable: orphaned / t0.length,
    maglevStateless: changed / t0.length,
    nftJhash: rangeRemapFraction(nftBuckets(before), nftBuckets(after)),
    maglevSharesBefore: shares(t0),
    maglevSharesAfter: shares(t1),
  };
}
