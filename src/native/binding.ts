// Typed boundary to the C++ addon (build/Release/las_native.node).
// Only plain structs cross it; nothing here runs per packet.
import { createRequire } from 'node:module';

export type Protocol = 'tcp' | 'udp';
export type FlowKey = 'addresses' | '5tuple';
export type Scheduler = 'maglev' | 'wrr';
export type TxMode = 'ring' | 'send' | 'sendmmsg';

/** One real server as the fast path sees it: where to send (MAC) and how much (weight). */
export interface NativeServer {
  address: string;      // dotted IPv4, for counters and ICMP routing
  mac: string;          // "02:00:00:00:00:12"
  weight: number;       // 0 = drained: no new flows
}

export interface NativeService {
  vip: string;          // dotted IPv4
  port: number;         // 0 = every port of the VIP
  protocol: Protocol;
  flowKey: FlowKey;
  scheduler: Scheduler;
  maglevTableSize: number; // prime, e.g. 65537
  servers: NativeServer[];
}

/** Everything the fast path needs to decide; swapped atomically between batches. */
export interface NativeSnapshot {
  services: NativeService[];
}

export interface DataplaneOptions {
  interface: string;
  egressInterface: string;
  workers: number;
  cpus: number[];              // CPU per worker; empty = not pinned
  txMode: TxMode;
  flowCapacity: number;        // entries per worker shard (rounded up to a power of two)
  flowIdleTimeoutMs: number;
  ring: { blockSize: number; blockCount: number; frameSize: number; retireTimeoutMs: number };
  fanoutId: number;            // PACKET_FANOUT group id (unique per daemon)
  gratuitousArp: boolean;
  filter: [code: number, jt: number, jf: number, k: number][]; // classic BPF socket filter
  passThrough?: boolean;       // benchmark ceiling: no parsing or flow logic, all to the first server
}

export interface ServerCounters { address: string; packets: bigint; bytes: bigint; newFlows: bigint }
export interface ServiceCounters { vip: string; port: number; protocol: Protocol; packets: bigint; bytes: bigint; newFlows: bigint; noServer: bigint; servers: ServerCounters[] }
export interface WorkerCounters {
  rxPackets: bigint; rxBytes: bigint; txPackets: bigint; txBytes: bigint;
  txErrors: bigint; arpReplies: bigint; batches: bigint;
  flowsActive: bigint; flowTableFull: bigint; flowsExpired: bigint;
  ringPackets: bigint; ringDrops: bigint;   // PACKET_STATISTICS, accumulated
  drops: Record<string, bigint>;            // by reason, see DROP_REASONS
}
export interface DataplaneStats { workers: WorkerCounters[]; services: ServiceCounters[] }

export type Verdict =
  | { action: 'forward'; service: number; server: number; frame: Buffer }
  | { action: 'arp_reply'; frame: Buffer }
  | { action: 'drop'; reason: string }
  | { action: 'pass' };   // not ours: left alone

export interface ClassifierOptions {
  ingressMac: string;   // the dispatcher's MAC that answers ARP for VIPs
  egressMac: string;    // source MAC written on forwarded frames
  flowCapacity: number;
  flowIdleTimeoutMs: number;
}

export interface NativeDataplane {
  start(): void;
  stop(): void;
  setSnapshot(snapshot: NativeSnapshot): void;
  stats(): DataplaneStats;
}

/** The same packet logic as the I/O threads, without sockets: for golden-frame tests and the simulator. */
export interface NativeClassifier {
  setSnapshot(snapshot: NativeSnapshot): void;
  /** nowMs: the clock the flow table ages with. */
  classify(frame: Buffer, nowMs: number): Verdict;
  flowCount(): number;
}

export interface Addon {
  Dataplane: new (options: DataplaneOptions, snapshot: NativeSnapshot) => NativeDataplane;
  Classifier: new (options: ClassifierOptions, snapshot: NativeSnapshot) => NativeClassifier;
  /** Maglev lookup table (server index per slot) for the given weights: the simulator predicts from this. */
  maglevTable(servers: { address: string; weight: number }[], size: number): Int32Array;
  /** Sends raw frames out of an interface in this network namespace (tests and the built-in generator). */
  sendFrames(ifname: string, frames: Buffer[]): number;
  interfaceMac(ifname: string): string;
  DROP_REASONS: string[];
}

const require = createRequire(import.meta.url);
let cached: Addon | undefined;

/** Loads the addon built by node-gyp (npm install). */
export function loadAddon(): Addon {
  if (!cached) {
    const candidates = ['../../../build/Release/las_native.node', '../../build/Release/las_native.node'];
    let lastError: unknown;
    for (const candidate of candidates) {
      try {
        cached = require(candidate) as Addon;
        break;
      } catch (error) {
        lastError = error;
      }
    }
    if (!cached) {
      throw new Error(`cannot load the native addon (run "npm install" to build it): ${String(lastError)}`);
    }
  }
  return cached;
}
