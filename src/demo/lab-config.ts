// The daemon config for a DR segment, shared by the demo and the integration tests.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FlowKey, Protocol, Scheduler } from '../native/binding.js';
import type { DrSegment } from '../netns/lvs-dr.js';
import { isRoutedDr } from '../netns/routed-dr.js';

export interface LabServer { address: string; weight?: number; mac?: string }

export interface LabServiceOptions {
  name?: string;            // default "web"
  port?: number;            // default 80; 0 = every port (the key is left out)
  protocol?: Protocol;
  flowKey?: FlowKey;
  scheduler?: Scheduler;
  maglevTableSize?: number;
  weights?: number[];       // per segment server, in order s1, s2, ...
  servers?: LabServer[];    // replaces the segment's servers entirely
  ipv6?: boolean;           // the dual-stack segment's v6 VIP and the servers' v6 addresses
}

/** JSON config as written to the file (the daemon's schema fills in every default). */
export type LabConfig = Record<string, unknown> & { services: Array<Record<string, unknown>> };

/** One `services` entry: the VIP, the port (or every port), the servers (the segment's, by default). */
function labService(segment: DrSegment, service: LabServiceOptions = {}): Record<string, unknown> {
  const servers: LabServer[] = service.servers ?? segment.servers.map((server, i) => {
    const weight = service.weights?.[i];
    const address = service.ipv6 ? server.address6 : server.address;
    if (address === undefined) throw new Error('an ipv6 lab service needs a dual-stack segment (createDrSegment({ ipv6: true }))');
    return weight === undefined ? { address } : { address, weight };
  });
  const vip = service.ipv6 ? segment.vip6 : segment.vip;
  if (vip === undefined) throw new Error('an ipv6 lab service needs a dual-stack segment (createDrSegment({ ipv6: true }))');
  const entry: Record<string, unknown> = { name: service.name ?? (service.ipv6 ? 'web6' : 'web'), vip };
  const port = service.port ?? 80;
  if (port !== 0) entry.port = port;
  if (service.protocol) entry.protocol = service.protocol;
  if (service.flowKey) entry.flowKey = service.flowKey;
  if (service.scheduler) entry.scheduler = service.scheduler;
  if (service.maglevTableSize) entry.maglevTableSize = service.maglevTableSize;
  entry.servers = servers;
  return entry;
}

/**
 * Interface = the dispatcher's veth; servers listed without MACs so the daemon resolves them,
 * as it would in a deployment. `service` may list several services (each needs its own name);
 * `extra` sets other top-level keys (workers, txMode, logLevel...).
 */
export function labConfig(
  segment: DrSegment, adminSocket: string, service: LabServiceOptions | LabServiceOptions[] = {}, extra: Record<string, unknown> = {},
): LabConfig {
  const services = (Array.isArray(service) ? service : [service]).map((one) => labService(segment, one));
  // Routed layout (routed-dr.ts): VIP traffic arrives on the dispatcher's client-side NIC and
  // leaves for the servers from its server-side one; the one-segment layout uses one NIC for both.
  const nics = isRoutedDr(segment)
    ? { interface: segment.dispatcher.ifname, egressInterface: segment.dispatcherEgress.ifname }
    : { interface: segment.dispatcher.ifname };
  return { ...nics, adminSocket, ...extra, services };
}

export async function writeLabConfig(dir: string, config: LabConfig, fileName = 'las.json'): Promise<string> {
  const path = join(dir, fileName);
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}
