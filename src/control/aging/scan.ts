// Reading the fast path's flow tables from the control plane (FLOW_ENTRY_LAYOUT). The views are
// written concurrently by the I/O threads, so an entry may be torn while read: that is harmless
// because an expiry command carries the lastSeenMs it was decided on and the I/O thread applies it
// only if the entry still has that stamp. Pure over ArrayBuffers: unit-tested with fake tables.
import { FLOW_ENTRY_BYTES, FLOW_ENTRY_LAYOUT as L } from '../../native/contract.js';
import { intToIpv4 } from '../ipv4.js';
import { flowState, idleMs, timeoutFor, type FlowState, type TimeoutsMs } from './policy.js';

export const ENTRY_BYTES = FLOW_ENTRY_BYTES;
const WORDS = ENTRY_BYTES / 4;
export const COMMAND_WORDS = 5; // [src, dst, sport << 16 | dport, proto, lastSeenMs]

export interface TableView {
  worker: number;
  slots: number;
  buffer: ArrayBuffer;
}

export interface ExpiryScan {
  next: number;          // slot to start the next pass at
  scanned: number;       // slots examined
  live: number;          // used entries seen
  commands: Uint32Array; // COMMAND_WORDS per expired flow
}

/** Where the expiry scan reads an entry: the v4 layout here, the v6 one in scan6.ts. */
export interface EntryShape {
  bytes: number;
  layout: { used: number; proto: number; tcpFlagsSeen: number; lastSeenMs: number; sport: number; src: number };
  addressWords: number; // 1 (v4) or 4 (v6); the destination follows the source in both layouts
}

const V4_SHAPE: EntryShape = { bytes: ENTRY_BYTES, layout: L, addressWords: 1 };

/**
 * Examines up to `budget` slots from `start` (wrapping) and returns expiry commands for flows idle
 * longer than their state allows, at most `maxCommands` of them (the rest are found next time).
 * A command is [source, destination, sport << 16 | dport, proto, lastSeenMs], each address in
 * `shape.addressWords` words.
 */
export function scanEntries(shape: EntryShape, view: TableView, start: number, budget: number, nowMs: number, t: TimeoutsMs, maxCommands: number): ExpiryScan {
  const { layout, addressWords } = shape;
  const entryWords = shape.bytes / 4;
  const commandWords = 2 * addressWords + 3;
  const words = new Uint32Array(view.buffer, 0, view.slots * entryWords);
  const bytes = new Uint8Array(view.buffer, 0, view.slots * shape.bytes);
  const out: number[] = [];
  let slot = start % view.slots;
  let scanned = 0;
  let live = 0;
  const limit = Math.min(budget, view.slots);
  while (scanned < limit && out.length < maxCommands * commandWords) {
    const b = slot * shape.bytes;
    if (bytes[b + layout.used]) {
      live++;
      const w = slot * entryWords;
      const proto = bytes[b + layout.proto]!;
      const lastSeen = words[w + layout.lastSeenMs / 4]!;
      if (idleMs(nowMs, lastSeen) > timeoutFor(flowState(proto, bytes[b + layout.tcpFlagsSeen]!), t)) {
        const ports = words[w + layout.sport / 4]!; // sport in the low half, dport in the high half (little-endian)
        for (let i = 0; i < 2 * addressWords; i++) out.push(words[w + layout.src / 4 + i]!);
        out.push((((ports & 0xffff) << 16) | (ports >>> 16)) >>> 0, proto, lastSeen);
      }
    }
    scanned++;
    slot = slot + 1 === view.slots ? 0 : slot + 1;
  }
  return { next: slot, scanned, live, commands: Uint32Array.from(out) };
}

export function scanForExpiry(view: TableView, start: number, budget: number, nowMs: number, t: TimeoutsMs, maxCommands: number): ExpiryScan {
  return scanEntries(V4_SHAPE, view, start, budget, nowMs, t, maxCommands);
}

export interface FlowFilter {
  name: string;
  vip: number;       // host-order integer
  port: number;      // 0 = every port
  proto: number;
}

export interface FlowRecord {
  service: string | null;
  worker: number;
  protocol: string;
  client: string;        // "10.0.0.20:51234" (":0" is shown as the bare address for address-keyed flows)
  vip: string;           // "10.0.0.100:80"
  server: string;
  state: FlowState;
  ageMs: number;         // since the flow was created
  idleMs: number;        // since its last packet
  expiresInMs: number;   // by the aging policy or the idle bound, whichever is sooner
}

export interface FlowListing {
  total: number;         // matching flows in the tables
  flows: FlowRecord[];   // at most `limit`, in table order
}

function serviceOf(filters: FlowFilter[], dst: number, dport: number, proto: number): FlowFilter | undefined {
  return filters.find((f) => f.vip === dst && f.proto === proto && (f.port === 0 || f.port === dport));
}

/**
 * Lists flows of every table, optionally only those of one service (`only`, a name in `services`).
 * idleBoundMs: the native idle sweep's bound, which caps every state's timeout.
 */
export function listFlows(
  views: TableView[], services: FlowFilter[], only: string | undefined, limit: number, nowMs: number, t: TimeoutsMs, idleBoundMs: number,
): FlowListing {
  const filters = only === undefined ? services : services.filter((s) => s.name === only);
  const flows: FlowRecord[] = [];
  let total = 0;
  for (const view of views) {
    const words = new Uint32Array(view.buffer, 0, view.slots * WORDS);
    const bytes = new Uint8Array(view.buffer, 0, view.slots * ENTRY_BYTES);
    for (let slot = 0; slot < view.slots; slot++) {
      const b = slot * ENTRY_BYTES;
      if (!bytes[b + L.used]) continue;
      const w = slot * WORDS;
      const ports = words[w + L.sport / 4]!;
      const sport = ports & 0xffff;
      const dport = ports >>> 16;
      const proto = bytes[b + L.proto]!;
      const dst = words[w + L.dst / 4]!;
      const service = serviceOf(filters, dst, dport, proto);
      if (only !== undefined && !service) continue;
      total++;
      if (flows.length >= limit) continue;
      const state = flowState(proto, bytes[b + L.tcpFlagsSeen]!);
      const idle = idleMs(nowMs, words[w + L.lastSeenMs / 4]!);
      const src = intToIpv4(words[w + L.src / 4]!);
      flows.push({
        service: service?.name ?? serviceOf(services, dst, dport, proto)?.name ?? null,
        worker: view.worker,
        protocol: proto === 6 ? 'tcp' : proto === 17 ? 'udp' : String(proto),
        client: sport === 0 ? src : `${src}:${sport}`,
        vip: `${intToIpv4(dst)}:${dport}`,
        server: intToIpv4(words[w + L.serverAddress / 4]!),
        state,
        ageMs: idleMs(nowMs, words[w + L.createdMs / 4]!),
        idleMs: idle,
        expiresInMs: Math.max(0, Math.min(timeoutFor(state, t), idleBoundMs) - idle),
      });
    }
  }
  return { total, flows };
}
