// systemd readiness without libsystemd: the addon's sdNotify() delivers one datagram to a real unix
// datagram socket (a path or an abstract "@name"), refuses addresses systemd never gives with a
// message naming NOTIFY_SOCKET, and the notifier frames start, reload and stop as sd_notify(3) says.
// A daemon that fails to start never reports ready.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { loadAddon } from '../src/native/binding.js';
import { SystemdNotifier } from '../src/control/sd-notify.js';
import { CLI } from './support/control.js';
import { notifyFields, startNotifyReceiver, type NotifyReceiver } from './support/notify-receiver.js';

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'las-notify-'));
  try { return await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

async function withReceiver<T>(path: string, fn: (r: NotifyReceiver) => Promise<T>): Promise<T> {
  const receiver = await startNotifyReceiver(path);
  try { return await fn(receiver); } finally { await receiver.close(); }
}

/** A logger that keeps its lines, to see what the notifier reports. */
function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>); } });
  return { log, lines };
}

test('sdNotify delivers the message as one datagram to a socket path and to an abstract "@name"', { timeout: 60_000 }, async () => {
  const addon = loadAddon();
  await withTmp(async (dir) => {
    const path = join(dir, 'notify.sock');
    await withReceiver(path, async (receiver) => {
      addon.sdNotify(path, 'READY=1\nSTATUS=serving');
      addon.sdNotify(path, 'STOPPING=1');
      await receiver.next('the second datagram', (m) => m === 'STOPPING=1', 0);
      assert.deepEqual(receiver.messages(), ['READY=1\nSTATUS=serving', 'STOPPING=1']);
    });
  });
  const abstract = `@las-test-notify-${randomBytes(6).toString('hex')}`;
  await withReceiver(abstract, async (receiver) => {
    addon.sdNotify(abstract, 'READY=1');
    await receiver.next('the datagram on the abstract socket', (m) => m === 'READY=1', 0);
  });
});

test('sdNotify refuses what is not a notify socket, naming NOTIFY_SOCKET or the errno', async () => {
  const addon = loadAddon();
  assert.throws(() => addon.sdNotify('run/notify', 'READY=1'), (e: Error) => e instanceof RangeError && /NOTIFY_SOCKET "run\/notify" is neither an absolute path/.test(e.message));
  assert.throws(() => addon.sdNotify(`/${'x'.repeat(120)}`, 'READY=1'), (e: Error) => e instanceof RangeError && /longer than a unix socket address/.test(e.message));
  await withTmp(async (dir) => {
    assert.throws(() => addon.sdNotify(join(dir, 'nobody-listens'), 'READY=1'), /sd_notify: sendto .*nobody-listens: No such file or directory/);
  });
  assert.throws(() => (addon.sdNotify as unknown as (a: unknown) => void)(1), TypeError);
});

test('the notifier: nothing without NOTIFY_SOCKET, which it removes from the environment; RELOADING=1 with the monotonic time, then READY=1 also after a refused reload; a failed send is a warning', async () => {
  const sent: string[] = [];
  const { log, lines } = memoryLog();
  const quiet = SystemdNotifier.fromEnv((_p, m) => sent.push(m), log, {});
  quiet.ready('x');
  quiet.stopping();
  assert.equal(quiet.enabled, false);
  assert.equal(sent.length, 0, JSON.stringify(sent));

  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin' };
  const paths: string[] = [];
  const notifier = SystemdNotifier.fromEnv((p, m) => { paths.push(p); sent.push(m); }, log, env);
  assert.deepEqual(env, { PATH: '/usr/bin' }, 'children (tc, command checks) do not inherit the socket');
  notifier.ready('serving 1 service(s) on eth1\nsecond line');
  assert.deepEqual(sent.splice(0), ['READY=1\nSTATUS=serving 1 service(s) on eth1 second line']);

  const before = process.hrtime.bigint() / 1000n;
  assert.equal(await notifier.reloading(async () => 'applied'), 'applied');
  const after = process.hrtime.bigint() / 1000n;
  assert.equal(sent.length, 2, JSON.stringify(sent));
  const reloading = notifyFields(sent[0]!);
  assert.equal(reloading.RELOADING, '1');
  const usec = BigInt(reloading.MONOTONIC_USEC ?? 'missing');
  assert.ok(usec >= before && usec <= after, `MONOTONIC_USEC ${usec} not within [${before}, ${after}]`);
  assert.equal(notifyFields(sent[1]!).READY, '1');
  sent.length = 0;

  await assert.rejects(notifier.reloading<unknown>(async () => { throw new Error('config.json: "workers" needs a restart\nmore'); }), /needs a restart/);
  assert.equal(notifyFields(sent[0]!).RELOADING, '1');
  assert.deepEqual(notifyFields(sent[1]!), { READY: '1', STATUS: 'reload refused, the running config stays: config.json: "workers" needs a restart' });
  assert.deepEqual(new Set(paths), new Set(['/run/systemd/notify']));

  const failing = SystemdNotifier.fromEnv(() => { throw new Error('ECONNREFUSED'); }, log, { NOTIFY_SOCKET: '/gone' });
  failing.stopping();
  assert.ok(lines.some((l) => l.msg === 'could not notify systemd' && l.notifySocket === '/gone' && l.message === 'STOPPING=1'), JSON.stringify(lines));
});

test('a daemon that fails to start (no such interface) exits non-zero and never reports READY=1', { timeout: 60_000 }, async () => {
  await withTmp(async (dir) => {
    const path = join(dir, 'notify.sock');
    const config = join(dir, 'las.json');
    await writeFile(config, JSON.stringify({
      interface: `lasnx${randomBytes(3).toString('hex')}`, adminSocket: join(dir, 'admin.sock'),
      services: [{ name: 'web', vip: '10.0.0.100', port: 80, protocol: 'tcp', servers: [{ address: '10.0.0.11', mac: '02:00:00:00:00:11' }] }],
    }));
    await withReceiver(path, async (receiver) => {
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, [CLI, 'run', '-c', config], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NOTIFY_SOCKET: path } },
          (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }));
      });
      assert.notEqual(result.code, 0, result.stderr);
      assert.match(result.stderr, /lasnx/, 'the error names the interface');
      // A datagram of our own after the exit: the socket queue is in order, so once it is read every
      // datagram the daemon sent has been read too.
      loadAddon().sdNotify(path, 'SENTINEL=1');
      const at = await receiver.next('the sentinel', (m) => m === 'SENTINEL=1', 0);
      assert.deepEqual(receiver.messages().slice(0, at).filter((m) => notifyFields(m).READY !== undefined), []);
    });
  });
});
