// The shape of results.json (schema "las-bench/1"), shared by the runner, the report and the test.
import type { BulkSection } from './bulk.js';
import type { DispatcherId } from './dispatchers.js';
import type { CodeVersion } from './machine.js';
import type { TrialResult } from './measure.js';
import type { MicroResults } from './micro.js';
import type { MoveForecast } from './moves.js';
import type { FlowSpace, ServerChange, Settings } from './scenarios.js';
import type { SearchResult } from './search.js';

export const RESULTS_SCHEMA = 'las-bench/1';

export interface Stat { median: number; min: number; max: number; n: number }

export const RATIOS = [
  ['las-full', 'nft-lb'],
  ['las-full', 'las-pt'],
  ['las-pt', 'nft-lb'],
  ['nft-lb', 'kernel-fwd'],
  ['las-full', 'kernel-fwd'],
  ['las-trace-none', 'las-full'],
  ['las-trace-all', 'las-full'],
] as const satisfies ReadonlyArray<readonly [DispatcherId, DispatcherId]>;

export type RatioKey = `${(typeof RATIOS)[number][0]}/${(typeof RATIOS)[number][1]}`;

export interface RoundResult {
  round: number;
  order: DispatcherId[];
  trials: Partial<Record<DispatcherId, TrialResult>>;
  errors: Partial<Record<DispatcherId, string>>;
  /** Delivered-rate ratios within this round. */
  ratios: Partial<Record<RatioKey, number>>;
}

export interface DispatcherSummary {
  deliveredPps: Stat;
  offeredPps: Stat;
  lossRatio: Stat;
  threadNsPerPacket: Stat | null;
  spreadCv: Stat | null;
  drops: { generatorErrors: number; dispatcherRingDrops: number | null; dispatcherOther: number | null; sinkRingDrops: number; softnetDropped: number; interfaceDropped: number };
}

export interface ScenarioResult {
  id: string;
  title: string;
  group: string;
  headline: boolean;
  params: {
    kind: string; packetSize: number; flows: number | 'random per frame'; sources: FlowSpace; workers: number; change: ServerChange | null;
    prefillFlows: number; lasTxMode: string; dispatchers: DispatcherId[];
    /** LAS's flow key and the nft balancer's hashed fields, when not the default 5tuple (fanout scenarios). */
    flowKey?: string;
  };
  dispatcherInfo: Partial<Record<DispatcherId, Record<string, unknown>>>;
  rounds: RoundResult[];
  summary: {
    perDispatcher: Partial<Record<DispatcherId, DispatcherSummary>>;
    /** Median (min, max) over rounds of the per-round ratios. */
    ratios: Partial<Record<RatioKey, Stat>>;
  };
  moves: null | {
    flows: number;
    forecast: MoveForecast;
    predicted: { lasFull: number; maglevStateless: number; nftJhash: number };  // flows
    measured: { lasFull: Stat | null; lasNewFlowsBeforeChange: Stat | null };
  };
}

export interface SearchSection {
  scenario: string;
  lossTolerance: number;
  steps: number;
  trialMs: number;
  perDispatcher: Partial<Record<DispatcherId, (SearchResult & { maxRatePps: number }) | { error: string }>>;
  ratios: Partial<Record<RatioKey, number>>;
  /** exact; lower / upper: the ratio is at least / at most this (a side was lossless at the generator's full rate); unknown: both were. */
  ratioBounds: Partial<Record<RatioKey, 'exact' | 'lower' | 'upper' | 'unknown'>>;
}

export interface Target { name: string; target: string; value: string; met: boolean | null; note?: string }

export interface BenchResults {
  schema: typeof RESULTS_SCHEMA;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string;
  mode: 'quick' | 'full';
  settings: Settings;
  machine: { cpuModel: string; cores: number; kernel: string; node: string; memoryBytes: number; hostname: string; hz: number };
  /** The code measured, at the start and the end of the run (they differ if it was rebuilt meanwhile). */
  code: { start: CodeVersion; end: CodeVersion };
  /** CPU use by everything else, sampled with the suite idle before and after the run. */
  backgroundLoad: { before: Array<{ cpu: number; busyShare: number }>; after: Array<{ cpu: number; busyShare: number }>; loadAverage: number[] };
  generator: { used: 'pktgen' | 'las-native'; pktgenAvailable: boolean; note: string };
  topology: { kind: 'veth' | 'nic'; namespaces: string[]; interfaces: Record<string, string>; vip: string; port: number; servers: Array<{ name: string; address: string; mac: string }> };
  dispatchers: Array<{ id: DispatcherId; label: string }>;
  scenarios: ScenarioResult[];
  /**
   * Two LAS workers behind the fanout program, per flow key (fanout-addresses, fanout-5tuple): the
   * same shape as `scenarios`; each LAS trial's `las.workers` has the per-worker shares and
   * `las.wrongWorker` the frames that reached a worker not owning their flow.
   */
  fanout: ScenarioResult[];
  /** TCP bulk uploads on the LVS-DR segment (tcp-bulk-offload, tcp-bulk-nooffload); null when not run. */
  bulk: BulkSection | { error: string } | null;
  search: SearchSection | null;
  micro: MicroResults | { error: string } | null;
  targets: Target[];
  limits: string[];
  warnings: string[];
  files: string[];
}

export function stat(values: number[]): Stat {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const m = Math.floor(s.length / 2);
  return { median: s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}
