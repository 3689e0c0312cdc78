// The running daemon's admin socket: its mode comes from adminSocketMode (root only by default, so
// a non-root client is refused) and changes on reload; malformed requests get error answers and the
// daemon keeps serving; the CLI verbs explain mistakes in one line.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, stat } from 'node:fs/promises';
import net from 'node:net';
import { test } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { CLI, las, lasOk, startWith } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const NOBODY = 65534;

/**
 * Connects as uid 65534 (group `gid`, no others) and sends one request; returns the error code or the first answer line.
 * The child ends on an outcome only (a connect error, or a whole line), never on a timer of its
 * own: a slow answer must not turn into a wrong one. The test's timeout bounds it.
 */
async function asNobody(socketPath: string, request: string, gid = NOBODY): Promise<string> {
  const script = `const s = require('net').createConnection(${JSON.stringify(socketPath)});
    let got = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(${JSON.stringify(`${request}\n`)}));
    s.on('data', (d) => { got += d; if (got.includes('\\n')) { process.stdout.write(got.slice(0, got.indexOf('\\n'))); process.exit(0); } });
    s.on('close', () => { if (!got.includes('\\n')) { console.log('CLOSED ' + got); process.exit(0); } });
    s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
  // The kill only bounds a hung daemon: 60 s is far past any slow answer.
  const child = spawn(process.execPath, ['-e', script], { uid: NOBODY, gid, cwd: '/', timeout: 60_000 });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  // 'close', not 'exit': only 'close' comes after the child's output has been read.
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  return signal ? `killed by ${signal} (no outcome within 60 s)` : code === 0 ? out.trim() : `exit ${code}: ${out.trim()}`;
}

/** Raw exchange on the socket: sends `text`, returns `count` answer lines (bounded). */
async function exchange(path: string, text: string, count: number): Promise<Record<string, unknown>[]> {
  const socket = net.createConnection(path);
  await once(socket, 'connect');
  socket.setEncoding('utf8');
  socket.write(text);
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout; got ${JSON.stringify(lines)}`)), 5000);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const part of parts) lines.push(JSON.parse(part) as Record<string, unknown>);
      if (lines.length >= count) { clearTimeout(timer); resolve(); }
    });
    socket.on('close', () => { clearTimeout(timer); resolve(); });
    socket.on('error', () => undefined);
  });
  socket.destroy();
  return lines;
}

test('the admin socket refuses a non-root client when its mode says so; a reload can open it', { timeout: 90_000, skip: needsRoot('network namespaces and switching to uid 65534') }, async () => {
  await withDrLab({ servers: 1 }, async (lab) => {
    await chmod(lab.dir, 0o755); // only the socket's own mode decides
    assert.equal((await stat(lab.adminSocket)).mode & 0o777, 0o600);
    assert.equal(await asNobody(lab.adminSocket, '{"id":1,"cmd":"status"}'), 'EACCES');
    const cli = spawn(process.execPath, [CLI, 'status', '--socket', lab.adminSocket], { uid: NOBODY, gid: NOBODY, cwd: '/' });
    let err = '';
    cli.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const [code] = (await once(cli, 'close')) as [number];
    assert.equal(code, 1);
    assert.match(err, /permission denied on .*admin\.sock: the admin socket is for root and its adminSocketGroup, if set; run this command as root \(sudo\) or as a member of that group/);

    await lab.writeConfig({ ...lab.config, adminSocketMode: '0666' });
    assert.match(await lasOk(lab, ['reload']), /^reloaded\n {2}settings changed: adminSocketMode$/m); // not "nothing changed"
    assert.equal((await stat(lab.adminSocket)).mode & 0o777, 0o666);
    assert.match(await asNobody(lab.adminSocket, '{"id":1,"cmd":"status"}'), /^\{"id":1,"ok":true/);
  });
});

test('adminSocketGroup: members of the group can use the daemon\'s socket, others cannot; an unknown group stops the start naming the key', { timeout: 90_000, skip: needsRoot('network namespaces and switching users') }, async () => {
  const GID = 4243;
  await withDrLab({ servers: 1, startDaemon: false }, async (lab) => {
    await chmod(lab.dir, 0o755); // only the socket's own mode and group decide
    await startWith(lab, {}, { adminSocketGroup: GID });
    const st = await stat(lab.adminSocket);
    assert.equal(st.gid, GID);
    assert.equal(st.mode & 0o777, 0o660);
    assert.match(await asNobody(lab.adminSocket, '{"id":1,"cmd":"status"}', GID), /^\{"id":1,"ok":true/);
    assert.equal(await asNobody(lab.adminSocket, '{"id":1,"cmd":"status"}'), 'EACCES');
    await lab.kill();

    await lab.writeConfig({ ...lab.config, adminSocketGroup: 'las-no-such-group' });
    await assert.rejects(lab.startDaemon(), /"adminSocketGroup": no group "las-no-such-group" on this host/);
  });
});

test('malformed admin requests get errors, not a crash; the CLI explains mistakes', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => {
  await withDrLab({ servers: 2 }, async (lab) => {
    const answers = await exchange(lab.adminSocket, [
      'not json',
      '{"id":2,"cmd":"flows","args":{"limit":-1}}',
      '{"id":3,"cmd":"flows","args":{"service":"nope"}}',
      '{"id":4,"cmd":"server","args":{"action":"explode","service":"web","address":"10.77.0.11"}}',
      '{"id":5,"cmd":"server","args":{"action":"weight","service":"web","address":"10.77.0.11","weight":"heavy"}}',
      '{"id":6,"cmd":"server","args":"drain"}',
      '{"id":7,"cmd":"__proto__"}',
      '{"id":8,"cmd":"status","args":null}',
      '{"id":9,"cmd":"stats"}',
    ].join('\n') + '\n', 9);
    assert.equal(answers.length, 9, JSON.stringify(answers));
    const errors = answers.slice(0, 7);
    for (const a of errors) assert.equal(a.ok, false, JSON.stringify(a));
    assert.match(String(errors[0]?.error), /malformed JSON/);
    assert.match(String(errors[1]?.error), /"limit" must be an integer/);
    assert.match(String(errors[2]?.error), /no service "nope"; known: web/);
    assert.match(String(errors[3]?.error), /"action" must be/);
    assert.match(String(errors[4]?.error), /"weight" must be an integer/);
    assert.match(String(errors[5]?.error), /"args" must be an object/);
    // The known verbs are listed, sorted; a prototype key is not among them.
    assert.match(String(errors[6]?.error), /^unknown command "__proto__"; known: [a-z]+(, [a-z]+)+$/);
    assert.match(String(errors[6]?.error), /known: .*\bflows\b.*\bstatus\b/);
    // status takes no arguments and says so, like the verbs that take some
    assert.deepEqual(answers[7], { id: 8, ok: false, error: '"args" must be an object, e.g. {} (or leave "args" out): "status" takes no arguments' });
    assert.equal(answers[8]?.ok, true);
    assert.ok(lab.daemon().running());

    const cases: [string[], RegExp][] = [
      [['server', 'weight', 'web', '10.77.0.11'], /needs the new weight, a whole number from 0 to 65535/],
      [['server', 'restart', 'web', '10.77.0.11'], /"restart" is not an action; use drain, enable or weight/],
      [['server', 'drain', 'web', '10.77.0.99'], /server: service "web" has no server 10\.77\.0\.99; its servers: 10\.77\.0\.11/],
      [['flows', '--service', 'nope'], /flows: no service "nope"; known: web/],
      [['flows', '--limit', '0'], /expected a whole number from 1 to 100000/],
    ];
    for (const [args, message] of cases) {
      const r = await las([...args, '--socket', lab.adminSocket]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/);
    }
    assert.match(await lasOk(lab, ['status']), /TCP 10\.77\.0\.100:80 web\s+maglev\(65537\)/);
    assert.ok(lab.daemon().running());
  });
});
