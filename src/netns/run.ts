// Thin promise wrappers around child_process for the `ip`/`sysctl` calls that build namespaces.
import { execFile, execFileSync } from 'node:child_process';

export interface RunOptions {
  timeoutMs?: number;   // default 30 s: a hung `ip` must not hang a test or the demo
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunResult { stdout: string; stderr: string }

const DEFAULT_TIMEOUT_MS = 30_000;

/** Runs a command; rejects with the command line and its stderr in the message. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, env: opts.env, cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const detail = stderr.trim() || error.message;
          const why = error.killed ? ` (killed after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms)` : '';
          reject(new Error(`${[cmd, ...args].join(' ')} failed${why}: ${detail}`, { cause: error }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command inside a named network namespace (`ip netns exec`). */
export function runInNs(ns: string, cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** Synchronous variant for process 'exit' handlers, where nothing asynchronous runs any more. */
export function runSync(cmd: string, args: string[], timeoutMs = 10_000): string {
  return execFileSync(cmd, args, { timeout: timeoutMs, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
