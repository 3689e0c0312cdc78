// The server state without a MAC: a server that has not answered ARP is published down (with a
// placeholder MAC nothing is sent to) and counts for no new flows; a silent sorry server is left out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../src/config/schema.js';
import { ServerState } from '../src/control/server-state.js';

function state(): ServerState {
  const result = parseConfig({
    interface: 'eth1',
    services: [{
      name: 'web', vip: '10.0.0.100', port: 80, sorryServer: { address: '10.0.0.99' },
      servers: [{ address: '10.0.0.11' }, { address: '10.0.0.12' }, { address: '10.0.0.13', mac: '02:00:00:00:00:13', weight: 0 }],
    }],
  });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  return ServerState.fromConfig(result.config);
}

describe('servers without an ARP answer', () => {
  it('are published down; eligible means resolved, healthy and weighted', () => {
    const s = state();
    const svc = s.service('web')!;
    const macs = new Map([['10.0.0.11', '02:00:00:00:00:11']]);
    const [published] = s.snapshot(macs).services;
    assert.deepEqual(published?.servers.map((r) => [r.address, r.mac, r.up]), [
      ['10.0.0.11', '02:00:00:00:00:11', true], ['10.0.0.12', '00:00:00:00:00:00', false], ['10.0.0.13', '02:00:00:00:00:13', true],
    ]);
    assert.equal(published?.sorryServer, undefined, 'a silent sorry server is left out: new flows are dropped, counted');
    assert.equal(s.sorryReady(svc, macs), false);
    assert.equal(s.hasServerForNewFlows(svc, macs), true);

    s.setHealth('web', '10.0.0.11', 'down');          // resolved but unhealthy
    assert.equal(s.hasServerForNewFlows(svc, macs), false, '.12 is healthy but silent, .13 has weight 0');
    macs.set('10.0.0.12', '02:00:00:00:00:12');        // .12 answers
    assert.equal(s.hasServerForNewFlows(svc, macs), true);
    macs.set('10.0.0.99', '02:00:00:00:00:99');
    assert.deepEqual(s.snapshot(macs).services[0]?.sorryServer, { address: '10.0.0.99', mac: '02:00:00:00:00:99', weight: 1 });
  });
});
