// Removes everything this process created (processes, namespaces, temp paths).
// Idempotent: each item leaves the registry once removed, and concurrent calls share one run.
import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { deleteNamespace, deleteNamespaceSync } from './namespace.js';
import { createdNamespaces, createdPaths, startedProcesses, untrackPath } from './registry.js';

export { trackNamespace, trackPath, trackProcess, untrackPath } from './registry.js';

let running: Promise<void> | undefined;

function stillRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function removePaths(): void {
  for (const path of [...createdPaths]) {
    try { rmSync(path, { recursive: true, force: true }); } catch { /* best effort */ }
    untrackPath(path);
  }
}

/** Gentle cleanup: SIGTERM our children (a daemon gets to remove its tc filter), then the namespaces. */
export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    const errors: unknown[] = [];
    for (const child of startedProcesses) if (stillRunning(child)) child.kill('SIGTERM');
    // Namespaces are independent: delete them in parallel, each kills what remains inside.
    const results = await Promise.allSettled([...createdNamespaces].map((ns) => deleteNamespace(ns)));
    for (const result of results) if (result.status === 'rejected') errors.push(result.reason);
    for (const child of startedProcesses) if (stillRunning(child)) child.kill('SIGKILL');
    removePaths();
    if (errors.length > 0) throw new AggregateError(errors, `cleanup: ${errors.length} namespace(s) could not be deleted`);
  })().finally(() => { running = undefined; });
  return running;
}

/** For process 'exit' and fatal paths: the same work, synchronously. */
function cleanupAllSync(): void {
  for (const child of startedProcesses) if (stillRunning(child)) child.kill('SIGTERM');
  for (const ns of [...createdNamespaces]) deleteNamespaceSync(ns);
  for (const child of startedProcesses) if (stillRunning(child)) child.kill('SIGKILL');
  removePaths();
}

export function pendingCleanup(): { namespaces: string[]; processes: number; paths: string[] } {
  return { namespaces: [...createdNamespaces], processes: [...startedProcesses].filter(stillRunning).length, paths: [...createdPaths] };
}

export interface CleanupHandlerOptions {
  signals?: boolean;            // SIGINT/SIGTERM: clean up, then exit 128+n (default true)
  uncaughtException?: boolean;  // print, clean up, exit 1 (default true; tests leave it to node:test)
}

let installed = false;
let signalled: NodeJS.Signals | undefined;

/** The signal that started an exit cleanup, if any: lets callers skip reporting the failures it causes. */
export function exitSignal(): NodeJS.Signals | undefined { return signalled; }

/** Installs once per process; later calls are no-ops. */
export function installCleanupHandlers(opts: CleanupHandlerOptions = {}): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => cleanupAllSync());
  if (opts.signals ?? true) {
    const onSignal = (signal: NodeJS.Signals, code: number) => {
      // A second Ctrl-C must not abort the cleanup half-way and leak namespaces; it is bounded anyway.
      if (signalled) { process.stderr.write('still cleaning up…\n'); return; }
      signalled = signal;
      process.stderr.write(`\n${signal}: removing namespaces and processes…\n`);
      cleanupAll()
        .catch((error: unknown) => process.stderr.write(`cleanup: ${String(error)}\n`))
        .finally(() => process.exit(code));
    };
    process.on('SIGINT', () => onSignal('SIGINT', 130));
    process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  }
  if (opts.uncaughtException ?? true) {
    process.on('uncaughtException', (error) => {
      process.stderr.write(`fatal: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      cleanupAllSync();
      process.exit(1);
    });
  }
}
