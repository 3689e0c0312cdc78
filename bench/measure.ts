// One measured trial: counters everywhere before, the generator's window, counters after, and the
// differences turned into rates, drops per hop, CPU per packet and the per-server spread.
import type { Agent } from './agent-client.js';
import type { DispatcherCounters, DispatcherId, RunningDispatcher } from './dispatchers.js';
import type { SinkCounts } from '../src/native/bench-binding.js';
import { SERVERS, serversAfter, type BenchServer, type FlowSpace, type Scenario } from './scenarios.js';
import { foreignTicks, ifaceDelta, ifaceStats, readCpuTimes, readSoftnetDropped, sampleThreads, userHz, type CpuTimes, type IfStats } from './system.js';
import type { Topology } from './topology.js';
import type { BenchContext } from './dispatchers.js';
import { num } from './wire.js';

interface Snapshot {
  sink: SinkCounts;
  ifaces: Record<'gen' | 'in' | 'out' | 'sink', IfStats>;
  cpu: Map<number, CpuTimes>;
  softnet: number;
  dispatcher?: DispatcherCounters;
}

async function sinkCounts(sink: Agent): Promise<SinkCounts> {
  const c = await sink.request<SinkCounts>('sink.counts');
  const byDstMac: Record<string, bigint> = {};
  for (const [mac, n] of Object.entries(c.byDstMac)) byDstMac[mac.toLowerCase()] = (byDstMac[mac.toLowerCase()] ?? 0n) + BigInt(n);
  return { total: BigInt(c.total), ringDrops: BigInt(c.ringDrops), otherMacs: BigInt(c.otherMacs ?? 0n), byDstMac };
}

async function snapshot(topo: Topology, sink: Agent, dispatcher: RunningDispatcher): Promise<Snapshot> {
  const [s, gen, inn, out, snk, cpu, softnet, counters] = await Promise.all([
    sinkCounts(sink), ifaceStats(topo.gen), ifaceStats(topo.dispIn), ifaceStats(topo.dispOut), ifaceStats(topo.sink),
    readCpuTimes(), readSoftnetDropped(), dispatcher.counters(),
  ]);
  return { sink: s, ifaces: { gen, in: inn, out, sink: snk }, cpu, softnet, dispatcher: counters };
}

export interface ServerShare { name: string; address: string; mac: string; packets: number; share: number; expected: number }
export interface Spread { maxOverMin: number; cv: number; maxAbsDeviation: number }

export interface TrialResult {
  dispatcher: DispatcherId;
  round: number;
  targetPps: number;           // 0 = as fast as the generator goes
  offeredPps: number;
  deliveredPps: number;        // frames at the servers while the generator ran / its elapsed time
  drainMs: number;             // how long the dispatcher went on delivering after the generator stopped
  sent: number;
  delivered: number;           // every frame of this trial that reached a server, drained queues included
  backlog: number;             // of those, the ones delivered after the generator stopped
  lost: number;
  lossRatio: number;
  elapsedMs: number;
  generator: { sent: number; errors: number; ringFull: number; elapsedMs: number };
  perServer: ServerShare[];
  otherPackets: number;        // frames at the sink to no server MAC (should be 0)
  spread: Spread | null;       // null for the dispatchers that do not balance
  drops: {
    generatorErrors: number;
    dispatcherRingDrops: number | null;
    dispatcherDrops: Record<string, number> | null;
    dispatcherTxErrors: number | null;
    flowTableFull: number | null;
    sinkRingDrops: number;
    softnetDropped: number;
    interfaces: Record<string, IfStats>;
  };
  cpu: {
    dispatcherThreadNsPerPacket: number | null;  // las-io threads' utime+stime / forwarded
    perCpu: Array<{ cpu: number; busyShare: number; busyNsPerPacket: number }>;
    /** CPU other jobs on the machine took during the window, in CPUs (0.5 = half of one core). */
    foreignCpus: number;
  };
  las: LasTrialCounters | null;
  change: ChangeResult | null;
}

/** One LAS worker during a trial: its share of the frames LAS received, and what the fanout got wrong. */
export interface WorkerShare { worker: number; rxPackets: number; txPackets: number; rxShare: number; ringDrops: number; wrongWorker: number }

export interface LasTrialCounters {
  rxPackets: number;
  txPackets: number;
  flowsActive: number;
  newFlows: number;
  /** Frames the fanout handed a worker that does not own their flow (expected 0). */
  wrongWorker: number;
  txSyscalls: number;
  /** txPackets / txSyscalls; null when txSyscalls is 0 (nothing sent in the window). */
  framesPerSyscall: number | null;
  gsoFrames: number;
  workers: WorkerShare[];
}

/** The LAS counters of a trial: differences between two readings of the dispatcher's stats. */
export function lasDelta(d0: DispatcherCounters, d1: DispatcherCounters): LasTrialCounters {
  const rx = num(d1.rxPackets - d0.rxPackets);
  const tx = num(d1.txPackets - d0.txPackets);
  const txSyscalls = num(d1.txSyscalls - d0.txSyscalls);
  const workers = d1.workers.map((w, i): WorkerShare => {
    const b = d0.workers[i];
    const wrx = num(w.rxPackets - (b?.rxPackets ?? 0n));
    return {
      worker: i, rxPackets: wrx, txPackets: num(w.txPackets - (b?.txPackets ?? 0n)), rxShare: rx > 0 ? wrx / rx : 0,
      ringDrops: num(w.ringDrops - (b?.ringDrops ?? 0n)), wrongWorker: num(w.wrongWorker - (b?.wrongWorker ?? 0n)),
    };
  });
  return {
    rxPackets: rx, txPackets: tx, flowsActive: num(d1.flowsActive), newFlows: num(d1.newFlows - d0.newFlows),
    wrongWorker: num(d1.wrongWorker - d0.wrongWorker),
    txSyscalls, framesPerSyscall: txSyscalls ? tx / txSyscalls : null,
    gsoFrames: num(d1.gsoFrames - d0.gsoFrames),
    workers,
  };
}

export interface ChangeResult {
  atMs: number;                 // when the change was applied, from the start of the window
  applyMs: number;              // how long the dispatcher took to take it
  sharesBefore: Record<string, number>;  // by server name, at the sink
  sharesAfter: Record<string, number>;
  newFlowsBefore: number | null;  // LAS: flows (re)scheduled before the change (prefill misses)
  movedMeasured: number | null;   // LAS: flows rescheduled from the change to the end of the window
}

function shares(before: SinkCounts, after: SinkCounts, servers: BenchServer[]): Record<string, number> {
  const counts = servers.map((s) => num((after.byDstMac[s.mac] ?? 0n) - (before.byDstMac[s.mac] ?? 0n)));
  const total = counts.reduce((a, b) => a + b, 0);
  return Object.fromEntries(servers.map((s, i) => [s.name, total > 0 ? counts[i]! / total : 0]));
}

export function spreadOf(perServer: ServerShare[]): Spread | null {
  const considered = perServer.filter((s) => s.expected > 0);
  if (considered.length === 0) return null;
  const total = considered.reduce((a, s) => a + s.packets, 0);
  if (total === 0) return null;
  const normalised = considered.map((s) => s.packets / s.expected); // equal for a perfect spread
  const mean = normalised.reduce((a, b) => a + b, 0) / normalised.length;
  const sd = Math.sqrt(normalised.reduce((a, b) => a + (b - mean) ** 2, 0) / normalised.length);
  const min = Math.min(...normalised);
  return {
    maxOverMin: min > 0 ? Math.max(...normalised) / min : Infinity,
    cv: mean > 0 ? sd / mean : 0,
    maxAbsDeviation: Math.max(...considered.map((s) => Math.abs(s.share - s.expected))),
  };
}

export interface TrialSpec {
  scenario: Scenario;
  traffic: FlowSpace;
  ratePps: number;
  durationMs: number;
  round: number;
  /** Balancing dispatchers get the expected shares (weights); the others send all to s1. */
  balances: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the sink has seen no new frame for `quietMs` (at least 100 ms: LAS retires RX blocks
 * every 10 ms), bounded by 15 s. Returns how long it waited.
 */
export async function waitQuiet(sink: Agent, quietMs: number): Promise<number> {
  const started = Date.now();
  const step = 50;
  const need = Math.max(100, quietMs);
  let last = (await sinkCounts(sink)).total;
  let still = 0;
  while (still < need && Date.now() - started < 15_000) {
    await sleep(step);
    const now = (await sinkCounts(sink)).total;
    still = now === last ? still + step : 0;
    last = now;
  }
  return Date.now() - started;
}

export async function runTrial(ctx: BenchContext, sink: Agent, dispatcher: RunningDispatcher, spec: TrialSpec): Promise<TrialResult> {
  const { topo, settings } = ctx;
  const { scenario } = spec;
  const before = await snapshot(topo, sink, dispatcher);
  const threadsBefore = sampleThreads();
  const started = Date.now();
  const generating = ctx.generate(spec.traffic, scenario.kind, scenario.packetSize, spec.ratePps, spec.durationMs);
  let change: ChangeResult | null = null;
  let preChange: Pick<Snapshot, 'sink' | 'dispatcher'> | undefined;
  let postChange: { sink: SinkCounts; atMs: number; applyMs: number } | undefined;
  if (scenario.change) {
    await sleep(spec.durationMs / 2);
    // Only what the change needs: the full snapshot takes too long to sit in the middle of a window.
    const [midSink, midCounters] = await Promise.all([sinkCounts(sink), dispatcher.counters()]);
    preChange = { sink: midSink, dispatcher: midCounters };
    const t = Date.now();
    await dispatcher.change(scenario.change);
    postChange = { sink: await sinkCounts(sink), atMs: t - started, applyMs: Date.now() - t };
  }
  const gen = await generating;
  const threadsAfter = sampleThreads();
  // The rate counts what arrived while the generator ran; the loss counts everything that arrives
  // once the dispatcher has worked through its queue (an overloaded RX ring holds 100 k+ frames).
  const atEnd = await sinkCounts(sink);
  const drainMs = await waitQuiet(sink, settings.drainMs);
  const after = await snapshot(topo, sink, dispatcher);

  const sent = num(gen.sent);
  const elapsedMs = num(gen.elapsedNs) / 1e6;
  const serversAtEnd = serversAfter(scenario.change);
  const totalWeight = serversAtEnd.reduce((a, s) => a + s.weight, 0);
  const perServer: ServerShare[] = SERVERS.map((s) => {
    const packets = num((after.sink.byDstMac[s.mac] ?? 0n) - (before.sink.byDstMac[s.mac] ?? 0n));
    const now = serversAtEnd.find((x) => x.address === s.address);
    const expected = spec.balances ? (now ? now.weight / totalWeight : 0) : s === SERVERS[0] ? 1 : 0;
    return { name: s.name, address: s.address, mac: s.mac, packets, share: 0, expected };
  });
  const delivered = perServer.reduce((a, s) => a + s.packets, 0);
  const inWindow = SERVERS.reduce((a, s) => a + num((atEnd.byDstMac[s.mac] ?? 0n) - (before.sink.byDstMac[s.mac] ?? 0n)), 0);
  for (const s of perServer) s.share = delivered > 0 ? s.packets / delivered : 0;
  const otherPackets = num(after.sink.total - before.sink.total) - delivered;
  const lost = Math.max(0, sent - delivered);

  const d0 = before.dispatcher;
  const d1 = after.dispatcher;
  const dDrops = d0 && d1
    ? Object.fromEntries(Object.entries(d1.drops).map(([k, v]) => [k, num(v - (d0.drops[k] ?? 0n))]).filter(([, v]) => v !== 0))
    : null;
  const forwarded = d0 && d1 ? num(d1.txPackets - d0.txPackets) : delivered;
  const hz = userHz();
  const tickNs = 1e9 / hz;
  const perCpu = [...after.cpu.entries()].map(([cpu, t]) => {
    const b = before.cpu.get(cpu) ?? { busy: 0, total: 0, softirq: 0 };
    const busy = t.busy - b.busy;
    const total = t.total - b.total;
    return { cpu, busyShare: total > 0 ? busy / total : 0, busyNsPerPacket: delivered > 0 ? (busy * tickNs) / delivered : 0 };
  });

  if (scenario.change && preChange && postChange) {
    const names = SERVERS;
    change = {
      atMs: postChange.atMs,
      applyMs: postChange.applyMs,
      sharesBefore: shares(before.sink, preChange.sink, names),
      sharesAfter: shares(postChange.sink, after.sink, names),
      newFlowsBefore: d0 && preChange.dispatcher ? num(preChange.dispatcher.newFlows - d0.newFlows) : null,
      movedMeasured: d1 && preChange.dispatcher ? num(d1.newFlows - preChange.dispatcher.newFlows) : null,
    };
  }

  return {
    dispatcher: dispatcher.id,
    round: spec.round,
    targetPps: spec.ratePps,
    offeredPps: elapsedMs > 0 ? sent / (elapsedMs / 1000) : 0,
    deliveredPps: elapsedMs > 0 ? inWindow / (elapsedMs / 1000) : 0,
    drainMs,
    sent,
    delivered,
    backlog: Math.max(0, delivered - inWindow),
    lost,
    lossRatio: sent > 0 ? lost / sent : 0,
    elapsedMs,
    generator: { sent, errors: num(gen.errors), ringFull: num(gen.ringFull), elapsedMs },
    perServer,
    otherPackets,
    spread: spec.balances ? spreadOf(perServer) : null,
    drops: {
      generatorErrors: num(gen.errors),
      dispatcherRingDrops: d0 && d1 ? num(d1.ringDrops - d0.ringDrops) : null,
      dispatcherDrops: dDrops,
      dispatcherTxErrors: d0 && d1 ? num(d1.txErrors - d0.txErrors) : null,
      flowTableFull: d0 && d1 ? num(d1.flowTableFull - d0.flowTableFull) : null,
      sinkRingDrops: num(after.sink.ringDrops - before.sink.ringDrops),
      softnetDropped: after.softnet - before.softnet,
      interfaces: {
        [topo.gen.ifname]: ifaceDelta(before.ifaces.gen, after.ifaces.gen),
        [topo.dispIn.ifname]: ifaceDelta(before.ifaces.in, after.ifaces.in),
        [topo.dispOut.ifname]: ifaceDelta(before.ifaces.out, after.ifaces.out),
        [topo.sink.ifname]: ifaceDelta(before.ifaces.sink, after.ifaces.sink),
      },
    },
    cpu: {
      dispatcherThreadNsPerPacket: d0 && d1 && forwarded > 0 ? ((d1.threadTicks - d0.threadTicks) * tickNs) / forwarded : null,
      perCpu,
      foreignCpus: elapsedMs > 0 ? (foreignTicks(threadsBefore, threadsAfter) * tickNs) / (elapsedMs * 1e6) : 0,
    },
    las: d0 && d1 ? lasDelta(d0, d1) : null,
    change,
  };
}
