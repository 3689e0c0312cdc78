// The whole daemon on the ASan/UBSan addon under a malformed flood of every kind flood.ts knows,
// at the generator's full rate, with real HTTP requests through the VIP alongside. Shared by
// test/asan/daemon-flood.test.ts (10^6 frames) and the bench scenario "asan-flood" (10^7 frames).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { withDrLab, type DrLab } from './dr-lab.js';
import { FLOOD_KINDS, sendGeneratedFloodInNs, type FloodKind, type SendResult } from './flood.js';
import { isObject, num } from './json.js';
import {
  ensureAsanAddon, mappedSanitizerParts, plainEnv, sanitizerDaemonEnv, sanitizerReports, type SanitizerReport,
} from './sanitizer.js';
import { rssKb } from './rss.js';

export interface AsanFloodOptions {
  frames: number;
  seed?: number;
  pool?: number;            // distinct frames per generated pool (default 65536)
  reuse?: number;           // times each pool is sent before the next is built (default 4)
  rssSampleMs?: number;     // default 500
  asanOptions?: string;     // more ASAN_OPTIONS (e.g. quarantine_size_mb=16), appended
  log?: (message: string) => void;
}

export interface RssSummary {
  startKb: number;          // after the daemon is ready, before the flood
  warmKb: number;           // at the end of the warm-up (the first WARMUP_SHARE of the flood)
  peakKb: number;           // highest sample during the flood
  endKb: number;            // after the flood and the last requests
  growthAfterWarmupKb: number; // highest sample after the warm-up minus warmKb
  samples: number;
  curve: Array<[seconds: number, kb: number]>; // every sample, seconds from the flood's start
}

export interface AsanFloodResult {
  addon: string;
  mapped: { asan: boolean; ubsan: boolean; addon: boolean };
  kinds: FloodKind[];
  seed: number;
  send: SendResult;
  ratePps: number;
  http: { ok: number; failed: number; rounds: number; errors: Record<string, number> };
  logDir: string;
  reports: SanitizerReport[];
  daemonAlive: boolean;
  daemonStderr: string;
  rss: RssSummary;
  counters: { rx: number; ringDrops: number; forwarded: number; drops: Record<string, number> };
  /** The positive control: SIGBUS to the daemon at the end must leave an ASan report in the log dir. */
  controlReport: boolean;
}

/** The first share of the flood's duration in which RSS may still rise (rings, flow table, ASan's own pools). */
export const WARMUP_SHARE = 0.2;
export const ALL_KINDS = Object.keys(FLOOD_KINDS) as FloodKind[];
const HTTP_ROUND = { requests: 40, concurrency: 4, timeoutMs: 10_000 };
const MAX_HTTP_ROUNDS = 10_000;

async function counters(lab: DrLab): Promise<AsanFloodResult['counters']> {
  const stats = await lab.stats();
  const result = { rx: 0, ringDrops: 0, forwarded: 0, drops: {} as Record<string, number> };
  if (!isObject(stats) || !Array.isArray(stats.workers) || !Array.isArray(stats.services)) return result;
  for (const worker of stats.workers.filter(isObject)) {
    result.rx += num(worker.rxPackets);
    result.ringDrops += num(worker.ringDrops);
    if (isObject(worker.drops)) for (const [r, n] of Object.entries(worker.drops)) result.drops[r] = (result.drops[r] ?? 0) + num(n);
  }
  result.forwarded = stats.services.filter(isObject).reduce((t, s) => t + num(s.packets), 0);
  return result;
}

export async function runAsanFlood(opts: AsanFloodOptions): Promise<AsanFloodResult> {
  const log = opts.log ?? (() => undefined);
  const seed = opts.seed ?? 0x5a17f00d;
  log('building the sanitizer addon (cmake-js, incremental)');
  const addon = await ensureAsanAddon();
  // The log directory must exist before the daemon starts: a report is written where log_path says.
  const logDir = join('/tmp', `las-asan-${process.pid}-${Date.now().toString(36)}`);
  await mkdir(logDir, { recursive: true });
  const daemonEnv = await sanitizerDaemonEnv(addon, logDir);
  if (opts.asanOptions) daemonEnv.ASAN_OPTIONS = `${daemonEnv.ASAN_OPTIONS}:${opts.asanOptions}`;

  // A run that throws (the flood, a request round, the daemon's stats) leaves no directory behind
  // unless a sanitizer report is in it: that one stays for the reader, as after a run that returns.
  const result = await withDrLab({ servers: 3, daemonEnv, readyTimeoutMs: 60_000 }, async (lab): Promise<AsanFloodResult> => {
    const pid = lab.daemon().pid;
    if (pid === undefined) throw new Error('the daemon has no pid');
    const mapped = await mappedSanitizerParts(pid, addon);
    const client = lab.segment.client;
    const startKb = (await rssKb(pid)) ?? NaN;
    const before = await counters(lab);

    // RSS sampled with time stamps, so the warm-up can be cut by time once the flood's length is known.
    const samples: Array<{ at: number; kb: number }> = [];
    const sampler = setInterval(() => {
      void rssKb(pid).then((kb) => { if (kb !== undefined) samples.push({ at: Date.now(), kb }); });
    }, opts.rssSampleMs ?? 500);

    const http = { ok: 0, failed: 0, rounds: 0, errors: {} as Record<string, number> };
    let flooding = true;
    const floodStart = Date.now();
    log(`flooding ${opts.frames} frames (seed ${seed.toString(16)}) with HTTP requests alongside`);
    const requests = (async () => {
      // Rounds of real requests for as long as the flood runs (and at least one).
      while ((flooding || http.rounds === 0) && http.rounds < MAX_HTTP_ROUNDS) {
        const r = await lab.runClient(HTTP_ROUND);
        http.rounds++;
        http.ok += r.ok;
        http.failed += r.failed;
        for (const [reason, n] of Object.entries(r.errors)) http.errors[reason] = (http.errors[reason] ?? 0) + n;
      }
    })();
    // Handled from the start: a round may fail minutes before the flood ends. Its error still
    // reaches the caller through `await requests` below.
    void requests.catch(() => undefined);
    let send: SendResult;
    let floodEnd: number;
    try {
      try {
        send = await sendGeneratedFloodInNs(client.ns, client.ifname, {
          target: { dstMac: lab.segment.dispatcher.mac, srcMac: client.mac, senderIp: client.address, vip: lab.vip, port: lab.port },
          count: opts.frames, seed, kinds: ALL_KINDS, weights: { random: 4 }, pool: opts.pool ?? 65_536, reuse: opts.reuse ?? 4,
        }, lab.dir, { env: plainEnv(), timeoutMs: 60_000 + opts.frames / 2 }); // down to 2000 frames/s
      } finally {
        flooding = false;
      }
      floodEnd = Date.now();
      await requests;
    } finally {
      // Also when the flood or a request round threw: the sampler (not unref'd) would keep the test
      // process alive, and the rounds still running must end before the lab is torn down. Their own
      // error, if any, is the one `await requests` above throws; here it is only waited for.
      clearInterval(sampler);
      await requests.catch(() => undefined);
    }
    // A last round after the flood: the daemon still serves.
    const after = await lab.runClient(HTTP_ROUND);
    http.rounds++;
    http.ok += after.ok;
    http.failed += after.failed;
    for (const [reason, n] of Object.entries(after.errors)) http.errors[reason] = (http.errors[reason] ?? 0) + n;

    const endKb = (await rssKb(pid)) ?? NaN;
    const warmUntil = floodStart + (floodEnd - floodStart) * WARMUP_SHARE;
    const warm = samples.filter((s) => s.at <= warmUntil);
    const rest = samples.filter((s) => s.at > warmUntil);
    const warmKb = warm.length ? (warm[warm.length - 1] as { kb: number }).kb : startKb;
    const peakKb = Math.max(startKb, ...samples.map((s) => s.kb));
    const rss: RssSummary = {
      startKb, warmKb, peakKb, endKb, samples: samples.length,
      curve: samples.map((s) => [Math.round((s.at - floodStart) / 100) / 10, s.kb]),
      growthAfterWarmupKb: Math.max(...rest.map((s) => s.kb), endKb) - warmKb,
    };
    const now = await counters(lab);
    const drops = Object.fromEntries(Object.entries(now.drops).map(([r, n]) => [r, n - (before.drops[r] ?? 0)]).filter(([, d]) => d !== 0));
    const daemonAlive = lab.daemon().running();
    const reports = await sanitizerReports(logDir);

    // Positive control, last: the same log_path must catch a report from this very daemon.
    let controlReport = false;
    if (daemonAlive) {
      // SIGBUS, not SIGSEGV: V8 installs its own SIGSEGV handler (WebAssembly traps), ASan keeps SIGBUS.
      await lab.kill('SIGBUS').catch(() => undefined);
      controlReport = (await sanitizerReports(logDir)).some((r) => r.file === `asan.${pid}` && /AddressSanitizer/.test(r.text));
    }
    const elapsedS = (send.elapsedMs ?? floodEnd - floodStart) / 1000;
    return {
      addon, mapped, kinds: ALL_KINDS, seed, send, ratePps: Math.round(send.sent / elapsedS),
      http, logDir, reports, daemonAlive, daemonStderr: lab.daemonOutput().stderr.slice(-4000), rss,
      counters: { rx: now.rx - before.rx, ringDrops: now.ringDrops - before.ringDrops, forwarded: now.forwarded - before.forwarded, drops },
      controlReport,
    };
  }).catch(async (error: unknown) => {
    if ((await sanitizerReports(logDir)).length === 0) await rm(logDir, { recursive: true, force: true });
    throw error;
  });
  // Real reports stay for the reader (their paths are in the result); the control's goes.
  if (result.reports.length === 0) await rm(logDir, { recursive: true, force: true });
  return result;
}
