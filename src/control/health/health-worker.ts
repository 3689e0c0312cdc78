// Piscina worker for health checks: one task = one check of one server. Checks are I/O-bound, so
// one thread runs many at once (concurrentTasksPerWorker) without touching the main event loop.
import { loadAddon } from '../../native/binding.js';
import { runCheck, type CheckResult, type CheckTask } from './checks.js';

// Command checks are the operator's scripts: they get none of the daemon's capabilities (a
// non-root daemon passes CAP_NET_ADMIN to tc through its ambient set; not to these).
loadAddon().clearChildCapabilities();

export default function check(task: CheckTask): Promise<CheckResult> {
  return runCheck(task);
}
