// The reloader without root: a real config file, the real server state and a real (not started)
// fast path, whose snapshot shows what it took. A refusal is an outcome with its reason, changes
// nothing and is counted; an accepted config reaches the fast path and the rest adopts it; a reload
// asked while another is being adopted is adopted after it, as a diff against its result.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile } from '../src/config/load.js';
import type { LasConfig } from '../src/config/types.js';
import { createLogger } from '../src/control/logger.js';
import { buildDataplaneOptions } from '../src/control/native-snapshot.js';
import { Reloader, type AcceptedConfig, type ReloadOutcome } from '../src/control/reload.js';
import { ServerMacs } from '../src/control/server-macs.js';
import { ServerState } from '../src/control/server-state.js';
import { loadAddon, type NativeDataplane } from '../src/native/binding.js';

const log = createLogger('silent');

function configJson(services: Array<{ name: string; vip: string }>, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    interface: 'lo',
    ...extra,
    // Every server has its MAC: nothing waits for ARP.
    services: services.map((s, i) => ({ ...s, port: 80, servers: [{ address: `10.0.0.${11 + i}`, mac: `02:00:00:00:00:${11 + i}` }] })),
  });
}

/** A daemon reduced to what the reloader touches; adopt() records each accepted config. */
async function harness(path: string) {
  const loaded = await loadConfigFile(path);
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
  let state = ServerState.fromConfig(loaded.config);
  const dataplane: NativeDataplane = new (loadAddon().Dataplane)(buildDataplaneOptions(loaded.config, 'sendmmsg', 1), state.snapshot(new Map()));
  const adopted: AcceptedConfig[] = [];
  let hook = async (_accepted: AcceptedConfig) => {};
  const reloader = new Reloader(path, new ServerMacs('lo', log), {
    state: () => state,
    dataplane: () => dataplane,
    adopt: async (accepted) => {
      await hook(accepted);
      adopted.push(accepted);
      state = accepted.state;
    },
  }, loaded.config.flowTable.idleTimeout, log);
  return {
    reloader, adopted,
    config: (): LasConfig => state.config,
    fastPathVips: () => dataplane.stats().services.map((s) => s.vip).sort(),
    /** Runs before each adopt completes (a test may hold it there). */
    onAdopt: (fn: typeof hook) => { hook = fn; },
  };
}

describe('reloader', () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'las-reload-outcome-')); });
  after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

  it('a new VIP: the fast path takes it, the rest adopts it, the answer says what changed', async () => {
    const path = join(dir, 'add.json');
    await writeFile(path, configJson([{ name: 'web', vip: '10.0.0.100' }]));
    const h = await harness(path);
    await writeFile(path, configJson([{ name: 'web', vip: '10.0.0.100' }, { name: 'api', vip: '10.0.0.101' }]));
    const outcome = await h.reloader.reload();
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.deepEqual(outcome.answer.servicesAdded, ['api']);
    assert.deepEqual(h.fastPathVips(), ['10.0.0.100', '10.0.0.101']);
    assert.equal(h.adopted.length, 1);
    assert.equal(h.adopted[0]?.vipsChanged, true);
    assert.deepEqual(h.config().services.map((s) => s.name), ['web', 'api']);
    const { ok, refused, lastOk } = h.reloader.counts;
    assert.deepEqual({ ok, refused, lastOk }, { ok: 1, refused: 0, lastOk: true });
  });

  it('a broken file and a restart-only key are refused with their reasons and change nothing', async () => {
    const path = join(dir, 'refuse.json');
    await writeFile(path, configJson([{ name: 'web', vip: '10.0.0.100' }]));
    const h = await harness(path);

    await writeFile(path, '{ "interface": "lo", "services": [ ');
    const broken = await h.reloader.reload();
    assert.equal(broken.ok, false);
    assert.match((broken as Extract<ReloadOutcome, { ok: false }>).reason, /refuse\.json/);

    await writeFile(path, configJson([{ name: 'web', vip: '10.0.0.100' }, { name: 'api', vip: '10.0.0.101' }], { workers: 2 }));
    const restart = await h.reloader.reload();
    assert.equal(restart.ok, false);
    assert.match((restart as Extract<ReloadOutcome, { ok: false }>).reason, /workers can only change with a restart/);

    assert.equal(h.adopted.length, 0);
    assert.deepEqual(h.fastPathVips(), ['10.0.0.100']);
    assert.deepEqual(h.config().services.map((s) => s.name), ['web']);
    const { ok, refused, lastOk } = h.reloader.counts;
    assert.deepEqual({ ok, refused, lastOk }, { ok: 0, refused: 2, lastOk: false }); // las_config_last_reload_successful 0
  });

  it('a reload asked while another is being adopted comes after it, as a diff against its result', async () => {
    const path = join(dir, 'order.json');
    await writeFile(path, configJson([{ name: 'web', vip: '10.0.0.100' }]));
    const h = await harness(path);
    await writeFile(path, configJson([{ name: 'web', vip: '10.0.0.100' }, { name: 'api', vip: '10.0.0.101' }]));
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    let firstEntered!: () => void;
    const entered = new Promise<void>((resolve) => { firstEntered = resolve; });
    const calls: string[] = [];
    h.onAdopt(async (accepted) => {
      calls.push(accepted.next.services.map((s) => s.name).join('+'));
      if (calls.length === 1) {
        firstEntered();
        await held; // the first reload stays inside adopt until released
      }
    });
    const first = h.reloader.reload();
    await entered;
    const second = h.reloader.reload();
    // The second reload is queued behind the first: even the file it will read is not read yet.
    await writeFile(path, configJson([{ name: 'web', vip: '10.0.0.100' }, { name: 'api', vip: '10.0.0.101' }, { name: 'db', vip: '10.0.0.102' }]));
    assert.deepEqual(calls, ['web+api']);
    release();
    const [a, b] = await Promise.all([first, second]);
    assert.ok(a.ok && b.ok);
    assert.deepEqual(calls, ['web+api', 'web+api+db']);
    assert.deepEqual(b.answer.servicesAdded, ['db']);
  });
});
