// The answer to `las status`: services, their scheduler, and each server's weight, health and live
// flows, from the server state, the health monitor and the fast path's counters.
import type { DataplaneStats, ServiceCounters } from '../native/binding.js';
import type { ConnectionCount } from './aging/connections.js';
import type { HealthState } from './health/health-state.js';
import type { HealthView, ServerState, ServiceEntry } from './server-state.js';

/** What an operator asks first about a server; every server is in exactly one. */
export const SERVER_STATES = ['up', 'down', 'drained', 'not_checked'] as const;
export type ServerStateName = typeof SERVER_STATES[number];

/**
 * drained: weight 0 (drained at run time, removed from the config and draining, or weighted 0): taken
 * out on purpose, whatever its checks say, so a "server down" alert does not fire for it.
 * down: failed checks, or no ARP answer. not_checked: no health check (and it answers ARP).
 */
export function serverState(r: Pick<ServerStatus, 'role' | 'weight' | 'health'>): ServerStateName {
  if (r.role === 'real' && r.weight === 0) return 'drained';
  if (r.health === 'down') return 'down';
  return r.health === 'unchecked' ? 'not_checked' : 'up';
}

export interface ServerStatus {
  address: string;
  role: 'real' | 'sorry';
  state?: ServerStateName;     // serverState() of this row
  activeConn?: number;         // connections.ts: filled for `las status`, not for the metrics
  inactConn?: number;
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
      ? `no ${r.address.includes(':') ? 'NDP' : 'ARP'} answer${since !== undefined ? ` for ${Math.max(0, Math.round((nowMs - since) / 1000))}s` : ''}: no new flows until it answers` : undefined;
    return { mac, arp, ...(downReason ? { downReason } : {}) };
  };
  const withState = (r: ServerStatus): ServerStatus => ({ ...r, state: serverState(r) });
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
      servers: servers.map(withState),
    };
  });
}

/**
 * Adds ActiveConn / InActConn (aging/connections.ts) to every server row; a server without flows
 * gets 0. Without counts (no fast path yet) the rows stay as they are.
 */
export function addConnections(services: ServiceStatus[], counts: readonly ConnectionCount[] | undefined): ServiceStatus[] {
  if (!counts) return services;
  const of = (service: string, server: string) => counts.find((c) => c.service === service && c.server === server);
  return services.map((s) => ({
    ...s,
    servers: s.servers.map((r) => {
      const c = of(s.name, r.address);
      return { ...r, activeConn: c?.active ?? 0, inactConn: c?.inactive ?? 0 };
    }),
  }));
}
