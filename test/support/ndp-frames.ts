// Neighbor Solicitations as raw Ethernet frames, for tests that must send one the kernel would not
// (unicast to a chosen MAC, for an address the sender does not want to resolve itself).
import { ipv6ToBytes } from '../../src/control/ipv6.js';

const ETH_IPV6 = 0x86dd;
const NEXT_ICMPV6 = 58;
const ND_NEIGHBOR_SOLICIT = 135;

function macBytes(text: string): Buffer {
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

/** RFC 4443 checksum: the ones' complement sum over the v6 pseudo-header and the message. */
function icmpv6Checksum(src: Buffer, dst: Buffer, message: Buffer): number {
  const pseudo = Buffer.alloc(40);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 16);
  pseudo.writeUInt32BE(message.length, 32);
  pseudo[39] = NEXT_ICMPV6;
  const all = Buffer.concat([pseudo, message, Buffer.alloc(message.length % 2)]);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += all.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** ff02::1:ffXX:XXXX, the solicited-node group of `target`, and its 33:33:ff:XX:XX:XX MAC. */
export function solicitedNode(target: string): { address: string; mac: string } {
  const t = ipv6ToBytes(target);
  const hex = (i: number) => t[i]!.toString(16).padStart(2, '0');
  return { address: `ff02::1:ff${hex(13)}:${hex(14)}${hex(15)}`, mac: `33:33:ff:${hex(13)}:${hex(14)}:${hex(15)}` };
}

export interface NsSpec {
  srcMac: string; dstMac: string;  // Ethernet
  src: string; dst: string;        // IPv6 (dst: the target itself, or its solicited-node group)
  target: string;                  // the address asked for
}

/** An RFC 4861 Neighbor Solicitation with the source link-layer address option, hop limit 255. */
export function neighborSolicitation(spec: NsSpec): Buffer {
  const src = ipv6ToBytes(spec.src);
  const dst = ipv6ToBytes(spec.dst);
  const message = Buffer.alloc(32);
  message[0] = ND_NEIGHBOR_SOLICIT;
  ipv6ToBytes(spec.target).copy(message, 8);
  message[24] = 1; // source link-layer address
  message[25] = 1; // length in units of 8 bytes
  macBytes(spec.srcMac).copy(message, 26);
  message.writeUInt16BE(icmpv6Checksum(src, dst, message), 2);
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(message.length, 4);
  ip[6] = NEXT_ICMPV6;
  ip[7] = 255;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  const eth = Buffer.alloc(14);
  macBytes(spec.dstMac).copy(eth, 0);
  macBytes(spec.srcMac).copy(eth, 6);
  eth.writeUInt16BE(ETH_IPV6, 12);
  return Buffer.concat([eth, ip, message]);
}
