// A daemon restart must not break established connections: the new daemon has an empty flow table,
// so the next packet of a running connection (an ACK, not a SYN) is scheduled afresh, and Maglev
// with the same servers and weights must pick the same server. A different server would answer
// the unknown connection with a RST.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { ECHO_PORT, withDrLab, type DrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 90_000, skip: needsRoot('network namespaces') };
const ECHOES_AFTER_READY = 10;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs in the client namespace. Sends "<n>\n" every 100 ms on one connection and checks that each
// line comes back in order. Events on stdout, one JSON object a line. "stop" on stdin: stop sending,
// wait (bounded) for the outstanding echoes, report, close. Bounded as a whole by a hard timeout.
const ECHO_CLIENT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
let sent = 0, received = 0, mismatches = 0, buffered = '', sender;
setTimeout(() => { emit({ t: 'error', code: 'hard-timeout', sent, received }); process.exit(3); }, 80000).unref();
const socket = net.connect({ host, port: Number(port) });
socket.setNoDelay(true);
socket.setEncoding('utf8');
socket.on('connect', () => {
  emit({ t: 'connected', local: socket.localAddress + ':' + socket.localPort });
  sender = setInterval(() => { socket.write(sent + '\\n'); sent++; }, 100);
});
socket.on('data', (chunk) => {
  buffered += chunk;
  let i;
  while ((i = buffered.indexOf('\\n')) >= 0) {
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    if (line !== String(received)) mismatches++;
    received++;
    emit({ t: 'echo', n: received, line });
  }
});
socket.on('error', (e) => { emit({ t: 'error', code: e.code || e.message, sent, received }); process.exit(1); });
socket.on('close', () => emit({ t: 'closed', sent, received }));
let input = '';
process.stdin.setEncoding('utf8').on('data', (d) => {
  input += d;
  if (!input.includes('stop')) return;
  clearInterval(sender);
  const started = Date.now();
  const finish = () => {
    if (received < sent && Date.now() - started < 10000) return void setTimeout(finish, 50);
    emit({ t: 'done', sent, received, mismatches });
    socket.end();
    setTimeout(() => process.exit(0), 200);
  };
  finish();
});
`;

interface EchoEvent { t: string; n?: number; code?: string; sent?: number; received?: number; mismatches?: number; local?: string }

class EchoClient {
  readonly events: EchoEvent[] = [];
  private stderr = '';
  constructor(readonly child: ChildProcess) {
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let i: number;
      while ((i = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        try { this.events.push(JSON.parse(line) as EchoEvent); } catch { this.stderr += `(stdout) ${line}\n`; }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk; });
  }
  echoes(): number { return this.events.filter((e) => e.t === 'echo').length; }
  error(): EchoEvent | undefined { return this.events.find((e) => e.t === 'error'); }
  describe(): string {
    const tail = this.events.filter((e) => e.t !== 'echo');
    return `echoes ${this.echoes()}, events ${JSON.stringify(tail)}${this.stderr ? `, stderr ${this.stderr.trim()}` : ''}`;
  }
  /** Waits (bounded) until `test` holds; fails at once on an error event (ECONNRESET = a RST reached the client). */
  async until(what: string, test: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (test()) return;
      const error = this.error();
      assert.equal(error, undefined, `${what}: the connection failed: ${this.describe()}`);
      assert.ok(this.child.exitCode === null, `${what}: the echo client exited (${this.child.exitCode}): ${this.describe()}`);
      assert.ok(Date.now() < deadline, `${what}: not within ${timeoutMs} ms: ${this.describe()}`);
      await sleep(50);
    }
  }
}

/** Servers that hold an established connection on the echo port (ss in each server namespace). */
async function serversHoldingEcho(lab: DrLab): Promise<string[]> {
  const holders: string[] = [];
  for (const server of lab.segment.servers) {
    const { stdout } = await lab.exec(server.name, 'ss', ['-Htn', 'state', 'established', `( sport = :${ECHO_PORT} )`]);
    if (stdout.trim().length > 0) holders.push(server.name);
  }
  return holders;
}

async function packetsByServer(lab: DrLab): Promise<Map<string, number>> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.services), `stats: ${JSON.stringify(stats)}`);
  const out = new Map<string, number>();
  for (const service of stats.services.filter(isObject)) {
    for (const server of (Array.isArray(service.servers) ? service.servers : []).filter(isObject)) {
      out.set(String(server.address), (out.get(String(server.address)) ?? 0) + num(server.packets));
    }
  }
  return out;
}

async function connectionSurvives(how: 'SIGTERM' | 'SIGKILL', ipv6 = false): Promise<void> {
  // Port 0: the service takes every port of the VIP, the echo port included. ipv6: the dual-stack
  // lab, the connection goes to its v6 VIP (service "web6").
  await withDrLab({ servers: 3, service: { port: 0 }, ...(ipv6 ? { ipv6: { port: 0 } } : {}) }, async (lab) => {
    const vip = ipv6 ? lab.vip6! : lab.vip;
    const child = lab.spawn('client', process.execPath, ['-e', ECHO_CLIENT, vip, String(ECHO_PORT)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const client = new EchoClient(child);
    try {
      await client.until('5 echoes before the restart', () => client.echoes() >= 5, 15_000);
      const before = await serversHoldingEcho(lab);
      assert.equal(before.length, 1, `exactly one server holds the connection: ${before.join(', ')}`);
      const owner = lab.segment.servers.find((s) => s.name === before[0])!;
      const address = (server: typeof owner) => (ipv6 ? server.address6! : server.address);

      if (how === 'SIGTERM') {
        const old = lab.daemon();
        await lab.restart();   // SIGTERM (bounded, SIGKILL after 10 s), then a fresh `las run`
        const exit = await old.exited;
        assert.deepEqual(exit, { code: 0, signal: null }, `the old daemon stopped cleanly on SIGTERM: ${old.output().stderr}`);
      } else {
        const exit = await lab.kill('SIGKILL');
        assert.equal(exit.signal, 'SIGKILL');
        await lab.startDaemon();
      }
      const atReady = client.echoes();
      await client.until(`${ECHOES_AFTER_READY} echoes after the new daemon is ready`, () => client.echoes() >= atReady + ECHOES_AFTER_READY, 30_000);

      // The same server still holds it (checked before the client closes it).
      assert.deepEqual(await serversHoldingEcho(lab), [owner.name], 'the connection stayed on its server');

      child.stdin?.write('stop\n');
      await client.until('the final report', () => client.events.some((e) => e.t === 'done'), 15_000);
      const done = client.events.find((e) => e.t === 'done')!;
      assert.equal(client.error(), undefined, client.describe());
      assert.equal(done.mismatches, 0, `echoes out of order or altered: ${client.describe()}`);
      assert.equal(done.received, done.sent, `every line sent was echoed (none lost): ${client.describe()}`);
      assert.ok((done.sent ?? 0) >= atReady + ECHOES_AFTER_READY, client.describe());

      // The new daemon sent the connection's packets to its server only.

      const packets = await packetsByServer(lab);
      // (Segments, not lines: lines queued during the gap travel together in a retransmission.)
      assert.ok((packets.get(address(owner)) ?? 0) > 0, `new daemon forwarded to ${owner.name}: ${JSON.stringify([...packets])}`);
      for (const other of lab.segment.servers.filter((s) => s !== owner)) {
        assert.equal(packets.get(address(other)) ?? 0, 0, `the new daemon sent packets of the connection to ${other.name}: ${JSON.stringify([...packets])}`);
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
}

test('an established connection keeps working across a daemon restart (SIGTERM, start again): same server, nothing lost, no RST', TEST_OPTIONS, async () => {
  await connectionSurvives('SIGTERM');
});

test('an established connection keeps working across kill -9 and a fresh start: same server, nothing lost, no RST', TEST_OPTIONS, async () => {
  await connectionSurvives('SIGKILL');
});

test('over IPv6: an established connection to the v6 VIP keeps working across a daemon restart: same server, nothing lost, no RST', TEST_OPTIONS, async () => {
  await connectionSurvives('SIGTERM', true);
});
