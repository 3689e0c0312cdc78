// How the command line gets at a config: `las check -` reads standard input, and the admin clients
// (`las status -c FILE`, `las server drain -c FILE`, ...) read only "adminSocket" from FILE, so a
// config in the middle of an edit, invalid as a whole, still finds the running daemon.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startAdminServer, type AdminServer } from '../src/control/admin-server.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../deploy/las.json', import.meta.url));

/** Runs `las ARGS` with `input` on its standard input; bounded by the test runner's timeout and its own. */
function las(args: string[], input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe('las check -', () => {
  it('reads a valid config from standard input', async () => {
    const run = await las(['check', '-'], await readFile(SAMPLE, 'utf8'));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^<stdin>: ok\n {2}web /);
  });

  it('reports the errors of an invalid one as "<stdin>: path: message", exit 1', async () => {
    const run = await las(['check', '-'], JSON.stringify({ interface: 'eth1', services: [{ name: 'web', vip: '10.0.0.100', scheduler: 'mh', servers: [{ address: '10.0.0.11' }] }] }));
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^<stdin>: services\[0\]\.scheduler: "mh" is not one of .*write "maglev"/m);
  });

  it('an empty standard input is an error, not a hang', async () => {
    const run = await las(['check', '-'], '');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^<stdin>: invalid JSON/m);
  });
});

describe('admin clients with -c FILE read only "adminSocket"', () => {
  let dir: string;
  let socket: string;
  let server: AdminServer;
  const seen: { cmd: string; args: unknown }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'las-cfg-input-'));
    socket = join(dir, 'admin.sock');
    server = await startAdminServer(socket, {
      status: () => { seen.push({ cmd: 'status', args: {} }); return { services: [] }; },
      server: (args) => { seen.push({ cmd: 'server', args }); return { service: 'web', address: '10.0.0.11', weight: 0, configWeight: 1, override: 'drain' }; },
    });
  });

  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (name: string, text: string) => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };

  it('`las status -c` works with a config that is invalid elsewhere (mid-edit)', async () => {
    const file = await write('mid-edit.json', JSON.stringify({ adminSocket: socket, interface: 'eth1', services: [{ name: 'web', vip: '10.0.0.1000', servers: [] }], workrs: 2 }));
    const check = await las(['check', file]);
    assert.equal(check.status, 1, 'the file is invalid as a whole');
    const run = await las(['status', '-c', file, '--json']);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { services: [] });
  });

  it('`las server drain -c` too', async () => {
    const file = await write('mid-edit-2.json', JSON.stringify({ adminSocket: socket, services: 'being edited' }));
    const run = await las(['server', 'drain', 'web', '10.0.0.11', '-c', file]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(seen.at(-1), { cmd: 'server', args: { action: 'drain', service: 'web', address: '10.0.0.11' } });
  });

  it('a file that is not JSON says where, and how to pass --socket instead', async () => {
    const file = await write('broken.json', `{ "adminSocket": "${socket}",\n  "services": [ }`);
    const run = await las(['status', '-c', file]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /broken\.json: cannot read "adminSocket" from it: not JSON at line 2, column \d+ .*; pass the daemon's socket with --socket PATH instead/);
  });

  it('a missing file says so, with the same way out', async () => {
    const run = await las(['status', '-c', join(dir, 'none.json')]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /none\.json: cannot read the config: no such file.*--socket PATH/);
  });

  it('"adminSocket" that is not a string: the default socket, and a note saying so', async () => {
    const file = await write('odd.json', JSON.stringify({ adminSocket: 42 }));
    const run = await las(['status', '-c', file, '--json']);
    assert.match(run.stderr, /odd\.json: "adminSocket" is 42, not a path: using the default \/run\/las\/admin\.sock/);
  });
});
