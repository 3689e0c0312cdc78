// NDP for the v6 VIPs through the socket-free Classifier (the I/O threads' decision): a Neighbor
// Solicitation for a VIP gets a Neighbor Advertisement byte for byte (checksum computed here, apart
// from the addon), a duplicate address probe is answered to all-nodes, a solicitation for another
// address is left to the kernel, and every malformed one is counted as bad_ndp.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Verdict } from '../src/native/bench-binding.js';
import { V6_OPTIONS, V6_SNAPSHOT, VIP6_A, VIP6_B } from './fixtures/golden-frames-v6.js';
import { NDP_ROWS as ROWS, badNdp, solicitation, type NdpRow as Row, type Want } from './fixtures/golden-ndp.js';
import { PROTO_ICMPV6, checksum6 } from './support/frames6.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
import { createClassifier } from './support/maglev-sim.js';

function check(row: Row, v: Verdict): void {
  if (row.want.action === 'ndp_reply') {
    assert.equal(v.action, 'ndp_reply', `${row.description}: ${JSON.stringify(v)}`);
    if (v.action !== 'ndp_reply') return;
    assert.equal(hex(v.frame), hex(row.want.frame), `${row.description}: exact advertisement`);
    // The checksum verifies on its own: computed over the pseudo-header here, not taken from the builder.
    const l3 = v.frame.length - 72;
    const ip = v.frame.subarray(l3);
    const src = ip.subarray(8, 24);
    const dst = ip.subarray(24, 40);
    const text = (b: Buffer) => Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16)).join(':');
    assert.equal(checksum6(text(src), text(dst), PROTO_ICMPV6, ip.subarray(40), 2), ip.readUInt16BE(42), 'NA checksum');
    assert.equal(ip[7], 255, 'hop limit 255');
    assert.equal(ip[40 + 4]! & 0x80, 0, 'Router flag clear');
  } else {
    assert.deepEqual(v, row.want, row.description);
  }
}

test('NDP golden rows: NA byte for byte, DAD to all-nodes, others left alone, malformed counted', () => {
  const c = createClassifier(V6_OPTIONS, V6_SNAPSHOT);
  for (const row of ROWS) {
    const before = Buffer.from(row.input);
    check(row, c.classify(row.input, 1_000));
    assert.equal(hex(row.input), hex(before), `${row.description}: the solicitation itself is not changed`);
  }
  const counters = c.counters();
  const count = (pred: (w: Want) => boolean) => BigInt(ROWS.filter((r) => pred(r.want)).length);
  assert.equal(counters.ndpAdverts, count((w) => w.action === 'ndp_reply'));
  assert.equal(counters.passed, count((w) => w.action === 'pass'));
  assert.equal(counters.drops.bad_ndp, count((w) => w.action === 'drop' && w.reason === 'bad_ndp'));
  assert.equal(counters.drops.truncated_ipv6, 1n);
  assert.equal(counters.arpReplies, 0n, 'an advertisement is not an ARP reply');
  assert.ok(ROWS.filter((r) => r.want.action === 'ndp_reply').length >= 6 && ROWS.filter((r) => r.want === badNdp).length >= 8);
});

test('every truncation of a solicitation for a VIP is dropped and counted, never answered', () => {
  const c = createClassifier(V6_OPTIONS, V6_SNAPSHOT);
  const whole = solicitation({ target: VIP6_A });
  const seen = new Map<string, number>();
  for (let len = 0; len < whole.length; len++) {
    const v = c.classify(whole.subarray(0, len), 1_000);
    assert.equal(v.action, 'drop', `${len} bytes: ${JSON.stringify(v)}`);
    if (v.action === 'drop') seen.set(v.reason, (seen.get(v.reason) ?? 0) + 1);
  }
  const drops = c.counters().drops;
  for (const [reason, n] of seen) assert.equal(drops[reason], BigInt(n), reason);
  assert.equal(c.counters().ndpAdverts, 0n);
});

test('an NS for a VIP of a snapshot that lost it is left to the kernel; one for a v4 VIP\'s v4-mapped form too', () => {
  const c = createClassifier(V6_OPTIONS, { services: V6_SNAPSHOT.services.filter((s) => s.vip !== VIP6_A) });
  assert.deepEqual(c.classify(solicitation({ target: VIP6_A }), 1_000), { action: 'pass' });
  assert.deepEqual(c.classify(solicitation({ target: '::ffff:10.0.0.10' }), 1_000), { action: 'pass' });
  assert.equal(c.classify(solicitation({ target: VIP6_B }), 1_000).action, 'ndp_reply');
});
