// Runs inside a namespace (ip netns exec NS node flood-child.js ...) and sends frames out of an
// interface with las_bench's sendFrames(). Two sources:
//   --file FRAMES            the frames of a file ([u16 length][bytes]...), once, in paced batches
//   --generate SPEC.json     a seeded flood (support/flood.ts) of spec.count frames: pools of
//                            spec.pool distinct frames, each sent spec.reuse times, then a new pool
//                            (building frames in JS is slower than sending them)
// Prints one JSON line {total, sent, batches, elapsedMs, pools}.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadBenchAddon } from '../../src/native/bench-binding.js';
import { buildFlood, type FloodKind, type FloodTarget } from './flood.js';

/** What --generate reads (written by sendGeneratedFloodInNs). */
export interface GenerateSpec {
  target: FloodTarget;
  count: number;
  seed: number;
  kinds: FloodKind[];
  weights: Partial<Record<FloodKind, number>>;
  pool: number;
  reuse: number;
}

const { values } = parseArgs({
  options: {
    file: { type: 'string' },
    generate: { type: 'string' },
    ifname: { type: 'string' },
    batch: { type: 'string', default: '200' },
    'pause-ms': { type: 'string', default: '5' },
  },
});
if ((!values.file && !values.generate) || !values.ifname) {
  process.stderr.write('usage: flood-child (--file FRAMES | --generate SPEC.json) --ifname IF [--batch N] [--pause-ms MS]\n');
  process.exit(2);
}
const ifname = values.ifname;
const batch = Math.max(1, Number(values.batch) || 200);
const pauseMs = Math.max(0, Number(values['pause-ms']) || 0);
const addon = loadBenchAddon();
let sent = 0;
let batches = 0;
let total = 0;

async function sendAll(frames: Buffer[]): Promise<void> {
  for (let i = 0; i < frames.length; i += batch) {
    sent += addon.sendFrames(ifname, frames.slice(i, i + batch));
    batches++;
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  total += frames.length;
}

const started = process.hrtime.bigint();
let pools = 0;
if (values.file) {
  const data = readFileSync(values.file);
  const frames: Buffer[] = [];
  for (let off = 0; off + 2 <= data.length;) {
    const len = data.readUInt16BE(off);
    frames.push(data.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  await sendAll(frames);
} else {
  const spec = JSON.parse(readFileSync(values.generate!, 'utf8')) as GenerateSpec;
  const poolSize = Math.max(1, Math.min(spec.pool, spec.count));
  while (total < spec.count) {
    const pool = buildFlood(spec.target, poolSize, (spec.seed + pools * 0x9e3779b9) >>> 0, spec.weights, spec.kinds).frames;
    // An empty pool would send nothing and never bring total to spec.count: the loop would not end.
    if (pool.length === 0) throw new Error(`buildFlood gave an empty pool (pool ${poolSize}, kinds ${JSON.stringify(spec.kinds)}, weights ${JSON.stringify(spec.weights)})`);
    pools++;
    for (let pass = 0; pass < Math.max(1, spec.reuse) && total < spec.count; pass++) {
      await sendAll(pool.slice(0, Math.min(pool.length, spec.count - total)));
    }
  }
}
const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
process.stdout.write(`${JSON.stringify({ total, sent, batches, elapsedMs, pools })}\n`);
