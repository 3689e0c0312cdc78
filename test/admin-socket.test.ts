// The admin socket answers newline-delimited JSON, survives bad clients, is root-only and
// refuses to steal the socket of a live daemon while replacing a dead one's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { adminRequest } from '../src/control/admin-client.js';
import { MAX_LINE_BYTES, startAdminServer, type AdminServer } from '../src/control/admin-server.js';

const handlers = {
  stats: () => ({ workers: [{ rxPackets: 2n ** 64n - 1n }], services: [] }),
  echo: (args: unknown) => args,
  fail: () => {
    throw new Error('it broke');
  },
};

/** A raw client: sends the given text, collects `count` response lines (or until the server closes). */
async function exchange(path: string, text: string, count: number): Promise<{ lines: unknown[]; closed: boolean }> {
  const socket = net.createConnection(path);
  await once(socket, 'connect');
  socket.setEncoding('utf8');
  socket.write(text);
  const lines: unknown[] = [];
  let buffered = '';
  let closed = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout; got ${JSON.stringify(lines)}`)), 5000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const part of parts) lines.push(JSON.parse(part));
      if (lines.length >= count) done();
    });
    socket.on('close', () => {
      closed = true;
      done();
    });
    socket.on('error', () => undefined); // the server may reset a refused client
  });
  socket.destroy();
  return { lines, closed };
}

describe('admin socket', () => {
  let dir: string;
  let path: string;
  let server: AdminServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'las-admin-'));
    await chmod(dir, 0o755); // the socket's own mode, not the directory, must keep others out
    path = join(dir, 'admin.sock');
    server = await startAdminServer(path, handlers);
  });

  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers stats with 64-bit counters as decimal strings', async () => {
    const result = await adminRequest(path, 'stats');
    assert.deepEqual(result, { workers: [{ rxPackets: '18446744073709551615' }], services: [] });
  });

  it('passes args and keeps the order of pipelined requests', async () => {
    const { lines } = await exchange(path, '{"id":1,"cmd":"echo","args":{"a":1}}\n{"id":2,"cmd":"echo","args":[2]}\n', 2);
    assert.deepEqual(lines, [
      { id: 1, ok: true, result: { a: 1 } },
      { id: 2, ok: true, result: [2] },
    ]);
  });

  it('malformed JSON gets an error response and the next request is still answered', async () => {
    const { lines } = await exchange(path, '{"id":1,"cmd":\n{"id":2,"cmd":"stats"}\n', 2);
    assert.equal((lines[0] as { ok: boolean }).ok, false);
    assert.match((lines[0] as { error: string }).error, /malformed JSON/);
    assert.equal((lines[1] as { id: number; ok: boolean }).id, 2);
    assert.equal((lines[1] as { ok: boolean }).ok, true);
  });

  it('an unknown command, a prototype key and a throwing handler get error responses', async () => {
    const { lines } = await exchange(path, '{"id":1,"cmd":"reboot"}\n{"id":2,"cmd":"toString"}\n{"id":3,"cmd":"fail"}\n[]\n', 4);
    assert.deepEqual(lines[0], { id: 1, ok: false, error: 'unknown command "reboot"; known: echo, fail, stats' });
    assert.equal((lines[1] as { ok: boolean }).ok, false);
    assert.deepEqual(lines[2], { id: 3, ok: false, error: 'it broke' });
    assert.equal((lines[3] as { ok: boolean }).ok, false);
    await assert.rejects(adminRequest(path, 'reboot'), /unknown command "reboot"/);
  });

  it('an over-long line gets an error and the connection is closed', async () => {
    const { lines, closed } = await exchange(path, 'x'.repeat(MAX_LINE_BYTES + 10), 2);
    assert.equal(closed, true);
    assert.match((lines[0] as { error: string }).error, /longer than 65536 bytes/);
    assert.ok(await adminRequest(path, 'stats')); // the server lives on
  });

  it('the socket file is 0600', async () => {
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('a missing parent directory is created 0700', async () => {
    const nested = join(dir, 'run', 'las', 'admin.sock');
    const s = await startAdminServer(nested, handlers);
    try {
      assert.equal((await stat(join(dir, 'run', 'las'))).mode & 0o777, 0o700);
      assert.ok(await adminRequest(nested, 'stats'));
    } finally {
      await s.close();
    }
  });

  it('a second server on the live path is refused', async () => {
    await assert.rejects(startAdminServer(path, handlers), { message: `another las daemon is already listening on ${path}` });
    assert.ok(await adminRequest(path, 'stats')); // and the first keeps its socket
  });

  it('a socket file left by a killed daemon is replaced', async () => {
    const stale = join(dir, 'stale.sock');
    // A process that dies by SIGKILL cannot unlink its socket: exactly what a crashed daemon leaves.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('ready'))`]);
    await once(child.stdout, 'data');
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.ok((await stat(stale)).isSocket());
    await assert.rejects(adminRequest(stale, 'stats'), /no las daemon is listening on/);

    const replacement = await startAdminServer(stale, handlers);
    try {
      assert.ok(await adminRequest(stale, 'stats'));
    } finally {
      await replacement.close();
    }
  });

  it('a path that is not a socket is left alone', async () => {
    await assert.rejects(startAdminServer(dir, handlers), /exists and is not a socket/);
  });

  it('the client explains when no daemon listens', async () => {
    await assert.rejects(adminRequest(join(dir, 'none.sock'), 'stats'), {
      message: `no las daemon is listening on ${join(dir, 'none.sock')}: is \`las run\` running? pass --socket or --config`,
    });
  });

  it('close() removes the socket file', async () => {
    const other = join(dir, 'closing.sock');
    const s = await startAdminServer(other, handlers);
    await s.close();
    await assert.rejects(stat(other), { code: 'ENOENT' });
  });

  it('a non-root user cannot connect; the mode option opens it', { skip: process.getuid?.() !== 0 && 'needs root to switch to uid 65534' }, async () => {
    const connectAsNobody = async (socketPath: string) => {
      const script = `require('net').createConnection(${JSON.stringify(socketPath)})
        .on('connect', () => { console.log('CONNECTED'); process.exit(0); })
        .on('error', (e) => { console.log(e.code); process.exit(0); });`;
      const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, cwd: '/' });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      await once(child, 'exit');
      return out.trim();
    };
    // dir is 0755, so only the socket's own mode decides.
    assert.equal(await connectAsNobody(path), 'EACCES');
    const open = join(dir, 'open.sock');
    const s = await startAdminServer(open, handlers, { mode: 0o666 });
    try {
      assert.equal((await stat(open)).mode & 0o777, 0o666);
      assert.equal(await connectAsNobody(open), 'CONNECTED');
    } finally {
      await s.close();
    }
  });
});
