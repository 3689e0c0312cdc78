// txMode "auto": on veth the TX ring is not zero-copy and per-packet send() was measured faster
// (shared/perf-notes.md: 1.45x vs 1.27x the kernel balancer); on real NICs the ring avoids a copy.
import type { TxMode } from '../native/binding.js';
import type { TxModeSetting } from '../config/types.js';
import { tool } from './exec.js';

export async function linkKind(ifname: string): Promise<string | undefined> {
  const [link] = JSON.parse(await tool('ip', ['-j', '-d', 'link', 'show', 'dev', ifname])) as { linkinfo?: { info_kind?: string } }[];
  return link?.linkinfo?.info_kind;
}

export async function chooseTxMode(setting: TxModeSetting, egressInterface: string): Promise<TxMode> {
  if (setting !== 'auto') return setting;
  return (await linkKind(egressInterface)) === 'veth' ? 'send' : 'ring';
}
