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
import { encodeTraceFilters, parseTraceArgs, TRACE_FILTER_WORDS } from '../src/control/trace-filter.js';
import { decodeTraceRecords, TRACE_RECORD_BYTES } from '../src/control/trace-records.js';
import { MAX_TRACE_CLIENTS, rawMatches, Tracer, type TraceSink } from '../src/control/tracer.js';
import { createLogger } from '../src/control/logger.js';

const SERVICES = [{ name: 'web', vip: '10.0.0.100', port: 80, protocol: 'tcp' }, { name: 'web6', vip: '2001:db8::100', port: 80, protocol: 'tcp' }];
const REASONS = ['truncated_ethernet', 'no_service', 'no_server'];
const parse = (args: unknown) => parseTraceArgs(args, SERVICES, REASONS);

describe('las trace filter', () => {
  it('refuses bad arguments, naming them', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ vip: '10.0.0' }, /"vip" must be an IPv4 or IPv6 address/],
      [{ vip: '2001:db8::100:80:1:2:3:4' }, /"vip" must be an IPv4 or IPv6 address/],
      [{ vip: '[2001:db8::100]:70000' }, /"vip"/],
      [{ client: '2001:db8::/129' }, /"client" must be an IPv4 or IPv6 address or prefix/],
      [{ vip: '10.0.0.100', client: '2001:db8::/64' }, /"client" is IPv6 but "vip" is IPv4: a frame has one family/],
      [{ service: 'web6', server: '10.0.0.11' }, /"server" is IPv4 but "service" is IPv6/],
      [{ vip: '10.0.0.1:70000' }, /"vip"/],
      [{ client: '10.0.0.0/33' }, /"client" must be an IPv4 or IPv6 address or prefix/],
      [{ server: 'web1' }, /"server"/],
      [{ verdict: 'reject' }, /"verdict" must be one of "forward", "arp_reply", "drop", "pass"/],
      [{ reason: 'nope' }, /"reason" must be a drop reason: truncated_ethernet, no_service, no_server/],
      [{ reason: 'no_service', server: '10.0.0.11' }, /cannot go with "server"/],
      [{ service: 'db' }, /no service "db"; known: web, web6/],
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
    const none6 = new Array<number>(16).fill(0);
    assert.deepEqual([...encodeTraceFilters([f])], [0x0a000064, 80, 0, 0xc6336400, 0xffffff00, 0, 1 << 2, 1, 10, 4, ...none6]);
    const any = parse({});
    assert.equal(any.text, 'every decision');
    assert.deepEqual([...encodeTraceFilters([any])], [0, 0xffffffff, 0, 0, 0, 0, 0x1f, 0xffffffff, 1, 0, ...none6]);
    assert.equal(TRACE_FILTER_WORDS, 26);
    const svc = parse({ service: 'web', server: '10.0.0.11' });
    assert.deepEqual([...encodeTraceFilters([svc])].slice(0, 7), [0x0a000064, 80, 6, 0, 0, 0x0a00000b, 1]);
  });

  it('takes v6 addresses: bracketed with a port, a prefix masked word by word, any spelling made canonical', () => {
    const f = parse({ vip: '[2001:DB8:0::100]:80', client: '2001:db8:0:7::99/56', server: '2001:db8::0:11' });
    assert.equal(f.text, 'vip [2001:db8::100]:80, client 2001:db8::/56, server 2001:db8::11');
    const w = [...encodeTraceFilters([f])];
    // No v4 address: the v4 words stay 0; family 6, then vip6, client6, client6Mask, server6.
    assert.deepEqual(w.slice(0, 10), [0, 80, 0, 0, 0, 0, 1, 0xffffffff, 1, 6]);
    assert.deepEqual(w.slice(10), [
      0x20010db8, 0, 0, 0x100,
      0x20010db8, 0, 0, 0,
      0xffffffff, 0xffffff00, 0, 0,
      0x20010db8, 0, 0, 0x11,
    ]);
    assert.equal(parse({ vip: '2001:db8::100' }).port, -1, 'a bare v6 address has no port');
    assert.equal(parse({ client: '2001:db8::7' }).client6Mask.join(), [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff].join());
    const svc = parse({ service: 'web6' });
    assert.deepEqual([...encodeTraceFilters([svc])].slice(0, 14), [0, 80, 6, 0, 0, 0, 0x1f, 0xffffffff, 1, 6, 0x20010db8, 0, 0, 0x100]);
    assert.equal(parse({ protocol: 'icmpv6' }).proto, 58);
  });

  it('decodes a v6 record in v6 text, and re-checks it against v4 and v6 filters', () => {
    const buf = new ArrayBuffer(TRACE_RECORD_BYTES);
    const v = new DataView(buf);
    const put6 = (o: number, words: number[]) => words.forEach((w, i) => v.setUint32(o + 4 * i, w, false));
    v.setUint32(8, 0x12345678, true);         // folded: not shown
    v.setUint32(12, 0x0a000064, true);        // folded, equal to the v4 VIP 10.0.0.100 by chance
    v.setUint16(16, 40112, true);
    v.setUint16(18, 80, true);
    v.setUint8(20, 6);
    v.setUint8(22, 3);
    v.setUint8(23, 1 | 16);                   // new flow, v6
    v.setUint32(24, 0xdeadbeef, true);        // the server's identity
    v.setUint32(28, 94, true);
    v.setUint16(32, 80, true);
    v.setUint8(34, 1);
    put6(36, [0x20010db8, 7, 0, 0x99]);       // 2001:db8:0:7::99
    put6(52, [0x20010db8, 0, 0, 0x100]);
    put6(68, [0x20010db8, 0, 0, 0x11]);
    const [r] = decodeTraceRecords(buf, REASONS, (vip, port, proto) => (vip === '2001:db8::100' && port === 80 && proto === 6 ? 'web6' : undefined));
    assert.equal(r!.event.client, '[2001:db8:0:7::99]:40112');
    assert.equal(r!.event.vip, '[2001:db8::100]:80');
    assert.equal(r!.event.server, '2001:db8::11');
    assert.equal(r!.event.service, 'web6');
    assert.equal(r!.event.reason, 'new flow');
    assert.equal(rawMatches(parse({ client: '2001:db8:0:7::/64' }), r!.raw), true);
    assert.equal(rawMatches(parse({ client: '2001:db8:0:8::/64' }), r!.raw), false);
    assert.equal(rawMatches(parse({ vip: '[2001:db8::100]:80', server: '2001:db8::11' }), r!.raw), true);
    assert.equal(rawMatches(parse({ server: '2001:db8::12' }), r!.raw), false);
    assert.equal(rawMatches(parse({ vip: '10.0.0.100' }), r!.raw), false, 'a v4 filter never takes a v6 frame, whatever its fold');
    assert.equal(rawMatches(parse({}), r!.raw), true);
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
    const [r] = decodeTraceRecords(buf, REASONS, (vip, port, proto) => (vip === '10.0.0.100' && port === 80 && proto === 6 ? 'web' : undefined));
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

/** A record as a worker writes it: client src, forwarded, taken by the filters in `matched`. */
function record(src: number, matched: number): ArrayBuffer {
  const buf = new ArrayBuffer(TRACE_RECORD_BYTES);
  const v = new DataView(buf);
  v.setUint32(8, src, true);
  v.setUint32(12, 0x0a000064, true);
  v.setUint16(18, 80, true);
  v.setUint8(20, 6);
  v.setUint8(22, 3);
  v.setUint16(32, 80, true);
  v.setUint8(34, matched);
  return buf;
}

describe('tracer', () => {
  it('gives each client its slot, routes records by slot and filter, refuses a fifth, empties the set when the last leaves', () => {
    const sets: number[][] = [];
    let pending: ArrayBuffer[] = [];
    const dataplane = {
      setTrace: (w: Uint32Array) => { sets.push([...w]); },
      drainTrace: () => {
        const out = new Uint8Array(pending.reduce((n, b) => n + b.byteLength, 0));
        let o = 0;
        for (const b of pending) { out.set(new Uint8Array(b), o); o += b.byteLength; }
        pending = [];
        return { records: out.buffer, lost: [0] };
      },
    };
    const tracer = new Tracer({ dataplane: () => dataplane, dropReasons: REASONS, services: () => SERVICES, log: createLogger('silent') });
    const got: unknown[][] = [];
    const sink = (i: number): TraceSink => ({ ready: () => true, send: (lines) => { (got[i] ??= []).push(...lines); }, end: () => undefined });
    const closers = [0, 1, 2, 3].map((i) => tracer.open(parse({ client: `198.51.100.${i}` }), sink(i)));
    assert.equal(MAX_TRACE_CLIENTS, 4);
    assert.throws(() => tracer.open(parse({}), sink(4)), /4 traces are running already/);
    assert.equal(sets.at(-1)!.length, 4 * TRACE_FILTER_WORDS);
    assert.equal(tracer.status().active, true);
    // A record for slot 1's client; another marked for slot 2 whose client it is not (a slot reused).
    pending = [record(0xc6336401, 0b0010), record(0xc6336401, 0b0100)];
    closers[3]!(); // closing polls first: the records go out
    assert.equal(got[1]?.length, 1);
    assert.equal(got[2], undefined);
    // The freed top slot leaves 3 filters; a free slot below a used one matches nothing.
    assert.equal(sets.at(-1)!.length, 3 * TRACE_FILTER_WORDS);
    closers[0]!();
    assert.equal(sets.at(-1)!.length, 3 * TRACE_FILTER_WORDS);
    assert.equal(sets.at(-1)![6], 0, 'slot 0 free: verdicts 0');
    closers[1]!();
    closers[2]!();
    assert.deepEqual(sets.at(-1), [], 'no client: the fast path traces nothing');
    assert.deepEqual(tracer.status(), { active: false, clients: [] });
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
