// The four dispatchers measured side by side, on the same topology and traffic:
//   kernel-fwd  the kernel forwarding every frame to one server, no balancing (nft netdev fwd;
//               tc skbmod + mirred when nftables is missing)
//   nft-lb      the kernel balancer: nft netdev ingress jhash -> ether daddr map -> fwd
//   las-pt      LAS pass-through: the AF_PACKET rings and the send path, no parsing or flow logic
//   las-full    the real daemon (`las run`): Maglev, counters, a flow table pre-filled by traffic
// and, in the trace-64 scenario only, las-full with a `las trace` running that matches nothing
// (las-trace-none) or every frame (las-trace-all).
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { adminRequest } from '../src/control/admin-client.js';
import { startDaemon, type DaemonProcess } from '../src/demo/daemon-process.js';
import { waitUntil } from '../src/demo/processes.js';
import { run } from '../src/netns/run.js';
import type { Agent } from './agent-client.js';
import type { GeneratorResult } from '../src/native/bench-binding.js';
import type { FlowKey } from '../src/native/binding.js';
import {
  PORT, SERVERS, VIP, flowsUnderKey, serversAfter, type BenchServer, type FlowSpace, type Scenario, type ServerChange, type Settings,
} from './scenarios.js';
import { threadTicks } from './system.js';
import type { Topology } from './topology.js';
import { big } from './wire.js';

export type DispatcherId = 'kernel-fwd' | 'nft-lb' | 'las-pt' | 'las-full' | 'las-trace-none' | 'las-trace-all';
/** What a scenario measures unless it says otherwise (Scenario.only). */
export const DISPATCHERS: DispatcherId[] = ['kernel-fwd', 'nft-lb', 'las-pt', 'las-full'];
/** The real daemon, with or without a trace running: each is pre-filled the same way. */
export const LAS_FULL: DispatcherId[] = ['las-full', 'las-trace-none', 'las-trace-all'];
/** Every dispatcher a scenario may name: the trace variants run only where named. */
export const ALL_DISPATCHERS: DispatcherId[] = [...DISPATCHERS, 'las-trace-none', 'las-trace-all'];

export const DISPATCHER_LABELS: Record<DispatcherId, string> = {
  'kernel-fwd': 'kernel forwarding (no balancing)',
  'nft-lb': 'kernel balancer (nftables jhash)',
  'las-pt': 'LAS pass-through',
  'las-full': 'LAS full logic',
  'las-trace-none': 'LAS full, a trace matching nothing',
  'las-trace-all': 'LAS full, a trace matching every frame',
};

export const NFT_TABLE = 'lasbench';
const MAGLEV_SIZE = 65_537;

export interface ServerCounters { address: string; packets: bigint; newFlows: bigint; activeFlows: bigint }

/** One LAS worker's counters. */
export interface WorkerCounters {
  rxPackets: bigint;
  rxBytes: bigint;
  txPackets: bigint;
  txBytes: bigint;
  txErrors: bigint;
  ringDrops: bigint;
  txSyscalls: bigint;
  gsoFrames: bigint;
  wrongWorker: bigint;
  drops: Record<string, bigint>;
}

/** What a dispatcher counts itself (LAS only; the kernel ones have interface counters instead): the workers' sums and more. */
export interface DispatcherCounters extends WorkerCounters {
  workers: WorkerCounters[];
  flowsActive: bigint;
  flowTableFull: bigint;
  newFlows: bigint;
  servers: ServerCounters[];
  threadTicks: number;   // utime + stime of the las-io threads
  threads: number;
}

export interface BenchContext {
  topo: Topology;
  gen: Agent;
  disp: Agent;
  settings: Settings;
  tmpDir: string;
  nftAvailable: boolean;
  generate(traffic: FlowSpace, kind: Scenario['kind'], packetSize: number, ratePps: number, durationMs: number, count?: number): Promise<GeneratorResult>;
  log(message: string): void;
}

export interface RunningDispatcher {
  id: DispatcherId;
  /** How it was set up (tx mode, prefill, fallback...). */
  info: Record<string, unknown>;
  counters(): Promise<DispatcherCounters | undefined>;
  /** Applies a server change while traffic runs; resolves once the dispatcher uses it. */
  change(change: ServerChange): Promise<void>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- nftables rules

type L4 = 'udp' | 'tcp';
const l4Of = (s: Scenario): L4 => (s.kind === 'udp' ? 'udp' : 'tcp');

function match(vip: string, l4: L4, port: number): string {
  return `ip daddr ${vip} ${l4} dport ${port}`;
}

/** kernel-fwd: every VIP frame to the first server, MACs rewritten like LAS pass-through does. */
export function nftForwardRule(o: { vip: string; l4: L4; port: number; dstMac: string; srcMac: string; egress: string }): string {
  return `${match(o.vip, o.l4, o.port)} ether daddr set ${o.dstMac} ether saddr set ${o.srcMac} fwd to "${o.egress}"`;
}

/**
 * nft-lb: jhash over the same 5-tuple LAS keys flows with; weights by repeating a server in the map.
 * The seed is fixed so runs are comparable.
 */
export function nftBalancerRule(o: {
  vip: string; l4: L4; port: number; servers: Array<Pick<BenchServer, 'mac' | 'weight'>>; srcMac: string; egress: string; seed?: number;
  /** The fields hashed, as LAS's flowKey: 5tuple (default) or addresses (ip saddr . ip daddr). */
  key?: FlowKey;
}): string {
  const buckets = o.servers.flatMap((s) => Array.from({ length: s.weight }, () => s.mac));
  if (buckets.length === 0) throw new Error('the nft balancer needs at least one server with weight > 0');
  const map = buckets.map((mac, i) => `${i} : ${mac}`).join(', ');
  const key = o.key === 'addresses' ? 'ip saddr . ip daddr' : `ip saddr . ${o.l4} sport . ip daddr . ${o.l4} dport`;
  const seed = `0x${(o.seed ?? 0x4c4153).toString(16)}`;
  return `${match(o.vip, o.l4, o.port)} ether daddr set jhash ${key} mod ${buckets.length} seed ${seed} map { ${map} } ether saddr set ${o.srcMac} fwd to "${o.egress}"`;
}

export function nftRuleset(ingress: string, rule: string, table = NFT_TABLE): string {
  return [
    `table netdev ${table} {`,
    '  chain ingress {',
    `    type filter hook ingress device "${ingress}" priority 0; policy accept;`,
    `    ${rule}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Swaps the rule in one transaction: no frame sees an empty chain. */
export function nftReplaceRule(rule: string, table = NFT_TABLE): string {
  return `flush chain netdev ${table} ingress\nadd rule netdev ${table} ingress ${rule}\n`;
}

export async function nft(ns: string, script: string): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script });
}

async function startKernel(id: 'kernel-fwd' | 'nft-lb', ctx: BenchContext, scenario: Scenario): Promise<RunningDispatcher> {
  const { topo } = ctx;
  const ns = topo.dispIn.ns;
  const base = { vip: VIP, l4: l4Of(scenario), port: PORT, srcMac: topo.dispOut.mac, egress: topo.dispOut.ifname };
  const noCounters = async () => undefined;
  if (!ctx.nftAvailable) {
    if (id === 'nft-lb') throw new Error('nftables is not installed: the kernel balancer baseline cannot run');
    // tc: rewrite both MACs, then redirect to the egress veth.
    await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', topo.dispIn.ifname, 'clsact']).catch(() => undefined); // LAS may have left one
    await run('tc', ['-n', ns, 'filter', 'add', 'dev', topo.dispIn.ifname, 'ingress', 'pref', '10', 'matchall',
      'action', 'skbmod', 'set', 'dmac', SERVERS[0]!.mac, 'set', 'smac', topo.dispOut.mac, 'pipe',
      'action', 'mirred', 'egress', 'redirect', 'dev', topo.dispOut.ifname]);
    return {
      id, info: { mechanism: 'tc skbmod + mirred redirect (nftables missing)' }, counters: noCounters,
      change: async () => undefined,
      stop: async () => { await run('tc', ['-n', ns, 'filter', 'del', 'dev', topo.dispIn.ifname, 'ingress', 'pref', '10']).catch(() => undefined); },
    };
  }
  const rule = id === 'kernel-fwd'
    ? nftForwardRule({ ...base, dstMac: SERVERS[0]!.mac })
    : nftBalancerRule({ ...base, servers: SERVERS, key: scenario.flowKey });
  await nft(ns, nftRuleset(topo.dispIn.ifname, rule));
  return {
    id,
    info: { mechanism: id === 'kernel-fwd' ? 'nft netdev ingress fwd' : 'nft netdev ingress jhash map + fwd', rule },
    counters: noCounters,
    async change(change) {
      if (id !== 'nft-lb') return;
      await nft(ns, nftReplaceRule(nftBalancerRule({ ...base, servers: serversAfter(change), key: scenario.flowKey })));
    },
    async stop() {
      await run('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'netdev', NFT_TABLE]).catch(() => undefined);
    },
  };
}

// ---------------------------------------------------------------- LAS

function workerCpus(ctx: BenchContext, workers: number): number[] {
  return ctx.settings.dispatcherCpus.slice(0, workers);
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** DataplaneStats (bigints from the agent, decimal strings from the admin socket) → counters. */
export function countersFromStats(stats: unknown, ticks: { ticks: number; threads: number }): DispatcherCounters {
  const s = obj(stats);
  const workers = list(s.workers).map(obj);
  const sum = (k: string) => workers.reduce((acc, w) => acc + big(w[k]), 0n);
  const drops: Record<string, bigint> = {};
  for (const w of workers) for (const [reason, n] of Object.entries(obj(w.drops))) drops[reason] = (drops[reason] ?? 0n) + big(n);
  const perWorker: WorkerCounters[] = workers.map((w) => ({
    rxPackets: big(w.rxPackets), rxBytes: big(w.rxBytes), txPackets: big(w.txPackets), txBytes: big(w.txBytes),
    txErrors: big(w.txErrors), ringDrops: big(w.ringDrops),
    txSyscalls: big(w.txSyscalls), gsoFrames: big(w.gsoFrames), wrongWorker: big(w.wrongWorker),
    drops: Object.fromEntries(Object.entries(obj(w.drops)).map(([k, v]) => [k, big(v)])),
  }));
  const services = list(s.services).map(obj);
  const servers = services.flatMap((svc) => list(svc.servers).map(obj)).map((r) => ({
    address: String(r.address), packets: big(r.packets), newFlows: big(r.newFlows), activeFlows: big(r.activeFlows),
  }));
  return {
    rxPackets: sum('rxPackets'), rxBytes: sum('rxBytes'), txPackets: sum('txPackets'), txBytes: sum('txBytes'),
    txErrors: sum('txErrors'), ringDrops: sum('ringDrops'),
    txSyscalls: sum('txSyscalls'), gsoFrames: sum('gsoFrames'), wrongWorker: sum('wrongWorker'),
    workers: perWorker, drops,
    flowsActive: sum('flowsActive'), flowTableFull: sum('flowTableFull'),
    newFlows: services.reduce((acc, svc) => acc + big(svc.newFlows), 0n),
    servers, threadTicks: ticks.ticks, threads: ticks.threads,
  };
}

async function startPassThrough(ctx: BenchContext, scenario: Scenario): Promise<RunningDispatcher> {
  const { topo, disp } = ctx;
  const started = await disp.request<{ txMode: string }>('passthrough.start', {
    ingress: topo.dispIn.ifname, egress: topo.dispOut.ifname, workers: scenario.workers, cpus: workerCpus(ctx, scenario.workers),
    vip: VIP, server: { address: SERVERS[0]!.address, mac: SERVERS[0]!.mac }, txMode: scenario.lasTxMode ?? ctx.settings.lasTxMode,
    ...(ctx.settings.lasRing ? { ring: ctx.settings.lasRing } : {}),
  });
  return {
    id: 'las-pt',
    info: { txMode: started.txMode, workers: scenario.workers, cpus: workerCpus(ctx, scenario.workers) },
    async counters() {
      const stats = await disp.request('passthrough.stats');
      return countersFromStats(stats, await threadTicks(disp.pid, 'las-io-'));
    },
    change: async () => undefined,
    async stop() { await disp.request('passthrough.stop', {}, 15_000); },
  };
}

let configSeq = 0;

export function lasConfig(ctx: BenchContext, scenario: Scenario, adminSocket: string, servers: BenchServer[]): Record<string, unknown> {
  return {
    interface: ctx.topo.dispIn.ifname,
    egressInterface: ctx.topo.dispOut.ifname,
    workers: scenario.workers,
    cpus: workerCpus(ctx, scenario.workers),
    txMode: scenario.lasTxMode ?? ctx.settings.lasTxMode,
    ...(ctx.settings.lasRing ? { ring: ctx.settings.lasRing } : {}),
    ingressDrop: 'tc',
    gratuitousArp: false,
    flowTable: { capacity: ctx.settings.flowCapacity },
    // A removed server is a failed one here: its flows are rescheduled at once (the default drains them).
    drainOnRemove: false,
    // No metrics listener: nothing scrapes it, and back-to-back daemons need no free port.
    metrics: { enabled: false },
    adminSocket,
    // "info" for the "ready" line: the admin socket answers before the fast path has started.
    logLevel: 'info',
    services: [{
      name: 'bench',
      vip: VIP,
      port: PORT,
      protocol: l4Of(scenario),
      flowKey: scenario.flowKey ?? '5tuple',
      scheduler: 'maglev',
      maglevTableSize: MAGLEV_SIZE,
      servers: servers.map((s) => ({ address: s.address, mac: s.mac, weight: s.weight })),
    }],
  };
}

/** The flows LAS holds before it is measured: the scenario's own kind over the prefill range. */
export function prefillKind(scenario: Scenario): Scenario['kind'] {
  return scenario.kind;
}

/** Frames per second LAS took in during a saturated prefill pass, per workers/txMode: later prefills pace themselves by it. */
const learnedIntake = new Map<string, number>();

/**
 * Puts `prefill.flows` flows in LAS's table with traffic (the flows stay for the whole trial: the idle
 * timeout is minutes). Every pass sends each flow once; flows already there are lookups. The first
 * pass of a run goes at full rate and measures how fast LAS takes frames in; after that, passes go at
 * 70 % of that, so ring drops do not leave holes that more passes would have to fill.
 */
async function prefillTable(
  ctx: BenchContext, scenario: Scenario, prefill: FlowSpace, counters: () => Promise<DispatcherCounters>, txMode: string,
): Promise<Record<string, unknown>> {
  const started = Date.now();
  const key = `${scenario.workers}/${txMode}`;
  // With flowKey addresses the prefill's (address, port) pairs are only as many flows as addresses.
  const target = BigInt(flowsUnderKey(prefill, scenario.flowKey));
  const passes: Array<{ ratePps: number; sent: number; flowsActive: number; intakePps: number }> = [];
  for (let pass = 0; pass < (ctx.settings.quick ? 2 : 4); pass++) {
    const learned = learnedIntake.get(key);
    const ratePps = learned ? Math.max(20_000, Math.round(learned * (pass === 0 ? 0.7 : 0.5))) : 0;
    const t0 = Date.now();
    const rx0 = (await counters()).rxPackets;
    const r = await ctx.generate(prefill, prefillKind(scenario), 64, ratePps, 0, prefill.flows);
    // LAS may still be working through its RX ring: wait until it stops receiving.
    let rx = (await counters()).rxPackets;
    for (let i = 0; i < 300; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const now = (await counters()).rxPackets;
      if (now === rx) break;
      rx = now;
    }
    const c = await counters();
    const seconds = (Date.now() - t0 - 50) / 1000;
    const intakePps = seconds > 0 ? Number(c.rxPackets - rx0) / seconds : 0;
    if (ratePps === 0 && intakePps > 0 && Number(r.sent) > Number(c.rxPackets - rx0)) learnedIntake.set(key, intakePps);
    passes.push({ ratePps, sent: Number(r.sent), flowsActive: Number(c.flowsActive), intakePps: Math.round(intakePps) });
    if (c.flowsActive * 1000n >= target * 999n) break;
  }
  return { flows: Number(target), passes, ms: Date.now() - started };
}

async function startFull(ctx: BenchContext, scenario: Scenario, prefill: FlowSpace | undefined): Promise<RunningDispatcher> {
  const n = ++configSeq;
  const adminSocket = join(ctx.tmpDir, `admin-${n}.sock`);
  const configPath = join(ctx.tmpDir, `las-${n}.json`);
  await writeFile(configPath, `${JSON.stringify(lasConfig(ctx, scenario, adminSocket, SERVERS), null, 2)}\n`);
  const daemon: DaemonProcess = await startDaemon({ ns: ctx.topo.dispIn.ns, configPath, adminSocket, readyTimeoutMs: 60_000 });
  try {
    await waitUntil('the las daemon starting its fast path', () => /"msg"\s*:\s*"ready"/.test(daemon.output().stdout), 60_000,
      () => (daemon.running() ? undefined : `it exited: ${daemon.output().stderr.slice(-2000)}`));
  } catch (error) {
    await daemon.stop(5000);
    throw error;
  }
  const stats = async () => adminRequest(adminSocket, 'stats', {}, 5000);
  const counters = async () => countersFromStats(await stats(), await threadTicks(daemon.pid, 'las-io-'));
  const info: Record<string, unknown> = { workers: scenario.workers, cpus: workerCpus(ctx, scenario.workers), flowCapacity: ctx.settings.flowCapacity, adminSocket };
  try {
    info.txMode = obj(await stats()).txMode;
    if (prefill && prefill.flows > 0) info.prefill = await prefillTable(ctx, scenario, prefill, counters, String(info.txMode));
  } catch (error) {
    await daemon.stop(5000);
    throw error;
  }
  return {
    id: 'las-full',
    info,
    counters,
    async change(change) {
      const next = serversAfter(change);
      await writeFile(configPath, `${JSON.stringify(lasConfig(ctx, scenario, adminSocket, next), null, 2)}\n`);
      daemon.child.kill('SIGHUP');
      // The reload is done when `status` lists the new servers.
      const want = JSON.stringify(next.map((s) => [s.address, s.weight]));
      const deadline = Date.now() + 5000;
      for (;;) {
        const status = obj(await adminRequest(adminSocket, 'status', {}, 3000));
        const svc = obj(list(status.services)[0]);
        const have = JSON.stringify(list(svc.servers).map(obj).map((r) => [r.address, r.weight]));
        if (have === want) return;
        if (Date.now() > deadline) throw new Error(`the daemon did not apply the reload within 5 s (servers ${have})`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop() {
      const exit = await daemon.stop(5000);
      if (exit.signal === 'SIGKILL') ctx.log('las daemon needed SIGKILL to stop');
    },
  };
}

/** las trace's filters in the trace-64 scenario: a client the traffic never comes from, and none. */
const TRACE_ARGS = { 'las-trace-none': { client: '192.0.2.1' }, 'las-trace-all': {} } as const;

/**
 * LAS full with a trace client on its admin socket for the whole trial, reading and discarding the
 * stream as `las trace > /dev/null` would (its lines are counted, not parsed).
 */
async function startTraced(id: 'las-trace-none' | 'las-trace-all', ctx: BenchContext, scenario: Scenario, prefill: FlowSpace | undefined): Promise<RunningDispatcher> {
  const full = await startFull(ctx, scenario, prefill);
  const socket = String(full.info.adminSocket);
  const client = net.createConnection(socket);
  let lines = 0;
  let started = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('las trace: no answer from the daemon within 5 s')), 5000);
      client.on('error', reject);
      client.on('connect', () => client.write(`${JSON.stringify({ id: 1, cmd: 'trace', args: TRACE_ARGS[id] })}\n`));
      client.on('data', (chunk: Buffer) => {
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
        if (!started) {
          started = true;
          clearTimeout(timer);
          if (!chunk.toString('utf8').includes('"ok":true')) reject(new Error(`las trace refused: ${chunk.toString('utf8').slice(0, 300)}`));
          else resolve();
        }
      });
    });
  } catch (error) {
    client.destroy();
    await full.stop();
    throw error;
  }
  const info: Record<string, unknown> = { ...full.info, trace: TRACE_ARGS[id] };
  delete info.adminSocket;
  return {
    ...full,
    id,
    info,
    async stop() {
      info.traceLines = lines - 1; // the answer line aside: events and lost notices received
      client.destroy();
      await full.stop();
    },
  };
}

export async function startDispatcher(id: DispatcherId, ctx: BenchContext, scenario: Scenario, prefill?: FlowSpace): Promise<RunningDispatcher> {
  switch (id) {
    case 'las-trace-none':
    case 'las-trace-all':
      return startTraced(id, ctx, scenario, prefill);
    case 'kernel-fwd':
    case 'nft-lb':
      return startKernel(id, ctx, scenario);
    case 'las-pt':
      return startPassThrough(ctx, scenario);
    case 'las-full':
      return startFull(ctx, scenario, prefill);
  }
}
