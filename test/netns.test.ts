// The namespace tooling on its own (no dispatcher): segment layout, real servers, and cleanup.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runHttpClient } from '../src/demo/processes.js';
import { cleanupAll, pendingCleanup } from '../src/netns/cleanup.js';
import { createDrSegment, withDrSegment, type DrSegment } from '../src/netns/lvs-dr.js';
import { listNamespaces, spawnInNs } from '../src/netns/namespace.js';
import { run, runInNs } from '../src/netns/run.js';
import { withDrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 60_000, skip: needsRoot('network namespaces') };

async function namespacesOf(prefix: string): Promise<string[]> {
  return (await listNamespaces()).filter((ns) => ns.startsWith(`${prefix}-`));
}

async function addressesIn(ns: string, dev: string): Promise<string[]> {
  const { stdout } = await run('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', dev]);
  const links = JSON.parse(stdout) as Array<{ addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
  return links.flatMap((link) => link.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`));
}

async function sysctl(ns: string, key: string): Promise<string> {
  return (await runInNs(ns, 'sysctl', ['-n', key])).stdout.trim();
}

test('a segment gets unique names and the LVS-DR layout', TEST_OPTIONS, async () => {
  await withDrSegment({ servers: 2, clientAddresses: 2 }, async (a) => {
    let b: DrSegment | undefined;
    try {
      b = await createDrSegment({ servers: 1 });
      assert.match(a.prefix, /^las-[0-9a-f]{6}$/);
      assert.notEqual(a.prefix, b.prefix);
      assert.deepEqual((await namespacesOf(a.prefix)).sort(), [...a.namespaces].sort());
      assert.equal(a.namespaces.filter((ns) => b!.namespaces.includes(ns)).length, 0);
      assert.deepEqual(a.namespaces.map((ns) => ns.slice(a.prefix.length + 1)).sort(), ['client', 'dispatcher', 's1', 's2', 'switch']);

      for (const host of [a.client, a.dispatcher, ...a.servers]) {
        assert.ok(host.ifname.length <= 15 && host.port.length <= 15, `${host.ifname}/${host.port} fit IFNAMSIZ`);
        assert.match(host.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        assert.equal(await sysctl(host.ns, 'net.ipv4.conf.all.rp_filter'), '0');
      }
      assert.equal(new Set([a.client, a.dispatcher, ...a.servers].map((h) => h.mac)).size, 4, 'distinct MACs');
      assert.deepEqual(a.servers.map((s) => [s.name, s.address]), [['s1', '10.77.0.11'], ['s2', '10.77.0.12']]);
      assert.equal(a.dispatcher.address, '10.77.0.2');
      assert.deepEqual(a.client.sources, ['10.77.0.20', '10.77.0.21']);
      assert.deepEqual(await addressesIn(a.client.ns, a.client.ifname), ['10.77.0.10/24', '10.77.0.20/24', '10.77.0.21/24']);

      for (const server of a.servers) {
        assert.ok((await addressesIn(server.ns, 'lo')).includes('10.77.0.100/32'), 'VIP on lo');
        assert.equal(await sysctl(server.ns, 'net.ipv4.conf.all.arp_ignore'), '1');
        assert.equal(await sysctl(server.ns, 'net.ipv4.conf.all.arp_announce'), '2');
        assert.equal(await sysctl(server.ns, `net.ipv4.conf.${server.ifname}.arp_ignore`), '1');
      }
      // The dispatcher owns the VIP only in its ARP answers, never as a configured address.
      const dispatcherAddresses = [...(await addressesIn(a.dispatcher.ns, 'lo')), ...(await addressesIn(a.dispatcher.ns, a.dispatcher.ifname))];
      assert.ok(!dispatcherAddresses.some((addr) => addr.startsWith('10.77.0.100/')), dispatcherAddresses.join(' '));
      const { stdout: neigh } = await run('ip', ['-n', a.client.ns, '-j', 'neigh', 'show', 'to', a.vip]);
      assert.deepEqual(JSON.parse(neigh || '[]'), [], 'no static neighbour for the VIP on the client');
    } finally {
      await b?.destroy();
    }
  });
});

test('a real server answers HTTP and TCP echo from the client at its real address', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 2, clientAddresses: 2, startDaemon: false }, async (lab) => {
    const result = await runHttpClient(lab.segment.ns('client'), {
      url: 'http://10.77.0.11/', requests: 6, sources: lab.segment.client.sources, concurrency: 3, timeoutMs: 2000, deadlineMs: 15_000,
    });
    assert.equal(result.failed, 0, JSON.stringify(result.errors));
    assert.deepEqual(result.byServer, { s1: 6 });
    assert.deepEqual(result.bySource, { '10.77.0.20': { s1: 3 }, '10.77.0.21': { s1: 3 } });

    const slow = await runHttpClient(lab.segment.ns('client'), { url: 'http://10.77.0.12/slow?ms=300', requests: 1, timeoutMs: 3000 });
    assert.deepEqual(slow.byServer, { s2: 1 });

    // A long-lived connection: a line every 100 ms, each echoed back.
    const script = `
      const socket = require('node:net').connect(7000, '10.77.0.12');
      let got = '', sent = 0;
      setTimeout(() => { console.error('echo timeout'); process.exit(2); }, 5000).unref();
      socket.setEncoding('utf8').on('data', (d) => { got += d; if (got.split('\\n').length > 5) { console.log(JSON.stringify(got)); socket.end(); } });
      socket.on('error', (e) => { console.error(e.message); process.exit(1); });
      socket.on('connect', () => { const t = setInterval(() => { socket.write('line' + sent++ + '\\n'); if (sent === 5) clearInterval(t); }, 100); });
    `;
    const { stdout } = await lab.exec('client', process.execPath, ['-e', script], { timeoutMs: 10_000 });
    assert.equal(JSON.parse(stdout.trim()), 'line0\nline1\nline2\nline3\nline4\n');
  });
});

test('without a dispatcher nobody answers for the VIP (servers are ARP-silent)', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 1, startDaemon: false }, async (lab) => {
    const result = await lab.runClient({ requests: 1, timeoutMs: 1500 });
    assert.equal(result.ok, 0);
    assert.equal(result.failed, 1);
  });
});

test('destroy() kills processes inside and leaves no namespace of the run', TEST_OPTIONS, async () => {
  const segment = await createDrSegment({ servers: 1 });
  const sleeper = spawnInNs(segment.ns('s1'), 'sleep', ['600']);
  const exited = new Promise((resolve) => sleeper.once('exit', (_code, signal) => resolve(signal)));
  assert.equal((await namespacesOf(segment.prefix)).length, segment.namespaces.length);
  await segment.destroy();
  assert.deepEqual(await namespacesOf(segment.prefix), []);
  assert.equal(await exited, 'SIGTERM');
  await segment.destroy(); // idempotent
});

test('cleanup also happens when the test body throws', TEST_OPTIONS, async () => {
  let labPrefix = '';
  await assert.rejects(
    withDrLab({ servers: 1, startDaemon: false }, async (lab) => {
      labPrefix = lab.segment.prefix;
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.notEqual(labPrefix, '');
  assert.deepEqual(await namespacesOf(labPrefix), []);

  let segmentPrefix = '';
  await assert.rejects(withDrSegment({ servers: 1 }, async (segment) => { segmentPrefix = segment.prefix; throw new Error('bang'); }), /bang/);
  assert.deepEqual(await namespacesOf(segmentPrefix), []);

  // Never destroyed by its owner: cleanupAll() (also run on exit and signals) still removes it.
  const orphan = await createDrSegment({ servers: 1 });
  spawnInNs(orphan.ns('client'), 'sleep', ['600']);
  await cleanupAll();
  await cleanupAll(); // idempotent
  assert.deepEqual(await namespacesOf(orphan.prefix), []);
  assert.deepEqual(pendingCleanup(), { namespaces: [], processes: 0, paths: [] });
});
