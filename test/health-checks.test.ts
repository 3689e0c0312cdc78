// The three check types against local servers, and the monitor running them on its piscina pool:
// a server that stops answering goes down after `fall` checks and comes back after `rise`.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { runCheck, type CheckTask } from '../src/control/health/checks.js';
import { HealthMonitor, type HealthChange } from '../src/control/health/health-monitor.js';
import type { HealthCheckConfig } from '../src/config/types.js';

const base: Omit<CheckTask, 'type' | 'port'> = { address: '127.0.0.1', path: '/', expectStatus: [200, 399], timeoutMs: 1000, service: 'web', vip: '10.0.0.100' };

async function listen(server: net.Server | HttpServer, port = 0): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('health checks', () => {
  let http: HttpServer;
  let httpPort: number;
  let silent: net.Server;
  let silentPort: number;
  const sockets = new Set<net.Socket>();

  before(async () => {
    http = createHttpServer((req, res) => {
      const status = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('status') ?? '200');
      res.writeHead(status).end('ok');
    });
    httpPort = await listen(http);
    // Accepts connections but never answers: an HTTP check must time out on it.
    silent = net.createServer((socket) => sockets.add(socket));
    silentPort = await listen(silent);
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    http.closeAllConnections();
    await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => silent.close(r))]);
  });

  it('tcp: a listening port passes, a closed one fails', async () => {
    assert.equal((await runCheck({ ...base, type: 'tcp', port: httpPort })).ok, true);
    const failed = await runCheck({ ...base, type: 'tcp', port: await closedPort() });
    assert.equal(failed.ok, false);
    assert.match(failed.message, /ECONNREFUSED/);
  });

  it('http: the status must be inside expectStatus', async () => {
    assert.equal((await runCheck({ ...base, type: 'http', port: httpPort, path: '/?status=204' })).ok, true);
    const bad = await runCheck({ ...base, type: 'http', port: httpPort, path: '/?status=503' });
    assert.equal(bad.ok, false);
    assert.match(bad.message, /503 \(expected 200-399\)/);
    assert.equal((await runCheck({ ...base, type: 'http', port: httpPort, path: '/?status=503', expectStatus: [500, 503] })).ok, true);
  });

  it('http: a server that never answers fails by the timeout', async () => {
    const r = await runCheck({ ...base, type: 'http', port: silentPort, timeoutMs: 300 });
    assert.equal(r.ok, false);
    assert.match(r.message, /no complete answer within 300 ms/);
    assert.ok(r.durationMs < 2000, `took ${r.durationMs} ms`);
  });

  it('command: exit 0 passes, other codes fail, the server address is in the environment', async () => {
    assert.equal((await runCheck({ ...base, type: 'command', port: 80, command: 'test "$LAS_SERVER:$LAS_PORT/$LAS_SERVICE" = "127.0.0.1:80/web"' })).ok, true);
    const r = await runCheck({ ...base, type: 'command', port: 80, command: 'exit 3' });
    assert.equal(r.ok, false);
    assert.match(r.message, /exit 3/);
  });

  it('command: one that hangs is killed, with what it started, at the timeout', async () => {
    const r = await runCheck({ ...base, type: 'command', port: 80, command: 'sleep 30 & sleep 30', timeoutMs: 300 });
    assert.equal(r.ok, false);
    assert.match(r.message, /killed/);
    assert.ok(r.durationMs < 2000, `took ${r.durationMs} ms`);
  });
});

describe('health monitor (piscina pool)', () => {
  it('a server that stops listening goes down after fall checks and comes back after rise', { timeout: 30_000 }, async () => {
    const server = net.createServer((s) => s.destroy());
    const port = await listen(server);
    const changes: (HealthChange & { at: number })[] = [];
    const monitor = new HealthMonitor({ log: pino({ level: 'silent' }), onChange: (c) => changes.push({ ...c, at: Date.now() }) });
    const check: HealthCheckConfig = {
      type: 'tcp', port, path: '/', expectStatus: [200, 399], interval: 0.1, timeout: 0.1, rise: 3, fall: 2, flapWindow: 60, flapThreshold: 0,
    };
    const waitFor = async (what: string, test: () => boolean, ms = 10_000) => {
      const deadline = Date.now() + ms;
      while (!test()) {
        assert.ok(Date.now() < deadline, `${what} within ${ms} ms; changes: ${JSON.stringify(changes)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      monitor.sync([{ service: 'web', vip: '10.0.0.100', address: '127.0.0.1', check }]);
      await waitFor('three checks', () => (monitor.get('web', '127.0.0.1')?.checks ?? 0) >= 3);
      assert.equal(monitor.get('web', '127.0.0.1')?.health, 'up');
      assert.equal(changes.length, 0);

      await new Promise<void>((resolve) => server.close(() => resolve()));
      await waitFor('down', () => changes.length === 1);
      assert.equal(changes[0]?.health, 'down');
      assert.equal(monitor.get('web', '127.0.0.1')?.failures, 2);

      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
      await waitFor('up again', () => changes.length === 2);
      assert.equal(changes[1]?.health, 'up');
      assert.equal(monitor.get('web', '127.0.0.1')?.successes, 3);
      const counts = monitor.counts()[0]?.counts;
      assert.ok(counts && counts.ok >= 6 && counts.failed >= 2, JSON.stringify(counts));

      // A removed target stops being checked.
      monitor.sync([]);
      assert.equal(monitor.get('web', '127.0.0.1'), undefined);
    } finally {
      await monitor.close();
      server.close();
    }
  });
});
