// `las trace` on a real dual-stack daemon: a v6 client filter shows that client's v6 frames in v6
// text with the server that really answered, nothing of another client and nothing of v4; a v4
// filter shows no v6 frame; the NS the client sends for the v6 VIP shows as ndp_reply and is
// counted in `las stats`'s ndp adverts column; the text form brackets v6 endpoints.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stopProcess } from '../src/demo/processes.js';
import { withDrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';
import { las, waitFor } from './support/control.js';
import { exitWithin, startTrace, traceState } from './support/trace-run.js';

const OPTIONS = { timeout: 180_000, skip: needsRoot('network namespaces') };
const REQUESTS = 12;

/** "[fd77::20]:40112" or "fd77::20" (no ports) -> "fd77::20"; "10.77.0.20:40112" -> "10.77.0.20". */
const address = (endpoint: string | null) =>
  endpoint?.startsWith('[') ? endpoint.slice(1, endpoint.indexOf(']')) : endpoint?.includes('.') ? endpoint.split(':')[0] : endpoint;

describe('las trace over IPv6', () => {
  it('v6 filters take v6 frames only, printed as v6, with the server that answered; NDP answers are traced and counted', OPTIONS, async () => {
    // One worker: its ring is drained in order, so once the last connection shows up every earlier
    // frame has been delivered too.
    const fiveTuple = { flowKey: '5tuple' as const };
    await withDrLab({ clients: 2, service: fiveTuple, ipv6: fiveTuple, config: { workers: 1 } }, async (lab) => {
      const vip6 = lab.vip6!;
      const client = lab.segment.clients[0]!;
      const other = lab.segment.clients[1]!;
      const mine6 = client.sources6![0]!;
      const theirs6 = other.sources6![0]!;
      // The client must ask for the VIP's MAC again: its NS is then in the ndp trace.
      await lab.flushNeighbours(client.role);
      const mine = await startTrace(lab, ['--client', mine6]);
      const byVip6 = await startTrace(lab, ['--vip', `[${vip6}]:80`]);
      const byVip4 = await startTrace(lab, ['--vip', lab.vip]);
      const ndp = await startTrace(lab, ['--verdict', 'ndp_reply']);
      try {
        assert.deepEqual((await traceState(lab)).clients.map((c) => c.filter), [`client ${mine6}/128`, `vip [${vip6}]:80`, `vip ${lab.vip}`, 'ndp_reply']);
        const theirs = await lab.runClient({ client: other.role, ipv6: true, requests: REQUESTS });
        const ours = await lab.runClient({ client: client.role, ipv6: true, requests: REQUESTS });
        const ours4 = await lab.runClient({ client: client.role, requests: REQUESTS });
        for (const r of [theirs, ours, ours4]) assert.equal(r.ok, REQUESTS, JSON.stringify(r));
        const newFlows = () => mine.events.filter((e) => e.reason === 'new flow');
        await waitFor('our v6 connections in the trace', () => newFlows().length >= REQUESTS, 20_000, () => mine.events.length);
        await waitFor('the v4 connections in the v4 trace', () => byVip4.events.filter((e) => e.reason === 'new flow').length >= REQUESTS, 20_000, () => byVip4.events.length);
        await waitFor('the other client in the v6 VIP trace', () => byVip6.events.some((e) => address(e.client) === theirs6), 20_000);
        await waitFor('the NS for the VIP in the ndp trace', () => ndp.events.length > 0, 20_000);

        assert.equal(mine.lost, 0);
        for (const e of mine.events) {
          assert.equal(address(e.client), mine6, `an event of another client or family: ${JSON.stringify(e)}`);
          if (e.verdict === 'ndp_reply') continue; // its NS for the VIP, when the kernel sent it from this address
          assert.match(e.client!, /^\[[0-9a-f:]+\]:\d+$/, e.client!);
          assert.equal(e.protocol, 'tcp');
          assert.equal(e.vip, `[${vip6}]:80`);
          assert.equal(e.verdict, 'forward', JSON.stringify(e));
          assert.equal(e.service, 'web6');
        }
        // The server the trace names for each new connection is the one whose HTTP answer came back.
        const nameOf = new Map(lab.segment.servers.map((s) => [s.address6!, s.name]));
        const traced: Record<string, number> = {};
        for (const e of newFlows()) {
          const name = nameOf.get(e.server ?? '') ?? `unknown ${e.server}`;
          traced[name] = (traced[name] ?? 0) + 1;
        }
        assert.deepEqual(traced, ours.byServer);
        const serverOf = new Map(newFlows().map((e) => [e.client, e.server]));
        for (const e of mine.events.filter((x) => x.verdict === 'forward')) assert.equal(e.server, serverOf.get(e.client), JSON.stringify(e));

        // The v6 VIP trace saw both clients and only v6; the v4 one only v4.
        assert.ok(byVip6.events.some((e) => address(e.client) === mine6));
        for (const e of byVip6.events) assert.equal(e.vip, `[${vip6}]:80`, JSON.stringify(e));
        for (const e of byVip4.events) assert.equal(address(e.vip), lab.vip, JSON.stringify(e));

        // The client's solicitation for the VIP, answered by the dispatcher.
        assert.ok(ndp.events.every((e) => e.verdict === 'ndp_reply' && e.protocol === 'icmpv6' && e.reason === 'NDP for a VIP'), JSON.stringify(ndp.events));
        // Counted before they were traced; taken before `las stats`, as later NS (NUD) may follow.
        const ndpTraced = ndp.events.length;
        const stats = (await las(['stats', '--socket', lab.adminSocket])).stdout;
        const [header, row] = stats.split('\n');
        const column = header!.split(/\s{2,}/).indexOf('ndp adverts');
        assert.ok(column > 0, stats);
        const shown = Number(row!.trim().split(/\s+/)[column]);
        assert.ok(shown >= ndpTraced && ndpTraced > 0, `ndp adverts ${shown}, ${ndpTraced} traced\n${stats}`);
      } finally {
        for (const run of [mine, byVip6, byVip4, ndp]) await stopProcess(run.child);
      }
      await waitFor('the traces to end', async () => !(await traceState(lab)).active, 10_000);

      // The text form brackets v6 endpoints and names the server in v6 text.
      const text = await startTrace(lab, ['--service', 'web6', '--client', `${mine6}/64`, '-n', '2'], false);
      assert.equal((await lab.runClient({ client: client.role, ipv6: true, requests: 2 })).ok, 2);
      assert.equal(await exitWithin(text, 20_000), 0, text.stderr());
      assert.equal(text.text.length, 2, text.text.join('\n'));
      const servers = lab.segment.servers.map((s) => s.address6!).join('|');
      for (const line of text.text) {
        assert.match(line, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{6} w0 tcp \\[${mine6}\\]:\\d+ > \\[${vip6}\\]:80 forward (${servers}) (new flow|flow table) \\[web6\\]$`));
      }
    });
  });
});
