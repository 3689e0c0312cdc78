// Piscina worker for flow aging and flow listing. It loads the addon itself (the addon is
// context-aware) and reads the I/O threads' flow tables through read-only views found by the
// dataplane's id; expiries go back as commands that each I/O thread applies, so every table keeps
// exactly one writer. Each `age` task examines a bounded number of slots per table (budgetFor) and
// remembers where it stopped, so a table of millions of entries is swept in slices, never at once.
import { loadAddon } from '../../native/binding.js';
import type { TimeoutsMs } from './policy.js';
import { countConnections, type ConnectionCount } from './connections.js';
import { COMMAND_WORDS, listFlows, scanForExpiry, type ExpiryScan, type FlowFilter, type FlowListing, type TableView } from './scan.js';
import { COMMAND6_WORDS, countConnections6, listFlows6, scanForExpiry6, type FlowFilter6 } from './scan6.js';

export interface AgeTask {
  kind: 'age';
  dataplaneId: number;
  timeouts: TimeoutsMs;
  sweepMs: number;       // aim: every table fully examined within this time
  periodMs: number;      // time between two tasks
  maxCommands: number;   // expiries per table per task
}

/** Slots examined per table per task: enough for a sweep within sweepMs, within fixed bounds. */
export const MIN_BUDGET = 65_536;
export const MAX_BUDGET = 1_048_576; // 32 MiB of entries: a few ms to tens of ms in this thread, never unbounded

export function budgetFor(slots: number, periodMs: number, sweepMs: number): number {
  return Math.min(slots, MAX_BUDGET, Math.max(MIN_BUDGET, Math.ceil((slots * periodMs) / sweepMs)));
}

export interface ListTask {
  kind: 'list';
  dataplaneId: number;
  services: FlowFilter[];
  services6: FlowFilter6[];
  only?: string;
  limit: number;
  timeouts: TimeoutsMs;
  idleBoundMs: number;
}

export interface ConnectionsTask {
  kind: 'connections';
  dataplaneId: number;
  services: FlowFilter[];
  services6: FlowFilter6[];
}

export interface AgeResult {
  scanned: number;
  live: number;
  expired: number;   // commands queued
  refused: number;   // commands the full queue did not take (found again on the next sweep)
  wrapped: boolean;  // some table's cursor went past its end: a full sweep finished
}

const views = new Map<string, TableView[]>();
const cursors = new Map<string, number>();

// family 4: the v4 tables; 6: the v6 tables (64-byte entries, scan6.ts).
function tables(dataplaneId: number, family: 4 | 6 = 4): TableView[] {
  const key = `${dataplaneId}/${family}`;
  let found = views.get(key);
  if (!found) {
    found = family === 4 ? loadAddon().flowTableViews(dataplaneId) : loadAddon().flowTableViews6(dataplaneId);
    views.set(key, found);
  }
  return found;
}

type Scanner = typeof scanForExpiry;
const FAMILIES = [
  { family: 4 as const, scan: scanForExpiry as Scanner, words: COMMAND_WORDS, expire: 'expireFlows' as const },
  { family: 6 as const, scan: scanForExpiry6 as Scanner, words: COMMAND6_WORDS, expire: 'expireFlows6' as const },
];

// Both families' tables, each with its own cursor; removals go to the owning I/O thread's queue.
function age(task: AgeTask): AgeResult {
  const addon = loadAddon();
  const result: AgeResult = { scanned: 0, live: 0, expired: 0, refused: 0, wrapped: false };
  for (const f of FAMILIES) {
    for (const view of tables(task.dataplaneId, f.family)) {
      const cursorKey = `${task.dataplaneId}/${f.family}/${view.worker}`;
      const start = cursors.get(cursorKey) ?? 0;
      const budget = budgetFor(view.slots, task.periodMs, task.sweepMs);
      const scan: ExpiryScan = f.scan(view, start, budget, addon.monotonicMs(), task.timeouts, task.maxCommands);
      cursors.set(cursorKey, scan.next);
      if (scan.next <= start && scan.scanned > 0 && f.family === 4) result.wrapped = true; // sweeps: of the v4 tables, as before
      result.scanned += scan.scanned;
      result.live += scan.live;
      const count = scan.commands.length / f.words;
      if (count > 0) {
        const accepted = addon[f.expire](task.dataplaneId, view.worker, scan.commands);
        result.expired += accepted;
        result.refused += count - accepted;
      }
    }
  }
  return result;
}

// v4 flows first, then v6, within one limit; total counts both.
function list(task: ListTask): FlowListing {
  const addon = loadAddon();
  const now = addon.monotonicMs();
  const v4 = listFlows(tables(task.dataplaneId), task.services, task.only, task.limit, now, task.timeouts, task.idleBoundMs);
  const v6 = listFlows6(tables(task.dataplaneId, 6), task.services6, task.only, task.limit - v4.flows.length, now, task.timeouts, task.idleBoundMs);
  return { total: v4.total + v6.total, flows: [...v4.flows, ...v6.flows] };
}

export default function run(task: AgeTask | ListTask | ConnectionsTask): AgeResult | FlowListing | ConnectionCount[] {
  if (task.kind === 'connections') {
    return [...countConnections(tables(task.dataplaneId), task.services), ...countConnections6(tables(task.dataplaneId, 6), task.services6)];
  }
  return task.kind === 'age' ? age(task) : list(task);
}
