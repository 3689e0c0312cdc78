// Load client for the DR segment, run inside the client namespace:
//   node dist/src/demo/http-client.js --url http://10.77.0.100/ --requests 300
//        [--sources 10.77.0.20,10.77.0.21] [--concurrency 10] [--timeout-ms 2000] [--deadline-ms 60000]
//        [--max-failures N]   (stop sending after N failures; the rest count as "not_sent")
// Every request uses a NEW TCP connection (agent: false): each one is a new flow for the
// dispatcher to schedule. Prints exactly one JSON line (ClientResult) and exits 0 once printed.
import { request } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface ClientResult {
  ok: number;
  failed: number;
  errors: Record<string, number>;                        // failure reason -> count
  byServer: Record<string, number>;                      // x-las-server -> count
  bySource: Record<string, Record<string, number>>;      // source address -> server -> count
  durationMs: number;
}

type Result = { ok: true; server: string } | { ok: false; reason: string };

// In-flight requests, destroyed when the whole-run deadline passes (a Set rather than an
// AbortSignal per request: no listener pile-up on one signal).
const inFlight = new Set<() => void>();

function fetchOnce(url: URL, source: string | undefined, timeoutMs: number): Promise<Result> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: Result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      inFlight.delete(onDeadline);
      req.destroy();
      resolve(result);
    };
    // One timer for the whole exchange (connect + response + body), not just socket idleness.
    const timer = setTimeout(() => done({ ok: false, reason: 'timeout' }), timeoutMs);
    const onDeadline = () => done({ ok: false, reason: 'deadline' });
    inFlight.add(onDeadline);
    const req = request(url, { agent: false, localAddress: source, headers: { connection: 'close' } }, (res) => {
      const server = String(res.headers['x-las-server'] ?? '(none)');
      res.on('data', () => undefined);
      res.on('end', () => done(res.statusCode === 200 ? { ok: true, server } : { ok: false, reason: `http_${res.statusCode}` }));
      res.on('error', (error: NodeJS.ErrnoException) => done({ ok: false, reason: error.code ?? error.message }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => done({ ok: false, reason: error.code ?? error.message }));
    req.end();
  });
}

async function runClient(opts: {
  url: string; requests: number; sources: string[]; concurrency: number; timeoutMs: number; deadlineMs: number; maxFailures?: number;
}): Promise<ClientResult> {
  const url = new URL(opts.url);
  const started = Date.now();
  const result: ClientResult = { ok: 0, failed: 0, errors: {}, byServer: {}, bySource: {}, durationMs: 0 };
  let pastDeadline = false;
  const deadlineTimer = setTimeout(() => {
    pastDeadline = true;
    for (const abort of [...inFlight]) abort();
  }, opts.deadlineMs);
  const fail = (reason: string) => { result.failed++; result.errors[reason] = (result.errors[reason] ?? 0) + 1; };
  let next = 0;
  const worker = async () => {
    while (next < opts.requests) {
      const index = next++;
      if (pastDeadline) { fail('deadline'); continue; } // never started: still counted
      if (opts.maxFailures !== undefined && result.failed >= opts.maxFailures) { fail('not_sent'); continue; }
      const source = opts.sources.length > 0 ? opts.sources[index % opts.sources.length] : undefined;
      const outcome = await fetchOnce(url, source, opts.timeoutMs);
      if (!outcome.ok) { fail(outcome.reason); continue; }
      result.ok++;
      result.byServer[outcome.server] = (result.byServer[outcome.server] ?? 0) + 1;
      const key = source ?? 'default';
      const perSource = (result.bySource[key] ??= {});
      perSource[outcome.server] = (perSource[outcome.server] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, opts.requests)) }, worker));
  clearTimeout(deadlineTimer);
  result.durationMs = Date.now() - started;
  return result;
}

function positive(name: string, text: string | undefined, fallback: number): number {
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`--${name} must be a positive integer, got ${text}\n`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      requests: { type: 'string', default: '1' },
      sources: { type: 'string' },
      concurrency: { type: 'string', default: '10' },
      'timeout-ms': { type: 'string', default: '2000' },
      'deadline-ms': { type: 'string' },
      'max-failures': { type: 'string' },
    },
  });
  if (!values.url) {
    process.stderr.write('usage: http-client --url http://VIP/ [--requests N] [--sources a,b] [--concurrency C] [--timeout-ms T] [--deadline-ms D] [--max-failures N]\n');
    process.exit(2);
  }
  const requests = positive('requests', values.requests, 1);
  const concurrency = positive('concurrency', values.concurrency, 10);
  const timeoutMs = positive('timeout-ms', values['timeout-ms'], 2000);
  // Default deadline: every request timing out in its slot, plus slack; never unbounded.
  const deadlineMs = positive('deadline-ms', values['deadline-ms'], Math.ceil(requests / concurrency) * timeoutMs + 5000);
  const sources = (values.sources ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const maxFailures = values['max-failures'] === undefined ? undefined : positive('max-failures', values['max-failures'], 1);
  const result = await runClient({ url: values.url, requests, sources, concurrency, timeoutMs, deadlineMs, maxFailures });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// Only run as a script, so importing the types or runClient() has no side effect.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`http-client: ${String(error)}\n`);
    process.exit(1);
  });
}
