// 50 reloads in about 20 s while HTTP clients keep opening new connections through the VIP: no
// request fails, every reload is applied, and the daemon's memory stays flat. Every other reload adds
// a second VIP (a new socket filter and ingress drop through tc) and changes weights; the next one
// takes them back out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type ClientResult } from './support/dr-lab.js';
import { sleep } from './support/control.js';
import { isObject } from './support/json.js';
import { rssKb } from './support/rss.js';
import { needsRoot } from './support/needs-root.js';

const RELOADS = 50;
const PACE_MS = 400;                 // 50 × 400 ms = 20 s
const WARMUP_RELOADS = 10;           // RSS is compared from here on
const RSS_GROWTH_BOUND_KB = 16 * 1024;   // measured: +2.1 MB from reload 10 to the peak after it
const SECOND_VIP = '10.77.0.101';

test('50 reloads in 20 s under HTTP load: 0 failed requests, every reload applied, daemon RSS flat', { timeout: 180_000, skip: needsRoot('network namespaces') }, async (t) => {
  await withDrLab({ servers: 3 }, async (lab) => {
    const pid = lab.daemon().pid!;
    const base = lab.config;
    const web = base.services[0]!;
    const servers = web.servers as Array<Record<string, unknown>>;
    const variants = [
      base,
      {
        ...base,
        flowTimeouts: { tcpEstablished: 900 },
        services: [
          { ...web, servers: servers.map((s, i) => ({ ...s, weight: i + 1 })) },
          { ...web, name: 'web2', vip: SECOND_VIP },
        ],
      },
    ];

    // Load: batches of new connections until the reloads are done (bounded in count).
    let reloading = true;
    const batches: ClientResult[] = [];
    // The load's own error is recorded (a handler from the start: no unhandled rejection while the
    // reloads run) and asserted after the loop, so that it neither goes unseen nor hides the
    // reload loop's error.
    let loadError: unknown;
    const load = (async () => {
      for (let i = 0; i < 1000 && reloading; i++) batches.push(await lab.runClient({ requests: 100, concurrency: 4, timeoutMs: 5000 }));
    })().catch((error: unknown) => { loadError = error; });

    const rss: number[] = [];
    const answers: unknown[] = [];
    const started = Date.now();
    try {
      for (let i = 1; i <= RELOADS; i++) {
        const next = Date.now() + PACE_MS;
        await lab.writeConfig(variants[i % 2]!);
        answers.push(await lab.admin('reload', {}, 30_000));
        const kb = await rssKb(pid);
        assert.ok(kb !== undefined, `VmRSS of ${pid} after reload ${i}`);
        rss.push(kb);
        await sleep(Math.max(0, next - Date.now()));
      }
    } finally {
      reloading = false;
      await load;
    }
    assert.equal(loadError, undefined, `the HTTP load failed: ${String(loadError)}`);
    const seconds = (Date.now() - started) / 1000;
    // One more batch after the last reload: the final config serves.
    batches.push(await lab.runClient({ requests: 100, concurrency: 4, timeoutMs: 5000 }));

    for (const [i, answer] of answers.entries()) assert.ok(isObject(answer) && answer.reloaded === true, `reload ${i + 1}: ${JSON.stringify(answer)}`);
    const ok = batches.reduce((n, b) => n + b.ok, 0);
    const failed = batches.reduce((n, b) => n + b.failed, 0);
    const errors = batches.filter((b) => b.failed > 0).map((b) => b.errors);
    t.diagnostic(`${RELOADS} reloads in ${seconds.toFixed(1)} s; ${ok} requests ok in ${batches.length} batches; RSS kB after reload ${WARMUP_RELOADS}: ${rss[WARMUP_RELOADS - 1]}, max after: ${Math.max(...rss.slice(WARMUP_RELOADS))}, last: ${rss.at(-1)}`);
    assert.equal(failed, 0, `failed requests: ${JSON.stringify(errors)}`);
    assert.ok(batches.length >= 3, `the load ran alongside the reloads: ${batches.length} batches`);

    const stats = await lab.stats();
    assert.ok(isObject(stats));
    const warm = rss[WARMUP_RELOADS - 1]!;
    const peak = Math.max(...rss.slice(WARMUP_RELOADS));
    assert.ok(peak - warm <= RSS_GROWTH_BOUND_KB, `RSS grew by ${peak - warm} kB over ${RELOADS - WARMUP_RELOADS} reloads (bound ${RSS_GROWTH_BOUND_KB} kB): ${rss.join(' ')}`);
    assert.equal((await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', lab.segment.dispatcher.ifname, 'ingress'])).stdout.split('\n').filter((l) => /pref 4955 .*handle/.test(l)).length, 1, 'one ingress drop, not one per reload');
  });
});
