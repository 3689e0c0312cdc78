// What this dispatcher asks its routers to send it, in a form no BGP speaker owns: a list of /32
// prefixes and the next hop. A VIP is in it while LAS runs, the dispatcher is not drained, and at
// least one service on that VIP has a server that can take new flows. Pure.
import type { ServerState } from '../server-state.js';

export interface AnnounceSet {
  nextHop: string;      // this dispatcher's own address (ha.bgp.localAddress)
  prefixes: string[];   // "10.80.0.100/32", sorted
}

export function announceSet(state: ServerState, macs: ReadonlyMap<string, string>, nextHop: string, drained: boolean): AnnounceSet {
  const vips = new Set<string>();
  if (!drained) for (const svc of state.list()) if (state.hasServerForNewFlows(svc, macs)) vips.add(svc.config.vip);
  return { nextHop, prefixes: [...vips].sort().map((vip) => `${vip}/32`) };
}

export const sameSet = (a: AnnounceSet | undefined, b: AnnounceSet) =>
  a !== undefined && a.nextHop === b.nextHop && a.prefixes.join() === b.prefixes.join();
