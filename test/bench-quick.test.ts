// The benchmark suite: its pure parts (pktgen config and results, nft rules, flow-move forecasts, the
// RFC 2544 search), then `npm run bench -- --quick` as a smoke test of the whole run. Only the shape
// of what it writes is checked, never a speed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nftBalancerRule, nftForwardRule, nftReplaceRule, nftRuleset } from '../bench/dispatchers.js';
import { rangeRemapFraction, nftBuckets } from '../bench/moves.js';
import { parsePktgenResult, pktgenWrites, runPktgen, type PktgenFs, type PktgenParams } from '../bench/pktgen.js';
import { SERVERS, flowSpace, selects, serversAfter } from '../bench/scenarios.js';
import { rfc2544Search } from '../bench/search.js';
import { parseInterfaces } from '../bench/topology.js';
import { listNamespaces } from '../src/netns/namespace.js';
import { needsRoot } from './support/needs-root.js';

const PARAMS: PktgenParams = {
  device: 'gen0', thread: 0, dstMac: '02:00:00:00:00:02', dstIp: '10.99.0.100', dstPort: 80,
  srcIpMin: '10.1.0.0', srcIpMax: '10.1.3.231', srcPortMin: 10000, srcPortMax: 10999,
  packetSize: 60, count: 1000000, ratePps: 500000, burst: 32,
};

// What /proc/net/pktgen/<dev> shows after a run (format of net/core/pktgen.c).
const DEVICE_AFTER_RUN = `Params: count 1000000  min_pkt_size: 60  max_pkt_size: 60
     frags: 0  delay: 0  clone_skb: 0  ifname: gen0
     flows: 0 flowlen: 0
     queue_map_min: 0  queue_map_max: 0
     dst_min: 10.99.0.100  dst_max: 
     src_min: 10.1.0.0  src_max: 10.1.3.231
     src_mac: 02:00:00:00:00:01 dst_mac: 02:00:00:00:00:02
     udp_src_min: 10000  udp_src_max: 10999  udp_dst_min: 80  udp_dst_max: 80
     src_mac_count: 0  dst_mac_count: 0
     Flags: IPSRC_RND  UDPSRC_RND  
Current:
     pkts-sofar: 1000000  errors: 0
     started: 1733011591262us  stopped: 1733011592574us idle: 11us
     seq_num: 1000001  cur_dst_mac_offset: 0  cur_src_mac_offset: 0
     cur_saddr: 10.1.2.51  cur_daddr: 10.99.0.100
     cur_udp_dst: 80  cur_udp_src: 10431
     cur_queue_map: 0
     flows: 0
Result: OK: 1312063(c1312052+d11) usec, 1000000 (60byte,0frags)
  762158pps 365Mb/sec (365835840bps) errors: 3
`;

test('pktgen: one command per write, in the order pktgen needs them', () => {
  const writes = pktgenWrites(PARAMS);
  assert.deepEqual(writes.slice(0, 3), [
    { file: 'pgctrl', command: 'reset' },
    { file: 'kpktgend_0', command: 'rem_device_all' },
    { file: 'kpktgend_0', command: 'add_device gen0' },
  ]);
  const device = writes.filter((w) => w.file === 'gen0').map((w) => w.command);
  for (const expected of [
    'count 1000000', 'clone_skb 0', 'pkt_size 60', 'burst 32', 'dst 10.99.0.100', 'dst_mac 02:00:00:00:00:02',
    'src_min 10.1.0.0', 'src_max 10.1.3.231', 'udp_src_min 10000', 'udp_src_max 10999', 'udp_dst_min 80', 'udp_dst_max 80',
    'flag IPSRC_RND', 'flag UDPSRC_RND', 'ratep 500000',
  ]) assert.ok(device.includes(expected), `${expected} in ${device.join(' | ')}`);
  for (const c of device) assert.doesNotMatch(c, /\n/);
  // As fast as possible: no ratep at all; flows only when asked for.
  const fast = pktgenWrites({ ...PARAMS, ratePps: 0, thread: 3, flows: 1024, flowlen: 8 }).map((w) => `${w.file}: ${w.command}`);
  assert.ok(!fast.some((c) => c.includes('ratep')));
  assert.ok(fast.includes('kpktgend_3: add_device gen0'));
  assert.ok(fast.includes('gen0: flows 1024') && fast.includes('gen0: flowlen 8'));
  assert.throws(() => pktgenWrites({ ...PARAMS, device: 'bad name' }), /invalid pktgen device/);
});

test('pktgen: the Result lines are parsed; idle and acknowledgements are not results; errors throw', () => {
  assert.deepEqual(parsePktgenResult(DEVICE_AFTER_RUN), {
    elapsedUs: 1312063, busyUs: 1312052, idleUs: 11, sent: 1000000, packetSize: 60, frags: 0,
    pps: 762158, mbps: 365, bps: 365835840, errors: 3,
  });
  // Older kernels printed nsec and a space before Mb/sec.
  const old = 'Result: OK: 2000000000(c1999999000+d1000) nsec, 500 (1500byte,-1frags)\n  250pps 3 Mb/sec (3000000bps) errors: 0\n';
  const r = parsePktgenResult(old)!;
  assert.equal(r.elapsedUs, 2000000);
  assert.equal(r.frags, -1);
  assert.equal(r.mbps, 3);
  assert.equal(parsePktgenResult('Params: count 0\nResult: Idle\n'), undefined);
  assert.equal(parsePktgenResult('Result: OK: pkt_size=60\n'), undefined);
  assert.throws(() => parsePktgenResult('Result: No such parameter "bogus"\n'), /No such parameter/);
});

test('pktgen: the driver writes, checks each device answer, starts, stops after the duration and reads the result', async () => {
  const log: string[] = [];
  let device = 'Result: Idle\n';
  const fs: PktgenFs = {
    async write(file, command) {
      log.push(`${file}: ${command}`);
      if (file === 'gen0') device = command.startsWith('flag BOGUS') ? 'Result: No such parameter "BOGUS"\n' : `Result: OK: ${command}\n`;
      if (file === 'pgctrl' && command === 'start') {
        await new Promise((resolve) => setTimeout(resolve, 30));
        device = DEVICE_AFTER_RUN;
      }
    },
    async read() { return device; },
  };
  const run = await runPktgen({ params: { ...PARAMS, count: 0 }, durationMs: 10 }, fs);
  assert.equal(run.result.sent, 1000000);
  assert.ok(log.indexOf('pgctrl: start') > log.indexOf('gen0: udp_dst_max 80'));
  assert.ok(log.includes('pgctrl: stop'), 'stopped after durationMs');
  await assert.rejects(runPktgen({ params: { ...PARAMS, count: 0 }, durationMs: 0 }, fs), /must be above 0/);
});

test('nft rules: forwarding and the jhash balancer over the 5-tuple, weights as repeated map entries', () => {
  const base = { vip: '10.99.0.100', l4: 'udp' as const, port: 80, srcMac: '02:00:00:00:00:aa', egress: 'out0' };
  assert.equal(nftForwardRule({ ...base, dstMac: '02:00:00:00:00:11' }),
    'ip daddr 10.99.0.100 udp dport 80 ether daddr set 02:00:00:00:00:11 ether saddr set 02:00:00:00:00:aa fwd to "out0"');
  const lb = nftBalancerRule({ ...base, servers: SERVERS, seed: 1 });
  assert.match(lb, /jhash ip saddr \. udp sport \. ip daddr \. udp dport mod 4 seed 0x1 map \{ 0 : 02:00:00:00:00:11, 1 : 02:00:00:00:00:12, 2 : 02:00:00:00:00:13, 3 : 02:00:00:00:00:14 \}/);
  const weighted = nftBalancerRule({ ...base, servers: serversAfter({ type: 'weight', server: 0, weight: 2 }) });
  assert.match(weighted, /mod 5 seed \S+ map \{ 0 : 02:00:00:00:00:11, 1 : 02:00:00:00:00:11, 2 : 02:00:00:00:00:12/);
  assert.match(nftBalancerRule({ ...base, servers: serversAfter({ type: 'remove', server: 3 }) }), /mod 3 /);
  const ruleset = nftRuleset('in0', lb);
  assert.match(ruleset, /table netdev lasbench \{\n {2}chain ingress \{\n {4}type filter hook ingress device "in0" priority 0; policy accept;/);
  assert.equal(nftReplaceRule('X'), 'flush chain netdev lasbench ingress\nadd rule netdev lasbench ingress X\n');
});

test('flow moves: a uniform hash range re-cut from 4 to 3 buckets moves half of it; doubling one weight moves 30 %', () => {
  assert.equal(rangeRemapFraction(['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd']), 0);
  assert.ok(Math.abs(rangeRemapFraction(nftBuckets(SERVERS), nftBuckets(serversAfter({ type: 'remove', server: 3 }))) - 0.5) < 1e-9);
  // [a b c d] -> [a a b c d]: [.25,.4) b→a, [.5,.6) c→b, [.75,.8) d→c move: 0.15 + 0.1 + 0.05.
  const moved = rangeRemapFraction(nftBuckets(SERVERS), nftBuckets(serversAfter({ type: 'weight', server: 0, weight: 2 })));
  assert.ok(Math.abs(moved - 0.3) < 1e-9, String(moved));
});

test('RFC 2544 search: bounded binary search for the highest rate without loss', async () => {
  // A generator whose full rate (trial(0)) is 1 Mpps, and a device that loses frames above 600 kpps.
  const full = (rate: number) => (rate === 0 ? 1_000_000 : rate);
  const rates: number[] = [];
  const result = await rfc2544Search(async (asked) => {
    rates.push(asked);
    const rate = full(asked);
    const lost = rate > 600_000 ? Math.round(rate * 0.1) : 0;
    return { offeredPps: rate, deliveredPps: rate - lost, sent: rate, lost, lossRatio: lost / rate, backlog: 0 };
  }, { steps: 6, lossTolerance: 0 });
  assert.equal(rates.length, 6);
  assert.equal(rates[0], 0, 'starts at the generator\'s full rate');
  assert.equal(rates[1], 500_000, 'then halves the measured full rate');
  assert.ok(result.highestLosslessPps <= 600_000 && result.highestLosslessPps > 550_000, String(result.highestLosslessPps));
  assert.ok(result.low <= 600_000 && result.high !== null && result.high > 600_000);
  assert.equal(result.limitedByGenerator, false);
  // Lossless at the generator's full rate: one trial, and only a lower bound.
  const easy = await rfc2544Search(async (rate) => ({ offeredPps: full(rate) / 2, deliveredPps: full(rate) / 2, sent: 1e5, lost: 0, lossRatio: 0, backlog: 0 }), { steps: 7, lossTolerance: 0 });
  assert.equal(easy.trials.length, 1);
  assert.equal(easy.highestLosslessPps, 5e5);
  assert.equal(easy.limitedByGenerator, true);
  // The tolerance admits a few lost frames.
  const tolerant = await rfc2544Search(async (rate) => ({ offeredPps: full(rate), deliveredPps: full(rate), sent: 1e6, lost: 5, lossRatio: 5e-6, backlog: 100 }), { steps: 3, lossTolerance: 1e-5 });
  assert.equal(tolerant.trials.length, 1);
  // Nothing lost, but a deep queue left when the generator stopped: the dispatcher did not keep up.
  const queued = await rfc2544Search(async (asked) => {
    const rate = full(asked);
    return { offeredPps: rate, deliveredPps: Math.min(rate, 300_000), sent: rate, lost: 0, lossRatio: 0, backlog: Math.max(0, rate - 300_000) };
  }, { steps: 8, lossTolerance: 0 });
  assert.ok(queued.highestLosslessPps <= 350_000 && queued.highestLosslessPps > 250_000, String(queued.highestLosslessPps));
});

test('scenario helpers: flow ranges hold exactly the flow count; filters; --interfaces', () => {
  assert.deepEqual(flowSpace(1000), { srcIpMin: '10.1.0.0', srcIpMax: '10.1.0.0', srcPortMin: 10000, srcPortMax: 10999, flows: 1000 });
  const m = flowSpace(1_000_000);
  assert.equal(m.srcIpMax, '10.1.3.231'); // 1000 addresses
  assert.throws(() => flowSpace(1500), /multiple/);
  assert.ok(selects(undefined, 'udp-64-1m'));
  assert.ok(selects('udp-64-1m', 'udp-64-1m'));
  assert.ok(!selects('udp-64-1m', 'udp-64-1m-2w'));
  assert.ok(selects('udp-64-*', 'udp-64-1m-2w'));
  assert.ok(selects('change,micro', 'change-weight', 'change'));
  assert.ok(selects('change,micro', 'micro'));
  assert.ok(!selects('size', 'search'));
  assert.deepEqual(parseInterfaces('gen=eth1,in=eth2,out=eth3,sink=eth4'), { gen: 'eth1', in: 'eth2', out: 'eth3', sink: 'eth4' });
  assert.throws(() => parseInterfaces('gen=eth1,in=eth2'), /"out" interface is missing/);
  assert.throws(() => parseInterfaces('gen=eth1,in=eth1,out=eth3,sink=eth4'), /must be different/);
});

// ---------------------------------------------------------------- the whole suite, briefly

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runScript = join(root, 'dist', 'bench', 'run.js');

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runScript, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs); // SIGINT: the suite cleans up
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

test('npm run bench -- --quick runs every scenario and writes results.json, summary.md and the charts', { timeout: 360_000, skip: needsRoot('network namespaces and packet sockets') }, async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'las-bench-test-'));
  try {
    const before = new Set(await listNamespaces());
    const run = await runBench(['--quick', '--no-progress', '--out', out], 300_000);
    assert.equal(run.code, 0, `bench exited ${run.code}\n${run.stderr.slice(-4000)}`);
    const dirs = readdirSync(out);
    assert.equal(dirs.length, 1, `one timestamped folder: ${dirs.join(', ')}`);
    const dir = join(out, dirs[0]!);
    assert.match(dirs[0]!, /^\d{4}-\d{2}-\d{2}T\d{6}Z$/);
    for (const f of ['results.json', 'summary.md', 'delivered-vs-offered.svg', 'per-server-spread.svg', 'throughput.svg']) {
      assert.ok(existsSync(join(dir, f)), `${f} written`);
    }
    for (const svg of ['delivered-vs-offered.svg', 'per-server-spread.svg', 'throughput.svg']) {
      assert.match(readFileSync(join(dir, svg), 'utf8'), /^<svg[\s\S]*<\/svg>\s*$/);
    }
    assert.match(run.stdout, /\| scenario \| kernel fwd \| nft balancer \| LAS pass-through \| LAS full \|/);

    const r = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Record<string, any>;
    assert.equal(r.schema, 'las-bench/1');
    assert.equal(r.mode, 'quick');
    for (const k of ['cpuModel', 'kernel', 'node']) assert.equal(typeof r.machine[k], 'string', `machine.${k}`);
    assert.ok(Number.isInteger(r.machine.cores) && r.machine.cores > 0);
    assert.ok(['pktgen', 'las-native'].includes(r.generator.used));
    assert.equal(r.topology.kind, 'veth');
    assert.ok(Array.isArray(r.backgroundLoad.before) && Array.isArray(r.warnings) && Array.isArray(r.limits));
    assert.deepEqual(r.dispatchers.map((d: { id: string }) => d.id), ['kernel-fwd', 'nft-lb', 'las-pt', 'las-full']);

    const ids = r.scenarios.map((s: { id: string }) => s.id);
    assert.deepEqual(ids, [
      'udp-64-1m', 'udp-512-1m', 'udp-1500-1m', 'udp-64-1k', 'udp-64-100k', 'tcp-syn-new', 'tcp-ack-1k', 'udp-64-1m-2w',
      'change-weight', 'change-remove', 'txmode-send', 'txmode-sendmmsg', 'txmode-ring', 'trace-64',
    ]);
    const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
    for (const s of r.scenarios) {
      assert.equal(s.rounds.length, 1, `${s.id}: one round in quick mode`);
      const round = s.rounds[0];
      assert.deepEqual(round.errors, {}, `${s.id}: no dispatcher failed`);
      // trace-64 compares LAS with itself: no trace, a trace matching nothing, one matching everything.
      const traceScenario = s.group === 'trace';
      if (traceScenario) assert.deepEqual(s.params.dispatchers, ['las-full', 'las-trace-none', 'las-trace-all']);
      else assert.ok(s.params.dispatchers.includes('nft-lb') && s.params.dispatchers.includes('las-full'), `${s.id}: both balancers`);
      for (const id of s.params.dispatchers as string[]) {
        const trial = round.trials[id];
        assert.ok(trial, `${s.id}: ${id} measured`);
        for (const k of ['offeredPps', 'deliveredPps', 'sent', 'delivered', 'lost', 'lossRatio', 'elapsedMs', 'drainMs']) assert.ok(isNum(trial[k]), `${s.id} ${id} ${k}`);
        assert.ok(trial.sent > 0, `${s.id} ${id}: frames were sent`);
        assert.equal(trial.perServer.length, 4);
        assert.ok(isNum(trial.drops.sinkRingDrops) && isNum(trial.drops.generatorErrors) && isNum(trial.drops.softnetDropped));
        assert.ok(Array.isArray(trial.cpu.perCpu) && trial.cpu.perCpu.length === r.machine.cores);
        assert.ok(isNum(trial.cpu.foreignCpus), `${s.id} ${id}: other jobs' CPU sampled`);
        if (id.startsWith('las')) {
          assert.ok(isNum(trial.drops.dispatcherRingDrops), `${s.id} ${id}: ring drops read from the dispatcher`);
          assert.ok(isNum(trial.cpu.dispatcherThreadNsPerPacket), `${s.id} ${id}: worker CPU per packet`);
        } else {
          assert.equal(trial.drops.dispatcherRingDrops, null);
        }
        if (id === 'nft-lb' || id === 'las-full') assert.ok(trial.spread && isNum(trial.spread.cv), `${s.id} ${id}: spread`);
      }
      const ratioKeys = traceScenario ? ['las-trace-none/las-full', 'las-trace-all/las-full'] : ['las-full/nft-lb', 'las-full/las-pt'];
      for (const key of ratioKeys) assert.ok(isNum(s.summary.ratios[key]?.median), `${s.id}: ratio ${key}`);
      if (traceScenario) assert.ok(round.trials['las-trace-all'] && s.dispatcherInfo['las-trace-all'].traceLines > 0, `${s.id}: the matching trace received lines`);
      if (s.group === 'change') {
        assert.ok(s.moves && isNum(s.moves.predicted.lasFull) && isNum(s.moves.predicted.nftJhash), `${s.id}: moves predicted`);
        assert.ok(isNum(s.moves.measured.lasFull?.median), `${s.id}: moves measured`);
        assert.ok(round.trials['las-full'].change && isNum(round.trials['las-full'].change.applyMs));
      }
    }
    assert.ok(r.search, 'RFC 2544 search ran');
    for (const id of ['kernel-fwd', 'nft-lb', 'las-pt', 'las-full']) {
      const s = r.search.perDispatcher[id];
      assert.ok(s && !s.error, `search ${id}: ${s?.error ?? ''}`);
      assert.ok(s.trials.length >= 1 && s.trials.length <= r.search.steps);
      assert.ok(isNum(s.highestLosslessPps));
    }
    assert.ok(r.micro && !r.micro.error, `micro-benchmarks ran: ${r.micro?.error ?? ''}`);
    assert.ok(isNum(r.micro.classify.nsPerFrame) && isNum(r.micro.classifyHot.nsPerFrame));
    assert.equal(r.micro.flowTable.length, 2);
    assert.deepEqual(r.micro.maglev.map((m: { servers: number }) => m.servers), [10, 100, 1000]);
    assert.ok(r.targets.length >= 6 && r.targets.every((x: { name: string; met: unknown }) => typeof x.name === 'string' && [true, false, null].includes(x.met as boolean | null)));

    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    for (const heading of ['## Delivered rate at the servers', '## Highest rate without loss', '## Micro-benchmarks', '## Targets', '## What limits these numbers']) {
      assert.ok(summary.includes(heading), heading);
    }
    const left = (await listNamespaces()).filter((ns) => !before.has(ns) && ns.startsWith('lasb-'));
    assert.deepEqual(left, [], 'every namespace removed');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
