// Runs inside a network namespace for test/fanout-table.test.ts: a real Dataplane with several
// workers on one end of a veth pair, frames sent one at a time into the other end, and for each the
// worker the kernel's fanout program handed it to beside the one the socket-free classifier names.
//
//   stdin: one JSON line {ifname, peer, workers, vips, snapshot, frames: hex[]}
//   stdout: one JSON line {results: {kernel, classifier}[], wrongWorker: string[]}
import { createInterface } from 'node:readline';
import { ACCEPT_FRAME, vipMatchProgram } from '../../src/control/bpf-program.js';
import { loadAddon, type NativeSnapshot } from '../../src/native/binding.js';
import { loadBenchAddon } from '../../src/native/bench-binding.js';

interface Job { ifname: string; peer: string; workers: number; vips: string[]; snapshot: NativeSnapshot; frames: string[] }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const DEADLINE_MS = 3000;  // per frame: the RX block retires after 2 ms

const input = createInterface({ input: process.stdin });
const line = await new Promise<string>((resolve) => input.once('line', resolve));
input.close();
const job = JSON.parse(line) as Job;
const addon = loadAddon();
const tools = loadBenchAddon();
const macs = { ingressMac: addon.interfaceMac(job.ifname), egressMac: addon.interfaceMac(job.ifname) };
const dataplane = new addon.Dataplane({
  interface: job.ifname, egressInterface: job.ifname, workers: job.workers, cpus: [], txMode: 'sendmmsg',
  flowCapacity: 4096, flowIdleTimeoutMs: 60_000,
  ring: { blockSize: 1 << 20, blockCount: 4, frameSize: 0, retireTimeoutMs: 2 },
  fanoutId: process.pid & 0xffff, gratuitousArp: false, filter: vipMatchProgram(job.vips, ACCEPT_FRAME, 0),
}, job.snapshot);
const classifier = new tools.Classifier({ ...macs, flowCapacity: 4096, flowIdleTimeoutMs: 60_000 }, job.snapshot);
const received = () => dataplane.stats().workers.map((w) => w.rxPackets);

dataplane.start();
try {
  const results: { kernel: number; classifier: number }[] = [];
  for (const hex of job.frames) {
    const frame = Buffer.from(hex, 'hex');
    const before = received();
    if (tools.sendFrames(job.peer, [frame]) !== 1) throw new Error(`could not send frame ${hex}`);
    let kernel = -1;
    for (const deadline = Date.now() + DEADLINE_MS; kernel < 0 && Date.now() < deadline; await sleep(1)) {
      kernel = received().findIndex((n, i) => n > before[i]!);
    }
    results.push({ kernel, classifier: classifier.workerFor(frame, job.workers) });
  }
  const wrongWorker = dataplane.stats().workers.map((w) => String(w.wrongWorker));
  process.stdout.write(`${JSON.stringify({ results, wrongWorker })}\n`);
} finally {
  dataplane.stop();
}
