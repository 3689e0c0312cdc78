// What this process created and must remove again: plain state, no behaviour, so that
// namespace.ts (which records) and cleanup.ts (which removes) do not import each other.
import type { ChildProcess } from 'node:child_process';

export const createdNamespaces = new Set<string>();
export const startedProcesses = new Set<ChildProcess>();
export const createdPaths = new Set<string>();

export function trackNamespace(name: string): void { createdNamespaces.add(name); }
export function untrackNamespace(name: string): void { createdNamespaces.delete(name); }

/** Tracks a child until it exits, so cleanup only signals processes that still run. */
export function trackProcess(child: ChildProcess): void {
  startedProcesses.add(child);
  child.once('exit', () => startedProcesses.delete(child));
  child.once('error', () => startedProcesses.delete(child));
}

/** A temporary file or directory (configs, admin sockets) removed by cleanupAll(). */
export function trackPath(path: string): void { createdPaths.add(path); }
export function untrackPath(path: string): void { createdPaths.delete(path); }
