// Main-thread side of flow aging: runs an aging pass on the worker every periodMs and asks it for
// flow listings (`las flows`). One worker thread, so its per-table cursors persist between passes.
import { Piscina } from 'piscina';
import type { FlowTimeouts, ServiceConfig } from '../../config/types.js';
import { ipv4ToInt } from '../ipv4.js';
import { ipv6ToBytes } from '../ipv6.js';
import { loadAddon } from '../../native/binding.js';
import type { Logger } from '../logger.js';
import type { AgeResult, AgeTask, ConnectionsTask, ListTask } from './aging-worker.js';
import type { ConnectionCount } from './connections.js';
import { PROTO_TCP, PROTO_UDP, timeoutsMs, type TimeoutsMs } from './policy.js';
import type { FlowFilter, FlowListing } from './scan.js';
import { wordsKey, type FlowFilter6 } from './scan6.js';

const AGING_PERIOD_MS = 250;
const MAX_COMMANDS_PER_PASS = 16_384; // a quarter of an I/O thread's expiry queue

/**
 * How long one full sweep of the tables should take: a quarter of the shortest timeout, at least
 * 1 s and at most 10 s. A flow is therefore removed between its timeout and its timeout plus one
 * sweep (plus one pass); the slots per pass follow from this and the table size (budgetFor).
 */
export function sweepTargetMs(t: TimeoutsMs): number {
  return Math.min(10_000, Math.max(1000, Math.min(...Object.values(t)) / 4));
}

export interface AgingTotals { passes: number; scanned: number; expired: number; refused: number; sweeps: number }

const protoOf = (s: ServiceConfig) => (s.protocol === 'tcp' ? PROTO_TCP : PROTO_UDP);

// The v4 flow table's filters: a v6 service's flows live in the v6 table (native/lb/flow_table.h).
function flowFilters(services: ServiceConfig[]): FlowFilter[] {
  return services.filter((s) => !s.vip.includes(':')).map((s) => ({ name: s.name, vip: ipv4ToInt(s.vip), port: s.port, proto: protoOf(s) }));
}

// The v6 table's filters, with each server's identity (what its entries hold instead of the address).
function flowFilters6(services: ServiceConfig[]): FlowFilter6[] {
  const addon = loadAddon();
  const identity = (address: string) => addon.serverIdentity6(new Uint8Array(ipv6ToBytes(address)));
  return services.filter((s) => s.vip.includes(':')).map((s) => ({
    name: s.name, vip: wordsKey(ipv6ToBytes(s.vip)), vipText: s.vip, port: s.port, proto: protoOf(s),
    servers: [...s.servers, ...(s.sorryServer ? [s.sorryServer] : [])].map((r): [number, string] => [identity(r.address), r.address]),
  }));
}

export class FlowAging {
  private readonly pool: Piscina<AgeTask | ListTask | ConnectionsTask, AgeResult | FlowListing | ConnectionCount[]>;
  private timeouts: TimeoutsMs;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private running?: Promise<void>;
  private refusedLoggedAt = 0;
  private counting?: { services: ServiceConfig[]; result: Promise<ConnectionCount[]> };
  readonly totals: AgingTotals = { passes: 0, scanned: 0, expired: 0, refused: 0, sweeps: 0 };

  constructor(
    private readonly dataplaneId: number,
    timeouts: FlowTimeouts,
    private readonly idleBoundMs: number,
    private readonly log: Logger,
    private readonly periodMs = AGING_PERIOD_MS,
  ) {
    this.timeouts = timeoutsMs(timeouts);
    this.pool = new Piscina({
      filename: new URL('./aging-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.MAX_SAFE_INTEGER,
    });
  }

  start(): void {
    this.schedule();
  }

  setTimeouts(timeouts: FlowTimeouts): void {
    this.timeouts = timeoutsMs(timeouts);
  }

  list(services: ServiceConfig[], only: string | undefined, limit: number): Promise<FlowListing> {
    return this.pool.run({
      kind: 'list', dataplaneId: this.dataplaneId, services: flowFilters(services), services6: flowFilters6(services), ...(only !== undefined ? { only } : {}),
      limit, timeouts: this.timeouts, idleBoundMs: this.idleBoundMs,
    }) as Promise<FlowListing>;
  }

  /**
   * Active and inactive connections per server (connections.ts), for `las status`. Requests that
   * arrive while a count runs share it: a storm of status requests costs one table pass at a time,
   * and the aging passes queued behind it wait at most that long.
   */
  connections(services: ServiceConfig[]): Promise<ConnectionCount[]> {
    if (this.counting?.services === services) return this.counting.result;
    const result = (this.pool.run({ kind: 'connections', dataplaneId: this.dataplaneId, services: flowFilters(services), services6: flowFilters6(services) }) as Promise<ConnectionCount[]>)
      .finally(() => {
        if (this.counting?.result === result) this.counting = undefined;
      });
    this.counting = { services, result };
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.pool.destroy();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => this.schedule());
    }, this.periodMs);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    try {
      const r = (await this.pool.run({
        kind: 'age', dataplaneId: this.dataplaneId, timeouts: this.timeouts, sweepMs: sweepTargetMs(this.timeouts), periodMs: this.periodMs,
        maxCommands: MAX_COMMANDS_PER_PASS,
      })) as AgeResult;
      this.totals.passes++;
      this.totals.scanned += r.scanned;
      this.totals.expired += r.expired;
      this.totals.refused += r.refused;
      if (r.wrapped) this.totals.sweeps++;
      if (r.expired > 0) this.log.debug({ expired: r.expired, scanned: r.scanned }, 'flows aged out');
      if (r.refused > 0 && Date.now() - this.refusedLoggedAt > 60_000) {
        this.refusedLoggedAt = Date.now();
        this.log.warn({ refused: r.refused, refusedTotal: this.totals.refused }, 'expiry queue full: flows will be aged on the next sweep (logged at most once a minute)');
      }
    } catch (error) {
      if (!this.closed) this.log.error({ err: error }, 'aging pass failed');
    }
  }
}
