// ActiveConn / InActConn per server for `las status`, read from the flow tables like ipvsadm -Ln
// reads IPVS's connection table. LAS sees only the client's half of a connection (DR), so the state
// is the client's flags (policy.ts): a TCP flow is active once the client has ACKed and until it
// sends FIN or RST; SYN-only, closing and closed TCP flows are inactive, and so is every UDP or
// other flow, as in IPVS. A flow leaves both counts when aging removes it.
import { FLOW_ENTRY_LAYOUT as L } from '../../native/binding.js';
import { intToIpv4 } from '../ipv4.js';
import { flowState, PROTO_TCP, PROTO_UDP, type FlowState } from './policy.js';
import { ENTRY_BYTES, type FlowFilter, type TableView } from './scan.js';

export interface ConnectionCount {
  service: string;
  server: string;
  active: number;
  inactive: number;
}

const ACTIVE: ReadonlySet<FlowState> = new Set(['ESTABLISHED', 'NONE']);

export const isActive = (state: FlowState): boolean => ACTIVE.has(state);

/**
 * A number per endpoint (< 2^49, exact in a double), not a string: building a string per entry made
 * a 1M-flow scan several times slower. Services are TCP or UDP; -1 for any other protocol.
 */
const endpointKey = (vip: number, port: number, proto: number) =>
  (proto === PROTO_TCP || proto === PROTO_UDP ? (vip * 65536 + port) * 2 + (proto === PROTO_UDP ? 1 : 0) : -1);

/** Counts every used entry of every table by (service, server); flows of no configured service are left out. */
export function countConnections(views: TableView[], services: FlowFilter[]): ConnectionCount[] {
  // vip/port/proto -> service index, with port 0 for the services that take every port.
  const byEndpoint = new Map<number, number>();
  services.forEach((s, i) => byEndpoint.set(endpointKey(s.vip, s.port, s.proto), i));
  const counts = new Map<number, ConnectionCount>();
  const words = ENTRY_BYTES / 4;
  for (const view of views) {
    const w32 = new Uint32Array(view.buffer, 0, view.slots * words);
    const bytes = new Uint8Array(view.buffer, 0, view.slots * ENTRY_BYTES);
    for (let slot = 0; slot < view.slots; slot++) {
      const b = slot * ENTRY_BYTES;
      if (!bytes[b + L.used]) continue;
      const w = slot * words;
      const dst = w32[w + L.dst / 4]!;
      const dport = w32[w + L.sport / 4]! >>> 16;
      const proto = bytes[b + L.proto]!;
      const index = byEndpoint.get(endpointKey(dst, dport, proto)) ?? byEndpoint.get(endpointKey(dst, 0, proto));
      if (index === undefined) continue;
      const server = w32[w + L.serverAddress / 4]!;
      const key = index * 2 ** 32 + server; // exact while there are fewer than 2^21 services
      let c = counts.get(key);
      if (!c) {
        c = { service: services[index]!.name, server: intToIpv4(server), active: 0, inactive: 0 };
        counts.set(key, c);
      }
      if (isActive(flowState(proto, bytes[b + L.tcpFlagsSeen]!))) c.active++;
      else c.inactive++;
    }
  }
  return [...counts.values()];
}
