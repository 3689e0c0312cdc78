// TCP bulk uploads on the demo's one-segment LVS-DR topology (src/netns/lvs-dr.ts):
//
//   client ─┐
//   dispatcher ┼── br0 (switch namespace)      upload: client → VIP:port → dispatcher → server
//   s1, s2 ─┘                                  replies (ACKs): server → client directly
//
// Three paths, measured in the same round, in an order that rotates from round to round:
//   direct  no dispatcher: the client uploads to s1's own address
//   las     the real daemon (`las run`) in the dispatcher namespace, a TCP service on the upload port
//   nft     an in-kernel DSR balancer on the dispatcher: netdev ingress `ether daddr set jhash … map`
//           + `fwd to` its own NIC (the UDP suite's nft balancer, hashing the addresses as LAS does here)
// each with the client's default offloads (TSO/GSO on: 64 KB super-frames on the wire of a veth)
// and with them off. The client reaches the VIP through a static neighbour entry (the VIP's MAC =
// the dispatcher's), so the nft path, which answers no ARP, and LAS see the same client.
//
// What measures the upload: iperf3 when it is there (or can be installed), else the repository's
// Node tool (src/demo/bulk.ts); a "tool check" runs both on the direct path in the same run, so the
// results say whether the Node tool would itself have been the limit (see bench/README.md).
import { execFile, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { adminRequest } from '../src/control/admin-client.js';
import { setOffloads, startBulkSink, tcpRetransSegs, uploadArgv, type BulkSink, type UploadReport } from '../src/demo/bulk.js';
import { startDaemon, type DaemonProcess } from '../src/demo/daemon-process.js';
import { labConfig, writeLabConfig } from '../src/demo/lab-config.js';
import { distScript, OutputTail, stopProcess, waitUntil } from '../src/demo/processes.js';
import { ensureCommand, hasCommand } from '../src/netns/ensure-package.js';
import { createDrSegment, type DrSegment } from '../src/netns/lvs-dr.js';
import { spawnInNs } from '../src/netns/namespace.js';
import { countersFromStats, nft, nftBalancerRule, nftRuleset, NFT_TABLE, type DispatcherCounters } from './dispatchers.js';
import { lasDelta } from './measure.js';
import { stat, type Stat } from './results.js';
import type { BulkScenario, BulkToolChoice, Settings } from './scenarios.js';
import { foreignTicks, readCpuTimes, sampleThreads, threadTicks, userHz } from './system.js';
import { num } from './wire.js';

export type BulkPath = 'direct' | 'las' | 'nft';
export const BULK_PATHS: BulkPath[] = ['direct', 'las', 'nft'];
export const BULK_PATH_LABELS: Record<BulkPath, string> = {
  direct: 'no dispatcher (client → s1 directly)',
  las: 'LAS (las run)',
  nft: 'nftables DSR balancer (netdev fwd)',
};
export type BulkTool = 'iperf3' | 'node';

export const BULK_RATIOS = [['las', 'nft'], ['las', 'direct'], ['nft', 'direct']] as const satisfies ReadonlyArray<readonly [BulkPath, BulkPath]>;
export type BulkRatioKey = `${(typeof BULK_RATIOS)[number][0]}/${(typeof BULK_RATIOS)[number][1]}`;

/** The iperf3 port; the Node sinks listen one above it (both run on every server). */
export const BULK_TEST_PORT = 5201;
const NODE_PORT = BULK_TEST_PORT + 1;
// The LAS worker is pinned as in the packet scenarios (and as an operator pins workers with `cpus`);
// client and server are left to the scheduler, which then keeps them off the worker's CPU.
const lasCpu = (settings: Settings) => settings.dispatcherCpus[0]!;
const SERVERS = 2;

export interface BulkLasCounters {
  txMode: string | null;
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  txErrors: number;
  ringDrops: number;
  drops: Record<string, number>;
  /** drops.oversize: frames too long for the egress MTU, without segmentation offsets, that LAS could not send. */
  oversizeDrops: number;
  txSyscalls: number;
  /** txPackets / txSyscalls, summed over workers; null when txSyscalls is 0 (nothing sent). */
  framesPerSyscall: number | null;
  gsoFrames: number;
  /** gsoFrames / rxPackets: the share of received frames that were super-frames; null when rxPackets is 0. */
  superFrameShare: number | null;
  wrongWorker: number;
  /** The las-io threads' CPU time over the upload, in CPUs (1 = one core busy throughout). */
  threadCpus: number;
}

export interface BulkTrial {
  path: BulkPath;
  round: number;
  tool: BulkTool;
  offloads: boolean;
  target: string;               // host:port the client uploaded to
  streams: number;
  /** Completed: the tool ran to its end (iperf3: its time; node: every byte confirmed by the sink). */
  completed: boolean;
  bytes: number;                // received by the server application
  seconds: number;
  gbps: number;                 // bytes * 8 / seconds, 0 for a failed upload
  /** TcpRetransSegs growth in the client namespace (either tool). */
  retransmits: number | null;
  /** iperf3's own count (TCP_INFO of its data connections); null for the Node tool. */
  toolRetransmits: number | null;
  /** The sender's smoothed RTT over the upload (iperf3, TCP_INFO, µs; mean over streams of their mean, lowest min, highest max); null for the Node tool. */
  rttUs: { mean: number; min: number; max: number } | null;
  /** Which server's NIC took the upload (rx bytes counters), and how many bytes it received on the wire. */
  server: string | null;
  serverRxBytes: Record<string, number>;
  cpu: {
    perCpu: Array<{ cpu: number; busyShare: number }>;
    /** CPU other jobs on the machine took during the upload, in CPUs. */
    foreignCpus: number;
    /** iperf3's own figures (client and server process, % of one CPU); null for the Node tool. */
    tool: { client: number; server: number } | null;
  };
  las: BulkLasCounters | null;
  error?: string;
}

export interface BulkRound {
  round: number;
  order: BulkPath[];
  trials: Partial<Record<BulkPath, BulkTrial>>;
  /** Gbit/s ratios within this round. */
  ratios: Partial<Record<BulkRatioKey, number>>;
}

export interface BulkPathSummary {
  gbps: Stat;
  retransmits: Stat | null;
  /** iperf3's mean RTT per upload, µs. */
  rttUs: Stat | null;
  failed: number;
  /** The LAS figures are null on a path without LAS counters (direct, nft) and when no LAS upload yielded the figure. */
  framesPerSyscall: Stat | null;
  superFrameShare: Stat | null;
  /** Sums over rounds; null on a path without LAS counters. */
  oversizeDrops: number | null;
  wrongWorker: number | null;
  lasThreadCpus: Stat | null;
}

export interface BulkScenarioResult {
  id: string;
  title: string;
  group: 'bulk';
  offloads: boolean;
  /** The client NIC's offloads as `ethtool -k` read them back after the switch. */
  clientOffloads: Record<string, string>;
  rounds: BulkRound[];
  summary: { perPath: Partial<Record<BulkPath, BulkPathSummary>>; ratios: Partial<Record<BulkRatioKey, Stat>> };
}

export interface BulkToolCheck {
  /** The direct path, client offloads on: both tools, in the same rounds, order alternating. */
  rounds: Array<{ round: number; order: BulkTool[]; trials: Partial<Record<BulkTool, BulkTrial>>; nodeOverIperf3: number | null }>;
  summary: { iperf3: Stat | null; node: Stat | null; nodeOverIperf3: Stat | null };
}

export interface BulkSection {
  tool: BulkTool;
  toolChoice: BulkToolChoice;
  toolNote: string;
  iperf3Version: string | null;
  /** Length of one upload: iperf3 runs whole seconds; the Node tool's byte count is sized from the path's last rate. */
  seconds: number;
  streams: number;
  port: number;
  topology: {
    kind: 'lvs-dr segment';
    namespaces: string[];
    vip: string;
    client: { address: string; mac: string };
    dispatcher: { address: string; mac: string };
    servers: Array<{ name: string; address: string; mac: string }>;
    note: string;
  };
  service: { flowKey: 'addresses'; scheduler: 'maglev'; workers: number; txMode: string; ring: Settings['lasRing'] };
  /** The LAS worker's CPU; client and server are not pinned. */
  lasCpu: number;
  toolCheck: BulkToolCheck | null;
  scenarios: BulkScenarioResult[];
  warnings: string[];
}

// ---------------------------------------------------------------- small process helpers

interface ExecResult { code: number | null; stdout: string; stderr: string }

function execNs(ns: string, cmd: string, args: string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr: error && !stderr ? error.message : stderr });
    });
  });
}

async function readNs(ns: string, path: string): Promise<string> {
  const r = await execNs(ns, 'cat', [path], 5000);
  if (r.code !== 0) throw new Error(`reading ${path} in ${ns}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function rxBytes(ns: string, ifname: string): Promise<number> {
  return Number((await readNs(ns, `/sys/class/net/${ifname}/statistics/rx_bytes`)).trim());
}

async function listening(ns: string, port: number): Promise<boolean> {
  const r = await execNs(ns, 'ss', ['-Hltn', `sport = :${port}`], 5000);
  return r.code === 0 && r.stdout.trim().length > 0;
}

/**
 * Which tool measures: iperf3 when present (or installed now: not with --no-install, and a --quick
 * run, a smoke check, installs nothing for it), else the Node tool.
 */
export async function chooseBulkTool(choice: BulkToolChoice, install: boolean, quick: boolean, log: (m: string) => void): Promise<{ tool: BulkTool; iperf3: boolean; note: string }> {
  let iperf3 = await hasCommand('iperf3');
  let why = '';
  if (!iperf3 && choice !== 'node') {
    if (install && (choice === 'iperf3' || !quick)) {
      try {
        await ensureCommand('iperf3', 'iperf3', { log });
        iperf3 = true;
      } catch (error) {
        why = error instanceof Error ? error.message : String(error);
      }
    } else {
      why = install ? 'iperf3 is missing and a --quick run does not install it' : 'iperf3 is missing and --no-install was given';
    }
  }
  if (choice === 'iperf3' && !iperf3) throw new Error(`--bulk-tool iperf3: ${why || 'iperf3 is not available'}`);
  if (choice === 'node') return { tool: 'node', iperf3, note: 'the Node tool (src/demo/bulk.ts), chosen with --bulk-tool node' };
  if (iperf3) return { tool: 'iperf3', iperf3, note: 'iperf3: a C tool with time-bounded runs and its own retransmit count; the Node tool runs beside it on the direct path (tool check)' };
  return { tool: 'node', iperf3, note: `the Node tool (src/demo/bulk.ts): ${why || 'iperf3 is not available'}; no tool check against iperf3` };
}

// ---------------------------------------------------------------- the run

export interface BulkContext {
  settings: Settings;
  tmpDir: string;
  nftAvailable: boolean;
  install: boolean;
  log(message: string): void;
  step(label: string): void;
  advance(label?: string): void;
}

/** Trials the bulk section runs (for the progress bar): tool check, then every scenario × path × round. */
export function bulkTrialCount(settings: Settings, scenarios: BulkScenario[]): number {
  return 1 + settings.rounds * (2 + scenarios.length * BULK_PATHS.length);
}

const rotate = <T>(items: readonly T[], by: number): T[] => {
  const k = ((by % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
};

function ratiosOf(trials: Partial<Record<BulkPath, BulkTrial>>): Partial<Record<BulkRatioKey, number>> {
  const out: Partial<Record<BulkRatioKey, number>> = {};
  for (const [a, b] of BULK_RATIOS) {
    const x = trials[a]?.gbps;
    const y = trials[b]?.gbps;
    if (x !== undefined && y !== undefined && y > 0) out[`${a}/${b}`] = x / y;
  }
  return out;
}

const statOrNull = (values: Array<number | null | undefined>): Stat | null => {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length > 0 ? stat(v) : null;
};
const sumOrNull = (values: Array<number | null | undefined>): number | null => {
  const v = values.filter((x): x is number => typeof x === 'number');
  return v.length > 0 ? v.reduce((a, b) => a + b, 0) : null;
};

export function summariseBulk(rounds: BulkRound[]): BulkScenarioResult['summary'] {
  const perPath: BulkScenarioResult['summary']['perPath'] = {};
  for (const path of BULK_PATHS) {
    const trials = rounds.map((r) => r.trials[path]).filter((t): t is BulkTrial => t !== undefined);
    if (trials.length === 0) continue;
    perPath[path] = {
      gbps: stat(trials.map((t) => t.gbps)),
      retransmits: statOrNull(trials.map((t) => t.retransmits)),
      rttUs: statOrNull(trials.map((t) => t.rttUs?.mean)),
      failed: trials.filter((t) => !t.completed).length,
      framesPerSyscall: statOrNull(trials.map((t) => t.las?.framesPerSyscall)),
      superFrameShare: statOrNull(trials.map((t) => t.las?.superFrameShare)),
      oversizeDrops: sumOrNull(trials.map((t) => t.las?.oversizeDrops)),
      wrongWorker: sumOrNull(trials.map((t) => t.las?.wrongWorker)),
      lasThreadCpus: statOrNull(trials.map((t) => t.las?.threadCpus)),
    };
  }
  const ratios: BulkScenarioResult['summary']['ratios'] = {};
  for (const [a, b] of BULK_RATIOS) {
    const key: BulkRatioKey = `${a}/${b}`;
    const s = statOrNull(rounds.map((r) => r.ratios[key]));
    if (s) ratios[key] = s;
  }
  return { perPath, ratios };
}

interface Uploader {
  tool: BulkTool;
  /** Uploads to host:port for about `seconds`; never throws (a failed upload comes back with completed false). */
  upload(host: string, port: number, expectGbps: number): Promise<UploadOutcome>;
}

interface UploadOutcome {
  completed: boolean;
  bytes: number;
  seconds: number;
  toolRetransmits: number | null;
  rttUs: BulkTrial['rttUs'];
  cpu: { client: number; server: number } | null;
  error?: string;
}

/**
 * Runs the bulk section: builds the segment, the tool check, then every scenario's rounds.
 * Failures of single trials are recorded in the trial; a failure to build anything throws.
 */
export async function runBulk(ctx: BulkContext, scenarios: BulkScenario[]): Promise<BulkSection> {
  const { settings, log } = ctx;
  const warnings: string[] = [];
  const choice = await chooseBulkTool(settings.bulkTool, ctx.install, settings.quick, log);
  const seconds = Math.max(1, Math.round(settings.durationMs / 1000));
  const streams = settings.bulkStreams;
  if (choice.tool === 'node' && !ctx.nftAvailable) warnings.push('nftables is missing: the nft path is not measured');

  ctx.step('bulk: building the LVS-DR segment');
  const segment: DrSegment = await createDrSegment({ servers: SERVERS, prefix: 'lasb' });
  const servers = segment.servers;
  const children: ChildProcess[] = [];
  const sinks: BulkSink[] = [];
  let iperf3Version: string | null = null;
  try {
    const client = segment.client;
    const disp = segment.dispatcher;

    // The VIP's MAC is the dispatcher's, for every path that goes to the VIP (nft answers no ARP).
    await execNs(client.ns, 'ip', ['neigh', 'replace', segment.vip, 'lladdr', disp.mac, 'dev', client.ifname, 'nud', 'permanent'], 5000);

    // Servers: iperf3 on BULK_TEST_PORT, the Node sink one above, on every server (either may be chosen).
    const iperf3Servers = new Map<string, { child: ChildProcess; stderr: OutputTail }>();
    const startIperf3Server = async (ns: string) => {
      const stderr = new OutputTail(16 * 1024);
      const child = spawnInNs(ns, 'iperf3', ['-s', '-p', String(BULK_TEST_PORT)], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
      children.push(child);
      iperf3Servers.set(ns, { child, stderr });
      await waitUntil(`iperf3 server in ${ns}`, () => listening(ns, BULK_TEST_PORT), 10_000,
        () => (child.exitCode !== null || child.signalCode !== null ? `exited: ${String(stderr).trim()}` : undefined));
    };
    if (choice.iperf3) {
      const v = await execNs(client.ns, 'iperf3', ['--version'], 5000);
      iperf3Version = v.stdout.split('\n')[0]?.trim() ?? null;
      await Promise.all(servers.map((s) => startIperf3Server(s.ns)));
    }
    sinks.push(...(await Promise.all(servers.map((s) => startBulkSink(s.ns, { port: NODE_PORT })))));

    // Rate estimates per path and offload setting: the Node tool's byte count for about `seconds`.
    const estimate = new Map<string, number>();
    const estimateKey = (path: BulkPath, offloads: boolean) => `${path}/${offloads}`;
    const expectGbps = (path: BulkPath, offloads: boolean) => estimate.get(estimateKey(path, offloads)) ?? estimate.get(estimateKey('direct', offloads)) ?? (offloads ? 5 : 2);

    const iperf3: Uploader = {
      tool: 'iperf3',
      async upload(host, port) {
        const r = await execNs(client.ns, 'iperf3', ['-c', host, '-p', String(port), '-t', String(seconds), '-P', String(streams), '-J', '--connect-timeout', '5000'], seconds * 1000 + 30_000);
        let j: Record<string, any> | undefined;
        try { j = JSON.parse(r.stdout) as Record<string, any>; } catch { /* below */ }
        const received = j?.end?.sum_received as { bytes?: number; seconds?: number } | undefined;
        const cpuPct = j?.end?.cpu_utilization_percent as { host_total?: number; remote_total?: number } | undefined;
        const error = typeof j?.error === 'string' ? j.error : r.code !== 0 ? (r.stderr.trim() || `iperf3 exited ${r.code}`) : undefined;
        if (!received || typeof received.bytes !== 'number' || !received.seconds) {
          // A wedged server (its client vanished) answers the next test busy: restart it.
          for (const [ns, s] of iperf3Servers) {
            if (s.child.exitCode !== null || /busy/i.test(error ?? '')) {
              await stopProcess(s.child, 1000);
              await startIperf3Server(ns).catch((e: unknown) => log(`bulk: restarting iperf3 in ${ns}: ${String(e)}`));
            }
          }
          return { completed: false, bytes: 0, seconds, toolRetransmits: null, rttUs: null, cpu: null, error: error ?? `iperf3 printed no result: ${r.stdout.slice(0, 300)}` };
        }
        const sent = j?.end?.sum_sent as { retransmits?: number } | undefined;
        const rtts = (Array.isArray(j?.end?.streams) ? (j.end.streams as Array<{ sender?: { mean_rtt?: number; min_rtt?: number; max_rtt?: number } }>) : [])
          .map((x) => x.sender).filter((x): x is { mean_rtt: number; min_rtt: number; max_rtt: number } => typeof x?.mean_rtt === 'number');
        return {
          completed: !error, bytes: received.bytes, seconds: received.seconds,
          toolRetransmits: typeof sent?.retransmits === 'number' ? sent.retransmits : null,
          rttUs: rtts.length > 0
            ? { mean: rtts.reduce((a, x) => a + x.mean_rtt, 0) / rtts.length, min: Math.min(...rtts.map((x) => x.min_rtt)), max: Math.max(...rtts.map((x) => x.max_rtt)) }
            : null,
          cpu: cpuPct && typeof cpuPct.host_total === 'number' ? { client: cpuPct.host_total, server: cpuPct.remote_total ?? NaN } : null,
          ...(error ? { error } : {}),
        };
      },
    };
    const node: Uploader = {
      tool: 'node',
      async upload(host, port, gbps) {
        // Sized for about `seconds` at the path's last rate; a stall of a few seconds fails it fast.
        const bytes = Math.round(Math.min(Math.max((gbps * 1e9 / 8) * seconds, 16e6), 40e9));
        const timeoutMs = Math.max(seconds * 10_000, 30_000);
        const stallMs = Math.max(3000, seconds * 1000);
        const argv = [distScript('src/demo/bulk-upload.js'), ...uploadArgv({ host, port, bytes, streams, timeoutMs }), '--stall-ms', String(stallMs)];
        const r = await execNs(client.ns, process.execPath, argv, timeoutMs + 15_000);
        const none = { toolRetransmits: null, rttUs: null, cpu: null };
        if (r.code !== 0) return { completed: false, bytes: 0, seconds: 0, ...none, error: (r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`).slice(0, 400) };
        try {
          const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as UploadReport;
          return { completed: true, bytes: report.bytes, seconds: report.seconds, ...none };
        } catch {
          return { completed: false, bytes: 0, seconds: 0, ...none, error: `bulk-upload printed no JSON: ${r.stdout.slice(0, 200)}` };
        }
      },
    };
    const tools: Record<BulkTool, Uploader | undefined> = { iperf3: choice.iperf3 ? iperf3 : undefined, node };
    const toolPort = (tool: BulkTool) => (tool === 'iperf3' ? BULK_TEST_PORT : NODE_PORT);
    const measuring = tools[choice.tool]!;
    const port = toolPort(choice.tool);

    // ------------------------------------------------------------ one path, one trial
    let seq = 0;
    const startLas = async (): Promise<{ daemon: DaemonProcess; adminSocket: string }> => {
      const n = ++seq;
      const adminSocket = join(ctx.tmpDir, `bulk-admin-${n}.sock`);
      const config = labConfig(segment, adminSocket, { name: 'bulk', port, protocol: 'tcp', flowKey: 'addresses', scheduler: 'maglev' }, {
        workers: 1, cpus: [lasCpu(settings)], txMode: settings.lasTxMode, flowTable: { capacity: 65_536 }, metrics: { enabled: false }, logLevel: 'info',
        ...(settings.lasRing ? { ring: settings.lasRing } : {}),
      });
      const configPath = await writeLabConfig(ctx.tmpDir, config, `bulk-las-${n}.json`);
      const daemon = await startDaemon({ ns: disp.ns, configPath, adminSocket, readyTimeoutMs: 60_000 });
      return { daemon, adminSocket };
    };
    const lasCounters = async (adminSocket: string, pid: number | undefined): Promise<{ c: DispatcherCounters; txMode: string | null }> => {
      const stats = await adminRequest(adminSocket, 'stats', {}, 5000);
      const txMode = (stats as { txMode?: unknown }).txMode;
      return { c: countersFromStats(stats, await threadTicks(pid, 'las-io-')), txMode: typeof txMode === 'string' ? txMode : null };
    };

    const trial = async (path: BulkPath, tool: Uploader, offloads: boolean, round: number): Promise<BulkTrial> => {
      const host = path === 'direct' ? servers[0]!.address : segment.vip;
      const tport = toolPort(tool.tool);
      let stop: (() => Promise<void>) | undefined;
      let las: { daemon: DaemonProcess; adminSocket: string } | undefined;
      if (path === 'las') {
        las = await startLas();
        const d = las.daemon;
        stop = async () => { await d.stop(5000); };
      } else if (path === 'nft') {
        if (!ctx.nftAvailable) throw new Error('nftables missing');
        const rule = nftBalancerRule({
          vip: segment.vip, l4: 'tcp', port: tport, key: 'addresses',
          servers: servers.map((s) => ({ mac: s.mac, weight: 1 })), srcMac: disp.mac, egress: disp.ifname,
        });
        await nft(disp.ns, nftRuleset(disp.ifname, rule));
        stop = async () => { await execNs(disp.ns, 'nft', ['delete', 'table', 'netdev', NFT_TABLE], 5000); };
      }
      try {
        await new Promise((r) => setTimeout(r, settings.quick ? 50 : 300));
        const hz = userHz();
        const rx0 = await Promise.all(servers.map((s) => rxBytes(s.ns, s.ifname)));
        const retrans0 = await tcpRetransSegs(client.ns);
        const before = las ? await lasCounters(las.adminSocket, las.daemon.pid) : undefined;
        const cpu0 = await readCpuTimes();
        const threads0 = sampleThreads();
        const t0 = Date.now();
        const up = await tool.upload(host, tport, expectGbps(path, offloads));
        const wallMs = Date.now() - t0;
        const threads1 = sampleThreads();
        const cpu1 = await readCpuTimes();
        const after = las ? await lasCounters(las.adminSocket, las.daemon.pid) : undefined;
        const retrans1 = await tcpRetransSegs(client.ns);
        const rx1 = await Promise.all(servers.map((s) => rxBytes(s.ns, s.ifname)));
        const serverRxBytes = Object.fromEntries(servers.map((s, i) => [s.name, rx1[i]! - rx0[i]!]));
        const top = servers.map((s, i) => ({ name: s.name, n: rx1[i]! - rx0[i]! })).sort((a, b) => b.n - a.n)[0];
        const gbps = up.completed && up.seconds > 0 ? (up.bytes * 8) / up.seconds / 1e9 : 0;
        if (up.completed && gbps > 0) estimate.set(estimateKey(path, offloads), gbps);
        let lasOut: BulkLasCounters | null = null;
        if (before && after) {
          const d = lasDelta(before.c, after.c);
          const drops = Object.fromEntries(Object.entries(after.c.drops).map(([k, v]) => [k, num(v - (before.c.drops[k] ?? 0n))]).filter(([, v]) => v !== 0));
          lasOut = {
            txMode: after.txMode,
            rxPackets: d.rxPackets, txPackets: d.txPackets,
            rxBytes: num(after.c.rxBytes - before.c.rxBytes), txBytes: num(after.c.txBytes - before.c.txBytes),
            txErrors: num(after.c.txErrors - before.c.txErrors), ringDrops: num(after.c.ringDrops - before.c.ringDrops),
            drops, oversizeDrops: num(after.c.drops.oversize! - before.c.drops.oversize!),
            txSyscalls: d.txSyscalls, framesPerSyscall: d.framesPerSyscall, gsoFrames: d.gsoFrames,
            superFrameShare: d.rxPackets > 0 ? d.gsoFrames / d.rxPackets : null,
            wrongWorker: d.wrongWorker,
            threadCpus: wallMs > 0 ? ((after.c.threadTicks - before.c.threadTicks) * (1000 / hz)) / wallMs : 0,
          };
        }
        const perCpu = [...cpu1.entries()].map(([cpu, t]) => {
          const b = cpu0.get(cpu) ?? { busy: 0, total: 0, softirq: 0 };
          return { cpu, busyShare: t.total - b.total > 0 ? (t.busy - b.busy) / (t.total - b.total) : 0 };
        });
        return {
          path, round, tool: tool.tool, offloads, target: `${host}:${tport}`, streams,
          completed: up.completed, bytes: up.bytes, seconds: up.seconds, gbps,
          retransmits: retrans0 === null || retrans1 === null ? null : retrans1 - retrans0,
          toolRetransmits: up.toolRetransmits, rttUs: up.rttUs,
          server: top && top.n > 1e6 ? top.name : null, serverRxBytes,
          cpu: { perCpu, foreignCpus: wallMs > 0 ? (foreignTicks(threads0, threads1) * (1000 / hz)) / wallMs : 0, tool: up.cpu },
          las: lasOut,
          ...(up.error ? { error: up.error } : {}),
        };
      } finally {
        await stop?.();
      }
    };
    /** A trial that could not even be set up still leaves a record. */
    const safeTrial = async (path: BulkPath, tool: Uploader, offloads: boolean, round: number, label: string): Promise<BulkTrial> => {
      ctx.step(label);
      try {
        return await trial(path, tool, offloads, round);
      } catch (error) {
        const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
        log(`${label}: ${message}`);
        return {
          path, round, tool: tool.tool, offloads, target: '', streams, completed: false, bytes: 0, seconds: 0, gbps: 0,
          retransmits: null, toolRetransmits: null, rttUs: null, server: null, serverRxBytes: {}, cpu: { perCpu: [], foreignCpus: 0, tool: null }, las: null, error: message,
        };
      } finally {
        ctx.advance();
      }
    };
    ctx.advance('bulk segment ready');

    // ------------------------------------------------------------ tool check: both tools, direct path, offloads on
    let toolCheck: BulkToolCheck | null = null;
    if (tools.iperf3) {
      await setOffloads(client.ns, client.ifname, true);
      const rounds: BulkToolCheck['rounds'] = [];
      for (let round = 1; round <= settings.rounds; round++) {
        const order = rotate<BulkTool>(['iperf3', 'node'], round - 1);
        const trials: Partial<Record<BulkTool, BulkTrial>> = {};
        for (const t of order) trials[t] = await safeTrial('direct', tools[t]!, true, round, `bulk tool check round ${round}/${settings.rounds}: ${t}, direct path`);
        const a = trials.node?.gbps;
        const b = trials.iperf3?.gbps;
        rounds.push({ round, order, trials, nodeOverIperf3: a !== undefined && b ? a / b : null });
      }
      toolCheck = {
        rounds,
        summary: {
          iperf3: statOrNull(rounds.map((r) => r.trials.iperf3?.gbps)),
          node: statOrNull(rounds.map((r) => r.trials.node?.gbps)),
          nodeOverIperf3: statOrNull(rounds.map((r) => r.nodeOverIperf3)),
        },
      };
    } else {
      for (let i = 0; i < settings.rounds * 2; i++) ctx.advance();
    }

    // ------------------------------------------------------------ the scenarios
    const results: BulkScenarioResult[] = [];
    for (const [index, scenario] of scenarios.entries()) {
      await setOffloads(client.ns, client.ifname, scenario.offloads);
      const k = await execNs(client.ns, 'ethtool', ['-k', client.ifname], 5000);
      const clientOffloads = Object.fromEntries(k.stdout.split('\n')
        .map((l) => /^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):\s*(\S+)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null).map((m) => [m[1]!, m[2]!]));
      const rounds: BulkRound[] = [];
      for (let round = 1; round <= settings.rounds; round++) {
        const order = rotate(BULK_PATHS, round - 1 + index);
        const trials: Partial<Record<BulkPath, BulkTrial>> = {};
        for (const path of order) {
          if (path === 'nft' && !ctx.nftAvailable) { ctx.advance(); continue; }
          trials[path] = await safeTrial(path, measuring, scenario.offloads, round, `${scenario.id} round ${round}/${settings.rounds}: ${BULK_PATH_LABELS[path]}`);
        }
        rounds.push({ round, order, trials, ratios: ratiosOf(trials) });
      }
      results.push({ id: scenario.id, title: scenario.title, group: 'bulk', offloads: scenario.offloads, clientOffloads, rounds, summary: summariseBulk(rounds) });
    }

    return {
      tool: choice.tool, toolChoice: settings.bulkTool, toolNote: choice.note, iperf3Version, seconds, streams, port,
      topology: {
        kind: 'lvs-dr segment', namespaces: segment.namespaces, vip: segment.vip,
        client: { address: client.address, mac: client.mac }, dispatcher: { address: disp.address, mac: disp.mac },
        servers: servers.map((s) => ({ name: s.name, address: s.address, mac: s.mac })),
        note: 'client, dispatcher and servers on one bridge (veth, MTU 1500); the client has a static neighbour entry VIP → dispatcher MAC; servers hold the VIP on lo',
      },
      service: { flowKey: 'addresses', scheduler: 'maglev', workers: 1, txMode: settings.lasTxMode, ring: settings.lasRing },
      lasCpu: lasCpu(settings),
      toolCheck, scenarios: results, warnings,
    };
  } finally {
    await Promise.all(sinks.map((s) => s.stop().catch(() => undefined)));
    await Promise.all(children.map((c) => stopProcess(c, 1000).catch(() => undefined)));
    await segment.destroy().catch((error: unknown) => log(`bulk: cleanup: ${String(error)}`));
  }
}
