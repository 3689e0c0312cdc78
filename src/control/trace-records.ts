// Decodes the fast path's trace records (native/io/trace.h TraceRecord, 84 bytes, host byte order;
// a v6 frame's addresses as on the wire at 36, 52 and 68) into the events `las trace` prints.
import { canonicalIPv6, hostPort } from '../config/addresses.js';
import { intToIpv4 } from './ipv4.js';
import { TRACE_VERDICTS, type TraceVerdict } from './trace-filter.js';

export const TRACE_RECORD_BYTES = 84;
/** Where the filter bits of a record are (tracer.ts reads them without decoding the record). */
export const TRACE_MATCHED_OFFSET = 34;
const NEW_FLOW = 1, FRAGMENT = 2, ICMP_ERROR = 4, ARP = 8, V6 = 16;
const SRC6 = 36, DST6 = 52, SERVER6 = 68;
const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

type Words = [number, number, number, number];
const words6 = (view: DataView, o: number): Words => [0, 4, 8, 12].map((k) => view.getUint32(o + k, false)) as Words;
/** Four big-endian words -> RFC 5952 text, as the config and `las status` print v6 addresses. */
const text6 = (w: Words): string => canonicalIPv6(w.map((x) => `${(x >>> 16).toString(16)}:${(x & 0xffff).toString(16)}`).join(':'))!;

export interface TraceEvent {
  time: string;               // the kernel's receive time, ISO 8601 with microseconds
  worker: number;
  protocol: string;           // tcp, udp, icmp, arp, or the IP protocol number; "-" unparsed
  client: string | null;      // source "addr:port" or "[v6addr]:port" (addr alone without ports); null unparsed
  vip: string | null;         // destination, likewise
  verdict: TraceVerdict;
  reason: string;             // drop reason; for a forward: "flow table", "new flow" or "icmp error"
  server: string | null;      // forwarded to
  service: string | null;     // the service's name, when the frame matched one
  length: number;
  fragment: boolean;
}

/** Beside the event: which filters took it, and the fields filters match on (tracer.ts rawMatches). */
export interface DecodedRecord {
  matched: number;
  raw: RawTraceRecord;
  event: TraceEvent;
}

/** v4 addresses as host-order integers; v6 ones (v6 true) as four big-endian words, else zeros. */
export interface RawTraceRecord {
  src: number; dst: number; dport: number; proto: number; action: number; reason: number; server: number;
  v6: boolean; src6: Words; dst6: Words; server6: Words;
}

export function decodeTraceRecords(
  buffer: ArrayBuffer, dropReasons: readonly string[],
  serviceName: (vip: string, port: number, proto: number) => string | undefined,
): DecodedRecord[] {
  const view = new DataView(buffer);
  const out: DecodedRecord[] = [];
  for (let o = 0; o + TRACE_RECORD_BYTES <= buffer.byteLength; o += TRACE_RECORD_BYTES) {
    const sec = view.getUint32(o, true);
    const nsec = view.getUint32(o + 4, true);
    const src = view.getUint32(o + 8, true);
    const dst = view.getUint32(o + 12, true);
    const sport = view.getUint16(o + 16, true);
    const dport = view.getUint16(o + 18, true);
    const proto = view.getUint8(o + 20);
    const action = view.getUint8(o + 21);
    const reason = view.getUint8(o + 22);
    const flags = view.getUint8(o + 23);
    const server = view.getUint32(o + 24, true);
    const length = view.getUint32(o + 28, true);
    const servicePort = view.getUint16(o + 32, true);
    const matched = view.getUint8(o + 34);
    const worker = view.getUint8(o + 35);
    const v6 = (flags & V6) !== 0;
    const src6 = words6(view, o + SRC6);
    const dst6 = words6(view, o + DST6);
    const server6 = words6(view, o + SERVER6);
    const verdict = TRACE_VERDICTS[action] ?? 'drop';
    const parsed = v6 || src !== 0 || dst !== 0;
    const ports = proto === 6 || proto === 17 ? !(flags & FRAGMENT) || sport !== 0 || dport !== 0 : false;
    const srcText = v6 ? text6(src6) : intToIpv4(src);
    const dstText = v6 ? text6(dst6) : intToIpv4(dst);
    const endpoint = (addr: string, port: number) => (ports ? hostPort(addr, port) : addr);
    let why: string;
    if (verdict === 'forward') why = flags & ICMP_ERROR ? 'icmp error' : flags & NEW_FLOW ? 'new flow' : 'flow table';
    else if (verdict === 'drop') why = dropReasons[reason] ?? `reason ${reason}`;
    else why = verdict === 'pass' ? 'not a VIP' : verdict === 'ndp_reply' ? 'NDP for a VIP' : 'ARP for a VIP';
    const micros = String(Math.floor(nsec / 1000)).padStart(6, '0');
    out.push({
      matched,
      raw: { src, dst, dport, proto, action, reason, server, v6, src6, dst6, server6 },
      event: {
        time: `${new Date(sec * 1000).toISOString().slice(0, 19)}.${micros}Z`,
        worker,
        protocol: flags & ARP ? 'arp' : parsed ? PROTOCOL_NAMES[proto] ?? String(proto) : '-',
        client: parsed ? endpoint(srcText, sport) : null,
        vip: parsed ? endpoint(dstText, dport) : null,
        verdict,
        reason: why,
        server: server === 0 ? null : v6 ? text6(server6) : intToIpv4(server),
        service: servicePort !== 0xffff ? serviceName(dstText, servicePort, proto) ?? null : null,
        length,
        fragment: (flags & FRAGMENT) !== 0,
      },
    });
  }
  return out;
}
