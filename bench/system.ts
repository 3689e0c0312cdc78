// What the kernel tells about a run: CPU time per core and per thread, per-interface counters,
// backlog drops. Plain reads of /proc and `ip -s`; deltas are taken by the caller.
import { readFile, readdir } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { run } from '../src/netns/run.js';
import type { Endpoint } from './topology.js';

let clkTck: number | undefined;
/** USER_HZ: the unit of /proc CPU times (100 on every mainstream Linux). */
export function userHz(): number {
  if (clkTck === undefined) {
    try { clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { clkTck = 100; }
  }
  return clkTck;
}

export interface CpuTimes { busy: number; total: number; softirq: number } // ticks

/** Per-CPU busy (everything but idle and iowait) and total ticks from /proc/stat. */
export async function readCpuTimes(): Promise<Map<number, CpuTimes>> {
  const text = await readFile('/proc/stat', 'utf8');
  const out = new Map<number, CpuTimes>();
  for (const line of text.split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest is already in user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    out.set(Number(m[1]), { busy: total - idle, total, softirq: f[6] ?? 0 });
  }
  return out;
}

/** Column 2 of /proc/net/softnet_stat: frames dropped because a CPU's backlog was full. */
export async function readSoftnetDropped(): Promise<number> {
  try {
    const text = await readFile('/proc/net/softnet_stat', 'utf8');
    return text.trim().split('\n').reduce((sum, line) => sum + parseInt(line.trim().split(/\s+/)[1] ?? '0', 16), 0);
  } catch {
    return 0;
  }
}

export interface ThreadTimes { ticks: number; threads: number }

/** utime + stime of a process's threads whose name starts with `prefix` (e.g. "las-io-"). */
export async function threadTicks(pid: number | undefined, prefix: string): Promise<ThreadTimes> {
  if (!pid) return { ticks: 0, threads: 0 };
  let ticks = 0;
  let threads = 0;
  let tids: string[];
  try { tids = await readdir(`/proc/${pid}/task`); } catch { return { ticks: 0, threads: 0 }; }
  for (const tid of tids) {
    try {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // comm is in parentheses and may contain spaces: fields count from the last ")".
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      if (!comm.startsWith(prefix)) continue;
      const fields = stat.slice(close + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
      threads++;
    } catch { /* the thread ended */ }
  }
  return { ticks, threads };
}

export interface IfStats { rxPackets: number; rxDropped: number; rxErrors: number; txPackets: number; txDropped: number; txErrors: number }

export async function ifaceStats(e: Endpoint): Promise<IfStats> {
  const { stdout } = await run('ip', ['-n', e.ns, '-j', '-s', 'link', 'show', 'dev', e.ifname]);
  const [link] = JSON.parse(stdout) as Array<{ stats64?: { rx: Record<string, number>; tx: Record<string, number> } }>;
  const rx = link?.stats64?.rx ?? {};
  const tx = link?.stats64?.tx ?? {};
  return {
    rxPackets: rx.packets ?? 0, rxDropped: rx.dropped ?? 0, rxErrors: rx.errors ?? 0,
    txPackets: tx.packets ?? 0, txDropped: tx.dropped ?? 0, txErrors: tx.errors ?? 0,
  };
}

export function ifaceDelta(a: IfStats, b: IfStats): IfStats {
  return {
    rxPackets: b.rxPackets - a.rxPackets, rxDropped: b.rxDropped - a.rxDropped, rxErrors: b.rxErrors - a.rxErrors,
    txPackets: b.txPackets - a.txPackets, txDropped: b.txDropped - a.txDropped, txErrors: b.txErrors - a.txErrors,
  };
}

export interface ThreadSample { ticks: Map<string, number>; foreignPids: Set<number> }

/**
 * CPU ticks of every thread on the machine, and which processes are not this run's (not this process
 * or its descendants, and not a ksoftirqd thread, which runs the kernel's network work for us).
 * Comparing two samples tells how much CPU other jobs took during a trial.
 */
export function sampleThreads(): ThreadSample {
  const ticks = new Map<string, number>();
  const parent = new Map<number, number>();
  const kernelNet = new Set<number>();
  let pids: string[] = [];
  try { pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p)); } catch { /* no /proc */ }
  for (const p of pids) {
    const pid = Number(p);
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      parent.set(pid, Number(stat.slice(close + 2).split(' ')[1]));
      if (comm.startsWith('ksoftirqd')) kernelNet.add(pid);
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        const t = readFileSync(`/proc/${p}/task/${tid}/stat`, 'utf8');
        const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
        ticks.set(`${p}/${tid}`, Number(f[11]) + Number(f[12]));
      }
    } catch { /* exited meanwhile */ }
  }
  const ours = (pid: number): boolean => {
    for (let p = pid, depth = 0; p > 0 && depth < 64; p = parent.get(p) ?? 0, depth++) if (p === process.pid) return true;
    return false;
  };
  const foreignPids = new Set<number>();
  for (const pid of parent.keys()) if (!ours(pid) && !kernelNet.has(pid)) foreignPids.add(pid);
  return { ticks, foreignPids };
}

/** Ticks other jobs used between two samples (threads alive in both; short-lived ones are missed). */
export function foreignTicks(a: ThreadSample, b: ThreadSample): number {
  let sum = 0;
  for (const [key, t] of b.ticks) {
    const pid = Number(key.split('/')[0]);
    if (!b.foreignPids.has(pid)) continue;
    const before = a.ticks.get(key);
    if (before !== undefined) sum += t - before;
  }
  return sum;
}
