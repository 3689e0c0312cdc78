// ha.mode "vrrp" with an IPv6 VIP, through the real fast path on the dual-stack segment (no
// keepalived: `las role` as its notify script would call it). A standby answers no Neighbor
// Solicitation for the v6 VIP and forwards nothing over v6; becoming active sends an unsolicited
// Neighbor Advertisement that moves the client's existing (stale, wrong) neighbour entry to the
// dispatcher's MAC before the client sends anything, and v6 requests are served; standby again
// answers no solicitation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { lasOk, waitFor } from './support/control.js';
import { isObject, num } from './support/json.js';
import { needsRoot } from './support/needs-root.js';

const WRONG_MAC = '02:00:00:00:0e:99';

// standbyArp: the ARP requests and Neighbor Solicitations for the VIPs a standby ignores.
async function counters(lab: DrLab): Promise<{ ndpAdverts: number; txPackets: number; standbyArp: number }> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.workers), JSON.stringify(stats));
  const workers = (stats.workers as unknown[]).filter(isObject);
  const sum = (get: (w: Record<string, unknown>) => unknown) => workers.reduce((n, w) => n + num(get(w)), 0);
  return { ndpAdverts: sum((w) => w.ndpAdverts), txPackets: sum((w) => w.txPackets), standbyArp: sum((w) => (isObject(w.drops) ? w.drops.standby_arp : 0)) };
}

/** The client's neighbour entry for `address`: its MAC and state, or undefined. */
async function neighbour(lab: DrLab, address: string): Promise<{ mac: string | undefined; state: string } | undefined> {
  const out = (await lab.exec('client', 'ip', ['-6', 'neigh', 'show', address, 'dev', lab.segment.client.ifname])).stdout.trim();
  if (out === '') return undefined;
  return { mac: /lladdr (\S+)/.exec(out)?.[1], state: out.split(/\s+/).pop() ?? '' };
}

test('vrrp with a v6 VIP: a standby answers no NS and forwards nothing; active sends an unsolicited NA and serves; standby again answers no NS', {
  timeout: 180_000, skip: needsRoot('network namespaces'),
}, async () => {
  await withDrLab({ servers: 2, ipv6: true, config: { ha: { mode: 'vrrp' } } }, async (lab) => {
    const vip6 = lab.vip6!;
    const ifname = lab.segment.client.ifname;
    assert.match(await lasOk(lab, ['role', 'show']), /^role standby/);

    // Standby: the client's solicitation for the v6 VIP goes unanswered and is counted as standby_arp.
    await lab.exec('client', 'ip', ['-6', 'neigh', 'flush', 'dev', ifname]);
    const unanswered = await lab.runClient({ ipv6: true, requests: 1, timeoutMs: 1500 });
    assert.equal(unanswered.ok, 0, 'a v6 request reached a server through a standby');
    await waitFor('the standby counts the NS it ignores', async () => (await counters(lab)).standbyArp > 0, 10_000, () => counters(lab));
    const standby1 = await counters(lab);
    assert.equal(standby1.ndpAdverts, 0);
    assert.equal(standby1.txPackets, 0);
    assert.notEqual((await neighbour(lab, vip6))?.mac, lab.segment.dispatcher.mac);

    // A stale entry pointing elsewhere (the old active's MAC, as after a failover): only an
    // unsolicited NA with Override moves it, since the client sends nothing meanwhile.
    await lab.exec('client', 'ip', ['-6', 'neigh', 'replace', vip6, 'lladdr', WRONG_MAC, 'dev', ifname, 'nud', 'stale']);
    assert.match(await lasOk(lab, ['role', 'active']), /^role active /);
    await waitFor('the unsolicited NA moves the client\'s entry to the dispatcher', async () =>
      (await neighbour(lab, vip6))?.mac === lab.segment.dispatcher.mac, 10_000, () => neighbour(lab, vip6));
    const served = await lab.runClient({ ipv6: true, requests: 10, timeoutMs: 5000 });
    assert.equal(served.failed, 0, JSON.stringify(served.errors));
    await lab.exec('client', 'ip', ['-6', 'neigh', 'flush', 'dev', ifname]);
    const solicited = await lab.runClient({ ipv6: true, requests: 5, timeoutMs: 5000 });
    assert.equal(solicited.failed, 0, JSON.stringify(solicited.errors));
    const active = await counters(lab);
    assert.ok(active.ndpAdverts > 0 && active.txPackets > 0, JSON.stringify(active));

    // Standby again: a fresh solicitation is not answered, no advert sent. The baseline is taken once
    // the (single) worker has handled a frame as a standby, so no block of the active phase is still
    // being counted (as in dr-role-switch.test.ts).
    await lasOk(lab, ['role', 'standby']);
    const switched = await counters(lab);
    await lab.exec('client', 'ip', ['-6', 'neigh', 'flush', 'dev', ifname]);
    assert.equal((await lab.runClient({ ipv6: true, requests: 1, timeoutMs: 1500 })).ok, 0, 'a v6 request reached a server through a standby');
    await waitFor('the standby counts the NS', async () => (await counters(lab)).standbyArp > switched.standbyArp, 10_000, () => counters(lab));
    const before = await counters(lab);
    await lab.exec('client', 'ip', ['-6', 'neigh', 'flush', 'dev', ifname]);
    assert.equal((await lab.runClient({ ipv6: true, requests: 1, timeoutMs: 1500 })).ok, 0, 'a v6 request reached a server through a standby');
    await waitFor('the standby counts the next NS too', async () => (await counters(lab)).standbyArp > before.standbyArp, 10_000, () => counters(lab));
    const after = await counters(lab);
    assert.equal(after.ndpAdverts, before.ndpAdverts, 'the standby answered a solicitation');
    assert.equal(after.txPackets, before.txPackets, 'the standby transmitted');
    assert.notEqual((await neighbour(lab, vip6))?.mac, lab.segment.dispatcher.mac);
  });
});
