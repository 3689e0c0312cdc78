// IPv6 text as the config accepts it, beside the IPv4 rules in leaf-checks.ts. A v6 address is
// kept in its canonical (RFC 5952) form, the one `ip` prints: the neighbour table, duplicates and
// status output then compare one spelling, whatever case or zero runs the operator wrote.
import { isIPv6 } from 'node:net';

/** The RFC 5952 form of an IPv6 address ("2001:DB8:0::11" -> "2001:db8::11"); undefined if it is not one. */
export function canonicalIPv6(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.includes('%') || !isIPv6(value)) return undefined;
  return new URL(`http://[${value}]/`).hostname.slice(1, -1); // WHATWG serialises as RFC 5952 does
}

/** The 8 16-bit groups of a canonical IPv6 address. */
function groups(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** Why a (canonical) IPv6 address cannot be a VIP or a server, or undefined when it can. */
export function ipv6UnicastProblem(address: string): string | undefined {
  const g = groups(address);
  if (g.every((x) => x === 0)) return ':: is the unspecified address';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return '::1 is the loopback address';
  if ((g[0]! & 0xff00) === 0xff00) return 'ff00::/8 is multicast';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'fe80::/10 is link-local (it needs a zone and is not routed); use a global or ULA (fd00::/8) address';
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) return 'an IPv4-mapped or -compatible address is IPv4: write the dotted IPv4 address instead';
  return undefined;
}

/** 4 or 6 for a valid address text, undefined otherwise (no unicast judgement). */
export function addressFamily(value: unknown, isIPv4: (v: unknown) => boolean): 4 | 6 | undefined {
  if (isIPv4(value)) return 4;
  return canonicalIPv6(value) !== undefined ? 6 : undefined;
}

/** `addr:port`, with brackets around a v6 address so the port stays readable ("[2001:db8::1]:80"). */
export function hostPort(address: string, port: number | string): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
