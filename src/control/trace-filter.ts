// The arguments of the admin verb "trace", checked here so that a bad one gets an error naming the
// argument and the fix; then encoded as the fast path's filter (native/io/trace.h, setTrace()).
import { isIPv4 } from '../config/schema.js';
import { intToIpv4, ipv4ToInt } from './ipv4.js';

/** In the order of the native Action enum (classify.h): a verdict's bit is 1 << its index. */
export const TRACE_VERDICTS = ['forward', 'arp_reply', 'drop', 'pass', 'ndp_reply'] as const;
export type TraceVerdict = (typeof TRACE_VERDICTS)[number];
const PROTOCOLS = { tcp: 6, udp: 17, icmp: 1 } as const;
export type TraceProtocol = keyof typeof PROTOCOLS;
export const MAX_TRACE_SAMPLE = 1_000_000;

/** A filter as the operator gave it, every field optional (all of them must match). */
export interface TraceFilterArgs {
  service?: string;          // a service name: its VIP, port and protocol
  vip?: string;              // "10.0.0.100" or "10.0.0.100:80"
  client?: string;           // "198.51.100.7" or "198.51.100.0/24"
  server?: string;           // forwarded to this server
  verdict?: TraceVerdict;
  reason?: string;           // a drop reason (implies verdict "drop")
  protocol?: TraceProtocol;
  sample?: number;           // keep 1 in N matching decisions, per worker
}

/** The resolved filter, in host-order integers, as the fast path matches it. */
export interface TraceFilter {
  vip: number; port: number; proto: number; client: number; clientMask: number; server: number;
  verdicts: number; reason: number; sample: number;
  text: string;              // for status and the stream's first line
}

export const TRACE_USAGE = '{"vip":"10.0.0.100:80","client":"198.51.100.0/24","server":"10.0.0.11","verdict":"drop","reason":"no_service","protocol":"tcp","service":"web","sample":1} (all optional)';
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
  const f: TraceFilter = { vip: 0, port: -1, proto: 0, client: 0, clientMask: 0, server: 0, verdicts: 0x1f, reason: -1, sample: 1, text: '' };
  const parts: string[] = [];

  const service = str('service');
  if (service !== undefined) {
    const s = services.find((x) => x.name === service);
    if (!s) throw new Error(`"service": no service "${service}"; known: ${services.map((x) => x.name).join(', ') || 'none'}`);
    f.vip = ipv4ToInt(s.vip);
    if (s.port !== 0) f.port = s.port;
    f.proto = PROTOCOLS[s.protocol as TraceProtocol] ?? 0;
    parts.push(`service ${s.name}`);
  }
  const vip = str('vip');
  if (vip !== undefined) {
    const m = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(vip);
    if (!m || !isIPv4(m[1]) || (m[2] !== undefined && Number(m[2]) > 65535)) throw new Error(`"vip" must be an IPv4 address with an optional port, like "10.0.0.100" or "10.0.0.100:80"; got ${JSON.stringify(vip)}`);
    f.vip = ipv4ToInt(m[1]);
    if (m[2] !== undefined) f.port = Number(m[2]);
    parts.push(`vip ${vip}`);
  }
  const client = str('client');
  if (client !== undefined) {
    const m = /^([0-9.]+)(?:\/(\d{1,2}))?$/.exec(client);
    const bits = m?.[2] === undefined ? 32 : Number(m[2]);
    if (!m || !isIPv4(m[1]) || bits > 32) throw new Error(`"client" must be an IPv4 address or prefix, like "198.51.100.7" or "198.51.100.0/24"; got ${JSON.stringify(client)}`);
    f.clientMask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    f.client = (ipv4ToInt(m[1]) & f.clientMask) >>> 0;
    parts.push(`client ${intToIpv4(f.client)}/${bits}`);
  }
  const server = str('server');
  if (server !== undefined) {
    if (!isIPv4(server)) throw new Error(`"server" must be a server's IPv4 address, like "10.0.0.11"; got ${JSON.stringify(server)}`);
    f.server = ipv4ToInt(server);
    f.verdicts = 1 << TRACE_VERDICTS.indexOf('forward');
    parts.push(`server ${server}`);
  }
  const verdict = str('verdict');
  if (verdict !== undefined) {
    const i = TRACE_VERDICTS.indexOf(verdict as TraceVerdict);
    if (i < 0) throw new Error(`"verdict" must be one of ${TRACE_VERDICTS.map((v) => `"${v}"`).join(', ')}; got ${JSON.stringify(verdict)}`);
    if (f.server && verdict !== 'forward') throw new Error(`"server" only matches forwarded frames: leave "verdict" out or make it "forward"`);
    f.verdicts = 1 << i;
    parts.push(verdict === 'drop' ? 'drops' : verdict);
  }
  const reason = str('reason');
  if (reason !== undefined) {
    const i = dropReasons.indexOf(reason);
    if (i < 0) throw new Error(`"reason" must be a drop reason: ${dropReasons.join(', ')}; got ${JSON.stringify(reason)}`);
    if (f.server || (verdict !== undefined && verdict !== 'drop')) throw new Error(`"reason" names a drop: it cannot go with "server" or a verdict other than "drop"`);
    f.reason = i;
    f.verdicts = 1 << TRACE_VERDICTS.indexOf('drop');
    parts.push(`dropped for ${reason}`);
  }
  const protocol = str('protocol');
  if (protocol !== undefined) {
    if (!Object.hasOwn(PROTOCOLS, protocol)) throw new Error(`"protocol" must be "tcp", "udp" or "icmp"; got ${JSON.stringify(protocol)}`);
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

/** setTrace()'s words: 9 per filter (native/addon/addon.cc SetTrace). */
export function encodeTraceFilters(filters: readonly TraceFilter[]): Uint32Array {
  const words = new Uint32Array(filters.length * 9);
  filters.forEach((f, i) => {
    words.set([f.vip, f.port >>> 0, f.proto, f.client, f.clientMask, f.server, f.verdicts, f.reason >>> 0, f.sample], i * 9);
  });
  return words;
}
