// The live status page as an operator sees it: headless Chromium (Debian's chromium) loads
// http://127.0.0.1:9477/ inside the dispatcher's namespace while HTTP clients go through the lab;
// the rates move, and every counter the page shows lies between two `las stats --json` read before
// and after it; states and weights are those of `las status --json`, also after a drain; each checked
// server shows its last health checks, and one that stops answering shows as down. The screenshot is kept in a directory the test prints.
// The lab is dual stack: the v6 service's VIP shows as [addr]:port and its v6 servers have their rows.
import assert from 'node:assert/strict';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'puppeteer-core';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { lasOk, startWith } from './support/control.js';
import { chromiumInNs } from './support/chromium.js';
import { needsRoot } from './support/needs-root.js';

interface StatsJson {
  atMs: number;
  workers: { drops: Record<string, string> }[];
  services: { name: string; packets: string; bytes: string; servers: { address: string; packets: string; bytes: string }[] }[];
}
interface StatusJson { services: { name: string; servers: { address: string; state: string; weight: number }[] }[] }

/** Every number the page shows, by a key naming where it is (data-value of each data-field). */
function readPage(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const values: Record<string, string> = {};
    for (const node of document.querySelectorAll('[data-field]')) {
      const where = [node.closest('[data-service]')?.getAttribute('data-service'), node.closest('[data-server]')?.getAttribute('data-server'),
        node.closest('[data-drop]')?.getAttribute('data-drop') && `drop ${node.closest('[data-drop]')!.getAttribute('data-drop')}`,
        node.closest('[data-worker]') && `worker ${node.closest('[data-worker]')!.getAttribute('data-worker')}`].filter(Boolean);
      values[[...where, node.getAttribute('data-field')].join(' ')] = node.getAttribute('data-value') ?? '';
    }
    return values;
  });
}

/** The counters `las stats --json` has for the same keys as readPage(). */
function statsValues(stats: StatsJson): Map<string, bigint> {
  const values = new Map<string, bigint>();
  for (const s of stats.services) {
    values.set(`${s.name} packets`, BigInt(s.packets));
    values.set(`${s.name} bytes`, BigInt(s.bytes));
    for (const r of s.servers) {
      values.set(`${s.name} ${r.address} packets`, BigInt(r.packets));
      values.set(`${s.name} ${r.address} bytes`, BigInt(r.bytes));
    }
  }
  for (const w of stats.workers) {
    for (const [reason, n] of Object.entries(w.drops)) values.set(`drop ${reason} total`, (values.get(`drop ${reason} total`) ?? 0n) + BigInt(n));
  }
  return values;
}

const stats = async (lab: DrLab) => JSON.parse(await lasOk(lab, ['stats', '--json'])) as StatsJson;
const status = async (lab: DrLab) => JSON.parse(await lasOk(lab, ['status', '--json'])) as StatusJson;

/** The page's numbers read after `after` (the daemon's clock): waits for a rendering of a later state. */
async function pageAfter(page: Page, after: number): Promise<Record<string, string>> {
  await page.waitForFunction((at: number) => Number(document.body.dataset.at) > at, { timeout: 30_000, polling: 100 }, after);
  return readPage(page);
}

/** States and weights of every server row on the page equal those of `las status --json`. */
function assertSameStates(values: Record<string, string>, st: StatusJson): void {
  for (const s of st.services) {
    for (const r of s.servers) {
      assert.equal(values[`${s.name} ${r.address} state`], r.state, `${s.name} ${r.address} state`);
      assert.equal(values[`${s.name} ${r.address} weight`], String(r.weight), `${s.name} ${r.address} weight`);
    }
  }
}

const sameStates = (a: StatusJson, b: StatusJson) =>
  JSON.stringify(a.services.map((s) => s.servers.map((r) => [r.state, r.weight]))) === JSON.stringify(b.services.map((s) => s.servers.map((r) => [r.state, r.weight])));

/**
 * Reads the page between `las status`, `las stats` and again `las stats`, `las status`: every counter
 * on the page lies between the two stats; states and weights equal those of `las status` when they
 * did not change between its two reads (a health check may flip meanwhile: then read again, bounded).
 */
async function consistentRead(lab: DrLab, page: Page): Promise<Record<string, string>> {
  for (let attempt = 1; ; attempt++) {
    const statusBefore = await status(lab);
    const before = await stats(lab);
    const shown = await pageAfter(page, before.atMs);
    const after = await stats(lab);
    const statusAfter = await status(lab);
    const low = statsValues(before);
    const high = statsValues(after);
    assert.ok(low.size >= 2 + 3 * 2 + 1, [...low.keys()].join(', '));
    for (const [key, lo] of low) {
      assert.ok(shown[key] !== undefined, `the page shows no "${key}"; it shows ${Object.keys(shown).join(', ')}`);
      const v = BigInt(shown[key]!);
      assert.ok(lo <= v && v <= high.get(key)!, `${key}: page ${v}, las stats ${lo} before and ${high.get(key)} after`);
    }
    if (sameStates(statusBefore, statusAfter)) {
      assertSameStates(shown, statusAfter);
      return shown;
    }
    assert.ok(attempt < 5, `server states kept changing between two las status reads: ${JSON.stringify(statusAfter)}`);
  }
}

test('status page in Chromium: live rates, counters within two las stats reads, states as las status, health history, a drain shows', {
  timeout: 300_000, skip: needsRoot('network namespaces'),
}, async () => {
  const out = await mkdtemp(join(tmpdir(), 'las-status-page-'));
  console.log(`# status page screenshot: ${out}/status-page.png`);
  await withDrLab({ servers: 3, startDaemon: false, ipv6: true }, async (lab) => {
    await startWith(lab, { healthCheck: { type: 'tcp', interval: 0.5, timeout: 0.4 } });
    const browser = await chromiumInNs(lab.segment.dispatcher.ns, lab.dir);
    // Traffic until the checks are done: batches of real HTTP requests, bounded in count and time.
    let stop = false;
    const traffic = (async () => {
      const until = Date.now() + 240_000;
      for (let batch = 0; batch < 500 && !stop && Date.now() < until; batch++) {
        const r = await lab.runClient({ requests: 100, concurrency: 4 });
        assert.equal(r.failed, 0, JSON.stringify(r));
      }
    })();
    traffic.catch(() => undefined); // its failure is thrown by the await below
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      await page.goto('http://127.0.0.1:9477/', { waitUntil: 'load', timeout: 30_000 });

      // The numbers move: the service's packets per second (2 s samples) and packets total grow.
      await page.waitForFunction(() => Number(document.querySelector('[data-service="web"] .totals [data-field="pps"]')?.getAttribute('data-value')) > 0,
        { timeout: 60_000, polling: 200 });
      const first = await readPage(page);
      await page.waitForFunction((before: string) => BigInt(document.querySelector('[data-service="web"] .totals [data-field="packets"]')?.getAttribute('data-value') ?? '0') > BigInt(before),
        { timeout: 30_000, polling: 200 }, first['web packets']!);

      // Each server shows health checks, and the service's chart has drawn two samples.
      await page.waitForFunction((n: number) => {
        const rows = [...document.querySelectorAll('[data-service="web"] [data-server]')];
        return rows.length === n && rows.every((row) => row.querySelector('.checks .ok') !== null)
        && (document.querySelector('[data-service="web"] svg.chart polyline')?.getAttribute('points') ?? '').split(' ').length >= 2;
      }, { timeout: 30_000, polling: 200 }, lab.segment.servers.length);
      for (const r of lab.segment.servers) {
        const checks = Number((await readPage(page))[`web ${r.address} checks`]);
        assert.ok(checks >= 1 && checks <= 20, `${r.address}: ${checks} checks shown`);
      }
      const okChecks = await page.$$eval('[data-service="web"] .checks .ok', (nodes) => nodes.map((n) => n.getAttribute('title') ?? ''));
      assert.ok(okChecks.every((t) => / ok in [\d.]+ ms: tcp /.test(t)), okChecks.join('\n'));

      // The v6 service: a few requests over IPv6, then its header, rows and counters as for v4.
      const v6 = await lab.runClient({ ipv6: true, requests: 10, concurrency: 2 });
      assert.equal(v6.failed, 0, JSON.stringify(v6));
      const heading = await page.$eval('[data-service="web6"] h2 small', (n) => n.textContent ?? '');
      assert.ok(heading.startsWith(`[${lab.vip6!}]:80/tcp · `), heading);
      const rows6 = await page.$$eval('[data-service="web6"] [data-server]', (nodes) => nodes.map((n) => n.getAttribute('data-server')));
      assert.deepEqual(rows6, lab.segment.servers.map((r) => r.address6!));

      const shown = await consistentRead(lab, page);
      assert.ok(BigInt(shown['web packets']!) > 0n);
      assert.ok(BigInt(shown['web6 packets']!) > 0n, 'the v6 requests show on the page');

      // A drain reaches the page: state and weight as `las status` says.
      const drained = lab.segment.servers[0]!.address;
      await lasOk(lab, ['server', 'drain', 'web', drained]);
      await page.waitForFunction((a: string) => document.querySelector(`[data-service="web"] [data-server="${a}"] [data-field="state"]`)?.getAttribute('data-value') === 'drained',
        { timeout: 30_000, polling: 200 }, drained);
      const afterDrain = await consistentRead(lab, page);
      assert.equal(afterDrain[`web ${drained} weight`], '0');

      // A server that stops answering its checks shows as down (traffic stopped first: its clients would fail).
      stop = true;
      await traffic;
      const gone = lab.segment.servers[1]!;
      await lab.stopServer(gone.name);
      await page.waitForFunction((a: string) => document.querySelector(`[data-service="web"] [data-server="${a}"] [data-field="state"]`)?.getAttribute('data-value') === 'down',
        { timeout: 30_000, polling: 200 }, gone.address);
      const afterDown = await consistentRead(lab, page);
      assert.equal(afterDown[`web ${gone.address} state`], 'down');
      assert.ok(await page.$(`[data-service="web"] [data-server="${gone.address}"] .checks .failed`), 'the failed checks show in the history');

      // Reported, not asserted: what one poll costs on the wire.
      const size = await page.evaluate(async () => {
        const full = await (await fetch('status.json')).text();
        const now = await (await fetch('status.json?since=1000000000')).text();
        return { full: full.length, now: now.length, samples: (JSON.parse(full) as { history: unknown[] }).history.length };
      });
      console.log(`# status.json: ${size.now} bytes without history; ${size.full} bytes with ${size.samples} samples`);

      const shot = join(out, 'status-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok((await stat(shot)).size > 10_000, 'the screenshot is not empty');
      assert.deepEqual(errors, [], 'no script error on the page');
    } finally {
      stop = true;
      await browser.close();
      await traffic;
    }
  });
});
