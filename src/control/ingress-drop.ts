// Keeps the dispatcher's own kernel off VIP traffic. The AF_PACKET tap sees a frame before tc
// ingress, so a drop there costs LAS nothing and stops the kernel from routing, answering (RST,
// ICMP) or forwarding a second copy. Fixed preference + handle: a restart after kill -9 replaces the
// stale filter atomically instead of stacking another.
import { tool } from './exec.js';
import { TC_ACT_SHOT, TC_ACT_UNSPEC, toTcBytecode, vipMatchProgram } from './bpf-program.js';

const INGRESS_DROP_PREF = '4955';
const HANDLE = '1';

export interface IngressDrop {
  remove(): Promise<void>;
}

export async function installIngressDrop(ifname: string, vips: string[]): Promise<IngressDrop> {
  const bytecode = toTcBytecode(vipMatchProgram(vips, TC_ACT_SHOT, TC_ACT_UNSPEC));
  try {
    await tool('tc', ['qdisc', 'add', 'dev', ifname, 'clsact']);
  } catch (error) {
    // Already there (ours from a previous run, or someone else's): reuse it.
    if (!/File exists|Exclusivity flag on/.test(String(error))) throw explain(ifname, error);
  }
  try {
    await tool('tc', ['filter', 'replace', 'dev', ifname, 'ingress', 'pref', INGRESS_DROP_PREF, 'handle', HANDLE,
      'bpf', 'da', 'bytecode', bytecode]);
  } catch (error) {
    throw explain(ifname, error);
  }
  return { remove: () => removeIngressDrop(ifname) };
}

async function removeIngressDrop(ifname: string): Promise<void> {
  try {
    await tool('tc', ['filter', 'del', 'dev', ifname, 'ingress', 'pref', INGRESS_DROP_PREF]);
  } catch {
    // Nothing to remove.
  }
}

function explain(ifname: string, error: unknown): Error {
  return new Error(
    `cannot install the ingress drop for VIP traffic on "${ifname}" (${String(error instanceof Error ? error.message : error)}). ` +
      'LAS needs tc with the clsact qdisc and the cls_bpf classifier (kernel CONFIG_NET_CLS_BPF, CONFIG_NET_SCH_INGRESS) ' +
      'so that the dispatcher\'s own kernel does not answer or forward VIP traffic. ' +
      'Set "ingressDrop": "none" only if you keep VIP traffic off the kernel another way.',
  );
}
