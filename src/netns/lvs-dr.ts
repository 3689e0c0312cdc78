import { existsSync } from 'node:fs';
// The LVS-DR topology as deployed, on one L2 segment:
//
//   client(s) ─┐
//   dispatcher ┼── br0 in the "switch" namespace (a plain learning bridge)
//   s1..sN  ───┘
//
// The client ARPs for the VIP and only the LAS dispatcher answers (servers hold the VIP on `lo`
// with arp_ignore/arp_announce); the dispatcher rewrites the destination MAC to a server, which
// replies to the client directly. With `ipv6`, the segment is dual stack: every host also has
// fd77::<its v4 host number> and the servers hold the v6 VIP (fd77::100) on lo as well; no sysctl
// is needed for it (the kernel answers a Neighbor Solicitation only for addresses on the asking
// interface: test/dr-ipv6-server-silent.test.ts checks it).
import {
  addAddress, addBridge, addNamespace, addVethPair, deleteNamespace, setLinkUp, setMaster,
  setSysctls, uniquePrefix, waitForLinkUp,
} from './namespace.js';

const DR_SUBNET = '10.77.0.0/24';
export const DR_PREFIX_LENGTH = 24;
const DR_DISPATCHER_ADDRESS = '10.77.0.2';
const DR_SECOND_DISPATCHER_ADDRESS = '10.77.0.3';
const DR_CLIENT_ADDRESS = '10.77.0.10';
const DR_DEFAULT_VIP = '10.77.0.100';
const NET = '10.77.0.';
const FIRST_SERVER = 11;        // s1 = .11, s2 = .12, ...
const FIRST_CLIENT_SOURCE = 20; // extra client addresses .20, .21, ...
const FIRST_EXTRA_CLIENT = 200; // client2 = .201, client3 = .202, ...
const MAX_SERVERS = FIRST_CLIENT_SOURCE - FIRST_SERVER; // 9: keeps the server and source ranges apart
const ENDPOINT_IF = 'eth0';     // every host sees its NIC as eth0, like a real machine
const DR_SUBNET6 = 'fd77::/64';   // ULA: the dual-stack segment's v6 twin of 10.77.0.0/24
export const DR_PREFIX_LENGTH6 = 64;
const DR_DEFAULT_VIP6 = 'fd77::100';

/** The v6 twin of a segment address: 10.77.0.11 -> fd77::11 (same digits, read as hex). */
export function twin6(address: string): string {
  return `fd77::${address.slice(NET.length)}`;
}

export interface DrSegmentOptions {
  servers: number;
  clients?: number;          // client namespaces, default 1
  vip?: string;              // default 10.77.0.100
  prefix?: string;           // short name prefix, default "las"; a random hex suffix is always added
  clientAddresses?: number;  // > 1: the first client also gets .20, .21, ... as source addresses
  dispatchers?: number;      // 2: a second dispatcher, "dispatcher2" at .3 (an active/standby pair); default 1
  ipv6?: boolean;            // dual stack: fd77::/64 beside 10.77.0.0/24 (default: IPv6 off everywhere)
  vip6?: string;             // with ipv6, default fd77::100
}

/** One host on the segment. `port` is its bridge port in the switch namespace. */
export interface DrHost {
  role: string;     // "client", "client2", "dispatcher", "s1", ...
  ns: string;
  ifname: string;
  address: string;
  address6?: string; // dual-stack segments only: fd77::<host number>
  mac: string;
  port: string;
}
export interface DrServer extends DrHost { name: string }
export interface DrClient extends DrHost { sources: string[]; sources6?: string[] }  // addresses to bind as source (v6: dual-stack only)

export interface DrSegment {
  prefix: string;          // "las-1a2b3c"
  subnet: string;
  vip: string;
  subnet6?: string;        // dual-stack segments only
  vip6?: string;           // dual-stack segments only
  switch: { ns: string; bridge: string };
  client: DrClient;
  clients: DrClient[];
  dispatcher: DrHost;
  servers: DrServer[];
  namespaces: string[];
  /** Namespace of a role: "switch", "client", "dispatcher", "s1", ... */
  ns(role: string): string;
  host(role: string): DrHost;
  /** Kills every process in the run's namespaces and deletes them. Idempotent. */
  destroy(): Promise<void>;
}

interface HostPlan { role: string; port: string; address: string; extra: string[]; server: boolean }

function planHosts(opts: DrSegmentOptions): HostPlan[] {
  const servers = opts.servers;
  const clients = opts.clients ?? 1;
  const sources = opts.clientAddresses ?? 1;
  if (!Number.isInteger(servers) || servers < 1 || servers > MAX_SERVERS) {
    throw new Error(`servers must be 1..${MAX_SERVERS} (addresses ${NET}${FIRST_SERVER}..), got ${servers}`);
  }
  if (!Number.isInteger(clients) || clients < 1 || clients > 50) throw new Error(`clients must be 1..50, got ${clients}`);
  if (!Number.isInteger(sources) || sources < 1 || sources > 80) throw new Error(`clientAddresses must be 1..80, got ${sources}`);
  const plans: HostPlan[] = [{ role: 'dispatcher', port: 'p-disp', address: DR_DISPATCHER_ADDRESS, extra: [], server: false }];
  if ((opts.dispatchers ?? 1) !== 1 && opts.dispatchers !== 2) throw new Error(`dispatchers must be 1 or 2, got ${opts.dispatchers}`);
  if (opts.dispatchers === 2) plans.push({ role: 'dispatcher2', port: 'p-disp2', address: DR_SECOND_DISPATCHER_ADDRESS, extra: [], server: false });
  for (let i = 0; i < clients; i++) {
    const role = i === 0 ? 'client' : `client${i + 1}`;
    const address = i === 0 ? DR_CLIENT_ADDRESS : `${NET}${FIRST_EXTRA_CLIENT + i}`;
    const extra = i === 0 && sources > 1 ? Array.from({ length: sources }, (_, k) => `${NET}${FIRST_CLIENT_SOURCE + k}`) : [];
    plans.push({ role, port: `p-${role}`, address, extra, server: false });
  }
  for (let i = 1; i <= servers; i++) plans.push({ role: `s${i}`, port: `p-s${i}`, address: `${NET}${FIRST_SERVER + i - 1}`, extra: [], server: true });
  return plans;
}

// IPv6 off everywhere: no router solicitations, DAD or MLD frames to muddy the dispatcher's counters.
// (The switch stays so on a dual-stack segment too: a bridge forwards v6 frames without an address.)
export async function quietIpv6(ns: string): Promise<void> {
  try {
    await setSysctls(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
  } catch { /* kernel without IPv6: already quiet */ }
}

/**
 * IPv6 on, as quiet as it can be: no router solicitations or RAs, no DAD (addresses usable at once,
 * no probes on the wire). Link-local addresses stay: the kernel's own NDP sends from them.
 */
export async function dualStack(ns: string): Promise<void> {
  const conf: Record<string, number> = {};
  for (const scope of ['all', 'default']) {
    Object.assign(conf, {
      [`net.ipv6.conf.${scope}.disable_ipv6`]: 0, [`net.ipv6.conf.${scope}.accept_ra`]: 0,
      [`net.ipv6.conf.${scope}.accept_dad`]: 0, [`net.ipv6.conf.${scope}.router_solicitations`]: 0,
    });
  }
  await setSysctls(ns, conf);
}

/** One NIC of a host, plugged into a bridge of the switch namespace. */
export interface EndpointPlan {
  ns: string;          // the host's namespace (exists already)
  ifname: string;      // its end of the veth pair, e.g. "eth0"
  port: string;        // the bridge end, in the switch namespace
  cidrs: string[];     // addresses on ifname, e.g. ["10.77.0.2/24"]
  vip?: string;        // set: this host is a real server holding the VIP on lo, ARP-silent for it
  vip6?: string;       // set: a real server of a dual-stack segment, also holding the v6 VIP on lo
}

/**
 * A veth pair from the host's `ifname` to a port of `bridge`, addresses, rp_filter off (and the
 * real server's VIP and ARP sysctls, all before the link comes up), link up; returns the NIC's MAC.
 */
export async function setUpEndpoint(switchNs: string, bridge: string, plan: EndpointPlan): Promise<string> {
  const { ns, ifname } = plan;
  await addVethPair({ name: ifname, ns }, { name: plan.port, ns: switchNs });
  await setMaster(switchNs, plan.port, bridge);
  await setLinkUp(switchNs, plan.port);
  for (const cidr of plan.cidrs) await addAddress(ns, ifname, cidr);
  // rp_filter off: DR traffic is asymmetric by design (and the kernel takes the max of all/dev).
  const sysctls: Record<string, number> = {
    'net.ipv4.conf.all.rp_filter': 0,
    'net.ipv4.conf.default.rp_filter': 0,
    [`net.ipv4.conf.${ifname}.rp_filter`]: 0,
  };
  if (plan.vip !== undefined) {
    // The VIP lives on lo; never answer ARP for it (arp_ignore=1: only for addresses on the
    // asking interface) and never use it as ARP source (arp_announce=2). Only the dispatcher may own it on the wire.
    await addAddress(ns, 'lo', `${plan.vip}/32`);
    // The v6 VIP on lo needs no sysctl: NDP never answers for it on eth (checked by a test).
    if (plan.vip6 !== undefined) await addAddress(ns, 'lo', `${plan.vip6}/128`);
    Object.assign(sysctls, {
      'net.ipv4.conf.all.arp_ignore': 1,
      'net.ipv4.conf.all.arp_announce': 2,
      [`net.ipv4.conf.${ifname}.arp_ignore`]: 1,
      [`net.ipv4.conf.${ifname}.arp_announce`]: 2,
    });
  }
  await setSysctls(ns, sysctls);
  await setLinkUp(ns, ifname);
  return (await waitForLinkUp(ns, ifname, 5000)).mac;
}

async function setUpHost(segmentPrefix: string, switchNs: string, bridge: string, vip: string, vip6: string | undefined, plan: HostPlan): Promise<DrHost> {
  const ns = `${segmentPrefix}-${plan.role}`;
  const addresses = [plan.address, ...plan.extra];
  const cidrs = addresses.map((address) => `${address}/${DR_PREFIX_LENGTH}`);
  if (vip6 !== undefined) cidrs.push(...addresses.map((address) => `${twin6(address)}/${DR_PREFIX_LENGTH6}`));
  const serverVips = plan.server ? { vip, ...(vip6 !== undefined ? { vip6 } : {}) } : {};
  const mac = await setUpEndpoint(switchNs, bridge, { ns, ifname: ENDPOINT_IF, port: plan.port, cidrs, ...serverVips });
  return { role: plan.role, ns, ifname: ENDPOINT_IF, address: plan.address, ...(vip6 !== undefined ? { address6: twin6(plan.address) } : {}), mac, port: plan.port };
}

/** Like Promise.all, but waits for every step: destroy() must not race a namespace still being created. */
export async function settleAll<T>(steps: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(steps);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((result) => (result as PromiseFulfilledResult<T>).value);
}

// With br_netfilter loaded, a Linux bridge validates IPv4 headers and drops malformed ones; a real
// L2 switch does not, and the dispatcher must be the one to see (and count) them.
export async function plainSwitch(ns: string): Promise<void> {
  if (!existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) return;
  await setSysctls(ns, {
    'net.bridge.bridge-nf-call-iptables': 0, 'net.bridge.bridge-nf-call-ip6tables': 0, 'net.bridge.bridge-nf-call-arptables': 0,
  });
}

/** destroy() of a layout: deletes all its namespaces (killing what runs in them); idempotent. */
export function namespacesDestroyer(prefix: string, namespaces: string[]): () => Promise<void> {
  return async () => {
    const results = await Promise.allSettled(namespaces.map((ns) => deleteNamespace(ns)));
    const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed.length > 0) throw new AggregateError(failed.map((f) => f.reason), `destroy ${prefix}: ${failed.length} namespace(s) left`);
  };
}

/** A layout's hosts by role; an unknown role is an error that names the known ones. */
export function hostFinder(prefix: string, hosts: DrHost[]): (role: string) => DrHost {
  const byRole = new Map(hosts.map((host) => [host.role, host]));
  return (role) => {
    const found = byRole.get(role);
    if (!found) throw new Error(`no host "${role}" in ${prefix} (roles: ${[...byRole.keys()].join(', ')})`);
    return found;
  };
}

/** Creates a layout, runs fn, and always destroys the layout, also when fn throws. */
export async function withLayout<O, L extends { destroy(): Promise<void> }, T>(
  create: (opts: O) => Promise<L>, opts: O, fn: (layout: L) => Promise<T>,
): Promise<T> {
  const layout = await create(opts);
  try {
    return await fn(layout);
  } finally {
    await layout.destroy();
  }
}

/** Builds the segment; on any failure removes what it already created and rethrows. */
export async function createDrSegment(opts: DrSegmentOptions): Promise<DrSegment> {
  const plans = planHosts(opts);
  const vip = opts.vip ?? DR_DEFAULT_VIP;
  if (plans.some((plan) => plan.address === vip || plan.extra.includes(vip))) throw new Error(`vip ${vip} collides with a host address`);
  const vip6 = opts.ipv6 ? opts.vip6 ?? DR_DEFAULT_VIP6 : undefined;
  if (vip6 !== undefined && plans.some((plan) => [plan.address, ...plan.extra].some((a) => twin6(a) === vip6))) throw new Error(`vip6 ${vip6} collides with a host address`);
  const prefix = uniquePrefix(opts.prefix ?? 'las');
  const switchNs = `${prefix}-switch`;
  const bridge = 'br0';
  const namespaces = [switchNs, ...plans.map((plan) => `${prefix}-${plan.role}`)];
  const destroy = namespacesDestroyer(prefix, namespaces);
  try {
    await settleAll(namespaces.map(async (ns) => {
      await addNamespace(ns);
      await (vip6 !== undefined && ns !== switchNs ? dualStack(ns) : quietIpv6(ns));
    }));
    await addBridge(switchNs, bridge);
    await plainSwitch(switchNs);
    await setLinkUp(switchNs, bridge);
    const hosts = await settleAll(plans.map((plan) => setUpHost(prefix, switchNs, bridge, vip, vip6, plan)));
    const host = hostFinder(prefix, hosts);
    const clients: DrClient[] = plans
      .filter((plan) => plan.role.startsWith('client'))
      .map((plan) => {
        const sources = plan.extra.length > 0 ? plan.extra : [plan.address];
        return { ...host(plan.role), sources, ...(vip6 !== undefined ? { sources6: sources.map(twin6) } : {}) };
      });
    const servers: DrServer[] = plans.filter((plan) => plan.server).map((plan) => ({ ...host(plan.role), name: plan.role }));
    return {
      prefix,
      subnet: DR_SUBNET,
      vip,
      ...(vip6 !== undefined ? { subnet6: DR_SUBNET6, vip6 } : {}),
      switch: { ns: switchNs, bridge },
      client: clients[0]!,
      clients,
      dispatcher: host('dispatcher'),
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

/** Creates a segment, runs fn, and always destroys the segment, also when fn throws. */
export function withDrSegment<T>(opts: DrSegmentOptions, fn: (segment: DrSegment) => Promise<T>): Promise<T> {
  return withLayout(createDrSegment, opts, fn);
}
