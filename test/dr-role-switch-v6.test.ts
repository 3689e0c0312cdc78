// `las role` on a dual-stack lab (ha.mode "vrrp", no keepalived calling it): a standby answers no
// Neighbor Solicitation for the v6 VIP and counts it as standby_arp (the ARP-or-NS reason), not as
// VIP traffic; `las role active` sends unsolicited Neighbor Advertisements that overwrite a client's
// stale entry for the v6 VIP, and v6 requests are served at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { lasOk, waitFor } from './support/control.js';
import { isObject, num } from './support/json.js';
import { needsRoot } from './support/needs-root.js';

const WRONG_MAC = '02:00:00:00:0d:99';

async function counters(lab: DrLab): Promise<{ ndpAdverts: number; txPackets: number; standby: number; standbyArp: number }> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.workers), JSON.stringify(stats));
  const workers = (stats.workers as unknown[]).filter(isObject);
  const sum = (get: (w: Record<string, unknown>) => unknown) => workers.reduce((n, w) => n + num(get(w)), 0);
  const drop = (reason: string) => (w: Record<string, unknown>) => (isObject(w.drops) ? w.drops[reason] : undefined);
  return { ndpAdverts: sum((w) => w.ndpAdverts), txPackets: sum((w) => w.txPackets), standby: sum(drop('standby')), standbyArp: sum(drop('standby_arp')) };
}

test('las role over IPv6: a standby counts NS for the VIP as standby_arp and answers none; active announces the v6 VIP by NA', {
  timeout: 180_000, skip: needsRoot('network namespaces'),
}, async () => {
  await withDrLab({ servers: 2, ipv6: true, config: { ha: { mode: 'vrrp' } } }, async (lab) => {
    const vip6 = lab.vip6!;
    const ifname = lab.segment.client.ifname;
    const neighbour = async () => (await lab.exec('client', 'ip', ['-6', 'neigh', 'show', vip6, 'dev', ifname])).stdout.trim();
    assert.match(await lasOk(lab, ['role', 'show']), /^role standby \(ha\.mode vrrp\)/);

    // Standby: the client's solicitations for the v6 VIP go unanswered and are counted as such.
    await lab.flushNeighbours('client');
    const unanswered = await lab.runClient({ ipv6: true, requests: 1, timeoutMs: 1500 });
    assert.equal(unanswered.ok, 0, 'a v6 request reached a server through a standby');
    await waitFor('the standby counts the NS it ignores', async () => (await counters(lab)).standbyArp > 0, 10_000, () => counters(lab));
    const standby = await counters(lab);
    // No MAC for the VIP, so the client sent nothing but NS: none of it counts as VIP traffic.
    assert.deepEqual({ ndpAdverts: standby.ndpAdverts, txPackets: standby.txPackets, standby: standby.standby }, { ndpAdverts: 0, txPackets: 0, standby: 0 });
    assert.doesNotMatch(await neighbour(), /lladdr/, 'the client resolved the VIP through a standby');

    // A stale entry pointing elsewhere (the old active's MAC): only an NA with Override can fix it
    // without traffic, since a stale entry is not probed while nothing is sent.
    await lab.exec('client', 'ip', ['-6', 'neigh', 'replace', vip6, 'lladdr', WRONG_MAC, 'dev', ifname, 'nud', 'stale']);
    assert.match(await neighbour(), new RegExp(`lladdr ${WRONG_MAC}`));
    assert.match(await lasOk(lab, ['role', 'active']), /^role active .*told by las role/);
    const mac = lab.segment.dispatcher.mac.toLowerCase();
    await waitFor('the unsolicited NA to overwrite the client\'s entry', async () => (await neighbour()).includes(`lladdr ${mac}`), 10_000, neighbour);

    const served = await lab.runClient({ ipv6: true, requests: 10, timeoutMs: 5000 });
    assert.equal(served.failed, 0, JSON.stringify(served.errors));
    assert.ok((await counters(lab)).txPackets > 0);

    // Standby again: a new solicitation is ignored and counted, no advertisement goes out.
    await lasOk(lab, ['role', 'standby']);
    const before = await counters(lab);
    await lab.flushNeighbours('client');
    assert.equal((await lab.runClient({ ipv6: true, requests: 1, timeoutMs: 1500 })).ok, 0);
    await waitFor('the standby counts the next NS', async () => (await counters(lab)).standbyArp > before.standbyArp, 10_000, () => counters(lab));
    assert.equal((await counters(lab)).ndpAdverts, before.ndpAdverts, 'a standby answered an NS');
  });
});
