// The status page's charts: every HISTORY_INTERVAL_MS the daemon turns the fast path's counters
// into rates (packets and bytes per second per service and server, drops per second by reason) and
// hands the sample to the metrics listener, which keeps the last HISTORY_SAMPLES of them: a bounded
// window (10 minutes) whatever the uptime.
import type { DataplaneStats } from '../native/binding.js';
import type { ServiceStatus } from './status.js';

export const HISTORY_INTERVAL_MS = 2000;
export const HISTORY_SAMPLES = 300;

export interface Rates { pps: number; bps: number; flows: number }  // bps: bytes per second

export interface RatePoint {
  seq: number;
  atMs: number;
  services: Record<string, Rates & { servers: Record<string, Rates> }>;
  drops: Record<string, number>;   // per second, all workers, by reason
}

const round = (n: number) => Math.round(n * 10) / 10;

/** Rates between consecutive samples; the first sample only sets the baseline. */
export class RateSampler {
  private prev?: { atMs: number; totals: Map<string, number> };
  private seq = 0;

  sample(atMs: number, stats: DataplaneStats | undefined, status: ServiceStatus[]): RatePoint | undefined {
    if (!stats) return undefined;
    const totals = new Map<string, number>();
    const prev = this.prev;
    const seconds = prev ? Math.max(0.001, (atMs - prev.atMs) / 1000) : 1;
    // A counter that went back (a server removed and added again) counts as 0, not negative.
    const rate = (key: string, total: number) => {
      totals.set(key, total);
      const before = prev?.totals.get(key);
      return before === undefined ? 0 : round(Math.max(0, total - before) / seconds);
    };
    const point: RatePoint = { seq: this.seq + 1, atMs, services: {}, drops: {} };
    for (const s of status) {
      const c = stats.services.find((x) => x.vip === s.vip && x.port === s.port && x.protocol === s.protocol);
      const servers: Record<string, Rates> = {};
      for (const r of s.servers) {
        const k = `${s.name}\0${r.address}`;
        servers[r.address] = { pps: rate(`${k}\0p`, Number(r.packets)), bps: rate(`${k}\0b`, Number(r.bytes)), flows: r.activeFlows };
      }
      point.services[s.name] = {
        pps: rate(`${s.name}\0p`, Number(c?.packets ?? 0n)),
        bps: rate(`${s.name}\0b`, Number(c?.bytes ?? 0n)),
        flows: s.servers.reduce((sum, r) => sum + r.activeFlows, 0),
        servers,
      };
    }
    const drops = new Map<string, number>();
    for (const w of stats.workers) for (const [reason, n] of Object.entries(w.drops)) drops.set(reason, (drops.get(reason) ?? 0) + Number(n));
    for (const [reason, n] of drops) point.drops[reason] = rate(`drop\0${reason}`, n);
    this.prev = { atMs, totals };
    if (!prev) return undefined;
    this.seq = point.seq;
    return point;
  }
}
