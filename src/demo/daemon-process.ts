// Starting the LAS daemon in the dispatcher namespace, for the demo and the integration tests:
//   ip netns exec <ns> node <repo>/dist/src/cli/main.js run --config <file>
import type { ChildProcess } from 'node:child_process';
import { spawnInNs } from '../netns/namespace.js';
import { distScript, exited, OutputTail, stopProcess, waitUntil, type ExitInfo } from './processes.js';

export interface DaemonOptions {
  ns: string;
  configPath: string;
  adminSocket: string;
  readyTimeoutMs?: number;   // default 20 s
  args?: string[];           // extra `las run` arguments, e.g. ['--log-level', 'debug']
  prefix?: string[];         // a command the daemon runs under, e.g. ['setpriv', '--reuid=…', …]
  env?: NodeJS.ProcessEnv;   // the daemon's environment (default ours), e.g. the sanitizer addon's preload
}

export interface DaemonProcess {
  child: ChildProcess;
  pid: number | undefined;
  adminSocket: string;
  output(): { stdout: string; stderr: string };
  running(): boolean;
  exited: Promise<ExitInfo>;
  /** Sends a signal and waits (bounded) for the exit. */
  kill(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  /** SIGTERM, SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

/**
 * Starts the daemon and waits until it logged {"msg":"ready"} (pino JSON on stdout), which comes
 * after the ingress drop and the fast path are in place. Fails with the daemon's output if it exits first
 * or is not ready within readyTimeoutMs; either way it is not left running.
 */
export async function startDaemon(opts: DaemonOptions): Promise<DaemonProcess> {
  const [cmd, ...args] = [...(opts.prefix ?? []), process.execPath, distScript('src/cli/main.js'), 'run', '--config', opts.configPath, ...(opts.args ?? [])];
  const child = spawnInNs(opts.ns, cmd!, args, opts.env ? { env: opts.env } : {});
  const stdout = new OutputTail();
  const stderr = new OutputTail();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const output = () => ({ stdout: String(stdout), stderr: String(stderr) });
  const running = () => child.exitCode === null && child.signalCode === null;
  const daemon: DaemonProcess = {
    child,
    pid: child.pid,
    adminSocket: opts.adminSocket,
    output,
    running,
    exited: exited(child),
    async kill(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (!running()) return daemon.exited;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`daemon did not exit within ${timeoutMs} ms of ${signal}`)), timeoutMs);
      });
      try { return await Promise.race([daemon.exited, late]); } finally { clearTimeout(timer); }
    },
    stop: (graceMs = 5000) => stopProcess(child, graceMs),
  };
  const describeOutput = () => {
    const { stdout: out, stderr: err } = output();
    return `\n--- daemon stderr ---\n${err.trim().slice(-4000) || '(empty)'}\n--- daemon stdout ---\n${out.trim().slice(-4000) || '(empty)'}`;
  };
  try {
    await waitUntil(
      'starting the las daemon',
      // Only the "ready" log line: the admin socket opens before the ingress drop and the fast path.
      async () => /"msg"\s*:\s*"ready"/.test(String(stdout)),
      opts.readyTimeoutMs ?? 20_000,
      () => (running() ? undefined : `it exited (code ${child.exitCode}, signal ${child.signalCode})`),
    );
  } catch (error) {
    await daemon.stop(2000);
    // 'exit' can come before the last output: give the pipes a moment to drain (bounded).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      child.once('close', () => { clearTimeout(timer); resolve(); });
      if (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false) { clearTimeout(timer); resolve(); }
    });
    throw new Error(`${error instanceof Error ? error.message : String(error)}${describeOutput()}`);
  }
  return daemon;
}
