// Scenario B of issue 10 in namespaces, shared by `las demo --ha` and the tests: the BGP/ECMP layout
// (src/netns/bgp-ecmp.ts), real servers (HTTP and a TCP echo), one LAS daemon per dispatcher with
// ha.mode "bgp", and long-lived connections from the client (ha-streams.ts). withBgpLab() always
// removes everything it created, also when the body throws.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRequest } from '../control/admin-client.js';
import { createBgpEcmp, labHaSection, type BgpEcmp } from '../netns/bgp-ecmp.js';
import { installCleanupHandlers, trackPath, untrackPath } from '../netns/cleanup.js';
import { spawnInNs } from '../netns/namespace.js';
import type { DrHost } from '../netns/lvs-dr.js';
import { startDaemon, type DaemonProcess } from './daemon-process.js';
import { distScript, OutputTail, startRealServer, stopProcess, type RealServer } from './processes.js';
import type { StreamsReport } from './ha-streams.js';

export const HTTP_PORT = 80;
export const ECHO_PORT = 7000;

export interface BgpLabOptions {
  dispatchers: number;
  servers?: number;                    // default 3
  clientAddresses?: number;            // default 40
  /** Extra `ha.bgp` keys (or a replacement `ha`) per dispatcher index. */
  ha?: (index: number, lab: BgpEcmp) => Record<string, unknown>;
  start?: boolean;                     // start every daemon (default true)
  daemonPrefix?: string[];             // a command each daemon runs under (setpriv as a non-root user)
}

export interface Dispatcher {
  host: DrHost;
  configPath: string;
  adminSocket: string;
  daemon(): DaemonProcess;
  start(): Promise<DaemonProcess>;
  admin(cmd: string, args?: unknown, timeoutMs?: number): Promise<unknown>;
  /** New flows this dispatcher placed per service name, from `las stats`. */
  newFlows(): Promise<Record<string, number>>;
}

export interface Streams {
  /** Stops the loops, makes every connection do one last round trip, and reports the broken ones. */
  stop(): Promise<StreamsReport>;
  kill(): void;
}

export interface BgpLab {
  net: BgpEcmp;
  dispatchers: Dispatcher[];
  servers: Map<string, RealServer>;
  /** Long-lived echo connections from the client's sources (perSource each), ready when it resolves. */
  startStreams(opts?: { perSource?: number; sources?: number }): Promise<Streams>;
}

function labDaemonConfig(net: BgpEcmp, d: DrHost, adminSocket: string, ha: Record<string, unknown>): Record<string, unknown> {
  const servers = net.servers.map((s) => ({ address: s.address }));
  return {
    interface: d.ifname,
    adminSocket,
    metrics: { enabled: false },
    flowTable: { capacity: 65_536, persistDirectory: false },
    ha,
    services: [
      { name: 'web', vip: net.vip, port: HTTP_PORT, servers },
      { name: 'echo', vip: net.vip, port: ECHO_PORT, servers },
    ],
  };
}

export async function withBgpLab<T>(opts: BgpLabOptions, fn: (lab: BgpLab) => Promise<T>): Promise<T> {
  // Ctrl-C still removes the namespaces (a no-op when the demo installed the handlers first).
  installCleanupHandlers({ uncaughtException: false });
  let net: BgpEcmp | undefined;
  let dir: string | undefined;
  const servers = new Map<string, RealServer>();
  const daemons: Array<DaemonProcess | undefined> = [];
  const children: Array<{ kill(): void }> = [];
  try {
    dir = await mkdtemp(join(tmpdir(), 'las-bgp-lab-'));
    trackPath(dir);
    net = await createBgpEcmp({ dispatchers: opts.dispatchers, servers: opts.servers ?? 3, clientAddresses: opts.clientAddresses ?? 40 });
    const lab = net;
    await Promise.all(lab.servers.map(async (s) => { servers.set(s.name, await startRealServer(s.ns, s.name, { port: HTTP_PORT, echoPort: ECHO_PORT })); }));
    const dispatchers = await Promise.all(lab.dispatchers.map(async (host, i): Promise<Dispatcher> => {
      const adminSocket = join(dir!, `${host.role}.sock`);
      const configPath = join(dir!, `${host.role}.json`);
      const ha = opts.ha?.(i, lab) ?? labHaSection(lab, host);
      await writeFile(configPath, `${JSON.stringify(labDaemonConfig(lab, host, adminSocket, ha), null, 2)}\n`);
      const admin = (cmd: string, args: unknown = {}, timeoutMs = 10_000) => adminRequest(adminSocket, cmd, args, timeoutMs);
      return {
        host, configPath, adminSocket, admin,
        daemon: () => {
          const d = daemons[i];
          if (!d) throw new Error(`the daemon of ${host.role} was not started`);
          return d;
        },
        async start() {
          daemons[i] = await startDaemon({ ns: host.ns, configPath, adminSocket, ...(opts.daemonPrefix ? { prefix: opts.daemonPrefix } : {}) });
          return daemons[i]!;
        },
        async newFlows() {
          const stats = await admin('stats') as { services: Array<{ name: string | null; newFlows: number | string }> };
          return Object.fromEntries(stats.services.map((s) => [s.name ?? '?', Number(s.newFlows)]));
        },
      };
    }));
    if (opts.start ?? true) await Promise.all(dispatchers.map((d) => d.start()));
    const startStreams = async ({ perSource = 1, sources = lab.client.sources.length } = {}): Promise<Streams> => {
      const args = [distScript('src/demo/ha-streams.js'), '--vip', lab.vip, '--port', String(ECHO_PORT),
        '--sources', lab.client.sources.slice(0, sources).join(','), '--per-source', String(perSource)];
      const child = spawnInNs(lab.client.ns, process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      const stderr = new OutputTail();
      child.stderr?.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const next = async (what: string) => {
        const line = await lines.next();
        if (line.done) throw new Error(`ha-streams ended before ${what}: ${String(stderr).trim()}`);
        return JSON.parse(line.value) as Record<string, unknown>;
      };
      await next('all connections were up');
      return {
        async stop() {
          child.stdin?.write('stop\n');
          const report = await next('its report') as unknown as StreamsReport;
          await stopProcess(child, 2000);
          return report;
        },
        kill: () => child.kill('SIGKILL'),
      };
    };
    return await fn({ net: lab, dispatchers, servers, startStreams });
  } finally {
    for (const child of children) child.kill();
    await Promise.allSettled(daemons.map((d) => d?.stop(5000)));
    await Promise.allSettled([...servers.values()].map((s) => s.stop()));
    await net?.destroy().catch((error: unknown) => process.stderr.write(`bgp lab cleanup: ${String(error)}\n`));
    if (dir) { await rm(dir, { recursive: true, force: true }).catch(() => undefined); untrackPath(dir); }
  }
}
