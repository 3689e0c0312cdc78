// The parsed config with every default filled in: what the daemon runs with.
import { dirname } from 'node:path';
import { DEFAULTS } from './defaults.js';
import { resolveVrrp } from './ha-vrrp.js';
import { resolveBgp } from './ha-bgp.js';
import { resolveSecondChance } from './ha-second-chance.js';
import type { ParsedConfig } from './shapes.js';
import type { FlowTimeouts, HealthCheckConfig, LasConfig, ServerConfig, ServiceConfig } from './types.js';

type ParsedHealthCheck = NonNullable<ParsedConfig['services'][number]['healthCheck']>;

/** A check with every default filled in; undefined when neither the service nor the server sets one. */
function resolveHealthCheck(parts: (ParsedHealthCheck | undefined)[], servicePort: number): HealthCheckConfig | undefined {
  const present = parts.filter((p): p is ParsedHealthCheck => p !== undefined);
  if (present.length === 0) return undefined;
  // Later parts override earlier ones key by key; undefined (absent) keys do not override.
  const merged: Partial<Record<keyof ParsedHealthCheck, unknown>> = {};
  for (const part of present) for (const [k, v] of Object.entries(part)) if (v !== undefined) merged[k as keyof ParsedHealthCheck] = v;
  const d = DEFAULTS.healthCheck;
  const m = merged as Partial<HealthCheckConfig>;
  return {
    type: m.type ?? d.type,
    port: m.port ?? servicePort,
    path: m.path ?? d.path,
    expectStatus: m.expectStatus ?? [d.expectStatus[0], d.expectStatus[1]],
    ...(m.command !== undefined ? { command: m.command } : {}),
    interval: m.interval ?? d.interval,
    timeout: m.timeout ?? d.timeout,
    rise: m.rise ?? d.rise,
    fall: m.fall ?? d.fall,
    flapWindow: m.flapWindow ?? d.flapWindow,
    flapThreshold: m.flapThreshold ?? d.flapThreshold,
  };
}

export function resolve(d: ParsedConfig): LasConfig {
  const services: ServiceConfig[] = d.services.map((s) => {
    const port = s.port ?? DEFAULTS.port;
    const healthCheck = resolveHealthCheck([s.healthCheck], port);
    return {
      name: s.name,
      vip: s.vip,
      port,
      protocol: s.protocol ?? DEFAULTS.protocol,
      flowKey: s.flowKey ?? DEFAULTS.flowKey,
      scheduler: s.scheduler ?? DEFAULTS.scheduler,
      maglevTableSize: s.maglevTableSize ?? DEFAULTS.maglevTableSize,
      onServerDown: s.onServerDown ?? DEFAULTS.onServerDown,
      ...(healthCheck ? { healthCheck } : {}),
      ...(s.sorryServer ? { sorryServer: { address: s.sorryServer.address, ...(s.sorryServer.mac !== undefined ? { mac: s.sorryServer.mac } : {}) } } : {}),
      servers: s.servers.map((v): ServerConfig => {
        const check = resolveHealthCheck([s.healthCheck, v.healthCheck], port);
        return {
          address: v.address,
          ...(v.mac !== undefined ? { mac: v.mac } : {}),
          weight: v.weight ?? DEFAULTS.weight,
          ...(check ? { healthCheck: check } : {}),
        };
      }),
    };
  });
  const t = DEFAULTS.flowTimeouts;
  const flowTimeouts: FlowTimeouts = {
    tcpEstablished: d.flowTimeouts?.tcpEstablished ?? t.tcpEstablished,
    tcpSynRecv: d.flowTimeouts?.tcpSynRecv ?? t.tcpSynRecv,
    tcpFinWait: d.flowTimeouts?.tcpFinWait ?? t.tcpFinWait,
    tcpClose: d.flowTimeouts?.tcpClose ?? t.tcpClose,
    tcpLastAck: d.flowTimeouts?.tcpLastAck ?? t.tcpLastAck,
    udp: d.flowTimeouts?.udp ?? t.udp,
  };
  return {
    interface: d.interface,
    egressInterface: d.egressInterface ?? d.interface,
    workers: d.workers ?? DEFAULTS.workers,
    cpus: d.cpus ?? [],
    txMode: d.txMode ?? DEFAULTS.txMode,
    ingressDrop: d.ingressDrop ?? DEFAULTS.ingressDrop,
    gratuitousArp: d.gratuitousArp ?? DEFAULTS.gratuitousArp,
    flowTable: {
      capacity: d.flowTable?.capacity ?? DEFAULTS.flowTable.capacity,
      // The native idle sweep is the hard upper bound; by default it never cuts a per-state timeout short.
      idleTimeout: d.flowTable?.idleTimeout ?? Math.max(...Object.values(flowTimeouts)),
      // Beside the admin socket (/run/las, tmpfs): the next start picks the flows up from there.
      persistDirectory: d.flowTable?.persistDirectory ?? dirname(d.adminSocket ?? DEFAULTS.adminSocket),
    },
    flowTimeouts,
    ring: {
      blockSize: d.ring?.blockSize ?? DEFAULTS.ring.blockSize,
      blockCount: d.ring?.blockCount ?? DEFAULTS.ring.blockCount,
      frameSize: d.ring?.frameSize ?? DEFAULTS.ring.frameSize,
      retireTimeoutMs: d.ring?.retireTimeoutMs ?? DEFAULTS.ring.retireTimeoutMs,
    },
    neighbourRefresh: d.neighbourRefresh ?? DEFAULTS.neighbourRefresh,
    adminSocket: d.adminSocket ?? DEFAULTS.adminSocket,
    // A group is given access: read-write for it unless the mode is set explicitly.
    adminSocketMode: d.adminSocketMode ?? (d.adminSocketGroup !== undefined ? '0660' : DEFAULTS.adminSocketMode),
    ...(d.adminSocketGroup !== undefined ? { adminSocketGroup: d.adminSocketGroup } : {}),
    metrics: { enabled: d.metrics?.enabled ?? true, listen: d.metrics?.listen ?? DEFAULTS.metricsListen },
    drainOnRemove: d.drainOnRemove ?? DEFAULTS.drainOnRemove,
    drainTimeout: d.drainTimeout ?? DEFAULTS.drainTimeout,
    logLevel: d.logLevel ?? DEFAULTS.logLevel,
    ha: {
      mode: d.ha?.mode ?? DEFAULTS.haMode, vrrp: resolveVrrp(d.ha?.vrrp), ...(d.ha?.bgp ? { bgp: resolveBgp(d.ha.bgp) } : {}),
      secondChance: resolveSecondChance(d.ha?.secondChance),
    },
    services,
  };
}

