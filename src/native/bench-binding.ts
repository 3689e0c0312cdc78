// Typed boundary to las_bench (native/addon/bench_addon.cc), the addon of the tools beside the
// product: the socket-free Classifier, sendFrames, the pass-through dataplane, the traffic
// generator, the sink and the micro-benchmarks. The daemon never loads it (binding.ts is its addon).
import type { DataplaneOptions, DataplaneStats, NativeSnapshot, WorkerCounters } from './binding.js';
import { loadNodeAddon } from './load.js';

export type Verdict =
  | { action: 'forward'; service: number; server: number; frame: Buffer }
  | { action: 'arp_reply'; frame: Buffer }
  | { action: 'ndp_reply'; frame: Buffer }
  | { action: 'drop'; reason: string }
  | { action: 'pass' };   // not ours: left alone

export interface ClassifierOptions {
  ingressMac: string;   // the dispatcher's MAC that answers ARP for VIPs
  egressMac: string;    // source MAC written on forwarded frames
  flowCapacity: number;
  flowCapacityV6?: number;  // the v6 table's; absent: a quarter of flowCapacity (at least 1024)
  flowIdleTimeoutMs: number;
}

/** The same packet logic as the I/O threads, without sockets: for golden-frame tests and the simulator. */
export interface NativeClassifier {
  /** nowMs: the flow clock of the swap, where a second-chance window (snapshot.secondChanceMs) starts. */
  setSnapshot(snapshot: NativeSnapshot, nowMs?: number): void;
  /** nowMs: the clock the flow table ages with. */
  classify(frame: Buffer, nowMs: number): Verdict;
  /** The worker (0..workers-1) that owns the frame's flow, as the fanout program picks it; -1: not a flow frame. */
  workerFor(frame: Buffer, workers: number): number;
  flowCount(): number;
  counters(): WorkerCounters;
  /** The current snapshot's service and server counters (reset by setSnapshot), as Dataplane.stats() gives them. */
  stats(): DataplaneStats;
}

/**
 * The benchmark's baseline: the daemon's I/O workers, rings and transmit path with the decision
 * taken out; every frame goes to the first server of the first service, MACs rewritten.
 */
export interface NativePassThrough {
  start(): void;
  stop(): void;
  stats(): DataplaneStats;
}

export type GeneratorKind = 'udp' | 'tcp-syn' | 'tcp-ack';

/**
 * A TPACKET_V2 TX-ring run. Names follow kernel pktgen where it has one: dstMac = dst_mac,
 * srcIpMin/Max = src_min/src_max, srcPortMin/Max = udp_src_min/udp_src_max, flows = flows (flowlen 1),
 * packetSize = pkt_size, count = count, burst = burst, ratePps = ratep.
 */
export interface GeneratorOptions {
  interface: string;
  /** Default: the interface's own MAC. */
  srcMac?: string;
  dstMac: string;
  /** IPv4, or IPv6 for IPv6 frames (their source: srcPrefix6 with srcIpMin..srcIpMax as its last 32 bits). */
  dstIp: string;
  /** IPv6 frames only: the sources' first 96 bits (default 2001:db8:1::). */
  srcPrefix6?: string;
  dstPort: number;
  srcIpMin: string;
  srcIpMax: string;
  /** Default 1024. */
  srcPortMin?: number;
  /** Default 65535. */
  srcPortMax?: number;
  /** Distinct (source address, port) flows cycled in a random order; 0 (default) = random per packet. */
  flows?: number;
  /** Ethernet frame bytes without FCS, 60 (default) .. MTU + 14. */
  packetSize?: number;
  /** Default 'udp'. A SYN carries no payload (the frame is padded); UDP and ACK frames do. */
  kind?: GeneratorKind;
  /** 0 (default) = as fast as possible. */
  ratePps?: number;
  /** 0 (default) = until durationMs. */
  count?: number;
  /** 0 (default) = until count. With both set, whichever comes first. */
  durationMs?: number;
  /** Frames per sendto() flush, 1..1024, default 32. */
  burst?: number;
  /** CPU to pin the generator thread to; -1 (default) = not pinned. */
  cpu?: number;
  /** TX ring slots, default 4096. */
  ringFrames?: number;
  /** PRNG seed for addresses, ports and flow order; 0 (default) = from the clock. */
  seed?: number;
}

export interface GeneratorResult {
  /** Frames the kernel took from the ring and released. */
  sent: bigint;
  /** Frames it refused or never sent before the run ended. sent + errors = frames queued. */
  errors: bigint;
  /** Times the next ring slot was still the kernel's and the generator had to wait for it. */
  ringFull: bigint;
  /** First frame queued until the last one released, CLOCK_MONOTONIC. */
  elapsedNs: bigint;
}

export interface SinkOptions {
  /** RX ring block bytes, default 1 MiB. */
  blockSize?: number;
  /** RX ring blocks, default 32. */
  blockCount?: number;
  /** Block retire timeout, default 10 ms. */
  retireTimeoutMs?: number;
  /** Keep copies of the first N frames received (<= 1024) for frames(); default 0. */
  keepFrames?: number;
}

export interface SinkCounts {
  total: bigint;
  /** Lower-case "02:00:00:00:00:12" keys; the first 256 distinct MACs. */
  byDstMac: Record<string, bigint>;
  /** Frames to MACs beyond the 256 the table holds. */
  otherMacs: bigint;
  /** PACKET_STATISTICS tp_drops since start(). */
  ringDrops: bigint;
}

/** Counts frames arriving on an interface of the current network namespace, per destination MAC. */
export interface NativeSink {
  /** Opens the ring and starts counting from zero in a native thread. */
  start(): void;
  /** Stops the thread and closes the ring; counts() keeps the final figures. */
  stop(): void;
  counts(): SinkCounts;
  /** Copies of the first keepFrames frames received. */
  frames(): Buffer[];
}

export interface ClassifyBenchOptions {
  frames: Buffer[];
  snapshot: NativeSnapshot;
  iterations: number;
  flowCapacity: number;
  /** Live flows inserted before the run so lookups probe a big table (<= flowCapacity). */
  prefillFlows?: number;
}
/** nsPerFrame excludes the copy that restores each frame before classify() (timed apart and subtracted). */
export interface ClassifyBenchResult { nsPerFrame: number; frames: number }

export interface FlowTableBenchOptions { entries: number; operations: number }
export interface FlowTableBenchResult {
  insertNs: number;
  lookupHitNs: number;
  lookupMissNs: number;
  /** find + erase of a random present entry. */
  eraseNs: number;
  sweepNsPerSlot: number;
  /** tableBytes / entries: memory per flow at this capacity (slots are a power of two >= 4/3 capacity). */
  bytesPerEntry: number;
  tableBytes: number;
}

export interface MaglevBenchOptions { servers: number; size: number; repetitions: number }
export interface MaglevBenchResult { buildNs: number }
export interface SecondChanceBenchOptions { servers: number; tableSize: number; flows: number; rounds: number }
export interface SecondChanceBenchResult { offNs: number; onNs: number; frames: number; byPrevious: number; previousBytes: number }

export interface BenchAddon {
  Classifier: new (options: ClassifierOptions, snapshot: NativeSnapshot) => NativeClassifier;
  PassThroughDataplane: new (options: DataplaneOptions, snapshot: NativeSnapshot) => NativePassThrough;
  /** Sends raw frames out of an interface in this network namespace; returns how many the kernel took. */
  sendFrames(ifname: string, frames: Buffer[]): number;
  /** Runs in its own native thread; the event loop stays free. Rejects on bad options or socket errors. */
  runGenerator(options: GeneratorOptions): Promise<GeneratorResult>;
  /** The first `count` frames runGenerator would send (same code, no socket). */
  generatorFrames(options: GeneratorOptions, count: number): Buffer[];
  Sink: new (ifname: string, options?: SinkOptions) => NativeSink;
  /** Synchronous: blocks the calling thread for the run. */
  microbenchClassify(options: ClassifyBenchOptions): ClassifyBenchResult;
  microbenchFlowTable(options: FlowTableBenchOptions): FlowTableBenchResult;
  microbenchMaglev(options: MaglevBenchOptions): MaglevBenchResult;
  /** TCP packets without SYN and without an entry after a server was added: ns/frame with second chance off and on (native/bench/microbench.h). */
  microbenchSecondChance(options: SecondChanceBenchOptions): SecondChanceBenchResult;
}

let cached: BenchAddon | undefined;

/** build/Release/las_bench.node, or the one beside the addon LAS_ADDON names. */
export function loadBenchAddon(): BenchAddon {
  cached ??= loadNodeAddon<BenchAddon>('las_bench');
  return cached;
}
