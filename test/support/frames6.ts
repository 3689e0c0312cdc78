// IPv6 test frames: the fixed header, the extension headers the fast path walks, and TCP/UDP/ICMPv6
// with checksums over the IPv6 pseudo-header (RFC 8200 8.1), built independently of the addon.
import { isIPv6 } from 'node:net';
import {
  ETH_IPV6, PROTO_TCP, PROTO_UDP, TCP_SYN, ethernet, onesSum, type FrameMacs,
} from './frames.js';

export const PROTO_ICMPV6 = 58;
export const IPV6_HOP_BY_HOP = 0;
export const IPV6_ROUTING = 43;
export const IPV6_FRAGMENT = 44;
export const IPV6_DEST_OPTIONS = 60;
export const IPV6_NO_NEXT = 59;

export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAM_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;

/** 16 bytes of an IPv6 address in any RFC 4291 text form (:: and embedded IPv4 included). */
export function parseIpv6(text: string): Buffer {
  if (!isIPv6(text)) throw new Error(`not an IPv6 address: ${text}`);
  let head = text;
  const words: number[] = [];
  // An embedded IPv4 tail is two words.
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    head = v4[1] as string;
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
    const b = (v4[2] as string).split('.').map(Number);
    tail = [((b[0] as number) << 8) | (b[1] as number), ((b[2] as number) << 8) | (b[3] as number)];
  }
  const [left, right] = head.includes('::') ? head.split('::') as [string, string] : [head, undefined];
  const part = (s: string | undefined): number[] => (s ? s.split(':').filter((w) => w !== '').map((w) => parseInt(w, 16)) : []);
  const l = part(left);
  const r = [...part(right), ...tail];
  const zeros = 8 - l.length - r.length;
  words.push(...l, ...(right !== undefined ? new Array<number>(zeros).fill(0) : []), ...r);
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, 2 * i));
  return out;
}

/** The fast path's fold of a v6 address to 32 bits: the XOR of its four big-endian words. */
export function foldIpv6(text: string): number {
  const b = parseIpv6(text);
  return (b.readUInt32BE(0) ^ b.readUInt32BE(4) ^ b.readUInt32BE(8) ^ b.readUInt32BE(12)) >>> 0;
}

export interface Ipv6Options {
  src: string;
  dst: string;
  nextHeader: number;
  hopLimit?: number;            // default 64
  flowLabel?: number;
  version?: number;             // override (default 6)
  payloadLength?: number;       // override (default: the payload's length)
}

export function ipv6(opts: Ipv6Options, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE((((opts.version ?? 6) & 0x0f) << 28 | ((opts.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  h.writeUInt16BE(opts.payloadLength ?? payload.length, 4);
  h[6] = opts.nextHeader;
  h[7] = opts.hopLimit ?? 64;
  parseIpv6(opts.src).copy(h, 8);
  parseIpv6(opts.dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/**
 * A hop-by-hop, routing or destination-options header: next header, length in 8-byte units not
 * counting the first, then PadN (or, for routing, type 0 data) filling `units8` * 8 + 6 bytes.
 */
export function extHeader(type: number, next: number, units8 = 0): Buffer {
  const h = Buffer.alloc((units8 + 1) * 8);
  h[0] = next;
  h[1] = units8;
  if (type === IPV6_ROUTING) {
    h[2] = 4;  // segment routing header type: not one the dispatcher acts on, only skips
    h[3] = 0;  // segments left
  } else {
    h[2] = 1;  // PadN over the rest
    h[3] = h.length - 4;
  }
  return h;
}

/** A fragment header (RFC 8200 4.5): offset in 8-byte units. */
export function fragmentHeader(next: number, offset: number, more: boolean, id = 0x0badcafe): Buffer {
  const h = Buffer.alloc(8);
  h[0] = next;
  h.writeUInt16BE(((offset & 0x1fff) << 3) | (more ? 1 : 0), 2);
  h.writeUInt32BE(id >>> 0, 4);
  return h;
}

function pseudoHeaderSum6(src: string, dst: string, next: number, length: number): number {
  const p = Buffer.alloc(40);
  parseIpv6(src).copy(p, 0);
  parseIpv6(dst).copy(p, 16);
  p.writeUInt32BE(length, 32);
  p[39] = next;
  return onesSum(p);
}

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Checksum of an upper-layer message over the IPv6 pseudo-header; field at `at` treated as 0. */
export function checksum6(src: string, dst: string, next: number, message: Uint8Array, at: number): number {
  const copy = Buffer.from(message);
  copy.writeUInt16BE(0, at);
  const c = fold(onesSum(copy, pseudoHeaderSum6(src, dst, next, copy.length)));
  return next === PROTO_UDP && c === 0 ? 0xffff : c;
}

export function tcp6(o: { src: string; dst: string; sport: number; dport: number; flags?: number; payload?: Uint8Array }): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE(0x01020304, 4);
  h[12] = 5 << 4;
  h[13] = o.flags ?? TCP_SYN;
  h.writeUInt16BE(65535, 14);
  const seg = Buffer.concat([h, o.payload ?? Buffer.alloc(0)]);
  seg.writeUInt16BE(checksum6(o.src, o.dst, PROTO_TCP, seg, 16), 16);
  return seg;
}

export function udp6(o: { src: string; dst: string; sport: number; dport: number; payload?: Uint8Array }): Buffer {
  const payload = o.payload ?? Buffer.alloc(0);
  const h = Buffer.alloc(8);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  const d = Buffer.concat([h, payload]);
  d.writeUInt16BE(checksum6(o.src, o.dst, PROTO_UDP, d, 6), 6);
  return d;
}

/** An ICMPv6 message: type, code, the 32-bit field after the checksum (PTB: the MTU), body. */
export function icmp6(o: { src: string; dst: string; type: number; code?: number; rest?: number; body?: Uint8Array }): Buffer {
  const h = Buffer.alloc(8);
  h[0] = o.type;
  h[1] = o.code ?? 0;
  h.writeUInt32BE((o.rest ?? 0) >>> 0, 4);
  const m = Buffer.concat([h, o.body ?? Buffer.alloc(0)]);
  m.writeUInt16BE(checksum6(o.src, o.dst, PROTO_ICMPV6, m, 2), 2);
  return m;
}

/**
 * Ethernet + IPv6 + `exts` (each already pointing at the next) + `upper`: `first` is the fixed
 * header's next header (the first extension's type, or the upper layer's protocol).
 */
export function ipv6Frame(
  eth: FrameMacs, ip: Omit<Ipv6Options, 'nextHeader'> & { nextHeader: number }, exts: Buffer[], upper: Uint8Array,
): Buffer {
  return ethernet({ ...eth, ethertype: ETH_IPV6 }, ipv6(ip, Buffer.concat([...exts, upper])));
}

/** Ethernet + IPv6 + TCP (no extension headers). */
export function tcp6Frame(eth: FrameMacs, src: string, dst: string, sport: number, dport: number, flags = TCP_SYN): Buffer {
  return ipv6Frame(eth, { src, dst, nextHeader: PROTO_TCP }, [], tcp6({ src, dst, sport, dport, flags }));
}
