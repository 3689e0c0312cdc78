// A router on the DR segment, for tests that need ICMP errors from "the network": its own namespace
// with a NIC plugged into the segment's switch bridge, like any other host. It learns the VIP's MAC
// the way a real router does, by ARP (its kernel asks; only the dispatcher answers for the VIP), so
// what it sends to the VIP reaches the dispatcher's port.
import { randomBytes } from 'node:crypto';
import {
  addAddress, addNamespace, addVethPair, deleteNamespace, setLinkUp, setMaster, setSysctls, waitForLinkUp,
} from '../../src/netns/namespace.js';
import type { DrSegment } from '../../src/netns/lvs-dr.js';
import { runInNs } from '../../src/netns/run.js';

export const ROUTER_ADDRESS = '10.77.0.254';   // outside the lab's server, source and client ranges

export interface RouterHost {
  ns: string;
  ifname: string;
  address: string;
  mac: string;
  /** Makes the router's kernel resolve `address` by ARP; returns the MAC it learned. Bounded. */
  resolve(address: string, timeoutMs?: number): Promise<string>;
  destroy(): Promise<void>;
}

interface NeighRow { dst: string; lladdr?: string; state?: string[] }

export async function attachRouter(segment: DrSegment, address = ROUTER_ADDRESS): Promise<RouterHost> {
  // The segment's prefix keeps the name recognisable; the suffix keeps two routers apart.
  const ns = `${segment.prefix}-rt${randomBytes(2).toString('hex')}`;
  const ifname = 'eth0';
  const port = `p-rt-${ns.slice(-4)}`;
  const destroy = () => deleteNamespace(ns);
  try {
    await addNamespace(ns);   // tracked: removed by the cleanup handlers too if the test process dies
    try {
      await setSysctls(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
    } catch { /* no IPv6: already quiet */ }
    await addVethPair({ name: ifname, ns }, { name: port, ns: segment.switch.ns });
    await setMaster(segment.switch.ns, port, segment.switch.bridge);
    await setLinkUp(segment.switch.ns, port);
    await addAddress(ns, ifname, `${address}/24`);
    await setLinkUp(ns, ifname);
    const { mac } = await waitForLinkUp(ns, ifname, 5000);
    return {
      ns, ifname, address, mac, destroy,
      async resolve(target, timeoutMs = 5000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          // Any datagram to the target makes the kernel ARP for it (ping is not always installed).
          await runInNs(ns, process.execPath, ['-e',
            `const s=require('node:dgram').createSocket('udp4');s.send(Buffer.from('arp'),9,${JSON.stringify(target)},()=>s.close());`],
          { timeoutMs: 5000 });
          const until = Math.min(deadline, Date.now() + 1000);
          while (Date.now() < until) {
            const { stdout } = await runInNs(ns, 'ip', ['-j', '-4', 'neigh', 'show', 'to', target, 'dev', ifname]);
            const row = (JSON.parse(stdout.trim() || '[]') as NeighRow[])[0];
            if (row?.lladdr && !(row.state ?? []).some((s) => s === 'INCOMPLETE' || s === 'FAILED')) return row.lladdr.toLowerCase();
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          if (Date.now() >= deadline) throw new Error(`router ${ns} could not resolve ${target} by ARP within ${timeoutMs} ms`);
        }
      },
    };
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}
