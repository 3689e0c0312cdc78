// What the suite measures: the service, the traffic of each scenario and the run settings.
import type { FlowKey } from '../src/native/binding.js';
import type { GeneratorKind } from '../src/native/bench-binding.js';

export const VIP = '10.99.0.100';
export const PORT = 80;

export interface BenchServer { name: string; address: string; mac: string; weight: number }

/** Four servers that exist only as MAC addresses: the sink counts frames per destination MAC. */
export const SERVERS: BenchServer[] = [1, 2, 3, 4].map((i) => ({
  name: `s${i}`,
  address: `10.99.0.${10 + i}`,
  mac: `02:00:00:00:00:${(0x10 + i).toString(16)}`,
  weight: 1,
}));

/**
 * Source addresses and ports of the traffic. `flows` > 0 equals the size of the range, so the
 * generator visits every (address, port) pair exactly once per cycle whatever its seed: the prefill
 * and the measured traffic then mean the same flows. flows = 0: a random source per frame.
 */
export interface FlowSpace { srcIpMin: string; srcIpMax: string; srcPortMin: number; srcPortMax: number; flows: number }

const PORTS_PER_ADDRESS = 1000;
const FIRST_PORT = 10_000;

/** n flows (a multiple of 1000, or below 1000): n/1000 addresses from 10.1.0.0 × ports 10000..10999. */
export function flowSpace(n: number): FlowSpace {
  if (!Number.isInteger(n) || n < 1 || n > 16_000_000) throw new Error(`flow count ${n} out of range`);
  const ports = Math.min(n, PORTS_PER_ADDRESS);
  if (n % ports !== 0) throw new Error(`flow count ${n} must be below ${PORTS_PER_ADDRESS} or a multiple of it`);
  const addresses = n / ports;
  const last = 0x0a010000 + addresses - 1; // 10.1.0.0 + addresses - 1
  return {
    srcIpMin: '10.1.0.0',
    srcIpMax: [last >>> 24, (last >>> 16) & 255, (last >>> 8) & 255, last & 255].join('.'),
    srcPortMin: FIRST_PORT,
    srcPortMax: FIRST_PORT + ports - 1,
    flows: n,
  };
}

/** A SYN flood: random sources from 10.128.0.0/10 (disjoint from every prefilled flow). */
export const RANDOM_SOURCES: FlowSpace = { srcIpMin: '10.128.0.0', srcIpMax: '10.191.255.255', srcPortMin: 1024, srcPortMax: 65535, flows: 0 };

export type ServerChange =
  | { type: 'weight'; server: number; weight: number }  // index into SERVERS
  | { type: 'remove'; server: number };

export type LasTxMode = 'auto' | 'ring' | 'send' | 'sendmmsg';

export interface Scenario {
  id: string;
  group: 'size' | 'flows' | 'tcp' | 'workers' | 'change' | 'txmode' | 'trace';
  title: string;
  kind: GeneratorKind;
  packetSize: number;
  traffic: FlowSpace;
  workers: number;
  change?: ServerChange;
  headline?: boolean;
  /** LAS's transmit path for this scenario (default: the run's --las-tx-mode). */
  lasTxMode?: LasTxMode;
  /** LAS's flow key, and the fields the nft balancer hashes (default 5tuple). */
  flowKey?: FlowKey;
  /** Dispatchers measured (default all four). */
  only?: Array<'kernel-fwd' | 'nft-lb' | 'las-pt' | 'las-full' | 'las-trace-none' | 'las-trace-all'>;
}

/** Distinct flows of a traffic range under a flow key: (address, port) pairs, or source addresses only. */
export function flowsUnderKey(traffic: FlowSpace, key: FlowKey = '5tuple'): number {
  if (key === '5tuple' || traffic.flows === 0) return traffic.flows;
  const ip = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  return ip(traffic.srcIpMax) - ip(traffic.srcIpMin) + 1;
}

export interface Settings {
  quick: boolean;
  durationMs: number;        // measured window per trial
  rounds: number;
  searchSteps: number;       // RFC 2544 binary search: trials per dispatcher
  searchTrialMs: number;
  lossTolerance: number;     // lost/sent still counted as "no loss" (0 = strict RFC 2544)
  prefillFlows: number;      // flows put in LAS's table before each LAS full measurement
  changeFlows: number;       // flows of the server-change scenarios
  flowCapacity: number;      // LAS flow table entries per worker
  generatorCpu: number;
  dispatcherCpus: number[];  // worker CPUs for 1 and 2 workers: [first, second]
  burst: number;
  lasTxMode: LasTxMode;      // LAS pass-through and full (auto: send on veth, ring on NICs)
  drainMs: number;           // after the generator stops: no new frame at the sink for this long, then read
  bulkTool: BulkToolChoice;  // TCP bulk scenarios: what measures the upload (auto: iperf3 when present or installable)
  bulkStreams: number;       // parallel TCP connections per bulk upload
  /** LAS's RX ring for every LAS run (the daemon's "ring" keys); null: the daemon's defaults. */
  lasRing: LasRing | null;
}

export interface LasRing { blockSize?: number; blockCount?: number; retireTimeoutMs?: number }

/** --las-ring "blockSize=131072,blockCount=256,retireTimeoutMs=1" → the config's ring keys. */
export function parseLasRing(text: string): LasRing {
  const ring: LasRing = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, value] = part.split('=');
    const n = Number(value);
    if (key !== 'blockSize' && key !== 'blockCount' && key !== 'retireTimeoutMs') {
      throw new Error(`--las-ring: "${part}" is not KEY=N with KEY one of blockSize, blockCount, retireTimeoutMs`);
    }
    if (!Number.isInteger(n) || n < 1) throw new Error(`--las-ring: ${key} must be a whole number above 0, got "${value ?? ''}"`);
    ring[key] = n;
  }
  if (Object.keys(ring).length === 0) throw new Error('--las-ring: give e.g. blockSize=131072,blockCount=256');
  return ring;
}

export type BulkToolChoice = 'auto' | 'iperf3' | 'node';

export function defaultSettings(quick: boolean, cpus: number): Settings {
  const dispatcherCpu = cpus > 1 ? 1 : 0;
  return {
    quick,
    durationMs: quick ? 300 : 3000,
    rounds: quick ? 1 : 3,
    searchSteps: quick ? 3 : 7,
    searchTrialMs: quick ? 250 : 1500,
    lossTolerance: 1e-5,
    prefillFlows: quick ? 20_000 : 1_000_000,
    changeFlows: quick ? 10_000 : 100_000,
    // Twice the prefill: the SYN flood still has room to insert (a bigger table also takes longer to start).
    flowCapacity: quick ? 65_536 : 2_097_152,
    generatorCpu: 0,
    // The second worker shares a core with the generator when there are only two.
    dispatcherCpus: [dispatcherCpu, cpus > 2 ? 2 : 0],
    burst: 32,
    lasTxMode: 'auto',
    drainMs: quick ? 100 : 200,
    bulkTool: 'auto',
    bulkStreams: 1,
    lasRing: null,
  };
}

export function scenarios(settings: Settings): Scenario[] {
  const udp = (id: string, group: Scenario['group'], title: string, packetSize: number, flows: number, extra: Partial<Scenario> = {}): Scenario => ({
    id, group, title, kind: 'udp', packetSize, traffic: flowSpace(flows), workers: 1, ...extra,
  });
  return [
    udp('udp-64-1m', 'size', '64 B UDP, 1 M flows', 64, 1_000_000, { headline: true }),
    udp('udp-512-1m', 'size', '512 B UDP, 1 M flows', 512, 1_000_000),
    udp('udp-1500-1m', 'size', '1500 B UDP, 1 M flows', 1500, 1_000_000),
    udp('udp-64-1k', 'flows', '64 B UDP, 1 k flows', 64, 1000),
    udp('udp-64-100k', 'flows', '64 B UDP, 100 k flows', 64, 100_000),
    { id: 'tcp-syn-new', group: 'tcp', title: '64 B TCP SYN, a new flow per packet', kind: 'tcp-syn', packetSize: 64, traffic: RANDOM_SOURCES, workers: 1 },
    { id: 'tcp-ack-1k', group: 'tcp', title: '64 B TCP ACK, 1 k established flows', kind: 'tcp-ack', packetSize: 64, traffic: flowSpace(1000), workers: 1 },
    udp('udp-64-1m-2w', 'workers', '64 B UDP, 1 M flows, 2 LAS workers', 64, 1_000_000, { workers: 2 }),
    udp('change-weight', 'change', `64 B UDP, ${settings.changeFlows / 1000} k flows, weight of s1 1 → 2 mid-run`, 64, settings.changeFlows,
      { change: { type: 'weight', server: 0, weight: 2 } }),
    udp('change-remove', 'change', `64 B UDP, ${settings.changeFlows / 1000} k flows, s4 removed mid-run`, 64, settings.changeFlows,
      { change: { type: 'remove', server: 3 } }),
    // The headline traffic through each of LAS's transmit paths (txMode), beside the kernel balancer.
    ...(['send', 'sendmmsg', 'ring'] as const).map((mode) =>
      udp(`txmode-${mode}`, 'txmode', `64 B UDP, 1 M flows, LAS txMode ${mode}`, 64, 1_000_000, { lasTxMode: mode, only: ['nft-lb', 'las-pt', 'las-full'] })),
    // What `las trace` costs the fast path: the headline traffic with no trace, a trace that matches
    // nothing and one that matches every frame, in the same round.
    udp('trace-64', 'trace', '64 B UDP, 1 M flows, las trace matching nothing / everything', 64, 1_000_000,
      { only: ['las-full', 'las-trace-none', 'las-trace-all'] }),
  ];
}

/**
 * Two LAS workers behind the PACKET_FANOUT_CBPF program, once per flow key: the headline traffic,
 * LAS full beside the kernel balancer hashing the same fields. Kept out of scenarios() (their own
 * section in results.json, `fanout`), selected by id, by "fanout" or by the "workers" group.
 */
export function fanoutScenarios(): Scenario[] {
  return (['addresses', '5tuple'] as const).map((flowKey) => ({
    id: `fanout-${flowKey}`, group: 'workers', title: `64 B UDP, 1 M flows, 2 LAS workers, flowKey ${flowKey}`, kind: 'udp', packetSize: 64,
    traffic: flowSpace(1_000_000), workers: 2, flowKey, only: ['nft-lb', 'las-full'],
  }));
}

/** TCP bulk uploads on the LVS-DR segment (bench/bulk.ts): the client's offloads on (Linux default) and off. */
export interface BulkScenario { id: string; group: 'bulk'; title: string; offloads: boolean }

export function bulkScenarios(): BulkScenario[] {
  return [
    { id: 'tcp-bulk-offload', group: 'bulk', title: 'TCP bulk upload, client TSO/GSO on (default)', offloads: true },
    { id: 'tcp-bulk-nooffload', group: 'bulk', title: 'TCP bulk upload, client TSO/GSO off', offloads: false },
  ];
}

/** The servers after a change (weights and membership), in SERVERS order. */
export function serversAfter(change: ServerChange | undefined, servers: BenchServer[] = SERVERS): BenchServer[] {
  if (!change) return servers;
  if (change.type === 'remove') return servers.filter((_, i) => i !== change.server);
  return servers.map((s, i) => (i === change.server ? { ...s, weight: change.weight } : s));
}

/** --scenarios: comma-separated ids, groups ("size", "change"...), "search", "micro"; "*" globs ("udp-64-*"). */
export function selects(filter: string | undefined, id: string, group?: string): boolean {
  if (!filter) return true;
  return filter.split(',').map((f) => f.trim()).filter(Boolean).some((f) => {
    if (f.includes('*')) return new RegExp(`^${f.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(id);
    return f === id || f === group;
  });
}
