// IPv6 text -> its four big-endian 32-bit words, for BPF constants (the v4 counterpart is ipv4.ts).
import { isIPv6 } from 'node:net';

/** The 16 bytes of an IPv6 address in any RFC 4291 text form ("::", embedded IPv4, zone-less). */
export function ipv6ToBytes(address: string): Buffer {
  if (!isIPv6(address) || address.includes('%')) throw new Error(`"${address}" is not an IPv6 address`);
  let text = address;
  const bytes = Buffer.alloc(16);
  // A trailing dotted quad stands for the last two groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const q = dotted[2]!.split('.').map(Number);
    text = `${dotted[1]}${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? front : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  all.forEach((g, i) => bytes.writeUInt16BE(g, 2 * i));
  return bytes;
}

/** The address as four unsigned 32-bit words, most significant first. */
export function ipv6ToWords(address: string): [number, number, number, number] {
  const b = ipv6ToBytes(address);
  return [b.readUInt32BE(0), b.readUInt32BE(4), b.readUInt32BE(8), b.readUInt32BE(12)];
}
