// Garbage on the wire must cost the dispatcher nothing but a counter: while real HTTP requests run,
// the client namespace floods the dispatcher's MAC with malformed frames built to pass the VIP socket
// filter (VIP at bytes 30..33) and fail the parser in every way it checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { buildFlood, floodFrame, Rng, sendFramesInNs, type FloodTarget } from './support/flood.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 120_000, skip: needsRoot('network namespaces') };
const FLOOD_FRAMES = 22_000;
const HTTP_REQUESTS = 200;
const OPTION_FRAMES = 200;
const SEED = 0x1a5f00d;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Counters { drops: Record<string, number>; forwarded: number; rx: number; arpReplies: number; ringDrops: number; passed: number }

async function counters(lab: DrLab): Promise<Counters> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.workers) && Array.isArray(stats.services), `stats: ${JSON.stringify(stats)}`);
  const drops: Record<string, number> = {};
  let rx = 0;
  let ringDrops = 0;
  let arpReplies = 0;
  let passed = 0;
  for (const worker of stats.workers.filter(isObject)) {
    rx += num(worker.rxPackets);
    passed += num(worker.passed);
    ringDrops += num(worker.ringDrops);
    arpReplies += num(worker.arpReplies);
    if (isObject(worker.drops)) for (const [reason, count] of Object.entries(worker.drops)) drops[reason] = (drops[reason] ?? 0) + num(count);
  }
  const forwarded = stats.services.filter(isObject).reduce((total, s) => total + num(s.packets), 0);
  return { drops, forwarded, rx, arpReplies, ringDrops, passed };
}

function dropDeltas(before: Counters, after: Counters): Record<string, number> {
  return Object.fromEntries(Object.keys(after.drops).map((r) => [r, (after.drops[r] ?? 0) - (before.drops[r] ?? 0)]).filter(([, d]) => d !== 0));
}

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    assert.ok(Date.now() < deadline, `${what}: not within ${timeoutMs} ms (last ${JSON.stringify(value)})`);
    await sleep(100);
  }
}

/** Counters once they stop moving: every frame that reached the ring has been classified. */
async function settledCounters(lab: DrLab): Promise<Counters> {
  let last = -1;
  return waitFor('the counters to settle', () => counters(lab), (c) => {
    const done = c.rx === last;
    last = c.rx;
    return done;
  }, 20_000);
}

function target(lab: DrLab): FloodTarget {
  return {
    dstMac: lab.segment.dispatcher.mac,
    srcMac: lab.segment.client.mac,
    senderIp: lab.segment.client.address,
    vip: lab.vip,
    port: lab.port,
  };
}

test(`${FLOOD_FRAMES} malformed frames during ${HTTP_REQUESTS} HTTP requests: the daemon survives, every request succeeds, drops are counted by reason`, TEST_OPTIONS, async (t) => {
  // The default service: 5-tuple on port 80, so a first fragment cannot be placed and is dropped.
  await withDrLab({ servers: 3 }, async (lab) => {
    const client = lab.segment.client;

    // 1. Valid IPv4 options are no reason to drop: alone on the wire, each such frame is forwarded.
    const rng = new Rng(SEED ^ 0x0b7);
    const options = Array.from({ length: OPTION_FRAMES }, () => floodFrame('ip_options', target(lab), rng));
    const beforeOptions = await counters(lab);
    const sentOptions = await sendFramesInNs(client.ns, client.ifname, options, lab.dir, { name: 'options.bin' });
    assert.equal(sentOptions.sent, OPTION_FRAMES, JSON.stringify(sentOptions));
    await waitFor('the IPv4-options frames to arrive', () => counters(lab), (c) => c.rx - beforeOptions.rx >= OPTION_FRAMES, 10_000);
    const afterOptions = await settledCounters(lab);
    assert.deepEqual(dropDeltas(beforeOptions, afterOptions), {}, 'frames with valid IPv4 options were dropped');
    assert.equal(afterOptions.rx - beforeOptions.rx, OPTION_FRAMES, 'nothing else reached the ring meanwhile');
    assert.equal(afterOptions.forwarded - beforeOptions.forwarded, OPTION_FRAMES, 'every IPv4-options frame was forwarded');

    // 2. The flood, while real requests run.
    const flood = buildFlood(target(lab), FLOOD_FRAMES, SEED, { random: 4 });
    t.diagnostic(`flood seed ${SEED.toString(16)}: ${JSON.stringify(flood.counts)}`);
    const before = await counters(lab);
    const started = Date.now();
    let floodMs = 0;
    const [http, sent] = await Promise.all([
      lab.runClient({ requests: HTTP_REQUESTS, concurrency: 4, timeoutMs: 10_000 }),
      sendFramesInNs(client.ns, client.ifname, flood.frames, lab.dir, { name: 'flood.bin', batch: 250, pauseMs: 5 })
        .finally(() => { floodMs = Date.now() - started; }),
    ]);
    t.diagnostic(`HTTP ${http.durationMs} ms, flood ${floodMs} ms (both started together)`);
    assert.equal(sent.total, FLOOD_FRAMES);
    assert.ok(sent.sent >= 20_000, `the flood sent ${sent.sent} of ${sent.total} frames`);

    assert.ok(lab.daemon().running(), `the daemon died: ${lab.daemonOutput().stderr}`);
    assert.equal(http.failed, 0, `HTTP failures during the flood: ${JSON.stringify(http.errors)}`);
    assert.equal(http.ok, HTTP_REQUESTS);

    const after = await settledCounters(lab);
    const drops = dropDeltas(before, after);
    t.diagnostic(`drops: ${JSON.stringify(drops)}; rx +${after.rx - before.rx}, forwarded +${after.forwarded - before.forwarded}, ring drops +${after.ringDrops - before.ringDrops}`);

    // Each kind of damage is seen and named. Some frames may be lost before the ring (backlog or
    // ring drops on a busy machine): counts are bounded by what was sent, not required to equal it.
    const c = flood.counts;
    const expected: Array<[reason: string, max: number]> = [
      ['bad_ip_version', c.random],
      ['bad_ihl', c.bad_ihl_small + c.bad_ihl_long + c.random],
      ['bad_ip_length', c.total_too_long + c.total_below_ihl + c.random],
      ['truncated_l4', c.truncated_tcp + c.truncated_udp + c.random],
      ['bad_tcp_offset', c.bad_tcp_offset + c.random],
      ['fragment', c.fragment + c.random],
      ['arp_ignored', c.arp_reply],
      ['no_service', c.udp_no_service + c.random],
    ];
    for (const [reason, max] of expected) {
      const n = drops[reason] ?? 0;
      assert.ok(n > 0, `no "${reason}" drops counted: ${JSON.stringify(drops)}`);
      assert.ok(n <= max, `"${reason}": ${n} drops, but at most ${max} such frames were sent`);
    }
    // The socket filter keeps non-VIP frames out of the ring altogether.
    assert.equal(after.passed - before.passed, 0, 'non-VIP frames reached the fast path');
    assert.equal(drops.not_ipv4 ?? 0, 0, `non-IP frames reached the fast path: ${JSON.stringify(drops)}`);

    // Each frame taken from the ring got exactly one outcome: forwarded, answered (ARP), passed or dropped for one reason.
    const classified = Object.entries(drops).filter(([r]) => !r.startsWith('tx_')).reduce((t, [, n]) => t + n, 0) +
      (after.forwarded - before.forwarded) + (after.arpReplies - before.arpReplies) + (after.passed - before.passed);
    assert.equal(classified, after.rx - before.rx, `rx +${after.rx - before.rx} but ${classified} outcomes: ${JSON.stringify(drops)}`);

    // 3. Still healthy afterwards.
    const later = await lab.runClient({ requests: 20, concurrency: 4, timeoutMs: 5000 });
    assert.equal(later.failed, 0, `after the flood: ${JSON.stringify(later.errors)}`);
    assert.ok(lab.daemon().running());
  });
});
