// ActiveConn / InActConn per server for `las status`, read from the flow tables like ipvsadm -Ln
// reads IPVS's connection table. LAS sees only the client's half of a connection (DR), so the state
// is the client's flags (policy.ts): a TCP flow is active once the client has ACKed and until it
// sends FIN or RST; SYN-only, closing and closed TCP flows are inactive, and so is every UDP or
// other flow, as in IPVS. A flow leaves both counts when aging removes it.
import { FLOW_ENTRY_LAYOUT as L } from '../../native/binding.js';
import { intToIpv4 } from '../ipv4.js';
import { flowState, type FlowState } from './policy.js';
import { ENTRY_BYTES, type FlowFilter, type TableView } from './scan.js';

export interface ConnectionCount {
  service: string;
  server: string;
  active: number;
  inactive: number;
}

const ACTIVE: ReadonlySet<FlowState> = new Set(['ESTABLISHED', 'NONE']);

export const isActive = (state: FlowState): boolean => ACTIVE.has(state);

/** Counts every used entry of every table by (service, server); flows of no configured service are left out. */
export function countConnections(views: TableView[], services: FlowFilter[]): ConnectionCount[] {
  // vip/port/proto -> service name, with port 0 for the services that take every port.
  const byEndpoint = new Map<string, string>();
  for (const s of services) byEndpoint.set(`${s.vip}/${s.port}/${s.proto}`, s.name);
  const counts = new Map<string, ConnectionCount>();
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
      const service = byEndpoint.get(`${dst}/${dport}/${proto}`) ?? byEndpoint.get(`${dst}/0/${proto}`);
      if (service === undefined) continue;
      const server = w32[w + L.serverAddress / 4]!;
      const key = `${service}\u0000${server}`;
      let c = counts.get(key);
      if (!c) {
        c = { service, server: intToIpv4(server), active: 0, inactive: 0 };
        counts.set(key, c);
      }
      if (isActive(flowState(proto, bytes[b + L.tcpFlagsSeen]!))) c.active++;
      else c.inactive++;
    }
  }
  return [...counts.values()];
}
