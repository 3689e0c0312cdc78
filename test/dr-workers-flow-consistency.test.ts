// Several workers must not change what a client sees. With `workers` > 1 each I/O thread owns a
// shard of the flow table, so every frame of a flow has to reach the worker that owns that flow:
// for flowKey "addresses" every frame from one client address, for "5tuple" every frame of one
// connection. If frames of one client address were spread by ports, each worker would schedule
// that client afresh and (for the stateful schedulers wrr, rr, wlc) pick a different server.
//
// One segment for every combination (workers 2 and 4 × five schedulers × two flow keys): the
// daemon is restarted with a rewritten config for each, which keeps the whole test near a minute
// instead of building twenty segments.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SCHEDULERS, type FlowKey, type Scheduler } from '../src/native/contract.js';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { assertNoWrongWorker, describeWorkers, statsView } from './support/worker-stats.js';
import { needsRoot } from './support/needs-root.js';

const WORKER_COUNTS = [2, 4];
const SERVERS = 3;
// 24 source addresses: with one flow per address, the chance that a (src,dst) hash puts all of them
// on one worker is 2^-23 for two workers, so "more than one worker owns flows" cannot flake.
const SOURCES = 24;
const PER_SOURCE_ADDRESSES = 8;          // requests per source with flowKey "addresses"
const CONNECTIONS_5TUPLE = 240;          // 10 per source with flowKey "5tuple"
const SINGLE_SOURCE_CONNECTIONS = 64;     // then from one source address only, with flowKey "5tuple"
// Share tolerance for "5tuple" (equal weights, so every server should get 1/3 of the connections):
// - maglev: each connection hashes independently (random ephemeral ports), so a server's count is
//   binomial(240, 1/3): sd = sqrt(240 * 1/3 * 2/3) = 7.3 connections = 0.030 of the share. ±0.15 is
//   five sd, a false failure about once in a million checks.
// - wrr, rr, wlc: each worker schedules its own new flows in strict turn (its own cursor, or its own
//   least-flows count), so a server's count is within ±1 per worker of an exact third: at most ±4 of
//   240 with four workers (0.017), plus a connection or two that reuses a live 5-tuple and follows
//   the old flow. ±0.05 (12 connections) leaves room for that and nothing else.
// - sh: the client address alone picks the server, so "5tuple" still keeps each address on one server
//   and the spread is that of the 24 addresses: checked as stickiness plus "more than one server".
const TOLERANCE: Record<Scheduler, number> = { maglev: 0.15, wrr: 0.05, rr: 0.05, wlc: 0.05, sh: 1 };

async function restartWith(lab: DrLab, base: DrLab['config'], workers: number, scheduler: Scheduler, flowKey: FlowKey): Promise<void> {
  const [service] = base.services;
  assert.ok(service);
  await lab.writeConfig({ ...base, workers, services: [{ ...service, scheduler, flowKey }] });
  await lab.restart();
}

/** Every source was answered, and only ever by one server; returns the servers used. */
function assertSticky(bySource: Record<string, Record<string, number>>, sources: string[], perSource: number): Set<string> {
  assert.deepEqual(Object.keys(bySource).sort(), [...sources].sort(), `sources answered: ${JSON.stringify(bySource)}`);
  const used = new Set<string>();
  for (const source of sources) {
    const servers = bySource[source] ?? {};
    assert.equal(Object.keys(servers).length, 1, `${source} was answered by ${JSON.stringify(servers)}: expected one server`);
    assert.equal(Object.values(servers)[0], perSource, `${source}: ${JSON.stringify(servers)}`);
    used.add(Object.keys(servers)[0] as string);
  }
  return used;
}

test('workers 2 and 4, every scheduler: "addresses" keeps each client address on one server, "5tuple" spreads connections; no frame reaches a worker that does not own its flow', { timeout: 900_000, skip: needsRoot('network namespaces') }, async (t) => {
  const started = Date.now();
  await withDrLab({ servers: SERVERS, clientAddresses: SOURCES, startDaemon: false }, async (lab) => {
    const base = lab.config;
    const sources = lab.segment.client.sources;
    assert.equal(sources.length, SOURCES);
    const names = lab.segment.servers.map((s) => s.name);

    for (const workers of WORKER_COUNTS) {
      for (const scheduler of SCHEDULERS) {
        await t.test(`workers ${workers}, ${scheduler}, flowKey addresses: ${SOURCES} addresses × ${PER_SOURCE_ADDRESSES} connections, each address answered by one server`, { timeout: 90_000 }, async (st) => {
          await restartWith(lab, base, workers, scheduler, 'addresses');
          const result = await lab.runClient({ requests: SOURCES * PER_SOURCE_ADDRESSES, concurrency: 16, timeoutMs: 5000 });
          const view = await statsView(lab);
          st.diagnostic(`${JSON.stringify(result.byServer)} in ${result.durationMs} ms; ${describeWorkers(view)}`);
          assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.errors)}`);
          const used = assertSticky(result.bySource, sources, PER_SOURCE_ADDRESSES);
          assert.ok(used.size >= 2, `all ${SOURCES} addresses went to ${[...used].join(', ')}`);

          assert.equal(view.workers.length, workers, `stats list ${view.workers.length} workers`);
          assertNoWrongWorker(view, `workers ${workers} ${scheduler} addresses`);
          // One flow per client address, in exactly one shard: a second entry for an address in
          // another shard would mean its frames reached two workers.
          const flows = view.workers.reduce((sum, w) => sum + w.flowsActive, 0);
          assert.equal(flows, SOURCES, `live flows over all shards ${flows}, want one per address (${describeWorkers(view)})`);
          assert.equal(view.serviceNewFlows, SOURCES, `new flows ${view.serviceNewFlows}, want one per address`);
          const owning = view.workers.filter((w) => w.flowsActive > 0).length;
          assert.ok(owning >= 2, `only ${owning} of ${workers} workers own flows (${describeWorkers(view)})`);
        });

        await t.test(`workers ${workers}, ${scheduler}, flowKey 5tuple: ${CONNECTIONS_5TUPLE} connections spread over the servers`, { timeout: 90_000 }, async (st) => {
          await restartWith(lab, base, workers, scheduler, '5tuple');
          const result = await lab.runClient({ requests: CONNECTIONS_5TUPLE, concurrency: 16, timeoutMs: 5000 });
          const view = await statsView(lab);
          const shares = names.map((n) => `${n} ${(((result.byServer[n] ?? 0) / Math.max(1, result.ok)) * 100).toFixed(1)}%`).join(', ');
          st.diagnostic(`${shares} in ${result.durationMs} ms; ${describeWorkers(view)}`);
          assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.errors)}`);
          assert.equal(result.ok, CONNECTIONS_5TUPLE);
          if (scheduler === 'sh') {
            const used = assertSticky(result.bySource, sources, CONNECTIONS_5TUPLE / SOURCES);
            assert.ok(used.size >= 2, `sh: all ${SOURCES} addresses went to ${[...used].join(', ')}`);
          } else {
            const tolerance = TOLERANCE[scheduler];
            for (const name of names) {
              const share = (result.byServer[name] ?? 0) / result.ok;
              assert.ok(Math.abs(share - 1 / SERVERS) <= tolerance, `${name}: share ${share.toFixed(3)} vs ${(1 / SERVERS).toFixed(3)} ± ${tolerance} (${shares})`);
            }
          }

          assert.equal(view.workers.length, workers, `stats list ${view.workers.length} workers`);
          assertNoWrongWorker(view, `workers ${workers} ${scheduler} 5tuple`);
          // 240 connections hashed over at most 4 workers: a worker without any is a (3/4)^240 event.
          for (const w of view.workers) assert.ok(w.flowsActive > 0, `worker ${w.index} owns no flow of ${CONNECTIONS_5TUPLE} connections (${describeWorkers(view)})`);
          const flows = view.workers.reduce((sum, w) => sum + w.flowsActive, 0);
          assert.ok(flows <= CONNECTIONS_5TUPLE && flows >= CONNECTIONS_5TUPLE - 10, `live flows ${flows} for ${CONNECTIONS_5TUPLE} connections (${describeWorkers(view)})`);

          // The connections of ONE client address are flows of their own too: the ports must spread
          // them over the workers (one busy client, or many behind one NAT address, must not load a
          // single worker). Linux connects from even source ports, so a hash that only sees the low
          // bits of the source port would put them all on half the workers or fewer. 64 connections
          // with random ports leave a worker empty with probability 4 × (3/4)^64 ≈ 4e-8.
          const single = await lab.runClient({ requests: SINGLE_SOURCE_CONNECTIONS, sources: [sources[0] as string], concurrency: 8, timeoutMs: 5000 });
          assert.equal(single.failed, 0, `one-address failures: ${JSON.stringify(single.errors)}`);
          const after = await statsView(lab);
          const gained = after.workers.map((w, i) => w.flowsActive - (view.workers[i]?.flowsActive ?? 0));
          st.diagnostic(`${SINGLE_SOURCE_CONNECTIONS} connections from ${sources[0]}: new flows per worker ${gained.join('/')}`);
          assertNoWrongWorker(after, `workers ${workers} ${scheduler} 5tuple, one address`);
          gained.forEach((n, i) => assert.ok(n > 0, `worker ${i} got none of ${SINGLE_SOURCE_CONNECTIONS} connections from one client address (new flows per worker ${gained.join('/')})`));
        });
      }
    }
  });
  t.diagnostic(`duration ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
