// The keys a reload refuses to change are the code's own list (reload-plan.ts), and `las reload
// --help` and docs/configuration.md say exactly that list: they once claimed a new VIP needs a
// restart while the daemon applies it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/schema.js';
import type { LasConfig } from '../src/config/types.js';
import { KEPT_UNTIL_RESTART_KEYS, planReload, RESTART_ONLY_KEYS } from '../src/control/reload-plan.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const DOCS = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

const BASE = {
  interface: 'eth1',
  services: [{ name: 'web', vip: '10.0.0.100', port: 80, servers: [{ address: '10.0.0.11' }] }],
};

function config(extra: Record<string, unknown>): LasConfig {
  const result = parseConfig({ ...BASE, ...extra });
  assert.ok(result.ok, JSON.stringify(result));
  return result.config;
}

/** One change of each key, as a config would write it. */
const CHANGES: Record<string, Record<string, unknown>> = {
  interface: { interface: 'eth2', egressInterface: 'eth1' },
  egressInterface: { egressInterface: 'eth3' },
  workers: { workers: 2 },
  cpus: { cpus: [1] },
  txMode: { txMode: 'ring' },
  ingressDrop: { ingressDrop: 'none' },
  ring: { ring: { blockCount: 64 } },
  adminSocket: { adminSocket: '/run/las/other.sock' },
  metrics: { metrics: { listen: '127.0.0.1:9999' } },
  'flowTable.capacity': { flowTable: { capacity: 2048 } },
  'flowTable.idleTimeout': { flowTable: { idleTimeout: 60 } },
  'flowTable.persistDirectory': { flowTable: { persistDirectory: false } },
  'ha.mode': { ha: { mode: 'vrrp' } },
  'ha.vrrp.startAs': { ha: { vrrp: { startAs: 'active' } } },
  'ha.bgp': { ha: { mode: 'none', bgp: { localAddress: '10.0.0.2', localAsn: 65001, peers: [{ address: '10.0.0.1', asn: 65000 }] } } },
};

const backticked = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

describe('restart-only keys', () => {
  it('the list is what planReload refuses: each key alone refuses a reload, and only it', () => {
    const before = config({});
    for (const key of RESTART_ONLY_KEYS) {
      assert.ok(CHANGES[key], `no change written for ${key}`);
      const plan = planReload(before, config(CHANGES[key]!));
      assert.deepEqual(plan.restartKeys, [key], key);
    }
    for (const key of KEPT_UNTIL_RESTART_KEYS) {
      const plan = planReload(before, config(CHANGES[key]!));
      assert.deepEqual([plan.restartKeys, plan.notApplied], [[], [key]], key);
    }
  });

  it('a new VIP and a new service are applied, not refused', () => {
    const services = [...BASE.services, { name: 'dns', vip: '10.0.0.53', port: 53, protocol: 'udp', servers: [{ address: '10.0.0.21' }] }];
    const plan = planReload(config({}), config({ services }));
    assert.deepEqual(plan.restartKeys, []);
    assert.deepEqual(plan.servicesAdded, ['dns']);
  });

  it('`las reload --help` lists exactly these keys', () => {
    const help = spawnSync(process.execPath, [CLI, 'reload', '--help'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(help.status, 0, help.stderr);
    const block = /a key that needs a restart:\n([\s\S]*?)\n\s*Kept at the running value until a restart: (.*)\.\n/.exec(help.stdout);
    assert.ok(block, help.stdout);
    assert.deepEqual(block[1]!.split(/[,\s]+/).filter(Boolean), [...RESTART_ONLY_KEYS]);
    assert.deepEqual(block[2]!.split(', '), [...KEPT_UNTIL_RESTART_KEYS]);
    assert.doesNotMatch(help.stdout, /new VIP[^s]/);
  });

  it('docs/configuration.md lists exactly these keys', () => {
    const docs = readFileSync(DOCS, 'utf8');
    const restart = /^Restart-only \(a reload changing them is refused\): ([\s\S]*?)\.\n/m.exec(docs);
    const kept = /^Kept at the running value until a restart[^:]*: ([\s\S]*?)\.\n/m.exec(docs);
    assert.ok(restart && kept, 'the two sentences are in the Reload section');
    assert.deepEqual(backticked(restart[1]!), [...RESTART_ONLY_KEYS]);
    assert.deepEqual(backticked(kept[1]!), [...KEPT_UNTIL_RESTART_KEYS]);
    assert.doesNotMatch(docs, /new VIP\*\*|a new VIP needs a restart/i);
  });
});
