// The aging policy (state from the client's TCP flags -> timeout) and the scanner that turns a
// flow-table view into expiry commands and `las flows` rows, on fake tables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLOW_ENTRY_LAYOUT as L, TCP_SEEN } from '../src/native/binding.js';
import { flowState, idleMs, isExpired, timeoutFor, timeoutsMs, PROTO_TCP, PROTO_UDP } from '../src/control/aging/policy.js';
import { COMMAND_WORDS, ENTRY_BYTES, listFlows, scanForExpiry, type TableView } from '../src/control/aging/scan.js';
import { budgetFor, MAX_BUDGET, MIN_BUDGET } from '../src/control/aging/aging-worker.js';
import { sweepTargetMs } from '../src/control/aging/aging.js';
import { countConnections } from '../src/control/aging/connections.js';
import { ipv4ToInt } from '../src/control/ipv4.js';

const T = timeoutsMs({ tcpEstablished: 900, tcpSynRecv: 60, tcpFinWait: 120, tcpClose: 10, tcpLastAck: 30, udp: 300 });
const { SYN, ACK, FIN, RST } = TCP_SEEN;

describe('aging policy', () => {
  it('derives the state from the flags the client sent', () => {
    assert.equal(flowState(PROTO_TCP, SYN), 'SYN_RECV');
    assert.equal(flowState(PROTO_TCP, SYN | ACK), 'ESTABLISHED');
    assert.equal(flowState(PROTO_TCP, ACK), 'ESTABLISHED');
    assert.equal(flowState(PROTO_TCP, SYN | ACK | FIN), 'FIN_WAIT');
    assert.equal(flowState(PROTO_TCP, SYN | ACK | RST), 'CLOSE');
    assert.equal(flowState(PROTO_TCP, ACK | FIN | RST), 'CLOSE');
    assert.equal(flowState(PROTO_TCP, 0), 'NONE');
    assert.equal(flowState(PROTO_UDP, 0), 'UDP');
    assert.equal(flowState(1, 0), 'OTHER');
  });

  it('maps states to the IPVS timeouts', () => {
    assert.equal(timeoutFor('SYN_RECV', T), 60_000);
    assert.equal(timeoutFor('ESTABLISHED', T), 900_000);
    assert.equal(timeoutFor('NONE', T), 900_000);
    assert.equal(timeoutFor('FIN_WAIT', T), 120_000);
    assert.equal(timeoutFor('CLOSE', T), 10_000);
    assert.equal(timeoutFor('UDP', T), 300_000);
    assert.equal(timeoutFor('OTHER', T), 300_000);
  });

  it('expires strictly after the timeout', () => {
    assert.equal(isExpired(PROTO_TCP, SYN | ACK | FIN, 1000, 1000 + 120_000, T), false);
    assert.equal(isExpired(PROTO_TCP, SYN | ACK | FIN, 1000, 1000 + 120_001, T), true);
    assert.equal(isExpired(PROTO_UDP, 0, 1000, 1000 + 300_001, T), true);
    assert.equal(isExpired(PROTO_TCP, SYN | ACK, 1000, 1000 + 300_001, T), false);
  });

  it('idle time works across the 32-bit wrap and never goes negative', () => {
    assert.equal(idleMs(5, 0xffff_fff0), 21);
    assert.equal(idleMs(1000, 1004), 0); // a stamp just ahead of now (another CPU's coarse clock)
    assert.equal(idleMs(1000, 400), 600);
  });

  it('sweeps a full sweep target between 1 s and 10 s', () => {
    assert.equal(sweepTargetMs(T), 2500); // tcpClose 10 s / 4
    assert.equal(sweepTargetMs(timeoutsMs({ tcpEstablished: 1, tcpSynRecv: 1, tcpFinWait: 1, tcpClose: 1, tcpLastAck: 1, udp: 1 })), 1000);
    assert.equal(sweepTargetMs(timeoutsMs({ tcpEstablished: 900, tcpSynRecv: 900, tcpFinWait: 900, tcpClose: 900, tcpLastAck: 900, udp: 900 })), 10_000);
  });

  it('bounds the slots examined per pass', () => {
    assert.equal(budgetFor(1024, 250, 1000), 1024);                 // a small table in one pass
    assert.equal(budgetFor(1 << 21, 250, 2500), 209_716);           // the default table: a sweep in 10 passes
    assert.equal(budgetFor(1 << 28, 250, 1000), MAX_BUDGET);        // never more than MAX_BUDGET
    assert.equal(budgetFor(1 << 20, 250, 10_000), MIN_BUDGET);      // never fewer than MIN_BUDGET
  });
});

interface FakeEntry { src: string; dst: string; sport: number; dport: number; proto: number; flags: number; server: string; lastSeen: number; created?: number }

function fakeTable(slots: number, entries: Record<number, FakeEntry>, worker = 0): TableView {
  const buffer = new ArrayBuffer(slots * ENTRY_BYTES);
  const view = new DataView(buffer);
  for (const [slotText, e] of Object.entries(entries)) {
    const b = Number(slotText) * ENTRY_BYTES;
    view.setUint32(b + L.src, ipv4ToInt(e.src), true);
    view.setUint32(b + L.dst, ipv4ToInt(e.dst), true);
    view.setUint16(b + L.sport, e.sport, true);
    view.setUint16(b + L.dport, e.dport, true);
    view.setUint8(b + L.proto, e.proto);
    view.setUint8(b + L.used, 1);
    view.setUint8(b + L.tcpFlagsSeen, e.flags);
    view.setUint32(b + L.serverAddress, ipv4ToInt(e.server), true);
    view.setUint32(b + L.lastSeenMs, e.lastSeen >>> 0, true);
    view.setUint32(b + L.createdMs, (e.created ?? e.lastSeen) >>> 0, true);
  }
  return { worker, slots, buffer };
}

const web = { dst: '10.0.0.100', dport: 80, server: '10.0.0.11' };
const NOW = 1_000_000;

describe('scanning a flow table', () => {
  const table = fakeTable(16, {
    1: { ...web, src: '10.0.0.20', sport: 40000, proto: PROTO_TCP, flags: SYN | ACK, lastSeen: NOW - 200_000 },          // established, 200 s: kept
    3: { ...web, src: '10.0.0.21', sport: 40001, proto: PROTO_TCP, flags: SYN | ACK | FIN, lastSeen: NOW - 200_000 },    // FIN, 200 s: expired
    4: { ...web, src: '10.0.0.22', sport: 40002, proto: PROTO_TCP, flags: SYN | ACK | RST, lastSeen: NOW - 11_000 },     // RST, 11 s: expired
    9: { src: '10.0.0.23', dst: '10.0.0.53', sport: 5353, dport: 53, proto: PROTO_UDP, flags: 0, server: '10.0.0.31', lastSeen: NOW - 301_000 }, // udp: expired
    15: { ...web, src: '10.0.0.24', sport: 40004, proto: PROTO_TCP, flags: SYN, lastSeen: NOW - 1000 },                 // fresh SYN: kept
  });

  it('emits [src, dst, sport << 16 | dport, proto, lastSeenMs] for expired flows only', () => {
    const scan = scanForExpiry(table, 0, 16, NOW, T, 100);
    assert.equal(scan.scanned, 16);
    assert.equal(scan.live, 5);
    assert.equal(scan.next, 0);
    const commands = [...scan.commands];
    assert.equal(commands.length, 3 * COMMAND_WORDS);
    assert.deepEqual(commands.slice(0, 5), [ipv4ToInt('10.0.0.21'), ipv4ToInt('10.0.0.100'), ((40001 << 16) | 80) >>> 0, PROTO_TCP, NOW - 200_000]);
    assert.equal(commands[5], ipv4ToInt('10.0.0.22'));
    assert.deepEqual(commands.slice(10, 15), [ipv4ToInt('10.0.0.23'), ipv4ToInt('10.0.0.53'), ((5353 << 16) | 53) >>> 0, PROTO_UDP, NOW - 301_000]);
  });

  it('examines at most `budget` slots and resumes where it stopped, wrapping', () => {
    const first = scanForExpiry(table, 0, 4, NOW, T, 100);
    assert.deepEqual([first.scanned, first.next, first.commands.length / COMMAND_WORDS], [4, 4, 1]); // slot 3
    const second = scanForExpiry(table, first.next, 8, NOW, T, 100);
    assert.deepEqual([second.scanned, second.next, second.commands.length / COMMAND_WORDS], [8, 12, 2]); // slots 4 and 9
    const third = scanForExpiry(table, 14, 4, NOW, T, 100);
    assert.deepEqual([third.scanned, third.next, third.commands.length / COMMAND_WORDS], [4, 2, 0]); // 14, 15, 0, 1
  });

  it('stops at maxCommands; the rest are found on the next pass', () => {
    const scan = scanForExpiry(table, 0, 16, NOW, T, 1);
    assert.equal(scan.commands.length, COMMAND_WORDS);
    assert.equal(scan.next, 4);
  });

  it('lists flows with service, client, server, state and expiry; filtered by service, limited, counted', () => {
    const services = [
      { name: 'web', vip: ipv4ToInt('10.0.0.100'), port: 80, proto: PROTO_TCP },
      { name: 'dns', vip: ipv4ToInt('10.0.0.53'), port: 0, proto: PROTO_UDP },
    ];
    const all = listFlows([table], services, undefined, 100, NOW, T, 900_000);
    assert.equal(all.total, 5);
    assert.deepEqual(all.flows.map((f) => [f.service, f.client, f.server, f.state]), [
      ['web', '10.0.0.20:40000', '10.0.0.11', 'ESTABLISHED'],
      ['web', '10.0.0.21:40001', '10.0.0.11', 'FIN_WAIT'],
      ['web', '10.0.0.22:40002', '10.0.0.11', 'CLOSE'],
      ['dns', '10.0.0.23:5353', '10.0.0.31', 'UDP'],
      ['web', '10.0.0.24:40004', '10.0.0.11', 'SYN_RECV'],
    ]);
    assert.equal(all.flows[0]!.idleMs, 200_000);
    assert.equal(all.flows[0]!.expiresInMs, 700_000);
    assert.equal(all.flows[1]!.expiresInMs, 0);
    // The idle bound caps the policy: 900 s established but a 300 s bound.
    assert.equal(listFlows([table], services, undefined, 1, NOW, T, 300_000).flows[0]!.expiresInMs, 100_000);

    const dns = listFlows([table], services, 'dns', 100, NOW, T, 900_000);
    assert.equal(dns.total, 1);
    assert.equal(dns.flows[0]!.vip, '10.0.0.53:53');
    const limited = listFlows([table], services, 'web', 2, NOW, T, 900_000);
    assert.equal(limited.total, 4);
    assert.equal(limited.flows.length, 2);
  });

  it('an address-keyed flow shows the bare client address', () => {
    const t = fakeTable(4, { 0: { ...web, src: '10.0.0.30', sport: 0, proto: PROTO_TCP, flags: SYN | ACK, lastSeen: NOW } });
    const [flow] = listFlows([t], [], undefined, 10, NOW, T, 900_000).flows;
    assert.equal(flow?.client, '10.0.0.30');
    assert.equal(flow?.service, null);
  });
});

describe('counting connections for las status', () => {
  const tcp = (src: string, sport: number, flags: number, server: string, dport = 80) => ({ src, dst: '10.0.0.100', sport, dport, proto: PROTO_TCP, flags, server, lastSeen: NOW });
  const services = [
    { name: 'web', vip: ipv4ToInt('10.0.0.100'), port: 80, proto: PROTO_TCP },
    { name: 'any', vip: ipv4ToInt('10.0.0.100'), port: 0, proto: PROTO_UDP },
  ];
  it('ACKed and not closing: active; SYN only, FIN, RST and UDP: inactive; per service and server over every table', () => {
    const t0 = fakeTable(16, {
      1: tcp('10.0.0.20', 1000, SYN | ACK, '10.0.0.11'),
      2: tcp('10.0.0.20', 1001, ACK, '10.0.0.11'),
      3: tcp('10.0.0.20', 1002, SYN, '10.0.0.11'),
      4: tcp('10.0.0.20', 1003, SYN | ACK | FIN, '10.0.0.12'),
      5: tcp('10.0.0.20', 1004, SYN | ACK | RST, '10.0.0.12'),
      6: tcp('10.0.0.20', 1005, SYN | ACK, '10.0.0.12', 443),  // no service on :443/tcp: left out
      7: { ...tcp('10.0.0.20', 53, 0, '10.0.0.13', 53), proto: PROTO_UDP }, // the every-port UDP service
    });
    const t1 = fakeTable(8, { 0: tcp('10.0.0.21', 2000, SYN | ACK, '10.0.0.12') }, 1);
    const counts = countConnections([t0, t1], services).sort((a, b) => a.server.localeCompare(b.server));
    assert.deepEqual(counts, [
      { service: 'web', server: '10.0.0.11', active: 2, inactive: 1 },
      { service: 'web', server: '10.0.0.12', active: 1, inactive: 2 },
      { service: 'any', server: '10.0.0.13', active: 0, inactive: 1 },
    ]);
  });
});
