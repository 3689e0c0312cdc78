// A check that succeeded in its worker counts as a success even when the main event loop was
// starved past the monitor's give-up time: the decision is the check's own outcome, not the
// order in which a late main loop happens to run the give-up timer and the worker's answer.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { HealthMonitor, type HealthChange } from '../src/control/health/health-monitor.js';
import type { HealthCheckConfig } from '../src/config/types.js';

test('a check finished in the worker while the main loop was blocked past the give-up time is a success', { timeout: 30_000 }, async () => {
  const BLOCK_MS = 1500; // far beyond timeout + give-up (200 + 100 ms)
  let blocked = false;
  // The kernel completes the worker's TCP connect on its own; the main loop learns of it here and
  // then stays busy, as it did under the admin-socket flood, while the worker reports success.
  const server = net.createServer((socket) => {
    socket.destroy();
    if (blocked) return;
    blocked = true;
    const until = Date.now() + BLOCK_MS;
    while (Date.now() < until) { /* starve the main loop */ }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;

  const changes: HealthChange[] = [];
  const monitor = new HealthMonitor({ log: pino({ level: 'silent' }), onChange: (c) => changes.push(c), jitter: 0, giveUpAfterMs: 100 });
  const check: HealthCheckConfig = {
    type: 'tcp', port, path: '/', expectStatus: [200, 399], interval: 60, timeout: 0.2, rise: 1, fall: 1, flapWindow: 60, flapThreshold: 0,
  };
  try {
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
  }
});
