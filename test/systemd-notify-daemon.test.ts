// The daemon as systemd sees it (Type=notify), against a real datagram socket playing systemd's part:
// READY=1 comes only once the daemon serves (the first request through the VIP and on the admin
// socket right after it succeed), RELOADING=1 with the reload's monotonic time then READY=1 around
// `las reload`, a refused reload and SIGHUP, STOPPING=1 on SIGTERM. The process is named `las` for
// `pidof las`, `pgrep las` and `ps`, and no program it starts inherits NOTIFY_SOCKET.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminRequest } from '../src/control/admin-client.js';
import { loadAddon } from '../src/native/binding.js';
import { withDrLab } from './support/dr-lab.js';
import { las, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';
import { notifyFields, startNotifyReceiver } from './support/notify-receiver.js';

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 10_000 }, (error, stdout) => resolve({ code: error ? 1 : 0, stdout }));
  });
}

const field = (name: string) => (message: string) => notifyFields(message)[name] !== undefined;
const monotonicUsec = () => process.hrtime.bigint() / 1000n;

test('systemd readiness: READY=1 only once it serves, RELOADING=1/READY=1 around reloads, STOPPING=1 on SIGTERM; pidof/pgrep/ps name it las', { timeout: 120_000, skip: needsRoot('network namespaces') }, async () => {
  // The socket lives outside the lab's directory: the lab passes the daemon its environment at creation.
  const dir = await mkdtemp(join(tmpdir(), 'las-notify-'));
  const notifySocket = join(dir, 'notify.sock');
  const receiver = await startNotifyReceiver(notifySocket);
  try {
    await withDrLab({ servers: 2, startDaemon: false, daemonEnv: { ...process.env, NOTIFY_SOCKET: notifySocket } }, async (lab) => {
      // A command health check writes down whether it sees NOTIFY_SOCKET.
      const envFile = join(lab.dir, 'check-env.txt');
      const config = { ...lab.config, services: [{ ...lab.config.services[0], healthCheck: {
        type: 'command', command: `echo "NOTIFY_SOCKET=\${NOTIFY_SOCKET-unset}" > ${envFile}.tmp && mv ${envFile}.tmp ${envFile}`, interval: 1, timeout: 1,
      } }] };
      await lab.writeConfig(config);
      const starting = lab.startDaemon();
      starting.catch(() => undefined);   // awaited below; a failure before then must not float

      const ready = await receiver.next('READY=1 at start', field('READY'), 0, 30_000);
      // At READY=1 the daemon serves: the first attempts, made at once, succeed.
      const stats = await adminRequest(lab.adminSocket, 'stats', {}, 5000);
      assert.ok(stats && typeof stats === 'object', JSON.stringify(stats));
      const first = await lab.runClient({ requests: 1, timeoutMs: 5000 });
      assert.equal(first.failed, 0, JSON.stringify(first.errors));
      assert.equal(ready, 0, `the first message is READY=1: ${JSON.stringify(receiver.messages())}`);
      assert.match(notifyFields(receiver.messages()[ready]!).STATUS ?? '', /^serving 1 service\(s\) on /);
      const daemon = await starting;
      const pid = String(daemon.pid);

      // The process title: `kill -HUP $(pidof las)` (las reload --help) reaches this daemon.
      const pidof = await run('pidof', ['las']);
      assert.ok(pidof.stdout.trim().split(/\s+/).includes(pid), `pidof las: "${pidof.stdout.trim()}", daemon ${pid}`);
      const pgrep = await run('pgrep', ['-x', 'las']);
      assert.ok(pgrep.stdout.trim().split('\n').includes(pid), `pgrep -x las: "${pgrep.stdout.trim()}", daemon ${pid}`);
      assert.equal((await run('ps', ['-o', 'comm=', '-p', pid])).stdout.trim(), 'las');
      assert.equal((await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0+$/, ''), 'las');

      // `las reload`: RELOADING=1 stamped within the reload, then READY=1.
      let from = receiver.messages().length;
      const before = monotonicUsec();
      const ok = await las(['reload', '--socket', lab.adminSocket]);
      const after = monotonicUsec();
      assert.equal(ok.code, 0, ok.stderr);
      let at = await receiver.next('RELOADING=1', field('RELOADING'), from);
      const usec = BigInt(notifyFields(receiver.messages()[at]!).MONOTONIC_USEC ?? 'missing');
      assert.ok(usec >= before && usec <= after, `MONOTONIC_USEC ${usec} not within the reload [${before}, ${after}]`);
      at = await receiver.next('READY=1 after the reload', field('READY'), at + 1);
      assert.match(notifyFields(receiver.messages()[at]!).STATUS ?? '', /^reloaded at /);

      // A refused reload (the file mid-edit): still READY=1, saying why.
      await writeFile(lab.configPath, '{ "interface": ');
      from = receiver.messages().length;
      const refused = await las(['reload', '--socket', lab.adminSocket]);
      assert.notEqual(refused.code, 0, refused.stdout);
      at = await receiver.next('RELOADING=1 (refused)', field('RELOADING'), from);
      at = await receiver.next('READY=1 after the refused reload', field('READY'), at + 1);
      assert.match(notifyFields(receiver.messages()[at]!).STATUS ?? '', /^reload refused, the running config stays: /);
      await lab.writeConfig(config);

      // SIGHUP (the pid pidof found) reloads the same way.
      from = receiver.messages().length;
      process.kill(Number(pid), 'SIGHUP');
      at = await receiver.next('RELOADING=1 (SIGHUP)', field('RELOADING'), from);
      await receiver.next('READY=1 after SIGHUP', field('READY'), at + 1);
      const again = await lab.runClient({ requests: 10, concurrency: 2 });
      assert.equal(again.failed, 0, JSON.stringify(again.errors));

      // The command check ran without the socket.
      await waitFor('a command health check ran', async () => (await readdir(lab.dir)).includes('check-env.txt'), 10_000);
      assert.equal((await readFile(envFile, 'utf8')).trim(), 'NOTIFY_SOCKET=unset');

      // SIGTERM: STOPPING=1, and it is the last word (our own datagram after the exit comes right after it).
      from = receiver.messages().length;
      assert.deepEqual(await lab.kill('SIGTERM'), { code: 0, signal: null }, lab.daemonOutput().stderr);
      loadAddon().sdNotify(notifySocket, 'SENTINEL=1');
      const sentinel = await receiver.next('our sentinel', (m) => m === 'SENTINEL=1', from);
      const last = receiver.messages().slice(from, sentinel);
      assert.equal(last.length, 1, JSON.stringify(last));
      assert.deepEqual(notifyFields(last[0]!), { STOPPING: '1', STATUS: 'stopping' });
    });
  } finally {
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  }
});
