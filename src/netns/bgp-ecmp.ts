// Deployment B of issue 10: N LAS dispatchers behind a router that spreads VIP traffic over them
// by ECMP, each dispatcher announcing the VIPs by BGP with itself as next hop.
//
//   client 10.85.0.10 (+ .20, .21 ...) ── br-clients ── eth0 10.85.0.1 [router: BIRD 2, ECMP]  eth1 10.84.0.1 ── br-servers ── d1 10.84.0.2 (LAS + its BIRD)
//   default via 10.85.0.1                                fib_multipath_hash_policy=1 (L4)                          d2 10.84.0.3 ...
//                                                                                                                  s1 10.84.0.11 ... (VIP on lo,
//                                                                                                                     default via 10.84.0.1)
//
// The router learns VIP/32 from every dispatcher's BGP session and installs one multipath route
// (BIRD's kernel protocol `merge paths`); it ARPs for the dispatchers' own addresses, never for the
// VIP. A dispatcher rewrites the destination MAC to a server's on the same segment; the server
// replies to the client through the router (DSR). The router's BIRD runs in its namespace and dies
// with it (destroy()).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { ensureCommand } from './ensure-package.js';
import {
  DR_PREFIX_LENGTH, hostFinder, namespacesDestroyer, plainSwitch, quietIpv6, settleAll, setUpEndpoint,
  type DrClient, type DrHost, type DrServer,
} from './lvs-dr.js';
import { addBridge, addNamespace, addRoute, setLinkUp, setSysctls, spawnInNs, uniquePrefix } from './namespace.js';
import { runInNs } from './run.js';
import { trackPath, untrackPath } from './registry.js';

const SEGMENT = '10.84.0.';          // the dispatchers' and servers' segment
const CLIENT_NET = '10.85.0.';
const ROUTER_SEGMENT_ADDRESS = `${SEGMENT}1`;
const ROUTER_CLIENT_ADDRESS = `${CLIENT_NET}1`;
const DEFAULT_VIP = '10.86.0.100';   // on neither subnet: only the BGP routes lead to it
const FIRST_DISPATCHER = 2;          // d1 = 10.84.0.2, d2 = .3, ...
const FIRST_SERVER = 11;             // s1 = 10.84.0.11, ...
const FIRST_SOURCE = 20;             // client sources 10.85.0.20, .21, ...
export const ROUTER_ASN = 65000;
export const DISPATCHER_ASN = 65001;
const ROUTER_HOLD_TIME = 9;

export interface BgpEcmpOptions {
  dispatchers: number;               // 2..8
  servers: number;                   // 1..8
  clientAddresses?: number;          // source addresses of the client, default 1 (max 200)
  vip?: string;
  prefix?: string;
}

export interface BgpEcmp {
  prefix: string;
  vip: string;
  router: { ns: string; segmentAddress: string; clientAddress: string; asn: number };
  dispatchers: DrHost[];             // roles d1, d2, ...; LAS listens on eth0
  servers: DrServer[];
  client: DrClient;
  namespaces: string[];
  host(role: string): DrHost;
  /** The router's next hops for the VIP now (the dispatchers' addresses), sorted. */
  nextHops(): Promise<string[]>;
  /** Waits (bounded) until the router's next hops for the VIP are exactly `want`; returns the ms it took. */
  waitForNextHops(want: string[], timeoutMs: number): Promise<number>;
  /** `birdc show protocols` on the router. */
  routerProtocols(): Promise<string>;
  destroy(): Promise<void>;
}

function routerBirdConfig(dispatchers: string[]): string {
  const peers = dispatchers.map((address, i) => `
protocol bgp d${i + 1} {
  local ${ROUTER_SEGMENT_ADDRESS} as ${ROUTER_ASN};
  neighbor ${address} as ${DISPATCHER_ASN};
  hold time ${ROUTER_HOLD_TIME};
  connect delay time 1; connect retry time 1; error wait time 1, 5;
  graceful restart off;
  ipv4 { import all; export none; };
}`).join('\n');
  return `router id ${ROUTER_SEGMENT_ADDRESS};
protocol device { scan time 1; }
protocol kernel {
  ipv4 { import none; export all; };
  merge paths on;                  # one ECMP route over every dispatcher that announces the VIP
}
${peers}
`;
}

const isIpv4 = (s: string) => /^\d+\.\d+\.\d+\.\d+$/.test(s);

/** Next hops of the kernel route to `vip` in `ns` ("via" or the "nexthops" list), sorted. */
export async function kernelNextHops(ns: string, vip: string): Promise<string[]> {
  const { stdout } = await runInNs(ns, 'ip', ['-j', 'route', 'show', `${vip}/32`], { timeoutMs: 5000 });
  const routes = JSON.parse(stdout || '[]') as Array<{ gateway?: string; nexthops?: Array<{ gateway?: string }> }>;
  const hops = routes.flatMap((r) => [r.gateway, ...(r.nexthops ?? []).map((n) => n.gateway)]).filter((g): g is string => g !== undefined && isIpv4(g));
  return [...new Set(hops)].sort();
}

export async function createBgpEcmp(opts: BgpEcmpOptions): Promise<BgpEcmp> {
  const { dispatchers: nd, servers: ns } = opts;
  const sources = opts.clientAddresses ?? 1;
  if (!Number.isInteger(nd) || nd < 2 || nd > 8) throw new Error(`dispatchers must be 2..8, got ${nd}`);
  if (!Number.isInteger(ns) || ns < 1 || ns > 8) throw new Error(`servers must be 1..8, got ${ns}`);
  if (!Number.isInteger(sources) || sources < 1 || sources > 200) throw new Error(`clientAddresses must be 1..200, got ${sources}`);
  await ensureCommand('bird', 'bird2');
  const vip = opts.vip ?? DEFAULT_VIP;
  const prefix = uniquePrefix(opts.prefix ?? 'lasb');
  const switchNs = `${prefix}-switch`;
  const routerNs = `${prefix}-router`;
  const clientNs = `${prefix}-client`;
  const dRoles = Array.from({ length: nd }, (_, i) => `d${i + 1}`);
  const sRoles = Array.from({ length: ns }, (_, i) => `s${i + 1}`);
  const namespaces = [switchNs, routerNs, clientNs, ...[...dRoles, ...sRoles].map((r) => `${prefix}-${r}`)];
  const destroyNamespaces = namespacesDestroyer(prefix, namespaces);
  let dir: string | undefined;
  const destroy = async () => {
    try { await destroyNamespaces(); } finally {
      if (dir) { await rm(dir, { recursive: true, force: true }).catch(() => undefined); untrackPath(dir); }
    }
  };
  try {
    dir = await mkdtemp(join(tmpdir(), 'las-bgp-router-'));
    trackPath(dir);
    await settleAll(namespaces.map(async (n) => { await addNamespace(n); await quietIpv6(n); }));
    for (const bridge of ['br-clients', 'br-servers']) { await addBridge(switchNs, bridge); await setLinkUp(switchNs, bridge); }
    await plainSwitch(switchNs);
    const endpoint = async (role: string, nsName: string, ifname: string, port: string, bridge: string, addresses: string[], serverVip?: string): Promise<DrHost> => {
      const mac = await setUpEndpoint(switchNs, bridge, {
        ns: nsName, ifname, port, cidrs: addresses.map((a) => `${a}/${DR_PREFIX_LENGTH}`), ...(serverVip ? { vip: serverVip } : {}),
      });
      return { role, ns: nsName, ifname, address: addresses[0]!, mac, port };
    };
    const sourceList = sources > 1 ? Array.from({ length: sources }, (_, k) => `${CLIENT_NET}${FIRST_SOURCE + k}`) : [];
    const hosts = await settleAll<DrHost>([
      (async () => {
        const inside = await endpoint('router', routerNs, 'eth1', 'p-router-in', 'br-servers', [ROUTER_SEGMENT_ADDRESS]);
        await endpoint('router-clients', routerNs, 'eth0', 'p-router-out', 'br-clients', [ROUTER_CLIENT_ADDRESS]);
        // L4 hash: the flows of one client address spread over the dispatchers too.
        await setSysctls(routerNs, { 'net.ipv4.ip_forward': 1, 'net.ipv4.fib_multipath_hash_policy': 1 });
        return inside;
      })(),
      (async () => {
        const client = await endpoint('client', clientNs, 'eth0', 'p-client', 'br-clients', [`${CLIENT_NET}10`, ...sourceList]);
        await addRoute(clientNs, 'default', ROUTER_CLIENT_ADDRESS);
        return client;
      })(),
      ...dRoles.map(async (role, i) => endpoint(role, `${prefix}-${role}`, 'eth0', `p-${role}`, 'br-servers', [`${SEGMENT}${FIRST_DISPATCHER + i}`])),
      ...sRoles.map(async (role, i) => {
        const server = await endpoint(role, `${prefix}-${role}`, 'eth0', `p-${role}`, 'br-servers', [`${SEGMENT}${FIRST_SERVER + i}`], vip);
        await addRoute(server.ns, 'default', ROUTER_SEGMENT_ADDRESS);  // DSR: replies go through the router
        return server;
      }),
    ]);
    const host = hostFinder(prefix, hosts);
    const dispatchers = dRoles.map(host);
    const configFile = join(dir, 'router-bird.conf');
    await writeFile(configFile, routerBirdConfig(dispatchers.map((d) => d.address)));
    const controlSocket = join(dir, 'router-bird.ctl');
    const bird: ChildProcess = spawnInNs(routerNs, 'bird', ['-f', '-c', configFile, '-s', controlSocket], { stdio: ['ignore', 'ignore', 'pipe'] });
    let birdErr = '';
    bird.stderr?.setEncoding('utf8').on('data', (c: string) => { birdErr = (birdErr + c).slice(-2000); });
    const birdc = async (args: string[]) => (await runInNs(routerNs, 'birdc', ['-s', controlSocket, ...args], { timeoutMs: 5000 })).stdout;
    for (let attempt = 0; ; attempt++) {
      if (bird.exitCode !== null) throw new Error(`the router's BIRD exited: ${birdErr.trim()}`);
      try { await birdc(['show', 'status']); break; } catch (error) {
        if (attempt >= 50) throw new Error(`the router's BIRD did not answer within 10 s: ${String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const nextHops = () => kernelNextHops(routerNs, vip);
    return {
      prefix, vip,
      router: { ns: routerNs, segmentAddress: ROUTER_SEGMENT_ADDRESS, clientAddress: ROUTER_CLIENT_ADDRESS, asn: ROUTER_ASN },
      dispatchers,
      servers: sRoles.map((role) => ({ ...host(role), name: role })),
      client: { ...host('client'), sources: sourceList.length > 0 ? sourceList : [`${CLIENT_NET}10`] },
      namespaces,
      host,
      nextHops,
      async waitForNextHops(want, timeoutMs) {
        const wanted = [...want].sort().join();
        const started = Date.now();
        for (;;) {
          if ((await nextHops()).join() === wanted) return Date.now() - started;
          if (Date.now() - started > timeoutMs) {
            throw new Error(`the router's route to ${vip} goes via [${(await nextHops()).join(', ')}], not [${wanted}], after ${timeoutMs} ms:\n${await birdc(['show', 'protocols']).catch(String)}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },
      routerProtocols: () => birdc(['show', 'protocols']),
      destroy,
    };
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}

/** The `ha` section of dispatcher `d` in this lab. */
export function labHaSection(lab: BgpEcmp, d: DrHost, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mode: 'bgp',
    bgp: { localAddress: d.address, localAsn: DISPATCHER_ASN, peers: [{ address: lab.router.segmentAddress, asn: ROUTER_ASN }], ...extra },
  };
}
