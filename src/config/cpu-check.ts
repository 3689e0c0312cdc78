// `cpus` against the CPUs of this machine: pinning a worker to a CPU that is not online fails the
// start (native/io/dataplane.cc), so `las check` on the dispatcher refuses it first. Like the ring
// sizes, this applies only where the config's interface exists, i.e. on the dispatcher itself.
import { readFileSync } from 'node:fs';
import type { ConfigError } from './errors.js';
import type { LasConfig } from './types.js';

/** The online CPUs ("0-3,6" in /sys), or undefined where the kernel does not say. */
export function onlineCpus(): Set<number> | undefined {
  try {
    return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  } catch {
    return undefined;
  }
}

/** "0-3,6" -> {0, 1, 2, 3, 6}. */
export function parseCpuList(text: string): Set<number> {
  const cpus = new Set<number>();
  for (const part of text.trim().split(',').filter(Boolean)) {
    const [first, last = first] = part.split('-').map(Number) as [number, number?];
    for (let cpu = first; cpu <= last!; cpu++) cpus.add(cpu);
  }
  return cpus;
}

export function checkCpus(config: LasConfig, online: Set<number> | undefined = onlineCpus()): ConfigError[] {
  if (!online) return [];
  const list = [...online].sort((a, b) => a - b).join(', ');
  return config.cpus.flatMap((cpu, i) => (online.has(cpu) ? [] : [{
    path: `cpus[${i}]`,
    message: `CPU ${cpu} is not online on this machine (online: ${list}); pin worker ${i} to one of those, or leave "cpus" out to not pin`,
  }]));
}
