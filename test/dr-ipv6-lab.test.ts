// The dual-stack lab (src/netns/lvs-dr.ts ipv6) and the control plane over IPv6, without the fast
// path: a real server holding the v6 VIP on lo stays silent to Neighbor Solicitations for it on its
// NIC (so IPv6 needs no arp_ignore twin), and the dispatcher resolves the v6 servers' MACs by NDP and
// health-checks them over v6 with the daemon's own code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { sendFramesInNs } from './support/flood.js';
import { runNamespaceChild } from './support/namespace-child.js';
import { needsRoot } from './support/needs-root.js';
import { neighborSolicitation, solicitedNode } from './support/ndp-frames.js';

const TEST_OPTIONS = { timeout: 120_000, skip: needsRoot('network namespaces') };
const CONTROL_CHILD = fileURLToPath(new URL('./support/v6-control-child.js', import.meta.url));

/** "Icmp6InNeighborSolicits" -> value, from a host's /proc/net/snmp6. */
async function snmp6(lab: DrLab, role: string): Promise<Map<string, number>> {
  const { stdout } = await lab.exec(role, 'cat', ['/proc/net/snmp6']);
  return new Map(stdout.trim().split('\n').map((line) => line.trim().split(/\s+/)).map(([k, v]) => [k!, Number(v)]));
}

/** Polls until `done` holds (bounded by count and time); returns the last counters. */
async function waitCounters(lab: DrLab, role: string, done: (c: Map<string, number>) => boolean): Promise<Map<string, number>> {
  let counters = await snmp6(lab, role);
  for (let i = 0; i < 200 && !done(counters); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    counters = await snmp6(lab, role);
  }
  return counters;
}

test('a server with the v6 VIP on lo answers no Neighbor Solicitation for it on its NIC (multicast or unicast), only for its own address', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 2, ipv6: true, startDaemon: false }, async (lab) => {
    const seg = lab.segment;
    const client = seg.client;
    const vip6 = seg.vip6!;
    for (const server of seg.servers) {
      // The VIP really is on the server's lo: the kernel would deliver to it.
      const { stdout: lo } = await lab.exec(server.role, 'ip', ['-6', '-o', 'addr', 'show', 'dev', 'lo']);
      assert.match(lo, new RegExp(`inet6 ${vip6}/128`));

      const before = await snmp6(lab, server.role);
      const group = solicitedNode(vip6);
      const base = { srcMac: client.mac, src: client.address6! };
      const frames = [
        neighborSolicitation({ ...base, dstMac: group.mac, dst: group.address, target: vip6 }),  // as a resolving client sends it
        neighborSolicitation({ ...base, dstMac: server.mac, dst: vip6, target: vip6 }),          // unicast, as a NUD probe
        neighborSolicitation({ ...base, dstMac: server.mac, dst: server.address6!, target: server.address6! }), // control: must be answered
      ];
      await sendFramesInNs(seg.ns('client'), client.ifname, frames, lab.dir, { name: `ns-${server.role}.bin` });
      // Frames on one veth arrive in order: once the control NS is answered, the two before it were handled.
      const key = 'Icmp6OutNeighborAdvertisements';
      const after = await waitCounters(lab, server.role, (c) => (c.get(key) ?? 0) > (before.get(key) ?? 0));
      const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
      assert.equal(d(key), 1, `${server.role} advertised ${d(key)} times: only its own address may be answered`);
      assert.ok(d('Icmp6InNeighborSolicits') >= 2, `${server.role} took ${d('Icmp6InNeighborSolicits')} solicitations: the unicast one for the VIP must reach NDP`);
    }
  });
});

test('the dispatcher resolves the v6 servers\' MACs by NDP and health-checks them over v6 (tcp, http)', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 3, ipv6: true, startDaemon: false }, async (lab) => {
    const seg = lab.segment;
    const absent = 'fd77::19'; // on the segment's subnet, no host: NDP gets no answer
    const servers = seg.servers.map((s) => s.address6!);
    const result = await runNamespaceChild<{ macs: Record<string, string>; missing: string[]; checks: Record<string, { tcp: string; http: string; ok: boolean }> }>(
      seg.dispatcher.ns, CONTROL_CHILD, { job: { ifname: seg.dispatcher.ifname, servers, absent, port: 80 }, timeoutMs: 60_000 },
    );
    assert.deepEqual(result.missing, [absent], 'only the absent address is left unresolved');
    for (const server of seg.servers) {
      const address = server.address6!;
      assert.equal(result.macs[address], server.mac, `MAC of ${address}`);
      const check = result.checks[address]!;
      assert.ok(check.ok, JSON.stringify(check));
      assert.equal(check.tcp, `tcp [${address}]:80: connected`);
      assert.equal(check.http, `GET http://[${address}]:80/: 200`);
    }
  });
});
