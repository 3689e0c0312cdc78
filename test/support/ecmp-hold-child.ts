// Runs inside the client namespace: opens `--per-source` TCP connections to an echo server at
// VIP:port from each source address, checks each echoes, prints {"ready":[...]} and holds them.
// Each stdin line "probe" sends 16 bytes on every connection still open and prints
// {"probe":[...]}: per connection "ok" (echoed), "reset" (an error, e.g. ECONNRESET from a server
// that does not know it), "closed" or "timeout" (nothing within --timeout-ms). stdin's end closes
// everything and exits.
//
//   node ecmp-hold-child.js --vip V --port 7000 --sources a,b --per-source 3 [--timeout-ms 20000]
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

export type ProbeOutcome = 'ok' | 'reset' | 'closed' | 'timeout';
export interface HeldEcmpConnection { source: string; localPort: number }
export interface ProbeResult extends HeldEcmpConnection { outcome: ProbeOutcome; error?: string }

const PROBE = 16;

interface Held { socket: Socket; held: HeldEcmpConnection; broken?: ProbeResult }

function open(vip: string, port: number, source: string, timeoutMs: number): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: vip, port, localAddress: source });
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`${source}: no echo within ${timeoutMs} ms`)); }, timeoutMs);
    let echoed = 0;
    socket.once('error', (error) => { clearTimeout(timer); reject(error); });
    socket.once('connect', () => socket.write(Buffer.alloc(PROBE, 0x2e)));
    socket.on('data', (chunk: Buffer) => {
      echoed += chunk.length;
      if (echoed < PROBE) return;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.removeAllListeners('error');
      const held: Held = { socket, held: { source, localPort: socket.localPort ?? 0 } };
      // An error or close while idle is remembered: the next probe reports it.
      socket.on('error', (e) => { held.broken ??= { ...held.held, outcome: 'reset', error: String(e) }; });
      socket.on('close', () => { held.broken ??= { ...held.held, outcome: 'closed' }; });
      resolve(held);
    });
  });
}

function probe(h: Held, timeoutMs: number): Promise<ProbeResult> {
  if (h.broken) return Promise.resolve(h.broken);
  return new Promise((resolve) => {
    let echoed = 0;
    const done = (outcome: ProbeOutcome, error?: string) => {
      clearTimeout(timer);
      h.socket.removeListener('data', onData);
      h.socket.removeListener('error', onError);
      h.socket.removeListener('close', onClose);
      const result: ProbeResult = { ...h.held, outcome, ...(error ? { error } : {}) };
      if (outcome !== 'ok') h.broken = result;
      resolve(result);
    };
    const onData = (chunk: Buffer) => { echoed += chunk.length; if (echoed >= PROBE) done('ok'); };
    const onError = (e: Error) => done('reset', String(e));
    const onClose = () => done('closed');
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    h.socket.on('data', onData);
    h.socket.on('error', onError);
    h.socket.on('close', onClose);
    h.socket.write(Buffer.alloc(PROBE, 0x2b));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vip: { type: 'string' }, port: { type: 'string' }, sources: { type: 'string' },
      'per-source': { type: 'string', default: '1' }, 'timeout-ms': { type: 'string', default: '20000' },
    },
  });
  if (!values.vip || !values.port || !values.sources) throw new Error('usage: ecmp-hold-child --vip V --port P --sources a,b [--per-source N] [--timeout-ms T]');
  const timeoutMs = Number(values['timeout-ms']);
  const sources = values.sources.split(',').filter((s) => s.length > 0);
  const targets = sources.flatMap((s) => Array.from({ length: Number(values['per-source']) }, () => s));
  const held = await Promise.all(targets.map((source) => open(values.vip!, Number(values.port), source, timeoutMs)));
  process.stdout.write(`${JSON.stringify({ ready: held.map((h) => h.held) })}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() !== 'probe') return;
    void Promise.all(held.map((h) => probe(h, timeoutMs))).then((results) => process.stdout.write(`${JSON.stringify({ probe: results })}\n`));
  });
  lines.on('close', () => {
    for (const h of held) h.socket.destroy();
    process.exit(0);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`ecmp-hold-child: ${String(error)}\n`);
  process.exit(1);
});
