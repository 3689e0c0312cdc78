// The resolved config turned into the plain struct the fast path takes.
import type { DataplaneOptions, NativeSnapshot, TxMode } from '../native/binding.js';
import type { LasConfig } from '../config/types.js';
import { ACCEPT_FRAME, vipMatchProgram } from './bpf-program.js';

export function buildSnapshot(config: LasConfig, macs: Map<string, string>): NativeSnapshot {
  return {
    services: config.services.map((service) => ({
      vip: service.vip,
      port: service.port,
      protocol: service.protocol,
      flowKey: service.flowKey,
      scheduler: service.scheduler,
      maglevTableSize: service.maglevTableSize,
      servers: service.servers.map((server) => {
        const mac = server.mac ?? macs.get(server.address);
        if (!mac) throw new Error(`no MAC known for server ${server.address} of service "${service.name}"`);
        return { address: server.address, mac: mac.toLowerCase(), weight: server.weight };
      }),
    })),
  };
}

export function buildDataplaneOptions(config: LasConfig, txMode: TxMode, fanoutId: number): DataplaneOptions {
  return {
    interface: config.interface,
    egressInterface: config.egressInterface,
    workers: config.workers,
    cpus: config.cpus,
    txMode,
    flowCapacity: config.flowTable.capacity,
    flowIdleTimeoutMs: Math.round(config.flowTable.idleTimeout * 1000),
    ring: config.ring,
    fanoutId,
    gratuitousArp: config.gratuitousArp,
    filter: vipMatchProgram(config.services.map((s) => s.vip), ACCEPT_FRAME, 0),
  };
}
