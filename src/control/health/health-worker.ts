// Piscina worker for health checks: one task = one check of one server. Checks are I/O-bound, so
// one thread runs many at once (concurrentTasksPerWorker) without touching the main event loop.
import { runCheck, type CheckResult, type CheckTask } from './checks.js';

export default function check(task: CheckTask): Promise<CheckResult> {
  return runCheck(task);
}
