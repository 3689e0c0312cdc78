// A node process with the sanitizer runtimes preloaded (as the daemon on the sanitizer addon is)
// runs `ip` and `tc` through src/control/exec.ts: without the preload they succeed; the same
// commands started with the inherited preload fail (LeakSanitizer at their exit), which shows the
// preload was in effect. Part of `npm run test:asan`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { preloadWithoutSanitizers, toolEnv } from '../../src/control/child-env.js';
import { distScript } from '../../src/demo/processes.js';
import { installCleanupHandlers } from '../../src/netns/cleanup.js';
import { addNamespace, deleteNamespace, uniquePrefix } from '../../src/netns/namespace.js';
import { nsExec } from '../../src/netns/run.js';
import { sanitizerRuntimes } from '../support/sanitizer.js';
import { needsRoot } from '../support/needs-root.js';

const ASAN = '/usr/lib/gcc/x86_64-linux-gnu/12/libasan.so';
const UBSAN = '/usr/lib/gcc/x86_64-linux-gnu/12/libubsan.so';

test('toolEnv drops the sanitizer runtimes and their options, and keeps every other preload', () => {
  assert.equal(preloadWithoutSanitizers(`${ASAN}:/opt/x/libfoo.so ${UBSAN}`), '/opt/x/libfoo.so');
  const env = toolEnv({ PATH: '/bin', LD_PRELOAD: `${ASAN}:${UBSAN}`, ASAN_OPTIONS: 'log_path=/x', UBSAN_OPTIONS: 'halt_on_error=1' });
  assert.deepEqual(env, { PATH: '/bin' });
  const plain = { PATH: '/bin', LD_PRELOAD: '/opt/x/libfoo.so' };
  assert.equal(toolEnv(plain), plain, 'an environment without sanitizers is passed as it is');
});

test('nsExec keeps the preload away from ip and hands it to the command through env(1)', () => {
  const env = { PATH: '/bin', LD_PRELOAD: ASAN, ASAN_OPTIONS: 'detect_leaks=0' };
  const exec = nsExec('ns1', 'node', ['x.js'], env);
  assert.deepEqual(exec.argv, ['netns', 'exec', 'ns1', 'env', `LD_PRELOAD=${ASAN}`, 'ASAN_OPTIONS=detect_leaks=0', 'node', 'x.js']);
  assert.deepEqual(exec.env, { PATH: '/bin' });
  assert.deepEqual(nsExec('ns1', 'node', ['x.js'], { PATH: '/bin' }).argv, ['netns', 'exec', 'ns1', 'node', 'x.js']);
});

// Run by a preloaded node: each command once through tool(), once with the inherited environment.
const CHILD = `
const { execFile } = require('node:child_process');
import(process.argv[1]).then(async ({ tool }) => {
  const commands = JSON.parse(process.argv[2]);
  const out = [];
  for (const [cmd, ...args] of commands) {
    const viaTool = await tool(cmd, args).then(() => 'ok', (e) => String(e.message).slice(0, 300));
    const inherited = await new Promise((r) => execFile(cmd, args, (e) => r(e ? 'failed' : 'ok')));
    out.push({ cmd: [cmd, ...args].join(' '), viaTool, inherited });
  }
  console.log(JSON.stringify(out));
});`;

test('the daemon\'s tools run without the sanitizer preload of the daemon itself', { timeout: 60_000, skip: needsRoot('network namespaces') }, async () => {
  installCleanupHandlers({ uncaughtException: false });
  const ns = `${uniquePrefix('lasz')}-t`;
  await addNamespace(ns);
  try {
    // Both commands fail under LeakSanitizer (they leak a buffer on purpose at exit); each is run
    // twice by the child, so the second run of each must still succeed: tc's qdisc "replace".
    const commands = [['ip', '-n', ns, 'link', 'set', 'lo', 'up'], ['tc', '-n', ns, 'qdisc', 'replace', 'dev', 'lo', 'clsact']];
    const env: NodeJS.ProcessEnv = { ...process.env, LD_PRELOAD: (await sanitizerRuntimes()).join(':') };
    delete env.ASAN_OPTIONS; // the defaults: leak detection on, as for any program started with the preload
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', CHILD, pathToFileURL(distScript('src/control/exec.js')).href, JSON.stringify(commands)],
        { env, timeout: 30_000, encoding: 'utf8' }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)));
    });
    const results = JSON.parse(stdout.trim().split('\n').pop() ?? '[]') as Array<{ cmd: string; viaTool: string; inherited: string }>;
    assert.equal(results.length, commands.length, stdout);
    for (const r of results) {
      assert.equal(r.viaTool, 'ok', `${r.cmd} through tool(): ${r.viaTool}`);
      assert.equal(r.inherited, 'failed', `${r.cmd} with the preload inherited did not fail: the preload was not in effect, so this test proves nothing`);
    }
  } finally {
    await deleteNamespace(ns);
  }
});
