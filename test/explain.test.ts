// `las explain`: the running daemon and the config alone give the same answer for a new flow, over
// hundreds of random tuples, also after a weight change (reload), with a drained server and with a
// server down by its health check (no new flow, real or explained, goes to it); a real
// connection through the lab shows as a flow-table hit on the worker that holds it, with its server.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { loadConfigFile } from '../src/config/load.js';
import type { LasConfig } from '../src/config/types.js';
import { explainOffline, type Explained } from '../src/control/explain.js';
import { loadAddon, type ExplainTuple } from '../src/native/binding.js';
import { ECHO_PORT, withDrLab, type DrLab } from './support/dr-lab.js';
import { flows, las, lasOk, waitFor, type ServiceRow } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const TUPLES = 400;
const WRR_PORT = 8080;

/** mulberry32: the same tuples on every run, so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mostly TCP to the VIP's two services (maglev on the echo port, wrr), others to no service, some UDP, some not to the VIP. */
function randomTuples(vip: string, n: number, seed: number): ExplainTuple[] {
  const r = random(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  return Array.from({ length: n }, () => {
    const client = `${int(0, 1) ? '198.51.100' : '203.0.113'}.${int(1, 254)}`;
    const pick = r();
    const port = pick < 0.4 ? ECHO_PORT : pick < 0.7 ? WRR_PORT : int(1, 65535);
    const other = r() < 0.1;
    return { protocol: r() < 0.1 ? 'udp' : 'tcp', client, clientPort: int(1024, 65535), vip: other ? `10.${int(1, 250)}.0.1` : vip, port };
  });
}

/** What must agree between the daemon and the offline answer for a flow without an entry. */
const choice = (x: Explained) => ({
  verdict: x.verdict, service: x.service?.name ?? null, worker: x.worker, server: x.server?.address ?? null,
  newFlowServer: x.newFlow?.server?.address ?? null, position: x.newFlow?.position ?? null, tableSize: x.newFlow?.tableSize ?? null,
});

async function configOf(lab: DrLab): Promise<LasConfig> {
  const result = await loadConfigFile(lab.configPath);
  assert.ok(result.ok, `the lab config loads: ${JSON.stringify(result)}`);
  return result.config;
}

async function daemonAnswers(lab: DrLab, tuples: ExplainTuple[]): Promise<Explained[]> {
  const result = (await lab.admin('explain', { tuples }, 15_000)) as { explanations: Explained[] };
  assert.equal(result.explanations.length, tuples.length);
  return result.explanations;
}

/** Daemon and config agree on every tuple; returns the daemon's answers. */
async function assertSameAsOffline(lab: DrLab, tuples: ExplainTuple[], down: string[], when: string): Promise<Explained[]> {
  const live = await daemonAnswers(lab, tuples);
  const offline = explainOffline(loadAddon(), await configOf(lab), tuples, down);
  const differ = tuples.map((t, i) => ({ t, live: choice(live[i]!), offline: choice(offline[i]!) }))
    .filter((d) => JSON.stringify(d.live) !== JSON.stringify(d.offline));
  assert.equal(differ.length, 0, `${when}: ${differ.length} of ${tuples.length} tuples differ, e.g. ${JSON.stringify(differ.slice(0, 3))}`);
  for (const x of live) assert.equal(x.mode, 'daemon');
  // Every kind of answer was exercised, not only one.
  const verdicts = new Set(live.map((x) => x.verdict));
  for (const v of ['new-flow', 'no-service', 'not-vip']) assert.ok(verdicts.has(v as Explained['verdict']), `${when}: some tuple is ${v}: ${[...verdicts].join(', ')}`);
  assert.ok(new Set(live.map((x) => x.worker).filter((w) => w !== null)).size === 2, `${when}: tuples of both workers`);
  return live;
}

/**
 * A TCP connection from the client to VIP:port that stays open until stdin closes (bounded by a hard
 * timeout), sending a line every 50 ms: the I/O thread that owns it is busy with blocks while later
 * questions are asked.
 */
const HOLD_CLIENT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
setTimeout(() => process.exit(3), 120000).unref();
const socket = net.connect({ host, port: Number(port) }, () => {
  socket.write('hello\\n');
  process.stdout.write(JSON.stringify({ local: socket.localAddress, port: socket.localPort }) + '\\n');
  setInterval(() => socket.write('tick\\n'), 50);
});
socket.on('data', () => {});
socket.on('error', (e) => { process.stdout.write(JSON.stringify({ error: e.code || e.message }) + '\\n'); process.exit(1); });
process.stdin.on('end', () => { socket.end(); setTimeout(() => process.exit(0), 200); }).resume();
`;

async function holdConnection(lab: DrLab): Promise<{ child: ChildProcess; local: string; port: number }> {
  const child = lab.spawn('client', process.execPath, ['-e', HOLD_CLIENT, lab.vip, String(ECHO_PORT)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  await waitFor('the client connected', () => out.includes('\n'), 15_000, () => out);
  const line = JSON.parse(out.split('\n')[0]!) as { local?: string; port?: number; error?: string };
  assert.equal(line.error, undefined, `the client's connection: ${out}`);
  return { child, local: line.local!, port: line.port! };
}

describe('las explain', { timeout: 180_000, skip: needsRoot('network namespaces') }, () => {
  it('daemon and config agree over random tuples, after a weight change, a drain and a health-check down; a live connection is a table hit on its worker', async () => {
    await withDrLab({ servers: 3, service: { port: ECHO_PORT, weights: [1, 2, 3] }, httpPort: 80, config: { workers: 2 } }, async (lab) => {
      const [s1, s2, s3] = lab.segment.servers.map((s) => s.address) as [string, string, string];
      // A second service by reload: wrr on another port beside the maglev one.
      const withWrr = (weights: number[]) => ({
        ...lab.config,
        services: [
          { ...lab.config.services[0], servers: [s1, s2, s3].map((address, i) => ({ address, weight: weights[i] })) },
          { name: 'wrr', vip: lab.vip, port: WRR_PORT, scheduler: 'wrr', servers: [s1, s2, s3].map((address, i) => ({ address, weight: weights[i] })) },
        ],
      });
      await lab.writeConfig(withWrr([1, 2, 3]));
      await lasOk(lab, ['reload']);
      const tuples = randomTuples(lab.vip, TUPLES, 12);
      const first = await assertSameAsOffline(lab, tuples, [], 'at start');
      assert.ok(first.some((x) => x.newFlow?.scheduler === 'wrr' && x.verdict === 'new-flow'), 'some tuple reaches the wrr service');

      // A real connection: a flow-table hit on the worker `las flows` shows it on, with the server that holds it.
      const held = await holdConnection(lab);
      try {
        const tuple: ExplainTuple = { protocol: 'tcp', client: held.local, clientPort: held.port, vip: lab.vip, port: ECHO_PORT };
        const client = `${held.local}:${held.port}`;
        let row: Awaited<ReturnType<typeof flows>>['flows'][number] | undefined;
        await waitFor('the connection is ESTABLISHED in the flow table', async () => {
          row = (await flows(lab)).flows.find((f) => f.client === client);
          return row?.state === 'ESTABLISHED';
        }, 15_000, () => row);
        const [hit] = await daemonAnswers(lab, [tuple]);
        assert.equal(hit!.verdict, 'flow-table', JSON.stringify(hit));
        assert.equal(hit!.worker, (row as unknown as { worker: number }).worker, 'the worker that holds the entry');
        assert.equal(hit!.server?.address, row!.server, 'the entry\'s server');
        assert.equal(hit!.entry?.state, 'ESTABLISHED');
        const holder = await serverHolding(lab, held.local, held.port);
        assert.equal(holder, hit!.server?.address, 'the server that holds the TCP connection');
        // The offline answer for the same tuple is the scheduler's choice the entry was made with.
        const [offline] = explainOffline(loadAddon(), await configOf(lab), [tuple], []);
        assert.equal(offline!.worker, hit!.worker);
        assert.equal(offline!.server?.address, hit!.server?.address);
        const text = await lasOk(lab, ['explain', 'tcp', client, `${lab.vip}:${ECHO_PORT}`]);
        assert.match(text, new RegExp(`flow-table hit on worker ${hit!.worker}: ESTABLISHED`));

        // A weight change by reload: both answers follow, and some choices moved.
        await lab.writeConfig(withWrr([3, 1, 1]));
        await lasOk(lab, ['reload']);
        const reweighted = await assertSameAsOffline(lab, tuples, [], 'after a weight change');
        const moved = reweighted.filter((x, i) => x.server?.address !== first[i]!.server?.address).length;
        assert.ok(moved > 0, 'the weight change moved some new flows');
        const [still] = await daemonAnswers(lab, [tuple]);
        assert.equal(still!.verdict, 'flow-table', 'the live connection keeps its entry across the reload');

        // A drained server: the daemon's answers equal the config's with that server down.
        await lasOk(lab, ['server', 'drain', 'web', s1]);
        await lasOk(lab, ['server', 'drain', 'wrr', s1]);
        const drained = await assertSameAsOffline(lab, tuples, [s1], `with ${s1} drained`);
        assert.ok(drained.every((x) => x.newFlow?.server?.address !== s1), `no new flow goes to the drained ${s1}`);
        const [kept] = await daemonAnswers(lab, [tuple]);
        assert.deepEqual([kept!.verdict, kept!.server?.address], ['flow-table', hit!.server?.address], 'a drained server keeps its flows: still the entry\'s server');
        const cli = await las(['explain', 'tcp', '198.51.100.7:40112', `${lab.vip}:${ECHO_PORT}`, '-c', lab.configPath, '--offline', '--down', s1, '--down', s2, '--down', s3]);
        assert.equal(cli.code, 2, `no server up and no sorry server: exit 2\n${cli.stdout}${cli.stderr}`);
        assert.match(cli.stdout, /dropped, counted as no_server/);
      } finally {
        held.child.stdin?.end();
        if (held.child.exitCode === null) held.child.kill('SIGKILL');
      }

      // A server down by its health check: the reload with a TCP check also ends the drains (runtime
      // overrides last until the next reload); once s2's servers stop, the checks mark it down.
      const check = { type: 'tcp', port: ECHO_PORT, interval: 0.5, timeout: 0.4, rise: 1, fall: 2 };
      const checked = withWrr([3, 1, 1]);
      await lab.writeConfig({ ...checked, services: checked.services.map((service) => ({ ...service, healthCheck: check })) });
      await lasOk(lab, ['reload']);
      const healthOf = async (address: string) => {
        const shown = JSON.parse(await lasOk(lab, ['status', '--json'])) as { services: ServiceRow[] };
        return shown.services.map((service) => ({ service: service.name, ...service.servers.find((row) => row.address === address) }));
      };
      await waitFor('every server up, without override', async () => {
        const rows = (await Promise.all([s1, s2, s3].map(healthOf))).flat();
        return rows.length === 6 && rows.every((row) => row.health === 'up' && row.override === undefined);
      }, 15_000, () => Promise.all([s1, s2, s3].map(healthOf)));
      const up = await assertSameAsOffline(lab, tuples, [], 'with health checks, all up');
      assert.ok(up.some((x) => x.newFlow?.server?.address === s2), `${s2} gets new flows while it is up`);
      await lab.stopServer('s2');
      await waitFor(`${s2} down by its health check in both services`, async () => (await healthOf(s2)).every((row) => row.health === 'down'), 15_000, () => healthOf(s2));
      const down = await assertSameAsOffline(lab, tuples, [s2], `with ${s2} down by its health check`);
      assert.ok(down.every((x) => x.newFlow?.server?.address !== s2), `no new flow goes to the down ${s2}`);
      // Real connections made now: each is answered, and none has an entry to s2.
      const made = await connectMany(lab, 20);
      const table = (await flows(lab)).flows;
      for (const client of made) {
        const row = table.find((f) => f.client === client);
        assert.ok(row, `the connection from ${client} has a flow entry`);
        assert.notEqual(row.server, s2, `the new flow from ${client} went to the down ${s2}`);
      }
    });
  });
});

/** The server whose namespace holds the client's established TCP connection (ss). */
async function serverHolding(lab: DrLab, client: string, port: number): Promise<string | undefined> {
  for (const server of lab.segment.servers) {
    const { stdout } = await lab.exec(server.name, 'ss', ['-Htn', 'state', 'established', `( dst = ${client} and dport = :${port} )`]);
    if (stdout.trim().length > 0) return server.address;
  }
  return undefined;
}

/** Opens n TCP connections to VIP:echo port one after another, each answered by its echo; their client address:port. */
const CONNECT_MANY = `
const net = require('node:net');
const [host, port, n] = process.argv.slice(1);
setTimeout(() => process.exit(3), 30000).unref();
const ports = [];
const one = () => new Promise((resolve, reject) => {
  const socket = net.connect({ host, port: Number(port) }, () => socket.write('hello\\n'));
  socket.setTimeout(5000, () => reject(new Error('no echo within 5 s')));
  socket.once('data', () => { ports.push(socket.localAddress + ':' + socket.localPort); socket.end(); resolve(); });
  socket.on('error', reject);
});
(async () => { for (let i = 0; i < Number(n); i++) await one(); })()
  .then(() => { process.stdout.write(JSON.stringify(ports)); process.exit(0); })
  .catch((e) => { process.stdout.write(JSON.stringify({ error: e.code || e.message, ports })); process.exit(1); });
`;

async function connectMany(lab: DrLab, n: number): Promise<string[]> {
  const { stdout } = await lab.exec('client', process.execPath, ['-e', CONNECT_MANY, lab.vip, String(ECHO_PORT), String(n)]);
  const clients = JSON.parse(stdout) as string[];
  assert.ok(Array.isArray(clients) && clients.length === n, `${n} connections answered: ${stdout}`);
  return clients;
}
