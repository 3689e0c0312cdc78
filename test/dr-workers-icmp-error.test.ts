// An ICMP "fragmentation needed" from a router on the segment, about a packet a real server sent from
// the VIP, must reach the server that owns the quoted connection, also with two workers: the
// dispatcher has to hand the ICMP frame (router → VIP) to the worker whose shard holds the flow it
// quotes, which a hash over the ICMP frame's own addresses does not do. The quoted packet runs
// server → client, so the flow is found with its addresses (and ports) the other way round: for
// flowKey "5tuple" the quoted connection, for "addresses" the quoted client address. Both are tested.
//
// The scheduler is rr, which keeps no state outside the flow table: a worker without the flow cannot
// name the owner and drops the error (icmp_no_flow). Maglev would recompute the same server anywhere
// and hide a misdirected frame.
//
// Proof that the owner got it: the owner's kernel counts it (Icmp InDestUnreachs in /proc/net/snmp)
// and applies it: the quoted sequence number is the connection's exact send sequence (learned from
// the SYN-ACK the client received, plus the bytes echoed), so the owner's TCP accepts the error and
// its route to that client shows the new path MTU. No other server counts an ICMP error.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import type { FlowKey } from '../src/native/binding.js';
import { exited, OutputTail, stopProcess, waitUntil } from '../src/demo/processes.js';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { sendFramesInNs } from './support/flood.js';
import {
  ETH_IPV4, ICMP_DEST_UNREACHABLE, ICMP_FRAG_NEEDED, PROTO_ICMP, PROTO_TCP, TCP_ACK, TCP_SYN, frameOffsets, icmp, ipFrame, ipv4,
} from './support/frames.js';
import { attachRouter, type RouterHost } from './support/router-host.js';
import type { HeldConnections } from './support/tcp-hold-child.js';
import { assertNoWrongWorker, describeWorkers, statsView } from './support/worker-stats.js';
import { needsRoot } from './support/needs-root.js';

const ECHO_PORT = 7000;
const CONNECTIONS = 6;        // one per client source address: each gets its own path MTU
const ECHO_BYTES = 64;
const BENCH_CHILD = fileURLToPath(new URL('./support/bench-tools-child.js', import.meta.url));
const HOLD_CHILD = fileURLToPath(new URL('./support/tcp-hold-child.js', import.meta.url));

/** A child that answers with JSON lines on stdout; the function returned waits (bounded) for the next one. */
function jsonLines(child: ChildProcess, what: string) {
  const lines: unknown[] = [];
  const stderr = new OutputTail(16 * 1024);
  let buffer = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) lines.push(JSON.parse(line));
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  let read = 0;
  return async (timeoutMs: number): Promise<Record<string, unknown>> => {
    await waitUntil(what, () => lines.length > read, timeoutMs, () =>
      child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode}): ${String(stderr).trim()}` : undefined);
    return lines[read++] as Record<string, unknown>;
  };
}

/** Counters of a server's kernel: "Icmp InDestUnreachs", "TcpExt OutOfWindowIcmps", ... */
async function kernelCounters(lab: DrLab, role: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const file of ['/proc/net/snmp', '/proc/net/netstat']) {
    const lines = (await lab.exec(role, 'cat', [file])).stdout.trim().split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = (lines[i] as string).split(/\s+/);
      const values = (lines[i + 1] as string).split(/\s+/);
      const group = (names[0] ?? '').replace(/:$/, '');
      names.slice(1).forEach((name, k) => out.set(`${group} ${name}`, Number(values[k + 1])));
    }
  }
  return out;
}

/** The server's TCP connections to VIP:port: "client:port" keys. `ss` in its namespace is the ground truth. */
async function establishedOn(lab: DrLab, role: string, port: number): Promise<string[]> {
  const { stdout } = await lab.exec(role, 'ss', ['-Htn', 'state', 'established', `( sport = :${port} )`]);
  return stdout.split('\n').map((line) => line.trim().split(/\s+/)).filter((cols) => cols.length >= 4).map((cols) => cols[3] as string);
}

/** The path MTU the server's route cache holds for a destination, if any (`ip route get` shows "mtu N" for an exception). */
async function cachedMtu(lab: DrLab, role: string, destination: string): Promise<number | undefined> {
  const { stdout } = await lab.exec(role, 'ip', ['route', 'get', destination, 'from', lab.vip]);
  const match = /\bmtu (\d+)/.exec(stdout);
  return match ? Number(match[1]) : undefined;
}

/** SYN-ACKs from VIP:port among captured frames: "client:port" -> the server's initial sequence number. */
function synAcks(frames: Buffer[], vip: string, port: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const frame of frames) {
    if (frame.length < 54) continue;
    const { l3, l4, ethertype } = frameOffsets(frame);
    if (ethertype !== ETH_IPV4 || frame[l3 + 9] !== PROTO_TCP) continue;
    const src = Array.from(frame.subarray(l3 + 12, l3 + 16)).join('.');
    const dst = Array.from(frame.subarray(l3 + 16, l3 + 20)).join('.');
    if (src !== vip || frame.readUInt16BE(l4) !== port || ((frame[l4 + 13] as number) & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK)) continue;
    out.set(`${dst}:${frame.readUInt16BE(l4 + 2)}`, frame.readUInt32BE(l4 + 4));
  }
  return out;
}

async function restartWith(lab: DrLab, flowKey: FlowKey): Promise<void> {
  const [service] = lab.config.services;
  assert.ok(service);
  await lab.writeConfig({ ...lab.config, workers: 2, services: [{ ...service, flowKey, scheduler: 'rr' }] });
  await lab.restart();
}

/**
 * Opens one echo connection per client source, learns each one's owner and send sequence, has the
 * router send one fragmentation-needed per connection, and checks that exactly the owners got and
 * applied them. `firstMtu` must be below any MTU an earlier round taught (a route only lowers its PMTU).
 */
async function round(t: TestContext, lab: DrLab, router: RouterHost, vipMac: string, firstMtu: number, tag: string): Promise<void> {
  const children: ChildProcess[] = [];
  try {
    // Capture what the client receives while the connections open: their SYN-ACKs carry the servers' ISNs.
    const sink = lab.spawn('client', process.execPath, [BENCH_CHILD, 'sink', lab.segment.client.ifname, '256'], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(sink);
    const sinkLine = jsonLines(sink, 'client capture');
    assert.deepEqual(await sinkLine(10_000), { ready: true });

    const hold = lab.spawn('client', process.execPath, [
      HOLD_CHILD, '--vip', lab.vip, '--port', String(ECHO_PORT), '--sources', lab.segment.client.sources.join(','),
      '--bytes', String(ECHO_BYTES), '--hold-ms', '100000',
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(hold);
    const held = (await jsonLines(hold, 'echo connections')(15_000)) as unknown as HeldConnections;
    assert.equal(held.connections.length, CONNECTIONS);

    sink.stdin?.write(`${JSON.stringify({ expect: 1 })}\n`);
    const captured = await sinkLine(10_000);
    const frames = (captured.frames as string[]).map((hex) => Buffer.from(hex, 'hex'));
    const isn = synAcks(frames, lab.vip, ECHO_PORT);

    // Who owns each connection, from the servers themselves.
    const owner = new Map<string, string>();
    for (const server of lab.segment.servers) {
      for (const peer of await establishedOn(lab, server.name, ECHO_PORT)) owner.set(peer, server.name);
    }
    const connections = held.connections.map((c, i) => {
      const key = `${c.source}:${c.localPort}`;
      const serverIsn = isn.get(key);
      const name = owner.get(key);
      assert.ok(serverIsn !== undefined, `${tag}: no SYN-ACK captured for ${key} (${frames.length} frames)`);
      assert.ok(name, `${tag}: no server has ${key} established: ${JSON.stringify([...owner])}`);
      return { ...c, key, owner: name, seq: (serverIsn + 1 + ECHO_BYTES) >>> 0, mtu: firstMtu - 8 * i };
    });
    const owners = new Set(connections.map((c) => c.owner));
    t.diagnostic(`${tag}: ${connections.map((c) => `${c.key}→${c.owner}`).join(', ')}`);
    // rr gives each worker's new flows to s1, s2, s3 in turn: 6 connections always use 2+ servers.
    assert.ok(owners.size >= 2, `${tag}: every connection on ${[...owners].join(', ')}: the test would not tell servers apart`);

    const names = lab.segment.servers.map((s) => s.name);
    const before = new Map(await Promise.all(names.map(async (n) => [n, await kernelCounters(lab, n)] as const)));
    for (const c of connections) {
      for (const n of names) {
        const mtu = await cachedMtu(lab, n, c.source);
        assert.ok(mtu === undefined || mtu > c.mtu, `${tag}: ${n} already has path MTU ${mtu} for ${c.source}`);
      }
    }

    // The router's error: to the VIP, quoting the server's packet VIP:7000 → client:port at its send sequence.
    const errors = connections.map((c) => {
      const quotedL4 = Buffer.alloc(8);
      quotedL4.writeUInt16BE(ECHO_PORT, 0);
      quotedL4.writeUInt16BE(c.localPort, 2);
      quotedL4.writeUInt32BE(c.seq, 4);
      const quoted = ipv4({ src: lab.vip, dst: c.source, protocol: PROTO_TCP, totalLength: 1500, dontFragment: true, ttl: 63, id: 0x4321 }, quotedL4);
      const message = icmp({ type: ICMP_DEST_UNREACHABLE, code: ICMP_FRAG_NEEDED, rest: c.mtu, payload: quoted });
      return ipFrame({ dst: vipMac, src: router.mac }, { src: router.address, dst: lab.vip, protocol: PROTO_ICMP, ttl: 64 }, message);
    });
    const sent = await sendFramesInNs(router.ns, router.ifname, errors, lab.dir, { name: `icmp-${tag}.bin`, batch: 1, pauseMs: 20 });
    assert.equal(sent.sent, CONNECTIONS);

    // Wait (bounded) until all of them were counted somewhere, then check where.
    const expected = new Map(names.map((n) => [n, connections.filter((c) => c.owner === n).length]));
    const delta = async (n: string, key: string) => ((await kernelCounters(lab, n)).get(key) ?? 0) - (before.get(n)?.get(key) ?? 0);
    await waitUntil(`${tag}: the servers count ${CONNECTIONS} ICMP errors`, async () => {
      const counts = await Promise.all(names.map((n) => delta(n, 'Icmp InDestUnreachs')));
      return counts.reduce((a, b) => a + b, 0) >= CONNECTIONS;
    }, 5000).catch(async (error: unknown) => {
      const view = await statsView(lab);
      throw new Error(`${String(error)}; per server ${JSON.stringify(await Promise.all(names.map(async (n) => [n, await delta(n, 'Icmp InDestUnreachs')])))}; dispatcher ${describeWorkers(view)}`);
    });
    for (const n of names) {
      assert.equal(await delta(n, 'Icmp InDestUnreachs'), expected.get(n), `${tag}: ${n}: ICMP destination-unreachable received vs connections it owns (${JSON.stringify([...expected])})`);
      assert.equal(await delta(n, 'Icmp InErrors'), 0, `${tag}: ${n}: an ICMP error it could not match to a socket`);
      assert.equal(await delta(n, 'TcpExt OutOfWindowIcmps'), 0, `${tag}: ${n}: an ICMP error with a sequence outside the connection's window`);
    }
    // The owners applied them: each owner's route to its client shows the MTU it was told; nobody else's does.
    for (const c of connections) {
      await waitUntil(`${tag}: ${c.owner} applies path MTU ${c.mtu} to ${c.source}`, async () => (await cachedMtu(lab, c.owner, c.source)) === c.mtu, 5000);
      for (const n of names.filter((n) => n !== c.owner)) {
        const mtu = await cachedMtu(lab, n, c.source);
        assert.ok(mtu === undefined || mtu > c.mtu, `${tag}: ${n} (not the owner of ${c.key}) learned path MTU ${mtu} for ${c.source}`);
      }
    }

    const view = await statsView(lab);
    t.diagnostic(`${tag}: ${describeWorkers(view)}`);
    assertNoWrongWorker(view, tag);
    for (const w of view.workers) assert.equal(w.drops.icmp_no_flow ?? 0, 0, `${tag}: worker ${w.index} dropped ICMP errors it found no flow for (${describeWorkers(view)})`);
  } finally {
    for (const child of children) child.stdin?.end();
    await Promise.allSettled(children.map((child) => Promise.race([exited(child), new Promise((r) => setTimeout(r, 2000))]).then(() => stopProcess(child, 1000))));
  }
}

test('two workers, rr: ICMP fragmentation-needed from a router reaches the server that owns the quoted connection, for flowKey 5tuple and addresses', { timeout: 120_000, skip: needsRoot('network namespaces') }, async (t) => {
  await withDrLab({
    servers: 3, clientAddresses: CONNECTIONS, httpPort: 80, echoPort: ECHO_PORT,
    service: { port: ECHO_PORT }, startDaemon: false,
  }, async (lab) => {
    const router = await attachRouter(lab.segment);
    try {
      await restartWith(lab, '5tuple');
      const vipMac = await router.resolve(lab.vip);
      assert.equal(vipMac, lab.segment.dispatcher.mac.toLowerCase(), 'the router learned the VIP at the dispatcher\'s MAC');
      // Each round opens new connections (the previous round's are closed) and teaches lower MTUs.
      await t.test('flowKey 5tuple: the error follows the quoted connection', (st) => round(st, lab, router, vipMac, 1400, '5tuple'));
      await restartWith(lab, 'addresses');
      await t.test('flowKey addresses: the error follows the quoted client address', (st) => round(st, lab, router, vipMac, 1300, 'addresses'));
    } finally {
      await router.destroy();
    }
  });
});
