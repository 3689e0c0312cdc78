// Runs inside a namespace (ip netns exec NS node flood-child.js ...): sends the frames of a file
// ([u16 length][bytes]...) out of an interface with the addon's sendFrames(), in paced batches.
// Prints one JSON line {total, sent, batches}.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadAddon } from '../../src/native/binding.js';

const { values } = parseArgs({
  options: {
    file: { type: 'string' },
    ifname: { type: 'string' },
    batch: { type: 'string', default: '200' },
    'pause-ms': { type: 'string', default: '5' },
  },
});
if (!values.file || !values.ifname) {
  process.stderr.write('usage: flood-child --file FRAMES --ifname IF [--batch N] [--pause-ms MS]\n');
  process.exit(2);
}

const data = readFileSync(values.file);
const frames: Buffer[] = [];
for (let off = 0; off + 2 <= data.length;) {
  const len = data.readUInt16BE(off);
  frames.push(data.subarray(off + 2, off + 2 + len));
  off += 2 + len;
}
const batch = Math.max(1, Number(values.batch) || 200);
const pauseMs = Math.max(0, Number(values['pause-ms']) || 0);
const addon = loadAddon();
let sent = 0;
let batches = 0;
for (let i = 0; i < frames.length; i += batch) {
  sent += addon.sendFrames(values.ifname, frames.slice(i, i + batch));
  batches++;
  if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
}
process.stdout.write(`${JSON.stringify({ total: frames.length, sent, batches })}\n`);
