// `las status` like `ipvsadm -Ln` against a real daemon and real TCP connections: held connections
// are ActiveConn on the server that has them (checked against `ss` on that server), closed ones move
// to InActConn until aging removes them; counts in K/M unless --exact; exit status 2 while a service
// has no server that can take new flows.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { exited, stopProcess, waitUntil } from '../src/demo/processes.js';
import { EXIT_NO_SERVER, formatStatus } from '../src/cli/status.js';
import { human } from '../src/cli/format.js';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';
import { flows, las, lasOk, logLines, samples, scrape, waitFor } from './support/control.js';
import type { HeldConnections } from './support/tcp-hold-child.js';

const ECHO_PORT = 7000;
const CONNECTIONS = 4;
const HOLD_CHILD = fileURLToPath(new URL('./support/tcp-hold-child.js', import.meta.url));

interface Row { address: string; state: string; weight: number; activeConn: number; inactConn: number; activeFlows: number }
interface Service { name: string; newFlows: string; servers: Row[] }

async function statusJson(lab: DrLab): Promise<{ code: number; services: Service[] }> {
  const r = await las(['status', '--json', '--socket', lab.adminSocket]);
  return { code: r.code, services: (JSON.parse(r.stdout) as { services: Service[] }).services };
}

const total = (s: Service, field: 'activeConn' | 'inactConn') => s.servers.reduce((n, r) => n + r[field], 0);
/** The table scan agrees with the fast path's live per-server flow counter. */
const agrees = (s: Service) => s.servers.every((r) => r.activeConn + r.inactConn === r.activeFlows);

/** Established connections from the client to VIP:7000 that a server's own kernel holds. */
async function establishedOn(lab: DrLab, role: string): Promise<number> {
  const { stdout } = await lab.exec(role, 'ss', ['-Htn', 'state', 'established', `( sport = :${ECHO_PORT} )`]);
  return stdout.split('\n').filter((l) => l.trim() !== '').length;
}

/** The text row of a server: ["->", "addr:port", weight, active, inactive, state, ...notes]. */
function row(text: string, address: string): string[] {
  const line = text.split('\n').find((l) => l.trimStart().startsWith(`-> ${address}:`));
  assert.ok(line, `no row for ${address} in:\n${text}`);
  return line.trim().split(/\s+/);
}

describe('las status', () => {
  it('K/M units: 3 significant digits, raw below 1000 and with --exact', () => {
    assert.deepEqual([0, 999, 1000, 1234, 12_345, 999_499, 999_500, 1_048_576, 5_000_000_000].map((n) => human(n)),
      ['0', '999', '1.00K', '1.23K', '12.3K', '999K', '1.00M', '1.05M', '5.00G']);
    assert.equal(human('18446744073709551615', true), '18446744073709551615');
    assert.equal(human(undefined), '-'); // an older daemon without the field
    const text = formatStatus({ flowTable: { capacity: 1_048_576, idleTimeout: 900 }, services: [{ name: 'web', protocol: 'tcp', vip: '10.0.0.1', port: 80, newFlows: 'servers', noServer: '12345',
      servers: [{ address: '10.0.0.11', role: 'real', weight: 1, activeConn: 123_456, inactConn: 7, state: 'up' }] }] });
    assert.match(text, /flow table 1\.05M per worker/);
    assert.deepEqual(row(text, '10.0.0.11').slice(1, 6), ['10.0.0.11:80', '1', '123K', '7', 'up']);
    assert.match(text, /no_server=12\.3K/);
  });

  it('held TCP connections are ActiveConn where ss sees them, closed ones InActConn; exit 2 with every server drained', { timeout: 120_000, skip: needsRoot('network namespaces') }, async () => {
    await withDrLab({
      servers: 2, clientAddresses: CONNECTIONS, httpPort: 80, echoPort: ECHO_PORT, service: { port: ECHO_PORT },
      // Closed flows stay in the table for the whole test: aging must not race the InActConn count.
      config: { flowTimeouts: { tcpFinWait: 600, tcpClose: 600 } },
    }, async (lab) => {
      const servers = lab.segment.servers;
      let hold: ChildProcess | undefined;
      try {
        hold = lab.spawn('client', process.execPath, [
          HOLD_CHILD, '--vip', lab.vip, '--port', String(ECHO_PORT), '--sources', lab.segment.client.sources.join(','), '--hold-ms', '110000',
        ], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        hold.stdout?.setEncoding('utf8').on('data', (c: string) => { out += c; });
        await waitUntil('held connections', () => out.includes('\n'), 15_000, () => (hold!.exitCode !== null ? `exited ${hold!.exitCode}` : undefined));
        assert.equal((JSON.parse(out) as HeldConnections).connections.length, CONNECTIONS);

        let last: Service | undefined;
        await waitFor(`${CONNECTIONS} active connections`, async () => {
          last = (await statusJson(lab)).services[0];
          return last !== undefined && total(last, 'activeConn') === CONNECTIONS && total(last, 'inactConn') === 0 && agrees(last);
        }, 10_000, () => last);
        // Each server's ActiveConn is what its own kernel holds.
        for (const s of servers) {
          assert.equal(last!.servers.find((r) => r.address === s.address)?.activeConn, await establishedOn(lab, s.name), `${s.name}: ${JSON.stringify(last)}`);
        }

        const text = await las(['status', '--socket', lab.adminSocket]);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^Prot LocalAddress:Port Name\s+Scheduler\s+Weight\s+ActiveConn\s+InActConn\s+State/m);
        assert.match(text.stdout, new RegExp(`^TCP 10\\.77\\.0\\.100:${ECHO_PORT} web\\s+maglev\\(65537\\)\\s+${CONNECTIONS}\\s+0\\s+ok\\s`, 'm'));
        for (const s of servers) {
          const r = row(text.stdout, s.address);
          const active = last!.servers.find((x) => x.address === s.address)!.activeConn;
          assert.deepEqual(r.slice(1, 6), [`${s.address}:${ECHO_PORT}`, '1', String(active), '0', 'not_checked'], text.stdout);
        }
        assert.match(text.stdout, /flow table 1\.05M per worker/);
        assert.match((await lasOk(lab, ['status', '--exact'])), /flow table 1048576 per worker/);

        // The client closes: every flow is inactive (FIN or RST seen) and still in the table.
        hold.stdin?.end();
        await exited(hold);
        await waitFor('every connection inactive', async () => {
          last = (await statusJson(lab)).services[0];
          return last !== undefined && total(last, 'activeConn') === 0 && total(last, 'inactConn') === CONNECTIONS && agrees(last);
        }, 10_000, () => last);
        const listed = await flows(lab, 'web');
        assert.equal(listed.total, CONNECTIONS);
        for (const f of listed.flows) assert.ok(f.state === 'FIN_WAIT' || f.state === 'CLOSE', JSON.stringify(f));
      } finally {
        hold?.stdin?.end();
        if (hold) await stopProcess(hold, 1000);
      }

      // Every server drained: no server can take new flows, and no sorry server.
      for (const s of servers) await lasOk(lab, ['server', 'drain', 'web', s.address]);
      const drained = await las(['status', '--socket', lab.adminSocket]);
      assert.equal(drained.code, EXIT_NO_SERVER, drained.stdout + drained.stderr);
      assert.match(drained.stderr, /^las: service web: no server can take new flows; they are dropped$/m);
      assert.match(drained.stdout, /^TCP \S+ web\s+\S+\s+0\s+4\s+NO SERVER\s+NEW FLOWS DROPPED/m);
      for (const s of servers) {
        const r = row(drained.stdout, s.address);
        assert.deepEqual([r[2], r[3], r[5]], ['0', '0', 'drained'], drained.stdout); // weight, ActiveConn, State
      }
      const json = await statusJson(lab);
      assert.equal(json.code, EXIT_NO_SERVER);
      assert.deepEqual(json.services[0]!.servers.map((r) => r.state), ['drained', 'drained']);
      const want = JSON.stringify(servers.map((s) => [s.address, 'drained']).sort());
      let states = '';
      await waitFor('las_server_state drained for both', async () => { // renderings are cached for 100 ms
        states = JSON.stringify(samples(await scrape(lab)).filter((s) => s.name === 'las_server_state' && s.value === 1).map((s) => [s.labels.server, s.labels.state]).sort());
        return states === want;
      }, 10_000, () => states);

      await lasOk(lab, ['server', 'enable', 'web', servers[0]!.address]);
      const back = await las(['status', '--socket', lab.adminSocket]);
      assert.equal(back.code, 0, back.stderr);
      assert.equal(row(back.stdout, servers[0]!.address)[5], 'not_checked');

      // The log says levels by name.
      assert.equal(logLines(lab, /^ready$/)[0]?.level, 'info');
      assert.equal(logLines(lab, /^server drained/)[0]?.level, 'info');
      assert.equal(logLines(lab, /^no server can take new flows/)[0]?.level, 'warn');
    });
  });
});
