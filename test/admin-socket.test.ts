// The admin socket answers newline-delimited JSON, survives bad clients, is root-only and
// refuses to steal the socket of a live daemon while replacing a dead one's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { adminRequest } from '../src/control/admin-client.js';
import { resolveAdminGroup } from '../src/control/admin-group.js';
import { ADMIN_LIMITS, MAX_LINE_BYTES, startAdminServer, type AdminServer } from '../src/control/admin-server.js';
import { waitFor } from './support/control.js';
import { closedWithin, writeUntilCutOff } from './support/hostile-client.js';
import { needsRoot } from './support/needs-root.js';

let bigCalls = 0;
const handlers = {
  big: () => {
    bigCalls++;
    return 'x'.repeat(4096);
  },
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
    assert.deepEqual(lines[0], { id: 1, ok: false, error: 'unknown command "reboot"; known: big, echo, fail, stats' });
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

  it('a non-root user cannot connect; the mode option opens it', { skip: needsRoot('switching to uid 65534') }, async () => {
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

describe('admin socket limits (hostile local clients)', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'las-admin-limits-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a 20 MB line without a newline is refused after the first 64 KiB; the server reads no more of it', async () => {
    const path = join(dir, 'long.sock');
    // After its error answer the server waits replyStallMs for the client to hang up, then cuts it
    // off: 1 s instead of the default 10 s leaves the 15 s wait below a wide margin on a busy machine.
    const server = await startAdminServer(path, handlers, { limits: { replyStallMs: 1000 } });
    try {
      const socket = net.createConnection(path);
      await once(socket, 'connect');
      socket.on('error', () => undefined); // the server stops reading, then resets
      let answer = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
      // 20 MB as 320 chunks of 64 KiB, no newline anywhere.
      const taken = await writeUntilCutOff(socket, Buffer.alloc(64 * 1024, 0x78), 320);
      assert.equal(await closedWithin(socket, 15_000), true, 'the connection was not cut off');
      assert.match(answer, /request line longer than 65536 bytes/);
      // What the server read before refusing plus the kernel's socket buffers: far from 20 MB.
      assert.ok(taken < 64, `the server took ${taken} x 64 KiB`);
      assert.ok(await adminRequest(path, 'stats'));
    } finally {
      await server.close();
    }
  });

  it(`300 idle connections: at most ${ADMIN_LIMITS.maxConnections} stay open, the longest-idle go first, a new client is answered`, async () => {
    const path = join(dir, 'idle.sock');
    const server = await startAdminServer(path, handlers);
    const sockets: net.Socket[] = [];
    try {
      let closed = 0;
      for (let i = 0; i < 300; i++) {
        const socket = net.createConnection(path);
        socket.on('error', () => undefined).on('close', () => closed++);
        await once(socket, 'connect');
        sockets.push(socket);
      }
      // Every connect evicts one once the table is full; wait until the evictions have landed.
      await waitFor('the evictions closed', () => closed >= 300 - ADMIN_LIMITS.maxConnections, 10_000, () => ({ closed }));
      assert.equal(closed, 300 - ADMIN_LIMITS.maxConnections);
      assert.ok(server.connections() <= ADMIN_LIMITS.maxConnections, `${server.connections()} open`);
      assert.equal(sockets[0]!.destroyed, true);      // the oldest went
      assert.equal(sockets[299]!.destroyed, false);   // the newest stays
      assert.deepEqual(await adminRequest(path, 'echo', { still: 'answered' }), { still: 'answered' });
    } finally {
      for (const s of sockets) s.destroy();
      await server.close();
    }
  });

  it('an idle connection is closed after idleTimeoutMs', async () => {
    const path = join(dir, 'timeout.sock');
    const server = await startAdminServer(path, handlers, { limits: { idleTimeoutMs: 300 } });
    try {
      const socket = net.createConnection(path);
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      assert.equal(await closedWithin(socket, 10_000), true);
    } finally {
      await server.close();
    }
  });

  it('a client that writes requests and never reads is no longer read, then cut off; others are answered meanwhile', async () => {
    const path = join(dir, 'noread.sock');
    bigCalls = 0;
    const server = await startAdminServer(path, handlers, { limits: { replyStallMs: 1000 } });
    try {
      const socket = net.createConnection(path);
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.pause(); // never reads a reply
      const request = Buffer.from('{"cmd":"big"}\n'.repeat(1000));
      const writer = writeUntilCutOff(socket, request, 1000);
      // While it stalls, another client is answered.
      assert.deepEqual(await adminRequest(path, 'echo', 1), 1);
      assert.equal(await closedWithin(socket, 20_000), true, 'the non-reader was not cut off');
      const writes = await writer;
      // Without flow control every request written would be handled (writes x 1000). With it, what
      // the server handles is bounded by its reply limit and the kernel's socket buffers.
      assert.ok(bigCalls < 1000, `${bigCalls} replies of 4 KiB were produced for a client that never read`);
      assert.ok(writes < 100, `the server kept reading: ${writes} x 14 kB taken`);
      // The server's side of the close may land a turn after the client's.
      await waitFor('the server closed its side', () => server.connections() === 0, 5000, () => ({ open: server.connections() }));
    } finally {
      await server.close();
    }
  });
});

describe('adminSocketGroup', { skip: needsRoot('chown and switching users') }, () => {
  const GID = 4243; // a gid no test user has by default
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'las-admin-group-'));
    await chmod(dir, 0o755);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Connects as uid 65534 with the given primary group (no supplementary groups): CONNECTED or the error code. */
  const connectAs = async (socketPath: string, gid: number) => {
    const script = `require('net').createConnection(${JSON.stringify(socketPath)})
      .on('connect', () => { console.log('CONNECTED'); process.exit(0); })
      .on('error', (e) => { console.log(e.code); process.exit(0); });`;
    const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid, cwd: '/' });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    await once(child, 'exit');
    return out.trim();
  };

  it('a member of the group can connect, a non-member cannot; the group changes live', async () => {
    const path = join(dir, 'group.sock');
    const server = await startAdminServer(path, handlers, { mode: 0o660, gid: GID });
    try {
      const st = await stat(path);
      assert.equal(st.gid, GID);
      assert.equal(st.mode & 0o777, 0o660);
      assert.equal(await connectAs(path, GID), 'CONNECTED');
      assert.equal(await connectAs(path, 65534), 'EACCES');
      await server.setGroup(undefined); // adminSocketGroup removed on reload: back to root only
      assert.equal((await stat(path)).gid, process.getgid?.());
      assert.equal(await connectAs(path, GID), 'EACCES');
    } finally {
      await server.close();
    }
  });

  it('a directory the daemon creates is 0750 and the group\'s; an existing one the group cannot search is refused, naming the key', async () => {
    const created = join(dir, 'run', 'las', 'admin.sock');
    const server = await startAdminServer(created, handlers, { mode: 0o660, gid: GID });
    try {
      const st = await stat(join(dir, 'run', 'las'));
      assert.equal(st.mode & 0o777, 0o750);
      assert.equal(st.gid, GID);
      assert.equal(await connectAs(created, GID), 'CONNECTED');
    } finally {
      await server.close();
    }
    const closed = join(dir, 'closed');
    await mkdir(closed, { mode: 0o700 });
    await assert.rejects(startAdminServer(join(closed, 'admin.sock'), handlers, { mode: 0o660, gid: GID }),
      /^Error: "adminSocketGroup": members of gid 4243 cannot reach the socket because its directory .*closed is mode 0700/);
  });

  it('a group name resolves through getent; an unknown one is a clear error naming the key', async () => {
    assert.equal(await resolveAdminGroup('root'), 0);
    assert.equal(await resolveAdminGroup(4243), 4243);
    assert.equal(await resolveAdminGroup(undefined), undefined);
    await assert.rejects(resolveAdminGroup('las-no-such-group'), {
      message: '"adminSocketGroup": no group "las-no-such-group" on this host (getent group las-no-such-group found none); create it (groupadd las-no-such-group), or write its numeric gid',
    });
  });
});
