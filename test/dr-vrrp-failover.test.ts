// Active/standby with keepalived (ha.mode "vrrp", issue 10 deployment A): two LAS dispatchers on
// one segment, each with keepalived running the sample deploy/keepalived/keepalived.conf, three
// real servers, a client holding long-lived TCP connections and sending a stream of new HTTP
// requests. (1) kill -9 of the active LAS: keepalived's check fails, the peer becomes MASTER and
// its LAS active; no established connection breaks (both build the same Maglev table). (3) The
// killed LAS, restarted, stays standby while its keepalived is BACKUP: it answers no ARP for the
// VIP. (2) Stopping the active's keepalived: the other takes over, again without a broken
// connection. How long new requests failed is measured and printed, never asserted.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { adminRequest } from '../src/control/admin-client.js';
import { startDaemon, type DaemonProcess } from '../src/demo/daemon-process.js';
import { writeLabConfig } from '../src/demo/lab-config.js';
import { ensureCommand } from '../src/netns/ensure-package.js';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { waitFor } from './support/control.js';
import type { FailoverResult } from './support/failover-client-child.js';
import { isObject, num } from './support/json.js';
import { startKeepalived, type Keepalived } from './support/keepalived.js';
import { needsRoot } from './support/needs-root.js';

const CLIENT_CHILD = fileURLToPath(new URL('./support/failover-client-child.js', import.meta.url));
const VRRP_WAIT_MS = 30_000;   // keepalived: 3 adverts of 1 s + skew before a BACKUP takes over; generous on a loaded machine

interface Node { name: string; role: string; adminSocket: string; daemon?: DaemonProcess; keepalived?: Keepalived }

async function roleOf(node: Node): Promise<{ role: string; toldBy: string }> {
  const r = await adminRequest(node.adminSocket, 'role', {}, 5000);
  assert.ok(isObject(r), JSON.stringify(r));
  return { role: String(r.role), toldBy: String(r.toldBy) };
}

async function waitRole(node: Node, role: string): Promise<void> {
  await waitFor(`LAS ${node.name} becomes ${role} (told by keepalived)`, async () => {
    const r = await roleOf(node).catch(() => undefined);
    return r?.role === role && r.toldBy === 'las role';
  }, VRRP_WAIT_MS, () => roleOf(node).catch((e: unknown) => String(e)));
}

/** Drops and ARP replies of a LAS daemon, summed over its workers. */
async function arpCounters(node: Node): Promise<{ arpReplies: number; standbyArp: number; standby: number }> {
  const stats = await adminRequest(node.adminSocket, 'stats', {}, 5000);
  assert.ok(isObject(stats) && Array.isArray(stats.workers), JSON.stringify(stats));
  const workers = (stats.workers as unknown[]).filter(isObject);
  const sum = (get: (w: Record<string, unknown>) => unknown) => workers.reduce((n, w) => n + num(get(w)), 0);
  return {
    arpReplies: sum((w) => w.arpReplies),
    standbyArp: sum((w) => (isObject(w.drops) ? w.drops.standby_arp : undefined)),
    standby: sum((w) => (isObject(w.drops) ? w.drops.standby : undefined)),
  };
}

/** The client load of failover-client-child.ts, started and stopped by the test. */
class ClientLoad {
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private readonly waiters = new Set<() => void>();
  constructor(lab: DrLab) {
    this.child = spawn('ip', ['netns', 'exec', lab.segment.ns('client'), process.execPath, CLIENT_CHILD, '--vip', lab.vip, '--connections', '8'], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => { this.lines.push(line); for (const w of [...this.waiters]) w(); });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.lines.push(`stderr: ${chunk}`); });
  }
  private next(event: string, timeoutMs: number, accept: (line: string) => boolean = () => true): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find((l) => l.includes(`"event":"${event}"`) && accept(l));
        if (line) { clearTimeout(timer); this.waiters.delete(check); this.child.off('exit', onExit); resolve(line); }
      };
      const onExit = () => { check(); clearTimeout(timer); this.waiters.delete(check); reject(new Error(`client exited before "${event}": ${this.lines.join('\n')}`)); };
      const timer = setTimeout(() => { this.waiters.delete(check); reject(new Error(`client: no "${event}" within ${timeoutMs} ms: ${this.lines.join('\n')}`)); }, timeoutMs);
      this.waiters.add(check);
      this.child.once('exit', onExit);
      check();
    });
  }
  ready(): Promise<string> { return this.next('ready', 30_000); }
  /** Waits (bounded) until a request started at or after `fromMs` succeeded. */
  async okSince(fromMs: number): Promise<void> {
    await this.next('ok', 30_000, (line) => (JSON.parse(line) as { startMs: number }).startMs >= fromMs);
  }
  async stop(): Promise<FailoverResult> {
    this.child.stdin!.write('stop\n');
    return JSON.parse(await this.next('result', 60_000)) as FailoverResult;
  }
  kill(): void { if (this.child.exitCode === null) this.child.kill('SIGKILL'); }
}

/** Requests that succeeded after `fromMs`, and how long new requests failed around it. */
function outage(result: FailoverResult, fromMs: number): { failed: number; failedForMs: number; okAfter: number } {
  const after = result.requests.filter((r) => r.endMs >= fromMs);
  const failed = after.filter((r) => !r.ok);
  const firstOk = after.find((r) => r.ok && r.startMs >= (failed[0]?.startMs ?? fromMs));
  return {
    failed: failed.length,
    // From the event to the start of the first request that succeeded after the failures.
    failedForMs: failed.length === 0 ? 0 : (firstOk?.startMs ?? after[after.length - 1]!.endMs) - fromMs,
    okAfter: after.filter((r) => r.ok && r.startMs >= (failed[failed.length - 1]?.endMs ?? fromMs)).length,
  };
}

function assertNoBrokenConnection(result: FailoverResult, what: string): void {
  assert.equal(result.held.length, 8, what);
  for (const h of result.held) {
    assert.equal(h.broken, null, `${what}: connection from port ${h.localPort} broke: ${h.broken}`);
    assert.equal(h.echoed, h.sent, `${what}: connection from port ${h.localPort}: ${h.echoed} of ${h.sent} bytes echoed`);
  }
}

test('VRRP pair: kill -9 of the active LAS and a stopped keepalived both fail over with 0 broken connections; a restarted LAS stays standby', {
  timeout: 600_000, skip: needsRoot('network namespaces, keepalived'),
}, async (t) => {
  await ensureCommand('keepalived', 'keepalived');
  // Every port: HTTP on 80 and the echo servers on 7000 both go through the dispatcher.
  await withDrLab({ servers: 3, dispatchers: 2, service: { port: 0 }, config: { ha: { mode: 'vrrp' } } }, async (lab) => {
    // The second dispatcher: the same config (so the same Maglev table), its own socket and flow files.
    const dirB = join(lab.dir, 'b');
    await mkdir(dirB);
    const a: Node = { name: 'a', role: 'dispatcher', adminSocket: lab.adminSocket, daemon: lab.daemon() };
    const b: Node = { name: 'b', role: 'dispatcher2', adminSocket: join(dirB, 'admin.sock') };
    const configB = await writeLabConfig(dirB, { ...lab.config, adminSocket: b.adminSocket });
    const load: ClientLoad[] = [];
    try {
      b.daemon = await startDaemon({ ns: lab.segment.ns(b.role), configPath: configB, adminSocket: b.adminSocket });
      // Both start standby: nothing answers ARP for the VIP until keepalived says MASTER.
      assert.deepEqual(await roleOf(a), { role: 'standby', toldBy: 'start' });
      assert.deepEqual(await roleOf(b), { role: 'standby', toldBy: 'start' });

      // keepalived a first (priority 150): it becomes MASTER; b then joins as BACKUP.
      a.keepalived = await startKeepalived({ name: 'a', ns: lab.segment.ns(a.role), dir: lab.dir, adminSocket: a.adminSocket, priority: 150 });
      await a.keepalived.waitForLog(/entering MASTER state/i, 1, VRRP_WAIT_MS);
      await waitRole(a, 'active');
      b.keepalived = await startKeepalived({ name: 'b', ns: lab.segment.ns(b.role), dir: dirB, adminSocket: b.adminSocket, priority: 100 });
      await b.keepalived.waitForLog(/entering BACKUP state/i, 1, VRRP_WAIT_MS);
      await waitRole(b, 'standby');

      // (1) kill -9 of the active LAS.
      const first = new ClientLoad(lab);
      load.push(first);
      await first.ready();
      const killedAt = Date.now();
      await a.daemon!.kill('SIGKILL');
      await a.keepalived.waitForLog(/entering FAULT state/i, 1, VRRP_WAIT_MS);
      await b.keepalived.waitForLog(/entering MASTER state/i, 1, VRRP_WAIT_MS);
      await waitRole(b, 'active');
      const tookOverMs = Date.now() - killedAt;
      // New requests go through b now: wait for one that started after b was active, then stop the load.
      await first.okSince(Date.now());
      const result1 = await first.stop();
      const o1 = outage(result1, killedAt);
      t.diagnostic(`(1) kill -9 of the active LAS: b active ${tookOverMs} ms after the kill; new requests failed for ${o1.failedForMs} ms (${o1.failed} failed requests); ${result1.held.length} long-lived connections, 0 broken`);
      assertNoBrokenConnection(result1, 'kill -9 of the active LAS');
      assert.ok(o1.okAfter > 0, 'new requests succeed again after the failover');

      // (3) The killed LAS restarts: keepalived a leaves FAULT for BACKUP (nopreempt), LAS a stays standby.
      const backups = a.keepalived.matches(/entering BACKUP state/i);
      a.daemon = await lab.startDaemon();
      await a.keepalived.waitForLog(/entering BACKUP state/i, backups + 1, VRRP_WAIT_MS);
      await waitRole(a, 'standby');
      // A fresh ARP request from the client: only b may answer it.
      await lab.flushNeighbours('client');
      const probe = await lab.runClient({ requests: 3, timeoutMs: 5000 });
      assert.equal(probe.failed, 0, JSON.stringify(probe.errors));
      const neigh = (await lab.exec('client', 'ip', ['neigh', 'show', lab.vip, 'dev', lab.segment.client.ifname])).stdout;
      assert.match(neigh, new RegExp(lab.segment.host(b.role).mac), `the client's ARP entry for the VIP is b's MAC: ${neigh}`);
      // a saw the request (the socket filter lets ARP for the VIP in) and ignored it, counted.
      await waitFor('the standby counts the ARP it ignores', async () => (await arpCounters(a)).standbyArp > 0, 10_000, () => arpCounters(a));
      assert.equal((await arpCounters(a)).arpReplies, 0, 'the restarted standby answered ARP for the VIP');
      assert.equal(a.keepalived.matches(/entering MASTER state/i), 1, 'keepalived a stayed BACKUP (nopreempt)');

      // (2) Stop the active's keepalived (b): keepalived a becomes MASTER, LAS b is told standby.
      const second = new ClientLoad(lab);
      load.push(second);
      await second.ready();
      const masters = a.keepalived.matches(/entering MASTER state/i);
      const stoppedAt = Date.now();
      await b.keepalived.stop();
      await a.keepalived.waitForLog(/entering MASTER state/i, masters + 1, VRRP_WAIT_MS);
      await waitRole(a, 'active');
      await waitRole(b, 'standby');
      const tookOver2Ms = Date.now() - stoppedAt;
      await second.okSince(Date.now());
      const result2 = await second.stop();
      const o2 = outage(result2, stoppedAt);
      t.diagnostic(`(2) keepalived of the active stopped: a active ${tookOver2Ms} ms after the stop; new requests failed for ${o2.failedForMs} ms (${o2.failed} failed requests); ${result2.held.length} long-lived connections, 0 broken`);
      assertNoBrokenConnection(result2, 'keepalived of the active stopped');
      assert.ok(o2.okAfter > 0, 'new requests succeed again after the failover');
    } finally {
      for (const l of load) l.kill();
      await Promise.allSettled([a.keepalived?.stop(), b.keepalived?.stop(), b.daemon?.stop(5000)]);
    }
  });
});
