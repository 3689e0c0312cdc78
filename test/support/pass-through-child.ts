// Runs inside a network namespace for test/pass-through.test.ts. A veth pair: the pass-through
// dataplane (las_bench) receives on IN and sends back out of IN; the frames come from OUT
// (sendFrames) and what the dataplane sent is caught on OUT by the Sink (which ignores OUT's own
// transmissions). Per tx mode: the frames and counters seen.
//
//   stdin: one JSON line {in, out, vip, server: {address, mac}, frames: hex[], txModes}
//   stdout: one JSON line {runs: {txMode, toServer, total, kept: hex[], rxPackets, txPackets}[]}
import { createInterface } from 'node:readline';
import { ACCEPT_FRAME, vipMatchProgram } from '../../src/control/bpf-program.js';
import { loadAddon, type TxMode } from '../../src/native/binding.js';
import { loadBenchAddon } from '../../src/native/bench-binding.js';

interface Job { in: string; out: string; vip: string; server: { address: string; mac: string }; frames: string[]; expected: number; txModes: TxMode[] }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const DEADLINE_MS = 20_000;

const input = createInterface({ input: process.stdin });
const line = await new Promise<string>((resolve) => input.once('line', resolve));
input.close();
const job = JSON.parse(line) as Job;
const product = loadAddon();
const tools = loadBenchAddon();
const frames = job.frames.map((hex) => Buffer.from(hex, 'hex'));

const runs = [];
for (const txMode of job.txModes) {
  const sink = new tools.Sink(job.out, { keepFrames: frames.length, retireTimeoutMs: 2 });
  const dataplane = new tools.PassThroughDataplane({
    interface: job.in, egressInterface: job.in, workers: 1, cpus: [], txMode, flowCapacity: 1024, flowIdleTimeoutMs: 60_000,
    ring: { blockSize: product.ringNeeds(product.interfaceMtu(job.in)).blockSize, blockCount: 4, frameSize: 0, retireTimeoutMs: 2 },
    fanoutId: 0, gratuitousArp: false, filter: vipMatchProgram([job.vip], ACCEPT_FRAME, 0),
  }, { services: [{ vip: job.vip, port: 0, protocol: 'udp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 251, servers: [{ ...job.server, weight: 1 }] }] });
  sink.start();
  dataplane.start();
  try {
    const sent = tools.sendFrames(job.out, frames);
    if (sent !== frames.length) throw new Error(`sendFrames took ${sent} of ${frames.length} frames`);
    // The frame reaches the sink inside the send syscall, before the worker counts it: wait for both.
    const done = () => (sink.counts().byDstMac[job.server.mac] ?? 0n) >= BigInt(job.expected)
      && dataplane.stats().workers[0]!.txPackets >= BigInt(job.expected);
    for (const deadline = Date.now() + DEADLINE_MS; !done() && Date.now() < deadline;) await sleep(5);
    const counts = sink.counts();
    const w = dataplane.stats().workers[0]!;
    runs.push({
      txMode, toServer: String(counts.byDstMac[job.server.mac] ?? 0n), total: String(counts.total),
      kept: sink.frames().map((f) => f.toString('hex')), rxPackets: String(w.rxPackets), txPackets: String(w.txPackets),
    });
  } finally {
    dataplane.stop();
    sink.stop();
  }
}
process.stdout.write(`${JSON.stringify({ runs })}\n`);
