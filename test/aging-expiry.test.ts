// Flow aging end to end: the aging worker reads the fast path's tables and has the I/O thread drop
// flows idle longer than their state allows. A UDP flow disappears from `las flows` after the udp
// timeout; a TCP flow that saw FIN or RST goes after the short tcpFinWait / tcpClose while an
// established one, idle for longer than that, stays.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { flows, lasOk, sleep, waitFor, type FlowRow } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 90_000, skip: needsRoot('network namespaces') };
const SHORT_S = 2;
const timeouts = { udp: SHORT_S, tcpFinWait: SHORT_S, tcpClose: SHORT_S, tcpEstablished: 60, tcpSynRecv: 60 };
// A flow goes between its timeout and its timeout plus one sweep (1 s for these timeouts) and one
// pass; this bound only keeps a broken build from hanging the test.
const GONE_WITHIN_MS = SHORT_S * 1000 + 5000;
// CLOCK_MONOTONIC_COARSE ticks in jiffies: a stamp may be a few ms older than the packet.
const CLOCK_SLACK_MS = 50;

test('a UDP flow disappears from las flows after the udp timeout, not before', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 2, config: { flowTimeouts: timeouts }, startDaemon: false }, async (lab) => {
    const dns = { name: 'dns', vip: lab.vip, port: 5353, protocol: 'udp', servers: lab.segment.servers.map((s) => ({ address: s.address })) };
    await lab.writeConfig({ ...lab.config, services: [...lab.config.services, dns] });
    await lab.startDaemon();

    const sentBefore = Date.now();
    await lab.exec('client', process.execPath, ['-e', `
      const s = require('dgram').createSocket('udp4');
      s.bind(45353, () => s.send('hello', 5353, ${JSON.stringify(lab.vip)}, () => s.close()));`], { timeoutMs: 10_000 });
    // The datagram is in the table only once its RX block has been handed over (up to the ring's
    // retire timeout after it arrived): wait for it rather than read the table at once.
    let first = await flows(lab, 'dns');
    await waitFor('the UDP flow shows up', async () => (first = await flows(lab, 'dns')).total === 1, 5000, () => first);
    assert.deepEqual([first.flows[0]?.client, first.flows[0]?.state, first.flows[0]?.protocol], [`${lab.segment.client.address}:45353`, 'UDP', 'udp']);
    assert.match(await lasOk(lab, ['flows', '--service', 'dns']), /dns\s+udp\s+10\.77\.0\.10:45353\s+10\.77\.0\.100:5353\s+10\.77\.0\.1\d\s+UDP/);

    await waitFor('the UDP flow ages out', async () => (await flows(lab, 'dns')).total === 0, GONE_WITHIN_MS, () => flows(lab, 'dns'));
    const goneAfter = Date.now() - sentBefore;
    assert.ok(goneAfter >= SHORT_S * 1000 - CLOCK_SLACK_MS, `gone ${goneAfter} ms after it was sent, before its ${SHORT_S} s timeout`);
    const stats = (await lab.admin('stats')) as { workers: { flowsExpired: string }[] };
    assert.ok(Number(stats.workers[0]?.flowsExpired) >= 1);
  });
});

test('TCP flows that saw FIN or RST age by the short timeouts; an established one, idle longer, stays', TEST_OPTIONS, async () => {
  await withDrLab({ servers: 2, config: { flowTimeouts: timeouts } }, async (lab) => {
    // One connection held open without data (ESTABLISHED), one reset right after the handshake (CLOSE).
    const holder = lab.spawn('client', process.execPath, ['-e', `
      const net = require('net');
      const held = net.connect(80, ${JSON.stringify(lab.vip)}, () => console.log('held ' + held.localPort));
      const rst = net.connect(80, ${JSON.stringify(lab.vip)}, () => { console.log('rst ' + rst.localPort); setTimeout(() => rst.resetAndDestroy(), 100); });
      rst.on('error', () => {});
      setTimeout(() => process.exit(0), 60000);`]);
    try {
      let out = '';
      holder.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      await waitFor('both connections open', () => /held \d+/.test(out) && /rst \d+/.test(out), 5000, () => out);
      const heldPort = /held (\d+)/.exec(out)![1];
      const rstPort = /rst (\d+)/.exec(out)![1];
      const fin = await lab.runClient({ requests: 1 }); // HTTP with "connection: close": the client sends FIN
      assert.equal(fin.ok, 1);

      const byState = (rows: FlowRow[]) => Object.fromEntries(rows.map((f) => [f.state, f]));
      let rows: FlowRow[] = [];
      await waitFor('ESTABLISHED, FIN_WAIT and CLOSE flows', async () => {
        rows = (await flows(lab, 'web')).flows;
        const s = byState(rows);
        return s.ESTABLISHED !== undefined && s.FIN_WAIT !== undefined && s.CLOSE !== undefined;
      }, 5000, () => rows);
      const s = byState(rows);
      assert.equal(s.ESTABLISHED?.client, `${lab.segment.client.address}:${heldPort}`);
      assert.equal(s.CLOSE?.client, `${lab.segment.client.address}:${rstPort}`);

      await waitFor('the FIN and RST flows age out', async () => {
        rows = (await flows(lab, 'web')).flows;
        return rows.every((f) => f.state === 'ESTABLISHED');
      }, GONE_WITHIN_MS, () => rows);
      const held = rows.find((f) => f.client.endsWith(`:${heldPort}`));
      assert.ok(held, `the established flow must stay: ${JSON.stringify(rows)}`);
      assert.ok(held.idleMs > SHORT_S * 1000, `idle ${held.idleMs} ms, longer than the FIN/RST timeouts, and kept`);
      // Still there a while later: it ages by tcpEstablished (60 s), not by the short ones.
      await sleep(1000);
      assert.ok((await flows(lab, 'web')).flows.some((f) => f.client.endsWith(`:${heldPort}`)));
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
