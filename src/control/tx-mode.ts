// txMode "auto": on veth the TX ring is not zero-copy (the kernel copies every frame), so batched
// sendmmsg() is used there; on real NICs the ring avoids that copy. Per-packet send() lost badly
// here, where a syscall costs ~2.4 us: `npm run bench`,
// 64 B UDP, 1 M flows, LAS full per txMode: send 0.38x, ring 0.74x, sendmmsg 1.11x the nftables
// balancer of the same round (run of 2026-11-26 on the 2-vCPU CI machine).
import type { TxMode } from '../native/binding.js';
import type { TxModeSetting } from '../config/types.js';
import { tool } from './exec.js';

async function linkKind(ifname: string): Promise<string | undefined> {
  const [link] = JSON.parse(await tool('ip', ['-j', '-d', 'link', 'show', 'dev', ifname])) as { linkinfo?: { info_kind?: string } }[];
  return link?.linkinfo?.info_kind;
}

export async function chooseTxMode(setting: TxModeSetting, egressInterface: string): Promise<TxMode> {
  if (setting !== 'auto') return setting;
  return (await linkKind(egressInterface)) === 'veth' ? 'sendmmsg' : 'ring';
}
