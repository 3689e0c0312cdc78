// summary.md and the derived parts of results.json (per-dispatcher summaries, ratios, targets, the
// "what limits the numbers" notes).
import { BULK_PATH_LABELS, BULK_PATHS, type BulkPath, type BulkSection, type BulkTrial } from './bulk.js';
import { ALL_DISPATCHERS, DISPATCHER_LABELS, DISPATCHERS, type DispatcherId } from './dispatchers.js';
import type { TrialResult } from './measure.js';
import { RATIOS, stat, type BenchResults, type DispatcherSummary, type RatioKey, type RoundResult, type ScenarioResult, type Stat, type Target } from './results.js';

// ---------------------------------------------------------------- derived figures

export function roundRatios(trials: RoundResult['trials']): Partial<Record<RatioKey, number>> {
  const out: Partial<Record<RatioKey, number>> = {};
  for (const [a, b] of RATIOS) {
    const x = trials[a]?.deliveredPps;
    const y = trials[b]?.deliveredPps;
    if (x !== undefined && y !== undefined && y > 0) out[`${a}/${b}` as RatioKey] = x / y;
  }
  return out;
}

function interfaceDropped(t: TrialResult): number {
  return Object.values(t.drops.interfaces).reduce((a, i) => a + i.rxDropped + i.txDropped, 0);
}

export function summarise(rounds: RoundResult[]): ScenarioResult['summary'] {
  const perDispatcher: Partial<Record<DispatcherId, DispatcherSummary>> = {};
  for (const id of ALL_DISPATCHERS) {
    const trials = rounds.map((r) => r.trials[id]).filter((t): t is TrialResult => t !== undefined);
    if (trials.length === 0) continue;
    const threadNs = trials.map((t) => t.cpu.dispatcherThreadNsPerPacket).filter((v): v is number => v !== null);
    const cv = trials.map((t) => t.spread?.cv).filter((v): v is number => v !== undefined);
    const sum = (f: (t: TrialResult) => number | null) => {
      const values = trials.map(f);
      return values.every((v) => v === null) ? null : values.reduce<number>((a, v) => a + (v ?? 0), 0);
    };
    perDispatcher[id] = {
      deliveredPps: stat(trials.map((t) => t.deliveredPps)),
      offeredPps: stat(trials.map((t) => t.offeredPps)),
      lossRatio: stat(trials.map((t) => t.lossRatio)),
      threadNsPerPacket: threadNs.length > 0 ? stat(threadNs) : null,
      spreadCv: cv.length > 0 ? stat(cv) : null,
      drops: {
        generatorErrors: sum((t) => t.drops.generatorErrors) ?? 0,
        dispatcherRingDrops: sum((t) => t.drops.dispatcherRingDrops),
        dispatcherOther: sum((t) => (t.drops.dispatcherDrops ? Object.values(t.drops.dispatcherDrops).reduce((a, b) => a + b, 0) : null)),
        sinkRingDrops: sum((t) => t.drops.sinkRingDrops) ?? 0,
        softnetDropped: sum((t) => t.drops.softnetDropped) ?? 0,
        interfaceDropped: sum((t) => interfaceDropped(t)) ?? 0,
      },
    };
  }
  const ratios: Partial<Record<RatioKey, Stat>> = {};
  for (const [a, b] of RATIOS) {
    const key = `${a}/${b}` as RatioKey;
    const values = rounds.map((r) => r.ratios[key]).filter((v): v is number => v !== undefined);
    if (values.length > 0) ratios[key] = stat(values);
  }
  return { perDispatcher, ratios };
}

export function computeTargets(r: BenchResults): Target[] {
  const targets: Target[] = [];
  const headline = r.scenarios.find((s) => s.headline);
  const ratio = (key: RatioKey) => headline?.summary.ratios[key];
  const vsNft = ratio('las-full/nft-lb');
  targets.push({
    name: `LAS full / kernel nftables balancer (${headline?.id ?? 'headline scenario not run'})`,
    target: '≥ 1.45×',
    value: vsNft ? `${fx(vsNft.median)} (${fx(vsNft.min)}–${fx(vsNft.max)})` : 'n/a',
    met: vsNft ? vsNft.median >= 1.45 : null,
  });
  const vsPt = ratio('las-full/las-pt');
  targets.push({
    name: 'LAS full / LAS pass-through (logic costs < 5 %)',
    target: '≥ 0.95×',
    value: vsPt ? `${fx(vsPt.median)} (${fx(vsPt.min)}–${fx(vsPt.max)})` : 'n/a',
    met: vsPt ? vsPt.median >= 0.95 : null,
  });
  const full = r.search?.perDispatcher['las-full'];
  if (full && !('error' in full)) {
    // 2 % margin: two trials at about the same measured rate can land on either side.
    const below = full.trials.filter((t) => t.offeredPps < full.highestLosslessPps * 0.98);
    const lossy = below.filter((t) => !t.lossless);
    targets.push({
      name: 'LAS full: no loss below its highest lossless rate',
      target: 'every trial > 2 % slower lossless',
      value: `${mpps(full.highestLosslessPps)} Mpps${full.limitedByGenerator ? ' (the generator\'s full rate)' : ''}; ${below.length - lossy.length}/${below.length} slower trials lossless`,
      met: full.highestLosslessPps > 0 ? lossy.length === 0 : false,
    });
  } else {
    targets.push({ name: 'LAS full: no loss below its highest lossless rate', target: 'every slower trial lossless', value: 'search not run', met: null });
  }
  const micro = r.micro && !('error' in r.micro) ? r.micro : undefined;
  targets.push({
    name: `parse + lookup + rewrite per frame (micro, ${micro ? micro.classify.prefillFlows.toLocaleString('en-US') : '1,000,000'} flows in the table, lookups cache-cold)`,
    target: '≤ 100 ns',
    value: micro ? `${micro.classify.nsPerFrame.toFixed(1)} ns (cache-hot: ${micro.classifyHot.nsPerFrame.toFixed(1)} ns)` : 'n/a',
    met: micro ? micro.classify.nsPerFrame <= 100 : null,
  });
  targets.push({
    name: 'IPv6 per-frame cost: 78 B v6 UDP against 64 B v4 UDP (micro, same run, cache-cold)',
    target: 'v6 rate ≥ 0.95 × v4',
    value: micro?.v6 ? `${micro.v6.rateRatio.toFixed(3)} × (cache-hot: ${micro.v6.rateRatioHot.toFixed(3)} ×)` : 'n/a',
    met: micro?.v6 ? micro.v6.rateRatio >= 0.95 : null,
  });
  const ft = micro?.flowTable[micro.flowTable.length - 1];
  targets.push({
    name: 'flow entry size',
    target: '≤ 64 B',
    value: ft ? `${ft.entryBytes} B per entry; ${micro!.flowTable.map((f) => `${f.bytesPerEntry.toFixed(1)} B of table per flow at ${f.entries.toLocaleString('en-US')}`).join(', ')}` : 'n/a',
    met: ft ? ft.entryBytes <= 64 : null,
    note: 'the table has a power-of-two number of slots >= 4/3 of its capacity, so memory per flow is higher than the entry',
  });
  const mg = micro?.maglev.find((m) => m.servers === 1000);
  targets.push({
    name: 'Maglev build, 1000 servers, M = 65537',
    target: '≤ 5 ms',
    value: mg ? `${mg.buildMs.toFixed(2)} ms` : 'n/a',
    met: mg ? mg.buildMs <= 5 : null,
  });
  return targets;
}

/** Observations from the figures themselves: which core was busy, where frames were lost. */
export function limitsFromResults(r: BenchResults): string[] {
  const notes = packetLimits(r);
  const bulk = r.bulk && !('error' in r.bulk) ? r.bulk : undefined;
  if (bulk) notes.push(...bulkLimits(bulk, r.machine.cores));
  if (r.fanout.length > 0) {
    notes.push(`Two LAS workers (fanout-*) on ${r.machine.cores} CPUs: the second worker shares CPU ${r.settings.dispatcherCpus[1] ?? 0} with the generator${r.machine.cores <= 2 ? ', so the rate says little about scaling' : ''}; what these scenarios check is that every frame reaches the worker owning its flow (wrongWorker 0) and how evenly the fanout program splits the flows between the workers.`);
  }
  return notes;
}

function packetLimits(r: BenchResults): string[] {
  const notes: string[] = [];
  const headline = r.scenarios.find((s) => s.headline) ?? r.scenarios[0];
  if (!headline) return notes;
  const gcpu = r.settings.generatorCpu;
  const dcpu = r.settings.dispatcherCpus[0] ?? 1;
  for (const id of DISPATCHERS) {
    const trials = headline.rounds.map((x) => x.trials[id]).filter((t): t is TrialResult => t !== undefined);
    if (trials.length === 0) continue;
    const busy = (cpu: number) => stat(trials.map((t) => t.cpu.perCpu.find((c) => c.cpu === cpu)?.busyShare ?? NaN)).median;
    const d = headline.summary.perDispatcher[id]!;
    const losses: Array<[string, number]> = [
      ['LAS RX ring (PACKET_STATISTICS tp_drops)', d.drops.dispatcherRingDrops ?? 0],
      ['LAS drops (tx errors, no server, ...)', d.drops.dispatcherOther ?? 0],
      ['CPU backlog (softnet_stat)', d.drops.softnetDropped],
      ['interface counters', d.drops.interfaceDropped],
      ['sink RX ring', d.drops.sinkRingDrops],
      ['generator (refused frames)', d.drops.generatorErrors],
    ];
    const lost = trials.reduce((a, t) => a + t.lost, 0);
    const sent = trials.reduce((a, t) => a + t.sent, 0);
    const top = losses.filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    const where = lost === 0 ? 'nothing was lost' :
      top.length > 0 ? `lost ${pct(lost / sent)} of the frames, counted at: ${top.map(([w, n]) => `${w} ${n.toLocaleString('en-US')}`).join(', ')}` :
        `lost ${pct(lost / sent)} of the frames without any counter owning up (in flight at the end, or dropped before a counted hop)`;
    notes.push(`${DISPATCHER_LABELS[id]} (${headline.id}): CPU ${gcpu} (generator) busy ${pct(busy(gcpu))}, CPU ${dcpu} busy ${pct(busy(dcpu))}; ${where}.`);
  }
  // Kernel baselines run in the generator's own softirq: they cannot lose frames, they slow it down.
  const kernelLossless = (['kernel-fwd', 'nft-lb'] as const).every((id) => (headline.summary.perDispatcher[id]?.lossRatio.max ?? 1) < 1e-4);
  const generatorAlone = Math.max(0, ...headline.rounds.flatMap((x) => [x.trials['las-pt']?.offeredPps ?? 0, x.trials['las-full']?.offeredPps ?? 0]));
  if (kernelLossless && generatorAlone > 0) {
    notes.push(`The kernel baselines lost nothing: they forward inside the generator's own transmit (veth runs the receive on the sender's CPU), so their cost slows the generator instead of dropping frames. Their delivered rate is what CPU ${gcpu} does generating and forwarding together; with LAS on the other core the same generator offered up to ${mpps(generatorAlone)} Mpps.`);
  }
  for (const sc of r.scenarios.filter((s) => s.group === 'trace')) {
    const d = (id: DispatcherId) => mpps(sc.summary.perDispatcher[id]?.deliveredPps.median);
    const lines = (id: DispatcherId) => sc.dispatcherInfo[id]?.traceLines;
    notes.push(`las trace (${sc.id}, Mpps delivered, same round): no trace ${d('las-full')}; a trace matching nothing ${d('las-trace-none')} (${ratioCell(sc.summary.ratios['las-trace-none/las-full'])} of no trace); a trace matching every frame ${d('las-trace-all')} (${ratioCell(sc.summary.ratios['las-trace-all/las-full'])}; its client received ${String(lines('las-trace-all') ?? 'n/a')} lines in the last round, the rest counted as lost).`);
  }
  const modes = r.scenarios.filter((s) => s.group === 'txmode');
  if (modes.length > 0) {
    const line = (id: DispatcherId) => modes.map((s) => `${s.params.lasTxMode} ${mpps(s.summary.perDispatcher[id]?.deliveredPps.median)}`).join(', ');
    const best = [...modes].sort((a, b) => (b.summary.perDispatcher['las-full']?.deliveredPps.median ?? 0) - (a.summary.perDispatcher['las-full']?.deliveredPps.median ?? 0))[0];
    const auto = headline.dispatcherInfo['las-full']?.txMode ?? headline.dispatcherInfo['las-pt']?.txMode;
    notes.push(`Transmit path (Mpps delivered, headline traffic): LAS pass-through ${line('las-pt')}; LAS full ${line('las-full')}. Fastest for LAS full here: ${best?.params.lasTxMode ?? 'n/a'}${auto ? `; the other scenarios ran with ${String(auto)} (txMode ${r.settings.lasTxMode})` : ''}.`);
  }
  return notes;
}

// ---------------------------------------------------------------- formatting

const fx = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}×`);
const mpps = (pps: number | undefined) => (pps === undefined || !Number.isFinite(pps) ? 'n/a' : (pps / 1e6).toFixed(3));
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(v < 0.001 && v > 0 ? 4 : 1)} %`);
const count = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toLocaleString('en-US'));

function ratioCell(s: Stat | undefined): string {
  if (!s) return 'n/a';
  return s.n > 1 ? `**${fx(s.median)}** (${fx(s.min)}–${fx(s.max)})` : `**${fx(s.median)}**`;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const gb = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(2));
const statCell = (s: Stat | null | undefined, f: (v: number) => string) => (!s ? 'n/a' : s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median));

/** LAS 2 workers beside the kernel balancer, per flow key: rate, ratio, per-worker shares, wrongWorker. */
export function fanoutTable(r: BenchResults): string {
  return table(
    ['scenario', 'flow key', 'nft balancer (Mpps)', 'LAS 2 workers (Mpps)', 'LAS / nft', 'LAS per-worker share of frames (median)', 'wrongWorker (all rounds)', 'LAS spread cv', 'LAS ring drops'],
    r.fanout.map((sc) => {
      const las = sc.rounds.map((x) => x.trials['las-full']).filter((t): t is TrialResult => t !== undefined);
      const workers = Math.max(0, ...las.map((t) => t.las?.workers.length ?? 0));
      const shares = Array.from({ length: workers }, (_, w) => stat(las.map((t) => t.las?.workers[w]?.rxShare ?? NaN)));
      const wrong = las.flatMap((t) => (t.las ? [t.las.wrongWorker] : []));
      const wrongCell = wrong.length === 0 ? 'n/a' : String(wrong.reduce((a, v) => a + v, 0));
      const full = sc.summary.perDispatcher['las-full'];
      return [
        sc.id, sc.params.flowKey ?? '5tuple',
        mpps(sc.summary.perDispatcher['nft-lb']?.deliveredPps.median), mpps(full?.deliveredPps.median),
        ratioCell(sc.summary.ratios['las-full/nft-lb']),
        shares.length > 0 ? shares.map((st, w) => `w${w} ${pct(st.median)}`).join(', ') : 'n/a',
        wrongCell,
        full?.spreadCv ? full.spreadCv.median.toFixed(3) : 'n/a',
        count(full?.drops.dispatcherRingDrops),
      ];
    }),
  );
}

function bulkPathCell(b: BulkSection['scenarios'][number], path: BulkPath): string {
  const p = b.summary.perPath[path];
  if (!p) return 'n/a';
  return `${statCell(p.gbps, gb)}${p.failed > 0 ? ` (${p.failed} failed)` : ''}`;
}

/** TCP bulk uploads: Gbit/s per path, ratios within each round, retransmits, LAS frames per syscall and super-frames. */
export function bulkTable(r: BenchResults): string {
  if (!r.bulk) return '';
  if ('error' in r.bulk) return `TCP bulk scenarios failed: ${r.bulk.error}`;
  const b = r.bulk;
  const perPath = (sc: BulkSection['scenarios'][number], f: (p: NonNullable<BulkSection['scenarios'][number]['summary']['perPath'][BulkPath]>) => string) =>
    BULK_PATHS.map((p) => { const x = sc.summary.perPath[p]; return x ? f(x) : 'n/a'; }).join(' / ');
  const retr = (sc: BulkSection['scenarios'][number]) => perPath(sc, (x) => (x.retransmits ? String(Math.round(x.retransmits.median)) : 'n/a'));
  const rtt = (sc: BulkSection['scenarios'][number]) => perPath(sc, (x) => (x.rttUs ? (x.rttUs.median / 1000).toFixed(2) : 'n/a'));
  return table(
    ['scenario', `direct (Gbit/s)`, 'LAS (Gbit/s)', 'nft DSR (Gbit/s)', 'LAS / nft', 'LAS / direct', 'nft / direct', 'retransmits direct / LAS / nft', 'RTT ms direct / LAS / nft', 'LAS frames per syscall', 'LAS super-frames (gsoFrames / rx)', 'LAS worker CPU', 'LAS oversize drops', 'wrongWorker'],
    b.scenarios.map((sc) => {
      const las = sc.summary.perPath.las;
      return [
        sc.title, bulkPathCell(sc, 'direct'), bulkPathCell(sc, 'las'), bulkPathCell(sc, 'nft'),
        ratioCell(sc.summary.ratios['las/nft']), ratioCell(sc.summary.ratios['las/direct']), ratioCell(sc.summary.ratios['nft/direct']),
        retr(sc), rtt(sc),
        statCell(las?.framesPerSyscall, (v) => v.toFixed(2)),
        statCell(las?.superFrameShare, (v) => pct(v)),
        las?.lasThreadCpus ? `${las.lasThreadCpus.median.toFixed(2)} CPU` : 'n/a',
        las?.oversizeDrops === null || las?.oversizeDrops === undefined ? 'n/a' : count(las.oversizeDrops),
        las?.wrongWorker === null || las?.wrongWorker === undefined ? 'n/a' : count(las.wrongWorker),
      ];
    }),
  );
}

function bulkSection(r: BenchResults): string[] {
  const out: string[] = [];
  if (!r.bulk) return out;
  out.push('## TCP bulk upload through the dispatcher (LVS-DR segment)', '');
  if ('error' in r.bulk) {
    out.push(`Not run: ${r.bulk.error}`, '');
    return out;
  }
  const b = r.bulk;
  out.push(`Client → VIP:${b.port} → dispatcher → server, ACKs straight back; ${b.streams} TCP connection(s) per upload of ${b.seconds} s, measured with **${b.tool}**${b.iperf3Version ? ` (${b.iperf3Version})` : ''}: ${b.toolNote}. Paths: ${BULK_PATHS.map((p) => `**${p}** = ${BULK_PATH_LABELS[p]}`).join('; ')}. LAS worker pinned to CPU ${b.lasCpu}, client and server not pinned. LAS: ${b.service.workers} worker, flowKey ${b.service.flowKey}, txMode ${b.service.txMode}${b.service.ring ? `, RX ring ${Object.entries(b.service.ring).map(([k, v]) => `${k} ${v}`).join(', ')} (--las-ring)` : ''}; the nft balancer hashes the same addresses. ${b.topology.note}. Gbit/s = bytes the server application received / the tool's time; ratios are medians of the ratios within each round (min–max); retransmits = TcpRetransSegs growth in the client namespace.`, '');
  out.push(bulkTable(r), '');
  if (b.toolCheck) {
    const t = b.toolCheck;
    out.push(`Tool check, direct path, offloads on (is the Node tool the limit?): iperf3 ${statCell(t.summary.iperf3, gb)} Gbit/s, Node tool ${statCell(t.summary.node, gb)} Gbit/s, Node / iperf3 ${t.summary.nodeOverIperf3 ? ratioCell(t.summary.nodeOverIperf3) : 'n/a'}.`, '');
  } else {
    out.push('Tool check: not run (iperf3 not available); the Node tool measured every path.', '');
  }
  const rows: string[][] = [];
  const cpuCell = (t: BulkTrial) => t.cpu.perCpu.map((c) => `${c.cpu}: ${pct(c.busyShare)}`).join(', ');
  const trialRow = (label: string, t: BulkTrial) => [
    label, String(t.round), t.path, t.tool, gb(t.gbps), t.completed ? 'yes' : `**no**${t.error ? `: ${t.error.slice(0, 160).replace(/\|/g, '/')}` : ''}`,
    count(t.retransmits), t.rttUs ? `${(t.rttUs.mean / 1000).toFixed(2)} (${(t.rttUs.min / 1000).toFixed(2)}–${(t.rttUs.max / 1000).toFixed(2)})` : '–', t.server ?? '–', cpuCell(t), pct(t.cpu.foreignCpus),
    t.las ? `rx ${count(t.las.rxPackets)}, tx ${count(t.las.txPackets)}, ${t.las.framesPerSyscall === null ? 'syscalls n/a' : `${t.las.framesPerSyscall.toFixed(2)} frames/syscall`}, ${t.las.superFrameShare === null ? 'gso n/a' : `gso ${pct(t.las.superFrameShare)}`}, worker ${t.las.threadCpus.toFixed(2)} CPU${Object.keys(t.las.drops).length > 0 ? `, drops ${Object.entries(t.las.drops).map(([k, v]) => `${k} ${count(v)}`).join(' ')}` : ''}${t.las.ringDrops > 0 ? `, ring drops ${count(t.las.ringDrops)}` : ''}` : '',
  ];
  for (const round of b.toolCheck?.rounds ?? []) for (const tool of round.order) { const t = round.trials[tool]; if (t) rows.push(trialRow('tool check', t)); }
  for (const sc of b.scenarios) for (const round of sc.rounds) for (const path of round.order) { const t = round.trials[path]; if (t) rows.push(trialRow(sc.id, t)); }
  out.push('<details><summary>Every upload</summary>', '');
  out.push(table(['scenario', 'round', 'path', 'tool', 'Gbit/s', 'completed', 'retransmits', 'RTT ms (min–max)', 'server', 'CPU busy', 'other jobs', 'LAS'], rows), '');
  out.push('</details>', '');
  return out;
}

function bulkLimits(b: BulkSection, cores: number): string[] {
  const notes: string[] = [];
  for (const sc of b.scenarios) {
    const las = sc.rounds.map((x) => x.trials.las).filter((t): t is BulkTrial => t !== undefined && t.completed);
    if (las.length === 0) continue;
    const busiest = stat(las.map((t) => Math.max(0, ...t.cpu.perCpu.map((c) => c.busyShare)))).median;
    const worker = sc.summary.perPath.las?.lasThreadCpus?.median;
    const rttLas = sc.summary.perPath.las?.rttUs?.median;
    const rttNft = sc.summary.perPath.nft?.rttUs?.median ?? sc.summary.perPath.direct?.rttUs?.median;
    const rtt = rttLas !== undefined ? `; mean RTT through LAS ${(rttLas / 1000).toFixed(2)} ms${rttNft !== undefined ? ` (${sc.summary.perPath.nft?.rttUs ? 'nft' : 'direct'} ${(rttNft / 1000).toFixed(2)} ms)` : ''}` : '';
    const retrans = sc.summary.perPath.las?.retransmits?.median;
    const delayBound = busiest < 0.85 && rttLas !== undefined && rttNft !== undefined && rttLas > 2 * rttNft && retrans !== undefined && retrans < 10;
    notes.push(`${sc.id}: during the LAS uploads the busiest CPU was ${pct(busiest)} busy and LAS's worker used ${worker !== undefined ? worker.toFixed(2) : 'n/a'} CPU${rtt}${retrans !== undefined ? `, ${Math.round(retrans)} retransmits` : ''}${delayBound ? `. No CPU saturated and nothing was lost while the round trip grew ${(rttLas! / rttNft!).toFixed(0)}×: TCP's window over the longer round trip through LAS bounded the upload, not LAS's CPU` : ''}.`);
  }
  notes.push(`TCP bulk on ${cores} CPUs: the client, the server, the kernel's forwarding and LAS's worker thread all share them; the direct and nft paths need no thread of their own, LAS needs one (its CPU share per upload is in results.json, las.threadCpus), so on this machine LAS / nft is partly a measure of CPU contention.`);
  return notes;
}

export function headlineTable(r: BenchResults): string {
  const rows = r.scenarios.map((s) => {
    const d = (id: DispatcherId) => mpps(s.summary.perDispatcher[id]?.deliveredPps.median);
    const full = s.summary.perDispatcher['las-full'];
    return [
      s.title,
      d('kernel-fwd'), d('nft-lb'), d('las-pt'), d('las-full'),
      ratioCell(s.summary.ratios['las-full/nft-lb']),
      ratioCell(s.summary.ratios['las-full/las-pt']),
      ratioCell(s.summary.ratios['las-pt/nft-lb']),
      full?.threadNsPerPacket ? `${full.threadNsPerPacket.median.toFixed(0)}` : 'n/a',
      full ? pct(full.lossRatio.median) : 'n/a',
    ];
  });
  return table(
    ['scenario', 'kernel fwd', 'nft balancer', 'LAS pass-through', 'LAS full', 'LAS full / nft', 'LAS full / pass-through', 'pass-through / nft', 'LAS worker ns/pkt', 'LAS full loss'],
    rows,
  );
}

export function renderSummary(r: BenchResults): string {
  const out: string[] = [];
  const s = r.settings;
  out.push(`# LAS benchmark, ${r.startedAt.slice(0, 19).replace('T', ' ')} UTC (${r.mode})`, '');
  out.push(`- Command: \`${r.command}\``);
  out.push(`- Code: commit ${r.code.start.commit?.slice(0, 12) ?? 'unknown'}${r.code.start.dirty ? ' with uncommitted changes' : ''}; addon built ${r.code.start.addonBuiltAt ?? 'unknown'}, dist/ ${r.code.start.distBuiltAt ?? 'unknown'}`);
  out.push(`- Machine: ${r.machine.cpuModel}, ${r.machine.cores} CPUs, kernel ${r.machine.kernel}, Node ${r.machine.node}`);
  const bg = (l: Array<{ cpu: number; busyShare: number }>) => l.map((c) => `CPU ${c.cpu} ${pct(c.busyShare)}`).join(', ');
  out.push(`- Other load on the machine with the suite idle: before ${bg(r.backgroundLoad.before)}; after ${bg(r.backgroundLoad.after)}; load average ${r.backgroundLoad.loadAverage.map((x) => x.toFixed(2)).join(' ')}`);
  if (s.lasRing) out.push(`- LAS RX ring (--las-ring) for every LAS run: ${Object.entries(s.lasRing).map(([k, v]) => `${k} ${v}`).join(', ')}; the rest as the daemon's defaults`);
  out.push(`- Generator: **${r.generator.used}** (${r.generator.note}), pinned to CPU ${s.generatorCpu}; LAS worker(s) on CPU ${s.dispatcherCpus.join(', ')}`);
  out.push(`- Topology: ${r.topology.kind === 'veth' ? 'veth pairs' : 'real NICs'} generator → dispatcher → sink (${Object.entries(r.topology.interfaces).map(([k, v]) => `${k}=${v}`).join(', ')}); VIP ${r.topology.vip}:${r.topology.port}, ${r.topology.servers.length} servers`);
  out.push(`- ${s.rounds} interleaved round(s) of ${s.durationMs} ms per dispatcher and scenario at the generator's full rate; LAS full is started fresh each time with ${s.prefillFlows.toLocaleString('en-US')} flows put in its table by traffic first (capacity ${s.flowCapacity.toLocaleString('en-US')} per worker)`);
  out.push(`- Rates are medians over rounds; **ratios are medians of the ratios within each round** (min–max), the figure that survives this machine's noise.`);
  out.push(`- Took ${Math.round(r.durationSeconds)} s.`, '');

  if (r.warnings.length > 0) {
    out.push('## Warnings', '');
    for (const w of r.warnings) out.push(`- ${w}`);
    out.push('');
  }

  if (r.scenarios.length > 0) out.push('## Delivered rate at the servers (Mpps) and ratios', '', headlineTable(r), '');

  // The packet-rate scenarios, with the fanout ones (same topology and dispatchers).
  const packet = [...r.scenarios, ...r.fanout];
  if (packet.length > 0) out.push('## Offered rate, loss and drops per hop (all rounds summed)', '');
  const dropRows: string[][] = [];
  for (const sc of packet) {
    for (const id of DISPATCHERS) {
      const d = sc.summary.perDispatcher[id];
      if (!d) continue;
      const trials = sc.rounds.map((x) => x.trials[id]).filter((t): t is TrialResult => t !== undefined);
      const cpu = (c: number) => pct(stat(trials.map((t) => t.cpu.perCpu.find((p) => p.cpu === c)?.busyShare ?? NaN)).median);
      dropRows.push([
        sc.id, DISPATCHER_LABELS[id], mpps(d.offeredPps.median), mpps(d.deliveredPps.median), pct(d.lossRatio.median),
        count(d.drops.generatorErrors), count(d.drops.dispatcherRingDrops), count(d.drops.dispatcherOther), count(d.drops.softnetDropped),
        count(d.drops.interfaceDropped), count(d.drops.sinkRingDrops), cpu(s.generatorCpu), cpu(s.dispatcherCpus[0] ?? 1),
        pct(Math.max(0, ...trials.map((t) => t.cpu.foreignCpus ?? 0))),
      ]);
    }
    const errs = sc.rounds.flatMap((x) => Object.entries(x.errors).map(([id, e]) => `${sc.id} round ${x.round} ${id}: ${e}`));
    for (const e of errs) dropRows.push([e, '', '', '', '', '', '', '', '', '', '', '', '', '']);
  }
  if (packet.length > 0) out.push(table(
    ['scenario', 'dispatcher', 'offered', 'delivered', 'loss', 'gen errors', 'LAS ring drops', 'LAS other drops', 'backlog drops', 'iface drops', 'sink ring drops', `CPU ${s.generatorCpu} busy`, `CPU ${s.dispatcherCpus[0] ?? 1} busy`, 'other jobs (max, of a CPU)'],
    dropRows,
  ), '');

  if (packet.length > 0) out.push('## Per-server spread (coefficient of variation of weight-normalised counts; 0 = perfect)', '');
  if (packet.length > 0) out.push(table(
    ['scenario', 'nft balancer', 'LAS full', 'LAS full shares (last round)'],
    packet.map((sc) => {
      const last = sc.rounds[sc.rounds.length - 1]?.trials['las-full'];
      return [
        sc.id,
        sc.summary.perDispatcher['nft-lb']?.spreadCv ? sc.summary.perDispatcher['nft-lb']!.spreadCv!.median.toFixed(3) : 'n/a',
        sc.summary.perDispatcher['las-full']?.spreadCv ? sc.summary.perDispatcher['las-full']!.spreadCv!.median.toFixed(3) : 'n/a',
        last ? last.perServer.map((p) => `${p.name} ${pct(p.share)}`).join(', ') : 'n/a',
      ];
    }),
  ), '');

  const changes = r.scenarios.filter((sc) => sc.moves);
  if (changes.length > 0) {
    out.push('## Server set changing during the run', '');
    out.push('Flows that moved to another server. LAS keeps established flows in its flow table, so only the flows of a removed server move; Maglev alone (a stateless balancer, or new flows) and the nftables `jhash mod N` balancer re-cut the hash space. Predictions from `addon.maglevTable` and the nft map layout; LAS measured = flows its workers rescheduled after the reload (service `newFlows`).', '');
    out.push(table(
      ['scenario', 'flows', 'LAS predicted', 'LAS measured', 'Maglev stateless (predicted)', 'nft jhash (predicted)', 'LAS shares before → after', 'nft shares before → after', 'reload applied in'],
      changes.map((sc) => {
        const m = sc.moves!;
        const last = sc.rounds[sc.rounds.length - 1];
        const sh = (id: DispatcherId) => {
          const c = last?.trials[id]?.change;
          if (!c) return 'n/a';
          return Object.keys(c.sharesBefore).map((k) => `${k} ${pct(c.sharesBefore[k])}→${pct(c.sharesAfter[k])}`).join(', ');
        };
        const applied = last?.trials['las-full']?.change?.applyMs;
        return [
          sc.id, count(m.flows), count(Math.round(m.predicted.lasFull)),
          m.measured.lasFull ? `${count(Math.round(m.measured.lasFull.median))}${m.measured.lasFull.n > 1 ? ` (${count(m.measured.lasFull.min)}–${count(m.measured.lasFull.max)})` : ''}` : 'n/a',
          count(Math.round(m.predicted.maglevStateless)), count(Math.round(m.predicted.nftJhash)),
          sh('las-full'), sh('nft-lb'), applied !== undefined ? `${applied} ms` : 'n/a',
        ];
      }),
    ), '');
  }

  if (r.fanout.length > 0) {
    out.push('## Two LAS workers behind the fanout program (per flow key)', '');
    out.push(`The headline traffic (1 M flows) with LAS full on 2 workers, its flow key \`addresses\` or \`5tuple\`, beside the nft balancer hashing the same fields, in the same rounds. **wrongWorker** counts frames the fanout handed a worker that does not own their flow (expected 0); the shares are each worker's part of the frames LAS received. On ${r.machine.cores} CPUs the second worker shares a core with the generator: this checks correctness and balance more than speed.`, '');
    out.push(fanoutTable(r), '');
  }

  out.push(...bulkSection(r));

  if (r.search) {
    const sr = r.search;
    out.push(`## Highest rate without loss (RFC 2544 binary search, ${sr.scenario})`, '');
    out.push(`${sr.steps} trials of ${sr.trialMs} ms at most per dispatcher, between 0 and the generator's full rate. A trial passes when at most ${(sr.lossTolerance * 100).toPrecision(2)} % of its frames are lost **and** the dispatcher kept up: what it still had queued when the generator stopped is at most 50 ms of traffic (a deep RX ring would otherwise hide an overload in a short trial). ✗ = failed trial; the figure is the measured offered rate of the fastest passing trial.`, '');
    out.push(table(
      ['dispatcher', 'highest lossless (Mpps)', 'answer within (Mpps)', 'trials (offered → delivered, Mpps)'],
      DISPATCHERS.map((id) => {
        const x = sr.perDispatcher[id];
        if (!x) return [DISPATCHER_LABELS[id], 'not run', '', ''];
        if ('error' in x) return [DISPATCHER_LABELS[id], 'failed', '', x.error];
        return [
          DISPATCHER_LABELS[id], `**${mpps(x.highestLosslessPps)}**`,
          x.limitedByGenerator ? '≥ this: lossless at the generator\'s full rate' : x.high === null ? `≥ ${mpps(x.low)}` : `[${mpps(x.low)}, ${mpps(x.high)})`,
          x.trials.map((t) => `${mpps(t.offeredPps)}→${mpps(t.deliveredPps)}${t.lossless ? '' : '✗'}`).join(' · '),
        ];
      }),
    ), '');
    const sign = { exact: '', lower: '≥ ', upper: '≤ ', unknown: '? ' } as const;
    const ratios = Object.entries(sr.ratios).map(([k, v]) => `${k} ${sign[sr.ratioBounds[k as RatioKey] ?? 'exact']}${fx(v)}`).join(', ');
    if (ratios) out.push(`Ratios of the highest lossless rates: ${ratios} (≥/≤: one side was lossless at the generator's full rate, so only a bound is known; ?: both were).`, '');
  }

  if (r.micro) {
    out.push('## Micro-benchmarks (native loops under benchmark.js)', '');
    if ('error' in r.micro) {
      out.push(`Not run: ${r.micro.error}`, '');
    } else {
      const m = r.micro;
      const calls = (c: { meanMs: number; rmePercent: number; samples: number }) => `${c.meanMs.toFixed(1)} ms ±${c.rmePercent.toFixed(1)} % (${c.samples})`;
      const cls = (c: typeof m.classify, what: string) => [
        `parse + lookup + rewrite, ${what}: ${c.distinctFlows.toLocaleString('en-US')} flows in turn, table of ${c.flowCapacity.toLocaleString('en-US')} holding ${c.prefillFlows.toLocaleString('en-US')} more`,
        `${c.nsPerFrame.toFixed(1)} ns/frame`, '', calls(c.calls),
      ];
      const rows: string[][] = [cls(m.classify, 'cache-cold (random flows)'), cls(m.classifyHot, 'cache-hot')];
      if (m.v6) {
        rows.push(cls(m.v6.classify, 'IPv6 78 B, cache-cold'), cls(m.v6.classifyHot, 'IPv6 78 B, cache-hot'));
        rows.push(['IPv6 / IPv4 rate (v4 ns / v6 ns, same run)', `${m.v6.rateRatio.toFixed(3)} cold, ${m.v6.rateRatioHot.toFixed(3)} hot`, '', '']);
      }
      for (const f of m.flowTable) {
        const e = f.entries.toLocaleString('en-US');
        const mem = `${(f.tableBytes / 2 ** 20).toFixed(0)} MiB (${f.bytesPerEntry.toFixed(1)} B/entry)`;
        rows.push([`flow table ${e}: insert / lookup hit / lookup miss / erase`, `${f.insertNs.toFixed(1)} / ${f.lookupHitNs.toFixed(1)} / ${f.lookupMissNs.toFixed(1)} / ${f.eraseNs.toFixed(1)} ns`, mem, calls(f.calls)]);
        rows.push([`aging sweep over the full ${e}-entry table`, `${f.sweepNsPerSlot.toFixed(2)} ns/slot = ${f.fullSweepMs.toFixed(1)} ms per sweep`, mem, '']);
      }
      for (const g of m.maglev) rows.push([`Maglev build, ${g.servers} servers, M = ${g.size}`, `${g.buildMs.toFixed(3)} ms`, `${(g.tableBytes / 1024).toFixed(0)} KiB`, calls(g.calls)]);
      for (const s of m.secondChance ?? []) {
        rows.push([`TCP without SYN and without an entry, ${s.flows.toLocaleString('en-US')} flows, second chance off / on (${s.byPrevious} of ${s.frames} by the previous table)`,
          `${s.offNs.toFixed(1)} / ${s.onNs.toFixed(1)} ns/frame (x${s.ratio.toFixed(2)})`, `${(s.previousBytes / 1024).toFixed(0)} KiB per changed service`, calls(s.calls)]);
      }
      out.push(table(['benchmark', 'time per operation', 'memory', 'per call (benchmark.js)'], rows), '');
    }
  }

  out.push('## Targets (from issue 4; reported, not asserted)', '');
  out.push(table(['target', 'wanted', 'measured', 'met'], r.targets.map((t) => [t.name, t.target, t.value, t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'])), '');

  out.push('## What limits these numbers', '');
  for (const l of r.limits) out.push(`- ${l}`);
  out.push('');
  out.push(`Files: ${r.files.map((f) => `\`${f}\``).join(', ')}. See bench/README.md for how to read them.`, '');
  return out.join('\n');
}
