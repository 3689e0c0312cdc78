// One MTU for a whole L2 segment: every host NIC, every bridge port and the bridge itself. A
// segment with mixed MTUs silently drops the larger frames at the smallest hop, so the helper
// reads every link back and fails if one did not take the value.
import { linkInfo } from './namespace.js';
import { run } from './run.js';
import type { DrSegment } from './lvs-dr.js';

export interface LinkRef { ns: string; ifname: string }

export const MIN_MTU = 68;      // IPv4's minimum
export const MAX_MTU = 65535;   // veth's maximum

interface IpLink { ifname: string; linkinfo?: { info_kind?: string } }

/**
 * Every link in the segment's namespaces but `lo`: hosts' NICs (the dispatcher's two in a routed
 * layout), the switch ports, then the bridges (last: a bridge follows its ports).
 */
export async function segmentLinks(segment: Pick<DrSegment, 'namespaces'>): Promise<LinkRef[]> {
  const links: Array<LinkRef & { bridge: boolean }> = [];
  for (const ns of segment.namespaces) {
    const { stdout } = await run('ip', ['-n', ns, '-d', '-j', 'link', 'show']);
    for (const link of JSON.parse(stdout) as IpLink[]) {
      if (link.ifname !== 'lo') links.push({ ns, ifname: link.ifname, bridge: link.linkinfo?.info_kind === 'bridge' });
    }
  }
  return [...links.filter((link) => !link.bridge), ...links.filter((link) => link.bridge)].map(({ ns, ifname }) => ({ ns, ifname }));
}

/** Sets `mtu` on each link in order, then checks that every one reports it. */
export async function setLinksMtu(links: LinkRef[], mtu: number): Promise<void> {
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) throw new Error(`mtu must be ${MIN_MTU}..${MAX_MTU}, got ${mtu}`);
  for (const link of links) await run('ip', ['-n', link.ns, 'link', 'set', 'dev', link.ifname, 'mtu', String(mtu)]);
  const wrong: string[] = [];
  for (const link of links) {
    const info = await linkInfo(link.ns, link.ifname);
    if (info.mtu !== mtu) wrong.push(`${link.ifname} in ${link.ns} has ${info.mtu}`);
  }
  if (wrong.length > 0) throw new Error(`MTU ${mtu} did not take everywhere: ${wrong.join(', ')}`);
}

/**
 * MTU for the whole segment (client(s), dispatcher, servers, switch ports, bridges). Set it before
 * starting the daemon: the dispatcher sizes its rings from the interface MTU when it starts.
 */
export async function setSegmentMtu(segment: Pick<DrSegment, 'namespaces'>, mtu: number): Promise<void> {
  await setLinksMtu(await segmentLinks(segment), mtu);
}
