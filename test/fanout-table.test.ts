// The kernel's fanout and the fast path agree on which worker owns a frame. A real Dataplane with
// three and with four workers receives a table of frames for every kind of service (address-keyed, 5-tuple,
// all-ports, a VIP mixing both keys), ICMP errors quoting flows, first and later fragments, and
// 802.1Q / QinQ tags, and the same for IPv6 (extension headers before the upper layer, fragments,
// ICMPv6 errors quoting a flow, a tag); for each frame the worker the kernel's PACKET_FANOUT_CBPF program chose must be
// the one the socket-free classifier computes from its own flow key.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { NativeSnapshot } from '../src/native/binding.js';
import { loadBenchAddon } from '../src/native/bench-binding.js';
import { addNamespace, addVethPair, deleteNamespace, setLinkUp, setSysctls, uniquePrefix } from '../src/netns/namespace.js';
import {
  ETH_QINQ, ICMP_DEST_UNREACHABLE, ICMP_FRAG_NEEDED, ICMP_TIME_EXCEEDED, PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_SYN,
  icmp, intToIpv4, ipFrame, ipv4, ipv4ToInt, prng, tcp, tcpFrame, udp, udpFrame, type FrameMacs,
} from './support/frames.js';
import {
  ICMPV6_DEST_UNREACHABLE, ICMPV6_PACKET_TOO_BIG, ICMPV6_PARAM_PROBLEM, ICMPV6_TIME_EXCEEDED, IPV6_DEST_OPTIONS, IPV6_FRAGMENT,
  IPV6_HOP_BY_HOP, IPV6_ROUTING, PROTO_ICMPV6, extHeader, fragmentHeader, icmp6, ipv6, ipv6Frame, tcp6, udp6,
} from './support/frames6.js';
import { needsRoot } from './support/needs-root.js';
import { runNamespaceChild } from './support/namespace-child.js';

const CHILD = fileURLToPath(new URL('./support/fanout-child.js', import.meta.url));
const VIP_MIXED = '10.9.0.1';
const VIP_ALL_PORTS = '10.9.0.2';
const VIP_TUNNEL = '10.9.0.3';
const ROUTER = '192.0.2.254';
const VIP6_MIXED = '2001:db8:9::1';
const VIP6_FRAG = '2001:db8:9::2';
const ROUTER6 = '2001:db8:f::1';

const server = (i: number) => ({ address: `10.9.1.${i}`, mac: `02:00:00:00:09:0${i}`, weight: 1 });
const server6 = (i: number) => ({ address: `2001:db8:9:1::${i}`, mac: `02:00:00:00:09:6${i}`, weight: 1 });
const service = (vip: string, port: number, protocol: 'tcp' | 'udp', flowKey: 'addresses' | '5tuple', scheduler: 'maglev' | 'wrr' = 'maglev') =>
  ({ vip, port, protocol, flowKey, scheduler, maglevTableSize: 251, servers: (vip.includes(':') ? [server6(1), server6(2), server6(3)] : [server(1), server(2), server(3)]) });

const SNAPSHOT: NativeSnapshot = {
  services: [
    service(VIP_MIXED, 80, 'tcp', 'addresses', 'wrr'),
    service(VIP_MIXED, 443, 'tcp', '5tuple'),
    service(VIP_MIXED, 53, 'udp', '5tuple'),
    service(VIP_MIXED, 0, 'udp', 'addresses'),
    service(VIP_ALL_PORTS, 0, 'tcp', '5tuple'),
    service(VIP_TUNNEL, 4789, 'udp', 'addresses'),
    service(VIP6_MIXED, 80, 'tcp', 'addresses', 'wrr'),
    service(VIP6_MIXED, 443, 'tcp', '5tuple'),
    service(VIP6_MIXED, 0, 'udp', '5tuple'),
    service(VIP6_FRAG, 0, 'udp', 'addresses'),
  ],
};

interface Row { kind: string; frame: Buffer; flow: string }

function table(macs: FrameMacs): Row[] {
  const next = prng(0xfa0);
  const client = () => intToIpv4(ipv4ToInt('198.51.100.0') + (next() % 1000));
  const port = () => 1024 + (next() % 60000);
  const rows: Row[] = [];
  const flow = (src: string, sport: number, dst: string, dport: number) => `${src}:${sport}>${dst}:${dport}`;
  // Plain flows of every service, a few per client so that address keys repeat.
  for (const [vip, dport, proto] of [[VIP_MIXED, 80, 'tcp'], [VIP_MIXED, 443, 'tcp'], [VIP_MIXED, 53, 'udp'], [VIP_MIXED, 9999, 'udp'],
    [VIP_ALL_PORTS, 22, 'tcp'], [VIP_ALL_PORTS, 8080, 'tcp'], [VIP_TUNNEL, 4789, 'udp']] as const) {
    for (let i = 0; i < 10; i++) {
      const src = client();
      for (const sport of [port(), port()]) {
        const frame = proto === 'tcp'
          ? tcpFrame(macs, { src, dst: vip }, { sport, dport, flags: TCP_SYN })
          : udpFrame(macs, { src, dst: vip }, { sport, dport, payload: Buffer.alloc(20, 1) });
        rows.push({ kind: `${proto} ${vip}:${dport}`, frame, flow: flow(src, sport, vip, dport) });
      }
    }
  }
  // ICMP errors quoting a server's reply (VIP -> client): they belong with the client's flow.
  const quoting = (type: number, code: number, vip: string, vport: number, src: string, cport: number, proto: 'tcp' | 'udp') => {
    const l4 = proto === 'tcp'
      ? tcp({ src: vip, dst: src, sport: vport, dport: cport, flags: TCP_ACK })
      : udp({ src: vip, dst: src, sport: vport, dport: cport, payload: Buffer.alloc(8) });
    const quoted = ipv4({ src: vip, dst: src, protocol: proto === 'tcp' ? PROTO_TCP : PROTO_UDP, dontFragment: true }, l4).subarray(0, 28);
    return ipFrame(macs, { src: ROUTER, dst: vip, protocol: PROTO_ICMP }, icmp({ type, code, rest: 1400, payload: quoted }));
  };
  for (const row of rows.filter((_, i) => i % 3 === 0)) {
    const [, src, sport, vip, dport] = /^(.+):(\d+)>(.+):(\d+)$/.exec(row.flow)!;
    const proto = row.kind.startsWith('tcp') ? 'tcp' : 'udp';
    const type = rows.indexOf(row) % 2 === 0 ? ICMP_DEST_UNREACHABLE : ICMP_TIME_EXCEEDED;
    rows.push({ kind: 'icmp error', flow: row.flow, frame: quoting(type, type === ICMP_DEST_UNREACHABLE ? ICMP_FRAG_NEEDED : 0, vip!, Number(dport), src!, Number(sport), proto) });
  }
  // Fragments of datagrams to address-keyed UDP services: the first carries the ports, later ones do not.
  for (const [vip, dport] of [[VIP_TUNNEL, 4789], [VIP_MIXED, 7000]] as const) {
    for (let i = 0; i < 6; i++) {
      const src = client();
      const sport = port();
      const id = next() & 0xffff;
      const first = udp({ src, dst: vip, sport, dport, payload: Buffer.alloc(64, 2) }).subarray(0, 48);
      const f = flow(src, sport, vip, dport);
      rows.push({ kind: 'first fragment', flow: f, frame: ipFrame(macs, { src, dst: vip, protocol: PROTO_UDP, id, moreFragments: true }, first) });
      rows.push({ kind: 'later fragment', flow: f, frame: ipFrame(macs, { src, dst: vip, protocol: PROTO_UDP, id, fragmentOffset: 6 }, Buffer.alloc(24, 3)) });
    }
  }
  // The same 5-tuple flows behind an 802.1Q tag and behind QinQ (the kernel strips only the outer one).
  for (const vlans of [[{ vid: 10 }], [{ tpid: ETH_QINQ, vid: 20 }, { vid: 30 }]]) {
    for (let i = 0; i < 8; i++) {
      const src = client();
      const sport = port();
      rows.push({ kind: `${vlans.length} tag(s)`, flow: flow(src, sport, VIP_MIXED, 443),
        frame: tcpFrame({ ...macs, vlans }, { src, dst: VIP_MIXED }, { sport, dport: 443, flags: TCP_SYN }) });
    }
  }
  rows.push(...table6(macs, next));
  return rows;
}

// The same kinds of frames over IPv6: flows with and without extension headers, ICMPv6 errors about
// a server's reply, fragments of address-keyed datagrams, a tagged flow.
function table6(macs: FrameMacs, next: () => number): Row[] {
  const rows: Row[] = [];
  const client = () => `2001:db8:c::${(next() % 0xfff).toString(16)}:${(next() % 0xffff).toString(16)}`;
  const port = () => 1024 + (next() % 60000);
  const flow = (src: string, sport: number, dst: string, dport: number) => `[${src}]:${sport}>[${dst}]:${dport}`;
  // Extension chains as [type, length in 8-byte units beyond the first]: each header names the next.
  type Chain = [number, number][];
  const chains: Chain[] = [[], [[IPV6_HOP_BY_HOP, 0]], [[IPV6_DEST_OPTIONS, 1], [IPV6_ROUTING, 0]]];
  const headers = (chain: Chain, upper: number) => chain.map(([type, units], i) => extHeader(type, i + 1 < chain.length ? chain[i + 1]![0] : upper, units));
  const frame6 = (src: string, dst: string, chain: Chain, proto: number, upper: Buffer, vlans?: FrameMacs['vlans']) =>
    ipv6Frame({ ...macs, vlans }, { src, dst, nextHeader: chain.length ? chain[0]![0] : proto }, headers(chain, proto), upper);
  for (const [vip, dport, proto] of [[VIP6_MIXED, 80, 'tcp'], [VIP6_MIXED, 443, 'tcp'], [VIP6_MIXED, 5353, 'udp'], [VIP6_FRAG, 4789, 'udp']] as const) {
    for (let i = 0; i < 9; i++) {
      const src = client();
      const chain = chains[i % 3]!;
      for (const sport of [port(), port()]) {
        const upper = proto === 'tcp' ? tcp6({ src, dst: vip, sport, dport, flags: TCP_SYN }) : udp6({ src, dst: vip, sport, dport, payload: Buffer.alloc(20, 1) });
        rows.push({ kind: `v6 ${proto} ${dport} +${chain.length} ext`, flow: flow(src, sport, vip, dport),
          frame: frame6(src, vip, chain, proto === 'tcp' ? PROTO_TCP : PROTO_UDP, upper) });
      }
    }
  }
  // ICMPv6 errors quoting the server's reply (VIP -> client), every error type the fast path follows.
  const types = [ICMPV6_PACKET_TOO_BIG, ICMPV6_DEST_UNREACHABLE, ICMPV6_TIME_EXCEEDED, ICMPV6_PARAM_PROBLEM];
  rows.filter((r) => r.kind.startsWith('v6') && !r.kind.includes('4789')).filter((_, i) => i % 3 === 0).forEach((row, i) => {
    const [, src, sport, vip, dport] = /^\[(.+)\]:(\d+)>\[(.+)\]:(\d+)$/.exec(row.flow)!;
    const tcpFlow = row.kind.includes('tcp');
    const reply = tcpFlow ? tcp6({ src: vip!, dst: src!, sport: Number(dport), dport: Number(sport), flags: TCP_ACK })
      : udp6({ src: vip!, dst: src!, sport: Number(dport), dport: Number(sport), payload: Buffer.alloc(8) });
    const quoted = ipv6({ src: vip!, dst: src!, nextHeader: tcpFlow ? PROTO_TCP : PROTO_UDP }, reply);
    const message = icmp6({ src: ROUTER6, dst: vip!, type: types[i % 4]!, rest: types[i % 4] === ICMPV6_PACKET_TOO_BIG ? 1280 : 0, body: quoted });
    rows.push({ kind: 'v6 icmp error', flow: row.flow, frame: ipv6Frame(macs, { src: ROUTER6, dst: vip!, nextHeader: PROTO_ICMPV6 }, [], message) });
  });
  // Fragments of datagrams to the address-keyed service: the first carries the ports, later ones not.
  for (let i = 0; i < 6; i++) {
    const src = client();
    const sport = port();
    const id = next();
    const f = flow(src, sport, VIP6_FRAG, 4789);
    const first = udp6({ src, dst: VIP6_FRAG, sport, dport: 4789, payload: Buffer.alloc(64, 2) }).subarray(0, 48);
    rows.push({ kind: 'v6 first fragment', flow: f, frame: ipv6Frame(macs, { src, dst: VIP6_FRAG, nextHeader: IPV6_FRAGMENT }, [fragmentHeader(PROTO_UDP, 0, true, id)], first) });
    rows.push({ kind: 'v6 later fragment', flow: f, frame: ipv6Frame(macs, { src, dst: VIP6_FRAG, nextHeader: IPV6_FRAGMENT }, [fragmentHeader(PROTO_UDP, 6, false, id)], Buffer.alloc(24, 3)) });
  }
  // 5-tuple flows behind an 802.1Q tag.
  for (let i = 0; i < 8; i++) {
    const src = client();
    const sport = port();
    rows.push({ kind: 'v6 1 tag', flow: flow(src, sport, VIP6_MIXED, 443),
      frame: frame6(src, VIP6_MIXED, [], PROTO_TCP, tcp6({ src, dst: VIP6_MIXED, sport, dport: 443, flags: TCP_SYN }), [{ vid: 11 }]) });
  }
  return rows;
}

async function runChild(ns: string, job: unknown): Promise<{ results: { kernel: number; classifier: number }[]; wrongWorker: string[] }> {
return runNamespaceChild(ns, CHILD, { job, timeoutMs: 120_000 });
}

// 3: the kernel takes the program's result modulo the members, whatever their number; 4: a power of
// two keeps only the hash's low bits.
for (const WORKERS of [3, 4]) test(`${WORKERS} workers: the kernel fanout program sends every frame to the worker the classifier says owns its flow`, { timeout: 180_000, skip: needsRoot('network namespaces') }, async (t) => {
  const ns = `${uniquePrefix('lasf')}-fan`;
  await addNamespace(ns);
  try {
    await setSysctls(ns, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 }).catch(() => undefined);
    await addVethPair({ name: 'lb0', ns }, { name: 'gen0', ns });
    await setLinkUp(ns, 'lb0');
    await setLinkUp(ns, 'gen0');
    const macs = { dst: '02:00:00:00:0f:01', src: '02:00:00:00:0f:02' };
    const rows = table(macs);
    const vips = [VIP_MIXED, VIP_ALL_PORTS, VIP_TUNNEL, VIP6_MIXED, VIP6_FRAG];
    const { results, wrongWorker } = await runChild(ns, {
      ifname: 'lb0', peer: 'gen0', workers: WORKERS, vips, snapshot: SNAPSHOT, frames: rows.map((r) => r.frame.toString('hex')),
    });
    assert.equal(results.length, rows.length);
    const byFlow = new Map<string, Set<number>>();
    const perWorker = new Array<number>(WORKERS).fill(0);
    rows.forEach((row, i) => {
      const { kernel, classifier } = results[i]!;
      assert.ok(kernel >= 0, `${row.kind} ${row.flow}: no worker received it`);
      assert.ok(classifier >= 0, `${row.kind} ${row.flow}: the classifier sees no flow in it`);
      assert.equal(kernel, classifier, `${row.kind} ${row.flow}: the kernel chose worker ${kernel}, the classifier ${classifier}`);
      perWorker[kernel]!++;
      byFlow.set(row.flow, (byFlow.get(row.flow) ?? new Set()).add(kernel));
    });
    // Every frame of one flow (its fragments, the ICMP errors about it) met one worker.
    for (const [flow, workers] of byFlow) assert.equal(workers.size, 1, `${flow} reached workers ${[...workers].join(', ')}`);
    const shared = rows.filter((row) => row.kind.includes('fragment') || row.kind.includes('icmp error')).length;
    assert.ok(perWorker.every((n) => n > rows.length / WORKERS / 3), `frames per worker ${perWorker.join('/')}: the hash spreads`);
    assert.deepEqual(wrongWorker, new Array(WORKERS).fill('0'), 'the workers found no frame of another worker');
    t.diagnostic(`${rows.length} frames of ${byFlow.size} flows (${shared} fragments or ICMP errors), per worker ${perWorker.join('/')}`);
  } finally {
    await deleteNamespace(ns);
  }
});

test('the fanout hash follows the flow key: ports matter for 5-tuple services only', () => {
  const c = new (loadBenchAddon().Classifier)({ ingressMac: '02:00:00:00:0f:01', egressMac: '02:00:00:00:0f:03', flowCapacity: 1024, flowIdleTimeoutMs: 1000 }, SNAPSHOT);
  const macs = { dst: '02:00:00:00:0f:01', src: '02:00:00:00:0f:02' };
  // Linux clients pick even source ports: the spread must not hinge on the lowest bit.
  const workersOf = (vip: string, dport: number, workers: number) => {
    const count = new Array<number>(workers).fill(0);
    for (let i = 0; i < 256; i++) {
      count[c.workerFor(tcpFrame(macs, { src: '198.51.100.7', dst: vip }, { sport: 32768 + 2 * i, dport, flags: TCP_SYN }), workers)]!++;
    }
    return count;
  };
  for (const workers of [2, 3, 4]) {
    assert.equal(workersOf(VIP_MIXED, 80, workers).filter((n) => n > 0).length, 1, 'one client address, one worker for an addresses service');
    const spread = workersOf(VIP_MIXED, 443, workers);
    assert.ok(spread.every((n) => n > 256 / workers / 2), `one client's 5-tuple connections spread over ${workers} workers: ${spread.join('/')}`);
  }
  assert.equal(c.workerFor(tcpFrame(macs, { src: '198.51.100.7', dst: '10.9.9.9' }, { sport: 1, dport: 80, flags: TCP_SYN }), 4), -1, 'not a VIP');
});
