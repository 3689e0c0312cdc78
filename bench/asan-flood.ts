// `npm run bench -- --scenarios asan-flood [--frames N]`: the whole daemon on the ASan/UBSan addon
// under a malformed flood (default 10^7 frames) with real HTTP requests alongside: the full-count
// run of test/asan/daemon-flood.test.ts. Not part of a default run (it measures robustness, not
// speed, and takes minutes); writes <out>/<timestamp>/results.json and summary.md.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { FLOOD_KINDS } from '../test/support/flood.js';
import { runAsanFlood, WARMUP_SHARE, type AsanFloodResult } from '../test/support/asan-flood.js';

export const ASAN_FLOOD_SCENARIO = 'asan-flood';
export const ASAN_FLOOD_SCHEMA = 'las-bench-asan-flood/1';
export const DEFAULT_FLOOD_FRAMES = 10_000_000;
/** The same bound as the test, whatever the count: flat means not growing with the flood (docs/hardening.md). */
export const RSS_GROWTH_BOUND_KB = 32 * 1024;

export interface AsanFloodResults {
  schema: typeof ASAN_FLOOD_SCHEMA;
  scenario: typeof ASAN_FLOOD_SCENARIO;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string;
  frames: { requested: number; sent: number; elapsedMs: number; ratePps: number; pools: number; kinds: string[]; seed: number };
  sanitizerReports: number;
  reportFiles: string[];
  http: AsanFloodResult['http'];
  rssKb: { start: number; warm: number; peak: number; end: number; growthAfterWarmup: number; bound: number; flat: boolean; warmupShare: number };
  rssCurve: Array<[seconds: number, kb: number]>;
  daemon: { alive: boolean; rx: number; ringDrops: number; forwarded: number; drops: Record<string, number>; onSanitizerAddon: boolean };
  positiveControl: boolean;
  pass: boolean;
}

const mb = (kb: number) => (kb / 1024).toFixed(1);

function summary(r: AsanFloodResults): string {
  const lines = [
    `# LAS on the sanitizer addon under a malformed flood (${r.startedAt})`,
    '',
    `Command: \`${r.command}\``,
    '',
    '| figure | value |',
    '|---|---|',
    `| frames sent | ${r.frames.sent} of ${r.frames.requested} (${r.frames.kinds.length} kinds, ${r.frames.pools} pools, seed 0x${r.frames.seed.toString(16)}) |`,
    `| rate | ${r.frames.ratePps} frames/s over ${(r.frames.elapsedMs / 1000).toFixed(1)} s |`,
    `| sanitizer reports | ${r.sanitizerReports}${r.reportFiles.length ? ` (${r.reportFiles.join(', ')})` : ''} |`,
    `| HTTP requests | ${r.http.ok} ok, ${r.http.failed} failed (${r.http.rounds} rounds)${r.http.failed ? ` ${JSON.stringify(r.http.errors)}` : ''} |`,
    `| RSS start / peak / end | ${mb(r.rssKb.start)} / ${mb(r.rssKb.peak)} / ${mb(r.rssKb.end)} MiB |`,
    `| RSS growth after warm-up | ${mb(r.rssKb.growthAfterWarmup)} MiB (bound ${mb(r.rssKb.bound)} MiB: ${r.rssKb.flat ? 'flat' : 'NOT flat'}) |`,
    `| daemon | ${r.daemon.alive ? 'alive' : 'DIED'}, ring rx ${r.daemon.rx}, ring drops ${r.daemon.ringDrops}, forwarded ${r.daemon.forwarded} |`,
    `| drops by reason | ${Object.entries(r.daemon.drops).map(([k, v]) => `${k} ${v}`).join(', ')} |`,
    `| on the sanitizer addon | ${r.daemon.onSanitizerAddon ? 'yes (libasan, libubsan and build-asan mapped)' : 'NO'} |`,
    `| positive control (SIGBUS -> ASan report) | ${r.positiveControl ? 'reported' : 'NOT reported'} |`,
    '',
    `Result: **${r.pass ? 'pass' : 'FAIL'}**`,
    '',
  ];
  return lines.join('\n');
}

export async function runAsanFloodBench(opts: { frames?: number; outRoot: string; stamp: string; command: string }): Promise<number> {
  const startedAt = new Date();
  const requested = opts.frames ?? DEFAULT_FLOOD_FRAMES;
  const r = await runAsanFlood({ frames: requested, log: (m) => process.stderr.write(`asan-flood: ${m}\n`) });
  const finishedAt = new Date();
  const bound = RSS_GROWTH_BOUND_KB;
  const onSanitizerAddon = r.mapped.asan && r.mapped.ubsan && r.mapped.addon;
  const results: AsanFloodResults = {
    schema: ASAN_FLOOD_SCHEMA,
    scenario: ASAN_FLOOD_SCENARIO,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    command: opts.command,
    frames: {
      requested, sent: r.send.sent, elapsedMs: Math.round(r.send.elapsedMs ?? 0), ratePps: r.ratePps, pools: r.send.pools ?? 0,
      kinds: Object.keys(FLOOD_KINDS), seed: r.seed,
    },
    sanitizerReports: r.reports.length,
    reportFiles: r.reports.map((x) => join(r.logDir, x.file)),
    http: r.http,
    rssKb: {
      start: r.rss.startKb, warm: r.rss.warmKb, peak: r.rss.peakKb, end: r.rss.endKb, growthAfterWarmup: r.rss.growthAfterWarmupKb,
      bound, flat: r.rss.growthAfterWarmupKb < bound, warmupShare: WARMUP_SHARE,
    },
    rssCurve: r.rss.curve,
    daemon: { alive: r.daemonAlive, ...r.counters, onSanitizerAddon },
    positiveControl: r.controlReport,
    pass: false,
  };
  results.pass = results.sanitizerReports === 0 && r.http.failed === 0 && results.rssKb.flat && r.daemonAlive && onSanitizerAddon && r.controlReport;
  const outDir = join(opts.outRoot, opts.stamp);
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, 'summary.md'), summary(results));
  process.stdout.write(`\n${summary(results)}\nResults: ${relative(process.cwd(), outDir) || outDir}/ (results.json, summary.md)\n`);
  return results.pass ? 0 : 1;
}
