// The status page's rate samples: the first sample is only a baseline, rates are per second over the
// real interval, and a counter that went back (a server removed and added again) is a rate of 0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DataplaneStats } from '../src/native/binding.js';
import type { ServiceStatus } from '../src/control/status.js';
import { RateSampler } from '../src/control/status-history.js';

const service = { name: 'web', vip: '10.0.0.100', port: 80, protocol: 'tcp' };
function at(packets: number, bytes: number, drops: number): { stats: DataplaneStats; status: ServiceStatus[] } {
  const server = { address: '10.0.0.11', packets: BigInt(packets), bytes: BigInt(bytes), newFlows: 0n, activeFlows: 3n };
  const stats = {
    workers: [{ drops: { no_server: BigInt(drops) } }, { drops: { no_server: 1n } }],
    services: [{ ...service, packets: BigInt(packets), bytes: BigInt(bytes), newFlows: 0n, noServer: 0n, servers: [server] }],
  } as unknown as DataplaneStats;
  const status = [{ ...service, servers: [{ address: server.address, packets: String(packets), bytes: String(bytes), activeFlows: 3 }] }] as unknown as ServiceStatus[];
  return { stats, status };
}

test('rates: baseline first, per second over the real interval, 0 when a counter goes back', () => {
  const sampler = new RateSampler();
  const a = at(1000, 100_000, 5);
  assert.equal(sampler.sample(10_000, a.stats, a.status), undefined);
  const b = at(3000, 300_000, 9);
  const p = sampler.sample(14_000, b.stats, b.status)!;  // 4 s later
  assert.equal(p.seq, 1);
  assert.deepEqual(p.services.web, { pps: 500, bps: 50_000, flows: 3, servers: { '10.0.0.11': { pps: 500, bps: 50_000, flows: 3 } } });
  assert.equal(p.drops.no_server, 1);           // (9 + 1) - (5 + 1) over 4 s
  const c = at(10, 1000, 9);
  const q = sampler.sample(16_000, c.stats, c.status)!;
  assert.equal(q.seq, 2);
  assert.equal(q.services.web!.pps, 0);
  assert.equal(q.drops.no_server, 0);
  assert.equal(sampler.sample(18_000, undefined, []), undefined, 'no fast path: no sample');
});
