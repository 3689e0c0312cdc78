// Thin promise wrappers around child_process for the `ip`/`sysctl` calls that build namespaces.
import { execFile, execFileSync } from 'node:child_process';
import { preloadsSanitizer, toolEnv } from '../control/child-env.js';

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
      { timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, env: toolEnv(opts.env ?? process.env), cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
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
  const exec = nsExec(ns, cmd, args, opts.env);
  return run('ip', exec.argv, { ...opts, env: exec.env });
}

/**
 * `ip netns exec NS CMD ARGS...` such that a sanitizer preload in `env` reaches CMD but not `ip`
 * (see child-env.ts): `ip` runs without it and env(1) puts it back for CMD alone.
 */
export function nsExec(ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { argv: string[]; env: NodeJS.ProcessEnv } {
  if (!preloadsSanitizer(env)) return { argv: ['netns', 'exec', ns, cmd, ...args], env };
  const carried = ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']
    .filter((name) => env[name] !== undefined).map((name) => `${name}=${env[name]}`);
  return { argv: ['netns', 'exec', ns, 'env', ...carried, cmd, ...args], env: toolEnv(env) };
}

/** Synchronous variant for process 'exit' handlers, where nothing asynchronous runs any more. */
export function runSync(cmd: string, args: string[], timeoutMs = 10_000): string {
  return execFileSync(cmd, args, { timeout: timeoutMs, env: toolEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
