// A small, dependency-free frame builder for golden-frame and classifier tests: Ethernet (0, 1 or 2
// VLAN tags), IPv4 (options, IHL / total-length overrides, fragments, a correct header checksum),
// TCP, UDP, ARP, plus the checksum helpers used to verify the fast path independently of it.
// Every override exists so a test can build a frame that is wrong in exactly one way.

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_IPV6 = 0x86dd;
export const ETH_VLAN = 0x8100;  // 802.1Q
export const ETH_QINQ = 0x88a8;  // 802.1ad outer tag

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC = '00:00:00:00:00:00';

// ---------------------------------------------------------------- addresses

export function parseMac(text: string): Buffer {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`"${text}" is not a MAC address`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** Lower-case colon form of 6 bytes, e.g. from a frame: formatMac(frame.subarray(0, 6)). */
export function formatMac(bytes: Uint8Array): string {
  if (bytes.length !== 6) throw new Error(`a MAC is 6 bytes, got ${bytes.length}`);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseIpv4(text: string): Buffer {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`"${text}" is not an IPv4 address`);
  }
  return Buffer.from(parts.map(Number));
}

/** Host-order 32-bit value of a dotted IPv4 address (what the C++ side keys flows with). */
export function ipv4ToInt(text: string): number {
  return parseIpv4(text).readUInt32BE(0);
}

export function intToIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

// ---------------------------------------------------------------- checksums

/** One's-complement sum of 16-bit big-endian words (odd trailing byte padded with zero), not folded. */
export function onesSum(data: Uint8Array, acc = 0): number {
  let sum = acc;
  let i = 0;
  for (; i + 1 < data.length; i += 2) sum += ((data[i] as number) << 8) | (data[i + 1] as number);
  if (i < data.length) sum += (data[i] as number) << 8;
  return sum;
}

function foldComplement(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** IPv4 header checksum of a header whose checksum field is zero (or: 0 when the header verifies). */
export function ipv4HeaderChecksum(header: Uint8Array): number {
  return foldComplement(onesSum(header));
}

function pseudoHeaderSum(src: string, dst: string, protocol: number, l4Length: number): number {
  let sum = onesSum(parseIpv4(src));
  sum = onesSum(parseIpv4(dst), sum);
  return sum + protocol + l4Length;
}

/**
 * TCP or UDP checksum over the IPv4 pseudo-header and `segment` (whose checksum field is ignored:
 * treated as zero). A UDP result of 0 is sent as 0xffff (RFC 768).
 */
export function l4Checksum(src: string, dst: string, protocol: number, segment: Uint8Array): number {
  const field = checksumField(protocol);
  const copy = Buffer.from(segment);
  if (copy.length >= field + 2) copy.writeUInt16BE(0, field);
  const csum = foldComplement(onesSum(copy, pseudoHeaderSum(src, dst, protocol, copy.length)));
  return protocol === PROTO_UDP && csum === 0 ? 0xffff : csum;
}

function checksumField(protocol: number): number {
  if (protocol === PROTO_TCP) return 16;
  if (protocol === PROTO_UDP) return 6;
  throw new Error(`no L4 checksum for protocol ${protocol}`);
}

/** Where the layers of an Ethernet/IPv4 frame start, found by walking it (up to two VLAN tags). */
export function frameOffsets(frame: Uint8Array): { l3: number; l4: number; ipEnd: number; ethertype: number } {
  let off = 12;
  let type = readU16(frame, off);
  for (let tags = 0; (type === ETH_VLAN || type === ETH_QINQ) && tags < 2; tags++) {
    off += 4;
    type = readU16(frame, off);
  }
  const l3 = off + 2;
  if (type !== ETH_IPV4) return { l3, l4: l3, ipEnd: frame.length, ethertype: type };
  const ihl = ((frame[l3] as number) & 0x0f) * 4;
  return { l3, l4: l3 + ihl, ipEnd: l3 + readU16(frame, l3 + 2), ethertype: type };
}

/** True when the TCP/UDP checksum of an unfragmented IPv4 frame is correct (padding excluded). */
export function verifyL4Checksum(frame: Uint8Array): boolean {
  const { l3, l4, ipEnd } = frameOffsets(frame);
  const protocol = frame[l3 + 9] as number;
  const src = Array.from(frame.subarray(l3 + 12, l3 + 16)).join('.');
  const dst = Array.from(frame.subarray(l3 + 16, l3 + 20)).join('.');
  const segment = frame.subarray(l4, ipEnd);
  const stored = readU16(segment, checksumField(protocol));
  return stored === l4Checksum(src, dst, protocol, segment);
}

/** True when the IPv4 header checksum of the frame verifies. */
export function verifyIpv4HeaderChecksum(frame: Uint8Array): boolean {
  const { l3, l4 } = frameOffsets(frame);
  return ipv4HeaderChecksum(frame.subarray(l3, l4)) === 0;
}

function readU16(b: Uint8Array, off: number): number {
  return (((b[off] as number) << 8) | (b[off + 1] as number)) & 0xffff;
}

// ---------------------------------------------------------------- Ethernet

export interface VlanTag {
  tpid?: number;    // default 0x8100 (802.1Q); 0x88a8 for a QinQ outer tag
  vid: number;      // 12 bits
  pcp?: number;     // 3 bits
  dei?: boolean;
}

export interface EthernetOptions {
  dst: string;
  src: string;
  ethertype: number;
  vlans?: VlanTag[];        // outermost first
  /** Pads with `padByte` up to this many bytes (no FCS), e.g. 60 for a minimum-size frame. */
  padTo?: number;
  padByte?: number;
}

export function ethernet(opts: EthernetOptions, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const tags = opts.vlans ?? [];
  const head = Buffer.alloc(14 + 4 * tags.length);
  parseMac(opts.dst).copy(head, 0);
  parseMac(opts.src).copy(head, 6);
  let off = 12;
  for (const tag of tags) {
    head.writeUInt16BE(tag.tpid ?? ETH_VLAN, off);
    head.writeUInt16BE((((tag.pcp ?? 0) & 7) << 13) | (tag.dei ? 0x1000 : 0) | (tag.vid & 0x0fff), off + 2);
    off += 4;
  }
  head.writeUInt16BE(opts.ethertype, off);
  const frame = Buffer.concat([head, payload]);
  if (opts.padTo !== undefined && frame.length < opts.padTo) {
    return Buffer.concat([frame, Buffer.alloc(opts.padTo - frame.length, opts.padByte ?? 0)]);
  }
  return frame;
}

/** A frame with the same bytes as `frame` but new destination and source MACs. */
export function withMacs(frame: Uint8Array, dst: string, src: string): Buffer {
  const out = Buffer.from(frame);
  parseMac(dst).copy(out, 0);
  parseMac(src).copy(out, 6);
  return out;
}

// ---------------------------------------------------------------- IPv4

export interface Ipv4Options {
  src: string;
  dst: string;
  protocol: number;
  ttl?: number;                 // default 64
  tos?: number;
  id?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  fragmentOffset?: number;      // in 8-byte units
  options?: Uint8Array;         // IP options, padded with zeros (EOL) to a multiple of 4 bytes
  version?: number;             // override (default 4)
  ihl?: number;                 // override, in 32-bit words (default from the options)
  totalLength?: number;         // override (default header + payload)
  checksum?: number;            // override (default: correct)
}

export function ipv4(opts: Ipv4Options, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const rawOptions = opts.options ?? Buffer.alloc(0);
  const optionBytes = Buffer.alloc(Math.ceil(rawOptions.length / 4) * 4);
  Buffer.from(rawOptions).copy(optionBytes);
  const header = Buffer.alloc(20 + optionBytes.length);
  const ihl = opts.ihl ?? header.length / 4;
  header[0] = (((opts.version ?? 4) & 0x0f) << 4) | (ihl & 0x0f);
  header[1] = opts.tos ?? 0;
  header.writeUInt16BE(opts.totalLength ?? header.length + payload.length, 2);
  header.writeUInt16BE(opts.id ?? 0x1234, 4);
  const flags = (opts.dontFragment ? 0x4000 : 0) | (opts.moreFragments ? 0x2000 : 0);
  header.writeUInt16BE(flags | ((opts.fragmentOffset ?? 0) & 0x1fff), 6);
  header[8] = opts.ttl ?? 64;
  header[9] = opts.protocol;
  parseIpv4(opts.src).copy(header, 12);
  parseIpv4(opts.dst).copy(header, 16);
  optionBytes.copy(header, 20);
  header.writeUInt16BE(opts.checksum ?? ipv4HeaderChecksum(header), 10);
  return Buffer.concat([header, payload]);
}

/** Record Route option with room for `slots` addresses (3 + 4*slots bytes). */
export function recordRouteOption(slots: number): Buffer {
  const opt = Buffer.alloc(3 + 4 * slots);
  opt[0] = 7;
  opt[1] = opt.length;
  opt[2] = 4;
  return opt;
}

// ---------------------------------------------------------------- TCP / UDP

export interface TcpOptions {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags?: number;               // default SYN
  window?: number;
  options?: Uint8Array;         // TCP options, padded with zeros to a multiple of 4 bytes
  dataOffset?: number;          // override, in 32-bit words
  payload?: Uint8Array;
  urgent?: number;
}

export interface L4Addresses {
  src: string;                  // for the pseudo-header checksum
  dst: string;
  /** Override the checksum; default: correct for (src, dst). */
  checksum?: number;
}

export function tcp(opts: TcpOptions & L4Addresses): Buffer {
  const rawOptions = opts.options ?? Buffer.alloc(0);
  const optionBytes = Buffer.alloc(Math.ceil(rawOptions.length / 4) * 4);
  Buffer.from(rawOptions).copy(optionBytes);
  const header = Buffer.alloc(20 + optionBytes.length);
  header.writeUInt16BE(opts.sport, 0);
  header.writeUInt16BE(opts.dport, 2);
  header.writeUInt32BE((opts.seq ?? 1000) >>> 0, 4);
  header.writeUInt32BE((opts.ack ?? 0) >>> 0, 8);
  header[12] = ((opts.dataOffset ?? header.length / 4) & 0x0f) << 4;
  header[13] = opts.flags ?? TCP_SYN;
  header.writeUInt16BE(opts.window ?? 65535, 14);
  header.writeUInt16BE(opts.urgent ?? 0, 18);
  optionBytes.copy(header, 20);
  const segment = Buffer.concat([header, opts.payload ?? Buffer.alloc(0)]);
  segment.writeUInt16BE(opts.checksum ?? l4Checksum(opts.src, opts.dst, PROTO_TCP, segment), 16);
  return segment;
}

export interface UdpOptions {
  sport: number;
  dport: number;
  payload?: Uint8Array;
  length?: number;              // override of the UDP length field
}

export function udp(opts: UdpOptions & L4Addresses): Buffer {
  const payload = opts.payload ?? Buffer.alloc(0);
  const header = Buffer.alloc(8);
  header.writeUInt16BE(opts.sport, 0);
  header.writeUInt16BE(opts.dport, 2);
  header.writeUInt16BE(opts.length ?? 8 + payload.length, 4);
  const datagram = Buffer.concat([header, payload]);
  datagram.writeUInt16BE(opts.checksum ?? l4Checksum(opts.src, opts.dst, PROTO_UDP, datagram), 6);
  return datagram;
}

// ---------------------------------------------------------------- ICMP

export const ICMP_ECHO_REQUEST = 8;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_FRAG_NEEDED = 4;  // code of DEST_UNREACHABLE

export interface IcmpOptions {
  type: number;
  code?: number;
  rest?: number;                // the 32-bit "rest of header" (e.g. next-hop MTU in the low 16 bits)
  payload?: Uint8Array;         // for an error: the quoted IPv4 header + at least 8 bytes of L4
  checksum?: number;            // override (default: correct)
}

export function icmp(opts: IcmpOptions): Buffer {
  const header = Buffer.alloc(8);
  header[0] = opts.type;
  header[1] = opts.code ?? 0;
  header.writeUInt32BE((opts.rest ?? 0) >>> 0, 4);
  const message = Buffer.concat([header, opts.payload ?? Buffer.alloc(0)]);
  message.writeUInt16BE(opts.checksum ?? foldComplement(onesSum(message)), 2);
  return message;
}

// ---------------------------------------------------------------- whole frames

export interface FrameMacs {
  dst: string;
  src: string;
  vlans?: VlanTag[];
  padTo?: number;
  padByte?: number;
}

export type IpFields = Omit<Ipv4Options, 'protocol'> & { protocol?: number };

/** Ethernet + IPv4 + TCP with correct checksums unless overridden. */
export function tcpFrame(eth: FrameMacs, ip: IpFields, seg: TcpOptions & { checksum?: number }): Buffer {
  const segment = tcp({ ...seg, src: ip.src, dst: ip.dst });
  return ethernet({ ...eth, ethertype: ETH_IPV4 }, ipv4({ ...ip, protocol: ip.protocol ?? PROTO_TCP }, segment));
}

/** Ethernet + IPv4 + UDP with correct checksums unless overridden. */
export function udpFrame(eth: FrameMacs, ip: IpFields, dgram: UdpOptions & { checksum?: number }): Buffer {
  const datagram = udp({ ...dgram, src: ip.src, dst: ip.dst });
  return ethernet({ ...eth, ethertype: ETH_IPV4 }, ipv4({ ...ip, protocol: ip.protocol ?? PROTO_UDP }, datagram));
}

/** Ethernet + IPv4 with an arbitrary payload (fragments, other protocols). */
export function ipFrame(eth: FrameMacs, ip: Ipv4Options, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  return ethernet({ ...eth, ethertype: ETH_IPV4 }, ipv4(ip, payload));
}

// ---------------------------------------------------------------- ARP

export interface ArpFields {
  op: 1 | 2 | number;           // 1 request, 2 reply
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
  htype?: number;               // default 1 (Ethernet)
  ptype?: number;               // default IPv4
  hlen?: number;                // default 6
  plen?: number;                // default 4
}

/** The 28-byte Ethernet/IPv4 ARP body. */
export function arp(fields: ArpFields): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(fields.htype ?? 1, 0);
  a.writeUInt16BE(fields.ptype ?? ETH_IPV4, 2);
  a[4] = fields.hlen ?? 6;
  a[5] = fields.plen ?? 4;
  a.writeUInt16BE(fields.op, 6);
  parseMac(fields.senderMac).copy(a, 8);
  parseIpv4(fields.senderIp).copy(a, 14);
  parseMac(fields.targetMac).copy(a, 18);
  parseIpv4(fields.targetIp).copy(a, 24);
  return a;
}

export interface ArpFrameOptions {
  vlans?: VlanTag[];
  padTo?: number;               // e.g. 60: what a real NIC delivers for a 42-byte ARP
  padByte?: number;
}

/** "Who has targetIp? Tell senderIp": broadcast, target MAC zero. */
export function arpRequest(
  o: { senderMac: string; senderIp: string; targetIp: string } & ArpFrameOptions,
): Buffer {
  return ethernet(
    { dst: BROADCAST_MAC, src: o.senderMac, ethertype: ETH_ARP, vlans: o.vlans, padTo: o.padTo, padByte: o.padByte },
    arp({ op: 1, senderMac: o.senderMac, senderIp: o.senderIp, targetMac: ZERO_MAC, targetIp: o.targetIp }),
  );
}

/** "senderIp is at senderMac", unicast to the requester. */
export function arpReply(
  o: { senderMac: string; senderIp: string; targetMac: string; targetIp: string } & ArpFrameOptions,
): Buffer {
  return ethernet(
    { dst: o.targetMac, src: o.senderMac, ethertype: ETH_ARP, vlans: o.vlans, padTo: o.padTo, padByte: o.padByte },
    arp({ op: 2, senderMac: o.senderMac, senderIp: o.senderIp, targetMac: o.targetMac, targetIp: o.targetIp }),
  );
}

/** Broadcast announcement: a request with sender IP == target IP, zero padded to 60 bytes. */
export function gratuitousArp(o: { mac: string; ip: string } & Omit<ArpFrameOptions, 'padTo'>): Buffer {
  return arpRequest({ senderMac: o.mac, senderIp: o.ip, targetIp: o.ip, vlans: o.vlans, padTo: 60, padByte: o.padByte });
}

// ---------------------------------------------------------------- random bytes

/** Deterministic pseudo-random generator (xorshift32): the same seed gives the same bytes. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** `n` pseudo-random bytes, reproducible from the seed. */
export function randomBytes(n: number, seed = 1): Buffer {
  const next = prng(seed);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = next() & 0xff;
  return out;
}
