// Reading the daemon's `stats` verb for the multi-worker tests: per-worker counters (with the
// fanout's `wrongWorker`), and per-server new flows summed over services.
import assert from 'node:assert/strict';
import type { DrLab } from './dr-lab.js';
import { isObject, num, type Json } from './json.js';

export interface WorkerView {
  index: number;
  rxPackets: number;
  flowsActive: number;
  /** undefined when the daemon does not report it (then the assertion on it fails, naming the field). */
  wrongWorker: number | undefined;
  drops: Record<string, number>;
  raw: Json;
}

export interface StatsView {
  workers: WorkerView[];
  newFlows: Map<string, number>;   // server address -> new flows, all services
  serviceNewFlows: number;
  raw: Json;
}

export async function statsView(lab: DrLab): Promise<StatsView> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.workers) && Array.isArray(stats.services), `stats shape: ${JSON.stringify(stats)}`);
  const workers = stats.workers.filter(isObject).map((w, index): WorkerView => {
    const drops: Record<string, number> = {};
    if (isObject(w.drops)) for (const [reason, value] of Object.entries(w.drops)) drops[reason] = num(value);
    return {
      index,
      rxPackets: num(w.rxPackets),
      flowsActive: num(w.flowsActive),
      wrongWorker: w.wrongWorker === undefined ? undefined : num(w.wrongWorker),
      drops,
      raw: w,
    };
  });
  const newFlows = new Map<string, number>();
  let serviceNewFlows = 0;
  for (const service of stats.services.filter(isObject)) {
    serviceNewFlows += num(service.newFlows);
    for (const server of (Array.isArray(service.servers) ? service.servers : []).filter(isObject)) {
      newFlows.set(String(server.address), (newFlows.get(String(server.address)) ?? 0) + num(server.newFlows));
    }
  }
  return { workers, newFlows, serviceNewFlows, raw: stats };
}

/** Every worker reports `wrongWorker` and it is 0: no frame reached a worker that does not own its flow. */
export function assertNoWrongWorker(view: StatsView, what: string): void {
  for (const w of view.workers) {
    assert.ok(w.wrongWorker !== undefined, `${what}: worker ${w.index} reports no "wrongWorker" counter: ${JSON.stringify(w.raw)}`);
    assert.equal(w.wrongWorker, 0, `${what}: worker ${w.index} got ${w.wrongWorker} frames of flows another worker owns`);
  }
}

/** Compact per-worker summary for diagnostics and failure messages. */
export function describeWorkers(view: StatsView): string {
  return view.workers.map((w) => {
    const drops = Object.entries(w.drops).filter(([, n]) => n > 0).map(([r, n]) => `${r}=${n}`).join(',');
    return `w${w.index}: rx ${w.rxPackets} flows ${w.flowsActive} wrong ${w.wrongWorker ?? '-'}${drops ? ` drops ${drops}` : ''}`;
  }).join('; ');
}
