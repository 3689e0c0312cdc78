// Ring sizes against the interfaces of this machine, where they exist: the same limits the daemon
// enforces when it opens its rings (native/io/packet_socket.cc), so `las check` on the dispatcher
// refuses what `las run` would.
import { readFileSync } from 'node:fs';
import type { ConfigError } from './schema.js';
import type { LasConfig } from './types.js';

export type RingNeeds = (mtu: number) => { blockSize: number; frameSize: number };

/** The MTU of an interface in this network namespace; undefined when there is no such interface. */
export function localMtu(ifname: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/net/${ifname}/mtu`, 'utf8').trim());
  } catch {
    return undefined;
  }
}

export function checkRingSizes(config: LasConfig, needs: RingNeeds, mtuOf: (ifname: string) => number | undefined = localMtu): ConfigError[] {
  const errors: ConfigError[] = [];
  const ingressMtu = mtuOf(config.interface);
  if (ingressMtu !== undefined) {
    const need = needs(ingressMtu).blockSize;
    if (config.ring.blockSize < need) {
      errors.push({ path: 'ring.blockSize', message: `${config.ring.blockSize} cannot hold the largest frame "${config.interface}" can deliver (MTU ${ingressMtu}, or a 64 KiB GRO/TSO super-frame); use at least ${need}` });
    }
  }
  const egressMtu = mtuOf(config.egressInterface);
  if (egressMtu !== undefined && config.ring.frameSize !== 'auto') {
    const need = needs(egressMtu).frameSize;
    if (config.ring.frameSize < need) {
      errors.push({ path: 'ring.frameSize', message: `${config.ring.frameSize} cannot hold a full frame for "${config.egressInterface}" (MTU ${egressMtu}); use at least ${need}, or leave it out to size the TX ring from the MTU` });
    }
  }
  return errors;
}
