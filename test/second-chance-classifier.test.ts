// Second chance (ha.secondChance) on golden frames, through the socket-free Classifier: after a
// service's servers change, a TCP packet without SYN and without an entry goes to the server the
// previous Maglev table gives it (the connection some dispatcher placed before the change), a SYN
// or a UDP datagram to the current table's, and only within the window. The expected servers come
// from the addon's own table builder (maglevTable) and the hash re-implemented in maglev-sim.ts,
// never from the Classifier.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon, type NativeServer, type NativeService, type NativeSnapshot } from '../src/native/binding.js';
import type { ClassifierOptions, NativeClassifier, Verdict } from '../src/native/bench-binding.js';
import {
  ICMP_DEST_UNREACHABLE, ICMP_FRAG_NEEDED, PROTO_ICMP, PROTO_TCP, TCP_ACK, TCP_PSH, TCP_SYN, icmp, ipFrame, ipv4, tcp, tcpFrame, udpFrame,
} from './support/frames.js';
import { tcp6Frame } from './support/frames6.js';
import { createClassifier, maglevPredictor, type SimPacket } from './support/maglev-sim.js';

const addon = loadAddon();
const VIP = '10.0.0.10';
const OPTIONS: ClassifierOptions = { ingressMac: '02:00:00:00:00:01', egressMac: '02:00:00:00:00:02', flowCapacity: 4096, flowIdleTimeoutMs: 600_000 };
const MACS = { dst: OPTIONS.ingressMac, src: '02:00:00:00:00:c1' };
const WINDOW_MS = 60_000;
const server = (n: number): NativeServer => ({ address: `10.0.1.${n}`, mac: `02:00:00:00:01:0${n}`, weight: 1 });
const service = (servers: NativeServer[], protocol: 'tcp' | 'udp' = 'tcp'): NativeService => ({
  vip: VIP, port: 80, protocol, flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 251, servers,
});
const snapshot = (servers: NativeServer[], secondChanceMs = WINDOW_MS): NativeSnapshot => ({
  secondChanceMs, services: [service(servers), service(servers, 'udp')],
});
const THREE = [server(1), server(2), server(3)];
const FOUR = [...THREE, server(4)];

const packet = (i: number, protocol: 'tcp' | 'udp' = 'tcp'): SimPacket => ({
  src: `192.0.2.${1 + (i % 200)}`, dst: VIP, sport: 20_000 + i, dport: 80, protocol,
});
const before = maglevPredictor(addon.maglevTable, service(THREE));
const after = maglevPredictor(addon.maglevTable, service(FOUR));
const moved = (protocol: 'tcp' | 'udp' = 'tcp') => Array.from({ length: 2000 }, (_, i) => packet(i, protocol)).filter((p) => before(p) !== after(p));
const stayed = () => Array.from({ length: 2000 }, (_, i) => packet(i)).filter((p) => before(p) === after(p));

function frame(p: SimPacket, flags: number): Buffer {
  const ip = { src: p.src, dst: p.dst };
  return p.protocol === 'tcp'
    ? tcpFrame(MACS, ip, { sport: p.sport, dport: p.dport, flags, payload: Buffer.from('x') })
    : udpFrame(MACS, ip, { sport: p.sport, dport: p.dport, payload: Buffer.from('x') });
}
function serverOf(v: Verdict): number {
  assert.equal(v.action, 'forward', JSON.stringify(v));
  return v.action === 'forward' ? v.server : -1;
}
/** A classifier that ran THREE and swapped to `next` at flow clock 10 000. */
function changed(next: NativeSnapshot = snapshot(FOUR)): NativeClassifier {
  const c = createClassifier(OPTIONS, snapshot(THREE));
  c.setSnapshot(next, 10_000);
  return c;
}

test('the server change moves a share of the flows (else the tests below prove nothing)', () => {
  assert.ok(moved().length > 100, `${moved().length} of 2000 flows moved`);
  assert.ok(stayed().length > 100);
});

test('a TCP packet without SYN and without an entry goes to the previous choice, and keeps it', () => {
  const c = changed();
  const flows = moved();
  for (const p of flows) {
    assert.equal(serverOf(c.classify(frame(p, TCP_ACK | TCP_PSH), 10_001)), before(p), `${p.src}:${p.sport}`);
    // The entry made there holds the flow, also after the window.
    assert.equal(serverOf(c.classify(frame(p, TCP_ACK), 10_000 + WINDOW_MS + 5)), before(p));
  }
  assert.equal(c.counters().secondChance, BigInt(flows.length));
  assert.equal(c.flowCount(), flows.length);
});

test('a SYN takes the current table; so does a flow the change did not move (not counted)', () => {
  const c = changed();
  for (const p of moved()) assert.equal(serverOf(c.classify(frame(p, TCP_SYN), 10_001)), after(p));
  for (const p of stayed()) assert.equal(serverOf(c.classify(frame(p, TCP_ACK), 10_001)), after(p));
  assert.equal(c.counters().secondChance, 0n);
});

test('UDP takes the current table: no connection start to tell old from new', () => {
  const c = changed();
  for (const p of moved('udp')) assert.equal(serverOf(c.classify(frame(p, 0), 10_001)), after(p));
  assert.equal(c.counters().secondChance, 0n);
});

test('past the window, or with the window 0, a packet without an entry takes the current table', () => {
  const late = changed();
  const off = changed(snapshot(FOUR, 0));
  for (const p of moved()) {
    assert.equal(serverOf(late.classify(frame(p, TCP_ACK), 10_000 + WINDOW_MS)), after(p));
    assert.equal(serverOf(off.classify(frame(p, TCP_ACK), 10_001)), after(p));
  }
  assert.equal(late.counters().secondChance + off.counters().secondChance, 0n);
});

test('a republish that leaves the placement alone keeps the running window, not a new one', () => {
  const c = changed();
  c.setSnapshot(snapshot(FOUR), 40_000);
  const flows = moved();
  const half = Math.floor(flows.length / 2);
  for (const p of flows.slice(0, half)) assert.equal(serverOf(c.classify(frame(p, TCP_ACK), 40_001)), before(p));
  // The window still ends 60 s after the change at 10 000, not after the republish.
  for (const p of flows.slice(half)) assert.equal(serverOf(c.classify(frame(p, TCP_ACK), 10_000 + WINDOW_MS)), after(p));
});

test('a previous choice that left or is down is not used', () => {
  // Server 2 removed at the change: its flows have no previous server to go back to.
  const withoutTwo = [server(1), server(3), server(4)];
  const c = changed(snapshot(withoutTwo));
  const nowPick = maglevPredictor(addon.maglevTable, service(withoutTwo));
  const wasTwo = Array.from({ length: 2000 }, (_, i) => packet(i)).filter((p) => before(p) === 1);
  assert.ok(wasTwo.length > 100);
  for (const p of wasTwo) assert.equal(serverOf(c.classify(frame(p, TCP_ACK), 10_001)), nowPick(p));

  // Server 2 down by its health check (reschedule policy): same.
  const down = FOUR.map((s, i) => (i === 1 ? { ...s, up: false } : s));
  const d = changed(snapshot(down));
  const downPick = maglevPredictor(addon.maglevTable, service(down.map((s) => ({ ...s, weight: s.up === false ? 0 : s.weight }))));
  for (const p of wasTwo) assert.equal(serverOf(d.classify(frame(p, TCP_ACK), 10_001)), downPick(p));

  // Drained (weight 0, up): it keeps its connections, so the previous table still sends them there.
  const drained = FOUR.map((s, i) => (i === 1 ? { ...s, weight: 0 } : s));
  const e = changed(snapshot(drained));
  for (const p of wasTwo) assert.equal(serverOf(e.classify(frame(p, TCP_ACK), 10_001)), 1);
  for (const p of wasTwo) assert.notEqual(serverOf(e.classify(frame({ ...p, sport: p.sport + 30_000 }, TCP_SYN), 10_001)), 1);
});

test('an ICMP error about a TCP connection without an entry goes to the previous choice too', () => {
  const c = changed();
  // "Fragmentation needed" from a router about a packet the server sent from the VIP to the client.
  const fragNeeded = (p: SimPacket) => {
    const quoted = ipv4({ src: VIP, dst: p.src, protocol: PROTO_TCP, dontFragment: true },
      tcp({ src: VIP, dst: p.src, sport: p.dport, dport: p.sport, flags: TCP_ACK, payload: Buffer.alloc(100) }));
    return ipFrame(MACS, { src: '198.51.100.1', dst: VIP, protocol: PROTO_ICMP },
      icmp({ type: ICMP_DEST_UNREACHABLE, code: ICMP_FRAG_NEEDED, rest: 1400, payload: quoted.subarray(0, 28) }));
  };
  const flows = moved();
  for (const p of flows) assert.equal(serverOf(c.classify(fragNeeded(p), 10_001)), before(p), `${p.src}:${p.sport}`);
  assert.equal(c.counters().secondChance, BigInt(flows.length));
  assert.equal(c.flowCount(), 0, 'an ICMP error makes no entry');
  const off = changed(snapshot(FOUR, 0));
  for (const p of flows) assert.equal(serverOf(off.classify(fragNeeded(p), 10_001)), after(p));
});

test('IPv6: an ACK without an entry after the change goes where a SYN went before it', () => {
  // The v6 fast path schedules on the same folded key; the reference here is the Classifier's own
  // choice for a SYN on the old and on the new server set, each on a classifier of its own.
  const VIP6 = '2001:db8:100::10';
  const six = (n: number): NativeServer => ({ address: `2001:db8:1::${n}`, mac: `02:00:00:00:01:0${n}`, weight: 1 });
  const snap6 = (servers: NativeServer[], secondChanceMs = WINDOW_MS): NativeSnapshot => ({
    secondChanceMs, services: [{ vip: VIP6, port: 80, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 251, servers }],
  });
  const three6 = [six(1), six(2), six(3)];
  const four6 = [...three6, six(4)];
  const oldSet = createClassifier(OPTIONS, snap6(three6));
  const newSet = createClassifier(OPTIONS, snap6(four6));
  const c = createClassifier(OPTIONS, snap6(three6));
  c.setSnapshot(snap6(four6), 10_000);
  let moved6 = 0;
  for (let i = 0; i < 2000; i++) {
    const client = `2001:db8:c::${(i % 200).toString(16)}`;
    const frame = (flags: number) => tcp6Frame(MACS, client, VIP6, 20_000 + i, 80, flags);
    const was = serverOf(oldSet.classify(frame(TCP_SYN), 10_001));
    const now = serverOf(newSet.classify(frame(TCP_SYN), 10_001));
    if (was !== now) moved6++;
    assert.equal(serverOf(c.classify(frame(TCP_ACK), 10_001)), was, `${client} ${20_000 + i}`);
  }
  assert.ok(moved6 > 100, `${moved6} of 2000 v6 flows moved`);
  assert.equal(c.counters().secondChance, BigInt(moved6));
});
