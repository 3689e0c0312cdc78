// A configured server that does not answer ARP no longer stops LAS: the daemon starts (or a reload
// is applied), the server is published down with the reason "no ARP answer", asked again every
// second, and brought in when it answers; a server is eligible only if resolved AND healthy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { addressOf, lasOk, logLines, serverRow, startWith, status, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 150_000, skip: needsRoot('network namespaces') };
const RESOLVE_BOUND_MS = 15_000; // retry tick 1 s + the kernel's ARP round trip, with room for a loaded machine

async function metrics(lab: DrLab): Promise<string> {
  const script = 'fetch("http://127.0.0.1:9477/metrics").then(async (r) => console.log(await r.text()), (e) => console.log("ERR " + e.message))';
  return (await lab.exec('dispatcher', process.execPath, ['-e', script], { timeoutMs: 10_000 })).stdout;
}

/** Makes a server silent to ARP and makes the dispatcher forget it, so LAS must ask. */
async function silence(lab: DrLab, role: string): Promise<void> {
  await lab.setArp(role, false);
  await lab.flushNeighbours('dispatcher');
}

test('a server without ARP answer at start: LAS starts, the server is down (no new flows), it comes in once it answers and is healthy', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 3, startDaemon: false }, async (lab) => {
    const s3 = addressOf(lab, 's3');
    await silence(lab, 's3');
    await startWith(lab, { healthCheck: { type: 'tcp', interval: 1, timeout: 1, rise: 1, fall: 2 } });

    const silentLines = logLines(lab, /^no ARP answer from server/);
    assert.deepEqual(silentLines.map((l) => l.server), [s3]);
    const row = await serverRow(lab, s3) as unknown as Record<string, unknown>;
    assert.equal(row.health, 'down');
    assert.equal(row.arp, 'no answer');
    assert.match(String(row.downReason), /no ARP answer/);
    assert.match(await lasOk(lab, ['status']), /10\.77\.0\.13:80\s+1\s+0\s+0\s+down\s+no ARP answer/);
    const scraped = await metrics(lab);
    assert.match(scraped, new RegExp(`las_server_up\\{service="web",server="${s3.replace(/\./g, '\\.')}",role="real"\\} 0`));
    assert.match(scraped, new RegExp(`las_server_state\\{service="web",server="${s3.replace(/\./g, '\\.')}",role="real",state="down"\\} 1`));

    const during = await lab.runClient({ requests: 60, concurrency: 6 });
    assert.equal(during.failed, 0, JSON.stringify(during.errors));
    assert.equal(during.byServer.s3 ?? 0, 0, `a silent server got new flows: ${JSON.stringify(during.byServer)}`);

    // It answers ARP while its service is stopped: resolved, but the health check keeps it out.
    // First its check must have failed on its own (the health state starts up), then ARP answers.
    await waitFor('s3 failing its check', async () => (await serverRow(lab, s3) as unknown as Record<string, unknown>).checkHealth === 'down', RESOLVE_BOUND_MS, () => status(lab));
    await lab.stopServer('s3');
    await lab.setArp('s3', true);
    await waitFor('s3 answered ARP', () => logLines(lab, /^server answered ARP/).length === 1, RESOLVE_BOUND_MS, () => status(lab));
    const resolved = await serverRow(lab, s3) as unknown as Record<string, unknown>;
    assert.equal(resolved.arp, 'resolved');
    assert.equal(resolved.health, 'down', 'resolved but failing its check: still down');
    const unhealthy = await lab.runClient({ requests: 30, concurrency: 6 });
    assert.equal(unhealthy.failed, 0, JSON.stringify(unhealthy.errors));
    assert.equal(unhealthy.byServer.s3 ?? 0, 0);

    // Resolved AND healthy: it takes new flows.
    await lab.startServer('s3');
    await waitFor('s3 up', async () => (await serverRow(lab, s3))?.health === 'up', RESOLVE_BOUND_MS, () => status(lab));
    const after = await lab.runClient({ requests: 60, concurrency: 6 });
    assert.equal(after.failed, 0, JSON.stringify(after.errors));
    assert.ok((after.byServer.s3 ?? 0) > 0, `s3 took no flows once resolved and healthy: ${JSON.stringify(after.byServer)}`);
    assert.equal(logLines(lab, /^no ARP answer from server/).length, 1, 'the silent server is logged once, not every retry');
  });
});

test('no server answers ARP: LAS still starts and says so; a reload adding a silent server is applied the same way', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 2, startDaemon: false }, async (lab) => {
    const [s1, s2] = [addressOf(lab, 's1'), addressOf(lab, 's2')];
    await lab.setArp('s2', false);
    await silence(lab, 's1');
    await startWith(lab, { servers: [{ address: s1 }] });
    assert.equal(logLines(lab, /^no server of any service answered ARP/).length, 1, lab.daemonOutput().stdout);
    assert.equal((await status(lab))[0]?.newFlows, 'dropped');

    // The reload is not refused: s2 joins down, like s1 at start.
    await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0]!, servers: [{ address: s1 }, { address: s2 }] }] });
    const added = await lab.admin('reload', {}, 20_000) as { reloaded: boolean; noArpAnswer: string[] };
    assert.equal(added.reloaded, true);
    assert.deepEqual([...added.noArpAnswer].sort(), [s1, s2]);
    assert.equal((await serverRow(lab, s2) as unknown as Record<string, unknown>).arp, 'no answer');

    await lab.setArp('s2', true);
    await waitFor('s2 answered ARP', async () => (await serverRow(lab, s2) as unknown as Record<string, unknown>).arp === 'resolved', RESOLVE_BOUND_MS, () => status(lab));
    const result = await lab.runClient({ requests: 20, concurrency: 4 });
    assert.equal(result.failed, 0, JSON.stringify(result.errors));
    assert.deepEqual(result.byServer, { s2: 20 });
    assert.equal((await status(lab))[0]?.newFlows, 'servers');
  });
});
