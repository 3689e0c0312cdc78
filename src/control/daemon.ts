// `las run`: resolve the servers, keep the kernel off VIP traffic, start the native fast path, serve
// the admin socket, and undo all of it on the way out.
import { loadAddon, type NativeDataplane, type TxMode } from '../native/binding.js';
import type { LasConfig } from '../config/types.js';
import { loadConfigFile, formatConfigErrors } from '../config/load.js';
import { createLogger, type Logger } from './logger.js';
import { installIngressDrop, type IngressDrop } from './ingress-drop.js';
import { readNeighbours, refreshNeighbours, resolveMacs } from './neighbours.js';
import { buildDataplaneOptions, buildSnapshot } from './native-snapshot.js';
import { chooseTxMode } from './tx-mode.js';
import { startAdminServer, type AdminServer } from './admin-server.js';

export interface DaemonOptions {
  configPath: string;
  logLevel?: string;
}

function serversNeedingResolution(config: LasConfig): string[] {
  const addresses = config.services.flatMap((s) => s.servers.filter((r) => !r.mac).map((r) => r.address));
  return [...new Set(addresses)];
}

class Daemon {
  private config: LasConfig;
  private macs = new Map<string, string>();
  private dataplane?: NativeDataplane;
  private ingressDrop?: IngressDrop;
  private admin?: AdminServer;
  private refreshTimer?: NodeJS.Timeout;
  private txMode: TxMode = 'ring';
  private startedAt = Date.now();

  constructor(config: LasConfig, private readonly options: DaemonOptions, private readonly log: Logger) {
    this.config = config;
  }

  async start(): Promise<void> {
    const addon = loadAddon();
    const { config, log } = this;
    // Fail early, naming the interface, before anything is installed.
    for (const ifname of new Set([config.interface, config.egressInterface])) addon.interfaceMac(ifname);
    this.macs = await resolveMacs(config.egressInterface, serversNeedingResolution(config));
    this.txMode = await chooseTxMode(config.txMode, config.egressInterface);
    const snapshot = buildSnapshot(config, this.macs);
    const options = buildDataplaneOptions(config, this.txMode, process.pid & 0xffff);
    this.dataplane = new addon.Dataplane(options, snapshot);

    // The admin socket first: it refuses to start beside a live daemon before anything is touched.
    this.admin = await startAdminServer(config.adminSocket, {
      stats: () => this.stats(),
      status: () => this.status(),
      reload: () => this.reload(),
    });
    try {
      if (config.ingressDrop === 'tc') {
        this.ingressDrop = await installIngressDrop(config.interface, config.services.map((s) => s.vip));
        log.info({ interface: config.interface }, 'ingress drop installed: the kernel stack is kept off VIP traffic');
      } else {
        log.warn('ingressDrop is "none": the dispatcher kernel also sees VIP traffic');
      }
      this.dataplane.start();
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.refreshTimer = setInterval(() => void this.refreshMacs(), config.neighbourRefresh * 1000);
    this.refreshTimer.unref();
    log.info({
      interface: config.interface, egressInterface: config.egressInterface, workers: config.workers,
      txMode: this.txMode, services: config.services.length, adminSocket: config.adminSocket,
    }, 'ready');
  }

  stats(): unknown {
    return { uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000), txMode: this.txMode, ...this.dataplane?.stats() };
  }

  status(): unknown {
    return {
      interface: this.config.interface,
      egressInterface: this.config.egressInterface,
      txMode: this.txMode,
      services: buildSnapshot(this.config, this.macs).services.map((s, i) => ({ name: this.config.services[i]?.name, ...s })),
    };
  }

  /** Applies the config file again; an invalid one is refused and the running one stays. */
  async reload(): Promise<unknown> {
    const result = await loadConfigFile(this.options.configPath);
    if (!result.ok) {
      const message = formatConfigErrors(this.options.configPath, result.errors);
      this.log.error({ errors: result.errors }, 'reload refused: invalid config, the running one stays');
      throw new Error(message);
    }
    const next = result.config;
    const fixed = ['interface', 'egressInterface', 'workers', 'txMode', 'ingressDrop', 'adminSocket'] as const;
    const changed = fixed.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(this.config[k]));
    const sameRing = JSON.stringify(next.ring) === JSON.stringify(this.config.ring) &&
      JSON.stringify(next.flowTable) === JSON.stringify(this.config.flowTable) && JSON.stringify(next.cpus) === JSON.stringify(this.config.cpus);
    if (changed.length > 0 || !sameRing) {
      const keys = [...changed, ...(sameRing ? [] : ['ring/flowTable/cpus'])];
      this.log.error({ keys }, 'reload refused: these keys need a restart');
      throw new Error(`reload refused: ${keys.join(', ')} can only change with a restart; the running config stays`);
    }
    const macs = new Map(this.macs);
    for (const [address, mac] of await resolveMacs(next.egressInterface, serversNeedingResolution(next).filter((a) => !macs.has(a)))) {
      macs.set(address, mac);
    }
    const snapshot = buildSnapshot(next, macs);
    const vipsChanged = JSON.stringify(next.services.map((s) => s.vip).sort()) !== JSON.stringify(this.config.services.map((s) => s.vip).sort());
    if (vipsChanged && this.ingressDrop) await installIngressDrop(next.interface, next.services.map((s) => s.vip));
    this.dataplane?.setSnapshot(snapshot);
    this.config = next;
    this.macs = macs;
    this.log.info({ services: next.services.length }, 'reloaded');
    return { reloaded: true };
  }

  private async refreshMacs(): Promise<void> {
    const addresses = serversNeedingResolution(this.config);
    if (addresses.length === 0) return;
    try {
      await refreshNeighbours(addresses);
      const current = await readNeighbours(this.config.egressInterface);
      const changed = addresses.filter((a) => current.has(a) && current.get(a) !== this.macs.get(a));
      if (changed.length === 0) return;
      for (const a of changed) {
        this.log.info({ server: a, from: this.macs.get(a), to: current.get(a) }, 'server MAC changed');
        this.macs.set(a, current.get(a) as string);
      }
      this.dataplane?.setSnapshot(buildSnapshot(this.config, this.macs));
    } catch (error) {
      this.log.warn({ err: error }, 'neighbour refresh failed');
    }
  }

  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.dataplane?.stop();
    if (this.ingressDrop) await this.ingressDrop.remove();
    this.ingressDrop = undefined;
    await this.admin?.close();
    this.admin = undefined;
  }
}

export async function runDaemon(config: LasConfig, options: DaemonOptions): Promise<void> {
  const log = createLogger(options.logLevel ?? config.logLevel);
  const daemon = new Daemon(config, options, log);
  await daemon.start();
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'stopping');
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
      daemon.reload().catch(() => undefined);  // reload() logged why
    });
  });
}
