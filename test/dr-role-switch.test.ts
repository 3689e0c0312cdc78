// `las role` through the real fast path, one dispatcher with ha.mode "vrrp" and no keepalived
// calling it: a standby answers no ARP for the VIP and forwards nothing (both counted), `las role
// active` makes it answer and forward at once, `las role standby` stops both again. The sockets,
// filter and tables stay: the same daemon serves again without a restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { lasOk, waitFor } from './support/control.js';
import { isObject, num } from './support/json.js';
import { needsRoot } from './support/needs-root.js';

async function counters(lab: DrLab): Promise<{ arpReplies: number; txPackets: number; standby: number; standbyArp: number }> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.workers), JSON.stringify(stats));
  const workers = (stats.workers as unknown[]).filter(isObject);
  const sum = (get: (w: Record<string, unknown>) => unknown) => workers.reduce((n, w) => n + num(get(w)), 0);
  const drop = (reason: string) => (w: Record<string, unknown>) => (isObject(w.drops) ? w.drops[reason] : undefined);
  return { arpReplies: sum((w) => w.arpReplies), txPackets: sum((w) => w.txPackets), standby: sum(drop('standby')), standbyArp: sum(drop('standby_arp')) };
}

test('las role: a standby answers no ARP and forwards nothing; active serves at once; standby again stops both', {
  timeout: 180_000, skip: needsRoot('network namespaces'),
}, async () => {
  await withDrLab({ servers: 2, config: { ha: { mode: 'vrrp' } } }, async (lab) => {
    assert.match(await lasOk(lab, ['role', 'show']), /^role standby \(ha\.mode vrrp\) .*told by start/);
    const ifname = lab.segment.client.ifname;

    // Standby: the client's ARP for the VIP goes unanswered.
    await lab.flushNeighbours('client');
    const unanswered = await lab.runClient({ requests: 1, timeoutMs: 1500 });
    assert.equal(unanswered.ok, 0, 'a request reached a server through a standby');
    await waitFor('the standby counts the ARP requests it ignores', async () => (await counters(lab)).standbyArp > 0, 10_000, () => counters(lab));
    const standby1 = await counters(lab);
    assert.equal(standby1.arpReplies, 0);
    assert.equal(standby1.txPackets, 0);

    // Active: gratuitous ARP, ARP answered, requests forwarded.
    assert.match(await lasOk(lab, ['role', 'active']), /^role active .*told by las role, 1 change\(s\), 1 gratuitous ARP set\(s\)/);
    await lab.flushNeighbours('client');
    const served = await lab.runClient({ requests: 10, timeoutMs: 5000 });
    assert.equal(served.failed, 0, JSON.stringify(served.errors));
    const active = await counters(lab);
    assert.ok(active.arpReplies > 0 && active.txPackets > 0, JSON.stringify(active));

    // Standby again, with the client's ARP entry pinned to the dispatcher: its frames still arrive and are dropped.
    await lasOk(lab, ['role', 'standby']);
    await lab.exec('client', 'ip', ['neigh', 'replace', lab.vip, 'lladdr', lab.segment.dispatcher.mac, 'dev', ifname, 'nud', 'permanent']);
    const refused = await lab.runClient({ requests: 1, timeoutMs: 1500 });
    assert.equal(refused.ok, 0, 'a request reached a server through a standby');
    await waitFor('the standby counts the VIP frames it ignores', async () => (await counters(lab)).standby > 0, 10_000, () => counters(lab));
    // Frames of the active phase may still have been in flight at the switch: the baseline is taken
    // once the (single) worker has handled a block as a standby, so every earlier block is done.
    const standby2 = await counters(lab);
    const again = await lab.runClient({ requests: 1, timeoutMs: 1500 });
    assert.equal(again.ok, 0, 'a request reached a server through a standby');
    await waitFor('the standby counts the next request too', async () => (await counters(lab)).standby > standby2.standby, 10_000, () => counters(lab));
    assert.equal((await counters(lab)).txPackets, standby2.txPackets, 'the standby transmitted');
    const status = await lab.admin('status');
    assert.ok(isObject(status) && isObject(status.ha), JSON.stringify(status));
    assert.equal(status.ha.role, 'standby');
    assert.match(await lasOk(lab, ['status']), /^HA \(vrrp\): STANDBY, forwarding nothing since .*, told by las role$/m);
    // The metric an alert on "no active dispatcher" sums.
    const metrics = await lab.exec('dispatcher', process.execPath, ['-e', "fetch('http://127.0.0.1:9477/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"]);
    assert.match(metrics.stdout, /^las_ha_active 0$/m);
  });
});
