// Fragmented UDP through two workers. A datagram larger than the 1500-byte MTU leaves the client as
// IPv4 fragments, and only the first carries the ports; a flowKey "addresses" service places the
// later ones by (client, VIP) alone. Every fragment of a datagram must reach the same server (or it
// is never reassembled), and every datagram of one client address the server that owns its flow,
// also when small unfragmented datagrams (which carry ports) and fragments of large ones interleave.
//
// The scheduler is rr: stateful, so a fragment or datagram that reached a worker without the flow
// would be scheduled afresh there and land on another server.
//
// The real servers answer each datagram "<name> <length>" from the VIP: a full length means every
// fragment arrived and was reassembled.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import type { UdpProbeResult } from './support/udp-probe-child.js';
import { assertNoWrongWorker, describeWorkers, statsView } from './support/worker-stats.js';
import { needsRoot } from './support/needs-root.js';

const UDP_PORT = 5300;
const SOURCES = 12;
const ROUNDS = 3;
// 1472 is the largest payload that fits one 1500-byte packet; 1473 needs two fragments, 30000 twenty-one.
const SIZES = [64, 1472, 1473, 4000, 9000, 30000];
const FRAGMENTED = SIZES.filter((size) => size > 1472).length;
const CHILD = fileURLToPath(new URL('./support/udp-probe-child.js', import.meta.url));

/** One counter of /proc/net/snmp in a host's namespace, e.g. ("Ip", "ReasmOKs"). */
async function snmp(lab: DrLab, role: string, group: string, name: string): Promise<number> {
  const lines = (await lab.exec(role, 'cat', ['/proc/net/snmp'])).stdout.trim().split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = (lines[i] as string).split(/\s+/);
    if (names[0] !== `${group}:`) continue;
    const at = names.indexOf(name);
    if (at > 0) return Number((lines[i + 1] as string).split(/\s+/)[at]);
  }
  throw new Error(`no ${group} ${name} in /proc/net/snmp of ${role}`);
}

test('two workers, UDP flowKey addresses, rr: fragmented and whole datagrams from 12 addresses each reach one server, whole', { timeout: 120_000, skip: needsRoot('network namespaces') }, async (t) => {
  await withDrLab({
    servers: 3, clientAddresses: SOURCES, httpPort: 80, udpPort: UDP_PORT,
    service: { name: 'udp', port: UDP_PORT, protocol: 'udp', flowKey: 'addresses', scheduler: 'rr' },
    config: { workers: 2 },
  }, async (lab) => {
    const sources = lab.segment.client.sources;
    const names = lab.segment.servers.map((s) => s.name);
    const fragmentsBefore = await snmp(lab, 'client', 'Ip', 'FragCreates');
    const reassembledBefore = await Promise.all(names.map((n) => snmp(lab, n, 'Ip', 'ReasmOKs')));

    const { stdout } = await lab.exec('client', process.execPath, [
      CHILD, '--vip', lab.vip, '--port', String(UDP_PORT), '--sources', sources.join(','),
      '--sizes', SIZES.join(','), '--rounds', String(ROUNDS), '--timeout-ms', '3000',
    ], { timeoutMs: 80_000 });  // 18 datagrams per source, each bounded by 3 s: 54 s at worst
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '') as UdpProbeResult;
    const view = await statsView(lab);
    t.diagnostic(`${result.answered}/${result.sent} answered in ${result.durationMs} ms; ${describeWorkers(view)}`);

    const total = SOURCES * ROUNDS * SIZES.length;
    assert.equal(result.sent, total);
    assert.deepEqual(result.foreign, [], 'answers must come from VIP:port');
    assert.deepEqual(result.wrong, [], 'every answer names the full length sent');
    assert.equal(result.timeouts, 0, `unanswered datagrams: ${result.timeouts} (${describeWorkers(view)})`);
    assert.equal(result.answered, total);
    const used = new Set<string>();
    for (const source of sources) {
      const servers = result.bySource[source] ?? {};
      assert.equal(Object.keys(servers).length, 1, `${source} was answered by ${JSON.stringify(servers)}: expected one server`);
      used.add(Object.keys(servers)[0] as string);
    }
    assert.ok(used.size >= 2, `all ${SOURCES} addresses went to ${[...used].join(', ')}`);

    // The datagrams really were fragmented, and reassembled by the servers, once per large datagram.
    const fragments = (await snmp(lab, 'client', 'Ip', 'FragCreates')) - fragmentsBefore;
    assert.ok(fragments >= SOURCES * ROUNDS * FRAGMENTED * 2, `the client created only ${fragments} fragments`);
    const reassembled = (await Promise.all(names.map((n) => snmp(lab, n, 'Ip', 'ReasmOKs'))))
      .reduce((sum, after, i) => sum + after - (reassembledBefore[i] ?? 0), 0);
    assert.equal(reassembled, SOURCES * ROUNDS * FRAGMENTED, 'datagrams reassembled by the servers');

    assertNoWrongWorker(view, 'udp fragments');
    for (const w of view.workers) assert.equal(w.drops.fragment ?? 0, 0, `worker ${w.index} dropped fragments (${describeWorkers(view)})`);
    const flows = view.workers.reduce((sum, w) => sum + w.flowsActive, 0);
    assert.equal(flows, SOURCES, `live flows ${flows}, want one per address (${describeWorkers(view)})`);
    assert.equal(view.serviceNewFlows, SOURCES, `new flows ${view.serviceNewFlows}, want one per address`);
    // 12 addresses over two workers by a (src,dst) hash: all on one worker is a 2^-11 event, so this
    // is a diagnostic, not an assertion.
    t.diagnostic(`workers owning flows: ${view.workers.filter((w) => w.flowsActive > 0).length}`);
  });
});
