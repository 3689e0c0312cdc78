// The daemon runs as a non-root user holding only CAP_NET_RAW and CAP_NET_ADMIN (setpriv with the
// capabilities of deploy/las.service, as systemd starts it): it forwards, its admin socket serves
// that user, and once every packet socket is open it drops CAP_NET_RAW from every thread while a
// reload with a new VIP (tc needs CAP_NET_ADMIN) and the exit (the ingress drop removed) still work.
import assert from 'node:assert/strict';
import { chmod, chown, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { waitForLinkUp } from '../src/netns/namespace.js';
import { withDrLab } from './support/dr-lab.js';
import { CLI, logLines, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';
import { readUnit, setprivCapabilityArgs } from './support/unit-file.js';

const UID = 65534;   // nobody
const GID = 65534;
const OTHER_UID = 65533;
const NEW_VIP = '10.77.0.101';
const CAP_NET_ADMIN = 1n << 12n;
const CAP_NET_RAW = 1n << 13n;

// The capabilities (and NoNewPrivileges) come from deploy/las.service: what passes here is what the unit grants.
const UNIT_CAPS = setprivCapabilityArgs(readUnit());
const SETPRIV = ['setpriv', `--reuid=${UID}`, `--regid=${GID}`, '--clear-groups', ...UNIT_CAPS];

interface TaskCaps { tid: string; name: string; uid: string; eff: bigint; prm: bigint; amb: bigint; blocked: bigint }

async function taskCaps(pid: number): Promise<TaskCaps[]> {
  const out: TaskCaps[] = [];
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    let text: string;
    try { text = await readFile(`/proc/${pid}/task/${tid}/status`, 'utf8'); } catch { continue; } // thread ended
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(text)?.[1]?.trim() ?? '';
    out.push({ tid, name: field('Name'), uid: field('Uid'), eff: BigInt(`0x${field('CapEff')}`), prm: BigInt(`0x${field('CapPrm')}`), amb: BigInt(`0x${field('CapAmb')}`), blocked: BigInt(`0x${field('SigBlk')}`) });
  }
  return out;
}

/** `las ARGS` as another user with no capabilities at all; never throws for a non-zero exit. */
function lasAs(uid: number, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('setpriv', [`--reuid=${uid}`, `--regid=${GID}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
      process.execPath, CLI, ...args], { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? 1 : 0, out: stdout + stderr });
    });
  });
}

test('the unit grants exactly CAP_NET_RAW + CAP_NET_ADMIN, ambient and bounding, with NoNewPrivileges', () => {
  assert.deepEqual(UNIT_CAPS, ['--inh-caps=-all,+net_raw,+net_admin', '--ambient-caps=-all,+net_raw,+net_admin', '--bounding-set=-all,+net_raw,+net_admin', '--no-new-privs']);
});

test('as a non-root user with only CAP_NET_RAW + CAP_NET_ADMIN the daemon forwards, serves its admin socket to that user, drops CAP_NET_RAW after start and still reloads a new VIP', { timeout: 120_000, skip: needsRoot('network namespaces and setpriv (a non-root user holding capabilities)') }, async (t) => {
  await withDrLab({ servers: 3, startDaemon: false, daemonPrefix: SETPRIV }, async (lab) => {
    // The user owns the directory of its admin socket and can read its config (as RuntimeDirectory= would do).
    await chown(lab.dir, UID, GID);
    await chmod(lab.dir, 0o711);   // others may reach the socket: its own mode (0600) must refuse them
    // A command health check records the capabilities it runs with.
    const capsFile = join(lab.dir, 'check-caps.txt');
    await lab.writeConfig({ ...lab.config, services: [{ ...lab.config.services[0], healthCheck: {
      type: 'command', command: `grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status > ${capsFile}.tmp && mv ${capsFile}.tmp ${capsFile}`, interval: 1, timeout: 1,
    } }] });
    await chown(lab.configPath, UID, GID);
    const daemon = await lab.startDaemon();
    const pid = daemon.pid!;

    const first = await lab.runClient({ requests: 60, concurrency: 5 });
    assert.equal(first.failed, 0, JSON.stringify(first.errors));
    assert.ok(Object.keys(first.byServer).length >= 2, JSON.stringify(first.byServer));

    // Every thread: the user's uid, CAP_NET_ADMIN alone (effective, permitted, at most ambient), no CAP_NET_RAW;
    // except a thread that blocks every signal (Node 20's SIGUSR1 watchdog), which the log names.
    const tasks = await taskCaps(pid);
    assert.ok(tasks.length > 5, `threads of the daemon: ${tasks.length}`);
    const [dropped] = logLines(lab, /^capabilities dropped/);
    assert.ok(dropped, lab.daemonOutput().stdout.slice(-2000));
    const keptBy = dropped.keptBy as string[];
    assert.ok(keptBy.length <= 1, `threads that kept CAP_NET_RAW: ${JSON.stringify(keptBy)}`);
    t.diagnostic(`${tasks.length} threads; dropped on ${String(dropped.threads)}; kept by ${JSON.stringify(keptBy)}`);
    for (const t of tasks) {
      assert.match(t.uid, new RegExp(`^${UID}\\s+${UID}\\s+${UID}\\s+${UID}$`), `thread ${t.tid} (${t.name}) uid`);
      const where = `thread ${t.tid} (${t.name}): CapEff ${t.eff.toString(16)} CapPrm ${t.prm.toString(16)} CapAmb ${t.amb.toString(16)}`;
      if (keptBy.some((k) => k.startsWith(`${t.tid} `))) {
        assert.equal((t.blocked >> 61n) & 1n, 1n, `a thread that kept it blocks the signal (62) the drop is sent with: ${where} SigBlk ${t.blocked.toString(16)}`);
        assert.notEqual(t.tid, String(pid), 'the main thread dropped it');
        continue;
      }
      assert.equal(t.eff, CAP_NET_ADMIN, where);
      assert.equal(t.prm, CAP_NET_ADMIN, where);
      assert.equal(t.amb & ~CAP_NET_ADMIN, 0n, where);   // health-check threads pass nothing on: 0
    }
    // What a program the daemon starts gets: the main thread's (= /proc/PID/status) ambient set.
    const main = tasks.find((t) => t.tid === String(pid))!;
    assert.equal(main.eff & CAP_NET_RAW, 0n);
    assert.equal(main.amb, CAP_NET_ADMIN);

    // The operator's command check runs with no capability at all.
    await waitFor('a command health check ran', async () => (await readdir(lab.dir)).includes('check-caps.txt'), 10_000);
    const checkCaps = (await readFile(capsFile, 'utf8')).trim().split('\n');
    assert.equal(checkCaps.length, 4, checkCaps.join(' | '));
    for (const line of checkCaps) assert.match(line, /^Cap\w+:\s+0{16}$/, `command health check: ${checkCaps.join(' | ')}`);

    // The admin socket (mode 0600) answers its owner and refuses another unprivileged user.
    const mine = await lasAs(UID, ['stats', '--socket', lab.adminSocket]);
    assert.equal(mine.code, 0, mine.out);
    const other = await lasAs(OTHER_UID, ['stats', '--socket', lab.adminSocket]);
    assert.notEqual(other.code, 0, `another user was served: ${other.out}`);
    assert.match(other.out, /EACCES|permission denied/i);

    // The link goes down and up: the open sockets carry on, no new socket (and no CAP_NET_RAW) needed.
    await lab.exec('dispatcher', 'ip', ['link', 'set', lab.segment.dispatcher.ifname, 'down']);
    await lab.exec('dispatcher', 'ip', ['link', 'set', lab.segment.dispatcher.ifname, 'up']);
    await waitForLinkUp(lab.segment.dispatcher.ns, lab.segment.dispatcher.ifname, 10_000);
    const afterLink = await lab.runClient({ requests: 30, concurrency: 3, timeoutMs: 5000 });
    assert.equal(afterLink.failed, 0, JSON.stringify(afterLink.errors));

    // A reload that adds a VIP: tc (CAP_NET_ADMIN through the ambient set) installs the new ingress drop.
    for (const server of lab.segment.servers) await lab.exec(server.role, 'ip', ['addr', 'add', `${NEW_VIP}/32`, 'dev', 'lo']);
    const base = lab.config.services[0]!;
    await lab.writeConfig({ ...lab.config, services: [...lab.config.services, { ...base, name: 'web2', vip: NEW_VIP }] });
    await chown(lab.configPath, UID, GID);
    const reload = await lasAs(UID, ['reload', '--socket', lab.adminSocket]);
    assert.equal(reload.code, 0, reload.out);
    assert.match(reload.out, /reloaded/);
    assert.equal(logLines(lab, /ingress drop keeps the old VIP list/).length, 0, lab.daemonOutput().stdout.slice(-2000));
    const added = await lab.runClient({ url: `http://${NEW_VIP}/`, requests: 30, concurrency: 3 });
    assert.equal(added.failed, 0, JSON.stringify(added.errors));
    const filter = (await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', lab.segment.dispatcher.ifname, 'ingress'])).stdout;
    const newVipWord = String((10 << 24 | 77 << 16 | 0 << 8 | 101) >>> 0);
    assert.ok((/bytecode '([^']+)'/.exec(filter)?.[1] ?? '').split(',').some((ins) => ins.endsWith(` ${newVipWord}`)), `ingress drop covers ${NEW_VIP}: ${filter}`);

    // SIGTERM: a clean exit that removes the ingress drop (tc again) and the admin socket.
    const exit = await lab.kill('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, lab.daemonOutput().stderr);
    const left = (await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', lab.segment.dispatcher.ifname, 'ingress'])).stdout;
    assert.doesNotMatch(left, /pref 4955/, `the ingress drop stayed: ${left}`);
    assert.ok(!(await readdir(lab.dir)).includes('admin.sock'), 'the admin socket file was removed');
  });
});

test('with ingressDrop "none" the fast path needs CAP_NET_RAW alone, and after start the daemon holds no capability', { timeout: 90_000, skip: needsRoot('network namespaces and setpriv (a non-root user holding capabilities)') }, async () => {
  const rawOnly = ['setpriv', `--reuid=${UID}`, `--regid=${GID}`, '--clear-groups', '--inh-caps=-all,+net_raw',
    '--ambient-caps=-all,+net_raw', '--bounding-set=-all,+net_raw', '--no-new-privs'];
  await withDrLab({ servers: 2, startDaemon: false, daemonPrefix: rawOnly, config: { ingressDrop: 'none' } }, async (lab) => {
    await chown(lab.dir, UID, GID);
    await chown(lab.configPath, UID, GID);
    const daemon = await lab.startDaemon();
    const result = await lab.runClient({ requests: 40, concurrency: 4 });
    assert.equal(result.failed, 0, JSON.stringify(result.errors));
    const [dropped] = logLines(lab, /^capabilities dropped/);
    assert.deepEqual(dropped?.capabilities, ['CAP_NET_RAW', 'CAP_NET_ADMIN'], lab.daemonOutput().stdout.slice(-2000));
    const main = (await taskCaps(daemon.pid!)).find((t) => t.tid === String(daemon.pid))!;
    assert.deepEqual([main.eff, main.prm, main.amb], [0n, 0n, 0n], `main thread: ${JSON.stringify(main, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
    const mine = await lasAs(UID, ['stats', '--socket', lab.adminSocket]);
    assert.equal(mine.code, 0, mine.out);
    assert.deepEqual(await lab.kill('SIGTERM'), { code: 0, signal: null });
  });
});
