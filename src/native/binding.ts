// Typed boundary to the daemon's C++ addon (build/Release/las_native.node): the product only. The
// tools beside it (generator, sink, Classifier, sendFrames…) are las_bench, see bench-binding.ts.
// Only plain structs cross it; nothing here runs per packet.
import { checkContract, type FlowKey, type NativeContract, type Scheduler, type TxMode, type WorkerCounterName } from './contract.js';
import { loadNodeAddon } from './load.js';

export { FLOW_ENTRY_LAYOUT, TCP_SEEN, type FlowKey, type Scheduler, type TxMode } from './contract.js';
export type Protocol = 'tcp' | 'udp';

/** One real server as the fast path sees it: where to send (MAC) and how much (weight). */
export interface NativeServer {
  address: string;      // dotted IPv4, for counters and ICMP routing
  mac: string;          // "02:00:00:00:00:12"
  weight: number;       // 0 = drained: no new flows
  up?: boolean;         // health; default true. Down = no new flows (Maglev moves only its share)
}

export interface NativeService {
  vip: string;          // dotted IPv4
  port: number;         // 0 = every port of the VIP
  protocol: Protocol;
  flowKey: FlowKey;
  scheduler: Scheduler;
  maglevTableSize: number; // prime, e.g. 65537 (maglev and sh)
  servers: NativeServer[];
  onServerDown?: 'reschedule' | 'keep'; // existing flows of a down server; default reschedule
  sorryServer?: NativeServer;           // takes new flows when no server can
}

/** Everything the fast path needs to decide; swapped atomically between batches. */
export interface NativeSnapshot {
  services: NativeService[];
  // ha.secondChance.window in ms: a service whose placement changes keeps its previous table this
  // long, for TCP packets without SYN and without an entry; absent or 0 = off.
  secondChanceMs?: number;
}

export interface DataplaneOptions {
  interface: string;
  egressInterface: string;
  workers: number;
  cpus: number[];              // CPU per worker; empty = not pinned
  txMode: TxMode;
  flowCapacity: number;        // entries per worker shard (rounded up to a power of two)
  flowCapacityV6?: number;     // v6 entries per worker shard; absent: a quarter of flowCapacity (at least 1024)
  flowIdleTimeoutMs: number;
  // frameSize: the TX ring's slot; 0 = sized from the egress MTU.
  ring: { blockSize: number; blockCount: number; frameSize: number; retireTimeoutMs: number };
  fanoutId: number;            // PACKET_FANOUT group id (unique per daemon)
  gratuitousArp: boolean;
  standby?: boolean;           // true: start as an HA standby (forward nothing, answer no ARP) until setActive(true)
  filter: [code: number, jt: number, jf: number, k: number][]; // classic BPF socket filter
  flowFilePrefix?: string;     // worker i's flow table lives in the file prefix + "." + i; absent: in memory
}

/** What start() did with a worker's flow file: its table picked up (emptyBecause null) or not, and why. */
export interface FlowFileReport {
  path: string;
  worker: number;
  family: 4 | 6;      // which of the worker's two tables (v4, v6) the file holds
  emptyBecause: string | null;
  kept: number;       // entries picked up
  torn: number;       // failed their check: the old process was killed while writing them
  duplicate: number;  // a second copy an interrupted erase left
  refused: number;    // their service or server is no longer configured, or another worker owns them now
}

export interface ServerCounters { address: string; packets: bigint; bytes: bigint; newFlows: bigint; activeFlows: bigint }
export interface ServiceCounters { vip: string; port: number; protocol: Protocol; packets: bigint; bytes: bigint; newFlows: bigint; noServer: bigint; servers: ServerCounters[] }
/** See WORKER_COUNTERS (contract.ts); txErrors = tx_error + tx_ring_full drops. */
export type WorkerCounters = Record<WorkerCounterName, bigint> & {
  txErrors: bigint;
  drops: Record<string, bigint>;            // by reason, see DROP_REASONS
};
export interface DataplaneStats { workers: WorkerCounters[]; services: ServiceCounters[] }

export interface NativeDataplane {
  /** Process-wide id: other threads (piscina workers) find the flow tables with it. */
  readonly id: number;
  start(): FlowFileReport[];
  stop(): void;
  setSnapshot(snapshot: NativeSnapshot): void;
  /** Replaces the RX socket filter on every worker (a reload that changes the VIPs). */
  setFilter(filter: DataplaneOptions['filter']): void;
  stats(): DataplaneStats;
  /** `las explain`: each I/O thread answers for its own shard between batches (rejects after timeoutMs). */
  explain(tuples: ExplainTuple[], timeoutMs: number): Promise<NativeExplanation[]>;
  /** `las trace`: the fast path's filters, 9 words each (src/control/trace-filter.ts); empty: off. */
  setTrace(filters: Uint32Array): void;
  /** What the workers' trace rings hold (36-byte records, src/control/trace-records.ts); lost per worker. */
  drainTrace(maxPerWorker?: number): { records: ArrayBuffer; lost: number[] };
  /** HA role: false = standby (VIP frames, and ARP or NS for a VIP, counted as standby/standby_arp; nothing sent). */
  setActive(active: boolean): void;
  /** One gratuitous ARP for every VIP now. */
  announce(): void;
}

/** A flow's first packet as `las explain` asks about it. */
export interface ExplainTuple { protocol: Protocol; client: string; clientPort: number; vip: string; port: number }
export interface ExplainServer { index: number; address: string; weight: number; up: boolean; sorry: boolean }
/** native/dataplane/explain.h, as the addon returns it. */
export interface NativeExplanation {
  isVip: boolean;
  reason: string | null;          // a drop reason (no_service, no_server), null when forwarded or not a VIP
  generation: number;             // the snapshot it was computed on
  service: number | null;         // index in the snapshot's services
  scheduler?: string;
  flowKey?: string;
  key?: { client: string; clientPort: number; vip: string; port: number };
  worker?: number;
  entry?: { serverAddress: string; server: ExplainServer | null; live: boolean; tcpFlagsSeen: number; ageMs: number; idleMs: number } | null;
  newFlow?: { server: ExplainServer | null; sorry: boolean; position: number | null; tableSize: number; load: number; totalWeight: number };
  server?: ExplainServer | null;
  fromEntry?: boolean;
  /** Where a TCP packet without SYN and without an entry goes instead (ha.secondChance), and for how long. */
  secondChance?: { server: ExplainServer | null; leftMs: number } | null;
}

export interface Addon extends NativeContract {
  Dataplane: new (options: DataplaneOptions, snapshot: NativeSnapshot) => NativeDataplane;
  /** Maglev lookup table (server index per slot) for the given weights: the simulator predicts from this. */
  maglevTable(servers: { address: string; weight: number }[], size: number): Int32Array;
  /** What a freshly started daemon with this snapshot does with each tuple (no sockets): `las explain --config`. */
  explainFlows(snapshot: NativeSnapshot, options: { workers: number; flowIdleTimeoutMs: number }, tuples: ExplainTuple[]): NativeExplanation[];
  interfaceMac(ifname: string): string;
  interfaceMtu(ifname: string): number;
  /** The smallest ring.blockSize (RX, super-frames included) and ring.frameSize (TX slot) for an MTU. */
  ringNeeds(mtu: number): { blockSize: number; frameSize: number };
  /** Read-only views of each worker's flow table (see FLOW_ENTRY_LAYOUT); entries may be torn while read. */
  flowTableViews(dataplaneId: number): { worker: number; slots: number; buffer: ArrayBuffer }[];
  /** Queues expiries for a worker's I/O thread: 5-word records [src, dst, sport << 16 | dport, proto, lastSeenMs]. */
  expireFlows(dataplaneId: number, worker: number, commands: Uint32Array): number;
  /** The clock of lastSeenMs/createdMs: CLOCK_MONOTONIC_COARSE in ms, truncated to 32 bits. */
  monotonicMs(): number;
  /** The same views of each worker's v6 flow table (see FLOW_ENTRY6_LAYOUT). */
  flowTableViews6(dataplaneId: number): { worker: number; slots: number; buffer: ArrayBuffer }[];
  /** Queues v6 expiries: 11-word records [src x4, dst x4, sport << 16 | dport, proto, lastSeenMs], address words as read from the view. */
  expireFlows6(dataplaneId: number, worker: number, commands: Uint32Array): number;
  /** The 32-bit identity by which v6 flow entries name a server (a hash of its 16 address bytes). */
  serverIdentity6(address: Uint8Array): number;
  /**
   * Clears capabilities from the effective, permitted, inheritable (and so ambient) sets of every
   * thread of the process, for good. keptBy: "tid (name)" of threads that block every signal and
   * so keep them (Node 20's SIGUSR1 watchdog thread, which only waits on a semaphore).
   */
  dropCapabilities(names: Array<'net_raw' | 'net_admin'>): { threads: number; keptBy: string[] };
  /** Programs the calling thread starts get no capabilities (its ambient and inheritable sets cleared). */
  clearChildCapabilities(): void;
  /** The calling thread's effective capability set, one bit per capability number. */
  effectiveCapabilities(): bigint;
  /** One sd_notify(3) datagram ("READY=1", ...) to systemd's socket: a path, or "@name" (abstract). */
  sdNotify(socketPath: string, message: string): void;
  DROP_REASONS: string[];
}

let cached: Addon | undefined;

/**
 * The daemon's addon built by node-gyp (npm install), or the one LAS_ADDON names (e.g. the sanitizer
 * build); refused when its lists differ from src/native/contract.ts (built from other sources).
 */
export function loadAddon(): Addon {
  if (cached) return cached;
  const addon = loadNodeAddon<Addon>('las_native');
  checkContract(addon, `(${process.env.LAS_ADDON || 'build/Release/las_native.node'})`);
  cached = addon;
  return cached;
}
