// What both sides of the N-API boundary must agree on. The addon exports its own lists, made from
// the native definitions (LAS_SCHEDULERS and the registration in native/lb/scheduler.cc,
// LAS_FLOW_KEYS, LAS_TX_MODES, LAS_WORKER_COUNTERS, LAS_FLOW_ENTRY_FIELDS): the literal tuples here
// exist for static types and zod enums, and checkContract() compares them with the addon's when it
// is loaded, so a drift fails at start with a message instead of misreading memory or refusing a
// valid config. test/native-contract.test.ts fails on the same drift.

/** Config "scheduler" values, in the addon's registration order. */
export const SCHEDULERS = ['maglev', 'wrr', 'rr', 'wlc', 'sh'] as const;
export type Scheduler = (typeof SCHEDULERS)[number];
/** Schedulers whose table has maglevTableSize slots (the others ignore the key). */
export const TABLE_SIZE_SCHEDULERS = ['maglev', 'sh'] as const satisfies readonly Scheduler[];
/** Operator-facing one-liners, one per scheduler (config errors). */
export const SCHEDULER_HELP: Record<Scheduler, string> = {
  maglev: 'consistent hashing, the default',
  wrr: 'weighted round-robin',
  rr: 'round-robin',
  wlc: 'weighted least flows',
  sh: 'source hash',
};
/** '"maglev" (consistent hashing, the default), "wrr" (weighted round-robin), ... or "sh" (source hash)' */
export const SCHEDULER_CHOICES = SCHEDULERS.map((s, i) => `${i === 0 ? '' : i === SCHEDULERS.length - 1 ? ' or ' : ', '}"${s}" (${SCHEDULER_HELP[s]})`).join('');

/** Config "flowKey" values. */
export const FLOW_KEYS = ['addresses', '5tuple'] as const;
export type FlowKey = (typeof FLOW_KEYS)[number];

/** Transmit paths of a worker (the config's txMode once "auto" is resolved). */
export const TX_MODES = ['ring', 'send', 'sendmmsg'] as const;
export type TxMode = (typeof TX_MODES)[number];

/**
 * A worker's counters, as bigints, beside txErrors (tx_error + tx_ring_full drops) and drops by reason.
 * passed: frames not for a VIP, left to the kernel (not drops).
 * gsoFrames: super-frames received with their segmentation left to the kernel. txSyscalls: transmit
 * syscalls (txPackets / txSyscalls = frames per syscall). secondChance: packets sent by the previous
 * Maglev table (ha.secondChance). wrongWorker: frames the fanout handed a
 * worker that does not own their flow (expected 0). ringPackets, ringDrops: PACKET_STATISTICS, summed.
 */
export const WORKER_COUNTERS = [
  'rxPackets', 'rxBytes', 'txPackets', 'txBytes', 'arpReplies', 'ndpAdverts', 'passed', 'batches', 'gsoFrames', 'txSyscalls', 'wrongWorker',
  'flowsActive', 'flowsExpired', 'flowTableFull', 'ringPackets', 'ringDrops', 'secondChance',
] as const;
export type WorkerCounterName = (typeof WORKER_COUNTERS)[number];

/** Bytes per flow-table slot. */
export const FLOW_ENTRY_BYTES = 32;
/**
 * Fields of a flow entry (little-endian host). Addresses are host-order integers; for an `addresses`
 * service sport is 0 and dport is the service's port (0 for all ports).
 */
export const FLOW_ENTRY_FIELDS = {
  src: { offset: 0, bytes: 4 },
  dst: { offset: 4, bytes: 4 },
  sport: { offset: 8, bytes: 2 },
  dport: { offset: 10, bytes: 2 },
  proto: { offset: 12, bytes: 1 },
  used: { offset: 13, bytes: 1 },
  tcpFlagsSeen: { offset: 14, bytes: 1 },
  serverAddress: { offset: 16, bytes: 4 },
  lastSeenMs: { offset: 20, bytes: 4 },
  createdMs: { offset: 24, bytes: 4 },
} as const;
/** Bytes per slot of the v6 flow table (one cache line). */
export const FLOW_ENTRY6_BYTES = 64;
/** The same fields in a v6 entry: src and dst are the 16 address bytes as on the wire; serverAddress is the server's identity. */
export const FLOW_ENTRY6_FIELDS = {
  src: { offset: 0, bytes: 16 },
  dst: { offset: 16, bytes: 16 },
  sport: { offset: 32, bytes: 2 },
  dport: { offset: 34, bytes: 2 },
  proto: { offset: 36, bytes: 1 },
  used: { offset: 37, bytes: 1 },
  tcpFlagsSeen: { offset: 38, bytes: 1 },
  serverAddress: { offset: 40, bytes: 4 },
  lastSeenMs: { offset: 44, bytes: 4 },
  createdMs: { offset: 48, bytes: 4 },
} as const;
/** Byte offset of each field: what the table scanners index with. */
export const FLOW_ENTRY_LAYOUT = Object.fromEntries(
  Object.entries(FLOW_ENTRY_FIELDS).map(([name, f]) => [name, f.offset]),
) as { readonly [K in keyof typeof FLOW_ENTRY_FIELDS]: (typeof FLOW_ENTRY_FIELDS)[K]['offset'] };
export const FLOW_ENTRY6_LAYOUT = Object.fromEntries(
  Object.entries(FLOW_ENTRY6_FIELDS).map(([name, f]) => [name, f.offset]),
) as { readonly [K in keyof typeof FLOW_ENTRY6_FIELDS]: (typeof FLOW_ENTRY6_FIELDS)[K]['offset'] };
/** tcpFlagsSeen bits: a bare SYN resets it to SYN; later packets add FIN, RST and ACK. */
export const TCP_SEEN = { FIN: 0x01, SYN: 0x02, RST: 0x04, ACK: 0x10 } as const;

/** The addon's side of the contract (native/addon/contract.cc). */
export interface NativeContract {
  SCHEDULERS: string[];
  TABLE_SIZE_SCHEDULERS: string[];
  FLOW_KEYS: string[];
  TX_MODES: string[];
  WORKER_COUNTERS: string[];
  FLOW_ENTRY_BYTES: number;
  FLOW_ENTRY_FIELDS: Record<string, { offset: number; bytes: number }>;
  FLOW_ENTRY6_BYTES: number;
  FLOW_ENTRY6_FIELDS: Record<string, { offset: number; bytes: number }>;
  TCP_FLAGS_SEEN: Record<string, number>;
}

/** This side, under the addon's export names. */
export const CONTRACT: NativeContract = {
  SCHEDULERS: [...SCHEDULERS],
  TABLE_SIZE_SCHEDULERS: [...TABLE_SIZE_SCHEDULERS],
  FLOW_KEYS: [...FLOW_KEYS],
  TX_MODES: [...TX_MODES],
  WORKER_COUNTERS: [...WORKER_COUNTERS],
  FLOW_ENTRY_BYTES,
  FLOW_ENTRY_FIELDS,
  FLOW_ENTRY6_BYTES,
  FLOW_ENTRY6_FIELDS,
  TCP_FLAGS_SEEN: TCP_SEEN,
};

/** Where the addon and src/native/contract.ts disagree: one line per export; empty when they agree. */
export function contractDrift(addon: Partial<NativeContract>): string[] {
  const drift: string[] = [];
  for (const key of Object.keys(CONTRACT) as (keyof NativeContract)[]) {
    // JSON text compares order too: list positions are enum values on the native side.
    const native = JSON.stringify(addon[key]);
    const ours = JSON.stringify(CONTRACT[key]);
    if (native !== ours) drift.push(`${key} is ${native ?? 'missing'} in the addon but ${ours} in src/native/contract.ts`);
  }
  return drift;
}

/** Throws when the addon at `where` was built from other sources than this TypeScript. */
export function checkContract(addon: Partial<NativeContract>, where: string): void {
  const drift = contractDrift(addon);
  if (drift.length === 0) return;
  throw new Error(
    `the native addon ${where} does not match this build of LAS: ${drift.join('; ')}. ` +
      'Rebuild both from the same checkout (npm run build:native && npm run build); if you changed a native list, change src/native/contract.ts with it',
  );
}

/** True when the scheduler sizes its table by maglevTableSize (any value: also what an admin reply says). */
export function usesTableSize(scheduler: unknown): boolean {
  return (TABLE_SIZE_SCHEDULERS as readonly unknown[]).includes(scheduler);
}
