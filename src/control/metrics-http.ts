// The metrics listener's thread (started by metrics.ts): GET /metrics with every client bounded by
// METRICS_LIMITS. The text comes from the daemon's main thread, asked once for every batch of
// scrapes waiting on it; a storm of requests is parsed and refused here, off the main event loop.
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { MainMessage, MetricsLimits, WorkerMessage } from './metrics-limits.js';

const { listen, limits } = workerData as { listen: string; limits: MetricsLimits };
const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);

// Scrapes waiting for the text: one request to the main thread serves all of them.
type Waiter = (answer: MainMessage) => void;
let waiting: Waiter[] = [];
port.on('message', (answer: MainMessage) => {
  const batch = waiting;
  waiting = [];
  for (const w of batch) w(answer);
});
function text(): Promise<MainMessage> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      // Leave the batch: once it is empty, the next scrape asks the main thread again.
      waiting = waiting.filter((w) => w !== waiter);
      resolve({ type: 'error', error: `the daemon did not render the metrics within ${limits.renderTimeoutMs} ms` });
    }, limits.renderTimeoutMs);
    const waiter: Waiter = (answer) => {
      clearTimeout(timer);
      resolve(answer);
    };
    if (waiting.push(waiter) === 1) post({ type: 'render' });
  });
}

// Per connection: requests not yet answered, and whether one answer has been written out.
const clients = new Map<Socket, { pending: number; served: boolean }>();
const server = createServer({
  headersTimeout: limits.headersTimeoutMs,
  requestTimeout: limits.requestTimeoutMs,
  keepAliveTimeout: limits.keepAliveTimeoutMs,
  connectionsCheckingInterval: 1000, // how often the two timeouts above are enforced
}, (req, res) => {
  const client = clients.get(req.socket);
  if (!client) return void req.socket.destroy(); // evicted meanwhile
  if (++client.pending > limits.maxPipelined) {
    // Pipelined requests beyond the bound: the client is not a scraper; stop paying for it.
    req.socket.destroy();
    return;
  }
  res.once('finish', () => (client.served = true));
  res.once('close', () => client.pending--);
  if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('las: metrics are at /metrics\n');
    return;
  }
  void text().then((answer) => {
    if (res.destroyed) return;
    if (answer.type === 'text') res.writeHead(200, { 'content-type': answer.contentType }).end(answer.text);
    else res.writeHead(503, { 'content-type': 'text/plain' }).end(`las: ${answer.error}\n`);
  });
});
server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
// Nothing moving, either way, for this long: a client that stopped reading its answers.
server.setTimeout(limits.idleTimeoutMs, (socket: Socket) => socket.destroy());

// A flood of connections cannot lock the scraper out: a new connection makes room by evicting,
// oldest first, one that never sent a request, else one whose answer is stuck, else any.
server.on('connection', (socket: Socket) => {
  if (clients.size >= limits.maxConnections) {
    const entries = [...clients];
    const victim = (entries.find(([, c]) => c.pending === 0 && !c.served) ?? entries.find(([, c]) => c.pending > 0) ?? entries[0])?.[0];
    if (victim) {
      clients.delete(victim);
      victim.destroy();
    }
  }
  clients.set(socket, { pending: 0, served: false });
  socket.once('close', () => clients.delete(socket));
});

const colon = listen.lastIndexOf(':');
server.once('error', (error: NodeJS.ErrnoException) => post({ type: 'listen-error', code: error.code ?? error.message }));
server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon), () => post({ type: 'listening', port: (server.address() as { port: number }).port }));
