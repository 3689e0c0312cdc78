// The cost of ha.secondChance on the path it adds to: `node dist/bench/second-chance.js` runs the
// bench addon's microbenchSecondChance 5 times per case and prints the medians (ns per frame with
// the previous table kept and without it, their ratio, and the previous table's bytes).
import { loadBenchAddon } from '../src/native/bench-binding.js';

const addon = loadBenchAddon();
const cases = [
  { what: 'cache-hot', flows: 1024, rounds: 2000 },
  { what: 'cache-cold', flows: 1_000_000, rounds: 5 },
];
for (const c of cases) {
  const runs = Array.from({ length: 5 }, () => addon.microbenchSecondChance({ servers: 10, tableSize: 65_537, flows: c.flows, rounds: c.rounds }));
  const median = (pick: (r: (typeof runs)[number]) => number) => runs.map(pick).sort((a, b) => a - b)[2]!;
  console.log(JSON.stringify({
    ...c, offNs: +median((r) => r.offNs).toFixed(1), onNs: +median((r) => r.onNs).toFixed(1), ratio: +median((r) => r.onNs / r.offNs).toFixed(3),
    byPrevious: runs[0]!.byPrevious, frames: runs[0]!.frames, previousBytes: runs[0]!.previousBytes,
  }));
}
