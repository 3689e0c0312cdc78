// The daemon serves Prometheus metrics on 127.0.0.1:9477 by default (loopback only), with the
// expected metric names and live values; another listen address is taken from the config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDrLab, type DrLab } from './support/dr-lab.js';
import { EXPECTED_METRICS, startWith } from './support/control.js';
import { needsRoot } from './support/needs-root.js';

/** GET from inside a namespace; "ERR <code>" when the connection fails. */
async function get(lab: DrLab, role: string, url: string): Promise<string> {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => console.log(r.status + '\\n' + await r.text()), (e) => console.log('ERR ' + (e.cause?.code ?? e.message)))`;
  return (await lab.exec(role, process.execPath, ['-e', script], { timeoutMs: 10_000 })).stdout;
}

const value = (text: string, line: RegExp): number => {
  const m = text.split('\n').find((l) => line.test(l));
  assert.ok(m, `no line matching ${line}`);
  return Number(m.split(' ').pop());
};

test('GET /metrics on 127.0.0.1:9477: every expected metric, with values from the fast path and the health checks', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => {
  await withDrLab({ servers: 2, startDaemon: false }, async (lab) => {
    await startWith(lab, { healthCheck: { type: 'tcp', interval: 0.5, timeout: 0.4 } });
    const r = await lab.runClient({ requests: 20, concurrency: 4 });
    assert.equal(r.failed, 0);
    await new Promise((resolve) => setTimeout(resolve, 1200)); // a few health checks
    const body = await get(lab, 'dispatcher', 'http://127.0.0.1:9477/metrics');
    assert.ok(body.startsWith('200\n'), body.slice(0, 200));
    for (const name of EXPECTED_METRICS) assert.match(body, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'), name);
    assert.equal(value(body, /^las_service_new_flows_total\{service="web"\}/), 20);
    assert.equal(value(body, /^las_server_up\{service="web",server="10\.77\.0\.11",role="real"\}/), 1);
    assert.ok(value(body, /^las_health_checks_total\{service="web",server="10\.77\.0\.11",result="ok"\}/) >= 1);
    assert.equal(value(body, /^las_flow_table_capacity\{worker="0"\}/), 1048576);
    assert.ok(value(body, /^las_flow_table_entries\{worker="0"\}/) >= 1);
    assert.match(body, /^las_drops_total\{worker="0",reason="no_server"\} 0$/m);

    assert.match(await get(lab, 'dispatcher', 'http://127.0.0.1:9477/'), /^200\n<!doctype html>/); // the status page
    assert.match(await get(lab, 'dispatcher', 'http://127.0.0.1:9477/nothing'), /^404/);
    // Loopback only: not on the dispatcher's own address.
    assert.match(await get(lab, 'dispatcher', `http://${lab.segment.dispatcher.address}:9477/metrics`), /^ERR ECONNREFUSED/);
  });
});

test('metrics.listen on the segment address is reachable from another host; metrics can be turned off', { timeout: 90_000, skip: needsRoot('network namespaces') }, async () => {
  await withDrLab({ servers: 1, startDaemon: false }, async (lab) => {
    await startWith(lab, {}, { metrics: { listen: `${lab.segment.dispatcher.address}:9100` } });
    assert.match(await get(lab, 'client', `http://${lab.segment.dispatcher.address}:9100/metrics`), /^200\n[\s\S]*# TYPE las_rx_packets_total counter/);
    await lab.kill();
    await startWith(lab, {}, { metrics: { enabled: false } });
    assert.match(await get(lab, 'dispatcher', 'http://127.0.0.1:9477/metrics'), /^ERR ECONNREFUSED/);
  });
});
