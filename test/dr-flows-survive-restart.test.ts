// Flows kept across a restart (flowTable.persistDirectory): with wrr nothing recomputes a flow's
// server, so an established connection keeps its server after a restart only if the new daemon
// picks up the old one's flow table. A weight change first drains two servers, so that any new
// choice differs from the one in the table: a connection scheduled afresh lands on the third server,
// which answers it with a RST. Also: a table whose server left the config loses only that server's
// flows, and a file with another entry layout starts empty, with a log line saying why.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ECHO_PORT, withDrLab, type DrLab } from './support/dr-lab.js';
import { flows, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';
import { trackPath, untrackPath } from '../src/netns/cleanup.js';
import { FLOW_ENTRY_BYTES, FLOW_ENTRY_LAYOUT } from '../src/native/contract.js';
import { startDaemon } from '../src/demo/daemon-process.js';

const TEST_OPTIONS = { timeout: 180_000, skip: needsRoot('network namespaces') };
const CONNECTIONS = 6;
const ECHOES_BETWEEN_STEPS = 5;   // per connection, after each step
const CLOCK_GRAIN_MS = 20;        // the entries' clock is CLOCK_MONOTONIC_COARSE (a jiffy or so)

// Runs in the client namespace: CONNECTIONS connections to VIP:ECHO_PORT, each sending "<n>\n"
// every 100 ms and checking its echoes come back in order. One JSON event a line on stdout. A
// connection's error is reported and ends that connection only. Bounded by a hard timeout.
const ECHO_CLIENTS = `
const net = require('node:net');
const [host, port, count] = process.argv.slice(1);
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
setTimeout(() => { emit({ t: 'hard-timeout' }); process.exit(3); }, 170000).unref();
for (let i = 0; i < Number(count); i++) {
  let sent = 0, received = 0, buffered = '', timer;
  const socket = net.connect({ host, port: Number(port) });
  socket.setNoDelay(true);
  socket.setEncoding('utf8');
  socket.on('connect', () => {
    emit({ t: 'connected', i, port: socket.localPort });
    timer = setInterval(() => { socket.write(sent + '\\n'); sent++; }, 100);
  });
  socket.on('data', (chunk) => {
    buffered += chunk;
    let at;
    while ((at = buffered.indexOf('\\n')) >= 0) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      if (line !== String(received)) emit({ t: 'mismatch', i, line, expected: received });
      received++;
      emit({ t: 'echo', i });
    }
  });
  socket.on('error', (e) => { clearInterval(timer); emit({ t: 'error', i, code: e.code || e.message }); });
  socket.on('close', () => { clearInterval(timer); emit({ t: 'closed', i }); });
}
`;

interface Event { t: string; i?: number; port?: number; code?: string }

class EchoClients {
  readonly events: Event[] = [];
  constructor(readonly child: ChildProcess) {
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        try { this.events.push(JSON.parse(line) as Event); } catch { this.events.push({ t: 'garbage' }); }
      }
    });
  }
  echoes(i: number): number { return this.events.filter((e) => e.t === 'echo' && e.i === i).length; }
  /** The local port of each connection, by index. */
  ports(): Map<number, number> {
    return new Map(this.events.filter((e) => e.t === 'connected').map((e) => [e.i!, e.port!]));
  }
  failures(of: number[]): Event[] {
    return this.events.filter((e) => (e.t === 'error' || e.t === 'mismatch' || e.t === 'closed' || e.t === 'hard-timeout') && (e.i === undefined || of.includes(e.i)));
  }
  /** Waits until each of `of` has `more` echoes beyond `from`; fails at once on an error of one of them. */
  async progress(what: string, of: number[], from: Map<number, number>, more: number): Promise<void> {
    await waitFor(what, () => {
      assert.deepEqual(this.failures(of), [], `${what}: a connection failed (a RST: it reached another server)`);
      return of.every((i) => this.echoes(i) >= (from.get(i) ?? 0) + more);
    }, 30_000, () => of.map((i) => `${i}: ${this.echoes(i)}`).join(', '));
  }
  counts(): Map<number, number> {
    return new Map([...this.ports().keys()].map((i) => [i, this.echoes(i)]));
  }
}

/** Which server holds each client port's established echo connection (ss in every server namespace). */
async function owners(lab: DrLab): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const server of lab.segment.servers) {
    const { stdout } = await lab.exec(server.name, 'ss', ['-Htn', 'state', 'established', `( sport = :${ECHO_PORT} )`]);
    for (const line of stdout.split('\n').filter((l) => l.trim() !== '')) {
      const peer = line.trim().split(/\s+/).at(-1)!;
      out.set(Number(peer.slice(peer.lastIndexOf(':') + 1)), server.name);
    }
  }
  return out;
}

/** The daemon's log lines (pino JSON on stdout) with this message; flow-file lines of one table family (v4 by default). */
function logLines(lab: DrLab, msg: string, family = 4): Record<string, unknown>[] {
  return lab.daemonOutput().stdout.split('\n').filter((l) => l.includes(msg)).map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.family === undefined || l.family === family);
}

/** Entries picked up, summed over the workers' files of one family (one log line each). */
function kept(lab: DrLab, workers: number, family = 4): number {
  const lines = logLines(lab, 'flow table picked up from the last run', family);
  assert.equal(lines.length, workers, lab.daemonOutput().stdout);
  return lines.reduce((sum, l) => sum + Number(l.kept), 0);
}

function activeFlows(stats: unknown): number {
  const services = (stats as { services: { servers: { activeFlows: number | string }[] }[] }).services;
  return services.flatMap((s) => s.servers).reduce((sum, r) => sum + Number(r.activeFlows), 0);
}

/** A lab whose flow files live in a directory of their own on tmpfs, removed afterwards. */
async function withPersistLab(fn: (lab: DrLab, dir: string) => Promise<void>, workers = 1, ipv6 = false): Promise<void> {
  const dir = await mkdtemp('/dev/shm/las-flows-');
  trackPath(dir);
  try {
    await withDrLab({
      servers: 3,
      service: { port: 0, scheduler: 'wrr' },   // every port of the VIP, the echo port included
      ...(ipv6 ? { ipv6: { port: 0, scheduler: 'wrr' } } : {}),   // the same on the v6 VIP ("web6")
      config: { workers, flowTable: { capacity: 4096, persistDirectory: dir } },
    }, (lab) => fn(lab, dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
    untrackPath(dir);
  }
}

async function openConnections(lab: DrLab, vip = lab.vip): Promise<{ clients: EchoClients; all: number[]; before: Map<number, string> }> {
  const child = lab.spawn('client', process.execPath, ['-e', ECHO_CLIENTS, vip, String(ECHO_PORT), String(CONNECTIONS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const clients = new EchoClients(child);
  const all = [...Array(CONNECTIONS).keys()];
  await clients.progress('echoes on every connection', all, new Map(), ECHOES_BETWEEN_STEPS);
  const byPort = await owners(lab);
  const before = new Map<number, string>();
  for (const [i, port] of clients.ports()) before.set(i, byPort.get(port) ?? 'none');
  assert.ok([...before.values()].every((s) => s !== 'none'), `every connection is held by a server: ${JSON.stringify([...before])}`);
  return { clients, all, before };
}

async function assertOwners(lab: DrLab, clients: EchoClients, expected: Map<number, string>, what: string): Promise<void> {
  const byPort = await owners(lab);
  for (const [i, server] of expected) assert.equal(byPort.get(clients.ports().get(i)!), server, `${what}: connection ${i} stayed on ${server}`);
}

test('wrr over two workers, a weight change, then a restart and a kill -9: every established connection stays on its server', TEST_OPTIONS, async (t) => {
  await withPersistLab(async (lab) => {
    const { clients, all, before } = await openConnections(lab);
    try {
      const openedBy = Date.now();   // every flow was created before this
      // wrr with equal weights spreads them over the three servers.
      assert.equal(new Set(before.values()).size, 3, `spread: ${JSON.stringify([...before])}`);

      // Only s3 may take new flows now; s1 and s2 keep theirs from the table.
      const weights = [0, 0, 1];
      await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0], servers: lab.segment.servers.map((s, i) => ({ address: s.address, weight: weights[i] })) }] });
      await lab.admin('reload');
      await clients.progress('echoes after the weight change', all, clients.counts(), ECHOES_BETWEEN_STEPS);
      await assertOwners(lab, clients, before, 'after the weight change');

      await lab.restart();
      assert.equal(kept(lab, 2), CONNECTIONS);
      t.diagnostic(logLines(lab, 'flow table').map((l) => JSON.stringify(l)).join('\n'));
      // `las flows` reads the picked-up tables: each connection on its server, its age counted from
      // its creation by the old daemon (the entries' clock runs on across processes).
      const asked = Date.now();
      const listing = await flows(lab);
      assert.equal(listing.total, CONNECTIONS, JSON.stringify(listing));
      const byPort = new Map([...clients.ports()].map(([i, port]) => [port, i]));
      for (const f of listing.flows) {
        const i = byPort.get(Number(f.client.slice(f.client.lastIndexOf(':') + 1)));
        assert.ok(i !== undefined, `a flow of one of the connections: ${JSON.stringify(f)}`);
        assert.equal(f.server, lab.segment.servers.find((r) => r.name === before.get(i))!.address, JSON.stringify(f));
        assert.ok(f.ageMs >= asked - openedBy - CLOCK_GRAIN_MS, `age ${f.ageMs} ms spans the restart (${asked - openedBy} ms since the flows were open)`);
      }
      assert.equal(activeFlows(await lab.stats()), CONNECTIONS, 'the restored flows count as active at once');
      await clients.progress('echoes after the restart', all, clients.counts(), ECHOES_BETWEEN_STEPS);
      await assertOwners(lab, clients, before, 'after the restart');

      const exit = await lab.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      await lab.startDaemon();
      assert.equal(kept(lab, 2), CONNECTIONS);
      await clients.progress('echoes after kill -9 and a start', all, clients.counts(), ECHOES_BETWEEN_STEPS);
      await assertOwners(lab, clients, before, 'after kill -9');
    } finally {
      clients.child.kill('SIGKILL');
    }
  }, 2);   // two workers: each flow is picked up by the worker the fanout gives it
});

test('a restart without a server drops only its flows; a flow file of another layout or worker count starts empty, saying why', TEST_OPTIONS, async () => {
  await withPersistLab(async (lab, dir) => {
    const { clients, all, before } = await openConnections(lab);
    try {
      const gone = lab.segment.servers[0]!;
      const staying = all.filter((i) => before.get(i) !== gone.name);
      const leaving = all.length - staying.length;
      assert.ok(leaving > 0 && staying.length > 0, `spread: ${JSON.stringify([...before])}`);

      await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0], servers: lab.segment.servers.slice(1).map((s) => ({ address: s.address })) }] });
      await lab.restart();
      const picked = logLines(lab, 'flow table picked up from the last run')[0];
      assert.deepEqual({ kept: picked?.kept, refused: picked?.refused }, { kept: staying.length, refused: leaving }, lab.daemonOutput().stdout);
      await clients.progress('echoes of the remaining servers\' connections', staying, clients.counts(), ECHOES_BETWEEN_STEPS);
      await assertOwners(lab, clients, new Map(staying.map((i) => [i, before.get(i)!])), 'after the restart without s1');

      // The client's link goes down: its connections and their entries stay, and not one frame (a
      // retransmission, a delayed ACK) can make an entry in the next daemon's table.
      await lab.setLink('client', false);
      await lab.daemon().stop(10_000);
      const file = join(dir, `flows.${lab.segment.dispatcher.ifname}.0`);
      const bytes = await readFile(file);
      const at = bytes.subarray(0, 4096).indexOf('src@0:4');
      assert.ok(at > 0, 'the header records the entry layout');
      bytes.write('src@0:8', at);   // as a build with 8-byte addresses would have written it
      await writeFile(file, bytes);

      await lab.startDaemon();
      const empty = logLines(lab, 'flow table starts empty');
      assert.equal(empty.length, 1, lab.daemonOutput().stdout);
      assert.match(String(empty[0]!.reason), /^entry layout "bytes=32 src@0:8 .*", this build's is "bytes=32 src@0:4 /);
      assert.equal(activeFlows(await lab.stats()), 0, 'nothing picked up from the file');

      // Another worker count: the fanout would hand the flows to other workers, so it starts empty too.
      await lab.writeConfig({ ...lab.config, workers: 2 });
      await lab.restart();
      const reasons = logLines(lab, 'flow table').map((l) => [l.worker, l.reason ?? l.msg]);
      assert.deepEqual(reasons, [[0, 'written by 1 workers, now 2'], [1, 'flow table file created: the next start picks its flows up']], lab.daemonOutput().stdout);
    } finally {
      clients.child.kill('SIGKILL');
    }
  });
});

// The slots start 2 MiB into the file (native/io/flow_file.cc), FLOW_ENTRY_BYTES each.
const ENTRIES_OFFSET = 2 << 20;

test('a half-written entry and a duplicate left by a kill -9 are dropped at start; every other flow keeps its server', TEST_OPTIONS, async () => {
  await withPersistLab(async (lab, dir) => {
    const { clients, all, before } = await openConnections(lab);
    try {
      // The client's link goes down until the new daemon is counted: nothing but the restored entries
      // can be in its table.
      await lab.setLink('client', false);
      const exit = await lab.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      const file = join(dir, `flows.${lab.segment.dispatcher.ifname}.0`);
      const bytes = await readFile(file);
      const used = (slot: number) => bytes[ENTRIES_OFFSET + slot * FLOW_ENTRY_BYTES + FLOW_ENTRY_LAYOUT.used] === 1;
      const slots = (bytes.length - ENTRIES_OFFSET) / FLOW_ENTRY_BYTES;
      const entries = [...Array(slots).keys()].filter(used);
      assert.equal(entries.length, CONNECTIONS, 'one entry per connection in the file');
      const at = (slot: number) => ENTRIES_OFFSET + slot * FLOW_ENTRY_BYTES;
      const clientPort = (slot: number) => bytes.readUInt16LE(at(slot) + FLOW_ENTRY_LAYOUT.sport);

      // Torn: the killed process had written another server's address but not yet the check word.
      // Another configured server, so that only the check word can tell.
      const torn = entries[0]!;
      const serverAt = at(torn) + FLOW_ENTRY_LAYOUT.serverAddress;
      const addresses = lab.segment.servers.map((s) => s.address.split('.').reduce((n, b) => n * 256 + Number(b), 0));
      const other = addresses.find((a) => a !== bytes.readUInt32LE(serverAt));
      assert.ok(other !== undefined && addresses.length - 1 === addresses.filter((a) => a !== bytes.readUInt32LE(serverAt)).length, 'the entry names a configured server');
      bytes.writeUInt32LE(other, serverAt);
      // Duplicate: an erase shifted an entry back and was killed before clearing its old slot.
      const copied = entries.find((s) => s !== torn && !used((s + 1) % slots))!;
      bytes.copy(bytes, at((copied + 1) % slots), at(copied), at(copied) + FLOW_ENTRY_BYTES);
      await writeFile(file, bytes);

      await lab.startDaemon();
      const picked = logLines(lab, 'flow table picked up from the last run')[0];
      assert.deepEqual({ kept: picked?.kept, torn: picked?.torn, duplicate: picked?.duplicate, refused: picked?.refused },
        { kept: CONNECTIONS - 1, torn: 1, duplicate: 1, refused: 0 }, lab.daemonOutput().stdout);
      assert.equal(activeFlows(await lab.stats()), CONNECTIONS - 1);

      await lab.setLink('client', true);
      const tornPort = clientPort(torn);
      const intact = all.filter((i) => clients.ports().get(i) !== tornPort);
      assert.equal(intact.length, CONNECTIONS - 1, `the torn entry is one of the connections: port ${tornPort}`);
      await clients.progress('echoes of the intact connections', intact, clients.counts(), ECHOES_BETWEEN_STEPS);
      await assertOwners(lab, clients, new Map(intact.map((i) => [i, before.get(i)!])), 'after the start');
    } finally {
      clients.child.kill('SIGKILL');
    }
  });
});

test('a second daemon on the same flow files refuses to start before it installs anything; the first keeps serving', TEST_OPTIONS, async () => {
  await withPersistLab(async (lab) => {
    const ifname = lab.segment.dispatcher.ifname;
    const dropBefore = (await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', ifname, 'ingress'])).stdout;
    assert.match(dropBefore, /pref 4955/, 'the first daemon installed its ingress drop');
    // Its own admin socket and no metrics listener: only the flow files are shared.
    const secondSocket = join(lab.dir, 'second.sock');
    const configPath = join(lab.dir, 'second.json');
    await writeFile(configPath, JSON.stringify({ ...lab.config, adminSocket: secondSocket, metrics: { enabled: false } }));
    await assert.rejects(startDaemon({ ns: lab.segment.dispatcher.ns, configPath, adminSocket: secondSocket }),
      /flowTable\.persistDirectory: \S+\/flows\.\S+\.0 is in use by another running LAS daemon/);
    assert.equal((await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', ifname, 'ingress'])).stdout, dropBefore, 'the ingress drop is the first daemon\'s, untouched');
    const result = await lab.runClient({ requests: 20, concurrency: 4, timeoutMs: 5000 });
    assert.equal(result.failed, 0, JSON.stringify(result.errors));
  });
});

// The v6 table lives in a file of its own (flows.<interface>.v6.<worker>) with the same checks.
test('over IPv6: wrr over two workers, a weight change, then a restart and a kill -9: every established v6 connection stays on its server', TEST_OPTIONS, async () => {
  await withPersistLab(async (lab) => {
    const { clients, all, before } = await openConnections(lab, lab.vip6!);
    try {
      assert.equal(new Set(before.values()).size, 3, `spread: ${JSON.stringify([...before])}`);
      const weights = [0, 0, 1];
      const services = lab.config.services as { name: string; servers: { address: string }[] }[];
      await lab.writeConfig({ ...lab.config, services: services.map((s) => (s.name !== 'web6' ? s : {
        ...s, servers: lab.segment.servers.map((r, i) => ({ address: r.address6!, weight: weights[i] })),
      })) });
      await lab.admin('reload');
      await clients.progress('echoes after the weight change', all, clients.counts(), ECHOES_BETWEEN_STEPS);
      await assertOwners(lab, clients, before, 'after the weight change');

      await lab.restart();
      assert.equal(kept(lab, 2, 6), CONNECTIONS);
      assert.equal(kept(lab, 2, 4), 0);
      // `las flows` reads the picked-up v6 tables: each connection in v6 text, on its server.
      const listing = await flows(lab, 'web6');
      assert.equal(listing.total, CONNECTIONS, JSON.stringify(listing));
      const byPort = new Map([...clients.ports()].map(([i, port]) => [port, i]));
      for (const f of listing.flows) {
        assert.match(f.client, /^\[fd77::[0-9a-f:]+\]:\d+$/);
        const i = byPort.get(Number(f.client.slice(f.client.lastIndexOf(':') + 1)));
        assert.ok(i !== undefined, `a flow of one of the connections: ${JSON.stringify(f)}`);
        assert.equal(f.server, lab.segment.servers.find((r) => r.name === before.get(i))!.address6, JSON.stringify(f));
      }
      await clients.progress('echoes after the restart', all, clients.counts(), ECHOES_BETWEEN_STEPS);
      await assertOwners(lab, clients, before, 'after the restart');

      const exit = await lab.kill('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      await lab.startDaemon();
      assert.equal(kept(lab, 2, 6), CONNECTIONS);
      await clients.progress('echoes after kill -9 and a start', all, clients.counts(), ECHOES_BETWEEN_STEPS);
      await assertOwners(lab, clients, before, 'after kill -9');
    } finally {
      clients.child.kill('SIGKILL');
    }
  }, 2, true);
});
