// Bulk TCP upload client, run inside the client namespace:
//   node dist/src/demo/bulk-upload.js --host 10.77.0.100 --port 5201 --bytes 209715200
//        [--source 10.77.0.10] [--streams 1] [--timeout-ms T] [--stall-ms 15000] [--chunk 1048576]
// Each stream writes one reused buffer (1 MiB) again and again, the next write as soon as the
// kernel has taken the previous one (backpressure), ends its side, and waits for the sink's 8-byte
// count of what it received; a count that differs from what was sent fails the run. Prints exactly one JSON line (UploadReport in bulk.ts) and exits 0, or prints the
// reason on stderr and exits 1. Bounded twice: the whole run (--timeout-ms), and --stall-ms without
// any progress (nothing more handed to the kernel, no confirmation), so a broken path fails fast.
import { randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import type { UploadReport } from './bulk.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '5201' },
    bytes: { type: 'string' },
    source: { type: 'string' },
    streams: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string' },
    'stall-ms': { type: 'string', default: '15000' },
    chunk: { type: 'string', default: String(1 << 20) },
  },
});

function usage(problem: string): never {
  process.stderr.write(`bulk-upload: ${problem}\nusage: bulk-upload --host VIP --port 5201 --bytes N [--source ADDR] [--streams S] [--timeout-ms T] [--stall-ms M] [--chunk BYTES]\n`);
  process.exit(2);
}
function integer(name: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < min || value > max) usage(`--${name} must be a whole number in ${min}..${max}, got ${text}`);
  return value;
}

if (!values.host) usage('--host is required');
const host = values.host;
const port = integer('port', values.port, 1, 65535);
const total = integer('bytes', values.bytes, 1);
const streamCount = integer('streams', values.streams, 1, 64);
const timeoutMs = values['timeout-ms'] === undefined ? 60_000 + Math.ceil(total / 10_000_000) * 1000 : integer('timeout-ms', values['timeout-ms'], 1);
const stallMs = integer('stall-ms', values['stall-ms'], 100);
const chunk = randomFillSync(Buffer.alloc(integer('chunk', values.chunk, 1024, 64 << 20)));  // written again and again, never changed

interface Stream {
  index: number;
  planned: number;
  written: number;             // bytes of finished writes: all in the kernel
  inFlight: number;            // size of the write under way (one at a time), 0 when none
  socket: Socket;
  local: string;
  reply: Buffer[];
  confirmed?: number;
  seconds?: number;
}

const mb = (bytes: number) => (bytes < 100_000 ? `${bytes} bytes` : `${(bytes / 1e6).toFixed(1)} MB`);
const started = process.hrtime.bigint();
const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
const streams: Stream[] = [];
let finished = 0;

function fail(message: string): never {
  for (const stream of streams) stream.socket.destroy();
  process.stderr.write(`bulk-upload: ${message}\n`);
  process.exit(1);
}

/** The part of the current write libuv still holds (its write queue); all of it if unknown. */
function unwritten(stream: Stream): number {
  const size = (stream.socket as unknown as { _handle?: { writeQueueSize?: unknown } })._handle?.writeQueueSize;
  return typeof size === 'number' ? Math.min(size, stream.inFlight) : stream.inFlight;
}
/** Bytes the kernel has taken from this stream, to the byte: finished writes plus the current one's written part. */
const handedOver = (stream: Stream) => stream.written + stream.inFlight - unwritten(stream);
const describe = (stream: Stream) => `stream ${stream.index} (${stream.local || 'unconnected'} -> ${host}:${port})`;

function done(): void {
  const seconds = elapsed();
  const report: UploadReport = {
    bytes: total,
    seconds,
    gbps: (total * 8) / seconds / 1e9,
    streams: streams.map((s) => ({ local: s.local, bytes: s.planned, confirmed: s.confirmed ?? 0, seconds: s.seconds ?? seconds })),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

function startStream(index: number, planned: number): Stream {
  const socket = connect({ host, port, allowHalfOpen: true, noDelay: true, ...(values.source ? { localAddress: values.source } : {}) });
  const stream: Stream = { index, planned, written: 0, inFlight: 0, socket, local: '', reply: [] };
  // One write at a time, the next when the kernel has taken all of it: the kernel's send buffer
  // keeps the connection busy meanwhile, and progress stays exact for the stall check.
  const pump = () => {
    if (stream.written >= planned) {
      socket.end();
      return;
    }
    const n = Math.min(chunk.length, planned - stream.written);
    stream.inFlight = n;
    socket.write(n === chunk.length ? chunk : chunk.subarray(0, n), (error) => {
      if (error) return; // the socket's 'error' event reports it
      stream.written += n;
      stream.inFlight = 0;
      pump();
    });
  };
  socket.once('connect', () => {
    stream.local = `${socket.localAddress ?? '?'}:${socket.localPort ?? '?'}`;
    pump();
  });
  socket.on('data', (data: Buffer) => stream.reply.push(data));
  socket.on('end', () => {
    const reply = Buffer.concat(stream.reply);
    if (reply.length !== 8) fail(`${describe(stream)}: the sink closed with a ${reply.length}-byte reply instead of its 8-byte count, after ${mb(handedOver(stream))} were sent`);
    stream.confirmed = Number(reply.readBigUInt64BE(0));
    stream.seconds = elapsed();
    if (stream.confirmed !== planned) fail(`${describe(stream)}: sent ${planned} bytes, the sink counted ${stream.confirmed}`);
    if (++finished === streams.length) done();
  });
  socket.on('error', (error: NodeJS.ErrnoException) =>
    fail(`${describe(stream)}: ${error.code ?? error.message} after ${mb(handedOver(stream))} of ${mb(planned)} were sent`));
  return stream;
}

// The bytes split evenly; the first streams take the remainder.
for (let i = 0; i < streamCount; i++) {
  const share = Math.floor(total / streamCount) + (i < total % streamCount ? 1 : 0);
  if (share > 0) streams.push(startStream(i, share));
}

setTimeout(() => {
  const where = streams.map((s) => `${describe(s)}: ${mb(handedOver(s))} of ${mb(s.planned)} sent${s.confirmed === undefined ? '' : ', confirmed'}`).join('; ');
  fail(`not finished after ${timeoutMs} ms: ${where}`);
}, timeoutMs).unref();

// Progress = bytes handed to the kernel plus confirmations; none of it for stallMs is a stall.
let lastProgress = -1;
let lastChange = Date.now();
setInterval(() => {
  const progress = streams.reduce((sum, s) => sum + handedOver(s) + (s.confirmed === undefined ? 0 : 1), 0);
  if (progress !== lastProgress) {
    lastProgress = progress;
    lastChange = Date.now();
    return;
  }
  if (Date.now() - lastChange < stallMs) return;
  const stuck = streams.filter((s) => s.confirmed === undefined);
  const where = stuck.map((s) => {
    if (s.socket.connecting) return `${describe(s)}: not even connected`;
    const sent = handedOver(s);
    return sent < s.planned ? `${describe(s)}: ${mb(sent)} of ${mb(s.planned)} handed to the kernel` : `${describe(s)}: all ${mb(s.planned)} handed to the kernel, no count back from the sink`;
  }).join('; ');
  fail(`stalled: no progress for ${stallMs} ms; ${where}`);
}, Math.min(1000, stallMs)).unref();
