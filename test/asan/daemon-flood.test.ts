// The whole daemon on the ASan/UBSan build of the addon (built here if missing) takes 10^6 malformed
// frames of every kind test/support/flood.ts knows, at the generator's full rate, while real HTTP
// requests go through the VIP: no sanitizer report, no failed request, RSS flat.
// Run by `npm run test:asan`, which `npm test` runs after the suite (the suite's glob does not reach
// test/asan/); see docs/hardening.md.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_KINDS, runAsanFlood } from '../support/asan-flood.js';
import { needsRoot } from '../support/needs-root.js';

const FRAMES = 1_000_000;
// Flat: after the warm-up (the first 20 % of the flood) RSS rises by less than this. It allows the
// ASan quarantine filling up (16 MB, support/sanitizer.ts) and the V8 heap's swings (measured: RSS
// moved within 20 MB, growth after warm-up <= 0 over 10^6 frames; docs/hardening.md). A leak of
// one ASan allocation per frame that reaches the ring (>= 48 bytes with its redzones, ~8*10^5
// frames) would be ~38 MB: above the bound.
const RSS_GROWTH_BOUND_KB = 32 * 1024;

test(`the daemon on the sanitizer addon: ${FRAMES} malformed frames of ${ALL_KINDS.length} kinds with HTTP alongside, 0 sanitizer reports, 0 failed requests, RSS flat`, { timeout: 30 * 60_000, skip: needsRoot('network namespaces') }, async (t) => {
  const r = await runAsanFlood({ frames: FRAMES, log: (m) => t.diagnostic(m) });
  const { curve, ...rss } = r.rss;
  t.diagnostic(`sent ${r.send.sent} of ${r.send.total} frames in ${Math.round(r.send.elapsedMs ?? 0)} ms (${r.ratePps} frames/s); HTTP ${r.http.ok} ok, ${r.http.failed} failed in ${r.http.rounds} rounds`);
  t.diagnostic(`RSS kB ${JSON.stringify(rss)}; rx +${r.counters.rx}, ring drops +${r.counters.ringDrops}, drops ${JSON.stringify(r.counters.drops)}`);
  t.diagnostic(`RSS curve (s:MB) ${curve.map(([s, kb]) => `${s}:${Math.round(kb / 1024)}`).join(' ')}`);

  // It really ran on the sanitizer build: both runtimes and that addon were mapped in the daemon.
  assert.deepEqual(r.mapped, { asan: true, ubsan: true, addon: true }, `the daemon was not on ${r.addon}`);
  assert.equal(r.send.total, FRAMES);
  // sendFrames() refuses some of the shortest frames (below the Ethernet header); nearly all go out.
  assert.ok(r.send.sent >= FRAMES * 0.95, `only ${r.send.sent} of ${FRAMES} frames were sent`);
  // Reached the daemon's socket: read from the ring, or counted as dropped by the kernel when it was full.
  assert.ok(r.counters.rx + r.counters.ringDrops > FRAMES / 2, `only ${r.counters.rx} + ${r.counters.ringDrops} frames reached the daemon`);

  assert.deepEqual(r.reports.map((x) => `${x.file}: ${x.text.slice(0, 2000)}`), [], `sanitizer reports in ${r.logDir}`);
  assert.ok(r.daemonAlive, `the daemon died during the flood: ${r.daemonStderr}`);
  assert.equal(r.http.failed, 0, `failed requests: ${JSON.stringify(r.http.errors)}`);
  assert.ok(r.http.ok >= 40 * 2, `only ${r.http.ok} requests ran alongside the flood`);
  assert.ok(rss.growthAfterWarmupKb < RSS_GROWTH_BOUND_KB, `RSS grew by ${rss.growthAfterWarmupKb} kB after the warm-up (bound ${RSS_GROWTH_BOUND_KB} kB)`);
  // The log files are read from the right place: a SIGBUS to the daemon at the end left its report there.
  assert.ok(r.controlReport, 'the positive control (SIGBUS to the daemon) left no ASan report in the log directory');
});
