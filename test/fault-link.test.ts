// The dispatcher's interface goes down and comes back: the daemon survives, does not spin while
// the link is down (its CPU time over a window stays low), and forwards again once it is up, with
// nobody restarting anything.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { withDrLab } from './support/dr-lab.js';
import { logLines, sleep, status, waitFor } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

const TICKS_PER_S = 100;        // USER_HZ, what /proc/<pid>/stat counts in on Linux
const DOWN_WINDOW_MS = 5000;
// A spinning thread takes a whole core, or at least its fair share of a loaded machine; an idle
// daemon wakes every 100 ms per worker and once a second for housekeeping, well under 1 %.
const MAX_CPU_FRACTION = 0.1;

/** utime + stime of a process (all its threads), in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // comm may contain spaces
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;   // fields 14 and 15 of stat(5)
}

/** Per-thread CPU seconds, named, for the failure message. */
async function threadCpu(pid: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out[`${tid} ${comm}`] = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  }
  return out;
}

test('the dispatcher interface goes down and up: no crash, no spin while down, requests work again after', { timeout: 120_000, skip: needsRoot('network namespaces') }, async () => {
  await withDrLab({ servers: 2, config: { workers: 2 } }, async (lab) => {
    const pid = lab.daemon().pid;
    assert.ok(pid !== undefined);
    const before = await lab.runClient({ requests: 20, concurrency: 4 });
    assert.equal(before.failed, 0, JSON.stringify(before.errors));

    await lab.setLink('dispatcher', false);
    const cpu0 = await cpuSeconds(pid);
    const threads0 = await threadCpu(pid);
    const started = Date.now();
    await sleep(DOWN_WINDOW_MS); // the window over which CPU time is read, not a wait for an event
    const used = (await cpuSeconds(pid)) - cpu0;
    const windowS = (Date.now() - started) / 1000;
    const threads1 = await threadCpu(pid);
    const perThread = Object.fromEntries(Object.entries(threads1).map(([k, v]) => [k, +(v - (threads0[k] ?? 0)).toFixed(2)]).filter(([, v]) => Number(v) > 0));
    process.stdout.write(`# link down: ${used.toFixed(2)} s CPU in ${windowS.toFixed(1)} s ${JSON.stringify(perThread)}\n`);
    assert.ok(lab.daemon().running(), `the daemon exited while the link was down:\n${lab.daemonOutput().stderr}`);
    assert.ok(used < MAX_CPU_FRACTION * windowS, `the daemon spins while its link is down: ${used} s CPU in ${windowS} s; per thread ${JSON.stringify(perThread)}`);

    await lab.setLink('dispatcher', true);
    // Up again: the first request may meet a switch port still coming up; it must work soon after.
    await waitFor('a request through the dispatcher after link up', async () => {
      const r = await lab.runClient({ requests: 1, timeoutMs: 1000 });
      return r.failed === 0;
    }, 20_000, () => status(lab));
    const after = await lab.runClient({ requests: 40, concurrency: 4 });
    assert.equal(after.failed, 0, JSON.stringify(after.errors));
    assert.equal(Object.keys(after.byServer).length, 2, `both servers serve again: ${JSON.stringify(after.byServer)}`);
    assert.ok(lab.daemon().running());
    // Logged by the once-a-second housekeeping, so waited for rather than expected at once.
    await waitFor('the link coming back is logged', () => logLines(lab, /^interface is up again/).length === 1, 10_000);
    assert.equal(logLines(lab, /^interface is down/).length, 1, 'the link going down is logged once');
  });
});
