// `las demo --routed`: what the demo prints for the routed layout (routed-dr.ts), where the
// dispatcher is the router between the clients' subnet and the servers' segment.
import type { RoutedDr } from '../netns/routed-dr.js';

/** The topology, one line each: clients, the dispatcher's two NICs, servers, and how packets go. */
export function routedTopologyLines(layout: RoutedDr): string[] {
  const row = (role: string, address: string, mac: string, where: string) => `  ${role.padEnd(11)} ${address.padEnd(12)} ${mac}  ${where}`;
  const d = layout.dispatcher;
  const e = layout.dispatcherEgress;
  return [
    `  clients' subnet ${layout.clientSubnet}, servers' segment ${layout.serverSubnet}, VIP ${layout.vip} on neither`,
    ...layout.clients.map((c) => row(c.role, c.address, c.mac, `${c.ns}  default via ${layout.gateways.client}`)),
    row('dispatcher', d.address, d.mac, `${d.ns} ${d.ifname}: "interface" (client side), ip_forward=1`),
    row('', e.address, e.mac, `${e.ns} ${e.ifname}: "egressInterface" (server side)`),
    ...layout.servers.map((s) => row(s.name, s.address, s.mac, `${s.ns}  default via ${layout.gateways.server}`)),
    `  VIP ${layout.vip}: routed by the clients to the dispatcher; LAS sends each connection out of ${e.ifname} to a`,
    `  server (VIP on lo, ARP-silent), whose reply goes back through the dispatcher's kernel (${e.ifname} -> ${d.ifname})`,
  ];
}
