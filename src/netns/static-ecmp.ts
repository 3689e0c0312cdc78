// Several dispatchers behind a router's ECMP, with a static multipath route standing in for what a
// BGP speaker would announce (the second-chance test; the BGP lab itself is another file):
//
//   client 10.74.0.10 ── br-clients ── eth0 10.74.0.1 [router] eth1 10.75.0.1 ── br-dr ── d1 10.75.0.2, d2 .3, d3 .4 (LAS)
//   sources .20, .21, ...              ip_forward=1, fib_multipath_hash_policy=1      ── s1 10.75.0.11, s2 .12, ... (VIP on lo)
//   default via 10.74.0.1              VIP/32 nexthop via d1 nexthop via d2 ...          default via 10.75.0.1
//
// The router hashes each flow's 5-tuple (policy 1) to one dispatcher; LAS there rewrites the MAC to a
// server's on the same segment, and the server answers the client through the router. Taking a
// nexthop out of the route (setNexthops) is what a withdrawal does to the router: the flows of the
// removed dispatcher, and some of the others' (hash-threshold ranges move), land on the survivors.
import { DR_PREFIX_LENGTH, hostFinder, namespacesDestroyer, plainSwitch, quietIpv6, settleAll, setUpEndpoint, withLayout, type DrClient, type DrHost, type DrServer } from './lvs-dr.js';
import { addBridge, addNamespace, addRoute, setLinkUp, setSysctls, uniquePrefix } from './namespace.js';
import { runInNs } from './run.js';

const CLIENT_NET = '10.74.0.';
const INNER_NET = '10.75.0.';
const ROUTER_OUTER = `${CLIENT_NET}1`;
const ROUTER_INNER = `${INNER_NET}1`;
const CLIENT_ADDRESS = `${CLIENT_NET}10`;
const FIRST_SOURCE = 20;      // client sources 10.74.0.20, .21, ...
const FIRST_DISPATCHER = 2;   // d1 = 10.75.0.2, ...
const FIRST_SERVER = 11;      // s1 = 10.75.0.11, ...
const DEFAULT_VIP = '10.73.0.100';  // on neither subnet: reachable only through the router's route
const IF = 'eth0';

export interface StaticEcmpOptions {
  dispatchers: number;      // 2..8
  servers: number;          // 1..40
  clientAddresses: number;  // 1..200 source addresses on the client
  vip?: string;
  prefix?: string;
}

export interface StaticEcmp {
  prefix: string;
  vip: string;
  client: DrClient;
  router: { ns: string; outer: DrHost; inner: DrHost };
  dispatchers: DrHost[];    // roles d1, d2, ...
  servers: DrServer[];      // roles s1, s2, ...
  namespaces: string[];
  /** The router's VIP route over exactly these dispatchers (replaced in one netlink change). */
  setNexthops(dispatchers: readonly DrHost[]): Promise<void>;
  destroy(): Promise<void>;
}

function range(n: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${what} must be ${min}..${max}, got ${n}`);
  return n;
}

export function nexthopArgs(vip: string, dispatchers: readonly { address: string }[]): string[] {
  if (dispatchers.length === 0) throw new Error('at least one dispatcher must stay in the route');
  const hops = dispatchers.length === 1 ? ['via', dispatchers[0]!.address] : dispatchers.flatMap((d) => ['nexthop', 'via', d.address]);
  return ['route', 'replace', `${vip}/32`, ...hops];
}

/** Builds the layout; on any failure removes what it already created and rethrows. */
export async function createStaticEcmp(opts: StaticEcmpOptions): Promise<StaticEcmp> {
  const dispatchers = range(opts.dispatchers, 2, 8, 'dispatchers');
  const servers = range(opts.servers, 1, 40, 'servers');
  const sources = range(opts.clientAddresses, 1, 200, 'clientAddresses');
  const vip = opts.vip ?? DEFAULT_VIP;
  const prefix = uniquePrefix(opts.prefix ?? 'lase');
  const switchNs = `${prefix}-switch`;
  const routerNs = `${prefix}-router`;
  const roles = ['client', ...Array.from({ length: dispatchers }, (_, i) => `d${i + 1}`), ...Array.from({ length: servers }, (_, i) => `s${i + 1}`)];
  const namespaces = [switchNs, routerNs, ...roles.map((r) => `${prefix}-${r}`)];
  const destroy = namespacesDestroyer(prefix, namespaces);
  try {
    await settleAll(namespaces.map(async (ns) => { await addNamespace(ns); await quietIpv6(ns); }));
    for (const bridge of ['br-clients', 'br-dr']) {
      await addBridge(switchNs, bridge);
      await setLinkUp(switchNs, bridge);
    }
    await plainSwitch(switchNs);
    const cidr = (a: string) => `${a}/${DR_PREFIX_LENGTH}`;
    const endpoint = async (role: string, ns: string, ifname: string, bridge: string, addresses: string[], vipOnLo?: string): Promise<DrHost> => {
      const mac = await setUpEndpoint(switchNs, bridge, { ns, ifname, port: `p-${role}`, cidrs: addresses.map(cidr), ...(vipOnLo ? { vip: vipOnLo } : {}) });
      return { role, ns, ifname, address: addresses[0]!, mac, port: `p-${role}` };
    };
    const [routerHosts, others] = await settleAll<DrHost[]>([
      (async () => {
        const outer = await endpoint('router', routerNs, 'eth0', 'br-clients', [ROUTER_OUTER]);
        const inner = await endpoint('router-inner', routerNs, 'eth1', 'br-dr', [ROUTER_INNER]);
        // Policy 1: the 5-tuple picks the nexthop, so one client address spreads over every dispatcher.
        await setSysctls(routerNs, { 'net.ipv4.ip_forward': 1, 'net.ipv4.fib_multipath_hash_policy': 1 });
        return [outer, inner];
      })(),
      settleAll(roles.map(async (role) => {
        const ns = `${prefix}-${role}`;
        if (role === 'client') {
          const extra = Array.from({ length: sources }, (_, k) => `${CLIENT_NET}${FIRST_SOURCE + k}`);
          const host = await endpoint(role, ns, IF, 'br-clients', [CLIENT_ADDRESS, ...extra]);
          await addRoute(ns, 'default', ROUTER_OUTER);
          return host;
        }
        const n = Number(role.slice(1));
        if (role.startsWith('d')) return endpoint(role, ns, IF, 'br-dr', [`${INNER_NET}${FIRST_DISPATCHER + n - 1}`]);
        const host = await endpoint(role, ns, IF, 'br-dr', [`${INNER_NET}${FIRST_SERVER + n - 1}`], vip);
        await addRoute(ns, 'default', ROUTER_INNER);
        return host;
      })),
    ]);
    const host = hostFinder(prefix, [...routerHosts!, ...others!]);
    const clientHost = host('client');
    const layout: StaticEcmp = {
      prefix,
      vip,
      client: { ...clientHost, sources: Array.from({ length: sources }, (_, k) => `${CLIENT_NET}${FIRST_SOURCE + k}`) },
      router: { ns: routerNs, outer: host('router'), inner: host('router-inner') },
      dispatchers: Array.from({ length: dispatchers }, (_, i) => host(`d${i + 1}`)),
      servers: Array.from({ length: servers }, (_, i) => ({ ...host(`s${i + 1}`), name: `s${i + 1}` })),
      namespaces,
      setNexthops: async (list) => { await runInNs(routerNs, 'ip', nexthopArgs(vip, list)); },
      destroy,
    };
    await layout.setNexthops(layout.dispatchers);
    return layout;
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}

/** Creates the layout, runs fn, and always destroys it, also when fn throws. */
export function withStaticEcmp<T>(opts: StaticEcmpOptions, fn: (layout: StaticEcmp) => Promise<T>): Promise<T> {
  return withLayout(createStaticEcmp, opts, fn);
}
