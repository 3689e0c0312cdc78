// Every limit the daemon, the addon or the kernel enforces is enforced by `las check` first: a
// config at the limit passes, one past it is refused naming the field. The addon's own bounds are
// probed too, so that a change on either side of the boundary fails here, not at `las run`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkCpus, onlineCpus, parseCpuList } from '../src/config/cpu-check.js';
import { parseConfig } from '../src/config/schema.js';
import { isPrime } from '../src/config/leaf-checks.js';
import {
  BPF_MAX_INSNS, fanoutProgramLength, MAX_CPU, MAX_FLOW_CAPACITY, MAX_MAGLEV_TABLE_SIZE, MAX_RETIRE_TIMEOUT_MS, MAX_RX_BLOCK_COUNT,
  MAX_RX_BLOCK_SIZE, MAX_SERVERS, MAX_SERVICES, MAX_TX_FRAME_SIZE, MAX_VIPS, MAX_WEIGHT, MAX_WORKERS, MIN_FLOW_CAPACITY, type FanoutService,
} from '../src/config/limits.js';
import { loadAddon, type DataplaneOptions, type NativeService } from '../src/native/binding.js';
import { addNamespace, deleteNamespace, setLinkUp, uniquePrefix } from '../src/netns/namespace.js';
import { needsRoot } from './support/needs-root.js';
import { runNamespaceChild } from './support/namespace-child.js';

const CHILD = fileURLToPath(new URL('./support/fanout-limit-child.js', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const server = (i: number) => ({ address: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}` });
const vip = (i: number) => `10.0.${i >> 8}.${(i & 255) + 1}`;
const BASE = { interface: 'eth1', services: [{ name: 'web', vip: '10.0.0.100', port: 80, servers: [server(1)] }] };

function largestPrimeAtMost(n: number): number {
  while (!isPrime(n)) n--;
  return n;
}
function smallestPrimeAbove(n: number): number {
  do n++; while (!isPrime(n));
  return n;
}

/** n services of one server each, on `vips` VIPs, ports 1.. on each. */
function services(n: number, vips = 1, extra: (i: number) => Record<string, unknown> = () => ({})) {
  return Array.from({ length: n }, (_, i) => ({ name: `s${i}`, vip: vip(i % vips), port: Math.floor(i / vips) + 1, servers: [server(1)], ...extra(i) }));
}

/** A VIP whose services mix flow keys: one all-ports UDP "addresses" service and `ports` TCP 5-tuple ones. */
function mixedVip(ports: number) {
  return [
    { name: 'all', vip: vip(0), protocol: 'udp', flowKey: 'addresses', servers: [server(1)] },
    ...Array.from({ length: ports }, (_, i) => ({ name: `p${i + 1}`, vip: vip(0), port: i + 1, flowKey: '5tuple', servers: [server(1)] })),
  ];
}

interface Limit { name: string; at: Record<string, unknown>; past: Record<string, unknown>; path: string; says: string }

const LIMITS: Limit[] = [
  { name: 'workers', at: { workers: MAX_WORKERS }, past: { workers: MAX_WORKERS + 1 }, path: 'workers', says: `from 1 to ${MAX_WORKERS}` },
  { name: 'cpus (CPU_SETSIZE)', at: { cpus: [MAX_CPU] }, past: { cpus: [MAX_CPU + 1] }, path: 'cpus[0]', says: `from 0 to ${MAX_CPU}` },
  { name: 'flowTable.capacity (most)', at: { flowTable: { capacity: MAX_FLOW_CAPACITY } }, past: { flowTable: { capacity: MAX_FLOW_CAPACITY + 1 } }, path: 'flowTable.capacity', says: String(MAX_FLOW_CAPACITY) },
  { name: 'flowTable.capacity (least)', at: { flowTable: { capacity: MIN_FLOW_CAPACITY } }, past: { flowTable: { capacity: MIN_FLOW_CAPACITY - 1 } }, path: 'flowTable.capacity', says: String(MIN_FLOW_CAPACITY) },
  { name: 'ring.blockSize', at: { ring: { blockSize: MAX_RX_BLOCK_SIZE } }, past: { ring: { blockSize: MAX_RX_BLOCK_SIZE * 2 } }, path: 'ring.blockSize', says: 'power of two' },
  { name: 'ring.blockCount', at: { ring: { blockCount: MAX_RX_BLOCK_COUNT } }, past: { ring: { blockCount: MAX_RX_BLOCK_COUNT + 1 } }, path: 'ring.blockCount', says: String(MAX_RX_BLOCK_COUNT) },
  { name: 'RX ring frames (kernel: 32 bits)', at: { ring: { blockSize: MAX_RX_BLOCK_SIZE, blockCount: 32_767 } }, past: { ring: { blockSize: MAX_RX_BLOCK_SIZE, blockCount: 32_768 } }, path: 'ring.blockCount', says: 'more than the kernel can number' },
  { name: 'ring.frameSize', at: { ring: { frameSize: MAX_TX_FRAME_SIZE } }, past: { ring: { frameSize: MAX_TX_FRAME_SIZE + 16 } }, path: 'ring.frameSize', says: String(MAX_TX_FRAME_SIZE) },
  { name: 'ring.retireTimeoutMs', at: { ring: { retireTimeoutMs: MAX_RETIRE_TIMEOUT_MS } }, past: { ring: { retireTimeoutMs: MAX_RETIRE_TIMEOUT_MS + 1 } }, path: 'ring.retireTimeoutMs', says: String(MAX_RETIRE_TIMEOUT_MS) },
  { name: 'weight', at: { services: [{ ...BASE.services[0], servers: [{ ...server(1), weight: MAX_WEIGHT }] }] }, past: { services: [{ ...BASE.services[0], servers: [{ ...server(1), weight: MAX_WEIGHT + 1 }] }] }, path: 'services[0].servers[0].weight', says: `from 0 to ${MAX_WEIGHT}` },
  { name: 'maglevTableSize', at: { services: [{ ...BASE.services[0], maglevTableSize: largestPrimeAtMost(MAX_MAGLEV_TABLE_SIZE) }] }, past: { services: [{ ...BASE.services[0], maglevTableSize: smallestPrimeAbove(MAX_MAGLEV_TABLE_SIZE) }] }, path: 'services[0].maglevTableSize', says: String(MAX_MAGLEV_TABLE_SIZE) },
  { name: 'distinct VIPs (socket filter)', at: { services: services(MAX_VIPS, MAX_VIPS) }, past: { services: services(MAX_VIPS + 1, MAX_VIPS + 1) }, path: `services[${MAX_VIPS}].vip`, says: `at most ${MAX_VIPS} distinct VIPs` },
  { name: 'services (16-bit index)', at: { services: services(MAX_SERVICES) }, past: { services: services(MAX_SERVICES + 1, 2) }, path: 'services', says: `more than ${MAX_SERVICES} services` },
  { name: 'servers per service (16-bit index)', at: { services: [{ ...BASE.services[0], servers: Array.from({ length: MAX_SERVERS }, (_, i) => server(i + 1)) }] }, past: { services: [{ ...BASE.services[0], servers: Array.from({ length: MAX_SERVERS + 1 }, (_, i) => server(i + 1)) }] }, path: 'services[0].servers', says: `more than ${MAX_SERVERS} servers` },
  // 99 + 2 + 11 + 2 x 1992 = 4096 instructions.
  { name: 'fanout program (BPF_MAXINSNS, workers > 1)', at: { workers: 2, services: mixedVip(1992) }, past: { workers: 2, services: mixedVip(1993) }, path: 'services', says: `more than the kernel's ${BPF_MAX_INSNS}` },
];

describe('las check enforces every limit of the daemon', () => {
  for (const limit of LIMITS) {
    it(`${limit.name}: at the limit passes, past it is refused naming the field`, () => {
      const at = parseConfig({ ...BASE, ...limit.at });
      assert.ok(at.ok, JSON.stringify(!at.ok && at.errors.slice(0, 3)));
      const past = parseConfig({ ...BASE, ...limit.past });
      assert.ok(!past.ok, 'past the limit is accepted');
      const error = past.errors.find((e) => e.path === limit.path);
      assert.ok(error, `no error at ${limit.path}: ${JSON.stringify(past.errors.slice(0, 3))}`);
      assert.ok(error.message.includes(limit.says), error.message);
    });
  }

  it('the fanout limit applies only with several workers', () => {
    assert.ok(parseConfig({ ...BASE, workers: 1, services: mixedVip(1993) }).ok);
    assert.equal(fanoutProgramLength(mixedVip(1992).map((s) => ({ port: 0, ...s }))), BPF_MAX_INSNS);
  });
});

describe('cpus against this machine', () => {
  it('reads the kernel\'s CPU list form', () => {
    assert.deepEqual([...parseCpuList('0-3,6,8-9\n')], [0, 1, 2, 3, 6, 8, 9]);
  });

  it('an offline CPU is refused at its index, an online one passes', () => {
    const result = parseConfig({ ...BASE, workers: 2, cpus: [1, 5] });
    assert.ok(result.ok);
    const errors = checkCpus(result.config, new Set([0, 1, 2, 3]));
    assert.deepEqual(errors.map((e) => e.path), ['cpus[1]']);
    assert.match(errors[0]!.message, /CPU 5 is not online on this machine \(online: 0, 1, 2, 3\)/);
  });

  it('`las check` applies it where the config\'s interface exists (here: lo)', () => {
    const online = onlineCpus();
    assert.ok(online, '/sys/devices/system/cpu/online is readable');
    const offline = Array.from({ length: MAX_CPU + 1 }, (_, i) => i).find((cpu) => !online.has(cpu));
    assert.ok(offline !== undefined);
    const dir = mkdtempSync(join(tmpdir(), 'las-cpus-'));
    try {
      const file = join(dir, 'las.json');
      writeFileSync(file, JSON.stringify({ ...BASE, interface: 'lo', cpus: [offline] }));
      const run = spawnSync(process.execPath, [CLI, 'check', file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(run.status, 1, run.stdout);
      assert.match(run.stderr, new RegExp(`cpus\\[0\\]: CPU ${offline} is not online on this machine`));
      writeFileSync(file, JSON.stringify({ ...BASE, interface: 'lo', cpus: [Math.min(...online)] }));
      const ok = spawnSync(process.execPath, [CLI, 'check', file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(ok.status, 0, ok.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the addon refuses past the same limits (a drift on either side fails here)', () => {
  const addon = loadAddon();
  const options = (over: Partial<DataplaneOptions> = {}, ring: Partial<DataplaneOptions['ring']> = {}): DataplaneOptions => ({
    interface: 'lo', egressInterface: 'lo', workers: 1, cpus: [], txMode: 'sendmmsg', flowCapacity: 1024, flowIdleTimeoutMs: 1000,
    ring: { blockSize: 131_072, blockCount: 1, frameSize: 0, retireTimeoutMs: 10, ...ring }, fanoutId: 1, gratuitousArp: false, filter: [], ...over,
  });
  const nativeServer = (i: number) => ({ ...server(i), mac: '02:00:00:00:00:01', weight: 1 });
  const service = (over: Partial<NativeService> = {}): NativeService =>
    ({ vip: '10.0.0.100', port: 80, protocol: 'tcp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 7, servers: [nativeServer(1)], ...over });
  // The constructor converts and checks both structs and builds the snapshot; it opens no socket.
  const accepts = (o: DataplaneOptions, s: NativeService[]) => new addon.Dataplane(o, { services: s });
  const refuses = (o: DataplaneOptions, s: NativeService[]) => assert.throws(() => accepts(o, s), RangeError);

  const cases: [string, () => [DataplaneOptions, NativeService[]], () => [DataplaneOptions, NativeService[]]][] = [
    ['workers', () => [options({ workers: MAX_WORKERS }), [service()]], () => [options({ workers: MAX_WORKERS + 1 }), [service()]]],
    ['flowCapacity', () => [options({ flowCapacity: MAX_FLOW_CAPACITY }), [service()]], () => [options({ flowCapacity: MAX_FLOW_CAPACITY + 1 }), [service()]]],
    ['ring.blockCount', () => [options({}, { blockCount: MAX_RX_BLOCK_COUNT }), [service()]], () => [options({}, { blockCount: MAX_RX_BLOCK_COUNT + 1 }), [service()]]],
    ['ring.frameSize', () => [options({}, { frameSize: MAX_TX_FRAME_SIZE }), [service()]], () => [options({}, { frameSize: MAX_TX_FRAME_SIZE + 1 }), [service()]]],
    ['ring.retireTimeoutMs', () => [options({}, { retireTimeoutMs: MAX_RETIRE_TIMEOUT_MS }), [service()]], () => [options({}, { retireTimeoutMs: MAX_RETIRE_TIMEOUT_MS + 1 }), [service()]]],
    ['weight', () => [options(), [service({ servers: [{ ...nativeServer(1), weight: MAX_WEIGHT }] })]], () => [options(), [service({ servers: [{ ...nativeServer(1), weight: MAX_WEIGHT + 1 }] })]]],
    ['maglevTableSize', () => [options(), [service({ maglevTableSize: largestPrimeAtMost(MAX_MAGLEV_TABLE_SIZE) })]], () => [options(), [service({ maglevTableSize: smallestPrimeAbove(MAX_MAGLEV_TABLE_SIZE) })]]],
    ['services', () => [options(), Array.from({ length: MAX_SERVICES }, (_, i) => service({ port: i + 1 }))], () => [options(), Array.from({ length: MAX_SERVICES + 1 }, (_, i) => service({ port: i + 1, protocol: i & 1 ? 'udp' : 'tcp' }))]],
    ['servers', () => [options(), [service({ maglevTableSize: 65_537, servers: Array.from({ length: MAX_SERVERS }, (_, i) => nativeServer(i + 1)) })]], () => [options(), [service({ maglevTableSize: 65_537, servers: Array.from({ length: MAX_SERVERS + 1 }, (_, i) => nativeServer(i + 1)) })]]],
  ];
  for (const [name, at, past] of cases) {
    it(`${name}: the addon takes the limit and refuses one more`, () => {
      accepts(...at());
      refuses(...past());
    });
  }
});

describe('the fanout program: the kernel and the addon agree with las check', { skip: needsRoot('a network namespace') }, () => {
  const snapshotOf = (list: FanoutService[]) => ({
    services: list.map((s, i) => ({ vip: s.vip, port: s.port, protocol: ((s as { protocol?: string }).protocol ?? (i % 3 === 2 ? 'udp' : 'tcp')) as 'tcp' | 'udp', flowKey: s.flowKey as '5tuple' | 'addresses',
      scheduler: 'maglev' as const, maglevTableSize: 7,
      servers: [{ ...server(1), ...(s.vip.includes(':') ? { address: '2001:db8:1::1' } : {}), mac: '02:00:00:00:00:01', weight: 1 }] })),
  });
  // Past the limit the addon names its count: it must be the one las check computes.
  const many = (vips: number, mixedPorts: number): FanoutService[] => [
    ...Array.from({ length: vips }, (_, i) => ({ vip: vip(i), port: 80, flowKey: '5tuple' })),
    ...Array.from({ length: mixedPorts }, (_, i) => ({ vip: vip(i % 7), port: 1000 + i, flowKey: i % 2 ? 'addresses' : '5tuple' })),
  ];
  const CASES: { name: string; services: FanoutService[] }[] = [
    { name: 'mixed VIP at the limit', services: mixedVip(1992).map((s) => ({ port: 0, ...s })) },
    { name: 'mixed VIP past the limit', services: mixedVip(1993).map((s) => ({ port: 0, ...s })) },
    { name: `${MAX_VIPS} VIPs, one flow key each`, services: many(MAX_VIPS, 0) },
    { name: `${MAX_VIPS} VIPs, 7 of them mixed, past the limit`, services: many(MAX_VIPS, 1950) },
    { name: '40 VIPs, 7 of them mixed, past the limit', services: many(40, 2100) },
    // A v6 VIP adds the v6 part of the program once: counted the same by las check and the addon.
    { name: '40 VIPs and a v6 one, past the limit', services: [...many(40, 1700), { vip: '2001:db8::100', port: 80, flowKey: 'addresses' }] },
    { name: '2 VIPs and a mixed v6 one, within the limit', services: [...many(2, 0), { vip: '2001:db8::100', port: 80, flowKey: 'addresses' }, { vip: '2001:db8::100', port: 443, flowKey: '5tuple' }] },
  ];

  it('starts at the limit, is refused past it, and counts the instructions las check counts', { timeout: 120_000 }, async () => {
    const ns = `${uniquePrefix('lasl')}-fan`;
    await addNamespace(ns);
    try {
      await setLinkUp(ns, 'lo');
      const job = { cases: CASES.map((c) => ({ name: c.name, vips: [...new Set(c.services.map((s) => s.vip))], snapshot: snapshotOf(c.services) })) };
const { results } = await runNamespaceChild<{ results: { name: string; outcome: string }[] }>(ns, CHILD, { job, timeoutMs: 100_000 });
      assert.equal(results.length, CASES.length);
      CASES.forEach((c, i) => {
        const length = fanoutProgramLength(c.services);
        const { outcome } = results[i]!;
        if (length <= BPF_MAX_INSNS) assert.equal(outcome, 'ok', `${c.name}: las check counts ${length} instructions`);
        else assert.match(outcome, new RegExp(`needs ${length} instructions`), `${c.name}: las check counts ${length}`);
      });
    } finally {
      await deleteNamespace(ns);
    }
  });
});
