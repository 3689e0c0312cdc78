// A SYN flood fills a small flow table. The policy (docs/hardening.md): an entry is never evicted, so
// established connections keep their servers; a new flow that finds the table full is forwarded
// without an entry and counted in flowTableFull, its server decided afresh for every packet by a pure
// function of the flow (Maglev, sh; rr/wrr/wlc hash it into their weighted sequence), so it still
// works. The service uses rr, so a lost entry, or a new flow decided statefully, would show: the
// next packet would go to another server, which answers with a RST.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { ECHO_PORT, withDrLab, type DrLab } from './support/dr-lab.js';
import { waitFor } from './support/control.js';
import { ethernet, ipv4, PROTO_TCP, sendFramesInNs, tcp, ETH_IPV4 } from './support/flood.js';
import { isObject, num } from './support/json.js';
import { needsRoot } from './support/needs-root.js';

const CAPACITY = 1024;          // the smallest flowTable.capacity, one worker
const HELD = 4;                 // long-lived connections, one from each client address
const FLOOD = 4000;             // SYNs from 198.51.100.0/24 (TEST-NET-2), distinct ports: 4x the table
const TCP_SYN = 0x02;

// Runs in the client namespace: one echo connection from each source; each "ping" line on stdin
// sends 32 bytes on every connection and reports when all came back. One JSON line per event.
const ECHO_CHILD = `
const net = require('node:net');
const [host, port, sources] = process.argv.slice(1);
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
setTimeout(() => { emit({ t: 'error', code: 'hard-timeout' }); process.exit(3); }, 170000).unref();
const conns = sources.split(',').map((source) => {
  const s = net.connect({ host, port: Number(port), localAddress: source });
  const c = { s, source, got: 0 };
  s.on('data', (d) => { c.got += d.length; check(); });
  s.on('error', (e) => { emit({ t: 'error', code: e.code || e.message, source }); process.exit(1); });
  s.on('close', () => { emit({ t: 'error', code: 'closed', source }); process.exit(1); });
  return c;
});
let want = 0, round = 0;
function check() {
  if (conns.every((c) => c.got >= want)) emit({ t: 'round', round, connections: conns.map((c) => ({ source: c.source, port: c.s.localPort })) });
}
function ping() { round++; want += 32; for (const c of conns) c.s.write(Buffer.alloc(32, 0x2e)); }
let connected = 0;
for (const c of conns) c.s.on('connect', () => { if (++connected === conns.length) ping(); });
let input = '';
process.stdin.setEncoding('utf8').on('data', (d) => {
  input += d;
  for (let i; (i = input.indexOf('\\n')) >= 0; input = input.slice(i + 1)) if (input.slice(0, i) === 'ping') ping();
});
`;

interface EchoEvent { t: string; round?: number; code?: string; connections?: { source: string; port: number }[] }

function echoEvents(child: ChildProcess): EchoEvent[] {
  const events: EchoEvent[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      events.push(JSON.parse(buffered.slice(0, i)) as EchoEvent);
      buffered = buffered.slice(i + 1);
    }
  });
  return events;
}

async function untilRound(events: EchoEvent[], round: number): Promise<EchoEvent> {
  await waitFor(`echo round ${round} on every held connection`, () => events.some((e) => e.t === 'error' || (e.t === 'round' && e.round === round)), 20_000, () => events.slice(-3));
  const error = events.find((e) => e.t === 'error');
  assert.equal(error, undefined, `a held connection failed: ${JSON.stringify(error)}`);
  return events.find((e) => e.t === 'round' && e.round === round)!;
}

/** "client:port" → server name, from the servers' own established sockets. */
async function owners(lab: DrLab): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const server of lab.segment.servers) {
    const { stdout } = await lab.exec(server.name, 'ss', ['-Htn', 'state', 'established', `( sport = :${ECHO_PORT} )`]);
    for (const cols of stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((c) => c.length >= 4)) out.set(cols[3]!, server.name);
  }
  return out;
}

async function tableCounters(lab: DrLab): Promise<{ active: number; full: number }> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.workers), JSON.stringify(stats));
  const workers = stats.workers.filter(isObject);
  return {
    active: workers.reduce((n, w) => n + num(w.flowsActive), 0),
    full: workers.reduce((n, w) => n + num(w.flowTableFull), 0),
  };
}

test('flow table full under a SYN flood: held connections keep their servers, new flows go through without an entry and are counted', { timeout: 180_000, skip: needsRoot('network namespaces') }, async (t) => {
  await withDrLab({
    servers: 3, clientAddresses: HELD,
    service: { port: 0, scheduler: 'rr', flowKey: '5tuple' },
    // Flood entries must not age out while the test runs: the table stays full by construction.
    config: { flowTable: { capacity: CAPACITY }, flowTimeouts: { tcpSynRecv: 3600, tcpEstablished: 3600 } },
  }, async (lab) => {
    const sources = lab.segment.client.sources;
    assert.equal(sources.length, HELD);
    const child = lab.spawn('client', process.execPath, ['-e', ECHO_CHILD, lab.vip, String(ECHO_PORT), sources.join(',')], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      const events = echoEvents(child);
      const first = await untilRound(events, 1);
      const keys = first.connections!.map((c) => `${c.source}:${c.port}`);
      const before = await owners(lab);
      for (const key of keys) assert.ok(before.has(key), `no server holds ${key}: ${JSON.stringify([...before])}`);
      assert.ok(new Set(keys.map((k) => before.get(k))).size >= 2, `rr spread the held connections: ${JSON.stringify([...before])}`);
      const start = await tableCounters(lab);
      assert.equal(start.full, 0);

      // The flood: SYNs to VIP:80 from 4000 distinct (address, port) pairs, sent from the client's NIC.
      const frames = Array.from({ length: FLOOD }, (_, i) => ethernet(lab.segment.dispatcher.mac, lab.segment.client.mac, ETH_IPV4, ipv4({
        src: `198.51.100.${1 + (i % 250)}`, dst: lab.vip, proto: PROTO_TCP, id: i & 0xffff,
        payload: tcp({ sport: 1024 + i, dport: 80, flags: TCP_SYN, seq: i }),
      })));
      const sent = await sendFramesInNs(lab.segment.client.ns, lab.segment.client.ifname, frames, lab.dir, { name: 'syn-flood.bin' });
      assert.equal(sent.sent, FLOOD);
      await waitFor('the flood fills the table and is counted', async () => {
        const c = await tableCounters(lab);
        return c.active === CAPACITY && c.full > 0;
      }, 20_000, () => tableCounters(lab));
      const flooded = await tableCounters(lab);
      t.diagnostic(`after the flood: ${flooded.active} entries, flowTableFull ${flooded.full}`);

      // Established connections: still echo, on the same servers.
      child.stdin?.write('ping\n');
      await untilRound(events, 2);
      const after = await owners(lab);
      for (const key of keys) assert.equal(after.get(key), before.get(key), `${key} moved from ${before.get(key)} to ${after.get(key)}`);

      // New connections while the table is full: each forwarded without an entry, consistently.
      const http = await lab.runClient({ requests: 60, concurrency: 4, timeoutMs: 5000 });
      assert.equal(http.failed, 0, `new flows with a full table: ${JSON.stringify(http.errors)}`);
      assert.ok(Object.keys(http.byServer).length >= 2, `stateless new flows still spread: ${JSON.stringify(http.byServer)}`);
      const end = await tableCounters(lab);
      assert.equal(end.active, CAPACITY, 'the table stayed full throughout');
      assert.ok(end.full >= flooded.full + 60 * 2, `each packet of a new flow without an entry is counted: ${flooded.full} → ${end.full}`);
      t.diagnostic(`flowTableFull after the flood: ${flooded.full}, after 60 requests: ${end.full}; byServer ${JSON.stringify(http.byServer)}`);

      child.stdin?.write('ping\n');
      await untilRound(events, 3);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
