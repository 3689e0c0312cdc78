// The dispatcher's own kernel must never see VIP traffic: LAS reads it from an AF_PACKET ring and a
// tc ingress filter (clsact + cls_bpf, pref 4955) drops it before the IP stack. With ip_forward=1 the
// kernel WOULD otherwise forward every VIP frame (a second copy), send ICMP redirects/unreachables,
// and so on. Its SNMP counters (/proc/net/snmp, /proc/net/netstat of the dispatcher namespace) show it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { needsRoot } from './support/needs-root.js';

const TEST_OPTIONS = { timeout: 120_000, skip: needsRoot('network namespaces') };
const PREF = '4955';
const REQUESTS = 100;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** "Ip.InReceives" -> value, from the "Proto: names" / "Proto: values" line pairs of snmp and netstat. */
async function kernelCounters(lab: DrLab): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const file of ['/proc/net/snmp', '/proc/net/netstat']) {
    const lines = (await lab.exec('dispatcher', 'cat', [file])).stdout.trim().split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = (lines[i] as string).trim().split(/\s+/);
      const values = (lines[i + 1] as string).trim().split(/\s+/);
      const proto = (names[0] ?? '').replace(/:$/, '');
      for (let k = 1; k < names.length; k++) out.set(`${proto}.${names[k]}`, Number(values[k]));
    }
  }
  return out;
}

function delta(before: Map<string, number>, after: Map<string, number>, key: string): number {
  assert.ok(after.has(key), `the kernel has no counter ${key}`);
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}

const WATCHED = [
  'Ip.InReceives', 'Ip.ForwDatagrams', 'Ip.InAddrErrors', 'Ip.OutRequests', 'Ip.OutNoRoutes',
  'Icmp.OutMsgs', 'Icmp.OutDestUnreachs', 'Icmp.OutRedirects', 'Tcp.OutRsts', 'Tcp.OutSegs', 'Tcp.InSegs',
];
function describeDeltas(before: Map<string, number>, after: Map<string, number>): string {
  return WATCHED.map((k) => `${k} +${delta(before, after, k)}`).join(', ');
}

/** The LAS filters on the dispatcher's ingress: one line with "handle" per installed filter. */
async function lasFilters(lab: DrLab): Promise<string[]> {
  const { stdout } = await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', lab.segment.dispatcher.ifname, 'ingress']);
  return stdout.split('\n').filter((line) => line.includes(`pref ${PREF} `) && line.includes('handle'));
}

async function forwardedByLas(lab: DrLab): Promise<number> {
  const stats = await lab.stats();
  assert.ok(isObject(stats) && Array.isArray(stats.services), `stats: ${JSON.stringify(stats)}`);
  return stats.services.filter(isObject).reduce((total, s) => total + num(s.packets), 0);
}

async function requestsWork(lab: DrLab, requests: number): Promise<void> {
  const result = await lab.runClient({ requests, concurrency: 10, timeoutMs: 5000 });
  assert.equal(result.failed, 0, `failures: ${JSON.stringify(result.errors)}`);
  assert.equal(result.ok, requests);
}

/** The same VIP traffic, measured on the dispatcher's kernel: counters before and after. */
async function measure(lab: DrLab): Promise<{ before: Map<string, number>; after: Map<string, number>; ok: number; forwarded: number }> {
  await lab.runClient({ requests: 5, timeoutMs: 5000 });  // warm up: ARP for the VIP, neighbour entries
  await sleep(300);
  const before = await kernelCounters(lab);
  const lasBefore = await forwardedByLas(lab);
  const result = await lab.runClient({ requests: REQUESTS, concurrency: 10, timeoutMs: 5000 });
  await sleep(500);  // the last FIN/ACKs reach the dispatcher after the client has its answers
  const after = await kernelCounters(lab);
  return { before, after, ok: result.ok, forwarded: (await forwardedByLas(lab)) - lasBefore };
}

// neighbourRefresh 3600: the daemon's periodic UDP pokes to the servers (and the ICMP port
// unreachables they draw) would otherwise be the dispatcher kernel's only IP traffic; keep it to none.
const QUIET = { neighbourRefresh: 3600 };

test(`with the tc ingress drop and ip_forward=1, the dispatcher kernel sees none of ${REQUESTS} requests (no forward, ICMP or RST); pref ${PREF} lifecycle across SIGTERM and kill -9`, TEST_OPTIONS, async (t) => {
  await withDrLab({ servers: 3, config: QUIET }, async (lab) => {
    await lab.exec('dispatcher', 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    assert.equal((await lab.exec('dispatcher', 'sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1');
    assert.equal((await lasFilters(lab)).length, 1, 'one pref-4955 filter while LAS runs');

    const m = await measure(lab);
    t.diagnostic(`tc: ${describeDeltas(m.before, m.after)}; LAS forwarded ${m.forwarded}`);
    assert.equal(m.ok, REQUESTS);
    assert.ok(m.forwarded >= 3 * REQUESTS, `LAS forwarded ${m.forwarded} packets for ${REQUESTS} connections`);
    const d = (key: string) => delta(m.before, m.after, key);
    assert.equal(d('Ip.InReceives'), 0, `the kernel received IP packets: ${describeDeltas(m.before, m.after)}`);
    assert.equal(d('Ip.ForwDatagrams'), 0, describeDeltas(m.before, m.after));
    assert.equal(d('Icmp.OutMsgs'), 0, describeDeltas(m.before, m.after));
    assert.equal(d('Icmp.OutDestUnreachs'), 0, describeDeltas(m.before, m.after));
    assert.equal(d('Icmp.OutRedirects'), 0, describeDeltas(m.before, m.after));
    assert.equal(d('Tcp.OutRsts'), 0, describeDeltas(m.before, m.after));
    assert.equal(d('Tcp.OutSegs'), 0, describeDeltas(m.before, m.after));

    // A clean stop removes the filter.
    const stopped = await lab.kill('SIGTERM');
    assert.equal(stopped.code, 0, `clean exit: ${JSON.stringify(stopped)} ${lab.daemonOutput().stderr}`);
    assert.deepEqual(await lasFilters(lab), [], 'no pref-4955 filter after SIGTERM');

    // kill -9 leaves it behind; the next start replaces it rather than stacking a second one.
    await lab.startDaemon();
    assert.equal((await lasFilters(lab)).length, 1);
    const killed = await lab.kill('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    const stale = await lasFilters(lab);
    assert.equal(stale.length, 1, 'the filter outlives kill -9');
    await lab.startDaemon();
    const filters = await lasFilters(lab);
    assert.equal(filters.length, 1, `exactly one pref-4955 filter after the fresh start: ${filters.join(' | ')}`);
    const { stdout: all } = await lab.exec('dispatcher', 'tc', ['filter', 'show', 'dev', lab.segment.dispatcher.ifname, 'ingress']);
    assert.equal(all.split('\n').filter((l) => l.includes('handle')).length, 1, `ingress filters: ${all}`);
    await requestsWork(lab, 20);

    const m2 = await measure(lab);
    assert.equal(m2.ok, REQUESTS);
    assert.equal(delta(m2.before, m2.after, 'Ip.InReceives'), 0, `after the replacement: ${describeDeltas(m2.before, m2.after)}`);
    assert.equal(delta(m2.before, m2.after, 'Ip.ForwDatagrams'), 0, describeDeltas(m2.before, m2.after));
  });
});

test(`control: with ingressDrop "none" and ip_forward=1 the kernel's IpInReceives and ForwDatagrams DO grow while LAS forwards`, TEST_OPTIONS, async (t) => {
  await withDrLab({ servers: 3, config: { ...QUIET, ingressDrop: 'none' } }, async (lab) => {
    await lab.exec('dispatcher', 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    assert.deepEqual(await lasFilters(lab), [], 'no filter with ingressDrop "none"');

    const m = await measure(lab);
    t.diagnostic(`none: ${describeDeltas(m.before, m.after)}; LAS forwarded ${m.forwarded}; ${m.ok}/${REQUESTS} answered`);
    // LAS still forwards (its tap sees frames before the stack); the kernel, too, gets every one.
    assert.ok(m.ok > 0, 'LAS still forwards');
    assert.ok(m.forwarded >= 3 * m.ok, `LAS forwarded ${m.forwarded}`);
    assert.ok(delta(m.before, m.after, 'Ip.InReceives') >= REQUESTS, `the kernel saw the VIP traffic: ${describeDeltas(m.before, m.after)}`);
    assert.ok(delta(m.before, m.after, 'Ip.ForwDatagrams') > 0, `and forwarded copies of it: ${describeDeltas(m.before, m.after)}`);
  });
});
