// Maglev tables from the addon (`maglevTable`), and a userspace simulator (Katran's idea) that
// predicts the Classifier's server for new flows from that table and a TypeScript copy of the
// flow hash (test/support/maglev-sim.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadAddon, type NativeService, type NativeSnapshot } from '../src/native/binding.js';
import { intToIpv4, prng, TCP_SYN, tcpFrame, udpFrame } from './support/frames.js';
import {
  createClassifier, FLOW_TABLE_SEED, flowKeyOf, hashFlow, maglevPick, maglevPredictor, mix64, MAGLEV_FLOW_SEED, type SimPacket,
} from './support/maglev-sim.js';

const addon = loadAddon();

const servers = (n: number, weight = 1, base = 1): { address: string; weight: number }[] =>
  Array.from({ length: n }, (_, i) => ({ address: `10.20.0.${base + i}`, weight }));

function shares(table: Int32Array, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const s of table) counts[s] = (counts[s] ?? 0) + 1;
  return counts.map((c) => c / table.length);
}

/** Fraction of slots whose owner (by address) differs between two tables. */
function changedOwner(
  a: Int32Array, aServers: { address: string }[], b: Int32Array, bServers: { address: string }[],
): number {
  assert.equal(a.length, b.length);
  let changed = 0;
  for (let i = 0; i < a.length; i++) {
    if (aServers[a[i] as number]?.address !== bServers[b[i] as number]?.address) changed++;
  }
  return changed / a.length;
}

describe('maglevTable', () => {
  test('every slot is filled with a valid server index', () => {
    for (const [n, size] of [[1, 251], [3, 251], [10, 65_537], [100, 65_537], [7, 13]] as const) {
      const table = addon.maglevTable(servers(n), size);
      assert.equal(table.length, size);
      for (const s of table) assert.ok(s >= 0 && s < n, `slot owner ${s} with ${n} servers, size ${size}`);
      if (size >= n) assert.equal(new Set(table).size, n, `every one of ${n} servers owns a slot (size ${size})`);
    }
  });

  test('shares follow the weights within 2% of the table', () => {
    const cases: { weights: number[]; size: number }[] = [
      { weights: [1, 1, 2], size: 65_537 },
      { weights: [1, 2, 3, 4], size: 65_537 },
      { weights: [100, 1], size: 65_537 },
      { weights: [5, 5, 5, 5, 5], size: 251 },
    ];
    for (const { weights, size } of cases) {
      const list = weights.map((weight, i) => ({ address: `10.20.1.${i + 1}`, weight }));
      const total = weights.reduce((a, b) => a + b, 0);
      const got = shares(addon.maglevTable(list, size), weights.length);
      got.forEach((share, i) => {
        const want = (weights[i] as number) / total;
        assert.ok(Math.abs(share - want) <= 0.02, `weights ${weights}: server ${i} has ${share.toFixed(4)}, want ${want.toFixed(4)}`);
      });
    }
  });

  test('the same input gives the same table: a restarted dispatcher agrees', () => {
    const list = [...servers(7), { address: '10.20.0.99', weight: 3 }];
    const first = addon.maglevTable(list, 65_537);
    const again = addon.maglevTable(list.map((s) => ({ ...s })), 65_537);
    assert.deepEqual(again, first);

    // Two Classifiers (two dispatchers, or one before and after a restart) place unknown flows alike.
    const service: NativeService = {
      vip: '10.20.9.1', port: 443, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 65_537,
      servers: list.map((s, i) => ({ ...s, mac: `02:00:00:00:14:${(i + 1).toString(16).padStart(2, '0')}` })),
    };
    const opts = { ingressMac: '02:00:00:00:00:01', egressMac: '02:00:00:00:00:02', flowCapacity: 4_096, flowIdleTimeoutMs: 60_000 };
    const one = createClassifier(opts, { services: [service] });
    const two = createClassifier(opts, { services: [service] });
    const used = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const frame = tcpFrame({ dst: opts.ingressMac, src: '02:00:00:00:00:c1' }, { src: `172.20.${i >> 8}.${i & 255}`, dst: service.vip },
        { sport: 1_024 + i * 7, dport: 443, flags: TCP_SYN });
      const a = one.classify(frame, 1);
      const b = two.classify(frame, 999_999);
      assert.equal(a.action, 'forward');
      assert.deepEqual(b, a, `flow ${i}`);
      if (a.action === 'forward') used.add(a.server);
    }
    assert.equal(used.size, list.length);
  });

  test('adding an 11th server moves close to 1/11 of the slots; removing it restores the table', () => {
    const ten = servers(10);
    const eleven = [...ten, { address: '10.20.0.200', weight: 1 }];
    const before = addon.maglevTable(ten, 65_537);
    const after = addon.maglevTable(eleven, 65_537);
    const moved = changedOwner(before, ten, after, eleven);
    assert.ok(moved >= 0.07 && moved <= 0.13, `moved ${moved.toFixed(4)} of the slots`);
    const newShare = shares(after, 11)[10] as number;
    assert.ok(Math.abs(newShare - 1 / 11) <= 0.02, `the new server owns ${newShare.toFixed(4)}`);
    // Nearly every moved slot went to the new server (little collateral reshuffling).
    assert.ok(moved - newShare <= 0.03, `collateral ${(moved - newShare).toFixed(4)}`);
    assert.deepEqual(addon.maglevTable(ten, 65_537), before, 'removed again: the original table');

    // Removing a server from the middle moves about its own share, and re-adding restores the table.
    const nine = ten.filter((_, i) => i !== 4);
    const without = addon.maglevTable(nine, 65_537);
    const removedMoved = changedOwner(before, ten, without, nine);
    assert.ok(removedMoved >= 0.07 && removedMoved <= 0.15, `removing moved ${removedMoved.toFixed(4)}`);
    assert.deepEqual(addon.maglevTable(ten, 65_537), before);
  });

  test('the server order in the list barely matters: reversing it changes under 1% of the owners', () => {
    const list = servers(10);
    const reversed = [...list].reverse();
    const moved = changedOwner(addon.maglevTable(list, 65_537), list, addon.maglevTable(reversed, 65_537), reversed);
    assert.ok(moved < 0.01, `reversed order changed ${moved.toFixed(4)} of the owners`);
  });

  test('a weight-0 server gets no slot; all weights 0 gives an empty (-1) table', () => {
    const list = [{ address: '10.20.2.1', weight: 1 }, { address: '10.20.2.2', weight: 0 }, { address: '10.20.2.3', weight: 2 }];
    const table = addon.maglevTable(list, 65_537);
    assert.ok(!table.includes(1), 'the weight-0 server owns a slot');
    const got = shares(table, 3);
    assert.ok(Math.abs((got[0] as number) - 1 / 3) <= 0.02 && Math.abs((got[2] as number) - 2 / 3) <= 0.02, `shares ${got}`);
    const none = addon.maglevTable(list.map((s) => ({ ...s, weight: 0 })), 251);
    assert.ok(none.every((s) => s === -1));
    assert.ok(addon.maglevTable([], 251).every((s) => s === -1));
  });

  test('a non-prime size throws, for the table and for a Maglev service', () => {
    for (const size of [0, 1, 4, 100, 65_536, 65_535]) {
      assert.throws(() => addon.maglevTable(servers(3), size), RangeError, `size ${size}`);
    }
    const service: NativeService = {
      vip: '10.20.9.2', port: 80, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 65_536,
      servers: [{ address: '10.20.3.1', mac: '02:00:00:00:15:01', weight: 1 }],
    };
    assert.throws(
      () => createClassifier({ ingressMac: '02:00:00:00:00:01', egressMac: '02:00:00:00:00:02', flowCapacity: 16, flowIdleTimeoutMs: 1_000 }, { services: [service] }),
      /maglevTableSize must be prime/,
    );
  });
});

describe('simulator', () => {
  test('the TypeScript hash is splitmix64 as in native/lb/hash.h', () => {
    // Reference values printed by a C++ program that includes native/lb/hash.h.
    assert.equal(mix64(0n), 0n);
    assert.equal(mix64(1n), 0x5692161d100b05e5n);
    assert.equal(mix64(0xdeadbeefn), 0x4e062702ec929eean);
    const key = { src: 0xac100001, dst: 0x0a000001, sport: 1234, dport: 80, proto: 6 };  // 172.16.0.1 -> 10.0.0.1
    const h = hashFlow(key, MAGLEV_FLOW_SEED);
    assert.equal(h, 0x591dd4e7a9b10895n);
    assert.equal(hashFlow(key, FLOW_TABLE_SEED), 0x81db6fe788445192n);
    // ... and it changes with every key field.
    for (const variant of [{ src: key.src + 1 }, { dst: key.dst + 1 }, { sport: 1235 }, { dport: 81 }, { proto: 17 }]) {
      assert.notEqual(hashFlow({ ...key, ...variant }, MAGLEV_FLOW_SEED), h, JSON.stringify(variant));
    }
  });

  test('predicts the Classifier\'s server for 1000 random flows on three kinds of service', () => {
    const mac = (i: number): string => `02:00:00:00:16:${i.toString(16).padStart(2, '0')}`;
    const pool = [1, 2, 3, 1, 5, 0, 2].map((weight, i) => ({ address: `10.30.0.${i + 1}`, mac: mac(i + 1), weight }));
    const services: NativeService[] = [
      { vip: '10.30.9.1', port: 80, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 65_537, servers: pool },
      { vip: '10.30.9.2', port: 0, protocol: 'udp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 4_099, servers: pool },
      { vip: '10.30.9.3', port: 0, protocol: 'udp', flowKey: 'addresses', scheduler: 'maglev', maglevTableSize: 65_537, servers: pool.slice(0, 4) },
    ];
    const snapshot: NativeSnapshot = { services };
    const predictors = services.map((s) => maglevPredictor(addon.maglevTable, s));
    const c = createClassifier({ ingressMac: '02:00:00:00:00:01', egressMac: '02:00:00:00:00:02', flowCapacity: 4_096, flowIdleTimeoutMs: 60_000 }, snapshot);
    const next = prng(20240611);
    const hits = services.map(() => new Set<number>());
    for (let i = 0; i < 1_000; i++) {
      const which = i % 3;
      const svc = services[which] as NativeService;
      const p: SimPacket = {
        src: intToIpv4(next()),
        dst: svc.vip,
        sport: next() & 0xffff,
        dport: svc.port === 0 ? next() & 0xffff : svc.port,
        protocol: svc.protocol,
      };
      const eth = { dst: '02:00:00:00:00:01', src: '02:00:00:00:00:c1' };
      const frame = p.protocol === 'tcp'
        ? tcpFrame(eth, { src: p.src, dst: p.dst }, { sport: p.sport, dport: p.dport, flags: TCP_SYN })
        : udpFrame(eth, { src: p.src, dst: p.dst }, { sport: p.sport, dport: p.dport });
      const verdict = c.classify(frame, 10);
      assert.equal(verdict.action, 'forward', `flow ${i}: ${JSON.stringify(verdict)}`);
      if (verdict.action !== 'forward') continue;
      assert.equal(verdict.service, which);
      const predicted = (predictors[which] as (p: SimPacket) => number)(p);
      assert.equal(verdict.server, predicted, `flow ${i} ${JSON.stringify(p)}: classifier ${verdict.server}, simulator ${predicted}`);
      hits[which]?.add(predicted);
    }
    // Not vacuous: the flows reached every weighted server of each service, never the weight-0 one.
    assert.deepEqual(hits.map((h) => h.size), [6, 6, 4]);
    assert.ok(!hits[0]?.has(5) && !hits[1]?.has(5));
  });

  test('an addresses key ignores the ports: one prediction per client', () => {
    const table = addon.maglevTable(servers(5), 65_537);
    const svc = { port: 0, flowKey: 'addresses' as const };
    const picks = new Set<number>();
    for (let sport = 1; sport < 2_000; sport += 37) {
      picks.add(maglevPick(table, flowKeyOf(svc, { src: '172.30.0.9', dst: '10.30.9.3', sport, dport: sport * 3, protocol: 'udp' })));
    }
    assert.equal(picks.size, 1);
  });
});
