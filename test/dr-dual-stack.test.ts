// End to end on the dual-stack lab (src/netns/lvs-dr.ts ipv6): one daemon balances a v4 VIP and a v6
// VIP at once, real clients over real TCP, the servers answering the clients directly. The
// dispatcher's own kernel must neither answer nor forward v6 VIP traffic (its /proc/net/snmp6).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type ClientResult, type DrLab } from './support/dr-lab.js';
import { buildFlood, sendFramesInNs, V6_KINDS, type FloodTarget } from './support/flood.js';
import { needsRoot } from './support/needs-root.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TEST_OPTIONS = { timeout: 180_000, skip: needsRoot('network namespaces') };
const REQUESTS = 300;
const SOURCES = 20;   // client addresses: enough that "addresses" stickiness spreads them over all 3 servers
const FLOOD_FRAMES = 6000;
const SEED = 0x6d15;
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function las(args: string[]): string {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, `las ${args.join(' ')}: ${run.stdout}${run.stderr}`);
  return run.stdout;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN);

/** "Ip6InReceives" -> value, from the dispatcher namespace's /proc/net/snmp6. */
async function snmp6(lab: DrLab): Promise<Map<string, number>> {
  const { stdout } = await lab.exec('dispatcher', 'cat', ['/proc/net/snmp6']);
  return new Map(stdout.trim().split('\n').map((line) => line.trim().split(/\s+/)).map(([k, v]) => [k!, Number(v)]));
}

// The counters a kernel that saw v6 VIP traffic would move: delivering it, forwarding it,
// answering it (NA for the VIP, unreachables, parameter problems for junk), sending anything at all.
// Not Ip6InReceives: the servers' multicast NS for the client's addresses are flooded by the
// switch to the dispatcher too, and counted there before the kernel drops them (not its groups).
// Ip6OutRequests and Icmp6OutMsgs less the kernel's MLDv2 reports: LAS joins each v6 VIP's
// solicited-node group on the port, and the kernel announces (and repeats) that membership on its
// own schedule, which is not an answer to anything (a clean run failed on one such report).
const WATCHED6 = [
  'Ip6InDelivers', 'Ip6InHdrErrors', 'Ip6InAddrErrors', 'Ip6OutForwDatagrams', 'Ip6OutRequests', 'Icmp6OutMsgs', 'Icmp6OutNeighborAdvertisements',
  'Icmp6OutDestUnreachs', 'Icmp6OutParmProblems', 'Icmp6OutRedirects',
];
/** Every counter that moved, for the diagnostics. */
function moved(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, d]) => d !== 0));
}

function kernelDeltas(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const d = (k: string) => {
    assert.ok(after.has(k), `the kernel has no counter ${k}`);
    return after.get(k)! - (before.get(k) ?? 0);
  };
  const mldReports = d('Icmp6OutMLDv2Reports');
  const deltas: Record<string, number> = Object.fromEntries(WATCHED6.map((k) => [k, d(k)]));
  deltas.Ip6OutRequests! -= mldReports;
  deltas.Icmp6OutMsgs! -= mldReports;
  // Whatever reached it was multicast (the flooded NS above): no unicast frame, a VIP's least of all.
  return { ...deltas, unicastReceived: d('Ip6InReceives') - d('Ip6InMcastPkts') };
}

/** Each source address went to exactly one server; returns the servers seen. */
function stickyServers(result: ClientResult, sources: string[]): Set<string> {
  const seen = new Set<string>();
  assert.deepEqual(Object.keys(result.bySource).sort(), [...sources].sort(), 'every source address was used');
  for (const [source, servers] of Object.entries(result.bySource)) {
    const names = Object.keys(servers);
    assert.equal(names.length, 1, `${source} went to ${names.join(', ')}: "addresses" keeps a client address on one server`);
    seen.add(names[0]!);
  }
  return seen;
}

async function servicePackets(lab: DrLab): Promise<Map<string, number>> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.services), `stats: ${JSON.stringify(stats)}`);
  return new Map(stats.services.filter(isObject).map((s) => [String(s.vip), num(s.packets)]));
}

test(`${REQUESTS} HTTP requests over IPv6 and ${REQUESTS} over IPv4 in one run: every server answers, each client address sticks to one server, the dispatcher kernel sees no v6 VIP traffic`, TEST_OPTIONS, async (t) => {
  const sticky = { flowKey: 'addresses' as const };
  await withDrLab({ servers: 3, clientAddresses: SOURCES, service: sticky, ipv6: sticky, config: { neighbourRefresh: 3600 } }, async (lab) => {
    const vip6 = lab.vip6!;
    // Warm up: the client resolves both VIPs (ARP, NDP answered by LAS), the daemon the servers.
    for (const ipv6 of [false, true]) {
      const warm = await lab.runClient({ ipv6, requests: 5, timeoutMs: 5000 });
      assert.equal(warm.ok, 5, `warm-up ${ipv6 ? 'v6' : 'v4'}: ${JSON.stringify(warm.errors)}`);
    }
    const kernelBefore = await snmp6(lab);
    const packetsBefore = await servicePackets(lab);
    const [v6, v4] = await Promise.all([
      lab.runClient({ ipv6: true, requests: REQUESTS, concurrency: 10, timeoutMs: 5000 }),
      lab.runClient({ requests: REQUESTS, concurrency: 10, timeoutMs: 5000 }),
    ]);
    const kernelAfter = await snmp6(lab);
    const deltas = kernelDeltas(kernelBefore, kernelAfter);
    const packetsAfter = await servicePackets(lab);
    t.diagnostic(`v6 ${v6.ok} ok in ${v6.durationMs} ms, v4 ${v4.ok} ok in ${v4.durationMs} ms; dispatcher kernel moved: ${JSON.stringify(moved(kernelBefore, kernelAfter))}`);

    assert.equal(v6.failed, 0, `v6 failures: ${JSON.stringify(v6.errors)}`);
    assert.equal(v4.failed, 0, `v4 failures: ${JSON.stringify(v4.errors)}`);
    assert.equal(v6.ok, REQUESTS);
    assert.equal(v4.ok, REQUESTS);
    const names = lab.segment.servers.map((s) => s.name).sort();
    assert.deepEqual([...stickyServers(v6, lab.segment.client.sources6!)].sort(), names, 'v6: every server answered');
    assert.deepEqual([...stickyServers(v4, lab.segment.client.sources)].sort(), names, 'v4: every server answered');
    // LAS forwarded the v6 connections (at least SYN, ACK+request, FIN-ACK each) under the v6 service.
    const forwarded6 = (packetsAfter.get(vip6) ?? 0) - (packetsBefore.get(vip6) ?? 0);
    assert.ok(forwarded6 >= 3 * REQUESTS, `LAS forwarded ${forwarded6} v6 packets for ${REQUESTS} connections`);

    for (const [key, delta] of Object.entries(deltas)) assert.equal(delta, 0, `dispatcher kernel ${key} +${delta}: ${JSON.stringify(deltas)}`);

    // What an operator reads: v6 endpoints in brackets, servers by their canonical v6 address.
    const status = las(['status', '--socket', lab.adminSocket]);
    assert.match(status, /^TCP \[fd77::100\]:80 web6\s+maglev\(65537\)/m, status);
    for (const server of ['fd77::11', 'fd77::12', 'fd77::13']) assert.match(status, new RegExp(`^  -> \\[${server}\\]:80 `, 'm'), status);
    const stats = las(['stats', '--socket', lab.adminSocket]);
    assert.match(stats, /^web6 \[fd77::100\]:80\/tcp\s+\d+/m, stats);
    for (const server of ['fd77::11', 'fd77::12', 'fd77::13']) assert.match(stats, new RegExp(`^  -> ${server}\\s+[1-9]`, 'm'), stats);
    // A v6 server named in another spelling is found by its canonical form.
    assert.match(las(['server', 'drain', 'web6', 'FD77:0::12', '--socket', lab.adminSocket]), /^web6 fd77::12: weight 0 \(config 1\), drained/m);
  });
});

test(`${FLOOD_FRAMES} frames of v6 junk to the v6 VIP while v6 requests run: every request succeeds, drops counted by reason, the kernel answers none`, TEST_OPTIONS, async (t) => {
  await withDrLab({ servers: 3, ipv6: true, config: { neighbourRefresh: 3600 } }, async (lab) => {
    const client = lab.segment.client;
    const warm = await lab.runClient({ ipv6: true, requests: 5, timeoutMs: 5000 });
    assert.equal(warm.ok, 5, JSON.stringify(warm.errors));
    const target: FloodTarget = {
      dstMac: lab.segment.dispatcher.mac, srcMac: client.mac, senderIp: client.address, vip: lab.vip, port: lab.port, vip6: lab.vip6!, port6: 80,
    };
    const flood = buildFlood(target, FLOOD_FRAMES, SEED, {}, V6_KINDS);
    const dropsOf = async () => {
      const stats = await lab.stats();
      assert.ok(isObject(stats) && Array.isArray(stats.workers));
      const drops: Record<string, number> = {};
      for (const w of stats.workers.filter(isObject)) {
        if (isObject(w.drops)) for (const [reason, n] of Object.entries(w.drops)) drops[reason] = (drops[reason] ?? 0) + num(n);
      }
      return drops;
    };
    const before = await dropsOf();
    const kernelBefore = await snmp6(lab);
    const [http, sent] = await Promise.all([
      lab.runClient({ ipv6: true, requests: 200, concurrency: 4, timeoutMs: 10_000 }),
      sendFramesInNs(client.ns, client.ifname, flood.frames, lab.dir, { name: 'flood6.bin', batch: 250, pauseMs: 5 }),
    ]);
    assert.equal(sent.total, FLOOD_FRAMES);
    assert.ok(lab.daemon().running(), `the daemon died: ${lab.daemonOutput().stderr}`);
    assert.equal(http.failed, 0, `v6 failures during the flood: ${JSON.stringify(http.errors)}`);
    assert.equal(http.ok, 200);

    // Every junk frame that reached the ring is classified before the counters stop moving.
    const c = flood.counts;
    const expected: Array<[reason: string, min: number, max: number]> = [
      ['truncated_ipv6', 1, c.v6_truncated],
      ['ipv6_ext_truncated', 1, c.v6_ext_truncated + c.v6_random],
      ['ipv6_ext_too_many', 1, c.v6_ext_too_many],
      ['truncated_l4', 1, c.v6_truncated_tcp + c.v6_random],
    ];
    let drops: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const now = await dropsOf();
      drops = Object.fromEntries(Object.keys(now).map((r) => [r, now[r]! - (before[r] ?? 0)]).filter(([, d]) => d !== 0));
      if (expected.every(([reason, min]) => (drops[reason] ?? 0) >= min)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const kernelAfter = await snmp6(lab);
    const deltas = kernelDeltas(kernelBefore, kernelAfter);
    t.diagnostic(`flood ${JSON.stringify(c)}; drops ${JSON.stringify(drops)}; dispatcher kernel moved: ${JSON.stringify(moved(kernelBefore, kernelAfter))}`);
    for (const [reason, min, max] of expected) {
      const n = drops[reason] ?? 0;
      assert.ok(n >= min && n <= max, `"${reason}": ${n} drops, expected ${min}..${max}: ${JSON.stringify(drops)}`);
    }
    for (const [key, delta] of Object.entries(deltas)) assert.equal(delta, 0, `dispatcher kernel ${key} +${delta}: ${JSON.stringify(deltas)}`);

    const later = await lab.runClient({ ipv6: true, requests: 20, concurrency: 4, timeoutMs: 5000 });
    assert.equal(later.failed, 0, `after the flood: ${JSON.stringify(later.errors)}`);
  });
});
