// The control plane's view of every real server: its configured weight, runtime overrides
// (`las server drain|enable|weight`), health, and whether it is draining after being removed from
// the config. The native snapshot is always built from here, so every cause of a change (health,
// override, reload, drain finished) goes through one function. Instances are replaced, not
// mutated, on reload: a reload that fails half-way leaves the running state untouched.
import type { NativeService, NativeSnapshot } from '../native/binding.js';
import type { HealthCheckConfig, LasConfig, ServiceConfig } from '../config/types.js';

export type Health = 'up' | 'down';
export type HealthView = Health | 'unchecked';

export interface Override {
  weight: number;
  kind: 'drain' | 'weight';
}

export interface ServerEntry {
  address: string;
  mac?: string;                 // from the config; else resolved from the neighbour table
  configWeight: number;
  healthCheck?: HealthCheckConfig;
  override?: Override;          // runtime, until the next reload
  removed?: { sinceMs: number; deadlineMs: number }; // removed from the config, draining
}

export interface ServiceEntry {
  config: ServiceConfig;
  servers: ServerEntry[];       // configured servers first, then removed ones still draining
}

export interface ServerRef { service: string; address: string }

export interface DrainEnd extends ServerRef {
  reason: 'drained' | 'timeout';
  activeFlows: number;
}

/** Placeholder for a server that has not answered ARP; it is published down, so nothing is sent to it. */
const UNRESOLVED_MAC = '00:00:00:00:00:00';
export const hasMac = (r: { address: string; mac?: string }, macs?: ReadonlyMap<string, string>) => r.mac !== undefined || !macs || macs.has(r.address);

const key = (service: string, address: string) => `${service}\u0000${address}`;
const sameEndpoint = (a: ServiceConfig, b: ServiceConfig) => a.vip === b.vip && a.port === b.port && a.protocol === b.protocol;

function entriesOf(service: ServiceConfig): ServerEntry[] {
  return service.servers.map((r) => ({
    address: r.address,
    ...(r.mac !== undefined ? { mac: r.mac } : {}),
    configWeight: r.weight,
    ...(r.healthCheck ? { healthCheck: r.healthCheck } : {}),
  }));
}

export class ServerState {
  private constructor(
    readonly config: LasConfig,
    private readonly services: ServiceEntry[],
    private readonly health: Map<string, Health>, // only servers with a check; absent = up
  ) {}

  static fromConfig(config: LasConfig): ServerState {
    return new ServerState(config, config.services.map((s) => ({ config: s, servers: entriesOf(s) })), new Map());
  }

  list(): readonly ServiceEntry[] {
    return this.services;
  }

  service(name: string): ServiceEntry | undefined {
    return this.services.find((s) => s.config.name === name);
  }

  server(service: string, address: string): ServerEntry | undefined {
    return this.service(service)?.servers.find((r) => r.address === address);
  }

  effectiveWeight(server: ServerEntry): number {
    if (server.removed) return 0;
    return server.override ? server.override.weight : server.configWeight;
  }

  healthOf(service: string, server: ServerEntry): HealthView {
    if (!server.healthCheck && !this.health.has(key(service, server.address))) return 'unchecked';
    return this.health.get(key(service, server.address)) ?? 'up';
  }

  isUp(service: string, address: string): boolean {
    return this.health.get(key(service, address)) !== 'down';
  }

  /** Records a health result; true if it changed what the fast path must know. */
  setHealth(service: string, address: string, health: Health): boolean {
    const k = key(service, address);
    const before = this.health.get(k) ?? 'up';
    this.health.set(k, health);
    return before !== health;
  }

  /** A runtime weight (drain = 0) or, with undefined, back to the configured weight. */
  setOverride(service: string, address: string, override: Override | undefined): ServerEntry {
    const svc = this.service(service);
    if (!svc) throw new Error(`no service "${service}"; known: ${this.services.map((s) => s.config.name).join(', ')}`);
    const server = svc.servers.find((r) => r.address === address);
    if (!server) throw new Error(`service "${service}" has no server ${address}; its servers: ${svc.servers.map((r) => r.address).join(', ')}`);
    if (server.removed) throw new Error(`server ${address} was removed from the config and is draining; it leaves when its flows end`);
    if (override) server.override = override;
    else delete server.override;
    return server;
  }

  /**
   * True when some server can take a new flow: weighted, healthy and with a MAC (configured, or
   * resolved: in `macs`). Without `macs`, every MAC counts as known.
   */
  hasServerForNewFlows(service: ServiceEntry, macs?: ReadonlyMap<string, string>): boolean {
    return service.servers.some((r) => this.effectiveWeight(r) > 0 && this.isUp(service.config.name, r.address) && hasMac(r, macs));
  }

  /** The sorry server, if configured and its MAC is known. */
  sorryReady(service: ServiceEntry, macs?: ReadonlyMap<string, string>): boolean {
    const sorry = service.config.sorryServer;
    return sorry !== undefined && hasMac(sorry, macs);
  }

  /**
   * The state for a new config. Servers keep their health when their service (same name and
   * endpoint) and address stay; overrides end. A server missing from the new config drains with
   * weight 0 until its flows end or drainTimeout passes, unless drainOnRemove is false.
   */
  withConfig(next: LasConfig, nowMs: number): { state: ServerState; draining: ServerRef[]; dropped: ServerRef[] } {
    const draining: ServerRef[] = [];
    const dropped: ServerRef[] = [];
    const health = new Map<string, Health>();
    const services = next.services.map((config): ServiceEntry => {
      const servers = entriesOf(config);
      const before = this.service(config.name);
      if (before && sameEndpoint(before.config, config)) {
        for (const server of servers) {
          const h = this.health.get(key(config.name, server.address));
          if (h && server.healthCheck) health.set(key(config.name, server.address), h);
        }
        for (const old of before.servers) {
          if (servers.some((r) => r.address === old.address)) continue;
          const ref = { service: config.name, address: old.address };
          if (!next.drainOnRemove) {
            dropped.push(ref);
            continue;
          }
          const { override: _override, ...rest } = old;
          servers.push({ ...rest, removed: old.removed ?? { sinceMs: nowMs, deadlineMs: nowMs + next.drainTimeout * 1000 } });
          if (!old.removed) draining.push(ref);
          const h = this.health.get(key(config.name, old.address));
          if (h) health.set(key(config.name, old.address), h);
        }
      }
      return { config, servers };
    });
    return { state: new ServerState(next, services, health), draining, dropped };
  }

  /** Ends the drains whose flows are gone or whose time is up; returns what ended (the caller republishes). */
  endDrains(activeFlows: (service: string, address: string) => number | undefined, nowMs: number): DrainEnd[] {
    const ended: DrainEnd[] = [];
    for (const svc of this.services) {
      svc.servers = svc.servers.filter((r) => {
        if (!r.removed) return true;
        const active = activeFlows(svc.config.name, r.address);
        if (active === 0) ended.push({ service: svc.config.name, address: r.address, reason: 'drained', activeFlows: 0 });
        else if (nowMs >= r.removed.deadlineMs) ended.push({ service: svc.config.name, address: r.address, reason: 'timeout', activeFlows: active ?? 0 });
        else return true;
        this.health.delete(key(svc.config.name, r.address));
        return false;
      });
    }
    return ended;
  }

  /** Every server with a check, except removed ones (their state is frozen while they drain). */
  healthTargets(): { service: string; vip: string; address: string; check: HealthCheckConfig }[] {
    return this.services.flatMap((s) =>
      s.servers.filter((r) => r.healthCheck && !r.removed).map((r) => ({ service: s.config.name, vip: s.config.vip, address: r.address, check: r.healthCheck! })));
  }

  /** Addresses whose MAC must come from the neighbour table. */
  addressesNeedingMac(): string[] {
    const out = new Set<string>();
    for (const s of this.services) {
      for (const r of s.servers) if (!r.mac) out.add(r.address);
      if (s.config.sorryServer && !s.config.sorryServer.mac) out.add(s.config.sorryServer.address);
    }
    return [...out];
  }

  /**
   * The fast path's view. A server whose MAC is not known yet (no ARP answer) is published down,
   * with a placeholder MAC no frame is ever sent to; a sorry server without a MAC is left out, so
   * new flows are dropped and counted as no_server until it answers.
   */
  snapshot(macs: ReadonlyMap<string, string>): NativeSnapshot {
    const macOf = (r: { address: string; mac?: string }) => (r.mac ?? macs.get(r.address) ?? UNRESOLVED_MAC).toLowerCase();
    return {
      secondChanceMs: this.config.ha.secondChance.window * 1000,
      services: this.services.map(({ config: s, servers }): NativeService => ({
        vip: s.vip,
        port: s.port,
        protocol: s.protocol,
        flowKey: s.flowKey,
        scheduler: s.scheduler,
        maglevTableSize: s.maglevTableSize,
        onServerDown: s.onServerDown,
        ...(s.sorryServer && hasMac(s.sorryServer, macs) ? { sorryServer: { address: s.sorryServer.address, mac: macOf(s.sorryServer), weight: 1 } } : {}),
        servers: servers.map((r) => ({
          address: r.address,
          mac: macOf(r),
          weight: this.effectiveWeight(r),
          up: this.isUp(s.name, r.address) && hasMac(r, macs),
        })),
      })),
    };
  }
}
