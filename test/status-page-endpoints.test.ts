// The status page on the metrics listener, without a daemon: the page and its files are served
// from the package with a strict content policy, /status.json joins what the daemon says now with the
// history window the listener keeps (only the new samples with ?since=), anything but GET is 405,
// and without a status page the listener serves /metrics alone as before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { startMetricsServer, type StatusPageSource } from '../src/control/metrics.js';
import { loadPageFiles, PAGE_DIR } from '../src/control/status-page-files.js';
import type { RatePoint } from '../src/control/status-history.js';
import { waitFor } from './support/control.js';

const get = async (port: number, path: string, method = 'GET') => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(10_000) });
  return { status: r.status, headers: r.headers, body: await r.text() };
};

/** A status source whose document says how often it was asked, and whose samples count up. */
function fakeSource(): StatusPageSource & { documents: () => number } {
  let documents = 0;
  let seq = 0;
  return {
    documents: () => documents,
    document: () => ({ atMs: Date.now(), asked: ++documents }),
    sample: (): RatePoint => ({ seq: ++seq, atMs: Date.now(), services: { web: { pps: seq, bps: 0, flows: 0, servers: {} } }, drops: {} }),
  };
}

test('the page, its script and style are served with a content policy; every file the page names is there', { timeout: 30_000 }, async () => {
  const server = await startMetricsServer('127.0.0.1:0', new Registry(), {}, undefined, fakeSource());
  try {
    const page = await get(server.port, '/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const named = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(named.sort(), ['metrics', 'page.css', 'page.js', 'status.json'].sort());
    for (const path of named) assert.equal((await get(server.port, `/${path}`)).status, 200, path);
    assert.match((await get(server.port, '/page.js')).headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match((await get(server.port, '/page.css')).headers.get('content-type') ?? '', /^text\/css/);
    assert.equal((await get(server.port, '/nothing-here')).status, 404);
  } finally {
    await server.close();
  }
});

test('/status.json: the current state and the history window; ?since= returns only newer samples', { timeout: 30_000 }, async () => {
  const source = fakeSource();
  const server = await startMetricsServer('127.0.0.1:0', new Registry(), {}, undefined, source);
  try {
    type Answer = { now: { asked: number }; history: RatePoint[] };
    let answer: Answer = { now: { asked: 0 }, history: [] };
    // Samples are taken every 2 s: wait for three of them (bounded).
    await waitFor('three history samples', async () => {
      const r = await get(server.port, '/status.json');
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      answer = JSON.parse(r.body) as Answer;
      return answer.history.length >= 3;
    }, 20_000, () => answer);
    assert.ok(answer.now.asked >= 1);
    assert.deepEqual(answer.history.map((p) => p.seq), answer.history.map((_, i) => i + 1), 'samples in order, none lost');
    const since = JSON.parse((await get(server.port, '/status.json?since=2')).body) as Answer;
    assert.ok(since.history.length >= 1 && since.history.every((p) => p.seq > 2), JSON.stringify(since.history.map((p) => p.seq)));
    const none = JSON.parse((await get(server.port, '/status.json?since=1000000')).body) as Answer;
    assert.deepEqual(none.history, []);
  } finally {
    await server.close();
  }
});

test('read-only: POST, PUT, DELETE on the page, status.json and metrics are 405 with Allow: GET', { timeout: 30_000 }, async () => {
  const source = fakeSource();
  const server = await startMetricsServer('127.0.0.1:0', new Registry(), {}, undefined, source);
  try {
    for (const path of ['/', '/status.json', '/metrics', '/page.js']) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const r = await get(server.port, path, method);
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.get('allow'), 'GET');
      }
    }
    assert.equal(source.documents(), 0, 'a refused request asked the daemon for nothing');
  } finally {
    await server.close();
  }
});

test('a storm of /status.json polls shares renderings: 2000 requests, far fewer documents', { timeout: 60_000 }, async () => {
  const source = fakeSource();
  const server = await startMetricsServer('127.0.0.1:0', new Registry(), {}, undefined, source);
  try {
    // 8 clients, 250 polls each, as fast as they are answered (more at once would pass
    // maxConnections: fetch opens a new connection while the last answer is still closing).
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 250; i++) assert.equal((await get(server.port, `/status.json?since=${i}`)).status, 200);
    }));
    assert.ok(source.documents() < 500, `the daemon rendered ${source.documents()} documents for 2000 polls`);
  } finally {
    await server.close();
  }
});

test('without a status page the listener serves /metrics only', { timeout: 30_000 }, async () => {
  const server = await startMetricsServer('127.0.0.1:0', new Registry());
  try {
    assert.equal((await get(server.port, '/metrics')).status, 200);
    assert.equal((await get(server.port, '/')).status, 404);
    assert.equal((await get(server.port, '/status.json')).status, 404);
  } finally {
    await server.close();
  }
});

test('a page file missing from an installation is a 500 naming it, not a crash', () => {
  const files = loadPageFiles(new URL('file:///nonexistent-las-page-dir/'));
  const page = files.get('/')!;
  assert.equal(page.status, 500);
  assert.match(page.body, /\/nonexistent-las-page-dir\/index\.html is missing from this installation/);
  assert.equal(loadPageFiles().get('/page.js')!.status, 200, `the page files are found in ${PAGE_DIR.pathname}`);
});
