// The routed LVS-DR layout: the dispatcher is the router between the clients' network and the
// servers' segment (the original design: clients on another subnet reach the VIP through it).
//
//   client(s) 10.78.0.10 ── br-clients ── eth0 10.78.0.1  [dispatcher]  eth1 10.79.0.1 ── br-servers ── s1 10.79.0.11
//             default via 10.78.0.1        `interface`    ip_forward=1  `egressInterface`                s2 10.79.0.12 ...
//                                                                                                  default via 10.79.0.1
//
// The clients route the VIP (everything: their default route) via the dispatcher's client-side
// address, so they ARP for that address, never for the VIP. LAS receives VIP frames on eth0 (its tc
// ingress drop keeps the dispatcher's kernel off them), rewrites the destination MAC to a server's and
// sends them out of eth1. The servers hold the VIP on lo (ARP-silent) and reply to the client from
// the VIP through their default gateway: the dispatcher's own kernel routes the replies back to the
// clients (they are not VIP-destined, and arrive on eth1, where no drop is installed).
//
// Both bridges live in one "switch" namespace; they are two separate L2 segments (the switch
// namespace has no addresses and does not route). The result is a DrSegment whose `dispatcher` is
// the client-side NIC (where VIP traffic arrives, `interface`), so the lab and the demo work on it.
import {
  DR_PREFIX_LENGTH, hostFinder, namespacesDestroyer, plainSwitch, quietIpv6, settleAll, setUpEndpoint, withLayout,
  type DrClient, type DrHost, type DrSegment, type DrSegmentOptions, type DrServer,
} from './lvs-dr.js';
import { addBridge, addNamespace, addRoute, setLinkUp, setSysctls, uniquePrefix } from './namespace.js';

const ROUTED_CLIENT_SUBNET = '10.78.0.0/24';
const ROUTED_SERVER_SUBNET = '10.79.0.0/24';
const ROUTED_CLIENT_GATEWAY = '10.78.0.1';   // the dispatcher's client-side address (eth0)
const ROUTED_SERVER_GATEWAY = '10.79.0.1';   // the dispatcher's server-side address (eth1)
const ROUTED_CLIENT_ADDRESS = '10.78.0.10';
const ROUTED_DEFAULT_VIP = '10.80.0.100';    // on neither subnet: reachable only through the dispatcher
const CLIENT_NET = '10.78.0.';
const SERVER_NET = '10.79.0.';
const FIRST_SERVER = 11;         // s1 = 10.79.0.11, s2 = .12, ...
const MAX_SERVERS = 40;
const FIRST_CLIENT_SOURCE = 20;  // extra client source addresses 10.78.0.20, .21, ...
const FIRST_EXTRA_CLIENT = 200;  // client2 = 10.78.0.201, ...
const ENDPOINT_IF = 'eth0';      // every host's (first) NIC
const DISPATCHER_EGRESS_IF = 'eth1';
const CLIENT_BRIDGE = 'br-clients';
const SERVER_BRIDGE = 'br-servers';

export interface RoutedDr extends DrSegment {
  layout: 'routed';
  /** `subnet` (of DrSegment) is the servers' segment; the clients are on this one. */
  clientSubnet: string;
  serverSubnet: string;
  /** The clients' bridge; `switch.bridge` is the servers'. Same switch namespace. */
  clientSwitch: { ns: string; bridge: string };
  /** The dispatcher's server-side NIC (`egressInterface`, role "dispatcher-egress"); `dispatcher` is its client side (`interface`). */
  dispatcherEgress: DrHost;
  /** The clients' default gateway (dispatcher eth0) and the servers' (dispatcher eth1). */
  gateways: { client: string; server: string };
}

export type RoutedDrOptions = DrSegmentOptions;

interface Plan { role: string; ns: string; ifname: string; port: string; bridge: string; address: string; extra: string[]; vip?: string; gateway?: string }

function plan(prefix: string, opts: RoutedDrOptions, vip: string): Plan[] {
  const servers = opts.servers;
  const clients = opts.clients ?? 1;
  const sources = opts.clientAddresses ?? 1;
  if (!Number.isInteger(servers) || servers < 1 || servers > MAX_SERVERS) throw new Error(`servers must be 1..${MAX_SERVERS}, got ${servers}`);
  if (!Number.isInteger(clients) || clients < 1 || clients > 50) throw new Error(`clients must be 1..50, got ${clients}`);
  if (!Number.isInteger(sources) || sources < 1 || sources > 80) throw new Error(`clientAddresses must be 1..80, got ${sources}`);
  const dispatcherNs = `${prefix}-dispatcher`;
  const plans: Plan[] = [
    { role: 'dispatcher', ns: dispatcherNs, ifname: ENDPOINT_IF, port: 'p-disp-in', bridge: CLIENT_BRIDGE, address: ROUTED_CLIENT_GATEWAY, extra: [] },
    { role: 'dispatcher-egress', ns: dispatcherNs, ifname: DISPATCHER_EGRESS_IF, port: 'p-disp-out', bridge: SERVER_BRIDGE, address: ROUTED_SERVER_GATEWAY, extra: [] },
  ];
  for (let i = 0; i < clients; i++) {
    const role = i === 0 ? 'client' : `client${i + 1}`;
    plans.push({
      role, ns: `${prefix}-${role}`, ifname: ENDPOINT_IF, port: `p-${role}`, bridge: CLIENT_BRIDGE,
      address: i === 0 ? ROUTED_CLIENT_ADDRESS : `${CLIENT_NET}${FIRST_EXTRA_CLIENT + i}`,
      extra: i === 0 && sources > 1 ? Array.from({ length: sources }, (_, k) => `${CLIENT_NET}${FIRST_CLIENT_SOURCE + k}`) : [],
      gateway: ROUTED_CLIENT_GATEWAY,
    });
  }
  for (let i = 1; i <= servers; i++) {
    plans.push({
      role: `s${i}`, ns: `${prefix}-s${i}`, ifname: ENDPOINT_IF, port: `p-s${i}`, bridge: SERVER_BRIDGE,
      address: `${SERVER_NET}${FIRST_SERVER + i - 1}`, extra: [], vip, gateway: ROUTED_SERVER_GATEWAY,
    });
  }
  if (plans.some((p) => p.address === vip || p.extra.includes(vip))) throw new Error(`vip ${vip} collides with a host address`);
  return plans;
}

/** Builds the routed layout; on any failure removes what it already created and rethrows. */
export async function createRoutedDr(opts: RoutedDrOptions): Promise<RoutedDr> {
  const vip = opts.vip ?? ROUTED_DEFAULT_VIP;
  const prefix = uniquePrefix(opts.prefix ?? 'lasr');
  const plans = plan(prefix, opts, vip);
  const switchNs = `${prefix}-switch`;
  const namespaces = [switchNs, ...new Set(plans.map((p) => p.ns))];
  const destroy = namespacesDestroyer(prefix, namespaces);
  try {
    await settleAll(namespaces.map(async (ns) => { await addNamespace(ns); await quietIpv6(ns); }));
    for (const bridge of [CLIENT_BRIDGE, SERVER_BRIDGE]) {
      await addBridge(switchNs, bridge);
      await setLinkUp(switchNs, bridge);
    }
    await plainSwitch(switchNs);
    const setUp = async (p: Plan): Promise<DrHost> => {
      const cidrs = [p.address, ...p.extra].map((address) => `${address}/${DR_PREFIX_LENGTH}`);
      const mac = await setUpEndpoint(switchNs, p.bridge, { ns: p.ns, ifname: p.ifname, port: p.port, cidrs, ...(p.vip !== undefined ? { vip: p.vip } : {}) });
      if (p.gateway) await addRoute(p.ns, 'default', p.gateway);
      return { role: p.role, ns: p.ns, ifname: p.ifname, address: p.address, mac, port: p.port };
    };
    const dispatcherPlans = plans.filter((p) => p.role.startsWith('dispatcher'));
    const [hostsOfDispatcher, others] = await settleAll<DrHost[]>([
      // The dispatcher's two NICs one after the other (same namespace), then it routes.
      (async () => {
        const nics: DrHost[] = [];
        for (const p of dispatcherPlans) nics.push(await setUp(p));
        await setSysctls(dispatcherPlans[0]!.ns, { 'net.ipv4.ip_forward': 1 });
        return nics;
      })(),
      settleAll(plans.filter((p) => !p.role.startsWith('dispatcher')).map(setUp)),
    ]);
    const hosts = [...hostsOfDispatcher!, ...others!];
    const host = hostFinder(prefix, hosts);
    const clients: DrClient[] = plans
      .filter((p) => p.role.startsWith('client'))
      .map((p) => ({ ...host(p.role), sources: p.extra.length > 0 ? p.extra : [p.address] }));
    const servers: DrServer[] = plans.filter((p) => p.vip !== undefined).map((p) => ({ ...host(p.role), name: p.role }));
    return {
      layout: 'routed',
      prefix,
      subnet: ROUTED_SERVER_SUBNET,
      clientSubnet: ROUTED_CLIENT_SUBNET,
      serverSubnet: ROUTED_SERVER_SUBNET,
      vip,
      switch: { ns: switchNs, bridge: SERVER_BRIDGE },
      clientSwitch: { ns: switchNs, bridge: CLIENT_BRIDGE },
      client: clients[0]!,
      clients,
      dispatcher: host('dispatcher'),
      dispatcherEgress: host('dispatcher-egress'),
      gateways: { client: ROUTED_CLIENT_GATEWAY, server: ROUTED_SERVER_GATEWAY },
      servers,
      namespaces,
      ns: (role) => (role === 'switch' ? switchNs : host(role).ns),
      host,
      destroy,
    };
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}

/** Creates the routed layout, runs fn, and always destroys it, also when fn throws. */
export function withRoutedDr<T>(opts: RoutedDrOptions, fn: (layout: RoutedDr) => Promise<T>): Promise<T> {
  return withLayout(createRoutedDr, opts, fn);
}

/** True for a layout built by createRoutedDr (the demo and the lab take either kind). */
export function isRoutedDr(segment: DrSegment): segment is RoutedDr {
  return (segment as Partial<RoutedDr>).layout === 'routed';
}
