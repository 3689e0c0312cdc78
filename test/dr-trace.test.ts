// `las trace` against a real daemon in namespaces: a trace on a client prefix shows that client's
// TCP frames with the server that really answered them and nothing of another client; a trace of
// drops shows frames to a port with no service with that reason; --count N stops after N; a client
// that goes away removes its trace (status says so).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stopProcess } from '../src/demo/processes.js';
import { withDrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';
import { las, waitFor } from './support/control.js';
import { exitWithin, startTrace, traceState } from './support/trace-run.js';

const OPTIONS = { timeout: 180_000, skip: needsRoot('network namespaces') };
const REQUESTS = 12;

const address = (endpoint: string | null) => endpoint?.split(':')[0];

describe('las trace', () => {
  it('a client prefix shows that client\'s frames with the server that answered, and nothing of another client', OPTIONS, async () => {
    // One worker: its ring is drained in order, so once the last connection shows up every earlier
    // frame has been delivered too.
    await withDrLab({ clients: 2, service: { flowKey: '5tuple' }, config: { workers: 1 } }, async (lab) => {
      const client = lab.segment.clients[0]!;
      const other = lab.segment.clients[1]!;
      const mine = await startTrace(lab, ['--client', `${client.address}/32`]);
      const all = await startTrace(lab, ['--vip', `${lab.vip}:${lab.port}`]);
      try {
        assert.deepEqual((await traceState(lab)).clients.map((c) => c.filter), [`client ${client.address}/32`, `vip ${lab.vip}:${lab.port}`]);
        const theirs = await lab.runClient({ client: other.role, requests: REQUESTS });
        const ours = await lab.runClient({ client: client.role, requests: REQUESTS });
        assert.equal(theirs.ok, REQUESTS, JSON.stringify(theirs));
        assert.equal(ours.ok, REQUESTS, JSON.stringify(ours));
        // Every connection of ours has its new flow in the trace: the last one too.
        const newFlows = () => mine.events.filter((e) => e.reason === 'new flow');
        await waitFor('our connections in the trace', () => newFlows().length >= REQUESTS, 20_000, () => mine.events.length);
        await waitFor('the other client in the unfiltered trace', () => all.events.some((e) => address(e.client) === other.address), 20_000);

        assert.ok(mine.events.length > REQUESTS, `only ${mine.events.length} events`);
        assert.equal(mine.lost, 0);
        for (const e of mine.events) {
          assert.equal(address(e.client), client.address, `an event of another client: ${JSON.stringify(e)}`);
          assert.equal(e.protocol, 'tcp');
          assert.equal(e.vip, `${lab.vip}:${lab.port}`);
          assert.equal(e.verdict, 'forward', JSON.stringify(e));
          assert.ok(e.reason === 'new flow' || e.reason === 'flow table', e.reason);
          assert.equal(e.service, 'web');
          assert.equal(e.worker, 0);
        }
        // The server the trace names for each new connection is the one whose HTTP answer came back.
        const nameOf = new Map(lab.segment.servers.map((s) => [s.address, s.name]));
        const traced: Record<string, number> = {};
        for (const e of newFlows()) traced[nameOf.get(e.server ?? '') ?? `unknown ${e.server}`] = (traced[nameOf.get(e.server ?? '') ?? `unknown ${e.server}`] ?? 0) + 1;
        assert.deepEqual(traced, ours.byServer);
        // Every later frame of a connection names the server of its new flow.
        const serverOf = new Map(newFlows().map((e) => [e.client, e.server]));
        for (const e of mine.events) assert.equal(e.server, serverOf.get(e.client), JSON.stringify(e));
        // The unfiltered trace saw both clients in the same time.
        assert.ok(all.events.some((e) => address(e.client) === client.address));
      } finally {
        await stopProcess(mine.child);
        await stopProcess(all.child);
      }
    });
  });

  it('drops to a port with no service show with their reason; --count stops; a client that goes away ends its trace', OPTIONS, async () => {
    await withDrLab({ service: { flowKey: '5tuple' }, config: { workers: 2 } }, async (lab) => {
      const client = lab.segment.client;
      const datagrams = 20;
      const noServicePort = 9;
      const send = () => lab.exec('client', process.execPath, ['-e', `
        const s = require('node:dgram').createSocket('udp4');
        let n = 0;
        const next = () => n++ < ${datagrams} ? s.send('x', ${noServicePort}, '${lab.vip}', next) : s.close();
        next();`]);

      // --count: the command ends by itself after exactly N decisions, with exit status 0.
      const counted = await startTrace(lab, ['--drops', '--client', client.address, '--count', '5']);
      await send();
      assert.equal(await exitWithin(counted, 20_000), 0, counted.stderr());
      assert.equal(counted.events.length, 5, JSON.stringify(counted.events));
      for (const e of counted.events) {
        assert.equal(e.verdict, 'drop');
        assert.equal(e.reason, 'no_service');
        assert.equal(e.protocol, 'udp');
        assert.equal(address(e.client), client.address);
        assert.equal(e.vip, `${lab.vip}:${noServicePort}`);
        assert.equal(e.server, null);
      }
      await waitFor('the trace to end once its client left', async () => !(await traceState(lab)).active, 10_000);

      // The text form: one line per decision, time worker protocol tuple verdict reason.
      const text = await startTrace(lab, ['--reason', 'no_service', '-n', '2'], false);
      await send();
      assert.equal(await exitWithin(text, 20_000), 0, text.stderr());
      assert.equal(text.text.length, 2, text.text.join('\n'));
      const vip = lab.vip.replaceAll('.', '\\.');
      const src = client.address.replaceAll('.', '\\.');
      for (const line of text.text) assert.match(line, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{6} w[01] udp ${src}:\\d+ > ${vip}:${noServicePort} drop no_service$`));
      assert.match(text.stderr(), /^tracing dropped for no_service on 2 workers, 2 decisions; Ctrl-C to stop$/m);
      await waitFor('the text trace to end', async () => !(await traceState(lab)).active, 10_000);

      // A reason filter sees every such drop; HTTP to the service meanwhile is not in it.
      const byReason = await startTrace(lab, ['--reason', 'no_service']);
      try {
        assert.equal((await traceState(lab)).active, true);
        const http = await lab.runClient({ requests: 4 });
        assert.equal(http.ok, 4);
        await send();
        await waitFor('every datagram in the trace', () => byReason.events.length >= datagrams, 20_000, () => byReason.events.length);
        assert.ok(byReason.events.every((e) => e.verdict === 'drop' && e.reason === 'no_service' && e.vip === `${lab.vip}:${noServicePort}`), JSON.stringify(byReason.events));
        assert.equal(byReason.events.length, datagrams);
        const text = await las(['status', '--socket', lab.adminSocket]);
        assert.match(text.stdout, /trace: 1 running/);
      } finally {
        // Gone without a goodbye: the daemon notices the closed socket and turns the trace off.
        byReason.child.kill('SIGKILL');
        await exitWithin(byReason, 10_000);
      }
      await waitFor('the trace to end once its client was killed', async () => !(await traceState(lab)).active, 10_000);
      assert.deepEqual((await traceState(lab)).clients, []);
      assert.match((await las(['status', '--socket', lab.adminSocket])).stdout, /trace: off/);
    });
  });
});
