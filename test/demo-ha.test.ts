// `las demo --ha`: a BIRD 2 router, three dispatchers announcing the VIP by BGP, one killed with
// SIGKILL in the middle of long-lived connections; the demo must report every connection alive.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { needsRoot } from './support/needs-root.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const REQUESTS = 30;

test('las demo --ha: a dispatcher killed mid-transfer, the router withdraws it, every connection survives', { timeout: 360_000, skip: needsRoot('network namespaces') }, () => {
  const run = spawnSync(process.execPath, [CLI, 'demo', '--ha', '--requests', String(REQUESTS)], { encoding: 'utf8', timeout: 340_000 });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, output);
  assert.match(run.stdout, new RegExp(`^${REQUESTS}/${REQUESTS} HTTP requests answered`, 'm'), output);
  assert.match(run.stdout, /^kill -9 d1 \(pid \d+\)/m, output);
  assert.match(run.stdout, /the router withdrew \S+ \d+ ms after the kill/, output);
  const ok = /^OK: all (\d+) connections survived/m.exec(run.stdout);
  assert.ok(ok && Number(ok[1]) > 0, output);
});
