// `las explain`: which server a flow goes to and why. The native side answers (the running daemon's
// I/O threads, or a snapshot built offline from the config, through the same code); this module
// parses the tuple, builds the offline snapshot and turns the native answer into the operator's.
import { isIPv4 } from '../config/schema.js';
import { canonicalIPv6, hostPort } from '../config/addresses.js';
import type { LasConfig, ServiceConfig } from '../config/types.js';
import type { Addon, ExplainServer, ExplainTuple, NativeExplanation, NativeSnapshot, Protocol } from '../native/binding.js';
import { flowState, type FlowState } from './aging/policy.js';
import { ServerState } from './server-state.js';

/** Tuples per request to the daemon (one admin line; the I/O threads answer them between batches). */
export const MAX_EXPLAIN_TUPLES = 500; // ~95 bytes each: one request line stays under the admin socket's 64 KiB
/** How long the daemon waits for its I/O threads (an idle one answers within its 100 ms poll). */
export const EXPLAIN_TIMEOUT_MS = 5000;

export type Verdict = 'flow-table' | 'new-flow' | 'sorry' | 'no-server' | 'no-service' | 'not-vip';

export interface ServerAnswer { address: string; weight: number; up: boolean; sorry: boolean }

export interface Explained {
  tuple: ExplainTuple;
  mode: 'daemon' | 'offline';
  verdict: Verdict;
  service: { name: string; vip: string; port: number; protocol: Protocol; scheduler: string; flowKey: string } | null;
  key: { client: string; clientPort: number; vip: string; port: number } | null;
  worker: number | null;
  entry: { server: string; state: FlowState; ageMs: number; idleMs: number; live: boolean; used: boolean; note: string | null } | null;
  server: ServerAnswer | null;
  newFlow: { server: ServerAnswer | null; scheduler: string; position: number | null; tableSize: number; load: number; totalWeight: number; sorry: boolean } | null;
  /** ha.secondChance: a TCP packet without SYN (a connection placed before the servers changed) goes here instead. */
  secondChance: { server: ServerAnswer | null; leftMs: number } | null;
  why: string;
  generation: number;
}

/** "198.51.100.7:40112" or "[2001:db8::7]:40112" → address (v6 canonical) and port; an error says what was expected. */
export function parseEndpoint(text: string, what: string): { address: string; port: number } {
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text);
  const address = v4 && isIPv4(v4[1]) ? v4[1] : v6 ? canonicalIPv6(v6[1]) : undefined;
  const port = Number((v4 ?? v6)?.[2]);
  if (address === undefined || !(port <= 65535)) {
    throw new Error(`${what} must be ADDRESS:PORT with a dotted IPv4 address or a bracketed IPv6 one, e.g. 198.51.100.7:40112 or [2001:db8::7]:40112; got ${JSON.stringify(text)}`);
  }
  return { address, port };
}

/** A tuple address from the admin socket: dotted IPv4 or IPv6 (canonical); undefined otherwise. */
const tupleAddress = (v: unknown): string | undefined => (isIPv4(v) ? v : canonicalIPv6(v));

export function parseTuple(protocol: string, client: string, vip: string): ExplainTuple {
  if (protocol !== 'tcp' && protocol !== 'udp') throw new Error(`the protocol must be "tcp" or "udp"; got ${JSON.stringify(protocol)}`);
  const c = parseEndpoint(client, 'the client');
  const v = parseEndpoint(vip, 'the VIP');
  return { protocol, client: c.address, clientPort: c.port, vip: v.address, port: v.port };
}

/** Checks tuples that arrive over the admin socket, naming the first bad field. */
export function checkTuples(raw: unknown): ExplainTuple[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_EXPLAIN_TUPLES) {
    throw new Error(`"tuples" must be an array of 1 to ${MAX_EXPLAIN_TUPLES} {"protocol":"tcp","client":"198.51.100.7","clientPort":40112,"vip":"10.0.0.100","port":80}`);
  }
  return raw.map((t: unknown, i) => {
    const o = (typeof t === 'object' && t !== null ? t : {}) as Record<string, unknown>;
    const port = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535;
    if (o.protocol !== 'tcp' && o.protocol !== 'udp') throw new Error(`tuples[${i}].protocol must be "tcp" or "udp"`);
    const client = tupleAddress(o.client);
    const vip = tupleAddress(o.vip);
    if (client === undefined) throw new Error(`tuples[${i}].client must be a dotted IPv4 address or an IPv6 address`);
    if (vip === undefined) throw new Error(`tuples[${i}].vip must be a dotted IPv4 address or an IPv6 address`);
    if (!port(o.clientPort)) throw new Error(`tuples[${i}].clientPort must be a port number from 0 to 65535`);
    if (!port(o.port)) throw new Error(`tuples[${i}].port must be a port number from 0 to 65535`);
    return { protocol: o.protocol, client, clientPort: o.clientPort as number, vip, port: o.port as number };
  });
}

/**
 * The snapshot a freshly started daemon would publish for this config: health unknown counts as up
 * (as configured), every MAC as resolved; `down` lists server addresses to publish down.
 */
export function offlineSnapshot(config: LasConfig, down: string[]): NativeSnapshot {
  const state = ServerState.fromConfig(config);
  const macs = new Map<string, string>();
  for (const s of config.services) {
    for (const r of s.servers) macs.set(r.address, '02:00:00:00:00:00');
    if (s.sorryServer) macs.set(s.sorryServer.address, '02:00:00:00:00:00');
  }
  for (const written of down) {
    const address = canonicalIPv6(written) ?? written; // the config holds v6 servers in canonical form
    const owners = config.services.filter((s) => s.servers.some((r) => r.address === address));
    if (owners.length === 0) {
      throw new Error(`--down ${address}: no service has that server; servers: ${[...new Set(config.services.flatMap((s) => s.servers.map((r) => r.address)))].join(', ')}`);
    }
    for (const s of owners) state.setHealth(s.name, address, 'down');
  }
  return state.snapshot(macs);
}

export function explainOffline(addon: Addon, config: LasConfig, tuples: ExplainTuple[], down: string[]): Explained[] {
  const answers = addon.explainFlows(offlineSnapshot(config, down), { workers: config.workers, flowIdleTimeoutMs: Math.round(config.flowTable.idleTimeout * 1000) }, tuples);
  return answers.map((a, i) => describe(tuples[i]!, a, config.services, 'offline'));
}

const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 1000) / 10}%` : '-');
const serverAnswer = (s: ExplainServer | null | undefined): ServerAnswer | null => (s ? { address: s.address, weight: s.weight, up: s.up, sorry: s.sorry } : null);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The operator's answer for one tuple; `services` names the snapshot's services (same order). */
export function describe(tuple: ExplainTuple, a: NativeExplanation, services: readonly ServiceConfig[], mode: Explained['mode']): Explained {
  const base = { tuple, mode, generation: a.generation, service: null, key: null, worker: null, entry: null, server: null, newFlow: null, secondChance: null };
  if (!a.isVip) return { ...base, verdict: 'not-vip', why: `${tuple.vip} is not a VIP of this dispatcher: the fast path leaves the frame to the kernel` };
  if (a.service === null || a.service === undefined) {
    const here = services.filter((s) => s.vip === tuple.vip).map((s) => `${s.name} ${s.protocol}/${s.port === 0 ? '*' : s.port}`);
    return { ...base, verdict: 'no-service', why: `no ${tuple.protocol} service on ${tuple.vip} port ${tuple.port} (this VIP has: ${here.join(', ') || 'none'}): dropped, counted as ${a.reason ?? 'no_service'}` };
  }
  const cfg = services[a.service];
  const service = { name: cfg?.name ?? `#${a.service}`, vip: cfg?.vip ?? tuple.vip, port: cfg?.port ?? tuple.port, protocol: tuple.protocol, scheduler: a.scheduler ?? '?', flowKey: a.flowKey ?? '?' };
  const n = a.newFlow!;
  const newFlow = { server: serverAnswer(n.server), scheduler: service.scheduler, position: n.position, tableSize: n.tableSize, load: n.load, totalWeight: n.totalWeight, sorry: n.sorry };
  let entry: Explained['entry'] = null;
  if (a.entry) {
    const e = a.entry;
    const note = a.fromEntry ? null
      : !e.live ? 'idle past flowTable.idleTimeout: the next packet starts a new flow'
        : !e.server ? `its server ${e.serverAddress} is no longer in the service: rescheduled as a new flow`
          : `its server ${e.serverAddress} is down and onServerDown is "reschedule": rescheduled as a new flow`;
    entry = { server: e.serverAddress, state: flowState(tuple.protocol === 'tcp' ? 6 : 17, e.tcpFlagsSeen), ageMs: e.ageMs, idleMs: e.idleMs, live: e.live, used: a.fromEntry === true, note };
  }
  const server = serverAnswer(a.server);
  const secondChance = a.secondChance ? { server: serverAnswer(a.secondChance.server), leftMs: a.secondChance.leftMs } : null;
  const common = { ...base, service, key: a.key ?? null, worker: a.worker ?? 0, entry, server, newFlow, secondChance };
  // Said after the new-flow reason: a SYN takes the current table, a mid-connection packet the previous one.
  const previous = secondChance?.server
    ? `; a TCP packet without SYN goes to ${secondChance.server.address} by the previous table (second chance, ${seconds(secondChance.leftMs)} left)` : '';
  if (a.fromEntry && server && entry) {
    const status = server.up ? (server.weight === 0 ? ', drained: keeps its flows' : '') : ', down (onServerDown "keep")';
    const other = newFlow.server && newFlow.server.address !== server.address ? `; a new flow would now go to ${newFlow.server.address}` : '';
    return { ...common, verdict: 'flow-table', why: `flow-table hit on worker ${common.worker}: ${entry.state}, age ${seconds(entry.ageMs)}, idle ${seconds(entry.idleMs)} -> ${server.address}${status}${other}` };
  }
  const lead = entry ? `the entry to ${entry.server} is not used (${entry.note}); ` : 'not in the flow table; ';
  if (!server) {
    return { ...common, verdict: 'no-server', why: `${lead}no server can take new flows (down, drained or weight 0) and no sorry server: dropped, counted as no_server${previous}` };
  }
  if (n.sorry) return { ...common, verdict: 'sorry', why: `${lead}no server can take new flows (down, drained or weight 0): the sorry server ${server.address}${previous}` };
  const share = `weight ${server.weight} of ${n.totalWeight} (${pct(server.weight, n.totalWeight)})`;
  const how: Record<string, string> = {
    maglev: `Maglev slot ${n.position} of ${n.tableSize} -> ${server.address}, ${share}`,
    sh: `source hash: Maglev slot ${n.position} of ${n.tableSize} for the client address -> ${server.address}, ${share}`,
    wrr: `wrr position ${n.position} of ${n.tableSize} in worker ${common.worker}'s sequence (moves on with each new flow there) -> ${server.address}, ${share}`,
    rr: `rr position ${n.position} of ${n.tableSize} in worker ${common.worker}'s sequence (moves on with each new flow there) -> ${server.address}`,
    wlc: `wlc: fewest live flows per weight on worker ${common.worker}: ${server.address} has ${n.load}, ${share}`,
  };
  return { ...common, verdict: 'new-flow', why: `${lead}a new flow goes by ${how[service.scheduler] ?? `${service.scheduler} -> ${server.address}`}${previous}` };
}

/** The human form: a few aligned lines, the reason last. */
export function formatExplained(x: Explained): string {
  const t = x.tuple;
  const lines: [string, string][] = [['flow', `${t.protocol} ${hostPort(t.client, t.clientPort)} -> ${hostPort(t.vip, t.port)}`]];
  lines.push(['answered by', x.mode === 'daemon' ? `the running daemon (snapshot ${x.generation})` : 'the config (offline: health as configured, as at start)']);
  if (x.service) {
    lines.push(['service', `${x.service.name} (${x.service.protocol}/${x.service.port === 0 ? '*' : x.service.port} on ${x.service.vip}, ${x.service.scheduler}, flow key ${x.service.flowKey})`]);
    const k = x.key!;
    lines.push(['flow key', x.service.flowKey === 'addresses' ? `${k.client} -> ${k.vip} (ports ignored)` : `${hostPort(k.client, k.clientPort)} -> ${hostPort(k.vip, k.port)}`]);
    lines.push(['worker', `${x.worker} (fanout hash of the flow key)`]);
    lines.push(['flow table', x.entry ? `${x.entry.server}, ${x.entry.state}, age ${seconds(x.entry.ageMs)}, idle ${seconds(x.entry.idleMs)}${x.entry.used ? '' : ` (not used: ${x.entry.note})`}` : 'no entry']);
  }
  const s = x.server;
  const state = !s ? '' : s.sorry ? ' (sorry server)' : !s.up ? ` (weight ${s.weight}, down)` : s.weight === 0 ? ' (drained)' : ` (weight ${s.weight})`;
  lines.push(['server', s ? `${s.address}${state}` : '-']);
  if (x.secondChance?.server) lines.push(['second chance', `${x.secondChance.server.address} for a TCP packet without SYN, ${seconds(x.secondChance.leftMs)} left (ha.secondChance)`]);
  lines.push(['why', x.why]);
  const width = Math.max(...lines.map(([k]) => k.length));
  return `${lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}
