// `las explain` for v6 flows, offline (the addon's explainFlows, no sockets): the answer names v6
// addresses and agrees with what the fast path (the socket-free Classifier) does with the flow.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NativeSnapshot } from '../src/native/binding.js';
import { loadAddon } from '../src/native/binding.js';
import { formatMac } from './support/frames.js';
import { tcp6Frame } from './support/frames6.js';
import { createClassifier } from './support/maglev-sim.js';

const VIP = '2001:db8:100::10';
const SERVERS = [1, 2, 3].map((i) => ({ address: `2001:db8:1::${i}`, mac: `02:00:00:00:06:0${i}`, weight: 1 }));
const SNAPSHOT: NativeSnapshot = {
  services: [
    { vip: VIP, port: 80, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 251, servers: SERVERS },
    { vip: '10.0.0.10', port: 80, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 251,
      servers: [{ address: '10.0.1.1', mac: '02:00:00:00:04:01', weight: 1 }] },
  ],
};
const OPTIONS = { ingressMac: '02:00:00:00:00:01', egressMac: '02:00:00:00:00:02', flowCapacity: 1024, flowIdleTimeoutMs: 60_000 };

test('explain answers a v6 flow in v6 text and names the server the fast path picks', () => {
  const addon = loadAddon();
  const classifier = createClassifier(OPTIONS, SNAPSHOT);
  const clients = Array.from({ length: 30 }, (_, i) => `2001:db8:c::${(i + 1).toString(16)}`);
  const answers = addon.explainFlows(SNAPSHOT, { workers: 1, flowIdleTimeoutMs: 60_000 },
    clients.map((client, i) => ({ protocol: 'tcp' as const, client, clientPort: 40000 + i, vip: VIP, port: 80 })));
  const chosen = new Set<string>();
  answers.forEach((x, i) => {
    assert.equal(x.isVip, true);
    assert.equal(x.reason, null);
    assert.equal(x.service, 0);
    assert.deepEqual(x.key, { client: clients[i], clientPort: 40000 + i, vip: VIP, port: 80 });
    const address = x.server?.address;
    assert.ok(address && SERVERS.some((s) => s.address === address), `explained server ${address}`);
    const v = classifier.classify(tcp6Frame({ dst: OPTIONS.ingressMac, src: '02:00:00:00:00:c1' }, clients[i] as string, VIP, 40000 + i, 80), 1000);
    assert.equal(v.action, 'forward');
    if (v.action === 'forward') assert.equal(formatMac(v.frame.subarray(0, 6)), SERVERS.find((s) => s.address === address)?.mac);
    chosen.add(address);
  });
  assert.equal(chosen.size, 3, 'Maglev spread the 30 clients over all three servers');
});

test('explain: a v6 address that is no VIP, and a tuple mixing families', () => {
  const addon = loadAddon();
  const [other] = addon.explainFlows(SNAPSHOT, { workers: 2, flowIdleTimeoutMs: 60_000 },
    [{ protocol: 'tcp', client: '2001:db8:c::1', clientPort: 1, vip: '2001:db8:100::99', port: 80 }]);
  assert.equal(other?.isVip, false);
  assert.equal(other?.service, null);
  const [v4] = addon.explainFlows(SNAPSHOT, { workers: 1, flowIdleTimeoutMs: 60_000 },
    [{ protocol: 'tcp', client: '192.0.2.1', clientPort: 1, vip: '10.0.0.10', port: 80 }]);
  assert.equal(v4?.server?.address, '10.0.1.1', 'v4 beside v6 unchanged');
  assert.throws(() => addon.explainFlows(SNAPSHOT, { workers: 1, flowIdleTimeoutMs: 60_000 },
    [{ protocol: 'tcp', client: '192.0.2.1', clientPort: 1, vip: VIP, port: 80 }]),
  /tuples\[0\]\.client is IPv4 but tuples\[0\]\.vip is IPv6/);
});
