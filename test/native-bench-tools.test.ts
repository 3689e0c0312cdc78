// The benchmark tools themselves: the TX-ring generator builds valid frames and sends exactly what
// it was asked to through a veth pair to the RX-ring sink (each in its own network namespace), and
// the micro-benchmarks return sane numbers. No timing thresholds: the machines are noisy.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadAddon, type NativeSnapshot } from '../src/native/binding.js';
import { loadBenchAddon, type GeneratorKind, type GeneratorOptions, type SinkCounts } from '../src/native/bench-binding.js';
import { run } from '../src/netns/run.js';
import { checksum6, parseIpv6 } from './support/frames6.js';
import { needsRoot } from './support/needs-root.js';

const addon = loadBenchAddon();
const CHILD = fileURLToPath(new URL('./support/bench-tools-child.js', import.meta.url));

const VIP = '10.99.0.100';
const DST_MAC = '02:00:00:00:be:01';
const SRC_MAC = '02:00:00:00:be:02';

const snapshot = (protocol: 'udp' | 'tcp'): NativeSnapshot => ({
  services: [{
    vip: VIP, port: 80, protocol, flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 251,
    servers: [1, 2, 3, 4].map((i) => ({ address: `10.99.0.${10 + i}`, mac: `02:00:00:00:00:1${i}`, weight: 1 })),
  }],
});

const baseOptions = (kind: GeneratorKind): GeneratorOptions => ({
  interface: 'unused-by-preview', srcMac: SRC_MAC, dstMac: DST_MAC, dstIp: VIP, dstPort: 80,
  srcIpMin: '10.99.1.0', srcIpMax: '10.99.1.255', srcPortMin: 1024, srcPortMax: 65535,
  flows: 100, packetSize: 60, kind, count: 1, seed: 7,
});

const ipv4 = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const ipv4Number = (text: string) => text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
const macAt = (b: Buffer, at: number) => [...b.subarray(at, at + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** One's-complement sum folded to 16 bits; a region with a correct checksum in it sums to 0xffff. */
function onesSum(b: Buffer, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Checks every header field and both checksums; returns the flow ("src:port"). */
function checkFrame(f: Buffer, kind: GeneratorKind, packetSize: number): string {
  assert.equal(f.length, packetSize, 'frame length');
  assert.equal(macAt(f, 0), DST_MAC);
  assert.equal(macAt(f, 6), SRC_MAC);
  assert.equal(f.readUInt16BE(12), 0x0800);
  assert.equal(f[14], 0x45, 'IPv4, 20-byte header');
  const ipTotal = f.readUInt16BE(16);
  assert.equal(ipTotal, kind === 'tcp-syn' ? 40 : packetSize - 14, 'IPv4 total length');
  assert.equal(f.readUInt16BE(20), 0x4000, 'DF, not a fragment');
  assert.equal(f[23], kind === 'udp' ? 17 : 6, 'protocol');
  assert.equal(onesSum(f, 14, 34), 0xffff, 'IPv4 header checksum');
  const src = ipv4(f, 26);
  assert.ok(ipv4Number(src) >= ipv4Number('10.99.1.0') && ipv4Number(src) <= ipv4Number('10.99.1.255'), src);
  assert.equal(ipv4(f, 30), VIP);
  const sport = f.readUInt16BE(34);
  assert.ok(sport >= 1024, `source port ${sport}`);
  assert.equal(f.readUInt16BE(36), 80);
  const l4Len = ipTotal - 20;
  const pseudo = onesSum(f, 26, 34) + f[23]! + l4Len;
  assert.equal(onesSum(f, 34, 34 + l4Len, pseudo), 0xffff, `${kind} checksum`);
  if (kind === 'udp') {
    assert.equal(f.readUInt16BE(38), l4Len, 'UDP length');
  } else {
    assert.equal(f[46]! >> 4, 5, 'TCP data offset');
    assert.equal(f[47], kind === 'tcp-syn' ? 0x02 : 0x10, 'TCP flags');
  }
  return `${src}:${sport}`;
}

// What only las_bench may hold. Strings only the generator and sink code contains (their thread
// names, the generator's async resource): absent from a binary that does not link that code.
const BENCH_TOOLS = [
  'Classifier', 'PassThroughDataplane', 'sendFrames', 'runGenerator', 'generatorFrames', 'Sink',
  'microbenchClassify', 'microbenchFlowTable', 'microbenchMaglev', 'microbenchSecondChance',
] as const;
const BENCH_CODE_MARKS = ['las-gen', 'las-sink', 'las.runGenerator'];

/** The file this process mapped for an addon (the release or the sanitizer build, whichever loaded). */
function mappedAddon(name: string): string {
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n');
  const line = maps.find((l) => l.endsWith(`/${name}.node`));
  assert.ok(line, `${name}.node is mapped`);
  return line.slice(line.indexOf('/'));
}

describe('two addons: the daemon\'s holds only the product', () => {
  it('las_native exports none of the bench tools; las_bench exports all of them', () => {
    const product = loadAddon() as unknown as Record<string, unknown>;
    const bench = addon as unknown as Record<string, unknown>;
    assert.equal(typeof product.Dataplane, 'function', 'the product addon loaded');
    for (const name of BENCH_TOOLS) {
      assert.equal(product[name], undefined, `las_native must not export ${name}`);
      assert.equal(typeof bench[name], 'function', `las_bench exports ${name}`);
    }
    assert.equal(bench.Dataplane, undefined, 'las_bench has no product Dataplane: the daemon\'s is las_native\'s');
  });

  it('the generator and sink code is not linked into las_native', () => {
    const product = readFileSync(mappedAddon('las_native'));
    const bench = readFileSync(mappedAddon('las_bench'));
    for (const mark of BENCH_CODE_MARKS) {
      assert.ok(bench.includes(mark), `las_bench contains "${mark}" (the check can fail)`);
      assert.ok(!product.includes(mark), `las_native contains "${mark}"`);
    }
  });
});

describe('benchmark frames and micro-benchmarks (no network)', () => {
  for (const kind of ['udp', 'tcp-syn', 'tcp-ack'] as const) {
    for (const packetSize of [60, 128, 1514]) {
      it(`${kind} frames of ${packetSize} bytes are valid and the classifier forwards them`, () => {
        const frames = addon.generatorFrames({ ...baseOptions(kind), packetSize }, 250);
        const flows = frames.map((f) => checkFrame(f, kind, packetSize));
        assert.equal(new Set(flows).size, 100, 'flows=100 distinct flows');
        assert.deepEqual(flows.slice(100, 200), flows.slice(0, 100), 'the flows repeat in one fixed order');
        const classifier = new addon.Classifier(
          { ingressMac: DST_MAC, egressMac: '02:00:00:00:be:03', flowCapacity: 1024, flowIdleTimeoutMs: 60_000 },
          snapshot(kind === 'udp' ? 'udp' : 'tcp'),
        );
        for (const frame of frames) assert.equal(classifier.classify(frame, 1000).action, 'forward');
      });
    }
  }

  for (const kind of ['udp', 'tcp-syn', 'tcp-ack'] as const) {
    it(`IPv6 ${kind} frames (78 bytes: the v6 benchmark size) are valid and the classifier forwards them`, () => {
      const vip6 = '2001:db8:99::100';
      const frames = addon.generatorFrames({ ...baseOptions(kind), dstIp: vip6, srcPrefix6: '2001:db8:1::', packetSize: 78 }, 200);
      const flows = new Set<string>();
      for (const f of frames) {
        assert.equal(f.length, 78);
        assert.equal(f.readUInt16BE(12), 0x86dd, 'IPv6 ethertype');
        assert.equal(f[14]! >> 4, 6);
        const l4Len = f.readUInt16BE(18);
        assert.equal(l4Len, kind === 'tcp-syn' ? 20 : 78 - 54, 'payload length');
        assert.equal(f[20], kind === 'udp' ? 17 : 6, 'next header');
        const src = f.subarray(22, 38);
        assert.equal(src.subarray(0, 12).toString('hex'), parseIpv6('2001:db8:1::').subarray(0, 12).toString('hex'), 'source prefix');
        const low = src.readUInt32BE(12);
        assert.ok(low >= ipv4Number('10.99.1.0') && low <= ipv4Number('10.99.1.255'), `source low word ${low}`);
        assert.equal(f.subarray(38, 54).toString('hex'), parseIpv6(vip6).toString('hex'));
        const text = (b: Buffer) => Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16)).join(':');
        const segment = f.subarray(54, 54 + l4Len);
        const at = kind === 'udp' ? 6 : 16;
        assert.equal(segment.readUInt16BE(at), checksum6(text(src), vip6, kind === 'udp' ? 17 : 6, segment, at), `${kind} checksum over the v6 pseudo-header`);
        flows.add(`${low}:${f.readUInt16BE(54)}`);
      }
      assert.equal(flows.size, 100, 'flows=100 distinct flows');
      const classifier = new addon.Classifier(
        { ingressMac: DST_MAC, egressMac: '02:00:00:00:be:03', flowCapacity: 1024, flowIdleTimeoutMs: 60_000 },
        { services: [{ ...snapshot(kind === 'udp' ? 'udp' : 'tcp').services[0]!, vip: vip6,
          servers: [1, 2, 3, 4].map((i) => ({ address: `2001:db8:99::${10 + i}`, mac: `02:00:00:00:00:1${i}`, weight: 1 })) }] },
      );
      for (const frame of frames) assert.equal(classifier.classify(frame, 1000).action, 'forward');
    });
  }

  it('random mode (flows=0) stays inside the address and port ranges', () => {
    const options = { ...baseOptions('udp'), flows: 0, srcIpMin: '10.99.1.7', srcIpMax: '10.99.1.9', srcPortMin: 5000, srcPortMax: 5002 };
    for (const frame of addon.generatorFrames(options, 500)) {
      assert.ok(['10.99.1.7', '10.99.1.8', '10.99.1.9'].includes(ipv4(frame, 26)));
      assert.ok([5000, 5001, 5002].includes(frame.readUInt16BE(34)));
      assert.equal(onesSum(frame, 14, 34), 0xffff);
    }
  });

  it('rejects impossible options with the option named', async () => {
    await assert.rejects(addon.runGenerator({ ...baseOptions('udp'), packetSize: 59 }), /packetSize/);
    await assert.rejects(addon.runGenerator({ ...baseOptions('udp'), srcIpMax: '10.99.1.0', srcPortMax: 1050 }), /flows/);
    await assert.rejects(addon.runGenerator({ ...baseOptions('udp'), count: 0, durationMs: 0 }), /count or durationMs/);
    assert.throws(() => addon.generatorFrames({ ...baseOptions('udp'), dstMac: 'nope' }, 1), /dstMac/);
  });

  it('micro-benchmarks return finite positive numbers', () => {
    const frames = addon.generatorFrames({ ...baseOptions('udp'), flows: 64 }, 64);
    const classify = addon.microbenchClassify({ frames, snapshot: snapshot('udp'), iterations: 20, flowCapacity: 4096, prefillFlows: 1000 });
    assert.equal(classify.frames, 64 * 20);
    assert.ok(Number.isFinite(classify.nsPerFrame) && classify.nsPerFrame > 0, JSON.stringify(classify));

    const table = addon.microbenchFlowTable({ entries: 10_000, operations: 10_000 });
    for (const [name, value] of Object.entries(table)) assert.ok(Number.isFinite(value) && value > 0, `${name}: ${value}`);
    assert.equal(table.tableBytes, 16384 * 32, '10000 entries -> 16384 slots of 32 bytes');

    const maglev = addon.microbenchMaglev({ servers: 8, size: 251, repetitions: 5 });
    assert.ok(Number.isFinite(maglev.buildNs) && maglev.buildNs > 0);

    // 3 -> 4 servers moves about a quarter of the slots: that share of the no-entry packets goes by
    // the previous table; the previous table is the service's table size in 16-bit slots.
    const second = addon.microbenchSecondChance({ servers: 3, tableSize: 251, flows: 4000, rounds: 2 });
    assert.equal(second.frames, 8000);
    assert.equal(second.previousBytes, 251 * 2);
    assert.ok(second.byPrevious > 8000 * 0.1 && second.byPrevious < 8000 * 0.4, JSON.stringify(second));
    assert.ok(Number.isFinite(second.offNs) && second.offNs > 0 && Number.isFinite(second.onNs) && second.onNs > 0, JSON.stringify(second));
  });
});

interface ChildLine { ready?: boolean; error?: string; result?: Record<string, string>; counts?: Record<string, unknown>; frames?: string[] }

/** Starts the child helper inside `ns`; lines() yields its JSON output lines. */
function startChild(ns: string, args: string[]): { child: ChildProcess; next: () => Promise<ChildLine> } {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, CHILD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const iterator = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<ChildLine> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from the ${args[0]} child in ${ns}; stderr: ${stderr}`)), 20_000);
    });
    try {
      const { value, done } = await Promise.race([iterator.next(), timeout]);
      if (done) throw new Error(`the ${args[0]} child in ${ns} exited; stderr: ${stderr}`);
      const line = JSON.parse(value as string) as ChildLine;
      if (line.error) throw new Error(`${args[0]} child: ${line.error}`);
      return line;
    } finally {
      clearTimeout(timer);
    }
  };
  return { child, next };
}

describe('generator -> veth -> sink across two namespaces', { skip: needsRoot('network namespaces and packet sockets') }, () => {
  const suffix = randomBytes(3).toString('hex');
  const nsGen = `las-bt-${suffix}-g`;
  const nsSink = `las-bt-${suffix}-s`;
  const ifGen = `lbg${suffix}`;
  const ifSink = `lbs${suffix}`;
  const created: string[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    for (const ns of [nsGen, nsSink]) {
      await run('ip', ['netns', 'add', ns]);
      created.push(ns);
      // No IPv6: router solicitations, MLD and DAD frames would show up in the sink as extra MACs.
      await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    await run('ip', ['link', 'add', ifGen, 'netns', nsGen, 'type', 'veth', 'peer', 'name', ifSink, 'netns', nsSink]);
    await run('ip', ['-n', nsGen, 'link', 'set', ifGen, 'up']);
    await run('ip', ['-n', nsSink, 'link', 'set', ifSink, 'up']);
    // The sink's own kernel drops everything at ingress (the AF_PACKET tap has seen it by then).
    await run('tc', ['-n', nsSink, 'qdisc', 'add', 'dev', ifSink, 'clsact']);
    await run('tc', ['-n', nsSink, 'filter', 'add', 'dev', ifSink, 'ingress', 'pref', '1', 'bpf', 'da', 'bytecode', '1,6 0 0 2']);
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const ns of created) {
      try {
        await run('ip', ['netns', 'del', ns]);
      } catch (error) {
        console.error(`could not delete namespace ${ns}: ${String(error)}`);
      }
    }
  });

  it('sends exactly count=5000 frames of 100 flows, all to dstMac', { timeout: 60_000 }, async () => {
    const sink = startChild(nsSink, ['sink', ifSink, '256']);
    children.push(sink.child);
    assert.equal((await sink.next()).ready, true);

    const options: GeneratorOptions = {
      interface: ifGen, srcMac: SRC_MAC, dstMac: DST_MAC, dstIp: VIP, dstPort: 80,
      srcIpMin: '10.99.1.0', srcIpMax: '10.99.1.255', srcPortMin: 1024, srcPortMax: 65535,
      flows: 100, packetSize: 60, kind: 'udp', ratePps: 0, count: 5000, durationMs: 20_000, burst: 32, cpu: -1,
    };
    const gen = startChild(nsGen, ['generator', JSON.stringify(options)]);
    children.push(gen.child);
    const result = (await gen.next()).result!;
    assert.equal(BigInt(result.sent!), 5000n, JSON.stringify(result));
    assert.equal(BigInt(result.errors!), 0n);
    assert.ok(BigInt(result.elapsedNs!) > 0n);

    sink.child.stdin!.write(`${JSON.stringify({ expect: 5000 })}\n`);
    const reply = await sink.next();
    const counts = reply.counts as unknown as Record<keyof SinkCounts, string> & { byDstMac: Record<string, string> };
    assert.equal(BigInt(counts.total), 5000n, JSON.stringify(counts));
    assert.deepEqual(Object.keys(counts.byDstMac), [DST_MAC], 'every frame went to dstMac and nothing else arrived');
    assert.equal(BigInt(counts.byDstMac[DST_MAC]!), 5000n);
    assert.equal(BigInt(counts.ringDrops), 0n);

    // The frames as they arrived: well formed, and the first 256 cover exactly the 100 flows.
    const frames = reply.frames!.map((hex) => Buffer.from(hex, 'hex'));
    assert.equal(frames.length, 256);
    const flows = new Set(frames.map((f) => checkFrame(f, 'udp', 60)));
    assert.equal(flows.size, 100);
  });
});
