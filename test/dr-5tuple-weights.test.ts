// Weights through the real daemon: with flowKey "5tuple" every connection is scheduled on its own,
// so the servers' shares of many connections follow their weights 1:2:3.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab, type LabServiceOptions } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 90_000, skip: needsRoot('network namespaces') };
const WEIGHTS = [1, 2, 3];
const SOURCES = 6;
const REQUESTS = 720;   // 120 per source address; a multiple of the weight total 6

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN);

async function newFlowsByServer(lab: DrLab): Promise<Map<string, number>> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.services), `stats: ${JSON.stringify(stats)}`);
  const out = new Map<string, number>();
  for (const service of stats.services.filter(isObject)) {
    for (const server of (Array.isArray(service.servers) ? service.servers : []).filter(isObject)) {
      out.set(String(server.address), (out.get(String(server.address)) ?? 0) + num(server.newFlows));
    }
  }
  return out;
}

async function checkShares(service: LabServiceOptions, tolerance: number, note: (line: string) => void): Promise<void> {
  await withDrLab({ servers: 3, clientAddresses: SOURCES, service: { ...service, weights: WEIGHTS } }, async (lab) => {
    const result = await lab.runClient({ requests: REQUESTS, concurrency: 12, timeoutMs: 5000 });
    assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.errors)}`);
    assert.equal(result.ok, REQUESTS);
    assert.equal(Object.keys(result.bySource).length, SOURCES, `sources: ${Object.keys(result.bySource).join(', ')}`);

    const total = WEIGHTS.reduce((a, b) => a + b, 0);
    const report = lab.segment.servers.map((s, i) => {
      const got = (result.byServer[s.name] ?? 0) / result.ok;
      return `${s.name} w${WEIGHTS[i]}: ${(got * 100).toFixed(1)}% (want ${((100 * (WEIGHTS[i] ?? 0)) / total).toFixed(1)}%)`;
    }).join(', ');
    note(report);
    lab.segment.servers.forEach((s, i) => {
      const want = (WEIGHTS[i] ?? 0) / total;
      const got = (result.byServer[s.name] ?? 0) / result.ok;
      assert.ok(Math.abs(got - want) <= tolerance, `${s.name}: share ${got.toFixed(3)} vs ${want.toFixed(3)} ± ${tolerance} (${report})`);
    });

    // The dispatcher's own view agrees: the new flows it scheduled are spread the same way.
    const flows = await newFlowsByServer(lab);
    const flowTotal = [...flows.values()].reduce((a, b) => a + b, 0);
    assert.ok(flowTotal > 0 && flowTotal <= REQUESTS, `new flows ${flowTotal} for ${REQUESTS} connections`);
    lab.segment.servers.forEach((s, i) => {
      const want = (WEIGHTS[i] ?? 0) / total;
      const got = (flows.get(s.address) ?? 0) / flowTotal;
      assert.ok(Math.abs(got - want) <= tolerance, `${s.name} (${s.address}): ${got.toFixed(3)} of the new flows vs ${want.toFixed(3)} ± ${tolerance}`);
    });
  });
}

test(`maglev, flowKey 5tuple, weights 1:2:3: each server's share of ${REQUESTS} connections within ±0.08 of 1/6, 2/6, 3/6`, TEST_OPTIONS, async (t) => {
  await checkShares({ flowKey: '5tuple', scheduler: 'maglev' }, 0.08, (line) => t.diagnostic(line));
});

test(`wrr, flowKey 5tuple, weights 1:2:3: each server's share of ${REQUESTS} connections within ±0.05 of 1/6, 2/6, 3/6`, TEST_OPTIONS, async (t) => {
  await checkShares({ flowKey: '5tuple', scheduler: 'wrr' }, 0.05, (line) => t.diagnostic(line));
});
