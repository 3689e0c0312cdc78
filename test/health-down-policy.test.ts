// What happens to the existing flows of a server that fails its checks: "reschedule" (the default)
// moves them to live servers, "keep" leaves them on the dead server. Persistent flows
// (flowKey "addresses"): every client address is one flow that outlives its connections.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { addressOf, flows, serverRow, sleep, startWith, status, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 120_000, skip: needsRoot('network namespaces') };
const SOURCES = 12;
const check = { type: 'tcp', interval: 0.5, timeout: 0.4, rise: 2, fall: 2 };

/** One connection from each client address; source -> server name (or the error). */
async function roundOfRequests(lab: DrLab): Promise<Map<string, string>> {
  const r = await lab.runClient({ requests: SOURCES, concurrency: 4, timeoutMs: 1500 });
  const out = new Map<string, string>();
  for (const [source, servers] of Object.entries(r.bySource)) for (const name of Object.keys(servers)) out.set(source, name);
  for (const source of lab.segment.client.sources) if (!out.has(source)) out.set(source, 'failed');
  return out;
}

async function killS2(lab: DrLab): Promise<void> {
  await lab.stopServer('s2');
  await sleep((check.fall + 1) * check.interval * 1000);
  await waitFor('s2 down', async () => (await serverRow(lab, addressOf(lab, 's2')))?.health === 'down', 2000, () => status(lab));
}

for (const policy of ['reschedule', 'keep'] as const) {
  test(`onServerDown "${policy}": the dead server's existing flows ${policy === 'keep' ? 'stay on it' : 'move to live servers'}; the others stay`, TEST_OPTIONS, async () => {
    await withDrLab({ servers: 3, clientAddresses: SOURCES, service: { flowKey: 'addresses' }, startDaemon: false }, async (lab) => {
      await startWith(lab, { healthCheck: check, onServerDown: policy });
      const before = await roundOfRequests(lab);
      const onS2 = [...before].filter(([, name]) => name === 's2').map(([source]) => source);
      const elsewhere = [...before].filter(([, name]) => name !== 's2');
      assert.ok(onS2.length > 0 && elsewhere.length > 0, `need sources on s2 and elsewhere: ${JSON.stringify([...before])}`);
      assert.ok(![...before.values()].includes('failed'));

      await killS2(lab);
      const after = await roundOfRequests(lab);
      // Flows of live servers are untouched by either policy.
      for (const [source, name] of elsewhere) assert.equal(after.get(source), name, `${source} moved from ${name}`);
      const s2 = addressOf(lab, 's2');
      const table = await flows(lab, 'web');
      if (policy === 'reschedule') {
        for (const source of onS2) assert.ok(['s1', 's3'].includes(after.get(source) ?? ''), `${source}: ${after.get(source)}`);
        assert.ok(!table.flows.some((f) => f.server === s2), `flows still on s2: ${JSON.stringify(table.flows)}`);
      } else {
        for (const source of onS2) assert.equal(after.get(source), 'failed', `${source} should stay on the dead s2, got ${after.get(source)}`);
        for (const source of onS2) assert.ok(table.flows.some((f) => f.client === source && f.server === s2), `${source} not kept on s2: ${JSON.stringify(table.flows)}`);
        // When s2 is back, its kept flows work again.
        await lab.startServer('s2');
        await waitFor('s2 up', async () => (await serverRow(lab, s2))?.health === 'up', (check.rise + 1) * check.interval * 1000 + 1000, () => status(lab));
        const back = await roundOfRequests(lab);
        for (const source of onS2) assert.equal(back.get(source), 's2');
      }
    });
  });
}
