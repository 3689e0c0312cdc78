// Draining: weight 0 (in the config, or `las server drain` at runtime) stops new flows to a server
// while its long-lived connections keep working; a server removed by a reload drains the same way
// and leaves once its last flow has ended.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type ClientResult, type DrLab } from './support/dr-lab.js';
import { flows, lasOk, logLines, nameOf, serverRow, status, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 120_000, skip: needsRoot('network namespaces') };
const LONG_MS = 6000;

/** Starts `n` long-lived HTTP responses (one chunk every 100 ms) and waits until their flows are established. */
async function longLived(lab: DrLab, n: number): Promise<{ done: Promise<ClientResult>; busiest: string }> {
  const done = lab.runClient({ path: `/slow?ms=${LONG_MS}`, requests: n, concurrency: n, timeoutMs: LONG_MS + 15_000 });
  done.catch(() => undefined); // if the test fails first, its own error is the one to report
  let busiest = '';
  await waitFor(`${n} established flows`, async () => {
    const established = (await flows(lab, 'web')).flows.filter((f) => f.state === 'ESTABLISHED');
    const perServer = new Map<string, number>();
    for (const f of established) perServer.set(f.server, (perServer.get(f.server) ?? 0) + 1);
    busiest = [...perServer].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
    return established.length >= n;
  }, 5000, () => flows(lab, 'web'));
  return { done, busiest };
}

async function shortRequests(lab: DrLab): Promise<ClientResult> {
  const r = await lab.runClient({ requests: 60, concurrency: 6 });
  assert.equal(r.failed, 0, JSON.stringify(r.errors));
  return r;
}

test('weight 0 in the config (las reload) during long-lived connections: they keep working, no new connection lands there', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 3 }, async (lab) => {
    const { done, busiest } = await longLived(lab, 6);
    const target = nameOf(lab, busiest);
    const servers = lab.segment.servers.map((s) => (s.address === busiest ? { address: s.address, weight: 0 } : { address: s.address }));
    await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0], servers }] });
    assert.match(await lasOk(lab, ['reload']), /servers changed: web\/10\.77\.0\.1\d/);
    const row = await serverRow(lab, busiest);
    assert.equal(row?.weight, 0);
    assert.ok((row?.activeFlows ?? 0) > 0, JSON.stringify(row));

    const during = await shortRequests(lab);
    assert.equal(during.byServer[target] ?? 0, 0, `new connections reached the drained ${target}: ${JSON.stringify(during.byServer)}`);
    const long = await done;
    assert.equal(long.failed, 0, `long-lived connections broke: ${JSON.stringify(long.errors)}`);
    assert.ok((long.byServer[target] ?? 0) >= 1, JSON.stringify(long.byServer));
  });
});

test('las server drain / enable at runtime: no new flows while drained, existing ones finish; enable brings it back', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 3 }, async (lab) => {
    const { done, busiest } = await longLived(lab, 6);
    const target = nameOf(lab, busiest);
    assert.match(await lasOk(lab, ['server', 'drain', 'web', busiest]), /weight 0 \(config 1\), drained until reload/);
    assert.equal((await serverRow(lab, busiest))?.override, 'drain');
    assert.match(await lasOk(lab, ['status']), new RegExp(`${busiest.replace(/\./g, '\\.')}:80\\s+0\\s+\\d+\\s+\\d+\\s+drained\\s+drained \\(runtime, until reload\\)`));

    const during = await shortRequests(lab);
    assert.equal(during.byServer[target] ?? 0, 0, JSON.stringify(during.byServer));
    const long = await done;
    assert.equal(long.failed, 0, JSON.stringify(long.errors));
    assert.ok((long.byServer[target] ?? 0) >= 1);

    assert.match(await lasOk(lab, ['server', 'enable', 'web', busiest]), /weight 1 \(config 1\), configured weight/);
    const after = await shortRequests(lab);
    assert.ok((after.byServer[target] ?? 0) > 0, JSON.stringify(after.byServer));
    assert.equal(logLines(lab, /^server drained \(runtime/).length, 1);
    assert.equal(logLines(lab, /^server enabled/).length, 1);

    // Mistakes are refused with a reason.
    const wrong = await lab.admin('server', { action: 'drain', service: 'web', address: '10.77.0.99' }).catch((e: Error) => e.message);
    assert.match(String(wrong), /service "web" has no server 10\.77\.0\.99/);
  });
});

test('a server removed by a reload drains: its connection keeps working, then it leaves when its last flow has ended', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 3, config: { flowTimeouts: { tcpFinWait: 1, tcpClose: 1 } } }, async (lab) => {
    const { done, busiest } = await longLived(lab, 6);
    const target = nameOf(lab, busiest);
    const servers = lab.segment.servers.filter((s) => s.address !== busiest).map((s) => ({ address: s.address }));
    await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0], servers }] });
    const answer = (await lab.admin('reload', {}, 15_000)) as { draining: string[]; serversRemoved: string[] };
    assert.deepEqual(answer.draining, [`web/${busiest}`]);
    const row = await serverRow(lab, busiest);
    assert.ok(row?.removed && row.weight === 0 && row.activeFlows > 0, JSON.stringify(row));

    const during = await shortRequests(lab);
    assert.equal(during.byServer[target] ?? 0, 0, JSON.stringify(during.byServer));
    const long = await done;
    assert.equal(long.failed, 0, JSON.stringify(long.errors));
    assert.ok((long.byServer[target] ?? 0) >= 1);

    // Its flows age out (FIN seen: tcpFinWait 1 s); then it is gone from the service.
    await waitFor(`${busiest} gone`, async () => (await serverRow(lab, busiest)) === undefined, 15_000, () => status(lab));
    assert.equal(logLines(lab, /^server drained: its last flow ended/).length, 1);
    assert.equal(logLines(lab, /^server removed from the config: draining/).length, 1);
  });
});
