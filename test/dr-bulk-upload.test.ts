// Bulk TCP uploads through the dispatcher. A Linux client with its default offloads (TSO/GSO on)
// hands its veth 64 KB TCP super-frames; the dispatcher's packet socket receives them whole and
// must forward them (PACKET_VNET_HDR) instead of failing to send them. Every byte is counted at
// the server; throughput is reported, never asserted.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { formatRate } from '../src/demo/bulk.js';
import { ensureCommand } from '../src/netns/ensure-package.js';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { isObject, num, type Json } from './support/json.js';
import { needsRoot } from './support/needs-root.js';

const BYTES = 200_000_000;
const TEST_OPTIONS = { timeout: 240_000, skip: needsRoot('network namespaces') };

interface FastPathCounters {
  workers: Json[];
  sum(key: string): number;
  drops(reason: string): number;
  bulk: Json | undefined;   // the service on the bulk port
}

async function fastPath(lab: DrLab): Promise<FastPathCounters> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.workers) && Array.isArray(stats.services), `stats shape: ${JSON.stringify(stats)}`);
  const workers = stats.workers.filter(isObject);
  assert.ok(workers.length > 0, `no workers in ${JSON.stringify(stats)}`);
  const field = (worker: Json, key: string) => {
    assert.ok(key in worker, `worker counters have no "${key}": ${JSON.stringify(worker)}`);
    return num(worker[key]);
  };
  return {
    workers,
    sum: (key) => workers.reduce((total, worker) => total + field(worker, key), 0),
    drops: (reason) => workers.reduce((total, worker) => {
      assert.ok(isObject(worker.drops) && reason in worker.drops, `worker drops have no "${reason}": ${JSON.stringify(worker.drops)}`);
      return total + num(worker.drops[reason]);
    }, 0),
    bulk: stats.services.filter(isObject).find((service) => num(service.port) === lab.bulkPort),
  };
}

/** ethtool -k of the client's NIC, the offloads that decide the frame sizes. */
async function clientOffloads(lab: DrLab): Promise<string> {
  await ensureCommand('ethtool', 'ethtool');
  const { stdout } = await lab.exec('client', 'ethtool', ['-k', lab.segment.client.ifname]);
  return stdout.split('\n')
    .filter((line) => /^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):/.test(line))
    .map((line) => line.replace(/\s+/g, ' ').trim()).join(', ');
}

/**
 * Uploads BYTES to VIP:bulkPort and checks what every upload test needs: the server counted exactly
 * what was sent, on one connection from the client, forwarded by the dispatcher as one new flow,
 * with no transmit errors, no oversize drops and no frame on a worker not owning its flow.
 */
async function uploadThroughDispatcher(t: TestContext, lab: DrLab, label: string): Promise<FastPathCounters> {
  let result;
  try {
    result = await lab.upload({ bytes: BYTES });
  } catch (error) {
    // What the dispatcher saw is the first thing to look at when an upload stalls.
    t.diagnostic(`${label}: dispatcher stats after the failed upload: ${JSON.stringify(await lab.stats().catch((e: unknown) => String(e)))}`);
    throw error;
  }
  assert.equal(result.bytes, BYTES);
  t.diagnostic(`${label}: ${formatRate(result)}, client retransmits ${result.retransmits ?? 'unknown'}`);

  const receipts = [...(await lab.bulkReceipts())].flatMap(([server, list]) => list.map((receipt) => ({ server, ...receipt })));
  assert.equal(receipts.length, 1, `one finished connection expected at the servers: ${JSON.stringify(receipts)}`);
  const [receipt] = receipts;
  assert.equal(receipt!.bytes, BYTES, `${receipt!.server} counted ${receipt!.bytes} of ${BYTES} bytes`);
  assert.ok(receipt!.remote.startsWith(`${lab.segment.client.address}:`), `the upload came from ${receipt!.remote}, not the client`);

  assert.ok(lab.daemon().running(), 'the daemon still runs');
  const c = await fastPath(lab);
  assert.ok(c.bulk, `no service on port ${lab.bulkPort} in the stats`);
  assert.equal(num(c.bulk.newFlows), 1, `bulk service new flows: ${JSON.stringify(c.bulk)}`);
  assert.ok(num(c.bulk.packets) > 0, `the dispatcher forwarded no upload packet: ${JSON.stringify(c.bulk)}`);

  const txPackets = c.sum('txPackets');
  const txSyscalls = c.sum('txSyscalls');
  const gsoFrames = c.sum('gsoFrames');
  t.diagnostic(`${label}: rx ${c.sum('rxPackets')} frames (${gsoFrames} GSO super-frames), tx ${txPackets} frames in ${txSyscalls} syscalls = ` +
    `${txSyscalls > 0 ? (txPackets / txSyscalls).toFixed(2) : 'n/a'} frames per syscall`);
  assert.equal(c.sum('txErrors'), 0, 'transmit errors');
  assert.equal(c.drops('oversize'), 0, 'frames dropped as oversize');
  assert.equal(c.sum('wrongWorker'), 0, 'frames on a worker that does not own their flow');
  return c;
}

test('200 MB upload with the client\'s default offloads: TSO/GSO super-frames are forwarded, every byte arrives, no TX errors or oversize drops', TEST_OPTIONS, async (t) => {
  await withDrLab({ servers: 3, bulk: true }, async (lab) => {
    t.diagnostic(`client offloads: ${await clientOffloads(lab)}`);
    const c = await uploadThroughDispatcher(t, lab, 'offloads on');
    assert.ok(c.sum('gsoFrames') > 0, 'no GSO super-frame reached the dispatcher: the test did not exercise them (client offloads off?)');
  });
});

test('200 MB upload with TSO/GSO off on the client (MTU-sized frames): every byte arrives, no TX errors or oversize drops', TEST_OPTIONS, async (t) => {
  await withDrLab({ servers: 3, bulk: true }, async (lab) => {
    await lab.setOffloads('client', false);
    t.diagnostic(`client offloads: ${await clientOffloads(lab)}`);
    await uploadThroughDispatcher(t, lab, 'offloads off');
  });
});

test('200 MB upload with MTU 9000 on every link of the segment: every byte arrives, no TX errors or oversize drops', TEST_OPTIONS, async (t) => {
  // The MTU is set before the daemon starts: it sizes its rings from the interface MTU.
  await withDrLab({ servers: 3, bulk: true, mtu: 9000 }, async (lab) => {
    const { stdout } = await lab.exec('client', 'ip', ['-j', 'link', 'show', 'dev', lab.segment.client.ifname]);
    assert.equal((JSON.parse(stdout) as Array<{ mtu: number }>)[0]?.mtu, 9000);
    t.diagnostic(`client offloads: ${await clientOffloads(lab)}`);
    await uploadThroughDispatcher(t, lab, 'MTU 9000');
  });
});

// The TX ring takes MTU-sized frames in its slots and sends a super-frame that does not fit one by
// itself; both must keep every byte in order. 1568-byte slots do not divide a ring block, which is
// what the slot arithmetic has to get right.
for (const offloads of [true, false]) {
  test(`200 MB upload through txMode "ring" with the client's offloads ${offloads ? 'on' : 'off'}: every byte arrives, no TX errors`, TEST_OPTIONS, async (t) => {
    await withDrLab({ servers: 2, bulk: true, config: { txMode: 'ring' } }, async (lab) => {
      if (!offloads) await lab.setOffloads('client', false);
      const c = await uploadThroughDispatcher(t, lab, `ring, offloads ${offloads ? 'on' : 'off'}`);
      if (offloads) assert.ok(c.sum('gsoFrames') > 0, 'no GSO super-frame reached the dispatcher');
      else assert.ok(c.sum('txPackets') > 100_000, 'MTU-sized frames went round the TX ring many times');
    });
  });
}
