// Classic BPF programs generated from the VIPs. One generator serves two hooks:
// the AF_PACKET socket filter (copy only VIP traffic and ARP for VIPs into the rings) and the tc
// ingress drop in direct-action mode (keep the dispatcher's own kernel off the same frames).
import { ipv4ToInt } from './ipv4.js';

export type BpfInstruction = [code: number, jt: number, jf: number, k: number];

const LD_H_ABS = 0x28;
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const RET_K = 0x06;

const ETH_IPV4 = 0x0800;
const ETH_ARP = 0x0806;
const ETH_VLAN = 0x8100;

/** Accept the whole frame (socket filter). */
export const ACCEPT_FRAME = 0x40000;
/** tc direct-action verdicts. */
export const TC_ACT_SHOT = 2;
export const TC_ACT_UNSPEC = 0xffffffff;

// Jump offsets are 8 bits. The farthest jump is the dispatch's to the VLAN block, over both
// untagged lists of VIPs + 3 instructions each: 1 + 2 * (n + 3) <= 255, so n <= 124.
export const MAX_VIPS = 124;

/**
 * Frames whose IPv4 destination, or ARP target address, is one of `vips` get `onMatch`; all others
 * `onMiss`. Untagged and single 802.1Q-tagged frames are both matched (the kernel usually strips the
 * tag before these hooks, but a stacked tag stays in the frame).
 */
export function vipMatchProgram(vips: string[], onMatch: number, onMiss: number, arp = true): BpfInstruction[] {
  const addresses = [...new Set(vips)].map(ipv4ToInt);
  if (addresses.length === 0) throw new Error('at least one VIP is needed to build the packet filter');
  if (addresses.length > MAX_VIPS) throw new Error(`at most ${MAX_VIPS} distinct VIPs are supported, got ${addresses.length}`);

  // A list: load the address at `offset`, compare with every VIP, miss, match.
  const list = (offset: number): BpfInstruction[] => [
    [LD_W_ABS, 0, 0, offset],
    ...addresses.map((a, i): BpfInstruction => [JEQ_K, addresses.length - i, 0, a]),
    [RET_K, 0, 0, onMiss],
    [RET_K, 0, 0, onMatch],
  ];
  const ipList = list(30);
  // arp false: ARP for the VIPs misses too (ha.mode "bgp": the router routes the VIPs, nobody asks for them).
  const arpOrMiss = (offset: number): BpfInstruction[] => (arp ? list(offset) : [[RET_K, 0, 0, onMiss]]);
  const arpList = arpOrMiss(38);    // ARP target protocol address
  const vlanIpList = list(34);
  const vlanArpList = arpOrMiss(42);
  // Layout: dispatch | ip | arp | vlanDispatch | vlanIp | vlanArp
  const dispatch: BpfInstruction[] = [
    [LD_H_ABS, 0, 0, 12],
    [JEQ_K, 3, 0, ETH_IPV4],
    [JEQ_K, 2 + ipList.length, 0, ETH_ARP],
    [JEQ_K, 1 + ipList.length + arpList.length, 0, ETH_VLAN],
    [RET_K, 0, 0, onMiss],
  ];
  // Jumps count from the next instruction.
  const vlanDispatch: BpfInstruction[] = [
    [LD_H_ABS, 0, 0, 16],
    [JEQ_K, 2, 0, ETH_IPV4],
    [JEQ_K, 1 + vlanIpList.length, 0, ETH_ARP],
    [RET_K, 0, 0, onMiss],
  ];
  const program = [...dispatch, ...ipList, ...arpList, ...vlanDispatch, ...vlanIpList, ...vlanArpList];
  for (const [, jt, jf] of program) {
    if (jt > 255 || jf > 255) throw new Error('BPF jump out of range: too many VIPs');
  }
  return program;
}

/** The `tc ... bpf bytecode '…'` form. */
export function toTcBytecode(program: BpfInstruction[]): string {
  return [String(program.length), ...program.map(([c, jt, jf, k]) => `${c} ${jt} ${jf} ${k >>> 0}`)].join(',');
}
