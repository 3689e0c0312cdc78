// The metrics listener under hostile local clients: pipelining non-readers are cut off, a flood of
// idle connections cannot lock a scraper out, and a normal scrape is answered meanwhile. The main
// thread renders at most once per RENDER_CACHE_MS however many requests arrive.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { Gauge, Registry } from 'prom-client';
import { METRICS_LIMITS, startMetricsServer } from '../src/control/metrics.js';
import { waitFor } from './support/control.js';
import { closedWithin } from './support/hostile-client.js';

/** A registry counting its renderings. */
function countingRegistry() {
  const registry = new Registry();
  new Gauge({ name: 'las_test_up', help: 'A metric so that scrapes have a body', registers: [registry] }).set(1);
  let renders = 0;
  const metrics = registry.metrics.bind(registry);
  registry.metrics = () => {
    renders++;
    return metrics();
  };
  return { registry, renders: () => renders };
}

async function scrape(port: number): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(20_000) });
  return { status: r.status, body: await r.text() };
}

function connect(port: number): Promise<net.Socket> {
  const socket = net.createConnection(port, '127.0.0.1');
  socket.on('error', () => undefined); // cut off by the server
  return once(socket, 'connect').then(() => socket);
}

test('pipelining non-readers are cut off; 300 idle connections do not lock out a scrape', { timeout: 60_000 }, async () => {
  const { registry, renders } = countingRegistry();
  const server = await startMetricsServer('127.0.0.1:0', registry);
  const sockets: net.Socket[] = [];
  try {
    // 20 clients, each sending 2000 pipelined requests at once and never reading.
    const pipelined = Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2000));
    const pipeliners: net.Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await connect(server.port);
      s.pause();
      s.write(pipelined);
      pipeliners.push(s);
    }
    // 300 connections that send nothing.
    for (let i = 0; i < 300; i++) sockets.push(await connect(server.port));

    const normal = await scrape(server.port);
    assert.equal(normal.status, 200);
    assert.match(normal.body, /^# HELP /m);

    for (const s of pipeliners) assert.equal(await closedWithin(s, 20_000), true, 'a pipelining non-reader was not cut off');
    // Evictions reach the clients as closes; wait (bounded) for them to land.
    const open = () => sockets.filter((s) => !s.destroyed).length;
    await waitFor('idle connections down to the limit', () => open() <= METRICS_LIMITS.maxConnections, 10_000, () => `${open()} idle connections still open`);
    // 40 000 requests asked for; the main thread rendered a handful.
    assert.ok(renders() < 100, `${renders()} renderings`);
    assert.equal((await scrape(server.port)).status, 200);
  } finally {
    for (const s of sockets) s.destroy();
    await server.close();
  }
});

/** Whether the server still holds an established connection from the client's local port. */
function established(serverPort: number, clientPort: number): boolean {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${serverPort} and dport = :${clientPort} )`], { encoding: 'utf8' });
  return out.trim() !== '';
}

test('a scraper that sends one request and never reads is cut off after idleTimeoutMs', { timeout: 30_000 }, async () => {
  const registry = new Registry();
  registry.metrics = async () => 'x'.repeat(32 * 1024 * 1024); // more than the kernel buffers: the answer stalls
  const server = await startMetricsServer('127.0.0.1:0', registry, { idleTimeoutMs: 500 });
  try {
    const s = await connect(server.port);
    s.pause(); // a paused client cannot see the close; the server's side of the socket tells
    s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the server let go of the non-reader', () => !established(server.port, s.localPort!), 20_000, () => 'the server still holds the non-reader');
    s.destroy();
  } finally {
    await server.close();
  }
});
