// Micro-benchmarks of the fast path's parts, each a native timing loop (the addon's microbench*
// calls) run under benchmark.js, which repeats it and gives the statistics of the whole call. The
// ns per operation come from the native loop (no N-API crossing per operation); benchmark.js's
// figures are per call and show how stable they were.
import Benchmark from 'benchmark';
import type { NativeSnapshot } from '../src/native/binding.js';
import type { BenchAddon, FlowTableBenchResult } from '../src/native/bench-binding.js';
import { buildFrame, ipv4ToInt } from './frames.js';
import { PORT, SERVERS, VIP } from './scenarios.js';

export interface CallStats { meanMs: number; rmePercent: number; samples: number }

export interface ClassifyMicro { frames: number; distinctFlows: number; prefillFlows: number; flowCapacity: number; iterations: number; nsPerFrame: number; calls: CallStats }

export interface MicroResults {
  quick: boolean;
  /** Frames of as many distinct flows as there are frames, over a table holding prefillFlows: cache- and TLB-cold lookups, as with random traffic over 1 M flows. */
  classify: ClassifyMicro;
  /** The same with 1024 flows that stay in cache: the cost of the logic itself. */
  classifyHot: ClassifyMicro;
  /**
   * IPv6: the same two loops on 78-byte v6 UDP frames (the minimum-size v4 frame's v6 twin) to a v6
   * VIP, measured right after the v4 ones; rate ratio = v4 ns / v6 ns (issue 11's target: >= 0.95).
   */
  v6?: { classify: ClassifyMicro; classifyHot: ClassifyMicro; rateRatio: number; rateRatioHot: number };
  flowTable: Array<FlowTableBenchResult & { entries: number; operations: number; slots: number; entryBytes: number; fullSweepMs: number; calls: CallStats }>;
  maglev: Array<{ servers: number; size: number; repetitions: number; buildNs: number; buildMs: number; tableBytes: number; calls: CallStats }>;
  /** ha.secondChance: TCP packets without SYN and without an entry after 10 -> 11 servers, with the previous table kept and without it. */
  secondChance: Array<{ flows: number; rounds: number; offNs: number; onNs: number; ratio: number; byPrevious: number; frames: number; previousBytes: number; calls: CallStats }>;
  rssBytes: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs fn under benchmark.js; returns the median of what fn returned and the call statistics. */
function measure<T>(name: string, fn: () => T, pick: (r: T) => number, opts: { minSamples: number; maxTime: number }): { value: T; calls: CallStats } {
  const values: T[] = [];
  const bench = new Benchmark(name, () => { values.push(fn()); }, { minSamples: opts.minSamples, maxTime: opts.maxTime, initCount: 1 });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  if (values.length === 0) values.push(fn());
  const m = median(values.map(pick));
  const value = values.find((v) => pick(v) === m) ?? values[Math.floor(values.length / 2)]!;
  return { value, calls: { meanMs: bench.stats.mean * 1000, rmePercent: bench.stats.rme, samples: bench.stats.sample.length } };
}

function classifyFrames(n: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    frames.push(buildFrame({
      dstMac: '02:00:00:00:00:01', srcMac: '02:00:00:00:00:02',
      src: ipv4ToInt('10.1.0.0') + Math.floor(i / 1000), dst: ipv4ToInt(VIP),
      sport: 10_000 + (i % 1000), dport: PORT, proto: 'udp', size: 64,
    }));
  }
  return frames;
}

export const VIP6 = '2001:db8:99::100';

// Distinct v6 flows from the generator's own frame builder (78 bytes, UDP to VIP6:PORT).
function classifyFrames6(addon: BenchAddon, n: number): Buffer[] {
  return addon.generatorFrames({
    interface: 'unused-by-preview', srcMac: '02:00:00:00:00:02', dstMac: '02:00:00:00:00:01', dstIp: VIP6, dstPort: PORT,
    srcIpMin: '10.1.0.0', srcIpMax: '10.1.0.255', srcPortMin: 10_000, srcPortMax: 10_999, flows: n, packetSize: 78, kind: 'udp', count: 1, seed: 1,
  }, n);
}

export function snapshotForMicro6(): NativeSnapshot {
  const v4 = snapshotForMicro().services[0]!;
  return { services: [{ ...v4, vip: VIP6, servers: v4.servers.map((s, i) => ({ ...s, address: `2001:db8:99::${11 + i}` })) }] };
}

export function snapshotForMicro(): NativeSnapshot {
  return {
    services: [{
      vip: VIP, port: PORT, protocol: 'udp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 65_537,
      servers: SERVERS.map((s) => ({ address: s.address, mac: s.mac, weight: s.weight })),
    }],
  };
}

/**
 * entryBytes: sizeof(FlowEntry) (addon.FLOW_ENTRY_BYTES), to count the slots a full sweep visits;
 * flowCapacity: the table size LAS ran with.
 */
export async function runMicro(addon: BenchAddon, entryBytes: number, flowCapacity: number, quick: boolean, progress: (step: string) => void): Promise<MicroResults> {
  const light = { minSamples: quick ? 1 : 5, maxTime: quick ? 0.2 : 2 };
  const heavy = { minSamples: quick ? 1 : 2, maxTime: quick ? 0.1 : 1 };
  const heaviest = { minSamples: 1, maxTime: 0.1 };  // a 10 M-entry table takes seconds per call
  const prefillFlows = Math.min(quick ? 100_000 : 1_000_000, Math.max(0, flowCapacity - 70_000));
  const capacity = Math.max(flowCapacity, prefillFlows + 70_000);

  const classify = (distinct: number, iterations: number, v6 = false): ClassifyMicro => {
    const frames = v6 ? classifyFrames6(addon, distinct) : classifyFrames(distinct);
    const snapshot = v6 ? snapshotForMicro6() : snapshotForMicro();
    const r = measure(`classify ${distinct}${v6 ? ' v6' : ''}`, () => addon.microbenchClassify({ frames, snapshot, iterations, flowCapacity: capacity, prefillFlows }),
      (x) => x.nsPerFrame, heavy);
    return { frames: r.value.frames, distinctFlows: distinct, prefillFlows, flowCapacity: capacity, iterations, nsPerFrame: r.value.nsPerFrame, calls: r.calls };
  };
  progress('micro: parse + lookup + rewrite');
  const cold = classify(quick ? 4096 : 65_536, quick ? 4 : 16);
  const cold6 = classify(quick ? 4096 : 65_536, quick ? 4 : 16, true);
  const hot = classify(1024, quick ? 64 : 1024);
  const hot6 = classify(1024, quick ? 64 : 1024, true);

  const flowTable: MicroResults['flowTable'] = [];
  for (const entries of quick ? [100_000, 1_000_000] : [1_000_000, 10_000_000]) {
    progress(`micro: flow table, ${entries.toLocaleString('en-US')} entries`);
    const operations = quick ? 200_000 : 2_000_000;
    const r = measure(`flow table ${entries}`, () => addon.microbenchFlowTable({ entries, operations }), (x) => x.lookupHitNs, entries > 2_000_000 ? heaviest : heavy);
    const slots = r.value.tableBytes / entryBytes;
    flowTable.push({ ...r.value, entries, operations, slots, entryBytes, fullSweepMs: (r.value.sweepNsPerSlot * slots) / 1e6, calls: r.calls });
  }

  const maglev: MicroResults['maglev'] = [];
  for (const servers of [10, 100, 1000]) {
    progress(`micro: Maglev build, ${servers} servers`);
    const size = 65_537;
    const repetitions = quick ? 2 : 10;
    const r = measure(`maglev ${servers}`, () => addon.microbenchMaglev({ servers, size, repetitions }), (x) => x.buildNs, light);
    // native/lb/maglev.cc: uint16 slots, plus position/skip/credit state (16 B) per server while building.
    maglev.push({ servers, size, repetitions, buildNs: r.value.buildNs, buildMs: r.value.buildNs / 1e6, tableBytes: size * 2 + servers * 16, calls: r.calls });
  }

  const secondChance: MicroResults['secondChance'] = [];
  for (const flows of quick ? [1024, 100_000] : [1024, 1_000_000]) {
    progress(`micro: second chance, ${flows.toLocaleString('en-US')} flows without an entry`);
    const rounds = flows > 10_000 ? (quick ? 1 : 5) : (quick ? 50 : 500);
    const r = measure(`second chance ${flows}`, () => addon.microbenchSecondChance({ servers: 10, tableSize: 65_537, flows, rounds }), (x) => x.onNs / x.offNs, heavy);
    secondChance.push({ flows, rounds, ...r.value, ratio: r.value.onNs / r.value.offNs, calls: r.calls });
  }

  return {
    quick,
    classify: cold,
    classifyHot: hot,
    v6: { classify: cold6, classifyHot: hot6, rateRatio: cold.nsPerFrame / cold6.nsPerFrame, rateRatioHot: hot.nsPerFrame / hot6.nsPerFrame },
    flowTable,
    maglev,
    secondChance,
    rssBytes: process.memoryUsage().rss,
  };
}
