// The resolved config turned into the plain struct the fast path takes.
import type { DataplaneOptions, TxMode } from '../native/binding.js';
import type { LasConfig } from '../config/types.js';
import { ACCEPT_FRAME, vipMatchProgram } from './bpf-program.js';

export function buildDataplaneOptions(config: LasConfig, txMode: TxMode, fanoutId: number): DataplaneOptions {
  return {
    interface: config.interface,
    egressInterface: config.egressInterface,
    workers: config.workers,
    cpus: config.cpus,
    txMode,
    flowCapacity: config.flowTable.capacity,
    flowIdleTimeoutMs: Math.round(config.flowTable.idleTimeout * 1000),
    ring: { ...config.ring, frameSize: config.ring.frameSize === 'auto' ? 0 : config.ring.frameSize },
    fanoutId,
    // Behind BGP the router routes each VIP to this dispatcher's own address: no ARP for the VIPs.
    gratuitousArp: config.gratuitousArp && config.ha.mode !== 'bgp',
    filter: socketFilter(config),
  };
}

/** The RX socket filter: only VIP traffic and ARP for the VIPs (not in ha.mode "bgp") reach the rings. */
export function socketFilter(config: LasConfig): DataplaneOptions['filter'] {
  return vipMatchProgram(config.services.map((s) => s.vip), ACCEPT_FRAME, 0, config.ha.mode !== 'bgp');
}
