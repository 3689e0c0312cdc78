// Real HTTP through the real daemon: the client ARPs for the VIP, only the dispatcher answers, every
// new TCP connection is forwarded at layer 2 to one of the real servers, which reply directly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 90_000, skip: needsRoot('network namespaces') };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Counters cross the admin socket as decimal strings (bigint). */
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN);

interface Counters {
  workers: Json[];
  servers: Map<string, { packets: number; newFlows: number }>;   // by server address, summed over services
  arpReplies: number;
  rxPackets: number;
}

async function counters(lab: DrLab): Promise<Counters> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.workers) && Array.isArray(stats.services), `stats shape: ${JSON.stringify(stats)}`);
  const workers = stats.workers.filter(isObject);
  const servers = new Map<string, { packets: number; newFlows: number }>();
  for (const service of stats.services.filter(isObject)) {
    for (const server of (Array.isArray(service.servers) ? service.servers : []).filter(isObject)) {
      const entry = servers.get(String(server.address)) ?? { packets: 0, newFlows: 0 };
      entry.packets += num(server.packets);
      entry.newFlows += num(server.newFlows);
      servers.set(String(server.address), entry);
    }
  }
  const sum = (key: string) => workers.reduce((total, w) => total + num(w[key]), 0);
  return { workers, servers, arpReplies: sum('arpReplies'), rxPackets: sum('rxPackets') };
}

interface NeighRow { dst: string; lladdr?: string; state?: string[] }

async function clientNeighbour(lab: DrLab, address: string): Promise<NeighRow[]> {
  const { stdout } = await lab.exec('client', 'ip', ['-j', '-4', 'neigh', 'show', 'to', address, 'dev', lab.segment.client.ifname]);
  return JSON.parse(stdout.trim() || '[]') as NeighRow[];
}

test('300 new connections to the VIP: all answered, by all three servers, forwarded and ARP-answered by the dispatcher', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 3 }, async (lab) => {
    // The client must ask for the VIP itself (a gratuitous ARP does not create an entry, but be sure).
    await lab.exec('client', 'ip', ['neigh', 'flush', 'to', lab.vip, 'dev', lab.segment.client.ifname]);

    const result = await lab.runClient({ requests: 300, concurrency: 10, timeoutMs: 5000 });
    assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.errors)}`);
    assert.equal(result.ok, 300);
    const names = lab.segment.servers.map((s) => s.name);
    assert.deepEqual(Object.keys(result.byServer).sort(), names.sort(), `answered by ${JSON.stringify(result.byServer)}`);
    for (const name of names) assert.ok((result.byServer[name] ?? 0) > 0, `${name} answered none: ${JSON.stringify(result.byServer)}`);

    const c = await counters(lab);
    assert.ok(lab.daemon().running(), 'the daemon still runs');
    for (const server of lab.segment.servers) {
      const s = c.servers.get(server.address);
      assert.ok(s, `no counters for ${server.address}: ${JSON.stringify([...c.servers])}`);
      // Each connection of a server sends it at least SYN, ACK/request and FIN/ACK through the dispatcher.
      assert.ok(s.packets >= 3 * (result.byServer[server.name] ?? 0), `${server.name}: ${s.packets} packets forwarded for ${result.byServer[server.name]} answers`);
      // A new flow per connection, unless the client reused a source port while the old entry lived.
      assert.ok(s.newFlows >= 1 && s.newFlows <= (result.byServer[server.name] ?? 0), `${server.name}: ${s.newFlows} new flows for ${result.byServer[server.name]} connections`);
    }
    assert.ok(c.arpReplies >= 1, `the dispatcher answered ARP for the VIP (arpReplies ${c.arpReplies})`);

    // The client's neighbour entry for the VIP carries the dispatcher's MAC, never a server's.
    const rows = await clientNeighbour(lab, lab.vip);
    const macs = rows.map((r) => r.lladdr?.toLowerCase()).filter((m): m is string => m !== undefined);
    assert.deepEqual(macs, [lab.segment.dispatcher.mac.toLowerCase()], `client neighbour for ${lab.vip}: ${JSON.stringify(rows)}`);
    for (const server of lab.segment.servers) assert.ok(!macs.includes(server.mac.toLowerCase()), `${server.name}'s MAC answered for the VIP`);
  });
});

test('flowKey "addresses": every request of one client address is answered by the same server', TEST_OPTIONS, async () => {
  const SOURCES = 8;
  const PER_SOURCE = 15;
  await withDrLab({ servers: 3, clientAddresses: SOURCES, service: { flowKey: 'addresses' } }, async (lab) => {
    const sources = lab.segment.client.sources;
    assert.equal(sources.length, SOURCES);
    const result = await lab.runClient({ requests: SOURCES * PER_SOURCE, concurrency: 8, timeoutMs: 5000 });
    assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.errors)}`);
    assert.equal(result.ok, SOURCES * PER_SOURCE);
    assert.deepEqual(Object.keys(result.bySource).sort(), [...sources].sort(), `sources seen: ${JSON.stringify(result.bySource)}`);
    for (const source of sources) {
      const perServer = result.bySource[source] ?? {};
      assert.equal(Object.keys(perServer).length, 1, `${source} was answered by ${JSON.stringify(perServer)}: expected one server`);
      assert.equal(Object.values(perServer)[0], PER_SOURCE, `${source}: ${JSON.stringify(perServer)}`);
    }
    // Persistence must not degenerate into "everything to one server": Maglev's hash is fixed, so for
    // these 8 fixed addresses this is deterministic, not a matter of luck.
    const used = new Set(Object.values(result.bySource).flatMap((m) => Object.keys(m)));
    assert.ok(used.size >= 2, `all ${SOURCES} sources went to ${[...used].join(', ')}`);

    // With flowKey addresses one flow per source exists: the dispatcher created one per source.
    const c = await counters(lab);
    const newFlows = [...c.servers.values()].reduce((t, s) => t + s.newFlows, 0);
    assert.equal(newFlows, SOURCES, `new flows ${newFlows} (one per client address expected)`);
  });
});
