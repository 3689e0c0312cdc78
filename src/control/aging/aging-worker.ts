// Piscina worker for flow aging and flow listing. It loads the addon itself (the addon is
// context-aware) and reads the I/O threads' flow tables through read-only views found by the
// dataplane's id; expiries go back as commands that each I/O thread applies, so every table keeps
// exactly one writer. Each `age` task examines a bounded number of slots per table (budgetFor) and
// remembers where it stopped, so a table of millions of entries is swept in slices, never at once.
import { loadAddon } from '../../native/binding.js';
import type { TimeoutsMs } from './policy.js';
import { countConnections, type ConnectionCount } from './connections.js';
import { COMMAND_WORDS, listFlows, scanForExpiry, type FlowFilter, type FlowListing, type TableView } from './scan.js';

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
  only?: string;
  limit: number;
  timeouts: TimeoutsMs;
  idleBoundMs: number;
}

export interface ConnectionsTask {
  kind: 'connections';
  dataplaneId: number;
  services: FlowFilter[];
}

export interface AgeResult {
  scanned: number;
  live: number;
  expired: number;   // commands queued
  refused: number;   // commands the full queue did not take (found again on the next sweep)
  wrapped: boolean;  // some table's cursor went past its end: a full sweep finished
}

const views = new Map<number, TableView[]>();
const cursors = new Map<string, number>();

function tables(dataplaneId: number): TableView[] {
  let found = views.get(dataplaneId);
  if (!found) {
    found = loadAddon().flowTableViews(dataplaneId);
    views.set(dataplaneId, found);
  }
  return found;
}

function age(task: AgeTask): AgeResult {
  const addon = loadAddon();
  const result: AgeResult = { scanned: 0, live: 0, expired: 0, refused: 0, wrapped: false };
  for (const view of tables(task.dataplaneId)) {
    const cursorKey = `${task.dataplaneId}/${view.worker}`;
    const start = cursors.get(cursorKey) ?? 0;
    const budget = budgetFor(view.slots, task.periodMs, task.sweepMs);
    const scan = scanForExpiry(view, start, budget, addon.monotonicMs(), task.timeouts, task.maxCommands);
    cursors.set(cursorKey, scan.next);
    if (scan.next <= start && scan.scanned > 0) result.wrapped = true;
    result.scanned += scan.scanned;
    result.live += scan.live;
    const count = scan.commands.length / COMMAND_WORDS;
    if (count > 0) {
      const accepted = addon.expireFlows(task.dataplaneId, view.worker, scan.commands);
      result.expired += accepted;
      result.refused += count - accepted;
    }
  }
  return result;
}

function list(task: ListTask): FlowListing {
  const addon = loadAddon();
  return listFlows(tables(task.dataplaneId), task.services, task.only, task.limit, addon.monotonicMs(), task.timeouts, task.idleBoundMs);
}

export default function run(task: AgeTask | ListTask | ConnectionsTask): AgeResult | FlowListing | ConnectionCount[] {
  if (task.kind === 'connections') return countConnections(tables(task.dataplaneId), task.services);
  return task.kind === 'age' ? age(task) : list(task);
}
