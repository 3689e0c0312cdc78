// The daemon under hostile local clients of its admin socket and metrics listener, all at once
// against one daemon: a client that writes requests and never reads, a 20 MB line without a
// newline, 300 idle admin connections, pipelining metrics non-readers and a connection flood.
// Each is cut off or bounded; meanwhile a normal admin client and a normal scrape are answered,
// HTTP through the VIP keeps working, health checks keep every server up, and the daemon's
// memory stays bounded (it went from 180 MB to 3 GB before replies were flow-controlled).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { ADMIN_LIMITS } from '../src/control/admin-server.js';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { logLines, startWith, waitFor } from './support/control.js';
import { rssKb } from './support/rss.js';
import { writeUntilCutOff } from './support/hostile-client.js';
import { needsRoot } from './support/needs-root.js';

const RSS_GROWTH_LIMIT_MB = 200;

async function adminClient(lab: DrLab): Promise<net.Socket> {
  const socket = net.createConnection(lab.adminSocket);
  socket.on('error', () => undefined); // cut off by the daemon
  await once(socket, 'connect');
  return socket;
}

/** A storm in the dispatcher's namespace: 20 pipelining non-readers and 300 idle connections to the metrics port. */
const METRICS_STORM = `
const net = require('net');
const pipelined = Buffer.from('GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'.repeat(2000));
let connected = 0;
const up = () => { if (++connected === 320) console.log('READY'); };
for (let i = 0; i < 20; i++) {
  const s = net.createConnection(9477, '127.0.0.1');
  s.pause();
  s.on('error', () => {});
  s.on('connect', () => { s.write(pipelined); up(); });
}
for (let i = 0; i < 300; i++) net.createConnection(9477, '127.0.0.1').on('error', () => {}).on('connect', up);
setTimeout(() => process.exit(0), 120000);`;

const SCRAPE = `fetch('http://127.0.0.1:9477/metrics', { signal: AbortSignal.timeout(20000) })
  .then(async (r) => console.log(r.status + ' ' + (await r.text()).includes('las_rx_packets_total')), (e) => console.log('ERR ' + (e.cause?.code ?? e.message)))`;

test('hostile admin and metrics clients are cut off while forwarding, health, a normal admin client and a scrape carry on', { timeout: 240_000, skip: needsRoot('network namespaces') }, async (t) => {
  await withDrLab({ servers: 2, startDaemon: false }, async (lab) => {
    await startWith(lab, { healthCheck: { type: 'tcp', interval: 0.5, timeout: 0.4 } });
    const pid = lab.daemon().pid!;
    await waitFor('health checks passing', async () => {
      const status = (await lab.admin('status')) as { services: { servers: { health: string }[] }[] };
      return status.services[0]!.servers.every((s) => s.health === 'up');
    }, 20_000);
    const baselineKb = await rssKb(pid);
    assert.ok(baselineKb !== undefined, `VmRSS of the daemon (${pid})`);
    const baseline = baselineKb / 1024;
    let peak = baseline;
    // Tolerant reads: a daemon that dies must fail the assertions below, not throw ENOENT in a timer.
    const sampler = setInterval(() => {
      void rssKb(pid).then((kb) => { if (kb !== undefined) peak = Math.max(peak, kb / 1024); });
    }, 100);
    const sockets: net.Socket[] = [];
    const storm = lab.spawn('dispatcher', process.execPath, ['-e', METRICS_STORM]);
    try {
      // 1. Writes status requests and never reads the answers.
      const nonReader = await adminClient(lab);
      nonReader.pause();
      const flooding = writeUntilCutOff(nonReader, Buffer.from('{"cmd":"status"}\n'.repeat(1000)), 5000);
      // 2. A 20 MB line without a newline.
      const longLine = await adminClient(lab);
      let longAnswer = '';
      longLine.setEncoding('utf8').on('data', (c: string) => (longAnswer += c));
      const longTaken = writeUntilCutOff(longLine, Buffer.alloc(64 * 1024, 0x78), 320);
      // 3. 300 idle admin connections.
      for (let i = 0; i < 300; i++) sockets.push(await adminClient(lab));
      // 4. The metrics storm, connected.
      let stormOut = '';
      storm.stdout!.setEncoding('utf8').on('data', (c: string) => (stormOut += c));
      await waitFor('the metrics storm connected', () => stormOut.includes('READY'), 30_000);

      // Meanwhile: a normal admin client, a normal scrape, and HTTP through the VIP.
      assert.ok(await lab.admin('stats', {}, 20_000));
      const scrape = await lab.exec('dispatcher', process.execPath, ['-e', SCRAPE], { timeoutMs: 30_000 });
      assert.equal(scrape.stdout.trim(), '200 true');
      const during = await lab.runClient({ requests: 200, concurrency: 4 });
      assert.equal(during.failed, 0);

      // Every hostile admin client is cut off, the long line with an error answer.
      assert.ok((await flooding) < 5000, 'the daemon kept reading a client that never reads');
      assert.ok(nonReader.destroyed);
      assert.ok((await longTaken) < 64, 'the daemon read far into the 20 MB line');
      await waitFor('the long line refused', () => longLine.destroyed, 20_000);
      assert.match(longAnswer, /request line longer than 65536 bytes/);
      // Evictions reach the clients as closes; wait (bounded) for them to land.
      await waitFor('idle admin connections down to the limit', () => sockets.filter((s) => !s.destroyed).length <= ADMIN_LIMITS.maxConnections, 10_000);

      // Invalid JSON, an unknown verb and wrong argument types: answered, the daemon lives on.
      for (const [request, error] of [['{"cmd":', /malformed JSON/], ['{"cmd":"reboot"}', /unknown command "reboot"/], ['{"cmd":"stats","args":{"all":true}}', /unknown argument "all"/], ['{"cmd":"flows","args":{"limit":"10"}}', /"limit" must be an integer/]] as const) {
        const s = await adminClient(lab);
        s.write(`${request}\n`);
        const [line] = (await once(s.setEncoding('utf8'), 'data')) as [string];
        s.destroy();
        assert.match(JSON.parse(line.split('\n')[0]!).error, error);
      }
      const after = await lab.runClient({ requests: 200, concurrency: 4 });
      assert.equal(after.failed, 0);
      assert.deepEqual(logLines(lab, /server down/), []);
      t.diagnostic(`daemon RSS ${baseline.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB`);
      assert.ok(peak - baseline < RSS_GROWTH_LIMIT_MB, `daemon RSS grew from ${baseline.toFixed(0)} MB to ${peak.toFixed(0)} MB`);
      assert.ok(lab.daemon().running());
    } finally {
      clearInterval(sampler);
      storm.kill('SIGKILL');
      for (const s of sockets) s.destroy();
    }
  });
});
