// ha.mode "bgp" in the config: defaults, errors that name the field, restart-only on reload, and
// what LAS decides to announce (a VIP only with a server up and the dispatcher not drained).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStatus } from '../src/cli/status.js';
import { parseConfig } from '../src/config/schema.js';
import type { LasConfig } from '../src/config/types.js';
import { announceSet } from '../src/control/ha/announce-set.js';
import { planReload } from '../src/control/reload-plan.js';
import { ServerState } from '../src/control/server-state.js';

const BGP = { localAddress: '10.84.0.2', localAsn: 65001, peers: [{ address: '10.84.0.1', asn: 65000 }] };
const base = (ha?: unknown) => ({
  interface: 'eth0',
  ...(ha !== undefined ? { ha } : {}),
  services: [
    { name: 'web', vip: '10.86.0.100', port: 80, servers: [{ address: '10.84.0.11', mac: '02:00:00:00:00:11' }, { address: '10.84.0.12', mac: '02:00:00:00:00:12' }] },
    { name: 'dns', vip: '10.86.0.53', port: 53, protocol: 'udp', servers: [{ address: '10.84.0.11', mac: '02:00:00:00:00:11' }] },
  ],
});

function ok(input: unknown): LasConfig {
  const result = parseConfig(input);
  if (!result.ok) assert.fail(JSON.stringify(result.errors));
  return result.config;
}
function errors(input: unknown): Array<{ path: string; message: string }> {
  const result = parseConfig(input);
  assert.ok(!result.ok, 'refused');
  return result.errors;
}

describe('ha.bgp config', () => {
  it('without "ha" the dispatcher is alone; with mode "bgp" every default is filled in', () => {
    assert.equal(ok(base()).ha.mode, 'none');
    assert.equal(ok(base()).ha.bgp, undefined);
    const ha = ok(base({ mode: 'bgp', bgp: BGP })).ha;
    assert.equal(ha.mode, 'bgp');
    assert.deepEqual(ha.bgp, { speaker: 'bird', speakerPath: 'bird', controlPath: 'birdc', holdTime: 9, listenPort: 1179, ...BGP });
  });

  it('errors name the field and say what to write', () => {
    assert.deepEqual(errors(base({ mode: 'bgp' })).map((e) => e.path), ['ha.bgp']);
    assert.match(errors(base({ mode: 'bgp' }))[0]!.message, /"localAsn": 65001/);
    const typo = errors(base({ mode: 'bgp', bgp: { ...BGP, holdtime: 3 } }));
    assert.deepEqual(typo.map((e) => [e.path, e.message]), [['ha.bgp.holdtime', 'unknown key "holdtime": did you mean "holdTime"?']]);
    const bad = errors(base({ mode: 'bgpp', bgp: { ...BGP, localAsn: 0, holdTime: 2, peers: [], speaker: 'quagga' } }));
    assert.deepEqual(bad.map((e) => e.path).sort(), ['ha.bgp.holdTime', 'ha.bgp.localAsn', 'ha.bgp.peers', 'ha.bgp.speaker', 'ha.mode']);
    assert.match(bad.find((e) => e.path === 'ha.bgp.peers')!.message, /is empty; list the routers/);
    assert.match(errors(base({ mode: 'bgp', bgp: { ...BGP, peers: [{ address: '10.84.0.1' }] } }))[0]!.message, /router's AS number/);
  });

  it('an IPv6 VIP is refused in bgp mode, naming the service\'s vip and why; accepted without ha', () => {
    const v6 = { name: 'web6', vip: '2001:db8:86::100', port: 80, servers: [{ address: '2001:db8:84::11', mac: '02:00:00:00:00:11' }] };
    const withV6 = (ha?: unknown) => ({ ...base(ha), services: [...base().services, v6] });
    assert.equal(ok(withV6()).services.length, 3);
    const refused = errors(withV6({ mode: 'bgp', bgp: BGP }));
    assert.deepEqual(refused.map((e) => e.path), ['services[2].vip']);
    assert.match(refused[0]!.message, /"2001:db8:86::100" is IPv6, but ha.mode "bgp" announces IPv4 VIPs only .*give this service an IPv4 VIP, or run IPv6 services with ha.mode "vrrp" or "none"/);
    assert.equal(ok(withV6({ mode: 'vrrp' })).services.length, 3);
  });

  it('BIRD listens on 1179 unless told: no CAP_NET_BIND_SERVICE needed; a bad port is named', () => {
    assert.equal(ok(base({ mode: 'bgp', bgp: { ...BGP, listenPort: 179 } })).ha.bgp?.listenPort, 179);
    const bad = errors(base({ mode: 'bgp', bgp: { ...BGP, listenPort: 0 } }));
    assert.deepEqual(bad.map((e) => e.path), ['ha.bgp.listenPort']);
    assert.match(bad[0]!.message, /CAP_NET_BIND_SERVICE/);
  });

  it('a change of ha.mode or ha.bgp needs a restart', () => {
    const prev = ok(base({ mode: 'bgp', bgp: BGP }));
    assert.deepEqual(planReload(prev, ok(base({ mode: 'bgp', bgp: { ...BGP, holdTime: 30 } }))).restartKeys, ['ha.bgp']);
    assert.deepEqual(planReload(prev, ok(base())).restartKeys, ['ha.mode', 'ha.bgp']);
    assert.deepEqual(planReload(prev, ok(base({ mode: 'vrrp' }))).restartKeys, ['ha.mode', 'ha.bgp']);
    assert.deepEqual(planReload(prev, ok(base({ mode: 'bgp', bgp: BGP }))).restartKeys, []);
  });
});

describe('what is announced', () => {
  const config = ok(base({ mode: 'bgp', bgp: BGP }));
  const macs = new Map<string, string>();

  it('every VIP with a server up, next hop this dispatcher; nothing when drained', () => {
    const state = ServerState.fromConfig(config);
    assert.deepEqual(announceSet(state, macs, '10.84.0.2', false), { nextHop: '10.84.0.2', prefixes: ['10.86.0.100/32', '10.86.0.53/32'] });
    assert.deepEqual(announceSet(state, macs, '10.84.0.2', true).prefixes, []);
  });

  it('a VIP whose servers cannot take new flows is withdrawn, the others stay', () => {
    const state = ServerState.fromConfig(config);
    state.setHealth('dns', '10.84.0.11', 'down');
    assert.deepEqual(announceSet(state, macs, '10.84.0.2', false).prefixes, ['10.86.0.100/32']);
    state.setOverride('web', '10.84.0.11', { weight: 0, kind: 'drain' });
    assert.deepEqual(announceSet(state, macs, '10.84.0.2', false).prefixes, ['10.86.0.100/32'], 'one server of web is still up');
    state.setOverride('web', '10.84.0.12', { weight: 0, kind: 'drain' });
    assert.deepEqual(announceSet(state, macs, '10.84.0.2', false).prefixes, []);
  });
});

describe('las status in bgp mode', () => {
  const status = (ha: unknown) => formatStatus({ flowTable: {}, services: [], ha }).trim().split('\n').pop();
  const peers = [{ peer: '10.84.0.1 (AS 65000)', state: 'Established' }];
  it('says what is announced, to which peers, or why nothing is', () => {
    assert.equal(status({ mode: 'bgp', drained: false, speaker: { running: true, error: null }, announced: { prefixes: ['10.86.0.100/32'] }, peers }),
      'bgp: announcing 10.86.0.100/32; peers: 10.84.0.1 (AS 65000) Established');
    assert.equal(status({ mode: 'bgp', drained: true, speaker: { running: true, error: null }, announced: { prefixes: [] }, peers }),
      'bgp: DRAINED, nothing announced; peers: 10.84.0.1 (AS 65000) Established');
    assert.equal(status({ mode: 'bgp', drained: false, speaker: { running: false, error: 'no bird' }, announced: { prefixes: [] }, peers: [] }),
      'bgp: SPEAKER DOWN (no bird)');
    assert.doesNotMatch(formatStatus({ flowTable: {}, services: [], ha: { mode: 'none' } }), /bgp:/);
  });
});
