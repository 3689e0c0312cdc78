// Kernel pktgen (Documentation/networking/pktgen.rst), for machines whose kernel has it: the suite
// configures one kpktgend_N thread with one device through /proc/net/pktgen, starts it, and reads
// the device's "Result:" lines. /proc/net is per network namespace, so this runs in the generator's
// agent. pktgen sends UDP only; TCP scenarios always use the built-in generator.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const PKTGEN_DIR = '/proc/net/pktgen';

/** The generator parameters, in the suite's names; each maps to one pktgen command. */
export interface PktgenParams {
  device: string;        // interface in the generator namespace
  thread: number;        // kpktgend_N = CPU N
  dstMac: string;
  srcMac?: string;       // default: the device's own
  dstIp: string;
  dstPort: number;
  srcIpMin: string;
  srcIpMax: string;
  srcPortMin: number;
  srcPortMax: number;
  packetSize: number;    // pkt_size: Ethernet frame without FCS, as in the built-in generator
  count: number;         // 0 = until stopped (the driver stops it after durationMs)
  ratePps: number;       // 0 = as fast as possible (no ratep)
  burst: number;
  cloneSkb?: number;     // default 0: every frame is built anew (random sources need it; veth refuses clones)
  flows?: number;        // pktgen "flows"/"flowlen": concurrent flows it tracks (default 0: off)
  flowlen?: number;
}

export interface PktgenWrite { file: string; command: string }

/**
 * The writes, in order, that set pktgen up for one run: reset, bind the device to the thread, then
 * one command per parameter on the device file. Random source address and port per frame
 * (IPSRC_RND, UDPSRC_RND) make the distinct flows about the size of the source range.
 */
export function pktgenWrites(p: PktgenParams): PktgenWrite[] {
  if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(p.device)) throw new Error(`invalid pktgen device "${p.device}"`);
  if (!Number.isInteger(p.thread) || p.thread < 0) throw new Error(`invalid pktgen thread ${p.thread}`);
  const thread = `kpktgend_${p.thread}`;
  const dev = (command: string): PktgenWrite => ({ file: p.device, command });
  const writes: PktgenWrite[] = [
    { file: 'pgctrl', command: 'reset' },
    { file: thread, command: 'rem_device_all' },
    { file: thread, command: `add_device ${p.device}` },
    dev(`count ${p.count}`),
    dev(`clone_skb ${p.cloneSkb ?? 0}`),
    dev(`pkt_size ${p.packetSize}`),
    dev('delay 0'),
    dev(`burst ${p.burst}`),
    dev(`dst ${p.dstIp}`),
    dev(`dst_mac ${p.dstMac}`),
  ];
  if (p.srcMac) writes.push(dev(`src_mac ${p.srcMac}`));
  writes.push(
    dev(`src_min ${p.srcIpMin}`),
    dev(`src_max ${p.srcIpMax}`),
    dev(`udp_src_min ${p.srcPortMin}`),
    dev(`udp_src_max ${p.srcPortMax}`),
    dev(`udp_dst_min ${p.dstPort}`),
    dev(`udp_dst_max ${p.dstPort}`),
    dev('flag IPSRC_RND'),
    dev('flag UDPSRC_RND'),
  );
  if (p.flows && p.flows > 0) writes.push(dev(`flows ${p.flows}`), dev(`flowlen ${p.flowlen ?? 1}`));
  // ratep 0 would divide by zero in older kernels: leave it out for "as fast as possible".
  if (p.ratePps > 0) writes.push(dev(`ratep ${Math.round(p.ratePps)}`));
  return writes;
}

export interface PktgenResult {
  elapsedUs: number;     // started .. stopped
  busyUs: number;        // "c": elapsed minus idle
  idleUs: number;        // "d"
  sent: number;          // packets sent so far
  packetSize: number;
  frags: number;
  pps: number;
  mbps: number;
  bps: number;
  errors: number;
}

const RESULT = /Result:\s*OK:\s*(\d+)\(c(\d+)\+d(\d+)\)\s*(usec|nsec),\s*(\d+)\s*\((\d+)byte,(-?\d+)frags\)\s*\n\s*(\d+)pps\s+(\d+)\s*Mb\/sec\s*\((\d+)bps\)\s*errors:\s*(\d+)/;

/**
 * Parses the "Result:" lines of a pktgen device file after a run. Returns undefined for "Result: Idle"
 * or a parameter acknowledgement ("Result: OK: pkt_size=60"); throws on a "Result:" that reports an error.
 */
export function parsePktgenResult(text: string): PktgenResult | undefined {
  const m = RESULT.exec(text);
  if (m) {
    const scale = m[4] === 'nsec' ? 1 / 1000 : 1;
    const n = (i: number) => Number(m[i]);
    return {
      elapsedUs: n(1) * scale, busyUs: n(2) * scale, idleUs: n(3) * scale, sent: n(5), packetSize: n(6), frags: n(7),
      pps: n(8), mbps: n(9), bps: n(10), errors: n(11),
    };
  }
  const line = /^Result:\s*(.*)$/m.exec(text)?.[1]?.trim();
  if (line === undefined || line === 'Idle' || line.startsWith('OK')) return undefined;
  throw new Error(`pktgen: ${line}`);
}

/** The "Result:" line alone, for error messages. */
export function resultLine(text: string): string {
  return /^Result:.*$/m.exec(text)?.[0] ?? '(no Result: line)';
}

/** Filesystem access, injectable so the driver can be exercised without a kernel module. */
export interface PktgenFs {
  write(file: string, command: string): Promise<void>;
  read(file: string): Promise<string>;
}

export const procFs: PktgenFs = {
  write: (file, command) => writeFile(join(PKTGEN_DIR, file), command),
  read: (file) => readFile(join(PKTGEN_DIR, file), 'utf8'),
};

/** True when this process's network namespace has /proc/net/pktgen, loading the module first if it can. */
export async function pktgenAvailable(): Promise<boolean> {
  if (existsSync(PKTGEN_DIR)) return true;
  await new Promise<void>((resolve) => execFile('modprobe', ['pktgen'], { timeout: 10_000 }, () => resolve()));
  return existsSync(PKTGEN_DIR);
}

export interface PktgenJob { params: PktgenParams; durationMs: number }
export interface PktgenRun { result: PktgenResult; text: string }

/**
 * Configures, runs and reads back one pktgen run. A device write that pktgen refuses fails at once
 * with its own words. With durationMs > 0 the run is stopped after that long (count 0 = until then).
 */
export async function runPktgen(job: PktgenJob, fs: PktgenFs = procFs): Promise<PktgenRun> {
  const { params, durationMs } = job;
  if (params.count === 0 && !(durationMs > 0)) throw new Error('pktgen: count or durationMs must be above 0 (the run must end)');
  for (const w of pktgenWrites(params)) {
    await fs.write(w.file, w.command);
    if (w.file === params.device) {
      const line = resultLine(await fs.read(w.file));
      if (!/^Result:\s*OK/.test(line)) throw new Error(`pktgen refused "${w.command}" on ${w.file}: ${line}`);
    }
  }
  // "start" blocks until every device is done or "stop" is written.
  const running = fs.write('pgctrl', 'start');
  let timer: NodeJS.Timeout | undefined;
  if (durationMs > 0) timer = setTimeout(() => void fs.write('pgctrl', 'stop').catch(() => undefined), durationMs);
  try {
    await running;
  } finally {
    if (timer) clearTimeout(timer);
  }
  const text = await fs.read(params.device);
  const result = parsePktgenResult(text);
  if (!result) throw new Error(`pktgen ran but reported no result on ${params.device}: ${resultLine(text)}`);
  await fs.write(`kpktgend_${params.thread}`, 'rem_device_all').catch(() => undefined);
  return { result, text };
}
