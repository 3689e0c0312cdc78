// Runs inside a network namespace for test/dataplane-start-failure.test.ts: a Dataplane whose worker
// cannot be pinned (the CPU named does not exist) must fail start() and leave no packet socket open.
//
//   argv: IFNAME CPU
//   stdout: one JSON line {before, afterFailure, error, restarted}
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { loadAddon, type DataplaneOptions } from '../../src/native/binding.js';

const [ifname = '', cpu = ''] = process.argv.slice(2);
const addon = loadAddon();

/** This process's AF_PACKET sockets: its socket fds whose inode /proc/net/packet (this namespace) lists. */
function packetSockets(): number {
  const inodes = new Set(readFileSync('/proc/self/net/packet', 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).pop()));
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      return m !== null && inodes.has(m[1]);
    } catch {
      return false;  // the fd of readdir itself, gone already
    }
  }).length;
}

const options = (cpus: number[]): DataplaneOptions => ({
  interface: ifname, egressInterface: ifname, workers: 1, cpus, txMode: 'send', flowCapacity: 1024, flowIdleTimeoutMs: 1000,
  ring: { blockSize: addon.ringNeeds(addon.interfaceMtu(ifname)).blockSize, blockCount: 2, frameSize: 0, retireTimeoutMs: 10 },
  fanoutId: 0, gratuitousArp: true, filter: [],
});
const snapshot = { services: [] };

const before = packetSockets();
let error = '';
const failing = new addon.Dataplane(options([Number(cpu)]), snapshot);
try {
  failing.start();
} catch (e) {
  error = e instanceof Error ? e.message : String(e);
}
const afterFailure = packetSockets();
failing.stop();
// Nothing of the failed start stands in the way of a dataplane on the same interface.
const next = new addon.Dataplane(options([]), snapshot);
next.start();
const restarted = packetSockets() > before;
next.stop();
process.stdout.write(`${JSON.stringify({ before, afterFailure, error, restarted })}\n`);
