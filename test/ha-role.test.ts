// The HA role controller (src/control/ha-role.ts) without a dataplane: what a new active sends,
// when, what cancels it, and the warnings for a missing keepalived or one that never calls.
// Timers are node:test's mock timers, so nothing here depends on the machine's speed.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { VRRP_DEFAULTS } from '../src/config/ha-vrrp.js';
import { findKeepalived, HaRole, ROLE_WAIT_MS } from '../src/control/ha-role.js';

function fixture(mode: 'none' | 'vrrp' = 'vrrp', vrrp = VRRP_DEFAULTS) {
  const calls: string[] = [];
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as { level: number; msg: string }); } });
  const role = new HaRole(mode, vrrp, { setActive: (a) => calls.push(a ? 'active' : 'standby'), announce: () => calls.push('garp') }, log);
  return { role, calls, lines };
}

describe('HA role', () => {
  it('vrrp mode starts standby; becoming active sends garpMasterRepeat gratuitous ARPs now and as many after garpMasterDelay', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { role, calls } = fixture();
    assert.equal(role.active, false);
    assert.equal(role.set('active').role, 'active');
    assert.deepEqual(calls, ['active', 'garp', 'garp', 'garp', 'garp', 'garp']);
    t.mock.timers.tick(VRRP_DEFAULTS.garpMasterDelay * 1000 - 1);
    assert.equal(calls.length, 6);
    t.mock.timers.tick(1);
    assert.equal(calls.filter((c) => c === 'garp').length, 10);
    assert.equal(role.view().gratuitousArpSets, 2);
    role.close();
  });

  it('going standby before the second set cancels it; the same role again changes nothing', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { role, calls } = fixture('vrrp', { startAs: 'standby', garpMasterRepeat: 2, garpMasterDelay: 3 });
    role.set('active');
    role.set('standby');
    role.set('standby');
    t.mock.timers.tick(10_000);
    assert.deepEqual(calls, ['active', 'garp', 'garp', 'standby']);
    assert.equal(role.view().changes, 2);
    assert.equal(role.view().toldBy, 'las role');
  });

  it('garpMasterRepeat 0 sends none; garpMasterDelay 0 sends no second set', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const none = fixture('vrrp', { startAs: 'standby', garpMasterRepeat: 0, garpMasterDelay: 5 });
    none.role.set('active');
    t.mock.timers.tick(10_000);
    assert.deepEqual(none.calls, ['active']);
    const once = fixture('vrrp', { startAs: 'standby', garpMasterRepeat: 1, garpMasterDelay: 0 });
    once.role.set('active');
    t.mock.timers.tick(10_000);
    assert.deepEqual(once.calls, ['active', 'garp']);
  });

  it('ha.mode "none" is always active and refuses "las role", naming ha.mode', () => {
    const { role, calls } = fixture('none');
    assert.equal(role.active, true);
    assert.throws(() => role.set('standby'), /ha\.mode is "none": this dispatcher is always active; set "ha": \{ "mode": "vrrp" \}/);
    assert.deepEqual(calls, []);
  });

  it('no keepalived installed: an error naming keepalived, and the dispatcher becomes active (a single dispatcher)', async () => {
    const { role, calls, lines } = fixture();
    await role.started(Promise.resolve(undefined));
    assert.equal(role.active, true);
    assert.equal(role.view().toldBy, 'no keepalived');
    assert.equal(calls[0], 'active');
    const error = lines.find((l) => l.level === 50);
    assert.match(error?.msg ?? '', /keepalived is not installed.*becomes active as a single dispatcher.*apt install keepalived/);
    role.close();
  });

  it('keepalived installed but no "las role" within ROLE_WAIT_MS: a warning saying what is missing; the role stays', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { role, calls, lines } = fixture();
    await role.started(Promise.resolve('/usr/sbin/keepalived'));
    t.mock.timers.tick(ROLE_WAIT_MS - 1);
    assert.equal(lines.filter((l) => l.level === 40).length, 0);
    t.mock.timers.tick(1);
    const warning = lines.find((l) => l.level === 40);
    assert.match(warning?.msg ?? '', /keepalived has not told this dispatcher its role .* stays standby and forwards nothing; check that keepalived runs here and that its notify_master/);
    assert.deepEqual(calls, []);
  });

  it('a "las role" before ROLE_WAIT_MS: no warning', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { role, lines } = fixture();
    await role.started(Promise.resolve('/usr/sbin/keepalived'));
    role.set('standby');
    t.mock.timers.tick(ROLE_WAIT_MS * 2);
    assert.equal(lines.filter((l) => l.level >= 40).length, 0);
  });

  it('findKeepalived looks on PATH', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'las-ha-role-'));
    try {
      await writeFile(join(dir, 'keepalived'), '#!/bin/sh\n');
      await chmod(join(dir, 'keepalived'), 0o755);
      assert.equal(await findKeepalived(dir), join(dir, 'keepalived'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
