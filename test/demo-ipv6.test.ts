// `las demo --ipv6`: the demo on the dual-stack segment sends its requests to the v4 VIP and to the
// v6 VIP, and both are answered by every server, replies going straight to the client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { needsRoot } from './support/needs-root.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const REQUESTS = 60;

test(`las demo --ipv6: ${REQUESTS} requests to each VIP, v4 and v6, every one answered`, { timeout: 300_000, skip: needsRoot('network namespaces') }, () => {
  const run = spawnSync(process.execPath, [CLI, 'demo', '--ipv6', '--requests', String(REQUESTS)], { encoding: 'utf8', timeout: 280_000 });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, output);
  assert.match(run.stdout, /sending 60 requests to http:\/\/\[fd77::100\]\//);
  assert.match(run.stdout, /^OK: all 60 requests answered by 3 servers, replies sent directly to the client$/m, output);
  assert.match(run.stdout, /^OK: all 60 requests over IPv6 answered by 3 servers, replies sent directly to the client$/m, output);
  assert.match(run.stdout, /service \[fd77::100\]:80\/tcp: \d+ packets, 60 new flows, no server 0/, output);
  for (const server of ['fd77::11', 'fd77::12', 'fd77::13']) assert.match(run.stdout, new RegExp(`^\\s+s\\d\\s+${server}\\s+[1-9]\\d*\\s`, 'm'), output);
});

test('las demo --ipv6 --routed is refused: the routed layout is IPv4 only', () => {
  const run = spawnSync(process.execPath, [CLI, 'demo', '--ipv6', '--routed'], { encoding: 'utf8', timeout: 20_000 });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /--ipv6 runs on the one-segment layout; leave out --routed/);
});
