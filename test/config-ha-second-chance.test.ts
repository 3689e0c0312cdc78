// ha.secondChance in the config: its default, its range, errors that name the key and say the fix,
// the value the fast path gets with every snapshot, and a reload that changes it applied live.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/config/schema.js';
import type { LasConfig } from '../src/config/types.js';
import { planReload } from '../src/control/reload-plan.js';
import { ServerState } from '../src/control/server-state.js';

const base = { interface: 'eth0', services: [{ name: 'web', vip: '10.0.0.100', port: 80, servers: [{ address: '10.0.0.11' }] }] };

function ok(input: unknown): LasConfig {
  const r = parseConfig(input);
  assert.ok(r.ok, JSON.stringify(r));
  return r.config;
}
function errors(input: unknown): string[] {
  const r = parseConfig(input);
  assert.ok(!r.ok, 'refused');
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('default: one dispatcher (mode none), second chance off; a window is passed to the fast path in ms', () => {
  const config = ok(base);
  assert.equal(config.ha.mode, 'none');
  assert.deepEqual(config.ha.secondChance, { window: 0 });
  assert.equal(ServerState.fromConfig(config).snapshot(new Map()).secondChanceMs, 0);
  const on = ok({ ...base, ha: { secondChance: { window: 60 } } });
  assert.equal(ServerState.fromConfig(on).snapshot(new Map([['10.0.0.11', '02:00:00:00:00:11']])).secondChanceMs, 60_000);
  assert.deepEqual(ok({ ...base, ha: { mode: 'vrrp', secondChance: { window: 30 } } }).ha.secondChance, { window: 30 }, 'any mode');
});

test('bad values and keys name the field and the fix', () => {
  for (const window of [-1, 1.5, 86_401, '60', true]) {
    const [first] = errors({ ...base, ha: { secondChance: { window } } });
    assert.match(first!, /^ha\.secondChance\.window: .*not an integer from 0 to 86400.*0 \(the default\) is off/, first);
  }
  assert.match(errors({ ...base, ha: { secondChance: { windwo: 5 } } })[0]!, /^ha\.secondChance\.windwo: unknown key "windwo": did you mean "window"\?/);
  assert.match(errors({ ...base, ha: { secondchance: {} } })[0]!, /^ha\.secondchance: unknown key "secondchance": did you mean "secondChance"\?/);
  assert.match(errors({ ...base, ha: { mode: 'keepalived' } })[0]!, /^ha\.mode: .*"none", "vrrp", "bgp"/);
});

test('a reload that changes the window applies it live (named among the settings changed)', () => {
  const plan = planReload(ok(base), ok({ ...base, ha: { secondChance: { window: 300 } } }));
  assert.deepEqual(plan.restartKeys, []);
  assert.deepEqual(plan.settingsChanged, ['ha.secondChance']);
  assert.deepEqual(planReload(ok(base), ok(base)).settingsChanged, []);
});
