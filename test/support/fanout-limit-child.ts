// Runs inside a fresh network namespace for test/config-limits.test.ts: starts a real Dataplane
// with two workers on "lo" for each case (so the kernel gets its fanout program) and reports
// "ok" or the addon's error.
//
//   stdin: one JSON line {cases: {name, vips, snapshot}[]}
//   stdout: one JSON line {results: {name, outcome}[]}
import { createInterface } from 'node:readline';
import { ACCEPT_FRAME, vipMatchProgram } from '../../src/control/bpf-program.js';
import { loadAddon, type NativeSnapshot } from '../../src/native/binding.js';

interface Case { name: string; vips: string[]; snapshot: NativeSnapshot }

const input = createInterface({ input: process.stdin });
const line = await new Promise<string>((resolve) => input.once('line', resolve));
input.close();
const { cases } = JSON.parse(line) as { cases: Case[] };
const addon = loadAddon();
const results: { name: string; outcome: string }[] = [];
for (const c of cases) {
  const dataplane = new addon.Dataplane({
    interface: 'lo', egressInterface: 'lo', workers: 2, cpus: [], txMode: 'sendmmsg', flowCapacity: 1024, flowIdleTimeoutMs: 60_000,
    ring: { blockSize: 131_072, blockCount: 1, frameSize: 0, retireTimeoutMs: 10 },
    fanoutId: (process.pid + results.length) & 0xffff, gratuitousArp: false, filter: vipMatchProgram(c.vips, ACCEPT_FRAME, 0),
  }, c.snapshot);
  try {
    dataplane.start();
    results.push({ name: c.name, outcome: 'ok' });
  } catch (error) {
    results.push({ name: c.name, outcome: (error as Error).message });
  } finally {
    dataplane.stop();
  }
}
process.stdout.write(`${JSON.stringify({ results })}\n`);
