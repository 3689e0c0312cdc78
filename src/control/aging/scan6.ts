// The v6 flow tables (FLOW_ENTRY6_LAYOUT: 64-byte entries, 16-byte addresses as on the wire) read
// the way scan.ts reads the v4 ones: expiry commands for the I/O threads, `las flows` rows and the
// per-server counts of `las status`. A v6 entry names its server by a 32-bit identity (a hash of the
// address), so each service filter carries its servers' identities to print their addresses.
// Pure over ArrayBuffers, like scan.ts; torn reads are harmless for the same reasons.
import { FLOW_ENTRY6_BYTES, FLOW_ENTRY6_LAYOUT as L } from '../../native/contract.js';
import { canonicalIPv6 } from '../../config/addresses.js';
import { flowState, idleMs, timeoutFor, PROTO_TCP, PROTO_UDP, type TimeoutsMs } from './policy.js';
import { isActive, type ConnectionCount } from './connections.js';
import { scanEntries, type EntryShape, type ExpiryScan, type FlowRecord, type FlowListing, type TableView } from './scan.js';

export const ENTRY6_BYTES = FLOW_ENTRY6_BYTES;
const WORDS = ENTRY6_BYTES / 4;
export const COMMAND6_WORDS = 11; // [src x4, dst x4, sport << 16 | dport, proto, lastSeenMs]

export interface FlowFilter6 {
  name: string;
  vip: string;                 // the address's 16 bytes read as four native-order words, joined by ','
  vipText: string;             // canonical text, for output
  port: number;                // 0 = every port
  proto: number;
  servers: [number, string][]; // [identity, canonical address]
}

/** The 16 bytes of an address, as the table holds them, turned into the filter's `vip` key. */
export function wordsKey(bytes: Uint8Array): string {
  const w = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 16));
  return `${w[0]},${w[1]},${w[2]},${w[3]}`;
}

const hex = (bytes: Uint8Array, at: number) =>
  Array.from({ length: 8 }, (_, i) => ((bytes[at + 2 * i]! << 8) | bytes[at + 2 * i + 1]!).toString(16)).join(':');
const text = (bytes: Uint8Array, at: number) => canonicalIPv6(hex(bytes, at))!;

const V6_SHAPE: EntryShape = { bytes: ENTRY6_BYTES, layout: L, addressWords: 4 };

/** As scanForExpiry (scan.ts), for a v6 table: COMMAND6_WORDS per expired flow. */
export function scanForExpiry6(view: TableView, start: number, budget: number, nowMs: number, t: TimeoutsMs, maxCommands: number): ExpiryScan {
  return scanEntries(V6_SHAPE, view, start, budget, nowMs, t, maxCommands);
}

interface Entry6 {
  dstKey: string;
  sport: number;
  dport: number;
  proto: number;
}

/** Calls visit for every used entry of every view. */
function forEachEntry(views: TableView[], visit: (e: Entry6, view: TableView, bytes: Uint8Array, words: Uint32Array, b: number) => void): void {
  for (const view of views) {
    const words = new Uint32Array(view.buffer, 0, view.slots * WORDS);
    const bytes = new Uint8Array(view.buffer, 0, view.slots * ENTRY6_BYTES);
    for (let slot = 0; slot < view.slots; slot++) {
      const b = slot * ENTRY6_BYTES;
      if (!bytes[b + L.used]) continue;
      const w = b / 4 + L.dst / 4;
      const ports = words[b / 4 + L.sport / 4]!;
      visit({ dstKey: `${words[w]},${words[w + 1]},${words[w + 2]},${words[w + 3]}`, sport: ports & 0xffff, dport: ports >>> 16, proto: bytes[b + L.proto]! }, view, bytes, words, b);
    }
  }
}

function serviceOf(filters: FlowFilter6[], e: Entry6): FlowFilter6 | undefined {
  return filters.find((f) => f.vip === e.dstKey && f.proto === e.proto && (f.port === 0 || f.port === e.dport));
}

const serverText = (f: FlowFilter6 | undefined, identity: number) =>
  f?.servers.find(([id]) => id === identity)?.[1] ?? `identity ${identity}`;

/** As countConnections (connections.ts), for the v6 tables. */
export function countConnections6(views: TableView[], services: FlowFilter6[]): ConnectionCount[] {
  const counts = new Map<string, ConnectionCount>();
  forEachEntry(views, (e, _view, bytes, words, b) => {
    const s = serviceOf(services, e);
    if (!s) return;
    const server = serverText(s, words[b / 4 + L.serverAddress / 4]!);
    const key = `${s.name}\n${server}`;
    let c = counts.get(key);
    if (!c) counts.set(key, (c = { service: s.name, server, active: 0, inactive: 0 }));
    if (isActive(flowState(e.proto, bytes[b + L.tcpFlagsSeen]!))) c.active++;
    else c.inactive++;
  });
  return [...counts.values()];
}

/** As listFlows (scan.ts), for the v6 tables: addresses in v6 text, endpoints as `[addr]:port`. */
export function listFlows6(
  views: TableView[], services: FlowFilter6[], only: string | undefined, limit: number, nowMs: number, t: TimeoutsMs, idleBoundMs: number,
): FlowListing {
  const filters = only === undefined ? services : services.filter((s) => s.name === only);
  const flows: FlowRecord[] = [];
  let total = 0;
  forEachEntry(views, (e, view, bytes, words, b) => {
    const service = serviceOf(filters, e) ?? (only === undefined ? undefined : null);
    if (service === null) return;
    total++;
    if (flows.length >= limit) return;
    const state = flowState(e.proto, bytes[b + L.tcpFlagsSeen]!);
    const idle = idleMs(nowMs, words[b / 4 + L.lastSeenMs / 4]!);
    const src = text(bytes, b + L.src);
    const owner = service ?? serviceOf(services, e);
    flows.push({
      service: owner?.name ?? null,
      worker: view.worker,
      protocol: e.proto === PROTO_TCP ? 'tcp' : e.proto === PROTO_UDP ? 'udp' : String(e.proto),
      client: e.sport === 0 ? src : `[${src}]:${e.sport}`,
      vip: `[${text(bytes, b + L.dst)}]:${e.dport}`,
      server: serverText(owner, words[b / 4 + L.serverAddress / 4]!),
      state,
      ageMs: idleMs(nowMs, words[b / 4 + L.createdMs / 4]!),
      idleMs: idle,
      expiresInMs: Math.max(0, Math.min(timeoutFor(state, t), idleBoundMs) - idle),
    });
  });
  return { total, flows };
}
