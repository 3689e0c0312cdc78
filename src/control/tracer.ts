// The daemon's side of `las trace`: up to MAX_TRACE_CLIENTS clients, each with its own filter in a
// fixed slot of the fast path's filter set. While one runs, the workers' trace rings are drained
// every TRACE_POLL_MS and each record goes to the clients whose filter took it; when the last
// client goes, the filter set is emptied and the fast path is back to its untraced loop.
import type { Logger } from './logger.js';
import { decodeTraceRecords, TRACE_MATCHED_OFFSET, TRACE_RECORD_BYTES, type RawTraceRecord, type TraceEvent } from './trace-records.js';
import { encodeTraceFilters, NO_TRACE_FILTER, type TraceFilter } from './trace-filter.js';
import { canonicalIPv6 } from '../config/addresses.js';

/** The native limit (kMaxTraceFilters): one filter slot per client. */
export const MAX_TRACE_CLIENTS = 4;
export const TRACE_POLL_MS = 50;
/**
 * Records decoded and sent per poll (20 k/s): the rings are emptied every poll so what is shown stays
 * current, and the rest is counted as lost, so a trace matching every frame of a flood costs the
 * main thread a bounded amount.
 */
export const TRACE_EVENTS_PER_POLL = 1000;

export interface TraceDataplane {
  setTrace(filters: Uint32Array): void;
  drainTrace(maxPerWorker?: number): { records: ArrayBuffer; lost: number[] };
}

/** Where a client's lines go; send() is false when the client does not keep up (the lines are dropped). */
export interface TraceSink {
  ready(): boolean;
  send(lines: unknown[]): void;
  end(line: unknown): void;
}

export interface TraceStatus {
  active: boolean;
  clients: { filter: string; since: string; events: number; lost: number }[];
}

interface Client { filter: TraceFilter; sink: TraceSink; since: number; events: number; lost: number; pendingLost: number }

const PROTO_NUMBERS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };

export class Tracer {
  private readonly slots: (Client | undefined)[] = new Array<Client | undefined>(MAX_TRACE_CLIENTS).fill(undefined);
  private timer?: NodeJS.Timeout;
  private ringLost: number[] = [];

  constructor(private readonly deps: {
    dataplane: () => TraceDataplane | undefined;
    dropReasons: readonly string[];
    services: () => readonly { name: string; vip: string; port: number; protocol: string }[];
    log: Logger;
  }) {}

  /** Starts a client; returns its stop function. Throws when every slot is taken. */
  open(filter: TraceFilter, sink: TraceSink): () => void {
    const dataplane = this.deps.dataplane();
    if (!dataplane) throw new Error('the daemon is not running the fast path yet');
    const slot = this.slots.findIndex((c) => c === undefined);
    if (slot < 0) throw new Error(`${MAX_TRACE_CLIENTS} traces are running already (the most at once); stop one (Ctrl-C its las trace) and try again`);
    const client: Client = { filter, sink, since: Date.now(), events: 0, lost: 0, pendingLost: 0 };
    this.slots[slot] = client;
    this.install(dataplane);
    this.deps.log.info({ filter: filter.text, slot }, 'trace started');
    this.timer ??= setInterval(() => this.poll(), TRACE_POLL_MS);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.poll(); // what the rings hold under this slot goes out (or is dropped) before the slot is freed
      this.slots[slot] = undefined;
      this.deps.log.info({ filter: filter.text, events: client.events, lost: client.lost }, 'trace stopped');
      const dp = this.deps.dataplane();
      if (dp) this.install(dp);
      if (this.slots.every((c) => c === undefined) && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  status(): TraceStatus {
    const clients = this.slots.filter((c): c is Client => c !== undefined);
    return {
      active: clients.length > 0,
      clients: clients.map((c) => ({ filter: c.filter.text, since: new Date(c.since).toISOString(), events: c.events, lost: c.lost })),
    };
  }

  /** The daemon stops: every client gets a last line and the fast path stops tracing. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (let i = 0; i < this.slots.length; i++) {
      this.slots[i]?.sink.end({ end: 'the daemon is stopping' });
      this.slots[i] = undefined;
    }
    try {
      this.deps.dataplane()?.setTrace(new Uint32Array(0));
    } catch {
      // the fast path is already gone
    }
  }

  /** Slots keep their index (a record's filter bit); a free slot below a used one matches nothing. */
  private install(dataplane: TraceDataplane): void {
    let last = -1;
    this.slots.forEach((c, i) => { if (c) last = i; });
    dataplane.setTrace(encodeTraceFilters(this.slots.slice(0, last + 1).map((c) => c?.filter ?? NO_TRACE_FILTER)));
  }

  private poll(): void {
    const dataplane = this.deps.dataplane();
    if (!dataplane) return;
    let drained;
    try {
      drained = dataplane.drainTrace();
    } catch (error) {
      this.deps.log.warn({ err: error }, 'reading the trace rings failed');
      return;
    }
    // Records the workers could not keep because a ring was full: every client is told.
    let ringLost = 0;
    drained.lost.forEach((n, w) => {
      ringLost += n - (this.ringLost[w] ?? 0);
      this.ringLost[w] = n;
    });
    const clients = this.slots.map((c) => (c && c.sink.ready() ? c : undefined));
    const byClient: TraceEvent[][] = this.slots.map((): TraceEvent[] => []);
    if (drained.records.byteLength > 0) {
      const serviceName = this.serviceNames();
      const total = drained.records.byteLength / TRACE_RECORD_BYTES;
      const shown = Math.min(total, TRACE_EVENTS_PER_POLL);
      const records = clients.some((c) => c) ? decodeTraceRecords(drained.records.slice(0, shown * TRACE_RECORD_BYTES), this.deps.dropReasons, serviceName) : [];
      // Beyond the bound, or for a client that does not keep up: counted as lost by the traces whose
      // filter took the record, never decoded.
      const view = new DataView(drained.records);
      for (let k = 0; k < total; k++) {
        const matched = view.getUint8(k * TRACE_RECORD_BYTES + TRACE_MATCHED_OFFSET);
        this.slots.forEach((c, i) => { if (c && matched & (1 << i) && (k >= shown || !clients[i])) c.pendingLost++; });
      }
      for (const { matched, raw, event } of records) {
        clients.forEach((c, i) => {
          // Re-checked here: a freed slot's filter may still have taken a record a worker made
          // before it moved to the new set.
          if (c && matched & (1 << i) && rawMatches(c.filter, raw)) byClient[i]?.push(event);
        });
      }
    }
    this.slots.forEach((c, i) => {
      if (!c) return;
      if (ringLost > 0) c.pendingLost += ringLost;
      if (!clients[i]) return;
      const events = byClient[i] ?? [];
      const lines: unknown[] = events.map((event) => ({ event }));
      if (c.pendingLost > 0) {
        lines.push({ lost: c.pendingLost });
        c.lost += c.pendingLost;
        c.pendingLost = 0;
      }
      c.events += events.length;
      if (lines.length > 0) c.sink.send(lines);
    });
  }

  private serviceNames(): (vip: string, port: number, proto: number) => string | undefined {
    const byKey = new Map<string, string>();
    // Records print v6 addresses in canonical form; the config keeps them so, made sure here.
    const vipKey = (vip: string) => canonicalIPv6(vip) ?? vip;
    for (const s of this.deps.services()) byKey.set(`${vipKey(s.vip)}:${s.port}:${PROTO_NUMBERS[s.protocol] ?? 0}`, s.name);
    return (vip, port, proto) => byKey.get(`${vip}:${port}:${proto}`);
  }
}

/** The same test as the fast path's trace_matches(), on a decoded record. */
export function rawMatches(f: TraceFilter, r: RawTraceRecord): boolean {
  if (!(f.verdicts & (1 << r.action))) return false;
  if (f.family !== 0 && (f.family === 6) !== r.v6) return false;
  if (f.reason >= 0 && r.reason !== f.reason) return false;
  if (f.vip && r.dst !== f.vip) return false;
  if (f.port >= 0 && r.dport !== f.port) return false;
  if (f.proto && r.proto !== f.proto) return false;
  if (((r.src & f.clientMask) >>> 0) !== f.client) return false;
  if (f.server && r.server !== f.server) return false;
  if (f.family === 6) {
    const any = (w: readonly number[]) => w.every((x) => x === 0);
    const same = (a: readonly number[], b: readonly number[]) => a.every((x, i) => x === b[i]);
    if (!any(f.vip6) && !same(r.dst6, f.vip6)) return false;
    if (!f.client6.every((c, i) => ((r.src6[i]! & f.client6Mask[i]!) >>> 0) === c)) return false;
    if (!any(f.server6) && !same(r.server6, f.server6)) return false;
  }
  return true;
}
