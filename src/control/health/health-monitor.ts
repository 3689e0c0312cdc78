// Schedules every server's checks on a piscina pool and runs the results through the state
// machine (health-state.ts). A state change is reported to onChange, which republishes the
// snapshot; the monitor itself never touches the fast path.
import { Piscina } from 'piscina';
import { Histogram } from 'prom-client';
import type { HealthCheckConfig } from '../../config/types.js';
import type { Logger } from '../logger.js';
import type { CheckResult, CheckTask } from './checks.js';
import { applyResult, initialHealth, requiredRises, type Health, type HealthParams, type HealthState } from './health-state.js';

export interface HealthTarget {
  service: string;
  vip: string;
  address: string;
  check: HealthCheckConfig;
}

export interface HealthChange {
  service: string;
  address: string;
  health: Health;
  flapping: boolean;
  message?: string;
}

export interface HealthMonitorOptions {
  log: Logger;
  onChange: (change: HealthChange) => void;
  /** Jitter of the first check, as a fraction of the interval: 1 spreads first checks over a whole interval. */
  jitter?: number;
  /** Where check durations are observed (checkDurationHistogram()); the metrics export it. */
  durations?: Histogram<'service' | 'server'>;
  /** Tests only: the safety net below, shortened. */
  giveUpAfterMs?: number;
}

export interface CheckCounts { ok: number; failed: number }

/** One finished check, as the status page shows it. */
export interface CheckRecord { atMs: number; ok: boolean; durationMs: number; message: string }

/** Checks kept per server for the status page: enough to see a flap or a creeping duration. */
export const CHECK_HISTORY = 20;

interface Entry {
  target: HealthTarget;
  spec: string;             // the check as JSON: a changed check restarts the schedule
  params: HealthParams;
  state: HealthState;
  counts: CheckCounts;
  recent: CheckRecord[];    // the last CHECK_HISTORY checks, oldest first
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

const key = (service: string, address: string) => `${service}\u0000${address}`;

/**
 * Check durations, from 1 ms (a TCP connect on the segment) to 10 s (the longest sensible timeout):
 * a check creeping towards its timeout shows here before it fails.
 */
export function checkDurationHistogram(): Histogram<'service' | 'server'> {
  return new Histogram({
    name: 'las_health_check_duration_seconds',
    help: 'Duration of health checks, by server (failed ones too: a timeout is its timeout)',
    labelNames: ['service', 'server'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [], // the metrics registry registers it (metrics.ts)
  });
}

/**
 * Extra time beyond the check's own timeout after which the monitor stops waiting and counts the
 * check as failed. Checks bound themselves, so this is a safety net; the task is not aborted,
 * because aborting a piscina task replaces its thread and would fail every check running on it.
 */
const GIVE_UP_AFTER_MS = 2000;

export class HealthMonitor {
  private readonly pool: Piscina<CheckTask, CheckResult>;
  private readonly entries = new Map<string, Entry>();
  private closed = false;
  private readonly durations: Histogram<'service' | 'server'>;

  constructor(private readonly options: HealthMonitorOptions) {
    this.durations = options.durations ?? checkDurationHistogram();
    this.pool = new Piscina({
      filename: new URL('./health-worker.js', import.meta.url).href,
      name: 'default',
      minThreads: 1,
      maxThreads: 2,
      concurrentTasksPerWorker: 64, // checks wait on sockets and child processes, not on CPU
      idleTimeout: 60_000,
    });
  }

  /** Makes the checked set equal to `targets`: new ones start (jittered), removed ones stop, changed ones restart keeping their state. */
  sync(targets: HealthTarget[]): void {
    const wanted = new Map(targets.map((t) => [key(t.service, t.address), t]));
    for (const [k, entry] of this.entries) {
      if (!wanted.has(k)) {
        this.stop(entry);
        this.entries.delete(k);
        this.durations.remove({ service: entry.target.service, server: entry.target.address });
      }
    }
    for (const [k, target] of wanted) {
      const spec = JSON.stringify(target.check);
      const existing = this.entries.get(k);
      if (existing && existing.spec === spec) {
        existing.target = target;
        continue;
      }
      if (existing) this.stop(existing);
      const entry: Entry = {
        target,
        spec,
        params: paramsOf(target.check),
        state: existing?.state ?? initialHealth(),
        counts: existing?.counts ?? { ok: 0, failed: 0 },
        recent: existing?.recent ?? [],
        stopped: false,
      };
      this.entries.set(k, entry);
      const intervalMs = target.check.interval * 1000;
      this.schedule(entry, Math.random() * intervalMs * (this.options.jitter ?? 1));
    }
  }

  /** The state of a checked server; undefined when it has no check. */
  get(service: string, address: string): HealthState | undefined {
    return this.entries.get(key(service, address))?.state;
  }

  /** Checks done per server, for the metrics. */
  counts(): { service: string; address: string; counts: CheckCounts }[] {
    return [...this.entries.values()].map((e) => ({ service: e.target.service, address: e.target.address, counts: e.counts }));
  }

  /** The last checks of every checked server, oldest first (the status page's history). */
  history(): { service: string; address: string; checks: readonly CheckRecord[] }[] {
    return [...this.entries.values()].map((e) => ({ service: e.target.service, address: e.target.address, checks: e.recent }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) this.stop(entry);
    this.entries.clear();
    await this.pool.destroy();
  }

  private stop(entry: Entry): void {
    entry.stopped = true;
    if (entry.timer) clearTimeout(entry.timer);
  }

  private schedule(entry: Entry, delayMs: number): void {
    if (entry.stopped || this.closed) return;
    entry.timer = setTimeout(() => void this.run(entry), delayMs);
    entry.timer.unref();
  }

  private async run(entry: Entry): Promise<void> {
    if (entry.stopped || this.closed) return;
    const { target } = entry;
    const started = Date.now();
    const timeoutMs = Math.max(1, Math.round(target.check.timeout * 1000));
    const task: CheckTask = {
      type: target.check.type,
      address: target.address,
      port: target.check.port,
      path: target.check.path,
      expectStatus: target.check.expectStatus,
      ...(target.check.command !== undefined ? { command: target.check.command } : {}),
      timeoutMs,
      service: target.service,
      vip: target.vip,
    };
    let result: CheckResult;
    let timer: NodeJS.Timeout | undefined;
    try {
      const giveUpMs = timeoutMs + (this.options.giveUpAfterMs ?? GIVE_UP_AFTER_MS);
      const late = new Promise<CheckResult>((resolve) => {
        // A starved main loop runs this timer late, maybe after the worker's answer has arrived but
        // before it is read: setImmediate lets the poll phase deliver it first, so the decision is
        // the check's own outcome (timed in the worker) whenever there is one.
        timer = setTimeout(() => setImmediate(() => resolve({ ok: false, message: `check did not finish within ${giveUpMs} ms`, durationMs: Date.now() - started })), giveUpMs);
      });
      result = await Promise.race([this.pool.run(task), late]);
    } catch (error) {
      result = { ok: false, message: `check not run: ${error instanceof Error ? error.message : String(error)}`, durationMs: Date.now() - started };
    } finally {
      clearTimeout(timer);
    }
    if (entry.stopped || this.closed) return;
    this.apply(entry, result);
    this.schedule(entry, Math.max(0, started + target.check.interval * 1000 - Date.now()));
  }

  private apply(entry: Entry, result: CheckResult): void {
    const { target } = entry;
    if (result.ok) entry.counts.ok++;
    else entry.counts.failed++;
    entry.recent.push({ atMs: Date.now(), ok: result.ok, durationMs: Math.round(Math.max(0, result.durationMs) * 10) / 10, message: result.message });
    if (entry.recent.length > CHECK_HISTORY) entry.recent.shift();
    this.durations.observe({ service: target.service, server: target.address }, Math.max(0, result.durationMs) / 1000);
    const t = applyResult(entry.state, result.ok, Date.now(), entry.params, result.message);
    entry.state = t.state;
    const log = this.options.log;
    const where = { service: target.service, server: target.address, check: target.check.type };
    if (!result.ok) log.debug({ ...where, message: result.message, failures: t.state.failures }, 'health check failed');
    if (t.flapping === 'started') {
      log.warn({ ...where, changes: t.state.changes.length, windowSeconds: target.check.flapWindow, risesNeeded: requiredRises(t.state, entry.params) }, 'server flapping: coming back is damped');
    } else if (t.flapping === 'ended') {
      log.info(where, 'server no longer flapping');
    }
    if (t.changed === 'down') {
      log.warn({ ...where, failures: t.state.failures, message: result.message }, 'server down: no new flows');
    } else if (t.changed === 'up') {
      log.info({ ...where, successes: t.state.successes, message: result.message }, 'server up: takes new flows again');
    }
    if (t.changed) {
      this.options.onChange({ service: target.service, address: target.address, health: t.changed, flapping: t.state.flapping, message: result.message });
    }
  }
}

function paramsOf(check: HealthCheckConfig): HealthParams {
  return { rise: check.rise, fall: check.fall, flapWindowMs: check.flapWindow * 1000, flapThreshold: check.flapThreshold };
}
