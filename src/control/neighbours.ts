// Real servers' MAC addresses, from the kernel neighbour table of the egress interface. A missing
// entry is resolved by the kernel itself: one UDP datagram to the discard port makes it send ARP.
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { tool } from './exec.js';

interface NeighbourRow { dst: string; lladdr?: string; state?: string[] }

const USABLE = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT', 'NOARP']);

export async function readNeighbours(ifname: string): Promise<Map<string, string>> {
  const rows = JSON.parse((await tool('ip', ['-j', '-4', 'neigh', 'show', 'dev', ifname])) || '[]') as NeighbourRow[];
  const macs = new Map<string, string>();
  for (const row of rows) {
    if (row.lladdr && (row.state ?? []).some((s) => USABLE.has(s))) macs.set(row.dst, row.lladdr.toLowerCase());
  }
  return macs;
}

async function routeDevice(address: string): Promise<string | undefined> {
  try {
    const [route] = JSON.parse(await tool('ip', ['-j', 'route', 'get', address])) as { dev?: string; gateway?: string }[];
    return route?.gateway ? undefined : route?.dev;
  } catch {
    return undefined;
  }
}

function poke(address: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.on('error', () => { socket.close(); resolve(); });
    socket.send(Buffer.alloc(0), 9, address, () => { socket.close(); resolve(); });
  });
}

/** Resolves every address or throws naming the ones that did not answer and the fix. */
export async function resolveMacs(ifname: string, addresses: string[], timeoutMs = 3000): Promise<Map<string, string>> {
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
  const deadline = Date.now() + timeoutMs;
  let known = await readNeighbours(ifname);
  let missing = addresses.filter((a) => !known.has(a));
  while (missing.length > 0 && Date.now() < deadline) {
    await Promise.all(missing.map(poke));
    await sleep(100);
    known = await readNeighbours(ifname);
    missing = addresses.filter((a) => !known.has(a));
  }
  if (missing.length > 0) {
    throw new Error(
      `no ARP answer from server${missing.length > 1 ? 's' : ''} ${missing.join(', ')} on "${ifname}" within ${timeoutMs} ms: ` +
        'is the server up and on this segment? Set "mac" for it in the config to skip resolution.',
    );
  }
  return new Map(addresses.map((a) => [a, known.get(a) as string]));
}

/** Asks the kernel to re-confirm entries that are no longer fresh, so a changed MAC is noticed. */
export async function refreshNeighbours(addresses: string[]): Promise<void> {
  await Promise.all(addresses.map(poke));
}
