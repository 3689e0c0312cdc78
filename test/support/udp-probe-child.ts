// Runs inside the client namespace (ip netns exec NS node udp-probe-child.js ...): sends UDP
// datagrams of the given sizes to VIP:port from each source address and reads the real server's
// answer "<name> <received length>" (src/demo/real-server.ts --udp-port). Datagrams larger than the
// link MTU leave the client's kernel as IPv4 fragments, so a full length in the answer means the
// server reassembled every fragment.
//
//   node udp-probe-child.js --vip 10.77.0.100 --port 5300 --sources 10.77.0.20,10.77.0.21
//        --sizes 100,3000 --rounds 3 [--timeout-ms 3000]
//
// Each source sends its datagrams one at a time (the next only after the answer or the timeout), the
// sources in parallel. Nothing is retried: a lost datagram is a failure to report, not to hide.
// Prints one JSON line (UdpProbeResult).
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';

export interface UdpProbeResult {
  sent: number;
  answered: number;
  timeouts: number;
  /** source -> server name -> answers */
  bySource: Record<string, Record<string, number>>;
  /** answers whose length differs from the datagram sent (a fragment missing or extra), or unparsable */
  wrong: Array<{ source: string; size: number; answer: string; from: string }>;
  /** answers that came from somewhere other than VIP:port */
  foreign: Array<{ source: string; from: string }>;
  durationMs: number;
}

function numbers(text: string | undefined, what: string): number[] {
  const out = (text ?? '').split(',').filter((s) => s.length > 0).map(Number);
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 1 || n > 65507)) throw new Error(`--${what}: positive integers ≤ 65507, got "${text}"`);
  return out;
}

function bind(source: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind({ address: source, port: 0 }, () => { socket.off('error', reject); resolve(socket); });
  });
}

/** Sends one datagram and waits for the next message on the socket, or the timeout. */
function exchange(socket: Socket, payload: Buffer, vip: string, port: number, timeoutMs: number): Promise<{ msg: Buffer; rinfo: RemoteInfo } | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off('message', onMessage); resolve(undefined); }, timeoutMs);
    const onMessage = (msg: Buffer, rinfo: RemoteInfo) => { clearTimeout(timer); resolve({ msg, rinfo }); };
    socket.once('message', onMessage);
    socket.send(payload, port, vip, (error) => {
      if (error) { clearTimeout(timer); socket.off('message', onMessage); reject(error); }
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vip: { type: 'string' }, port: { type: 'string' }, sources: { type: 'string' }, sizes: { type: 'string' },
      rounds: { type: 'string', default: '1' }, 'timeout-ms': { type: 'string', default: '3000' },
    },
  });
  if (!values.vip || !values.port || !values.sources) throw new Error('usage: udp-probe-child --vip A --port P --sources a,b --sizes n,m [--rounds R] [--timeout-ms T]');
  const vip = values.vip;
  const port = Number(values.port);
  const sources = values.sources.split(',').filter((s) => s.length > 0);
  const sizes = numbers(values.sizes, 'sizes');
  const rounds = Number(values.rounds);
  const timeoutMs = Number(values['timeout-ms']);
  const started = Date.now();
  const result: UdpProbeResult = { sent: 0, answered: 0, timeouts: 0, bySource: {}, wrong: [], foreign: [], durationMs: 0 };
  await Promise.all(sources.map(async (source, index) => {
    const socket = await bind(source);
    try {
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < sizes.length; k++) {
          // Rotate the order per source and round, so small and large datagrams interleave differently.
          const size = sizes[(k + index + round) % sizes.length] as number;
          const payload = Buffer.alloc(size, 0x61 + (result.sent % 26));
          result.sent++;
          const answer = await exchange(socket, payload, vip, port, timeoutMs);
          if (!answer) { result.timeouts++; continue; }
          const from = `${answer.rinfo.address}:${answer.rinfo.port}`;
          if (answer.rinfo.address !== vip || answer.rinfo.port !== port) result.foreign.push({ source, from });
          const text = answer.msg.toString('utf8').trim();
          const match = /^(\S+) (\d+)$/.exec(text);
          if (!match || Number(match[2]) !== size) {
            result.wrong.push({ source, size, answer: text.slice(0, 80), from });
            continue;
          }
          result.answered++;
          const server = match[1] as string;
          const perSource = (result.bySource[source] ??= {});
          perSource[server] = (perSource[server] ?? 0) + 1;
        }
      }
    } finally {
      socket.close();
    }
  }));
  result.durationMs = Date.now() - started;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`udp-probe-child: ${String(error)}\n`);
  process.exit(1);
});
