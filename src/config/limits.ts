// Every limit the daemon, the addon or the kernel enforces on a config, so that `las check` refuses
// what `las run` would. Each names where it is enforced; test/config-limits.test.ts checks the
// addon's side against these numbers (a drift fails it).
import { MAX_VIPS } from '../control/bpf-program.js';

/** Distinct VIPs: the RX socket filter's 8-bit jumps (control/bpf-program.ts). */
export { MAX_VIPS };
/** I/O threads (native/addon/convert.cc options_from_js). */
export const MAX_WORKERS = 64;
/** Service and server indexes are 16 bits and 0xffff means none (convert.cc, lb/snapshot.h). */
export const MAX_SERVICES = 0xfffe;
export const MAX_SERVERS = 0xfffe;
/** convert.cc server_from_js. */
export const MAX_WEIGHT = 65_535;
/** convert.cc: 64 MiB of lookup table per service is already generous. */
export const MAX_MAGLEV_TABLE_SIZE = 1 << 24;
/** convert.cc flowCapacity. */
export const MIN_FLOW_CAPACITY = 1024;
export const MAX_FLOW_CAPACITY = 1 << 27;
/**
 * The smallest RX block: it must hold the largest frame any interface delivers to a packet socket, a
 * 64 KiB GRO/TSO super-frame with its headers (the addon's ringNeeds() says the same; a test checks).
 */
export const MIN_RX_BLOCK_SIZE = 131_072;
export const MAX_RX_BLOCK_SIZE = 1 << 28;
/** convert.cc ring.blockCount. */
export const MAX_RX_BLOCK_COUNT = 65_536;
/**
 * The kernel numbers an RX ring's frames in 32 bits (packet_set_ring: frames per block x blocks
 * <= UINT_MAX); the addon declares a nominal frame of 2048 bytes (io/packet_socket.cc).
 */
export const RX_NOMINAL_FRAME = 2048;
export const MAX_RX_RING_FRAMES = 0xffff_ffff;
/** convert.cc ring.frameSize. */
export const MAX_TX_FRAME_SIZE = 1 << 20;
/** convert.cc ring.retireTimeoutMs. */
export const MAX_RETIRE_TIMEOUT_MS = 60_000;
/** CPU_SETSIZE: pinning to a higher CPU number fails (io/dataplane.cc). */
export const MAX_CPU = 1023;
/** BPF_MAXINSNS: the kernel refuses a longer classic BPF program (the fanout program, workers > 1). */
export const BPF_MAX_INSNS = 4096;

export interface FanoutService {
  vip: string;
  port: number; // 0: every port
  flowKey: string;
}

/**
 * Instructions of the fanout program native/dataplane/fanout.cc builds for these services: a fixed
 * part, 2 per VIP to find its block, and the block: 1 when all of the VIP's services share a flow
 * key, else 11 + 2 per service with a port. A v6 VIP anywhere adds the v6 part (header and extension
 * chain walks, ICMPv6 errors, the v6 VIP blocks' dispatch) once: FANOUT_V6_INSNS.
 */
export const FANOUT_FIXED_INSNS = 99;
export const FANOUT_V6_INSNS = 576;
export function fanoutProgramLength(services: readonly FanoutService[]): number {
  const byVip = new Map<string, FanoutService[]>();
  for (const s of services) {
    const list = byVip.get(s.vip);
    if (list) list.push(s);
    else byVip.set(s.vip, [s]);
  }
  let length = FANOUT_FIXED_INSNS + (services.some((s) => s.vip.includes(':')) ? FANOUT_V6_INSNS : 0);
  for (const list of byVip.values()) {
    const mixed = list.some((s) => s.flowKey !== list[0]!.flowKey);
    length += 2 + (mixed ? 11 + 2 * list.filter((s) => s.port !== 0).length : 1);
  }
  return length;
}
