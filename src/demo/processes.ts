// Starting the lab's processes inside namespaces: real servers, the http client, and the
// helpers they share with daemon-process.ts (repo paths, bounded waits on output).
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnInNs } from '../netns/namespace.js';
import { runInNs } from '../netns/run.js';
import type { ClientResult } from './http-client.js';

export type { ClientResult } from './http-client.js';

/** The npm name (`las` on the registry is an unrelated package); the command stays `las`. */
export const PACKAGE_NAME = 'link-address-selector';

let root: string | undefined;

/** The package root: the nearest ancestor with LAS's package.json (works from src/ or dist/, in a checkout or installed). */
export function repoRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return (root = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** A compiled script under dist/, e.g. distScript('src/demo/real-server.js'). */
export function distScript(relative: string): string {
  return join(repoRoot(), 'dist', relative);
}

/** Keeps the last `limit` characters of a stream: enough for error messages, bounded in memory. */
export class OutputTail {
  private text = '';
  constructor(private readonly limit = 1 << 20) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit) this.text = this.text.slice(this.text.length - this.limit);
  }
  toString(): string { return this.text; }
}

export interface ExitInfo { code: number | null; signal: NodeJS.Signals | null }

/** Resolves when the child exits (at once if it already has). */
export function exited(child: ChildProcess): Promise<ExitInfo> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: -1, signal: null }));
  });
}

/** SIGTERM, then SIGKILL after graceMs; resolves with how it ended. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<ExitInfo> {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null) return done;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs); });
  const first = await Promise.race([done, forced.then(() => undefined)]);
  clearTimeout(timer);
  if (first) return first;
  child.kill('SIGKILL');
  return done;
}

/** Waits until `test` is true, polling every 50 ms; fails after timeoutMs or as soon as `fatal` returns a message. */
export async function waitUntil(
  what: string, test: () => boolean | Promise<boolean>, timeoutMs: number, fatal?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await test()) return;
    const problem = fatal?.();
    if (problem) throw new Error(`${what}: ${problem}`);
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface RealServer {
  name: string;
  ns: string;
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  stop(): Promise<ExitInfo>;
}

/** Starts dist/src/demo/real-server.js in a namespace and waits for its "ready" line. */
export async function startRealServer(
  ns: string, name: string, opts: { port?: number; host?: string; echoPort?: number; udpPort?: number; udpHost?: string; readyTimeoutMs?: number } = {},
): Promise<RealServer> {
  const args = [distScript('src/demo/real-server.js'), '--name', name, '--port', String(opts.port ?? 80)];
  if (opts.host !== undefined) args.push('--host', opts.host); // "::" on a dual-stack segment: v4 and v6 alike
  if (opts.echoPort !== undefined) args.push('--echo-port', String(opts.echoPort));
  // UDP answers must leave from the VIP: udpHost is the address the UDP socket binds (the VIP).
  if (opts.udpPort !== undefined) args.push('--udp-port', String(opts.udpPort), '--udp-host', opts.udpHost ?? '0.0.0.0');
  const child = spawnInNs(ns, process.execPath, args);
  const stdout = new OutputTail(64 * 1024);
  const stderr = new OutputTail(64 * 1024);
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const server: RealServer = { name, ns, child, output: () => ({ stdout: String(stdout), stderr: String(stderr) }), stop: () => stopProcess(child, 2000) };
  try {
    await waitUntil(`real server ${name} in ${ns}`, () => /^ready$/m.test(String(stdout)), opts.readyTimeoutMs ?? 10_000, () =>
      child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode}): ${String(stderr).trim()}` : undefined);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

export interface ClientArgs {
  url: string;
  requests: number;
  sources?: string[];
  concurrency?: number;
  timeoutMs?: number;
  deadlineMs?: number;
  maxFailures?: number;
}

/** Command-line arguments for dist/src/demo/http-client.js. */
function clientArgv(args: ClientArgs): string[] {
  const argv = ['--url', args.url, '--requests', String(args.requests)];
  if (args.sources && args.sources.length > 0) argv.push('--sources', args.sources.join(','));
  if (args.concurrency !== undefined) argv.push('--concurrency', String(args.concurrency));
  if (args.timeoutMs !== undefined) argv.push('--timeout-ms', String(args.timeoutMs));
  if (args.deadlineMs !== undefined) argv.push('--deadline-ms', String(args.deadlineMs));
  if (args.maxFailures !== undefined) argv.push('--max-failures', String(args.maxFailures));
  return argv;
}

/**
 * Runs the http client in a namespace and parses its JSON line. The client bounds itself
 * (per-request timeout and whole-run deadline); the outer timeout only guards a wedged process.
 */
export async function runHttpClient(ns: string, args: ClientArgs | string[], outerTimeoutMs?: number): Promise<ClientResult> {
  let argv: string[];
  let timeoutMs = outerTimeoutMs ?? 120_000;
  if (Array.isArray(args)) {
    argv = args;
  } else {
    // Pass the deadline explicitly so the outer guard can sit just above it.
    const deadlineMs = args.deadlineMs ?? Math.ceil(args.requests / (args.concurrency ?? 10)) * (args.timeoutMs ?? 2000) + 5000;
    argv = clientArgv({ ...args, deadlineMs });
    timeoutMs = outerTimeoutMs ?? deadlineMs + 15_000;
  }
  const { stdout } = await runInNs(ns, process.execPath, [distScript('src/demo/http-client.js'), ...argv], { timeoutMs });
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ClientResult;
  } catch {
    throw new Error(`http-client printed no JSON result: ${stdout.trim() || '(nothing)'}`);
  }
}
