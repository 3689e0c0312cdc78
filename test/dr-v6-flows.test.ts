// v6 flows where the control plane reads flows: the aging worker scans the v6 tables too (a v6 UDP
// flow and a reset v6 TCP connection go after their short timeouts, far before the idle bound, while
// an established one stays), `las flows` lists them in v6 text (`[addr]:port`), and `las status`
// counts a held v6 connection as ActiveConn on the server whose kernel holds it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { flows, lasOk, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 120_000, skip: needsRoot('network namespaces') };
const SHORT_S = 2;
// tcpEstablished is also the native idle bound (the largest timeout): 60 s, so a flow gone within
// GONE_WITHIN_MS was removed by the aging worker, not by the I/O thread's idle sweep.
const timeouts = { udp: SHORT_S, tcpFinWait: SHORT_S, tcpClose: SHORT_S, tcpEstablished: 60, tcpSynRecv: 60 };
const GONE_WITHIN_MS = SHORT_S * 1000 + 5000;
const CLOCK_SLACK_MS = 50;   // CLOCK_MONOTONIC_COARSE: a stamp may be a jiffy older than the packet

interface StatusServer { address: string; activeConn: number; inactConn: number }

test('v6 flows: aged by state, listed in v6 text, counted as ActiveConn/InActConn', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 2, ipv6: true, config: { flowTimeouts: timeouts }, startDaemon: false }, async (lab) => {
    const vip6 = lab.vip6!;
    const client6 = lab.segment.client.address6!;
    const web6 = lab.config.services.find((s) => s.name === 'web6')!;
    const dns6 = { name: 'dns6', vip: vip6, port: 5353, protocol: 'udp', servers: lab.segment.servers.map((s) => ({ address: s.address6! })) };
    await lab.writeConfig({ ...lab.config, services: [...lab.config.services, dns6] });
    await lab.startDaemon();

    // One v6 connection held open (ESTABLISHED), one reset after the handshake (CLOSE).
    const holder = lab.spawn('client', process.execPath, ['-e', `
      const net = require('net');
      const held = net.connect(80, ${JSON.stringify(vip6)}, () => console.log('held ' + held.localPort));
      const rst = net.connect(80, ${JSON.stringify(vip6)}, () => { console.log('rst ' + rst.localPort); setTimeout(() => rst.resetAndDestroy(), 100); });
      rst.on('error', () => {});
      setTimeout(() => process.exit(0), 100000);`]);
    try {
      let out = '';
      holder.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      await waitFor('both v6 connections open', () => /held \d+/.test(out) && /rst \d+/.test(out), 10_000, () => out);
      const heldPort = /held (\d+)/.exec(out)![1]!;
      const rstPort = /rst (\d+)/.exec(out)![1]!;

      const sentBefore = Date.now();
      await lab.exec('client', process.execPath, ['-e', `
        const s = require('dgram').createSocket('udp6');
        s.bind(45353, () => s.send('hello', 5353, ${JSON.stringify(vip6)}, () => s.close()));`], { timeoutMs: 10_000 });
      let dns = await flows(lab, 'dns6');
      await waitFor('the v6 UDP flow shows up', async () => (dns = await flows(lab, 'dns6')).total === 1, 5000, () => dns);
      const udp = dns.flows[0]!;
      assert.deepEqual([udp.client, udp.vip, udp.state, udp.protocol], [`[${client6}]:45353`, `[${vip6}]:5353`, 'UDP', 'udp']);
      assert.ok(dns6.servers.some((s) => s.address === udp.server), `server in v6 text: ${udp.server}`);

      // The held connection: listed in v6 text, on the server whose kernel holds it, ActiveConn there.
      const listing = await flows(lab, 'web6');
      const held = listing.flows.find((f) => f.client === `[${client6}]:${heldPort}`);
      assert.ok(held, JSON.stringify(listing));
      assert.deepEqual([held.vip, held.state, held.service], [`[${vip6}]:80`, 'ESTABLISHED', 'web6']);
      const holderOf = async () => {
        for (const s of lab.segment.servers) {
          const { stdout } = await lab.exec(s.name, 'ss', ['-Htn', 'state', 'established', `( dport = :${heldPort} )`]);
          if (stdout.trim() !== '') return s.address6;
        }
        return undefined;
      };
      assert.equal(held.server, await holderOf(), 'las flows names the server that holds the connection');
      assert.match(await lasOk(lab, ['flows', '--service', 'web6']), new RegExp(`web6\\s+tcp\\s+\\[${client6}\\]:${heldPort}\\s+\\[${vip6}\\]:80\\s+\\[?${held.server}`));
      const rows = async () => ((await lab.admin('status')) as { services: { name: string; servers: StatusServer[] }[] }).services.find((s) => s.name === 'web6')!.servers;
      let servers = await rows();
      await waitFor('ActiveConn 1 on the holder', async () => (servers = await rows()).some((r) => r.address === held.server && r.activeConn === 1), 5000, () => servers);
      assert.equal(servers.reduce((n, r) => n + r.activeConn, 0), 1, JSON.stringify(servers));
      assert.equal((web6.servers as unknown[]).length, servers.length);
      // The UDP flow is InActConn of its service, as in IPVS (or already gone: never active).
      const dnsRows = ((await lab.admin('status')) as { services: { name: string; servers: StatusServer[] }[] }).services.find((s) => s.name === 'dns6')!.servers;
      assert.equal(dnsRows.reduce((n, r) => n + r.activeConn, 0), 0, JSON.stringify(dnsRows));

      // Aging: the UDP flow and the reset connection go after their 2 s, the held one stays.
      await waitFor('the v6 UDP flow ages out', async () => (await flows(lab, 'dns6')).total === 0, GONE_WITHIN_MS, () => flows(lab, 'dns6'));
      const goneAfter = Date.now() - sentBefore;
      assert.ok(goneAfter >= SHORT_S * 1000 - CLOCK_SLACK_MS, `gone ${goneAfter} ms after it was sent, before its ${SHORT_S} s timeout`);
      await waitFor('the reset v6 connection ages out', async () => !(await flows(lab, 'web6')).flows.some((f) => f.client === `[${client6}]:${rstPort}`),
        GONE_WITHIN_MS, () => flows(lab, 'web6'));
      const after = await flows(lab, 'web6');
      assert.ok(after.flows.some((f) => f.client === `[${client6}]:${heldPort}` && f.state === 'ESTABLISHED'), JSON.stringify(after));
      const stats = (await lab.admin('stats')) as { workers: { flowsExpired: string }[] };
      assert.ok(Number(stats.workers[0]?.flowsExpired) >= 2, JSON.stringify(stats.workers));
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
