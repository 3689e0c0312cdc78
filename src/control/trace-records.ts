// Decodes the fast path's trace records (native/io/trace.h TraceRecord, 36 bytes, host byte order)
// into the events `las trace` prints.
import { intToIpv4 } from './ipv4.js';
import { TRACE_VERDICTS, type TraceVerdict } from './trace-filter.js';

export const TRACE_RECORD_BYTES = 36;
const NEW_FLOW = 1, FRAGMENT = 2, ICMP_ERROR = 4, ARP = 8;
const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };

export interface TraceEvent {
  time: string;               // the kernel's receive time, ISO 8601 with microseconds
  worker: number;
  protocol: string;           // tcp, udp, icmp, arp, or the IP protocol number; "-" unparsed
  client: string | null;      // source "addr:port" (addr alone without ports); null unparsed
  vip: string | null;         // destination "addr:port"
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
  raw: { src: number; dst: number; dport: number; proto: number; action: number; reason: number; server: number };
  event: TraceEvent;
}

export function decodeTraceRecords(
  buffer: ArrayBuffer, dropReasons: readonly string[],
  serviceName: (vip: number, port: number, proto: number) => string | undefined,
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
    const verdict = TRACE_VERDICTS[action] ?? 'drop';
    const parsed = src !== 0 || dst !== 0;
    const ports = proto === 6 || proto === 17 ? !(flags & FRAGMENT) || sport !== 0 || dport !== 0 : false;
    const endpoint = (addr: number, port: number) => (ports ? `${intToIpv4(addr)}:${port}` : intToIpv4(addr));
    let why: string;
    if (verdict === 'forward') why = flags & ICMP_ERROR ? 'icmp error' : flags & NEW_FLOW ? 'new flow' : 'flow table';
    else if (verdict === 'drop') why = dropReasons[reason] ?? `reason ${reason}`;
    else why = verdict === 'pass' ? 'not a VIP' : verdict === 'ndp_reply' ? 'NDP for a VIP' : 'ARP for a VIP';
    const micros = String(Math.floor(nsec / 1000)).padStart(6, '0');
    out.push({
      matched,
      raw: { src, dst, dport, proto, action, reason, server },
      event: {
        time: `${new Date(sec * 1000).toISOString().slice(0, 19)}.${micros}Z`,
        worker,
        protocol: flags & ARP ? 'arp' : parsed ? PROTOCOL_NAMES[proto] ?? String(proto) : '-',
        client: parsed ? endpoint(src, sport) : null,
        vip: parsed ? endpoint(dst, dport) : null,
        verdict,
        reason: why,
        server: server !== 0 ? intToIpv4(server) : null,
        service: servicePort !== 0xffff ? serviceName(dst, servicePort, proto) ?? null : null,
        length,
        fragment: (flags & FRAGMENT) !== 0,
      },
    });
  }
  return out;
}
