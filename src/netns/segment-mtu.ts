// One MTU for a whole L2 segment: every host NIC, every bridge port and the bridge itself. A
// segment with mixed MTUs silently drops the larger frames at the smallest hop, so the helper
// reads every link back and fails if one did not take the value.
import { linkInfo } from './namespace.js';
import { run } from './run.js';
import type { DrSegment } from './lvs-dr.js';
import { isRoutedDr } from './routed-dr.js';

export interface LinkRef { ns: string; ifname: string }

export const MIN_MTU = 68;      // IPv4's minimum
export const MAX_MTU = 65535;   // veth's maximum

/** Every link of a DR segment: hosts' NICs, then the switch ports, then the bridge (last: it follows its ports). */
// The routed layout (routed-dr.ts) adds the dispatcher's server-side NIC and the clients' bridge.
export function segmentLinks(segment: DrSegment): LinkRef[] {
  const routed = isRoutedDr(segment);
  const hosts = [...segment.clients, segment.dispatcher, ...(routed ? [segment.dispatcherEgress] : []), ...segment.servers];
  return [
    ...hosts.map((host) => ({ ns: host.ns, ifname: host.ifname })),
    ...hosts.map((host) => ({ ns: segment.switch.ns, ifname: host.port })),
    ...(routed ? [{ ns: segment.clientSwitch.ns, ifname: segment.clientSwitch.bridge }] : []),
    { ns: segment.switch.ns, ifname: segment.switch.bridge },
  ];
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
 * MTU for the whole segment (client(s), dispatcher, servers, switch ports, bridge). Set it before
 * starting the daemon: the dispatcher sizes its rings from the interface MTU when it starts.
 */
export async function setSegmentMtu(segment: DrSegment, mtu: number): Promise<void> {
  await setLinksMtu(segmentLinks(segment), mtu);
}
