// The routed layout (src/netns/routed-dr.ts): the clients are on their own subnet and reach the VIP
// through the dispatcher, their gateway. LAS receives on `interface` (client side) and sends to the
// servers out of `egressInterface` (server side); the servers' replies, addressed to the clients and
// not to the VIP, are routed back by the dispatcher's own kernel (ip_forward=1).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensureCommand } from '../src/netns/ensure-package.js';
import { runInNs } from '../src/netns/run.js';
import { withRoutedDr, type RoutedDr } from '../src/netns/routed-dr.js';
import { withRoutedDrLab, type RoutedDrLab } from './support/dr-lab.js';
import { isObject, num, type Json } from './support/json.js';
import { needsRoot } from './support/needs-root.js';

/** Ip:, Icmp:, IpExt: ... counters of a namespace (per network namespace), as "Ip.ForwDatagrams". */
async function snmp(ns: string): Promise<Map<string, number>> {
  const { stdout } = await runInNs(ns, 'cat', ['/proc/net/snmp', '/proc/net/netstat'], { timeoutMs: 5000 });
  const lines = stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
  const out = new Map<string, number>();
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!;
    const values = lines[i + 1]!;
    const group = names[0]!.replace(/:$/, '');
    for (let k = 1; k < names.length; k++) out.set(`${group}.${names[k]}`, Number(values[k]));
  }
  return out;
}

const delta = (before: Map<string, number>, after: Map<string, number>, key: string): number => {
  const a = after.get(key);
  const b = before.get(key);
  assert.ok(a !== undefined && b !== undefined, `/proc/net/snmp has no ${key}`);
  return a - b;
};

interface Route { dst: string; gateway?: string; dev?: string }
async function routes(ns: string): Promise<Route[]> {
  return JSON.parse((await runInNs(ns, 'ip', ['-j', '-4', 'route', 'show'])).stdout.trim() || '[]') as Route[];
}
async function routeTo(ns: string, address: string): Promise<Route> {
  const [route] = JSON.parse((await runInNs(ns, 'ip', ['-j', 'route', 'get', address])).stdout) as Route[];
  assert.ok(route, `no route to ${address} in ${ns}`);
  return route;
}
async function sysctl(ns: string, key: string): Promise<string> {
  return (await runInNs(ns, 'sysctl', ['-n', key])).stdout.trim();
}
interface NeighRow { dst: string; lladdr?: string }
async function neighbours(ns: string, ifname: string): Promise<NeighRow[]> {
  return JSON.parse((await runInNs(ns, 'ip', ['-j', '-4', 'neigh', 'show', 'dev', ifname])).stdout.trim() || '[]') as NeighRow[];
}

async function workerStats(lab: RoutedDrLab): Promise<{ stats: Json; workers: Json[] }> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.workers) && Array.isArray(stats.services), `stats shape: ${JSON.stringify(stats)}`);
  return { stats, workers: stats.workers.filter(isObject) };
}

function checkLayout(layout: RoutedDr): void {
  assert.equal(layout.layout, 'routed');
  assert.notEqual(layout.dispatcher.ifname, layout.dispatcherEgress.ifname, 'two NICs on the dispatcher');
  assert.equal(layout.dispatcher.ns, layout.dispatcherEgress.ns);
}

test('routed layout: clients and servers on two subnets, the dispatcher is the gateway of both', { timeout: 60_000, skip: needsRoot('network namespaces') }, async () => {
  await withRoutedDr({ servers: 2 }, async (layout) => {
    checkLayout(layout);
    const d = layout.dispatcher;
    assert.equal(await sysctl(d.ns, 'net.ipv4.ip_forward'), '1');
    // The client's only way to the VIP is its default route via the dispatcher's client side.
    assert.deepEqual((await routeTo(layout.client.ns, layout.vip)).gateway, layout.gateways.client);
    assert.equal(layout.gateways.client, d.address);
    assert.equal(layout.gateways.server, layout.dispatcherEgress.address);
    for (const server of layout.servers) {
      const lo = (await runInNs(server.ns, 'ip', ['-j', '-4', 'addr', 'show', 'dev', 'lo'])).stdout;
      assert.ok(lo.includes(`"${layout.vip}"`), `${server.name} holds the VIP on lo: ${lo}`);
      assert.equal(await sysctl(server.ns, 'net.ipv4.conf.all.arp_ignore'), '1');
      assert.equal(await sysctl(server.ns, 'net.ipv4.conf.all.arp_announce'), '2');
      // Replies to the clients go through the dispatcher's server side.
      assert.equal((await routeTo(server.ns, layout.client.address)).gateway, layout.gateways.server);
    }
    // The dispatcher is on both subnets and holds no VIP: it has no route of its own to it.
    assert.equal((await routeTo(d.ns, layout.client.address)).dev, d.ifname);
    assert.equal((await routeTo(d.ns, layout.servers[0]!.address)).dev, layout.dispatcherEgress.ifname);
    assert.ok(!(await routes(d.ns)).some((r) => r.dst === 'default'), 'the dispatcher needs no default route here');
    // Plain routing works both ways without LAS (the servers' own addresses are not the VIP): a TCP
    // connect to a closed port of a server is refused, so its RST came back through the dispatcher.
    const probe = "const s = require('node:net').connect(9, process.argv[1]); s.setTimeout(3000, () => { console.log('TIMEOUT'); process.exit(1); });" +
      " s.on('error', (e) => { console.log(e.code); process.exit(0); }); s.on('connect', () => { console.log('CONNECTED'); process.exit(0); });";
    const { stdout } = await runInNs(layout.client.ns, process.execPath, ['-e', probe, layout.servers[0]!.address], { timeoutMs: 10_000 });
    assert.equal(stdout.trim(), 'ECONNREFUSED');
  });
});

test('routed layout: HTTP to the VIP through the dispatcher, answered by every server, replies routed by the dispatcher\'s kernel', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => {
  await withRoutedDrLab({ servers: 3 }, async (lab) => {
    const layout = lab.segment;
    checkLayout(layout);
    assert.equal(lab.config.interface, layout.dispatcher.ifname);
    assert.equal(lab.config.egressInterface, layout.dispatcherEgress.ifname);
    const dispatcherNs = layout.dispatcher.ns;
    const before = await snmp(dispatcherNs);

    const REQUESTS = 300;
    const result = await lab.runClient({ requests: REQUESTS, concurrency: 10, timeoutMs: 5000 });
    assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.errors)}`);
    assert.equal(result.ok, REQUESTS);
    const names = layout.servers.map((s) => s.name);
    assert.deepEqual(Object.keys(result.byServer).sort(), [...names].sort(), `answered by ${JSON.stringify(result.byServer)}`);

    const after = await snmp(dispatcherNs);
    // Each reply (SYN-ACK, response, FIN...) crossed the dispatcher's kernel: at least two per request.
    const forwarded = delta(before, after, 'Ip.ForwDatagrams');
    assert.ok(forwarded >= 2 * REQUESTS, `the dispatcher's kernel forwarded ${forwarded} datagrams for ${REQUESTS} replies`);
    // ... and never a VIP frame: the kernel has no route to the VIP, so each one that slipped past the
    // tc drop would count in InNoRoutes (and some, rate-limited, be answered with ICMP unreachable).
    assert.equal(delta(before, after, 'IpExt.InNoRoutes'), 0, 'the dispatcher\'s kernel tried to route VIP traffic');
    assert.equal(delta(before, after, 'Icmp.OutDestUnreachs'), 0, 'the dispatcher\'s kernel answered VIP traffic with ICMP');
    assert.equal(delta(before, after, 'Icmp.OutRedirects'), 0);

    // LAS forwarded every connection: per-server counters, no errors, frames out of the other NIC.
    const { stats, workers } = await workerStats(lab);
    for (const service of (stats.services as unknown[]).filter(isObject)) {
      for (const server of (Array.isArray(service.servers) ? service.servers : []).filter(isObject)) {
        const name = layout.servers.find((s) => s.address === server.address)?.name ?? String(server.address);
        assert.ok(num(server.packets) >= 3 * (result.byServer[name] ?? 0), `${name}: ${String(server.packets)} packets for ${result.byServer[name]} answers`);
      }
    }
    for (const [i, w] of workers.entries()) assert.equal(num(w.txErrors), 0, `worker ${i} txErrors`);
    assert.ok(lab.daemon().running(), 'the daemon still runs');

    // The client never ARPs for the VIP (it is routed); its gateway's MAC is the dispatcher's client side.
    const clientNeigh = await neighbours(layout.client.ns, layout.client.ifname);
    assert.ok(!clientNeigh.some((n) => n.dst === lab.vip), `client neighbour table: ${JSON.stringify(clientNeigh)}`);
    const gateway = clientNeigh.find((n) => n.dst === layout.gateways.client);
    assert.equal(gateway?.lladdr?.toLowerCase(), layout.dispatcher.mac.toLowerCase());
    // The servers reach the client only through their gateway: no neighbour entry for the client.
    for (const server of layout.servers) {
      const rows = await neighbours(server.ns, server.ifname);
      assert.ok(!rows.some((n) => n.dst === layout.client.address), `${server.name} neighbours: ${JSON.stringify(rows)}`);
    }
  });
});

const BULK_BYTES = 200 * 1024 * 1024;

test('routed layout: a 200 MiB upload to the VIP with default offloads arrives whole; no TX errors, no oversize drops', { timeout: 240_000, skip: needsRoot('network namespaces') }, async (t) => {
  await withRoutedDrLab({ servers: 3, bulk: true }, async (lab) => {
    const layout = lab.segment;
    // Default offloads: the client's NIC hands its stack's TCP super-frames (TSO/GSO) to the wire as they are.
    await ensureCommand('ethtool', 'ethtool');
    const features = (await runInNs(layout.client.ns, 'ethtool', ['-k', layout.client.ifname])).stdout;
    t.diagnostic(`client ${layout.client.ifname}: ${features.split('\n').filter((l) => /^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):/.test(l)).map((l) => l.trim()).join(', ')}`);
    assert.match(features, /^tcp-segmentation-offload: on/m);
    assert.match(features, /^generic-segmentation-offload: on/m);

    const before = await snmp(layout.dispatcher.ns);
    const upload = await lab.upload({ bytes: BULK_BYTES });
    const after = await snmp(layout.dispatcher.ns);
    assert.equal(upload.bytes, BULK_BYTES);
    t.diagnostic(`routed upload: ${(upload.bytes / 1048576).toFixed(0)} MiB in ${upload.seconds.toFixed(2)} s = ${upload.gbps.toFixed(2)} Gbit/s, client retransmits ${upload.retransmits ?? 'n/a'}, dispatcher kernel forwarded ${delta(before, after, 'Ip.ForwDatagrams')} datagrams (the ACKs)`);

    // The server's own count: one finished connection, every byte.
    const receipts = [...(await lab.bulkReceipts())].flatMap(([server, list]) => list.map((r) => ({ server, ...r })));
    assert.equal(receipts.length, 1, `receipts: ${JSON.stringify(receipts)}`);
    assert.equal(receipts[0]!.bytes, BULK_BYTES, `server ${receipts[0]!.server} received ${receipts[0]!.bytes} bytes`);
    assert.ok(receipts[0]!.remote.startsWith(`${layout.client.address}:`), `the sink saw the client itself: ${receipts[0]!.remote}`);

    const { workers } = await workerStats(lab);
    for (const [i, w] of workers.entries()) {
      const drops = isObject(w.drops) ? w.drops : {};
      const nonZero = Object.entries(drops).filter(([, v]) => num(v) > 0);
      if (nonZero.length > 0) t.diagnostic(`worker ${i} drops: ${nonZero.map(([k, v]) => `${k} ${String(v)}`).join(', ')}`);
      assert.equal(num(w.txErrors), 0, `worker ${i} txErrors`);
      assert.ok('oversize' in drops, `worker ${i} reports no "oversize" drop reason (reasons: ${Object.keys(drops).join(', ')})`);
      assert.equal(num(drops.oversize), 0, `worker ${i} drops.oversize`);
    }
    assert.equal(delta(before, after, 'IpExt.InNoRoutes'), 0, 'the dispatcher\'s kernel tried to route VIP traffic');
    assert.ok(lab.daemon().running(), 'the daemon still runs');
  });
});
