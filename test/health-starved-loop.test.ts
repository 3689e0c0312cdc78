// A check that succeeded in its worker counts as a success even when the main event loop was
// starved past the monitor's give-up time: the decision is the check's own outcome, not the
// order in which a late main loop happens to run the give-up timer and the worker's answer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { HealthMonitor, type HealthChange } from '../src/control/health/health-monitor.js';
import type { HealthCheckConfig } from '../src/config/types.js';

/** Whether this side of the connection server:port <- client:port is still established (ss: no event loop needed). */
function established(serverPort: number, clientPort: number): boolean {
  return execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${serverPort} and dport = :${clientPort} )`], { encoding: 'utf8' }).trim() !== '';
}

test('a check finished in the worker while the main loop was blocked past the give-up time is a success', { timeout: 30_000 }, async () => {
  const BLOCK_MS = 1500; // at least this: beyond timeout + give-up (1000 + 100 ms)
  // The worker's tcp check destroys its socket, then resolves, and piscina posts the answer: no I/O
  // in between, so the answer is posted well within this margin after the close is seen.
  const AFTER_CLOSE_MS = 500;
  const CLOSE_BOUND_MS = 10_000; // a close that never comes cannot hang the test (the assertions judge)
  let blocked = false;
  let port = 0;
  // The kernel completes the worker's TCP connect on its own; the main loop learns of it here and
  // then stays busy, as it did under the admin-socket flood. It stays busy until the worker has
  // certainly answered: its side of this connection is closed (seen without the event loop, through
  // ss) and a further margin has passed. The worker's answer is then waiting to be read whatever
  // the machine's load, and the give-up timer is overdue: both are ready when the loop wakes.
  const server = net.createServer((socket) => {
    if (blocked) return void socket.destroy();
    blocked = true;
    const started = Date.now();
    const clientPort = socket.remotePort; // undefined: the worker reset the connection before it was accepted
    let closedAt: number | undefined;
    for (let lastPoll = 0; ;) {
      const now = Date.now();
      if (closedAt === undefined && now - lastPoll >= 10) {
        lastPoll = now;
        if (clientPort === undefined || !established(port, clientPort)) closedAt = Date.now();
      }
      if (closedAt !== undefined && now >= Math.max(started + BLOCK_MS, closedAt + AFTER_CLOSE_MS)) break;
      if (now - started >= CLOSE_BOUND_MS) break;
    }
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;

  const changes: HealthChange[] = [];
  const monitor = new HealthMonitor({ log: pino({ level: 'silent' }), onChange: (c) => changes.push(c), jitter: 0, giveUpAfterMs: 100 });
  const check: HealthCheckConfig = {
    type: 'tcp', port, path: '/', expectStatus: [200, 399], interval: 60, timeout: 1, rise: 1, fall: 1, flapWindow: 60, flapThreshold: 0,
  };
  // Warm-up: the pool's thread starts with the monitor, and a first check queued while it still
  // loads could be given up (1.1 s) before the thread runs it at all: a different race from the
  // one tested here. A check on another server runs first; once that server has seen its connect and
  // the check is decided, the thread is up, and the warm-up target is taken out again.
  let warmConnects = 0;
  const warmServer = net.createServer((socket) => {
    warmConnects++;
    socket.destroy();
  });
  warmServer.listen(0, '127.0.0.1');
  await once(warmServer, 'listening');
  const warmCheck = { ...check, port: (warmServer.address() as net.AddressInfo).port };
  try {
    const warmUntil = Date.now() + 20_000; // bounded; the assertions below judge a warm-up that never ran
    monitor.sync([{ service: 'warm-up', vip: '10.0.0.100', address: '127.0.0.1', check: warmCheck }]);
    while ((warmConnects < 1 || (monitor.get('warm-up', '127.0.0.1')?.checks ?? 0) < 1) && Date.now() < warmUntil) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    changes.length = 0; // the warm-up's, if any; the target below starts now
    monitor.sync([{ service: 'web', vip: '10.0.0.100', address: '127.0.0.1', check }]);
    const deadline = Date.now() + 20_000;
    while ((monitor.get('web', '127.0.0.1')?.checks ?? 0) < 1) {
      assert.ok(Date.now() < deadline, 'the first check was not decided within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(blocked, true, 'the main loop was not blocked during the check');
    assert.deepEqual(monitor.counts()[0]?.counts, { ok: 1, failed: 0 });
    assert.deepEqual(changes, []); // never marked down
  } finally {
    await monitor.close();
    server.close();
    warmServer.close();
  }
});
