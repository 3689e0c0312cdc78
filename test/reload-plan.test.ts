// Reload as a diff: what needs a restart is refused; servers that stay keep their health; a removed
// server drains at weight 0 until its flows end or drainTimeout; runtime overrides end.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../src/config/schema.js';
import type { LasConfig } from '../src/config/types.js';
import { planReload } from '../src/control/reload-plan.js';
import { ServerState } from '../src/control/server-state.js';

function config(extra: Record<string, unknown> = {}, service: Record<string, unknown> = {}): LasConfig {
  const result = parseConfig({
    interface: 'eth1',
    ...extra,
    services: [{
      name: 'web', vip: '10.0.0.100', port: 80, healthCheck: { type: 'tcp' },
      servers: [{ address: '10.0.0.11', mac: '02:00:00:00:00:11' }, { address: '10.0.0.12', mac: '02:00:00:00:00:12', weight: 2 }],
      ...service,
    }],
  });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  return result.config;
}

const servers = (...list: [string, number?][]) => ({ servers: list.map(([a, w]) => ({ address: a, mac: `02:00:00:00:00:${a.split('.')[3]}`, ...(w !== undefined ? { weight: w } : {}) })) });

describe('reload plan', () => {
  it('lists added, removed and changed servers and services', () => {
    const prev = config();
    const next = config({}, { scheduler: 'wlc', ...servers(['10.0.0.11', 3], ['10.0.0.13']) });
    const plan = planReload(prev, next);
    assert.deepEqual(plan.restartKeys, []);
    assert.deepEqual(plan.servicesChanged, ['web']);
    assert.deepEqual(plan.serversAdded, ['web/10.0.0.13']);
    assert.deepEqual(plan.serversRemoved, ['web/10.0.0.12']);
    assert.deepEqual(plan.serversChanged, ['web/10.0.0.11']);
  });

  it('keys fixed at start are refused, a new VIP is not; the idle bound is kept', () => {
    const plan = planReload(config(), config({ workers: 2, ring: { blockCount: 64 }, flowTable: { idleTimeout: 60 } }, { vip: '10.0.0.101' }));
    assert.deepEqual(plan.restartKeys, ['workers', 'ring']);
    assert.deepEqual(plan.notApplied, ['flowTable.idleTimeout']);
    assert.deepEqual(planReload(config(), config({ flowTimeouts: { udp: 5 }, logLevel: 'debug', adminSocketMode: '0660' })).restartKeys, []);
  });

  it('settings applied live are named, so a reload of only adminSocketMode does not say "nothing changed"', () => {
    assert.deepEqual(planReload(config(), config({ adminSocketMode: '0660' })).settingsChanged, ['adminSocketMode']);
    assert.deepEqual(planReload(config(), config({ adminSocketGroup: 'las-admin' })).settingsChanged, ['adminSocketMode', 'adminSocketGroup']);
    assert.deepEqual(planReload(config(), config({ logLevel: 'debug', flowTimeouts: { udp: 5 } })).settingsChanged, ['flowTimeouts', 'logLevel']);
    assert.deepEqual(planReload(config(), config()).settingsChanged, []);
  });
});

describe('server state across a reload', () => {
  const macs = new Map<string, string>();

  it('publishes weights, health and the down policy', () => {
    const state = ServerState.fromConfig(config({}, { onServerDown: 'keep', sorryServer: { address: '10.0.0.99', mac: '02:00:00:00:00:99' } }));
    state.setHealth('web', '10.0.0.12', 'down');
    const [svc] = state.snapshot(macs).services;
    assert.equal(svc?.onServerDown, 'keep');
    assert.deepEqual(svc?.sorryServer, { address: '10.0.0.99', mac: '02:00:00:00:00:99', weight: 1 });
    assert.deepEqual(svc?.servers.map((r) => [r.address, r.weight, r.up]), [['10.0.0.11', 1, true], ['10.0.0.12', 2, false]]);
    assert.equal(state.hasServerForNewFlows(state.service('web')!), true);
    state.setHealth('web', '10.0.0.11', 'down');
    assert.equal(state.hasServerForNewFlows(state.service('web')!), false);
  });

  it('overrides change the weight until the next config; unknown servers are errors', () => {
    const state = ServerState.fromConfig(config());
    state.setOverride('web', '10.0.0.12', { weight: 0, kind: 'drain' });
    assert.equal(state.snapshot(macs).services[0]?.servers[1]?.weight, 0);
    assert.throws(() => state.setOverride('web', '10.0.0.77', undefined), /has no server 10.0.0.77/);
    assert.throws(() => state.setOverride('nope', '10.0.0.11', undefined), /no service "nope"/);
    const { state: next } = state.withConfig(config(), 0);
    assert.equal(next.snapshot(macs).services[0]?.servers[1]?.weight, 2);
  });

  it('a removed server drains at weight 0 until its flows end or the timeout; health is kept for the others', () => {
    const state = ServerState.fromConfig(config({ drainTimeout: 30 }));
    state.setHealth('web', '10.0.0.11', 'down');
    const { state: next, draining, dropped } = state.withConfig(config({ drainTimeout: 30 }, servers(['10.0.0.11'], ['10.0.0.13'])), 1000);
    assert.deepEqual(draining, [{ service: 'web', address: '10.0.0.12' }]);
    assert.deepEqual(dropped, []);
    assert.deepEqual(next.snapshot(macs).services[0]?.servers.map((r) => [r.address, r.weight, r.up]), [
      ['10.0.0.11', 1, false], ['10.0.0.13', 1, true], ['10.0.0.12', 0, true],
    ]);
    assert.deepEqual(next.healthTargets().map((t) => t.address), ['10.0.0.11', '10.0.0.13']); // the draining one is not checked
    assert.throws(() => next.setOverride('web', '10.0.0.12', undefined), /draining/);

    // Flows left: it stays; no flows: it goes.
    assert.deepEqual(next.endDrains(() => 3, 2000), []);
    assert.deepEqual(next.endDrains(() => 0, 3000), [{ service: 'web', address: '10.0.0.12', reason: 'drained', activeFlows: 0 }]);
    assert.equal(next.snapshot(macs).services[0]?.servers.length, 2);
  });

  it('the drain times out; a later reload keeps the original deadline; re-adding ends the drain', () => {
    const c = (list: [string, number?][]) => config({ drainTimeout: 30 }, servers(...list));
    const { state: a } = ServerState.fromConfig(c([['10.0.0.11'], ['10.0.0.12']])).withConfig(c([['10.0.0.11']]), 0);
    const { state: b, draining } = a.withConfig(c([['10.0.0.11']]), 20_000);
    assert.deepEqual(draining, []); // already draining
    assert.deepEqual(b.endDrains(() => 5, 29_999), []);
    assert.deepEqual(b.endDrains(() => 5, 30_000), [{ service: 'web', address: '10.0.0.12', reason: 'timeout', activeFlows: 5 }]);

    const { state: back } = a.withConfig(c([['10.0.0.11'], ['10.0.0.12']]), 1000);
    assert.deepEqual(back.snapshot(macs).services[0]?.servers.map((r) => [r.address, r.weight]), [['10.0.0.11', 1], ['10.0.0.12', 1]]);
  });

  it('drainOnRemove false removes at once; a service with a new endpoint does not inherit drains', () => {
    const { state, dropped, draining } = ServerState.fromConfig(config()).withConfig(config({ drainOnRemove: false }, servers(['10.0.0.11'])), 0);
    assert.deepEqual(dropped, [{ service: 'web', address: '10.0.0.12' }]);
    assert.deepEqual(draining, []);
    assert.equal(state.snapshot(macs).services[0]?.servers.length, 1);
    const moved = ServerState.fromConfig(config()).withConfig(config({}, { port: 8080, ...servers(['10.0.0.11']) }), 0);
    assert.deepEqual(moved.draining, []);
  });
});
