// keepalived for the VRRP tests: the sample deploy/keepalived/keepalived.conf, with only its paths,
// priority and router id changed, run in the foreground in one dispatcher namespace (its own pid
// files and config in a temp directory), its log read to wait for VRRP state changes.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { spawnInNs } from '../../src/netns/namespace.js';
import { OutputTail, stopProcess, type ExitInfo } from '../../src/demo/processes.js';
import { CLI } from './control.js';

export const SAMPLE_DIR = fileURLToPath(new URL('../../../deploy/keepalived/', import.meta.url));

export interface KeepalivedOptions {
  name: string;          // "a", "b": file names and router_id
  ns: string;
  dir: string;           // where its config and pid files go
  adminSocket: string;   // the LAS daemon beside it
  priority: number;
}

export interface Keepalived {
  child: ChildProcess;
  log(): string;
  /** Resolves once `pattern` matched `count` log lines in all (bounded). */
  waitForLog(pattern: RegExp, count: number, timeoutMs: number): Promise<void>;
  matches(pattern: RegExp): number;
  stop(graceMs?: number): Promise<ExitInfo>;
}

/** The sample config for one node: the same text but for its paths, priority and router id. */
export async function sampleConfig(opts: KeepalivedOptions): Promise<string> {
  const sample = await readFile(join(SAMPLE_DIR, 'keepalived.conf'), 'utf8');
  const text = sample
    .replaceAll('/usr/lib/las/', SAMPLE_DIR)
    .replaceAll('/run/las/admin.sock', opts.adminSocket)
    .replace(/^(\s*)priority \d+/m, `$1priority ${opts.priority}`)
    .replace(/^(\s*)router_id \S+/m, `$1router_id las-test-${opts.name}`);
  if (text === sample) throw new Error('the sample keepalived.conf changed shape: nothing was substituted');
  return text;
}

export async function startKeepalived(opts: KeepalivedOptions): Promise<Keepalived> {
  const conf = join(opts.dir, `keepalived-${opts.name}.conf`);
  await writeFile(conf, await sampleConfig(opts));
  const pid = (what: string) => join(opts.dir, `keepalived-${opts.name}${what}.pid`);
  // -n foreground, -l log to the console, -D detail, -G no syslog, -P VRRP only.
  const child = spawnInNs(opts.ns, 'keepalived', ['-n', '-l', '-D', '-G', '-P', '-f', conf, '-p', pid(''), '-r', pid('-vrrp')], {
    // The notify script runs "$LAS_COMMAND role ...": this checkout's CLI, not an installed las.
    env: { ...process.env, LAS_COMMAND: `${process.execPath} ${CLI}` },
  });
  const out = new OutputTail();
  const waiters = new Set<() => void>();
  const onData = (chunk: string) => {
    out.push(chunk);
    for (const check of [...waiters]) check();
  };
  child.stdout?.setEncoding('utf8').on('data', onData);
  child.stderr?.setEncoding('utf8').on('data', onData);
  const matches = (pattern: RegExp) => String(out).split('\n').filter((line) => pattern.test(line)).length;
  return {
    child,
    log: () => String(out),
    matches,
    waitForLog(pattern, count, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = () => { clearTimeout(timer); waiters.delete(check); child.off('exit', onExit); };
        const check = () => { if (matches(pattern) >= count) { done(); resolve(); } };
        const onExit = () => { done(); reject(new Error(`keepalived ${opts.name} exited while waiting for ${pattern}:\n${String(out).slice(-3000)}`)); };
        const timer = setTimeout(() => { done(); reject(new Error(`keepalived ${opts.name}: ${pattern} x${count} not logged within ${timeoutMs} ms:\n${String(out).slice(-3000)}`)); }, timeoutMs);
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    stop: (graceMs = 5000) => stopProcess(child, graceMs),
  };
}
