// A compiled helper script run once inside a test's namespace: the job goes in as one JSON line on
// stdin, the answer comes back as the last JSON line on stdout. Used where the addon must open
// sockets in the namespace (a Dataplane, the kernel's fanout program) without a daemon around it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

export async function runNamespaceChild<T>(ns: string, script: string, opts: { job?: unknown; args?: string[]; timeoutMs: number }): Promise<T> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, ...(opts.args ?? [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
  child.stdin.end(opts.job === undefined ? '' : `${JSON.stringify(opts.job)}\n`);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, `${script} failed in ${ns} (${code}): ${err.trim()}`);
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}
