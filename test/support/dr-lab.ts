// Integration-test lab: a DR segment with real servers and the LAS daemon in the dispatcher
// namespace. withDrLab() ALWAYS removes everything it created, also when the test body throws.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRequest } from '../../src/control/admin-client.js';
import {
  BULK_PORT, runBulkUpload, setOffloads, startBulkSink, type BulkReceipt, type BulkSink, type UploadResult,
} from '../../src/demo/bulk.js';
import { startDaemon, type DaemonProcess } from '../../src/demo/daemon-process.js';
import { labConfig, writeLabConfig, type LabConfig, type LabServiceOptions } from '../../src/demo/lab-config.js';
import {
  runHttpClient, startRealServer, type ClientArgs, type ClientResult, type ExitInfo, type RealServer,
} from '../../src/demo/processes.js';
import { installCleanupHandlers, trackPath, untrackPath } from '../../src/netns/cleanup.js';
import { createDrSegment, type DrSegment } from '../../src/netns/lvs-dr.js';
import { createRoutedDr, type RoutedDr } from '../../src/netns/routed-dr.js';
import { spawnInNs } from '../../src/netns/namespace.js';
import { runInNs, type RunOptions, type RunResult } from '../../src/netns/run.js';
import { setSegmentMtu } from '../../src/netns/segment-mtu.js';

export type { ClientResult } from '../../src/demo/processes.js';
export type { LabServiceOptions } from '../../src/demo/lab-config.js';
export type { BulkReceipt, UploadResult } from '../../src/demo/bulk.js';

export const ECHO_PORT = 7000;

export interface DrLabOptions {
  servers?: number;                   // default 3
  clientAddresses?: number;           // > 1: the client has .20, .21, ... as sources
  clients?: number;
  dispatchers?: number;               // 2: a second dispatcher namespace, "dispatcher2" (the lab starts no daemon in it)
  vip?: string;
  service?: LabServiceOptions;        // flowKey, scheduler, weights, port, ...
  config?: Record<string, unknown>;   // other top-level config keys (workers, txMode, logLevel...)
  startDaemon?: boolean;              // default true; false: segment and servers only
  httpPort?: number;                  // real servers' HTTP port, default = service port or 80
  echoPort?: number;                  // real servers' TCP echo port, default 7000
  udpPort?: number;                   // real servers also answer UDP on VIP:udpPort ("<name> <length>")
  readyTimeoutMs?: number;            // daemon readiness, default 20 s
  daemonArgs?: string[];              // extra `las run` arguments
  daemonPrefix?: string[];            // a command the daemon runs under (setpriv ...)
  daemonEnv?: NodeJS.ProcessEnv;      // the daemon's environment (default the test's), e.g. sanitizerDaemonEnv()
  routed?: boolean;                   // the two-NIC routed layout (src/netns/routed-dr.ts); see withRoutedDrLab
  /**
   * Bulk uploads: a bulk sink on every real server (port default 5201) and, unless the main service
   * already covers that port, a second TCP service "bulk" on VIP:port to all servers.
   */
  bulk?: boolean | { port?: number; service?: Omit<LabServiceOptions, 'port' | 'name'> };
  mtu?: number;                       // one MTU on the whole segment, set before servers and daemon start
  /**
   * Dual stack (src/netns/lvs-dr.ts ipv6): real servers listen on "::" and, besides `service`, a
   * service "web6" (these options) balances the v6 VIP over the servers' v6 addresses.
   */
  ipv6?: LabServiceOptions | true;
}

/** lab.upload(): a bulk upload from a client to VIP:bulkPort; bytes default 10 MB. */
export interface LabUploadArgs { bytes?: number; streams?: number; client?: string; source?: string; timeoutMs?: number }

/** Client run options; url defaults to http://VIP:port/ and sources to the client's addresses. */
export type LabClientArgs = Partial<ClientArgs> & { path?: string; client?: string; ipv6?: boolean };

export interface DrLab {
  segment: DrSegment;
  vip: string;
  vip6: string | undefined;       // dual-stack labs (opts.ipv6)
  port: number;
  dir: string;
  configPath: string;
  adminSocket: string;
  config: LabConfig;
  realServers: Map<string, RealServer>;
  /** The running daemon; throws if it was not started. */
  daemon(): DaemonProcess;
  startDaemon(): Promise<DaemonProcess>;
  /** Stops the daemon (SIGTERM, bounded) if it runs, then starts it again with the config file. */
  restart(): Promise<DaemonProcess>;
  /** Signals the daemon and waits (bounded) for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  stats(): Promise<unknown>;
  admin(cmd: string, args?: unknown, timeoutMs?: number): Promise<unknown>;
  daemonOutput(): { stdout: string; stderr: string };
  /** Rewrites the config file (e.g. before restart() or a reload command). */
  writeConfig(config: LabConfig): Promise<void>;
  runClient(args?: LabClientArgs | string[]): Promise<ClientResult>;
  /** Runs a command in the namespace of a role: "client", "dispatcher", "switch", "s1", ... */
  exec(role: string, cmd: string, args: string[], opts?: RunOptions): Promise<RunResult>;
  spawn(role: string, cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  stopServer(name: string): Promise<void>;
  startServer(name: string): Promise<void>;
  /** The bulk port (opts.bulk), or undefined when the lab has no bulk sinks. */
  bulkPort: number | undefined;
  /** Uploads to VIP:bulkPort and waits until the sink confirmed every byte; throws without opts.bulk. */
  upload(args?: LabUploadArgs): Promise<UploadResult>;
  /** Finished bulk connections per server name. */
  bulkReceipts(): Promise<Map<string, BulkReceipt[]>>;
  /** ethtool -K tso/gso/gro on a host's NIC ("client", "s1", ...). */
  setOffloads(role: string, on: boolean): Promise<void>;
  /** `ip link set dev NIC arp on|off` on a host: off, it answers no ARP (a server that is not there yet). */
  setArp(role: string, on: boolean): Promise<void>;
  /** Gives a host's NIC a new MAC (as a replaced server would have); without announcing it. */
  setMac(role: string, mac: string): Promise<void>;
  /** `ip link set dev NIC up|down` on a host ("dispatcher": the interface LAS listens on). */
  setLink(role: string, up: boolean): Promise<void>;
  /** Empties a host's neighbour table, so the next frame to a neighbour needs a fresh ARP answer. */
  flushNeighbours(role: string): Promise<void>;
}

export async function withDrLab<T>(opts: DrLabOptions, fn: (lab: DrLab) => Promise<T>): Promise<T> {
  // Ctrl-C on a test run still removes the namespaces; uncaught errors stay node:test's business.
  installCleanupHandlers({ uncaughtException: false });
  let segment: DrSegment | undefined;
  let dir: string | undefined;
  let daemon: DaemonProcess | undefined;
  const realServers = new Map<string, RealServer>();
  const bulkSinks = new Map<string, BulkSink>();
  try {
    dir = await mkdtemp(join(tmpdir(), 'las-lab-'));
    trackPath(dir);
    segment = await (opts.routed ? createRoutedDr : createDrSegment)({
      servers: opts.servers ?? 3,
      ...(opts.clientAddresses !== undefined ? { clientAddresses: opts.clientAddresses } : {}),
      ...(opts.clients !== undefined ? { clients: opts.clients } : {}),
      ...(opts.dispatchers !== undefined ? { dispatchers: opts.dispatchers } : {}),
      ...(opts.vip !== undefined ? { vip: opts.vip } : {}),
      ...(opts.ipv6 !== undefined && !opts.routed ? { ipv6: true } : {}),
    });
    if (opts.ipv6 !== undefined && opts.routed) throw new Error('the routed layout is IPv4 only; ipv6 needs the one-segment lab');
    const seg = segment;
    if (opts.mtu !== undefined) await setSegmentMtu(seg, opts.mtu);
    const port = opts.service?.port ?? 80;
    const bulk = opts.bulk === undefined || opts.bulk === false ? undefined : opts.bulk === true ? {} : opts.bulk;
    const bulkPort = bulk ? bulk.port ?? BULK_PORT : undefined;
    const httpPort = opts.httpPort ?? (port === 0 || port === bulkPort ? 80 : port);
    const echoPort = opts.echoPort ?? ECHO_PORT;
    const startServer = async (name: string) => {
      const server = seg.servers.find((s) => s.name === name);
      if (!server) throw new Error(`no real server "${name}"`);
      if (realServers.has(name)) return;
      realServers.set(name, await startRealServer(server.ns, name, {
        port: httpPort, echoPort, ...(opts.udpPort !== undefined ? { udpPort: opts.udpPort, udpHost: seg.vip } : {}),
        ...(opts.ipv6 !== undefined ? { host: '::' } : {}),
      }));
    };
    await Promise.all(seg.servers.map((server) => startServer(server.name)));
    if (bulkPort !== undefined) {
      await Promise.all(seg.servers.map(async (server) => { bulkSinks.set(server.name, await startBulkSink(server.ns, { port: bulkPort })); }));
    }

    const adminSocket = join(dir, 'admin.sock');
    const services: LabServiceOptions[] = [opts.service ?? {}];
    if (bulk && bulkPort !== undefined && port !== 0 && port !== bulkPort) {
      services.push({ ...bulk.service, name: 'bulk', port: bulkPort, protocol: 'tcp' });
    }
    if (opts.ipv6 !== undefined) services.push({ ...(opts.ipv6 === true ? {} : opts.ipv6), ipv6: true });
    const config = labConfig(seg, adminSocket, services, opts.config);
    const configPath = await writeLabConfig(dir, config);
    const start = async () => {
      daemon = await startDaemon({
        ns: seg.dispatcher.ns, configPath, adminSocket,
        ...(opts.readyTimeoutMs !== undefined ? { readyTimeoutMs: opts.readyTimeoutMs } : {}),
        ...(opts.daemonArgs ? { args: opts.daemonArgs } : {}),
        ...(opts.daemonPrefix ? { prefix: opts.daemonPrefix } : {}),
        ...(opts.daemonEnv ? { env: opts.daemonEnv } : {}),
      });
      return daemon;
    };
    const ipLink = async (role: string, args: string[]) => {
      await runInNs(seg.ns(role), 'ip', ['link', 'set', 'dev', seg.host(role).ifname, ...args]);
    };
    const current = () => {
      if (!daemon) throw new Error('the daemon was not started (startDaemon: false?)');
      return daemon;
    };

    const lab: DrLab = {
      segment: seg,
      vip: seg.vip,
      vip6: seg.vip6,
      port,
      dir,
      configPath,
      adminSocket,
      config,
      realServers,
      daemon: current,
      startDaemon: start,
      async restart() {
        if (daemon?.running()) await daemon.stop(10_000);
        return start();
      },
      kill: (signal = 'SIGTERM') => current().kill(signal),
      stats: () => adminRequest(adminSocket, 'stats', {}, 5000),
      admin: (cmd, args = {}, timeoutMs = 5000) => adminRequest(adminSocket, cmd, args, timeoutMs),
      daemonOutput: () => current().output(),
      async writeConfig(next) {
        lab.config = next;
        await writeLabConfig(dir!, next);
      },
      runClient(args = {}) {
        if (Array.isArray(args)) return runHttpClient(seg.ns('client'), args);
        const { path = '/', client = 'client', ipv6 = false, ...rest } = args;
        const host = seg.clients.find((c) => c.role === client) ?? seg.client;
        if (ipv6 && (seg.vip6 === undefined || host.sources6 === undefined)) throw new Error('runClient({ ipv6: true }) needs withDrLab({ ipv6 })');
        const v6Port = opts.ipv6 === undefined || opts.ipv6 === true ? 80 : opts.ipv6.port ?? 80;
        const url = ipv6
          ? `http://[${seg.vip6}]${v6Port === 0 || v6Port === 80 ? '' : `:${v6Port}`}${path}`
          : `http://${seg.vip}${port === 0 || port === 80 ? '' : `:${port}`}${path}`;
        return runHttpClient(seg.ns(client), {
          url: rest.url ?? url,
          requests: rest.requests ?? 1,
          sources: rest.sources ?? (ipv6 ? host.sources6! : host.sources),
          ...(rest.concurrency !== undefined ? { concurrency: rest.concurrency } : {}),
          ...(rest.timeoutMs !== undefined ? { timeoutMs: rest.timeoutMs } : {}),
          ...(rest.deadlineMs !== undefined ? { deadlineMs: rest.deadlineMs } : {}),
          ...(rest.maxFailures !== undefined ? { maxFailures: rest.maxFailures } : {}),
        });
      },
      exec: (role, cmd, args, runOpts) => runInNs(seg.ns(role), cmd, args, runOpts),
      spawn: (role, cmd, args, spawnOpts) => spawnInNs(seg.ns(role), cmd, args, spawnOpts),
      async stopServer(name) {
        await realServers.get(name)?.stop();
        realServers.delete(name);
      },
      startServer,
      bulkPort,
      upload(args = {}) {
        if (bulkPort === undefined) throw new Error('lab.upload() needs withDrLab({ bulk: true })');
        const client = args.client ?? 'client';
        return runBulkUpload(seg.ns(client), {
          host: seg.vip,
          port: bulkPort,
          bytes: args.bytes ?? 10_000_000,
          ...(args.streams !== undefined ? { streams: args.streams } : {}),
          ...(args.source !== undefined ? { source: args.source } : {}),
          ...(args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs } : {}),
        });
      },
      async bulkReceipts() {
        const entries = await Promise.all([...bulkSinks].map(async ([name, sink]) => [name, await sink.received()] as const));
        return new Map(entries);
      },
      setOffloads: (role, on) => setOffloads(seg.ns(role), seg.host(role).ifname, on),
      setArp: (role, on) => ipLink(role, ['arp', on ? 'on' : 'off']),
      setMac: (role, mac) => ipLink(role, ['address', mac]),
      setLink: (role, up) => ipLink(role, [up ? 'up' : 'down']),
      async flushNeighbours(role) {
        await runInNs(seg.ns(role), 'ip', ['neigh', 'flush', 'dev', seg.host(role).ifname]);
      },
    };
    if (opts.startDaemon ?? true) await start();
    return await fn(lab);
  } finally {
    // Each step bounded; a failure in one must not skip the next.
    const d = daemon as DaemonProcess | undefined;
    await d?.stop(5000).catch(() => undefined);
    await Promise.allSettled([...realServers.values()].map((server) => server.stop()));
    await Promise.allSettled([...bulkSinks.values()].map((sink) => sink.stop()));
    await segment?.destroy().catch((error: unknown) => process.stderr.write(`dr-lab cleanup: ${String(error)}\n`));
    if (dir) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      untrackPath(dir);
    }
  }
}

/** The lab on the routed layout: clients on their own subnet, the dispatcher between them and the servers. */
export type RoutedDrLab = DrLab & { segment: RoutedDr };

/** withDrLab on the routed layout: the config gets egressInterface, the dispatcher's kernel routes the replies. */
export function withRoutedDrLab<T>(opts: Omit<DrLabOptions, 'routed'>, fn: (lab: RoutedDrLab) => Promise<T>): Promise<T> {
  return withDrLab({ ...opts, routed: true }, (lab) => fn(lab as RoutedDrLab));
}
