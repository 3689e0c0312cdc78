// A process's resident memory, read so that a sampler cannot throw: a process that has gone (or a
// /proc that cannot be read) gives undefined, not an uncaught ENOENT inside a timer.
import { readFile } from 'node:fs/promises';

/** VmRSS of a process in kB (undefined once it is gone). */
export async function rssKb(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const match = status?.match(/^VmRSS:\s+(\d+)\s+kB/m);
  return match ? Number(match[1]) : undefined;
}
