// Runs inside the client namespace (ip netns exec NS node failover-client-child.js ...) during a
// dispatcher failover. Two loads at once:
//  - `connections` long-lived TCP connections to the echo port, each sending 64 bytes every
//    `tick-ms` and counting what comes back: a reset or close before the end is a broken connection;
//  - a stream of new HTTP requests to the VIP, one after the other, each with its own timeout:
//    every request's start, end and outcome is kept, so the test can measure how long new requests
//    failed.
// Prints {"event":"ready"} once every connection echoed its first bytes and a request succeeded,
// then {"event":"ok","startMs":...} for every request that succeeded;
// on "stop" (a line on stdin) it stops sending, waits (bounded) for the last echoes and prints
// {"event":"result", ...} (FailoverResult), then exits.
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

export interface HeldReport { localPort: number; sent: number; echoed: number; broken: string | null }
export interface RequestRecord { startMs: number; endMs: number; ok: boolean; error?: string }
export interface FailoverResult { event: 'result'; held: HeldReport[]; requests: RequestRecord[] }

const CHUNK = Buffer.alloc(64, 0x2e);

class Held {
  sent = 0;
  echoed = 0;
  broken: string | null = null;
  private readonly socket: Socket;
  readonly established: Promise<void>;
  constructor(vip: string, port: number) {
    this.socket = connect({ host: vip, port });
    this.established = new Promise((resolve, reject) => {
      this.socket.once('connect', () => this.send());
      this.socket.on('data', (chunk: Buffer) => {
        this.echoed += chunk.length;
        if (this.echoed >= CHUNK.length) resolve();
      });
      this.socket.once('error', (error) => { this.broken ??= error.message; reject(error); });
      this.socket.once('close', () => { this.broken ??= 'closed by the peer'; reject(new Error('closed')); });
    });
    this.established.catch(() => undefined);
  }
  get localPort(): number { return this.socket.localPort ?? 0; }
  send(): void {
    if (this.broken) return;
    this.socket.write(CHUNK);
    this.sent += CHUNK.length;
  }
  done(): boolean { return this.broken !== null || this.echoed >= this.sent; }
  close(): void { this.socket.removeAllListeners('close'); this.socket.destroy(); }
}

function get(vip: string, port: number, timeoutMs: number): Promise<RequestRecord> {
  const startMs = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      resolve({ startMs, endMs: Date.now(), ok, ...(error ? { error } : {}) });
    };
    const req = request({ host: vip, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => finish(res.statusCode === 200, res.statusCode === 200 ? undefined : `status ${res.statusCode}`));
      res.once('error', (error) => finish(false, error.message));
    });
    req.once('timeout', () => { req.destroy(); finish(false, `no answer within ${timeoutMs} ms`); });
    req.once('error', (error) => finish(false, error.message));
    req.end();
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vip: { type: 'string' }, 'http-port': { type: 'string', default: '80' }, 'echo-port': { type: 'string', default: '7000' },
      connections: { type: 'string', default: '8' }, 'tick-ms': { type: 'string', default: '100' },
      'request-timeout-ms': { type: 'string', default: '500' }, 'max-ms': { type: 'string', default: '300000' },
    },
  });
  if (!values.vip) throw new Error('usage: failover-client-child --vip A [--http-port 80] [--echo-port 7000] [--connections 8]');
  const vip = values.vip;
  const held = Array.from({ length: Number(values.connections) }, () => new Held(vip, Number(values['echo-port'])));
  await Promise.all(held.map((h) => h.established));
  let stopping = false;
  const stop = () => { stopping = true; };
  createInterface({ input: process.stdin }).on('line', (line) => { if (line.trim() === 'stop') stop(); }).on('close', stop);
  const maxTimer = setTimeout(stop, Number(values['max-ms']));  // never outlives a lost test
  const ticker = setInterval(() => { for (const h of held) h.send(); }, Number(values['tick-ms']));

  const requests: RequestRecord[] = [];
  let ready = false;
  while (!stopping) {
    const r = await get(vip, Number(values['http-port']), Number(values['request-timeout-ms']));
    requests.push(r);
    if (r.ok) {
      if (!ready) process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
      ready = true;
      process.stdout.write(`${JSON.stringify({ event: 'ok', startMs: r.startMs })}\n`);
    }
    if (!r.ok) await new Promise((resolve) => setTimeout(resolve, 20)); // a refused connect returns at once
  }
  clearInterval(ticker);
  clearTimeout(maxTimer);
  // The last chunks are still in flight, maybe in a retransmission backoff after the outage: wait, bounded.
  for (let i = 0; i < 400 && !held.every((h) => h.done()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const report: HeldReport[] = held.map((h) => ({ localPort: h.localPort, sent: h.sent, echoed: h.echoed, broken: h.broken }));
  for (const h of held) h.close();
  const result: FailoverResult = { event: 'result', held: report, requests };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
