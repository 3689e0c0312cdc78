// NDP for the v6 VIPs through the socket-free Classifier (the I/O threads' decision): a Neighbor
// Solicitation for a VIP gets a Neighbor Advertisement byte for byte (checksum computed here, apart
// from the addon), a duplicate address probe is answered to all-nodes, a solicitation for another
// address is left to the kernel, and every malformed one is counted as bad_ndp.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Verdict } from '../src/native/bench-binding.js';
import {
  CLIENT6, CLIENT_MAC, INGRESS_MAC, NOT_A_VIP6, V6_OPTIONS, V6_SNAPSHOT, VIP6_A, VIP6_B,
} from './fixtures/golden-frames-v6.js';
import { parseMac, type FrameMacs, type VlanTag } from './support/frames.js';
import { PROTO_ICMPV6, checksum6, icmp6, ipv6Frame, parseIpv6 } from './support/frames6.js';
import { createClassifier } from './support/maglev-sim.js';

const NS = 135;
const NA = 136;
const SOLICITED = 0x40000000;
const OVERRIDE = 0x20000000;
const ALL_NODES = 'ff02::1';
const UNSPECIFIED = '::';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** ff02::1:ffXX:XXXX of an address, and its Ethernet group 33:33:ff:XX:XX:XX. */
function solicitedNode(address: string): { ip: string; mac: string } {
  const b = parseIpv6(address);
  const tail = [b[13]!, b[14]!, b[15]!].map((x) => x.toString(16).padStart(2, '0'));
  return { ip: `ff02::1:ff${tail[0]}:${tail[1]}${tail[2]}`, mac: `33:33:ff:${tail.join(':')}` };
}

/** An NDP option: type, length in 8-byte units, body (a MAC for the link-layer options). */
function option(type: number, body: Buffer, units = Math.ceil((body.length + 2) / 8)): Buffer {
  const o = Buffer.alloc(Math.max(units, 1) * 8);
  o[0] = type;
  o[1] = units;
  body.copy(o, 2);
  return o;
}
const sourceLink = (mac: string) => option(1, parseMac(mac));
const targetLink = (mac: string) => option(2, parseMac(mac));
const nonce = () => option(14, Buffer.from([1, 2, 3, 4, 5, 6]));

interface NsOptions {
  src?: string; dst?: string; target: string; ethDst?: string; ethSrc?: string; vlans?: VlanTag[];
  hopLimit?: number; code?: number; options?: Buffer[]; body?: Buffer;
}

function solicitation(o: NsOptions): Buffer {
  const src = o.src ?? CLIENT6;
  const group = solicitedNode(o.target);
  const dst = o.dst ?? group.ip;
  const eth: FrameMacs = { dst: o.ethDst ?? group.mac, src: o.ethSrc ?? CLIENT_MAC, vlans: o.vlans };
  const body = o.body ?? Buffer.concat([parseIpv6(o.target), ...(o.options ?? [sourceLink(CLIENT_MAC)])]);
  return ipv6Frame(eth, { src, dst, nextHeader: PROTO_ICMPV6, hopLimit: o.hopLimit ?? 255 }, [],
    icmp6({ src, dst, type: NS, code: o.code ?? 0, body }));
}

/** The advertisement RFC 4861 asks for, built from the RFC and not from the addon. */
function advertisement(o: { target: string; to: string; toMac: string; flags: number; vlans?: VlanTag[] }): Buffer {
  return ipv6Frame({ dst: o.toMac, src: INGRESS_MAC, vlans: o.vlans }, { src: o.target, dst: o.to, nextHeader: PROTO_ICMPV6, hopLimit: 255 }, [],
    icmp6({ src: o.target, dst: o.to, type: NA, rest: o.flags, body: Buffer.concat([parseIpv6(o.target), targetLink(INGRESS_MAC)]) }));
}

type Want = { action: 'ndp_reply'; frame: Buffer } | { action: 'pass' } | { action: 'drop'; reason: string };
interface Row { description: string; input: Buffer; want: Want }

const answer = (frame: Buffer): Want => ({ action: 'ndp_reply', frame });
const badNdp: Want = { action: 'drop', reason: 'bad_ndp' };
const OTHER_MAC = '02:00:00:00:00:d7';

const ROWS: Row[] = [
  {
    description: 'NS for a VIP to its solicited-node group -> NA to the requester, Solicited and Override',
    input: solicitation({ target: VIP6_A }),
    want: answer(advertisement({ target: VIP6_A, to: CLIENT6, toMac: CLIENT_MAC, flags: SOLICITED | OVERRIDE })),
  },
  {
    description: 'NS for another VIP -> NA for that VIP',
    input: solicitation({ target: VIP6_B }),
    want: answer(advertisement({ target: VIP6_B, to: CLIENT6, toMac: CLIENT_MAC, flags: SOLICITED | OVERRIDE })),
  },
  {
    description: 'unicast NS (reachability check) to the VIP itself -> the same NA',
    input: solicitation({ target: VIP6_A, dst: VIP6_A, ethDst: INGRESS_MAC }),
    want: answer(advertisement({ target: VIP6_A, to: CLIENT6, toMac: CLIENT_MAC, flags: SOLICITED | OVERRIDE })),
  },
  {
    description: 'NS whose source link-layer option differs from the Ethernet source -> NA to the option\'s MAC',
    input: solicitation({ target: VIP6_A, options: [sourceLink(OTHER_MAC)] }),
    want: answer(advertisement({ target: VIP6_A, to: CLIENT6, toMac: OTHER_MAC, flags: SOLICITED | OVERRIDE })),
  },
  {
    description: 'unicast NS without options -> NA to the Ethernet source, 8 bytes longer than the NS',
    input: solicitation({ target: VIP6_A, dst: VIP6_A, ethDst: INGRESS_MAC, options: [] }),
    want: answer(advertisement({ target: VIP6_A, to: CLIENT6, toMac: CLIENT_MAC, flags: SOLICITED | OVERRIDE })),
  },
  {
    description: '802.1Q-tagged NS -> NA behind the same tag',
    input: solicitation({ target: VIP6_A, vlans: [{ vid: 7 }] }),
    want: answer(advertisement({ target: VIP6_A, to: CLIENT6, toMac: CLIENT_MAC, flags: SOLICITED | OVERRIDE, vlans: [{ vid: 7 }] })),
  },
  {
    description: 'DAD probe (source ::, nonce option) for a VIP -> NA to all-nodes ff02::1, Solicited clear',
    input: solicitation({ target: VIP6_A, src: UNSPECIFIED, options: [nonce()] }),
    want: answer(advertisement({ target: VIP6_A, to: ALL_NODES, toMac: '33:33:00:00:00:01', flags: OVERRIDE })),
  },
  {
    description: 'DAD probe without options -> the same NA to all-nodes',
    input: solicitation({ target: VIP6_A, src: UNSPECIFIED, options: [] }),
    want: answer(advertisement({ target: VIP6_A, to: ALL_NODES, toMac: '33:33:00:00:00:01', flags: OVERRIDE })),
  },
  { description: 'NS for an address that is not a VIP -> left to the kernel', input: solicitation({ target: NOT_A_VIP6 }), want: { action: 'pass' } },
  { description: 'NS for the client\'s own address -> left to the kernel', input: solicitation({ target: CLIENT6, src: UNSPECIFIED, options: [] }), want: { action: 'pass' } },
  { description: 'NS with hop limit 64 (came through a router) -> bad_ndp', input: solicitation({ target: VIP6_A, hopLimit: 64 }), want: badNdp },
  { description: 'NS with code 1 -> bad_ndp', input: solicitation({ target: VIP6_A, code: 1 }), want: badNdp },
  {
    description: 'NS with a wrong checksum -> bad_ndp',
    input: (() => { const f = solicitation({ target: VIP6_A }); f[14 + 40 + 2]! ^= 0x01; return f; })(),
    want: badNdp,
  },
  { description: 'NS for a multicast target -> bad_ndp', input: solicitation({ target: 'ff02::1:ff00:10', dst: 'ff02::1:ff00:10', ethDst: '33:33:ff:00:00:10' }), want: badNdp },
  { description: 'NS with an option of length 0 -> bad_ndp', input: solicitation({ target: VIP6_A, options: [option(1, parseMac(CLIENT_MAC), 0).subarray(0, 8)] }), want: badNdp },
  { description: 'NS with an option longer than the message -> bad_ndp', input: solicitation({ target: VIP6_A, options: [option(1, parseMac(CLIENT_MAC), 1).fill(3, 1, 2)] }), want: badNdp },
  { description: 'NS shorter than 24 bytes (target cut) -> bad_ndp', input: solicitation({ target: VIP6_A, body: parseIpv6(VIP6_A).subarray(0, 8) }), want: badNdp },
  { description: 'DAD probe with a source link-layer option -> bad_ndp', input: solicitation({ target: VIP6_A, src: UNSPECIFIED }), want: badNdp },
  { description: 'DAD probe to a unicast address -> bad_ndp', input: solicitation({ target: VIP6_A, src: UNSPECIFIED, dst: VIP6_A, options: [] }), want: badNdp },
  {
    description: 'NS cut short in the capture (payload length past the frame) -> truncated_ipv6',
    input: solicitation({ target: VIP6_A }).subarray(0, 14 + 40 + 20),
    want: { action: 'drop', reason: 'truncated_ipv6' },
  },
];

function check(row: Row, v: Verdict): void {
  if (row.want.action === 'ndp_reply') {
    assert.equal(v.action, 'ndp_reply', `${row.description}: ${JSON.stringify(v)}`);
    if (v.action !== 'ndp_reply') return;
    assert.equal(hex(v.frame), hex(row.want.frame), `${row.description}: exact advertisement`);
    // The checksum verifies on its own: computed over the pseudo-header here, not taken from the builder.
    const l3 = v.frame.length - 72;
    const ip = v.frame.subarray(l3);
    const src = ip.subarray(8, 24);
    const dst = ip.subarray(24, 40);
    const text = (b: Buffer) => Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16)).join(':');
    assert.equal(checksum6(text(src), text(dst), PROTO_ICMPV6, ip.subarray(40), 2), ip.readUInt16BE(42), 'NA checksum');
    assert.equal(ip[7], 255, 'hop limit 255');
    assert.equal(ip[40 + 4]! & 0x80, 0, 'Router flag clear');
  } else {
    assert.deepEqual(v, row.want, row.description);
  }
}

test('NDP golden rows: NA byte for byte, DAD to all-nodes, others left alone, malformed counted', () => {
  const c = createClassifier(V6_OPTIONS, V6_SNAPSHOT);
  for (const row of ROWS) {
    const before = Buffer.from(row.input);
    check(row, c.classify(row.input, 1_000));
    assert.equal(hex(row.input), hex(before), `${row.description}: the solicitation itself is not changed`);
  }
  const counters = c.counters();
  const count = (pred: (w: Want) => boolean) => BigInt(ROWS.filter((r) => pred(r.want)).length);
  assert.equal(counters.ndpAdverts, count((w) => w.action === 'ndp_reply'));
  assert.equal(counters.passed, count((w) => w.action === 'pass'));
  assert.equal(counters.drops.bad_ndp, count((w) => w.action === 'drop' && w.reason === 'bad_ndp'));
  assert.equal(counters.drops.truncated_ipv6, 1n);
  assert.equal(counters.arpReplies, 0n, 'an advertisement is not an ARP reply');
  assert.ok(ROWS.filter((r) => r.want.action === 'ndp_reply').length >= 6 && ROWS.filter((r) => r.want === badNdp).length >= 8);
});

test('every truncation of a solicitation for a VIP is dropped and counted, never answered', () => {
  const c = createClassifier(V6_OPTIONS, V6_SNAPSHOT);
  const whole = solicitation({ target: VIP6_A });
  const seen = new Map<string, number>();
  for (let len = 0; len < whole.length; len++) {
    const v = c.classify(whole.subarray(0, len), 1_000);
    assert.equal(v.action, 'drop', `${len} bytes: ${JSON.stringify(v)}`);
    if (v.action === 'drop') seen.set(v.reason, (seen.get(v.reason) ?? 0) + 1);
  }
  const drops = c.counters().drops;
  for (const [reason, n] of seen) assert.equal(drops[reason], BigInt(n), reason);
  assert.equal(c.counters().ndpAdverts, 0n);
});

test('an NS for a VIP of a snapshot that lost it is left to the kernel; one for a v4 VIP\'s v4-mapped form too', () => {
  const c = createClassifier(V6_OPTIONS, { services: V6_SNAPSHOT.services.filter((s) => s.vip !== VIP6_A) });
  assert.deepEqual(c.classify(solicitation({ target: VIP6_A }), 1_000), { action: 'pass' });
  assert.deepEqual(c.classify(solicitation({ target: '::ffff:10.0.0.10' }), 1_000), { action: 'pass' });
  assert.equal(c.classify(solicitation({ target: VIP6_B }), 1_000).action, 'ndp_reply');
});
