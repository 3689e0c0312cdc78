// A tiny real server for the DR segment: HTTP that names itself, plus an optional TCP echo and an
// optional UDP answerer.
//   node dist/src/demo/real-server.js --name s1 --port 80 [--host 0.0.0.0] [--echo-port 7000]
//        [--udp-port 5300 --udp-host VIP]
// Binding 0.0.0.0 matters: requests arrive addressed to the VIP (held on lo), not to eth0's address.
// UDP is different: Node's dgram has no IP_PKTINFO, so a socket on 0.0.0.0 would answer from eth0's
// address; the UDP socket is bound to the VIP itself, so every reply leaves from the VIP as DR needs.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import { createServer as createTcpServer, type Server } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    port: { type: 'string', default: '80' },
    host: { type: 'string', default: '0.0.0.0' },
    'echo-port': { type: 'string' },
    'udp-port': { type: 'string' },
    'udp-host': { type: 'string' },
  },
});

const name = values.name;
if (!name || (values['udp-port'] !== undefined && !values['udp-host'])) {
  process.stderr.write('usage: real-server --name s1 [--port 80] [--host 0.0.0.0] [--echo-port 7000] [--udp-port 5300 --udp-host VIP]\n');
  process.exit(2);
}
const MAX_SLOW_MS = 600_000;

function reply(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://server');
  res.setHeader('x-las-server', name!);
  if (url.pathname === '/slow') {
    // A long-lived response: one chunk every 100 ms for `ms` milliseconds, then the name.
    const ms = Math.min(Math.max(Number(url.searchParams.get('ms') ?? '1000') || 0, 0), MAX_SLOW_MS);
    res.writeHead(200, { 'content-type': 'text/plain' });
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started >= ms) {
        clearInterval(timer);
        res.end(`${name}\n`);
      } else {
        res.write('.');
      }
    }, 100);
    res.on('close', () => clearInterval(timer));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`${name}\n`);
}

function listen(server: Server | ReturnType<typeof createHttpServer>, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

const servers: Array<Server | ReturnType<typeof createHttpServer>> = [];
const http = createHttpServer(reply);
http.keepAliveTimeout = 5000;
servers.push(http);
const listening = [listen(http, Number(values.port), values.host)];

if (values['echo-port']) {
  const echo = createTcpServer((socket) => {
    socket.on('error', () => socket.destroy()); // a reset client must not kill the server
    socket.pipe(socket);
  });
  servers.push(echo);
  listening.push(listen(echo, Number(values['echo-port']), values.host));
}

// UDP: each datagram is answered with "<name> <received length>\n", so a client can tell which
// server got it and whether it arrived whole (a reassembled datagram has its full length).
let udp: Socket | undefined;
if (values['udp-port'] !== undefined) {
  const socket = createSocket(values['udp-host']!.includes(':') ? 'udp6' : 'udp4');
  udp = socket;
  socket.on('message', (msg, rinfo) => {
    socket.send(`${name} ${msg.length}\n`, rinfo.port, rinfo.address);
  });
  socket.on('error', (error) => process.stderr.write(`${name}: udp: ${String(error)}\n`));
  listening.push(new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(Number(values['udp-port']), values['udp-host'], () => { socket.off('error', reject); resolve(); });
  }));
}

try {
  await Promise.all(listening);
} catch (error) {
  process.stderr.write(`${name}: cannot listen: ${String(error)}\n`);
  process.exit(1);
}
process.stdout.write('ready\n');

const stop = () => {
  for (const server of servers) server.close();
  udp?.close();
  setTimeout(() => process.exit(0), 200).unref(); // open long-lived connections must not delay exit
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
