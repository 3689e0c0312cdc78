// A metrics listener that cannot listen (the port is taken) reports why and leaves nothing running:
// a daemon that fails to start must exit, not hang on the listener's thread.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';

const METRICS = new URL('../src/control/metrics.js', import.meta.url).href;

test('a taken metrics port is refused naming metrics.listen, and the process can still exit', { timeout: 60_000 }, async () => {
  const taken = net.createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const { port } = taken.address() as net.AddressInfo;
  try {
    // The child does not call process.exit: it ends only if nothing (no thread) keeps it alive.
    const script = `(async () => {
      const { startMetricsServer } = await import(${JSON.stringify(METRICS)});
      const { Registry } = await import('prom-client');
      try { await startMetricsServer('127.0.0.1:${port}', new Registry()); console.log('LISTENING'); }
      catch (error) { console.log(error.message); }
    })();`;
    const { NODE_TEST_CONTEXT: _, ...env } = process.env; // a plain process, not a test-runner child
    const child = spawn(process.execPath, ['-e', script], { cwd: new URL('..', import.meta.url), env, timeout: 30_000 });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
    assert.equal(signal, null, `the process did not exit by itself (killed after 30 s); it printed: ${out}`);
    assert.equal(code, 0);
    assert.match(out, /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE; change "metrics\.listen"/);
  } finally {
    taken.close();
  }
});
