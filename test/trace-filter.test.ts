// `las trace` without a fast path: the verb's arguments are refused with the argument named, the
// filter is encoded as the addon reads it, records decode field by field, and the admin socket's
// streaming answer keeps the connection open until the client leaves (then stops its producer).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AdminStream, startAdminServer, type AdminStreamSink } from '../src/control/admin-server.js';
import { adminStream } from '../src/control/admin-client.js';
import { encodeTraceFilters, parseTraceArgs } from '../src/control/trace-filter.js';
import { decodeTraceRecords, TRACE_RECORD_BYTES } from '../src/control/trace-records.js';
import { rawMatches } from '../src/control/tracer.js';

const SERVICES = [{ name: 'web', vip: '10.0.0.100', port: 80, protocol: 'tcp' }];
const REASONS = ['truncated_ethernet', 'no_service', 'no_server'];
const parse = (args: unknown) => parseTraceArgs(args, SERVICES, REASONS);

describe('las trace filter', () => {
  it('refuses bad arguments, naming them', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ vip: '10.0.0' }, /"vip" must be an IPv4 address/],
      [{ vip: '10.0.0.1:70000' }, /"vip"/],
      [{ client: '10.0.0.0/33' }, /"client" must be an IPv4 address or prefix/],
      [{ server: 'web1' }, /"server"/],
      [{ verdict: 'reject' }, /"verdict" must be one of "forward", "arp_reply", "drop", "pass"/],
      [{ reason: 'nope' }, /"reason" must be a drop reason: truncated_ethernet, no_service, no_server/],
      [{ reason: 'no_service', server: '10.0.0.11' }, /cannot go with "server"/],
      [{ service: 'db' }, /no service "db"; known: web/],
      [{ service: 'web', protocol: 'udp' }, /contradicts service "web"/],
      [{ sample: 0 }, /"sample" must be an integer from 1/],
      [{ colour: 'red' }, /unknown argument "colour"/],
      [[], /"args" must be an object/],
    ];
    for (const [args, error] of cases) assert.throws(() => parse(args), error, JSON.stringify(args));
  });

  it('encodes what the fast path matches: prefix masked, verdict bits in Action order, -1 for any', () => {
    const f = parse({ client: '198.51.100.77/24', vip: '10.0.0.100:80', reason: 'no_service', sample: 10 });
    assert.equal(f.text, 'vip 10.0.0.100:80, client 198.51.100.0/24, dropped for no_service, 1 in 10');
    assert.deepEqual([...encodeTraceFilters([f])], [0x0a000064, 80, 0, 0xc6336400, 0xffffff00, 0, 1 << 2, 1, 10]);
    const any = parse({});
    assert.equal(any.text, 'every decision');
    assert.deepEqual([...encodeTraceFilters([any])], [0, 0xffffffff, 0, 0, 0, 0, 0x0f, 0xffffffff, 1]);
    const svc = parse({ service: 'web', server: '10.0.0.11' });
    assert.deepEqual([...encodeTraceFilters([svc])].slice(0, 7), [0x0a000064, 80, 6, 0, 0, 0x0a00000b, 1]);
  });

  it('decodes a record and re-checks it against a filter', () => {
    const buf = new ArrayBuffer(TRACE_RECORD_BYTES);
    const v = new DataView(buf);
    v.setUint32(0, 1_800_000_000, true);      // sec
    v.setUint32(4, 123_456_789, true);        // nsec
    v.setUint32(8, 0xc6336407, true);         // 198.51.100.7
    v.setUint32(12, 0x0a000064, true);        // 10.0.0.100
    v.setUint16(16, 40112, true);
    v.setUint16(18, 80, true);
    v.setUint8(20, 6);
    v.setUint8(21, 0);                        // forward
    v.setUint8(22, 3);                        // Count
    v.setUint8(23, 1);                        // new flow
    v.setUint32(24, 0x0a00000b, true);        // 10.0.0.11
    v.setUint32(28, 74, true);
    v.setUint16(32, 80, true);
    v.setUint8(34, 1);
    v.setUint8(35, 1);                        // worker
    const [r] = decodeTraceRecords(buf, REASONS, (vip, port, proto) => (vip === 0x0a000064 && port === 80 && proto === 6 ? 'web' : undefined));
    assert.deepEqual(r!.event, {
      time: '2027-01-15T08:00:00.123456Z', worker: 1, protocol: 'tcp', client: '198.51.100.7:40112', vip: '10.0.0.100:80',
      verdict: 'forward', reason: 'new flow', server: '10.0.0.11', service: 'web', length: 74, fragment: false,
    });
    assert.equal(rawMatches(parse({ client: '198.51.100.0/24' }), r!.raw), true);
    assert.equal(rawMatches(parse({ client: '198.51.101.0/24' }), r!.raw), false);
    assert.equal(rawMatches(parse({ verdict: 'drop' }), r!.raw), false);
    assert.equal(rawMatches(parse({ server: '10.0.0.11', vip: '10.0.0.100:80' }), r!.raw), true);
  });
});

describe('admin socket streaming answer', () => {
  it('sends the answer, then the stream\'s lines, and stops the producer when the client leaves', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'las-stream-'));
    const path = join(dir, 'admin.sock');
    let sink: AdminStreamSink | undefined;
    let stopped = 0;
    const server = await startAdminServer(path, {
      trace: (args) => {
        if ((args as { fail?: boolean }).fail) throw new Error('refused');
        return new AdminStream({ hello: 1 }, (s) => {
          sink = s;
          return () => { stopped++; };
        });
      },
    });
    try {
      await assert.rejects(adminStream(path, 'trace', { fail: true }, () => undefined, () => undefined).done, /trace: refused/);
      const lines: unknown[] = [];
      let started: unknown;
      const handle = adminStream(path, 'trace', {}, (r) => { started = r; }, (l) => { lines.push(l); });
      for (let i = 0; i < 200 && (!sink || started === undefined); i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(started, { hello: 1 });
      assert.ok(sink && sink.ready());
      sink.send([{ event: 1 }, { event: 2 }]);
      for (let i = 0; i < 200 && lines.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(lines.map((l) => (l as { event: number }).event), [1, 2]);
      assert.equal(server.connections(), 1);
      handle.close();
      await handle.done;
      for (let i = 0; i < 200 && stopped === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(stopped, 1, 'the producer was stopped when the client went away');
      assert.equal(sink.ready(), false);
      // A raw client that sends more after its stream started is not answered again.
      const raw = net.createConnection(path);
      await new Promise((r) => raw.once('connect', r));
      raw.write('{"id":1,"cmd":"trace","args":{}}\n{"id":2,"cmd":"trace","args":{}}\n');
      let text = '';
      raw.setEncoding('utf8').on('data', (c: string) => { text += c; });
      for (let i = 0; i < 200 && !text.includes('\n'); i++) await new Promise((r) => setTimeout(r, 10));
      raw.destroy();
      for (let i = 0; i < 200 && stopped < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(text.trim().split('\n').length, 1, text);
      assert.equal(stopped, 2);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
