// Bulk TCP sink for the DR segment, run inside a real server's namespace:
//   node dist/src/demo/bulk-sink.js [--port 5201] [--host 0.0.0.0]
// Counts every byte of each connection; when the client has finished sending (its FIN), prints a
// receipt and writes the count back (8 bytes, big-endian), then closes. Binding 0.0.0.0 matters:
// uploads arrive addressed to the VIP, which the server holds on lo.
//
// stdout, one JSON object per line (SinkLine in bulk.ts):
//   {"type":"ready","port":5201}
//   {"type":"receipt","bytes":209715200,"seconds":1.84,"remote":"10.77.0.10:41234"}   per finished connection
//   {"type":"report","id":1,"receipts":[...]}                                            answer to "report 1" on stdin
// The sink exits on SIGTERM/SIGINT and when its stdin, a pipe from the parent, ends.
import { fstatSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { BulkReceipt, SinkLine } from './bulk.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5201' },
    host: { type: 'string', default: '0.0.0.0' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`usage: bulk-sink [--port 5201] [--host 0.0.0.0]; bad --port ${values.port}\n`);
  process.exit(2);
}

// stdout is a pipe: synchronous on Linux, so a receipt line is out before the count goes back.
const emit = (line: SinkLine) => process.stdout.write(`${JSON.stringify(line)}\n`);
const receipts: BulkReceipt[] = [];
const open = new Set<Socket>();

// allowHalfOpen: the client's FIN ends its data, our count still has to go back on the same socket.
const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  open.add(socket);
  const started = process.hrtime.bigint();
  const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => { bytes += chunk.length; });
  socket.on('end', () => {
    const receipt: BulkReceipt = { bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9, remote };
    receipts.push(receipt);
    emit({ type: 'receipt', ...receipt });
    const count = Buffer.alloc(8);
    count.writeBigUInt64BE(BigInt(bytes));
    socket.end(count);
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    // A reset or timed-out client must not kill the sink; it gets no receipt (it did not finish).
    process.stderr.write(`bulk-sink: ${remote} after ${bytes} bytes: ${error.code ?? error.message}\n`);
    socket.destroy();
  });
  socket.on('close', () => open.delete(socket));
});

server.once('error', (error) => {
  process.stderr.write(`bulk-sink: cannot listen on ${values.host}:${port}: ${String(error)}\n`);
  process.exit(1);
});
server.listen(port, values.host, () => {
  const address = server.address();
  emit({ type: 'ready', port: typeof address === 'object' && address ? address.port : port });
});

const stop = () => {
  server.close();
  for (const socket of open) socket.destroy();
  setTimeout(() => process.exit(0), 100).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// Only a pipe from a parent carries requests and means "parent gone" when it ends; /dev/null does not.
let stdinIsPipe = false;
try { stdinIsPipe = fstatSync(0).isFIFO() || fstatSync(0).isSocket(); } catch { /* no stdin at all */ }
if (stdinIsPipe) {
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    const match = /^report (\d+)$/.exec(line.trim());
    if (match) emit({ type: 'report', id: Number(match[1]), receipts });
  });
  input.on('close', stop);
}
