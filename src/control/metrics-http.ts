// The metrics listener's thread (started by metrics.ts): GET /metrics, and the live status page
// (GET /, its script and style, and GET /status.json it polls), with every client bounded by
// METRICS_LIMITS. The metrics text and the status come from the daemon's main thread, asked once for
// every batch of requests waiting on them; a storm of requests is parsed and refused here, off the
// main event loop. The page only reads: anything else than GET is refused (405).
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { MainMessage, MetricsLimits, RenderWhat, WorkerMessage } from './metrics-limits.js';
import { HISTORY_SAMPLES } from './status-history.js';
import { loadPageFiles, PAGE_HEADERS } from './status-page-files.js';

const { listen, limits, statusPage } = workerData as { listen: string; limits: MetricsLimits; statusPage: boolean };
const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);
const pageFiles = statusPage ? loadPageFiles() : undefined;

// The status page's history window: samples pushed by the main thread, oldest first.
const history: { seq: number; json: string }[] = [];

// Requests waiting for a rendering: one request to the main thread serves all of a kind.
type Answer = Extract<MainMessage, { type: 'text' | 'error' }>;
type Waiter = (answer: Answer) => void;
const waiting: Record<RenderWhat, Waiter[]> = { metrics: [], status: [] };
port.on('message', (message: MainMessage) => {
  if (message.type === 'history') {
    history.push({ seq: message.seq, json: message.point });
    if (history.length > HISTORY_SAMPLES) history.shift();
    return;
  }
  const batch = waiting[message.what];
  waiting[message.what] = [];
  for (const w of batch) w(message);
});
function rendered(what: RenderWhat): Promise<Answer> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      // Leave the batch: once it is empty, the next request asks the main thread again.
      waiting[what] = waiting[what].filter((w) => w !== waiter);
      resolve({ type: 'error', what, error: `the daemon did not render the ${what} within ${limits.renderTimeoutMs} ms` });
    }, limits.renderTimeoutMs);
    const waiter: Waiter = (answer) => {
      clearTimeout(timer);
      resolve(answer);
    };
    if (waiting[what].push(waiter) === 1) post({ type: 'render', what });
  });
}

function answer(res: ServerResponse, what: RenderWhat, body: (text: string) => string): void {
  void rendered(what).then((a) => {
    if (res.destroyed) return;
    if (a.type === 'text') res.writeHead(200, { 'content-type': a.contentType, 'cache-control': 'no-store' }).end(body(a.text));
    else res.writeHead(503, { 'content-type': 'text/plain' }).end(`las: ${a.error}\n`);
  });
}

/** ?since=N: only the history samples after N, so a page polling every few seconds gets one or two. */
function historyAfter(query: URLSearchParams): string {
  const since = Number(query.get('since') ?? -1);
  const from = Number.isFinite(since) ? history.findIndex((h) => h.seq > since) : 0;
  return from < 0 ? '' : history.slice(from).map((h) => h.json).join(',');
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
  const [pathname = '/', search = ''] = (req.url ?? '/').split('?', 2);
  const file = pageFiles?.get(pathname);
  const known = pathname === '/metrics' || (statusPage && pathname === '/status.json') || file !== undefined;
  if (req.method !== 'GET') {
    // Read-only: whatever changes state goes through the admin socket.
    res.writeHead(known ? 405 : 404, { 'content-type': 'text/plain', ...(known ? { allow: 'GET' } : {}) })
      .end(known ? `las: only GET here; changes go through the admin socket (las server, las reload)\n` : 'las: not found\n');
    return;
  }
  if (pathname === '/metrics') return answer(res, 'metrics', (text) => text);
  if (statusPage && pathname === '/status.json') {
    return answer(res, 'status', (text) => `{"now":${text},"history":[${historyAfter(new URLSearchParams(search))}]}`);
  }
  if (file) {
    res.writeHead(file.status, { ...PAGE_HEADERS, 'content-type': file.contentType }).end(file.body);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end(`las: metrics are at /metrics${statusPage ? ', the status page at /' : ''}\n`);
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
