// `ha.bgp`: deployment B of issue 10 (active/active behind a router's ECMP). LAS decides which VIPs
// are announced; an existing BGP speaker (BIRD 2, see src/control/ha/bird-speaker.ts) talks BGP.
// The zod shape is built from shapes.ts's helpers, passed in, so this file and shapes.ts do not
// import each other at run time.
import type { z } from 'zod';
import { anyString, integer, oneOf, unicastIPv4 } from './leaf-checks.js';
import type { leaf as Leaf, strictObject as StrictObject, listOf as ListOf } from './shapes.js';

export const BGP_SPEAKERS = ['bird'] as const;

export interface BgpPeerConfig {
  address: string;      // the router's address on the dispatcher's segment
  asn: number;          // the router's AS number
}

export interface BgpConfig {
  speaker: (typeof BGP_SPEAKERS)[number]; // default "bird"
  speakerPath: string;  // default "bird" (on the PATH)
  controlPath: string;  // default "birdc"
  localAddress: string; // this dispatcher's own address: BGP source, router id and the VIPs' next hop
  localAsn: number;
  peers: BgpPeerConfig[];
  holdTime: number;     // seconds, default 9 (keepalive every holdTime/3): bounds a dead machine's black hole
  listenPort: number;   // default 1179: BIRD connects out to the peers' 179; listening on 179 would need CAP_NET_BIND_SERVICE
}

export const BGP_DEFAULTS = { speaker: 'bird', speakerPath: 'bird', controlPath: 'birdc', holdTime: 9, listenPort: 1179 } as const;

const ASN_FIX = 'an AS number 1..4294967295, e.g. 65001 (private ASNs: 64512-65534)';
const asn = integer(1, 4_294_967_295, ASN_FIX);
const holdTime = integer(3, 65_535, 'seconds without a keepalive before a peer drops the session (BGP: 0 or 3..65535); 9 is the default');
const listenPort = integer(1, 65_535, 'the TCP port BIRD listens on for a router that connects in; 1179 (the default) needs no privilege, 179 needs CAP_NET_BIND_SERVICE (see docs/ha.md)');

/** shapes.ts's helpers, handed in (their types only are imported: no import cycle at run time). */
export function bgpShape(leaf: typeof Leaf, strictObject: typeof StrictObject, listOf: typeof ListOf) {
  const peer = strictObject('haBgpPeer', {
    address: leaf(unicastIPv4('10.81.0.1'), 'give the router\'s address on this dispatcher\'s segment, e.g. "address": "10.81.0.1"'),
    asn: leaf(asn, `give the router's AS number, ${ASN_FIX}`),
  }, 'a peer', 'write each peer as { "address": "10.81.0.1", "asn": 65000 }');
  return strictObject('haBgp', {
    speaker: leaf(oneOf(BGP_SPEAKERS, '"bird" (BIRD 2) is the one speaker LAS drives today', 'speaker')).optional(),
    speakerPath: leaf(anyString).optional(),
    controlPath: leaf(anyString).optional(),
    localAddress: leaf(unicastIPv4('10.81.0.2'), 'give this dispatcher\'s own address on the router\'s segment (the VIPs\' next hop), e.g. "localAddress": "10.81.0.2"'),
    localAsn: leaf(asn, `give this dispatcher's AS number, ${ASN_FIX}`),
    peers: listOf(peer, 'a list of peers', 'list the routers to announce the VIPs to, e.g. "peers": [{ "address": "10.81.0.1", "asn": 65000 }]'),
    holdTime: leaf(holdTime).optional(),
    listenPort: leaf(listenPort).optional(),
  }, 'an object', 'write e.g. "bgp": { "localAddress": "10.81.0.2", "localAsn": 65001, "peers": [{ "address": "10.81.0.1", "asn": 65000 }] }');
}

type ParsedBgp = z.output<ReturnType<typeof bgpShape>>;

export function resolveBgp(p: ParsedBgp): BgpConfig {
  return {
    speaker: p.speaker ?? BGP_DEFAULTS.speaker,
    speakerPath: p.speakerPath ?? BGP_DEFAULTS.speakerPath,
    controlPath: p.controlPath ?? BGP_DEFAULTS.controlPath,
    localAddress: p.localAddress,
    localAsn: p.localAsn,
    peers: p.peers.map((peer: BgpPeerConfig) => ({ address: peer.address, asn: peer.asn })),
    holdTime: p.holdTime ?? BGP_DEFAULTS.holdTime,
    listenPort: p.listenPort ?? BGP_DEFAULTS.listenPort,
  };
}

/**
 * ha.mode "bgp" announces IPv4 VIPs only: BIRD's sessions carry an ipv4 channel with this
 * dispatcher's v4 address as next hop, so a v6 VIP would get no route at the router and its clients
 * a black hole. Refused by name (a cross-check on the raw input, beside the others).
 */
export function bgpV6VipErrors(raw: Record<string, unknown>, add: (path: string, message: string) => void): void {
  const ha = raw.ha;
  if (typeof ha !== 'object' || ha === null || (ha as Record<string, unknown>).mode !== 'bgp' || !Array.isArray(raw.services)) return;
  raw.services.forEach((service: unknown, i) => {
    const vip = typeof service === 'object' && service !== null ? (service as Record<string, unknown>).vip : undefined;
    if (typeof vip === 'string' && vip.includes(':')) {
      add(`services[${i}].vip`, `"${vip}" is IPv6, but ha.mode "bgp" announces IPv4 VIPs only (its BGP sessions carry IPv4 routes with this dispatcher's IPv4 next hop, so the router would have no route to it); give this service an IPv4 VIP, or run IPv6 services with ha.mode "vrrp" or "none"`);
    }
  });
}
