// Real servers' MAC addresses, from the kernel neighbour table of the egress interface. A missing
// entry is resolved by the kernel itself: one UDP datagram to the discard port makes it send ARP
// (IPv4) or a Neighbor Solicitation (IPv6); both families share the table and these functions.
import dgram from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tool } from './exec.js';

interface NeighbourRow { dst: string; lladdr?: string; state?: string[] }

export interface Neighbour { mac: string; pinned: boolean } // pinned: PERMANENT or NOARP, set by the operator

const USABLE = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT', 'NOARP']);
const PINNED = new Set(['PERMANENT', 'NOARP']);

export async function readNeighbourTable(ifname: string): Promise<Map<string, Neighbour>> {
  const rows = JSON.parse((await tool('ip', ['-j', 'neigh', 'show', 'dev', ifname])) || '[]') as NeighbourRow[];
  const table = new Map<string, Neighbour>();
  for (const row of rows) {
    const state = row.state ?? [];
    if (row.lladdr && state.some((s) => USABLE.has(s))) {
      table.set(row.dst, { mac: row.lladdr.toLowerCase(), pinned: state.some((s) => PINNED.has(s)) });
    }
  }
  return table;
}

async function readNeighbours(ifname: string): Promise<Map<string, string>> {
  return new Map([...await readNeighbourTable(ifname)].map(([address, n]) => [address, n.mac]));
}

async function routeDevice(address: string): Promise<string | undefined> {
  try {
    const [route] = JSON.parse(await tool('ip', ['-j', 'route', 'get', address])) as { dev?: string; gateway?: string }[];
    return route?.gateway ? undefined : route?.dev;
  } catch {
    return undefined;
  }
}

/** Makes the kernel resolve `address` (ARP, or NDP for IPv6) if its entry is missing or failed. */
export function poke(address: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    socket.on('error', () => { socket.close(); resolve(); });
    socket.send(Buffer.alloc(0), 9, address, () => { socket.close(); resolve(); });
  });
}

/**
 * Throws, naming the server and the fix, when an address is not on a directly connected subnet of
 * `ifname`: a configuration error that no waiting can cure.
 */
export async function checkOnLink(ifname: string, addresses: string[]): Promise<void> {
  for (const address of addresses) {
    const dev = await routeDevice(address);
    if (dev !== ifname) {
      throw new Error(
        `cannot resolve the MAC of server ${address}: it is not on a directly connected subnet of "${ifname}" ` +
          `(route goes ${dev ? `via "${dev}"` : 'through a gateway or nowhere'}). Give the dispatcher an address on the ` +
          `servers' subnet on "${ifname}", or set "mac" for this server in the config.`,
      );
    }
  }
}

/** Waits (at most timeoutMs) for the kernel to resolve `addresses`; returns what it knows and what did not answer. */
export async function resolveSome(ifname: string, addresses: string[], timeoutMs: number): Promise<{ macs: Map<string, string>; missing: string[] }> {
  const deadline = Date.now() + timeoutMs;
  let known = await readNeighbours(ifname);
  let missing = addresses.filter((a) => !known.has(a));
  while (missing.length > 0 && Date.now() < deadline) {
    await Promise.all(missing.map(poke));
    await sleep(100);
    known = await readNeighbours(ifname);
    missing = addresses.filter((a) => !known.has(a));
  }
  const macs = new Map<string, string>();
  for (const a of addresses) if (known.has(a)) macs.set(a, known.get(a) as string);
  return { macs, missing };
}

/**
 * Deletes kernel entries so the next resolution asks by broadcast: a changed MAC answers at once.
 * One `ip -batch` for all of them (thousands of servers must not mean thousands of processes).
 * Pass only entries that exist: `ip neigh del` of a missing one ends the batch (-force or not), so
 * an entry gone meanwhile only leaves the rest for the next refresh.
 */
export async function forgetNeighbours(ifname: string, addresses: string[]): Promise<void> {
  if (addresses.length === 0) return;
  const dir = await mkdtemp(join(tmpdir(), 'las-neigh-'));
  try {
    const file = join(dir, 'batch');
    await writeFile(file, addresses.map((a) => `neigh del ${a} dev ${ifname}\n`).join(''));
    await tool('ip', ['-batch', file]).catch(() => undefined); // an entry gone meanwhile: see above
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
