// What a reload would change, computed before anything is touched: keys that need a restart (the
// reload is refused), and the services and servers added, removed or changed (for the log and the
// answer to `las reload`). Pure.
import type { LasConfig, ServiceConfig } from '../config/types.js';

export interface ReloadPlan {
  restartKeys: string[];       // non-empty: refused, the running config stays
  notApplied: string[];        // accepted, but these keep their running value until a restart
  settingsChanged: string[];   // top-level keys applied live (adminSocketMode, logLevel, ...)
  servicesAdded: string[];
  servicesRemoved: string[];
  servicesChanged: string[];
  serversAdded: string[];      // "service/address"
  serversRemoved: string[];
  serversChanged: string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Keys the running daemon cannot change: sockets, rings, threads and listeners are set up at start. */
const RESTART_KEYS = ['interface', 'egressInterface', 'workers', 'cpus', 'txMode', 'ingressDrop', 'ring', 'adminSocket', 'metrics'] as const;

/** Every key whose change makes a reload refused: what `las reload --help` and the docs list. */
export const RESTART_ONLY_KEYS: readonly string[] = [...RESTART_KEYS, 'flowTable.capacity', 'ha.mode', 'ha.bgp'];
/** Keys a reload accepts but keeps at their running value until a restart. */
export const KEPT_UNTIL_RESTART_KEYS: readonly string[] = ['flowTable.idleTimeout', 'flowTable.persistDirectory', 'ha.vrrp.startAs'];

/** Top-level keys a reload applies at once; without them a reload of only these would say "nothing changed". */
const LIVE_KEYS = ['adminSocketMode', 'adminSocketGroup', 'gratuitousArp', 'flowTimeouts', 'neighbourRefresh', 'drainOnRemove', 'drainTimeout', 'logLevel'] as const;

export function planReload(prev: LasConfig, next: LasConfig): ReloadPlan {
  const plan: ReloadPlan = {
    restartKeys: RESTART_KEYS.filter((k) => !same(prev[k], next[k])),
    notApplied: [],
    settingsChanged: LIVE_KEYS.filter((k) => !same(prev[k], next[k])),
    servicesAdded: [], servicesRemoved: [], servicesChanged: [],
    serversAdded: [], serversRemoved: [], serversChanged: [],
  };
  if (prev.flowTable.capacity !== next.flowTable.capacity) plan.restartKeys.push('flowTable.capacity');
  // The native idle sweep's bound is fixed at start; the per-state timeouts below it do change.
  if (prev.flowTable.idleTimeout !== next.flowTable.idleTimeout) plan.notApplied.push('flowTable.idleTimeout');
  // The flow files are opened at start; the next start uses the new directory.
  if (prev.flowTable.persistDirectory !== next.flowTable.persistDirectory) plan.notApplied.push('flowTable.persistDirectory');
  // The HA mode decides how the dataplane starts; startAs only matters at start; the gratuitous
  // ARP counts apply to the next change of role.
  if (prev.ha.mode !== next.ha.mode) plan.restartKeys.push('ha.mode');
  // The BGP speaker is started with its peers at start; which VIPs it announces follows every reload.
  if (!same(prev.ha.bgp, next.ha.bgp)) plan.restartKeys.push('ha.bgp');
  if (prev.ha.vrrp.startAs !== next.ha.vrrp.startAs) plan.notApplied.push('ha.vrrp.startAs');
  if (prev.ha.vrrp.garpMasterRepeat !== next.ha.vrrp.garpMasterRepeat || prev.ha.vrrp.garpMasterDelay !== next.ha.vrrp.garpMasterDelay) plan.settingsChanged.push('ha.vrrp');
  // Live: the next snapshot keeps previous tables for the new window.
  if (!same(prev.ha.secondChance, next.ha.secondChance)) plan.settingsChanged.push('ha.secondChance');
  // Every name pushed above is listed in RESTART_ONLY_KEYS / KEPT_UNTIL_RESTART_KEYS (a test checks).

  const byName = new Map(prev.services.map((s) => [s.name, s]));
  for (const service of next.services) {
    const before = byName.get(service.name);
    byName.delete(service.name);
    if (!before) {
      plan.servicesAdded.push(service.name);
      continue;
    }
    if (!same(serviceKeys(before), serviceKeys(service))) plan.servicesChanged.push(service.name);
    const old = new Map(before.servers.map((r) => [r.address, r]));
    for (const server of service.servers) {
      const was = old.get(server.address);
      old.delete(server.address);
      if (!was) plan.serversAdded.push(`${service.name}/${server.address}`);
      else if (!same(was, server)) plan.serversChanged.push(`${service.name}/${server.address}`);
    }
    for (const address of old.keys()) plan.serversRemoved.push(`${service.name}/${address}`);
  }
  plan.servicesRemoved.push(...byName.keys());
  return plan;
}

function serviceKeys(s: ServiceConfig): unknown {
  const { servers: _servers, ...rest } = s;
  return rest;
}

export function describeRestartKeys(keys: string[]): string {
  return `reload refused: ${keys.join(', ')} can only change with a restart (las run); the running config stays`;
}
