// What /status.json says now (the history comes from status-history.ts): every service and server
// as `las status` shows them, the service totals as `las stats` shows them, each checked server's
// last checks, drops by reason and the workers' main counters. Counters are decimal strings, as in
// `las stats --json`, so that none loses precision in the browser.
import type { DataplaneStats } from '../native/binding.js';
import type { CheckRecord } from './health/health-monitor.js';
import type { ServerStatus, ServiceStatus } from './status.js';

export interface StatusInput {
  atMs: number;                 // taken before the counters were read
  startedAtMs: number;
  version: string;
  interface: string;
  egressInterface: string;
  txMode: string;
  stats: DataplaneStats | undefined;
  services: ServiceStatus[];
  checks: { service: string; address: string; checks: readonly CheckRecord[] }[];
}

export interface StatusDocument {
  atMs: number;
  startedAtMs: number;          // another value: the daemon restarted, and its history with it
  uptimeSeconds: number;
  version: string;
  interface: string;
  egressInterface: string;
  txMode: string;
  services: (ServiceStatus & { packets: string; bytes: string; newFlowsTotal: string; servers: (ServerStatus & { checks: readonly CheckRecord[] })[] })[];
  drops: Record<string, string>;
  workers: { rxPackets: string; txPackets: string; txErrors: string; ringDrops: string; flowsActive: string }[];
}

export function buildStatusDocument(input: StatusInput): StatusDocument {
  const { stats } = input;
  const checksOf = (service: string, address: string) => input.checks.find((c) => c.service === service && c.address === address)?.checks ?? [];
  const drops: Record<string, bigint> = {};
  for (const w of stats?.workers ?? []) for (const [reason, n] of Object.entries(w.drops)) drops[reason] = (drops[reason] ?? 0n) + n;
  return {
    atMs: input.atMs,
    startedAtMs: input.startedAtMs,
    uptimeSeconds: Math.round((input.atMs - input.startedAtMs) / 1000),
    version: input.version,
    interface: input.interface,
    egressInterface: input.egressInterface,
    txMode: input.txMode,
    services: input.services.map((s) => {
      const c = stats?.services.find((x) => x.vip === s.vip && x.port === s.port && x.protocol === s.protocol);
      return {
        ...s,
        packets: String(c?.packets ?? 0n),
        bytes: String(c?.bytes ?? 0n),
        newFlowsTotal: String(c?.newFlows ?? 0n),
        servers: s.servers.map((r) => ({ ...r, checks: r.role === 'real' ? checksOf(s.name, r.address) : [] })),
      };
    }),
    drops: Object.fromEntries(Object.entries(drops).map(([k, v]) => [k, String(v)])),
    workers: (stats?.workers ?? []).map((w) => ({
      rxPackets: String(w.rxPackets), txPackets: String(w.txPackets), txErrors: String(w.txErrors),
      ringDrops: String(w.ringDrops), flowsActive: String(w.flowsActive),
    })),
  };
}
