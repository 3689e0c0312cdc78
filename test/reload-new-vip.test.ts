// A reload can add a VIP: the socket filter, the ingress drop and the snapshot all learn it without
// a restart, and the running VIP keeps working.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { lasOk } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const NEW_VIP = '10.77.0.101';

test('a reload that adds a service on a new VIP serves it at once; the kernel stays off it', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => {
  await withDrLab({ servers: 3 }, async (lab) => {
    const good = lab.config;
    for (const server of lab.segment.servers) await lab.exec(server.role, 'ip', ['addr', 'add', `${NEW_VIP}/32`, 'dev', 'lo']);
    // Before the reload nobody answers ARP for the new VIP: requests fail.
    const before = await lab.runClient({ url: `http://${NEW_VIP}/`, requests: 1, timeoutMs: 1500 });
    assert.equal(before.ok, 0);

    const base = good.services[0]!;
    await lab.writeConfig({ ...good, services: [...good.services, { ...base, name: 'web2', vip: NEW_VIP }] });
    assert.match(await lasOk(lab, ['reload']), /reloaded/);

    const added = await lab.runClient({ url: `http://${NEW_VIP}/`, requests: 60, concurrency: 5 });
    assert.equal(added.failed, 0, JSON.stringify(added.errors));
    assert.ok(Object.keys(added.byServer).length >= 2, JSON.stringify(added.byServer));
    const old = await lab.runClient({ requests: 30, concurrency: 5 });
    assert.equal(old.failed, 0, JSON.stringify(old.errors));

    const filter = (await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', 'eth0', 'ingress'])).stdout;
    const bytecode = /bytecode '([^']+)'/.exec(filter)?.[1] ?? '';
    const newVipWord = String((10 << 24 | 77 << 16 | 0 << 8 | 101) >>> 0);
    assert.ok(bytecode.split(',').some((ins) => ins.endsWith(` ${newVipWord}`)), `ingress drop covers ${NEW_VIP}: ${filter}`);
  });
});
