// A scrape storm against the metrics listener, measured from outside: `node dist/bench/metrics-storm.js
// [--storm N] [--seconds S] [--reconnect]`. N processes each open 20 connections that pipeline GET
// /metrics and never read (--reconnect: and come back 10 ms after being cut off); a separate process scrapes normally every 200 ms. Prints the normal scrapes' latencies, the
// listener's event-loop delay (what the rest of the control plane would wait), its CPU and peak RSS.
// Loopback only; everything it starts is stopped at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createMetricsRegistry, startMetricsServer } from '../src/control/metrics.js';
import type { ServiceStatus } from '../src/control/status.js';

const { values } = parseArgs({ options: { reconnect: { type: 'boolean', default: false }, storm: { type: 'string', default: '4' }, seconds: { type: 'string', default: '10' }, port: { type: 'string', default: '19477' } } });
const storms = Number(values.storm);
const seconds = Number(values.seconds);
const port = Number(values.port);

// 20 services x 8 servers: a few thousand samples per scrape, like a mid-sized site.
const status = Array.from({ length: 20 }, (_, s) => ({
  name: `svc${s}`, vip: `10.0.${s}.1`, port: 80, protocol: 'tcp',
  servers: Array.from({ length: 8 }, (_, r) => ({ address: `10.1.${s}.${r + 1}`, role: 'real', packets: 1n, bytes: 1n, newFlows: 1n, activeFlows: 1, health: 'up', weight: 1 })),
})) as unknown as ServiceStatus[];
const registry = createMetricsRegistry({
  stats: () => undefined, status: () => status, flowCapacity: () => 1, aging: () => ({ passes: 0, scanned: 0, expired: 0, refused: 0, sweeps: 0 }),
  healthChecks: () => status.flatMap((s) => s.servers.map((r) => ({ service: s.name, address: r.address, counts: { ok: 1, failed: 0 } }))),
  reloads: () => ({ ok: 0, refused: 0, lastOk: true, lastSuccessMs: 0 }),
});
const server = await startMetricsServer(`127.0.0.1:${port}`, registry);

const stormScript = `
const net = require('net');
const req = Buffer.from('GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'.repeat(200));
const open = () => {
  const s = net.createConnection(${port}, '127.0.0.1');
  s.pause(); // never reads
  s.on('error', () => {});
  const pump = () => { while (!s.destroyed && s.write(req)); };
  s.on('connect', pump); s.on('drain', pump);
  s.on('close', () => ${values.reconnect ? 'setTimeout(open, 10)' : '0'}); // cut off: come back, or give up
};
for (let i = 0; i < 20; i++) open();`;
const scrapeScript = `
const lat = []; let failed = 0; const end = Date.now() + ${seconds * 1000};
(async () => {
  while (Date.now() < end) {
    const t = performance.now();
    try { const r = await fetch('http://127.0.0.1:${port}/metrics', { signal: AbortSignal.timeout(5000) }); await r.text(); if (r.status !== 200) failed++; else lat.push(performance.now() - t); }
    catch { failed++; lat.push(-(performance.now() - t)); }
    await new Promise((r) => setTimeout(r, 200));
  }
  const timeline = lat.map((x) => Math.round(x)); const ok = lat.filter((x) => x >= 0).sort((a, b) => a - b); lat.length = 0; lat.push(...ok);
  console.log(JSON.stringify({ scrapes: lat.length, failed, p50: lat[lat.length >> 1], max: lat[lat.length - 1], timeline }));
})();`;

const children: ChildProcess[] = [];
for (let i = 0; i < storms; i++) children.push(spawn(process.execPath, ['-e', stormScript], { stdio: 'ignore' }));
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
const cpu0 = process.cpuUsage();
const t0 = Date.now();
const scraper = spawn(process.execPath, ['-e', scrapeScript], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
scraper.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
await once(scraper, 'exit');
const cpu = process.cpuUsage(cpu0);
const elapsedMs = Date.now() - t0;
delay.disable();
clearInterval(rssTimer);
for (const c of children) c.kill('SIGKILL');
await server.close();
const ms = (ns: number) => Math.round(ns / 1e6);
console.log(JSON.stringify({
  storm: `${storms} x 20 pipelining non-readers${values.reconnect ? ', reconnecting when cut off' : ''}`, seconds, normalScrape: JSON.parse(out || '{}'),
  listenerLoopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
  elapsedMs, listenerCpuPercent: Math.round(((cpu.user + cpu.system) / 1e3 / elapsedMs) * 100), peakRssMB: Math.round(peakRss / 2 ** 20),
}));
process.exit(0);
