// RX ring overflow: a small ring whose consumer stalls (the daemon stopped with SIGSTOP, as a
// descheduled or swapped-out process would be) while a flood arrives. The kernel drops what does
// not fit; LAS counts it (ringDrops, las_ring_drops_total), logs it once per housekeeping interval
// rather than once per read, and forwards normally afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { logLines, waitFor } from './support/control.js';
import { buildFlood, sendFramesInNs } from './support/flood.js';
import { needsRoot } from './support/needs-root.js';

// The smallest blocks a 1500-byte MTU allows. Enough blocks that normal traffic rarely overflows,
// yet blocks retire every 10 ms while the consumer is stopped, so the flood cannot fit.
const RING = { blockSize: 131_072, blockCount: 16 };
const FLOOD_FRAMES = 40_000; // well past what 16 blocks hold (at most 2 MiB / 128-byte slots = 16384 frames)
const SEED = 0x71b6;
const HOUSEKEEPING_MS = 1000; // src/control/daemon.ts: how often counters are turned into log lines

async function ringDrops(lab: DrLab): Promise<number> {
  const stats = await lab.stats() as { workers: { ringDrops: string | number }[] };
  return stats.workers.reduce((total, w) => total + Number(w.ringDrops), 0);
}

test('RX ring overflow: counted, logged once per interval, and requests work afterwards', { timeout: 120_000, skip: needsRoot('network namespaces') }, async () => {
  await withDrLab({ servers: 2, config: { workers: 1, ring: RING } }, async (lab) => {
    const pid = lab.daemon().pid;
    assert.ok(pid !== undefined);
    const before = await lab.runClient({ requests: 20, concurrency: 4 });
    assert.equal(before.failed, 0, JSON.stringify(before.errors));
    const dropsBefore = await ringDrops(lab); // usually 0; a loaded machine may delay the worker now and then

    const { client } = lab.segment;
    const flood = buildFlood({ dstMac: lab.segment.dispatcher.mac, srcMac: client.mac, senderIp: client.address, vip: lab.vip, port: lab.port },
      FLOOD_FRAMES, SEED, { udp_no_service: 1, random: 0, short_ip: 0, non_vip_ipv4: 0, non_ip: 0, arp_reply: 0 });
    let resumedAt = 0;
    const stoppedAt = Date.now();
    process.kill(pid, 'SIGSTOP');
    try {
      const sent = await sendFramesInNs(client.ns, client.ifname, flood.frames, lab.dir, { name: 'ring-flood.bin', batch: 500, pauseMs: 1 });
      assert.equal(sent.sent, FLOOD_FRAMES, JSON.stringify(sent));
    } finally {
      process.kill(pid, 'SIGCONT');
      resumedAt = Date.now();
    }

    // Frames still in the switch's queues may be dropped just after the resume: wait until the
    // count is non-zero and every drop counted is in a log line.
    const logged = () => logLines(lab, /^RX ring drops/).reduce((sum, l) => sum + Number(l.increase), 0);
    let drops = 0;
    await waitFor('ring drops counted and logged', async () => {
      drops = await ringDrops(lab);
      return drops > dropsBefore && logged() === drops;
    }, 10_000, () => ({ dropsBefore, drops, logged: logged() }));
    // Lines since the stop: the daemon logs nothing while stopped, so they came after the resume,
    // at most one per housekeeping interval (+1: one logged in the instant before the stop).
    const lines = logLines(lab, /^RX ring drops/).filter((l) => Date.parse(String(l.time)) >= stoppedAt);
    const intervals = Math.floor((Date.now() - resumedAt) / HOUSEKEEPING_MS) + 1;
    assert.ok(lines.length >= 1 && lines.length <= intervals + 1, `${lines.length} ring-drop lines in ${intervals} intervals: ${JSON.stringify(lines)}`);
    process.stdout.write(`# ${drops - dropsBefore} ring drops of ${FLOOD_FRAMES} frames sent, ${lines.length} log line(s)\n`);

    assert.ok(lab.daemon().running(), lab.daemonOutput().stderr);
    const after = await lab.runClient({ requests: 40, concurrency: 4 });
    assert.equal(after.failed, 0, JSON.stringify(after.errors));
  });
});
