// A helper process the suite starts inside one of its namespaces (`ip netns exec NS node agent.js`):
// sockets and /proc/net belong to the namespace of the process that opens them, so the generator,
// the sink, the LAS pass-through dataplane (all three from las_bench) and kernel pktgen all run in an agent. It answers JSON
// lines on stdin/stdout ({id, cmd, args} -> {id, ok, result|error}) and exits when stdin closes.
import { createInterface } from 'node:readline';
import { loadAddon, type NativeDataplane, type NativeSnapshot, type TxMode } from '../src/native/binding.js';
import { loadBenchAddon, type GeneratorOptions, type NativePassThrough, type NativeSink } from '../src/native/bench-binding.js';
import { ACCEPT_FRAME, vipMatchProgram } from '../src/control/bpf-program.js';
import { installIngressDrop, type IngressDrop } from '../src/control/ingress-drop.js';
import { chooseTxMode } from '../src/control/tx-mode.js';
import { DEFAULTS } from '../src/config/schema.js';
import { decode, encode, type Request, type Response } from './wire.js';
import { pktgenAvailable, runPktgen, type PktgenJob } from './pktgen.js';

export interface PassThroughArgs {
  ingress: string;
  egress: string;
  workers: number;
  cpus: number[];
  vip: string;
  server: { address: string; mac: string };
  txMode?: TxMode | 'auto';
  /** RX ring keys over the daemon's defaults (--las-ring), as the daemon's config takes them. */
  ring?: { blockSize?: number; blockCount?: number; retireTimeoutMs?: number };
}

/** The product's fast path (las_native Dataplane) with one UDP service per VIP: bench/ipv6-ratio.ts. */
export interface FastPathArgs {
  ingress: string;
  egress: string;
  cpus: number[];
  services: NativeSnapshot['services'];
  txMode?: TxMode | 'auto';
}

let sink: NativeSink | undefined;
let dataplane: NativePassThrough | undefined;
let fastPath: NativeDataplane | undefined;
let ingressDrop: IngressDrop | undefined;

async function stopPassThrough(): Promise<void> {
  dataplane?.stop();
  dataplane = undefined;
  fastPath?.stop();
  fastPath = undefined;
  await ingressDrop?.remove();
  ingressDrop = undefined;
}

async function handle(cmd: string, args: unknown): Promise<unknown> {
  switch (cmd) {
    case 'ping':
      return { pid: process.pid };
    case 'cpu':
      // The whole process (getrusage RUSAGE_SELF: every thread, the fast path's I/O threads too), in µs.
      return process.cpuUsage();
    case 'generate':
      return loadBenchAddon().runGenerator(args as GeneratorOptions);
    case 'sink.start': {
      const { ifname } = args as { ifname: string };
      if (sink) throw new Error('a sink is already running in this agent');
      sink = new (loadBenchAddon().Sink)(ifname);
      sink.start();
      return { started: true };
    }
    case 'sink.counts':
      if (!sink) throw new Error('no sink running');
      return sink.counts();
    case 'sink.stop':
      sink?.stop();
      sink = undefined;
      return { stopped: true };
    case 'passthrough.start': {
      const a = args as PassThroughArgs;
      if (dataplane) throw new Error('the pass-through dataplane already runs');
      const txMode = await chooseTxMode(a.txMode ?? 'auto', a.egress);
      dataplane = new (loadBenchAddon().PassThroughDataplane)(
        {
          interface: a.ingress,
          egressInterface: a.egress,
          workers: a.workers,
          cpus: a.cpus,
          txMode,
          flowCapacity: 1024,
          flowIdleTimeoutMs: 300_000,
          ring: { ...DEFAULTS.ring, frameSize: 0, ...(a.ring ?? {}) },
          fanoutId: (process.pid & 0xffff) ^ 0x5a5a,
          gratuitousArp: false,
          filter: vipMatchProgram([a.vip], ACCEPT_FRAME, 0),
        },
        {
          services: [{
            vip: a.vip, port: 0, protocol: 'udp', flowKey: '5tuple', scheduler: 'maglev', maglevTableSize: 251,
            servers: [{ address: a.server.address, mac: a.server.mac, weight: 1 }],
          }],
        },
      );
      try {
        // Same as the daemon: the dispatcher's own kernel is kept off VIP frames.
        ingressDrop = await installIngressDrop(a.ingress, [a.vip]);
        dataplane.start();
      } catch (error) {
        await stopPassThrough();
        throw error;
      }
      return { txMode };
    }
    case 'fastpath.start': {
      const a = args as FastPathArgs;
      if (dataplane || fastPath) throw new Error('a dataplane already runs in this agent');
      const txMode = await chooseTxMode(a.txMode ?? 'auto', a.egress);
      const vips = [...new Set(a.services.map((s) => s.vip))];
      fastPath = new (loadAddon().Dataplane)({
        interface: a.ingress, egressInterface: a.egress, workers: 1, cpus: a.cpus, txMode,
        flowCapacity: 2_097_152, flowIdleTimeoutMs: 300_000,
        ring: { ...DEFAULTS.ring, frameSize: 0 }, fanoutId: (process.pid & 0xffff) ^ 0x6a6a,
        gratuitousArp: false, filter: vipMatchProgram(vips, ACCEPT_FRAME, 0),
      }, { services: a.services });
      try {
        ingressDrop = await installIngressDrop(a.ingress, vips);
        fastPath.start();
      } catch (error) {
        await stopPassThrough();
        throw error;
      }
      return { txMode };
    }
    case 'fastpath.stats':
      if (!fastPath) throw new Error('the fast path is not running');
      return fastPath.stats();
    case 'passthrough.stats':
      if (!dataplane) throw new Error('the pass-through dataplane is not running');
      return dataplane.stats();
    case 'passthrough.stop':
      await stopPassThrough();
      return { stopped: true };
    case 'pktgen.available':
      return pktgenAvailable();
    case 'pktgen.run':
      return runPktgen(args as PktgenJob);
    default:
      throw new Error(`unknown agent command "${cmd}"`);
  }
}

async function shutdown(code: number): Promise<never> {
  try { sink?.stop(); } catch { /* exiting anyway */ }
  sink = undefined;
  await stopPassThrough().catch(() => undefined);
  process.exit(code);
}

function reply(response: Response): void {
  process.stdout.write(`${encode(response)}\n`);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  let request: Request;
  try {
    request = decode(line) as Request;
  } catch {
    reply({ id: -1, ok: false, error: 'not JSON' });
    return;
  }
  if (request.cmd === 'exit') {
    reply({ id: request.id, ok: true, result: null });
    void shutdown(0);
    return;
  }
  handle(request.cmd, request.args).then(
    (result) => reply({ id: request.id, ok: true, result }),
    (error: unknown) => reply({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
lines.on('close', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(143));
process.on('SIGINT', () => void shutdown(130));
process.stdout.on('error', () => void shutdown(1)); // the suite went away
