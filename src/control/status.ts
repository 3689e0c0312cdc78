// The answer to `las status`: services, their scheduler, and each server's weight, health and live
// flows, from the server state, the health monitor and the fast path's counters.
import type { DataplaneStats, ServiceCounters } from '../native/binding.js';
import type { HealthState } from './health/health-state.js';
import type { HealthView, ServerState, ServiceEntry } from './server-state.js';

export interface ServerStatus {
  address: string;
  role: 'real' | 'sorry';
  weight: number;              // effective: what the fast path uses
  configWeight: number;
  health: HealthView;           // what decides new flows: 'down' also while the server has not answered ARP
  checkHealth: HealthView;      // the health check's own view, whatever ARP says
  arp: 'configured' | 'resolved' | 'no answer';
  mac: string | null;
  downReason?: string;          // "no ARP answer for Ns: ..." while it has not answered
  flapping: boolean;
  lastCheck?: string;          // the last check's outcome
  override?: 'drain' | 'weight';
  removed?: { drainEndsInSeconds: number }; // removed from the config, draining
  activeFlows: number;
  packets: string;
  bytes: string;
  newFlows: string;
}

export interface ServiceStatus {
  name: string;
  vip: string;
  port: number;
  protocol: string;
  scheduler: string;
  maglevTableSize: number;
  flowKey: string;
  onServerDown: string;
  healthCheck: string | null;  // "http :80/ every 2s rise 2 fall 3"
  newFlows: 'servers' | 'sorry server' | 'dropped';
  noServer: string;            // new flows dropped for want of a server
  servers: ServerStatus[];
}

function findServiceCounters(stats: DataplaneStats | undefined, s: { vip: string; port: number; protocol: string }): ServiceCounters | undefined {
  return stats?.services.find((c) => c.vip === s.vip && c.port === s.port && c.protocol === s.protocol);
}

export function activeFlowsOf(stats: DataplaneStats | undefined, service: ServiceEntry, address: string): number | undefined {
  const counters = findServiceCounters(stats, service.config)?.servers.find((r) => r.address === address);
  return counters ? Number(counters.activeFlows) : undefined;
}

/** What the status knows of server MACs: the resolved ones, and since when a silent one has not answered. */
export interface MacView {
  known: ReadonlyMap<string, string>;
  silentSince(address: string): number | undefined;
}

export function buildStatus(
  state: ServerState, stats: DataplaneStats | undefined, healthOf: (service: string, address: string) => HealthState | undefined, nowMs: number,
  macs: MacView,
): ServiceStatus[] {
  const arpOf = (r: { address: string; mac?: string }) => {
    const mac = r.mac?.toLowerCase() ?? macs.known.get(r.address) ?? null;
    const arp: ServerStatus['arp'] = r.mac !== undefined ? 'configured' : mac ? 'resolved' : 'no answer';
    const since = macs.silentSince(r.address);
    const downReason = arp === 'no answer'
      ? `no ARP answer${since !== undefined ? ` for ${Math.max(0, Math.round((nowMs - since) / 1000))}s` : ''}: no new flows until it answers` : undefined;
    return { mac, arp, ...(downReason ? { downReason } : {}) };
  };
  return state.list().map((svc) => {
    const s = svc.config;
    const counters = findServiceCounters(stats, s);
    const countersOf = (address: string) => counters?.servers.find((r) => r.address === address);
    const servers: ServerStatus[] = svc.servers.map((r) => {
      const c = countersOf(r.address);
      const h = healthOf(s.name, r.address);
      const arp = arpOf(r);
      const health = arp.arp === 'no answer' ? 'down' : state.healthOf(s.name, r);
      return {
        address: r.address,
        role: 'real',
        weight: state.effectiveWeight(r),
        configWeight: r.configWeight,
        health,
        checkHealth: state.healthOf(s.name, r),
        ...arp,
        flapping: h?.flapping ?? false,
        ...(h?.lastMessage !== undefined ? { lastCheck: h.lastMessage } : {}),
        ...(r.override ? { override: r.override.kind } : {}),
        ...(r.removed ? { removed: { drainEndsInSeconds: Math.max(0, Math.ceil((r.removed.deadlineMs - nowMs) / 1000)) } } : {}),
        activeFlows: Number(c?.activeFlows ?? 0n),
        packets: String(c?.packets ?? 0n),
        bytes: String(c?.bytes ?? 0n),
        newFlows: String(c?.newFlows ?? 0n),
      };
    });
    if (s.sorryServer) {
      const c = countersOf(s.sorryServer.address);
      const arp = arpOf(s.sorryServer);
      servers.push({
        address: s.sorryServer.address, role: 'sorry', weight: 1, configWeight: 1, health: arp.arp === 'no answer' ? 'down' : 'unchecked', checkHealth: 'unchecked', ...arp, flapping: false,
        activeFlows: Number(c?.activeFlows ?? 0n), packets: String(c?.packets ?? 0n), bytes: String(c?.bytes ?? 0n), newFlows: String(c?.newFlows ?? 0n),
      });
    }
    const hc = s.healthCheck;
    return {
      name: s.name,
      vip: s.vip,
      port: s.port,
      protocol: s.protocol,
      scheduler: s.scheduler,
      maglevTableSize: s.maglevTableSize,
      flowKey: s.flowKey,
      onServerDown: s.onServerDown,
      healthCheck: hc ? `${hc.type}${hc.type === 'command' ? '' : ` :${hc.port}${hc.type === 'http' ? hc.path : ''}`} every ${hc.interval}s rise ${hc.rise} fall ${hc.fall}` : null,
      newFlows: state.hasServerForNewFlows(svc, macs.known) ? 'servers' : state.sorryReady(svc, macs.known) ? 'sorry server' : 'dropped',
      noServer: String(counters?.noServer ?? 0n),
      servers,
    };
  });
}
