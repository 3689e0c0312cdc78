// Userspace model of how the fast path places a NEW flow on a Maglev service (Katran's simulator
// idea): the table comes from the addon (`maglevTable`), the flow hash is re-implemented here from
// native/lb/hash.h (splitmix64 finaliser, hash_flow, kMaglevFlowSeed) so a test can predict the
// Classifier's choice without asking it.
import type { FlowKey, NativeService, NativeSnapshot } from '../../src/native/binding.js';
import { loadBenchAddon, type ClassifierOptions, type NativeClassifier } from '../../src/native/bench-binding.js';
import { ipv4ToInt, PROTO_TCP, PROTO_UDP } from './frames.js';

const MASK64 = (1n << 64n) - 1n;

export const FLOW_TABLE_SEED = 0x4c41535f666c6f77n;   // "LAS_flow"
export const MAGLEV_FLOW_SEED = 0x4c41535f6d61676cn;  // "LAS_magl"

/** splitmix64 finaliser, 64-bit wrapping. */
export function mix64(value: bigint): bigint {
  let x = value & MASK64;
  x ^= x >> 30n;
  x = (x * 0xbf58476d1ce4e5b9n) & MASK64;
  x ^= x >> 27n;
  x = (x * 0x94d049bb133111ebn) & MASK64;
  x ^= x >> 31n;
  return x;
}

/** The fields a flow is keyed (and hashed) by; host-order integers. */
export interface FlowKeyFields {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  proto: number;
}

export function hashFlow(k: FlowKeyFields, seed: bigint): bigint {
  const a = (BigInt(k.src >>> 0) << 32n) | BigInt(k.dst >>> 0);
  const b = (BigInt(k.sport & 0xffff) << 32n) | (BigInt(k.dport & 0xffff) << 16n) | BigInt(k.proto & 0xff);
  return mix64(mix64(a ^ seed) ^ ((b + 0x9e3779b97f4a7c15n) & MASK64));
}

export interface SimPacket {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  protocol: 'tcp' | 'udp';
}

/**
 * The key classify() builds: the 5-tuple, or for flowKey "addresses" the address pair with
 * sport 0 and dport = the SERVICE's port (0 for an all-ports service).
 */
export function flowKeyOf(service: { port: number; flowKey: FlowKey }, p: SimPacket): FlowKeyFields {
  const proto = p.protocol === 'tcp' ? PROTO_TCP : PROTO_UDP;
  const src = ipv4ToInt(p.src);
  const dst = ipv4ToInt(p.dst);
  if (service.flowKey === 'addresses') return { src, dst, sport: 0, dport: service.port, proto };
  return { src, dst, sport: p.sport, dport: p.dport, proto };
}

/** Server index the Maglev table gives a new flow: table[hash % size] (-1: no server). */
export function maglevPick(table: Int32Array, key: FlowKeyFields): number {
  const slot = Number(hashFlow(key, MAGLEV_FLOW_SEED) % BigInt(table.length));
  return table[slot] as number;
}

/** A predictor for one service: builds the table once with the addon's maglevTable. */
export function maglevPredictor(
  maglevTable: (servers: { address: string; weight: number }[], size: number) => Int32Array,
  service: NativeService,
): (p: SimPacket) => number {
  const table = maglevTable(
    service.servers.map((s) => ({ address: s.address, weight: s.weight })),
    service.maglevTableSize,
  );
  return (p) => maglevPick(table, flowKeyOf(service, p));
}

// ---------------------------------------------------------------- the Classifier as the tests use it

/** The socket-free Classifier of las_bench. */
export function createClassifier(options: ClassifierOptions, snapshot: NativeSnapshot): NativeClassifier {
  return new (loadBenchAddon().Classifier)(options, snapshot);
}
