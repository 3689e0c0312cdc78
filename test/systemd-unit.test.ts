// deploy/las.service: systemd itself finds nothing to object to (systemd-analyze verify, warnings
// included), and the unit agrees with the daemon: readiness by notification, its own user, the
// runtime directory that holds the default admin socket, and a reload that asks that socket.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { loadConfigFile } from '../src/config/load.js';
import { hasCommand } from '../src/netns/ensure-package.js';
import { CLI } from './support/control.js';
import { readUnit, serviceValue, UNIT_PATH } from './support/unit-file.js';

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'las-unit-'));
  try { return await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

test('the unit matches the daemon: Type=notify, user las, /run/las holds the default admin socket, ExecReload asks it', async () => {
  const unit = readUnit();
  assert.equal(serviceValue(unit, 'Type'), 'notify');
  assert.equal(serviceValue(unit, 'User'), 'las');
  assert.equal(serviceValue(unit, 'ExecStart'), 'las run -c /etc/las/las.json');
  const defaultSocket = await withTmp(async (dir) => {
    const path = join(dir, 'las.json');
    await writeFile(path, JSON.stringify({ interface: 'eth1', services: [{ name: 'web', vip: '10.0.0.100', port: 80, protocol: 'tcp', servers: [{ address: '10.0.0.11' }] }] }));
    const result = await loadConfigFile(path);
    assert.ok(result.ok, JSON.stringify(result));
    return result.config.adminSocket;
  });
  assert.equal(dirname(defaultSocket), `/run/${serviceValue(unit, 'RuntimeDirectory')}`, 'RuntimeDirectory= holds the default adminSocket');
  // ... and the flow tables (flowTable.persistDirectory defaults to the socket's directory): kept at stop.
  assert.equal(serviceValue(unit, 'RuntimeDirectoryPreserve'), 'yes', 'a stop keeps /run/las and the flow tables in it');
  assert.equal(serviceValue(unit, 'ExecReload'), `las reload --socket ${defaultSocket}`);
});

test('systemd-analyze verify accepts deploy/las.service without a warning', { timeout: 60_000 }, async (t) => {
  if (!(await hasCommand('systemd-analyze'))) {
    t.skip('systemd-analyze is not installed (Debian: apt-get install systemd): the unit was not verified');
    return;
  }
  await withTmp(async (dir) => {
    // verify wants the commands to exist: `las` of this checkout stands in for the installed one.
    const text = (await readFile(UNIT_PATH, 'utf8')).replace(/^(Exec\w+)=las /gm, `$1=${process.execPath} ${CLI} `);
    assert.equal((text.match(new RegExp(CLI.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g')) ?? []).length, 2, 'ExecStart and ExecReload run las');
    const copy = join(dir, 'las.service');
    await writeFile(copy, text);
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile('systemd-analyze', ['verify', copy], { encoding: 'utf8', timeout: 50_000 }, (error, stdout, stderr) => resolve({ code: error ? 1 : 0, out: `${stdout}${stderr}`.trim() }));
    });
    assert.equal(result.code, 0, result.out);
    assert.equal(result.out, '', 'no warning (an unknown or misspelt key is only a warning)');
  });
});
