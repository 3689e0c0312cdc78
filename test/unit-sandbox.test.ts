// The file-system part of deploy/las.service's sandbox, rebuilt with mounts where no systemd runs
// the unit: everything read-only (ProtectSystem=strict) but /tmp (PrivateTmp= keeps it writable) and
// the daemon's socket directory, /root and /home empty and unreadable (ProtectHome=), /proc/sys and
// /sys read-only (ProtectKernelTunables=). The daemon forwards, runs command checks and the neighbour
// refresh (its `ip -batch` file in /tmp), reloads a new VIP (tc) and exits cleanly.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { las, logLines, waitFor } from './support/control.js';
import { readUnit, serviceValue } from './support/unit-file.js';
import { needsRoot } from './support/needs-root.js';

const NEW_VIP = '10.77.0.101';

// A private mount namespace set up as the unit's directives would, then the daemon.
const SANDBOX = ['unshare', '--mount', '--propagation', 'private', 'sh', '-ec', [
  'mount --bind /tmp /tmp', 'mount -o remount,bind,ro /',
  'for m in $(findmnt -rn -o TARGET | grep -Ev "^/(proc|sys|dev|tmp)(/|$)|^/$"); do mount -o remount,bind,ro "$m" 2>/dev/null || true; done',
  'mount -t tmpfs -o ro,mode=000 tmpfs /root', 'mount -t tmpfs -o ro,mode=000 tmpfs /home',
  'mount --bind /proc/sys /proc/sys', 'mount -o remount,bind,ro /proc/sys', 'mount -o remount,ro /sys',
  'exec "$@"'].join('; '), 'sandbox'];

test('the daemon works inside the unit\'s file-system sandbox (read-only system, private /tmp, no home)', { timeout: 120_000, skip: needsRoot('network and mount namespaces') }, async () => {
  const unit = readUnit();
  for (const [key, value] of [['ProtectSystem', 'strict'], ['PrivateTmp', 'yes'], ['ProtectHome', 'yes'], ['ProtectKernelTunables', 'yes']]) {
    assert.equal(serviceValue(unit, key!), value, `the unit sets ${key}=${value}, which this test rebuilds`);
  }
  // The flow tables on tmpfs, as in the unit's /run/las (here / and /tmp may be a disk).
  const flowDir = await mkdtemp('/dev/shm/las-sandbox-flows-');
  try {
    await withDrLab({ servers: 2, startDaemon: false, daemonPrefix: SANDBOX }, async (lab) => {
      // A command check records whether it could write outside /tmp or see anything in /root: the
      // sandbox must hold for the programs the daemon starts too.
      const verdict = join(lab.dir, 'sandbox-verdict');
      await lab.writeConfig({ ...lab.config, neighbourRefresh: 1, flowTable: { persistDirectory: flowDir }, services: [{ ...lab.config.services[0], healthCheck: {
        type: 'command', interval: 1, timeout: 1,
        command: `p=/usr/.las-sandbox-probe-$$; if touch $p 2>/dev/null; then rm -f $p; echo escaped >> ${verdict}; `
          + `elif [ -n "$(ls -A /root 2>/dev/null)" ]; then echo escaped >> ${verdict}; else echo held >> ${verdict}; fi`,
      } }] });
      const daemon = await lab.startDaemon();
      const root = (await readFile(`/proc/${daemon.pid}/mountinfo`, 'utf8')).split('\n').find((l) => l.split(' ')[4] === '/') ?? '';
      assert.match(root.split(' ')[5] ?? '', /^ro\b/, `the daemon's / is read-only: ${root}`);

      const first = await lab.runClient({ requests: 40, concurrency: 4 });
      assert.equal(first.failed, 0, JSON.stringify(first.errors));
      // Four rounds of the two servers' command checks (every 1 s) span 3 s: at least two neighbour
      // refreshes (neighbourRefresh 1 s), each writing its `ip -batch` file under /tmp. A refresh that
      // fails logs a warning (checked below).
      const verdicts = async () => ((await readdir(lab.dir)).includes('sandbox-verdict') ? (await readFile(verdict, 'utf8')).trim().split('\n') : []);
      await waitFor('four rounds of command checks ran', async () => (await verdicts()).length >= 8, 20_000);
      assert.deepEqual([...new Set((await readFile(verdict, 'utf8')).trim().split('\n'))], ['held']);

      for (const server of lab.segment.servers) await lab.exec(server.role, 'ip', ['addr', 'add', `${NEW_VIP}/32`, 'dev', 'lo']);
      await lab.writeConfig({ ...lab.config, services: [...lab.config.services, { ...lab.config.services[0]!, name: 'web2', vip: NEW_VIP }] });
      const reload = await las(['reload', '--socket', lab.adminSocket]);
      assert.equal(reload.code, 0, reload.stderr);
      const added = await lab.runClient({ url: `http://${NEW_VIP}/`, requests: 20, concurrency: 2 });
      assert.equal(added.failed, 0, JSON.stringify(added.errors));

      const problems = logLines(lab, /./).filter((l) => Number(l.level) >= 40 || ['warn', 'error', 'fatal'].includes(String(l.level)));
      assert.deepEqual(problems.map((l) => l.msg), [], 'no warning since the start (neighbour refreshes included)');
      assert.deepEqual(await lab.kill('SIGTERM'), { code: 0, signal: null }, lab.daemonOutput().stderr);
      const left = (await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', lab.segment.dispatcher.ifname, 'ingress'])).stdout;
      assert.doesNotMatch(left, /pref 4955/, 'the ingress drop was removed at exit');
      const ifname = lab.segment.dispatcher.ifname;
      assert.deepEqual((await readdir(flowDir)).sort(), [`flows.${ifname}.0`, `flows.${ifname}.v6.0`], 'the flow tables (v4, v6) live in their files');
    });
  } finally {
    await rm(flowDir, { recursive: true, force: true });
  }
});
