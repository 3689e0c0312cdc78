// A reload that adds a server moves exactly the share of flows Maglev predicts. The prediction comes
// from the addon's maglevTable before and after plus the simulator's copy of the flow hash
// (support/maglev-sim.ts, checked against the Classifier in maglev.test.ts); the observation from
// `las flows`. Persistent flows (flowKey "addresses"): one flow per client address, 40 addresses.
// Tolerance: the per-flow prediction must match exactly (0 flows off); the moved share must also be
// within 3 binomial standard deviations of the share of Maglev slots that changed owner.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon, type NativeService } from '../src/native/binding.js';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { maglevPredictor } from './support/maglev-sim.js';
import { addressOf, flows, lasOk, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 120_000, skip: needsRoot('network namespaces') };
const SOURCES = 40;
const TABLE_SIZE = 65537;

function service(servers: string[]): NativeService {
  return {
    vip: '10.77.0.100', port: 80, protocol: 'tcp', flowKey: 'addresses', scheduler: 'maglev', maglevTableSize: TABLE_SIZE,
    servers: servers.map((address) => ({ address, mac: '02:00:00:00:00:01', weight: 1 })),
  };
}

/** Client address -> server address, as `las flows` shows them after one request from every address. */
async function observe(lab: DrLab): Promise<Map<string, string>> {
  const r = await lab.runClient({ requests: SOURCES, concurrency: 8 });
  assert.equal(r.failed, 0, JSON.stringify(r.errors));
  const table = await flows(lab, 'web');
  assert.equal(table.total, SOURCES, `one flow per client address: ${JSON.stringify(table.flows)}`);
  const seen = new Map(table.flows.map((f) => [f.client, f.server]));
  // The servers that answered agree with the table.
  for (const [source, answered] of Object.entries(r.bySource)) {
    assert.deepEqual(Object.keys(answered).map((name) => addressOf(lab, name)), [seen.get(source)], source);
  }
  return seen;
}

async function tableEmpty(lab: DrLab): Promise<void> {
  // FIN seen -> tcpFinWait (1 s here): the entries age out and the next request is a new flow.
  await waitFor('the flows age out', async () => (await flows(lab, 'web')).total === 0, 15_000, () => flows(lab, 'web'));
}

test('adding a server by reload moves exactly the flows Maglev predicts (about 1/4), all to the new server', TEST_OPTIONS, async (t) => {
  await withDrLab({
    servers: 4, clientAddresses: SOURCES, config: { flowTimeouts: { tcpFinWait: 1, tcpClose: 1 } },
    service: { flowKey: 'addresses' }, startDaemon: false,
  }, async (lab) => {
    const [s1, s2, s3, s4] = lab.segment.servers.map((s) => s.address) as [string, string, string, string];
    // Three of the four servers first.
    await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0], servers: [s1, s2, s3].map((address) => ({ address })) }] });
    await lab.startDaemon();

    const before = service([s1, s2, s3]);
    const after = service([s1, s2, s3, s4]);
    const addon = loadAddon();
    const predict = (svc: NativeService) => {
      const pick = maglevPredictor(addon.maglevTable, svc);
      return (src: string) => svc.servers[pick({ src, dst: svc.vip, sport: 40000, dport: 80, protocol: 'tcp' })]?.address;
    };
    const [predictBefore, predictAfter] = [predict(before), predict(after)];
    const sources = lab.segment.client.sources;

    const observedBefore = await observe(lab);
    for (const src of sources) assert.equal(observedBefore.get(src), predictBefore(src), `${src} before the reload`);
    await tableEmpty(lab);

    await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0], servers: [s1, s2, s3, s4].map((address) => ({ address })) }] });
    assert.match(await lasOk(lab, ['reload']), new RegExp(`servers added: web/${s4.replace(/\./g, '\\.')}`));
    const observedAfter = await observe(lab);

    const predictedMoved = sources.filter((src) => predictAfter(src) !== predictBefore(src));
    const observedMoved = sources.filter((src) => observedAfter.get(src) !== observedBefore.get(src));
    assert.deepEqual(observedMoved, predictedMoved, 'the flows that moved are exactly the predicted ones');
    for (const src of observedMoved) assert.equal(observedAfter.get(src), s4, `${src} moved to ${observedAfter.get(src)}, not to the new server`);

    // The share: against the share of table slots whose owner changed (about 1/4 for 3 -> 4 servers).
    const tBefore = addon.maglevTable(before.servers, TABLE_SIZE);
    const tAfter = addon.maglevTable(after.servers, TABLE_SIZE);
    let changed = 0;
    for (let i = 0; i < TABLE_SIZE; i++) if (before.servers[tBefore[i]!]?.address !== after.servers[tAfter[i]!]?.address) changed++;
    const p = changed / TABLE_SIZE;
    const share = observedMoved.length / SOURCES;
    const tolerance = 3 * Math.sqrt((p * (1 - p)) / SOURCES);
    assert.ok(Math.abs(p - 0.25) < 0.02, `slots that changed owner: ${p}`);
    t.diagnostic(`moved ${observedMoved.length}/${SOURCES} flows (predicted ${predictedMoved.length}); slots changed ${(100 * p).toFixed(1)}% ± ${(100 * tolerance).toFixed(1)}%`);
    assert.ok(Math.abs(share - p) <= tolerance, `moved share ${share} vs predicted ${p.toFixed(3)} ± ${tolerance.toFixed(3)}`);
  });
});

test('flows alive during the reload keep their server even when Maglev now maps them to the new one', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 4, clientAddresses: SOURCES, service: { flowKey: 'addresses' }, startDaemon: false }, async (lab) => {
    const [s1, s2, s3, s4] = lab.segment.servers.map((s) => s.address) as [string, string, string, string];
    await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0], servers: [s1, s2, s3].map((address) => ({ address })) }] });
    await lab.startDaemon();
    const addon = loadAddon();
    const pick = maglevPredictor(addon.maglevTable, service([s1, s2, s3, s4]));
    const mover = lab.segment.client.sources.find((src) => pick({ src, dst: lab.vip, sport: 1, dport: 80, protocol: 'tcp' }) === 3);
    assert.ok(mover, 'some client address maps to the new server after the reload');

    const long = lab.runClient({ path: '/slow?ms=4000', requests: 1, sources: [mover], timeoutMs: 15_000 });
    long.catch(() => undefined);
    await waitFor('the long flow', async () => (await flows(lab, 'web')).total === 1, 5000);
    const owner = (await flows(lab, 'web')).flows[0]!.server;
    await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0], servers: [s1, s2, s3, s4].map((address) => ({ address })) }] });
    await lasOk(lab, ['reload']);
    // A new connection from the same address during the long one: the same (kept) flow, the same server.
    const again = await lab.runClient({ requests: 3, sources: [mover] });
    assert.deepEqual(Object.keys(again.byServer).map((n) => addressOf(lab, n)), [owner]);
    const result = await long;
    assert.equal(result.failed, 0, JSON.stringify(result.errors));
    assert.equal(addressOf(lab, Object.keys(result.byServer)[0]!), owner);
  });
});
