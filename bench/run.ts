// `npm run bench [-- options]`: the LAS benchmark suite. Builds its namespaces, measures LAS beside
// the kernel's own forwarding and balancing on the same traffic, writes bench/results/<time>/.
import { Command, Option, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { loadAddon } from '../src/native/binding.js';
import { repoRoot } from '../src/demo/processes.js';
import { cleanupAll, installCleanupHandlers, trackPath } from '../src/netns/cleanup.js';
import { Agent } from './agent-client.js';
import { ASAN_FLOOD_SCENARIO, DEFAULT_FLOOD_FRAMES, runAsanFloodBench } from './asan-flood.js';
import { bulkTrialCount, runBulk, type BulkSection } from './bulk.js';
import { CHARTS, renderSvg } from './charts.js';
import {
  DISPATCHER_LABELS, DISPATCHERS, LAS_FULL, startDispatcher, type BenchContext, type DispatcherId, type RunningDispatcher,
} from './dispatchers.js';
import { backgroundLoad, checkPrerequisites, codeVersion, ensureNft, machineInfo, pktgenInRootNs } from './machine.js';
import { runTrial, type TrialResult } from './measure.js';
import { runMicro } from './micro.js';
import { forecastMoves } from './moves.js';
import { loadBenchAddon, type GeneratorResult } from '../src/native/bench-binding.js';
import type { PktgenRun } from './pktgen.js';
import { bulkTable, computeTargets, fanoutTable, headlineTable, limitsFromResults, renderSummary, roundRatios, summarise } from './report.js';
import { RESULTS_SCHEMA, stat, type BenchResults, type RatioKey, type RoundResult, type ScenarioResult, type SearchSection } from './results.js';
import {
  PORT, SERVERS, VIP, bulkScenarios, defaultSettings, fanoutScenarios, flowSpace, scenarios as allScenarios, selects, serversAfter,
  parseLasRing, type BulkToolChoice, type FlowSpace, type LasRing, type Scenario, type Settings,
} from './scenarios.js';
import { rfc2544Search } from './search.js';
import { TX_MODES } from '../src/native/contract.js';
import { createTopology, endpointMtu, parseInterfaces, type NicMap, type Topology } from './topology.js';

interface CliOptions {
  quick?: boolean;
  duration?: number;
  rounds?: number;
  scenarios?: string;
  interfaces?: string;
  out: string;
  searchSteps?: number;
  searchTrial?: number;
  lossTolerance?: number;
  prefillFlows?: number;
  flowCapacity?: number;
  generator: 'auto' | 'las-native' | 'pktgen';
  lasTxMode: Settings['lasTxMode'];
  generatorCpu?: number;
  dispatcherCpus?: number[];
  progress: boolean;
  install: boolean;
  bulkTool: BulkToolChoice;
  bulkStreams?: number;
  lasRing?: LasRing;
  frames?: number;
}

const positiveInt = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number above 0`);
  return n;
};
const cpuList = (value: string): number[] => {
  const cpus = value.split(',').map((v) => Number(v.trim()));
  if (cpus.length === 0 || cpus.some((c) => !Number.isInteger(c) || c < 0)) throw new InvalidArgumentError('give CPU numbers like 1,2');
  return cpus;
};

function buildProgram(): Command {
  return new Command()
    .name('npm run bench --')
    .description('LAS benchmark suite: LAS beside the kernel\'s own forwarding and nftables balancing, on the same topology and traffic (root)')
    .option('--quick', 'every scenario briefly (under 2 minutes): a smoke run that writes the same files')
    .option('--duration <ms>', 'measured window per trial in ms (default 3000, quick 300)', positiveInt('--duration'))
    .option('--rounds <n>', 'interleaved rounds per scenario (default 3, quick 1)', positiveInt('--rounds'))
    .option('--scenarios <list>', 'only these: scenario ids, groups (size, flows, tcp, workers, change, txmode, trace, bulk, fanout), "search", "micro"; * globs (udp-64-*); "asan-flood" alone (never part of a default run)')
    .option('--interfaces <map>', 'real NICs instead of veth: gen=IF,in=IF,out=IF,sink=IF (gen cabled to in, out to sink; moved into the suite\'s namespaces for the run)')
    .option('--out <dir>', 'results folder; each run writes <dir>/<timestamp>/', 'bench/results')
    .option('--search-steps <n>', 'RFC 2544 search: trials per dispatcher (default 7, quick 3)', positiveInt('--search-steps'))
    .option('--search-trial <ms>', 'RFC 2544 search: trial length in ms (default 1500, quick 250)', positiveInt('--search-trial'))
    .option('--loss-tolerance <ratio>', 'lost/sent still counted as "no loss" in the search (default 0.00001; 0 = strict RFC 2544)', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError('a ratio from 0 to below 1');
      return n;
    })
    .option('--prefill-flows <n>', 'flows put in LAS\'s table before each LAS full measurement (default 1000000, quick 20000)', positiveInt('--prefill-flows'))
    .option('--flow-capacity <n>', 'LAS flow table entries per worker (default 2097152, quick 65536)', positiveInt('--flow-capacity'))
    .addOption(new Option('--generator <kind>', 'traffic source: kernel pktgen when present (UDP only), else the built-in AF_PACKET generator').choices(['auto', 'las-native', 'pktgen']).default('auto'))
    .addOption(new Option('--las-tx-mode <mode>', 'LAS transmit path (the daemon\'s txMode); auto = what the daemon picks for the egress interface (src/control/tx-mode.ts)').choices(['auto', ...TX_MODES]).default('auto'))
    .option('--generator-cpu <n>', 'CPU of the generator thread (default 0)', (v) => cpuList(v)[0]!)
    .option('--dispatcher-cpus <list>', 'CPUs of LAS workers 1 and 2 (default 1,0 on two CPUs, 1,2 on more)', cpuList)
    .addOption(new Option('--bulk-tool <tool>', 'TCP bulk scenarios: what measures the uploads (auto: iperf3 when present or installable, else the Node tool)').choices(['auto', 'iperf3', 'node']).default('auto'))
    .option('--bulk-streams <n>', 'TCP bulk scenarios: parallel connections per upload (default 1)', positiveInt('--bulk-streams'))
    .option('--las-ring <keys>', 'LAS RX ring for every LAS run, the daemon\'s "ring" keys: blockSize=N,blockCount=N,retireTimeoutMs=N (default: the daemon\'s defaults)', (v) => {
      try { return parseLasRing(v); } catch (error) { throw new InvalidArgumentError((error as Error).message); }
    })
    .option('--frames <n>', `asan-flood: malformed frames to send (default ${DEFAULT_FLOOD_FRAMES})`, positiveInt('--frames'))
    .option('--no-progress', 'no progress bar')
    .option('--no-install', 'do not apt-get install missing tools (nftables, iperf3)')
    .addHelpText('after', `
Examples:
  sudo npm run bench                                   # full run, 17-20 minutes on 2 vCPUs
  sudo npm run bench -- --quick                        # every scenario briefly
  sudo npm run bench -- --scenarios udp-64-1m,search --rounds 5 --duration 10000
  sudo npm run bench -- --scenarios bulk,fanout --rounds 3     # TCP bulk uploads, 2 workers per flow key
  sudo npm run bench -- --scenarios asan-flood                 # the daemon on the ASan/UBSan addon, 10^7 malformed frames (only when named)
  sudo npm run bench -- --interfaces gen=enp1s0f0,in=enp1s0f1,out=enp2s0f0,sink=enp2s0f1

Results: bench/results/<timestamp>/{results.json,summary.md,*.svg}; see bench/README.md.`);
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
}

class Progress {
  private bar?: cliProgress.SingleBar;
  private done = 0;
  constructor(private total: number, enabled: boolean) {
    if (enabled && process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar({
        format: 'bench [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {step}',
        hideCursor: true, clearOnComplete: false, etaBuffer: 20, stream: process.stderr,
      }, cliProgress.Presets.shades_classic);
      this.bar.start(total, 0, { step: 'setting up' });
    }
  }
  step(label: string): void {
    if (this.bar) this.bar.update(this.done, { step: label });
    else process.stderr.write(`[${this.done}/${this.total}] ${label}\n`);
  }
  advance(label = ''): void {
    this.done = Math.min(this.total, this.done + 1);
    this.bar?.update(this.done, { step: label });
  }
  log(message: string): void {
    if (this.bar) {
      // Clear the bar's line, print, let the next update redraw it.
      process.stderr.write(`\r\x1b[K${message}\n`);
      this.bar.render();
    } else {
      process.stderr.write(`${message}\n`);
    }
  }
  stop(): void {
    this.bar?.update(this.total, { step: 'done' });
    this.bar?.stop();
  }
}

/** The message's first line, plus the last line of a daemon's stderr when the message carries one. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const first = text.split('\n')[0]!;
  const stderr = /--- daemon stderr ---\n([\s\S]*?)\n--- daemon stdout ---/.exec(text)?.[1]?.trim();
  const last = stderr && stderr !== '(empty)' ? stderr.split('\n').filter(Boolean).pop() : undefined;
  return last ? `${first} (${last.slice(0, 300)})` : first;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function main(argv: string[]): Promise<number> {
  const opts = buildProgram().parse(argv).opts<CliOptions>();
  const startedAt = new Date();

  const problems = await checkPrerequisites();
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`bench: ${p}\n`);
    return 2;
  }
  const named = (opts.scenarios ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (named.includes(ASAN_FLOOD_SCENARIO)) {
    if (named.length > 1) {
      process.stderr.write(`bench: run "${ASAN_FLOOD_SCENARIO}" on its own (it is a robustness run, not a speed measurement)\n`);
      return 2;
    }
    installCleanupHandlers();
    return runAsanFloodBench({
      frames: opts.frames,
      outRoot: resolve(opts.out === 'bench/results' ? join(repoRoot(), 'bench', 'results') : opts.out),
      stamp: timestamp(startedAt),
      command: ['npm run bench --', ...argv.slice(2)].join(' '),
    });
  }
  if (opts.frames !== undefined) {
    process.stderr.write(`bench: --frames is for --scenarios ${ASAN_FLOOD_SCENARIO}\n`);
    return 2;
  }
  let nics: NicMap | undefined;
  try {
    nics = opts.interfaces ? parseInterfaces(opts.interfaces) : undefined;
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    return 2;
  }
  let addon;
  try {
    addon = loadBenchAddon();
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    return 2;
  }
  const product = loadAddon();

  const machine = machineInfo();
  const settings: Settings = defaultSettings(Boolean(opts.quick), machine.cores);
  if (opts.duration) settings.durationMs = opts.duration;
  if (opts.rounds) settings.rounds = opts.rounds;
  if (opts.searchSteps) settings.searchSteps = opts.searchSteps;
  if (opts.searchTrial) settings.searchTrialMs = opts.searchTrial;
  if (opts.lossTolerance !== undefined) settings.lossTolerance = opts.lossTolerance;
  if (opts.prefillFlows) settings.prefillFlows = opts.prefillFlows;
  if (opts.flowCapacity) settings.flowCapacity = opts.flowCapacity;
  if (opts.generatorCpu !== undefined) settings.generatorCpu = opts.generatorCpu;
  settings.lasTxMode = opts.lasTxMode;
  settings.bulkTool = opts.bulkTool;
  if (opts.bulkStreams) settings.bulkStreams = opts.bulkStreams;
  if (opts.lasRing) settings.lasRing = opts.lasRing;
  if (opts.dispatcherCpus) settings.dispatcherCpus = [opts.dispatcherCpus[0]!, opts.dispatcherCpus[1] ?? opts.dispatcherCpus[0]!];
  const warnings: string[] = [];
  if (machine.cores < 2) warnings.push('one CPU only: the generator, the kernel baselines and LAS share it; ratios mean little');
  for (const c of [settings.generatorCpu, ...settings.dispatcherCpus]) {
    if (c >= machine.cores) {
      process.stderr.write(`bench: CPU ${c} does not exist (this machine has ${machine.cores})\n`);
      return 2;
    }
  }
  if (settings.prefillFlows > settings.flowCapacity) {
    process.stderr.write('bench: --prefill-flows must not exceed --flow-capacity\n');
    return 2;
  }

  const chosen = allScenarios(settings).filter((s) => selects(opts.scenarios, s.id, s.group));
  const chosenFanout = fanoutScenarios().filter((s) => selects(opts.scenarios, s.id, s.group) || selects(opts.scenarios, s.id, 'fanout'));
  const chosenBulk = bulkScenarios().filter((s) => selects(opts.scenarios, s.id, s.group));
  const wantSearch = selects(opts.scenarios, 'search');
  const wantMicro = selects(opts.scenarios, 'micro');
  if (chosen.length === 0 && chosenFanout.length === 0 && chosenBulk.length === 0 && !wantSearch && !wantMicro) {
    const ids = [...allScenarios(settings), ...fanoutScenarios(), ...bulkScenarios()].map((s) => s.id);
    process.stderr.write(`bench: --scenarios "${opts.scenarios}" selects nothing; ids: ${ids.join(', ')}, search, micro\n`);
    return 2;
  }

  const packetTrials = [...chosen, ...chosenFanout].reduce((a, s) => a + (s.only ?? DISPATCHERS).length, 0) * settings.rounds;
  const total = packetTrials + (chosenBulk.length > 0 ? bulkTrialCount(settings, chosenBulk) : 0) + (wantSearch ? DISPATCHERS.length * settings.searchSteps : 0) + (wantMicro ? 6 : 0) + 2;
  const progress = new Progress(total, opts.progress);
  const log = (m: string) => progress.log(m);
  installCleanupHandlers();

  const nft = await ensureNft(opts.install, log);
  if (nft.warning) warnings.push(nft.warning);
  const codeAtStart = await codeVersion(repoRoot());
  const loadAverage = os.loadavg();
  const loadBefore = await backgroundLoad(settings.quick ? 300 : 1000);
  const busyWarning = (when: string, load: Array<{ cpu: number; busyShare: number }>) => {
    const busy = load.filter((c) => c.busyShare > 0.1);
    if (busy.length > 0) {
      warnings.push(`other work was using the CPUs ${when} (${busy.map((c) => `CPU ${c.cpu} ${(c.busyShare * 100).toFixed(0)} %`).join(', ')}): it competes with the generator and the dispatchers, so the absolute rates are low and noisy; prefer a quiet machine`);
    }
  };
  busyWarning('before the run', loadBefore);

  const outDir = resolve(opts.out === 'bench/results' ? join(repoRoot(), 'bench', 'results') : opts.out, timestamp(startedAt));
  await mkdir(outDir, { recursive: true });
  const tmpDir = await mkdtemp(join(tmpdir(), 'las-bench-'));
  trackPath(tmpDir);

  let topo: Topology | undefined;
  const agents: Agent[] = [];
  const scenarioResults: ScenarioResult[] = [];
  const fanoutResults: ScenarioResult[] = [];
  let bulk: BulkSection | { error: string } | null = null;
  let search: SearchSection | null = null;
  let micro: BenchResults['micro'] = null;
  let generatorUsed: 'pktgen' | 'las-native' = 'las-native';
  let pktgenAvailable = false;
  let failed: unknown;

  try {
    progress.step('building the topology');
    topo = await createTopology({ interfaces: nics });
    const [gen, sink, disp] = await Promise.all([Agent.start(topo.gen.ns, 'generator'), Agent.start(topo.sink.ns, 'sink'), Agent.start(topo.dispIn.ns, 'dispatcher')]);
    agents.push(gen, sink, disp);
    await sink.request('sink.start', { ifname: topo.sink.ifname });
    const mtu = Math.min(await endpointMtu(topo.gen), await endpointMtu(topo.dispOut));
    progress.advance('topology ready');

    if (opts.generator !== 'las-native') {
      pktgenAvailable = (await pktgenInRootNs()) && (await gen.request<boolean>('pktgen.available'));
      if (opts.generator === 'pktgen' && !pktgenAvailable) throw new Error('--generator pktgen: this kernel has no pktgen (/proc/net/pktgen is missing after "modprobe pktgen")');
      if (pktgenAvailable) generatorUsed = 'pktgen';
    }

    const topology = topo;
    const ctx: BenchContext = {
      topo: topology, gen, disp, settings, tmpDir, nftAvailable: nft.available, log,
      async generate(traffic: FlowSpace, kind: Scenario['kind'], packetSize: number, ratePps: number, durationMs: number, count = 0): Promise<GeneratorResult> {
        const timeoutMs = durationMs + 60_000 + (count > 0 ? count / 100 : 0);
        if (generatorUsed === 'pktgen' && kind === 'udp') {
          const run = await gen.request<PktgenRun>('pktgen.run', {
            params: {
              device: topology.gen.ifname, thread: settings.generatorCpu, dstMac: topology.dispIn.mac, dstIp: VIP, dstPort: PORT,
              srcIpMin: traffic.srcIpMin, srcIpMax: traffic.srcIpMax, srcPortMin: traffic.srcPortMin, srcPortMax: traffic.srcPortMax,
              packetSize, count, ratePps, burst: settings.burst,
            },
            durationMs,
          }, timeoutMs);
          return { sent: BigInt(run.result.sent), errors: BigInt(run.result.errors), ringFull: 0n, elapsedNs: BigInt(Math.round(run.result.elapsedUs * 1000)) };
        }
        return gen.request<GeneratorResult>('generate', {
          interface: topology.gen.ifname, dstMac: topology.dispIn.mac, dstIp: VIP, dstPort: PORT,
          srcIpMin: traffic.srcIpMin, srcIpMax: traffic.srcIpMax, srcPortMin: traffic.srcPortMin, srcPortMax: traffic.srcPortMax,
          flows: traffic.flows, packetSize, kind, ratePps, count, durationMs, burst: settings.burst, cpu: settings.generatorCpu,
        }, timeoutMs);
      },
    };
    const prefill = flowSpace(settings.prefillFlows);

    /** Starts a dispatcher, runs fn, always stops it. */
    const withDispatcher = async <T>(id: DispatcherId, scenario: Scenario, fn: (d: RunningDispatcher) => Promise<T>): Promise<{ value: T; info: Record<string, unknown> }> => {
      let d: RunningDispatcher;
      try {
        d = await startDispatcher(id, ctx, scenario, LAS_FULL.includes(id) ? prefill : undefined);
      } catch (error) {
        // One retry: a start that fails once (a slow machine, a leftover from the previous trial)
        // should not cost the round; a second failure is reported.
        log(`${scenario.id}: starting ${id} failed, retrying once: ${error instanceof Error ? error.message : String(error)}`);
        await sleep(500);
        d = await startDispatcher(id, ctx, scenario, LAS_FULL.includes(id) ? prefill : undefined);
        d.info.retriedAfter = firstLine(error);
        warnings.push(`${scenario.id}: starting ${id} failed once and was retried: ${firstLine(error)}`);
      }
      try {
        await sleep(settings.quick ? 50 : 300); // let rings and rules settle
        return { value: await fn(d), info: d.info };
      } finally {
        await d.stop();
      }
    };

    // ---------------------------------------------------------------- scenarios
    const measureScenario = async (scenario: Scenario, index: number): Promise<ScenarioResult | undefined> => {
      if (scenario.packetSize > mtu + 14) {
        warnings.push(`${scenario.id}: ${scenario.packetSize} B frames exceed the MTU (${mtu}); skipped`);
        for (let i = 0; i < settings.rounds * (scenario.only ?? DISPATCHERS).length; i++) progress.advance();
        return undefined;
      }
      const rounds: RoundResult[] = [];
      const dispatcherInfo: ScenarioResult['dispatcherInfo'] = {};
      for (let round = 1; round <= settings.rounds; round++) {
        // Rotate the order every round (and scenario) so no dispatcher always runs first or last.
        const measured = scenario.only ?? DISPATCHERS;
        const shift = (round - 1 + index) % measured.length;
        const order = [...measured.slice(shift), ...measured.slice(0, shift)];
        const trials: RoundResult['trials'] = {};
        const errors: RoundResult['errors'] = {};
        for (const id of order) {
          progress.step(`${scenario.id} round ${round}/${settings.rounds}: ${DISPATCHER_LABELS[id]}`);
          try {
            if (id === 'nft-lb' && !nft.available) throw new Error('nftables missing');
            // A change needs time on both sides of it, also in a quick run.
            const durationMs = scenario.change ? Math.max(settings.durationMs, 1000) : settings.durationMs;
            const { value, info } = await withDispatcher(id, scenario, (d) => runTrial(ctx, sink, d, {
              scenario, traffic: scenario.traffic, ratePps: 0, durationMs, round, balances: id === 'nft-lb' || LAS_FULL.includes(id),
            }));
            trials[id] = value;
            dispatcherInfo[id] = info;
          } catch (error) {
            errors[id] = firstLine(error);
            log(`${scenario.id} round ${round} ${id}: ${error instanceof Error ? error.message : String(error)}`);
          }
          progress.advance();
        }
        rounds.push({ round, order, trials, errors, ratios: roundRatios(trials) });
      }
      let moves: ScenarioResult['moves'] = null;
      if (scenario.change) {
        const forecast = forecastMoves((s, size) => product.maglevTable(s, size), 65_537, SERVERS, serversAfter(scenario.change));
        const flows = scenario.traffic.flows;
        const measured = rounds.map((r) => r.trials['las-full']?.change?.movedMeasured).filter((v): v is number => typeof v === 'number');
        const before = rounds.map((r) => r.trials['las-full']?.change?.newFlowsBefore).filter((v): v is number => typeof v === 'number');
        moves = {
          flows,
          forecast,
          predicted: { lasFull: forecast.lasWithFlowTable * flows, maglevStateless: forecast.maglevStateless * flows, nftJhash: forecast.nftJhash * flows },
          measured: { lasFull: measured.length > 0 ? stat(measured) : null, lasNewFlowsBeforeChange: before.length > 0 ? stat(before) : null },
        };
      }
      return {
        id: scenario.id, title: scenario.title, group: scenario.group, headline: Boolean(scenario.headline),
        params: {
          kind: scenario.kind, packetSize: scenario.packetSize, flows: scenario.traffic.flows > 0 ? scenario.traffic.flows : 'random per frame',
          sources: scenario.traffic, workers: scenario.workers, change: scenario.change ?? null, prefillFlows: settings.prefillFlows,
          lasTxMode: scenario.lasTxMode ?? settings.lasTxMode, dispatchers: scenario.only ?? DISPATCHERS,
          ...(scenario.flowKey ? { flowKey: scenario.flowKey } : {}),
        },
        dispatcherInfo, rounds, summary: summarise(rounds), moves,
      };
    };
    for (const [index, scenario] of chosen.entries()) {
      const result = await measureScenario(scenario, index);
      if (result) scenarioResults.push(result);
    }
    // Two workers behind the fanout program, per flow key: their own section of results.json.
    for (const [index, scenario] of chosenFanout.entries()) {
      const result = await measureScenario(scenario, chosen.length + index);
      if (result) fanoutResults.push(result);
    }

    // ---------------------------------------------------------------- TCP bulk uploads (their own LVS-DR segment)
    if (chosenBulk.length > 0) {
      try {
        bulk = await runBulk({
          settings, tmpDir, nftAvailable: nft.available, install: opts.install, log,
          step: (label) => progress.step(label), advance: (label) => progress.advance(label),
        }, chosenBulk);
        warnings.push(...bulk.warnings);
      } catch (error) {
        bulk = { error: firstLine(error) };
        log(`bulk: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      }
    }

    // ---------------------------------------------------------------- RFC 2544 search
    if (wantSearch) {
      const scenario = allScenarios(settings).find((s) => s.headline)!;
      const section: SearchSection = {
        scenario: scenario.id, lossTolerance: settings.lossTolerance, steps: settings.searchSteps, trialMs: settings.searchTrialMs, perDispatcher: {}, ratios: {}, ratioBounds: {},
      };
      for (const id of DISPATCHERS) {
        progress.step(`RFC 2544 search: ${DISPATCHER_LABELS[id]}`);
        let used = 0;
        try {
          if (id === 'nft-lb' && !nft.available) throw new Error('nftables missing');
          const { value } = await withDispatcher(id, scenario, async (d) => {
            const trial = (ratePps: number) => {
              used++;
              progress.step(`RFC 2544 search: ${DISPATCHER_LABELS[id]}, trial ${used} at ${ratePps > 0 ? `${(ratePps / 1e6).toFixed(3)} Mpps` : 'full rate'}`);
              return runTrial(ctx, sink, d, { scenario, traffic: scenario.traffic, ratePps, durationMs: settings.searchTrialMs, round: 0, balances: id === 'nft-lb' || id === 'las-full' })
                .finally(() => progress.advance());
            };
            const result = await rfc2544Search(async (rate) => {
              const t: TrialResult = await trial(rate);
              return { offeredPps: t.offeredPps, deliveredPps: t.deliveredPps, sent: t.sent, lost: t.lost, lossRatio: t.lossRatio, backlog: t.backlog };
            }, { steps: settings.searchSteps, lossTolerance: settings.lossTolerance });
            return { ...result, maxRatePps: result.trials[0]?.offeredPps ?? 0 };
          });
          section.perDispatcher[id] = value;
        } catch (error) {
          section.perDispatcher[id] = { error: firstLine(error) };
          log(`search ${id}: ${error instanceof Error ? error.message : String(error)}`);
        }
        for (; used < settings.searchSteps; used++) progress.advance();
      }
      const best = (id: DispatcherId) => {
        const r = section.perDispatcher[id];
        return r && !('error' in r) ? r.highestLosslessPps : undefined;
      };
      const atLimit = (id: DispatcherId) => {
        const r = section.perDispatcher[id];
        return Boolean(r && !('error' in r) && r.limitedByGenerator);
      };
      for (const [a, b] of [['las-full', 'nft-lb'], ['las-full', 'las-pt'], ['las-pt', 'nft-lb'], ['nft-lb', 'kernel-fwd'], ['las-full', 'kernel-fwd']] as const) {
        const x = best(a);
        const y = best(b);
        if (x === undefined || !y) continue;
        const key = `${a}/${b}` as RatioKey;
        section.ratios[key] = x / y;
        // A dispatcher lossless at the generator's full rate only has a lower bound.
        section.ratioBounds[key] = atLimit(a) && atLimit(b) ? 'unknown' : atLimit(a) ? 'lower' : atLimit(b) ? 'upper' : 'exact';
      }
      search = section;
    }

    // ---------------------------------------------------------------- micro-benchmarks
    if (wantMicro) {
      try {
        micro = await runMicro(addon, product.FLOW_ENTRY_BYTES, settings.flowCapacity, settings.quick, (step) => { progress.step(step); progress.advance(step); });
      } catch (error) {
        micro = { error: error instanceof Error ? error.message : String(error) };
        log(`micro-benchmarks: ${micro.error}`);
      }
    }
  } catch (error) {
    failed = error;
  } finally {
    progress.step('cleaning up');
    for (const a of agents) await a.stop().catch(() => undefined);
    await topo?.destroy().catch((error: unknown) => warnings.push(`cleanup: ${String(error)}`));
    await cleanupAll().catch((error: unknown) => warnings.push(`cleanup: ${String(error)}`));
    progress.advance();
    progress.stop();
  }
  const codeAtEnd = await codeVersion(repoRoot());
  if (codeAtEnd.addonBuiltAt !== codeAtStart.addonBuiltAt || codeAtEnd.distBuiltAt !== codeAtStart.distBuiltAt) {
    warnings.push(`the code was rebuilt during the run (addon ${codeAtStart.addonBuiltAt} → ${codeAtEnd.addonBuiltAt}, dist/src ${codeAtStart.distBuiltAt} → ${codeAtEnd.distBuiltAt}): LAS processes started after that ran other code, so the scenarios are not comparable; run again`);
  } else if (codeAtEnd.commit !== codeAtStart.commit) {
    warnings.push(`git HEAD moved during the run (${codeAtStart.commit?.slice(0, 12)} → ${codeAtEnd.commit?.slice(0, 12)}) but neither the addon nor dist/ was rebuilt: the whole run measured the build of ${codeAtStart.commit?.slice(0, 12)}`);
  }
  const loadAfter = await backgroundLoad(settings.quick ? 300 : 1000);
  busyWarning('after the run', loadAfter);
  const disturbed = [...scenarioResults, ...fanoutResults].flatMap((s) => s.rounds.flatMap((x) => Object.values(x.trials).map((t) => ({ s: s.id, t: t! }))))
    .filter(({ t }) => t.cpu.foreignCpus > 0.1);
  if (disturbed.length > 0) {
    const worst = disturbed.reduce((a, b) => (b.t.cpu.foreignCpus > a.t.cpu.foreignCpus ? b : a));
    warnings.push(`in ${disturbed.length} trial(s) other jobs on the machine used more than 10 % of a CPU (most: ${(worst.t.cpu.foreignCpus * 100).toFixed(0)} % in ${worst.s} round ${worst.t.round}, ${worst.t.dispatcher}); those figures are low. results.json has cpu.foreignCpus per trial.`);
  }
  if (failed) {
    process.stderr.write(`bench: ${failed instanceof Error ? failed.stack ?? failed.message : String(failed)}\n`);
  }

  const finishedAt = new Date();
  const files = ['results.json', 'summary.md'];
  const results: BenchResults = {
    schema: RESULTS_SCHEMA,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    command: ['npm run bench --', ...argv.slice(2)].join(' ').replace(/ --$/, ''),
    mode: settings.quick ? 'quick' : 'full',
    settings,
    machine,
    code: { start: codeAtStart, end: codeAtEnd },
    backgroundLoad: { before: loadBefore, after: loadAfter, loadAverage },
    generator: {
      used: generatorUsed,
      pktgenAvailable,
      note: generatorUsed === 'pktgen'
        ? 'kernel pktgen for UDP (random source address and port per frame over the flow range); the built-in AF_PACKET generator for TCP'
        : `built-in AF_PACKET TX-ring generator${opts.generator === 'las-native' ? ' (chosen)' : '; kernel pktgen not available (no /proc/net/pktgen after modprobe pktgen)'}`,
    },
    topology: {
      kind: nics ? 'nic' : 'veth',
      namespaces: topo?.namespaces ?? [],
      interfaces: topo ? { gen: topo.gen.ifname, in: topo.dispIn.ifname, out: topo.dispOut.ifname, sink: topo.sink.ifname } : {},
      vip: VIP, port: PORT,
      servers: SERVERS.map(({ name, address, mac }) => ({ name, address, mac })),
    },
    dispatchers: DISPATCHERS.map((id) => ({ id, label: DISPATCHER_LABELS[id] })),
    scenarios: scenarioResults,
    fanout: fanoutResults,
    bulk,
    search,
    micro,
    targets: [],
    limits: [],
    warnings,
    files,
  };
  results.targets = computeTargets(results);
  results.limits = [...limitsFromResults(results), ...STATIC_LIMITS(results)];
  for (const chart of CHARTS) {
    const spec = chart.spec(results);
    if (!spec) continue;
    try {
      await writeFile(join(outDir, chart.file), await renderSvg(spec));
      files.push(chart.file);
    } catch (error) {
      warnings.push(`chart ${chart.file}: ${String(error)}`);
    }
  }
  if (failed) warnings.push(`the run stopped early: ${failed instanceof Error ? failed.message.split('\n')[0] : String(failed)}`);
  await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, 'summary.md'), renderSummary(results));

  if (results.scenarios.length > 0) process.stdout.write(`\n${headlineTable(results)}\n`);
  if (results.fanout.length > 0) process.stdout.write(`\n${fanoutTable(results)}\n`);
  if (results.bulk) process.stdout.write(`\n${bulkTable(results)}\n`);
  process.stdout.write(`\nResults: ${relative(process.cwd(), outDir) || outDir}/ (${files.join(', ')})\n`);
  return failed ? 1 : 0;
}

/** "txMode auto resolved to sendmmsg here. " from what the LAS dispatchers reported. */
function autoMode(r: BenchResults): string {
  const modes = new Set(r.scenarios.filter((s) => s.params.lasTxMode === 'auto')
    .flatMap((s) => [s.dispatcherInfo['las-full']?.txMode, s.dispatcherInfo['las-pt']?.txMode]).filter((m) => typeof m === 'string'));
  return modes.size > 0 ? `txMode auto resolved to ${[...modes].join(' and ')} here. ` : '';
}

function STATIC_LIMITS(r: BenchResults): string[] {
  const notes = [
    'Every packet crosses three veth hops on the same two cores. veth runs the receiving side\'s work on the sending CPU: the generator\'s core also does the dispatcher namespace\'s receive (and for the kernel baselines all of the forwarding and the sink\'s receive), while LAS\'s send work and the sink\'s receive run on the LAS worker\'s core. The kernel baselines therefore compete with the generator for one core, and LAS with the sink for the other.',
    `LAS's worker time is mostly the kernel's transmit path and veth (and the sink's receive, which veth runs in the same thread) rather than its own parse-lookup-rewrite work (compare the micro-benchmarks). ${autoMode(r)}On veth the TX ring is not zero-copy (the kernel copies each frame) and every send() is a syscall; the txmode-* rows show what each transmit path gives on this machine. On a real NIC (--interfaces) the TX ring avoids the copy.`,
    'The offered rate is what one generator core reaches while it also carries that receive work; at full rate every dispatcher is overloaded, so "delivered" is the dispatcher\'s (or its core\'s) capacity and the losses show where the excess was dropped.',
    `Rates on a shared VM move ±15–25 % from run to run; read the ratios within a round. ${r.settings.rounds} round(s) of ${r.settings.durationMs} ms were run here.`,
  ];
  if (r.mode === 'quick') notes.push('This is a quick run: windows are too short and rounds too few for the numbers to mean much; it checks that everything runs.');
  return notes;
}

// Run when executed directly (node dist/bench/run.js), not when imported by a test.
if (process.argv[1] && resolve(process.argv[1]).endsWith(join('bench', 'run.js'))) {
  main(process.argv).then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  });
}
