// The flow table as the Classifier uses it: stickiness, the addresses flow key, idle expiry, the
// full-table fallback to a stateless choice (Maglev, or a hash into the weighted sequence), snapshot swaps (server identity is the address), draining
// and the exact weighted round-robin ratio.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadAddon, type NativeServer, type NativeService, type NativeSnapshot } from '../src/native/binding.js';
import type { ClassifierOptions, NativeClassifier, Verdict } from '../src/native/bench-binding.js';
import { TCP_ACK, TCP_SYN, tcpFrame, udpFrame } from './support/frames.js';
import { createClassifier, maglevPredictor, type SimPacket } from './support/maglev-sim.js';

const addon = loadAddon();

const INGRESS_MAC = '02:00:00:00:00:01';
const EGRESS_MAC = '02:00:00:00:00:02';
const CLIENT_MAC = '02:00:00:00:00:c1';
const VIP = '10.9.0.1';

function options(overrides: Partial<ClassifierOptions> = {}): ClassifierOptions {
  return { ingressMac: INGRESS_MAC, egressMac: EGRESS_MAC, flowCapacity: 65_536, flowIdleTimeoutMs: 60_000, ...overrides };
}

/** Server i (0-based) of the pool: 10.9.1.(i+1). */
function server(i: number, weight = 1): NativeServer {
  return { address: `10.9.1.${i + 1}`, mac: `02:00:00:00:09:${(i + 1).toString(16).padStart(2, '0')}`, weight };
}

function service(servers: NativeServer[], o: Partial<NativeService> = {}): NativeService {
  return {
    vip: VIP, port: 80, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 65_537, servers, ...o,
  };
}

const snap = (...services: NativeService[]): NativeSnapshot => ({ services });

/** Client i: a distinct source address, 172.16.x.y. */
const clientIp = (i: number): string => `172.16.${(i >> 8) & 255}.${i & 255}`;

function packet(client: string, sport: number, o: { dport?: number; protocol?: 'tcp' | 'udp'; flags?: number } = {}): Buffer {
  const eth = { dst: INGRESS_MAC, src: CLIENT_MAC };
  const ip = { src: client, dst: VIP };
  if (o.protocol === 'udp') return udpFrame(eth, ip, { sport, dport: o.dport ?? 80 });
  return tcpFrame(eth, ip, { sport, dport: o.dport ?? 80, flags: o.flags ?? TCP_SYN });
}

const simPacket = (client: string, sport: number): SimPacket => ({ src: client, dst: VIP, sport, dport: 80, protocol: 'tcp' });

/** The address of the server a forward verdict names, resolved in the snapshot that was current. */
function forwardedTo(verdict: Verdict, snapshot: NativeSnapshot): string {
  assert.equal(verdict.action, 'forward', `verdict: ${JSON.stringify(verdict)}`);
  if (verdict.action !== 'forward') throw new Error('unreachable');
  const s = snapshot.services[verdict.service]?.servers[verdict.server];
  assert.ok(s, `verdict names service ${verdict.service} server ${verdict.server}, not in the snapshot`);
  // The frame goes where the index says.
  assert.equal(verdict.frame.subarray(0, 6).toString('hex'), s.mac.replaceAll(':', ''));
  return s.address;
}

/** Sends one packet and returns the chosen server's address. */
function send(c: NativeClassifier, snapshot: NativeSnapshot, frame: Buffer, nowMs = 1_000): string {
  return forwardedTo(c.classify(frame, nowMs), snapshot);
}

function countBy<T>(items: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

describe('flow stickiness', () => {
  test('the same 5-tuple goes to the same server for every packet, also after 2000 other flows', () => {
    // WRR hands every NEW flow the next server, so only the flow table can keep a flow in place.
    const s = snap(service([0, 1, 2, 3, 4].map((i) => server(i)), { scheduler: 'wrr' }));
    const c = createClassifier(options(), s);
    const first = send(c, s, packet('172.31.0.1', 33_000));
    for (let n = 0; n < 50; n++) {
      assert.equal(send(c, s, packet('172.31.0.1', 33_000, { flags: TCP_ACK }), 1_000 + n), first);
    }
    const others: string[] = [];
    for (let i = 0; i < 2_000; i++) others.push(send(c, s, packet(clientIp(i), 20_000 + (i % 7)), 2_000));
    assert.equal(new Set(others).size, 5, 'new flows are spread over every server');
    assert.equal(c.flowCount(), 2_001);
    for (let n = 0; n < 50; n++) {
      assert.equal(send(c, s, packet('172.31.0.1', 33_000, { flags: TCP_ACK }), 3_000 + n), first);
    }
    // ... and so does each of the 2000 others.
    for (let i = 0; i < 2_000; i++) {
      assert.equal(send(c, s, packet(clientIp(i), 20_000 + (i % 7), { flags: TCP_ACK }), 4_000), others[i]);
    }
    assert.equal(c.flowCount(), 2_001);
  });

  test('flowKey "addresses" maps every source port of one client to one server', () => {
    const servers = [0, 1, 2, 3].map((i) => server(i));
    const byAddress = snap(service(servers, { scheduler: 'wrr', flowKey: 'addresses' }));
    const c = createClassifier(options(), byAddress);
    const perClient: string[] = [];
    for (let client = 0; client < 8; client++) {
      const chosen = new Set<string>();
      for (let port = 0; port < 50; port++) chosen.add(send(c, byAddress, packet(clientIp(client), 10_000 + port * 13)));
      assert.equal(chosen.size, 1, `client ${clientIp(client)} used ${[...chosen].join(', ')}`);
      perClient.push([...chosen][0] as string);
    }
    assert.equal(c.flowCount(), 8, 'one flow per client address pair');
    assert.equal(new Set(perClient).size, 4, 'different clients still spread over the servers');

    // The same traffic keyed by 5-tuple spreads one client's ports over the servers.
    const byTuple = snap(service(servers, { scheduler: 'wrr', flowKey: '5tuple' }));
    const t = createClassifier(options(), byTuple);
    const ports = new Set<string>();
    for (let port = 0; port < 50; port++) ports.add(send(t, byTuple, packet(clientIp(0), 10_000 + port * 13)));
    assert.equal(ports.size, 4);
    assert.equal(t.flowCount(), 50);
  });
});

describe('idle expiry', () => {
  const s = snap(service([server(0), server(1)], { scheduler: 'wrr' }));

  test('a flow seen at t=0 and again at t=5000 (idle timeout 1000) is a new flow', () => {
    const c = createClassifier(options({ flowIdleTimeoutMs: 1_000 }), s);
    const first = send(c, s, packet('172.31.1.1', 40_000), 0);
    assert.equal(first, server(0).address);
    // WRR gives the next new flow the other server: that is how a new decision shows.
    assert.equal(send(c, s, packet('172.31.1.1', 40_000), 5_000), server(1).address);
    assert.equal(c.flowCount(), 1, 'the expired entry is reused, not duplicated');
    // ... and the renewed flow is sticky again.
    assert.equal(send(c, s, packet('172.31.1.1', 40_000), 5_500), server(1).address);
  });

  test('every packet refreshes the flow; idle exactly the timeout is still alive, one ms more is not', () => {
    const c = createClassifier(options({ flowIdleTimeoutMs: 1_000 }), s);
    const frame = packet('172.31.1.2', 40_001);
    assert.equal(send(c, s, frame, 0), server(0).address);
    for (const t of [900, 1_800, 2_700, 3_700]) assert.equal(send(c, s, frame, t), server(0).address, `t=${t}`);
    assert.equal(send(c, s, frame, 4_701), server(1).address, 'idle 1001 ms: a new flow');
  });

  test('the clock may wrap around 2^32 ms: idle time is a difference', () => {
    const c = createClassifier(options({ flowIdleTimeoutMs: 1_000 }), s);
    const frame = packet('172.31.1.3', 40_002);
    assert.equal(send(c, s, frame, 4_294_967_000), server(0).address);
    assert.equal(send(c, s, frame, 300), server(0).address, '596 ms later, across the wrap');
    assert.equal(send(c, s, frame, 2_000), server(1).address, '1700 ms later: a new flow');
  });
});

describe('full flow table', () => {
  test('capacity 1024: 3000 flows keep 1024 entries, count 1976 full, and all go where Maglev says', () => {
    const servers = [0, 1, 2, 3].map((i) => server(i));
    const s = snap(service(servers));
    const predict = maglevPredictor(addon.maglevTable, s.services[0] as NativeService);
    const c = createClassifier(options({ flowCapacity: 1_024 }), s);
    const flows = Array.from({ length: 3_000 }, (_, i) => simPacket(clientIp(i % 1_500), 30_000 + Math.floor(i / 1_500)));
    const frames = flows.map((f) => packet(f.src, f.sport));
    const chosen = frames.map((f) => send(c, s, f, 10));
    assert.equal(c.flowCount(), 1_024);
    assert.equal(c.counters().flowTableFull, 3_000n - 1_024n);
    assert.equal(c.counters().flowsActive, 1_024n);
    chosen.forEach((address, i) => {
      assert.equal(address, servers[predict(flows[i] as SimPacket)]?.address, `flow ${i}`);
    });
    assert.equal(new Set(chosen).size, 4);

    // Again: the stored flows hit, the others are once more forwarded statelessly to the same server.
    frames.forEach((f, i) => assert.equal(send(c, s, f, 20), chosen[i], `flow ${i} again`));
    assert.equal(c.flowCount(), 1_024);
    assert.equal(c.counters().flowTableFull, 2n * (3_000n - 1_024n));

    // Which flows are stateful shows after a server is added: the first 1024 keep their server, the
    // overflow follows the new table.
    const grown = snap(service([...servers, server(4)]));
    const predictGrown = maglevPredictor(addon.maglevTable, grown.services[0] as NativeService);
    c.setSnapshot(grown);
    let moved = 0;
    frames.forEach((f, i) => {
      const now = send(c, grown, f, 30);
      if (i < 1_024) assert.equal(now, chosen[i], `stored flow ${i} stays`);
      else {
        assert.equal(now, grown.services[0]?.servers[predictGrown(flows[i] as SimPacket)]?.address, `overflow flow ${i}`);
        if (now !== chosen[i]) moved++;
      }
    });
    assert.ok(moved > 0, 'some overflow flows moved to the new server');
  });

  for (const scheduler of ['rr', 'wrr', 'wlc'] as const) {
    test(`${scheduler}: a flow the full table cannot hold goes to one server for every packet, and such flows spread`, () => {
      const servers = [server(0, 1), server(1, 2), server(2, 3)];
      const s = snap(service(servers, { scheduler }));
      const c = createClassifier(options({ flowCapacity: 1_024 }), s);
      for (let i = 0; i < 1_024; i++) send(c, s, packet(clientIp(i), 40_000), 10);
      assert.equal(c.flowCount(), 1_024);
      const overflow = Array.from({ length: 300 }, (_, i) => clientIp(2_000 + i));
      const first = overflow.map((client) => send(c, s, packet(client, 40_000), 20));
      // The SYN, then ACKs: without an entry each packet is decided again, and must land on the same server.
      for (let round = 0; round < 3; round++) {
        overflow.forEach((client, i) => assert.equal(send(c, s, packet(client, 40_000, { flags: TCP_ACK }), 30), first[i], `${client} packet ${round + 2}`));
      }
      assert.equal(c.flowCount(), 1_024);
      assert.equal(c.counters().flowTableFull, 4n * 300n);
      assert.equal(new Set(first).size, 3, `overflow flows spread: ${JSON.stringify([...countBy(first)])}`);

      // Once there is room (here: a table that never filled), their next packets still reach the same
      // server, and the entry made then keeps them there.
      const roomy = createClassifier(options({ flowCapacity: 1_024 }), s);
      for (let i = 0; i < 7; i++) send(roomy, s, packet(clientIp(i), 40_000), 10); // move the rr/wrr cursor
      overflow.forEach((client, i) => {
        assert.equal(send(roomy, s, packet(client, 40_000, { flags: TCP_ACK }), 40), first[i], `${client} with room again`);
        assert.equal(send(roomy, s, packet(client, 40_000, { flags: TCP_ACK }), 50), first[i], `${client} from its entry`);
      });
      assert.equal(roomy.flowCount(), 7 + 300);
    });
  }
});

describe('snapshot swaps', () => {
  const A = server(0);
  const B = server(1);
  const C = server(2);
  const D = server(3);
  const flows = Array.from({ length: 600 }, (_, i) => simPacket(clientIp(i), 44_000));
  const frames = flows.map((f) => packet(f.src, f.sport, { flags: TCP_ACK }));

  test('a kept server keeps its flows (identity is the address), a removed one has them rescheduled', () => {
    const before = snap(service([A, B, C]));
    const c = createClassifier(options(), before);
    const initial = frames.map((f) => send(c, before, f));
    assert.deepEqual(new Set(initial), new Set([A.address, B.address, C.address]));

    // B removed, the order changed (indexes shift) and D added.
    const after = snap(service([C, A, D]));
    const predictAfter = maglevPredictor(addon.maglevTable, after.services[0] as NativeService);
    c.setSnapshot(after);
    const next = frames.map((f) => send(c, after, f, 2_000));
    let keptAgainstTable = 0;
    next.forEach((address, i) => {
      const predicted = after.services[0]?.servers[predictAfter(flows[i] as SimPacket)]?.address;
      if (initial[i] === B.address) {
        assert.equal(address, predicted, `flow ${i} of the removed server is rescheduled by the new table`);
      } else {
        assert.equal(address, initial[i], `flow ${i} stays on ${initial[i]}`);
        if (predicted !== address) keptAgainstTable++;
      }
    });
    assert.ok(keptAgainstTable > 0, 'some kept flows would have gone elsewhere as new flows');
    assert.equal(c.flowCount(), 600);

    // The rescheduled flows are pinned to their new server: bringing B back does not move them.
    const restored = snap(service([A, B, C, D]));
    c.setSnapshot(restored);
    frames.forEach((f, i) => assert.equal(send(c, restored, f, 3_000), next[i], `flow ${i} after B returns`));
  });

  test('weight 0 (drain) keeps the existing flows of a server but gives it no new flows', () => {
    const live = snap(service([A, B, C]));
    const c = createClassifier(options(), live);
    const initial = frames.map((f) => send(c, live, f));
    const onB = initial.filter((a) => a === B.address).length;
    assert.ok(onB > 100, `B had ${onB} flows`);

    const drained = snap(service([A, { ...B, weight: 0 }, C]));
    const predict = maglevPredictor(addon.maglevTable, drained.services[0] as NativeService);
    c.setSnapshot(drained);
    frames.forEach((f, i) => assert.equal(send(c, drained, f, 2_000), initial[i], `existing flow ${i}`));

    const fresh = Array.from({ length: 600 }, (_, i) => simPacket(clientIp(i), 45_000));
    const chosen = fresh.map((f) => send(c, drained, packet(f.src, f.sport), 2_000));
    assert.equal(chosen.filter((a) => a === B.address).length, 0, 'no new flow on the drained server');
    chosen.forEach((a, i) => assert.equal(a, drained.services[0]?.servers[predict(fresh[i] as SimPacket)]?.address));
    assert.deepEqual(new Set(chosen), new Set([A.address, C.address]));
  });

  test('a drained server gets no new flows from WRR either', () => {
    const s = snap(service([A, { ...B, weight: 0 }, C], { scheduler: 'wrr' }));
    const c = createClassifier(options(), s);
    const chosen = Array.from({ length: 300 }, (_, i) => send(c, s, packet(clientIp(i), 46_000)));
    assert.deepEqual(countBy(chosen), new Map([[A.address, 150], [C.address, 150]]));
  });
});

describe('weighted round-robin', () => {
  test('weights 1:2:3 share 600 new flows exactly 100:200:300, and every run of 6 is 1:2:3', () => {
    const servers = [server(0, 1), server(1, 2), server(2, 3)];
    const s = snap(service(servers, { scheduler: 'wrr' }));
    const c = createClassifier(options(), s);
    const chosen = Array.from({ length: 600 }, (_, i) => send(c, s, packet(clientIp(i), 47_000)));
    const want = new Map(servers.map((r) => [r.address, r.weight * 100]));
    assert.deepEqual(countBy(chosen), want);
    for (let i = 0; i < 600; i += 6) {
      assert.deepEqual(countBy(chosen.slice(i, i + 6)), new Map(servers.map((r) => [r.address, r.weight])), `flows ${i}..${i + 5}`);
    }
    // Packets of existing flows do not advance the round-robin: the next 6 new flows are again 1:2:3.
    for (let i = 0; i < 600; i++) assert.equal(send(c, s, packet(clientIp(i), 47_000, { flags: TCP_ACK })), chosen[i]);
    const more = Array.from({ length: 6 }, (_, i) => send(c, s, packet(clientIp(i), 48_000)));
    assert.deepEqual(countBy(more), new Map(servers.map((r) => [r.address, r.weight])));
    assert.deepEqual(more, chosen.slice(0, 6), 'the sequence continues where it was');
  });

  test('a UDP service balances the same way', () => {
    const servers = [server(0, 1), server(1, 2), server(2, 3)];
    const s = snap(service(servers, { scheduler: 'wrr', protocol: 'udp', port: 53 }));
    const c = createClassifier(options(), s);
    const chosen = Array.from({ length: 600 }, (_, i) => send(c, s, packet(clientIp(i), 47_000, { protocol: 'udp', dport: 53 })));
    assert.deepEqual(countBy(chosen), new Map(servers.map((r) => [r.address, r.weight * 100])));
  });
});
