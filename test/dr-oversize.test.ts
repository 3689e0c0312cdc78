// A frame longer than the egress MTU that carries no segmentation offsets cannot be sent: LAS drops
// it as "oversize", counted, and logs it with the egress interface and its MTU; smaller frames of
// the same flow keep going through. The routed layout gives the two sides different MTUs: 9000 on
// the clients' side (interface), 1500 on the servers' side (egressInterface).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { waitUntil } from '../src/demo/processes.js';
import { run } from '../src/netns/run.js';
import { segmentLinks, setLinksMtu } from '../src/netns/segment-mtu.js';
import { withRoutedDrLab, type RoutedDrLab } from './support/dr-lab.js';
import type { UdpProbeResult } from './support/udp-probe-child.js';
import { num } from './support/json.js';
import { statsView } from './support/worker-stats.js';
import { needsRoot } from './support/needs-root.js';

const UDP_PORT = 5300;
const CHILD = fileURLToPath(new URL('./support/udp-probe-child.js', import.meta.url));

/** Every link on the clients' side: client NICs, the clients' bridge and its ports, the dispatcher's `interface`. */
async function clientSideLinks(lab: RoutedDrLab) {
  const layout = lab.segment;
  const { stdout } = await run('ip', ['-n', layout.clientSwitch.ns, '-j', 'link', 'show', 'master', layout.clientSwitch.bridge]);
  const ports = new Set((JSON.parse(stdout) as { ifname: string }[]).map((link) => link.ifname));
  const clients = new Set(layout.clients.map((c) => c.ns));
  return (await segmentLinks(layout)).filter(({ ns, ifname }) =>
    clients.has(ns)
    || (ns === layout.dispatcher.ns && ifname === layout.dispatcher.ifname)
    || (ns === layout.clientSwitch.ns && (ports.has(ifname) || ifname === layout.clientSwitch.bridge)));
}

test('a datagram longer than the egress MTU is dropped as oversize and logged with the MTU; small ones pass', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => {
  await withRoutedDrLab({
    servers: 1, udpPort: UDP_PORT, startDaemon: false,
    service: { name: 'udp', port: UDP_PORT, protocol: 'udp', flowKey: 'addresses' },
  }, async (lab) => {
    await setLinksMtu(await clientSideLinks(lab), 9000);
    await lab.startDaemon();
    const { stdout } = await lab.exec('client', process.execPath, [
      CHILD, '--vip', lab.vip, '--port', String(UDP_PORT), '--sources', lab.segment.client.sources.join(','),
      '--sizes', '100,8000', '--rounds', '3', '--timeout-ms', '1500',
    ], { timeoutMs: 60_000 });
    const probe = JSON.parse(stdout.trim().split('\n').pop() ?? '') as UdpProbeResult;
    // 8000 bytes fit the clients' 9000 MTU, so they leave the client whole, and not the servers' 1500.
    assert.equal(probe.sent, 6);
    assert.equal(probe.answered, 3, `only the 100-byte datagrams are answered: ${JSON.stringify(probe)}`);
    assert.deepEqual(probe.wrong, []);

    const { workers } = await statsView(lab);
    const total = (count: (w: (typeof workers)[number]) => unknown) => workers.reduce((sum, w) => sum + num(count(w)), 0);
    assert.equal(total((w) => w.drops.oversize), 3, 'each 8000-byte datagram is an oversize drop');
    assert.equal(total((w) => w.raw.txErrors), 0, 'nothing was handed to the kernel that it refused');
    const egress = lab.segment.dispatcherEgress.ifname;
    await waitUntil('the oversize log line', () => {
      const line = lab.daemonOutput().stdout.split('\n').find((l) => l.includes('longer than the MTU'));
      return line !== undefined && line.includes('"mtu":1500') && line.includes(`"egressInterface":"${egress}"`);
    }, 5000, () => (lab.daemon().running() ? undefined : 'the daemon exited'));
  });
});
