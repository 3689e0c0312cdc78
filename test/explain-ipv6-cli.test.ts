// `las explain` as an operator types it for a v6 service: "[addr]:port" endpoints in any spelling,
// answered offline from a dual-stack config by the same native code as the daemon, printed with
// brackets; --down takes a v6 server in any spelling too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkTuples, parseEndpoint } from '../src/control/explain.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const CONFIG = fileURLToPath(new URL('../../test/fixtures/configs/valid-dual-stack.json', import.meta.url));

function explain(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, 'explain', ...args, '-c', CONFIG, '--offline', '--json'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as { service: { name: string } | null; server: { address: string } | null; key: { client: string; vip: string } | null };
}

test('v6 endpoints parse to canonical addresses; malformed ones are refused with the expected form', () => {
  assert.deepEqual(parseEndpoint('[2001:DB8:0::7]:40112', 'the client'), { address: '2001:db8::7', port: 40112 });
  assert.deepEqual(parseEndpoint('198.51.100.7:40112', 'the client'), { address: '198.51.100.7', port: 40112 });
  for (const bad of ['2001:db8::7:40112', '[2001:db8::7]', '[2001:db8:::7]:1', '[2001:db8::7]:70000', '[fe80::1%eth0]:1']) {
    assert.throws(() => parseEndpoint(bad, 'the client'), /ADDRESS:PORT with a dotted IPv4 address or a bracketed IPv6 one, e\.g\. .*\[2001:db8::7\]:40112/, bad);
  }
  assert.equal(checkTuples([{ protocol: 'tcp', client: '2001:DB8::7', clientPort: 1, vip: '2001:db8::100', port: 80 }])[0]!.client, '2001:db8::7');
});

test('las explain --offline on a dual-stack config: a v6 client goes to a v6 server of web6; --down moves it to the other', () => {
  const first = explain('tcp', '[2001:DB8::7]:40000', '[2001:db8:0::100]:80');
  assert.equal(first.service?.name, 'web6');
  assert.deepEqual(first.key && { client: first.key.client, vip: first.key.vip }, { client: '2001:db8::7', vip: '2001:db8::100' });
  const chosen = first.server?.address;
  assert.ok(chosen === '2001:db8::11' || chosen === '2001:db8::12', `server ${chosen}`);
  const other = chosen === '2001:db8::11' ? '2001:db8::12' : '2001:db8::11';
  const moved = explain('tcp', '[2001:DB8::7]:40000', '[2001:db8:0::100]:80', '--down', chosen.toUpperCase());
  assert.equal(moved.server?.address, other);

  const text = spawnSync(process.execPath, [CLI, 'explain', 'tcp', '[2001:db8::7]:40000', '[2001:db8::100]:80', '-c', CONFIG, '--offline'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^flow\s+tcp \[2001:db8::7\]:40000 -> \[2001:db8::100\]:80$/m);
  assert.match(text.stdout, /^flow key\s+2001:db8::7 -> 2001:db8::100 \(ports ignored\)$/m);
});
