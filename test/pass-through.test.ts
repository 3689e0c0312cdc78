// The benchmark's baseline, las_bench's PassThroughDataplane: the daemon's rings and transmit paths
// with a per-frame loop of its own that only rewrites the MACs. Every VIP frame (and nothing else:
// the socket filter is the daemon's) leaves for the first server, byte for byte the same but for
// the two MACs, in both transmit modes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { addNamespace, addVethPair, deleteNamespace, linkInfo, setLinkUp, setSysctls, uniquePrefix } from '../src/netns/namespace.js';
import { udpFrame } from './support/frames.js';
import { runNamespaceChild } from './support/namespace-child.js';

const CHILD = fileURLToPath(new URL('./support/pass-through-child.js', import.meta.url));
const VIP = '10.98.0.100';
const SERVER = { address: '10.98.1.1', mac: '02:00:00:00:98:01' };
const isRoot = process.getuid?.() === 0;

test('pass-through forwards every VIP frame, and only those, to the first server with only the MACs rewritten', { skip: isRoot ? false : 'needs root (namespaces, raw sockets)', timeout: 120_000 }, async () => {
  const ns = `${uniquePrefix('lasp')}-pt`;
  await addNamespace(ns);
  try {
    // No IPv6: router solicitations and DAD frames would arrive at the sink too.
    await setSysctls(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
    await addVethPair({ name: 'pt0', ns }, { name: 'pt1', ns });
    await setLinkUp(ns, 'pt0');
    await setLinkUp(ns, 'pt1');
    const inMac = (await linkInfo(ns, 'pt0')).mac;
    const macs = { dst: inMac, src: (await linkInfo(ns, 'pt1')).mac };
    // Not for the VIP first: were one let through, it would reach the sink before the VIP frames.
    const others = Array.from({ length: 20 }, (_, i) => udpFrame(macs, { src: '10.98.2.1', dst: '10.98.0.101' }, { sport: 2000 + i, dport: 80, payload: Buffer.alloc(18) }));
    const sizes = [60, 61, 200, 1514];
    const vipFrames = Array.from({ length: 100 }, (_, i) =>
      udpFrame(macs, { src: `10.98.2.${1 + (i % 50)}`, dst: VIP }, { sport: 3000 + i, dport: 53, payload: Buffer.alloc(sizes[i % sizes.length]! - 42, i) }));
    const expected = vipFrames.map((f) => Buffer.concat([Buffer.from(SERVER.mac.replaceAll(':', ''), 'hex'), Buffer.from(inMac.replaceAll(':', ''), 'hex'), f.subarray(12)]).toString('hex'));

    const job = { in: 'pt0', out: 'pt1', vip: VIP, server: SERVER, frames: [...others, ...vipFrames].map((f) => f.toString('hex')), expected: vipFrames.length, txModes: ['sendmmsg', 'ring', 'send'] };
const { runs } = await runNamespaceChild<{ runs: { txMode: string; toServer: string; total: string; kept: string[]; rxPackets: string; txPackets: string }[] }>(ns, CHILD, { job, timeoutMs: 100_000 });
    assert.deepEqual(runs.map((r) => r.txMode), job.txModes);
    for (const r of runs) {
      assert.equal(r.toServer, '100', `${r.txMode}: frames to the server's MAC`);
      assert.equal(r.rxPackets, '100', `${r.txMode}: the socket filter let only the VIP frames in`);
      assert.equal(r.txPackets, '100', `${r.txMode}: frames sent`);
      assert.deepEqual(r.kept.filter((hex) => hex.startsWith(SERVER.mac.replaceAll(':', ''))), expected, `${r.txMode}: the frames as they left, in order`);
    }
  } finally {
    await deleteNamespace(ns);
  }
});
