// Golden frames: the exact per-frame decision of the I/O threads, run through the socket-free
// Classifier, one test per row of test/fixtures/golden-frames.ts; then the drop counters must add up
// to exactly the reasons the table expects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon } from '../src/native/binding.js';
import type { Verdict } from '../src/native/bench-binding.js';
import {
  EGRESS_MAC, GOLDEN_FIXTURES, GOLDEN_OPTIONS, GOLDEN_SNAPSHOT, type GoldenFixture,
} from './fixtures/golden-frames.js';
import {
  frameOffsets, formatMac, prng, verifyIpv4HeaderChecksum,
} from './support/frames.js';
import { createClassifier } from './support/maglev-sim.js';

const addon = loadAddon();
const classifier = createClassifier(GOLDEN_OPTIONS, GOLDEN_SNAPSHOT);
let clock = 1_000;
// Every forward verdict of the rows, for the service and server counters.
const forwards: { service: number; server: number; bytes: number }[] = [];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function checkVerdict(fx: GoldenFixture, verdict: Verdict): void {
  const want = fx.expect;
  switch (want.action) {
    case 'forward': {
      assert.equal(verdict.action, 'forward', `verdict: ${JSON.stringify(verdict)}`);
      if (verdict.action !== 'forward') return;
      // The indexes name a server of the snapshot, and it is the expected one.
      const server = GOLDEN_SNAPSHOT.services[verdict.service]?.servers[verdict.server];
      assert.ok(server, `service ${verdict.service} server ${verdict.server} is not in the snapshot`);
      assert.equal(server.mac, want.serverMac);
      assert.equal(formatMac(verdict.frame.subarray(0, 6)), want.serverMac, 'destination MAC = server MAC');
      assert.equal(formatMac(verdict.frame.subarray(6, 12)), EGRESS_MAC, 'source MAC = egress MAC');
      assert.ok(want.output, 'a forward row carries its output frame');
      assert.equal(hex(verdict.frame), hex(want.output), 'exact output frame');
      // Independent of the table: the IP header is left valid.
      if (frameOffsets(verdict.frame).ethertype === 0x0800) assert.ok(verifyIpv4HeaderChecksum(verdict.frame));
      return;
    }
    case 'arp_reply':
      assert.equal(verdict.action, 'arp_reply', `verdict: ${JSON.stringify(verdict)}`);
      if (verdict.action !== 'arp_reply') return;
      assert.ok(want.output);
      assert.equal(hex(verdict.frame), hex(want.output), 'exact ARP reply');
      return;
    case 'drop':
      assert.deepEqual(verdict, { action: 'drop', reason: want.reason });
      return;
    case 'pass':
      assert.deepEqual(verdict, { action: 'pass' });
      return;
  }
}

test('the table is well formed: reasons are real drop reasons, forward rows change only the MACs', () => {
  const reasons = new Set(addon.DROP_REASONS);
  const descriptions = new Set<string>();
  for (const fx of GOLDEN_FIXTURES) {
    assert.ok(!descriptions.has(fx.description), `duplicate description "${fx.description}"`);
    descriptions.add(fx.description);
    if (fx.expect.reason !== undefined) assert.ok(reasons.has(fx.expect.reason), `unknown reason ${fx.expect.reason}`);
    if (fx.expect.action === 'forward') {
      assert.ok(fx.expect.output && fx.expect.serverMac);
      assert.equal(fx.expect.output.length, fx.input.length);
      assert.equal(hex(fx.expect.output.subarray(12)), hex(fx.input.subarray(12)), fx.description);
    }
  }
  assert.ok(GOLDEN_FIXTURES.length >= 40);
});

for (const fx of GOLDEN_FIXTURES) {
  test(fx.description, () => {
    const before = Buffer.from(fx.input);
    clock += 10;
    const verdict = classifier.classify(fx.input, clock);
    if (verdict.action === 'forward') forwards.push({ service: verdict.service, server: verdict.server, bytes: fx.input.length });
    assert.equal(hex(fx.input), hex(before), 'classify() must not modify the caller\'s buffer');
    checkVerdict(fx, verdict);
  });
}

test('drop counters match the reasons of the table exactly; passed frames are not drops', () => {
  const counted = GOLDEN_FIXTURES;
  const expected: Record<string, bigint> = {};
  for (const reason of addon.DROP_REASONS) expected[reason] = 0n;
  for (const fx of counted) {
    if (fx.expect.action === 'drop') {
      assert.ok(fx.expect.reason, fx.description);
      expected[fx.expect.reason] = (expected[fx.expect.reason] ?? 0n) + 1n;
    }
  }
  const counters = classifier.counters();
  assert.deepEqual(counters.drops, expected);
  const passRows = counted.filter((fx) => fx.expect.action === 'pass').length;
  assert.equal(counters.passed, BigInt(passRows));
  assert.ok(passRows >= 2);
  const arpRows = counted.filter((fx) => fx.expect.action === 'arp_reply').length;
  assert.equal(counters.arpReplies, BigInt(arpRows));
  assert.ok(arpRows >= 3);
});

test('every forwarded frame, ICMP errors included, counts for its service and its server', () => {
  const forwardRows = GOLDEN_FIXTURES.filter((fx) => fx.expect.action === 'forward');
  assert.equal(forwards.length, forwardRows.length, 'every forward row was forwarded');
  assert.ok(forwardRows.filter((fx) => fx.description.startsWith('ICMP')).length >= 3, 'the table forwards ICMP errors');
  const stats = classifier.stats();
  assert.equal(stats.services.length, GOLDEN_SNAPSHOT.services.length);
  stats.services.forEach((s, i) => {
    const mine = forwards.filter((f) => f.service === i);
    assert.equal(s.packets, BigInt(mine.length), `service ${i} packets`);
    assert.equal(s.bytes, BigInt(mine.reduce((t, f) => t + f.bytes, 0)), `service ${i} bytes`);
    s.servers.forEach((r, j) => {
      const theirs = mine.filter((f) => f.server === j);
      assert.equal(r.packets, BigInt(theirs.length), `service ${i} server ${r.address} packets`);
      assert.equal(r.bytes, BigInt(theirs.reduce((t, f) => t + f.bytes, 0)), `service ${i} server ${r.address} bytes`);
    });
    // A service's traffic is its servers' traffic.
    assert.equal(s.packets, s.servers.reduce((t, r) => t + r.packets, 0n), `service ${i}: packets of its servers`);
  });
});

test('mutated and truncated golden frames never crash and always get a well-formed verdict', () => {
  const fuzz = createClassifier(GOLDEN_OPTIONS, GOLDEN_SNAPSHOT);
  const reasons = new Set(addon.DROP_REASONS);
  const serverMacs = new Set(GOLDEN_SNAPSHOT.services.flatMap((s) => s.servers.map((r) => r.mac)));
  const next = prng(0x1a5);
  const seen = new Map<string, number>();
  let frames = 0;
  for (let round = 0; round < 40; round++) {
    for (const fx of GOLDEN_FIXTURES) {
      const frame = Buffer.from(fx.input);
      const mutations = 1 + (next() % 3);
      for (let m = 0; m < mutations && frame.length > 0; m++) frame[next() % frame.length] = next() & 0xff;
      const input = next() % 4 === 0 ? frame.subarray(0, next() % (frame.length + 1)) : frame;
      const verdict = fuzz.classify(input, 1_000 + frames);
      frames++;
      const key = verdict.action === 'drop' ? verdict.reason : verdict.action;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (verdict.action === 'drop') assert.ok(reasons.has(verdict.reason), verdict.reason);
      else if (verdict.action === 'forward') {
        assert.equal(verdict.frame.length, input.length);
        assert.equal(hex(verdict.frame.subarray(12)), hex(input.subarray(12)), 'only the MACs change');
        assert.ok(serverMacs.has(formatMac(verdict.frame.subarray(0, 6))));
        assert.equal(formatMac(verdict.frame.subarray(6, 12)), EGRESS_MAC);
      } else if (verdict.action === 'arp_reply') {
        assert.equal(verdict.frame.length, input.length);
        assert.equal(formatMac(verdict.frame.subarray(6, 12)), GOLDEN_OPTIONS.ingressMac);
      } else {
        assert.equal(verdict.action, 'pass');
      }
    }
  }
  // Every frame was accounted for exactly once by the counters.
  const c = fuzz.counters();
  const dropped = Object.values(c.drops).reduce((a, b) => a + b, 0n);
  const forwarded = BigInt(seen.get('forward') ?? 0);
  const arps = BigInt(seen.get('arp_reply') ?? 0);
  const passed = BigInt(seen.get('pass') ?? 0);
  assert.equal(dropped + forwarded + arps + passed, BigInt(frames), `verdicts: ${JSON.stringify([...seen])}`);
  assert.equal(c.arpReplies, arps);
  assert.equal(c.passed, passed);
  assert.equal(dropped, BigInt([...seen].filter(([k]) => !['forward', 'arp_reply', 'pass'].includes(k)).reduce((t, [, n]) => t + n, 0)));
  const servicePackets = fuzz.stats().services.reduce((t, s) => t + s.packets, 0n);
  assert.equal(servicePackets, forwarded, 'every forwarded frame counts for its service');
  assert.ok(seen.size >= 8, 'the mutations reach many different verdicts');
});
