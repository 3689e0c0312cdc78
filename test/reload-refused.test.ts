// A reload that cannot be applied changes nothing: an invalid file (by `las reload` or SIGHUP) and
// a change that needs a restart are refused with the reason, and the daemon keeps forwarding with
// the running config.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { las, lasOk, logLines, status, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

test('a broken config is refused with its reason and changes nothing; so is a key that needs a restart', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => {
  await withDrLab({ servers: 3 }, async (lab) => {
    const before = JSON.stringify(await status(lab));
    const good = lab.config;

    // Invalid values: refused, every error named.
    await lab.writeConfig({ ...good, services: [{ ...good.services[0], servers: [{ address: '10.77.0.11', weight: -1 }, { address: '10.77.0.300' }] }] });
    let r = await las(['reload', '--socket', lab.adminSocket]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /services\[0\]\.servers\[0\]\.weight: -1 is not an integer from 0 to 65535/);
    assert.match(r.stderr, /services\[0\]\.servers\[1\]\.address: "10\.77\.0\.300" is not a dotted IPv4 address/);

    // Not JSON at all: refused with the line and column.
    await writeFile(lab.configPath, '{ "interface": "eth0", \n  "services": [ }');
    r = await las(['reload', '--socket', lab.adminSocket]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid JSON at line 2/);

    // A key given twice: JSON.parse would keep the second and reload happily; refused, naming both.
    await writeFile(lab.configPath, JSON.stringify(good, null, 2).replace('{\n', '{\n  "interface": "eth\u202e9",\n'));
    r = await las(['reload', '--socket', lab.adminSocket]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /: interface: duplicate key "interface" at line 3, column 3; it is already at line 2, column 3/);

    // The same by SIGHUP: logged, the daemon lives on.
    lab.daemon().child.kill('SIGHUP');
    await waitFor('the SIGHUP refusal is logged', () => logLines(lab, /^reload refused/).length === 4, 5000, () => lab.daemonOutput().stdout);
    assert.match(String(logLines(lab, /^reload refused/)[3]?.reason), /duplicate key "interface"/);

    // Valid but needs a restart.
    await lab.writeConfig({ ...good, workers: 2 });
    r = await las(['reload', '--socket', lab.adminSocket]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /reload refused: workers can only change with a restart/);

    assert.equal(JSON.stringify(await status(lab)), before, 'the running services are unchanged');
    const result = await lab.runClient({ requests: 30, concurrency: 5 });
    assert.equal(result.failed, 0, JSON.stringify(result.errors));
    assert.equal(Object.keys(result.byServer).length, 3);
    assert.ok(lab.daemon().running());

    // And the good file applies again.
    await lab.writeConfig(good);
    assert.match(await lasOk(lab, ['reload']), /reloaded: nothing changed/);
    const stats = (await lab.admin('stats')) as { services: unknown[] };
    assert.equal(stats.services.length, 1);
  });
});
