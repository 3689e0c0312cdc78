// Flows kept across a restart: each worker's flow table lives in a file in flowTable.persistDirectory
// (native/io/flow_file.h), which must be a memory file system. Here: the directory, the check of its
// file system, the files' names, and one log line per file saying whether its table was picked up.
import { mkdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { FlowFileReport } from '../native/binding.js';
import type { LasConfig } from '../config/types.js';
import type { Logger } from './logger.js';

// statfs(2) f_type of the file systems whose pages are memory: every packet writes its flow entry,
// and on a disk file system each of those writes would be written back to the disk.
const MEMORY_FILE_SYSTEMS = new Map([[0x01021994, 'tmpfs'], [0x858458f6, 'ramfs']]);

/**
 * Where worker i's flow table lives (prefix + "." + i), named after the interface so that two daemons
 * sharing a directory keep apart; undefined (tables in process memory) with persistDirectory false
 * or a directory that is not on tmpfs, which is logged. Creates the directory (root only, as /run/las).
 */
export async function flowFilePrefix(config: LasConfig, log: Logger): Promise<string | undefined> {
  const dir = config.flowTable.persistDirectory;
  if (dir === false) {
    log.info('flowTable.persistDirectory is false: flows live in process memory, a restart forgets them');
    return undefined;
  }
  let type: number;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    type = (await statfs(dir)).type;
  } catch (error) {
    throw new Error(`flowTable.persistDirectory: cannot create ${dir} (${(error as Error).message}); name a writable directory on tmpfs, or set "persistDirectory": false`);
  }
  if (!MEMORY_FILE_SYSTEMS.has(type)) {
    log.warn({ persistDirectory: dir, fsType: `0x${type.toString(16)}` },
      'flowTable.persistDirectory is not on tmpfs: flows live in process memory and a restart forgets them; mount tmpfs there or name a directory on tmpfs (/run, /dev/shm)');
    return undefined;
  }
  return join(dir, `flows.${config.interface}`);
}

export function logFlowFiles(log: Logger, reports: FlowFileReport[]): void {
  for (const r of reports) {
    const where = { worker: r.worker, family: r.family, file: r.path };
    if (r.emptyBecause === 'no table yet') log.info(where, 'flow table file created: the next start picks its flows up');
    else if (r.emptyBecause !== null) log.warn({ ...where, reason: r.emptyBecause }, `flow table starts empty: ${r.emptyBecause}`);
    else log.info({ ...where, kept: r.kept, refused: r.refused, torn: r.torn, duplicate: r.duplicate }, 'flow table picked up from the last run');
  }
}
