// `las explain --config FILE --offline`: the answer from the config alone, without a daemon or root.
// A server published down (--down) takes no new flow, and Maglev moves only the flows it had.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../src/config/schema.js';
import { explainOffline } from '../src/control/explain.js';
import { loadAddon, type ExplainTuple } from '../src/native/binding.js';
import { las } from './support/control.js';

const CONFIG = {
  interface: 'lo',
  workers: 2,
  services: [
    { name: 'web', vip: '10.0.0.100', port: 80, servers: [{ address: '10.0.0.11' }, { address: '10.0.0.12', weight: 2 }, { address: '10.0.0.13' }] },
    { name: 'api', vip: '10.0.0.100', port: 8080, scheduler: 'wrr', sorryServer: { address: '10.0.0.99' }, servers: [{ address: '10.0.0.11' }] },
  ],
};

describe('las explain offline', () => {
  let dir = '';
  let file = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'las-explain-'));
    file = join(dir, 'las.json');
    // No daemon listens on this socket: without --offline the config answers all the same.
    await writeFile(file, JSON.stringify({ ...CONFIG, adminSocket: join(dir, 'admin.sock') }));
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('with no daemon on the config\'s socket: names the service, the key, the worker, the Maglev slot and the server; exit 0', async () => {
    const r = await las(['explain', 'tcp', '198.51.100.7:40112', '10.0.0.100:80', '-c', file]);
    assert.match(r.stdout, /answered by +the config \(offline/);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /service +web \(tcp\/80 on 10\.0\.0\.100, maglev, flow key 5tuple\)/);
    assert.match(r.stdout, /worker +[01] \(fanout hash/);
    assert.match(r.stdout, /Maglev slot \d+ of 65537 -> 10\.0\.0\.1[123], weight [12] of 4/);
  });

  it('a port without a service and an address that is not a VIP exit 2 and say why', async () => {
    const none = await las(['explain', 'tcp', '198.51.100.7:40112', '10.0.0.100:81', '-c', file, '--offline']);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /no tcp service on 10\.0\.0\.100 port 81 \(this VIP has: web tcp\/80, api tcp\/8080\)/);
    const other = await las(['explain', 'tcp', '198.51.100.7:40112', '10.0.0.200:80', '-c', file, '--offline', '--json']);
    assert.equal(other.code, 2);
    assert.equal((JSON.parse(other.stdout) as { verdict: string }).verdict, 'not-vip');
  });

  it('with its only server down, the wrr service sends new flows to the sorry server', async () => {
    const r = await las(['explain', 'tcp', '198.51.100.7:40112', '10.0.0.100:8080', '-c', file, '--down', '10.0.0.11', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const x = JSON.parse(r.stdout) as { verdict: string; server: { address: string; sorry: boolean } };
    assert.deepEqual([x.verdict, x.server], ['sorry', { address: '10.0.0.99', weight: 1, up: true, sorry: true }]);
  });

  it('--down moves exactly the flows of the down server, and none to it', () => {
    const parsed = parseConfig(CONFIG);
    assert.ok(parsed.ok);
    const tuples: ExplainTuple[] = Array.from({ length: 500 }, (_, i) => ({ protocol: 'tcp', client: `198.51.100.${1 + (i % 250)}`, clientPort: 20000 + i, vip: '10.0.0.100', port: 80 }));
    const up = explainOffline(loadAddon(), parsed.config, tuples, []);
    const down = explainOffline(loadAddon(), parsed.config, tuples, ['10.0.0.12']);
    let moved = 0;
    for (let i = 0; i < tuples.length; i++) {
      const was = up[i]!.server!.address;
      const now = down[i]!.server!.address;
      assert.notEqual(now, '10.0.0.12');
      if (was !== '10.0.0.12') assert.equal(now, was, `tuple ${i} did not belong to the down server and kept its server`);
      else moved++;
    }
    assert.ok(moved > 0, 'some flows belonged to the down server');
  });

  it('an unknown --down address and --down without --config are refused with the fix', async () => {
    const unknown = await las(['explain', 'tcp', '198.51.100.7:40112', '10.0.0.100:80', '-c', file, '--down', '10.0.0.77']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--down 10\.0\.0\.77: no service has that server; servers: 10\.0\.0\.11, 10\.0\.0\.12, 10\.0\.0\.13/);
    const noConfig = await las(['explain', 'tcp', '198.51.100.7:40112', '10.0.0.100:80', '--down', '10.0.0.11']);
    assert.equal(noConfig.code, 1);
    assert.match(noConfig.stderr, /pass --config FILE/);
  });

  it('--help shows examples', async () => {
    const r = await las(['explain', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:\n {2}sudo las explain tcp 198\.51\.100\.7:40112 10\.0\.0\.100:80/);
  });
});
