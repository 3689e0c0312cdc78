// The arguments of the admin verb "trace", checked here so that a bad one gets an error naming the
// argument and the fix; then encoded as the fast path's filter (native/io/trace.h, setTrace()).
import { isIPv4 } from '../config/schema.js';
import { canonicalIPv6 } from '../config/addresses.js';
import { intToIpv4, ipv4ToInt } from './ipv4.js';
import { ipv6ToWords } from './ipv6.js';

/** In the order of the native Action enum (classify.h): a verdict's bit is 1 << its index. */
export const TRACE_VERDICTS = ['forward', 'arp_reply', 'drop', 'pass', 'ndp_reply'] as const;
export type TraceVerdict = (typeof TRACE_VERDICTS)[number];
const PROTOCOLS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const;
export type TraceProtocol = keyof typeof PROTOCOLS;
export const MAX_TRACE_SAMPLE = 1_000_000;

/** A filter as the operator gave it, every field optional (all of them must match). */
export interface TraceFilterArgs {
  service?: string;          // a service name: its VIP, port and protocol
  vip?: string;              // "10.0.0.100", "10.0.0.100:80", "2001:db8::100" or "[2001:db8::100]:80"
  client?: string;           // "198.51.100.7", "198.51.100.0/24", "2001:db8::7" or "2001:db8::/64"
  server?: string;           // forwarded to this server (IPv4 or IPv6)
  verdict?: TraceVerdict;
  reason?: string;           // a drop reason (implies verdict "drop")
  protocol?: TraceProtocol;
  sample?: number;           // keep 1 in N matching decisions, per worker
}

type Words = [number, number, number, number];
const NO_WORDS: Words = [0, 0, 0, 0];

/**
 * The resolved filter, as the fast path matches it: v4 addresses as host-order integers, v6 ones as
 * four big-endian words. family: 0 both families (no address given), 4 or 6: that family only.
 */
export interface TraceFilter {
  vip: number; port: number; proto: number; client: number; clientMask: number; server: number;
  verdicts: number; reason: number; sample: number;
  family: 0 | 4 | 6; vip6: Words; client6: Words; client6Mask: Words; server6: Words;
  text: string;              // for status and the stream's first line
}

/** A filter that takes nothing (a free slot below a used one). */
export const NO_TRACE_FILTER: TraceFilter = {
  vip: 0, port: -1, proto: 0, client: 0, clientMask: 0, server: 0, verdicts: 0, reason: -1, sample: 1,
  family: 0, vip6: NO_WORDS, client6: NO_WORDS, client6Mask: NO_WORDS, server6: NO_WORDS, text: '',
};

/** The first `bits` bits set, as four words. */
function prefixMask6(bits: number): Words {
  return [0, 1, 2, 3].map((i) => {
    const n = Math.max(0, Math.min(32, bits - 32 * i));
    return n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  }) as Words;
}

/** "a.b.c.d" -> 4, an IPv6 address (optionally in brackets) -> 6 with its canonical text. */
function addressOf(text: string): { family: 4; address: string } | { family: 6; address: string } | undefined {
  if (isIPv4(text)) return { family: 4, address: text };
  const inner = /^\[(.*)\]$/.exec(text)?.[1] ?? text;
  const v6 = canonicalIPv6(inner);
  return v6 === undefined ? undefined : { family: 6, address: v6 };
}

export const TRACE_USAGE = '{"vip":"10.0.0.100:80","client":"198.51.100.0/24","server":"10.0.0.11","verdict":"drop","reason":"no_service","protocol":"tcp","service":"web","sample":1} (all optional; IPv6: "vip":"[2001:db8::100]:80", "client":"2001:db8::/64")';
const KEYS = ['service', 'vip', 'client', 'server', 'verdict', 'reason', 'protocol', 'sample'];

export interface ServiceRef { name: string; vip: string; port: number; protocol: string }

/** Checks the raw verb arguments; throws naming the argument. dropReasons: the addon's DROP_REASONS. */
export function parseTraceArgs(raw: unknown, services: readonly ServiceRef[], dropReasons: readonly string[]): TraceFilter {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`"args" must be an object, e.g. ${TRACE_USAGE}`);
  const args = raw as Record<string, unknown>;
  const extra = Object.keys(args).filter((k) => !KEYS.includes(k));
  if (extra.length > 0) throw new Error(`unknown argument${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}; expected ${TRACE_USAGE}`);
  const str = (key: string): string | undefined => {
    const v = args[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new Error(`"${key}" must be a non-empty string; got ${JSON.stringify(v)}`);
    return v;
  };
  const f: TraceFilter = { ...NO_TRACE_FILTER, verdicts: 0x1f };
  const parts: string[] = [];
  // One family per filter: a frame has one, so a v4 VIP with a v6 client would match nothing.
  let familyFrom = '';
  const setFamily = (family: 4 | 6, key: string) => {
    if (f.family !== 0 && f.family !== family) throw new Error(`"${key}" is IPv${family} but "${familyFrom}" is IPv${f.family}: a frame has one family; give addresses of one family`);
    f.family = family;
    familyFrom ||= key;
  };

  const service = str('service');
  if (service !== undefined) {
    const s = services.find((x) => x.name === service);
    if (!s) throw new Error(`"service": no service "${service}"; known: ${services.map((x) => x.name).join(', ') || 'none'}`);
    const a = addressOf(s.vip);
    if (a?.family === 6) f.vip6 = ipv6ToWords(a.address);
    else f.vip = ipv4ToInt(s.vip);
    setFamily(a?.family ?? 4, 'service');
    if (s.port !== 0) f.port = s.port;
    f.proto = PROTOCOLS[s.protocol as TraceProtocol] ?? 0;
    parts.push(`service ${s.name}`);
  }
  const vip = str('vip');
  if (vip !== undefined) {
    // A v6 address with a port needs brackets ("[2001:db8::100]:80"); without, it is the address alone.
    const m = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(vip) ?? /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(vip) ?? /^([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)()$/.exec(vip);
    const a = m ? addressOf(m[1]!) : undefined;
    const port = m?.[2] ? Number(m[2]) : undefined;
    if (!a || (port !== undefined && port > 65535)) throw new Error(`"vip" must be an IPv4 or IPv6 address with an optional port, like "10.0.0.100", "10.0.0.100:80", "2001:db8::100" or "[2001:db8::100]:80"; got ${JSON.stringify(vip)}`);
    setFamily(a.family, 'vip');
    if (a.family === 6) f.vip6 = ipv6ToWords(a.address);
    else f.vip = ipv4ToInt(a.address);
    if (port !== undefined) f.port = port;
    parts.push(`vip ${a.family === 6 ? (port !== undefined ? `[${a.address}]:${port}` : a.address) : vip}`);
  }
  const client = str('client');
  if (client !== undefined) {
    const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(client);
    const a = m ? addressOf(m[1]!) : undefined;
    const bits = m?.[2] === undefined ? (a?.family === 6 ? 128 : 32) : Number(m[2]);
    if (!a || bits > (a.family === 6 ? 128 : 32)) throw new Error(`"client" must be an IPv4 or IPv6 address or prefix, like "198.51.100.7", "198.51.100.0/24", "2001:db8::7" or "2001:db8::/64"; got ${JSON.stringify(client)}`);
    setFamily(a.family, 'client');
    if (a.family === 6) {
      f.client6Mask = prefixMask6(bits);
      f.client6 = ipv6ToWords(a.address).map((w, i) => (w & f.client6Mask[i]!) >>> 0) as Words;
      const text = f.client6.map((w) => [w >>> 16, w & 0xffff].map((g) => g.toString(16)).join(':')).join(':');
      parts.push(`client ${canonicalIPv6(text)}/${bits}`);
    } else {
      f.clientMask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      f.client = (ipv4ToInt(a.address) & f.clientMask) >>> 0;
      parts.push(`client ${intToIpv4(f.client)}/${bits}`);
    }
  }
  const server = str('server');
  if (server !== undefined) {
    const a = addressOf(server);
    if (!a) throw new Error(`"server" must be a server's IPv4 or IPv6 address, like "10.0.0.11" or "2001:db8::11"; got ${JSON.stringify(server)}`);
    setFamily(a.family, 'server');
    if (a.family === 6) f.server6 = ipv6ToWords(a.address);
    else f.server = ipv4ToInt(a.address);
    f.verdicts = 1 << TRACE_VERDICTS.indexOf('forward');
    parts.push(`server ${a.address}`);
  }
  const verdict = str('verdict');
  if (verdict !== undefined) {
    const i = TRACE_VERDICTS.indexOf(verdict as TraceVerdict);
    if (i < 0) throw new Error(`"verdict" must be one of ${TRACE_VERDICTS.map((v) => `"${v}"`).join(', ')}; got ${JSON.stringify(verdict)}`);
    if ((f.server || f.server6.some((w) => w !== 0)) && verdict !== 'forward') throw new Error(`"server" only matches forwarded frames: leave "verdict" out or make it "forward"`);
    f.verdicts = 1 << i;
    parts.push(verdict === 'drop' ? 'drops' : verdict);
  }
  const reason = str('reason');
  if (reason !== undefined) {
    const i = dropReasons.indexOf(reason);
    if (i < 0) throw new Error(`"reason" must be a drop reason: ${dropReasons.join(', ')}; got ${JSON.stringify(reason)}`);
    if (server !== undefined || (verdict !== undefined && verdict !== 'drop')) throw new Error(`"reason" names a drop: it cannot go with "server" or a verdict other than "drop"`);
    f.reason = i;
    f.verdicts = 1 << TRACE_VERDICTS.indexOf('drop');
    parts.push(`dropped for ${reason}`);
  }
  const protocol = str('protocol');
  if (protocol !== undefined) {
    if (!Object.hasOwn(PROTOCOLS, protocol)) throw new Error(`"protocol" must be "tcp", "udp", "icmp" or "icmpv6"; got ${JSON.stringify(protocol)}`);
    if (service !== undefined && PROTOCOLS[protocol as TraceProtocol] !== f.proto) throw new Error(`"protocol" ${protocol} contradicts service "${service}"`);
    f.proto = PROTOCOLS[protocol as TraceProtocol];
    parts.push(protocol);
  }
  if (args.sample !== undefined) {
    const n = args.sample;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_TRACE_SAMPLE) throw new Error(`"sample" must be an integer from 1 (every decision) to ${MAX_TRACE_SAMPLE}; got ${JSON.stringify(n)}`);
    f.sample = n;
    if (n > 1) parts.push(`1 in ${n}`);
  }
  f.text = parts.length > 0 ? parts.join(', ') : 'every decision';
  return f;
}

/** setTrace()'s words per filter (native/addon/addon.cc SetTrace). */
export const TRACE_FILTER_WORDS = 26;

export function encodeTraceFilters(filters: readonly TraceFilter[]): Uint32Array {
  const words = new Uint32Array(filters.length * TRACE_FILTER_WORDS);
  filters.forEach((f, i) => {
    words.set([
      f.vip, f.port >>> 0, f.proto, f.client, f.clientMask, f.server, f.verdicts, f.reason >>> 0, f.sample,
      f.family, ...f.vip6, ...f.client6, ...f.client6Mask, ...f.server6,
    ], i * TRACE_FILTER_WORDS);
  });
  return words;
}
