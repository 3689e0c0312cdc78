// `las trace` as an operator runs it, for the namespace tests (dr-trace*.test.ts): the CLI in
// a child process, its events as they arrive, bounded waits for its start and its end.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { TraceEvent } from '../../src/control/trace-records.js';
import type { DrLab } from './dr-lab.js';
import { CLI, waitFor } from './control.js';

/** A running `las trace --json`: its events and lost notices as they arrive. */
export interface TraceRun { child: ChildProcess; events: TraceEvent[]; text: string[]; lost: number; stderr: () => string; exit: Promise<number | null> }

/** `las trace --json ARGS`, or the text output with json false (its lines in `text`). */
export async function startTrace(lab: DrLab, args: string[], json = true): Promise<TraceRun> {
  const child = spawn(process.execPath, [CLI, 'trace', ...(json ? ['--json'] : []), '--socket', lab.adminSocket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: TraceRun = { child, events: [], text: [], lost: 0, stderr: () => stderr, exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  let stderr = '';
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines.filter((l) => l !== '')) {
      if (!json) {
        run.text.push(line);
        continue;
      }
      const value = JSON.parse(line) as TraceEvent & { lost?: number };
      if (typeof value.lost === 'number') run.lost += value.lost;
      else run.events.push(value);
    }
  });
  // The daemon answered: the filter is in the fast path from here on.
  await waitFor('las trace to start', () => stderr.includes('tracing ') || child.exitCode !== null, 15_000, () => stderr);
  assert.equal(child.exitCode, null, `las trace exited: ${stderr}`);
  return run;
}

/** The exit status of a trace that must end by itself; killed (and failed) if it does not in time. */
export async function exitWithin(run: TraceRun, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), ms); });
  const code = await Promise.race([run.exit, late]);
  clearTimeout(timer);
  if (code === 'late') {
    run.child.kill('SIGKILL');
    assert.fail(`las trace did not end within ${ms} ms; ${run.events.length} events; ${run.stderr()}`);
  }
  return code;
}

export async function traceState(lab: DrLab): Promise<{ active: boolean; clients: { filter: string }[] }> {
  return ((await lab.admin('status')) as { trace: { active: boolean; clients: { filter: string }[] } }).trace;
}

