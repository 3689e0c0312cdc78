// Long-lived TCP connections for the HA scenarios, run inside the client namespace:
//   node ha-streams.js --vip 10.86.0.100 --port 7000 --sources a,b,c [--per-source 2] [--chunk 4096] [--interval-ms 20]
// Each connection sends `chunk` bytes to the echo server, waits for all of them to come back, waits
// `interval-ms`, and again, for as long as it runs. Once every connection has had one echo it prints
// {"ready":N}. On a "stop" line on stdin each connection makes one last round trip (bounded by
// --final-timeout-ms), then one JSON line reports every connection that broke: a reset, an error,
// a close by the peer, or no final echo. A connection only counts as alive if it still carries data.
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

export interface StreamsReport {
  connections: number;
  survived: number;
  bytes: number;                                   // echoed bytes over all connections
  broken: Array<{ source: string; localPort: number; error: string }>;
}

class Stream {
  echoed = 0;
  error?: string;
  private waiting = 0;          // bytes of the current round trip still to come back
  private roundDone?: () => void;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  readonly socket: Socket;

  constructor(readonly source: string, vip: string, port: number, private readonly chunk: Buffer, private readonly intervalMs: number, onFirstEcho: () => void) {
    this.socket = connect({ host: vip, port, localAddress: source });
    this.socket.setNoDelay(true);
    let first = true;
    this.socket.once('connect', () => this.round());
    this.socket.on('data', (data: Buffer) => {
      this.echoed += data.length;
      this.waiting -= data.length;
      if (this.waiting > 0) return;
      if (first) { first = false; onFirstEcho(); }
      const done = this.roundDone;
      this.roundDone = undefined;
      if (done) done();
      else if (!this.stopped) this.timer = setTimeout(() => this.round(), this.intervalMs);
    });
    this.socket.on('error', (error) => { this.error ??= error.message; this.roundDone?.(); });
    this.socket.on('close', () => { if (!this.stopped) this.error ??= 'closed by the peer'; this.roundDone?.(); });
  }

  private round(): void {
    if (this.stopped || this.error) return;
    this.waiting += this.chunk.length;
    this.socket.write(this.chunk);
  }

  /** Stops the loop and makes one last round trip; true if it came back in time. */
  async finish(timeoutMs: number): Promise<boolean> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.error) return false;
    const roundTrip = new Promise<void>((resolve) => { this.roundDone = resolve; });
    if (this.waiting <= 0) { this.waiting += this.chunk.length; this.socket.write(this.chunk); }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
    await Promise.race([roundTrip, late]);
    clearTimeout(timer);
    if (this.waiting > 0) this.error ??= `no echo within ${timeoutMs} ms after stop`;
    return this.error === undefined;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vip: { type: 'string' }, port: { type: 'string' }, sources: { type: 'string' },
      'per-source': { type: 'string', default: '1' }, chunk: { type: 'string', default: '4096' },
      'interval-ms': { type: 'string', default: '20' }, 'final-timeout-ms': { type: 'string', default: '30000' },
      'ready-timeout-ms': { type: 'string', default: '20000' },
    },
  });
  if (!values.vip || !values.port || !values.sources) throw new Error('usage: ha-streams --vip A --port P --sources a,b [--per-source N]');
  const sources = values.sources.split(',').filter((s) => s.length > 0);
  const chunk = Buffer.alloc(Number(values.chunk), 0x2e);
  const total = sources.length * Number(values['per-source']);
  let echoedOnce = 0;
  let announceReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => { announceReady = resolve; });
  const streams: Stream[] = [];
  for (const source of sources) {
    for (let i = 0; i < Number(values['per-source']); i++) {
      streams.push(new Stream(source, values.vip, Number(values.port), chunk, Number(values['interval-ms']), () => { if (++echoedOnce === total) announceReady(); }));
    }
  }
  const readyTimeout = Number(values['ready-timeout-ms']);
  let readyTimer: NodeJS.Timeout | undefined;
  await Promise.race([ready, new Promise<void>((_, reject) => {
    readyTimer = setTimeout(() => reject(new Error(`${echoedOnce}/${total} connections echoed within ${readyTimeout} ms`)), readyTimeout);
  })]);
  clearTimeout(readyTimer);
  process.stdout.write(`${JSON.stringify({ ready: total })}\n`);
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === 'stop') break;
  const timeoutMs = Number(values['final-timeout-ms']);
  const alive = await Promise.all(streams.map((s) => s.finish(timeoutMs)));
  const report: StreamsReport = {
    connections: streams.length,
    survived: alive.filter(Boolean).length,
    bytes: streams.reduce((sum, s) => sum + s.echoed, 0),
    broken: streams.filter((_, i) => !alive[i]).map((s) => ({ source: s.source, localPort: s.socket.localPort ?? 0, error: s.error ?? 'unknown' })),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  for (const s of streams) s.socket.destroy();
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`ha-streams: ${String(error)}\n`);
  process.exit(1);
});
