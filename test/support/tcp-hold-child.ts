// Runs inside the client namespace (ip netns exec NS node tcp-hold-child.js ...): opens one TCP
// connection to an echo server at VIP:port from each source address, sends `bytes` bytes on each,
// waits until all of them came back, prints one JSON line (HeldConnections) and keeps the
// connections open, idle, until its stdin ends (or --hold-ms passes), then closes them and exits.
// After the echo, every byte the server sent is acknowledged, so its send sequence sits still at
// ISN + 1 + bytes: a test can quote that exact sequence number in an ICMP error about the flow.
//
//   node tcp-hold-child.js --vip 10.77.0.100 --port 7000 --sources 10.77.0.20,10.77.0.21
//        [--bytes 64] [--timeout-ms 5000] [--hold-ms 120000]
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

export interface HeldConnection { source: string; localPort: number; echoed: number }
export interface HeldConnections { connections: HeldConnection[] }

function open(vip: string, port: number, source: string, bytes: number, timeoutMs: number): Promise<{ socket: Socket; held: HeldConnection }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: vip, port, localAddress: source });
    let echoed = 0;
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`${source}: ${echoed}/${bytes} bytes echoed within ${timeoutMs} ms`)); }, timeoutMs);
    socket.once('error', (error) => { clearTimeout(timer); reject(error); });
    socket.once('connect', () => socket.write(Buffer.alloc(bytes, 0x2e)));
    socket.on('data', (chunk: Buffer) => {
      echoed += chunk.length;
      if (echoed >= bytes) {
        clearTimeout(timer);
        socket.removeAllListeners('data');
        socket.on('error', () => undefined); // from now on only the test decides when it ends
        resolve({ socket, held: { source, localPort: socket.localPort ?? 0, echoed } });
      }
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vip: { type: 'string' }, port: { type: 'string' }, sources: { type: 'string' },
      bytes: { type: 'string', default: '64' }, 'timeout-ms': { type: 'string', default: '5000' }, 'hold-ms': { type: 'string', default: '120000' },
    },
  });
  if (!values.vip || !values.port || !values.sources) throw new Error('usage: tcp-hold-child --vip A --port P --sources a,b [--bytes N] [--timeout-ms T] [--hold-ms H]');
  const sources = values.sources.split(',').filter((s) => s.length > 0);
  const opened = await Promise.all(sources.map((source) => open(values.vip!, Number(values.port), source, Number(values.bytes), Number(values['timeout-ms']))));
  const result: HeldConnections = { connections: opened.map((o) => o.held) };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  const finish = () => {
    for (const { socket } of opened) socket.destroy();
    process.exit(0);
  };
  setTimeout(finish, Number(values['hold-ms'])).unref();
  process.stdin.on('end', finish);
  process.stdin.on('close', finish);
  process.stdin.resume();
}

main().catch((error: unknown) => {
  process.stderr.write(`tcp-hold-child: ${String(error)}\n`);
  process.exit(1);
});
