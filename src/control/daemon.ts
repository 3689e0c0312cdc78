// `las run`: resolve the servers, keep the kernel off VIP traffic, start the native fast path, the
// health checks, flow aging, metrics and the admin socket, and undo all of it on the way out.
import { loadAddon, type Addon, type DataplaneStats, type NativeDataplane, type TxMode } from '../native/binding.js';
import type { LasConfig } from '../config/types.js';
import { parseMode } from '../config/schema.js';
import { createLogger, type Logger } from './logger.js';
import { installIngressDrop, type IngressDrop } from './ingress-drop.js';
import { ARP_WAIT_MS, ServerMacs } from './server-macs.js';
import { buildDataplaneOptions } from './native-snapshot.js';
import { chooseTxMode } from './tx-mode.js';
import { AdminStream, startAdminServer, type AdminServer } from './admin-server.js';
import { resolveAdminGroup } from './admin-group.js';
import { adminHandlers, type DaemonControl, type ServerAction } from './admin-verbs.js';
import { hasMac, ServerState } from './server-state.js';
import { checkDurationHistogram, HealthMonitor, type HealthChange } from './health/health-monitor.js';
import { FlowAging } from './aging/aging.js';
import { createMetricsRegistry, startMetricsServer, type MetricsServer } from './metrics.js';
import { activeFlowsOf, addConnections, buildStatus } from './status.js';
import { Reloader, type AcceptedConfig } from './reload.js';
import { NeighbourRefresh } from './neighbour-refresh.js';
import { NewFlowTargetWatch } from './new-flow-targets.js';
import { CounterWatch } from './counter-watch.js';
import { LinkWatch } from './link-watch.js';
import { SystemdNotifier } from './sd-notify.js';
import { describe, EXPLAIN_TIMEOUT_MS } from './explain.js';
import type { ExplainTuple } from '../native/binding.js';
import { RateSampler } from './status-history.js';
import { buildStatusDocument } from './status-document.js';
import { packageVersion } from './build-info.js';
import { flowFilePrefix, logFlowFiles } from './flow-files.js';
import { TRACE_POLL_MS, Tracer } from './tracer.js';
import { parseTraceArgs } from './trace-filter.js';
import { HaRole } from './ha-role.js';
import { BgpAnnouncer } from './ha/bgp-announcer.js';

export interface DaemonOptions {
  configPath: string;
  logLevel?: string;
  notifier?: SystemdNotifier;   // systemd readiness (Type=notify); absent: nothing is sent
}

const HOUSEKEEPING_MS = 1000;

class Daemon implements DaemonControl {
  private state: ServerState;
  private macs: ServerMacs;
  private dataplane?: NativeDataplane;
  private ingressDrop?: IngressDrop;
  private admin?: AdminServer;
  private metrics?: MetricsServer;
  private monitor?: HealthMonitor;
  private aging?: FlowAging;
  private readonly neighbours: NeighbourRefresh;
  private readonly newFlowTargets: NewFlowTargetWatch;
  private readonly reloader: Reloader;
  private notifiedReloads: Promise<unknown> = Promise.resolve();
  private housekeepingTimer?: NodeJS.Timeout;
  private txMode: TxMode = 'ring';
  private readonly startedAt = Date.now();
  private readonly idleBoundSeconds: number;        // the native idle sweep's bound, fixed at start
  private readonly checkDurations = checkDurationHistogram();
  private watch?: CounterWatch;
  private links?: LinkWatch;
  private tracer?: Tracer;
  private dropReasons: readonly string[] = [];
  private haRole?: HaRole;
  private announcer?: BgpAnnouncer;   // ha.mode "bgp"

  constructor(config: LasConfig, private readonly options: DaemonOptions, private readonly log: Logger) {
    this.state = ServerState.fromConfig(config);
    this.macs = new ServerMacs(config.egressInterface, log);
    this.idleBoundSeconds = config.flowTable.idleTimeout;
    this.neighbours = new NeighbourRefresh(this.macs, () => this.state.addressesNeedingMac(), () => this.publish(), log);
    this.newFlowTargets = new NewFlowTargetWatch(log);
    this.reloader = new Reloader(options.configPath, this.macs, {
      state: () => this.state,
      dataplane: () => this.dataplane,
      adopt: (accepted) => this.adopt(accepted),
    }, this.idleBoundSeconds, log);
  }

  private get config(): LasConfig {
    return this.state.config;
  }

  async start(): Promise<void> {
    const addon = loadAddon();
    const { config, log } = this;
    // Fail early, naming the interface, before anything is installed.
    for (const ifname of new Set([config.interface, config.egressInterface])) addon.interfaceMac(ifname);
    this.links = new LinkWatch(log, [...new Set([config.interface, config.egressInterface])]);
    this.watch = new CounterWatch(log, { name: config.egressInterface, mtu: addon.interfaceMtu(config.egressInterface) });
    await this.macs.resolve(this.state.addressesNeedingMac(), ARP_WAIT_MS);
    if (!this.state.list().some((svc) => svc.servers.some((r) => hasMac(r, this.macs.known)))) {
      log.warn({ interface: config.egressInterface }, 'no server of any service answered ARP: starting anyway; nothing is forwarded until one answers');
    }
    this.txMode = await chooseTxMode(config.txMode, config.egressInterface);
    const adminGid = await resolveAdminGroup(config.adminSocketGroup); // an unknown group fails here, early
    const flowFiles = await flowFilePrefix(config, log);
    const options = { ...buildDataplaneOptions(config, this.txMode, process.pid & 0xffff), ...(flowFiles ? { flowFilePrefix: flowFiles } : {}) };
    this.haRole = new HaRole(config.ha.mode, config.ha.vrrp, { setActive: (a) => this.dataplane?.setActive(a), announce: () => this.dataplane?.announce() }, log);
    options.standby = !this.haRole.active;
    this.dropReasons = addon.DROP_REASONS;
    // Finds the dataplane when a client asks: until it exists a trace is refused.
    this.tracer = new Tracer({ dataplane: () => this.dataplane, dropReasons: this.dropReasons, services: () => this.config.services, log });

    // The admin socket first: it refuses to start beside a live daemon before anything is touched.
    this.admin = await startAdminServer(config.adminSocket, adminHandlers(this), { mode: parseMode(config.adminSocketMode), gid: adminGid });
    try {
      // Next, before anything is installed: it locks the flow files (one daemon per file).
      this.dataplane = new addon.Dataplane(options, this.state.snapshot(this.macs.known));
      // `las role` may have come in while the admin socket was already up and the dataplane not yet.
      this.dataplane.setActive(this.haRole.active);
      if (config.metrics.enabled) {
        this.metrics = await startMetricsServer(config.metrics.listen, createMetricsRegistry({
          stats: () => this.dataplane?.stats(),
          status: () => this.serviceStatus(),
          flowCapacity: () => this.config.flowTable.capacity,
          aging: () => this.aging?.totals ?? { passes: 0, scanned: 0, expired: 0, refused: 0, sweeps: 0 },
          healthChecks: () => this.monitor?.counts() ?? [],
          reloads: () => this.reloader.counts,
          healthDurations: this.checkDurations,
          ...(config.ha.mode === 'vrrp' ? { haActive: () => this.haRole?.active } : {}),
          ...(config.ha.mode === 'bgp' ? { bgp: () => this.announcer?.status() } : {}),
        }), {}, (error) => log.error({ err: error }, 'the metrics listener thread failed: no metrics until a restart'), this.statusPage());
      }
      if (config.ingressDrop === 'tc') {
        this.ingressDrop = await installIngressDrop(config.interface, config.services.map((s) => s.vip));
        log.info({ interface: config.interface }, 'ingress drop installed: the kernel stack is kept off VIP traffic');
      } else {
        log.warn('ingressDrop is "none": the dispatcher kernel also sees VIP traffic');
      }
      logFlowFiles(log, this.dataplane.start());
      void this.haRole.started();
      this.dropCapabilities(addon);
      this.aging = new FlowAging(this.dataplane.id, config.flowTimeouts, this.idleBoundSeconds * 1000, log);
      this.aging.start();
      this.monitor = new HealthMonitor({ log, onChange: (change) => this.onHealthChange(change), durations: this.checkDurations });
      this.monitor.sync(this.state.healthTargets());
      if (config.ha.mode === 'bgp' && config.ha.bgp) {
        // Last: announced only once the fast path forwards. Its own failures are logged, never fatal.
        this.announcer = new BgpAnnouncer(config.ha.bgp, `${config.adminSocket}.bgp`, log);
        await this.announcer.start(this.state, this.macs.known);
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.neighbours.start(config.neighbourRefresh);
    this.housekeepingTimer = setInterval(() => this.housekeeping(), HOUSEKEEPING_MS);
    this.housekeepingTimer.unref();
    this.newFlowTargets.check(this.state, this.macs.known);
    log.info({
      interface: config.interface, egressInterface: config.egressInterface, workers: config.workers,
      txMode: this.txMode, services: config.services.length, adminSocket: config.adminSocket,
      metrics: this.metrics?.address ?? null, flowTimeouts: config.flowTimeouts, idleTimeout: this.idleBoundSeconds,
    }, 'ready');
  }

  /**
   * Every packet socket is open now and none is opened again (link down/up keeps them; a reload only
   * swaps filters and snapshots), so CAP_NET_RAW goes. CAP_NET_ADMIN stays for `tc` on a reload with
   * new VIPs and for removing the ingress drop at exit, unless there is no ingress drop.
   */
  private dropCapabilities(addon: Addon): void {
    const names: Array<'net_raw' | 'net_admin'> = this.config.ingressDrop === 'tc' ? ['net_raw'] : ['net_raw', 'net_admin'];
    try {
      const { threads, keptBy } = addon.dropCapabilities(names);
      // keptBy: Node's SIGUSR1 watchdog thread blocks every signal; it runs no JavaScript and starts nothing.
      this.log.info({ capabilities: names.map((n) => `CAP_${n.toUpperCase()}`), threads, keptBy }, 'capabilities dropped: no longer needed after start');
    } catch (error) {
      this.log.warn({ err: error, capabilities: names }, 'could not drop the capabilities LAS no longer needs; it keeps running with them');
    }
  }

  // ---------- admin verbs ----------

  stats(): unknown {
    const stats = this.dataplane?.stats();
    const names = (s: { vip: string; port: number; protocol: string }) =>
      this.config.services.find((c) => c.vip === s.vip && c.port === s.port && c.protocol === s.protocol)?.name;
    return {
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      atMs: Date.now(),
      txMode: this.txMode,
      workers: stats?.workers ?? [],
      services: (stats?.services ?? []).map((s) => ({ name: names(s) ?? null, ...s })),
    };
  }

  async status(): Promise<unknown> {
    return {
      interface: this.config.interface,
      egressInterface: this.config.egressInterface,
      txMode: this.txMode,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      flowTable: { capacity: this.config.flowTable.capacity, idleTimeout: this.idleBoundSeconds },
      flowTimeouts: this.config.flowTimeouts,
      services: addConnections(this.serviceStatus(), await this.aging?.connections(this.config.services)),
      trace: this.tracer?.status() ?? { active: false, clients: [] },
      ha: this.announcer?.status() ?? this.haRole?.view(),   // bgp: what is announced; vrrp/none: the role
    };
  }

  /** `las role`: keepalived's notify scripts set it; `las role show` reads it. */
  role(role: 'active' | 'standby' | undefined): unknown {
    if (!this.haRole) throw new Error('the daemon is not running the fast path yet');
    return role === undefined ? this.haRole.view() : this.haRole.set(role);
  }

  /** `las trace`: decisions matching the filter stream until the client goes away. */
  trace(raw: unknown): AdminStream {
    const tracer = this.tracer;
    if (!tracer) throw new Error('the daemon is not running the fast path yet');
    const filter = parseTraceArgs(raw, this.config.services, this.dropReasons);
    return new AdminStream({ filter: filter.text, workers: this.config.workers, pollMs: TRACE_POLL_MS }, (sink) => tracer.open(filter, sink));
  }

  async flows(service: string | undefined, limit: number): Promise<unknown> {
    if (service !== undefined && !this.state.service(service)) {
      throw new Error(`no service "${service}"; known: ${this.config.services.map((s) => s.name).join(', ')}`);
    }
    if (!this.aging) throw new Error('the daemon is not running the fast path yet');
    const listing = await this.aging.list(this.config.services, service, limit);
    return { limit, ...listing };
  }

  /** `las explain`: the I/O threads answer from their own shards (src/control/explain.ts). */
  async explain(tuples: ExplainTuple[]): Promise<unknown> {
    if (!this.dataplane) throw new Error('the daemon is not running the fast path yet');
    const services = this.state.list().map((s) => s.config); // the snapshot's services, in its order
    const answers = await this.dataplane.explain(tuples, EXPLAIN_TIMEOUT_MS);
    return { explanations: answers.map((a, i) => describe(tuples[i]!, a, services, 'daemon')) };
  }

  server(action: ServerAction, service: string, address: string, weight?: number): unknown {
    const server = this.state.setOverride(service, address,
      action === 'drain' ? { weight: 0, kind: 'drain' } : action === 'weight' ? { weight: weight ?? 0, kind: 'weight' } : undefined);
    this.publish();
    const effective = this.state.effectiveWeight(server);
    const where = { service, server: address, weight: effective, configWeight: server.configWeight };
    if (action === 'drain') this.log.info(where, 'server drained (runtime override until reload): no new flows, existing flows kept');
    else if (action === 'weight') this.log.info(where, 'server weight set (runtime override until reload)');
    else this.log.info(where, 'server enabled: back to its configured weight');
    return { service, address, weight: effective, configWeight: server.configWeight, override: server.override?.kind ?? null };
  }

  /** `las drain` / `las undrain`: the whole dispatcher's VIPs withdrawn from (or given back to) BGP. */
  async drainDispatcher(drained: boolean): Promise<unknown> {
    if (!this.announcer) throw new Error(`las drain withdraws BGP announcements; it needs "ha": { "mode": "bgp" } (this daemon runs ha.mode "${this.config.ha.mode}")`);
    return this.announcer.setDrained(drained, this.state, this.macs.known);
  }

  /**
   * Applies the config file again as a diff (reload.ts); an invalid one is refused and the running
   * one stays. Between RELOADING=1 and READY=1 for systemd, one reload at a time.
   */
  reload(): Promise<unknown> {
    const apply = async () => {
      const outcome = await this.reloader.reload();
      if (!outcome.ok) throw new Error(outcome.reason); // logged and counted by the reloader
      this.newFlowTargets.check(this.state, this.macs.known);
      await this.announcer?.update(this.state, this.macs.known);
      return outcome.answer;
    };
    const next = this.notifiedReloads.then(() => (this.options.notifier ? this.options.notifier.reloading(apply) : apply()));
    this.notifiedReloads = next.catch(() => undefined);
    return next;
  }

  // ---------- internals ----------

  private serviceStatus(stats = this.dataplane?.stats()) {
    return buildStatus(this.state, stats, (s, a) => this.monitor?.get(s, a), Date.now(), this.macs);
  }

  /** The live status page on the metrics listener: read-only views of the same state as `las status`/`las stats`. */
  private statusPage() {
    const sampler = new RateSampler();
    const version = packageVersion();
    return {
      document: () => {
        const atMs = Date.now(); // before the counters are read: the page's values are at least those of atMs
        const stats = this.dataplane?.stats();
        return buildStatusDocument({
          atMs, startedAtMs: this.startedAt, version, interface: this.config.interface, egressInterface: this.config.egressInterface,
          txMode: this.txMode, stats, services: this.serviceStatus(stats), checks: this.monitor?.history() ?? [],
        });
      },
      sample: () => {
        try {
          const stats = this.dataplane?.stats();
          return sampler.sample(Date.now(), stats, this.serviceStatus(stats));
        } catch (error) {
          this.log.warn({ err: error }, 'status page: reading counters failed; this sample is skipped');
          return undefined;
        }
      },
    };
  }

  /** A reload the fast path took: every other part follows the new config (nothing here refuses it). */
  private async adopt({ prev, next, state, adminGid, vipsChanged }: AcceptedConfig): Promise<void> {
    this.state = state;
    if (this.ingressDrop && vipsChanged) {
      // The kernel must stay off new VIPs and may see the traffic of removed ones again.
      try {
        this.ingressDrop = await installIngressDrop(next.interface, next.services.map((s) => s.vip));
      } catch (error) {
        this.log.warn({ err: error }, 'reload: the ingress drop keeps the old VIP list');
      }
    }
    this.aging?.setTimeouts(next.flowTimeouts);
    this.haRole?.adopt(next.ha.vrrp);
    this.monitor?.sync(state.healthTargets());
    this.log.level = this.options.logLevel ?? next.logLevel;
    if (prev.adminSocketGroup !== next.adminSocketGroup) {
      await this.admin?.setGroup(adminGid).catch((error: unknown) => this.log.warn({ err: error }, 'reload: the admin socket keeps its group'));
    }
    if (prev.adminSocketMode !== next.adminSocketMode) await this.admin?.setMode(parseMode(next.adminSocketMode));
    if (prev.neighbourRefresh !== next.neighbourRefresh) this.neighbours.setRefreshInterval(next.neighbourRefresh);
  }

  private publish(): void {
    this.dataplane?.setSnapshot(this.state.snapshot(this.macs.known));
    this.newFlowTargets.check(this.state, this.macs.known);
    void this.announcer?.update(this.state, this.macs.known);   // logs its own failures
  }

  private onHealthChange(change: HealthChange): void {
    if (!this.state.server(change.service, change.address)) return; // removed meanwhile
    if (this.state.setHealth(change.service, change.address, change.health)) this.publish();
  }

  private housekeeping(): void {
    let stats: DataplaneStats | undefined;
    try {
      stats = this.dataplane?.stats();
    } catch (error) {
      this.log.warn({ err: error }, 'reading counters failed');
      return;
    }
    const ended = this.state.endDrains((service, address) => {
      const svc = this.state.service(service);
      return svc ? activeFlowsOf(stats, svc, address) : 0;
    }, Date.now());
    for (const e of ended) {
      if (e.reason === 'drained') this.log.info({ service: e.service, server: e.address }, 'server drained: its last flow ended, it is gone');
      else this.log.warn({ service: e.service, server: e.address, activeFlows: e.activeFlows, drainTimeout: this.config.drainTimeout }, 'server drain timed out: its remaining flows are rescheduled');
    }
    if (ended.length > 0) this.publish();
    if (stats) this.watch?.check(stats);
    this.links?.check().catch((error: unknown) => this.log.warn({ err: error }, 'reading the link state failed'));
  }

  async stop(): Promise<void> {
    // Withdrawn first, while the fast path still forwards what the routers send until they converge.
    await this.announcer?.stop().catch((error: unknown) => this.log.warn({ err: error }, 'stopping the BGP speaker failed'));
    this.announcer = undefined;
    this.neighbours.stop();
    if (this.housekeepingTimer) clearInterval(this.housekeepingTimer);
    await this.monitor?.close().catch((error: unknown) => this.log.warn({ err: error }, 'stopping health checks failed'));
    this.monitor = undefined;
    await this.aging?.close().catch((error: unknown) => this.log.warn({ err: error }, 'stopping flow aging failed'));
    this.aging = undefined;
    this.tracer?.close();
    this.haRole?.close();
    this.dataplane?.stop();
    if (this.ingressDrop) await this.ingressDrop.remove();
    this.ingressDrop = undefined;
    await this.metrics?.close();
    this.metrics = undefined;
    await this.admin?.close();
    this.admin = undefined;
  }
}

export async function runDaemon(config: LasConfig, options: DaemonOptions): Promise<void> {
  const log = createLogger(options.logLevel ?? config.logLevel);
  const notifier = SystemdNotifier.fromEnv((path, message) => loadAddon().sdNotify(path, message), log);
  const daemon = new Daemon(config, { ...options, notifier }, log);
  await daemon.start();
  notifier.ready(`serving ${config.services.length} service(s) on ${config.interface}`);
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'stopping');
      notifier.stopping();
      const final = daemon.stats();
      daemon.stop().then(() => {
        log.info({ stats: JSON.parse(JSON.stringify(final, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))) }, 'stopped');
        resolve();
      }, (error) => {
        log.error({ err: error }, 'error while stopping');
        resolve();
      });
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading the config');
      daemon.reload().catch(() => undefined);  // reload() logged why
    });
  });
}
