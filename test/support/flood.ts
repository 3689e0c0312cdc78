// Malformed-frame floods for the DR integration tests: frames built here (deterministically, from a
// seed), written to a file, and sent from inside a namespace by flood-child.js with the addon's
// sendFrames() (which sends from the namespace of the calling process).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNs } from '../../src/netns/run.js';
import type { GenerateSpec } from './flood-child.js';
import { ipv6ToBytes } from '../../src/control/ipv6.js';

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_IPV6 = 0x86dd;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
const TEST_NET_2 = '198.51.100.'; // RFC 5737: nobody on the segment has or routes these
const DOC_NET6 = '2001:db8:5eed::';  // RFC 3849: the v6 counterpart

// ------------------------------------------------------------------ deterministic randomness

/** xorshift32: the same seed gives the same flood, so a failure can be replayed. */
export class Rng {
  private state: number;
  constructor(seed: number) { this.state = (seed >>> 0) || 0x9e3779b9; }
  next(): number {
    let x = this.state;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.state = x;
    return x;
  }
  int(lo: number, hi: number): number { return lo + (this.next() % (hi - lo + 1)); }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

// ------------------------------------------------------------------ frame building

export function macBytes(text: string): Buffer {
  const parts = text.split(':');
  if (parts.length !== 6) throw new Error(`"${text}" is not a MAC`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function ipBytes(text: string): Buffer {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`"${text}" is not IPv4`);
  return Buffer.from(parts);
}

function checksum(data: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += data.readUInt16BE(i);
  if (data.length % 2) sum += (data[data.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ethernet(dst: string, src: string, type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(14);
  macBytes(dst).copy(header, 0);
  macBytes(src).copy(header, 6);
  header.writeUInt16BE(type, 12);
  return Buffer.concat([header, payload]);
}

export interface Ipv4Spec {
  src: string;
  dst: string;
  proto: number;
  payload: Buffer;
  options?: Buffer;         // a multiple of 4 bytes
  ihlWords?: number;        // override the IHL nibble (header length / 4)
  totalLength?: number;     // override the total-length field
  moreFragments?: boolean;
  fragmentOffset?: number;  // in 8-byte units
  ttl?: number;
  id?: number;
}

/** An IPv4 packet with a correct header checksum (over the header as written, overrides included). */
export function ipv4(spec: Ipv4Spec): Buffer {
  const options = spec.options ?? Buffer.alloc(0);
  if (options.length % 4) throw new Error('IPv4 options must be padded to 4 bytes');
  const header = Buffer.alloc(20 + options.length);
  header[0] = 0x40 | ((spec.ihlWords ?? header.length / 4) & 0x0f);
  header.writeUInt16BE(spec.totalLength ?? header.length + spec.payload.length, 2);
  header.writeUInt16BE(spec.id ?? 0x1234, 4);
  header.writeUInt16BE((spec.moreFragments ? 0x2000 : 0) | ((spec.fragmentOffset ?? 0) & 0x1fff), 6);
  header[8] = spec.ttl ?? 64;
  header[9] = spec.proto;
  ipBytes(spec.src).copy(header, 12);
  ipBytes(spec.dst).copy(header, 16);
  options.copy(header, 20);
  header.writeUInt16BE(checksum(header), 10);
  return Buffer.concat([header, spec.payload]);
}

export interface Ipv6Spec {
  src: string;
  dst: string;
  next: number;             // the first next-header value (an extension header or the upper layer)
  payload: Buffer;          // extension headers and the upper layer, as they follow the fixed header
  payloadLength?: number;   // override the payload-length field
}

/** An IPv6 packet: the 40-byte fixed header, then `payload` as given. */
export function ipv6(spec: Ipv6Spec): Buffer {
  const header = Buffer.alloc(40);
  header.writeUInt32BE(0x60000000, 0);
  header.writeUInt16BE(spec.payloadLength ?? spec.payload.length, 4);
  header[6] = spec.next;
  header[7] = 64;
  ipv6ToBytes(spec.src).copy(header, 8);
  ipv6ToBytes(spec.dst).copy(header, 24);
  return Buffer.concat([header, spec.payload]);
}

/** An extension header of the hop-by-hop/destination-options/routing shape: `next`, length, padding. */
export function ipv6Ext(next: number, lengthUnits = 0): Buffer {
  const ext = Buffer.alloc(8 * (lengthUnits + 1));
  ext[0] = next;
  ext[1] = lengthUnits;
  ext[2] = 1;                 // PadN over the rest
  ext[3] = ext.length - 4;
  return ext;
}

export interface TcpSpec { sport: number; dport: number; flags: number; seq?: number; ack?: number; dataOffsetWords?: number; payload?: Buffer }

/** A TCP segment (checksum left zero: the tests only need the dispatcher to read it, not a socket to accept it). */
export function tcp(spec: TcpSpec): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(spec.sport, 0);
  header.writeUInt16BE(spec.dport, 2);
  header.writeUInt32BE((spec.seq ?? 1) >>> 0, 4);
  header.writeUInt32BE((spec.ack ?? 0) >>> 0, 8);
  header[12] = ((spec.dataOffsetWords ?? 5) & 0x0f) << 4;
  header[13] = spec.flags;
  header.writeUInt16BE(65535, 14);
  return Buffer.concat([header, spec.payload ?? Buffer.alloc(0)]);
}

export function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(sport, 0);
  header.writeUInt16BE(dport, 2);
  header.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([header, payload]);
}

export function arpReply(senderMac: string, senderIp: string, targetMac: string, targetIp: string): Buffer {
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0);        // Ethernet
  arp.writeUInt16BE(ETH_IPV4, 2);
  arp[4] = 6;
  arp[5] = 4;
  arp.writeUInt16BE(2, 6);        // reply
  macBytes(senderMac).copy(arp, 8);
  ipBytes(senderIp).copy(arp, 14);
  macBytes(targetMac).copy(arp, 18);
  ipBytes(targetIp).copy(arp, 24);
  return arp;
}

const TCP_ACK = 0x10;
const TCP_SYN = 0x02;
const TCP_PSH = 0x08;

// ------------------------------------------------------------------ the flood

/** What each kind of frame is, and the drop reason the fast path should give it (if it reaches it). */
export const FLOOD_KINDS = {
  random: 'random bytes after an IPv4 Ethernet header, VIP at bytes 30..33 (mostly bad_ip_version)',
  short_ip: 'IPv4 ethertype, frame cut inside the IP header (< 34 bytes): the VIP filter cannot read it, never reaches the ring',
  bad_ihl_small: 'IPv4 with IHL < 5 (bad_ihl)',
  bad_ihl_long: 'IHL longer than the frame (bad_ihl)',
  total_too_long: 'total length beyond the frame (bad_ip_length)',
  total_below_ihl: 'total length smaller than the header (bad_ip_length)',
  truncated_tcp: 'TCP header cut short by the IP total length (truncated_l4)',
  truncated_udp: 'UDP header cut short (truncated_l4)',
  bad_tcp_offset: 'TCP data offset < 5 (bad_tcp_offset)',
  fragment: 'first fragment (MF) to the 5-tuple service (fragment)',
  ip_options: 'valid TCP with IPv4 options: must be forwarded',
  arp_reply: 'ARP reply about the VIP (arp_ignored)',
  udp_no_service: 'UDP to the VIP, the service is TCP (no_service)',
  non_vip_ipv4: 'IPv4 to another address: never reaches the fast path (socket filter)',
  non_ip: 'an unknown ethertype: never reaches the fast path (socket filter)',
  // The kinds below are for the sanitizer flood (test/support/asan-flood.ts): what they are dropped
  // for varies, what matters is that reading them touches nothing outside the frame.
  truncated_every_offset: 'a valid TCP frame with IP and TCP options, cut at offset 0, 1, 2, ... in turn (every offset)',
  vlan_junk: '802.1Q / QinQ / stacked tags in front of garbage, tags cut short, unknown inner ethertypes',
  arp_junk: 'ARP about the VIP with garbage hardware/protocol types, lengths and opcodes, with or without padding',
  icmp_garbage: 'ICMP errors to the VIP quoting garbage: random or half-valid quoted headers of every length',
  // IPv6 junk to the v6 VIP (FloodTarget.vip6): each passes the v6 VIP socket filter.
  v6_truncated: 'IPv6 whose payload length runs past the frame (truncated_ipv6)',
  v6_ext_truncated: 'a hop-by-hop header whose length runs past the packet (ipv6_ext_truncated)',
  v6_ext_too_many: 'nine destination-options headers before TCP (ipv6_ext_too_many)',
  v6_truncated_tcp: 'TCP behind the v6 header cut short (truncated_l4)',
  v6_random: 'random bytes behind a v6 header to the VIP, random next header',
} as const;
export type FloodKind = keyof typeof FLOOD_KINDS;

/** The kinds dr-malformed-flood.test.ts counts drop by drop (each has one known drop reason). */
/** The v6 kinds dr-dual-stack.test.ts sends while v6 requests run. */
export const V6_KINDS: FloodKind[] = ['v6_truncated', 'v6_ext_truncated', 'v6_ext_too_many', 'v6_truncated_tcp', 'v6_random'];

export const COUNTED_KINDS: FloodKind[] = [
  'random', 'short_ip', 'bad_ihl_small', 'bad_ihl_long', 'total_too_long', 'total_below_ihl', 'truncated_tcp',
  'truncated_udp', 'bad_tcp_offset', 'fragment', 'ip_options', 'arp_reply', 'udp_no_service', 'non_vip_ipv4', 'non_ip',
];

export interface FloodTarget {
  dstMac: string;      // the dispatcher's MAC
  srcMac: string;      // the sending host's own MAC (a foreign MAC would teach the bridge lies)
  senderIp: string;    // the sending host's address (ARP replies tell the truth about it)
  vip: string;
  port: number;        // the service's TCP port
  vip6?: string;       // the v6 VIP (v6 kinds; a documentation address when absent)
  port6?: number;      // its service's TCP port (default port)
}

export interface Flood { frames: Buffer[]; counts: Record<FloodKind, number>; seed: number }

const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const PROTO_ICMP = 1;

function vlanTag(tpid: number, vid: number): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(tpid, 0);
  tag.writeUInt16BE(vid & 0x0fff, 2);
  return tag;
}

/** The frame truncated_every_offset cuts: IHL 6 (router alert), TCP with 12 bytes of options and data. */
function fullTcpFrame(t: FloodTarget, src: string, sport: number, rng: Rng): Buffer {
  const segment = tcp({ sport, dport: t.port, flags: TCP_ACK | TCP_PSH, seq: rng.next(), dataOffsetWords: 8, payload: Buffer.concat([
    Buffer.from([2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]), rng.bytes(24)]) });
  return ethernet(t.dstMac, t.srcMac, ETH_IPV4, ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: segment, options: Buffer.from([0x94, 4, 0, 0]) }));
}

function icmpChecksummed(type: number, code: number, rest: number, quote: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = type;
  header[1] = code;
  header.writeUInt32BE(rest >>> 0, 4);
  const message = Buffer.concat([header, quote]);
  message.writeUInt16BE(checksum(message), 2);
  return message;
}

/**
 * A frame of the given kind; sources are TEST-NET-2 addresses so no answer ever reaches a real host.
 * `nth` counts the frames of this kind so far (truncated_every_offset cuts at nth % length).
 */
export function floodFrame(kind: FloodKind, t: FloodTarget, rng: Rng, nth = 0): Buffer {
  const src = `${TEST_NET_2}${rng.int(1, 254)}`;
  const sport = rng.int(1024, 65535);
  const eth = (payload: Buffer, type = ETH_IPV4) => ethernet(t.dstMac, t.srcMac, type, payload);
  const tcpTo = (flags: number, extra: Partial<TcpSpec> = {}) => tcp({ sport, dport: t.port, flags, seq: rng.next(), ...extra });
  switch (kind) {
    case 'random': {
      const frame = eth(rng.bytes(rng.int(20, 200)));
      ipBytes(t.vip).copy(frame, 30);  // so that it passes the VIP socket filter
      ipBytes(src).copy(frame, 26);
      return frame;
    }
    case 'short_ip':
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: Buffer.alloc(0) }).subarray(0, rng.int(0, 19)));
    case 'bad_ihl_small': {
      const packet = ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: tcpTo(TCP_ACK) });
      packet[0] = 0x40 | rng.int(0, 4);
      return eth(packet);
    }
    case 'bad_ihl_long': // IHL 15 = 60 bytes of header, the frame holds 20 + 10
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: rng.bytes(10), ihlWords: 15, totalLength: 60 }));
    case 'total_too_long':
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: tcpTo(TCP_ACK), totalLength: 40 + rng.int(1, 1400) }));
    case 'total_below_ihl':
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: tcpTo(TCP_ACK), totalLength: rng.int(0, 19) }));
    case 'truncated_tcp': // 20-byte IP header + only 0..19 bytes of TCP
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: tcpTo(TCP_ACK).subarray(0, rng.int(0, 19)) }));
    case 'truncated_udp':
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_UDP, payload: udp(sport, t.port, Buffer.alloc(0)).subarray(0, rng.int(0, 7)) }));
    case 'bad_tcp_offset':
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: tcpTo(TCP_ACK, { dataOffsetWords: rng.int(0, 4) }) }));
    case 'fragment':
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: tcpTo(TCP_ACK | TCP_PSH, { payload: rng.bytes(16) }), moreFragments: true, id: rng.int(1, 65535) }));
    case 'ip_options': {
      // Valid options: NOP, NOP, NOP, EOL (4 bytes) or a Router Alert (RFC 2113) padded to 8.
      const options = rng.int(0, 1) === 0 ? Buffer.from([1, 1, 1, 0]) : Buffer.from([0x94, 4, 0, 0, 1, 1, 1, 0]);
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_TCP, payload: tcpTo(TCP_ACK), options }));
    }
    case 'arp_reply':
      return eth(arpReply(t.srcMac, t.senderIp, t.dstMac, t.vip), ETH_ARP);
    case 'udp_no_service':
      return eth(ipv4({ src, dst: t.vip, proto: PROTO_UDP, payload: udp(sport, t.port, rng.bytes(8)) }));
    case 'non_vip_ipv4':
      return eth(ipv4({ src, dst: `${TEST_NET_2}${rng.int(1, 254)}`, proto: PROTO_TCP, payload: tcpTo(TCP_SYN) }));
    case 'non_ip':
      return eth(rng.bytes(rng.int(46, 100)), 0x88b5); // IEEE local experimental ethertype
    case 'truncated_every_offset': {
      const frame = fullTcpFrame(t, src, sport, rng);
      return frame.subarray(0, nth % frame.length);
    }
    case 'vlan_junk': {
      // After the tags: the IPv4/ARP ethertype and garbage carrying the VIP where the tagged VIP
      // filter looks (so some of it reaches the ring), or an unknown inner ethertype, or nothing.
      const tags: Buffer[] = [];
      const depth = rng.int(1, 3);
      for (let i = 0; i < depth; i++) tags.push(vlanTag(i === 0 && rng.int(0, 1) ? ETH_QINQ : ETH_VLAN, rng.next()));
      const inner = [ETH_IPV4, ETH_ARP, ETH_VLAN, rng.next() & 0xffff][rng.int(0, 3)] as number;
      const type = Buffer.alloc(2);
      type.writeUInt16BE(inner, 0);
      const body = rng.bytes(rng.int(0, 120));
      if (body.length >= 20) ipBytes(t.vip).copy(body, 16);
      const frame = Buffer.concat([macBytes(t.dstMac), macBytes(t.srcMac), ...tags, type, body]);
      return rng.int(0, 3) === 0 ? frame.subarray(0, rng.int(12, Math.min(frame.length, 24))) : frame;
    }
    case 'arp_junk': {
      const arp = arpReply(t.srcMac, t.senderIp, t.dstMac, t.vip);
      arp.writeUInt16BE(rng.int(0, 3) === 0 ? 1 : rng.next() & 0xffff, 0);         // hardware type
      arp.writeUInt16BE(rng.int(0, 3) === 0 ? ETH_IPV4 : rng.next() & 0xffff, 2);  // protocol type
      arp[4] = rng.int(0, 2) === 0 ? 6 : rng.next() & 0xff;                      // lengths
      arp[5] = rng.int(0, 2) === 0 ? 4 : rng.next() & 0xff;
      arp.writeUInt16BE(rng.int(0, 5), 6);                                     // opcode 0..5
      const frame = eth(Buffer.concat([arp, rng.bytes(rng.int(0, 40))]), ETH_ARP);
      // Cut only in the padding: the socket filter needs the target IP (the ARP's last 4 bytes), so
      // an ARP cut inside never reaches the ring (the golden table covers that parse path).
      return frame.subarray(0, rng.int(14 + 28, frame.length));
    }
    case 'v6_truncated':
    case 'v6_ext_truncated':
    case 'v6_ext_too_many':
    case 'v6_truncated_tcp':
    case 'v6_random':
      return v6Junk(kind, t, rng);
    case 'icmp_garbage': {
      // The quoted "packet the server sent": random bytes, or a header from the VIP with garbage after it.
      let quote = rng.bytes(rng.int(0, 80));
      if (rng.int(0, 1) === 0 && quote.length >= 20) {
        quote[0] = 0x40 | rng.int(0, 15);
        quote[9] = [PROTO_TCP, PROTO_UDP, PROTO_ICMP, rng.next() & 0xff][rng.int(0, 3)] as number;
        ipBytes(t.vip).copy(quote, 12);
        ipBytes(src).copy(quote, 16);
      }
      const type = [3, 11, 12, 4, 5, rng.next() & 0xff][rng.int(0, 5)] as number;
      const message = icmpChecksummed(type, rng.int(0, 15), rng.next(), quote);
      return eth(ipv4({ src: `${TEST_NET_2}1`, dst: t.vip, proto: PROTO_ICMP, payload: message.subarray(0, rng.int(0, message.length)) }));
    }
  }
}

const NEXT_HOP_BY_HOP = 0;
const NEXT_DEST_OPTIONS = 60;

function v6Junk(kind: FloodKind, t: FloodTarget, rng: Rng): Buffer {
  const src = `${DOC_NET6}${rng.int(1, 0xfffe).toString(16)}`;
  const dst = t.vip6 ?? `${DOC_NET6}100`;
  const eth = (payload: Buffer) => ethernet(t.dstMac, t.srcMac, ETH_IPV6, payload);
  const segment = tcp({ sport: rng.int(1024, 65535), dport: t.port6 ?? t.port, flags: TCP_ACK, seq: rng.next() });
  switch (kind) {
    case 'v6_truncated':
      return eth(ipv6({ src, dst, next: PROTO_TCP, payload: segment, payloadLength: segment.length + rng.int(1, 1400) }));
    case 'v6_ext_truncated': // claims (n + 1) x 8 bytes, the packet ends before
      return eth(ipv6({ src, dst, next: NEXT_HOP_BY_HOP, payload: ipv6Ext(PROTO_TCP, rng.int(4, 255)).subarray(0, 8 + rng.int(0, 24)) }));
    case 'v6_ext_too_many': {
      const chain = Array.from({ length: 9 }, () => ipv6Ext(NEXT_DEST_OPTIONS));
      chain[8]![0] = PROTO_TCP;
      return eth(ipv6({ src, dst, next: NEXT_DEST_OPTIONS, payload: Buffer.concat([...chain, segment]) }));
    }
    case 'v6_truncated_tcp':
      return eth(ipv6({ src, dst, next: PROTO_TCP, payload: segment.subarray(0, rng.int(0, 19)) }));
    default:
      return eth(ipv6({ src, dst, next: rng.next() & 0xff, payload: rng.bytes(rng.int(0, 120)) }));
  }
}

/**
 * `total` frames: every kind in turn (so each appears about total / kinds times), then shuffled.
 * `weights` lets a kind appear more often (random bytes are the bulk of a real flood).
 */
export function buildFlood(
  t: FloodTarget, total: number, seed: number, weights: Partial<Record<FloodKind, number>> = {}, kinds: FloodKind[] = COUNTED_KINDS,
): Flood {
  const rng = new Rng(seed);
  const wheel = kinds.flatMap((k) => Array.from({ length: weights[k] ?? 1 }, () => k));
  const counts = Object.fromEntries((Object.keys(FLOOD_KINDS) as FloodKind[]).map((k) => [k, 0])) as Record<FloodKind, number>;
  const frames: Buffer[] = [];
  for (let i = 0; i < total; i++) {
    const kind = wheel[i % wheel.length] as FloodKind;
    frames.push(floodFrame(kind, t, rng, counts[kind]));
    counts[kind]++;
  }
  for (let i = frames.length - 1; i > 0; i--) {
    const j = rng.next() % (i + 1);
    [frames[i], frames[j]] = [frames[j] as Buffer, frames[i] as Buffer];
  }
  return { frames, counts, seed };
}

// ------------------------------------------------------------------ sending from a namespace

/** Frames as [u16 length][bytes]..., the format flood-child.js reads. */
export function encodeFrames(frames: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const frame of frames) {
    if (frame.length > 0xffff) throw new Error('frame too long');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(frame.length, 0);
    parts.push(len, frame);
  }
  return Buffer.concat(parts);
}

export interface SendOptions {
  batch?: number;      // frames per sendFrames() call, default 200
  pauseMs?: number;    // pause between batches (keeps the flood from starving everything else), default 5
  timeoutMs?: number;  // the child is killed after this, default 60 s
  name?: string;       // file name in dir
  env?: NodeJS.ProcessEnv; // the sender's environment (default ours)
}

export interface SendResult { total: number; sent: number; batches: number; elapsedMs?: number; pools?: number }

const CHILD = fileURLToPath(new URL('./flood-child.js', import.meta.url));

/** Sends the frames out of `ifname` in namespace `ns`, from a child process living in that namespace. */
export async function sendFramesInNs(ns: string, ifname: string, frames: Buffer[], dir: string, opts: SendOptions = {}): Promise<SendResult> {
  const file = join(dir, opts.name ?? `flood-${process.pid}-${Date.now()}.bin`);
  await writeFile(file, encodeFrames(frames));
  return runChild(ns, ['--file', file, '--ifname', ifname], opts);
}

/**
 * Sends a seeded flood that the child builds itself (flood-child.ts --generate): for counts whose
 * frames would not fit in a file. Unpaced by default: as fast as the child can build and send.
 */
export async function sendGeneratedFloodInNs(ns: string, ifname: string, spec: GenerateSpec, dir: string, opts: SendOptions = {}): Promise<SendResult> {
  const file = join(dir, opts.name ?? `flood-spec-${process.pid}-${Date.now()}.json`);
  await writeFile(file, JSON.stringify(spec));
  return runChild(ns, ['--generate', file, '--ifname', ifname], { batch: 1024, pauseMs: 0, ...opts });
}

async function runChild(ns: string, args: string[], opts: SendOptions): Promise<SendResult> {
  const { stdout } = await runInNs(ns, process.execPath, [
    CHILD, ...args, '--batch', String(opts.batch ?? 200), '--pause-ms', String(opts.pauseMs ?? 5),
  ], { timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.env ? { env: opts.env } : {}) });
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as SendResult;
  } catch {
    throw new Error(`flood-child printed no JSON result: ${stdout.trim() || '(nothing)'}`);
  }
}
