// Classic BPF programs generated from the VIPs. One generator serves two hooks:
// the AF_PACKET socket filter (copy only VIP traffic, ARP for v4 VIPs and Neighbor Solicitations
// for v6 VIPs into the rings) and the tc ingress drop in direct-action mode (keep the dispatcher's
// own kernel off the same frames).
import { isIPv6 } from 'node:net';
import { ipv4ToInt } from './ipv4.js';
import { ipv6ToWords } from './ipv6.js';

export type BpfInstruction = [code: number, jt: number, jf: number, k: number];

const LD_H_ABS = 0x28;
const LD_W_ABS = 0x20;
const LD_W_IND = 0x40;
const LD_B_IND = 0x50;
const LDX_IMM = 0x01;
const JA = 0x05;
const JEQ_K = 0x15;
const RET_K = 0x06;

const ETH_IPV4 = 0x0800;
const ETH_ARP = 0x0806;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const NEXT_ICMPV6 = 58;
const ICMPV6_NEIGHBOR_SOLICIT = 135;
// From the IPv6 header (X = 14, or 18 behind one tag, is added to every load of the v6 part).
const V6_NEXT_HEADER = 14 + 6;
const V6_DST = 14 + 24;
const V6_ICMP_TYPE = 14 + 40;
const V6_NS_TARGET = 14 + 40 + 8;
/** The kernel's limit on a classic BPF program (socket filter and cls_bpf alike). */
const BPF_MAXINSNS = 4096;

/** Accept the whole frame (socket filter). */
export const ACCEPT_FRAME = 0x40000;
/** tc direct-action verdicts. */
export const TC_ACT_SHOT = 2;
export const TC_ACT_UNSPEC = 0xffffffff;

// Jump offsets are 8 bits. The farthest jump is the dispatch's to the VLAN block, over both
// untagged lists of v4 VIPs + 3 instructions each: 1 + 2 * (n + 3) <= 255, so n <= 124. The v6 part
// compares four words per VIP (9 instructions) with only local jumps; 124 v6 VIPs fit the kernel's
// 4096 instructions too.
export const MAX_VIPS = 124;

/**
 * Frames whose IPv4 or IPv6 destination, ARP target address or Neighbor Solicitation target is one
 * of `vips` get `onMatch`; all others `onMiss`. Untagged and single 802.1Q-tagged frames are both
 * matched (the kernel usually strips the tag before these hooks, but a stacked tag stays in the frame).
 */
export function vipMatchProgram(vips: string[], onMatch: number, onMiss: number, arp = true): BpfInstruction[] {
  const distinct = [...new Set(vips)];
  if (distinct.length === 0) throw new Error('at least one VIP is needed to build the packet filter');
  if (distinct.length > MAX_VIPS) throw new Error(`at most ${MAX_VIPS} distinct VIPs are supported, got ${distinct.length}`);
  const v6 = distinct.filter((v) => isIPv6(v)).map(ipv6ToWords);
  const v6Part = v6.length > 0 ? ipv6Part(v6, onMatch, onMiss, arp) : [];
  const head = [...ipv6Dispatch(v6Part.length > 0), ...ipv4Part(distinct.filter((v) => !isIPv6(v)).map(ipv4ToInt), onMatch, onMiss, arp)];
  // The dispatch's `ja`s go to the v6 part, right after the v4 part (ja counts from the next instruction).
  const program = [...head.map(([c, jt, jf, k], i): BpfInstruction => (c === JA && k === FAR ? [c, jt, jf, head.length - i - 1] : [c, jt, jf, k])), ...v6Part];
  for (const [, jt, jf] of program) {
    if (jt > 255 || jf > 255) throw new Error('BPF jump out of range: too many VIPs');
  }
  if (program.length > BPF_MAXINSNS) throw new Error(`the packet filter needs ${program.length} instructions, more than the kernel's ${BPF_MAXINSNS}: use fewer VIPs`);
  return program;
}

// IPv6 frames (untagged or behind one tag) jump to the v6 part at the end with X = the tag's length;
// the rest goes on to the v4 part. 9 instructions, or none without a v6 VIP.
function ipv6Dispatch(any: boolean): BpfInstruction[] {
  if (!any) return [];
  // Jumps count from the next instruction; the `ja`s (32-bit reach) get their distance past the v4
  // part in vipMatchProgram.
  return [
    [LD_H_ABS, 0, 0, 12],
    [JEQ_K, 0, 2, ETH_IPV6],
    [LDX_IMM, 0, 0, 0],
    [JA, 0, 0, FAR],
    [JEQ_K, 0, 4, ETH_VLAN],
    [LD_H_ABS, 0, 0, 16],
    [JEQ_K, 0, 2, ETH_IPV6],
    [LDX_IMM, 0, 0, 4],
    [JA, 0, 0, FAR],
  ];
}

// Placeholder for the distance of the dispatch's `ja`s to the v6 part.
const FAR = -1;

// The v6 part: destination is a VIP, or a Neighbor Solicitation (right after the IPv6 header) whose
// target is a VIP. Loads are relative to X.
function ipv6Part(vips: [number, number, number, number][], onMatch: number, onMiss: number, ndp: boolean): BpfInstruction[] {
  // Nine instructions per VIP: four words compared in turn, a mismatch skips to the next VIP.
  const list = (offset: number): BpfInstruction[] => vips.flatMap((w): BpfInstruction[] => [
    [LD_W_IND, 0, 0, offset], [JEQ_K, 0, 7, w[0]],
    [LD_W_IND, 0, 0, offset + 4], [JEQ_K, 0, 5, w[1]],
    [LD_W_IND, 0, 0, offset + 8], [JEQ_K, 0, 3, w[2]],
    [LD_W_IND, 0, 0, offset + 12], [JEQ_K, 0, 1, w[3]],
    [RET_K, 0, 0, onMatch],
  ]);
  return [
    ...list(V6_DST),
    // ndp false (ha.mode "bgp"): nobody asks for the VIPs, so solicitations for them miss too.
    ...(ndp ? [] : [[RET_K, 0, 0, onMiss] as BpfInstruction]),
    [LD_B_IND, 0, 0, V6_NEXT_HEADER],
    [JEQ_K, 1, 0, NEXT_ICMPV6],
    [RET_K, 0, 0, onMiss],
    [LD_B_IND, 0, 0, V6_ICMP_TYPE],
    [JEQ_K, 1, 0, ICMPV6_NEIGHBOR_SOLICIT],
    [RET_K, 0, 0, onMiss],
    ...list(V6_NS_TARGET),
    [RET_K, 0, 0, onMiss],
  ];
}

// The v4 part, unchanged from before IPv6: IPv4 destination or ARP target, untagged or behind a tag.
function ipv4Part(addresses: number[], onMatch: number, onMiss: number, arp: boolean): BpfInstruction[] {
  if (addresses.length === 0) {
    return [[RET_K, 0, 0, onMiss]];
  }

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
  return [...dispatch, ...ipList, ...arpList, ...vlanDispatch, ...vlanIpList, ...vlanArpList];
}

/** The `tc ... bpf bytecode '…'` form. */
export function toTcBytecode(program: BpfInstruction[]): string {
  return [String(program.length), ...program.map(([c, jt, jf, k]) => `${c} ${jt} ${jf} ${k >>> 0}`)].join(',');
}
