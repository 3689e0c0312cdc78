// One source of truth across the N-API boundary: the addon exports its schedulers, flow keys, tx
// modes, worker counter names and flow-entry layout from the native definitions, and
// src/native/contract.ts holds the TypeScript copies the types and zod enums are made from. These
// tests fail when the two drift, check that loading a drifted addon fails with a message naming the
// list and the fix, and that every name on the list really works on both sides.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { parseConfig } from '../src/config/schema.js';
import { loadAddon, type NativeService } from '../src/native/binding.js';
import {
  CONTRACT, FLOW_ENTRY_BYTES, FLOW_ENTRY_FIELDS, FLOW_KEYS, SCHEDULERS, TABLE_SIZE_SCHEDULERS, TCP_SEEN, TX_MODES, WORKER_COUNTERS,
  checkContract, contractDrift, usesTableSize,
} from '../src/native/contract.js';
import { TCP_SYN, tcpFrame } from './support/frames.js';
import { createClassifier } from './support/maglev-sim.js';

const addon = loadAddon();
const run = promisify(execFile);

const OPTIONS = { ingressMac: '02:00:00:00:00:01', egressMac: '02:00:00:00:00:02', flowCapacity: 1024, flowIdleTimeoutMs: 60_000 };
const VIP = '10.7.0.1';
const SERVERS = [
  { address: '10.7.1.1', mac: '02:00:00:00:07:01', weight: 1 },
  { address: '10.7.1.2', mac: '02:00:00:00:07:02', weight: 2 },
];
const service = (o: Partial<NativeService>): NativeService => ({
  vip: VIP, port: 80, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 251, servers: SERVERS, ...o,
});
const syn = (sport: number): Buffer =>
  tcpFrame({ dst: OPTIONS.ingressMac, src: '02:00:00:00:00:c1' }, { src: '192.0.2.7', dst: VIP }, { sport, dport: 80, flags: TCP_SYN });
/** A valid config with `top` keys and `service` keys on its one service. */
const configWith = ({ service: keys, ...top }: { service?: Record<string, unknown> } & Record<string, unknown>) => ({
  interface: 'eth1', ...top, services: [{ name: 'web', vip: VIP, servers: [{ address: '10.7.1.1' }], ...keys }],
});

describe('the addon and src/native/contract.ts agree', () => {
  test('every list the addon exports is the TypeScript one, in the same order', () => {
    assert.deepEqual(addon.SCHEDULERS, [...SCHEDULERS]);
    assert.deepEqual(addon.TABLE_SIZE_SCHEDULERS, [...TABLE_SIZE_SCHEDULERS]);
    assert.deepEqual(addon.FLOW_KEYS, [...FLOW_KEYS]);
    assert.deepEqual(addon.TX_MODES, [...TX_MODES]);
    assert.deepEqual(addon.WORKER_COUNTERS, [...WORKER_COUNTERS]);
    assert.equal(addon.FLOW_ENTRY_BYTES, FLOW_ENTRY_BYTES);
    assert.deepEqual(addon.FLOW_ENTRY_FIELDS, FLOW_ENTRY_FIELDS);
    assert.deepEqual(addon.TCP_FLAGS_SEEN, TCP_SEEN);
    assert.deepEqual(contractDrift(addon), []);
  });

  test('the flow-entry fields lie inside an entry without overlapping, and the ports share one word as the scanner reads them', () => {
    const fields = Object.values(FLOW_ENTRY_FIELDS).sort((a, b) => a.offset - b.offset);
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      assert.ok(f.offset + f.bytes <= FLOW_ENTRY_BYTES);
      assert.equal(f.offset % f.bytes, 0, 'naturally aligned: read through a typed array');
      if (i > 0) assert.ok(fields[i - 1]!.offset + fields[i - 1]!.bytes <= f.offset);
    }
    assert.equal(FLOW_ENTRY_FIELDS.sport.offset % 4, 0);
    assert.equal(FLOW_ENTRY_FIELDS.dport.offset, FLOW_ENTRY_FIELDS.sport.offset + 2);
  });

  test('a drift is described list by list with the fix', () => {
    const drifted = { ...CONTRACT, SCHEDULERS: [...SCHEDULERS, 'lc'], TX_MODES: undefined } as unknown as typeof CONTRACT;
    const drift = contractDrift(drifted);
    assert.equal(drift.length, 2);
    assert.match(drift[0]!, /^SCHEDULERS is \["maglev","wrr","rr","wlc","sh","lc"\] in the addon but \["maglev","wrr","rr","wlc","sh"\] in src\/native\/contract\.ts$/);
    assert.match(drift[1]!, /^TX_MODES is missing in the addon/);
    assert.throws(() => checkContract(drifted, '(x.node)'),
      /^Error: the native addon \(x\.node\) does not match this build of LAS: SCHEDULERS .*; TX_MODES .*\. Rebuild both from the same checkout \(npm run build:native && npm run build\)/);
  });

  test('loading an addon whose lists differ fails at load, naming the addon, the list and the fix', async () => {
    const real = process.env.LAS_ADDON ? resolve(process.env.LAS_ADDON) : fileURLToPath(new URL('../../build/Release/las_native.node', import.meta.url));
    const binding = new URL('../src/native/binding.js', import.meta.url).href;
    const dir = await mkdtemp(join(tmpdir(), 'las-contract-'));
    try {
      const load = (addonPath: string) => run(process.execPath, ['--input-type=module', '-e',
        `import { loadAddon } from ${JSON.stringify(binding)}; console.log(loadAddon().SCHEDULERS.join(','));`,
      ], { env: { ...process.env, LAS_ADDON: addonPath }, timeout: 30_000 });
      // The same addon, one scheduler name changed: as if built from other sources.
      const drifted = join(dir, 'drifted.cjs');
      await writeFile(drifted, `module.exports = { ...require(${JSON.stringify(real)}), SCHEDULERS: ['maglev', 'wrr', 'rr', 'lc', 'sh'] };\n`);
      const failed = await load(drifted).then(() => undefined, (error: { code?: number; stderr?: string }) => error);
      assert.ok(failed, 'loading the drifted addon succeeded');
      assert.notEqual(failed.code, 0);
      assert.ok(failed.stderr?.includes(`the native addon (${drifted}) does not match this build of LAS: SCHEDULERS is ["maglev","wrr","rr","lc","sh"] in the addon but ["maglev","wrr","rr","wlc","sh"] in src/native/contract.ts`), failed.stderr);
      // Control: the unchanged addon through the same path loads.
      const same = join(dir, 'same.cjs');
      await writeFile(same, `module.exports = require(${JSON.stringify(real)});\n`);
      assert.equal((await load(same)).stdout.trim(), SCHEDULERS.join(','));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('every name on the lists works on both sides', () => {
  test('every scheduler: the config accepts it and the fast path forwards with it; another name is refused by both', () => {
    for (const scheduler of addon.SCHEDULERS) {
      const parsed = parseConfig(configWith({ service: { scheduler } }));
      assert.ok(parsed.ok, `${scheduler}: ${JSON.stringify(parsed)}`);
      assert.equal(parsed.config.services[0]?.scheduler, scheduler);
      const classifier = createClassifier(OPTIONS, { services: [service({ scheduler: scheduler as NativeService['scheduler'] })] });
      for (let sport = 1000; sport < 1010; sport++) assert.equal(classifier.classify(syn(sport), 1_000).action, 'forward', scheduler);
    }
    const refused = parseConfig(configWith({ service: { scheduler: 'fastest' } }));
    assert.ok(!refused.ok);
    assert.match(refused.errors[0]!.message, /is not one of "maglev", "wrr", "rr", "wlc", "sh"; "maglev" \(consistent hashing, the default\), "wrr" \(weighted round-robin\), "rr" \(round-robin\), "wlc" \(weighted least flows\) or "sh" \(source hash\)/);
    assert.throws(() => createClassifier(OPTIONS, { services: [service({ scheduler: 'lc' as NativeService['scheduler'] })] }),
      /services\[0\]\.scheduler must be "maglev", "wrr", "rr", "wlc" or "sh"/);
  });

  test('the schedulers that size a table by maglevTableSize are the ones the addon requires a prime size of', () => {
    for (const scheduler of addon.SCHEDULERS) {
      const build = () => createClassifier(OPTIONS, { services: [service({ scheduler: scheduler as NativeService['scheduler'], maglevTableSize: 250 })] });
      if (usesTableSize(scheduler)) assert.throws(build, /maglevTableSize must be prime/, scheduler);
      else assert.doesNotThrow(build, scheduler);
    }
  });

  test('every flow key and tx mode: the config accepts it, the addon takes it, another is refused naming the list', () => {
    for (const flowKey of addon.FLOW_KEYS) {
      const parsed = parseConfig(configWith({ service: { flowKey } }));
      assert.ok(parsed.ok && parsed.config.services[0]?.flowKey === flowKey, flowKey);
      createClassifier(OPTIONS, { services: [service({ flowKey: flowKey as NativeService['flowKey'] })] });
    }
    assert.throws(() => createClassifier(OPTIONS, { services: [service({ flowKey: 'tuple' as NativeService['flowKey'] })] }),
      /services\[0\]\.flowKey must be "addresses" or "5tuple"/);
    const dataplaneOptions = (txMode: string) => ({
      interface: 'lo', egressInterface: 'lo', workers: 1, cpus: [], txMode: txMode as (typeof TX_MODES)[number], flowCapacity: 1024,
      flowIdleTimeoutMs: 1000, ring: { blockSize: 1 << 20, blockCount: 2, frameSize: 0, retireTimeoutMs: 10 }, fanoutId: 1,
      gratuitousArp: false, filter: [],
    });
    for (const txMode of ['auto', ...addon.TX_MODES]) {
      const parsed = parseConfig(configWith({ txMode }));
      assert.ok(parsed.ok && parsed.config.txMode === txMode, txMode);
    }
    // The constructor opens nothing (start() does), so this needs no privilege.
    for (const txMode of addon.TX_MODES) new addon.Dataplane(dataplaneOptions(txMode), { services: [] }).stop();
    assert.throws(() => new addon.Dataplane(dataplaneOptions('mmap'), { services: [] }), /options\.txMode must be "ring", "send" or "sendmmsg"/);
  });

  test('a worker\'s counters are exactly WORKER_COUNTERS, txErrors and one counter per drop reason', () => {
    const classifier = createClassifier(OPTIONS, { services: [service({})] });
    classifier.classify(syn(1000), 1_000);
    const counters = classifier.counters();
    assert.deepEqual(Object.keys(counters).sort(), [...WORKER_COUNTERS, 'txErrors', 'drops'].sort());
    for (const name of WORKER_COUNTERS) assert.equal(typeof counters[name], 'bigint', name);
    assert.deepEqual(Object.keys(counters.drops), addon.DROP_REASONS);
    assert.equal(counters.flowsActive, 1n);
  });
});
