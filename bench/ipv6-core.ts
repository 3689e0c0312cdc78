// IPv6 fast-path costs beside v4, for docs/ipv6.md#ipv6-native-core:
//   node dist/bench/ipv6-core.js rss v4|v6   RSS growth of a Classifier whose v4 or v6 table holds 1 Mi flows
//   node dist/bench/ipv6-core.js classify    ns per frame, 60-byte v4 UDP vs 74-byte v6 UDP (1024 flows each,
//                                            alternating rounds in one process, median of 7)
// Both go through the bench addon's socket-free code (the I/O threads' classify()), no root needed.
import { loadBenchAddon } from '../src/native/bench-binding.js';
import type { NativeSnapshot } from '../src/native/binding.js';
import { createClassifier } from '../test/support/maglev-sim.js';
import { udpFrame } from '../test/support/frames.js';
import { ipv6Frame, udp6 } from '../test/support/frames6.js';

const MACS = { ingressMac: '02:00:00:00:00:01', egressMac: '02:00:00:00:00:02', flowIdleTimeoutMs: 60_000 };
const IN = { dst: MACS.ingressMac, src: '02:00:00:00:00:c1' };
const FLOWS = 1 << 20;

function rss(family: string): void {
  const before = process.memoryUsage().rss;
  const c = family === 'v4'
    ? createClassifier({ ...MACS, flowCapacity: FLOWS, flowCapacityV6: 1024 }, { services: [] })
    : createClassifier({ ...MACS, flowCapacity: 1024, flowCapacityV6: FLOWS }, { services: [] });
  const after = process.memoryUsage().rss;
  console.log(`${family} table for ${FLOWS} flows: RSS +${((after - before) / 2 ** 20).toFixed(1)} MiB (flows ${c.flowCount()})`);
}

function classify(): void {
  const addon = loadBenchAddon();
  const servers = (addr: (i: number) => string) => [1, 2, 3, 4].map((i) => ({ address: addr(i), mac: `02:00:00:00:01:0${i}`, weight: 1 }));
  const snapshot: NativeSnapshot = {
    services: [
      { vip: '10.0.0.10', port: 53, protocol: 'udp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 65537, servers: servers((i) => `10.0.1.${i}`) },
      { vip: '2001:db8::10', port: 53, protocol: 'udp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 65537, servers: servers((i) => `2001:db8:1::${i}`) },
    ],
  };
  const v4: Buffer[] = [];
  const v6: Buffer[] = [];
  for (let i = 0; i < 1024; i++) {
    // 60 bytes without FCS: the 64-byte minimum frame; v6 with 12 bytes of UDP data: 74 (+FCS 78).
    v4.push(udpFrame({ ...IN, padTo: 60 }, { src: `192.0.${i >> 8}.${i & 255}`, dst: '10.0.0.10' }, { sport: 1024 + i, dport: 53, payload: Buffer.alloc(10) }));
    const src = `2001:db8:c::${(i + 1).toString(16)}`;
    v6.push(ipv6Frame(IN, { src, dst: '2001:db8::10', nextHeader: 17 }, [], udp6({ src, dst: '2001:db8::10', sport: 1024 + i, dport: 53, payload: Buffer.alloc(12) })));
  }
  const run = (frames: Buffer[]): number => addon.microbenchClassify({ frames, snapshot, iterations: 2000, flowCapacity: 65_536 }).nsPerFrame;
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < 7; r++) {
    a.push(run(v4));
    b.push(run(v6));
  }
  const median = (x: number[]): number => x.sort((p, q) => p - q)[3] as number;
  console.log(`frame bytes without FCS: v4 ${v4[0]?.length}, v6 ${v6[0]?.length}`);
  console.log(`ns/frame (median of 7): v4 ${median(a).toFixed(1)}, v6 ${median(b).toFixed(1)}; v6 rate = ${(median(a) / median(b)).toFixed(3)} x v4`);
}

const [what, family] = process.argv.slice(2);
if (what === 'rss' && (family === 'v4' || family === 'v6')) rss(family);
else if (what === 'classify') classify();
else {
  console.error('usage: node dist/bench/ipv6-core.js rss v4|v6 | classify');
  process.exitCode = 2;
}
