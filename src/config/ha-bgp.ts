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
}

export const BGP_DEFAULTS = { speaker: 'bird', speakerPath: 'bird', controlPath: 'birdc', holdTime: 9 } as const;

const ASN_FIX = 'an AS number 1..4294967295, e.g. 65001 (private ASNs: 64512-65534)';
const asn = integer(1, 4_294_967_295, ASN_FIX);
const holdTime = integer(3, 65_535, 'seconds without a keepalive before a peer drops the session (BGP: 0 or 3..65535); 9 is the default');

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
  };
}
