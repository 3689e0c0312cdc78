// Health checks against real servers in namespaces: a killed server stops receiving new
// connections within fall × interval + one interval and is back after rise checks once restarted;
// with every server down, new flows go to the sorry server, or are dropped, counted and logged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { addressOf, lasOk, logLines, serverRow, sleep, startWith, status, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 120_000, skip: needsRoot('network namespaces') };

test('a killed server stops getting new connections within fall × interval + interval; it is back after rise checks', TEST_OPTIONS, async () => {
  const check = { type: 'http', path: '/', interval: 1, timeout: 0.5, rise: 2, fall: 2 };
  await withDrLab({ servers: 3, startDaemon: false }, async (lab) => {
    await startWith(lab, { healthCheck: check });
    const s2 = addressOf(lab, 's2');

    const before = await lab.runClient({ requests: 60, concurrency: 6 });
    assert.equal(before.failed, 0, JSON.stringify(before.errors));
    assert.ok((before.byServer.s2 ?? 0) > 0, `s2 took none before: ${JSON.stringify(before.byServer)}`);

    await lab.stopServer('s2');
    const killedAt = Date.now();
    // The bound the issue sets: fall × interval, plus one interval.
    const boundMs = (check.fall + 1) * check.interval * 1000;
    await sleep(Math.max(0, killedAt + boundMs - Date.now()));
    assert.equal((await serverRow(lab, s2))?.health, 'down', await lasOk(lab, ['status']));
    const during = await lab.runClient({ requests: 60, concurrency: 6 });
    assert.equal(during.failed, 0, `connections still sent to the dead server: ${JSON.stringify(during.errors)}`);
    assert.equal(during.byServer.s2 ?? 0, 0);
    const down = logLines(lab, /^server down/);
    assert.equal(down.length, 1, JSON.stringify(down));
    assert.equal(down[0]?.server, s2);

    await lab.startServer('s2');
    // Back after `rise` good checks: within (rise + 1) intervals of the restart.
    await waitFor('s2 up again', async () => (await serverRow(lab, s2))?.health === 'up', (check.rise + 1) * check.interval * 1000 + 1000, () => status(lab));
    const after = await lab.runClient({ requests: 60, concurrency: 6 });
    assert.equal(after.failed, 0, JSON.stringify(after.errors));
    assert.ok((after.byServer.s2 ?? 0) > 0, `s2 took none after it came back: ${JSON.stringify(after.byServer)}`);
    assert.equal(logLines(lab, /^server up/).length, 1);
    assert.match(await lasOk(lab, ['status']), /10\.77\.0\.12:80\s+1\s+\d+\s+\d+\s+up/);
  });
});

test('every server down: new flows go to the sorry server; without one they are dropped, counted as no_server and logged', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 3, startDaemon: false }, async (lab) => {
    const [s1, s2, s3] = ['s1', 's2', 's3'].map((n) => addressOf(lab, n)) as [string, string, string];
    const service = {
      servers: [{ address: s1 }, { address: s2 }],
      healthCheck: { type: 'tcp', interval: 0.5, timeout: 0.4, rise: 1, fall: 1 },
      sorryServer: { address: s3 },
    };
    await startWith(lab, service);
    const normal = await lab.runClient({ requests: 30, concurrency: 5 });
    assert.equal(normal.failed, 0, JSON.stringify(normal.errors));
    assert.equal(normal.byServer.s3 ?? 0, 0, 'the sorry server takes nothing while a server is up');

    await Promise.all([lab.stopServer('s1'), lab.stopServer('s2')]);
    await waitFor('new flows to the sorry server', async () => (await status(lab))[0]?.newFlows === 'sorry server', 5000, () => status(lab));
    const sorry = await lab.runClient({ requests: 10, concurrency: 5 });
    assert.equal(sorry.failed, 0, JSON.stringify(sorry.errors));
    assert.deepEqual(sorry.byServer, { s3: 10 });
    assert.equal(logLines(lab, /new flows go to the sorry server/).length, 1);

    // The same without a sorry server: dropped, counted, logged.
    const { sorryServer: _sorry, ...withoutSorry } = lab.config.services[0]!;
    await lab.writeConfig({ ...lab.config, services: [withoutSorry] });
    await lasOk(lab, ['reload']);
    assert.equal((await status(lab))[0]?.newFlows, 'dropped');
    const dropped = await lab.runClient({ requests: 3, concurrency: 3, timeoutMs: 1000 });
    assert.equal(dropped.ok, 0);
    const row = (await status(lab))[0];
    assert.ok(Number(row?.noServer) >= 3, `no_server counter: ${JSON.stringify(row)}`);
    assert.equal(logLines(lab, /new flows are dropped and counted as no_server/).length, 1);

    await lab.startServer('s1');
    await waitFor('s1 up', async () => (await serverRow(lab, s1))?.health === 'up', 5000, () => status(lab));
    const back = await lab.runClient({ requests: 5, concurrency: 5 });
    assert.deepEqual(back.byServer, { s1: 5 });
    assert.equal(logLines(lab, /a server can take new flows again/).length, 1);
  });
});
