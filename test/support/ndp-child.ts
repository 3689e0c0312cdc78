// Runs inside the dispatcher's namespace for test/ndp-neighbours.test.ts: a real Dataplane with v6
// VIPs on one end of a veth pair whose other end is a client namespace with a real IPv6 stack, and
// what that client's kernel makes of LAS's advertisements, step by step (every wait bounded).
//
//   stdin: one JSON line {ifname, clientNs, clientIf, vip1, vip2, notVip, snapshot1, snapshot2}
//   stdout: one JSON line with the observations (see Observed)
import { execFileSync, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ACCEPT_FRAME, vipMatchProgram } from '../../src/control/bpf-program.js';
import { loadAddon, type NativeSnapshot } from '../../src/native/binding.js';

interface Job {
  ifname: string; clientNs: string; clientIf: string; vip1: string; vip2: string; notVip: string;
  snapshot1: NativeSnapshot; snapshot2: NativeSnapshot;
}
interface Neighbour { dst: string; lladdr?: string; state?: string[] }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const WAIT_MS = 8000;

const input = createInterface({ input: process.stdin });
const line = await new Promise<string>((resolve) => input.once('line', resolve));
input.close();
const job = JSON.parse(line) as Job;
const addon = loadAddon();
const mac = addon.interfaceMac(job.ifname).toLowerCase();

const client = (...args: string[]) => execFileSync('ip', ['-n', job.clientNs, ...args], { encoding: 'utf8' });
const neighbour = (address: string): Neighbour | undefined =>
  (JSON.parse(client('-6', '-j', 'neigh', 'show', 'to', address, 'dev', job.clientIf) || '[]') as Neighbour[])[0];
// Polls `probe` until it returns a value, at most WAIT_MS; undefined when it never did.
async function until<T>(probe: () => T | undefined): Promise<T | undefined> {
  for (const deadline = Date.now() + WAIT_MS; Date.now() < deadline; await sleep(20)) {
    const v = probe();
    if (v !== undefined) return v;
  }
  return undefined;
}
// One UDP datagram from the client's kernel to `address`: its neighbour resolution sends the NS.
const sendFromClient = (address: string) => {
  const r = spawnSync('ip', ['netns', 'exec', job.clientNs, process.execPath, '-e',
    `const s=require('dgram').createSocket('udp6');s.send(Buffer.from('x'),9,${JSON.stringify(address)},()=>s.close())`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`client send to ${address}: ${r.stderr}`);
};
const adverts = (dp: { stats(): { workers: { ndpAdverts: bigint }[] } }) => dp.stats().workers.reduce((t, w) => t + Number(w.ndpAdverts), 0);

// Stale entries with a wrong MAC: only an unsolicited advertisement with Override can fix them.
for (const vip of [job.vip1, job.vip2]) client('-6', 'neigh', 'replace', vip, 'lladdr', '02:00:00:00:0b:ad', 'dev', job.clientIf, 'nud', 'stale');

const dataplane = new addon.Dataplane({
  interface: job.ifname, egressInterface: job.ifname, workers: 1, cpus: [], txMode: 'sendmmsg',
  flowCapacity: 4096, flowIdleTimeoutMs: 60_000,
  ring: { blockSize: 1 << 20, blockCount: 4, frameSize: 0, retireTimeoutMs: 2 },
  fanoutId: process.pid & 0xffff, gratuitousArp: true, filter: vipMatchProgram([job.vip1, job.vip2], ACCEPT_FRAME, 0),
}, job.snapshot1);
dataplane.start();
try {
  const macOf = (vip: string) => () => { const n = neighbour(vip); return n?.lladdr?.toLowerCase() === mac ? n : undefined; };
  // 1. At start: the unsolicited NA for vip1 overrides the client's stale entry; vip2 is not a VIP yet.
  const atStart = await until(macOf(job.vip1));
  const vip2BeforeAdded = neighbour(job.vip2)?.lladdr;
  // 2. vip2 added by a new snapshot: announced too.
  dataplane.setSnapshot(job.snapshot2);
  const whenAdded = await until(macOf(job.vip2));
  const advertsBefore = adverts(dataplane);
  // 3. A solicitation from the client's kernel: the entry is deleted, a datagram makes it ask.
  client('-6', 'neigh', 'del', job.vip1, 'dev', job.clientIf);
  sendFromClient(job.vip1);
  const resolved = await until(() => { const n = macOf(job.vip1)(); return n?.state?.includes('REACHABLE') ? n : undefined; });
  const advertsAfterResolve = adverts(dataplane);
  // 4. The client's kernel tries to take vip2 for itself: its DAD probe is answered, the address fails.
  client('-6', 'addr', 'add', `${job.vip2}/64`, 'dev', job.clientIf);
  const dad = await until(() => {
    const [link] = JSON.parse(client('-6', '-j', 'addr', 'show', 'dev', job.clientIf)) as { addr_info: { local: string; dadfailed?: boolean; tentative?: boolean }[] }[];
    const a = link?.addr_info.find((x) => x.local === job.vip2);
    return a && (a.dadfailed || !a.tentative) ? a : undefined;
  });
  const advertsAfterDad = adverts(dataplane);
  // 5. A solicitation for an address that is not a VIP: never answered (the filter keeps it out).
  sendFromClient(job.notVip);
  const notVip = await until(() => { const n = neighbour(job.notVip); return n?.state?.some((s) => s === 'FAILED' || s === 'INCOMPLETE') ? n : undefined; });
  await sleep(200);
  const notVipLater = neighbour(job.notVip);
  process.stdout.write(`${JSON.stringify({
    mac, atStart, vip2BeforeAdded, whenAdded, resolved, advertsBefore, advertsAfterResolve, dad, advertsAfterDad,
    notVip, notVipLater, advertsAtEnd: adverts(dataplane), drops: dataplane.stats().workers.map((w) => w.drops),
  }, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}\n`);
} finally {
  dataplane.stop();
}
