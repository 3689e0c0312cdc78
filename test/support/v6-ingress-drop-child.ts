// Runs inside the dispatcher's namespace for test/ingress-drop-v6.test.ts: its kernel routes v6
// (forwarding on, an "unreachable" route for the VIP, so each datagram it takes is counted in
// Ip6InNoRoutes), and the client namespace sends datagrams to the VIP through it; with LAS's ingress
// drop installed the kernel must take none of them.
//
//   stdin: one JSON line {ifname, clientNs, clientIf, vip, sentinel}
//   stdout: one JSON line {withoutDrop, withDrop} (Ip6InNoRoutes deltas)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { installIngressDrop } from '../../src/control/ingress-drop.js';
import { loadAddon } from '../../src/native/binding.js';

interface Job { ifname: string; clientNs: string; clientIf: string; vip: string; sentinel: string }
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const BURST = 20;

const input = createInterface({ input: process.stdin });
const line = await new Promise<string>((resolve) => input.once('line', resolve));
input.close();
const job = JSON.parse(line) as Job;
const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
const forwarded = () => Number(/^Ip6InNoRoutes\s+(\d+)/m.exec(readFileSync('/proc/net/snmp6', 'utf8'))![1]);
// Datagrams from the client to each address of the list in turn, from one socket (so in order).
const send = (addresses: string[]) => sh('ip', 'netns', 'exec', job.clientNs, process.execPath, '-e',
  `const s=require('dgram').createSocket('udp6');const a=${JSON.stringify(addresses)};const f=()=>a.length?s.send(Buffer.from('x'),9,a.shift(),f):s.close();f()`);
async function untilForwarded(atLeast: number): Promise<number> {
  for (const deadline = Date.now() + 8000; Date.now() < deadline; await sleep(20)) if (forwarded() >= atLeast) break;
  return forwarded();
}

sh('sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1');
for (const a of [job.vip, job.sentinel]) sh('ip', '-6', 'route', 'add', 'unreachable', `${a}/128`);
// The client sends both addresses to the dispatcher's MAC, as it would after LAS answered its NS.
const mac = loadAddon().interfaceMac(job.ifname);
for (const a of [job.vip, job.sentinel]) sh('ip', '-n', job.clientNs, '-6', 'neigh', 'replace', a, 'lladdr', mac, 'dev', job.clientIf, 'nud', 'permanent');

// Control: without the drop the kernel forwards the VIP's datagrams.
let start = forwarded();
send(new Array<string>(BURST).fill(job.vip));
const withoutDrop = (await untilForwarded(start + BURST)) - start;
// With it: the VIP's datagrams never reach the stack; a datagram to the sentinel (not a VIP), sent
// after them on the same path, marks when they would have been counted.
const drop = await installIngressDrop(job.ifname, [job.vip]);
try {
  start = forwarded();
  send([...new Array<string>(BURST).fill(job.vip), job.sentinel]);
  const withDrop = (await untilForwarded(start + 1)) - start;
  process.stdout.write(`${JSON.stringify({ withoutDrop, withDrop })}\n`);
} finally {
  await drop.remove();
}
